#ifndef DETSEG_SEG_DETAIL_LATTICE_BUILD_HPP
#define DETSEG_SEG_DETAIL_LATTICE_BUILD_HPP

// The structure of a permutohedral lattice over N points with d features (Adams, Baek & Davis,
// Eurographics 2010), with densecrf v2's conventions (see permutohedral.hpp): each point's
// enclosing simplex (its d+1 vertices, numbered in the order a serial pass over the points first
// meets them) and barycentric weights, and each lattice point's two neighbours along each of the
// d+1 axes. Built in parallel; the numbering does not depend on the thread count.

#include <detseg/config.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/seg/detail/lattice_hash.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg::detail {

/// What `lattice_builder` produces.
struct lattice_structure {
    index_t m = 0;                        ///< number of lattice points M
    std::vector<std::int32_t> offset;     ///< N×(d+1): vertex index + 1 of each simplex corner
    std::vector<float> bary;              ///< N×(d+1): the barycentric weights
    std::vector<std::int32_t> neighbours; ///< (d+1)×M×2: index + 1 (0 = absent) of key ± 1
};

/// Builds a `lattice_structure` over n points whose d features are `f[k*n + i]` (k < d, i < n),
/// already divided by their standard deviations. O(N·d²) time; the hash table is freed
/// afterwards. `generic` (for tests) uses the run-time-d geometry for every d.
class lattice_builder {
public:
    lattice_builder(int d, bool generic, lattice_structure& out)
        : d_(d), generic_(generic), out_(out) {}

    template <class F>
        requires(std::is_same_v<F, float> || std::is_same_v<F, double>)
    void run(const F* f, index_t n) {
        const int d = d_;
        const int d1 = d + 1;
        out_.offset.assign(static_cast<std::size_t>(n * d1), 0);
        out_.bary.assign(static_cast<std::size_t>(n * d1), 0.0f); // the barycentric weights

        // per-axis scale of the elevation (Adams et al. 2010, p. 5), as densecrf in float
        std::vector<float> scale(static_cast<std::size_t>(d));
        const float inv_std = static_cast<float>(std::sqrt(2.0 / 3.0) * d1);
        for (int k = 0; k < d; ++k)
            scale[static_cast<std::size_t>(k)] =
                static_cast<float>(1.0 / std::sqrt(double((k + 2) * (k + 1))) * inv_std);

        // The points are split into P fixed parts (P depends only on n), built in parallel:
        // each part computes the geometry of its points (elevation, simplex, barycentric weights)
        // and inserts their vertex keys, in point order, into a table of its own. The tables are
        // then merged in part order: part 0's table becomes the lattice's, each later part's keys
        // are looked up or appended in its own first-seen order, and its points' vertex indices
        // are renumbered. The lattice points are thus numbered in the order in which a serial
        // pass over all the points would first meet them, whatever the thread count.
        const index_t parts = std::clamp<index_t>(n / 65536, 1, 8);
        std::vector<lattice_hash> tables;
        tables.reserve(static_cast<std::size_t>(parts));
        for (index_t p = 0; p < parts; ++p)
            tables.emplace_back(d, std::max<index_t>(n / parts / 4, 1024)); // grow as needed
        auto part_range = [&](index_t p) {
            return std::pair<index_t, index_t>(n * p / parts, n * (p + 1) / parts);
        };
        parallel_for(parts, [&](index_t p) {
            const auto [p0, p1] = part_range(p);
            build_part(f, n, p0, p1, scale.data(), tables[static_cast<std::size_t>(p)]);
        });
        lattice_hash hash = std::move(tables[0]);
        if (parts > 1) {
            std::vector<std::vector<std::int32_t>> renumber(static_cast<std::size_t>(parts));
            for (index_t p = 1; p < parts; ++p) {
                const lattice_hash& t = tables[static_cast<std::size_t>(p)];
                auto& map = renumber[static_cast<std::size_t>(p)];
                map.resize(static_cast<std::size_t>(t.size()) + 1);
                map[0] = 0;
                const index_t ahead = 8;
                std::vector<std::uint64_t> hs(static_cast<std::size_t>(t.size()));
                for (index_t v = 0; v < t.size(); ++v)
                    hs[static_cast<std::size_t>(v)] = hash.hash(t.key(v));
                for (index_t v = 0; v < t.size(); ++v) {
                    if (v + ahead < t.size())
                        hash.prefetch(hs[static_cast<std::size_t>(v + ahead)]);
                    map[static_cast<std::size_t>(v) + 1] = static_cast<std::int32_t>(
                        hash.insert(t.key(v), hs[static_cast<std::size_t>(v)]) + 1);
                }
            }
            parallel_for(parts - 1, [&](index_t q) {
                const index_t p = q + 1;
                const auto [p0, p1] = part_range(p);
                const std::int32_t* map = renumber[static_cast<std::size_t>(p)].data();
                for (index_t k = p0 * d1; k < p1 * d1; ++k)
                    out_.offset[static_cast<std::size_t>(k)] = map[out_.offset[static_cast<std::size_t>(k)]];
            });
        }
        tables.clear();
        out_.m = hash.size();

        // blur neighbours along each axis: n1 = key + 1 (the axis coordinate - d), n2 = key - 1
        // (the axis coordinate + d); index 0 is the zero row (absent neighbour)
        out_.neighbours.assign(static_cast<std::size_t>(out_.m * d1 * 2), 0);
        parallel_for_chunks(out_.m, 4096, [&](index_t b, index_t e) {
            // vertices in batches: all the neighbour keys of a batch are hashed and their slots
            // prefetched, then the stored keys those slots point to, then they are looked up,
            // so that the cache misses of many lookups overlap
            const index_t batch = 32;
            const std::size_t nk = static_cast<std::size_t>(2 * d1);
            std::vector<std::int32_t> nkeys(static_cast<std::size_t>(batch) * nk *
                                            static_cast<std::size_t>(d));
            std::vector<std::uint64_t> nh(static_cast<std::size_t>(batch) * nk);
            for (index_t v0 = b; v0 < e; v0 += batch) {
                const index_t v1 = std::min(e, v0 + batch);
                const std::size_t cnt = static_cast<std::size_t>(v1 - v0) * nk;
                for (index_t v = v0; v < v1; ++v) {
                    const std::int32_t* key = hash.key(v);
                    std::int32_t* kv = nkeys.data() + static_cast<std::size_t>(v - v0) * nk *
                                                          static_cast<std::size_t>(d);
                    for (int j = 0; j < d1; ++j) {
                        std::int32_t* k1 = kv + (2 * j) * d;
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
                }
                for (std::size_t q = 0; q < cnt; ++q) {
                    nh[q] = hash.hash(nkeys.data() + q * static_cast<std::size_t>(d));
                    hash.prefetch(nh[q]);
                }
                for (std::size_t q = 0; q < cnt; ++q)
                    hash.prefetch_key(nh[q]);
                for (index_t v = v0; v < v1; ++v)
                    for (int j = 0; j < d1; ++j) {
                        const std::size_t at = static_cast<std::size_t>((j * out_.m + v) * 2);
                        for (int side = 0; side < 2; ++side) {
                            const std::size_t q = static_cast<std::size_t>(v - v0) * nk +
                                                  static_cast<std::size_t>(2 * j + side);
                            out_.neighbours[at + static_cast<std::size_t>(side)] =
                                static_cast<std::int32_t>(
                                    hash.lookup(nkeys.data() + q * static_cast<std::size_t>(d),
                                                nh[q]) +
                                    1);
                        }
                    }
            }
        });
    }

private:
    // Geometry and vertex insertion of the points [p0, p1) into `table`, in point order, in
    // blocks (geometry of a block, then its keys' hashes, then the insertions with the slots of
    // later keys prefetched); writes the offsets (index in `table` + 1) and the barycentric weights.
    template <class F>
    void build_part(const F* f, index_t n, index_t p0, index_t p1, const float* scale,
                    lattice_hash& table) {
        const int d = d_, d1 = d_ + 1;
        const index_t chunk = 4096;
        const std::size_t kd = static_cast<std::size_t>(d1 * d);
        std::vector<std::int32_t> keys(static_cast<std::size_t>(chunk) * kd);
        std::vector<float> bary(static_cast<std::size_t>(chunk * d1));
        std::vector<std::uint64_t> hashes(static_cast<std::size_t>(chunk * d1));
        std::vector<std::uint8_t> dup(static_cast<std::size_t>(chunk));
        for (index_t c0 = p0; c0 < p1; c0 += chunk) {
            const index_t cn = std::min(p1, c0 + chunk) - c0;
            geometry_range(f, n, c0, 0, cn, scale, keys.data(), bary.data());
            // a point whose simplex is its predecessor's (the same d+1 keys: frequent, as
            // neighbouring pixels have close features) gets the same vertices without hashing:
            // inserting those keys again would return the same indices
            for (index_t ii = 0; ii < cn; ++ii) {
                const std::int32_t* kp = keys.data() + static_cast<std::size_t>(ii) * kd;
                const bool same =
                    ii > 0 && std::memcmp(kp, kp - kd, kd * sizeof(std::int32_t)) == 0;
                dup[static_cast<std::size_t>(ii)] = same ? 1 : 0;
                for (int r = 0; r < d1; ++r)
                    hashes[static_cast<std::size_t>(ii * d1 + r)] =
                        same ? 0 : table.hash(kp + r * d);
            }
            const index_t cnt = cn * d1;
            for (index_t ii = 0; ii < cn; ++ii) {
                const index_t i = c0 + ii;
                std::int32_t* off = out_.offset.data() + i * d1;
                float* bw = out_.bary.data() + i * d1;
                const float* bc = bary.data() + ii * d1;
                for (int r = 0; r < d1; ++r)
                    bw[r] = bc[r];
                if (dup[static_cast<std::size_t>(ii)]) {
                    for (int r = 0; r < d1; ++r)
                        off[r] = off[r - d1];
                    continue;
                }
                for (int r = 0; r < d1; ++r) {
                    const index_t k = ii * d1 + r;
                    if (k + 16 < cnt)
                        table.prefetch(hashes[static_cast<std::size_t>(k + 16)]);
                    const index_t v = table.insert(keys.data() + static_cast<std::size_t>(k) * d,
                                                   hashes[static_cast<std::size_t>(k)]);
                    off[r] = static_cast<std::int32_t>(v + 1);
                }
            }
        }
    }

    template <int D, class F>
    void geometry_fixed(const F* f, index_t n, index_t c0, index_t b, index_t e,
                        const float* scale, std::int32_t* keys, float* bary) const noexcept {
        float elev[D + 1];
        int rem0[D + 1], rank[D + 1];
        float bc[D + 2];
        for (index_t ii = b; ii < e; ++ii)
            point_geometry<D, F>(f, n, c0 + ii, scale, elev, rem0, rank, bc,
                              keys + ii * (D + 1) * D, bary + ii * (D + 1));
    }

    // geometry of points c0 + [b, e) into keys / bary (chunk-relative)
    template <class F>
    void geometry_range(const F* f, index_t n, index_t c0, index_t b, index_t e,
                        const float* scale, std::int32_t* keys, float* bary) const {
        switch (generic_ ? 0 : d_) {
        case 1: return geometry_fixed<1, F>(f, n, c0, b, e, scale, keys, bary);
        case 2: return geometry_fixed<2, F>(f, n, c0, b, e, scale, keys, bary);
        case 3: return geometry_fixed<3, F>(f, n, c0, b, e, scale, keys, bary);
        case 4: return geometry_fixed<4, F>(f, n, c0, b, e, scale, keys, bary);
        case 5: return geometry_fixed<5, F>(f, n, c0, b, e, scale, keys, bary);
        case 6: return geometry_fixed<6, F>(f, n, c0, b, e, scale, keys, bary);
        default: break;
        }
        const int d1 = d_ + 1;
        std::vector<float> elev(static_cast<std::size_t>(d1)), bc(static_cast<std::size_t>(d1 + 1));
        std::vector<int> rem0(static_cast<std::size_t>(d1)), rank(static_cast<std::size_t>(d1));
        for (index_t ii = b; ii < e; ++ii)
            point_geometry<0, F>(f, n, c0 + ii, scale, elev.data(), rem0.data(), rank.data(),
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
    template <int D, class F>
    DETSEG_ALWAYS_INLINE void point_geometry(const F* f, index_t n, index_t i,
                                             const float* scale, float* elev, int* rem0,
                                             int* rank, float* bc, std::int32_t* keys_out,
                                             float* bary_out) const noexcept {
        const int d = D > 0 ? D : d_;
        const int d1 = d + 1;
        // elevated = E·(scaled f): running sums from the last axis down
        float sm = 0.0f;
        for (int j = d; j > 0; --j) {
            const float cf = static_cast<float>(f[(j - 1) * n + i]) * scale[j - 1];
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


    int d_;
    bool generic_;
    lattice_structure& out_;
};

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_LATTICE_BUILD_HPP
