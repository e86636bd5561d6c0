#ifndef DETSEG_BOX_CODER_HPP
#define DETSEG_BOX_CODER_HPP

/// @file
/// Box coding: regression targets (deltas) of boxes relative to anchors, and back.
///
/// Reference: the Faster R-CNN parameterisation (Girshick et al.), as
/// `torchvision.models.detection._utils.BoxCoder` (0.14) computes it, operation for operation
/// in the coordinate type (float32 or float64). With weights (wx, wy, ww, wh), an anchor
/// (w_a = x2 - x1, cx_a = x1 + 0.5 w_a, likewise h_a, cy_a) and a box (w, cx, h, cy):
///
///     encode: dx = (wx * (cx - cx_a)) / w_a      dw = ww * log(w / w_a)      (dy, dh alike)
///     decode: cx = (dx / wx) * w_a + cx_a        w  = exp(min(dw / ww, scale_clamp)) * w_a
///             x1 = cx - 0.5 w,  x2 = cx + 0.5 w
///
/// The default clamp is torchvision's `log(1000 / 16)`. SSD's variances (0.1, 0.1, 0.2, 0.2)
/// are the weights (10, 10, 5, 5) (`ssd_box_coder`), as in torchvision's SSD. No "+1" pixel
/// convention. The products that torchvision rounds before an addition are rounded here too, so
/// the results are bit-identical to torchvision's with the C library's `log`/`exp` (torch built
/// or run with `ATEN_CPU_CAPABILITY=default`; see docs/anchors.md).

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/fp.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace detseg {

/// Parameters of `encode_boxes` and `decode_boxes`; an aggregate, so
/// `{.weights = {10, 10, 5, 5}}`.
struct box_coder_params {
    /// (wx, wy, ww, wh): each positive and finite. torchvision's RPN and RetinaNet use
    /// (1, 1, 1, 1), its Faster R-CNN box head (10, 10, 5, 5).
    std::array<double, 4> weights = {1.0, 1.0, 1.0, 1.0};
    /// Upper bound of dw / ww and dh / wh before `exp` in `decode_boxes`: log(1000 / 16), as
    /// torchvision. Not NaN; +infinity disables the clamp.
    double scale_clamp = 4.135166556742356;
};

/// SSD's coder: variances (0.1, 0.1, 0.2, 0.2), i.e. weights (10, 10, 5, 5), as torchvision's
/// `SSD` (`BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))`).
inline constexpr box_coder_params ssd_box_coder{.weights = {10.0, 10.0, 5.0, 5.0}};

namespace detail {

inline void check_coder_params(const box_coder_params& p, const char* fn) {
    for (double w : p.weights)
        DETSEG_REQUIRE(std::isfinite(w) && w > 0, fn, "params",
                       "weights must be positive and "
                       "finite, got (",
                       p.weights[0], ", ", p.weights[1], ", ", p.weights[2], ", ", p.weights[3],
                       ")");
    DETSEG_REQUIRE(!std::isnan(p.scale_clamp), fn, "params", "scale_clamp is NaN");
}

/// Throws unless every box has a positive width and height (after conversion to corners).
template <class V>
void check_positive_size(const box_view<V>& b, const char* fn, const char* arg) {
    for (index_t i = 0, n = b.size(); i < n; ++i) {
        const auto c = b.xyxy(i);
        DETSEG_REQUIRE(c.x2 - c.x1 > 0 && c.y2 - c.y1 > 0, fn, arg, "box ", i,
                       " has a width or height that is not positive (x1, y1, x2, y2) = (", c.x1,
                       ", ", c.y1, ", ", c.x2, ", ", c.y2, ")");
    }
}

/// Deltas as an N×C view: a rank-2 source, or a flat range of numbers read as rows of
/// `len / rows` (with `rows` the number of anchors).
template <class D>
[[nodiscard]] auto deltas_view(D&& d, index_t rows, const char* fn, const char* arg) {
    using U = std::remove_cvref_t<D>;
    if constexpr (viewable_as<D, 2>) {
        auto v = as_view_checked<2>(std::forward<D>(d), fn, arg);
        using T = typename decltype(v)::value_type;
        return strided_view<const T, 2>(v);
    } else {
        static_assert(numeric_contiguous_range<U>,
                      "detseg: deltas must be an N×4K view or a flat range of numbers");
        auto* p = std::ranges::data(d);
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
        const auto len = static_cast<index_t>(std::ranges::size(d));
        const index_t cols = rows > 0 ? len / rows : 4;
        DETSEG_REQUIRE(rows > 0 ? len % rows == 0 : len == 0, fn, arg,
                       "a flat range of deltas needs a multiple of the number of anchors (", rows,
                       ") numbers, got ", len);
        return strided_view<const T, 2>(p, {rows, cols});
    }
}

template <class V>
void check_finite_matrix(const V& v, const char* fn, const char* arg) {
    for (index_t i = 0; i < v.extent(0); ++i)
        for (index_t j = 0; j < v.extent(1); ++j)
            DETSEG_REQUIRE(std::isfinite(v(i, j)), fn, arg, "entry (", i, ", ", j,
                           ") is NaN or infinite");
}

/// The four weights converted to the computation type.
template <class T>
[[nodiscard]] std::array<T, 4> coder_weights(const box_coder_params& p) noexcept {
    return {static_cast<T>(p.weights[0]), static_cast<T>(p.weights[1]),
            static_cast<T>(p.weights[2]), static_cast<T>(p.weights[3])};
}

/// The deltas of box `g` relative to anchor `a`, in T, in torchvision's order of operations.
template <class T>
[[nodiscard]] std::array<T, 4> encode_one(const box<T>& g, const box<T>& a,
                                          const std::array<T, 4>& w) noexcept {
    DETSEG_NO_FP_CONTRACT
    const T aw = a.x2 - a.x1, ah = a.y2 - a.y1;
    const T acx = a.x1 + T(0.5) * aw, acy = a.y1 + T(0.5) * ah;
    const T gw = g.x2 - g.x1, gh = g.y2 - g.y1;
    const T gcx = g.x1 + T(0.5) * gw, gcy = g.y1 + T(0.5) * gh;
    return {w[0] * (gcx - acx) / aw, w[1] * (gcy - acy) / ah, w[2] * std::log(gw / aw),
            w[3] * std::log(gh / ah)};
}

template <class T, class S>
[[nodiscard]] box<T> box_as(const box<S>& b) noexcept {
    return {static_cast<T>(b.x1), static_cast<T>(b.y1), static_cast<T>(b.x2), static_cast<T>(b.y2)};
}

template <class T, class VB, class VA, class U>
void encode_into(const box_view<VB>& boxes, const box_view<VA>& anchors, strided_view<U, 2> out,
                 const box_coder_params& p) noexcept {
    const auto w = coder_weights<T>(p);
    parallel_for_chunks(boxes.size(), 16384, [&](index_t begin, index_t end) {
        for (index_t i = begin; i < end; ++i) {
            const auto r = encode_one<T>(box_as<T>(boxes.xyxy(i)), box_as<T>(anchors.xyxy(i)), w);
            for (index_t k = 0; k < 4; ++k)
                out(i, k) = static_cast<U>(r[static_cast<std::size_t>(k)]);
        }
    });
}

template <class T, class VA, class U>
void decode_into(strided_view<const T, 2> d, const box_view<VA>& anchors, strided_view<U, 2> out,
                 const box_coder_params& p) noexcept {
    const T wx = static_cast<T>(p.weights[0]), wy = static_cast<T>(p.weights[1]);
    const T ww = static_cast<T>(p.weights[2]), wh = static_cast<T>(p.weights[3]);
    const T clamp = static_cast<T>(p.scale_clamp);
    const index_t k = d.extent(1) / 4;
    parallel_for_chunks(d.extent(0), 4096, [&](index_t begin, index_t end) {
        DETSEG_NO_FP_CONTRACT
        for (index_t i = begin; i < end; ++i) {
            const auto a = anchors.xyxy(i); // torchvision: boxes.to(rel_codes.dtype)
            const T ax1 = static_cast<T>(a.x1), ay1 = static_cast<T>(a.y1);
            const T aw = static_cast<T>(a.x2) - ax1, ah = static_cast<T>(a.y2) - ay1;
            const T acx = ax1 + T(0.5) * aw, acy = ay1 + T(0.5) * ah; // exact products
            for (index_t c = 0; c < 4 * k; c += 4) {
                const T dx = d(i, c) / wx, dy = d(i, c + 1) / wy;
                T dw = d(i, c + 2) / ww, dh = d(i, c + 3) / wh;
                dw = dw > clamp ? clamp : dw;
                dh = dh > clamp ? clamp : dh;
                const T cx = rounded_finite(dx * aw) + acx, cy = rounded_finite(dy * ah) + acy;
                // Each product is rounded before it meets an addition, as torchvision rounds it
                // (no fused multiply-add, whatever the build's contraction setting; this loop
                // may vectorise, hence rounded_finite).
                const T hw = T(0.5) * rounded_finite(std::exp(dw) * aw);
                const T hh = T(0.5) * rounded_finite(std::exp(dh) * ah);
                out(i, c) = static_cast<U>(cx - hw);
                out(i, c + 1) = static_cast<U>(cy - hh);
                out(i, c + 2) = static_cast<U>(cx + hw);
                out(i, c + 3) = static_cast<U>(cy + hh);
            }
        }
    });
}

template <class B, class A>
[[nodiscard]] auto prepare_encode(B&& boxes, A&& anchors, const box_coder_params& params) {
    check_coder_params(params, "encode_boxes");
    auto b = to_boxes(std::forward<B>(boxes), box_format::xyxy, "encode_boxes", "boxes");
    auto a = to_boxes(std::forward<A>(anchors), box_format::xyxy, "encode_boxes", "anchors");
    check_finite_boxes(b, "encode_boxes", "boxes");
    check_finite_boxes(a, "encode_boxes", "anchors");
    DETSEG_REQUIRE(a.size() == b.size(), "encode_boxes", "anchors", "expected ", b.size(),
                   " anchors (one per box), got ", a.size());
    check_positive_size(b, "encode_boxes", "boxes");
    check_positive_size(a, "encode_boxes", "anchors");
    return std::pair{b, a};
}

template <class D, class A>
[[nodiscard]] auto prepare_decode(D&& deltas, A&& anchors, const box_coder_params& params) {
    check_coder_params(params, "decode_boxes");
    auto a = to_boxes(std::forward<A>(anchors), box_format::xyxy, "decode_boxes", "anchors");
    check_finite_boxes(a, "decode_boxes", "anchors");
    auto d = deltas_view(std::forward<D>(deltas), a.size(), "decode_boxes", "deltas");
    DETSEG_REQUIRE(d.extent(0) == a.size(), "decode_boxes", "deltas", "expected ", a.size(),
                   " rows (one per anchor), got ", d.extent(0));
    DETSEG_REQUIRE(d.extent(1) % 4 == 0 && d.extent(1) > 0, "decode_boxes", "deltas",
                   "expected 4·K columns (K >= 1), got ", d.extent(1));
    check_finite_matrix(d, "decode_boxes", "deltas");
    return std::pair{d, a};
}

} // namespace detail

/// Regression targets of N boxes relative to N anchors (row i of each), torchvision's
/// `BoxCoder(weights).encode_single(boxes, anchors)`.
/// @param boxes   N×4 box source: the targets (e.g. the matched ground truth), positive sizes
/// @param anchors N×4 box source: the anchors or proposals, positive sizes
/// @return N×4 `tensor` (dx, dy, dw, dh) in the common coordinate type of the two sources
/// @throws detseg::invalid_argument for different counts (`anchors`), a NaN/infinite coordinate,
///         a box or anchor whose width or height is not positive, or weights that are not
///         positive and finite (`params`). O(N).
/// Example: `auto t = detseg::encode_boxes(gt, priors, detseg::ssd_box_coder);`
template <box_source B, box_source A>
[[nodiscard]] auto encode_boxes(B&& boxes, A&& anchors, const box_coder_params& params = {}) {
    auto [b, a] = detail::prepare_encode(std::forward<B>(boxes), std::forward<A>(anchors), params);
    using T =
        std::common_type_t<typename decltype(b)::value_type, typename decltype(a)::value_type>;
    tensor<T, 2> out({b.size(), 4});
    detail::encode_into<T>(b, a, out.view(), params);
    return out;
}

/// `encode_boxes` into `out`, any writable N×4 floating-point view (not aliasing the inputs).
template <box_source B, box_source A, float_output<2> Out>
void encode_boxes(B&& boxes, A&& anchors, Out&& out, const box_coder_params& params = {}) {
    auto [b, a] = detail::prepare_encode(std::forward<B>(boxes), std::forward<A>(anchors), params);
    using T =
        std::common_type_t<typename decltype(b)::value_type, typename decltype(a)::value_type>;
    auto o = detail::as_view_checked<2>(std::forward<Out>(out), "encode_boxes", "out");
    detail::check_out_shape(o, std::array<index_t, 2>{b.size(), 4}, "encode_boxes", "out");
    detail::encode_into<T>(b, a, o, params);
}

/// Boxes (xyxy) from regression deltas relative to N anchors, torchvision's
/// `BoxCoder(weights).decode_single(deltas, anchors)`: K boxes per anchor (class-specific
/// deltas, K = 1 for class-agnostic ones), dw/dh clamped at `params.scale_clamp`.
/// @param deltas  N×4K floating-point view (or a flat range of 4KN numbers), finite
/// @param anchors N×4 box source (converted to the deltas' type, as torchvision does)
/// @return N×4K `tensor` of the deltas' type: row i holds the K decoded boxes of anchor i
/// @throws detseg::invalid_argument for a row count other than N or a column count that is not
///         a positive multiple of 4 (`deltas`), NaN/infinite deltas or coordinates, or bad
///         weights (`params`). O(N·K).
template <class D, box_source A>
    requires(viewable_as<D, 2> || detail::numeric_contiguous_range<std::remove_cvref_t<D>>)
[[nodiscard]] auto decode_boxes(D&& deltas, A&& anchors, const box_coder_params& params = {}) {
    auto [d, a] = detail::prepare_decode(std::forward<D>(deltas), std::forward<A>(anchors), params);
    using T = typename decltype(d)::value_type;
    static_assert(std::is_floating_point_v<T>, "detseg::decode_boxes: deltas must be float or "
                                               "double");
    tensor<T, 2> out({d.extent(0), d.extent(1)});
    detail::decode_into<T>(d, a, out.view(), params);
    return out;
}

/// `decode_boxes` into `out`, any writable N×4K floating-point view (not aliasing the inputs).
template <class D, box_source A, float_output<2> Out>
    requires(viewable_as<D, 2> || detail::numeric_contiguous_range<std::remove_cvref_t<D>>)
void decode_boxes(D&& deltas, A&& anchors, Out&& out, const box_coder_params& params = {}) {
    auto [d, a] = detail::prepare_decode(std::forward<D>(deltas), std::forward<A>(anchors), params);
    using T = typename decltype(d)::value_type;
    static_assert(std::is_floating_point_v<T>, "detseg::decode_boxes: deltas must be float or "
                                               "double");
    auto o = detail::as_view_checked<2>(std::forward<Out>(out), "decode_boxes", "out");
    detail::check_out_shape(o, std::array<index_t, 2>{d.extent(0), d.extent(1)}, "decode_boxes",
                            "out");
    detail::decode_into<T>(d, a, o, params);
}

} // namespace detseg

#endif // DETSEG_BOX_CODER_HPP
