#ifndef DETSEG_SEG_DETAIL_RANDOM_WALK_KERNEL_HPP
#define DETSEG_SEG_DETAIL_RANDOM_WALK_KERNEL_HPP

// One step of the affinity random walk, x'_c(p) = Σ_o T(o, p) · x_c(p + offset_o), on zero-padded
// class planes. The sum runs over the offsets in their fixed order for every pixel, so the result
// does not depend on how rows are split between threads. For float on x86-64 CPUs with AVX2 and
// FMA a vector copy of the loop is chosen at run time (fused multiply-adds: its rounding differs
// from the portable loop's, the order is the same).

#include <detseg/config.hpp>

#include <cstddef>
#include <type_traits>

#if !defined(DETSEG_NO_DISPATCH) && (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define DETSEG_RW_X86 1
#include <immintrin.h>
#else
#define DETSEG_RW_X86 0
#endif

namespace detseg::detail {

/// The geometry of one step: O offsets with padded-plane displacements `disp[o]`, weights
/// `w[o * n + y * width + x]`, C planes of `plane` elements, row pitch `pitch`, radius `r`.
template <class T>
struct rw_step {
    const T* w;
    const index_t* disp;
    index_t offsets, n, width, pitch, plane, channels, r;
};

/// Rows [y0, y1) of one step, portable loop (32-pixel blocks, accumulators per block).
template <class T>
void rw_rows_portable(const rw_step<T>& s, const T* in, T* out, index_t y0, index_t y1) {
    constexpr index_t block = 32;
    T acc[block];
    for (index_t y = y0; y < y1; ++y)
        for (index_t x0 = 0; x0 < s.width; x0 += block) {
            const index_t len = s.width - x0 < block ? s.width - x0 : block;
            const index_t p = y * s.width + x0;
            const index_t q = (y + s.r) * s.pitch + x0 + s.r;
            for (index_t c = 0; c < s.channels; ++c) {
                for (index_t i = 0; i < len; ++i)
                    acc[i] = T(0);
                const T* plane = in + c * s.plane + q;
                for (index_t o = 0; o < s.offsets; ++o) {
                    const T* wr = s.w + o * s.n + p;
                    const T* ir = plane + s.disp[o];
                    for (index_t i = 0; i < len; ++i)
                        acc[i] += wr[i] * ir[i];
                }
                T* dst = out + c * s.plane + q;
                for (index_t i = 0; i < len; ++i)
                    dst[i] = acc[i];
            }
        }
}

#if DETSEG_RW_X86

[[nodiscard]] inline bool has_avx2_fma() noexcept {
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return yes;
}

/// Rows [y0, y1) of one float step with AVX2 + FMA: 32-pixel blocks in four registers, then
/// 8-pixel vectors, then a masked tail.
__attribute__((target("avx2,fma"))) inline void
rw_rows_avx2(const rw_step<float>& s, const float* in, float* out, index_t y0, index_t y1) {
    const index_t nc = s.channels, no = s.offsets;
    for (index_t y = y0; y < y1; ++y) {
        index_t x0 = 0;
        for (; x0 + 32 <= s.width; x0 += 32) {
            const index_t p = y * s.width + x0;
            const index_t q = (y + s.r) * s.pitch + x0 + s.r;
            for (index_t c = 0; c < nc; ++c) {
                __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
                __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
                const float* plane = in + c * s.plane + q;
                for (index_t o = 0; o < no; ++o) {
                    const float* wr = s.w + o * s.n + p;
                    const float* ir = plane + s.disp[o];
                    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr), _mm256_loadu_ps(ir), a0);
                    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + 8), _mm256_loadu_ps(ir + 8), a1);
                    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + 16), _mm256_loadu_ps(ir + 16), a2);
                    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + 24), _mm256_loadu_ps(ir + 24), a3);
                }
                float* dst = out + c * s.plane + q;
                _mm256_storeu_ps(dst, a0);
                _mm256_storeu_ps(dst + 8, a1);
                _mm256_storeu_ps(dst + 16, a2);
                _mm256_storeu_ps(dst + 24, a3);
            }
        }
        for (; x0 < s.width; x0 += 8) {
            const index_t len = s.width - x0 < 8 ? s.width - x0 : 8;
            alignas(32) int lanes[8];
            for (int i = 0; i < 8; ++i)
                lanes[i] = i < len ? -1 : 0;
            const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
            const index_t p = y * s.width + x0;
            const index_t q = (y + s.r) * s.pitch + x0 + s.r;
            for (index_t c = 0; c < nc; ++c) {
                __m256 a0 = _mm256_setzero_ps();
                const float* plane = in + c * s.plane + q;
                for (index_t o = 0; o < no; ++o)
                    a0 = _mm256_fmadd_ps(_mm256_maskload_ps(s.w + o * s.n + p, mask),
                                         _mm256_maskload_ps(plane + s.disp[o], mask), a0);
                _mm256_maskstore_ps(out + c * s.plane + q, mask, a0);
            }
        }
    }
}

#endif

/// Rows [y0, y1) of one step: the AVX2 + FMA loop for float where the CPU has it, else the
/// portable loop.
template <class T>
void rw_rows(const rw_step<T>& s, const T* in, T* out, index_t y0, index_t y1) {
#if DETSEG_RW_X86
    if constexpr (std::is_same_v<T, float>) {
        if (has_avx2_fma()) {
            rw_rows_avx2(s, in, out, y0, y1);
            return;
        }
    }
#endif
    rw_rows_portable(s, in, out, y0, y1);
}

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_RANDOM_WALK_KERNEL_HPP
