#ifndef DETSEG_SEG_ASPP_HPP
#define DETSEG_SEG_ASPP_HPP

/// @file
/// `aspp<T>`: DeepLab's atrous spatial pyramid pooling in eval mode, as torchvision 0.14's
/// `torchvision.models.segmentation.deeplabv3.ASPP`, with its batch norms folded into the
/// convolutions when the weights are loaded; and the depthwise-separable variant of DeepLabv3+
/// (each dilated branch a depthwise 3×3 convolution → BN → ReLU → pointwise 1×1 → BN → ReLU).

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/named_tensors.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/batch_norm.hpp>
#include <detseg/dense/detail/conv_direct.hpp>
#include <detseg/dense/detail/conv_geometry.hpp>
#include <detseg/dense/detail/conv_impl.hpp>
#include <detseg/dense/detail/gemm.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Which ASPP: torchvision's, or DeepLabv3+'s with depthwise-separable dilated branches.
enum class aspp_variant { standard, separable };

/// The shape of an ASPP module. torchvision's DeepLabV3 uses `{.in_channels = 2048, .rates =
/// {12, 24, 36}}`; output stride 16 models use rates {6, 12, 18}.
struct aspp_config {
    index_t in_channels = 0;                    ///< C of the input, > 0
    index_t out_channels = 256;                 ///< channels of every branch and of the output, > 0
    std::vector<index_t> rates{12, 24, 36};     ///< one dilated 3×3 branch per rate, each > 0
    aspp_variant variant = aspp_variant::standard;
    double eps = 1e-5;                          ///< the batch norms' eps, > 0
};

/// The tensors an ASPP of configuration `cfg` reads, with their shapes, in torchvision's
/// `state_dict` keys (R = number of rates, C = in, O = out channels):
/// - `convs.0.0.weight` O×C×1×1, `convs.0.1.{weight,bias,running_mean,running_var}` O;
/// - standard, branch k = 1..R: `convs.k.0.weight` O×C×3×3, `convs.k.1.*` O;
/// - separable, branch k = 1..R: `convs.k.0.weight` C×1×3×3 (depthwise), `convs.k.1.*` C,
///   `convs.k.3.weight` O×C×1×1 (pointwise), `convs.k.4.*` O;
/// - pooling: `convs.(R+1).1.weight` O×C×1×1, `convs.(R+1).2.*` O;
/// - `project.0.weight` O×(R+2)·O×1×1, `project.1.*` O.
/// BatchNorm's `num_batches_tracked` is not read.
/// @throws detseg::invalid_argument as the `aspp` constructor for a bad configuration.
[[nodiscard]] inline std::vector<std::pair<std::string, std::vector<index_t>>>
aspp_tensor_shapes(const aspp_config& cfg);

namespace detail {

inline void aspp_check_config(const aspp_config& cfg, const char* fn) {
    DETSEG_REQUIRE(cfg.in_channels > 0, fn, "config.in_channels", "must be > 0, got ",
                   cfg.in_channels);
    DETSEG_REQUIRE(cfg.out_channels > 0, fn, "config.out_channels", "must be > 0, got ",
                   cfg.out_channels);
    for (std::size_t i = 0; i < cfg.rates.size(); ++i)
        DETSEG_REQUIRE(cfg.rates[i] > 0, fn, "config.rates", "rate ", i, " must be > 0, got ",
                       cfg.rates[i]);
    DETSEG_REQUIRE(cfg.eps > 0, fn, "config.eps", "must be > 0, got ", cfg.eps);
}

inline std::string aspp_key(index_t k, int sub, const char* leaf) {
    return std::string("convs.").append(std::to_string(k)).append(".")
        .append(std::to_string(sub)).append(".").append(leaf);
}

} // namespace detail

inline std::vector<std::pair<std::string, std::vector<index_t>>>
aspp_tensor_shapes(const aspp_config& cfg) {
    detail::aspp_check_config(cfg, "aspp_tensor_shapes");
    const index_t c = cfg.in_channels, o = cfg.out_channels;
    const auto r = static_cast<index_t>(cfg.rates.size());
    std::vector<std::pair<std::string, std::vector<index_t>>> out;
    auto bn = [&](const std::string& prefix, index_t n) {
        for (const char* leaf : {"weight", "bias", "running_mean", "running_var"})
            out.push_back({prefix + leaf, {n}});
    };
    out.push_back({"convs.0.0.weight", {o, c, 1, 1}});
    bn("convs.0.1.", o);
    for (index_t k = 1; k <= r; ++k) {
        const std::string p = "convs." + std::to_string(k) + ".";
        if (cfg.variant == aspp_variant::standard) {
            out.push_back({p + "0.weight", {o, c, 3, 3}});
            bn(p + "1.", o);
        } else {
            out.push_back({p + "0.weight", {c, 1, 3, 3}});
            bn(p + "1.", c);
            out.push_back({p + "3.weight", {o, c, 1, 1}});
            bn(p + "4.", o);
        }
    }
    const std::string pool = "convs." + std::to_string(r + 1) + ".";
    out.push_back({pool + "1.weight", {o, c, 1, 1}});
    bn(pool + "2.", o);
    out.push_back({"project.0.weight", {o, (r + 2) * o, 1, 1}});
    bn("project.1.", o);
    return out;
}

/// Atrous spatial pyramid pooling (eval mode), torchvision's `ASPP(in_channels, rates,
/// out_channels)`: branches 1×1 conv; per rate r a 3×3 conv with padding = dilation = r; image
/// pooling (mean over H·W → 1×1 conv → BN → ReLU → broadcast); each conv branch conv → BN →
/// ReLU; concatenated, then 1×1 projection → BN → ReLU (dropout is the identity in eval mode).
/// The batch norms are folded into the convolutions when the weights are loaded
/// (`fold_batch_norm`); the pooled branch, constant over the image, enters the projection as a
/// per-channel bias. Dilated taps that read only zero padding are skipped (`conv2d`).
/// The object is immutable after construction; calls may run concurrently.
template <class T>
class aspp {
    static_assert(std::is_floating_point_v<T>, "detseg::aspp: T must be float or double");

public:
    /// Loads and folds the weights (keys and shapes: `aspp_tensor_shapes`).
    /// @throws detseg::invalid_argument (function "aspp") for non-positive channels, rates or eps
    ///         (argument "config.*"), or a missing or misshaped tensor (argument "weights"; the
    ///         message names the key and the expected shape), or a non-finite BN parameter or a
    ///         negative running variance.
    aspp(aspp_config config, const named_tensors<T>& weights) : cfg_(std::move(config)) {
        detail::aspp_check_config(cfg_, "aspp");
        const index_t c = cfg_.in_channels, o = cfg_.out_channels;
        const auto r = static_cast<index_t>(cfg_.rates.size());
        const detail::gemm_isa isa = detail::gemm_isa_active();
        const index_t one_tap[] = {0};
        const index_t nine_taps[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};

        auto folded = [&](const std::string& wkey, std::array<index_t, 4> shape,
                          const std::string& bn_prefix) {
            const auto w = weights.template get<4>(wkey, shape, "aspp", "weights");
            const index_t n = shape[0];
            batch_norm_params<T> bn;
            bn.gamma = weights.template get<1>(bn_prefix + "weight", {n}, "aspp", "weights");
            bn.beta = weights.template get<1>(bn_prefix + "bias", {n}, "aspp", "weights");
            bn.running_mean =
                weights.template get<1>(bn_prefix + "running_mean", {n}, "aspp", "weights");
            bn.running_var =
                weights.template get<1>(bn_prefix + "running_var", {n}, "aspp", "weights");
            bn.eps = cfg_.eps;
            return fold_batch_norm(w, bn);
        };
        auto packed = [&](const folded_conv<T>& f, std::span<const index_t> taps) {
            conv_part p;
            p.a = detail::conv_pack_weights<T>(f.weight.view(), 0, f.weight.extent(0), taps, isa);
            p.bias.assign(f.bias.flat().begin(), f.bias.flat().end());
            return p;
        };

        b1x1_ = packed(folded("convs.0.0.weight", {o, c, 1, 1}, "convs.0.1."), one_tap);
        for (index_t k = 1; k <= r; ++k) {
            if (cfg_.variant == aspp_variant::standard) {
                rate_.push_back(packed(folded(detail::aspp_key(k, 0, "weight"), {o, c, 3, 3},
                                              detail::aspp_key(k, 1, "")),
                                       nine_taps));
            } else {
                const folded_conv<T> dw = folded(detail::aspp_key(k, 0, "weight"), {c, 1, 3, 3},
                                                 detail::aspp_key(k, 1, ""));
                dw_.push_back({std::vector<T>(dw.weight.flat().begin(), dw.weight.flat().end()),
                               std::vector<T>(dw.bias.flat().begin(), dw.bias.flat().end())});
                rate_.push_back(packed(folded(detail::aspp_key(k, 3, "weight"), {o, c, 1, 1},
                                              detail::aspp_key(k, 4, "")),
                                       one_tap));
            }
        }
        const folded_conv<T> pool = folded(detail::aspp_key(r + 1, 1, "weight"), {o, c, 1, 1},
                                           detail::aspp_key(r + 1, 2, ""));
        pool_w_.assign(pool.weight.flat().begin(), pool.weight.flat().end());
        pool_b_.assign(pool.bias.flat().begin(), pool.bias.flat().end());

        // The projection: the GEMM reads the (R+1)·O branch channels; the pooled branch's O
        // columns are kept apart and applied as a bias.
        const index_t cat = (r + 1) * o;
        const folded_conv<T> proj = folded("project.0.weight", {o, (r + 2) * o, 1, 1}, "project.1.");
        const auto pw = proj.weight.view();
        proj_.a = detail::gemm_pack_a<T>(o, std::span<const index_t>(one_tap), cat, isa,
                                         [&](index_t m, index_t) {
                                             return std::pair<const T*, index_t>(
                                                 &pw(m, 0, 0, 0), pw.stride(1));
                                         });
        proj_.bias.assign(proj.bias.flat().begin(), proj.bias.flat().end());
        proj_pool_w_.resize(static_cast<std::size_t>(o * o));
        for (index_t i = 0; i < o; ++i)
            for (index_t j = 0; j < o; ++j)
                proj_pool_w_[static_cast<std::size_t>(i * o + j)] = pw(i, cat + j, 0, 0);
    }

    [[nodiscard]] const aspp_config& config() const noexcept { return cfg_; }

    /// The ASPP of `input` (C×H×W of T, any strides), returned as an O×H×W tensor.
    /// @throws detseg::invalid_argument (function "aspp::forward", argument "input") when C is
    ///         not the configured in_channels.
    template <class Input>
        requires viewable_as<const Input&, 3>
    [[nodiscard]] tensor<T, 3> operator()(const Input& input) const {
        const auto x = input_view(input);
        tensor<T, 3> out({cfg_.out_channels, x.extent(1), x.extent(2)});
        run(x, out.view());
        return out;
    }

    /// The ASPP of `input` into `out` (writable O×H×W floating-point view, any strides).
    /// @throws detseg::invalid_argument as above, or (argument "out") for a wrong output shape.
    template <class Input, class Out>
        requires viewable_as<const Input&, 3> && float_output<Out, 3>
    void operator()(const Input& input, Out&& out) const {
        const auto x = input_view(input);
        auto ov = detail::as_view_checked<3>(out, "aspp::forward", "out");
        detail::check_out_shape(ov, std::array<index_t, 3>{cfg_.out_channels, x.extent(1),
                                                           x.extent(2)},
                                "aspp::forward", "out");
        run(x, ov);
    }

private:
    struct conv_part {
        detail::gemm_packed_a<T> a;
        std::vector<T> bias;
    };
    struct depthwise_part {
        std::vector<T> weight; // C×3×3, folded
        std::vector<T> bias;   // C
    };

    template <class Input>
    [[nodiscard]] strided_view<const T, 3> input_view(const Input& input) const {
        static_assert(std::is_same_v<view_value_t<const Input&, 3>, T>,
                      "detseg::aspp<T>: the input must have element type T");
        const strided_view<const T, 3> x =
            detail::as_view_checked<3>(input, "aspp::forward", "input");
        DETSEG_REQUIRE(x.extent(0) == cfg_.in_channels, "aspp::forward", "input", "expected ",
                       cfg_.in_channels, " channels (C×H×W), got ", x.extent(0));
        return x;
    }

    template <class U>
    void run(strided_view<const T, 3> x, strided_view<U, 3> out) const {
        const index_t c = cfg_.in_channels, o = cfg_.out_channels;
        const index_t h = x.extent(1), w = x.extent(2), hw = h * w;
        if (hw == 0)
            return;
        const auto r = static_cast<index_t>(cfg_.rates.size());
        // Work buffers are left uninitialised: every element is written before it is read.
        detail::aligned_buffer<T> cat((r + 1) * o * hw);

        detail::conv_geometry g1;
        g1.h = h;
        g1.w = w;
        g1.finish();
        const std::vector<detail::conv_tap> taps1 = detail::conv_taps(g1);
        const detail::conv_order order1 = detail::conv_position_order(g1, taps1);
        const T* xd = x.data_handle();
        const index_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2);

        detail::conv_gemm(b1x1_.a, xd, xs0, xs1, xs2, g1, taps1, order1, cat.data(), hw,
                          b1x1_.bias.data(), true);
        detail::aligned_buffer<T> dw_out(cfg_.variant == aspp_variant::separable ? c * hw : 0);
        for (index_t k = 0; k < r; ++k) {
            const index_t rate = cfg_.rates[static_cast<std::size_t>(k)];
            detail::conv_geometry g3;
            g3.h = h;
            g3.w = w;
            g3.kh = g3.kw = 3;
            g3.ph = g3.pw = g3.dh = g3.dw = rate;
            g3.finish();
            const std::vector<detail::conv_tap> taps3 = detail::conv_taps(g3);
            T* dst = cat.data() + (k + 1) * o * hw;
            const conv_part& part = rate_[static_cast<std::size_t>(k)];
            if (cfg_.variant == aspp_variant::standard) {
                const detail::conv_order order3 = detail::conv_position_order(g3, taps3);
                detail::conv_gemm(part.a, xd, xs0, xs1, xs2, g3, taps3, order3, dst, hw,
                                  part.bias.data(), true);
            } else {
                const depthwise_part& dw = dw_[static_cast<std::size_t>(k)];
                parallel_for(c, [&](index_t ch) {
                    const T* wk = dw.weight.data() + ch * 9;
                    detail::conv_direct_plane(
                        xd + ch * xs0, xs1, xs2, g3, taps3,
                        [&](index_t u, index_t v) { return wk[u * 3 + v]; },
                        dw.bias[static_cast<std::size_t>(ch)], true, dw_out.data() + ch * hw);
                });
                detail::conv_gemm(part.a, dw_out.data(), hw, w, index_t{1}, g1, taps1, order1,
                                  dst, hw, part.bias.data(), true);
            }
        }

        // Image pooling: mean → 1×1 conv → BN → ReLU, then through the projection's columns.
        std::vector<double> mean(static_cast<std::size_t>(c));
        parallel_for(c, [&](index_t ch) {
            double s = 0;
            for (index_t i = 0; i < h; ++i)
                for (index_t j = 0; j < w; ++j)
                    s += static_cast<double>(xd[ch * xs0 + i * xs1 + j * xs2]);
            mean[static_cast<std::size_t>(ch)] = static_cast<double>(static_cast<T>(
                s / static_cast<double>(hw)));
        });
        std::vector<double> pooled(static_cast<std::size_t>(o));
        for (index_t i = 0; i < o; ++i) {
            double s = static_cast<double>(pool_b_[static_cast<std::size_t>(i)]);
            for (index_t j = 0; j < c; ++j)
                s += static_cast<double>(pool_w_[static_cast<std::size_t>(i * c + j)]) *
                     mean[static_cast<std::size_t>(j)];
            const T v = static_cast<T>(s);
            pooled[static_cast<std::size_t>(i)] = v > T(0) ? static_cast<double>(v) : 0.0;
        }
        std::vector<T> bias(static_cast<std::size_t>(o));
        for (index_t i = 0; i < o; ++i) {
            double s = static_cast<double>(proj_.bias[static_cast<std::size_t>(i)]);
            for (index_t j = 0; j < o; ++j)
                s += static_cast<double>(proj_pool_w_[static_cast<std::size_t>(i * o + j)]) *
                     pooled[static_cast<std::size_t>(j)];
            bias[static_cast<std::size_t>(i)] = static_cast<T>(s);
        }

        // Projection of the concatenated branches.
        if constexpr (std::is_same_v<U, T>) {
            if (out.stride(2) == 1 && (h == 1 || out.stride(1) == w)) {
                detail::conv_gemm(proj_.a, cat.data(), hw, w, index_t{1}, g1, taps1, order1,
                                  out.data_handle(), out.stride(0), bias.data(), true);
                return;
            }
        }
        detail::aligned_buffer<T> res(o * hw);
        detail::conv_gemm(proj_.a, cat.data(), hw, w, index_t{1}, g1, taps1, order1, res.data(),
                          hw, bias.data(), true);
        for (index_t i = 0; i < o; ++i)
            for (index_t y = 0; y < h; ++y)
                for (index_t z = 0; z < w; ++z)
                    out(i, y, z) = static_cast<U>(res.data()[(i * h + y) * w + z]);
    }

    aspp_config cfg_;
    conv_part b1x1_;
    std::vector<conv_part> rate_;
    std::vector<depthwise_part> dw_;
    std::vector<T> pool_w_, pool_b_;
    conv_part proj_;
    std::vector<T> proj_pool_w_;
};

} // namespace detseg

#endif // DETSEG_SEG_ASPP_HPP
