#ifndef DETSEG_BOX_DETAIL_CHECKS_HPP
#define DETSEG_BOX_DETAIL_CHECKS_HPP

#include <detseg/box/box.hpp>
#include <detseg/core/error.hpp>

#include <cmath>

namespace detseg::detail {

/// Throws unless every stored number of every box is finite.
template <class V>
void check_finite_boxes(const box_view<V>& b, const char* fn, const char* arg) {
    const index_t n = b.size();
    for (index_t i = 0; i < n; ++i) {
        bool ok = true;
        for (index_t k = 0; k < 4; ++k) ok &= std::isfinite(b.raw(i, k));
        DETSEG_REQUIRE(ok, fn, arg, "box ", i, " has a NaN or infinite coordinate (", b.raw(i, 0),
                       ", ", b.raw(i, 1), ", ", b.raw(i, 2), ", ", b.raw(i, 3), ")");
    }
}

/// Throws unless every box has x2 >= x1 and y2 >= y1 (after conversion to corners).
template <class V>
void check_ordered_boxes(const box_view<V>& b, const char* fn, const char* arg) {
    const index_t n = b.size();
    for (index_t i = 0; i < n; ++i) {
        const auto c = b.xyxy(i);
        DETSEG_REQUIRE(c.x2 >= c.x1 && c.y2 >= c.y1, fn, arg, "box ", i,
                       " is inverted (x1, y1, x2, y2) = (", c.x1, ", ", c.y1, ", ", c.x2, ", ", c.y2,
                       "); this function needs x2 >= x1 and y2 >= y1");
    }
}

} // namespace detseg::detail

#endif // DETSEG_BOX_DETAIL_CHECKS_HPP
