#ifndef DETSEG_SEG_CAM_LABELS_HPP
#define DETSEG_SEG_CAM_LABELS_HPP

/// @file
/// From class activation maps to pixel labels. Channel k of the K×H×W foreground CAMs is label
/// `k + 1`; label 0 is the background (the VOC convention of PSA and IRN; zero the maps of
/// classes absent from the image first, `mask_cam`).
///
/// - `cam_background`: the background score map, a constant (IRN's `cam_eval` threshold) or
///   PSA's `(1 - max_k CAM)^α`; `cam_with_background` stacks it in front of the CAMs
///   ((K+1)×H×W, the input of PSA's random walk).
/// - `cam_to_labels`: argmax over [background, CAM_1, ..., CAM_K] (ties to the lower label, so
///   to the background).
/// - `argmax_labels`: argmax over score maps that include the background (after refinement).
/// - `cam_to_dual_labels`: IRN's confident labels with an ignore band: the argmax class where
///   `max_k CAM > fg_threshold`, background where `max_k CAM <= bg_threshold`, the ignore index
///   in between (IRN's `conf_fg_thres = 0.30`, `conf_bg_thres = 0.05`).
///
///     auto labels = detseg::cam_to_labels(cams, {.threshold = 0.16});  // H×W uint8
///     auto ir = detseg::cam_to_dual_labels(cams, {.fg_threshold = 0.30, .bg_threshold = 0.05});

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/seg/detail/cam_common.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace detseg {

/// How the background score is made from the foreground CAMs.
enum class cam_background_mode {
    constant, ///< `threshold` everywhere (IRN `cam_eval`: `np.pad(cams, ..., constant_values=t)`)
    power,    ///< `max(0, 1 - max_k CAM)^alpha` (PSA, Ahn & Kwak 2018)
};

/// Options of `cam_background`, `cam_with_background` and `cam_to_labels`.
struct cam_label_params {
    cam_background_mode background = cam_background_mode::constant;
    /// Background score of the constant mode; finite.
    double threshold = 0.15;
    /// Exponent α of the power mode (PSA uses 4 to 32); finite and > 0.
    double alpha = 16.0;
};

/// Options of `cam_to_dual_labels`.
struct dual_threshold_params {
    /// Confident foreground where `max_k CAM > fg_threshold` (IRN `conf_fg_thres`).
    double fg_threshold = 0.30;
    /// Confident background where `max_k CAM <= bg_threshold` (IRN `conf_bg_thres`); must not
    /// exceed `fg_threshold`.
    double bg_threshold = 0.05;
    /// Label of the pixels in between; must not be a label 0..K and must fit the label type.
    index_t ignore_index = 255;
};

namespace detail {

inline void check_label_params(const cam_label_params& p, const char* fn) {
    DETSEG_REQUIRE(p.background == cam_background_mode::constant ||
                       p.background == cam_background_mode::power,
                   fn, "params", "unknown background mode");
    require_finite_param(p.threshold, fn, "params", "threshold");
    require_finite_param(p.alpha, fn, "params", "alpha");
    DETSEG_REQUIRE(p.alpha > 0, fn, "params", "alpha must be > 0, got ", p.alpha);
}

/// Background score from the largest CAM value `m`, in T: `threshold`, or
/// `pow(max(0, 1 - m), alpha)`.
template <class T>
[[nodiscard]] inline T background_score(T m, const cam_label_params& p) noexcept {
    if (p.background == cam_background_mode::constant)
        return static_cast<T>(p.threshold);
    const T base = T(1) - m;
    return std::pow(base > T(0) ? base : T(0), static_cast<T>(p.alpha));
}

/// Calls f(y, x, max value, argmax channel) for every pixel of a K×H×W view (K ≥ 1).
template <class T, class F>
void for_each_pixel_max(const strided_view<const T, 3>& v, F&& f) {
    const index_t k = v.extent(0), h = v.extent(1), w = v.extent(2);
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x) {
            const T* p = v.data_handle() + y * v.stride(1) + x * v.stride(2);
            const auto [m, a] = channel_max(p, k, v.stride(0));
            f(y, x, m, a);
        }
}

template <class T, class Out>
void background_into(const strided_view<const T, 3>& v, Out o, const cam_label_params& p) {
    if (v.extent(0) == 0) {
        for (index_t y = 0; y < v.extent(1); ++y)
            for (index_t x = 0; x < v.extent(2); ++x)
                o(y, x) = static_cast<typename Out::value_type>(background_score(T(0), p));
        return;
    }
    for_each_pixel_max(v, [&](index_t y, index_t x, T m, index_t) {
        o(y, x) = static_cast<typename Out::value_type>(background_score(m, p));
    });
}

template <class T, class Out>
void labels_into(const strided_view<const T, 3>& v, Out o, const cam_label_params& p) {
    using L = typename Out::value_type;
    if (v.extent(0) == 0) {
        for (index_t y = 0; y < v.extent(1); ++y)
            for (index_t x = 0; x < v.extent(2); ++x)
                o(y, x) = L(0);
        return;
    }
    for_each_pixel_max(v, [&](index_t y, index_t x, T m, index_t a) {
        o(y, x) = m > background_score(m, p) ? static_cast<L>(a + 1) : L(0);
    });
}

template <class T, class Out>
void dual_labels_into(const strided_view<const T, 3>& v, Out o, const dual_threshold_params& p) {
    using L = typename Out::value_type;
    const T fg = static_cast<T>(p.fg_threshold), bg = static_cast<T>(p.bg_threshold);
    if (v.extent(0) == 0) {
        for (index_t y = 0; y < v.extent(1); ++y)
            for (index_t x = 0; x < v.extent(2); ++x)
                o(y, x) = bg >= T(0) ? L(0) : static_cast<L>(p.ignore_index);
        return;
    }
    for_each_pixel_max(v, [&](index_t y, index_t x, T m, index_t a) {
        o(y, x) =
            m > fg ? static_cast<L>(a + 1) : (m <= bg ? L(0) : static_cast<L>(p.ignore_index));
    });
}

inline void check_dual_params(const dual_threshold_params& p, const char* fn) {
    require_finite_param(p.fg_threshold, fn, "params", "fg_threshold");
    require_finite_param(p.bg_threshold, fn, "params", "bg_threshold");
    DETSEG_REQUIRE(p.bg_threshold <= p.fg_threshold, fn, "params", "bg_threshold (", p.bg_threshold,
                   ") exceeds fg_threshold (", p.fg_threshold, ")");
}

template <class Out>
[[nodiscard]] auto label_output(Out&& out, index_t h, index_t w, const char* fn) {
    auto o = cam_output<2>(std::forward<Out>(out), {h, w}, fn, "out");
    static_assert(std::is_integral_v<typename decltype(o)::value_type>,
                  "detseg: label outputs must hold integers");
    return o;
}

} // namespace detail

/// Background score map (H×W) of K×H×W CAMs, see `cam_background_mode`; the power mode clamps
/// `1 - max` at 0 (PSA's code gives NaN there for maps above 1). With K = 0, `max` is 0.
/// O(K·H·W). @throws detseg::invalid_argument for NaN/inf in `cams`, a bad parameter
/// (`params`), or `out` not H×W.
template <class Cams, float_output<2> Out>
void cam_background(const Cams& cams, Out&& out, const cam_label_params& params = {}) {
    constexpr const char* fn = "cam_background";
    const auto v = detail::checked_cams(cams, fn, [&] { detail::check_label_params(params, fn); });
    auto o = detail::cam_output<2>(std::forward<Out>(out), {v.extent(1), v.extent(2)}, fn, "out");
    detail::background_into(v, o, params);
}

/// `cam_background` returning an H×W `tensor` of the maps' type.
template <class Cams>
[[nodiscard]] auto cam_background(const Cams& cams, const cam_label_params& params = {}) {
    constexpr const char* fn = "cam_background";
    const auto v = detail::checked_cams(cams, fn, [&] { detail::check_label_params(params, fn); });
    tensor<typename decltype(v)::value_type, 2> out({v.extent(1), v.extent(2)});
    detail::background_into(v, out.view(), params);
    return out;
}

/// The (K+1)×H×W stack [background, CAM_1, ..., CAM_K] (PSA's input to the random walk), as a
/// `tensor` of the maps' type. O(K·H·W). @throws as `cam_background`.
template <class Cams>
[[nodiscard]] auto cam_with_background(const Cams& cams, const cam_label_params& params = {}) {
    constexpr const char* fn = "cam_with_background";
    const auto v = detail::checked_cams(cams, fn, [&] { detail::check_label_params(params, fn); });
    using T = typename decltype(v)::value_type;
    const index_t k = v.extent(0), h = v.extent(1), w = v.extent(2);
    tensor<T, 3> out({k + 1, h, w});
    auto ov = out.view();
    detail::background_into(v, strided_view<T, 2>(ov.data_handle(), {h, w}), params);
    for (index_t c = 0; c < k; ++c)
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x)
                ov(c + 1, y, x) = v(c, y, x);
    return out;
}

/// Pseudo labels from K×H×W foreground CAMs: label `k + 1` where channel k has the largest CAM
/// and exceeds the background score (`cam_background`), else 0. Ties go to the lower label
/// (`torch.argmax` / `np.argmax` over the stack with the background first).
/// @param out writable H×W integer view; labels 0..K must fit its type
/// O(K·H·W). @throws detseg::invalid_argument for NaN/inf in `cams`, a bad parameter, `out`
/// not H×W or too narrow for label K.
template <class Cams, class Out>
void cam_to_labels(const Cams& cams, Out&& out, const cam_label_params& params = {}) {
    constexpr const char* fn = "cam_to_labels";
    const auto v = detail::checked_cams(cams, fn, [&] { detail::check_label_params(params, fn); });
    auto o = detail::label_output(std::forward<Out>(out), v.extent(1), v.extent(2), fn);
    detail::check_label_range<typename decltype(o)::value_type>(v.extent(0), std::nullopt, fn);
    detail::labels_into(v, o, params);
}

/// `cam_to_labels` returning an H×W `tensor<Label, 2>` (default `std::uint8_t`).
template <class Label = std::uint8_t, class Cams>
[[nodiscard]] tensor<Label, 2> cam_to_labels(const Cams& cams,
                                             const cam_label_params& params = {}) {
    const auto v = detail::cam_input<3>(cams, "cam_to_labels", "cams");
    tensor<Label, 2> out({v.extent(1), v.extent(2)});
    cam_to_labels(v, out, params);
    return out;
}

/// IRN's confident pseudo labels with an ignore band (Ahn, Cho & Kwak, CVPR 2019,
/// `cam_to_ir_label` without its CRF): at each pixel with `m = max_k CAM` (first argmax `a`),
/// label `a + 1` if `m > fg_threshold`, 0 if `m <= bg_threshold`, `ignore_index` otherwise.
/// Thresholds are rounded to the maps' type before comparing (as numpy's padding does).
/// O(K·H·W). @throws detseg::invalid_argument for NaN/inf in `cams`, non-finite thresholds or
/// `bg_threshold > fg_threshold` (`params`), an ignore index equal to a label or not fitting
/// the label type (`params`), `out` not H×W or too narrow (`out`).
template <class Cams, class Out>
void cam_to_dual_labels(const Cams& cams, Out&& out, const dual_threshold_params& params = {}) {
    constexpr const char* fn = "cam_to_dual_labels";
    const auto v = detail::checked_cams(cams, fn, [&] { detail::check_dual_params(params, fn); });
    auto o = detail::label_output(std::forward<Out>(out), v.extent(1), v.extent(2), fn);
    detail::check_label_range<typename decltype(o)::value_type>(v.extent(0), params.ignore_index,
                                                                fn);
    detail::dual_labels_into(v, o, params);
}

/// `cam_to_dual_labels` returning an H×W `tensor<Label, 2>` (default `std::uint8_t`).
template <class Label = std::uint8_t, class Cams>
[[nodiscard]] tensor<Label, 2> cam_to_dual_labels(const Cams& cams,
                                                  const dual_threshold_params& params = {}) {
    const auto v = detail::cam_input<3>(cams, "cam_to_dual_labels", "cams");
    tensor<Label, 2> out({v.extent(1), v.extent(2)});
    cam_to_dual_labels(v, out, params);
    return out;
}

/// Labels from score maps that already include the background: at each pixel the index of the
/// largest of the S×H×W scores (the first on ties), e.g. the (K+1)×H×W output of a random
/// walk on `cam_with_background` (PSA) or of `par_refine`.
/// @param out writable H×W integer view; labels 0..S-1 must fit its type
/// O(S·H·W). @throws detseg::invalid_argument if S = 0 or a score is NaN/inf (`scores`), or
/// `out` is not H×W or too narrow (`out`).
template <class Scores, class Out>
void argmax_labels(const Scores& scores, Out&& out) {
    constexpr const char* fn = "argmax_labels";
    const auto v = detail::cam_input<3>(scores, fn, "scores");
    DETSEG_REQUIRE(v.extent(0) >= 1, fn, "scores", "no score maps");
    detail::require_finite(v, fn, "scores");
    auto o = detail::label_output(std::forward<Out>(out), v.extent(1), v.extent(2), fn);
    using L = typename decltype(o)::value_type;
    detail::check_label_range<L>(v.extent(0) - 1, std::nullopt, fn);
    detail::for_each_pixel_max(
        v, [&](index_t y, index_t x, auto, index_t a) { o(y, x) = static_cast<L>(a); });
}

/// `argmax_labels` returning an H×W `tensor<Label, 2>` (default `std::uint8_t`).
template <class Label = std::uint8_t, class Scores>
[[nodiscard]] tensor<Label, 2> argmax_labels(const Scores& scores) {
    const auto v = detail::cam_input<3>(scores, "argmax_labels", "scores");
    tensor<Label, 2> out({v.extent(1), v.extent(2)});
    argmax_labels(v, out);
    return out;
}

} // namespace detseg

#endif // DETSEG_SEG_CAM_LABELS_HPP
