#ifndef DETSEG_CORE_DETAIL_SHAPE_HPP
#define DETSEG_CORE_DETAIL_SHAPE_HPP

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>

#include <array>
#include <cstddef>
#include <string>

namespace detseg::detail {

/// Throws unless `out` has the given extents.
template <class OutView, std::size_t R>
void check_out_shape(const OutView& out, const std::array<index_t, R>& want, const char* fn,
                     const char* arg) {
    bool ok = true;
    for (std::size_t r = 0; r < R; ++r)
        ok &= out.extent(r) == want[r];
    if (!ok) {
        std::string got, exp;
        for (std::size_t r = 0; r < R; ++r) {
            if (r) {
                got += "×";
                exp += "×";
            }
            got += std::to_string(out.extent(r));
            exp += std::to_string(want[r]);
        }
        throw_invalid(fn, arg, "expected shape ", exp, ", got ", got);
    }
}

} // namespace detseg::detail

#endif // DETSEG_CORE_DETAIL_SHAPE_HPP
