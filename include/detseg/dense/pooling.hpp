#ifndef DETSEG_DENSE_POOLING_HPP
#define DETSEG_DENSE_POOLING_HPP

/// @file
/// Pooling with PyTorch 1.13's semantics:
/// - `global_avg_pool`: the mean over H×W per channel, as `F.adaptive_avg_pool2d(x, 1)` (which
///   PyTorch computes as `x.sum((-1, -2)) / (H·W)`). The sum follows the order of PyTorch's CPU
///   `sum` kernel on a contiguous plane (32-byte vectors: 8 float / 4 double lanes, four of them
///   in flight, a four-level cascade of partial sums), so float results are bit-exact with it;
/// - `max_pool2d`: `F.max_pool2d` with kernel, stride (default: the kernel), padding (acts as
///   -inf), dilation and ceil_mode; NaN propagates (a window with a NaN gives NaN); a window with
///   no input element (possible with dilation) gives -inf, as in PyTorch.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/detail/dense_views.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace detseg {

namespace detail {

[[nodiscard]] inline index_t ceil_log2(index_t x) noexcept {
    if (x <= 2)
        return 1;
    return static_cast<index_t>(std::bit_width(static_cast<std::uint64_t>(x - 1)));
}

/// PyTorch's `row_sum` over `size` vectors of L lanes (vector i = p[i·L .. i·L + L)), lane by
/// lane: its `multi_row_sum` (rows of 4 vectors, 4 accumulators, a 4-level cascade with level
/// step 2^max(4, ⌈log2 rows⌉/4)), then the vectors after the last full row into accumulator 0,
/// then accumulators 1, 2, 3 into 0. L = 1 is the scalar form. P planes of the same size are
/// summed side by side, each in that order (independent chains: more additions in flight).
#if defined(__GNUC__) || defined(__clang__)
/// L lanes of T as one value (GCC/Clang vector extension), so the accumulators stay in registers.
template <class T, int L>
struct lanes_of {
    typedef T type __attribute__((vector_size(sizeof(T) * L)));
};
#else
template <class T, int L>
struct lanes_of {
    struct type {
        T v[L] = {};
        type& operator+=(const type& o) noexcept {
            for (int l = 0; l < L; ++l)
                v[l] += o.v[l];
            return *this;
        }
        T operator[](int l) const noexcept { return v[l]; }
    };
};
#endif

template <class T, int L, int P>
DETSEG_ALWAYS_INLINE void row_sum_body(const T* const* p, index_t size, T* result) noexcept {
    using V = typename lanes_of<T, L>::type;
    constexpr int levels = 4, rows = 4;
    const index_t rows_n = size / rows;
    const index_t power = std::max<index_t>(4, ceil_log2(rows_n) / levels);
    const index_t step = index_t(1) << power;
    const index_t mask = step - 1;
    V a0[P][rows] = {};             // level 0, the hot accumulators
    V up[levels - 1][P][rows] = {}; // levels 1..3
    auto add_rows = [&a0, p](index_t first, index_t count) {
        for (index_t r = first; r < first + count; ++r)
            for (int q = 0; q < P; ++q)
                for (int k = 0; k < rows; ++k) {
                    V t;
                    std::memcpy(&t, p[q] + (r * rows + k) * L, sizeof t);
                    a0[q][k] += t;
                }
    };
    index_t i = 0;
    while (i + step <= rows_n) {
        add_rows(i, step);
        i += step;
        for (int q = 0; q < P; ++q)
            for (int k = 0; k < rows; ++k) {
                up[0][q][k] += a0[q][k];
                a0[q][k] = V{};
            }
        for (int j = 2; j < levels; ++j) {
            if ((i & (mask << ((j - 1) * power))) != 0)
                break;
            for (int q = 0; q < P; ++q)
                for (int k = 0; k < rows; ++k) {
                    up[j - 1][q][k] += up[j - 2][q][k];
                    up[j - 2][q][k] = V{};
                }
        }
    }
    add_rows(i, rows_n - i);
    for (int q = 0; q < P; ++q) {
        for (int j = 0; j < levels - 1; ++j)
            for (int k = 0; k < rows; ++k)
                a0[q][k] += up[j][q][k];
        for (index_t v = rows_n * rows; v < size; ++v) {
            V t;
            std::memcpy(&t, p[q] + v * L, sizeof t);
            a0[q][0] += t;
        }
        for (int k = 1; k < rows; ++k)
            a0[q][0] += a0[q][k];
        for (int l = 0; l < L; ++l)
            result[q * L + l] = a0[q][0][l];
    }
}

/// The sums of the contiguous p[q][0..n), q < P, each in the order of PyTorch's CPU sum kernel
/// for an inner, contiguous reduction (`vectorized_inner_sum` with 32-byte vectors when n is at
/// least their width, else `scalar_inner_sum`).
template <class T, int P>
DETSEG_ALWAYS_INLINE void pytorch_inner_sum_body(const T* const* p, index_t n, T* out) noexcept {
    constexpr int lanes = 32 / static_cast<int>(sizeof(T));
    if (n >= lanes) {
        const index_t vecs = n / lanes;
        T part[P * lanes];
        row_sum_body<T, lanes, P>(p, vecs, part);
        for (int q = 0; q < P; ++q) {
            T s = T(0);
            for (index_t k = vecs * lanes; k < n; ++k)
                s += p[q][k];
            for (int k = 0; k < lanes; ++k)
                s += part[q * lanes + k];
            out[q] = s;
        }
        return;
    }
    row_sum_body<T, 1, P>(p, n, out);
}

template <class T, int P>
void pytorch_inner_sums_baseline(const T* const* p, index_t n, T* out) noexcept {
    pytorch_inner_sum_body<T, P>(p, n, out);
}

#if DETSEG_X86_DISPATCH
// Additions only: AVX2 gives the same sums, faster.
template <class T, int P>
DETSEG_TARGET_AVX2 void pytorch_inner_sums_avx2(const T* const* p, index_t n, T* out) noexcept {
    pytorch_inner_sum_body<T, P>(p, n, out);
}
#endif

/// `out[q]` = the PyTorch-ordered sum of `p[q][0..n)` for q < P.
template <class T, int P>
void pytorch_inner_sums(const T* const* p, index_t n, T* out) noexcept {
#if DETSEG_X86_DISPATCH
    if (has_avx2()) {
        pytorch_inner_sums_avx2<T, P>(p, n, out);
        return;
    }
#endif
    pytorch_inner_sums_baseline<T, P>(p, n, out);
}

template <class T, class U>
void global_avg_pool_kernel(strided_view<const T, 4> x, strided_view<U, 2> out) {
    const index_t cc = x.extent(1), hh = x.extent(2), ww = x.extent(3);
    const index_t planes = x.extent(0) * cc, hw = hh * ww;
    if (planes == 0)
        return;
    const T count = static_cast<T>(hw);
    const bool contiguous = x.stride(3) == 1 && (hh == 1 || x.stride(2) == ww);
    // planes two at a time (independent additions interleaved), each summed in PyTorch's order
    auto run = [&](index_t begin, index_t end) {
        std::vector<T> scratch;
        for (index_t p = begin; p < end;) {
            const index_t m = contiguous && p + 1 < end ? 2 : 1;
            const T* src[2];
            for (index_t q = 0; q < m; ++q)
                src[q] = &x((p + q) / cc, (p + q) % cc, 0, 0);
            T sums[2];
            if (m == 2) {
                pytorch_inner_sums<T, 2>(src, hw, sums);
            } else {
                if (!contiguous) {
                    scratch.resize(static_cast<std::size_t>(hw));
                    std::size_t k = 0;
                    for (index_t i = 0; i < hh; ++i)
                        for (index_t j = 0; j < ww; ++j)
                            scratch[k++] = src[0][i * x.stride(2) + j * x.stride(3)];
                    src[0] = scratch.data();
                }
                pytorch_inner_sums<T, 1>(src, hw, sums);
            }
            for (index_t q = 0; q < m; ++q)
                out((p + q) / cc, (p + q) % cc) = static_cast<U>(sums[q] / count);
            p += m;
        }
    };
    if (planes >= 2 && planes * hw >= (index_t(1) << 16))
        parallel_for_chunks(planes, 16, run);
    else
        run(0, planes);
}

/// The checked N×C×H×W view of `global_avg_pool`'s input (H·W ≥ 1).
template <std::size_t R, class X>
[[nodiscard]] auto global_avg_pool_input(X&& x) {
    auto xv = as_view_checked<R>(std::forward<X>(x), "global_avg_pool", "x");
    using T = typename decltype(xv)::value_type;
    const auto x4 = to_nchw(strided_view<const T, R>(xv));
    DETSEG_REQUIRE(x4.extent(2) >= 1 && x4.extent(3) >= 1, "global_avg_pool", "x",
                   "the spatial size must be positive, got ", x4.extent(2), "x", x4.extent(3));
    return x4;
}

} // namespace detail

/// Global average pooling: the mean of each channel over H×W, as
/// `F.adaptive_avg_pool2d(x, 1)` (bit-exact with PyTorch 1.13's CPU kernel, see the file
/// comment).
/// @param x   C×H×W or N×C×H×W floating-point map, any strides, H·W ≥ 1
/// @param out writable view of C (for C×H×W) or N×C (for N×C×H×W) elements, any floating type
/// @throws detseg::invalid_argument if H·W = 0 or `out` has the wrong shape.
/// O(N·C·H·W); planes in parallel when x has ≥ 65536 elements (same result for any thread count).
template <class X, class Out>
    requires(view_rank_v<X> == 3 || view_rank_v<X> == 4) && dense_map_source<X, view_rank_v<X>> &&
            float_output<Out, view_rank_v<X> - 2>
void global_avg_pool(X&& x, Out&& out) {
    constexpr std::size_t R = view_rank_v<X>;
    const auto x4 = detail::global_avg_pool_input<R>(std::forward<X>(x));
    auto ov = detail::as_view_checked<R - 2>(std::forward<Out>(out), "global_avg_pool", "out");
    strided_view<typename decltype(ov)::element_type, 2> o2;
    if constexpr (R == 3) {
        DETSEG_REQUIRE(ov.extent(0) == x4.extent(1), "global_avg_pool", "out",
                       "expected length ", x4.extent(1), " (C), got ", ov.extent(0));
        o2 = {ov.data_handle(), {1, ov.extent(0)}, {0, ov.stride(0)}};
    } else {
        DETSEG_REQUIRE(ov.extent(0) == x4.extent(0) && ov.extent(1) == x4.extent(1),
                       "global_avg_pool", "out", "expected shape ", x4.extent(0), "x",
                       x4.extent(1), " (N×C), got ", ov.extent(0), "x", ov.extent(1));
        o2 = ov;
    }
    detail::global_avg_pool_kernel(x4, o2);
}

/// Global average pooling returned as a `tensor`: length C for C×H×W input, N×C for N×C×H×W.
template <class X>
    requires(view_rank_v<X> == 3 || view_rank_v<X> == 4) && dense_map_source<X, view_rank_v<X>>
[[nodiscard]] auto global_avg_pool(X&& x) {
    constexpr std::size_t R = view_rank_v<X>;
    const auto x4 = detail::global_avg_pool_input<R>(std::forward<X>(x));
    using T = typename decltype(x4)::value_type;
    tensor<T, R - 2> result(detail::nchw_extents<R - 2>(0, 0, x4.extent(0), x4.extent(1)));
    detail::global_avg_pool_kernel(
        x4, strided_view<T, 2>(result.data(), {x4.extent(0), x4.extent(1)}));
    return result;
}

/// The parameters of `max_pool2d`, PyTorch's `F.max_pool2d` arguments, (height, width) pairs.
struct max_pool2d_params {
    std::array<index_t, 2> kernel{0, 0};            ///< kernel size, > 0
    std::optional<std::array<index_t, 2>> stride{}; ///< > 0; absent: the kernel size
    std::array<index_t, 2> padding{0, 0};           ///< ≥ 0 and ≤ kernel/2; padding acts as -inf
    std::array<index_t, 2> dilation{1, 1};          ///< > 0
    bool ceil_mode = false; ///< round the output size up (the last window must start inside
                            ///< the input or its left/top padding)
};

namespace detail {

/// PyTorch's `pooling_output_shape`: ⌊(in + 2p - d(k-1) - 1 (+ s-1 if ceil)) / s⌋ + 1, minus one
/// in ceil mode when the last window would start beyond the input and its left padding.
[[nodiscard]] inline index_t pool_output_size(index_t in, index_t k, index_t p, index_t s,
                                              index_t d, bool ceil_mode) noexcept {
    const index_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    index_t q = num / s;
    if (num % s != 0 && num < 0)
        --q; // floor division
    index_t out = q + 1;
    if (ceil_mode && (out - 1) * s >= in + p)
        --out;
    return out;
}

struct pool2d_geometry {
    index_t kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

[[nodiscard]] inline pool2d_geometry check_max_pool2d(index_t h, index_t w,
                                                      const max_pool2d_params& p,
                                                      const char* fn) {
    DETSEG_REQUIRE(p.kernel[0] > 0 && p.kernel[1] > 0, fn, "kernel", "must be positive, got ",
                   p.kernel[0], "x", p.kernel[1]);
    const auto s = p.stride.value_or(p.kernel);
    DETSEG_REQUIRE(s[0] > 0 && s[1] > 0, fn, "stride", "must be positive, got ", s[0], "x", s[1]);
    DETSEG_REQUIRE(p.dilation[0] > 0 && p.dilation[1] > 0, fn, "dilation",
                   "must be positive, got ", p.dilation[0], "x", p.dilation[1]);
    DETSEG_REQUIRE(p.padding[0] >= 0 && p.padding[1] >= 0, fn, "padding",
                   "must be non-negative, got ", p.padding[0], "x", p.padding[1]);
    DETSEG_REQUIRE(p.padding[0] <= p.kernel[0] / 2 && p.padding[1] <= p.kernel[1] / 2, fn,
                   "padding", "must be at most half the kernel size (", p.kernel[0], "x",
                   p.kernel[1], "), got ", p.padding[0], "x", p.padding[1]);
    DETSEG_REQUIRE(h >= 1 && w >= 1, fn, "x", "the spatial size must be positive, got ", h, "x",
                   w);
    pool2d_geometry g{p.kernel[0], p.kernel[1], s[0], s[1], p.padding[0], p.padding[1],
                      p.dilation[0], p.dilation[1], 0, 0};
    g.oh = pool_output_size(h, g.kh, g.ph, g.sh, g.dh, p.ceil_mode);
    g.ow = pool_output_size(w, g.kw, g.pw, g.sw, g.dw, p.ceil_mode);
    DETSEG_REQUIRE(g.oh >= 1 && g.ow >= 1, fn, "kernel", "the output size ", g.oh, "x", g.ow,
                   " for an input of ", h, "x", w, " is too small");
    return g;
}

/// PyTorch's update of a running maximum: a larger value or a NaN replaces it.
template <class T>
[[nodiscard]] inline T max_or_nan(T m, T v) noexcept {
    return (v > m || v != v) ? v : m;
}

/// Max pooling, one output row at a time, tap by tap across the row (each output still sees
/// its taps in PyTorch's row-major order, which decides between NaNs and signed zeros).
template <class T, class U>
void max_pool2d_kernel(strided_view<const T, 4> x, strided_view<U, 4> out,
                       const pool2d_geometry& g) {
    const index_t cc = x.extent(1), hh = x.extent(2), ww = x.extent(3);
    const index_t rows = x.extent(0) * cc * g.oh;
    if (rows == 0)
        return;
    const index_t xs2 = x.stride(2), xs3 = x.stride(3), os3 = out.stride(3);
    // for tap column v: the outputs q whose tap q·sw - pw + v·dw lies in [0, W)
    std::vector<index_t> q_lo(static_cast<std::size_t>(g.kw)), q_end(q_lo.size());
    for (index_t v = 0; v < g.kw; ++v) {
        const index_t off = v * g.dw - g.pw;
        const index_t lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
        const index_t end = ww - 1 - off < 0 ? 0 : (ww - 1 - off) / g.sw + 1;
        q_lo[static_cast<std::size_t>(v)] = lo;
        q_end[static_cast<std::size_t>(v)] = std::max(lo, std::min(end, g.ow));
    }
    auto run = [&](index_t begin, index_t end) {
        std::vector<T> acc(static_cast<std::size_t>(g.ow));
        for (index_t item = begin; item < end; ++item) {
            const index_t r = item % g.oh, p = item / g.oh;
            const index_t n = p / cc, c = p % cc;
            const T* base = &x(n, c, 0, 0);
            std::fill(acc.begin(), acc.end(), -std::numeric_limits<T>::infinity());
            for (index_t u = 0; u < g.kh; ++u) {
                const index_t i = r * g.sh - g.ph + u * g.dh;
                if (i < 0 || i >= hh)
                    continue;
                const T* xr = base + i * xs2;
                for (index_t v = 0; v < g.kw; ++v) {
                    const index_t off = v * g.dw - g.pw;
                    const index_t lo = q_lo[static_cast<std::size_t>(v)];
                    const index_t hi = q_end[static_cast<std::size_t>(v)];
                    T* a = acc.data();
                    if (xs3 == 1) {
                        const T* xo = xr + off;
                        for (index_t q = lo; q < hi; ++q)
                            a[q] = max_or_nan(a[q], xo[q * g.sw]);
                    } else {
                        for (index_t q = lo; q < hi; ++q)
                            a[q] = max_or_nan(a[q], xr[(q * g.sw + off) * xs3]);
                    }
                }
            }
            U* o = &out(n, c, r, 0);
            for (index_t q = 0; q < g.ow; ++q)
                o[q * os3] = static_cast<U>(acc[static_cast<std::size_t>(q)]);
        }
    };
    const index_t work = rows * g.ow * g.kh * g.kw;
    if (work >= (index_t(1) << 17))
        parallel_for_chunks(rows, std::max<index_t>(1, rows / (8 * max_threads())), run);
    else
        run(0, rows);
}

} // namespace detail

/// The output size (height, width) of `max_pool2d` for an H×W input (PyTorch's rule, see
/// `max_pool2d_params::ceil_mode`).
/// @throws detseg::invalid_argument as `max_pool2d` for bad parameters or a too small output.
[[nodiscard]] inline std::array<index_t, 2> max_pool2d_output_size(index_t height, index_t width,
                                                                   const max_pool2d_params& p) {
    const auto g = detail::check_max_pool2d(height, width, p, "max_pool2d_output_size");
    return {g.oh, g.ow};
}

/// 2-D max pooling of `x` into `out`, as `F.max_pool2d(x, kernel, stride, padding, dilation,
/// ceil_mode)` (bit-exact: a maximum is exact; NaN propagates; padding is -inf).
/// @param x   C×H×W or N×C×H×W floating-point map, any strides, H, W ≥ 1
/// @param out writable view (C×H'×W' or N×C×H'×W', `max_pool2d_output_size`), any floating type
/// @param p   kernel (required), stride, padding, dilation, ceil_mode
/// @throws detseg::invalid_argument if a kernel size, stride or dilation is not positive, a
///         padding is negative or above half the kernel, the output would be empty, or `out` has
///         the wrong shape.
/// O(N·C·H'·W'·kh·kw).
template <class X, class Out>
    requires(view_rank_v<X> == 3 || view_rank_v<X> == 4) && dense_map_source<X, view_rank_v<X>> &&
            float_output<Out, view_rank_v<X>>
void max_pool2d(X&& x, Out&& out, const max_pool2d_params& p) {
    constexpr std::size_t R = view_rank_v<X>;
    auto xv = detail::as_view_checked<R>(std::forward<X>(x), "max_pool2d", "x");
    using T = typename decltype(xv)::value_type;
    const auto x4 = detail::to_nchw(strided_view<const T, R>(xv));
    const auto g = detail::check_max_pool2d(x4.extent(2), x4.extent(3), p, "max_pool2d");
    const auto o4 =
        detail::to_nchw(detail::as_view_checked<R>(std::forward<Out>(out), "max_pool2d", "out"));
    const std::array<index_t, 4> want{x4.extent(0), x4.extent(1), g.oh, g.ow};
    for (std::size_t r = 0; r < 4; ++r)
        DETSEG_REQUIRE(o4.extent(r) == want[r], "max_pool2d", "out", "expected shape ", want[0],
                       "x", want[1], "x", want[2], "x", want[3], " (N×C×H'×W'), got ",
                       o4.extent(0), "x", o4.extent(1), "x", o4.extent(2), "x", o4.extent(3));
    detail::max_pool2d_kernel(x4, o4, g);
}

/// 2-D max pooling returned as a `tensor` of x's rank and element type.
template <class X>
    requires(view_rank_v<X> == 3 || view_rank_v<X> == 4) && dense_map_source<X, view_rank_v<X>>
[[nodiscard]] auto max_pool2d(X&& x, const max_pool2d_params& p) {
    constexpr std::size_t R = view_rank_v<X>;
    auto xv = detail::as_view_checked<R>(std::forward<X>(x), "max_pool2d", "x");
    using T = typename decltype(xv)::value_type;
    const auto x4 = detail::to_nchw(strided_view<const T, R>(xv));
    const auto g = detail::check_max_pool2d(x4.extent(2), x4.extent(3), p, "max_pool2d");
    tensor<T, R> result(detail::nchw_extents<R>(x4.extent(0), x4.extent(1), g.oh, g.ow));
    detail::max_pool2d_kernel(x4, detail::to_nchw(result.view()), g);
    return result;
}

} // namespace detseg

#endif // DETSEG_DENSE_POOLING_HPP
