#ifndef DETSEG_METRICS_DETAIL_COCO_SERIALIZE_HPP
#define DETSEG_METRICS_DETAIL_COCO_SERIALIZE_HPP

// Little-endian binary writing and reading for the evaluator states.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

namespace detseg::detail {

class binary_writer {
public:
    explicit binary_writer(std::ostream& out) : out_(out) {}

    template <class T>
        requires std::is_arithmetic_v<T>
    void put(T v) {
        using U = std::conditional_t<
            sizeof(T) == 8, std::uint64_t,
            std::conditional_t<sizeof(T) == 4, std::uint32_t,
                               std::conditional_t<sizeof(T) == 2, std::uint16_t, std::uint8_t>>>;
        const U u = std::bit_cast<U>(v);
        char b[sizeof(T)];
        for (std::size_t i = 0; i < sizeof(T); ++i)
            b[i] = static_cast<char>((u >> (8 * i)) & 0xFF);
        out_.write(b, sizeof(T));
    }

    template <class T>
    void put_array(const std::vector<T>& v) {
        if constexpr (std::endian::native == std::endian::little) {
            out_.write(reinterpret_cast<const char*>(v.data()),
                       static_cast<std::streamsize>(v.size() * sizeof(T)));
        } else {
            for (const T& x : v)
                put(x);
        }
    }

    void put_string(const std::string& s) {
        put<std::uint64_t>(s.size());
        out_.write(s.data(), static_cast<std::streamsize>(s.size()));
    }

    void finish(const char* what) {
        out_.flush();
        if (!out_)
            throw io_error(std::string(what) + ": writing failed");
    }

private:
    std::ostream& out_;
};

class binary_reader {
public:
    binary_reader(std::istream& in, const char* what) : in_(in), what_(what) {}

    template <class T>
        requires std::is_arithmetic_v<T>
    [[nodiscard]] T get() {
        using U = std::conditional_t<
            sizeof(T) == 8, std::uint64_t,
            std::conditional_t<sizeof(T) == 4, std::uint32_t,
                               std::conditional_t<sizeof(T) == 2, std::uint16_t, std::uint8_t>>>;
        unsigned char b[sizeof(T)];
        in_.read(reinterpret_cast<char*>(b), sizeof(T));
        if (in_.gcount() != static_cast<std::streamsize>(sizeof(T)))
            fail("truncated");
        U u = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i)
            u = static_cast<U>(u | (static_cast<U>(b[i]) << (8 * i)));
        return std::bit_cast<T>(u);
    }

    /// Reads n elements in chunks, so a corrupt count fails on truncation, not in allocation.
    template <class T>
    [[nodiscard]] std::vector<T> get_array(std::uint64_t n) {
        std::vector<T> v;
        constexpr std::uint64_t chunk = 1 << 16;
        while (v.size() < n) {
            const std::size_t m =
                static_cast<std::size_t>(std::min<std::uint64_t>(chunk, n - v.size()));
            const std::size_t old = v.size();
            v.resize(old + m);
            if constexpr (std::endian::native == std::endian::little) {
                in_.read(reinterpret_cast<char*>(v.data() + old),
                         static_cast<std::streamsize>(m * sizeof(T)));
                if (in_.gcount() != static_cast<std::streamsize>(m * sizeof(T)))
                    fail("truncated");
            } else {
                for (std::size_t i = 0; i < m; ++i)
                    v[old + i] = get<T>();
            }
        }
        return v;
    }

    [[nodiscard]] std::string get_string() {
        const auto n = get<std::uint64_t>();
        if (n > (1u << 20))
            fail("string too long");
        std::string s(static_cast<std::size_t>(n), '\0');
        in_.read(s.data(), static_cast<std::streamsize>(n));
        if (in_.gcount() != static_cast<std::streamsize>(n))
            fail("truncated");
        return s;
    }

    [[noreturn]] void fail(const std::string& why) const {
        throw io_error(std::string(what_) + ": " + why);
    }

private:
    std::istream& in_;
    const char* what_;
};

} // namespace detseg::detail

#endif // DETSEG_METRICS_DETAIL_COCO_SERIALIZE_HPP
