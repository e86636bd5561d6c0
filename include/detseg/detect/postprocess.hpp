#ifndef DETSEG_DETECT_POSTPROCESS_HPP
#define DETSEG_DETECT_POSTPROCESS_HPP

/// @file
/// Fused detection post-processing: from raw head outputs (class logits and box deltas of every
/// anchor) to the final boxes, scores and labels of one image in one call.
///
/// Reference: `torchvision.models.detection.RetinaNet.postprocess_detections` (0.14). Per level:
/// scores = sigmoid(logits) (float32 if the logits are float32), candidates `score >
/// score_thresh` over the flattened A×C scores, the `min(topk_candidates, n)` best of them,
/// anchor = flat index / C, label = flat index % C, `BoxCoder.decode_single`,
/// `clip_boxes_to_image`; then over the concatenation of the levels `batched_nms` and the first
/// `detections_per_img` kept boxes, score descending. The same numbers as torchvision's (bit
/// for bit, with torch's scalar `exp`, i.e. `ATEN_CPU_CAPABILITY=default`; see
/// docs/postprocess.md) wherever torchvision's result is defined: its `topk` and its final sort
/// order equal scores arbitrarily, detseg takes the lower flat index first (within a level) and
/// the lower candidate position first (across levels, levels in order).
///
/// Fused: the sigmoid is not computed for anchors that cannot pass, the logits are compared with
/// a bound below `logit(score_thresh)` instead (then the exact float score decides), the top-k
/// is a selection, and only the kept candidates are decoded and clipped.

#include <detseg/box/box.hpp>
#include <detseg/box/clip.hpp>
#include <detseg/box/coder.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/detect/batched_nms.hpp>
#include <detseg/detect/detail/postprocess_select.hpp>
#include <detseg/detect/nms.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// How class logits become scores.
enum class score_activation {
    sigmoid, ///< independent per class, `1 / (1 + exp(-x))` (RetinaNet, FCOS)
    softmax  ///< over the C classes of an anchor, `exp(x - max) / sum` (not a torchvision path)
};

/// Parameters of `retinanet_postprocess`; an aggregate. The defaults are torchvision's
/// `RetinaNet` defaults.
struct postprocess_params {
    /// A candidate needs `score > score_thresh` (compared in the logits' type); in [0, 1).
    double score_thresh = 0.05;
    /// At most this many candidates per level (the best scores); >= 0.
    index_t topk_candidates = 1000;
    /// IoU threshold of the class-aware NMS (suppress at IoU > nms_thresh); in [0, 1].
    double nms_thresh = 0.5;
    /// At most this many detections in all; >= 0.
    index_t detections_per_img = 300;
    /// Box coder weights and clamp (torchvision's RetinaNet: weights (1, 1, 1, 1)).
    box_coder_params coder{};
    score_activation activation = score_activation::sigmoid;
};

/// The detections of one image, score descending: `boxes` K×4 (xyxy, clipped to the image),
/// `scores` K, `labels` K (the class index in 0..C-1).
template <class T>
struct postprocess_result {
    tensor<T, 2> boxes;
    std::vector<T> scores;
    std::vector<std::int64_t> labels;
};

namespace detail {
struct postprocess_access;
} // namespace detail

/// Scratch memory of `retinanet_postprocess_into`; reuse it to avoid allocating per call.
class postprocess_workspace {
public:
    postprocess_workspace() = default;

private:
    detail::postprocess_buffers<float> f_;
    detail::postprocess_buffers<double> d_;
    nms_workspace nms_;
    friend struct detail::postprocess_access;
};

namespace detail {

struct postprocess_access {
    template <class T>
    [[nodiscard]] static postprocess_buffers<T>& buffers(postprocess_workspace& ws) noexcept {
        if constexpr (std::is_same_v<T, float>)
            return ws.f_;
        else
            return ws.d_;
    }
    [[nodiscard]] static nms_workspace& nms(postprocess_workspace& ws) noexcept { return ws.nms_; }
};

inline void check_postprocess_params(const postprocess_params& p, const char* fn) {
    DETSEG_REQUIRE(p.score_thresh >= 0.0 && p.score_thresh < 1.0, fn, "params.score_thresh",
                   "must be in [0, 1), got ", p.score_thresh);
    DETSEG_REQUIRE(p.nms_thresh >= 0.0 && p.nms_thresh <= 1.0, fn, "params.nms_thresh",
                   "must be in [0, 1], got ", p.nms_thresh);
    DETSEG_REQUIRE(p.topk_candidates >= 0, fn, "params.topk_candidates", "must be >= 0, got ",
                   p.topk_candidates);
    DETSEG_REQUIRE(p.detections_per_img >= 0, fn, "params.detections_per_img", "must be >= 0, got ",
                   p.detections_per_img);
    DETSEG_REQUIRE(p.activation == score_activation::sigmoid ||
                       p.activation == score_activation::softmax,
                   fn, "params.activation", "must be sigmoid or softmax");
    check_coder_params(p.coder, fn);
}

template <class T, class LV, class DV, class AV>
void postprocess_run(const LV& logits, const DV& deltas, const box_view<AV>& anchors,
                     std::span<const index_t> per_level, image_size image,
                     const postprocess_params& p, postprocess_result<T>& out,
                     postprocess_workspace& ws, const char* fn) {
    auto& b = postprocess_access::buffers<T>(ws);
    const index_t c = logits.extent(1);
    const T thr = static_cast<T>(p.score_thresh);
    b.boxes.clear();
    b.scores.clear();
    b.labels.clear();
    index_t first = 0;
    for (std::size_t l = 0; l < per_level.size(); ++l) {
        const index_t n = per_level[l];
        auto& cand = b.cand;
        if (p.activation == score_activation::sigmoid)
            sigmoid_candidates<T>(logits, first, n, thr, p.topk_candidates, b, fn);
        else
            softmax_candidates<T>(logits, first, n, thr, b, fn);
        select_top(cand, p.topk_candidates);

        // Decode and clip the survivors of the level, in score order.
        const std::size_t k = cand.size();
        b.d.resize(4 * k);
        b.a.resize(4 * k);
        for (std::size_t i = 0; i < k; ++i) {
            const index_t row = first + cand[i].flat / c;
            for (index_t j = 0; j < 4; ++j) {
                const T v = deltas(row, j);
                DETSEG_REQUIRE(std::isfinite(v), fn, "deltas", "entry (", row, ", ", j,
                               ") of a candidate is NaN or infinite");
                b.d[4 * i + std::size_t(j)] = v;
            }
            const auto a = anchors.xyxy(row);
            const T ac[4] = {static_cast<T>(a.x1), static_cast<T>(a.y1), static_cast<T>(a.x2),
                             static_cast<T>(a.y2)};
            for (std::size_t j = 0; j < 4; ++j) {
                DETSEG_REQUIRE(std::isfinite(ac[j]), fn, "anchors", "anchor ", row,
                               " of a candidate has a NaN or infinite coordinate");
                b.a[4 * i + j] = ac[j];
            }
        }
        const std::size_t base = b.boxes.size();
        b.boxes.resize(base + 4 * k);
        const auto ki = static_cast<index_t>(k);
        decode_into<T>(strided_view<const T, 2>(b.d.data(), {ki, 4}),
                       box_view<strided_view<const T, 2>>(
                           strided_view<const T, 2>(b.a.data(), {ki, 4}), box_format::xyxy),
                       strided_view<T, 2>(b.boxes.data() + base, {ki, 4}), p.coder);
        const T w = static_cast<T>(image.width), h = static_cast<T>(image.height);
        for (std::size_t i = 0; i < k; ++i) {
            T* q = b.boxes.data() + base + 4 * i;
            q[0] = std::min(std::max(q[0], T(0)), w);
            q[1] = std::min(std::max(q[1], T(0)), h);
            q[2] = std::min(std::max(q[2], T(0)), w);
            q[3] = std::min(std::max(q[3], T(0)), h);
            b.scores.push_back(cand[i].score);
            b.labels.push_back(static_cast<std::int64_t>(cand[i].flat % c));
        }
        first += n;
    }

    // Class-aware NMS over all levels; its order is score descending, ties by lower position.
    const auto m = static_cast<index_t>(b.scores.size());
    const index_t limit = std::min(m, p.detections_per_img);
    b.keep.resize(static_cast<std::size_t>(limit));
    index_t kept = 0;
    if (limit > 0)
        kept = batched_nms_to(strided_view<const T, 2>(b.boxes.data(), {m, 4}),
                              std::span<const T>(b.scores), std::span<const std::int64_t>(b.labels),
                              std::span<index_t>(b.keep), postprocess_access::nms(ws),
                              nms_params{.iou_threshold = p.nms_thresh});
    out.boxes.resize({kept, 4});
    out.scores.resize(static_cast<std::size_t>(kept));
    out.labels.resize(static_cast<std::size_t>(kept));
    for (index_t i = 0; i < kept; ++i) {
        const auto s = static_cast<std::size_t>(b.keep[std::size_t(i)]);
        for (index_t j = 0; j < 4; ++j)
            out.boxes(i, j) = b.boxes[4 * s + std::size_t(j)];
        out.scores[std::size_t(i)] = b.scores[s];
        out.labels[std::size_t(i)] = b.labels[s];
    }
}

template <class L, class D, box_source A, class T>
void postprocess_checked(L&& logits, D&& deltas, A&& anchors,
                         std::span<const index_t> num_anchors_per_level, image_size image,
                         const postprocess_params& params, postprocess_result<T>& out,
                         postprocess_workspace& ws, const char* fn) {
    check_postprocess_params(params, fn);
    DETSEG_REQUIRE(image.height > 0 && image.width > 0, fn, "image",
                   "image size must be "
                   "positive, got height ",
                   image.height, ", width ", image.width);
    auto lv = as_view_checked<2>(std::forward<L>(logits), fn, "logits");
    auto dv = as_view_checked<2>(std::forward<D>(deltas), fn, "deltas");
    auto av = to_boxes(std::forward<A>(anchors), box_format::xyxy, fn, "anchors");
    index_t total = 0;
    for (std::size_t l = 0; l < num_anchors_per_level.size(); ++l) {
        DETSEG_REQUIRE(num_anchors_per_level[l] >= 0, fn, "num_anchors_per_level", "level ", l,
                       " has a negative count (", num_anchors_per_level[l], ")");
        total += num_anchors_per_level[l];
    }
    DETSEG_REQUIRE(lv.extent(0) == total, fn, "logits", "expected ", total,
                   " rows (the sum of num_anchors_per_level), got ", lv.extent(0));
    DETSEG_REQUIRE(lv.extent(1) > 0, fn, "logits", "expected at least one class column");
    DETSEG_REQUIRE(dv.extent(0) == total && dv.extent(1) == 4, fn, "deltas", "expected ", total,
                   "×4, got ", dv.extent(0), "×", dv.extent(1));
    DETSEG_REQUIRE(av.size() == total, fn, "anchors", "expected ", total, " anchors, got ",
                   av.size());
    postprocess_run<T>(strided_view<const T, 2>(lv), strided_view<const T, 2>(dv), av,
                       num_anchors_per_level, image, params, out, ws, fn);
}

} // namespace detail

/// RetinaNet-style post-processing of one image, torchvision's
/// `RetinaNet.postprocess_detections` for one image in one call.
/// @param logits  N×C class logits (float or double) of all levels concatenated, anchors in the
///                order of `anchors` (torchvision's `head_outputs["cls_logits"][i]`: per level
///                H·W·A rows, location-major, anchors innermost); finite
/// @param deltas  N×4 box deltas of the same type (`head_outputs["bbox_regression"][i]`)
/// @param anchors N×4 box source (xyxy), e.g. `grid_anchor_generator::generate`
/// @param num_anchors_per_level the number of rows of each level, summing to N
/// @param image   the image's `{.height, .width}` (positive), for the clipping
/// @param params  thresholds, top-k, limits, coder, activation (see `postprocess_params`)
/// @return boxes, scores and labels, score descending; ties by lower level, then lower flat
///         index (anchor·C + class) within the level
/// @throws detseg::invalid_argument naming `retinanet_postprocess` and the argument: `logits`
///         (rows are not the sum of the levels, no column, a NaN or infinite logit), `deltas`
///         (not N×4, a NaN or infinite entry in a decoded row), `anchors` (count, a NaN or
///         infinite coordinate of a decoded anchor), `num_anchors_per_level` (a negative
///         count), `image` (not positive), `params.score_thresh` (outside [0, 1)),
///         `params.nms_thresh` (outside [0, 1]), `params.topk_candidates` and
///         `params.detections_per_img` (negative), `params.activation` (not an enumerator),
///         `params` (coder weights).
///
/// Complexity: one pass over the N·C logits (a comparison each for sigmoid, an exp each for
/// softmax), a linear-time selection over the candidates, then O(K log K) for the K <= L·topk
/// survivors and batched NMS on them. Allocates; see `retinanet_postprocess_into`.
///
///     auto det = detseg::retinanet_postprocess(logits, deltas, anchors, levels,
///                                              {.height = 800, .width = 800});
template <class L, class D, box_source A>
[[nodiscard]] auto retinanet_postprocess(L&& logits, D&& deltas, A&& anchors,
                                         std::span<const index_t> num_anchors_per_level,
                                         image_size image, const postprocess_params& params = {}) {
    using T = view_value_t<L, 2>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "detseg::retinanet_postprocess: logits must be float or double");
    static_assert(std::is_same_v<T, view_value_t<D, 2>>,
                  "detseg::retinanet_postprocess: logits and deltas must have the same type");
    postprocess_result<T> out;
    postprocess_workspace ws;
    detail::postprocess_checked(std::forward<L>(logits), std::forward<D>(deltas),
                                std::forward<A>(anchors), num_anchors_per_level, image, params, out,
                                ws, "retinanet_postprocess");
    return out;
}

/// `retinanet_postprocess` into a caller's result with caller-owned scratch memory: once `ws`
/// and `out` have held a problem of this size, it allocates nothing (single-threaded).
/// @throws detseg::invalid_argument as `retinanet_postprocess`, naming
///         `retinanet_postprocess_into`
template <class L, class D, box_source A, class T>
void retinanet_postprocess_into(L&& logits, D&& deltas, A&& anchors,
                                std::span<const index_t> num_anchors_per_level, image_size image,
                                postprocess_result<T>& out, postprocess_workspace& ws,
                                const postprocess_params& params = {}) {
    static_assert(std::is_same_v<T, view_value_t<L, 2>> && std::is_same_v<T, view_value_t<D, 2>>,
                  "detseg::retinanet_postprocess_into: logits, deltas and the result must have "
                  "the same type");
    detail::postprocess_checked(std::forward<L>(logits), std::forward<D>(deltas),
                                std::forward<A>(anchors), num_anchors_per_level, image, params, out,
                                ws, "retinanet_postprocess_into");
}

} // namespace detseg

#endif // DETSEG_DETECT_POSTPROCESS_HPP
