#ifndef DETSEG_DENSE_CONV2D_HPP
#define DETSEG_DENSE_CONV2D_HPP

/// @file
/// `conv2d`: 2-D convolution (cross-correlation) as `torch.nn.functional.conv2d`, with stride,
/// zero padding, dilation, groups and an optional bias, on C×H×W or N×C×H×W inputs.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/detail/conv_geometry.hpp>
#include <detseg/dense/detail/conv_impl.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <vector>

namespace detseg {

/// Parameters of `conv2d`, as `torch.nn.functional.conv2d`'s (height first).
struct conv2d_params {
    std::array<index_t, 2> stride{1, 1};   ///< >= 1
    std::array<index_t, 2> padding{0, 0};  ///< zero padding on both sides, >= 0
    std::array<index_t, 2> dilation{1, 1}; ///< >= 1
    index_t groups = 1;                    ///< >= 1, divides the input and output channels
};

/// A C×H×W or N×C×H×W floating-point tensor (the input of `conv2d`).
template <class S>
concept conv_input = (view_rank_v<S> == 3 || view_rank_v<S> == 4) &&
                     viewable_with<S, view_rank_v<S>, std::is_floating_point>;

namespace detail {

template <class V>
[[nodiscard]] auto conv_as4(V v) noexcept {
    using E = typename V::element_type;
    if constexpr (V::rank() == 4)
        return strided_view<E, 4>(v.data_handle(), v.extents(), v.strides());
    else
        return strided_view<E, 4>(v.data_handle(), {1, v.extent(0), v.extent(1), v.extent(2)},
                                  {0, v.stride(0), v.stride(1), v.stride(2)});
}

/// Checks conv2d's arguments (N×C×H×W input, OIHW weight, optional bias of O) and returns the
/// geometry. Throws invalid_argument naming `fn`.
template <class T>
[[nodiscard]] conv_geometry conv2d_check(strided_view<const T, 4> x, strided_view<const T, 4> w,
                                         const std::optional<strided_view<const T, 1>>& bias,
                                         const conv2d_params& p, const char* fn) {
    for (int i = 0; i < 2; ++i) {
        DETSEG_REQUIRE(p.stride[i] >= 1, fn, "params.stride", "must be >= 1, got ", p.stride[i]);
        DETSEG_REQUIRE(p.dilation[i] >= 1, fn, "params.dilation", "must be >= 1, got ",
                       p.dilation[i]);
        DETSEG_REQUIRE(p.padding[i] >= 0, fn, "params.padding", "must be >= 0, got ",
                       p.padding[i]);
    }
    DETSEG_REQUIRE(p.groups >= 1, fn, "params.groups", "must be >= 1, got ", p.groups);
    const index_t c = x.extent(1), o = w.extent(0);
    DETSEG_REQUIRE(o % p.groups == 0, fn, "params.groups", "the ", o,
                   " output channels of 'weight' are not divisible by groups = ", p.groups);
    DETSEG_REQUIRE(c % p.groups == 0, fn, "params.groups", "the ", c,
                   " input channels are not divisible by groups = ", p.groups);
    DETSEG_REQUIRE(w.extent(1) * p.groups == c, fn, "weight",
                   "expected O×", c / p.groups, "×kH×kW (input channels / groups), got ",
                   w.extent(0), "×", w.extent(1), "×", w.extent(2), "×", w.extent(3));
    DETSEG_REQUIRE(w.extent(2) >= 1 && w.extent(3) >= 1, fn, "weight",
                   "the kernel extents must be >= 1, got ", w.extent(2), "×", w.extent(3));
    if (bias)
        DETSEG_REQUIRE(bias->extent(0) == o, fn, "bias", "expected ", o, " values (one per output "
                       "channel), got ", bias->extent(0));
    conv_geometry g;
    g.h = x.extent(2);
    g.w = x.extent(3);
    g.kh = w.extent(2);
    g.kw = w.extent(3);
    g.sh = p.stride[0];
    g.sw = p.stride[1];
    g.ph = p.padding[0];
    g.pw = p.padding[1];
    g.dh = p.dilation[0];
    g.dw = p.dilation[1];
    const index_t span_h = g.dh * (g.kh - 1) + 1, span_w = g.dw * (g.kw - 1) + 1;
    DETSEG_REQUIRE(span_h <= g.h + 2 * g.ph && span_w <= g.w + 2 * g.pw, fn, "input",
                   "the padded input (", g.h + 2 * g.ph, "×", g.w + 2 * g.pw,
                   ") is smaller than the dilated kernel (", span_h, "×", span_w, ")");
    g.finish();
    return g;
}

template <class T>
struct conv_views {
    strided_view<const T, 4> x, w;
    std::optional<strided_view<const T, 1>> bias;
    std::vector<T> bias_data;
    conv_geometry g;
};

template <class X, class W, class B>
[[nodiscard]] auto conv2d_prepare(const X& input, const W& weight, const B* bias,
                                  const conv2d_params& p, const char* fn) {
    using T = view_value_t<X>;
    static_assert(std::is_floating_point_v<T>, "detseg::conv2d: the input must be float or double");
    static_assert(std::is_same_v<view_value_t<W, 4>, T>,
                  "detseg::conv2d: the weight must have the input's value type");
    conv_views<T> v;
    v.x = strided_view<const T, 4>(conv_as4(as_view_checked<view_rank_v<X>>(input, fn, "input")));
    v.w = as_view_checked<4>(weight, fn, "weight");
    if constexpr (!std::is_same_v<B, void>) {
        static_assert(std::is_same_v<view_value_t<B, 1>, T>,
                      "detseg::conv2d: the bias must have the input's value type");
        v.bias = strided_view<const T, 1>(as_view_checked<1>(*bias, fn, "bias"));
    }
    v.g = conv2d_check<T>(v.x, v.w, v.bias, p, fn);
    if (v.bias) {
        v.bias_data.resize(static_cast<std::size_t>(v.bias->extent(0)));
        for (index_t i = 0; i < v.bias->extent(0); ++i)
            v.bias_data[static_cast<std::size_t>(i)] = (*v.bias)[i];
    }
    return v;
}

template <class V, class Out>
void conv2d_into(const V& v, Out&& out, const conv2d_params& p, const char* fn) {
    constexpr std::size_t R = view_rank_v<std::remove_reference_t<Out>>;
    auto ov = as_view_checked<R>(out, fn, "out");
    auto o4 = conv_as4(ov);
    check_out_shape(o4, std::array<index_t, 4>{v.x.extent(0), v.w.extent(0), v.g.ho, v.g.wo}, fn,
                    "out");
    conv2d_run(v.x, v.w, v.bias ? v.bias_data.data() : nullptr, p.groups, v.g, o4, false);
}

template <std::size_t R, class V>
[[nodiscard]] auto conv2d_tensor(const V& v, const conv2d_params& p, const char* fn) {
    using T = typename decltype(v.x)::value_type;
    std::array<index_t, R> e{};
    if constexpr (R == 4)
        e = {v.x.extent(0), v.w.extent(0), v.g.ho, v.g.wo};
    else
        e = {v.w.extent(0), v.g.ho, v.g.wo};
    tensor<T, R> out(e);
    conv2d_into(v, out, p, fn);
    return out;
}

} // namespace detail

/// 2-D convolution, `torch.nn.functional.conv2d(input, weight, bias, stride, padding, dilation,
/// groups)`: out[o, i, j] = bias[o] + Σ_{c, u, v} weight[o, c, u, v] ·
/// input[g·C/G + c, i·sh − ph + u·dh, j·sw − pw + v·dw] (zero outside the input), g = o / (O/G).
///
/// @param input  C×H×W or N×C×H×W, float or double, any strides.
/// @param weight O×(C/groups)×kH×kW (OIHW), the input's value type.
/// @param bias   (overloads with bias) O values, the input's value type.
/// @param out    (overloads with out) writable O×Ho×Wo or N×O×Ho×Wo floating-point view (the
///               input's rank), Ho = (H + 2ph − dh(kH−1) − 1)/sh + 1, likewise Wo.
/// @return       (overloads without out) a tensor of that shape.
/// Each output is one chain of multiply-adds over the taps (row-major) and the group's channels,
/// starting from the bias; a tap's products are skipped where it reads zero padding (a dilated
/// tap wholly in the padding costs nothing). With the SIMD kernels (AVX-512F or AVX2+FMA, chosen
/// at run time) the multiply-adds are fused and both give the same bits; results do not depend
/// on the number of threads. Cost O(N·O·Ho·Wo·(C/G)·kH·kW) for the live taps.
/// @throws detseg::invalid_argument for stride or dilation < 1, negative padding, groups < 1 or
///         not dividing the channels, a weight whose second extent is not C/groups, a bias whose
///         length is not O, a padded input smaller than the dilated kernel, or a wrong `out`
///         shape.
template <class Input, class Weight>
    requires conv_input<const Input&> && viewable_as<const Weight&, 4>
[[nodiscard]] auto conv2d(const Input& input, const Weight& weight,
                          const conv2d_params& params = {}) {
    const auto v = detail::conv2d_prepare<Input, Weight, void>(input, weight, nullptr, params,
                                                                "conv2d");
    return detail::conv2d_tensor<view_rank_v<const Input&>>(v, params, "conv2d");
}

/// `conv2d` with a bias (see above).
template <class Input, class Weight, class Bias>
    requires conv_input<const Input&> && viewable_as<const Weight&, 4> &&
             viewable_as<const Bias&, 1>
[[nodiscard]] auto conv2d(const Input& input, const Weight& weight, const Bias& bias,
                          const conv2d_params& params = {}) {
    const auto v = detail::conv2d_prepare<Input, Weight, Bias>(input, weight, &bias, params,
                                                                "conv2d");
    return detail::conv2d_tensor<view_rank_v<const Input&>>(v, params, "conv2d");
}

/// `conv2d` into a caller-provided view of the input's rank (see above).
template <class Input, class Weight, class Out>
    requires conv_input<const Input&> && viewable_as<const Weight&, 4> &&
             float_output<Out, view_rank_v<const Input&>>
void conv2d(const Input& input, const Weight& weight, Out&& out,
            const conv2d_params& params = {}) {
    const auto v = detail::conv2d_prepare<Input, Weight, void>(input, weight, nullptr, params,
                                                                "conv2d");
    detail::conv2d_into(v, out, params, "conv2d");
}

/// `conv2d` with a bias, into a caller-provided view (see above).
template <class Input, class Weight, class Bias, class Out>
    requires conv_input<const Input&> && viewable_as<const Weight&, 4> &&
             viewable_as<const Bias&, 1> && float_output<Out, view_rank_v<const Input&>>
void conv2d(const Input& input, const Weight& weight, const Bias& bias, Out&& out,
            const conv2d_params& params = {}) {
    const auto v = detail::conv2d_prepare<Input, Weight, Bias>(input, weight, &bias, params,
                                                                "conv2d");
    detail::conv2d_into(v, out, params, "conv2d");
}

} // namespace detseg

#endif // DETSEG_DENSE_CONV2D_HPP
