#ifndef DETSEG_DENSE_BATCH_NORM_HPP
#define DETSEG_DENSE_BATCH_NORM_HPP

/// @file
/// Eval-mode batch normalisation (`batch_norm`) and its folding into the preceding convolution
/// (`fold_batch_norm`), with PyTorch 1.13's arithmetic:
/// - `batch_norm` = `F.batch_norm(x, running_mean, running_var, gamma, beta, training=False,
///   eps=eps)`: per channel `a = (1 / sqrt(var + T(eps)))·gamma`, `b = beta - mean·a`, then
///   `y = x·a + b`, each operation rounded to `T` (algebraically
///   `(x - mean) / sqrt(var + eps)·gamma + beta`);
/// - `fold_batch_norm` = `torch.nn.utils.fusion.fuse_conv_bn_weights`: `r = 1 / sqrt(var +
///   T(eps))`, `W' = W·(gamma·r)`, `b' = ((b - mean)·r)·gamma + beta` (b = 0 without a bias), so
///   `conv(x, W') + b'` = BN(`conv(x, W) + b`) up to rounding.
/// Both are bit-exact with PyTorch's scalar (`default` capability) CPU kernels when the compiler
/// does not contract `x·a + b` into an FMA (GCC with `-mfma -ffp-contract=fast` may, in the
/// vectorised loop of `batch_norm`: then ≤ 1 ulp).

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/detail/fp.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/detail/dense_views.hpp>

#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// The parameters of an eval-mode `BatchNorm2d` with C channels: the names of its `state_dict`
/// (`weight` = gamma, `bias` = beta). The views are not owned. A default-constructed (empty)
/// `gamma` / `beta` means absent (PyTorch's `affine=False`): gamma = 1, beta = 0.
/// Example: `detseg::batch_norm_params<float>{.gamma = g.view(), .beta = b.view(),
/// .running_mean = m.view(), .running_var = v.view()}`.
template <class T>
struct batch_norm_params {
    static_assert(std::is_floating_point_v<T>, "detseg::batch_norm_params<T>: T is float or double");
    strided_view<const T, 1> gamma{};        ///< scale (`weight`), length C, or empty
    strided_view<const T, 1> beta{};         ///< shift (`bias`), length C, or empty
    strided_view<const T, 1> running_mean{}; ///< length C
    strided_view<const T, 1> running_var{};  ///< length C, ≥ 0
    double eps = 1e-5;                       ///< > 0, added to the variance (converted to T)
};

namespace detail {

template <class T>
[[nodiscard]] bool bn_absent(const strided_view<const T, 1>& v) noexcept {
    return v.data_handle() == nullptr && v.extent(0) == 0;
}

/// Checks `bn` for `channels` channels: lengths, finiteness, var ≥ 0, eps > 0.
template <class T>
void check_batch_norm_params(const batch_norm_params<T>& bn, index_t channels, const char* fn,
                             const char* channels_arg) {
    auto check_vec = [&](const strided_view<const T, 1>& v, const char* name, bool optional) {
        if (optional && bn_absent(v))
            return;
        DETSEG_REQUIRE(v.extent(0) == channels, fn, name, "expected length ", channels,
                       " (the channels of '", channels_arg, "'), got ", v.extent(0));
        DETSEG_REQUIRE(v.data_handle() != nullptr || channels == 0, fn, name, "null view");
        for (index_t c = 0; c < channels; ++c)
            DETSEG_REQUIRE(std::isfinite(v[c]), fn, name, "element ", c, " is not finite (",
                           static_cast<double>(v[c]), ")");
    };
    check_vec(bn.gamma, "gamma", true);
    check_vec(bn.beta, "beta", true);
    check_vec(bn.running_mean, "running_mean", false);
    check_vec(bn.running_var, "running_var", false);
    for (index_t c = 0; c < channels; ++c)
        DETSEG_REQUIRE(bn.running_var[c] >= T(0), fn, "running_var", "element ", c,
                       " is negative (", static_cast<double>(bn.running_var[c]), ")");
    DETSEG_REQUIRE(std::isfinite(bn.eps) && bn.eps > 0, fn, "eps",
                   "must be positive and finite, got ", bn.eps);
    DETSEG_REQUIRE(static_cast<T>(bn.eps) > T(0), fn, "eps", "is 0 in the element type (",
                   bn.eps, ")");
}

/// `1 / sqrt(var + T(eps))` per channel.
template <class T>
[[nodiscard]] std::vector<T> bn_inv_std(const batch_norm_params<T>& bn, index_t channels) {
    std::vector<T> r(static_cast<std::size_t>(channels));
    const T eps = static_cast<T>(bn.eps);
    for (index_t c = 0; c < channels; ++c)
        r[static_cast<std::size_t>(c)] = T(1) / std::sqrt(bn.running_var[c] + eps);
    return r;
}

template <class T>
[[nodiscard]] T bn_gamma(const batch_norm_params<T>& bn, index_t c) noexcept {
    return bn_absent(bn.gamma) ? T(1) : bn.gamma[c];
}
template <class T>
[[nodiscard]] T bn_beta(const batch_norm_params<T>& bn, index_t c) noexcept {
    return bn_absent(bn.beta) ? T(0) : bn.beta[c];
}

DETSEG_DENSE_EXACT_BEGIN

template <class T, class U>
DETSEG_ALWAYS_INLINE void affine_flat_body(const T* x, U* out, index_t n, T a, T b) noexcept {
    DETSEG_NO_FP_CONTRACT
    for (index_t k = 0; k < n; ++k)
        out[k] = static_cast<U>(rounded(x[k] * a) + b);
}

template <class T, class U>
void affine_flat_baseline(const T* x, U* out, index_t n, T a, T b) noexcept {
    affine_flat_body(x, out, n, a, b);
}

#if DETSEG_X86_DISPATCH
// AVX2 without FMA: the same rounded product and sum on each lane.
template <class T, class U>
DETSEG_TARGET_AVX2 void affine_flat_avx2(const T* x, U* out, index_t n, T a, T b) noexcept {
    affine_flat_body(x, out, n, a, b);
}
#endif

/// out[k] = x[k]·a + b (two roundings) for k in [0, n); `out` may be `x`.
template <class T, class U>
void affine_flat(const T* x, U* out, index_t n, T a, T b) noexcept {
#if DETSEG_X86_DISPATCH
    if (has_avx2()) {
        affine_flat_avx2(x, out, n, a, b);
        return;
    }
#endif
    affine_flat_baseline(x, out, n, a, b);
}

/// y = x·a[c] + b[c] on rank-4 views (shapes checked). `out` may be `x` itself.
template <class T, class U>
void batch_norm_kernel(strided_view<const T, 4> x, strided_view<U, 4> out,
                       const batch_norm_params<T>& bn) {
    DETSEG_NO_FP_CONTRACT
    const index_t nn = x.extent(0), cc = x.extent(1), hh = x.extent(2), ww = x.extent(3);
    const auto inv = bn_inv_std(bn, cc);
    std::vector<T> a(static_cast<std::size_t>(cc)), b(static_cast<std::size_t>(cc));
    for (index_t c = 0; c < cc; ++c) {
        const auto k = static_cast<std::size_t>(c);
        a[k] = inv[k] * bn_gamma(bn, c);
        b[k] = bn_beta(bn, c) - rounded(bn.running_mean[c] * a[k]);
    }
    const index_t planes = nn * cc, hw = hh * ww;
    if (planes == 0 || hw == 0)
        return;
    const bool parallel = planes * hw >= (index_t(1) << 17);
    const bool flat = x.stride(3) == 1 && out.stride(3) == 1 &&
                      (hh == 1 || (x.stride(2) == ww && out.stride(2) == ww));
    if (flat) { // each H×W plane is one contiguous run in x and in out
        auto plane = [&](index_t p) {
            DETSEG_NO_FP_CONTRACT
            const index_t n = p / cc, c = p % cc;
            const T ac = a[static_cast<std::size_t>(c)], bc = b[static_cast<std::size_t>(c)];
            affine_flat(&x(n, c, 0, 0), &out(n, c, 0, 0), hw, ac, bc);
        };
        parallel_for(planes, plane, parallel ? 2 : planes + 1);
        return;
    }
    const index_t xs = x.stride(3), os = out.stride(3), rows = planes * hh;
    auto row = [&](index_t item) {
        DETSEG_NO_FP_CONTRACT
        const index_t h = item % hh, p = item / hh;
        const index_t n = p / cc, c = p % cc;
        const T ac = a[static_cast<std::size_t>(c)], bc = b[static_cast<std::size_t>(c)];
        const T* xr = &x(n, c, h, 0);
        U* o = &out(n, c, h, 0);
        for (index_t j = 0; j < ww; ++j)
            o[j * os] = static_cast<U>(rounded(xr[j * xs] * ac) + bc);
    };
    parallel_for(rows, row, parallel ? 2 : rows + 1);
}

template <class T>
void fold_kernel(strided_view<const T, 4> w, const T* bias, index_t bias_stride,
                 const batch_norm_params<T>& bn, strided_view<T, 4> wo, strided_view<T, 1> bo) {
    DETSEG_NO_FP_CONTRACT
    const index_t oc = w.extent(0);
    const auto inv = bn_inv_std(bn, oc);
    for (index_t o = 0; o < oc; ++o) {
        const T r = inv[static_cast<std::size_t>(o)];
        const T g = bn_gamma(bn, o);
        const T s = g * r;
        for (index_t i = 0; i < w.extent(1); ++i)
            for (index_t u = 0; u < w.extent(2); ++u)
                for (index_t v = 0; v < w.extent(3); ++v)
                    wo(o, i, u, v) = w(o, i, u, v) * s;
        const T b = bias ? bias[o * bias_stride] : T(0);
        bo[o] = rounded(rounded((b - bn.running_mean[o]) * r) * g) + bn_beta(bn, o);
    }
}

DETSEG_DENSE_EXACT_END

template <class X, class Out>
void check_same_shape(const X& x, const Out& o, const char* fn, const char* arg) {
    for (std::size_t r = 0; r < 4; ++r)
        DETSEG_REQUIRE(o.extent(r) == x.extent(r), fn, arg, "expected shape ", x.extent(0), "x",
                       x.extent(1), "x", x.extent(2), "x", x.extent(3), ", got ", o.extent(0), "x",
                       o.extent(1), "x", o.extent(2), "x", o.extent(3));
}

} // namespace detail

/// Eval-mode batch norm of `x` into `out` (see the file comment for the arithmetic;
/// bit-exact with `F.batch_norm(..., training=False)` of PyTorch 1.13).
/// @param x   C×H×W or N×C×H×W floating-point map of element type T, any strides
/// @param bn  the C channels' parameters (`batch_norm_params<T>`)
/// @param out writable view of x's shape, any floating-point type; may be `x` itself (in place)
/// @throws detseg::invalid_argument if a parameter's length is not C, a parameter is not finite,
///         a running variance is negative, `eps` is not positive, or `out` has another shape.
/// O(N·C·H·W + C).
template <class X, class T, class Out>
    requires(view_rank_v<X> == 3 || view_rank_v<X> == 4) && dense_map_source<X, view_rank_v<X>> &&
            float_output<Out, view_rank_v<X>>
void batch_norm(X&& x, const batch_norm_params<T>& bn, Out&& out) {
    constexpr std::size_t R = view_rank_v<X>;
    auto xv = detail::as_view_checked<R>(std::forward<X>(x), "batch_norm", "x");
    static_assert(std::is_same_v<typename decltype(xv)::value_type, T>,
                  "detseg::batch_norm: x and the batch_norm_params must have the same element "
                  "type");
    const auto x4 = detail::to_nchw(strided_view<const T, R>(xv));
    const auto o4 = detail::to_nchw(
        detail::as_view_checked<R>(std::forward<Out>(out), "batch_norm", "out"));
    detail::check_batch_norm_params(bn, x4.extent(1), "batch_norm", "x");
    detail::check_same_shape(x4, o4, "batch_norm", "out");
    detail::batch_norm_kernel(x4, o4, bn);
}

/// Eval-mode batch norm of `x`, returned as a `tensor` of x's shape and element type.
template <class X, class T>
    requires(view_rank_v<X> == 3 || view_rank_v<X> == 4) && dense_map_source<X, view_rank_v<X>>
[[nodiscard]] auto batch_norm(X&& x, const batch_norm_params<T>& bn) {
    constexpr std::size_t R = view_rank_v<X>;
    auto xv = detail::as_view_checked<R>(std::forward<X>(x), "batch_norm", "x");
    static_assert(std::is_same_v<typename decltype(xv)::value_type, T>,
                  "detseg::batch_norm: x and the batch_norm_params must have the same element "
                  "type");
    const strided_view<const T, R> xc(xv);
    const auto x4 = detail::to_nchw(xc);
    detail::check_batch_norm_params(bn, x4.extent(1), "batch_norm", "x");
    tensor<T, R> result(xc.extents());
    detail::batch_norm_kernel(x4, detail::to_nchw(result.view()), bn);
    return result;
}

/// A convolution's weights and bias after folding a batch norm into them.
template <class T>
struct folded_conv {
    tensor<T, 4> weight; ///< O×I×kh×kw
    tensor<T, 1> bias;   ///< O
};

namespace detail {

template <class T, class W>
[[nodiscard]] auto fold_weight_view(W&& weight) {
    auto wv = as_view_checked<4>(std::forward<W>(weight), "fold_batch_norm", "weight");
    static_assert(std::is_same_v<typename decltype(wv)::value_type, T>,
                  "detseg::fold_batch_norm: the weights and the batch_norm_params must have the "
                  "same element type");
    return strided_view<const T, 4>(wv);
}

template <class T, class B>
[[nodiscard]] strided_view<const T, 1> fold_bias_view(B&& bias, index_t oc) {
    auto bv = as_view_checked<1>(std::forward<B>(bias), "fold_batch_norm", "bias");
    static_assert(std::is_same_v<typename decltype(bv)::value_type, T>,
                  "detseg::fold_batch_norm: the bias and the batch_norm_params must have the "
                  "same element type");
    const strided_view<const T, 1> b(bv);
    DETSEG_REQUIRE(b.extent(0) == oc, "fold_batch_norm", "bias", "expected length ", oc,
                   " (the output channels of 'weight'), got ", b.extent(0));
    for (index_t o = 0; o < oc; ++o)
        DETSEG_REQUIRE(std::isfinite(b[o]), "fold_batch_norm", "bias", "element ", o,
                       " is not finite (", static_cast<double>(b[o]), ")");
    return b;
}

template <class T, class WO, class BO>
void fold_into(strided_view<const T, 4> w, strided_view<const T, 1> b, bool has_bias,
               const batch_norm_params<T>& bn, WO&& weight_out, BO&& bias_out) {
    auto wo = as_view_checked<4>(std::forward<WO>(weight_out), "fold_batch_norm", "weight_out");
    auto bo = as_view_checked<1>(std::forward<BO>(bias_out), "fold_batch_norm", "bias_out");
    static_assert(std::is_same_v<typename decltype(wo)::element_type, T> &&
                      std::is_same_v<typename decltype(bo)::element_type, T>,
                  "detseg::fold_batch_norm: weight_out and bias_out must be writable views of "
                  "the parameters' element type");
    check_batch_norm_params(bn, w.extent(0), "fold_batch_norm", "weight");
    check_same_shape(w, wo, "fold_batch_norm", "weight_out");
    DETSEG_REQUIRE(bo.extent(0) == w.extent(0), "fold_batch_norm", "bias_out",
                   "expected length ", w.extent(0), ", got ", bo.extent(0));
    fold_kernel(w, has_bias ? b.data_handle() : nullptr, b.stride(0), bn, wo, bo);
}

} // namespace detail

/// Folds the eval-mode batch norm `bn` that follows a convolution (weights `weight`, bias
/// `bias`) into that convolution, as `torch.nn.utils.fusion.fuse_conv_bn_weights` (bit-exact):
/// `W' = W·(gamma·r)`, `b' = ((b - mean)·r)·gamma + beta`, `r = 1/sqrt(var + T(eps))`.
/// @param weight     O×I×kh×kw (OIHW) weights of element type T, any strides
/// @param bias       length-O bias
/// @param bn         the O output channels' batch norm
/// @param weight_out writable O×I×kh×kw view of T; may be `weight` itself (in place)
/// @param bias_out   writable length-O view of T; may be `bias` itself
/// @throws detseg::invalid_argument if a length or shape does not match O / the weights, a
///         value is not finite, a running variance is negative or `eps` is not positive.
/// O(O·I·kh·kw).
template <class W, class B, class T, class WO, class BO>
    requires viewable_with<W, 4, std::is_floating_point> && viewable_with<B, 1, std::is_floating_point>
void fold_batch_norm(W&& weight, B&& bias, const batch_norm_params<T>& bn, WO&& weight_out,
                     BO&& bias_out) {
    const auto w = detail::fold_weight_view<T>(std::forward<W>(weight));
    const auto b = detail::fold_bias_view<T>(std::forward<B>(bias), w.extent(0));
    detail::fold_into(w, b, true, bn, std::forward<WO>(weight_out), std::forward<BO>(bias_out));
}

/// `fold_batch_norm` for a convolution without bias (b = 0); the folded bias goes to
/// `bias_out` (length O).
template <class W, class T, class WO, class BO>
    requires viewable_with<W, 4, std::is_floating_point>
void fold_batch_norm(W&& weight, const batch_norm_params<T>& bn, WO&& weight_out,
                     BO&& bias_out) {
    const auto w = detail::fold_weight_view<T>(std::forward<W>(weight));
    detail::fold_into(w, strided_view<const T, 1>{}, false, bn, std::forward<WO>(weight_out),
                      std::forward<BO>(bias_out));
}

/// `fold_batch_norm` returning the folded weights and bias as tensors.
template <class W, class B, class T>
    requires viewable_with<W, 4, std::is_floating_point> && viewable_with<B, 1, std::is_floating_point>
[[nodiscard]] folded_conv<T> fold_batch_norm(W&& weight, B&& bias, const batch_norm_params<T>& bn) {
    const auto w = detail::fold_weight_view<T>(std::forward<W>(weight));
    const auto b = detail::fold_bias_view<T>(std::forward<B>(bias), w.extent(0));
    folded_conv<T> r{tensor<T, 4>(w.extents()), tensor<T, 1>({w.extent(0)})};
    detail::fold_into(w, b, true, bn, r.weight.view(), r.bias.view());
    return r;
}

/// `fold_batch_norm` of a convolution without bias, returning the folded weights and bias.
template <class W, class T>
    requires viewable_with<W, 4, std::is_floating_point>
[[nodiscard]] folded_conv<T> fold_batch_norm(W&& weight, const batch_norm_params<T>& bn) {
    const auto w = detail::fold_weight_view<T>(std::forward<W>(weight));
    folded_conv<T> r{tensor<T, 4>(w.extents()), tensor<T, 1>({w.extent(0)})};
    detail::fold_into(w, strided_view<const T, 1>{}, false, bn, r.weight.view(), r.bias.view());
    return r;
}

} // namespace detseg

#endif // DETSEG_DENSE_BATCH_NORM_HPP
