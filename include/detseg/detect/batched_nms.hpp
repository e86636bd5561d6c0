#ifndef DETSEG_DETECT_BATCHED_NMS_HPP
#define DETSEG_DETECT_BATCHED_NMS_HPP

/// @file
/// Per-class (batched) greedy non-maximum suppression: boxes only suppress boxes with the same
/// label.
///
/// Reference: `torchvision.ops.batched_nms` (0.14). Its kept *set* equals the union over labels
/// of `torchvision.ops.nms` run on each label's boxes, which is what detseg computes. Two
/// deliberate differences:
/// - torchvision sorts the union with a non-stable sort (N > 1000) or takes the order of one
///   `nms` on offset boxes (N <= 1000); detseg always returns score descending, ties by lower
///   index (deterministic).
/// - For N <= 1000 torchvision offsets each box by `label * (max coordinate + 1)` and runs one
///   `nms`; that is wrong for negative coordinates (boxes of different labels can suppress each
///   other) and loses low bits for large ones. detseg runs the greedy loop per label on the
///   original coordinates, so it is correct for any finite coordinates.

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/box/detail/pairwise.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/detect/nms.hpp>

#include <algorithm>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

namespace detail {

// All kept indices of per-label greedy NMS, score descending, ties by lower index; `max_output`
// applied. Arguments are checked canonical views.
template <class T, class V, class S, class L>
std::vector<index_t> batched_nms_run(const box_view<V>& boxes, const S& scores, const L& labels,
                                     const nms_params& p) {
    std::vector<index_t> kept;
    const index_t n = boxes.size();
    if (n == 0 || p.max_output == 0)
        return kept;

    // Candidates grouped by label; within a label, score descending, ties by lower index.
    std::vector<index_t> order;
    order.reserve(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i)
        if (static_cast<double>(scores[i]) > p.score_threshold)
            order.push_back(i);
    std::sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        const auto la = labels[a], lb = labels[b];
        if (la != lb)
            return la < lb;
        const auto sa = scores[a], sb = scores[b];
        return sa > sb || (sa == sb && a < b);
    });
    const index_t m = static_cast<index_t>(order.size());
    const auto um = static_cast<std::size_t>(m);

    std::vector<T> c(5 * um);
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
    std::vector<unsigned char> suppressed(um, 0);
    const T threshold = nms_threshold_as<T>(p.iou_threshold, p.compare);

    for (index_t begin = 0; begin < m;) {
        // [begin, end) is one label's run.
        const auto label = labels[order[std::size_t(begin)]];
        index_t end = begin + 1;
        while (end < m && labels[order[std::size_t(end)]] == label)
            ++end;
        for (index_t i = begin; i < end; ++i) {
            if (suppressed[std::size_t(i)])
                continue;
            kept.push_back(order[std::size_t(i)]);
            const box_terms<T> a{x1[i], y1[i], x2[i], y2[i], area[i], T(0), T(0), T(0), T(0)};
            if (p.compare == nms_compare::greater)
                nms_suppress_row<nms_greater>(a, x1, y1, x2, y2, area, suppressed.data(), i + 1,
                                              end, threshold);
            else
                nms_suppress_row<nms_greater_equal>(a, x1, y1, x2, y2, area, suppressed.data(),
                                                    i + 1, end, threshold);
        }
        begin = end;
    }

    const auto by_score = [&](index_t a, index_t b) {
        const auto sa = scores[a], sb = scores[b];
        return sa > sb || (sa == sb && a < b);
    };
    if (p.max_output >= 0 && p.max_output < index_t(kept.size())) {
        const auto cut = kept.begin() + static_cast<std::ptrdiff_t>(p.max_output);
        std::partial_sort(kept.begin(), cut, kept.end(), by_score);
        kept.erase(cut, kept.end());
    } else {
        std::sort(kept.begin(), kept.end(), by_score);
    }
    return kept;
}

template <box_source B, score_source S, label_source L>
std::vector<index_t> batched_nms_checked(B&& boxes, S&& scores, L&& labels, const nms_params& p,
                                         const char* fn) {
    check_nms_params(p, fn);
    auto b = to_boxes(std::forward<B>(boxes), box_format::xyxy, fn, "boxes");
    auto s = as_view_checked<1>(std::forward<S>(scores), fn, "scores");
    auto l = as_view_checked<1>(std::forward<L>(labels), fn, "labels");
    DETSEG_REQUIRE(s.extent(0) == b.size(), fn, "scores", "expected ", b.size(),
                   " scores (one per box), got ", s.extent(0));
    DETSEG_REQUIRE(l.extent(0) == b.size(), fn, "labels", "expected ", b.size(),
                   " labels (one per box), got ", l.extent(0));
    check_finite_boxes(b, fn, "boxes");
    check_finite_scores(s, fn, "scores");
    using T = typename decltype(b)::value_type;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "detseg::batched_nms: box coordinates must be float or double");
    return batched_nms_run<T>(b, s, l, p);
}

} // namespace detail

/// Per-class non-maximum suppression: greedy NMS (as `detseg::nms`) run separately on the boxes
/// of each label, in one call. The kept set equals
/// `torchvision.ops.batched_nms(boxes, scores, labels, iou_threshold)`'s (with the default
/// parameters); unlike torchvision, it is also correct for negative and very large coordinates,
/// and the order is deterministic.
/// @param boxes  N×4 box source (xyxy; `as_boxes(src, format)` for others), float or double,
///               finite; inverted and zero-area boxes are allowed (IoU 0 with every box)
/// @param scores N scores, float or double (independently of the boxes), finite
/// @param labels N class labels of any integer type; only boxes with equal labels interact
/// @param params threshold, comparison, score threshold and limit (see `nms_params`);
///               `max_output` caps the total, keeping the highest-scoring kept boxes overall
/// @return kept indices in descending score order, ties by lower index; empty for N = 0
/// @throws detseg::invalid_argument naming `batched_nms` and the argument: `boxes` (not N×4, a
///         NaN or infinite coordinate), `scores` (length is not N, a NaN or infinite score),
///         `labels` (length is not N), `params.iou_threshold` (outside [0, 1] or NaN),
///         `params.score_threshold` (NaN), `params.max_output` (< -1)
///
/// Complexity: O(N log N) for the sorts plus O(Σ N_c·K_c) IoU evaluations for N_c candidates
/// and K_c kept boxes of label c; O(N) extra memory (no N×N matrix).
///
///     auto keep = detseg::batched_nms(boxes, scores, labels, {.iou_threshold = 0.7});
template <box_source B, score_source S, label_source L>
[[nodiscard]] std::vector<index_t> batched_nms(B&& boxes, S&& scores, L&& labels,
                                               const nms_params& params = {}) {
    return detail::batched_nms_checked(std::forward<B>(boxes), std::forward<S>(scores),
                                       std::forward<L>(labels), params, "batched_nms");
}

/// `batched_nms` written into the caller's span: the first `min(out.size(), max_output)` kept
/// indices, in the order `batched_nms` returns them (a short span acts as a limit). Returns how
/// many were written; `out` past them is left unchanged. Allocates O(N) scratch memory.
/// @throws detseg::invalid_argument as `batched_nms`, naming `batched_nms_to`
template <box_source B, score_source S, label_source L>
index_t batched_nms_to(B&& boxes, S&& scores, L&& labels, std::span<index_t> out,
                       const nms_params& params = {}) {
    nms_params p = params;
    detail::check_nms_params(params, "batched_nms_to");
    const auto cap = static_cast<index_t>(out.size());
    p.max_output = p.max_output < 0 ? cap : std::min(p.max_output, cap);
    const auto kept = detail::batched_nms_checked(std::forward<B>(boxes), std::forward<S>(scores),
                                                  std::forward<L>(labels), p, "batched_nms_to");
    std::copy(kept.begin(), kept.end(), out.begin());
    return static_cast<index_t>(kept.size());
}

} // namespace detseg

#endif // DETSEG_DETECT_BATCHED_NMS_HPP
