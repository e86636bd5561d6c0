#ifndef DETSEG_DENSE_RESIZE_HPP
#define DETSEG_DENSE_RESIZE_HPP

/// @file
/// `resize_bilinear`: bilinear resizing of H×W, C×H×W or N×C×H×W maps with the semantics of
/// PyTorch's `F.interpolate(x, size=..., mode="bilinear", align_corners=...)`, and
/// `resize_bilinear_scale` for its `scale_factor=` form (with `recompute_scale_factor` unset).
///
/// Arithmetic (PyTorch 1.13, CPU, read from ATen's UpSample.h and checked on its output):
/// - per axis, the ratio is computed in the element type `T`: `T(in - 1) / T(out - 1)` (0 when
///   out = 1) with align_corners, else `T(1.0 / scale)` in the scale form, else `T(in) / T(out)`;
/// - the source coordinate is computed in double from that ratio: `r·o` (align_corners) or
///   `max(r·(o + 0.5) - 0.5, 0)`; `i0 = ⌊src⌋`, `i1 = min(i0 + 1, in - 1)`,
///   `λ1 = T(src - i0)`, `λ0 = T(1) - λ1`; an axis whose size does not change is copied
///   (`λ0 = 1`, `λ1 = 0`, `i0 = i1 = o`);
/// - C > 1 (PyTorch's generic kernel): `(x00·λ0w + x01·λ1w)·λ0h + (x10·λ0w + x11·λ1w)·λ1h`,
///   every operation rounded to `T`;
/// - C = 1, which includes H×W input (PyTorch routes a 1-channel NCHW tensor to its channels-last
///   kernel): `w_ij = T(λih·λjw)`, `T(((x00·w00 + x01·w01) + x10·w10) + x11·w11)` summed in double;
/// - a 1×1 input is broadcast exactly (PyTorch's channels-last kernel, which every 1×1 input
///   takes, sums four weighted copies and can be 1–2 ulp off with align_corners=false).
/// With these rules the result equals PyTorch 1.13 bit for bit (its scalar `default` CPU
/// capability; its AVX2 kernels contract some products into FMAs and differ by up to
/// 1.2e-7·max|x| in float). See docs/dense.md.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/fp.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/detail/dense_views.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Options of `resize_bilinear` / `resize_bilinear_scale`.
struct resize_options {
    /// PyTorch's `align_corners`: true maps the corner pixels' centres onto each other
    /// (`src = o·(in-1)/(out-1)`); false (PyTorch's default) maps pixel areas
    /// (`src = (o + 0.5)·in/out - 0.5`, clamped at 0).
    bool align_corners = false;
};

namespace detail {

/// Source indices and weights along one axis (PyTorch's `compute_source_index_and_lambda`).
template <class T>
struct linear_axis {
    std::vector<index_t> i0, i1;
    std::vector<T> l0, l1;
};

DETSEG_DENSE_EXACT_BEGIN

/// `scale <= 0` means "no scale given" (the size form).
template <class T>
[[nodiscard]] linear_axis<T> linear_axis_weights(index_t in, index_t out, bool align_corners,
                                                 double scale) {
    DETSEG_NO_FP_CONTRACT
    linear_axis<T> a;
    const auto n = static_cast<std::size_t>(out);
    a.i0.resize(n);
    a.i1.resize(n);
    a.l0.resize(n);
    a.l1.resize(n);
    T ratio;
    if (align_corners)
        ratio = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
    else
        ratio = scale > 0 ? static_cast<T>(1.0 / scale) : static_cast<T>(in) / static_cast<T>(out);
    const double r = static_cast<double>(ratio);
    for (index_t o = 0; o < out; ++o) {
        const auto k = static_cast<std::size_t>(o);
        if (in == out) {
            a.i0[k] = a.i1[k] = o;
            a.l0[k] = T(1);
            a.l1[k] = T(0);
            continue;
        }
        double src;
        if (align_corners) {
            src = r * static_cast<double>(o);
        } else {
            src = rounded(r * (static_cast<double>(o) + 0.5)) - 0.5;
            if (src < 0.0)
                src = 0.0;
        }
        index_t i0 = static_cast<index_t>(src);
        double frac = src - static_cast<double>(i0);
        if (i0 > in - 1) { // only reachable for sizes beyond 2^23 in float (newer PyTorch's guard)
            i0 = in - 1;
            frac = 1.0;
        }
        a.i0[k] = i0;
        a.i1[k] = i0 + (i0 < in - 1 ? 1 : 0);
        a.l1[k] = static_cast<T>(frac);
        a.l0[k] = T(1) - a.l1[k];
    }
    return a;
}

/// Resizes the rank-4 `x` (N×C×H×W) into `out` (N×C×OH×OW). Shapes already checked.
template <class T, class U>
void resize_bilinear_kernel(strided_view<const T, 4> x, strided_view<U, 4> out,
                            bool align_corners, double scale_h, double scale_w) {
    DETSEG_NO_FP_CONTRACT
    const index_t nn = x.extent(0), cc = x.extent(1), ih = x.extent(2), iw = x.extent(3);
    const index_t oh = out.extent(2), ow = out.extent(3);
    const index_t planes = nn * cc;
    if (planes == 0)
        return;
    const index_t xs2 = x.stride(2), xs3 = x.stride(3);
    const index_t os3 = out.stride(3);

    if (ih == 1 && iw == 1) { // exact broadcast
        parallel_for(
            planes * oh,
            [&](index_t item) {
                const index_t p = item / oh, r = item % oh;
                const index_t n = p / cc, c = p % cc;
                const U v = static_cast<U>(x(n, c, 0, 0));
                U* o = &out(n, c, r, 0);
                for (index_t j = 0; j < ow; ++j)
                    o[j * os3] = v;
            },
            planes * oh * ow >= (index_t(1) << 16) ? 2 : planes * oh + 1);
        return;
    }

    const auto hw = linear_axis_weights<T>(ih, oh, align_corners, scale_h);
    const auto ww = linear_axis_weights<T>(iw, ow, align_corners, scale_w);
    const index_t items = planes * oh;
    const bool parallel = items * ow >= (index_t(1) << 16);

    if (cc == 1) { // PyTorch's channels-last kernel: four weights, summed in double
        auto row = [&](index_t item) {
            DETSEG_NO_FP_CONTRACT
            const index_t n = item / oh, r = item % oh;
            const auto rk = static_cast<std::size_t>(r);
            const T* base = &x(n, 0, 0, 0);
            const T* row0 = base + hw.i0[rk] * xs2;
            const T* row1 = base + hw.i1[rk] * xs2;
            const T h0 = hw.l0[rk], h1 = hw.l1[rk];
            U* o = &out(n, 0, r, 0);
            for (index_t j = 0; j < ow; ++j) {
                const auto k = static_cast<std::size_t>(j);
                const index_t a = ww.i0[k] * xs3, b = ww.i1[k] * xs3;
                const T w0 = ww.l0[k], w1 = ww.l1[k];
                const auto w00 = static_cast<double>(rounded(h0 * w0));
                const auto w01 = static_cast<double>(rounded(h0 * w1));
                const auto w10 = static_cast<double>(rounded(h1 * w0));
                const auto w11 = static_cast<double>(rounded(h1 * w1));
                double s = rounded(static_cast<double>(row0[a]) * w00);
                s = s + rounded(static_cast<double>(row0[b]) * w01);
                s = s + rounded(static_cast<double>(row1[a]) * w10);
                s = s + rounded(static_cast<double>(row1[b]) * w11);
                o[j * os3] = static_cast<U>(static_cast<T>(s));
            }
        };
        parallel_for(items, row, parallel ? 2 : items + 1);
        return;
    }

    // PyTorch's generic kernel: t_i = x(h_i, w0)·λ0w + x(h_i, w1)·λ1w per source row h_i, then
    // t_0·λ0h + t_1·λ1h. The horizontal pass t of a source row is the same for every output row
    // that reads it, so each chunk of output rows keeps the last two in a cache.
    auto chunk = [&](index_t begin, index_t end) {
        DETSEG_NO_FP_CONTRACT
        // source row h lives in slot h % 2: the two rows an output row reads (h and h + 1, or
        // h twice) never evict each other
        std::vector<T> cache(static_cast<std::size_t>(2 * ow));
        index_t cached[2] = {-1, -1};
        index_t cached_plane = -1;
        auto source_row = [&](const T* base, index_t p, index_t h) -> const T* {
            DETSEG_NO_FP_CONTRACT
            if (p != cached_plane) {
                cached[0] = cached[1] = -1;
                cached_plane = p;
            }
            const auto slot = static_cast<std::size_t>(h & 1);
            T* dst = cache.data() + slot * static_cast<std::size_t>(ow);
            if (cached[slot] != h) {
                cached[slot] = h;
                const T* src = base + h * xs2;
                for (index_t j = 0; j < ow; ++j) {
                    const auto k = static_cast<std::size_t>(j);
                    dst[j] = rounded(src[ww.i0[k] * xs3] * ww.l0[k]) +
                             rounded(src[ww.i1[k] * xs3] * ww.l1[k]);
                }
            }
            return dst;
        };
        for (index_t item = begin; item < end; ++item) {
            const index_t p = item / oh, r = item % oh;
            const index_t n = p / cc, c = p % cc;
            const auto rk = static_cast<std::size_t>(r);
            const T* base = &x(n, c, 0, 0);
            const T* t0 = source_row(base, p, hw.i0[rk]);
            const T* t1 = source_row(base, p, hw.i1[rk]);
            const T h0 = hw.l0[rk], h1 = hw.l1[rk];
            U* o = &out(n, c, r, 0);
            if (os3 == 1) {
                for (index_t j = 0; j < ow; ++j)
                    o[j] = static_cast<U>(rounded(t0[j] * h0) + rounded(t1[j] * h1));
            } else {
                for (index_t j = 0; j < ow; ++j)
                    o[j * os3] = static_cast<U>(rounded(t0[j] * h0) + rounded(t1[j] * h1));
            }
        }
    };
    if (parallel)
        parallel_for_chunks(items, std::max<index_t>(16, items / (8 * max_threads())), chunk);
    else
        chunk(0, items);
}

DETSEG_DENSE_EXACT_END

template <std::size_t R, class In>
[[nodiscard]] auto resize_input(In&& input, const char* fn) {
    auto v = as_view_checked<R>(std::forward<In>(input), fn, "input");
    using T = typename decltype(v)::value_type;
    const auto x = to_nchw(strided_view<const T, R>(v));
    DETSEG_REQUIRE(x.extent(2) >= 1 && x.extent(3) >= 1, fn, "input",
                   "the spatial size must be positive, got ", x.extent(2), "x", x.extent(3));
    return x;
}

inline void check_resize_size(index_t h, index_t w, const char* fn) {
    DETSEG_REQUIRE(h >= 1, fn, "out_height", "must be positive, got ", h);
    DETSEG_REQUIRE(w >= 1, fn, "out_width", "must be positive, got ", w);
}

/// PyTorch's output size for a scale factor: ⌊in·scale⌋ (in double), which must be ≥ 1.
[[nodiscard]] inline index_t scaled_size(index_t in, double scale, const char* fn,
                                         const char* arg) {
    DETSEG_REQUIRE(std::isfinite(scale) && scale > 0, fn, arg,
                   "must be positive and finite, got ", scale);
    const double s = std::floor(static_cast<double>(in) * scale);
    DETSEG_REQUIRE(s >= 1 && s < 9.0e15, fn, arg, "gives an output size of ", s,
                   " for an input size of ", in);
    return static_cast<index_t>(s);
}

/// The checked N×C×H×W input of a scale-factor resize and its output size (see `scaled_size`).
template <class X>
struct scaled_resize_input {
    X x;
    index_t h, w;
};

template <std::size_t R, class In>
[[nodiscard]] auto resize_scale_input(In&& input, double scale_h, double scale_w,
                                      const char* fn) {
    const auto x = resize_input<R>(std::forward<In>(input), fn);
    const index_t h = scaled_size(x.extent(2), scale_h, fn, "scale_h");
    const index_t w = scaled_size(x.extent(3), scale_w, fn, "scale_w");
    return scaled_resize_input<std::remove_const_t<decltype(x)>>{x, h, w};
}

template <class X, class Out>
void check_resize_out(const X& x, const Out& o, index_t h, index_t w, const char* fn) {
    const auto want = nchw_extents<4>(x.extent(0), x.extent(1), h, w);
    for (std::size_t r = 0; r < 4; ++r)
        DETSEG_REQUIRE(o.extent(r) == want[r], fn, "out", "expected shape ", want[0], "x",
                       want[1], "x", want[2], "x", want[3], " (N×C×H×W), got ", o.extent(0), "x",
                       o.extent(1), "x", o.extent(2), "x", o.extent(3));
}

} // namespace detail

/// Bilinear resize of `input` to the spatial size of `out`, as PyTorch's
/// `F.interpolate(input, size=(out_h, out_w), mode="bilinear", align_corners=...)` (see the file
/// comment for the arithmetic; bit-exact with PyTorch 1.13).
/// @param input H×W, C×H×W or N×C×H×W floating-point map, any strides; H, W ≥ 1
/// @param out   writable view of the same rank: H'×W', C×H'×W' or N×C×H'×W' (H', W' ≥ 1), any
///              floating-point type (results are computed in the input's type, then converted);
///              must not overlap `input`
/// @throws detseg::invalid_argument if the input's spatial size is 0 or `out` does not have the
///         input's N and C and a positive spatial size.
/// O(N·C·H'·W'); rows in parallel when the output has ≥ 65536 elements (same result for any
/// thread count).
template <class In, class Out>
    requires dense_map_source<In, view_rank_v<In>> && float_output<Out, view_rank_v<In>>
void resize_bilinear(In&& input, Out&& out, const resize_options& options = {}) {
    constexpr std::size_t R = view_rank_v<In>;
    const auto x = detail::resize_input<R>(std::forward<In>(input), "resize_bilinear");
    const auto o = detail::to_nchw(
        detail::as_view_checked<R>(std::forward<Out>(out), "resize_bilinear", "out"));
    DETSEG_REQUIRE(o.extent(2) >= 1 && o.extent(3) >= 1, "resize_bilinear", "out",
                   "the spatial size must be positive, got ", o.extent(2), "x", o.extent(3));
    detail::check_resize_out(x, o, o.extent(2), o.extent(3), "resize_bilinear");
    detail::resize_bilinear_kernel(x, o, options.align_corners, 0.0, 0.0);
}

/// Bilinear resize of `input` to `out_height`×`out_width`, returned as a row-major `tensor` of
/// the input's rank and element type (see the output overload).
/// @throws detseg::invalid_argument if a size is not positive or the input's spatial size is 0.
template <class In>
    requires dense_map_source<In, view_rank_v<In>>
[[nodiscard]] auto resize_bilinear(In&& input, index_t out_height, index_t out_width,
                                   const resize_options& options = {}) {
    constexpr std::size_t R = view_rank_v<In>;
    const auto x = detail::resize_input<R>(std::forward<In>(input), "resize_bilinear");
    detail::check_resize_size(out_height, out_width, "resize_bilinear");
    using T = typename decltype(x)::value_type;
    tensor<T, R> result(
        detail::nchw_extents<R>(x.extent(0), x.extent(1), out_height, out_width));
    detail::resize_bilinear_kernel(x, detail::to_nchw(result.view()), options.align_corners, 0.0,
                                   0.0);
    return result;
}

/// Bilinear resize by scale factors, as PyTorch's `F.interpolate(input, scale_factor=(scale_h,
/// scale_w), mode="bilinear", align_corners=...)` with `recompute_scale_factor` unset: the
/// output is ⌊H·scale_h⌋×⌊W·scale_w⌋ and, without align_corners, the source coordinate uses
/// `1/scale` rather than `in/out` (the two differ when `in·scale` is not an integer).
/// @param out writable view of that output shape (see `resize_bilinear`)
/// @throws detseg::invalid_argument if a scale is not positive and finite, gives an output size
///         below 1, or `out` has the wrong shape.
template <class In, class Out>
    requires dense_map_source<In, view_rank_v<In>> && float_output<Out, view_rank_v<In>>
void resize_bilinear_scale(In&& input, double scale_h, double scale_w, Out&& out,
                           const resize_options& options = {}) {
    constexpr std::size_t R = view_rank_v<In>;
    const char* fn = "resize_bilinear_scale";
    const auto [x, h, w] =
        detail::resize_scale_input<R>(std::forward<In>(input), scale_h, scale_w, fn);
    const auto o = detail::to_nchw(detail::as_view_checked<R>(std::forward<Out>(out), fn, "out"));
    detail::check_resize_out(x, o, h, w, fn);
    detail::resize_bilinear_kernel(x, o, options.align_corners, scale_h, scale_w);
}

/// `resize_bilinear_scale` returning a `tensor` of shape (N×C×)⌊H·scale_h⌋×⌊W·scale_w⌋.
template <class In>
    requires dense_map_source<In, view_rank_v<In>>
[[nodiscard]] auto resize_bilinear_scale(In&& input, double scale_h, double scale_w,
                                         const resize_options& options = {}) {
    constexpr std::size_t R = view_rank_v<In>;
    const char* fn = "resize_bilinear_scale";
    const auto [x, h, w] =
        detail::resize_scale_input<R>(std::forward<In>(input), scale_h, scale_w, fn);
    using T = typename decltype(x)::value_type;
    tensor<T, R> result(detail::nchw_extents<R>(x.extent(0), x.extent(1), h, w));
    detail::resize_bilinear_kernel(x, detail::to_nchw(result.view()), options.align_corners,
                                   scale_h, scale_w);
    return result;
}

} // namespace detseg

#endif // DETSEG_DENSE_RESIZE_HPP
