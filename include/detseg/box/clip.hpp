#ifndef DETSEG_BOX_CLIP_HPP
#define DETSEG_BOX_CLIP_HPP

/// @file
/// `clip_boxes`: clamps box corners into an image, exactly as
/// `torchvision.ops.clip_boxes_to_image`: x to [0, width], y to [0, height].

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/tensor.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace detseg {

/// An image's size in pixels.
struct image_size {
    index_t height = 0;
    index_t width = 0;
};

namespace detail {

template <class V, class U>
void clip_into(const box_view<V>& b, strided_view<U, 2> out, image_size size) {
    using T = typename box_view<V>::value_type;
    const T w = static_cast<T>(size.width), h = static_cast<T>(size.height);
    auto clamp = [](T v, T hi) { return std::min(std::max(v, T(0)), hi); };
    for (index_t i = 0, n = b.size(); i < n; ++i) {
        const auto c = b.xyxy(i);
        const T r[4] = {clamp(c.x1, w), clamp(c.y1, h), clamp(c.x2, w), clamp(c.y2, h)};
        for (index_t k = 0; k < 4; ++k)
            out(i, k) = static_cast<U>(r[k]);
    }
}

inline void check_image_size(image_size size, const char* fn) {
    DETSEG_REQUIRE(size.height >= 0 && size.width >= 0, fn, "size",
                   "image size must not be negative, got height ", size.height, ", width ",
                   size.width);
}

} // namespace detail

/// Clips N boxes to an image: x1, x2 into [0, width], y1, y2 into [0, height].
/// @param boxes N×4 box source (xyxy; other formats are converted, the result is xyxy)
/// @param size  the image's `{.height, .width}`
/// @return N×4 `tensor` (xyxy) of the coordinate type
/// @throws detseg::invalid_argument for a negative size, a NaN/infinite coordinate or a view
///         without 4 columns. O(N).
template <box_source B>
[[nodiscard]] auto clip_boxes(B&& boxes, image_size size) {
    detail::check_image_size(size, "clip_boxes");
    auto b = detail::to_boxes(std::forward<B>(boxes), box_format::xyxy, "clip_boxes", "boxes");
    detail::check_finite_boxes(b, "clip_boxes", "boxes");
    tensor<typename decltype(b)::value_type, 2> out({b.size(), 4});
    detail::clip_into(b, out.view(), size);
    return out;
}

/// Clips N boxes into `out`, any writable N×4 floating-point view (may be the input itself).
template <box_source B, float_output<2> Out>
void clip_boxes(B&& boxes, Out&& out, image_size size) {
    detail::check_image_size(size, "clip_boxes");
    auto b = detail::to_boxes(std::forward<B>(boxes), box_format::xyxy, "clip_boxes", "boxes");
    detail::check_finite_boxes(b, "clip_boxes", "boxes");
    auto o = detail::as_view_checked<2>(std::forward<Out>(out), "clip_boxes", "out");
    detail::check_out_shape(o, std::array<index_t, 2>{b.size(), 4}, "clip_boxes", "out");
    detail::clip_into(b, o, size);
}

} // namespace detseg

#endif // DETSEG_BOX_CLIP_HPP
