#ifndef DETSEG_TESTS_SUPPORT_ZIP_HPP
#define DETSEG_TESTS_SUPPORT_ZIP_HPP

// A small reader of ZIP archives (stored and deflated members, zip64 sizes) for the tests: it
// opens NumPy `.npz` files. Deflate (RFC 1951) is decoded with canonical Huffman codes bit by
// bit; every member's CRC-32 is checked.

#include <detseg/core/error.hpp>
#include <detseg/io/npy.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace testing {

namespace zip_detail {

[[noreturn]] inline void fail(const std::string& what) {
    throw detseg::io_error("zip: " + what);
}

class bit_reader {
public:
    bit_reader(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

    unsigned bit() {
        if (pos_ >= n_)
            fail("deflate stream is truncated");
        const unsigned b = (p_[pos_] >> bitpos_) & 1u;
        if (++bitpos_ == 8) {
            bitpos_ = 0;
            ++pos_;
        }
        return b;
    }

    /// n bits, least significant first.
    unsigned bits(int n) {
        unsigned v = 0;
        for (int i = 0; i < n; ++i)
            v |= bit() << i;
        return v;
    }

    void align() {
        if (bitpos_ != 0) {
            bitpos_ = 0;
            ++pos_;
        }
    }

    std::uint8_t byte() {
        if (pos_ >= n_)
            fail("deflate stream is truncated");
        return p_[pos_++];
    }

private:
    const std::uint8_t* p_;
    std::size_t n_;
    std::size_t pos_ = 0;
    int bitpos_ = 0;
};

/// A canonical Huffman code: symbols sorted by (code length, symbol).
struct huffman {
    std::array<int, 16> count{};
    std::vector<int> symbols;

    explicit huffman(const std::vector<int>& lengths) {
        for (int len : lengths)
            ++count[static_cast<std::size_t>(len)];
        count[0] = 0;
        std::array<int, 16> offset{};
        for (std::size_t len = 1; len < 15; ++len)
            offset[len + 1] = offset[len] + count[len];
        symbols.resize(lengths.size());
        for (std::size_t s = 0; s < lengths.size(); ++s)
            if (lengths[s] != 0)
                symbols[static_cast<std::size_t>(offset[static_cast<std::size_t>(lengths[s])]++)] =
                    static_cast<int>(s);
    }

    int decode(bit_reader& in) const {
        int code = 0, first = 0, index = 0;
        for (std::size_t len = 1; len < 16; ++len) {
            code |= static_cast<int>(in.bit());
            const int c = count[len];
            if (code - first < c)
                return symbols[static_cast<std::size_t>(index + code - first)];
            index += c;
            first = (first + c) << 1;
            code <<= 1;
        }
        fail("invalid Huffman code");
    }
};

inline void inflate_block(bit_reader& in, std::vector<std::uint8_t>& out, const huffman& lit,
                          const huffman& dist) {
    static constexpr int len_base[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                         15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                         67, 83, 99, 115, 131, 163, 195, 227, 258};
    static constexpr int len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                          2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static constexpr int dist_base[30] = {
        1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
        193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static constexpr int dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                           6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    for (;;) {
        const int sym = lit.decode(in);
        if (sym < 256) {
            out.push_back(static_cast<std::uint8_t>(sym));
        } else if (sym == 256) {
            return;
        } else {
            const int li = sym - 257;
            if (li >= 29)
                fail("invalid length symbol");
            const int length = len_base[li] + static_cast<int>(in.bits(len_extra[li]));
            const int di = dist.decode(in);
            if (di >= 30)
                fail("invalid distance symbol");
            const std::size_t d = static_cast<std::size_t>(dist_base[di]) + in.bits(dist_extra[di]);
            if (d > out.size())
                fail("distance too far back");
            const std::size_t from = out.size() - d;
            for (int i = 0; i < length; ++i)
                out.push_back(out[from + static_cast<std::size_t>(i)]);
        }
    }
}

/// Decodes a raw deflate stream (RFC 1951).
inline std::vector<std::uint8_t> inflate(const std::uint8_t* data, std::size_t size,
                                         std::size_t expected_size) {
    std::vector<std::uint8_t> out;
    out.reserve(expected_size);
    bit_reader in(data, size);
    bool last = false;
    while (!last) {
        last = in.bit() != 0;
        const unsigned type = in.bits(2);
        if (type == 0) {
            in.align();
            const unsigned len = in.byte() | (unsigned{in.byte()} << 8);
            const unsigned nlen = in.byte() | (unsigned{in.byte()} << 8);
            if ((len ^ 0xFFFFu) != nlen)
                fail("stored block length check failed");
            for (unsigned i = 0; i < len; ++i)
                out.push_back(in.byte());
        } else if (type == 1) {
            std::vector<int> l(288);
            for (std::size_t s = 0; s < 288; ++s)
                l[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
            static const huffman fixed_lit(l);
            static const huffman fixed_dist(std::vector<int>(30, 5));
            inflate_block(in, out, fixed_lit, fixed_dist);
        } else if (type == 2) {
            const int hlit = static_cast<int>(in.bits(5)) + 257;
            const int hdist = static_cast<int>(in.bits(5)) + 1;
            const int hclen = static_cast<int>(in.bits(4)) + 4;
            static constexpr int order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                              11, 4,  12, 3, 13, 2, 14, 1, 15};
            std::vector<int> cl(19, 0);
            for (int i = 0; i < hclen; ++i)
                cl[static_cast<std::size_t>(order[i])] = static_cast<int>(in.bits(3));
            const huffman clcode(cl);
            std::vector<int> lengths;
            while (static_cast<int>(lengths.size()) < hlit + hdist) {
                const int sym = clcode.decode(in);
                if (sym < 16) {
                    lengths.push_back(sym);
                } else {
                    int value = 0, repeat = 0;
                    if (sym == 16) {
                        if (lengths.empty())
                            fail("repeat without a previous length");
                        value = lengths.back();
                        repeat = 3 + static_cast<int>(in.bits(2));
                    } else if (sym == 17) {
                        repeat = 3 + static_cast<int>(in.bits(3));
                    } else {
                        repeat = 11 + static_cast<int>(in.bits(7));
                    }
                    for (int i = 0; i < repeat; ++i)
                        lengths.push_back(value);
                }
            }
            if (static_cast<int>(lengths.size()) != hlit + hdist)
                fail("code lengths overrun");
            const huffman lit(std::vector<int>(lengths.begin(), lengths.begin() + hlit));
            const huffman dist(std::vector<int>(lengths.begin() + hlit, lengths.end()));
            inflate_block(in, out, lit, dist);
        } else {
            fail("invalid block type");
        }
    }
    return out;
}

inline std::uint32_t crc32(const std::vector<std::uint8_t>& data) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::uint8_t b : data) {
        crc ^= b;
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

inline std::uint64_t le(const std::vector<std::uint8_t>& b, std::size_t at, int bytes) {
    if (at + static_cast<std::size_t>(bytes) > b.size())
        fail("archive is truncated");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v |= std::uint64_t{b[at + static_cast<std::size_t>(i)]} << (8 * i);
    return v;
}

} // namespace zip_detail

/// The members of a ZIP archive, name → uncompressed bytes (stored or deflated members only).
/// Throws detseg::io_error for anything it cannot read or a CRC mismatch.
inline std::map<std::string, std::vector<std::uint8_t>> read_zip(const std::string& path) {
    using namespace zip_detail;
    std::ifstream f(path, std::ios::binary);
    if (!f)
        fail("cannot open '" + path + "'");
    const std::vector<std::uint8_t> b((std::istreambuf_iterator<char>(f)),
                                      std::istreambuf_iterator<char>());
    if (b.size() < 22)
        fail("'" + path + "' is too short");
    std::size_t eocd = b.size() - 22;
    while (le(b, eocd, 4) != 0x06054b50u) {
        if (eocd == 0)
            fail("'" + path + "' has no end of central directory");
        --eocd;
    }
    const std::size_t entries = le(b, eocd + 10, 2);
    std::size_t at = le(b, eocd + 16, 4);
    std::map<std::string, std::vector<std::uint8_t>> members;
    for (std::size_t e = 0; e < entries; ++e) {
        if (le(b, at, 4) != 0x02014b50u)
            fail("bad central directory entry");
        const auto method = le(b, at + 10, 2);
        const auto crc = static_cast<std::uint32_t>(le(b, at + 16, 4));
        std::uint64_t csize = le(b, at + 20, 4);
        std::uint64_t usize = le(b, at + 24, 4);
        const std::size_t name_len = le(b, at + 28, 2);
        const std::size_t extra_len = le(b, at + 30, 2);
        const std::size_t comment_len = le(b, at + 32, 2);
        std::uint64_t local = le(b, at + 42, 4);
        const std::string name(b.begin() + static_cast<std::ptrdiff_t>(at + 46),
                               b.begin() + static_cast<std::ptrdiff_t>(at + 46 + name_len));
        // zip64 extended information: the fields that are 0xFFFFFFFF, in this order
        for (std::size_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
            const auto id = le(b, x, 2);
            const std::size_t len = le(b, x + 2, 2);
            if (id == 1) {
                std::size_t y = x + 4;
                if (usize == 0xFFFFFFFFu) {
                    usize = le(b, y, 8);
                    y += 8;
                }
                if (csize == 0xFFFFFFFFu) {
                    csize = le(b, y, 8);
                    y += 8;
                }
                if (local == 0xFFFFFFFFu)
                    local = le(b, y, 8);
            }
            x += 4 + len;
        }
        at += 46 + name_len + extra_len + comment_len;
        if (le(b, local, 4) != 0x04034b50u)
            fail("bad local header for '" + name + "'");
        const std::size_t data = local + 30 + le(b, local + 26, 2) + le(b, local + 28, 2);
        if (data + csize > b.size())
            fail("member '" + name + "' is truncated");
        std::vector<std::uint8_t> out;
        if (method == 0)
            out.assign(b.begin() + static_cast<std::ptrdiff_t>(data),
                       b.begin() + static_cast<std::ptrdiff_t>(data + csize));
        else if (method == 8)
            out = inflate(b.data() + data, static_cast<std::size_t>(csize),
                          static_cast<std::size_t>(usize));
        else
            fail("member '" + name + "' uses compression method " + std::to_string(method));
        if (out.size() != usize || crc32(out) != crc)
            fail("member '" + name + "' fails its size or CRC check");
        members.emplace(name, std::move(out));
    }
    return members;
}

/// Every `.npy` member of a `.npz` archive, by name without ".npy", loaded with
/// detseg::load_npy through a temporary file.
inline std::map<std::string, detseg::npy_array> load_npz(const std::string& path) {
    std::map<std::string, detseg::npy_array> arrays;
    std::random_device rd;
    for (auto& [name, bytes] : read_zip(path)) {
        const auto tmp = std::filesystem::temp_directory_path() /
                         ("detseg_npz_" + std::to_string(rd()) + "_" + name);
        {
            std::ofstream o(tmp, std::ios::binary);
            o.write(reinterpret_cast<const char*>(bytes.data()),
                    static_cast<std::streamsize>(bytes.size()));
        }
        detseg::npy_array a = detseg::load_npy(tmp.string());
        std::filesystem::remove(tmp);
        std::string key = name;
        if (key.size() > 4 && key.ends_with(".npy"))
            key.resize(key.size() - 4);
        arrays.emplace(key, std::move(a));
    }
    return arrays;
}

} // namespace testing

#endif
