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
#include <detseg/core/detail/score_order.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/detect/detail/nms_grid.hpp>
#include <detseg/detect/detail/nms_kernel.hpp>
#include <detseg/detect/detail/score_checks.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
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

// From this many candidates on, the greedy loop looks for the boxes a kept box can suppress in
// the grid of `detail::nms_grid` instead of scanning every later candidate (same result).
inline constexpr index_t nms_grid_min_candidates = 512;

// Scratch of the greedy loop for one coordinate type.
template <class T>
struct nms_scratch {
    std::vector<T> coords; // x1, y1, x2, y2, area of the candidates, structure of arrays
    std::vector<unsigned char> suppressed;
    nms_grid<T> grid;
};

// Everything the NMS functions allocate, reusable across calls.
struct nms_buffers {
    std::vector<index_t> order, counts;
    score_order_buffers sort;
    std::vector<score_order_buffers::wide> groups, groups_tmp;
    std::vector<index_t> runs;
    std::vector<unsigned char> keep_flag;
    nms_scratch<float> f;
    nms_scratch<double> d;

    template <class T>
    [[nodiscard]] nms_scratch<T>& scratch() noexcept {
        if constexpr (std::is_same_v<T, float>)
            return f;
        else
            return d;
    }
};

struct nms_access;

} // namespace detail

/// Scratch memory of `nms_to` and `batched_nms_to`, reusable across calls: once it has grown to
/// the largest problem seen, a call with a workspace allocates nothing (single-threaded; a
/// multi-threaded `batched_nms` gives each thread its own scratch). Not shared between threads
/// running at once.
class nms_workspace {
public:
    nms_workspace() = default;

private:
    detail::nms_buffers buffers_;
    friend struct detail::nms_access;
};

namespace detail {

struct nms_access {
    [[nodiscard]] static nms_buffers& buffers(nms_workspace& ws) noexcept { return ws.buffers_; }
};

inline void check_nms_params(const nms_params& p, const char* fn) {
    DETSEG_REQUIRE(p.iou_threshold >= 0.0 && p.iou_threshold <= 1.0, fn, "params.iou_threshold",
                   "must be in [0, 1], got ", p.iou_threshold);
    DETSEG_REQUIRE(!std::isnan(p.score_threshold), fn, "params.score_threshold", "must not be NaN");
    DETSEG_REQUIRE(p.max_output >= -1, fn, "params.max_output",
                   "must be -1 (no limit) or >= 0, got ", p.max_output);
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

// Copies candidates `ids[0..m)` of `boxes` into `s.coords` as structure of arrays (x1, y1, x2,
// y2, area; the area with torchvision's operation order) and returns its start.
template <class T, class V>
T* gather_candidates(const box_view<V>& boxes, const index_t* ids, index_t m, nms_scratch<T>& s) {
    const auto um = static_cast<std::size_t>(m);
    s.coords.resize(5 * um);
    T* DETSEG_RESTRICT x1 = s.coords.data();
    T* DETSEG_RESTRICT y1 = x1 + m;
    T* DETSEG_RESTRICT x2 = y1 + m;
    T* DETSEG_RESTRICT y2 = x2 + m;
    T* DETSEG_RESTRICT area = y2 + m;
    for (index_t k = 0; k < m; ++k) {
        const auto t = terms_of<T, detail::terms_basic>(boxes, ids[k]);
        x1[k] = t.x1;
        y1[k] = t.y1;
        x2[k] = t.x2;
        y2[k] = t.y2;
        area[k] = t.area;
    }
    return s.coords.data();
}

// The greedy loop over m candidates in score order, given as structure of arrays with their ids:
// writes the ids of at most `limit` kept candidates to `out` and returns their count. From
// `grid_min` candidates on it goes through the grid, else it scans every later candidate (and
// reorders the arrays and `ids` as it drops suppressed candidates). Same result either way.
// `out` may be `ids` itself: the k-th kept id is written after the k-th candidate was read, and
// the reordering only moves candidates after the one being visited.
template <class T>
index_t nms_soa(T* DETSEG_RESTRICT x1, T* DETSEG_RESTRICT y1, T* DETSEG_RESTRICT x2,
                T* DETSEG_RESTRICT y2, T* DETSEG_RESTRICT area, index_t* ids, index_t m,
                index_t* out, index_t limit, const nms_params& p, nms_scratch<T>& s,
                index_t grid_min) {
    if (m == 0 || limit <= 0)
        return 0;
    const T threshold = nms_threshold_as<T>(p.iou_threshold, p.compare);
    const bool greater = p.compare == nms_compare::greater;
    // With `>=` and a threshold of 0 every pair passes, even disjoint boxes: the grid, which
    // skips disjoint pairs, does not apply.
    const bool all_pairs = !greater && threshold <= T(0);
    index_t kept = 0;
    if (m >= grid_min && !all_pairs && m <= index_t{std::numeric_limits<std::int32_t>::max()}) {
        auto& grid = s.grid;
        const auto mm = static_cast<std::int32_t>(m);
        grid.build(x1, y1, x2, y2, area, mm);
        // The size and distance bounds of the grid need a threshold well above 0.
        const double t = p.iou_threshold >= 1e-6 ? p.iou_threshold : 0.0;
        for (std::int32_t k = 0; k < mm; ++k) {
            if (grid.suppressed(k))
                continue;
            out[kept++] = ids[k];
            if (kept == limit)
                break;
            if (greater)
                grid.template suppress_by<nms_greater>(k, threshold, t);
            else
                grid.template suppress_by<nms_greater_equal>(k, threshold, t);
        }
        return kept;
    }

    auto& suppressed = s.suppressed;
    suppressed.assign(static_cast<std::size_t>(m), 0);
    index_t end = m; // candidates still in play are in [i, end)
    index_t since_compaction = 0;
    for (index_t i = 0; i < end; ++i) {
        if (suppressed[std::size_t(i)])
            continue;
        out[kept++] = ids[i];
        if (kept == limit)
            break;
        const box_terms<T> a{x1[i], y1[i], x2[i], y2[i], area[i], T(0), T(0), T(0), T(0)};
        if (greater)
            nms_suppress_row<nms_greater>(a, x1, y1, x2, y2, area, suppressed.data(), i + 1, end,
                                          threshold);
        else
            nms_suppress_row<nms_greater_equal>(a, x1, y1, x2, y2, area, suppressed.data(), i + 1,
                                                end, threshold);
        // Every 32 kept boxes, drop the suppressed candidates after i (keeping score order), so
        // later rows only visit live ones. A suppressed box never suppresses another, so the
        // result is unchanged.
        if (++since_compaction == 16) {
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
                ids[w] = ids[j];
                suppressed[std::size_t(w)] = 0;
                ++w;
            }
            end = w;
        }
    }
    return kept;
}

// The greedy loop on canonical views (checked arguments): writes at most `out.size()` kept
// indices and returns their count.
template <class T, class V, class S>
index_t nms_run(const box_view<V>& boxes, const S& scores, std::span<index_t> out,
                const nms_params& p, nms_buffers& buf, index_t grid_min, bool into_order) {
    const index_t n = boxes.size();
    // `into_order`: the kept indices go to the start of `buf.order` (see nms_soa), which `nms`
    // then returns, instead of allocating another N indices; `out` is not used.
    index_t limit = into_order ? n : static_cast<index_t>(out.size());
    if (p.max_output >= 0)
        limit = std::min(limit, p.max_output);
    if (n == 0 || limit == 0)
        return 0;
    auto& order = buf.order;
    score_order(scores, n, p.score_threshold, order, buf.sort);
    const auto m = static_cast<index_t>(order.size());
    auto& s = buf.template scratch<T>();
    T* c = gather_candidates<T>(boxes, order.data(), m, s);
    index_t* dst = into_order ? order.data() : out.data();
    return nms_soa<T>(c, c + m, c + 2 * m, c + 3 * m, c + 4 * m, order.data(), m, dst, limit, p, s,
                      grid_min);
}

template <box_source B, score_source S>
index_t nms_checked(B&& boxes, S&& scores, std::span<index_t> out, const nms_params& p,
                    nms_workspace& ws, const char* fn, index_t grid_min = nms_grid_min_candidates,
                    bool into_order = false) {
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
    return nms_run<T>(b, s, out, p, nms_access::buffers(ws), grid_min, into_order);
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
/// Complexity: O(N) radix sort of the scores, then at most O(N·K) IoU evaluations for K kept
/// boxes, O(N²) in the worst case; from 512 candidates on, a grid over box sizes and centres
/// lets a kept box visit only the candidates that can pass the threshold (about a hundred per
/// kept box on detector output; docs/detect.md). O(N) extra memory (no N×N matrix).
///
///     auto keep = detseg::nms(boxes, scores, {.iou_threshold = 0.7});
template <box_source B, score_source S>
[[nodiscard]] std::vector<index_t> nms(B&& boxes, S&& scores, const nms_params& params = {}) {
    nms_workspace ws;
    const index_t k =
        detail::nms_checked(std::forward<B>(boxes), std::forward<S>(scores), std::span<index_t>{},
                            params, ws, "nms", detail::nms_grid_min_candidates, true);
    std::vector<index_t> keep = std::move(detail::nms_access::buffers(ws).order);
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
