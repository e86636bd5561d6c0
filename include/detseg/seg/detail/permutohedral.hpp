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
// The splat is a serial scatter in point order; threads split the lanes, so every value sees the
// same operations in the same order for any thread count. Blur and slice run in parallel over
// lattice points and points. Memory: N·(d+1) vertex offsets and three N·(d+1) weight arrays,
// (d+1)·M·2 neighbour indices for M lattice points (M ≤ N·(d+1)); the hash table is freed after
// the build.

#include <detseg/config.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/seg/detail/crf_math.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace detseg::detail {

/// Open-addressing (linear probing) hash table from integer keys (d coordinates) to dense
/// indices 0..M-1 in order of insertion; the load factor stays at most 1/2. Each slot holds the
/// index and 32 bits of the key's hash, so a probe reads the stored key only when those match.
class lattice_hash {
public:
    explicit lattice_hash(int d, index_t expected) : d_(d) {
        std::size_t cap = 64;
        shift_ = 58;
        while (cap < static_cast<std::size_t>(expected) * 2) {
            cap *= 2;
            --shift_;
        }
        table_.assign(cap, 0);
        keys_.reserve(static_cast<std::size_t>(expected) * static_cast<std::size_t>(d));
        // one independent odd 64-bit weight per coordinate (splitmix64 outputs)
        std::uint64_t z = 0;
        for (int i = 0; i < d; ++i) {
            z += 0x9E3779B97F4A7C15ull;
            std::uint64_t x = z;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
            weights_.push_back((x ^ (x >> 31)) | 1ull);
        }
    }

    [[nodiscard]] index_t size() const noexcept { return size_; }
    [[nodiscard]] const std::int32_t* key(index_t i) const noexcept {
        return keys_.data() + i * d_;
    }

    /// The 64-bit hash of a key: a weighted sum of the coordinates (independent products), mixed.
    [[nodiscard]] std::uint64_t hash(const std::int32_t* key) const noexcept {
        std::uint64_t h = 0;
        for (int i = 0; i < d_; ++i)
            h += static_cast<std::uint64_t>(static_cast<std::uint32_t>(key[i])) *
                 weights_[static_cast<std::size_t>(i)];
        h ^= h >> 32;
        h *= 0xD6E8FEB86659FD93ull;
        h ^= h >> 29;
        return h * 0x9E3779B97F4A7C15ull;
    }

    /// Hint that the slot of hash `h` is needed soon.
    void prefetch(std::uint64_t h) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(table_.data() + (h >> shift_));
#else
        (void)h;
#endif
    }

    /// Index of `key` (whose hash is `h`), inserting it when absent.
    index_t insert(const std::int32_t* key, std::uint64_t h) {
        if (static_cast<std::size_t>(size_ + 1) * 2 > table_.size()) {
            grow();
        }
        const std::size_t mask = table_.size() - 1;
        std::size_t s = static_cast<std::size_t>(h >> shift_);
        for (;;) {
            const std::uint64_t e = table_[s];
            if (e == 0) {
                table_[s] = (h << 32) | static_cast<std::uint64_t>(size_ + 1);
                keys_.insert(keys_.end(), key, key + d_);
                return size_++;
            }
            if ((e >> 32) == (h & 0xFFFFFFFFull)) {
                const index_t idx = static_cast<index_t>(e & 0xFFFFFFFFull) - 1;
                if (same(key, keys_.data() + idx * d_))
                    return idx;
            }
            s = (s + 1) & mask;
        }
    }

    /// Index of `key` (whose hash is `h`), or -1 when absent.
    [[nodiscard]] index_t lookup(const std::int32_t* key, std::uint64_t h) const noexcept {
        const std::size_t mask = table_.size() - 1;
        std::size_t s = static_cast<std::size_t>(h >> shift_);
        for (;;) {
            const std::uint64_t e = table_[s];
            if (e == 0)
                return -1;
            if ((e >> 32) == (h & 0xFFFFFFFFull)) {
                const index_t idx = static_cast<index_t>(e & 0xFFFFFFFFull) - 1;
                if (same(key, keys_.data() + idx * d_))
                    return idx;
            }
            s = (s + 1) & mask;
        }
    }

private:
    [[nodiscard]] bool same(const std::int32_t* a, const std::int32_t* b) const noexcept {
        std::int32_t diff = 0;
        for (int i = 0; i < d_; ++i)
            diff |= a[i] ^ b[i];
        return diff == 0;
    }

    void grow() {
        std::vector<std::uint64_t> old;
        old.swap(table_);
        table_.assign(old.size() * 2, 0);
        --shift_;
        const std::size_t mask = table_.size() - 1;
        for (index_t i = 0; i < size_; ++i) {
            const std::uint64_t h = hash(keys_.data() + i * d_);
            std::size_t s = static_cast<std::size_t>(h >> shift_);
            while (table_[s] != 0)
                s = (s + 1) & mask;
            table_[s] = (h << 32) | static_cast<std::uint64_t>(i + 1);
        }
    }

    int d_;
    int shift_;
    index_t size_ = 0;
    std::vector<std::uint64_t> weights_;
    std::vector<std::uint64_t> table_; // (low 32 bits of the hash) << 32 | (index + 1); 0 = empty
    std::vector<std::int32_t> keys_;
};

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

template <class T, int B>
DETSEG_ALWAYS_INLINE void lat_blur_body(const std::int32_t* DETSEG_RESTRICT nb,
                                        const T* DETSEG_RESTRICT old_v, T* DETSEG_RESTRICT new_v,
                                        index_t S, index_t begin, index_t end) noexcept {
    using V = lat_lanes<T, B>;
    for (index_t v = begin; v < end; ++v) {
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
template <class T, int B>
void lat_blur_base(const std::int32_t* nb, const T* old_v, T* new_v, index_t S, index_t begin,
                   index_t end) noexcept {
    lat_blur_body<T, B>(nb, old_v, new_v, S, begin, end);
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
template <class T, int B>
DETSEG_TARGET_AVX2 void lat_blur_avx2(const std::int32_t* nb, const T* old_v, T* new_v, index_t S,
                                      index_t begin, index_t end) noexcept {
    lat_blur_body<T, B>(nb, old_v, new_v, S, begin, end);
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
    void build(const float* f, int d, index_t n, bool generic_geometry = false) {
        generic_ = generic_geometry;
        d_ = d;
        n_ = n;
        const int d1 = d + 1;
        offset_.assign(static_cast<std::size_t>(n * d1), 0);
        bary_.assign(static_cast<std::size_t>(n * d1), T(0));
        lattice_hash hash(d, std::max<index_t>(n / 4, 1024)); // grows as needed

        // per-axis scale of the elevation (Adams et al. 2010, p. 5), as densecrf in float
        std::vector<float> scale(static_cast<std::size_t>(d));
        const float inv_std = static_cast<float>(std::sqrt(2.0 / 3.0) * d1);
        for (int k = 0; k < d; ++k)
            scale[static_cast<std::size_t>(k)] =
                static_cast<float>(1.0 / std::sqrt(double((k + 2) * (k + 1))) * inv_std);

        // The geometry of each point (elevation, simplex, barycentric weights) is computed in
        // parallel for a chunk of points; the keys are then inserted serially in point order.
        const index_t chunk = 32768; // points per parallel geometry pass (bounds the key buffer)
        std::vector<std::int32_t> keys(static_cast<std::size_t>(chunk * d1 * d));
        std::vector<float> bary_chunk(static_cast<std::size_t>(chunk * d1));
        std::vector<std::uint64_t> hashes(static_cast<std::size_t>(chunk * d1));
        for (index_t c0 = 0; c0 < n; c0 += chunk) {
            const index_t c1 = std::min(n, c0 + chunk);
            parallel_for_chunks(c1 - c0, 512, [&](index_t b, index_t e) {
                geometry_range(f, n, c0, b, e, scale.data(), keys.data(), bary_chunk.data());
            });
            const index_t cnt = (c1 - c0) * d1;
            parallel_for_chunks(cnt, 2048, [&](index_t b, index_t e) {
                for (index_t k = b; k < e; ++k)
                    hashes[static_cast<std::size_t>(k)] = hash.hash(keys.data() + k * d);
            });
            for (index_t ii = 0; ii < c1 - c0; ++ii) {
                const index_t i = c0 + ii;
                for (int r = 0; r < d1; ++r) {
                    const index_t k = ii * d1 + r;
                    if (k + 16 < cnt)
                        hash.prefetch(hashes[static_cast<std::size_t>(k + 16)]);
                    const index_t v = hash.insert(keys.data() + k * d,
                                                  hashes[static_cast<std::size_t>(k)]);
                    offset_[static_cast<std::size_t>(i * d1 + r)] = static_cast<std::int32_t>(v + 1);
                    bary_[static_cast<std::size_t>(i * d1 + r)] =
                        static_cast<T>(bary_chunk[static_cast<std::size_t>(ii * d1 + r)]);
                }
            }
        }
        m_ = hash.size();

        // blur neighbours along each axis: n1 = key + 1 (the axis coordinate - d), n2 = key - 1
        // (the axis coordinate + d); index 0 is the zero row (absent neighbour)
        neighbours_.assign(static_cast<std::size_t>(m_ * d1 * 2), 0);
        parallel_for_chunks(m_, 4096, [&](index_t b, index_t e) {
            // all 2(d+1) neighbour keys of a vertex are hashed and their slots prefetched
            // before the lookups, so the cache misses overlap
            const std::size_t nk = static_cast<std::size_t>(2 * d1);
            std::vector<std::int32_t> nkeys(nk * static_cast<std::size_t>(d));
            std::vector<std::uint64_t> nh(nk);
            for (index_t v = b; v < e; ++v) {
                const std::int32_t* key = hash.key(v);
                for (int j = 0; j < d1; ++j) {
                    std::int32_t* k1 = nkeys.data() + (2 * j) * d;
                    std::int32_t* k2 = k1 + d;
                    for (int k = 0; k < d; ++k) {
                        k1[k] = key[k] + 1;
                        k2[k] = key[k] - 1;
                    }
                    if (j < d) {
                        k1[j] = key[j] - d;
                        k2[j] = key[j] + d;
                    }
                }
                for (std::size_t q = 0; q < nk; ++q) {
                    nh[q] = hash.hash(nkeys.data() + static_cast<index_t>(q) * d);
                    hash.prefetch(nh[q]);
                }
                for (int j = 0; j < d1; ++j) {
                    const std::size_t at = static_cast<std::size_t>((j * m_ + v) * 2);
                    for (int side = 0; side < 2; ++side) {
                        const std::size_t q = static_cast<std::size_t>(2 * j + side);
                        neighbours_[at + static_cast<std::size_t>(side)] = static_cast<std::int32_t>(
                            hash.lookup(nkeys.data() + static_cast<index_t>(q) * d, nh[q]) + 1);
                    }
                }
            }
        });

        alpha_ = static_cast<T>(1.0f / (1.0f + std::pow(2.0f, static_cast<float>(-d))));
        reset_weights();
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
                        lat_blur_avx2<T, B>(nb, cur, nxt, S, lo, hi);
                        return;
                    }
#endif
                    lat_blur_base<T, B>(nb, cur, nxt, S, lo, hi);
                });
            };
            // a small lattice is blurred on the calling thread (a parallel region per axis
            // would cost more than the work)
            if (m_ * S < (index_t(1) << 20))
                run(0, m_);
            else
                parallel_for_chunks(m_, 2048, run);
            std::swap(cur, nxt);
        }
        return cur;
    }

    /// Bytes held by the lattice (without the value buffers).
    [[nodiscard]] std::size_t bytes() const noexcept {
        return offset_.size() * 4 + bary_.size() * sizeof(T) + neighbours_.size() * 4 +
               splat_w_.size() * sizeof(T) +
               slice_w_.size() * sizeof(T);
    }

    /// Sets the splat weights to `bary·in_scale[i]` and the slice weights to
    /// `bary·alpha·out_scale[i]` (null scales count as 1).
    void set_weights(const T* in_scale, const T* out_scale) {
        const int d1 = d_ + 1;
        splat_w_.resize(bary_.size());
        slice_w_.resize(bary_.size());

        for (index_t i = 0; i < n_; ++i)
            for (int j = 0; j < d1; ++j) {
                const std::size_t at = static_cast<std::size_t>(i * d1 + j);
                splat_w_[at] = in_scale ? bary_[at] * in_scale[i] : bary_[at];
                T w = bary_[at] * alpha_;
                if (out_scale)
                    w *= out_scale[i];
                slice_w_[at] = w;
            }
    }

    /// Plain weights (the raw lattice operator).
    void reset_weights() { set_weights(nullptr, nullptr); }

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
        // blur along each axis
        T* cur = a;
        T* nxt = b;
        for (int j = 0; j < d1; ++j) {
            const std::int32_t* nb = neighbours_.data() + static_cast<std::size_t>(j) * m_ * 2;
            auto run = [&](index_t lo, index_t hi) {
                lat_dispatch(S, [&]<int B, bool Avx>() {
#if DETSEG_X86_DISPATCH
                    if constexpr (Avx) {
                        lat_blur_avx2<T, B>(nb, cur, nxt, S, lo, hi);
                        return;
                    }
#endif
                    lat_blur_base<T, B>(nb, cur, nxt, S, lo, hi);
                });
            };
            // a small lattice is blurred on the calling thread (a parallel region per axis
            // would cost more than the work)
            if (m_ * S < (index_t(1) << 20))
                run(0, m_);
            else
                parallel_for_chunks(m_, 2048, run);
            std::swap(cur, nxt);
        }
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

    /// Convenience: out = lattice(in) with the current weights (allocates the scratch).
    void compute(const T* in, T* out, index_t S) const {
        std::vector<T> a(static_cast<std::size_t>(value_rows() * S)),
            b(static_cast<std::size_t>(value_rows() * S));
        compute_into(in, out, S, a.data(), b.data(), false);
    }

private:
    template <int D>
    void geometry_fixed(const float* f, index_t n, index_t c0, index_t b, index_t e,
                        const float* scale, std::int32_t* keys, float* bary) const noexcept {
        float elev[D + 1];
        int rem0[D + 1], rank[D + 1];
        float bc[D + 2];
        for (index_t ii = b; ii < e; ++ii)
            point_geometry<D>(f, n, c0 + ii, scale, elev, rem0, rank, bc,
                              keys + ii * (D + 1) * D, bary + ii * (D + 1));
    }

    // geometry of points c0 + [b, e) into keys / bary (chunk-relative)
    void geometry_range(const float* f, index_t n, index_t c0, index_t b, index_t e,
                        const float* scale, std::int32_t* keys, float* bary) const {
        switch (generic_ ? 0 : d_) {
        case 1: return geometry_fixed<1>(f, n, c0, b, e, scale, keys, bary);
        case 2: return geometry_fixed<2>(f, n, c0, b, e, scale, keys, bary);
        case 3: return geometry_fixed<3>(f, n, c0, b, e, scale, keys, bary);
        case 4: return geometry_fixed<4>(f, n, c0, b, e, scale, keys, bary);
        case 5: return geometry_fixed<5>(f, n, c0, b, e, scale, keys, bary);
        case 6: return geometry_fixed<6>(f, n, c0, b, e, scale, keys, bary);
        default: break;
        }
        const int d1 = d_ + 1;
        std::vector<float> elev(static_cast<std::size_t>(d1)), bc(static_cast<std::size_t>(d1 + 1));
        std::vector<int> rem0(static_cast<std::size_t>(d1)), rank(static_cast<std::size_t>(d1));
        for (index_t ii = b; ii < e; ++ii)
            point_geometry<0>(f, n, c0 + ii, scale, elev.data(), rem0.data(), rank.data(),
                              bc.data(), keys + ii * d1 * d_, bary + ii * d1);
    }

    // std::round for |v| < 2^23 (halves away from zero), without a libm call
    static int round_half_away(float v) noexcept {
        int r = static_cast<int>(v); // truncates
        const float fr = v - static_cast<float>(r);
        r += fr >= 0.5f ? 1 : (fr <= -0.5f ? -1 : 0);
        return r;
    }

    // Elevation, enclosing simplex and barycentric weights of point i; writes the d+1 vertex
    // keys (d coordinates each) and weights.
    // D > 0: d known at compile time (the loops unroll, the small arrays live in registers).
    template <int D>
    DETSEG_ALWAYS_INLINE void point_geometry(const float* f, index_t n, index_t i,
                                             const float* scale, float* elev, int* rem0,
                                             int* rank, float* bc, std::int32_t* keys_out,
                                             float* bary_out) const noexcept {
        const int d = D > 0 ? D : d_;
        const int d1 = d + 1;
        // elevated = E·(scaled f): running sums from the last axis down
        float sm = 0.0f;
        for (int j = d; j > 0; --j) {
            const float cf = f[(j - 1) * n + i] * scale[j - 1];
            elev[j] = sm - static_cast<float>(j) * cf;
            sm += cf;
        }
        elev[0] = sm;
        // nearest remainder-0 point: round each coordinate to a multiple of d+1
        const float down = 1.0f / static_cast<float>(d1);
        const float up = static_cast<float>(d1);
        int sum = 0;
        for (int j = 0; j < d1; ++j) {
            const int rd = round_half_away(down * elev[j]);
            rem0[j] = static_cast<int>(static_cast<float>(rd) * up);
            sum += rd;
        }
        // rank of each coordinate's residual (descending order)
        for (int j = 0; j < d1; ++j)
            rank[j] = 0;
        // (densecrf compares the float residuals as doubles, which orders them identically)
        float res[D > 0 ? D + 1 : 1];
        float* rs = D > 0 ? res : bc; // bc is free until the barycentric step (d+2 floats)
        for (int j = 0; j < d1; ++j)
            rs[j] = elev[j] - static_cast<float>(rem0[j]);
        for (int j = 0; j < d; ++j) {
            const float dj = rs[j];
            for (int k = j + 1; k < d1; ++k) {
                const int c = dj < rs[k] ? 1 : 0;
                rank[j] += c;
                rank[k] += 1 - c;
            }
        }
        // move the point back onto the plane Σ = 0 when the rounding left it off
        for (int j = 0; j < d1; ++j) {
            rank[j] += sum;
            if (rank[j] < 0) {
                rank[j] += d1;
                rem0[j] += d1;
            } else if (rank[j] > d) {
                rank[j] -= d1;
                rem0[j] -= d1;
            }
        }
        // barycentric coordinates (Adams et al. 2010, p. 10)
        for (int j = 0; j <= d1; ++j)
            bc[j] = 0.0f;
        for (int j = 0; j < d1; ++j) {
            const float v = (elev[j] - static_cast<float>(rem0[j])) * down;
            bc[d - rank[j]] += v;
            bc[d - rank[j] + 1] -= v;
        }
        bc[0] += 1.0f + bc[d1];
        // the d+1 vertices of the simplex
        for (int r = 0; r < d1; ++r) {
            std::int32_t* key = keys_out + r * d;
            for (int j = 0; j < d; ++j) {
                key[j] = rem0[j] + r;
                if (rank[j] > d - r)
                    key[j] -= d1;
            }
            bary_out[r] = bc[r];
        }
    }

    int d_ = 0;
    bool generic_ = false; // tests: the run-time-d geometry path for every d
    index_t n_ = 0, m_ = 0;
    T alpha_ = T(1);
    std::vector<std::int32_t> offset_;     // N×(d+1): vertex index + 1
    std::vector<T> bary_;                  // N×(d+1)
    std::vector<std::int32_t> neighbours_; // (d+1)×M×2, index + 1 (0 = absent)
    std::vector<T> splat_w_;               // N×(d+1)
    std::vector<T> slice_w_;               // N×(d+1)
};

/// One kernel of `lattice_filter_many`: its lattice, two scratch buffers of value_rows()·S
/// values, and the factor of its slice.
template <class T>
struct lattice_job {
    const permutohedral_lattice<T>* lattice;
    T* a;
    T* b;
    T factor;
};

/// q = softmax(base + Σ_k factor_k·slice_k(blur_k(splat_k(q)))) over the S lanes of each point,
/// for up to 8 lattices over the same N points: one pass over q for all the splats and one
/// pass for all the slices and the softmax (no N×S intermediate). The same operations, in the
/// same order per lane, as the kernels one at a time.
template <class T>
void lattice_filter_many(const std::vector<lattice_job<T>>& jobs, const T* base, T* q,
                         index_t S) {
    const int K = static_cast<int>(jobs.size());
    if (K == 0)
        return;
    const index_t n = jobs[0].lattice->size();
    const std::int32_t* offs[8];
    const T* sw[8];
    const T* lw[8];
    int d1s[8];
    T* vals[8];
    for (int k = 0; k < K; ++k) {
        const auto& lat = *jobs[static_cast<std::size_t>(k)].lattice;
        offs[k] = lat.offsets().data();
        sw[k] = lat.splat_weights().data();
        lw[k] = lat.slice_weights().data();
        d1s[k] = lat.dims() + 1;
        vals[k] = jobs[static_cast<std::size_t>(k)].a;
        std::fill(jobs[static_cast<std::size_t>(k)].a, jobs[static_cast<std::size_t>(k)].a + S, T(0));
        std::fill(jobs[static_cast<std::size_t>(k)].b, jobs[static_cast<std::size_t>(k)].b + S, T(0));
    }
    // splat: one scatter pass for all lattices over each half of the points, serial in point
    // order, the halves in parallel into a and b; then a += b (a fixed split: no result depends
    // on the thread count)
    T* valsb[8];
    for (int k = 0; k < K; ++k)
        valsb[k] = jobs[static_cast<std::size_t>(k)].b;
    parallel_for(2, [&](index_t part) {
        T* const* dst = part == 0 ? vals : valsb;
        for (int k = 0; k < K; ++k) {
            const index_t rows = jobs[static_cast<std::size_t>(k)].lattice->value_rows();
            std::fill(dst[k] + S, dst[k] + rows * S, T(0));
        }
        const index_t i0 = part == 0 ? 0 : n / 2, i1 = part == 0 ? n / 2 : n;
        lat_dispatch(S, [&]<int B, bool Avx>() {
#if DETSEG_X86_DISPATCH
            if constexpr (Avx) {
                lat_scatter_many_avx2<T, B>(K, offs, sw, d1s, dst, i0, i1, q, S, 0, S);
                return;
            }
#endif
            lat_scatter_many_base<T, B>(K, offs, sw, d1s, dst, i0, i1, q, S, 0, S);
        });
    });
    for (int k = 0; k < K; ++k)
        permutohedral_lattice<T>::add_rows(vals[k], valsb[k],
                                           jobs[static_cast<std::size_t>(k)].lattice->value_rows(), S);
    const T* blurred[8];
    for (int k = 0; k < K; ++k) {
        const auto& j = jobs[static_cast<std::size_t>(k)];
        blurred[k] = j.lattice->blur(j.a, j.b, S);
    }
    // slices and softmax, per chunk of points
    parallel_for_chunks(n, 512, [&](index_t lo, index_t hi) {
        std::vector<T> rows(static_cast<std::size_t>((hi - lo) * S));
        lat_dispatch(S, [&]<int B, bool Avx>() {
            for (int k = 0; k < K; ++k) {
                const T* from = k == 0 ? base + lo * S : rows.data();
                const T factor = jobs[static_cast<std::size_t>(k)].factor;
#if DETSEG_X86_DISPATCH
                if constexpr (Avx) {
                    lat_slice_avx2<T, B, true>(offs[k] + lo * d1s[k], lw[k] + lo * d1s[k], d1s[k],
                                               blurred[k], from, rows.data(), S, factor, 0,
                                               hi - lo);
                    continue;
                }
#endif
                lat_slice_base<T, B, true>(offs[k] + lo * d1s[k], lw[k] + lo * d1s[k], d1s[k],
                                           blurred[k], from, rows.data(), S, factor, 0, hi - lo);
            }
#if DETSEG_X86_DISPATCH
            if constexpr (Avx) {
                crf_softmax_rows_avx2<T, B>(rows.data(), q + lo * S, S, 0, hi - lo);
                return;
            }
#endif
            crf_softmax_rows_base<T, B>(rows.data(), q + lo * S, S, 0, hi - lo);
        });
    });
}

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_PERMUTOHEDRAL_HPP
