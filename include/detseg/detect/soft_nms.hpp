#ifndef DETSEG_DETECT_SOFT_NMS_HPP
#define DETSEG_DETECT_SOFT_NMS_HPP

/// @file
/// Soft non-maximum suppression (Soft-NMS) of scored boxes.
///
/// Reference: `cv2.dnn.softNMSBoxes` (OpenCV 4.6), which `soft_nms` reproduces exactly on boxes
/// with integer coordinates (identical picks, bit-identical decayed scores): OpenCV's binding
/// takes integer `Rect`s, and box (x1, y1, x2, y2) corresponds to `Rect(x1, y1, x2 - x1, y2 - y1)`.
///
/// The loop, as OpenCV runs it, in float (f32) arithmetic:
///   1. take the candidate with the highest *current* score (ties: the lowest original index);
///   2. stop if that score is `< score_threshold` (a score equal to the threshold is picked);
///   3. output its index and current score;
///   4. every remaining candidate whose current score is `>= score_threshold` is decayed by its
///      overlap `ov` with the picked box:
///      - linear:   `s *= 1 - ov`, only when `ov > iou_threshold` (strict);
///      - gaussian: `s *= exp(-(ov * ov) / sigma)` (`std::exp(float)`); `iou_threshold` is not
///        used.
///   Candidates that fall below `score_threshold` are never decayed again nor picked.
///
/// Gaussian penalty. Bodla et al., "Soft-NMS -- Improving Object Detection With One Line of
/// Code" (ICCV 2017), define the Gaussian rescoring as `s *= exp(-iou^2 / sigma)` (their Eq. 3;
/// sigma = 0.5 in their experiments), and OpenCV implements exactly that formula. It is *not*
/// the normal density's `exp(-iou^2 / (2 sigma^2))`, which some other implementations use: the
/// two coincide only at sigma = 0.5 (2 * 0.5^2 = 0.5); at sigma = 0.25 detseg/OpenCV divide by
/// 0.25 where the density form divides by 0.125. Linear rescoring is the paper's Eq. 2,
/// `s *= 1 - iou` when `iou >= N_t`; OpenCV (and detseg) use the strict `iou > N_t`.
///
/// Overlap. The paper's `iou(M, b) = area(M ∩ b) / area(M ∪ b)`. OpenCV computes it as
/// `1.f - (float)jaccardDistance(a, b)` with integer areas:
///
///     Aa = a.w * a.h;  Ab = b.w * b.h;  Aab = area(a ∩ b)   (0 when the rects do not overlap)
///     ov = (Aa + Ab <= 0) ? 1.f : 1.f - (float)(1.0 - Aab / (double)(Aa + Ab - Aab))
///
/// i.e. the ratio in double, then `1 - ratio` in double, rounded to float, and subtracted from
/// 1 in float, which can differ from `(float)(Aab / union)` by an ulp. `soft_nms` evaluates the
/// same expression, with widths, heights and areas in double (exact for integer coordinates
/// while the areas stay below 2^53; OpenCV's int areas overflow past 2^31). Two zero-area boxes
/// (`Aa + Ab <= 0`) therefore have overlap 1, not 0 as in `nms`. Non-integer coordinates are
/// accepted and use the same formula on the real values (OpenCV cannot take them).
///
/// Scores are rounded to float (OpenCV's `std::vector<float>`); thresholds and sigma too.

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/detect/detail/score_checks.hpp>
#include <detseg/detect/detail/soft_nms_blocks.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Score decay of `soft_nms`.
enum class soft_nms_method {
    linear,   ///< `s *= 1 - ov` when `ov > iou_threshold` (`cv2.dnn.SOFTNMS_LINEAR`).
    gaussian, ///< `s *= exp(-ov^2 / sigma)` (`cv2.dnn.SOFTNMS_GAUSSIAN`, the default).
};

/// Parameters of `soft_nms`; an aggregate, so `{.method = soft_nms_method::linear}`.
/// The defaults are OpenCV's where it has them (method gaussian, sigma 0.5, no limit) and the
/// paper's otherwise (iou_threshold 0.3, the linear N_t of Bodla et al.; score_threshold 0.001,
/// the usual final detection threshold, which also ends the loop once the decayed scores are
/// negligible).
struct soft_nms_params {
    /// Linear or Gaussian decay.
    soft_nms_method method = soft_nms_method::gaussian;
    /// Gaussian width: the decay factor is `exp(-ov^2 / sigma)` (not `2 sigma^2`). > 0, finite.
    /// Not used by the linear method (but still checked).
    double sigma = 0.5;
    /// Linear method only: a candidate is decayed only if its overlap is `> iou_threshold`.
    /// In [0, 1]. Not used by the Gaussian method (but still checked).
    double iou_threshold = 0.3;
    /// The loop stops when the best current score is `< score_threshold`; candidates below it
    /// are dropped. In [0, 1]. Compared in float, as OpenCV does.
    double score_threshold = 0.001;
    /// At most this many picks; -1 for no limit (OpenCV's `top_k = 0`). 0 picks nothing.
    index_t max_output = -1;
};

/// Result of `soft_nms`: picked indices in pick order with their decayed scores.
struct soft_nms_result {
    std::vector<index_t> indices; ///< Original indices of the picked boxes, in pick order.
    std::vector<float> scores;    ///< The score of each pick when it was picked (decayed), f32.
};

namespace detail {

inline void check_soft_nms_params(const soft_nms_params& p, const char* fn) {
    DETSEG_REQUIRE(p.method == soft_nms_method::linear || p.method == soft_nms_method::gaussian, fn,
                   "params.method", "must be linear or gaussian");
    DETSEG_REQUIRE(std::isfinite(p.sigma) && p.sigma > 0.0 && static_cast<float>(p.sigma) > 0.0f,
                   fn, "params.sigma", "must be finite and > 0 (and > 0 as a float), got ",
                   p.sigma);
    DETSEG_REQUIRE(p.iou_threshold >= 0.0 && p.iou_threshold <= 1.0, fn, "params.iou_threshold",
                   "must be in [0, 1], got ", p.iou_threshold);
    DETSEG_REQUIRE(p.score_threshold >= 0.0 && p.score_threshold <= 1.0, fn,
                   "params.score_threshold", "must be in [0, 1], got ", p.score_threshold);
    DETSEG_REQUIRE(p.max_output >= -1, fn, "params.max_output",
                   "must be -1 (no limit) or >= 0, got ", p.max_output);
}

// Below this many boxes soft_nms runs the linear loop: the block store does not pay off.
inline constexpr index_t soft_nms_blocks_min_n = 96;

// The loop as OpenCV runs it: an O(N) scan for the best score and an O(N) decay pass per pick.
inline void soft_nms_linear(const std::vector<soft_nms_rect>& rects,
                            const std::vector<float>& scores, const soft_nms_rule& rule,
                            index_t limit, soft_nms_result& r) {
    struct candidate {
        float score;
        index_t index;
        soft_nms_rect box;
    };
    const std::size_t n = rects.size();
    std::vector<candidate> c(n);
    for (std::size_t i = 0; i < n; ++i)
        c[i] = {scores[i], static_cast<index_t>(i), rects[i]};

    for (std::size_t start = 0; static_cast<index_t>(r.indices.size()) < limit; ++start) {
        // Best current score among [start, n); ties to the lowest original index.
        std::size_t best = start;
        for (std::size_t i = start + 1; i < n; ++i) {
            const auto& a = c[i];
            const auto& m = c[best];
            if (a.score > m.score || (a.score == m.score && a.index < m.index))
                best = i;
        }
        if (c[best].score < rule.score_threshold)
            break;
        r.indices.push_back(c[best].index);
        r.scores.push_back(c[best].score);
        std::swap(c[start], c[best]);
        const soft_nms_rect& picked = c[start].box;
        for (std::size_t i = start + 1; i < n; ++i) {
            float& s = c[i].score;
            if (s < rule.score_threshold)
                continue;
            const float ov = soft_nms_overlap(picked, c[i].box);
            if (ov == 0.0f)
                continue; // both rules leave the score unchanged: exp(-0) = 1, and 0 > t is false
            rule.decay(s, ov);
        }
    }
}

// The same loop on the block store (detail/soft_nms_blocks.hpp): O(log N) per pick for the
// best score, and a decay pass over the blocks that can overlap the pick.
inline void soft_nms_blocked(const std::vector<soft_nms_rect>& rects,
                             const std::vector<float>& scores, const soft_nms_rule& rule,
                             index_t limit, soft_nms_result& r) {
    soft_nms_blocks live;
    live.build(rects.data(), scores.data(), static_cast<index_t>(rects.size()),
               rule.score_threshold);
    while (static_cast<index_t>(r.indices.size()) < limit && !live.empty()) {
        const index_t best = live.top();
        r.indices.push_back(live.index(best));
        r.scores.push_back(live.score(best));
        live.pick(best, rule);
    }
}

// soft_nms on checked inputs. The block store is used from `blocks_min_n` boxes on, when every
// box is `soft_nms_indexable`; both paths give identical results.
template <class V, class S>
soft_nms_result soft_nms_run(const box_view<V>& boxes, const S& scores, const soft_nms_params& p,
                             index_t blocks_min_n = soft_nms_blocks_min_n) {
    soft_nms_result r;
    const index_t n = boxes.size();
    index_t limit = n;
    if (p.max_output >= 0)
        limit = std::min(limit, p.max_output);
    if (n == 0 || limit == 0)
        return r;

    const auto un = static_cast<std::size_t>(n);
    std::vector<soft_nms_rect> rects(un);
    std::vector<float> s(un);
    bool indexable = n >= blocks_min_n && n <= soft_nms_blocks::max_n;
    for (index_t i = 0; i < n; ++i) {
        const auto b = boxes.xyxy(i);
        const double x1 = static_cast<double>(b.x1), y1 = static_cast<double>(b.y1);
        const double w = static_cast<double>(b.x2) - x1, h = static_cast<double>(b.y2) - y1;
        const soft_nms_rect rect{x1, y1, x1 + w, y1 + h, w * h};
        rects[std::size_t(i)] = rect;
        s[std::size_t(i)] = static_cast<float>(scores[i]);
        indexable = indexable && soft_nms_indexable(rect, w, h);
    }

    const soft_nms_rule rule{p.method == soft_nms_method::linear,
                             static_cast<float>(p.iou_threshold), static_cast<float>(p.sigma),
                             static_cast<float>(p.score_threshold)};
    r.indices.reserve(static_cast<std::size_t>(limit));
    r.scores.reserve(static_cast<std::size_t>(limit));
    if (indexable)
        soft_nms_blocked(rects, s, rule, limit, r);
    else
        soft_nms_linear(rects, s, rule, limit, r);
    return r;
}

} // namespace detail

/// Soft-NMS: decays the scores of boxes overlapping each pick instead of removing them, as
/// `cv2.dnn.softNMSBoxes(rects, scores, score_threshold, iou_threshold, top_k, sigma, method)`
/// (see the file comment for the exact loop, overlap and the Gaussian formula).
/// @param boxes  N×4 box source (xyxy; `as_boxes(src, format)` for others), float or double,
///               finite; parity with OpenCV holds for integer coordinates
/// @param scores N scores, float or double, finite (rounded to float, and finite as floats)
/// @param params method, sigma, thresholds and limit (see `soft_nms_params`)
/// @return picked indices in pick order and their decayed f32 scores; empty for N = 0
/// @throws detseg::invalid_argument naming `soft_nms` and the argument: `boxes` (not N×4, a NaN
///         or infinite coordinate), `scores` (length is not N, NaN or infinite, or beyond the
///         float range), `params.sigma` (not finite and > 0), `params.iou_threshold` and
///         `params.score_threshold` (outside [0, 1] or NaN), `params.max_output` (< -1),
///         `params.method` (not an enumerator)
///
/// Complexity: O(N²) at worst (every pick overlapping every box), as OpenCV. From 96 boxes on
/// (when no coordinate is extreme), the candidates sit in spatially sorted blocks of 32 under a
/// tournament tree: finding a pick costs O(log N) and its decay pass O(N / 32) block tests plus
/// the boxes of the blocks that can overlap it, so detector-like inputs cost about
/// O(P · (N / 32 + k)) for P picks with k near neighbours each; the results are the same.
/// O(N) extra memory.
///
///     auto r = detseg::soft_nms(boxes, scores, {.method = detseg::soft_nms_method::linear});
template <box_source B, score_source S>
[[nodiscard]] soft_nms_result soft_nms(B&& boxes, S&& scores, const soft_nms_params& params = {}) {
    constexpr const char* fn = "soft_nms";
    detail::check_soft_nms_params(params, fn);
    auto b = detail::to_boxes(std::forward<B>(boxes), box_format::xyxy, fn, "boxes");
    auto s = detail::as_view_checked<1>(std::forward<S>(scores), fn, "scores");
    DETSEG_REQUIRE(s.extent(0) == b.size(), fn, "scores", "expected ", b.size(),
                   " scores (one per box), got ", s.extent(0));
    detail::check_finite_boxes(b, fn, "boxes");
    detail::check_finite_scores(s, fn, "scores", true);
    return detail::soft_nms_run(b, s, params);
}

} // namespace detseg

#endif // DETSEG_DETECT_SOFT_NMS_HPP
