#ifndef DETSEG_CORE_DETAIL_SCORE_ORDER_HPP
#define DETSEG_CORE_DETAIL_SCORE_ORDER_HPP

// The candidate order of the NMS family: the indices i with scores[i] > threshold (compared in
// double), by descending score, ties by lower index; i.e. exactly what a stable sort of
// [0, N) by descending score gives. Implemented as a least-significant-digit radix sort of
// order-preserving integer keys (stable, so equal scores stay in index order), with a comparison
// sort for small inputs and for score types wider than double.

#include <detseg/config.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace detseg::detail {

// Maps a float to an unsigned key that increases with the value (+0 and -0 equal; no NaN).
[[nodiscard]] inline std::uint32_t ascending_key(float v) noexcept {
    const auto u = std::bit_cast<std::uint32_t>(v + 0.0f); // -0 -> +0
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
[[nodiscard]] inline std::uint64_t ascending_key(double v) noexcept {
    const auto u = std::bit_cast<std::uint64_t>(v + 0.0);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

// Stable LSD radix sort of `a` by the bits [lo, hi) of each element (Key = unsigned integer),
// 8 bits per pass, skipping passes whose digit is the same for every element. `tmp` is scratch of
// the same size. The result ends in `a`.
template <class Item, class KeyOf>
void radix_sort_bits(std::vector<Item>& a, std::vector<Item>& tmp, int lo, int hi, KeyOf key) {
    const std::size_t n = a.size();
    tmp.resize(n);
    for (int shift = lo; shift < hi; shift += 8) {
        std::array<std::size_t, 256> count{};
        for (std::size_t i = 0; i < n; ++i)
            ++count[static_cast<std::size_t>((key(a[i]) >> shift) & 0xffu)];
        if (std::find(count.begin(), count.end(), n) != count.end())
            continue; // every element has the same digit: the pass would not move anything
        std::size_t sum = 0;
        for (auto& c : count) {
            const std::size_t c0 = c;
            c = sum;
            sum += c0;
        }
        for (std::size_t i = 0; i < n; ++i)
            tmp[count[static_cast<std::size_t>((key(a[i]) >> shift) & 0xffu)]++] = a[i];
        a.swap(tmp);
    }
}

// Scratch memory of `score_order`, reusable across calls (`tmp` is free for other uses between
// calls).
struct score_order_buffers {
    std::vector<index_t> tmp;
    struct wide {
        std::uint64_t key;
        std::uint64_t index;
    };
    std::vector<wide> wide_keys, wide_tmp;
};

// Writes into `order` the indices i in [0, n) with double(scores[i]) > threshold, by descending
// score, ties by lower index. `scores[i]` must not be NaN. O(N) for N >= 256 (radix), else
// O(N log N).
template <class S>
void score_order(const S& scores, std::ptrdiff_t n, double threshold, std::vector<index_t>& order,
                 score_order_buffers& buf) {
    using V = std::remove_cvref_t<decltype(scores[0])>;
    constexpr std::ptrdiff_t small = 256;
    order.resize(static_cast<std::size_t>(n));
    std::size_t m = 0;
    if constexpr (std::is_same_v<V, float>) {
        if (n >= small && n <= std::ptrdiff_t{0xffffffff}) {
            // (descending key << 32) | index, held in `order` itself: sorting by the upper half
            // keeps the index order; the lower half is then the answer.
            for (std::ptrdiff_t i = 0; i < n; ++i) {
                const float s = scores[i];
                if (static_cast<double>(s) > threshold)
                    order[m++] = static_cast<index_t>((std::uint64_t{~ascending_key(s)} << 32) |
                                                      static_cast<std::uint64_t>(i));
            }
            order.resize(m);
            radix_sort_bits(order, buf.tmp, 32, 64,
                            [](index_t v) { return static_cast<std::uint64_t>(v); });
            for (auto& v : order)
                v = static_cast<index_t>(static_cast<std::uint64_t>(v) & 0xffffffffu);
            return;
        }
    } else if constexpr (std::is_same_v<V, double>) {
        if (n >= small) {
            auto& w = buf.wide_keys;
            w.resize(static_cast<std::size_t>(n));
            for (std::ptrdiff_t i = 0; i < n; ++i) {
                const double s = scores[i];
                if (s > threshold)
                    w[m++] = {~ascending_key(s), static_cast<std::uint64_t>(i)};
            }
            w.resize(m);
            radix_sort_bits(w, buf.wide_tmp, 0, 64,
                            [](const score_order_buffers::wide& v) { return v.key; });
            order.resize(m);
            for (std::size_t k = 0; k < m; ++k)
                order[k] = static_cast<index_t>(w[k].index);
            return;
        }
    }
    for (std::ptrdiff_t i = 0; i < n; ++i)
        if (static_cast<double>(scores[i]) > threshold)
            order[m++] = static_cast<index_t>(i);
    order.resize(m);
    std::sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        const auto sa = scores[a], sb = scores[b];
        return sa > sb || (sa == sb && a < b);
    });
}

} // namespace detseg::detail

#endif // DETSEG_CORE_DETAIL_SCORE_ORDER_HPP
