#ifndef DETSEG_SEG_DETAIL_PSEUDO_EXP_HPP
#define DETSEG_SEG_DETAIL_PSEUDO_EXP_HPP

// exp(d) for d <= 0 in float, written so that a loop over it vectorises (no calls, no branches,
// no float-to-int conversion): used by the softmax of the pixel-wise cross-entropy kernel.
//
// d = n ln2 + r with n = round(d / ln2) (|r| <= ln2/2, Cody-Waite split of ln2 so r is exact to
// a few ulp), exp(r) by its Taylor polynomial of degree 7 (truncation error below 6e-9 relative),
// 2^n put together from the bits of the rounding constant. Relative error about 2e-7 (two float
// ulp). The argument must be in [-87, 0] or NaN (NaN gives NaN): callers clamp it first with
// `clamp_exp_argument`, in a loop of its own (GCC 12 does not vectorise the clamp and the
// polynomial in one loop). exp(-87) is about 1.6e-38; such terms do not change a softmax sum of
// at least 1.

#include <bit>
#include <cstdint>

namespace detseg::detail {

/// max(d, -87), NaN kept.
[[nodiscard]] inline float clamp_exp_argument(float d) noexcept {
    return d < -87.0f ? -87.0f : d; // NaN fails the comparison and stays NaN
}

[[nodiscard]] inline float exp_nonpositive(float d) noexcept {
    constexpr float log2e = 1.44269504088896341f;
    constexpr float round_magic = 12582912.0f; // 1.5 * 2^23: adding it rounds to an integer
    const float shifted = d * log2e + round_magic;
    const float n = shifted - round_magic; // round(d / ln2), in [-126, 0]
    constexpr float ln2_hi = 0.693359375f; // 355/512: n * ln2_hi is exact
    constexpr float ln2_lo = -2.12194440054690583e-4f;
    float r = d - n * ln2_hi;
    r = r - n * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    // The low mantissa bits of `shifted` hold n (two's complement offset from the magic's bits).
    const std::uint32_t k = std::bit_cast<std::uint32_t>(shifted) -
                            std::bit_cast<std::uint32_t>(round_magic);
    const float scale = std::bit_cast<float>((k + 127u) << 23);
    return p * scale;
}

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_PSEUDO_EXP_HPP
