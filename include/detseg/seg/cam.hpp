#ifndef DETSEG_SEG_CAM_HPP
#define DETSEG_SEG_CAM_HPP

/// @file
/// Class activation maps: `compute_cam` (`ReLU(W·F)`, Zhou et al. 2016), `grad_cam_weights`
/// (Grad-CAM's spatial mean of gradients, Selvaraju et al. 2017), `normalize_cam` (per-class
/// max or min-max normalisation, as PSA and IRN) and `mask_cam` (keep the image-level classes).
/// Upsampling and multi-scale / flip aggregation are in `cam_aggregate.hpp`. docs/cam.md.
///
///     auto cam = detseg::compute_cam(features, fc_weights);      // K×h×w, ReLU(W·F)
///     detseg::mask_cam(cam, image_classes);                      // zero the absent classes
///     detseg::normalize_cam(cam, cam);                           // cam / (max + 1e-5)

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/seg/detail/cam_common.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Options of `compute_cam`.
struct cam_params {
    /// Apply ReLU (`max(0, ·)`) to `W·F`, as CAM and Grad-CAM do; false gives the raw scores.
    bool relu = true;
};

/// How `normalize_cam` scales each class map.
enum class cam_normalization {
    max,     ///< `x / (max + eps)` (PSA, IRN: `cam / (adaptive_max_pool2d(cam) + 1e-5)`)
    min_max, ///< `(x - min) / (max - min + eps)`
};

/// Options of `normalize_cam`.
struct cam_normalize_params {
    cam_normalization mode = cam_normalization::max;
    /// Added to the denominator; a class map of zeros stays zero. Finite, ≥ 0.
    double eps = 1e-5;
};

namespace detail {

template <class F, class W, class T>
void cam_kernel(const strided_view<const F, 3>& f, const strided_view<const W, 2>& w,
                strided_view<T, 3> out, bool relu) {
    const index_t c_in = f.extent(0), h = f.extent(1), wd = f.extent(2), k = w.extent(0);
    const index_t n = h * wd;
    parallel_for(k, [&](index_t kk) {
        std::vector<double> acc(static_cast<std::size_t>(n), 0.0);
        for (index_t c = 0; c < c_in; ++c) {
            const double wk = static_cast<double>(w(kk, c));
            for (index_t y = 0; y < h; ++y) {
                const F* row = f.data_handle() + c * f.stride(0) + y * f.stride(1);
                double* a = acc.data() + y * wd;
                const index_t sx = f.stride(2);
                for (index_t x = 0; x < wd; ++x)
                    a[x] += wk * static_cast<double>(row[x * sx]);
            }
        }
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < wd; ++x) {
                const double v = acc[static_cast<std::size_t>(y * wd + x)];
                out(kk, y, x) = static_cast<T>(relu && !(v > 0) ? 0.0 : v);
            }
    });
}

template <class F, class W>
void check_cam_args(const strided_view<const F, 3>& f, const strided_view<const W, 2>& w,
                    const char* fn) {
    DETSEG_REQUIRE(w.extent(1) == f.extent(0), fn, "weights", "has ", w.extent(1),
                   " channels, features have ", f.extent(0));
    require_finite(f, fn, "features");
    require_finite(w, fn, "weights");
}

} // namespace detail

/// Class activation maps `cam[k] = ReLU(Σ_c W[k, c] · F[c])` (Zhou et al., "Learning Deep
/// Features for Discriminative Localization", CVPR 2016), written into `out`.
///
/// @param features C×h×w feature map (float or double, any backend and strides)
/// @param weights  K×C classifier weights (one row per class, e.g. only the image's classes)
/// @param out      writable K×h×w view (any floating type)
/// The sum runs in double in channel order, then is rounded once to the output type (the
/// exactly rounded value whenever the double sum is exact to half an output ulp).
/// O(K·C·h·w) time, O(h·w) extra memory per thread; classes in parallel.
/// @throws detseg::invalid_argument if weights' C differs from the features' (argument
///         `weights`), an input has a NaN/inf, or `out` is not K×h×w.
template <class Features, class Weights, float_output<3> Out>
void compute_cam(const Features& features, const Weights& weights, Out&& out,
                 const cam_params& params = {}) {
    constexpr const char* fn = "compute_cam";
    const auto f = detail::cam_input<3>(features, fn, "features");
    const auto w = detail::cam_input<2>(weights, fn, "weights");
    detail::check_cam_args(f, w, fn);
    auto o = detail::cam_output<3>(std::forward<Out>(out), {w.extent(0), f.extent(1), f.extent(2)},
                                   fn, "out");
    detail::cam_kernel(f, w, o, params.relu);
}

/// `compute_cam` returning a K×h×w `tensor` of the common type of the inputs.
template <class Features, class Weights>
[[nodiscard]] auto compute_cam(const Features& features, const Weights& weights,
                               const cam_params& params = {}) {
    constexpr const char* fn = "compute_cam";
    const auto f = detail::cam_input<3>(features, fn, "features");
    const auto w = detail::cam_input<2>(weights, fn, "weights");
    using T =
        std::common_type_t<typename decltype(f)::value_type, typename decltype(w)::value_type>;
    detail::check_cam_args(f, w, fn);
    tensor<T, 3> out({w.extent(0), f.extent(1), f.extent(2)});
    detail::cam_kernel(f, w, out.view(), params.relu);
    return out;
}

/// Grad-CAM weights (Selvaraju et al., ICCV 2017): `α[k, c] = (1 / (h·w)) Σ_{y,x} G[k, c, y, x]`,
/// the spatial mean of the gradient of class k's score with respect to feature channel c.
/// `compute_cam(features, grad_cam_weights(gradients))` is Grad-CAM's `ReLU(Σ_c α[k,c]·F[c])`.
///
/// @param gradients K×C×h×w (one C×h×w gradient per class), float or double
/// @return K×C `tensor` of the gradients' type; the mean is summed in double in row-major order
///         and divided by h·w, then rounded once.
/// O(K·C·h·w).
/// @throws detseg::invalid_argument if h·w = 0 or a gradient is NaN/inf (argument
///         `gradients`).
template <class Gradients>
[[nodiscard]] auto grad_cam_weights(const Gradients& gradients) {
    constexpr const char* fn = "grad_cam_weights";
    const auto g = detail::cam_input<4>(gradients, fn, "gradients");
    using T = typename decltype(g)::value_type;
    const index_t k = g.extent(0), c = g.extent(1), h = g.extent(2), w = g.extent(3);
    DETSEG_REQUIRE(h * w > 0 || k * c == 0, fn, "gradients", "empty spatial extent (", h, "x", w,
                   ")");
    detail::require_finite(g, fn, "gradients");
    tensor<T, 2> out({k, c});
    for (index_t i = 0; i < k; ++i)
        for (index_t j = 0; j < c; ++j) {
            double s = 0;
            for (index_t y = 0; y < h; ++y)
                for (index_t x = 0; x < w; ++x)
                    s += static_cast<double>(g(i, j, y, x));
            out(i, j) = static_cast<T>(s / static_cast<double>(h * w));
        }
    return out;
}

namespace detail {

template <class T, class U>
void normalize_kernel(const strided_view<const T, 3>& in, strided_view<U, 3> out,
                      const cam_normalize_params& p) {
    const index_t k = in.extent(0), h = in.extent(1), w = in.extent(2);
    const T eps = static_cast<T>(p.eps);
    for (index_t c = 0; c < k; ++c) {
        if (h * w == 0)
            continue;
        T mx = in(c, 0, 0), mn = in(c, 0, 0);
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x) {
                mx = std::max(mx, in(c, y, x));
                mn = std::min(mn, in(c, y, x));
            }
        if (p.mode == cam_normalization::max) {
            const T den = mx + eps;
            for (index_t y = 0; y < h; ++y)
                for (index_t x = 0; x < w; ++x)
                    out(c, y, x) = static_cast<U>(in(c, y, x) / den);
        } else {
            const T den = (mx - mn) + eps;
            for (index_t y = 0; y < h; ++y)
                for (index_t x = 0; x < w; ++x)
                    out(c, y, x) = static_cast<U>((in(c, y, x) - mn) / den);
        }
    }
}

inline void check_normalize_params(const cam_normalize_params& p, const char* fn) {
    require_finite_param(p.eps, fn, "params", "eps");
    DETSEG_REQUIRE(p.eps >= 0, fn, "params", "eps must be >= 0, got ", p.eps);
    DETSEG_REQUIRE(p.mode == cam_normalization::max || p.mode == cam_normalization::min_max, fn,
                   "params", "unknown normalization mode");
}

} // namespace detail

/// Per-class normalisation of K×H×W maps into `out` (may be the same array as `cams`: each
/// element is read before it is written). With `max`: `x / (max_k + eps)`, the PSA/IRN rule
/// `cam / (F.adaptive_max_pool2d(cam, (1, 1)) + 1e-5)`; with `min_max`:
/// `(x - min_k) / ((max_k - min_k) + eps)`. Computed in the maps' type with these operations
/// (equal to PyTorch's float result bit for bit).
/// O(K·H·W). @throws detseg::invalid_argument for NaN/inf in `cams` or a bad eps (`params`),
/// or `out` not K×H×W.
template <class Cams, float_output<3> Out>
void normalize_cam(const Cams& cams, Out&& out, const cam_normalize_params& params = {}) {
    constexpr const char* fn = "normalize_cam";
    const auto in =
        detail::checked_cams(cams, fn, [&] { detail::check_normalize_params(params, fn); });
    auto o = detail::cam_output<3>(std::forward<Out>(out), in.extents(), fn, "out");
    detail::normalize_kernel(in, o, params);
}

/// `normalize_cam` returning a new K×H×W `tensor` of the maps' type.
template <class Cams>
[[nodiscard]] auto normalize_cam(const Cams& cams, const cam_normalize_params& params = {}) {
    constexpr const char* fn = "normalize_cam";
    const auto in =
        detail::checked_cams(cams, fn, [&] { detail::check_normalize_params(params, fn); });
    tensor<typename decltype(in)::value_type, 3> out(in.extents());
    detail::normalize_kernel(in, out.view(), params);
    return out;
}

/// Masking by image-level labels: sets every class map of `cams` (K×H×W, writable, in place)
/// whose index is not in `classes` to 0. `classes` is any rank-1 integer source (duplicates
/// allowed); an empty list zeroes every map.
/// O(K·H·W). @throws detseg::invalid_argument if a class index is outside [0, K) (argument
/// `classes`); then `cams` is unchanged.
template <class Cams, label_source Classes>
void mask_cam(Cams&& cams, const Classes& classes) {
    constexpr const char* fn = "mask_cam";
    auto v = detail::as_view_checked<3>(std::forward<Cams>(cams), fn, "cams");
    static_assert(!std::is_const_v<typename decltype(v)::element_type>,
                  "detseg::mask_cam: cams must be writable (masked in place)");
    const auto cl = detail::as_view_checked<1>(classes, fn, "classes");
    const index_t k = v.extent(0);
    std::vector<char> keep(static_cast<std::size_t>(k), 0);
    for (index_t i = 0; i < cl.extent(0); ++i) {
        const auto c = static_cast<long long>(cl[i]);
        DETSEG_REQUIRE(c >= 0 && c < static_cast<long long>(k), fn, "classes", "class ", c,
                       " at position ", i, " is outside [0, ", k, ")");
        keep[static_cast<std::size_t>(c)] = 1;
    }
    using E = typename decltype(v)::value_type;
    for (index_t c = 0; c < k; ++c)
        if (!keep[static_cast<std::size_t>(c)])
            for (index_t y = 0; y < v.extent(1); ++y)
                for (index_t x = 0; x < v.extent(2); ++x)
                    v(c, y, x) = E(0);
}

} // namespace detseg

#endif // DETSEG_SEG_CAM_HPP
