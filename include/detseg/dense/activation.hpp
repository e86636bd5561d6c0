#ifndef DETSEG_DENSE_ACTIVATION_HPP
#define DETSEG_DENSE_ACTIVATION_HPP

/// @file
/// `relu` (out of place, returning, in place): `y = x < 0 ? +0 : x`, exactly PyTorch's
/// `torch.relu` / `F.relu`: negative numbers and -inf become +0, NaN and -0.0 pass through
/// unchanged.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/detail/dense_views.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace detseg {

/// A floating-point tensor of static rank 1 to 4, any strides (an activation's input).
template <class S>
concept activation_source = view_rank_v<S> >= 1 && view_rank_v<S> <= 4 &&
                            viewable_with<S, view_rank_v<S>, std::is_floating_point>;

namespace detail {

template <class T>
[[nodiscard]] constexpr T relu_of(T v) noexcept {
    return v < T(0) ? T(0) : v;
}

template <class T, class U>
DETSEG_ALWAYS_INLINE void relu_flat_body(const T* x, U* out, index_t n) noexcept {
    for (index_t k = 0; k < n; ++k)
        out[k] = static_cast<U>(relu_of(x[k]));
}

template <class T, class U>
void relu_flat_baseline(const T* x, U* out, index_t n) noexcept {
    relu_flat_body(x, out, n);
}

#if DETSEG_X86_DISPATCH
template <class T, class U>
DETSEG_TARGET_AVX2 void relu_flat_avx2(const T* x, U* out, index_t n) noexcept {
    relu_flat_body(x, out, n);
}
#endif

/// out[k] = relu(x[k]) for k in [0, n); `out` may be `x`.
template <class T, class U>
void relu_flat(const T* x, U* out, index_t n) noexcept {
#if DETSEG_X86_DISPATCH
    if (has_avx2()) {
        relu_flat_avx2(x, out, n);
        return;
    }
#endif
    relu_flat_baseline(x, out, n);
}

/// out = relu(x) on rank-4 views of the same shape; `out` may be `x`.
template <class T, class U>
void relu_kernel(strided_view<const T, 4> x, strided_view<U, 4> out) {
    const index_t total = x.size(), w = x.extent(3);
    if (total == 0)
        return;
    const bool parallel = total >= (index_t(1) << 18);
    if (x.is_contiguous() && out.is_contiguous()) { // one flat loop
        const T* xp = x.data_handle();
        U* op = out.data_handle();
        auto chunk = [xp, op](index_t b, index_t e) { relu_flat(xp + b, op + b, e - b); };
        if (parallel)
            parallel_for_chunks(total, index_t(1) << 16, chunk);
        else
            chunk(0, total);
        return;
    }
    const index_t cc = x.extent(1), hh = x.extent(2), rows = total / w;
    const index_t xs = x.stride(3), os = out.stride(3);
    auto row = [&](index_t item) {
        const index_t h = item % hh, p = item / hh;
        const T* xr = &x(p / cc, p % cc, h, 0);
        U* o = &out(p / cc, p % cc, h, 0);
        for (index_t j = 0; j < w; ++j)
            o[j * os] = static_cast<U>(relu_of(xr[j * xs]));
    };
    parallel_for(rows, row, parallel ? 2 : rows + 1);
}

} // namespace detail

/// ReLU of `x` written into `out`: `out = x < 0 ? +0 : x` element-wise (PyTorch's `torch.relu`,
/// bit-exact, NaN propagates).
/// @param x   floating-point tensor of rank 1 to 4, any strides
/// @param out writable view of x's rank and shape, any floating-point type; may be `x` itself
///            (otherwise it must not overlap x)
/// @throws detseg::invalid_argument if `out`'s shape differs from x's.
/// O(size of x).
template <class X, class Out>
    requires activation_source<X> && float_output<Out, view_rank_v<X>>
void relu(X&& x, Out&& out) {
    constexpr std::size_t R = view_rank_v<X>;
    auto xv = detail::as_view_checked<R>(std::forward<X>(x), "relu", "x");
    auto ov = detail::as_view_checked<R>(std::forward<Out>(out), "relu", "out");
    using T = typename decltype(xv)::value_type;
    for (std::size_t r = 0; r < R; ++r)
        DETSEG_REQUIRE(ov.extent(r) == xv.extent(r), "relu", "out", "extent ", r, " is ",
                       ov.extent(r), ", x's is ", xv.extent(r));
    detail::relu_kernel(detail::to_nchw(strided_view<const T, R>(xv)), detail::to_nchw(ov));
}

/// ReLU of `x`, returned as a `tensor` of x's shape and element type.
template <class X>
    requires activation_source<X>
[[nodiscard]] auto relu(X&& x) {
    constexpr std::size_t R = view_rank_v<X>;
    auto xv = detail::as_view_checked<R>(std::forward<X>(x), "relu", "x");
    using T = typename decltype(xv)::value_type;
    const strided_view<const T, R> xc(xv);
    tensor<T, R> result(xc.extents());
    detail::relu_kernel(detail::to_nchw(xc), detail::to_nchw(result.view()));
    return result;
}

/// ReLU in place: every negative element of the writable `x` becomes +0 (PyTorch's
/// `F.relu(x, inplace=True)`). O(size of x).
template <class X>
    requires activation_source<X> && float_output<X, view_rank_v<X>>
void relu_inplace(X&& x) {
    constexpr std::size_t R = view_rank_v<X>;
    auto xv = detail::as_view_checked<R>(std::forward<X>(x), "relu_inplace", "x");
    using T = typename decltype(xv)::value_type;
    const auto x4 = detail::to_nchw(xv);
    detail::relu_kernel(strided_view<const T, 4>(x4), x4);
}

} // namespace detseg

#endif // DETSEG_DENSE_ACTIVATION_HPP
