#ifndef DETSEG_SEG_PSEUDO_LABEL_HPP
#define DETSEG_SEG_PSEUDO_LABEL_HPP

/// @file
/// Pixel-wise cross-entropy losses for (semi-)supervised segmentation, with their gradient with
/// respect to the logits, computed in one fused pass:
///
/// - `cross_entropy_loss`: PyTorch's `F.cross_entropy(logits, labels, weight, ignore_index,
///   reduction)` (value and `logits.grad`);
/// - `pseudo_label_loss`: the same on pseudo labels, each pixel weighted by the teacher's
///   confidence: `conf^γ` (CW-BASS), a hard threshold `[conf >= τ]` (FixMatch, UniMatch), and an
///   extra weight `1 + λ` on the Sobel boundary pixels of the pseudo-label map (CW-BASS);
/// - `pseudo_labels`: a teacher's argmax labels and confidences (max softmax probability).
///
/// Definitions (docs/pseudo-labels.md). For pixel p with target y_p and logits x_p (C values),
/// ℓ_p = log Σ_c exp(x_pc) - x_p,y_p, computed as log Σ_c exp(x_pc - m_p) + (m_p - x_p,y_p) with
/// m_p = max_c x_pc. The pixel weight is
///
///     w_p = class_weight[y_p] · conf_p^γ · [conf_p >= τ] · (1 + λ b_p)      (0 if y_p ignored)
///
/// (the confidence factors only in `pseudo_label_loss`, b_p from `label_boundaries`), and the
/// loss is Σ_p w_p ℓ_p reduced by `loss_reduction`. The weights are constants (no gradient flows
/// through the confidence). The gradient is ∂loss/∂x_pc = (w_p / D) (softmax(x_p)_c - [c = y_p]),
/// D the reduction's denominator (1 for `sum` and `none`). When D = 0 (every pixel ignored) the
/// mean is 0 with a zero gradient (PyTorch gives NaN).
///
/// Logits are N×C×H×W or C×H×W (labels, confidences and per-pixel losses then N×H×W or H×W),
/// float or double, any strides. Computation: the softmax in the logits' type, the loss sums in
/// double. Results do not depend on the number of threads.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/seg/detail/pseudo_kernel.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

namespace detseg {

/// Options of `cross_entropy_loss`.
struct cross_entropy_params {
    /// Label value whose pixels contribute nothing (PyTorch's `ignore_index`); none if empty.
    std::optional<std::int64_t> ignore_index = 255;
    loss_reduction reduction = loss_reduction::mean;
};

/// Options of `pseudo_label_loss` (see the file comment for the weight they define).
struct pseudo_label_loss_params {
    std::optional<std::int64_t> ignore_index = 255;
    loss_reduction reduction = loss_reduction::mean;
    /// Exponent γ of the confidence weight conf^γ (CW-BASS); 0 = unweighted. Must be >= 0.
    double gamma = 1.0;
    /// Hard threshold τ: pixels with conf < τ get weight 0 (FixMatch, UniMatch: 0.95).
    std::optional<double> threshold = std::nullopt;
    /// Extra weight λ >= 0 on the boundary pixels of the pseudo-label map (weight · (1 + λ)).
    double boundary_weight = 0.0;

    /// FixMatch / UniMatch: weight [conf >= τ], mean over the non-ignored pixels (UniMatch's
    /// division; use `reduction = weighted_mean` for the mean over the confident pixels).
    [[nodiscard]] static pseudo_label_loss_params fixmatch(double tau = 0.95) {
        return {.gamma = 0.0, .threshold = tau};
    }
    /// CW-BASS: weight conf^γ (optionally thresholded) and boundary weight λ.
    [[nodiscard]] static pseudo_label_loss_params cw_bass(double gamma, double boundary_weight,
                                                          std::optional<double> tau = {}) {
        return {.gamma = gamma, .threshold = tau, .boundary_weight = boundary_weight};
    }
};

/// The returned form's result: the reduced value, the gradient (shape of the logits) and, for
/// `loss_reduction::none`, the per-pixel losses (shape of the labels; empty otherwise).
template <class T, std::size_t R>
struct loss_result {
    double value = 0.0;
    tensor<T, R> grad;
    tensor<T, R - 1> losses;
};

/// A floating-point logits source of rank 3 (C×H×W) or 4 (N×C×H×W).
template <class S>
concept logits_source =
    viewable<S> && (view_rank_v<S> == 3 || view_rank_v<S> == 4) &&
    std::is_floating_point_v<typename decltype(as_view(std::declval<const S&>()))::value_type>;

namespace detail {

template <class S>
inline constexpr std::size_t logits_rank_v = view_rank_v<S>;

template <class S>
using logits_value_t = typename decltype(as_view(std::declval<const S&>()))::value_type;

/// A rank-R view as rank R+1 with a leading unit extent (or unchanged when `R == Want`).
template <std::size_t Want, class E, std::size_t R>
[[nodiscard]] strided_view<E, Want> with_batch(const strided_view<E, R>& v) {
    if constexpr (R == Want) {
        return v;
    } else {
        static_assert(R + 1 == Want);
        std::array<index_t, Want> e{}, s{};
        e[0] = 1;
        s[0] = 0;
        for (std::size_t r = 0; r < R; ++r) {
            e[r + 1] = v.extent(r);
            s[r + 1] = v.stride(r);
        }
        return {v.data_handle(), e, s};
    }
}

template <class W>
[[nodiscard]] std::vector<double> class_weight_vector(const W& weights, index_t classes,
                                                      const char* fn) {
    const auto v = as_view_checked<1>(weights, fn, "class_weights");
    DETSEG_REQUIRE(v.extent(0) == classes, fn, "class_weights", "expected ", classes,
                   " weights (one per class), got ", v.extent(0));
    std::vector<double> out(static_cast<std::size_t>(classes));
    for (index_t c = 0; c < classes; ++c) {
        const auto wc = static_cast<double>(v[c]);
        DETSEG_REQUIRE(std::isfinite(wc) && wc >= 0.0, fn, "class_weights", "weight ", wc,
                       " of class ", c, " is negative or not finite");
        out[static_cast<std::size_t>(c)] = wc;
    }
    return out;
}

template <std::size_t R, class V>
void check_same_pixels(const V& v, const std::array<index_t, 3>& want, const char* fn,
                       const char* arg) {
    std::array<index_t, R - 1> e{};
    for (std::size_t r = 0; r + 1 < R; ++r)
        e[r] = want[r + (R == 4 ? 0 : 1)];
    check_out_shape(v, e, fn, arg);
}

/// Shared driver: normalises the views to N×C×H×W / N×H×W, checks, runs both passes.
template <std::size_t R, class X, class Y, class Cf, class G, class Lo>
double pixel_ce(const strided_view<const X, R>& xv, const strided_view<const Y, R - 1>& yv,
                const strided_view<const Cf, R - 1>* cv, const std::vector<double>& weights,
                const strided_view<G, R>& gv, const strided_view<Lo, R - 1>* lv,
                const pixel_ce_config& cfg, const char* fn) {
    const auto x4 = with_batch<4>(xv);
    const std::array<index_t, 3> pix{x4.extent(0), x4.extent(2), x4.extent(3)};
    DETSEG_REQUIRE(x4.extent(1) >= 1, fn, "logits", "no classes (C = 0)");
    check_same_pixels<R>(yv, pix, fn, "labels");
    if (cv)
        check_same_pixels<R>(*cv, pix, fn, "confidence");
    check_out_shape(gv, xv.extents(), fn, "grad");
    if (lv)
        check_same_pixels<R>(*lv, pix, fn, "losses");
    const auto y3 = with_batch<3>(yv);
    const strided_view<const Cf, 3> c3 = cv ? with_batch<3>(*cv) : strided_view<const Cf, 3>();
    const auto t = make_pixel_targets(y3, c3, weights, x4.extent(1), cfg, fn);
    const strided_view<Lo, 3> l3 = lv ? with_batch<3>(*lv) : strided_view<Lo, 3>();
    return pixel_ce_pass(x4, with_batch<4>(gv), l3, lv != nullptr, t, cfg, fn);
}

inline pixel_ce_config ce_config(const cross_entropy_params& p) {
    pixel_ce_config c;
    c.has_ignore = p.ignore_index.has_value();
    c.ignore = p.ignore_index.value_or(0);
    c.reduction = p.reduction;
    return c;
}

inline pixel_ce_config pseudo_config(const pseudo_label_loss_params& p) {
    constexpr const char* fn = "pseudo_label_loss";
    DETSEG_REQUIRE(std::isfinite(p.gamma) && p.gamma >= 0.0, fn, "gamma", "gamma ", p.gamma,
                   " is negative or not finite");
    DETSEG_REQUIRE(!p.threshold || std::isfinite(*p.threshold), fn, "threshold",
                   "threshold is not finite");
    DETSEG_REQUIRE(std::isfinite(p.boundary_weight) && p.boundary_weight >= 0.0, fn,
                   "boundary_weight", "boundary weight ", p.boundary_weight,
                   " is negative or not finite");
    pixel_ce_config c;
    c.has_ignore = p.ignore_index.has_value();
    c.ignore = p.ignore_index.value_or(0);
    c.reduction = p.reduction;
    c.use_conf = true;
    c.gamma = p.gamma;
    c.use_threshold = p.threshold.has_value();
    c.threshold = p.threshold.value_or(0.0);
    c.boundary_weight = p.boundary_weight;
    return c;
}

template <class Logits>
using logits_view_t = decltype(as_view(std::declval<const Logits&>()));

/// The returned forms' body: a fresh gradient tensor shaped like `logits` (and, for
/// `loss_reduction::none`, a per-pixel loss tensor) filled by `write(grad[, losses])`.
template <class Logits, class Write>
[[nodiscard]] auto loss_into_tensors(const Logits& logits, const char* fn, loss_reduction reduction,
                                     const Write& write) {
    constexpr std::size_t R = logits_rank_v<Logits>;
    using X = logits_value_t<Logits>;
    const auto x = as_view_checked<R>(logits, fn, "logits");
    loss_result<X, R> r;
    r.grad = tensor<X, R>(x.extents());
    if (reduction == loss_reduction::none) {
        std::array<index_t, R - 1> e{};
        for (std::size_t k = 0; k + 1 < R; ++k)
            e[k] = x.extent(k < (R == 4 ? 1 : 0) ? k : k + 1);
        r.losses = tensor<X, R - 1>(e);
        r.value = write(r.grad, r.losses);
    } else {
        r.value = write(r.grad);
    }
    return r;
}

} // namespace detail

/// An integer label source matching logits of rank R (rank R - 1).
template <class S, std::size_t R>
concept pixel_label_source = viewable_with<S, R - 1, std::is_integral>;

/// A floating-point per-pixel source matching logits of rank R (rank R - 1).
template <class S, std::size_t R>
concept pixel_value_source = viewable_with<S, R - 1, std::is_floating_point>;

/// Pixel-wise cross-entropy with class weights and ignore index, its value and its gradient with
/// respect to the logits, in one pass: PyTorch's `F.cross_entropy(logits, labels, weight =
/// class_weights, ignore_index, reduction)` and `logits.grad` after `backward()`.
/// @param logits N×C×H×W or C×H×W, float or double, any strides.
/// @param labels N×H×W or H×W integers in [0, C) or the ignore index.
/// @param class_weights C non-negative weights (any floating-point vector source).
/// @param grad writable floating-point view of the logits' shape (∂value/∂logits; for
///        `reduction = none`, ∂(Σ losses)/∂logits).
/// @param losses writable N×H×W or H×W view of the per-pixel weighted losses (any reduction).
/// @return the reduced loss (for `none`, the sum of the per-pixel losses).
/// @throws detseg::invalid_argument naming `labels` (a label neither in [0, C) nor the ignore
///         index), `logits` (a NaN or +inf logit, or -inf in every class of a pixel or at the
///         target of a weighted pixel; `grad` is then unspecified; or C = 0),
///         `class_weights` (length, negative or non-finite), or a shape mismatch (`labels`,
///         `grad`, `losses`). Complexity O(N·C·H·W); memory O(N·H·W) for per-pixel targets.
template <logits_source Logits, class Labels, class Weights, class Grad, class Losses>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>> &&
             viewable_with<Weights, 1, std::is_floating_point> &&
             float_output<Grad, detail::logits_rank_v<Logits>> &&
             float_output<Losses, detail::logits_rank_v<Logits> - 1>
double cross_entropy_loss(const Logits& logits, const Labels& labels, const Weights& class_weights,
                          Grad&& grad, Losses&& losses, const cross_entropy_params& params = {}) {
    constexpr std::size_t R = detail::logits_rank_v<Logits>;
    constexpr const char* fn = "cross_entropy_loss";
    const auto x = detail::as_view_checked<R>(logits, fn, "logits");
    const auto y = detail::as_view_checked<R - 1>(labels, fn, "labels");
    auto g = detail::as_view_checked<R>(grad, fn, "grad");
    auto l = detail::as_view_checked<R - 1>(losses, fn, "losses");
    const auto w = detail::class_weight_vector(class_weights, x.extent(R == 4 ? 1 : 0), fn);
    using X = typename decltype(x)::value_type;
    using Y = typename decltype(y)::value_type;
    const strided_view<const X, R> xc(x);
    const strided_view<const Y, R - 1> yc(y);
    return detail::pixel_ce<R, X, Y, float>(xc, yc, nullptr, w, g, &l, detail::ce_config(params),
                                            fn);
}

/// `cross_entropy_loss` with class weights, without the per-pixel losses.
template <logits_source Logits, class Labels, class Weights, class Grad>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>> &&
             viewable_with<Weights, 1, std::is_floating_point> &&
             float_output<Grad, detail::logits_rank_v<Logits>>
double cross_entropy_loss(const Logits& logits, const Labels& labels, const Weights& class_weights,
                          Grad&& grad, const cross_entropy_params& params = {}) {
    constexpr std::size_t R = detail::logits_rank_v<Logits>;
    constexpr const char* fn = "cross_entropy_loss";
    const auto x = detail::as_view_checked<R>(logits, fn, "logits");
    const auto y = detail::as_view_checked<R - 1>(labels, fn, "labels");
    auto g = detail::as_view_checked<R>(grad, fn, "grad");
    const auto w = detail::class_weight_vector(class_weights, x.extent(R == 4 ? 1 : 0), fn);
    using X = typename decltype(x)::value_type;
    using Y = typename decltype(y)::value_type;
    const strided_view<const X, R> xc(x);
    const strided_view<const Y, R - 1> yc(y);
    return detail::pixel_ce<R, X, Y, float, typename decltype(g)::element_type, float>(
        xc, yc, nullptr, w, g, nullptr, detail::ce_config(params), fn);
}

/// `cross_entropy_loss` without class weights (all 1): writes the gradient, returns the value.
template <logits_source Logits, class Labels, class Grad>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>> &&
             float_output<Grad, detail::logits_rank_v<Logits>>
double cross_entropy_loss(const Logits& logits, const Labels& labels, Grad&& grad,
                          const cross_entropy_params& params = {}) {
    constexpr std::size_t R = detail::logits_rank_v<Logits>;
    constexpr const char* fn = "cross_entropy_loss";
    const auto x = detail::as_view_checked<R>(logits, fn, "logits");
    const auto y = detail::as_view_checked<R - 1>(labels, fn, "labels");
    auto g = detail::as_view_checked<R>(grad, fn, "grad");
    using X = typename decltype(x)::value_type;
    using Y = typename decltype(y)::value_type;
    const strided_view<const X, R> xc(x);
    const strided_view<const Y, R - 1> yc(y);
    return detail::pixel_ce<R, X, Y, float, typename decltype(g)::element_type, float>(
        xc, yc, nullptr, {}, g, nullptr, detail::ce_config(params), fn);
}

/// `cross_entropy_loss` with class weights, returning value, gradient and (for `none`) the
/// per-pixel losses as tensors of the logits' type.
template <logits_source Logits, class Labels, class Weights>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>> &&
             viewable_with<Weights, 1, std::is_floating_point>
[[nodiscard]] auto cross_entropy_loss(const Logits& logits, const Labels& labels,
                                      const Weights& class_weights,
                                      const cross_entropy_params& params = {}) {
    const auto write = [&](auto&... out) {
        return cross_entropy_loss(logits, labels, class_weights, out..., params);
    };
    return detail::loss_into_tensors(logits, "cross_entropy_loss", params.reduction, write);
}

/// `cross_entropy_loss` without class weights, returning value, gradient and (for `none`) the
/// per-pixel losses.
template <logits_source Logits, class Labels>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>>
[[nodiscard]] auto cross_entropy_loss(const Logits& logits, const Labels& labels,
                                      const cross_entropy_params& params = {}) {
    constexpr std::size_t R = detail::logits_rank_v<Logits>;
    const auto x = detail::as_view_checked<R>(logits, "cross_entropy_loss", "logits");
    const std::vector<double> ones(static_cast<std::size_t>(x.extent(R == 4 ? 1 : 0)), 1.0);
    return cross_entropy_loss(logits, labels, ones, params);
}

/// Confidence-weighted, thresholded and boundary-aware cross-entropy on pseudo labels, its value
/// and its gradient with respect to the (student's) logits, in one pass. Pixel weight
/// conf^γ · [conf >= τ] · (1 + λ b) (see the file comment; b from `label_boundaries` of each
/// image's labels), reduced by `params.reduction`.
/// @param logits N×C×H×W or C×H×W, float or double, any strides.
/// @param labels N×H×W or H×W pseudo labels in [0, C) or the ignore index.
/// @param confidence N×H×W or H×W confidences in [0, 1] (e.g. from `pseudo_labels`), detached.
/// @param grad writable view of the logits' shape; @param losses per-pixel weighted losses.
/// @return the reduced loss.
/// @throws detseg::invalid_argument naming `labels`, `logits` (as `cross_entropy_loss`; `grad`
///         is then unspecified), `confidence` (outside [0, 1] or NaN), `gamma` (< 0 or not finite),
///         `threshold` (not finite), `boundary_weight` (< 0), or the argument of a shape
///         mismatch. Complexity O(N·C·H·W).
template <logits_source Logits, class Labels, class Conf, class Grad, class Losses>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>> &&
             pixel_value_source<Conf, detail::logits_rank_v<Logits>> &&
             float_output<Grad, detail::logits_rank_v<Logits>> &&
             float_output<Losses, detail::logits_rank_v<Logits> - 1>
double pseudo_label_loss(const Logits& logits, const Labels& labels, const Conf& confidence,
                         Grad&& grad, Losses&& losses,
                         const pseudo_label_loss_params& params = {}) {
    constexpr std::size_t R = detail::logits_rank_v<Logits>;
    constexpr const char* fn = "pseudo_label_loss";
    const auto cfg = detail::pseudo_config(params);
    const auto x = detail::as_view_checked<R>(logits, fn, "logits");
    const auto y = detail::as_view_checked<R - 1>(labels, fn, "labels");
    const auto c = detail::as_view_checked<R - 1>(confidence, fn, "confidence");
    auto g = detail::as_view_checked<R>(grad, fn, "grad");
    auto l = detail::as_view_checked<R - 1>(losses, fn, "losses");
    using X = typename decltype(x)::value_type;
    using Y = typename decltype(y)::value_type;
    using C = typename decltype(c)::value_type;
    const strided_view<const X, R> xc(x);
    const strided_view<const Y, R - 1> yc(y);
    const strided_view<const C, R - 1> cc(c);
    return detail::pixel_ce<R>(xc, yc, &cc, {}, g, &l, cfg, fn);
}

/// `pseudo_label_loss` without the per-pixel losses.
template <logits_source Logits, class Labels, class Conf, class Grad>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>> &&
             pixel_value_source<Conf, detail::logits_rank_v<Logits>> &&
             float_output<Grad, detail::logits_rank_v<Logits>>
double pseudo_label_loss(const Logits& logits, const Labels& labels, const Conf& confidence,
                         Grad&& grad, const pseudo_label_loss_params& params = {}) {
    constexpr std::size_t R = detail::logits_rank_v<Logits>;
    constexpr const char* fn = "pseudo_label_loss";
    const auto cfg = detail::pseudo_config(params);
    const auto x = detail::as_view_checked<R>(logits, fn, "logits");
    const auto y = detail::as_view_checked<R - 1>(labels, fn, "labels");
    const auto c = detail::as_view_checked<R - 1>(confidence, fn, "confidence");
    auto g = detail::as_view_checked<R>(grad, fn, "grad");
    using X = typename decltype(x)::value_type;
    using Y = typename decltype(y)::value_type;
    using C = typename decltype(c)::value_type;
    const strided_view<const X, R> xc(x);
    const strided_view<const Y, R - 1> yc(y);
    const strided_view<const C, R - 1> cc(c);
    return detail::pixel_ce<R, X, Y, C, typename decltype(g)::element_type, float>(
        xc, yc, &cc, {}, g, nullptr, cfg, fn);
}

/// `pseudo_label_loss` returning value, gradient and (for `none`) the per-pixel losses.
template <logits_source Logits, class Labels, class Conf>
    requires pixel_label_source<Labels, detail::logits_rank_v<Logits>> &&
             pixel_value_source<Conf, detail::logits_rank_v<Logits>>
[[nodiscard]] auto pseudo_label_loss(const Logits& logits, const Labels& labels,
                                     const Conf& confidence,
                                     const pseudo_label_loss_params& params = {}) {
    const auto write = [&](auto&... out) {
        return pseudo_label_loss(logits, labels, confidence, out..., params);
    };
    return detail::loss_into_tensors(logits, "pseudo_label_loss", params.reduction, write);
}

} // namespace detseg

#endif // DETSEG_SEG_PSEUDO_LABEL_HPP
