#ifndef DETSEG_CORE_DETAIL_CPU_HPP
#define DETSEG_CORE_DETAIL_CPU_HPP

// Run-time selection of wider vector code for a few hot loops. When the library is compiled for
// the x86-64 baseline (SSE2) with GCC or Clang, such a loop is compiled a second time for AVX2
// (`DETSEG_TARGET_AVX2`) and `has_avx2()` picks that copy on CPUs that have it. AVX2 without FMA
// changes only the vector width: every operation is the same IEEE operation on each lane, so the
// results are bit-identical. Define DETSEG_NO_DISPATCH to turn this off.

#if !defined(DETSEG_NO_DISPATCH) && (defined(__GNUC__) || defined(__clang__)) &&                   \
    defined(__x86_64__) && !defined(__AVX2__)
#define DETSEG_X86_DISPATCH 1
#define DETSEG_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define DETSEG_X86_DISPATCH 0
#define DETSEG_TARGET_AVX2
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DETSEG_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define DETSEG_ALWAYS_INLINE inline
#endif

namespace detseg::detail {

/// True when the AVX2 copies of dispatched loops may run on this CPU.
[[nodiscard]] inline bool has_avx2() noexcept {
#if DETSEG_X86_DISPATCH
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
#else
    return false;
#endif
}

} // namespace detseg::detail

#endif // DETSEG_CORE_DETAIL_CPU_HPP
