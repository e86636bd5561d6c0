#ifndef DETSEG_SEG_DETAIL_PERMUTOHEDRAL_HPP
#define DETSEG_SEG_DETAIL_PERMUTOHEDRAL_HPP

// The permutohedral lattice (Adams, Baek & Davis, "Fast High-Dimensional Filtering Using the
// Permutohedral Lattice", Eurographics 2010) with the conventions of Krähenbühl & Koltun's dense
// CRF (densecrf v2, the code behind pydensecrf), so that its output matches pydensecrf's:
// - features f (d per point, already divided by their standard deviations) are scaled by
//   sqrt(2/3)·(d+1) / sqrt((k+1)(k+2)) on axis k and elevated onto the hyperplane Σ = 0 of
//   Z^(d+1); each point lies in one simplex whose d+1 vertices get its barycentric weights;
// - splat: each vertex sums weight·value over its points (the self term is thus included);
// - blur: along each of the d+1 lattice axes in turn, v ← v + ½(v₊ + v₋), missing neighbours 0;
// - slice: each point gathers weight·value from its d+1 vertices, times 1/(1 + 2^-d).
//
// Values are N×S (label-innermost, S a multiple of 4), so every step is a loop over S lanes,
// written with GCC/Clang vector types and compiled twice (baseline and AVX2, chosen at run time).
// The splat is a serial scatter in point order over each of two fixed halves of the points (the
// halves in parallel, then added); blur and slice run in parallel over lattice points and
// points: every value sees the same operations in the same order for any thread count.
// The build splits the points into a number of parts that depends only on N; each part hashes
// its points' vertices into a table of its own (in parallel), and the tables are merged in part
// order, so the lattice points are numbered as a serial pass would number them.
// Memory: N·(d+1) vertex indices and two N·(d+1) weight arrays (splat, slice), (d+1)·M·2
// neighbour indices for M lattice points (M ≤ N·(d+1)); the hash tables are freed after the
// build.

#include <detseg/config.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/seg/detail/crf_math.hpp>
#include <detseg/seg/detail/lattice_build.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>


namespace detseg::detail {


// ---- lane loops (S a multiple of B), compiled for the baseline and, on x86-64, for AVX2.
// The lanes of a block are one GCC/Clang vector, so each loop below is B-wide whatever the
// optimisation level; every lane does the same IEEE operations as a scalar loop would.

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi" // vectors only inside always-inline helpers
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi" // vectors only inside always-inline helpers
#endif

#if defined(__GNUC__) || defined(__clang__)
template <class T, int B>
struct lat_lanes {
    typedef T type __attribute__((vector_size(sizeof(T) * B)));
    // no vector is passed or returned by value (that would depend on the ABI)
    static DETSEG_ALWAYS_INLINE void load(type& v, const T* p) noexcept {
        std::memcpy(&v, p, sizeof v);
    }
    static DETSEG_ALWAYS_INLINE void store(T* p, const type& v) noexcept {
        std::memcpy(p, &v, sizeof v);
    }
};
#else
template <class T, int B>
struct lat_lanes {
    struct type {
        T v[B];
        friend type operator+(const type& a, const type& b) noexcept {
            type r;
            for (int k = 0; k < B; ++k)
                r.v[k] = a.v[k] + b.v[k];
            return r;
        }
        friend type operator*(T a, const type& b) noexcept {
            type r;
            for (int k = 0; k < B; ++k)
                r.v[k] = a * b.v[k];
            return r;
        }
        friend type operator*(const type& b, T a) noexcept { return a * b; }
        type& operator+=(const type& o) noexcept { return *this = *this + o; }
        type& operator*=(T a) noexcept { return *this = a * *this; }
    };
    static void load(type& r, const T* p) noexcept { std::memcpy(r.v, p, sizeof r.v); }
    static void store(T* p, const type& v) noexcept { std::memcpy(p, v.v, sizeof v.v); }
};
#endif

// values[o_ij][l0, l1) += w_ij · in_i[l0, l1) for every point i in order: a serial splat of a
// range of lanes (values must be zero there beforehand). Lanes go B at a time, then 4 at a
// time (l1 - l0 is a multiple of 4); every lane sees the same operations in the same order
// whatever the range, so the split of lanes between threads does not change any result.
template <class T, int B>
DETSEG_ALWAYS_INLINE void lat_scatter_body(const std::int32_t* DETSEG_RESTRICT offset,
                                           const T* DETSEG_RESTRICT weight, int d1, index_t i0,
                                           index_t i1, const T* DETSEG_RESTRICT in,
                                           T* DETSEG_RESTRICT values, index_t S, index_t l0,
                                           index_t l1) noexcept {
    using V = lat_lanes<T, B>;
    using V4 = lat_lanes<T, 4>;
    const index_t lb = l0 + (l1 - l0) / B * B;
    for (index_t i = i0; i < i1; ++i) {
        const std::int32_t* o = offset + i * d1;
        const T* w = weight + i * d1;
        const T* x = in + i * S;
        for (int j = 0; j < d1; ++j) {
            const T wj = w[j];
            T* y = values + static_cast<index_t>(o[j]) * S;
            for (index_t b = l0; b < lb; b += B) {
                typename V::type yv, xv;
                V::load(yv, y + b);
                V::load(xv, x + b);
                yv += wj * xv;
                V::store(y + b, yv);
            }
            if constexpr (B != 4) {
                for (index_t b = lb; b < l1; b += 4) {
                    typename V4::type yv, xv;
                    V4::load(yv, y + b);
                    V4::load(xv, x + b);
                    yv += wj * xv;
                    V4::store(y + b, yv);
                }
            }
        }
    }
}

// The scatter of several lattices over the same input in one pass (the input is read once).
template <class T, int B>
DETSEG_ALWAYS_INLINE void lat_scatter_many_body(int K, const std::int32_t* const* offsets,
                                                const T* const* weights, const int* d1s,
                                                T* const* values, index_t i0, index_t i1,
                                                const T* DETSEG_RESTRICT in, index_t S,
                                                index_t l0, index_t l1) noexcept {
    using V = lat_lanes<T, B>;
    using V4 = lat_lanes<T, 4>;
    // whole rows of up to 4 blocks: the point's row is loaded once into registers for all its
    // vertices (the same operations per lane as below)
    auto fixed = [&]<int NB>() {
        for (index_t i = i0; i < i1; ++i) {
            typename V::type xv[NB];
            for (int nb = 0; nb < NB; ++nb)
                V::load(xv[nb], in + i * S + nb * B);
            for (int k = 0; k < K; ++k) {
                const int d1 = d1s[k];
                const std::int32_t* o = offsets[k] + i * d1;
                const T* w = weights[k] + i * d1;
                T* vals = values[k];
                for (int j = 0; j < d1; ++j) {
                    const T wj = w[j];
                    T* y = vals + static_cast<index_t>(o[j]) * S;
                    for (int nb = 0; nb < NB; ++nb) {
                        typename V::type yv;
                        V::load(yv, y + nb * B);
                        yv += wj * xv[nb];
                        V::store(y + nb * B, yv);
                    }
                }
            }
        }
    };
    if (l0 == 0 && l1 == S && S % B == 0) {
        switch (S / B) {
        case 1: return fixed.template operator()<1>();
        case 2: return fixed.template operator()<2>();
        case 3: return fixed.template operator()<3>();
        case 4: return fixed.template operator()<4>();
        default: break;
        }
    }
    const index_t lb = l0 + (l1 - l0) / B * B;
    for (index_t i = i0; i < i1; ++i) {
        const T* x = in + i * S;
        for (int k = 0; k < K; ++k) {
            const int d1 = d1s[k];
            const std::int32_t* o = offsets[k] + i * d1;
            const T* w = weights[k] + i * d1;
            T* vals = values[k];
            for (int j = 0; j < d1; ++j) {
                const T wj = w[j];
                T* y = vals + static_cast<index_t>(o[j]) * S;
                for (index_t b = l0; b < lb; b += B) {
                    typename V::type yv, xv;
                    V::load(yv, y + b);
                    V::load(xv, x + b);
                    yv += wj * xv;
                    V::store(y + b, yv);
                }
                if constexpr (B != 4) {
                    for (index_t b = lb; b < l1; b += 4) {
                        typename V4::type yv, xv;
                        V4::load(yv, y + b);
                        V4::load(xv, x + b);
                        yv += wj * xv;
                        V4::store(y + b, yv);
                    }
                }
            }
        }
    }
}

// How many lattice points ahead the blur prefetches the neighbours' rows when they are far.
inline constexpr index_t lat_blur_ahead = 20;

// new_v[v + 1] = old_v[v + 1] + ½(old_v[n1] + old_v[n2]) for the lattice points [begin, end).
// Prefetch: the neighbours' rows `lat_blur_ahead` points ahead are prefetched (for lattices whose
// neighbours are far apart in memory, where the hardware prefetchers cannot guess them).
template <class T, int B, bool Prefetch = false>
DETSEG_ALWAYS_INLINE void lat_blur_body(const std::int32_t* DETSEG_RESTRICT nb,
                                        const T* DETSEG_RESTRICT old_v, T* DETSEG_RESTRICT new_v,
                                        index_t S, index_t begin, index_t end) noexcept {
    using V = lat_lanes<T, B>;
    for (index_t v = begin; v < end; ++v) {
#if defined(__GNUC__) || defined(__clang__)
        if constexpr (Prefetch) {
            if (v + lat_blur_ahead < end) {
                const T* pa = old_v + static_cast<index_t>(nb[2 * (v + lat_blur_ahead)]) * S;
                const T* pz = old_v + static_cast<index_t>(nb[2 * (v + lat_blur_ahead) + 1]) * S;
                __builtin_prefetch(pa);
                __builtin_prefetch(pa + S - 1);
                __builtin_prefetch(pz);
                __builtin_prefetch(pz + S - 1);
            }
        }
#endif
        const T* c = old_v + (v + 1) * S;
        const T* a = old_v + static_cast<index_t>(nb[2 * v]) * S;
        const T* z = old_v + static_cast<index_t>(nb[2 * v + 1]) * S;
        T* o = new_v + (v + 1) * S;
        for (index_t b = 0; b < S; b += B) {
            typename V::type cv, av, zv;
            V::load(cv, c + b);
            V::load(av, a + b);
            V::load(zv, z + b);
            cv += T(0.5) * (av + zv);
            V::store(o + b, cv);
        }
    }
}

// out_i = [base_i +] factor · Σ_j w_ij · values[o_ij] (w includes the per-point scales);
// base may be out itself (accumulate) but no other overlap.
template <class T, int B, bool Accumulate>
DETSEG_ALWAYS_INLINE void lat_slice_body(const std::int32_t* DETSEG_RESTRICT offset,
                                         const T* DETSEG_RESTRICT weight, int d1,
                                         const T* DETSEG_RESTRICT values, const T* base, T* out,
                                         index_t S, T factor, index_t begin,
                                         index_t end) noexcept {
    // base may equal out (accumulate in place): neither is restrict
    using V = lat_lanes<T, B>;
    // S of up to 4 blocks: all blocks accumulate together, each vertex's index and weight read
    // once (the same operations per lane as below)
    auto fixed = [&]<int NB>() {
        for (index_t i = begin; i < end; ++i) {
            const std::int32_t* o = offset + i * d1;
            const T* w = weight + i * d1;
            T* y = out + i * S;
            const T* z = base + i * S;
            typename V::type acc[NB] = {}, x;
            for (int j = 0; j < d1; ++j) {
                const T* src = values + static_cast<index_t>(o[j]) * S;
                const T wj = w[j];
                for (int nb = 0; nb < NB; ++nb) {
                    V::load(x, src + nb * B);
                    acc[nb] += wj * x;
                }
            }
            for (int nb = 0; nb < NB; ++nb) {
                if constexpr (Accumulate) {
                    V::load(x, z + nb * B);
                    x += factor * acc[nb];
                    V::store(y + nb * B, x);
                } else {
                    acc[nb] *= factor;
                    V::store(y + nb * B, acc[nb]);
                }
            }
        }
    };
    switch (S / B) {
    case 1: return fixed.template operator()<1>();
    case 2: return fixed.template operator()<2>();
    case 3: return fixed.template operator()<3>();
    case 4: return fixed.template operator()<4>();
    default: break;
    }
    for (index_t i = begin; i < end; ++i) {
        const std::int32_t* o = offset + i * d1;
        const T* w = weight + i * d1;
        T* y = out + i * S;
        const T* z = base + i * S;
        for (index_t b = 0; b < S; b += B) {
            typename V::type acc{}, x;
            for (int j = 0; j < d1; ++j) {
                V::load(x, values + static_cast<index_t>(o[j]) * S + b);
                acc += w[j] * x;
            }
            if constexpr (Accumulate) {
                V::load(x, z + b);
                x += factor * acc;
                V::store(y + b, x);
            } else {
                acc *= factor;
                V::store(y + b, acc);
            }
        }
    }
}

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

template <class T, int B>
void lat_scatter_base(const std::int32_t* offset, const T* weight, int d1, index_t i0, index_t i1,
                      const T* in, T* values, index_t S, index_t l0, index_t l1) noexcept {
    lat_scatter_body<T, B>(offset, weight, d1, i0, i1, in, values, S, l0, l1);
}
template <class T, int B>
void lat_scatter_many_base(int K, const std::int32_t* const* offsets, const T* const* weights,
                           const int* d1s, T* const* values, index_t i0, index_t i1,
                           const T* in, index_t S, index_t l0, index_t l1) noexcept {
    lat_scatter_many_body<T, B>(K, offsets, weights, d1s, values, i0, i1, in, S, l0, l1);
}
template <class T, int B, bool Prefetch = false>
void lat_blur_base(const std::int32_t* nb, const T* old_v, T* new_v, index_t S, index_t begin,
                   index_t end) noexcept {
    lat_blur_body<T, B, Prefetch>(nb, old_v, new_v, S, begin, end);
}
template <class T, int B, bool Acc>
void lat_slice_base(const std::int32_t* offset, const T* weight, int d1, const T* values,
                    const T* base, T* out, index_t S, T factor, index_t begin,
                    index_t end) noexcept {
    lat_slice_body<T, B, Acc>(offset, weight, d1, values, base, out, S, factor, begin, end);
}
#if DETSEG_X86_DISPATCH
template <class T, int B>
DETSEG_TARGET_AVX2 void lat_scatter_avx2(const std::int32_t* offset, const T* weight, int d1,
                                         index_t i0, index_t i1, const T* in, T* values,
                                         index_t S, index_t l0, index_t l1) noexcept {
    lat_scatter_body<T, B>(offset, weight, d1, i0, i1, in, values, S, l0, l1);
}
template <class T, int B>
DETSEG_TARGET_AVX2 void lat_scatter_many_avx2(int K, const std::int32_t* const* offsets,
                                              const T* const* weights, const int* d1s,
                                              T* const* values, index_t i0, index_t i1,
                                              const T* in, index_t S, index_t l0,
                                              index_t l1) noexcept {
    lat_scatter_many_body<T, B>(K, offsets, weights, d1s, values, i0, i1, in, S, l0, l1);
}
template <class T, int B, bool Prefetch = false>
DETSEG_TARGET_AVX2 void lat_blur_avx2(const std::int32_t* nb, const T* old_v, T* new_v, index_t S,
                                      index_t begin, index_t end) noexcept {
    lat_blur_body<T, B, Prefetch>(nb, old_v, new_v, S, begin, end);
}
template <class T, int B, bool Acc>
DETSEG_TARGET_AVX2 void lat_slice_avx2(const std::int32_t* offset, const T* weight, int d1,
                                       const T* values, const T* base, T* out, index_t S,
                                       T factor, index_t begin, index_t end) noexcept {
    lat_slice_body<T, B, Acc>(offset, weight, d1, values, base, out, S, factor, begin, end);
}
#endif

/// Calls `f.template operator()<B, Avx2>()` with the block width B for stride S (8 when S is a
/// multiple of 8, else 4) and whether the AVX2 copy may run.
template <class F>
DETSEG_ALWAYS_INLINE void lat_dispatch(index_t S, F&& f) {
#if DETSEG_X86_DISPATCH
    if (has_avx2()) {
        if (S % 8 == 0)
            f.template operator()<8, true>();
        else
            f.template operator()<4, true>();
        return;
    }
#endif
    if (S % 8 == 0)
        f.template operator()<8, false>();
    else
        f.template operator()<4, false>();
}

/// A permutohedral lattice built over N points with d features each. `T` is the value type.
template <class T>
class permutohedral_lattice {
public:
    permutohedral_lattice() = default;

    /// Builds the lattice over `n` points whose d features are `f[k*n + i]` (k < d, i < n),
    /// already divided by their standard deviations. O(N·d²) time; the hash table is freed
    /// afterwards. `generic_geometry` (for tests) uses the run-time-d code path for every d.
    template <class F>
        requires(std::is_same_v<F, float> || std::is_same_v<F, double>)
    void build(const F* f, int d, index_t n, bool generic_geometry = false) {
        generic_ = generic_geometry;
        d_ = d;
        n_ = n;
        weights_set_ = false;
        const int d1 = d + 1;
        {
            lattice_structure s;
            lattice_builder(d, generic_geometry, s).run(f, n);
            m_ = s.m;
            offset_ = std::move(s.offset);
            neighbours_ = std::move(s.neighbours);
            if constexpr (std::is_same_v<T, float>) {
                splat_w_ = std::move(s.bary);
            } else {
                splat_w_.assign(s.bary.begin(), s.bary.end());
            }
        }

        // far neighbours: when the value rows of a typical neighbour (the median over a sample
        // of lattice points and axes) are more than ~256 KB away, the blur prefetches them
        {
            std::vector<index_t> dist;
            const index_t step = std::max<index_t>(1, m_ / 4096);
            for (int j = 0; j < d1; ++j)
                for (index_t v = 0; v < m_; v += step)
                    for (int side = 0; side < 2; ++side) {
                        const index_t u = neighbours_[static_cast<std::size_t>((j * m_ + v) * 2 + side)];
                        if (u > 0)
                            dist.push_back(u - 1 > v ? u - 1 - v : v - (u - 1));
                    }
            far_ = false;
            if (!dist.empty()) {
                auto mid = dist.begin() + static_cast<std::ptrdiff_t>(dist.size() / 2);
                std::nth_element(dist.begin(), mid, dist.end());
                far_ = *mid * 96 > (index_t(256) << 10);
            }
        }
        alpha_ = static_cast<T>(1.0f / (1.0f + std::pow(2.0f, static_cast<float>(-d))));
        // plain weights: splat bary, slice bary·alpha
        slice_w_.resize(splat_w_.size());
        parallel_for_chunks(n * d1, 65536, [&](index_t lo, index_t hi) {
            for (index_t k = lo; k < hi; ++k)
                slice_w_[static_cast<std::size_t>(k)] =
                    splat_w_[static_cast<std::size_t>(k)] * alpha_;
        });
    }

    [[nodiscard]] int dims() const noexcept { return d_; }
    [[nodiscard]] index_t size() const noexcept { return n_; }
    /// Number of lattice points M.
    [[nodiscard]] index_t points() const noexcept { return m_; }
    /// Rows of the value buffers `compute_into` needs (M + 1: row 0 is the zero row).
    [[nodiscard]] index_t value_rows() const noexcept { return m_ + 1; }
    [[nodiscard]] T alpha() const noexcept { return alpha_; }
    /// The vertex (index + 1) of each point's d+1 simplex corners, N×(d+1).
    [[nodiscard]] const std::vector<std::int32_t>& offsets() const noexcept { return offset_; }
    [[nodiscard]] const std::vector<T>& splat_weights() const noexcept { return splat_w_; }
    [[nodiscard]] const std::vector<T>& slice_weights() const noexcept { return slice_w_; }

    /// a[r] += b[r] for the rows 1..rows-1 (S values each), in parallel.
    static void add_rows(T* a, const T* b, index_t rows, index_t S) {
        parallel_for_chunks(rows - 1, 4096, [&](index_t lo, index_t hi) {
            T* DETSEG_RESTRICT x = a + (lo + 1) * S;
            const T* DETSEG_RESTRICT y = b + (lo + 1) * S;
            for (index_t e = 0; e < (hi - lo) * S; ++e)
                x[e] += y[e];
        });
    }

    /// Blurs the splatted values in `a` along the d+1 axes (b is scratch); returns the buffer
    /// holding the result (a or b). Row 0 of both must be zero.
    T* blur(T* a, T* b, index_t S) const {
        const int d1 = d_ + 1;
        T* cur = a;
        T* nxt = b;
        for (int j = 0; j < d1; ++j) {
            const std::int32_t* nb = neighbours_.data() + static_cast<std::size_t>(j) * m_ * 2;
            auto run = [&](index_t lo, index_t hi) {
                lat_dispatch(S, [&]<int B, bool Avx>() {
#if DETSEG_X86_DISPATCH
                    if constexpr (Avx) {
                        if (far_)
                            lat_blur_avx2<T, B, true>(nb, cur, nxt, S, lo, hi);
                        else
                            lat_blur_avx2<T, B>(nb, cur, nxt, S, lo, hi);
                        return;
                    }
#endif
                    if (far_)
                        lat_blur_base<T, B, true>(nb, cur, nxt, S, lo, hi);
                    else
                        lat_blur_base<T, B>(nb, cur, nxt, S, lo, hi);
                });
            };
            // a small lattice is blurred on the calling thread (a parallel region per axis
            // would cost more than the work)
            if (m_ * S < (index_t(1) << 16) || max_threads() == 1)
                run(0, m_);
            else
                parallel_for_chunks(m_, 2048, run);
            std::swap(cur, nxt);
        }
        return cur;
    }

    /// Bytes held by the lattice (without the value buffers).
    [[nodiscard]] std::size_t bytes() const noexcept {
        return offset_.size() * 4 + neighbours_.size() * 4 +
               splat_w_.size() * sizeof(T) +
               slice_w_.size() * sizeof(T);
    }

    /// Sets the splat weights to `bary·in_scale[i]` and the slice weights to
    /// `bary·alpha·out_scale[i]` (null scales count as 1). Once after `build` (which sets the
    /// plain weights): the barycentric weights are not kept apart (memory).
    void set_weights(const T* in_scale, const T* out_scale) {
        const int d1 = d_ + 1;
        if (weights_set_)
            throw std::logic_error("permutohedral_lattice::set_weights: called twice");
        weights_set_ = true;
        if (!in_scale && !out_scale)
            return;
        parallel_for_chunks(n_, 8192, [&](index_t lo, index_t hi) {
            for (index_t i = lo; i < hi; ++i)
                for (int j = 0; j < d1; ++j) {
                    const std::size_t at = static_cast<std::size_t>(i * d1 + j);
                    if (in_scale)
                        splat_w_[at] *= in_scale[i];
                    if (out_scale)
                        slice_w_[at] *= out_scale[i];
                }
        });
    }

    /// out (N×S) = factor·slice(blur(splat(in))) with the current weights, plus `base_in` (N×S,
    /// or `out` itself when null) if `accumulate`; `a` and `b` are scratch buffers of
    /// value_rows()·S values each.
    /// With `softmax_out`, the result rows are not stored in `out` but their softmax over the S
    /// lanes is written to `softmax_out` (which may be `in`).
    void compute_into(const T* in, T* out, index_t S, T* a, T* b, bool accumulate,
                      T factor = T(1), const T* base_in = nullptr,
                      T* softmax_out = nullptr) const {
        const int d1 = d_ + 1;
        std::fill(a, a + S, T(0));
        std::fill(b, b + S, T(0));
        // splat: the points' two halves are scattered serially, in point order, into a and b
        // (in parallel), then a += b: a fixed split, so no result depends on the thread count
        const index_t rows = value_rows();
        parallel_for(2, [&](index_t part) {
            T* dst = part == 0 ? a : b;
            std::fill(dst + S, dst + rows * S, T(0));
            const index_t i0 = part == 0 ? 0 : n_ / 2, i1 = part == 0 ? n_ / 2 : n_;
            lat_dispatch(S, [&]<int B, bool Avx>() {
#if DETSEG_X86_DISPATCH
                if constexpr (Avx) {
                    lat_scatter_avx2<T, B>(offset_.data(), splat_w_.data(), d1, i0, i1, in, dst, S,
                                           0, S);
                    return;
                }
#endif
                lat_scatter_base<T, B>(offset_.data(), splat_w_.data(), d1, i0, i1, in, dst, S, 0,
                                       S);
            });
        });
        add_rows(a, b, rows, S);
        const T* cur = blur(a, b, S);
        // slice
        const T* base = base_in ? base_in : out;
        if (softmax_out) {
            // out_i = base_i + factor·slice_i into a chunk buffer, then its softmax into
            // softmax_out (the rows of `in` have all been read by then)
            parallel_for_chunks(n_, 512, [&](index_t lo, index_t hi) {
                std::vector<T> chunk_rows(static_cast<std::size_t>((hi - lo) * S));
                lat_dispatch(S, [&]<int B, bool Avx>() {
#if DETSEG_X86_DISPATCH
                    if constexpr (Avx) {
                        lat_slice_avx2<T, B, true>(offset_.data() + lo * d1,
                                                   slice_w_.data() + lo * d1, d1, cur,
                                                   base + lo * S, chunk_rows.data(), S, factor, 0,
                                                   hi - lo);
                        crf_softmax_rows_avx2<T, B>(chunk_rows.data(), softmax_out + lo * S, S, 0,
                                                    hi - lo);
                        return;
                    }
#endif
                    lat_slice_base<T, B, true>(offset_.data() + lo * d1, slice_w_.data() + lo * d1,
                                               d1, cur, base + lo * S, chunk_rows.data(), S, factor, 0,
                                               hi - lo);
                    crf_softmax_rows_base<T, B>(chunk_rows.data(), softmax_out + lo * S, S, 0, hi - lo);
                });
            });
            return;
        }
        parallel_for_chunks(n_, 1024, [&](index_t lo, index_t hi) {
            lat_dispatch(S, [&]<int B, bool Avx>() {
#if DETSEG_X86_DISPATCH
                if constexpr (Avx) {
                    if (accumulate)
                        lat_slice_avx2<T, B, true>(offset_.data(), slice_w_.data(), d1, cur, base,
                                                   out, S, factor, lo, hi);
                    else
                        lat_slice_avx2<T, B, false>(offset_.data(), slice_w_.data(), d1, cur,
                                                    base, out, S, factor, lo, hi);
                    return;
                }
#endif
                if (accumulate)
                    lat_slice_base<T, B, true>(offset_.data(), slice_w_.data(), d1, cur, base, out,
                                               S, factor, lo, hi);
                else
                    lat_slice_base<T, B, false>(offset_.data(), slice_w_.data(), d1, cur, base,
                                                out, S, factor, lo, hi);
            });
        });
    }

    /// out[i] = the lattice applied to a vector of ones with the current weights: lane 0 of
    /// `compute` on rows (1, 0, 0, 0), the same operations in the same order (so the same
    /// values), on one lane (value buffers of M + 1 scalars, no N×4 input or output).
    void compute_ones(T* out) const {
        const int d1 = d_ + 1;
        const index_t rows = value_rows();
        std::vector<T> a(static_cast<std::size_t>(rows), T(0)), b(a.size(), T(0));
        const std::int32_t* off = offset_.data();
        const T* sw = splat_w_.data();
        // the two halves of compute_into's splat (w·1 = w exactly), then a += b
        parallel_for(2, [&](index_t part) {
            T* dst = part == 0 ? a.data() : b.data();
            const index_t i0 = part == 0 ? 0 : n_ / 2, i1 = part == 0 ? n_ / 2 : n_;
            for (index_t k = i0 * d1; k < i1 * d1; ++k)
                dst[off[k]] += sw[k];
        });
        for (index_t r = 1; r < rows; ++r)
            a[static_cast<std::size_t>(r)] += b[static_cast<std::size_t>(r)];
        T* cur = a.data();
        T* nxt = b.data();
        for (int j = 0; j < d1; ++j) {
            const std::int32_t* nb = neighbours_.data() + static_cast<std::size_t>(j) * m_ * 2;
            parallel_for_chunks(m_, 16384, [&](index_t lo, index_t hi) {
                for (index_t v = lo; v < hi; ++v)
                    nxt[v + 1] = cur[v + 1] + T(0.5) * (cur[nb[2 * v]] + cur[nb[2 * v + 1]]);
            });
            std::swap(cur, nxt);
        }
        const T* lw = slice_w_.data();
        parallel_for_chunks(n_, 8192, [&](index_t lo, index_t hi) {
            for (index_t i = lo; i < hi; ++i) {
                T acc = T(0);
                for (int j = 0; j < d1; ++j)
                    acc += lw[i * d1 + j] * cur[off[i * d1 + j]];
                out[i] = acc * T(1);
            }
        });
    }

    /// Convenience: out = lattice(in) with the current weights (allocates the scratch).
    void compute(const T* in, T* out, index_t S) const {
        std::vector<T> a(static_cast<std::size_t>(value_rows() * S)),
            b(static_cast<std::size_t>(value_rows() * S));
        compute_into(in, out, S, a.data(), b.data(), false);
    }

private:
    int d_ = 0;
    bool generic_ = false; // tests: the run-time-d geometry path for every d
    index_t n_ = 0, m_ = 0;
    T alpha_ = T(1);
    std::vector<std::int32_t> offset_;     // N×(d+1): vertex index + 1
    std::vector<std::int32_t> neighbours_; // (d+1)×M×2, index + 1 (0 = absent)
    std::vector<T> splat_w_;               // N×(d+1)
    std::vector<T> slice_w_;               // N×(d+1)
    bool weights_set_ = false;             // set_weights has scaled the plain weights
    bool far_ = false;                     // the blur prefetches the neighbours' rows
};

/// One kernel of `lattice_mean_field`: its lattice, two or three scratch buffers of
/// value_rows()·S values (a, b, and c or null), and the factor of its slice.
template <class T>
struct lattice_job {
    const permutohedral_lattice<T>* lattice;
    T* a;
    T* b;
    T factor;
    T* c;
};

/// Whether `lattice_mean_field` should fuse its passes (then it needs a third buffer per
/// lattice): when the lattices' value buffers (`bytes` in all, for one buffer each) are small
/// enough to stay in cache next to each other; large lattices are faster in separate passes.
[[nodiscard]] inline bool lattice_fuse_passes(std::size_t bytes) noexcept {
    return bytes <= (std::size_t(8) << 20);
}

/// `iterations` times q = softmax(base + Σ_k factor_k·slice_k(blur_k(splat_k(q)))), for up to 8
/// lattices over the same N points. Per iteration: the splat of Q (its two fixed halves, each
/// serially in point order, in parallel, then added), the blur, then the slice and softmax.
/// When every job has a third buffer c (`lattice_fuse_passes`), the slice, softmax and next
/// splat of each point are done in one pass over each half between iterations, so Q is read
/// only at the start and written only at the end: the same operations in the same order. No
/// result depends on the thread count.
template <class T>
void lattice_mean_field(const std::vector<lattice_job<T>>& jobs, const T* base, T* q, index_t S,
                        int iterations) {
    const int K = static_cast<int>(jobs.size());
    if (K == 0 || iterations <= 0)
        return;
    if (K > 8)
        throw std::logic_error("lattice_mean_field: more than 8 lattices");
    const index_t n = jobs[0].lattice->size();
    const std::int32_t* offs[8];
    const T* sw[8];
    const T* lw[8];
    int d1s[8];
    index_t rows[8];
    T* buf[8][3];
    bool fuse = true;
    for (int k = 0; k < K; ++k) {
        const auto& j = jobs[static_cast<std::size_t>(k)];
        offs[k] = j.lattice->offsets().data();
        sw[k] = j.lattice->splat_weights().data();
        lw[k] = j.lattice->slice_weights().data();
        d1s[k] = j.lattice->dims() + 1;
        rows[k] = j.lattice->value_rows();
        buf[k][0] = j.a;
        buf[k][1] = j.b;
        buf[k][2] = j.c;
        fuse = fuse && j.c != nullptr;
    }
    // the splat of a range of points [i0, i1) whose rows are `in` (row i0 first) into dst[k]
    auto scatter = [&](T* const* dst, const T* in, index_t i0, index_t i1) {
        const std::int32_t* o[8];
        const T* w[8];
        for (int k = 0; k < K; ++k) {
            o[k] = offs[k] + i0 * d1s[k];
            w[k] = sw[k] + i0 * d1s[k];
        }
        lat_dispatch(S, [&]<int B, bool Avx>() {
#if DETSEG_X86_DISPATCH
            if constexpr (Avx) {
                lat_scatter_many_avx2<T, B>(K, o, w, d1s, dst, 0, i1 - i0, in, S, 0, S);
                return;
            }
#endif
            lat_scatter_many_base<T, B>(K, o, w, d1s, dst, 0, i1 - i0, in, S, 0, S);
        });
    };
    // t = base + Σ_k factor_k·slice_k(blurred_k) for the points [lo, hi) into `t` (row lo
    // first), then their softmax into `out`
    auto slice_softmax = [&](const T* const* blurred, index_t lo, index_t hi, T* t, T* out) {
        lat_dispatch(S, [&]<int B, bool Avx>() {
            for (int k = 0; k < K; ++k) {
                const T* from = k == 0 ? base + lo * S : t;
                const T factor = jobs[static_cast<std::size_t>(k)].factor;
#if DETSEG_X86_DISPATCH
                if constexpr (Avx) {
                    lat_slice_avx2<T, B, true>(offs[k] + lo * d1s[k], lw[k] + lo * d1s[k],
                                               d1s[k], blurred[k], from, t, S, factor, 0, hi - lo);
                    continue;
                }
#endif
                lat_slice_base<T, B, true>(offs[k] + lo * d1s[k], lw[k] + lo * d1s[k], d1s[k],
                                           blurred[k], from, t, S, factor, 0, hi - lo);
            }
#if DETSEG_X86_DISPATCH
            if constexpr (Avx) {
                crf_softmax_rows_avx2<T, B>(t, out, S, 0, hi - lo);
                return;
            }
#endif
            crf_softmax_rows_base<T, B>(t, out, S, 0, hi - lo);
        });
    };
    // buffer roles (the same for every kernel): the splat halves are in s0 and s1; f is free
    int s0 = 0, s1 = 1, f = 2;
    // the first splat, of q: the two halves in parallel into s0 and s1
    parallel_for(2, [&](index_t part) {
        T* dst[8];
        for (int k = 0; k < K; ++k) {
            dst[k] = buf[k][part == 0 ? s0 : s1];
            std::fill(dst[k], dst[k] + rows[k] * S, T(0));
        }
        const index_t i0 = part == 0 ? 0 : n / 2, i1 = part == 0 ? n / 2 : n;
        scatter(dst, q + i0 * S, i0, i1);
    });
    const index_t chunk = 256;
    for (int it = 0; it < iterations; ++it) {
        const T* blurred[8];
        int resk[8]; // which buffer holds kernel k's blurred values
        for (int k = 0; k < K; ++k) {
            permutohedral_lattice<T>::add_rows(buf[k][s0], buf[k][s1], rows[k], S);
            blurred[k] = jobs[static_cast<std::size_t>(k)].lattice->blur(buf[k][s0], buf[k][s1], S);
            resk[k] = blurred[k] == buf[k][s0] ? s0 : s1;
        }
        // the next splat's halves go to the blur's scratch and to the third buffer (fused) or
        // to the one that held the blurred values (not fused: they are consumed by then)
        int n0[8], n1[8];
        for (int k = 0; k < K; ++k) {
            n0[k] = resk[k] == s0 ? s1 : s0;
            n1[k] = fuse ? f : resk[k];
        }
        if (it + 1 == iterations || !fuse) {
            // the slice and softmax into Q, in parallel over chunks of points
            parallel_for_chunks(n, 512, [&](index_t lo, index_t hi) {
                std::vector<T> t(static_cast<std::size_t>((hi - lo) * S));
                slice_softmax(blurred, lo, hi, t.data(), q + lo * S);
            });
            if (it + 1 == iterations)
                return;
            // then the splat of Q
            parallel_for(2, [&](index_t part) {
                T* dst[8];
                for (int k = 0; k < K; ++k) {
                    dst[k] = buf[k][part == 0 ? n0[k] : n1[k]];
                    std::fill(dst[k], dst[k] + rows[k] * S, T(0));
                }
                const index_t i0 = part == 0 ? 0 : n / 2, i1 = part == 0 ? n / 2 : n;
                scatter(dst, q + i0 * S, i0, i1);
            });
        } else {
            // slice, softmax and the next splat, per half
            parallel_for(2, [&](index_t part) {
                T* dst[8];
                for (int k = 0; k < K; ++k) {
                    dst[k] = buf[k][part == 0 ? n0[k] : n1[k]];
                    std::fill(dst[k], dst[k] + rows[k] * S, T(0));
                }
                const index_t i0 = part == 0 ? 0 : n / 2, i1 = part == 0 ? n / 2 : n;
                std::vector<T> t(static_cast<std::size_t>(chunk * S)), qq(t.size());
                for (index_t lo = i0; lo < i1; lo += chunk) {
                    const index_t hi = std::min(i1, lo + chunk);
                    slice_softmax(blurred, lo, hi, t.data(), qq.data());
                    scatter(dst, qq.data(), lo, hi);
                }
            });
        }
        // the roles per kernel (the blur's result buffer depends on d's parity): the new
        // halves at 0 and 1, the free buffer at 2
        for (int k = 0; k < K; ++k) {
            T* const old[3] = {buf[k][0], buf[k][1], buf[k][2]};
            buf[k][0] = old[n0[k]];
            buf[k][1] = old[n1[k]];
            buf[k][2] = fuse ? old[resk[k]] : old[2];
        }
        s0 = 0;
        s1 = 1;
        f = 2;
    }
}

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_PERMUTOHEDRAL_HPP
