#ifndef DETSEG_DENSE_DETAIL_GEMM_KERNELS_HPP
#define DETSEG_DENSE_DETAIL_GEMM_KERNELS_HPP

// GEMM micro-kernels: C[MR×NR] += A·B over kl steps, where the packed A panel holds MR values per
// step (one per output row, broadcast) and the packed B panel NR values per step (one vector row).
// C is row-major with leading dimension ldc. Every element of C is one chain
// c = fma(a_k, b_k, c) for k = 0, 1, ..., kl-1: the AVX-512 and AVX2 kernels give the same bits.

#include <detseg/config.hpp>
#include <detseg/dense/detail/gemm_cpu.hpp>

namespace detseg::detail {

/// Tile shape of each kernel: MR rows (broadcast) × NR columns (vectors).
template <class T, gemm_isa Isa>
struct gemm_shape;

template <>
struct gemm_shape<float, gemm_isa::avx512> {
    static constexpr int mr = 12, nr = 32;
};
template <>
struct gemm_shape<double, gemm_isa::avx512> {
    static constexpr int mr = 12, nr = 16;
};
template <>
struct gemm_shape<float, gemm_isa::avx2> {
    static constexpr int mr = 6, nr = 16;
};
template <>
struct gemm_shape<double, gemm_isa::avx2> {
    static constexpr int mr = 6, nr = 8;
};
template <>
struct gemm_shape<float, gemm_isa::portable> {
    static constexpr int mr = 4, nr = 8;
};
template <>
struct gemm_shape<double, gemm_isa::portable> {
    static constexpr int mr = 4, nr = 8;
};

/// Portable kernel: plain loops the compiler may vectorise for the baseline.
template <class T, int MR, int NR>
void gemm_kernel_portable(index_t kl, const T* DETSEG_RESTRICT a, const T* DETSEG_RESTRICT b,
                          T* DETSEG_RESTRICT c, index_t ldc) noexcept {
    T acc[MR][NR];
    for (int r = 0; r < MR; ++r)
        for (int j = 0; j < NR; ++j)
            acc[r][j] = c[r * ldc + j];
    for (index_t k = 0; k < kl; ++k) {
        for (int r = 0; r < MR; ++r) {
            const T ar = a[r];
            for (int j = 0; j < NR; ++j)
                acc[r][j] += ar * b[j];
        }
        a += MR;
        b += NR;
    }
    for (int r = 0; r < MR; ++r)
        for (int j = 0; j < NR; ++j)
            c[r * ldc + j] = acc[r][j];
}

#if DETSEG_GEMM_AVX512
// AVX-512F kernels, 12 rows × 2 vectors: 24 accumulators, two B loads and a broadcast per row.
DETSEG_TARGET_AVX512 inline void gemm_kernel_avx512(index_t kl, const float* DETSEG_RESTRICT a,
                                                    const float* DETSEG_RESTRICT b,
                                                    float* DETSEG_RESTRICT c,
                                                    index_t ldc) noexcept {
    constexpr int MR = 12;
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
        acc0[r] = _mm512_loadu_ps(c + r * ldc);
        acc1[r] = _mm512_loadu_ps(c + r * ldc + 16);
    }
    for (index_t k = 0; k < kl; ++k) {
        const __m512 b0 = _mm512_load_ps(b);
        const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
        for (int r = 0; r < MR; ++r) {
            const __m512 ar = _mm512_set1_ps(a[r]);
            acc0[r] = _mm512_fmadd_ps(ar, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(ar, b1, acc1[r]);
        }
        a += MR;
        b += 32;
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
        _mm512_storeu_ps(c + r * ldc, acc0[r]);
        _mm512_storeu_ps(c + r * ldc + 16, acc1[r]);
    }
}

DETSEG_TARGET_AVX512 inline void gemm_kernel_avx512(index_t kl, const double* DETSEG_RESTRICT a,
                                                    const double* DETSEG_RESTRICT b,
                                                    double* DETSEG_RESTRICT c,
                                                    index_t ldc) noexcept {
    constexpr int MR = 12;
    __m512d acc0[MR], acc1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
        acc0[r] = _mm512_loadu_pd(c + r * ldc);
        acc1[r] = _mm512_loadu_pd(c + r * ldc + 8);
    }
    for (index_t k = 0; k < kl; ++k) {
        const __m512d b0 = _mm512_load_pd(b);
        const __m512d b1 = _mm512_load_pd(b + 8);
#pragma GCC unroll 12
        for (int r = 0; r < MR; ++r) {
            const __m512d ar = _mm512_set1_pd(a[r]);
            acc0[r] = _mm512_fmadd_pd(ar, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_pd(ar, b1, acc1[r]);
        }
        a += MR;
        b += 16;
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
        _mm512_storeu_pd(c + r * ldc, acc0[r]);
        _mm512_storeu_pd(c + r * ldc + 8, acc1[r]);
    }
}
#endif

#if DETSEG_GEMM_AVX2
// AVX2+FMA kernels, 6 rows × 2 vectors: 12 accumulators.
DETSEG_TARGET_AVX2FMA inline void gemm_kernel_avx2(index_t kl, const float* DETSEG_RESTRICT a,
                                                   const float* DETSEG_RESTRICT b,
                                                   float* DETSEG_RESTRICT c,
                                                   index_t ldc) noexcept {
    constexpr int MR = 6;
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
        acc0[r] = _mm256_loadu_ps(c + r * ldc);
        acc1[r] = _mm256_loadu_ps(c + r * ldc + 8);
    }
    for (index_t k = 0; k < kl; ++k) {
        const __m256 b0 = _mm256_load_ps(b);
        const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            const __m256 ar = _mm256_broadcast_ss(a + r);
            acc0[r] = _mm256_fmadd_ps(ar, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(ar, b1, acc1[r]);
        }
        a += MR;
        b += 16;
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
        _mm256_storeu_ps(c + r * ldc, acc0[r]);
        _mm256_storeu_ps(c + r * ldc + 8, acc1[r]);
    }
}

DETSEG_TARGET_AVX2FMA inline void gemm_kernel_avx2(index_t kl, const double* DETSEG_RESTRICT a,
                                                   const double* DETSEG_RESTRICT b,
                                                   double* DETSEG_RESTRICT c,
                                                   index_t ldc) noexcept {
    constexpr int MR = 6;
    __m256d acc0[MR], acc1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
        acc0[r] = _mm256_loadu_pd(c + r * ldc);
        acc1[r] = _mm256_loadu_pd(c + r * ldc + 4);
    }
    for (index_t k = 0; k < kl; ++k) {
        const __m256d b0 = _mm256_load_pd(b);
        const __m256d b1 = _mm256_load_pd(b + 4);
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            const __m256d ar = _mm256_broadcast_sd(a + r);
            acc0[r] = _mm256_fmadd_pd(ar, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_pd(ar, b1, acc1[r]);
        }
        a += MR;
        b += 8;
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
        _mm256_storeu_pd(c + r * ldc, acc0[r]);
        _mm256_storeu_pd(c + r * ldc + 4, acc1[r]);
    }
}
#endif

/// The full-tile kernel of `Isa` for `T`.
template <class T, gemm_isa Isa>
void gemm_kernel(index_t kl, const T* a, const T* b, T* c, index_t ldc) noexcept {
    if constexpr (Isa == gemm_isa::portable) {
        gemm_kernel_portable<T, gemm_shape<T, Isa>::mr, gemm_shape<T, Isa>::nr>(kl, a, b, c, ldc);
    }
#if DETSEG_GEMM_AVX512
    else if constexpr (Isa == gemm_isa::avx512) {
        gemm_kernel_avx512(kl, a, b, c, ldc);
    }
#endif
#if DETSEG_GEMM_AVX2
    else if constexpr (Isa == gemm_isa::avx2) {
        gemm_kernel_avx2(kl, a, b, c, ldc);
    }
#endif
}

} // namespace detseg::detail

#endif // DETSEG_DENSE_DETAIL_GEMM_KERNELS_HPP
