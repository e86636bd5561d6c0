#ifndef DETSEG_METRICS_DETAIL_CONFUSION_KERNEL_HPP
#define DETSEG_METRICS_DETAIL_CONFUSION_KERNEL_HPP

// The counting kernel behind `confusion_matrix::update`.
//
// Every pixel pair (gt, pred) is coded as one cell of an extended (C+2)×(C+1) table:
//   rows    0..C-1 = ground-truth class, C = gt out of range, C+1 = gt is the ignore index;
//   columns 0..C-1 = predicted class,    C = prediction out of range.
// A cell index is `row * (C+1) + column`; `row * (C+1)` and `column` come from 256-entry lookup
// tables for one-byte labels, and from comparisons otherwise. The counts go into 32-bit
// sub-histograms: K interleaved copies (cell k, copy j at `k*K + j`, pixel i into copy i mod K)
// so that consecutive increments of the same cell do not wait for each other's store. The
// caller bounds the pixels per table so that no 32-bit count can overflow.
//
// Contiguous one-byte maps take a run-aware path: label maps are piecewise constant, so most
// blocks of 32 pixel pairs have the pair of the run they are in, and are passed over with a few
// byte compares. With SSE2 (x86-64's baseline) a block that leaves the run is searched for the
// run ends (pixels whose pair differs from the previous pixel's: each map compared with itself
// shifted by one), and each finished run adds its length to its cell at once; a block with many
// ends (noise, i.i.d. labels) is counted pixel by pixel. Other targets use a portable version on
// 64-bit words (uniform blocks, then uniform words, then pixels). Wider label types and strided
// rows are first converted, 4096 at a time, to one-byte table codes (class, C = out of range,
// C+1 = ignored) when C + 2 <= 256, and take the same path. Every path counts every pixel exactly
// once, so all give the plain loop's counts (tested against it).

#include <detseg/config.hpp>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace detseg::detail {

/// Label element types a confusion matrix accepts: integers, not `bool`.
template <class T>
inline constexpr bool label_value_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;

/// A label value as a standard integer type (`std::cmp_*` do not take `char` or `char8_t`).
template <class T>
[[nodiscard]] constexpr auto standard_integer(T v) noexcept {
    using I =
        std::conditional_t<std::is_signed_v<T>, std::make_signed_t<T>, std::make_unsigned_t<T>>;
    return static_cast<I>(v);
}

/// Maps label values to the extended table's row offsets (gt) and columns (pred).
struct confusion_coder {
    index_t num_classes = 0;            ///< C
    std::optional<std::int64_t> ignore; ///< ignore index of the ground truth
    [[nodiscard]] index_t width() const noexcept { return num_classes + 1; }
    [[nodiscard]] index_t cells() const noexcept { return (num_classes + 2) * (num_classes + 1); }

    /// Row of a ground-truth value: its class, C (out of range) or C+1 (ignore index).
    template <class T>
    [[nodiscard]] index_t gt_row(T v) const noexcept {
        if (ignore && std::cmp_equal(standard_integer(v), *ignore))
            return num_classes + 1;
        return pred_col(v);
    }
    /// Column of a predicted value: its class, or C (out of range).
    template <class T>
    [[nodiscard]] index_t pred_col(T v) const noexcept {
        const auto x = standard_integer(v);
        if (std::cmp_greater_equal(x, 0) && std::cmp_less(x, num_classes))
            return static_cast<index_t>(x);
        return num_classes;
    }
};

/// Codes for one label type: a lookup table for one-byte types, comparisons otherwise.
template <class T, bool Gt>
class label_codes {
public:
    explicit label_codes(const confusion_coder& c) : coder_(c) {
        if constexpr (sizeof(T) == 1) {
            for (int b = 0; b < 256; ++b) {
                const T v = std::bit_cast<T>(static_cast<unsigned char>(b));
                lut_[static_cast<std::size_t>(b)] = code_of(v);
            }
        }
    }
    [[nodiscard]] std::int32_t operator()(T v) const noexcept {
        if constexpr (sizeof(T) == 1)
            return lut_[std::bit_cast<unsigned char>(v)];
        else
            return code_of(v);
    }
    /// The table, indexed by the byte (one-byte types only).
    [[nodiscard]] const std::int32_t* table() const noexcept { return lut_.data(); }

private:
    [[nodiscard]] std::int32_t code_of(T v) const noexcept {
        if constexpr (Gt)
            return static_cast<std::int32_t>(coder_.gt_row(v) * coder_.width());
        else
            return static_cast<std::int32_t>(coder_.pred_col(v));
    }
    confusion_coder coder_;
    std::array<std::int32_t, (sizeof(T) == 1 ? 256 : 1)> lut_{};
};

/// Plain loop: `n` pairs `(g[i*sg], p[i*sp])` into `hist` (K interleaved copies).
template <int K, class G, class P>
void count_strided(const G* g, index_t sg, const P* p, index_t sp, index_t n,
                   const label_codes<G, true>& row, const label_codes<P, false>& col,
                   std::uint32_t* DETSEG_RESTRICT hist) noexcept {
    index_t i = 0;
    for (; i + K <= n; i += K)
        for (int j = 0; j < K; ++j)
            ++hist[(row(g[(i + j) * sg]) + col(p[(i + j) * sp])) * K + j];
    for (; i < n; ++i)
        ++hist[(row(g[i * sg]) + col(p[i * sp])) * K];
}

inline std::uint64_t load_word(const unsigned char* s) noexcept {
    std::uint64_t w;
    std::memcpy(&w, s, sizeof w);
    return w;
}

/// Run-aware count of `n` contiguous one-byte pairs, portable version (64-bit words; see the
/// file comment). `rows`/`cols` are the 256-entry code tables of the gt and prediction bytes.
/// Needs 1 <= n < 2^32.
template <int K>
void count_bytes_portable(const unsigned char* g, const unsigned char* p, index_t n,
                          const std::int32_t* DETSEG_RESTRICT rows,
                          const std::int32_t* DETSEG_RESTRICT cols,
                          std::uint32_t* DETSEG_RESTRICT hist) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ULL;
    constexpr index_t block = 32;
    // The current run: every byte of run_g / run_p is the run's gt / prediction value.
    std::uint64_t run_g = ones * g[0], run_p = ones * p[0];
    std::uint32_t run_len = 0;
    index_t run_cell = rows[g[0]] + cols[p[0]];
    index_t i = 0;
    for (; i + block <= n; i += block) {
        const unsigned char* gb = g + i;
        const unsigned char* pb = p + i;
        std::uint64_t wg[4], wp[4];
        for (int w = 0; w < 4; ++w) {
            wg[w] = load_word(gb + 8 * w);
            wp[w] = load_word(pb + 8 * w);
        }
        std::uint64_t diff = 0;
        for (int w = 0; w < 4; ++w)
            diff |= (wg[w] ^ run_g) | (wp[w] ^ run_p);
        if (diff == 0) { // the run goes on
            run_len += block;
            continue;
        }
        const std::uint64_t bg = ones * gb[0], bp = ones * pb[0];
        diff = 0;
        for (int w = 0; w < 4; ++w)
            diff |= (wg[w] ^ bg) | (wp[w] ^ bp);
        if (diff == 0) { // a new run starts at this block
            hist[run_cell * K] += run_len;
            run_g = bg;
            run_p = bp;
            run_cell = rows[gb[0]] + cols[pb[0]];
            run_len = block;
            continue;
        }
        for (int w = 0; w < 4; ++w) { // mixed block: words, then bytes
            const unsigned char* gw = gb + 8 * w;
            const unsigned char* pw = pb + 8 * w;
            const std::uint64_t xg = ones * gw[0], xp = ones * pw[0];
            if (((wg[w] ^ xg) | (wp[w] ^ xp)) == 0) {
                hist[(rows[gw[0]] + cols[pw[0]]) * K] += 8;
                continue;
            }
            for (int j = 0; j < 8; ++j)
                ++hist[(rows[gw[j]] + cols[pw[j]]) * K + (j % K)];
        }
    }
    hist[run_cell * K] += run_len;
    for (; i < n; ++i)
        ++hist[(rows[g[i]] + cols[p[i]]) * K];
}

#if defined(__SSE2__)
/// The SSE2 version of `count_bytes_portable` (x86-64's baseline ISA), counting runs by their
/// ends. The current run is the pair of the last pixel seen, counted from `run_start`. A block of
/// 32 pixels that all have the run's pair costs two byte compares per map. Otherwise the block's
/// transitions (pixels whose pair differs from the previous pixel's, found by comparing each map
/// with itself shifted by one) each close a run: its length goes to its cell at once. A block
/// with more than 12 transitions (noise, i.i.d. labels) is counted pixel by pixel instead.
/// Needs 1 <= n < 2^32.
template <int K>
void count_bytes_sse2(const unsigned char* g, const unsigned char* p, index_t n,
                      const std::int32_t* DETSEG_RESTRICT rows,
                      const std::int32_t* DETSEG_RESTRICT cols,
                      std::uint32_t* DETSEG_RESTRICT hist) noexcept {
    constexpr index_t block = 32;
    auto load = [](const unsigned char* s) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    };
    auto splat = [](unsigned char v) { return _mm_set1_epi8(static_cast<char>(v)); };
    // Bit j set where byte j of (a0, a1) equals that of (b0, b1) and of (c0, c1) that of (d0, d1).
    auto equal = [](__m128i a0, __m128i a1, __m128i b0, __m128i b1, __m128i c0, __m128i c1,
                    __m128i d0, __m128i d1) {
        const __m128i e0 = _mm_and_si128(_mm_cmpeq_epi8(a0, b0), _mm_cmpeq_epi8(c0, d0));
        const __m128i e1 = _mm_and_si128(_mm_cmpeq_epi8(a1, b1), _mm_cmpeq_epi8(c1, d1));
        return static_cast<std::uint32_t>(_mm_movemask_epi8(e0)) |
               (static_cast<std::uint32_t>(_mm_movemask_epi8(e1)) << 16);
    };
    __m128i run_g = splat(g[0]), run_p = splat(p[0]);
    index_t run_cell = rows[g[0]] + cols[p[0]];
    index_t run_start = 0;
    index_t i = 1;
    for (; i + block <= n; i += block) {
        const __m128i g0 = load(g + i), g1 = load(g + i + 16);
        const __m128i p0 = load(p + i), p1 = load(p + i + 16);
        if (equal(g0, g1, run_g, run_g, p0, p1, run_p, run_p) == 0xFFFFFFFFu)
            continue; // the run goes on
        const __m128i gs0 = load(g + i - 1), gs1 = load(g + i + 15);
        const __m128i ps0 = load(p + i - 1), ps1 = load(p + i + 15);
        std::uint32_t ends = ~equal(g0, g1, gs0, gs1, p0, p1, ps0, ps1);
        if (std::popcount(ends) > 12) { // little structure: pixel by pixel
            hist[run_cell * K] += static_cast<std::uint32_t>(i - run_start);
            for (index_t j = 0; j < block; ++j)
                ++hist[(rows[g[i + j]] + cols[p[i + j]]) * K + (j % K)];
            run_start = i + block;
        } else {
            for (; ends != 0; ends &= ends - 1) {
                const index_t a = i + std::countr_zero(ends);
                hist[run_cell * K] += static_cast<std::uint32_t>(a - run_start);
                run_start = a;
                run_cell = rows[g[a]] + cols[p[a]];
            }
        }
        const unsigned char last_g = g[i + block - 1], last_p = p[i + block - 1];
        run_g = splat(last_g);
        run_p = splat(last_p);
        run_cell = rows[last_g] + cols[last_p];
    }
    for (; i < n; ++i) {
        if (g[i] != g[i - 1] || p[i] != p[i - 1]) {
            hist[run_cell * K] += static_cast<std::uint32_t>(i - run_start);
            run_start = i;
            run_cell = rows[g[i]] + cols[p[i]];
        }
    }
    hist[run_cell * K] += static_cast<std::uint32_t>(n - run_start);
}
#endif

/// Run-aware count of `n` contiguous one-byte pairs (SSE2 where available).
template <int K>
void count_bytes(const unsigned char* g, const unsigned char* p, index_t n,
                 const std::int32_t* rows, const std::int32_t* cols, std::uint32_t* hist) noexcept {
#if defined(__SSE2__)
    count_bytes_sse2<K>(g, p, n, rows, cols, hist);
#else
    count_bytes_portable<K>(g, p, n, rows, cols, hist);
#endif
}

/// Writes the table codes of `n` labels `v[j*s]` as bytes: gt rows (class, C = out of range,
/// C+1 = ignore index) or prediction columns (class, C). Needs C + 2 <= 256. A unit stride gets
/// its own loop, which compilers vectorise.
template <bool Gt, class T>
void to_byte_codes(const T* v, index_t s, index_t n, const confusion_coder& c,
                   unsigned char* DETSEG_RESTRICT out) noexcept {
    using S = decltype(standard_integer(T{}));
    using U = std::make_unsigned_t<S>;
    const auto classes = static_cast<U>(c.num_classes);
    const auto oob = static_cast<unsigned char>(c.num_classes);
    const bool with_ignore = Gt && c.ignore && std::in_range<S>(*c.ignore);
    const auto ignore = with_ignore ? static_cast<S>(*c.ignore) : S{};
    const auto ignored = static_cast<unsigned char>(c.num_classes + 1);
    auto code = [&](S x) {
        const auto u = static_cast<U>(x); // negative values wrap above every class
        return u < classes ? static_cast<unsigned char>(u) : oob;
    };
    auto convert = [&](const T* DETSEG_RESTRICT src, index_t stride) {
        if (with_ignore)
            for (index_t j = 0; j < n; ++j) {
                const auto x = static_cast<S>(src[j * stride]);
                out[j] = x == ignore ? ignored : code(x);
            }
        else
            for (index_t j = 0; j < n; ++j)
                out[j] = code(static_cast<S>(src[j * stride]));
    };
    if (s == 1)
        convert(v, 1);
    else
        convert(v, s);
}

/// Everything the counting loops need for one pair of label types: the code tables of the
/// labels, and, when C + 2 <= 256, the tables of their byte codes (`to_byte_codes`).
template <class G, class P>
struct pair_codes {
    explicit pair_codes(const confusion_coder& c)
        : coder(c), rows(c), cols(c), byte_codes(c.num_classes + 2 <= 256) {
        for (index_t b = 0; b < 256 && byte_codes; ++b) {
            code_rows[static_cast<std::size_t>(b)] =
                static_cast<std::int32_t>(b <= c.num_classes + 1 ? b * c.width() : 0);
            code_cols[static_cast<std::size_t>(b)] =
                static_cast<std::int32_t>(b <= c.num_classes ? b : 0);
        }
    }
    confusion_coder coder;
    label_codes<G, true> rows;
    label_codes<P, false> cols;
    bool byte_codes;
    std::array<std::int32_t, 256> code_rows{}, code_cols{};
};

/// Counts `n` pairs `(g[i*sg], p[i*sp])` with the fastest applicable loop: the run-aware byte
/// kernel on contiguous one-byte labels; otherwise, when C + 2 <= 256, the same kernel on byte
/// codes converted in blocks of 4096; otherwise the plain loop.
template <int K, class G, class P>
void count_pairs(const G* g, index_t sg, const P* p, index_t sp, index_t n,
                 const pair_codes<G, P>& codes, std::uint32_t* hist) noexcept {
    if (n <= 0)
        return;
    if constexpr (sizeof(G) == 1 && sizeof(P) == 1) {
        if (sg == 1 && sp == 1) {
            count_bytes<K>(reinterpret_cast<const unsigned char*>(g),
                           reinterpret_cast<const unsigned char*>(p), n, codes.rows.table(),
                           codes.cols.table(), hist);
            return;
        }
    }
    if (codes.byte_codes) {
        constexpr index_t block = 4096;
        unsigned char cg[block], cp[block];
        for (index_t i = 0; i < n; i += block) {
            const index_t len = n - i < block ? n - i : block;
            to_byte_codes<true>(g + i * sg, sg, len, codes.coder, cg);
            to_byte_codes<false>(p + i * sp, sp, len, codes.coder, cp);
            count_bytes<K>(cg, cp, len, codes.code_rows.data(), codes.code_cols.data(), hist);
        }
        return;
    }
    count_strided<K>(g, sg, p, sp, n, codes.rows, codes.cols, hist);
}

} // namespace detseg::detail

#endif // DETSEG_METRICS_DETAIL_CONFUSION_KERNEL_HPP
