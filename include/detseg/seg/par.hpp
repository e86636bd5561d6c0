#ifndef DETSEG_SEG_PAR_HPP
#define DETSEG_SEG_PAR_HPP

/// @file
/// Pixel-adaptive refinement (PAR) of class maps with image-colour affinities over dilated
/// neighbourhoods (Ru et al., "Learning Affinity from Attention", CVPR 2022, used by ToCo,
/// CVPR 2023). With neighbours N(i) of pixel i = the 8 pixels at (±d or 0, ±d or 0) ≠ (0, 0)
/// for each dilation d (coordinates clamped to the image: replicate padding), J = 8·|D| of
/// them, in the order dilation by dilation, then (-d,-d), (-d,0), (-d,d), (0,-d), (0,d),
/// (d,-d), (d,0), (d,d) as (dy, dx):
///
///     σ_i,c   = unbiased standard deviation of I_j,c over j ∈ N(i)
///     κ_ij    = (1/C) Σ_c -(|I_i,c - I_j,c| / (σ_i,c + 1e-8) / w_color)²
///     ρ_j     = d (axial) or d·√2 (diagonal);  σ_ρ = unbiased std of ρ over N(i)
///     κ^pos_j = -(ρ_j / (σ_ρ + 1e-8) / w_color)²
///     a_ij    = softmax_j(κ_ij) + w_pos · softmax_j(κ^pos_j)
///     m_c(i) ← Σ_{j ∈ N(i)} a_ij · m_c(j)           repeated `iterations` times
///
/// ToCo's defaults: dilations {1, 2, 4, 8, 12, 24}, 10 iterations, w_color = 0.3, w_pos = 0.01.
/// The weights of a pixel sum to 1 + w_pos (as in the reference). ToCo first resizes the maps to
/// the image size with `align_corners=True` (`resize_bilinear`).

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/seg/detail/cam_common.hpp>
#include <detseg/seg/detail/random_walk_kernel.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Options of `par_refine` (ToCo's defaults).
struct par_params {
    /// Dilations d ≥ 1 of the 8-neighbourhoods.
    std::vector<index_t> dilations = {1, 2, 4, 8, 12, 24};
    /// Number of refinement iterations ≥ 0.
    index_t iterations = 10;
    /// Scale of the colour and position terms (w1); finite, > 0.
    double w_color = 0.3;
    /// Weight of the position term (w2); finite, ≥ 0.
    double w_pos = 0.01;
};

namespace detail {

/// The J neighbour offsets of PAR in order.
[[nodiscard]] inline std::vector<std::pair<index_t, index_t>>
par_offsets(const std::vector<index_t>& dilations) {
    std::vector<std::pair<index_t, index_t>> out;
    for (index_t d : dilations)
        for (index_t dy : {-d, index_t{0}, d})
            for (index_t dx : {-d, index_t{0}, d})
                if (dy != 0 || dx != 0)
                    out.emplace_back(dy, dx);
    return out;
}

/// PAR's weights a(j, p) (J×H×W, row-major planes) from a C×H×W image.
template <class T, class I>
std::vector<T> par_weights(const strided_view<const I, 3>& img, const par_params& p) {
    const index_t c = img.extent(0), h = img.extent(1), w = img.extent(2);
    const auto offs = par_offsets(p.dilations);
    const index_t nj = static_cast<index_t>(offs.size());
    // Position term: the same for every pixel.
    std::vector<double> rho(static_cast<std::size_t>(nj)), pos(static_cast<std::size_t>(nj));
    double mean = 0;
    for (index_t j = 0; j < nj; ++j) {
        const auto [dy, dx] = offs[static_cast<std::size_t>(j)];
        const double d = static_cast<double>(std::max(std::abs(dy), std::abs(dx)));
        rho[static_cast<std::size_t>(j)] = dy != 0 && dx != 0 ? d * std::sqrt(2.0) : d;
        mean += rho[static_cast<std::size_t>(j)];
    }
    mean /= static_cast<double>(nj);
    double var = 0;
    for (double r : rho)
        var += (r - mean) * (r - mean);
    const double sd_rho = std::sqrt(var / static_cast<double>(nj - 1));
    double mx = -HUGE_VAL;
    for (index_t j = 0; j < nj; ++j) {
        const double z = rho[static_cast<std::size_t>(j)] / (sd_rho + 1e-8) / p.w_color;
        pos[static_cast<std::size_t>(j)] = -(z * z);
        mx = std::max(mx, pos[static_cast<std::size_t>(j)]);
    }
    double se = 0;
    for (double& v : pos) {
        v = std::exp(v - mx);
        se += v;
    }
    for (double& v : pos)
        v = p.w_pos * (v / se);

    std::vector<T> wts(static_cast<std::size_t>(nj * h * w));
    parallel_for_chunks(h, 4, [&](index_t y0, index_t y1) {
        std::vector<double> vals(static_cast<std::size_t>(nj * c)),
            kappa(static_cast<std::size_t>(nj));
        std::vector<double> sd(static_cast<std::size_t>(c));
        for (index_t y = y0; y < y1; ++y)
            for (index_t x = 0; x < w; ++x) {
                for (index_t j = 0; j < nj; ++j) {
                    const auto [dy, dx] = offs[static_cast<std::size_t>(j)];
                    const index_t yy = std::clamp(y + dy, index_t{0}, h - 1);
                    const index_t xx = std::clamp(x + dx, index_t{0}, w - 1);
                    for (index_t k = 0; k < c; ++k)
                        vals[static_cast<std::size_t>(k * nj + j)] =
                            static_cast<double>(img(k, yy, xx));
                }
                for (index_t k = 0; k < c; ++k) {
                    const double* v = vals.data() + k * nj;
                    double m = 0;
                    for (index_t j = 0; j < nj; ++j)
                        m += v[j];
                    m /= static_cast<double>(nj);
                    double s = 0;
                    for (index_t j = 0; j < nj; ++j)
                        s += (v[j] - m) * (v[j] - m);
                    sd[static_cast<std::size_t>(k)] = std::sqrt(s / static_cast<double>(nj - 1));
                }
                double kmax = -HUGE_VAL;
                for (index_t j = 0; j < nj; ++j) {
                    double s = 0;
                    for (index_t k = 0; k < c; ++k) {
                        const double z = std::abs(static_cast<double>(img(k, y, x)) -
                                                  vals[static_cast<std::size_t>(k * nj + j)]) /
                                         (sd[static_cast<std::size_t>(k)] + 1e-8) / p.w_color;
                        s += -(z * z);
                    }
                    kappa[static_cast<std::size_t>(j)] = c > 0 ? s / static_cast<double>(c) : 0.0;
                    kmax = std::max(kmax, kappa[static_cast<std::size_t>(j)]);
                }
                double sum = 0;
                for (double& v : kappa) {
                    v = std::exp(v - kmax);
                    sum += v;
                }
                for (index_t j = 0; j < nj; ++j)
                    wts[static_cast<std::size_t>((j * h + y) * w + x)] =
                        static_cast<T>(kappa[static_cast<std::size_t>(j)] / sum +
                                       pos[static_cast<std::size_t>(j)]);
            }
    });
    return wts;
}

/// Refreshes the replicate border (width `pad`) of C padded planes around their H×W interior.
template <class T>
void replicate_border(T* planes, index_t c, index_t h, index_t w, index_t pad) {
    const index_t pitch = w + 2 * pad, plane = (h + 2 * pad) * pitch;
    for (index_t k = 0; k < c; ++k) {
        T* b = planes + k * plane;
        for (index_t y = pad; y < pad + h; ++y) {
            T* row = b + y * pitch;
            for (index_t x = 0; x < pad; ++x) {
                row[x] = row[pad];
                row[pad + w + x] = row[pad + w - 1];
            }
        }
        for (index_t y = 0; y < pad; ++y) {
            std::copy(b + pad * pitch, b + (pad + 1) * pitch, b + y * pitch);
            std::copy(b + (pad + h - 1) * pitch, b + (pad + h) * pitch, b + (pad + h + y) * pitch);
        }
    }
}

template <class T, class I, class M, class Out>
void par_into(const strided_view<const I, 3>& img, const strided_view<const M, 3>& m, Out o,
              const par_params& p) {
    const index_t c = m.extent(0), h = m.extent(1), w = m.extent(2);
    index_t pad = 0;
    for (index_t d : p.dilations)
        pad = std::max(pad, d);
    const auto wts = par_weights<T>(img, p);
    const auto offs = par_offsets(p.dilations);
    const index_t pitch = w + 2 * pad, plane = (h + 2 * pad) * pitch;
    std::vector<T> a = padded_planes<T>(m, pad), b(a.size(), T(0));
    std::vector<index_t> disp;
    for (const auto& [dy, dx] : offs)
        disp.push_back(dy * pitch + dx);
    const rw_step<T> s{
        wts.data(), disp.data(), static_cast<index_t>(disp.size()), h * w, w, pitch, plane, c, pad};
    T* cur = a.data();
    T* nxt = b.data();
    const index_t grain = w > 0 ? (16384 + w - 1) / w : 1;
    for (index_t t = 0; t < p.iterations; ++t) {
        replicate_border(cur, c, h, w, pad);
        parallel_for_chunks(h, grain,
                            [&](index_t y0, index_t y1) { rw_rows(s, cur, nxt, y0, y1); });
        std::swap(cur, nxt);
    }
    unpad_planes(cur, pad, o);
}

template <class I, class M>
void check_par(const strided_view<const I, 3>& img, const strided_view<const M, 3>& m,
               const par_params& p, const char* fn) {
    DETSEG_REQUIRE(img.extent(1) == m.extent(1) && img.extent(2) == m.extent(2), fn, "masks",
                   "masks are ", m.extent(1), "x", m.extent(2), ", the image is ", img.extent(1),
                   "x", img.extent(2));
    DETSEG_REQUIRE(!p.dilations.empty(), fn, "params", "no dilations");
    for (index_t d : p.dilations)
        DETSEG_REQUIRE(d >= 1, fn, "params", "dilations must be >= 1, got ", d);
    DETSEG_REQUIRE(p.iterations >= 0, fn, "params", "iterations must be >= 0, got ", p.iterations);
    require_finite_param(p.w_color, fn, "params", "w_color");
    require_finite_param(p.w_pos, fn, "params", "w_pos");
    DETSEG_REQUIRE(p.w_color > 0, fn, "params", "w_color must be > 0, got ", p.w_color);
    DETSEG_REQUIRE(p.w_pos >= 0, fn, "params", "w_pos must be >= 0, got ", p.w_pos);
    for (index_t k = 0; k < img.extent(0); ++k)
        for (index_t y = 0; y < img.extent(1); ++y)
            for (index_t x = 0; x < img.extent(2); ++x)
                DETSEG_REQUIRE(std::isfinite(static_cast<double>(img(k, y, x))), fn, "image",
                               "non-finite value at (", k, ", ", y, ", ", x, ")");
    require_finite(m, fn, "masks");
}

template <class S>
[[nodiscard]] auto par_image(const S& src, const char* fn) {
    auto v = as_view_checked<3>(src, fn, "image");
    using V = std::remove_cvref_t<decltype(v)>;
    static_assert(is_strided_view_v<V> && std::is_arithmetic_v<typename V::value_type>,
                  "detseg::par_refine: the image must be a C×H×W array of numbers");
    return strided_view<const typename V::value_type, 3>(v);
}

} // namespace detail

/// Pixel-adaptive refinement of K×H×W maps with the colours of a C×H×W image (any arithmetic
/// type; an H×W×C image through strides), written into `out` (K×H×W); see the file comment.
/// The affinities are computed in double, then stored in the maps' type, in which the
/// iterations run (same kernel as `random_walk`, same result for any thread count).
/// O(H·W·J·(C + K·iterations)) time, O(H·W·J) memory, J = 8·|dilations|.
/// @throws detseg::invalid_argument if the maps' H×W differs from the image's (`masks`), a value
///         is NaN/inf (`image`, `masks`), a dilation < 1, no dilation, iterations < 0,
///         w_color ≤ 0 or w_pos < 0 or non-finite (`params`), or `out` is not K×H×W.
template <class Image, class Masks, float_output<3> Out>
void par_refine(const Image& image, const Masks& masks, Out&& out, const par_params& params = {}) {
    constexpr const char* fn = "par_refine";
    const auto img = detail::par_image(image, fn);
    const auto m = detail::cam_input<3>(masks, fn, "masks");
    detail::check_par(img, m, params, fn);
    auto o = detail::cam_output<3>(std::forward<Out>(out), m.extents(), fn, "out");
    detail::par_into<typename decltype(m)::value_type>(img, m, o, params);
}

/// `par_refine` returning a K×H×W `tensor` of the maps' type.
template <class Image, class Masks>
[[nodiscard]] auto par_refine(const Image& image, const Masks& masks,
                              const par_params& params = {}) {
    constexpr const char* fn = "par_refine";
    const auto img = detail::par_image(image, fn);
    const auto m = detail::cam_input<3>(masks, fn, "masks");
    detail::check_par(img, m, params, fn);
    using T = typename decltype(m)::value_type;
    tensor<T, 3> out(m.extents());
    detail::par_into<T>(img, m, out.view(), params);
    return out;
}

} // namespace detseg

#endif // DETSEG_SEG_PAR_HPP
