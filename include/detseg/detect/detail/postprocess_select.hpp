#ifndef DETSEG_DETECT_DETAIL_POSTPROCESS_SELECT_HPP
#define DETSEG_DETECT_DETAIL_POSTPROCESS_SELECT_HPP

// The candidate stage of `retinanet_postprocess`: scores of one level's logits, the score
// threshold and the per-level top-k, computing the sigmoid only where it can matter.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace detseg::detail {

/// A candidate of one level: flat index (anchor·C + class) within the level, and its logit or
/// score.
template <class T>
struct pp_candidate {
    T value; // the logit while selecting on logits, then the score
    T score;
    index_t flat;
};

template <class T>
struct postprocess_buffers {
    std::vector<pp_candidate<T>> cand;
    std::vector<T> d, a, boxes, scores;
    std::vector<std::int64_t> labels;
    std::vector<index_t> keep;
};

/// The score of a logit as torch computes `torch.sigmoid` on CPU (scalar path): the same
/// operations in T.
template <class T>
[[nodiscard]] inline T sigmoid_of(T x) noexcept {
    return T(1) / (T(1) + std::exp(T(0) - x));
}

/// A logit bound for the score s in T: every x < bound has `sigmoid_of(x) < s`. Below the exact
/// logit of s by a margin that covers the rounding of `sigmoid_of` (a few ulps of T, relative):
/// with m = 1e-6 / (1 - s) + 1e-6, sigma(logit(s) - m) <= s·exp(-1e-6) because the slope of
/// log(sigma) is at least 1 - s below logit(s). -infinity where that reasoning does not hold
/// (tiny or subnormal scores, s = 1).
template <class T>
[[nodiscard]] inline T logit_lower_bound(T s) noexcept {
    const double sd = static_cast<double>(s);
    if (!(sd > 1e-30) || !(sd < 1.0))
        return -std::numeric_limits<T>::infinity();
    const double l = std::log(sd) - std::log1p(-sd);
    const double bound = l - (1e-6 / (1.0 - sd) + 1e-6 * (1.0 + std::fabs(l)));
    T b = static_cast<T>(bound);
    if (static_cast<double>(b) > bound) // round toward -infinity
        b = std::nextafter(b, -std::numeric_limits<T>::infinity());
    return b;
}

/// Ordering of the selection: score descending, then lower flat index.
template <class T>
[[nodiscard]] inline bool pp_before(const pp_candidate<T>& a, const pp_candidate<T>& b) noexcept {
    return a.score > b.score || (a.score == b.score && a.flat < b.flat);
}

/// Keeps the best `k` candidates (by `pp_before`), sorted.
template <class T>
void select_top(std::vector<pp_candidate<T>>& cand, index_t k) {
    const auto uk = static_cast<std::size_t>(k);
    if (cand.size() > uk) {
        std::nth_element(cand.begin(), cand.begin() + std::ptrdiff_t(uk), cand.end(), pp_before<T>);
        cand.resize(uk);
    }
    std::sort(cand.begin(), cand.end(), pp_before<T>);
}

/// True unless v is NaN or infinite (all exponent bits set), without a floating-point
/// operation, so that a loop counting them vectorises.
template <class T>
[[nodiscard]] inline bool finite_bits(T v) noexcept {
    if constexpr (sizeof(T) == 4) {
        return (std::bit_cast<std::uint32_t>(v) & 0x7f800000u) != 0x7f800000u;
    } else {
        constexpr std::uint64_t e = 0x7ff0000000000000ull;
        return (std::bit_cast<std::uint64_t>(v) & e) != e;
    }
}

/// Of the candidates with logits at or above `lo`: the best `k` logits moved to the front
/// (k <= cand.size()), their scores computed, and the logit bound below which no candidate can
/// be among the k best passing scores: if those k all pass `thr`, the k-th best passing score is
/// at least their lowest score s_min, so the bound is `logit_lower_bound(s_min)`; else `lo`.
template <class T>
[[nodiscard]] T top_logits_bound(std::vector<pp_candidate<T>>& cand, std::size_t k, T thr, T lo) {
    std::nth_element(
        cand.begin(), cand.begin() + std::ptrdiff_t(k - 1), cand.end(),
        [](const pp_candidate<T>& p, const pp_candidate<T>& q) { return p.value > q.value; });
    T smin = std::numeric_limits<T>::infinity();
    for (std::size_t i = 0; i < k; ++i) {
        cand[i].score = sigmoid_of(cand[i].value);
        smin = std::min(smin, cand[i].score);
    }
    return smin > thr ? std::max(lo, logit_lower_bound(smin)) : lo;
}

/// Drops the candidates after the first `k` whose logit is below `bound`.
template <class T>
void drop_below(std::vector<pp_candidate<T>>& cand, std::size_t k, T bound) {
    std::size_t m = k;
    for (std::size_t i = k; i < cand.size(); ++i)
        if (cand[i].value >= bound)
            cand[m++] = cand[i];
    cand.resize(m);
}

/// Rows [first, first + n) of `logits`, sigmoid: fills `b.cand` with candidates whose score
/// passes `thr`, a superset of the best `topk` of them (and of every one with an equal score).
///
/// One pass over the logits compares each with a bound `lo` (below which the score cannot pass
/// or cannot be among the best `topk`); when many candidates have gathered, the bound rises to
/// what the best `topk` of them imply (`top_logits_bound`). Scores are computed only for the
/// candidates that remain.
template <class T, class LV>
void sigmoid_candidates(const LV& logits, index_t first, index_t n, T thr, index_t topk,
                        postprocess_buffers<T>& b, const char* fn) {
    auto& cand = b.cand;
    cand.clear();
    const index_t c = logits.extent(1);
    T lo = logit_lower_bound(thr);
    const auto uk = static_cast<std::size_t>(topk);
    const std::size_t prune_at =
        uk > 0 ? std::max<std::size_t>(4 * uk, 4096) : std::numeric_limits<std::size_t>::max();
    bool bad = false;
    if (logits.stride(1) == 1 && (n <= 1 || logits.stride(0) == c)) {
        // Contiguous: blocks of 64 logits, counted (vectorised), scanned only when one passes.
        const T* x = logits.data_handle() + first * logits.stride(0);
        const index_t total = n * c;
        index_t e = 0;
        for (; e + 64 <= total; e += 64) {
            int hits = 0, finite = 0;
            for (int j = 0; j < 64; ++j) {
                hits += x[e + j] >= lo;
                finite += finite_bits(x[e + j]);
            }
            bad |= finite != 64;
            if (hits == 0)
                continue;
            for (int j = 0; j < 64; ++j)
                if (x[e + j] >= lo)
                    cand.push_back({x[e + j], T(0), e + j});
            if (cand.size() >= prune_at) {
                lo = top_logits_bound(cand, uk, thr, lo);
                drop_below(cand, uk, lo);
            }
        }
        for (; e < total; ++e) {
            bad |= !finite_bits(x[e]);
            if (x[e] >= lo)
                cand.push_back({x[e], T(0), e});
        }
    } else {
        for (index_t r = 0; r < n; ++r)
            for (index_t j = 0; j < c; ++j) {
                const T v = logits(first + r, j);
                bad |= !finite_bits(v);
                if (v >= lo)
                    cand.push_back({v, T(0), r * c + j});
            }
    }
    if (bad) {
        for (index_t r = 0; r < n; ++r)
            for (index_t j = 0; j < c; ++j)
                DETSEG_REQUIRE(std::isfinite(logits(first + r, j)), fn, "logits", "entry (",
                               first + r, ", ", j, ") is NaN or infinite");
    }

    if (cand.size() > uk && uk > 0) {
        lo = top_logits_bound(cand, uk, thr, lo);
        drop_below(cand, uk, lo);
        for (std::size_t i = uk; i < cand.size(); ++i)
            cand[i].score = sigmoid_of(cand[i].value);
    } else {
        for (auto& q : cand)
            q.score = sigmoid_of(q.value);
    }
    // The exact test, on the scores in T.
    std::erase_if(cand, [thr](const pp_candidate<T>& q) { return !(q.score > thr); });
}

/// Rows [first, first + n) of `logits`, softmax over each row: fills `b.cand` with the classes
/// whose score passes `thr`.
template <class T, class LV>
void softmax_candidates(const LV& logits, index_t first, index_t n, T thr,
                        postprocess_buffers<T>& b, const char* fn) {
    auto& cand = b.cand;
    cand.clear();
    const index_t c = logits.extent(1);
    auto& e = b.d; // scratch of C exponentials
    e.resize(static_cast<std::size_t>(c));
    for (index_t r = 0; r < n; ++r) {
        T mx = -std::numeric_limits<T>::infinity();
        for (index_t j = 0; j < c; ++j) {
            const T v = logits(first + r, j);
            DETSEG_REQUIRE(std::isfinite(v), fn, "logits", "entry (", first + r, ", ", j,
                           ") is NaN or infinite");
            mx = std::max(mx, v);
        }
        T sum = 0;
        for (index_t j = 0; j < c; ++j) {
            e[std::size_t(j)] = std::exp(logits(first + r, j) - mx);
            sum += e[std::size_t(j)];
        }
        for (index_t j = 0; j < c; ++j) {
            const T s = e[std::size_t(j)] / sum;
            if (s > thr)
                cand.push_back({s, s, r * c + j});
        }
    }
}

} // namespace detseg::detail

#endif // DETSEG_DETECT_DETAIL_POSTPROCESS_SELECT_HPP
