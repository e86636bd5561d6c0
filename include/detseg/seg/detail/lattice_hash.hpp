#ifndef DETSEG_SEG_DETAIL_LATTICE_HASH_HPP
#define DETSEG_SEG_DETAIL_LATTICE_HASH_HPP

// The hash table of the permutohedral lattice's points (seg/detail/lattice_build.hpp).

#include <detseg/config.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace detseg::detail {

/// Open-addressing (linear probing) hash table from integer keys (d coordinates) to dense
/// indices 0..M-1 in order of insertion; the load factor stays at most 1/2. Each slot holds the
/// index and 32 bits of the key's hash, so a probe reads the stored key only when those match.
class lattice_hash {
public:
    explicit lattice_hash(int d, index_t expected) : d_(d) {
        std::size_t cap = 64;
        shift_ = 58;
        while (cap < static_cast<std::size_t>(expected) * 2) {
            cap *= 2;
            --shift_;
        }
        table_.assign(cap, 0);
        keys_.reserve(static_cast<std::size_t>(expected) * static_cast<std::size_t>(d));
        // one independent odd 64-bit weight per coordinate (splitmix64 outputs)
        std::uint64_t z = 0;
        for (int i = 0; i < d; ++i) {
            z += 0x9E3779B97F4A7C15ull;
            std::uint64_t x = z;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
            weights_.push_back((x ^ (x >> 31)) | 1ull);
        }
    }

    [[nodiscard]] index_t size() const noexcept { return size_; }
    [[nodiscard]] const std::int32_t* key(index_t i) const noexcept {
        return keys_.data() + i * d_;
    }

    /// The 64-bit hash of a key: a weighted sum of the coordinates (independent products), mixed.
    [[nodiscard]] std::uint64_t hash(const std::int32_t* key) const noexcept {
        std::uint64_t h = 0;
        for (int i = 0; i < d_; ++i)
            h += static_cast<std::uint64_t>(static_cast<std::uint32_t>(key[i])) *
                 weights_[static_cast<std::size_t>(i)];
        h ^= h >> 32;
        h *= 0xD6E8FEB86659FD93ull;
        h ^= h >> 29;
        return h * 0x9E3779B97F4A7C15ull;
    }

    /// Hint that the slot of hash `h` is needed soon.
    void prefetch(std::uint64_t h) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
        __builtin_prefetch(table_.data() + (h >> shift_));
#else
        (void)h;
#endif
    }

    /// Hint that the stored key the first probed slot of hash `h` points to is needed soon
    /// (after `prefetch(h)`: reads that slot).
    void prefetch_key(std::uint64_t h) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
        const std::uint64_t e = table_[static_cast<std::size_t>(h >> shift_)];
        if (e != 0 && (e >> 32) == (h & 0xFFFFFFFFull))
            __builtin_prefetch(keys_.data() + (static_cast<index_t>(e & 0xFFFFFFFFull) - 1) * d_);
#else
        (void)h;
#endif
    }

    /// Index of `key` (whose hash is `h`), inserting it when absent.
    index_t insert(const std::int32_t* key, std::uint64_t h) {
        if (static_cast<std::size_t>(size_ + 1) * 2 > table_.size()) {
            grow();
        }
        const std::size_t mask = table_.size() - 1;
        std::size_t s = static_cast<std::size_t>(h >> shift_);
        for (;;) {
            const std::uint64_t e = table_[s];
            if (e == 0) {
                table_[s] = (h << 32) | static_cast<std::uint64_t>(size_ + 1);
                keys_.insert(keys_.end(), key, key + d_);
                return size_++;
            }
            if ((e >> 32) == (h & 0xFFFFFFFFull)) {
                const index_t idx = static_cast<index_t>(e & 0xFFFFFFFFull) - 1;
                if (same(key, keys_.data() + idx * d_))
                    return idx;
            }
            s = (s + 1) & mask;
        }
    }

    /// Index of `key` (whose hash is `h`), or -1 when absent.
    [[nodiscard]] index_t lookup(const std::int32_t* key, std::uint64_t h) const noexcept {
        const std::size_t mask = table_.size() - 1;
        std::size_t s = static_cast<std::size_t>(h >> shift_);
        for (;;) {
            const std::uint64_t e = table_[s];
            if (e == 0)
                return -1;
            if ((e >> 32) == (h & 0xFFFFFFFFull)) {
                const index_t idx = static_cast<index_t>(e & 0xFFFFFFFFull) - 1;
                if (same(key, keys_.data() + idx * d_))
                    return idx;
            }
            s = (s + 1) & mask;
        }
    }

private:
    [[nodiscard]] bool same(const std::int32_t* a, const std::int32_t* b) const noexcept {
        std::int32_t diff = 0;
        for (int i = 0; i < d_; ++i)
            diff |= a[i] ^ b[i];
        return diff == 0;
    }

    void grow() {
        std::vector<std::uint64_t> old;
        old.swap(table_);
        table_.assign(old.size() * 2, 0);
        --shift_;
        const std::size_t mask = table_.size() - 1;
        for (index_t i = 0; i < size_; ++i) {
            const std::uint64_t h = hash(keys_.data() + i * d_);
            std::size_t s = static_cast<std::size_t>(h >> shift_);
            while (table_[s] != 0)
                s = (s + 1) & mask;
            table_[s] = (h << 32) | static_cast<std::uint64_t>(i + 1);
        }
    }

    int d_;
    int shift_;
    index_t size_ = 0;
    std::vector<std::uint64_t> weights_;
    std::vector<std::uint64_t> table_; // (low 32 bits of the hash) << 32 | (index + 1); 0 = empty
    std::vector<std::int32_t> keys_;
};

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_LATTICE_HASH_HPP
