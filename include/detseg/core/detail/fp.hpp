#ifndef DETSEG_CORE_DETAIL_FP_HPP
#define DETSEG_CORE_DETAIL_FP_HPP

// Floating-point helpers shared by the kernels that promise bit-exactness with a reference whose
// every tensor operation rounds (PyTorch).

#include <algorithm>
#include <limits>

/// At the start of a function body: no floating-point contraction in it (Clang honours this for
/// every operation of the block, also after inlining; for GCC `rounded` does the job).
#if defined(__clang__)
#define DETSEG_NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#else
#define DETSEG_NO_FP_CONTRACT
#endif

namespace detseg::detail {

/// Returns `x`, rounded to its type here: a compiler allowed to contract floating-point
/// expressions (GCC's default -ffp-contract=fast with an FMA target such as -march=native) may
/// not fuse the product that produced `x` into a later addition. Free, and keeps loops
/// vectorisable: GCC's `__builtin_assoc_barrier`, Clang's `__arithmetic_fence`. GCC's vectoriser
/// drops the barrier, so in a loop that may vectorise use `rounded_finite`.
template <class T>
[[nodiscard]] inline T rounded(T x) noexcept {
#if defined(__clang__)
#if __has_builtin(__arithmetic_fence)
    return __arithmetic_fence(x);
#else
    return x;
#endif
#elif defined(__GNUC__) && __GNUC__ >= 12
    return __builtin_assoc_barrier(x);
#else
    return x;
#endif
}

/// `rounded` for a finite product inside a loop that may vectorise. GCC's vectoriser drops
/// `__builtin_assoc_barrier`, so under GCC the barrier is a use that is not an addition: a
/// product consumed by min() cannot be fused into an FMA, and min(x, max) is x for every finite
/// x. (max(x, 0) would not do: GCC proves x*x >= 0, folds it, and fuses the square.)
template <class T>
[[nodiscard]] inline T rounded_finite(T x) noexcept {
#if defined(__GNUC__) && !defined(__clang__)
    return std::min(x, std::numeric_limits<T>::max());
#else
    return rounded(x);
#endif
}

} // namespace detseg::detail

#endif // DETSEG_CORE_DETAIL_FP_HPP
