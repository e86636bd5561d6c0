#ifndef DETSEG_BOX_AREA_HPP
#define DETSEG_BOX_AREA_HPP

/// @file
/// `box_area`: `(x2 - x1) * (y2 - y1)` per box, exactly as `torchvision.ops.box_area`.
/// An inverted box (x2 < x1 xor y2 < y1) has a negative area, as in torchvision.

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/tensor.hpp>

#include <array>
#include <utility>

namespace detseg {

namespace detail {

template <class V, class U>
void area_into(const box_view<V>& b, strided_view<U, 1> out) {
    for (index_t i = 0, n = b.size(); i < n; ++i) {
        const auto c = b.xyxy(i);
        out[i] = static_cast<U>((c.x2 - c.x1) * (c.y2 - c.y1));
    }
}

} // namespace detail

/// Areas of N boxes.
/// @param boxes N×4 box source (xyxy; `as_boxes(src, format)` for others)
/// @return length-N `tensor` of the coordinate type
/// @throws detseg::invalid_argument for a NaN/infinite coordinate or a view without 4 columns.
/// O(N).
template <box_source B>
[[nodiscard]] auto box_area(B&& boxes) {
    auto b = detail::to_boxes(std::forward<B>(boxes), box_format::xyxy, "box_area", "boxes");
    detail::check_finite_boxes(b, "box_area", "boxes");
    tensor<typename decltype(b)::value_type, 1> out({b.size()});
    detail::area_into(b, out.view());
    return out;
}

/// Areas of N boxes written into `out`, any writable length-N floating-point view.
template <box_source B, float_output<1> Out>
void box_area(B&& boxes, Out&& out) {
    auto b = detail::to_boxes(std::forward<B>(boxes), box_format::xyxy, "box_area", "boxes");
    detail::check_finite_boxes(b, "box_area", "boxes");
    auto o = detail::as_view_checked<1>(std::forward<Out>(out), "box_area", "out");
    detail::check_out_shape(o, std::array<index_t, 1>{b.size()}, "box_area", "out");
    detail::area_into(b, o);
}

} // namespace detseg

#endif // DETSEG_BOX_AREA_HPP
