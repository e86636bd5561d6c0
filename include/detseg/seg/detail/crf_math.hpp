#ifndef DETSEG_SEG_DETAIL_CRF_MATH_HPP
#define DETSEG_SEG_DETAIL_CRF_MATH_HPP

// Small numeric kernels of the dense CRF: the padded label stride, a vectorisable exp for the
// softmax and log for the unary, and per-pixel softmax / argmax over the L labels of an N×S
// (label-innermost) array.

#include <detseg/config.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/parallel.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace detseg::detail {

/// The per-pixel stride of the CRF's label-innermost arrays: L rounded up to 4 (L ≤ 4) or to 8,
/// so that every lane loop runs over whole SIMD blocks. Padded lanes hold 0 in Q.
[[nodiscard]] inline index_t crf_value_stride(index_t labels) noexcept {
    return labels <= 4 ? 4 : (labels + 7) / 8 * 8;
}

/// Energy stored in the padded lanes of -U: exp of it is exactly 0 in `crf_exp`.
template <class T>
inline constexpr T crf_pad_energy = T(1e30);

/// exp(x) for float with about 1 ulp error for x in [-87, 88], exactly 0 below -87.3 (where
/// glibc's expf returns a subnormal or 0), branch-free so that loops over it vectorise: the
/// Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, and a degree-7 polynomial for e^r.
DETSEG_ALWAYS_INLINE float crf_exp(float x) noexcept {
    const float xc = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    // round(x / ln2) with the 1.5·2^23 trick (no SSE4.1 rounding instruction needed)
    const float shifter = 12582912.0f;
    const float t = xc * 1.44269504088896341f + shifter;
    const float n = t - shifter;
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    const float r2 = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    const std::int32_t ni = std::bit_cast<std::int32_t>(t) - std::bit_cast<std::int32_t>(shifter);
    const float scale = std::bit_cast<float>((ni + 127) << 23);
    const float e = p * scale;
    return x < -87.3f ? 0.0f : e;
}

DETSEG_ALWAYS_INLINE double crf_exp(double x) noexcept {
    return x < -745.0 ? 0.0 : std::exp(x);
}

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpsabi" // 32-byte vectors inside always-inline helpers only
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi" // 32-byte vectors inside always-inline helpers only
#endif
#if defined(__GNUC__) || defined(__clang__)
using crf_v8f = float __attribute__((vector_size(32)));
using crf_v8i = std::int32_t __attribute__((vector_size(32)));

template <class To, class From>
DETSEG_ALWAYS_INLINE void crf_bits(To& out, const From& v) noexcept {
    static_assert(sizeof(To) == sizeof(From));
    std::memcpy(&out, &v, sizeof out);
}

/// crf_exp on the 8 floats at x, in place (the same operations lane by lane as crf_exp, so the
/// same results). Vectors are kept out of function signatures (no ABI dependence).
DETSEG_ALWAYS_INLINE void crf_exp8_reg(crf_v8f& v) noexcept {
    const crf_v8f lo = crf_v8f{} - 87.3f;
    const crf_v8f hi = crf_v8f{} + 88.3f;
    const crf_v8i under = v < lo;
    const crf_v8i over = v > hi;
    crf_v8i vi, loi, hii;
    crf_bits(vi, v);
    crf_bits(loi, lo);
    crf_bits(hii, hi);
    const crf_v8i xi = (vi & ~under & ~over) | (loi & under) | (hii & over);
    crf_v8f xc;
    crf_bits(xc, xi);
    const crf_v8f shifter = crf_v8f{} + 12582912.0f;
    const crf_v8f t = xc * 1.44269504088896341f + shifter;
    const crf_v8f n = t - shifter;
    const crf_v8f r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    const crf_v8f r2 = r * r;
    crf_v8f p = crf_v8f{} + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r2 + r + 1.0f;
    crf_v8i ti;
    crf_bits(ti, t);
    const crf_v8i scale_bits = ((ti - 0x4B400000) + 127) << 23; // minus the bits of 1.5·2^23
    crf_v8f scale;
    crf_bits(scale, scale_bits);
    const crf_v8f e = p * scale;
    crf_v8i ei;
    crf_bits(ei, e);
    ei &= ~under;
    crf_bits(v, ei);
}

/// log of the 8 floats at x, in place, for positive normal floats (about 1 ulp from logf):
/// x = m·2^e with m in [√½, √2), log x = e·ln2 + log1p(m - 1), the latter as
/// f - f²/2 + f³·P(f) (P of degree 8, Cephes' logf coefficients), ln2 in two parts.
DETSEG_ALWAYS_INLINE void crf_log8(float* x) noexcept {
    crf_v8f v;
    std::memcpy(&v, x, sizeof v);
    crf_v8i bits;
    crf_bits(bits, v);
    crf_v8i e = ((bits >> 23) & 0xFF) - 126;
    crf_v8i mbits = (bits & 0x007FFFFF) | 0x3F000000; // m in [0.5, 1)
    crf_v8f m;
    crf_bits(m, mbits);
    const crf_v8i small = m < 0.707106781186547524f;
    e += small; // -1 where m < √½ (then m is doubled)
    crf_v8f m2 = m + m;
    crf_v8i mi, m2i;
    crf_bits(mi, m);
    crf_bits(m2i, m2);
    const crf_v8i ti = (m2i & small) | (mi & ~small);
    crf_v8f t;
    crf_bits(t, ti);
    const crf_v8f f = t - 1.0f; // exact (Sterbenz)
    const crf_v8f z = f * f;
    crf_v8f y = crf_v8f{} + 7.0376836292e-2f;
    y = y * f - 1.1514610310e-1f;
    y = y * f + 1.1676998740e-1f;
    y = y * f - 1.2420140846e-1f;
    y = y * f + 1.4249322787e-1f;
    y = y * f - 1.6668057665e-1f;
    y = y * f + 2.0000714765e-1f;
    y = y * f - 2.4999993993e-1f;
    y = y * f + 3.3333331174e-1f;
    y = y * f * z;
    const crf_v8f fe = __builtin_convertvector(e, crf_v8f);
    y += fe * -2.12194440e-4f;
    y += z * -0.5f;
    crf_v8f r = f + y;
    r += fe * 0.693359375f;
    std::memcpy(x, &r, sizeof r);
}

DETSEG_ALWAYS_INLINE void crf_exp8(float* x) noexcept {
    crf_v8f v;
    std::memcpy(&v, x, sizeof v);
    crf_exp8_reg(v);
    std::memcpy(x, &v, sizeof v);
}

/// Softmax of one row of S floats (S a multiple of 8), in registers: max, exp of the
/// differences, sum, times the reciprocal of the sum.
DETSEG_ALWAYS_INLINE void crf_softmax_row8(const float* t, float* q, index_t S) noexcept {
    crf_v8f mx;
    std::memcpy(&mx, t, sizeof mx);
    for (index_t b = 8; b < S; b += 8) {
        crf_v8f v;
        std::memcpy(&v, t + b, sizeof v);
        const crf_v8i gt = v > mx;
        crf_v8i vi, mi;
        crf_bits(vi, v);
        crf_bits(mi, mx);
        mi = (vi & gt) | (mi & ~gt);
        crf_bits(mx, mi);
    }
    float m = mx[0];
    for (int k = 1; k < 8; ++k)
        m = mx[k] > m ? mx[k] : m;
    crf_v8f sum{};
    for (index_t b = 0; b < S; b += 8) {
        crf_v8f v;
        std::memcpy(&v, t + b, sizeof v);
        v -= m;
        crf_exp8_reg(v);
        sum += v;
        std::memcpy(q + b, &v, sizeof v);
    }
    float s = 0;
    for (int k = 0; k < 8; ++k)
        s += sum[k];
    const float r = 1.0f / s;
    for (index_t b = 0; b < S; b += 8) {
        crf_v8f v;
        std::memcpy(&v, q + b, sizeof v);
        v *= r;
        std::memcpy(q + b, &v, sizeof v);
    }
}

/// crf_softmax_row8 on the 8 rows at t (stride S) at once: the same operations in the same order
/// on each row, but the per-row reductions over the 8 lanes (the maximum, the sum) are done for
/// the 8 rows together on transposed lanes, so they no longer form one long dependency chain
/// per row.
DETSEG_ALWAYS_INLINE void crf_softmax_8rows8(const float* t, float* q, index_t S) noexcept {
    alignas(32) float tr[8][8]; // tr[k][r] = lane k of row r's partial maximum / sum
    for (int r = 0; r < 8; ++r) {
        const float* tt = t + r * S;
        crf_v8f mx;
        std::memcpy(&mx, tt, sizeof mx);
        for (index_t b = 8; b < S; b += 8) {
            crf_v8f v;
            std::memcpy(&v, tt + b, sizeof v);
            const crf_v8i gt = v > mx;
            crf_v8i vi, mi;
            crf_bits(vi, v);
            crf_bits(mi, mx);
            mi = (vi & gt) | (mi & ~gt);
            crf_bits(mx, mi);
        }
        for (int k = 0; k < 8; ++k)
            tr[k][r] = mx[k];
    }
    // m_r = mx_r[0], then m_r = mx_r[k] > m_r ? mx_r[k] : m_r for k = 1..7, on all rows
    crf_v8f m;
    std::memcpy(&m, tr[0], sizeof m);
    for (int k = 1; k < 8; ++k) {
        crf_v8f c;
        std::memcpy(&c, tr[k], sizeof c);
        const crf_v8i gt = c > m;
        crf_v8i ci, mi;
        crf_bits(ci, c);
        crf_bits(mi, m);
        mi = (ci & gt) | (mi & ~gt);
        crf_bits(m, mi);
    }
    for (int r = 0; r < 8; ++r) {
        const float* tt = t + r * S;
        float* qq = q + r * S;
        const float mr = m[r];
        crf_v8f sum{};
        for (index_t b = 0; b < S; b += 8) {
            crf_v8f v;
            std::memcpy(&v, tt + b, sizeof v);
            v -= mr;
            crf_exp8_reg(v);
            sum += v;
            std::memcpy(qq + b, &v, sizeof v);
        }
        for (int k = 0; k < 8; ++k)
            tr[k][r] = sum[k];
    }
    // s_r = ((0 + sum_r[0]) + sum_r[1]) + ... + sum_r[7], on all rows
    crf_v8f sv{};
    for (int k = 0; k < 8; ++k) {
        crf_v8f c;
        std::memcpy(&c, tr[k], sizeof c);
        sv += c;
    }
    const crf_v8f rv = 1.0f / sv;
    for (int r = 0; r < 8; ++r) {
        float* qq = q + r * S;
        const float rr = rv[r];
        for (index_t b = 0; b < S; b += 8) {
            crf_v8f v;
            std::memcpy(&v, qq + b, sizeof v);
            v *= rr;
            std::memcpy(qq + b, &v, sizeof v);
        }
    }
}
#endif
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/// x[k] = crf_exp(x[k]) for k < n.
DETSEG_ALWAYS_INLINE void crf_exp_array(float* x, index_t n) noexcept {
    index_t k = 0;
#if defined(__GNUC__) || defined(__clang__)
    for (; k + 8 <= n; k += 8)
        crf_exp8(x + k);
#endif
    for (; k < n; ++k)
        x[k] = crf_exp(x[k]);
}

DETSEG_ALWAYS_INLINE void crf_exp_array(double* x, index_t n) noexcept {
    for (index_t k = 0; k < n; ++k)
        x[k] = crf_exp(x[k]);
}

/// x[k] = log(x[k]) for k < n, x[k] positive normal floats: crf_log8 on blocks of 8 (with GCC or
/// Clang; the same operations lane by lane in the baseline and the AVX2 copy, so the same
/// results on every x86-64 CPU), std::log on the rest.
DETSEG_ALWAYS_INLINE void crf_log_array_body(float* x, index_t n) noexcept {
    index_t k = 0;
#if defined(__GNUC__) || defined(__clang__)
    for (; k + 8 <= n; k += 8)
        crf_log8(x + k);
#endif
    for (; k < n; ++k)
        x[k] = std::log(x[k]);
}

inline void crf_log_array_base(float* x, index_t n) noexcept { crf_log_array_body(x, n); }
#if DETSEG_X86_DISPATCH
DETSEG_TARGET_AVX2 inline void crf_log_array_avx2(float* x, index_t n) noexcept {
    crf_log_array_body(x, n);
}
#endif

/// crf_log_array_body, the AVX2 copy on CPUs that have it.
inline void crf_log_array(float* x, index_t n) noexcept {
#if DETSEG_X86_DISPATCH
    if (has_avx2())
        return crf_log_array_avx2(x, n);
#endif
    crf_log_array_base(x, n);
}

/// Q_i = softmax(t_i) over the S lanes of each pixel in [begin, end) (padded lanes of t hold
/// -crf_pad_energy and give 0), the maximum subtracted first, as pydensecrf's expAndNormalize.
template <class T, int B>
DETSEG_ALWAYS_INLINE void crf_softmax_rows_body(const T* DETSEG_RESTRICT t, T* DETSEG_RESTRICT q,
                                                index_t S, index_t begin, index_t end) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    if constexpr (std::is_same_v<T, float> && B == 8) {
        index_t i = begin;
        for (; i + 8 <= end; i += 8)
            crf_softmax_8rows8(t + i * S, q + i * S, S);
        for (; i < end; ++i)
            crf_softmax_row8(t + i * S, q + i * S, S);
        return;
    }
#endif
    for (index_t i = begin; i < end; ++i) {
        const T* ti = t + i * S;
        T* qi = q + i * S;
        T mx[B];
        for (int k = 0; k < B; ++k)
            mx[k] = ti[k];
        for (index_t b = B; b < S; b += B)
            for (int k = 0; k < B; ++k)
                mx[k] = ti[b + k] > mx[k] ? ti[b + k] : mx[k];
        T m = mx[0];
        for (int k = 1; k < B; ++k)
            m = mx[k] > m ? mx[k] : m;
        for (index_t b = 0; b < S; b += B)
            for (int k = 0; k < B; ++k)
                qi[b + k] = ti[b + k] - m;
    }
    crf_exp_array(q + begin * S, (end - begin) * S);
    for (index_t i = begin; i < end; ++i) {
        T* qi = q + i * S;
        T sm[B] = {};
        for (index_t b = 0; b < S; b += B)
            for (int k = 0; k < B; ++k)
                sm[k] += qi[b + k];
        T s = 0;
        for (int k = 0; k < B; ++k)
            s += sm[k];
        const T r = T(1) / s;
        for (index_t b = 0; b < S; b += B)
            for (int k = 0; k < B; ++k)
                qi[b + k] = qi[b + k] * r;
    }
}

template <class T, int B>
void crf_softmax_rows_base(const T* t, T* q, index_t S, index_t begin, index_t end) noexcept {
    crf_softmax_rows_body<T, B>(t, q, S, begin, end);
}

#if DETSEG_X86_DISPATCH
template <class T, int B>
DETSEG_TARGET_AVX2 void crf_softmax_rows_avx2(const T* t, T* q, index_t S, index_t begin,
                                              index_t end) noexcept {
    crf_softmax_rows_body<T, B>(t, q, S, begin, end);
}
#endif

/// Softmax of every pixel of the N×S array t into q, in parallel over pixels.
template <class T>
void crf_softmax(const T* t, T* q, index_t n, index_t S) {
    parallel_for_chunks(n, 2048, [&](index_t begin, index_t end) {
#if DETSEG_X86_DISPATCH
        if (has_avx2()) {
            if (S % 8 == 0)
                crf_softmax_rows_avx2<T, 8>(t, q, S, begin, end);
            else
                crf_softmax_rows_avx2<T, 4>(t, q, S, begin, end);
            return;
        }
#endif
        if (S % 8 == 0)
            crf_softmax_rows_base<T, 8>(t, q, S, begin, end);
        else
            crf_softmax_rows_base<T, 4>(t, q, S, begin, end);
    });
}

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_CRF_MATH_HPP
