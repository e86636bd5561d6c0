#ifndef DETSEG_BOX_DETAIL_CHECKS_HPP
#define DETSEG_BOX_DETAIL_CHECKS_HPP

#include <detseg/box/box.hpp>
#include <detseg/core/error.hpp>

#include <cmath>
#include <limits>
#include <string>

namespace detseg::detail {

/// Largest coordinate magnitude the box functions accept: sqrt(max)/8 (about 2.3e18 for float,
/// 1.7e153 for double), so that no area, enclosing area or squared distance can overflow.
template <class T>
[[nodiscard]] inline T max_box_coordinate() noexcept {
    return std::sqrt(std::numeric_limits<T>::max()) / T(8);
}

/// Throws unless every stored number of every box is finite and within `max_box_coordinate`.
template <class V>
void check_finite_boxes(const box_view<V>& b, const char* fn, const char* arg) {
    using T = typename box_view<V>::value_type;
    const T lim = max_box_coordinate<T>();
    const index_t n = b.size();
    for (index_t i = 0; i < n; ++i) {
        bool ok = true;
        for (index_t k = 0; k < 4; ++k)
            ok &= std::abs(b.raw(i, k)) <= lim; // false for NaN
        if (!ok) [[unlikely]] {
            bool finite = true;
            for (index_t k = 0; k < 4; ++k)
                finite &= std::isfinite(b.raw(i, k));
            throw_invalid(
                fn, arg, "box ", i,
                finite ? " has a coordinate beyond +-" : " has a NaN or infinite coordinate",
                finite ? concat(lim, " (areas would overflow)") : std::string(), " (", b.raw(i, 0),
                ", ", b.raw(i, 1), ", ", b.raw(i, 2), ", ", b.raw(i, 3), ")");
        }
    }
}

/// Throws unless every box has x2 >= x1 and y2 >= y1 (after conversion to corners).
template <class V>
void check_ordered_boxes(const box_view<V>& b, const char* fn, const char* arg) {
    const index_t n = b.size();
    for (index_t i = 0; i < n; ++i) {
        const auto c = b.xyxy(i);
        DETSEG_REQUIRE(c.x2 >= c.x1 && c.y2 >= c.y1, fn, arg, "box ", i,
                       " is inverted (x1, y1, x2, y2) = (", c.x1, ", ", c.y1, ", ", c.x2, ", ",
                       c.y2, "); this function needs x2 >= x1 and y2 >= y1");
    }
}

} // namespace detseg::detail

#endif // DETSEG_BOX_DETAIL_CHECKS_HPP
