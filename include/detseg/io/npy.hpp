#ifndef DETSEG_IO_NPY_HPP
#define DETSEG_IO_NPY_HPP

/// @file
/// Reading and writing NumPy `.npy` files (format versions 1.0-3.0, little- or big-endian,
/// C or Fortran order) for the element types bool, int8-64, uint8-64, float32 and float64.
/// Standard library only.
///
///     auto boxes = detseg::load_npy("boxes.npy").as<float, 2>();   // N×4 float32
///     detseg::save_npy("iou.npy", detseg::pairwise_iou(boxes, boxes));

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace detseg {

/// The dtype code NumPy uses for `T` (`'f'`, `'i'`, `'u'`, `'b'`), and its size.
template <class T>
[[nodiscard]] constexpr char npy_kind() noexcept {
    if constexpr (std::is_same_v<T, bool>)
        return 'b';
    else if constexpr (std::is_floating_point_v<T>)
        return 'f';
    else if constexpr (std::is_signed_v<T>)
        return 'i';
    else
        return 'u';
}

/// A loaded `.npy` array: element kind and size, shape, and the raw bytes in native byte order
/// and C (row-major) order.
struct npy_array {
    char kind = 'f';          ///< 'f' float, 'i' signed, 'u' unsigned, 'b' bool
    std::size_t itemsize = 4; ///< bytes per element
    std::vector<index_t> shape;
    std::vector<std::byte> bytes;

    [[nodiscard]] index_t size() const noexcept {
        index_t n = 1;
        for (index_t e : shape)
            n *= e;
        return n;
    }

    /// True when the stored element type is exactly `T`.
    template <class T>
    [[nodiscard]] bool holds() const noexcept {
        return kind == npy_kind<T>() && itemsize == sizeof(T);
    }

    /// The data as a `tensor<T, R>`; the dtype must be exactly `T` (a bool array is read as
    /// `std::uint8_t`, 0 or 1) and the rank `R`.
    /// @throws detseg::io_error otherwise.

    template <class T, std::size_t R>
    [[nodiscard]] tensor<T, R> as() const {
        static_assert(!std::is_same_v<T, bool>, "detseg: read bool arrays as std::uint8_t");
        const bool bool_as_u8 = std::is_same_v<T, std::uint8_t> && kind == 'b' && itemsize == 1;
        if (!holds<T>() && !bool_as_u8)
            throw io_error(detail::concat("detseg::npy_array::as: stored dtype is '", kind,
                                          itemsize, "', requested '", npy_kind<T>(), sizeof(T),
                                          "'"));
        if (shape.size() != R)
            throw io_error(detail::concat("detseg::npy_array::as: stored rank is ", shape.size(),
                                          ", requested ", R));
        std::array<index_t, R> e{};
        std::copy(shape.begin(), shape.end(), e.begin());
        tensor<T, R> t(e);
        if (!bytes.empty())
            std::memcpy(t.data(), bytes.data(), bytes.size());
        return t;
    }
};

namespace detail {

inline std::string npy_header_value(std::string_view header, std::string_view key) {
    const std::string quoted = concat('\'', key, '\'');
    auto p = header.find(quoted);
    if (p == std::string_view::npos)
        throw io_error(concat("detseg::load_npy: header lacks ", key));
    p = header.find(':', p + quoted.size());
    if (p == std::string_view::npos)
        throw io_error("detseg::load_npy: malformed header");
    ++p;
    while (p < header.size() && header[p] == ' ')
        ++p;
    if (p >= header.size())
        throw io_error("detseg::load_npy: malformed header");
    std::size_t e = p;
    if (header[p] == '(' || header[p] == '\'') {
        e = header.find(header[p] == '(' ? ')' : '\'', p + 1);
        if (e == std::string_view::npos)
            throw io_error("detseg::load_npy: malformed header");
        ++e;
    } else
        while (e < header.size() && header[e] != ',' && header[e] != '}')
            ++e;
    return std::string(header.substr(p, e - p));
}

inline void byteswap_items(std::vector<std::byte>& bytes, std::size_t itemsize) {
    for (std::size_t i = 0; i + itemsize <= bytes.size(); i += itemsize)
        std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i),
                     bytes.begin() + static_cast<std::ptrdiff_t>(i + itemsize));
}

// Reorders Fortran-order bytes into C order.
inline std::vector<std::byte> fortran_to_c(const std::vector<std::byte>& src,
                                           const std::vector<index_t>& shape, std::size_t item) {
    std::vector<std::byte> dst(src.size());
    const std::size_t r = shape.size();
    index_t n = 1;
    for (index_t e : shape)
        n *= e;
    std::vector<index_t> idx(r, 0);
    for (index_t c = 0; c < n; ++c) {
        index_t f = 0, mul = 1;
        for (std::size_t d = 0; d < r; ++d) {
            f += idx[d] * mul;
            mul *= shape[d];
        }
        std::memcpy(dst.data() + static_cast<std::size_t>(c) * item,
                    src.data() + static_cast<std::size_t>(f) * item, item);
        for (std::size_t d = r; d-- > 0;) {
            if (++idx[d] < shape[d])
                break;
            idx[d] = 0;
        }
    }
    return dst;
}

} // namespace detail

/// Reads a `.npy` file.
/// @throws detseg::io_error when the file cannot be read or is not a supported `.npy`.
[[nodiscard]] inline npy_array load_npy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw io_error("detseg::load_npy: cannot open '" + path + "'");
    char magic[8];
    in.read(magic, 8);
    if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0)
        throw io_error("detseg::load_npy: '" + path + "' is not a .npy file");
    const int major = static_cast<unsigned char>(magic[6]);
    std::size_t hlen = 0;
    unsigned char lb[4] = {0, 0, 0, 0};
    in.read(reinterpret_cast<char*>(lb), major == 1 ? 2 : 4);
    hlen = major == 1 ? lb[0] | (std::size_t(lb[1]) << 8)
                      : lb[0] | (std::size_t(lb[1]) << 8) | (std::size_t(lb[2]) << 16) |
                            (std::size_t(lb[3]) << 24);
    std::string header(hlen, '\0');
    in.read(header.data(), static_cast<std::streamsize>(hlen));
    if (!in)
        throw io_error("detseg::load_npy: truncated header in '" + path + "'");

    npy_array a;
    const std::string descr = detail::npy_header_value(header, "descr");
    // 'descr' is a quoted byte order, kind and size, e.g. '<f4'.
    const bool descr_ok =
        descr.size() == 5 && descr.front() == '\'' && descr.back() == '\'' &&
        (descr[1] == '<' || descr[1] == '>' || descr[1] == '|' || descr[1] == '=') &&
        descr[3] >= '1' && descr[3] <= '8';
    if (!descr_ok)
        throw io_error("detseg::load_npy: unsupported dtype " + descr + " in '" + path + "'");
    const char order = descr[1];
    a.kind = descr[2];
    a.itemsize = static_cast<std::size_t>(descr[3] - '0');
    const bool ok_kind =
        (a.kind == 'f' && (a.itemsize == 4 || a.itemsize == 8)) ||
        ((a.kind == 'i' || a.kind == 'u') &&
         (a.itemsize == 1 || a.itemsize == 2 || a.itemsize == 4 || a.itemsize == 8)) ||
        (a.kind == 'b' && a.itemsize == 1);
    if (!ok_kind)
        throw io_error("detseg::load_npy: unsupported dtype " + descr + " in '" + path + "'");
    const bool fortran = detail::npy_header_value(header, "fortran_order") == "True";
    const std::string shape = detail::npy_header_value(header, "shape");
    if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')')
        throw io_error("detseg::load_npy: malformed shape " + shape + " in '" + path + "'");
    for (std::size_t p = 1; p + 1 < shape.size();) {
        while (p + 1 < shape.size() && (shape[p] == ' ' || shape[p] == ','))
            ++p;
        if (p + 1 >= shape.size())
            break;
        index_t e = 0;
        const auto r = std::from_chars(shape.data() + p, shape.data() + shape.size() - 1, e);
        if (r.ec != std::errc() || r.ptr == shape.data() + p || e < 0)
            throw io_error("detseg::load_npy: malformed shape " + shape + " in '" + path + "'");
        a.shape.push_back(e);
        p = static_cast<std::size_t>(r.ptr - shape.data());
    }
    // The file must hold the data the header announces before anything is allocated.
    const auto data_begin = in.tellg();
    in.seekg(0, std::ios::end);
    const auto available = static_cast<std::uintmax_t>(in.tellg() - data_begin);
    in.seekg(data_begin);
    std::uintmax_t need = a.itemsize;
    for (index_t e : a.shape) {
        if (e != 0 && need > available / static_cast<std::uintmax_t>(e))
            need = available + 1;
        else
            need *= static_cast<std::uintmax_t>(e);
    }
    if (need > available)
        throw io_error("detseg::load_npy: truncated data in '" + path + "'");
    a.bytes.resize(static_cast<std::size_t>(a.size()) * a.itemsize);
    in.read(reinterpret_cast<char*>(a.bytes.data()), static_cast<std::streamsize>(a.bytes.size()));
    if (!in)
        throw io_error("detseg::load_npy: truncated data in '" + path + "'");
    const bool big = order == '>';
    const bool native_big = std::endian::native == std::endian::big;
    if (a.itemsize > 1 && big != native_big)
        detail::byteswap_items(a.bytes, a.itemsize);
    if (fortran && a.shape.size() > 1)
        a.bytes = detail::fortran_to_c(a.bytes, a.shape, a.itemsize);
    return a;
}

/// Writes any viewable array of numbers (any strides; not a `field_view`) as a C-order,
/// native-endian `.npy` file. Rank-dynamic sources: `save_npy(path, as_view<R>(src))`.
/// @throws detseg::io_error when the file cannot be written.
template <viewable Src>
    requires is_strided_view_v<decltype(as_view(std::declval<Src&>()))>
void save_npy(const std::string& path, Src&& src) {
    const auto v = as_view(std::forward<Src>(src));
    static_assert(!std::is_same_v<typename decltype(v)::value_type, bool>,
                  "detseg: save bool arrays as std::uint8_t");
    using T = typename decltype(v)::value_type;
    constexpr std::size_t R = decltype(v)::rank();
    std::string shape = "(";
    for (std::size_t r = 0; r < R; ++r)
        shape += std::to_string(v.extent(r)) + (R == 1 ? "," : r + 1 < R ? ", " : "");
    shape += ")";
    const char endian =
        sizeof(T) == 1 ? '|' : (std::endian::native == std::endian::little ? '<' : '>');
    std::string header = detail::concat("{'descr': '", endian, npy_kind<T>(), sizeof(T),
                                        "', 'fortran_order': False, 'shape': ", shape, ", }");
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    std::ofstream out(path, std::ios::binary);
    if (!out)
        throw io_error("detseg::save_npy: cannot open '" + path + "'");
    const unsigned char pre[10] = {0x93,
                                   'N',
                                   'U',
                                   'M',
                                   'P',
                                   'Y',
                                   1,
                                   0,
                                   static_cast<unsigned char>(header.size() & 0xff),
                                   static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char*>(pre), 10);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::array<index_t, R> idx{};
    const index_t n = v.size();
    for (index_t c = 0; c < n; ++c) {
        index_t off = 0;
        for (std::size_t r = 0; r < R; ++r)
            off += idx[r] * v.stride(r);
        const T x = v.data_handle()[off];
        out.write(reinterpret_cast<const char*>(&x), sizeof(T));
        for (std::size_t r = R; r-- > 0;) {
            if (++idx[r] < v.extent(r))
                break;
            idx[r] = 0;
        }
    }
    if (!out)
        throw io_error("detseg::save_npy: failed writing '" + path + "'");
}

} // namespace detseg

#endif // DETSEG_IO_NPY_HPP
