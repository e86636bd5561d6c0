#ifndef DETSEG_BACKEND_XTENSOR_HPP
#define DETSEG_BACKEND_XTENSOR_HPP

/// @file
/// xtensor adapter: makes xtensor objects with storage (`xt::xarray`, `xt::xtensor<T, N>`,
/// `xt::xtensor_fixed`, `xt::adapt`ed buffers, strided views such as `xt::view(a, xt::all(), 0)`
/// with a data interface) usable wherever detseg takes a tensor, without copying, through
/// `data() + data_offset()` and `strides()`. Fixed-rank types view with their rank; `xt::xarray`
/// (rank known only at run time) is checked at run time. A lazy expression (`a + b`) is a compile
/// error asking for `xt::eval`. Works with Debian's xtensor 0.24 (`<xtensor/xarray.hpp>`) and
/// the >= 0.26 layout (`<xtensor/containers/xarray.hpp>`).
///
/// Include this header yourself (`<detseg/detseg.hpp>` does not); link `detseg::xtensor`.

#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#if __has_include(<xtensor/core/xexpression.hpp>)
#include <xtensor/core/xexpression.hpp>
#include <xtensor/utils/xutils.hpp>
#else
#include <xtensor/xexpression.hpp>
#include <xtensor/xutils.hpp>
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace detseg {

namespace detail {

template <class E>
concept xtensor_expression = xt::is_xexpression<E>::value;

template <class E>
concept xtensor_storage = requires(E& e) {
    e.data();
    e.data_offset();
    e.strides();
    e.shape();
};

template <class E>
inline constexpr std::size_t xtensor_static_rank = [] {
    if constexpr (requires { E::rank; })
        return E::rank == SIZE_MAX ? std::size_t{0} : std::size_t{E::rank};
    else
        return std::size_t{0};
}();

template <std::size_t R, class Obj>
auto xtensor_view(Obj& e) {
    using E = std::remove_const_t<Obj>;
    static_assert(xtensor_storage<E>,
                  "detseg: this xtensor expression has no storage (it is computed lazily). Wrap "
                  "it in xt::eval(...) or assign it to an xt::xarray/xt::xtensor first.");
    auto* base = e.data() + e.data_offset();
    using P = std::remove_pointer_t<decltype(base)>;
    const auto& shape = e.shape();
    const auto& strides = e.strides();
    std::array<index_t, R> ext{}, str{};
    if constexpr (R == 1) {
        if (shape.size() == 2 && (shape[0] == 1 || shape[1] == 1)) { // N×1 or 1×N as a vector
            const std::size_t d = shape[1] == 1 ? 0 : 1;
            return strided_view<P, 1>(base, {static_cast<index_t>(shape[d])},
                                      {static_cast<index_t>(strides[d])});
        }
    }
    DETSEG_REQUIRE(shape.size() == R, "as_view", "source", "expected an array of rank ", R,
                   ", got rank ", shape.size());
    for (std::size_t r = 0; r < R; ++r) {
        ext[r] = static_cast<index_t>(shape[r]);
        str[r] = static_cast<index_t>(strides[r]);
    }
    return strided_view<P, R>(base, ext, str);
}

} // namespace detail

template <class E>
    requires(detail::xtensor_expression<E>&& detail::xtensor_static_rank<E> != 0)
struct view_traits<E> {
    static auto view(E& e) { return detail::xtensor_view<detail::xtensor_static_rank<E>>(e); }
    static auto view(const E& e) { return detail::xtensor_view<detail::xtensor_static_rank<E>>(e); }
};

template <class E>
    requires(detail::xtensor_expression<E>&& detail::xtensor_static_rank<E> == 0)
struct view_traits<E> {
    static constexpr bool dynamic_rank = true;
    template <std::size_t R>
    static auto view(E& e) {
        return detail::xtensor_view<R>(e);
    }
    template <std::size_t R>
    static auto view(const E& e) {
        return detail::xtensor_view<R>(e);
    }
};

} // namespace detseg

#endif // DETSEG_BACKEND_XTENSOR_HPP
