#ifndef DETSEG_BOX_FILTER_HPP
#define DETSEG_BOX_FILTER_HPP

/// @file
/// `remove_small_boxes`: indices of the boxes whose both sides reach a minimum size, exactly as
/// `torchvision.ops.remove_small_boxes` (keep iff `x2 - x1 >= min_size && y2 - y1 >= min_size`,
/// compared in the coordinate type).

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>

#include <cmath>
#include <utility>
#include <vector>

namespace detseg {

/// Indices (ascending) of the boxes with width and height both >= `min_size`.
/// Inverted boxes have a negative side and are removed.
/// @param boxes    N×4 box source (xyxy; `as_boxes(src, format)` for others)
/// @param min_size minimum side length, finite and >= 0
/// @throws detseg::invalid_argument for a negative or non-finite `min_size`, a NaN/infinite
///         coordinate or a view without 4 columns. O(N).
template <box_source B>
[[nodiscard]] std::vector<index_t> remove_small_boxes(B&& boxes, double min_size) {
    constexpr const char* fn = "remove_small_boxes";
    DETSEG_REQUIRE(std::isfinite(min_size) && min_size >= 0, fn, "min_size",
                   "must be finite and >= 0, got ", min_size);
    auto b = detail::to_boxes(std::forward<B>(boxes), box_format::xyxy, fn, "boxes");
    detail::check_finite_boxes(b, fn, "boxes");
    using T = typename decltype(b)::value_type;
    const T s = static_cast<T>(min_size);
    std::vector<index_t> keep;
    for (index_t i = 0, n = b.size(); i < n; ++i) {
        const auto c = b.xyxy(i);
        if (c.x2 - c.x1 >= s && c.y2 - c.y1 >= s)
            keep.push_back(i);
    }
    return keep;
}

} // namespace detseg

#endif // DETSEG_BOX_FILTER_HPP
