#ifndef DETSEG_SEG_AFFINITY_HPP
#define DETSEG_SEG_AFFINITY_HPP

/// @file
/// The transition matrix of the affinity random walk, `T = D⁻¹ A^β`, stored sparsely: one
/// weight per pixel and neighbour offset within a radius (memory O(pixels × neighbours), never
/// N×N). Three ways to get the affinities A:
///
/// - `psa_transition`: from a feature map, `a_ij = exp(-‖f_i - f_j‖₁)` (AffinityNet / PSA, Ahn &
///   Kwak, CVPR 2018; PSA's released code uses the channel mean instead of the sum:
///   `feature_distance::l1_mean`);
/// - `boundary_transition`: from a boundary map B in [0, 1], `a_ij = 1 - max_{k ∈ Π_ij} B_k`
///   over the pixels Π_ij on the line between i and j (IRN, Ahn, Cho & Kwak, CVPR 2019);
/// - `affinity_transition`: from given affinities of the forward offsets (`affinity_offsets`),
///   e.g. a network's output.
///
/// In all three, pairs i, j within the radius (`dy² + dx² < r²`) and both inside the image are
/// neighbours; the affinity is symmetric (`a_ji = a_ij`), `a_ii = 1`; other pairs have affinity
/// 0. Then `A^β` is taken element-wise, `D_i = Σ_j a_ij^β` and `T_ij = a_ij^β / D_i`.
/// `random_walk.hpp` applies T.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/seg/detail/cam_common.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// A displacement between two pixels: `dy` rows down, `dx` columns right.
struct pixel_offset {
    index_t dy = 0;
    index_t dx = 0;
    friend bool operator==(const pixel_offset&, const pixel_offset&) = default;
};

/// The "forward" half of the neighbourhood of radius r, in the order of PSA's and IRN's
/// `get_search_paths_dst` / `get_indices_of_pairs`: (0, 1) ... (0, r-1), then for dy = 1 ... r-1
/// every dx = -(r-1) ... r-1 with dy² + dx² < r². The full neighbourhood is these, their
/// negations and (0, 0). Radius 5 gives 34 offsets (69 in the full disk).
[[nodiscard]] inline std::vector<pixel_offset> affinity_offsets(index_t radius) {
    std::vector<pixel_offset> out;
    for (index_t dx = 1; dx < radius; ++dx)
        out.push_back({0, dx});
    for (index_t dy = 1; dy < radius; ++dy)
        for (index_t dx = -radius + 1; dx < radius; ++dx)
            if (dx * dx + dy * dy < radius * radius)
                out.push_back({dy, dx});
    return out;
}

namespace detail {

/// Every offset of the disk dy² + dx² < r² in raster order (dy, then dx), (0, 0) included.
[[nodiscard]] inline std::vector<pixel_offset> full_disk_offsets(index_t radius) {
    std::vector<pixel_offset> out;
    for (index_t dy = -radius + 1; dy < radius; ++dy)
        for (index_t dx = -radius + 1; dx < radius; ++dx)
            if (dx * dx + dy * dy < radius * radius)
                out.push_back({dy, dx});
    return out;
}

/// IRN's path between pixel (0, 0) and `d`: the pixels (y, x) of the bounding box of the two
/// whose centre lies at distance < 1 from the line through both centres,
/// `(d.dy·x - d.dx·y)² < d.dy² + d.dx²`. Both end pixels belong to it.
[[nodiscard]] inline std::vector<pixel_offset> path_pixels(pixel_offset d) {
    std::vector<pixel_offset> out;
    const index_t len2 = d.dy * d.dy + d.dx * d.dx;
    const index_t y0 = d.dy < 0 ? d.dy : 0, y1 = d.dy < 0 ? 0 : d.dy;
    const index_t x0 = d.dx < 0 ? d.dx : 0, x1 = d.dx < 0 ? 0 : d.dx;
    for (index_t y = y0; y <= y1; ++y)
        for (index_t x = x0; x <= x1; ++x) {
            const index_t cross = d.dy * x - d.dx * y;
            if (cross * cross < len2)
                out.push_back({y, x});
        }
    return out;
}

} // namespace detail

/// The distance between two feature vectors in `psa_transition`.
enum class feature_distance {
    l1,      ///< `Σ_c |f_i,c - f_j,c|` (the AffinityNet paper)
    l1_mean, ///< `(1/C) Σ_c |f_i,c - f_j,c|` (PSA's code: `exp(-mean(|ff - x|))`)
};

/// Options of `psa_transition` and `affinity_transition`.
struct affinity_params {
    /// Neighbours are the pixels at `dy² + dx² < radius²`; ≥ 1 (PSA and IRN use 5).
    index_t radius = 5;
    /// Power β of the affinities (PSA: 8); finite and > 0.
    double beta = 8.0;
    /// Feature distance of `psa_transition`.
    feature_distance distance = feature_distance::l1;
};

/// Options of `boundary_transition` (IRN's defaults).
struct boundary_affinity_params {
    index_t radius = 5; ///< as `affinity_params::radius`
    double beta = 10.0; ///< power β (IRN: 10); finite and > 0
};

/// `T = D⁻¹ A^β` on an H×W grid, as one weight per pixel and offset of the full disk.
/// Built by `psa_transition`, `boundary_transition` or `affinity_transition`; used by
/// `random_walk`. Every row of T sums to 1 (up to rounding) and has non-negative weights.
template <class T>
class random_walk_transition {
public:
    random_walk_transition() = default;

    [[nodiscard]] index_t height() const noexcept { return h_; }
    [[nodiscard]] index_t width() const noexcept { return w_; }
    [[nodiscard]] index_t radius() const noexcept { return r_; }
    /// The offsets of the full disk in raster order (dy, then dx), (0, 0) included.
    [[nodiscard]] const std::vector<pixel_offset>& offsets() const noexcept { return offsets_; }
    /// O×H×W: `weights()(o, y, x)` = T between pixel (y, x) and (y, x) + `offsets()[o]`
    /// (0 where that pixel is outside the image).
    [[nodiscard]] strided_view<const T, 3> weights() const noexcept {
        return {w_data_.data(), {static_cast<index_t>(offsets_.size()), h_, w_}};
    }

    /// T on an H×W grid from a callable `a(j, y, x)` (returning a number ≥ 0): the affinity
    /// between pixel (y, x) and (y, x) + `affinity_offsets(radius)[j]`, called only where that
    /// pixel is inside the image. `a_ij^β` and the row sums are computed in double, the weights
    /// rounded once to T. O(H·W·r²).
    /// @throws detseg::invalid_argument (function `random_walk_transition::from_affinities`) if
    ///         H or W < 0 (`height`, `width`), radius not in [1, 64] or β not finite and > 0
    ///         (`params`).
    template <class Affinity>
    static random_walk_transition from_affinities(index_t h, index_t w, index_t radius, double beta,
                                                  Affinity&& a) {
        constexpr const char* fn = "random_walk_transition::from_affinities";
        DETSEG_REQUIRE(h >= 0, fn, "height", "must be >= 0, got ", h);
        DETSEG_REQUIRE(w >= 0, fn, "width", "must be >= 0, got ", w);
        DETSEG_REQUIRE(radius >= 1 && radius <= 64, fn, "params", "radius must be in [1, 64], got ",
                       radius);
        DETSEG_REQUIRE(std::isfinite(beta) && beta > 0, fn, "params",
                       "beta must be finite and > 0, got ", beta);
        random_walk_transition t;
        t.h_ = h;
        t.w_ = w;
        t.r_ = radius;
        t.offsets_ = detail::full_disk_offsets(radius);
        const auto half = affinity_offsets(radius);
        const index_t n = h * w, no = static_cast<index_t>(t.offsets_.size());
        t.w_data_.assign(static_cast<std::size_t>(no * n), T(0));
        // For each full offset: the half index and whether it is the negated one.
        std::vector<index_t> which(static_cast<std::size_t>(no), -1);
        std::vector<char> negated(static_cast<std::size_t>(no), 0);
        for (index_t o = 0; o < no; ++o) {
            const auto d = t.offsets_[static_cast<std::size_t>(o)];
            for (std::size_t j = 0; j < half.size(); ++j) {
                if (half[j] == d) {
                    which[static_cast<std::size_t>(o)] = static_cast<index_t>(j);
                } else if (half[j].dy == -d.dy && half[j].dx == -d.dx) {
                    which[static_cast<std::size_t>(o)] = static_cast<index_t>(j);
                    negated[static_cast<std::size_t>(o)] = 1;
                }
            }
        }
        parallel_for_chunks(h, 8, [&](index_t y0, index_t y1) {
            std::vector<double> row(static_cast<std::size_t>(no));
            for (index_t y = y0; y < y1; ++y)
                for (index_t x = 0; x < w; ++x) {
                    double sum = 0;
                    for (index_t o = 0; o < no; ++o) {
                        const auto d = t.offsets_[static_cast<std::size_t>(o)];
                        const index_t yy = y + d.dy, xx = x + d.dx;
                        double v = 0;
                        if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                            const index_t j = which[static_cast<std::size_t>(o)];
                            if (j < 0)
                                v = 1.0; // a_ii
                            else if (negated[static_cast<std::size_t>(o)])
                                v = std::pow(static_cast<double>(a(j, yy, xx)), beta);
                            else
                                v = std::pow(static_cast<double>(a(j, y, x)), beta);
                        }
                        row[static_cast<std::size_t>(o)] = v;
                        sum += v;
                    }
                    for (index_t o = 0; o < no; ++o)
                        t.w_data_[static_cast<std::size_t>(o * n + y * w + x)] =
                            static_cast<T>(row[static_cast<std::size_t>(o)] / sum);
                }
        });
        return t;
    }

private:
    index_t h_ = 0, w_ = 0, r_ = 0;
    std::vector<pixel_offset> offsets_;
    std::vector<T> w_data_;
};

namespace detail {

inline void check_transition_params(index_t radius, double beta, const char* fn) {
    DETSEG_REQUIRE(radius >= 1, fn, "params", "radius must be >= 1, got ", radius);
    DETSEG_REQUIRE(radius <= 64, fn, "params", "radius must be <= 64, got ", radius);
    require_finite_param(beta, fn, "params", "beta");
    DETSEG_REQUIRE(beta > 0, fn, "params", "beta must be > 0, got ", beta);
}

/// The transition matrix (`T = D⁻¹ A^β`) from the affinities `pair(j, y, x, y', x')` of the
/// in-image pairs (y, x) ~ (y', x') = (y, x) + `half[j]`, evaluated in double with rows in
/// parallel (each entry written once: the same result for any thread count).
template <class T, class Pair>
[[nodiscard]] random_walk_transition<T>
transition_from_pairs(index_t h, index_t w, index_t radius, double beta,
                      const std::vector<pixel_offset>& half, const Pair& pair) {
    const index_t nh = static_cast<index_t>(half.size());
    // Forward affinities a(j, y, x), 0 outside the image.
    std::vector<double> a(static_cast<std::size_t>(nh * h * w), 0.0);
    parallel_for_chunks(h, 8, [&](index_t y0, index_t y1) {
        for (index_t j = 0; j < nh; ++j) {
            const auto d = half[static_cast<std::size_t>(j)];
            for (index_t y = y0; y < y1; ++y) {
                const index_t yy = y + d.dy;
                if (yy >= h)
                    continue;
                for (index_t x = 0; x < w; ++x) {
                    const index_t xx = x + d.dx;
                    if (xx < 0 || xx >= w)
                        continue;
                    a[static_cast<std::size_t>((j * h + y) * w + x)] = pair(j, y, x, yy, xx);
                }
            }
        }
    });
    return random_walk_transition<T>::from_affinities(
        h, w, radius, beta, [&](index_t j, index_t y, index_t x) {
            return a[static_cast<std::size_t>((j * h + y) * w + x)];
        });
}

} // namespace detail

/// AffinityNet's transition matrix from a C×H×W feature map: `a_ij = exp(-dist(f_i, f_j))`
/// with `dist` the L1 distance (or its channel mean), within the radius; then `T = D⁻¹ A^β`
/// (see the file comment). Computed in double, stored in the features' type.
/// O(C·H·W·r²) time, O(H·W·r²) memory.
/// @throws detseg::invalid_argument for NaN/inf features, radius < 1 or > 64, or β not finite
///         and positive (`params`).
template <class Features>
[[nodiscard]] auto psa_transition(const Features& features, const affinity_params& params = {}) {
    constexpr const char* fn = "psa_transition";
    const auto f = detail::cam_input<3>(features, fn, "features");
    using T = typename decltype(f)::value_type;
    detail::check_transition_params(params.radius, params.beta, fn);
    DETSEG_REQUIRE(params.distance == feature_distance::l1 ||
                       params.distance == feature_distance::l1_mean,
                   fn, "params", "unknown feature distance");
    detail::require_finite(f, fn, "features");
    const index_t c = f.extent(0), h = f.extent(1), w = f.extent(2);
    const auto half = affinity_offsets(params.radius);
    const double scale =
        params.distance == feature_distance::l1_mean && c > 0 ? 1.0 / double(c) : 1.0;
    return detail::transition_from_pairs<T>(
        h, w, params.radius, params.beta, half,
        [&](index_t, index_t y, index_t x, index_t yy, index_t xx) {
            double s = 0;
            for (index_t k = 0; k < c; ++k)
                s += std::abs(static_cast<double>(f(k, y, x)) - static_cast<double>(f(k, yy, xx)));
            return std::exp(-(s * scale));
        });
}

/// IRN's transition matrix from an H×W boundary map B (values in [0, 1]): `a_ij = 1 - max B_k`
/// over the path pixels k between i and j (the pixels of their bounding box whose centre is at
/// distance < 1 from the line through both centres, both ends included); then `T = D⁻¹ A^β`.
/// IRN then walks `maps · (1 - B)` (multiply the CAMs first).
/// O(H·W·r³) time, O(H·W·r²) memory.
/// @throws detseg::invalid_argument for a boundary value outside [0, 1] or NaN (`boundary`), or
///         bad radius/β (`params`).
template <class Boundary>
[[nodiscard]] auto boundary_transition(const Boundary& boundary,
                                       const boundary_affinity_params& params = {}) {
    constexpr const char* fn = "boundary_transition";
    const auto b = detail::cam_input<2>(boundary, fn, "boundary");
    using T = typename decltype(b)::value_type;
    detail::check_transition_params(params.radius, params.beta, fn);
    const index_t h = b.extent(0), w = b.extent(1);
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x)
            DETSEG_REQUIRE(b(y, x) >= T(0) && b(y, x) <= T(1), fn, "boundary", "value ",
                           static_cast<double>(b(y, x)), " at (", y, ", ", x,
                           ") is outside [0, 1]");
    const auto half = affinity_offsets(params.radius);
    std::vector<std::vector<pixel_offset>> paths;
    for (const auto& d : half)
        paths.push_back(detail::path_pixels(d));
    const auto path_affinity = [&](index_t j, index_t y, index_t x, index_t, index_t) {
        T m = T(0);
        for (const auto& k : paths[static_cast<std::size_t>(j)])
            m = std::max(m, b(y + k.dy, x + k.dx));
        return 1.0 - static_cast<double>(m);
    };
    return detail::transition_from_pairs<T>(h, w, params.radius, params.beta, half, path_affinity);
}

/// The transition matrix from given affinities: `affinity(j, y, x)` (J×H×W, J =
/// `affinity_offsets(radius).size()`) is the affinity between pixel (y, x) and
/// (y, x) + `affinity_offsets(radius)[j]`; entries whose second pixel is outside the image are
/// ignored. Affinities must be finite and ≥ 0. Then `T = D⁻¹ A^β`.
/// O(H·W·r²). @throws detseg::invalid_argument if J is not the offset count for the radius, an
/// affinity is negative or not finite (`affinity`), or bad radius/β (`params`).
template <class Affinity>
[[nodiscard]] auto affinity_transition(const Affinity& affinity,
                                       const affinity_params& params = {}) {
    constexpr const char* fn = "affinity_transition";
    const auto a = detail::cam_input<3>(affinity, fn, "affinity");
    using T = typename decltype(a)::value_type;
    detail::check_transition_params(params.radius, params.beta, fn);
    const auto nh = static_cast<index_t>(affinity_offsets(params.radius).size());
    DETSEG_REQUIRE(a.extent(0) == nh, fn, "affinity", "has ", a.extent(0), " offsets, radius ",
                   params.radius, " has ", nh);
    detail::require_finite(a, fn, "affinity");
    for (index_t j = 0; j < a.extent(0); ++j)
        for (index_t y = 0; y < a.extent(1); ++y)
            for (index_t x = 0; x < a.extent(2); ++x)
                DETSEG_REQUIRE(a(j, y, x) >= T(0), fn, "affinity", "negative value at (", j, ", ",
                               y, ", ", x, ")");
    return random_walk_transition<T>::from_affinities(
        a.extent(1), a.extent(2), params.radius, params.beta,
        [&](index_t j, index_t y, index_t x) { return static_cast<double>(a(j, y, x)); });
}

} // namespace detseg

#endif // DETSEG_SEG_AFFINITY_HPP
