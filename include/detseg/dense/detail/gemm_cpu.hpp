#ifndef DETSEG_DENSE_DETAIL_GEMM_CPU_HPP
#define DETSEG_DENSE_DETAIL_GEMM_CPU_HPP

// Run-time choice of the GEMM micro-kernels (dense/detail/gemm_kernels.hpp). On x86-64 with GCC
// or Clang the AVX-512F and AVX2+FMA kernels are compiled with target attributes, whatever the
// baseline, and the widest one the CPU supports is used; elsewhere, or with DETSEG_NO_DISPATCH,
// only the kernels the baseline allows are compiled, plus the portable one. Both SIMD kernels
// evaluate every output element as the same chain of fused multiply-adds, so they agree bit for
// bit; the portable kernel rounds each product (unless the compiler contracts it).

#include <detseg/config.hpp>

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#if !defined(DETSEG_NO_DISPATCH)
#define DETSEG_GEMM_AVX512 1
#define DETSEG_GEMM_AVX2 1
#define DETSEG_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define DETSEG_TARGET_AVX2FMA __attribute__((target("avx2,fma")))
#else
#if defined(__AVX512F__) && defined(__FMA__)
#define DETSEG_GEMM_AVX512 1
#else
#define DETSEG_GEMM_AVX512 0
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define DETSEG_GEMM_AVX2 1
#else
#define DETSEG_GEMM_AVX2 0
#endif
#define DETSEG_TARGET_AVX512
#define DETSEG_TARGET_AVX2FMA
#endif
#else
#define DETSEG_GEMM_AVX512 0
#define DETSEG_GEMM_AVX2 0
#define DETSEG_TARGET_AVX512
#define DETSEG_TARGET_AVX2FMA
#endif

#if DETSEG_GEMM_AVX512 || DETSEG_GEMM_AVX2
#include <immintrin.h>
#endif

namespace detseg::detail {

/// The instruction sets the GEMM has kernels for.
enum class gemm_isa { portable = 0, avx2 = 1, avx512 = 2 };

/// The widest kernel this CPU runs.
[[nodiscard]] inline gemm_isa gemm_isa_supported() noexcept {
    static const gemm_isa isa = [] {
#if DETSEG_GEMM_AVX512
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
            return gemm_isa::avx512;
#endif
#if DETSEG_GEMM_AVX2
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            return gemm_isa::avx2;
#endif
        return gemm_isa::portable;
    }();
    return isa;
}

/// The kernel in use: the supported one, or a narrower one chosen with gemm_isa_limit (tests
/// and benchmarks compare them).
inline gemm_isa& gemm_isa_cap() noexcept {
    static gemm_isa cap = gemm_isa::avx512;
    return cap;
}

[[nodiscard]] inline gemm_isa gemm_isa_active() noexcept {
    const gemm_isa s = gemm_isa_supported();
    return static_cast<int>(s) < static_cast<int>(gemm_isa_cap()) ? s : gemm_isa_cap();
}

/// Caps the kernel choice (not thread-safe: call it before any convolution runs).
inline void gemm_isa_limit(gemm_isa cap) noexcept {
    gemm_isa_cap() = cap;
}

} // namespace detseg::detail

#endif // DETSEG_DENSE_DETAIL_GEMM_CPU_HPP
