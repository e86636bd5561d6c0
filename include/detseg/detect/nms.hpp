#ifndef DETSEG_DETECT_NMS_HPP
#define DETSEG_DETECT_NMS_HPP

/// @file
/// Greedy non-maximum suppression (NMS) of scored boxes.
///
/// Reference: `torchvision.ops.nms` (0.14), which the default `nms_params` reproduce exactly:
/// candidates are visited in descending score order with ties broken by the lower index (a stable
/// sort), every visited box that is not yet suppressed is kept and suppresses each later
/// candidate whose IoU with it exceeds `iou_threshold`. The IoU is computed in the box coordinate
/// type with torchvision's operation order (`detseg::pairwise_iou`'s kernel), and compared with
/// the threshold as torchvision compares it (the IoU promoted to double), so the keep lists are
/// identical. Where torchvision's IoU is 0/0 = NaN (two zero-area boxes) detseg's is 0; neither
/// exceeds a threshold in [0, 1], so both boxes are kept in either library.
///
/// Beyond torchvision, `nms_params` offers a score threshold, a maximum number of kept boxes and
/// a non-strict comparison (`IoU >= iou_threshold` suppresses; with `iou_threshold = 0` every
/// pair passes, even disjoint boxes, so only the top-scoring candidate is kept).

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/box/detail/pairwise.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/view_traits.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// When a candidate is suppressed by a kept box.
enum class nms_compare {
    greater,       ///< IoU > iou_threshold (torchvision, the default): IoU == threshold is kept.
    greater_equal, ///< IoU >= iou_threshold.
};

/// Parameters of `nms` and `nms_to`; an aggregate, so `{.iou_threshold = 0.7}`.
struct nms_params {
    /// IoU above which (or at which, with `nms_compare::greater_equal`) a box is suppressed;
    /// in [0, 1].
    double iou_threshold = 0.5;
    /// Boxes with `score <= score_threshold` are dropped before suppression (strict: a box is a
    /// candidate iff `score > score_threshold`, compared in double). The default, -infinity,
    /// drops nothing. Not NaN.
    double score_threshold = -std::numeric_limits<double>::infinity();
    /// At most this many boxes are kept (the highest-scoring ones, as the greedy loop keeps them);
    /// -1 keeps all. The loop stops once the limit is reached.
    index_t max_output = -1;
    /// Strict (torchvision) or non-strict comparison of the IoU with `iou_threshold`.
    nms_compare compare = nms_compare::greater;
};

class nms_workspace;

namespace detail {

template <class T, class V, class S>
index_t nms_run(const box_view<V>& boxes, const S& scores, std::span<index_t> out,
                const nms_params& p, nms_workspace& ws);

} // namespace detail

/// Scratch memory of `nms_to`, reusable across calls: once it has grown to the largest N seen,
/// `nms_to` with a workspace allocates nothing. Not shared between threads running at once.
class nms_workspace {
public:
    nms_workspace() = default;

private:
    template <class T>
    [[nodiscard]] std::vector<T>& coordinates() noexcept {
        if constexpr (std::is_same_v<T, float>)
            return float_;
        else
            return double_;
    }

    std::vector<index_t> order_;
    std::vector<unsigned char> suppressed_;
    std::vector<float> float_;
    std::vector<double> double_;

    template <class T, class V, class S>
    friend index_t detail::nms_run(const box_view<V>&, const S&, std::span<index_t>,
                                   const nms_params&, nms_workspace&);
};

namespace detail {

inline void check_nms_params(const nms_params& p, const char* fn) {
    DETSEG_REQUIRE(p.iou_threshold >= 0.0 && p.iou_threshold <= 1.0, fn, "params.iou_threshold",
                   "must be in [0, 1], got ", p.iou_threshold);
    DETSEG_REQUIRE(!std::isnan(p.score_threshold), fn, "params.score_threshold", "must not be NaN");
    DETSEG_REQUIRE(p.max_output >= -1, fn, "params.max_output",
                   "must be -1 (no limit) or >= 0, got ", p.max_output);
}

template <class S>
void check_finite_scores(const S& s, const char* fn, const char* arg) {
    for (index_t i = 0, n = s.extent(0); i < n; ++i)
        DETSEG_REQUIRE(std::isfinite(s[i]), fn, arg, "score ", i, " is ", s[i],
                       "; scores must be finite");
}

// The threshold as a value of T such that comparing a T with it gives the same answer as
// comparing with the double `t`, as torchvision does: the largest T <= t for `>`, the smallest
// T >= t for `>=`. The inner loop then compares in T, which vectorises at full width.
template <class T>
[[nodiscard]] inline T nms_threshold_as(double t, nms_compare c) noexcept {
    const T r = static_cast<T>(t);
    if (c == nms_compare::greater && static_cast<double>(r) > t)
        return std::nextafter(r, -std::numeric_limits<T>::infinity());
    if (c == nms_compare::greater_equal && static_cast<double>(r) < t)
        return std::nextafter(r, std::numeric_limits<T>::infinity());
    return r;
}

// Suppresses every candidate j in [begin, m) whose IoU with `a` passes `Compare`. The candidates
// are stored structure-of-arrays; the loop is branch-free so that it vectorises.
template <class Compare, class T>
inline void nms_suppress_row(const box_terms<T>& a, const T* DETSEG_RESTRICT x1,
                             const T* DETSEG_RESTRICT y1, const T* DETSEG_RESTRICT x2,
                             const T* DETSEG_RESTRICT y2, const T* DETSEG_RESTRICT area,
                             unsigned char* DETSEG_RESTRICT suppressed, index_t begin, index_t m,
                             T threshold) noexcept {
    for (index_t j = begin; j < m; ++j) {
        const T iou = iou_op::eval(
            a, box_terms<T>{x1[j], y1[j], x2[j], y2[j], area[j], T(0), T(0), T(0), T(0)});
        suppressed[j] = static_cast<unsigned char>(
            suppressed[j] | static_cast<unsigned char>(Compare{}(iou, threshold)));
    }
}

struct nms_greater {
    template <class T>
    [[nodiscard]] bool operator()(T iou, T t) const noexcept {
        return iou > t;
    }
};
struct nms_greater_equal {
    template <class T>
    [[nodiscard]] bool operator()(T iou, T t) const noexcept {
        return iou >= t;
    }
};

// The greedy loop on canonical views (checked arguments): writes at most `out.size()` kept
// indices and returns their count.
template <class T, class V, class S>
index_t nms_run(const box_view<V>& boxes, const S& scores, std::span<index_t> out,
                const nms_params& p, nms_workspace& ws) {
    index_t limit = static_cast<index_t>(out.size());
    if (p.max_output >= 0)
        limit = std::min(limit, p.max_output);
    const index_t n = boxes.size();
    if (n == 0 || limit == 0)
        return 0;

    auto& order = ws.order_;
    order.clear();
    for (index_t i = 0; i < n; ++i)
        if (static_cast<double>(scores[i]) > p.score_threshold)
            order.push_back(i);
    std::sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        const auto sa = scores[a], sb = scores[b];
        return sa > sb || (sa == sb && a < b);
    });
    const index_t m = static_cast<index_t>(order.size());
    const auto um = static_cast<std::size_t>(m);

    auto& c = ws.template coordinates<T>();
    c.resize(5 * um);
    T* DETSEG_RESTRICT x1 = c.data();
    T* DETSEG_RESTRICT y1 = x1 + m;
    T* DETSEG_RESTRICT x2 = y1 + m;
    T* DETSEG_RESTRICT y2 = x2 + m;
    T* DETSEG_RESTRICT area = y2 + m;
    for (index_t k = 0; k < m; ++k) {
        const auto t = terms_of<T, detail::terms_basic>(boxes, order[std::size_t(k)]);
        x1[k] = t.x1;
        y1[k] = t.y1;
        x2[k] = t.x2;
        y2[k] = t.y2;
        area[k] = t.area;
    }
    auto& suppressed = ws.suppressed_;
    suppressed.assign(um, 0);

    const T threshold = nms_threshold_as<T>(p.iou_threshold, p.compare);
    index_t kept = 0;
    index_t end = m; // candidates still in play are in [i, end)
    index_t since_compaction = 0;
    for (index_t i = 0; i < end && kept < limit; ++i) {
        if (suppressed[std::size_t(i)])
            continue;
        out[std::size_t(kept++)] = order[std::size_t(i)];
        if (kept == limit)
            break;
        const box_terms<T> a{x1[i], y1[i], x2[i], y2[i], area[i], T(0), T(0), T(0), T(0)};
        if (p.compare == nms_compare::greater)
            nms_suppress_row<nms_greater>(a, x1, y1, x2, y2, area, suppressed.data(), i + 1, end,
                                          threshold);
        else
            nms_suppress_row<nms_greater_equal>(a, x1, y1, x2, y2, area, suppressed.data(), i + 1,
                                                end, threshold);
        // Every 32 kept boxes, drop the suppressed candidates after i (keeping score order), so
        // later rows only visit live ones. A suppressed box never suppresses another, so the
        // result is unchanged.
        if (++since_compaction == 32) {
            since_compaction = 0;
            index_t w = i + 1;
            for (index_t j = i + 1; j < end; ++j) {
                if (suppressed[std::size_t(j)])
                    continue;
                x1[w] = x1[j];
                y1[w] = y1[j];
                x2[w] = x2[j];
                y2[w] = y2[j];
                area[w] = area[j];
                order[std::size_t(w)] = order[std::size_t(j)];
                suppressed[std::size_t(w)] = 0;
                ++w;
            }
            end = w;
        }
    }
    return kept;
}

template <box_source B, score_source S>
index_t nms_checked(B&& boxes, S&& scores, std::span<index_t> out, const nms_params& p,
                    nms_workspace& ws, const char* fn) {
    check_nms_params(p, fn);
    auto b = to_boxes(std::forward<B>(boxes), box_format::xyxy, fn, "boxes");
    auto s = as_view_checked<1>(std::forward<S>(scores), fn, "scores");
    DETSEG_REQUIRE(s.extent(0) == b.size(), fn, "scores", "expected ", b.size(),
                   " scores (one per box), got ", s.extent(0));
    check_finite_boxes(b, fn, "boxes");
    check_finite_scores(s, fn, "scores");
    using T = typename decltype(b)::value_type;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "detseg::nms: box coordinates must be float or double");
    return nms_run<T>(b, s, out, p, ws);
}

} // namespace detail

/// Non-maximum suppression: the indices of the boxes kept by greedy NMS, as
/// `torchvision.ops.nms(boxes, scores, iou_threshold)` with the default parameters.
/// @param boxes  N×4 box source (xyxy; `as_boxes(src, format)` for others), float or double,
///               finite; inverted and zero-area boxes are allowed (IoU 0 with every box)
/// @param scores N scores, float or double (independently of the boxes), finite
/// @param params threshold, comparison, score threshold and limit (see `nms_params`)
/// @return kept indices in descending score order, ties by lower index (the order in which the
///         greedy loop keeps them); empty for N = 0
/// @throws detseg::invalid_argument naming `nms` and the argument: `boxes` (not N×4, a NaN or
///         infinite coordinate), `scores` (length is not N, a NaN or infinite score),
///         `params.iou_threshold` (outside [0, 1] or NaN), `params.score_threshold` (NaN),
///         `params.max_output` (< -1)
///
/// Complexity: O(N log N) for the sort plus at most O(N·K) IoU evaluations for K kept boxes
/// (suppressed candidates are dropped every 32 kept boxes), O(N²) in the worst case; O(N) extra
/// memory (no N×N matrix).
///
///     auto keep = detseg::nms(boxes, scores, {.iou_threshold = 0.7});
template <box_source B, score_source S>
[[nodiscard]] std::vector<index_t> nms(B&& boxes, S&& scores, const nms_params& params = {}) {
    nms_workspace ws;
    std::vector<index_t> keep;
    const auto b = detail::to_boxes(boxes, box_format::xyxy, "nms", "boxes");
    index_t cap = b.size();
    if (params.max_output >= 0)
        cap = std::min(cap, params.max_output);
    keep.resize(static_cast<std::size_t>(std::max(cap, index_t{0})));
    const index_t k = detail::nms_checked(std::forward<B>(boxes), std::forward<S>(scores), keep,
                                          params, ws, "nms");
    keep.resize(static_cast<std::size_t>(k));
    return keep;
}

/// `nms` written into the caller's span: the first `min(out.size(), max_output)` kept indices,
/// in the order `nms` returns them (a span shorter than the result is not an error: it acts as
/// a limit, and `out.size() >= N` always holds all of them). Returns how many were written;
/// `out` past them is left unchanged. Allocates O(N) scratch memory; see the overload with an
/// `nms_workspace` to reuse it.
/// @throws detseg::invalid_argument as `nms`, naming `nms_to`
template <box_source B, score_source S>
index_t nms_to(B&& boxes, S&& scores, std::span<index_t> out, const nms_params& params = {}) {
    nms_workspace ws;
    return detail::nms_checked(std::forward<B>(boxes), std::forward<S>(scores), out, params, ws,
                               "nms_to");
}

/// `nms_to` with caller-owned scratch memory: allocation-free once `ws` has held a problem of
/// this size.
template <box_source B, score_source S>
index_t nms_to(B&& boxes, S&& scores, std::span<index_t> out, nms_workspace& ws,
               const nms_params& params = {}) {
    return detail::nms_checked(std::forward<B>(boxes), std::forward<S>(scores), out, params, ws,
                               "nms_to");
}

} // namespace detseg

#endif // DETSEG_DETECT_NMS_HPP
