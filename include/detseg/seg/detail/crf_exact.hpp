#ifndef DETSEG_SEG_DETAIL_CRF_EXACT_HPP
#define DETSEG_SEG_DETAIL_CRF_EXACT_HPP

// Exact Gaussian filters for the dense CRF's exact modes:
// - brute force: out_i = Σ_j exp(-|f_i - f_j|²/2) in_j over all pairs (optionally j ≠ i), the
//   kernel evaluated on the fly (no N×N memory), accumulated in double, in parallel over i;
// - separable: the position-only kernel exp(-((x_i-x_j)² + (y_i-y_j)²)/(2 sxy²)) on an H×W grid
//   as a 1-D filter along x then along y.
// Values are N×S, label-innermost, as everywhere in the CRF.

#include <detseg/config.hpp>
#include <detseg/core/parallel.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace detseg::detail {

/// Squared feature distance beyond which a brute-force term is skipped: exp(-50) ≈ 2e-22, so the
/// skipped terms sum to less than N·2e-22 of a row sum that is at least 1 (self term) or of the
/// order of the largest term; far below double rounding for any practical N.
inline constexpr double crf_brute_cutoff = 100.0;

/// out (N×S) = K·in with K_ij = exp(-|f_i - f_j|²/2), features `f[k*n + i]` (double, d per point).
/// `self` includes j = i. O(N²·(d + S)) time, O(S) extra memory per thread.
template <class T>
void crf_brute_force_filter(const double* f, int d, index_t n, const T* in, T* out, index_t S,
                            bool self) {
    // points as rows (N×d) for locality
    std::vector<double> p(static_cast<std::size_t>(n * d));
    for (index_t i = 0; i < n; ++i)
        for (int k = 0; k < d; ++k)
            p[static_cast<std::size_t>(i * d + k)] = f[k * n + i];
    parallel_for_chunks(n, 16, [&](index_t lo, index_t hi) {
        std::vector<double> acc(static_cast<std::size_t>(S));
        for (index_t i = lo; i < hi; ++i) {
            std::fill(acc.begin(), acc.end(), 0.0);
            const double* fi = p.data() + i * d;
            for (index_t j = 0; j < n; ++j) {
                if (j == i && !self)
                    continue;
                const double* fj = p.data() + j * d;
                double d2 = 0.0;
                for (int k = 0; k < d; ++k) {
                    const double t = fi[k] - fj[k];
                    d2 += t * t;
                }
                if (d2 > crf_brute_cutoff)
                    continue;
                const double w = std::exp(-0.5 * d2);
                const T* x = in + j * S;
                for (index_t l = 0; l < S; ++l)
                    acc[static_cast<std::size_t>(l)] += w * static_cast<double>(x[l]);
            }
            T* y = out + i * S;
            for (index_t l = 0; l < S; ++l)
                y[l] = static_cast<T>(acc[static_cast<std::size_t>(l)]);
        }
    });
}

/// Taps exp(-r²/(2 sxy²)) for r = 0..R, with R the first offset where the tap is below 1e-8
/// (capped at `limit`).
inline std::vector<double> crf_gaussian_taps(double sxy, index_t limit) {
    std::vector<double> taps;
    for (index_t r = 0; r <= limit; ++r) {
        const double x = static_cast<double>(r) / sxy;
        const double t = std::exp(-0.5 * x * x);
        taps.push_back(t);
        if (t < 1e-8)
            break;
    }
    return taps;
}

/// Row sums of the separable kernel on an H×W grid: n(y, x) = Sx(x)·Sy(y), self term included.
inline std::vector<double> crf_separable_norm(const std::vector<double>& taps, index_t h,
                                              index_t w) {
    const index_t R = static_cast<index_t>(taps.size()) - 1;
    auto sums = [&](index_t len) {
        std::vector<double> s(static_cast<std::size_t>(len));
        for (index_t x = 0; x < len; ++x) {
            double a = 0.0;
            for (index_t r = -R; r <= R; ++r)
                if (x + r >= 0 && x + r < len)
                    a += taps[static_cast<std::size_t>(r < 0 ? -r : r)];
            s[static_cast<std::size_t>(x)] = a;
        }
        return s;
    };
    const auto sx = sums(w);
    const auto sy = sums(h);
    std::vector<double> out(static_cast<std::size_t>(h * w));
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x)
            out[static_cast<std::size_t>(y * w + x)] =
                sx[static_cast<std::size_t>(x)] * sy[static_cast<std::size_t>(y)];
    return out;
}

/// out (H·W×S) = separable Gaussian of `in`, along x into `tmp`, then along y into `out`.
template <class T>
void crf_separable_filter(const std::vector<double>& taps_d, index_t h, index_t w, const T* in,
                          T* tmp, T* out, index_t S) {
    const index_t R = static_cast<index_t>(taps_d.size()) - 1;
    std::vector<T> taps(taps_d.begin(), taps_d.end());
    // along x
    parallel_for(h, [&](index_t y) {
        for (index_t x = 0; x < w; ++x) {
            T* o = tmp + (y * w + x) * S;
            const T* c = in + (y * w + x) * S;
            for (index_t l = 0; l < S; ++l)
                o[l] = taps[0] * c[l];
            const index_t rmax = std::min(R, std::max(x, w - 1 - x));
            for (index_t r = 1; r <= rmax; ++r) {
                const T t = taps[static_cast<std::size_t>(r)];
                if (x - r >= 0) {
                    const T* a = in + (y * w + x - r) * S;
                    for (index_t l = 0; l < S; ++l)
                        o[l] += t * a[l];
                }
                if (x + r < w) {
                    const T* b = in + (y * w + x + r) * S;
                    for (index_t l = 0; l < S; ++l)
                        o[l] += t * b[l];
                }
            }
        }
    });
    // along y
    parallel_for(h, [&](index_t y) {
        for (index_t x = 0; x < w; ++x) {
            T* o = out + (y * w + x) * S;
            const T* c = tmp + (y * w + x) * S;
            for (index_t l = 0; l < S; ++l)
                o[l] = taps[0] * c[l];
        }
        const index_t rmax = std::min(R, std::max(y, h - 1 - y));
        for (index_t r = 1; r <= rmax; ++r) {
            const T t = taps[static_cast<std::size_t>(r)];
            for (int side = -1; side <= 1; side += 2) {
                const index_t yy = y + side * r;
                if (yy < 0 || yy >= h)
                    continue;
                for (index_t x = 0; x < w; ++x) {
                    T* o = out + (y * w + x) * S;
                    const T* a = tmp + (yy * w + x) * S;
                    for (index_t l = 0; l < S; ++l)
                        o[l] += t * a[l];
                }
            }
        }
    });
}

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_CRF_EXACT_HPP
