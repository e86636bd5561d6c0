#ifndef DETSEG_DENSE_DETAIL_DENSE_VIEWS_HPP
#define DETSEG_DENSE_DETAIL_DENSE_VIEWS_HPP

// Shared by the small dense operations (resize, batch norm, activation, pooling, concat): the
// concept of a dense map source of rank 2 (H×W), 3 (C×H×W) or 4 (N×C×H×W), the normalisation of
// such a view to rank 4, and the matching output concept.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cstddef>
#include <type_traits>

/// Around kernels that promise bit-exactness with PyTorch: no floating-point contraction in the
/// functions defined between BEGIN and END, also in loops GCC vectorises (where
/// `detail::rounded`'s barrier is dropped). Clang is covered by `DETSEG_NO_FP_CONTRACT` in the
/// function bodies.
#if defined(__GNUC__) && !defined(__clang__)
#define DETSEG_DENSE_EXACT_BEGIN                                                                  \
    _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=off\")")
#define DETSEG_DENSE_EXACT_END _Pragma("GCC pop_options")
#else
#define DETSEG_DENSE_EXACT_BEGIN
#define DETSEG_DENSE_EXACT_END
#endif

namespace detseg {

/// A floating-point dense map of static rank `R` (2: H×W, 3: C×H×W, 4: N×C×H×W), any strides.
template <class S, std::size_t R>
concept dense_map_source = (R >= 2 && R <= 4) && view_rank_v<S> == R &&
                           viewable_with<S, R, std::is_floating_point>;

namespace detail {

/// The rank-4 (N, C, H, W) view of a rank-1..4 view: missing leading axes get extent 1.
template <class T, std::size_t R>
[[nodiscard]] constexpr strided_view<T, 4> to_nchw(const strided_view<T, R>& v) noexcept {
    static_assert(R >= 1 && R <= 4);
    std::array<index_t, 4> e{1, 1, 1, 1}, s{0, 0, 0, 0};
    for (std::size_t r = 0; r < R; ++r) {
        e[4 - R + r] = v.extent(r);
        s[4 - R + r] = v.stride(r);
    }
    return {v.data_handle(), e, s};
}

/// The extents of a rank-`R` map with the given N, C, H, W (leading ones dropped).
template <std::size_t R>
[[nodiscard]] constexpr std::array<index_t, R> nchw_extents(index_t n, index_t c, index_t h,
                                                            index_t w) noexcept {
    const std::array<index_t, 4> all{n, c, h, w};
    std::array<index_t, R> e{};
    for (std::size_t r = 0; r < R; ++r)
        e[r] = all[4 - R + r];
    return e;
}

/// The value type of the rank-`R` view of `S`.
template <class S, std::size_t R>
using dense_value_t = typename checked_view_t<S, R>::value_type;

} // namespace detail

} // namespace detseg

#endif // DETSEG_DENSE_DETAIL_DENSE_VIEWS_HPP
