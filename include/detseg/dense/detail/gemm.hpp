#ifndef DETSEG_DENSE_DETAIL_GEMM_HPP
#define DETSEG_DENSE_DETAIL_GEMM_HPP

// The blocked GEMM under conv2d: C[M×N] = bias + A[M×K]·B[K×N], optionally followed by ReLU.
//
// - A (the weights) is packed once into panels of MR rows for each "k block", a slice of at most
//   kc steps of K (gemm_packed_a); a caller may run the GEMM over any subset of the blocks.
// - B is never stored whole: for one k block at a time, the caller's packer writes the kc×NR
//   micro-panels of a range of columns (for conv2d, the input shifted by one tap, zero where
//   the tap reads padding), and reports an all-zero micro-panel, which the driver then skips.
// - Work is split into tasks, each a rectangle of C. Every element of C is one sequential chain
//   c = bias; c = fma(a_k, b_k, c) over the live k blocks in their fixed order, so the result
//   depends neither on the tasks nor on the number of threads.

#include <detseg/config.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/dense/detail/gemm_cpu.hpp>
#include <detseg/dense/detail/gemm_kernels.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace detseg::detail {

/// A 64-byte aligned array (the packed panels are read with aligned vector loads).
template <class T>
class aligned_buffer {
public:
    aligned_buffer() = default;
    explicit aligned_buffer(index_t n) : n_(n) {
        if (n > 0)
            p_.reset(static_cast<T*>(
                ::operator new(static_cast<std::size_t>(n) * sizeof(T), std::align_val_t{64})));
    }
    aligned_buffer(const aligned_buffer& o) : aligned_buffer(o.n_) {
        if (n_ > 0)
            std::memcpy(p_.get(), o.p_.get(), static_cast<std::size_t>(n_) * sizeof(T));
    }
    aligned_buffer(aligned_buffer&&) noexcept = default;
    aligned_buffer& operator=(const aligned_buffer& o) {
        if (this != &o)
            *this = aligned_buffer(o);
        return *this;
    }
    aligned_buffer& operator=(aligned_buffer&&) noexcept = default;

    [[nodiscard]] T* data() noexcept { return p_.get(); }
    [[nodiscard]] const T* data() const noexcept { return p_.get(); }
    [[nodiscard]] index_t size() const noexcept { return n_; }

private:
    struct deleter {
        void operator()(T* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
    };
    std::unique_ptr<T, deleter> p_;
    index_t n_ = 0;
};

/// One slice of K: steps (tap, c0 .. c0+len-1), packed at `a_offset` in gemm_packed_a::data.
struct gemm_kblock {
    index_t tap = 0;
    index_t c0 = 0;
    index_t len = 0;
    index_t a_offset = 0;
};

/// Largest k block (steps): the A block of one k block (M×kc) stays in L2 and one B micro-panel
/// (kc×NR) in L1; the input planes of a block of channels stay in L2 while its taps are packed.
template <class T>
inline constexpr index_t gemm_kc = sizeof(T) == 4 ? 128 : 96;

/// Largest packed B block (bytes): the columns of a task are packed in chunks of this size.
inline constexpr index_t gemm_b_block_bytes = index_t{2} << 20;

/// The weights packed for the kernel of `isa`: for each k block, panels of `mr` rows
/// (zero-padded past `m`), each `len` steps of `mr` values.
template <class T>
struct gemm_packed_a {
    gemm_isa isa = gemm_isa::portable;
    int mr = 1;
    int nr = 1;
    index_t m = 0;
    std::vector<gemm_kblock> blocks;
    aligned_buffer<T> data;

    [[nodiscard]] index_t panels() const noexcept { return (m + mr - 1) / mr; }
    [[nodiscard]] const T* panel(const gemm_kblock& b, index_t p) const noexcept {
        return data.data() + b.a_offset + p * mr * b.len;
    }
};

/// (mr, nr) of the kernel of `isa` for `T`.
template <class T>
[[nodiscard]] inline std::pair<int, int> gemm_tile(gemm_isa isa) noexcept {
    switch (isa) {
    case gemm_isa::avx512: return {gemm_shape<T, gemm_isa::avx512>::mr,
                                   gemm_shape<T, gemm_isa::avx512>::nr};
    case gemm_isa::avx2: return {gemm_shape<T, gemm_isa::avx2>::mr,
                                 gemm_shape<T, gemm_isa::avx2>::nr};
    default: return {gemm_shape<T, gemm_isa::portable>::mr, gemm_shape<T, gemm_isa::portable>::nr};
    }
}

/// Packs A[m][tap][c] for the given taps (in that order) and channels [0, cin), where
/// `row(m, tap)` returns {pointer to A[m][tap][0], stride between channels}: k blocks of at most
/// gemm_kc<T> channels of one tap, ordered by channel block, then tap.
template <class T, class Row>
[[nodiscard]] gemm_packed_a<T> gemm_pack_a(index_t m, std::span<const index_t> taps, index_t cin,
                                           gemm_isa isa, Row&& row) {
    gemm_packed_a<T> p;
    p.isa = isa;
    std::tie(p.mr, p.nr) = gemm_tile<T>(isa);
    p.m = m;
    const index_t kc = gemm_kc<T>;
    const index_t mpad = p.panels() * p.mr;
    index_t off = 0;
    // Channel blocks outer, taps inner: the taps of one block of channels read the same input
    // planes one after the other, while they are in cache.
    for (index_t c0 = 0; c0 < cin; c0 += kc)
        for (index_t t : taps) {
            const index_t len = std::min(kc, cin - c0);
            p.blocks.push_back({t, c0, len, off});
            off += mpad * len;
        }
    p.data = aligned_buffer<T>(off);
    T* d = p.data.data();
    for (const gemm_kblock& b : p.blocks)
        for (index_t ip = 0; ip < p.panels(); ++ip) {
            T* dst = d + b.a_offset + ip * p.mr * b.len;
            for (int r = 0; r < p.mr; ++r) {
                const index_t i = ip * p.mr + r;
                if (i >= m) {
                    for (index_t k = 0; k < b.len; ++k)
                        dst[k * p.mr + r] = T(0);
                    continue;
                }
                const auto [src, cs] = row(i, b.tap);
                for (index_t k = 0; k < b.len; ++k)
                    dst[k * p.mr + r] = static_cast<T>(src[(b.c0 + k) * cs]);
            }
        }
    return p;
}

/// C[M×N] (row-major, leading dimension ldc) = bias + A·B over `blocks` (a subset of A's, in
/// order), then ReLU when `relu`. `pack_b(block, pj0, pj1, nr, n, ps, dst, live)` writes the
/// len×nr micro-panels pj0..pj1-1 of B (columns past n zero; panel p at dst + (p-pj0)·ps) and sets
/// live[p-pj0] to false for an all-zero micro-panel, which it need not write. `bias` may be null
/// (zero).
template <class T, gemm_isa Isa, class PackB>
void gemm_run_isa(const gemm_packed_a<T>& a, std::span<const gemm_kblock> blocks, index_t n,
                  T* c, index_t ldc, const T* bias, bool relu, PackB&& pack_b) {
    constexpr int MR = gemm_shape<T, Isa>::mr;
    constexpr int NR = gemm_shape<T, Isa>::nr;
    const index_t m = a.m;
    if (m <= 0 || n <= 0)
        return;
    const index_t pm = (m + MR - 1) / MR;
    const index_t pn = (n + NR - 1) / NR;
    const index_t threads = max_threads();
    // Tasks: column ranges, and row ranges when there are fewer column panels than threads.
    const index_t n_tasks = std::min(pn, std::max<index_t>(threads, 1));
    const index_t m_tasks = n_tasks < threads ? std::min(pm, (threads + n_tasks - 1) / n_tasks)
                                              : index_t{1};
    index_t kmax = 0;
    for (const gemm_kblock& b : blocks)
        kmax = std::max(kmax, b.len);

    parallel_for(n_tasks * m_tasks, [&](index_t task) {
        const index_t tn = task / m_tasks, tm = task % m_tasks;
        const index_t pj0 = pn * tn / n_tasks, pj1 = pn * (tn + 1) / n_tasks;
        const index_t pi0 = pm * tm / m_tasks, pi1 = pm * (tm + 1) / m_tasks;
        const index_t c0 = pj0 * NR, c1 = std::min(n, pj1 * NR);
        const index_t r0 = pi0 * MR, r1 = std::min(m, pi1 * MR);
        for (index_t r = r0; r < r1; ++r) {
            const T v = bias ? bias[r] : T(0);
            std::fill(c + r * ldc + c0, c + r * ldc + c1, v);
        }
        // Columns in chunks of at most gemm_b_block_bytes of packed B.
        const index_t chunk = std::max<index_t>(
            1, gemm_b_block_bytes / (std::max<index_t>(kmax, 1) * NR * index_t(sizeof(T))));
        // Micro-panels one vector row further apart than their size: a power-of-two distance
        // would map the rows the packer writes together to the same cache sets.
        const index_t pstride = std::max<index_t>(kmax, 1) * NR + 64 / index_t(sizeof(T));
        aligned_buffer<T> bbuf(pstride * std::min(chunk, pj1 - pj0));
        std::vector<std::uint8_t> live(static_cast<std::size_t>(std::min(chunk, pj1 - pj0)));
        alignas(64) T tile[MR * NR];
        for (index_t q0 = pj0; q0 < pj1; q0 += chunk) {
            const index_t q1 = std::min(pj1, q0 + chunk);
            for (const gemm_kblock& b : blocks) {
                pack_b(b, q0, q1, index_t{NR}, n, pstride, bbuf.data(), live.data());
                for (index_t jp = q0; jp < q1; ++jp) {
                    if (!live[static_cast<std::size_t>(jp - q0)])
                        continue;
                    const T* bp = bbuf.data() + (jp - q0) * pstride;
                    const index_t n0 = jp * NR;
                    const index_t nl = std::min<index_t>(NR, n - n0);
                    for (index_t ip = pi0; ip < pi1; ++ip) {
                        const index_t m0 = ip * MR;
                        const index_t ml = std::min<index_t>(MR, m - m0);
                        const T* ap = a.panel(b, ip);
                        T* cp = c + m0 * ldc + n0;
                        if (ml == MR && nl == NR) {
                            gemm_kernel<T, Isa>(b.len, ap, bp, cp, ldc);
                        } else {
                            for (index_t r = 0; r < MR; ++r)
                                for (index_t j = 0; j < NR; ++j)
                                    tile[r * NR + j] = r < ml && j < nl ? cp[r * ldc + j] : T(0);
                            gemm_kernel<T, Isa>(b.len, ap, bp, tile, NR);
                            for (index_t r = 0; r < ml; ++r)
                                for (index_t j = 0; j < nl; ++j)
                                    cp[r * ldc + j] = tile[r * NR + j];
                        }
                    }
                }
            }
        }
        if (relu)
            for (index_t r = r0; r < r1; ++r)
                for (index_t j = c0; j < c1; ++j) {
                    T& v = c[r * ldc + j];
                    v = v < T(0) ? T(0) : v; // NaN stays NaN, as torch.relu
                }
    });
}

/// gemm_run_isa with the kernel `a` was packed for.
template <class T, class PackB>
void gemm_run(const gemm_packed_a<T>& a, std::span<const gemm_kblock> blocks, index_t n, T* c,
              index_t ldc, const T* bias, bool relu, PackB&& pack_b) {
    switch (a.isa) {
#if DETSEG_GEMM_AVX512
    case gemm_isa::avx512:
        gemm_run_isa<T, gemm_isa::avx512>(a, blocks, n, c, ldc, bias, relu, pack_b);
        return;
#endif
#if DETSEG_GEMM_AVX2
    case gemm_isa::avx2:
        gemm_run_isa<T, gemm_isa::avx2>(a, blocks, n, c, ldc, bias, relu, pack_b);
        return;
#endif
    default: gemm_run_isa<T, gemm_isa::portable>(a, blocks, n, c, ldc, bias, relu, pack_b);
    }
}

} // namespace detseg::detail

#endif // DETSEG_DENSE_DETAIL_GEMM_HPP
