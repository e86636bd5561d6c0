#ifndef DETSEG_DETECT_NMS_OPENCV_HPP
#define DETSEG_DETECT_NMS_OPENCV_HPP

/// @file
/// Greedy non-maximum suppression with OpenCV's rules.
///
/// Reference: `cv2.dnn.NMSBoxes(bboxes, scores, score_threshold, nms_threshold, eta, top_k)`
/// (OpenCV 4.6) on `Rect2d` boxes, which `nms_opencv` reproduces exactly (identical keep lists):
/// box (x1, y1, x2, y2) is OpenCV's `Rect2d(x1, y1, x2 - x1, y2 - y1)`, in double.
///
/// The algorithm, as OpenCV runs it (scores and thresholds in float):
///   1. candidates are the boxes with `score > score_threshold` (strict), stable-sorted by
///      descending score (ties: the lower index first);
///   2. if `top_k > 0`, only the first `top_k` candidates are kept, *before* suppression;
///   3. a candidate is kept iff its overlap with every box kept so far is `<= thr` (suppressed
///      when `> thr`), starting from `thr = nms_threshold`;
///   4. after each keep, `if (eta < 1 && thr > 0.5) thr *= eta` (in float), so the threshold
///      decays geometrically but only while it is above 0.5 (0.55 becomes 0.495 and stays).
///
/// Overlap: `1.f - (float)jaccardDistance(candidate, kept)` with `Rect2d` arithmetic:
///
///     Aa = a.w * a.h;  Ab = b.w * b.h
///     ov = (Aa + Ab <= DBL_EPSILON) ? 1.f : 1.f - (float)(1.0 - Aab / (Aa + Ab - Aab))
///
/// where `Aab` is the area of `Rect_::operator&`: empty (0) if either rect has w <= 0 or h <= 0,
/// otherwise computed from OpenCV's (x, w) form (`w = min(R.w, L.w - (R.x - L.x))` with L the
/// rect of smaller x), which can differ from `min(x2) - max(x1)` by rounding.
///
/// Differences from `detseg::nms` (torchvision), and why (each is OpenCV's behaviour):
///   - `score_threshold` is strict and compared in float, and must be >= 0 (OpenCV asserts it);
///   - `top_k` truncates the *candidates* before suppression, so fewer than `top_k` boxes may be
///     kept even when more would survive (`nms`'s `max_output` limits the *kept* boxes);
///   - `eta < 1` lowers the threshold after each keep (adaptive NMS); `nms` has none;
///   - the overlap goes through float twice (see above) where `nms` computes IoU in the box type,
///     so decisions at IoU ≈ threshold can differ;
///   - two boxes whose areas sum to <= DBL_EPSILON (e.g. two zero-area boxes) have overlap 1 and
///     suppress each other (only the first is kept; `nms` gives IoU 0 and keeps both); a
///     zero-area box next to a box of positive area has overlap 0;
///   - inverted boxes (x2 < x1 or y2 < y1) are passed as rects with negative width/height, whose
///     negative area enters `Aa + Ab` as in OpenCV (`nms` treats them as area 0).

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/detect/detail/score_checks.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace detseg {

/// Parameters of `nms_opencv`, named as `cv2.dnn.NMSBoxes`'s; an aggregate, so
/// `{.nms_threshold = 0.7, .eta = 0.9}`. The defaults are OpenCV's where it has them.
struct opencv_nms_params {
    /// Boxes with `score > score_threshold` (strict, compared in float) are candidates. >= 0 and
    /// finite (OpenCV asserts >= 0).
    double score_threshold = 0;
    /// A candidate is suppressed when its overlap with a kept box is `> nms_threshold` (the
    /// initial adaptive threshold, rounded to float). In [0, 1].
    double nms_threshold = 0.5;
    /// Adaptive threshold decay: after each keep, if `eta < 1` and the threshold is > 0.5, it is
    /// multiplied by `eta` (in float). In (0, 1] (and > 0 as a float); 1 disables the decay.
    double eta = 1;
    /// If > 0, only the `top_k` highest-scoring candidates enter suppression (truncation *before*
    /// suppression, as OpenCV). 0 uses all candidates. >= 0.
    index_t top_k = 0;
};

namespace detail {

inline void check_opencv_nms_params(const opencv_nms_params& p, const char* fn) {
    DETSEG_REQUIRE(std::isfinite(p.score_threshold) && p.score_threshold >= 0.0, fn,
                   "params.score_threshold", "must be finite and >= 0, got ", p.score_threshold);
    DETSEG_REQUIRE(p.nms_threshold >= 0.0 && p.nms_threshold <= 1.0, fn, "params.nms_threshold",
                   "must be in [0, 1], got ", p.nms_threshold);
    DETSEG_REQUIRE(p.eta > 0.0 && p.eta <= 1.0 && static_cast<float>(p.eta) > 0.0f, fn,
                   "params.eta", "must be in (0, 1] (and > 0 as a float), got ", p.eta);
    DETSEG_REQUIRE(p.top_k >= 0, fn, "params.top_k", "must be >= 0 (0: no limit), got ", p.top_k);
}

// OpenCV's Rect2d: top-left corner and size, in double.
struct opencv_rect {
    double x, y, w, h;
};

// Area of Rect2d's operator& (OpenCV 4.6's overflow-safe form, evaluated in double).
[[nodiscard]] inline double opencv_intersection_area(const opencv_rect& a,
                                                     const opencv_rect& b) noexcept {
    if (a.w <= 0.0 || a.h <= 0.0 || b.w <= 0.0 || b.h <= 0.0)
        return 0.0;
    const opencv_rect& xmin = (a.x < b.x) ? a : b;
    const opencv_rect& xmax = (a.x < b.x) ? b : a;
    const opencv_rect& ymin = (a.y < b.y) ? a : b;
    const opencv_rect& ymax = (a.y < b.y) ? b : a;
    if ((xmin.x < 0.0 && xmin.x + xmin.w < xmax.x) || (xmin.x >= 0.0 && xmin.w < xmax.x - xmin.x) ||
        (ymin.y < 0.0 && ymin.y + ymin.h < ymax.y) || (ymin.y >= 0.0 && ymin.h < ymax.y - ymin.y))
        return 0.0;
    const double w = std::min(xmax.w, xmin.w - (xmax.x - xmin.x));
    const double h = std::min(ymax.h, ymin.h - (ymax.y - ymin.y));
    return w * h;
}

// OpenCV's rectOverlap(a, b) = 1.f - (float)jaccardDistance(a, b) for Rect2d.
[[nodiscard]] inline float opencv_rect_overlap(const opencv_rect& a,
                                               const opencv_rect& b) noexcept {
    const double aa = a.w * a.h;
    const double ab = b.w * b.h;
    if (aa + ab <= std::numeric_limits<double>::epsilon())
        return 1.0f;
    const double aab = opencv_intersection_area(a, b);
    return 1.0f - static_cast<float>(1.0 - aab / (aa + ab - aab));
}

template <class V, class S>
std::vector<index_t> nms_opencv_run(const box_view<V>& boxes, const S& scores,
                                    const opencv_nms_params& p) {
    std::vector<index_t> keep;
    const index_t n = boxes.size();
    const float score_threshold = static_cast<float>(p.score_threshold);

    std::vector<index_t> order;
    for (index_t i = 0; i < n; ++i)
        if (static_cast<float>(scores[i]) > score_threshold)
            order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        return static_cast<float>(scores[a]) > static_cast<float>(scores[b]);
    });
    if (p.top_k > 0 && p.top_k < static_cast<index_t>(order.size()))
        order.resize(static_cast<std::size_t>(p.top_k));
    if (order.empty())
        return keep;

    // Rects of the kept boxes, in keep order (the candidate is compared with each).
    std::vector<opencv_rect> kept;
    const float eta = static_cast<float>(p.eta);
    float thr = static_cast<float>(p.nms_threshold);
    for (const index_t i : order) {
        const auto b = boxes.xyxy(i);
        const double x1 = static_cast<double>(b.x1), y1 = static_cast<double>(b.y1);
        const opencv_rect r{x1, y1, static_cast<double>(b.x2) - x1, static_cast<double>(b.y2) - y1};
        bool ok = true;
        for (std::size_t k = 0; k < kept.size() && ok; ++k)
            ok = opencv_rect_overlap(r, kept[k]) <= thr;
        if (!ok)
            continue;
        keep.push_back(i);
        kept.push_back(r);
        if (eta < 1.0f && thr > 0.5f)
            thr *= eta;
    }
    return keep;
}

} // namespace detail

/// Non-maximum suppression as `cv2.dnn.NMSBoxes(rects, scores, score_threshold, nms_threshold,
/// eta, top_k)` on `Rect2d(x1, y1, x2 - x1, y2 - y1)` (see the file comment for the exact rules
/// and how they differ from `nms`).
/// @param boxes  N×4 box source (xyxy; `as_boxes(src, format)` for others), float or double,
///               finite
/// @param scores N scores, float or double, finite (rounded to float, and finite as floats)
/// @param params score threshold, overlap threshold, eta and top_k (see `opencv_nms_params`)
/// @return kept indices in descending score order, ties by lower index (OpenCV's order); empty
///         for N = 0
/// @throws detseg::invalid_argument naming `nms_opencv` and the argument: `boxes` (not N×4, a
///         NaN or infinite coordinate), `scores` (length is not N, NaN or infinite, or beyond
///         the float range), `params.score_threshold` (< 0, NaN or infinite),
///         `params.nms_threshold` (outside [0, 1] or NaN), `params.eta` (outside (0, 1] or NaN),
///         `params.top_k` (< 0)
///
/// Complexity: O(N log N) for the sort plus O(M·K) overlaps for M candidates and K kept boxes,
/// O(N²) in the worst case; O(N) extra memory.
///
///     auto keep = detseg::nms_opencv(boxes, scores, {.score_threshold = 0.3, .top_k = 100});
template <box_source B, score_source S>
[[nodiscard]] std::vector<index_t> nms_opencv(B&& boxes, S&& scores,
                                              const opencv_nms_params& params = {}) {
    constexpr const char* fn = "nms_opencv";
    detail::check_opencv_nms_params(params, fn);
    auto b = detail::to_boxes(std::forward<B>(boxes), box_format::xyxy, fn, "boxes");
    auto s = detail::as_view_checked<1>(std::forward<S>(scores), fn, "scores");
    DETSEG_REQUIRE(s.extent(0) == b.size(), fn, "scores", "expected ", b.size(),
                   " scores (one per box), got ", s.extent(0));
    detail::check_finite_boxes(b, fn, "boxes");
    detail::check_finite_scores(s, fn, "scores", true);
    return detail::nms_opencv_run(b, s, params);
}

} // namespace detseg

#endif // DETSEG_DETECT_NMS_OPENCV_HPP
