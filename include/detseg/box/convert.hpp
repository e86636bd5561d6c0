#ifndef DETSEG_BOX_CONVERT_HPP
#define DETSEG_BOX_CONVERT_HPP

/// @file
/// `convert_boxes`: between the xyxy, xywh and cxcywh box formats.
///
/// Reference: `torchvision.ops.box_convert` (0.14), exact in float and double: a conversion goes
/// through corners with torchvision's arithmetic (`x2 = x + w`; `x1 = cx - 0.5*w`, `x2 = cx +
/// 0.5*w`; `cx = (x1 + x2)/2`, `w = x2 - x1`), so xywh → cxcywh may differ from a direct formula
/// in the last bit, exactly as torchvision does. Equal formats copy.

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>

#include <array>
#include <utility>

namespace detseg {

namespace detail {

template <class V>
void check_source_format(const box_view<V>& b, box_format from) {
    DETSEG_REQUIRE(b.format() == from, "convert_boxes", "from", "the boxes are viewed as ",
                   to_string(b.format()), " (as_boxes) but from = ", to_string(from));
}

template <class V, class U>
void convert_into(const box_view<V>& b, strided_view<U, 2> out, box_format to) {
    using T = typename box_view<V>::value_type;
    const box_format from = b.format();
    parallel_for_chunks(b.size(), 16384, [&](index_t begin, index_t end) {
        for (index_t i = begin; i < end; ++i) {
            std::array<T, 4> r{};
            if (from == to) {
                r = {b.raw(i, 0), b.raw(i, 1), b.raw(i, 2), b.raw(i, 3)};
            } else {
                const auto c = b.xyxy(i);
                switch (to) {
                case box_format::xyxy: r = {c.x1, c.y1, c.x2, c.y2}; break;
                case box_format::xywh: r = {c.x1, c.y1, c.x2 - c.x1, c.y2 - c.y1}; break;
                case box_format::cxcywh:
                    r = {(c.x1 + c.x2) / T(2), (c.y1 + c.y2) / T(2), c.x2 - c.x1, c.y2 - c.y1};
                    break;
                }
            }
            for (index_t k = 0; k < 4; ++k)
                out(i, k) = static_cast<U>(r[static_cast<std::size_t>(k)]);
        }
    });
}

} // namespace detail

/// Converts N boxes from format `from` to format `to`.
/// @param boxes N×4 box source (its numbers are read as `from`)
/// @return N×4 `tensor` of the coordinate type, in format `to`
/// @throws detseg::invalid_argument for a NaN/infinite coordinate, a view without 4 columns, or
///         a `box_view` (from `as_boxes`) whose format is not `from`. O(N).
template <box_source B>
[[nodiscard]] auto convert_boxes(B&& boxes, box_format from, box_format to) {
    auto b = detail::to_boxes(std::forward<B>(boxes), from, "convert_boxes", "boxes");
    detail::check_source_format(b, from);
    detail::check_finite_boxes(b, "convert_boxes", "boxes");
    tensor<typename decltype(b)::value_type, 2> out({b.size(), 4});
    detail::convert_into(b, out.view(), to);
    return out;
}

/// Converts N boxes into `out`, any writable N×4 floating-point view (it may not alias `boxes`
/// unless it is the same view with the same strides).
template <box_source B, float_output<2> Out>
void convert_boxes(B&& boxes, Out&& out, box_format from, box_format to) {
    auto b = detail::to_boxes(std::forward<B>(boxes), from, "convert_boxes", "boxes");
    detail::check_source_format(b, from);
    detail::check_finite_boxes(b, "convert_boxes", "boxes");
    auto o = detail::as_view_checked<2>(std::forward<Out>(out), "convert_boxes", "out");
    detail::check_out_shape(o, std::array<index_t, 2>{b.size(), 4}, "convert_boxes", "out");
    detail::convert_into(b, o, to);
}

} // namespace detseg

#endif // DETSEG_BOX_CONVERT_HPP
