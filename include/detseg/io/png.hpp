#ifndef DETSEG_IO_PNG_HPP
#define DETSEG_IO_PNG_HPP

/// @file
/// Reading and writing PNG label maps (semantic-segmentation ground truth and predictions) with
/// libpng: 1-, 2-, 4-, 8- or 16-bit grayscale, or palette images whose palette indices are the
/// labels; and reading colour images as 8-bit RGB (`load_png_rgb`). Needs libpng (link `detseg::png`); this header does not compile without it.
///
///     auto gt = detseg::load_png_labels<std::uint8_t>("gt/0001.png");      // H×W
///     auto pred = detseg::load_png_labels<std::uint8_t>("pred/0001.png");
///     cm.update(gt, pred);                                                // confusion_matrix
///     detseg::save_png_labels("out.png", pred);                           // 8-bit grayscale
///
/// Label maps are read as they are stored: no gamma, no scaling of low bit depths to 0-255,
/// no palette lookup, a `tRNS` chunk is ignored. Every problem throws `detseg::io_error` naming
/// the file and what is wrong (missing, not a PNG, truncated, RGB, bit depth, ...).

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <png.h>

#include <array>
#include <bit>
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// How the samples of a PNG label map are stored in the file.
enum class png_label_format {
    gray,    ///< grayscale: the gray level is the label
    palette, ///< indexed colour: the palette index is the label (the colours are not read)
};

/// A PNG label map as stored: 8-bit samples (`labels8`, for files of bit depth 1 to 8) or 16-bit
/// samples (`labels16`, bit depth 16); the other tensor is empty.
struct png_label_map {
    png_label_format format = png_label_format::gray;
    int bit_depth = 8;                 ///< the file's bit depth: 1, 2, 4, 8 or 16
    tensor<std::uint8_t, 2> labels8;   ///< H×W, when bit_depth <= 8
    tensor<std::uint16_t, 2> labels16; ///< H×W, when bit_depth == 16

    [[nodiscard]] index_t height() const noexcept {
        return bit_depth == 16 ? labels16.extent(0) : labels8.extent(0);
    }
    [[nodiscard]] index_t width() const noexcept {
        return bit_depth == 16 ? labels16.extent(1) : labels8.extent(1);
    }
};

/// Options of `save_png_labels`.
struct png_write_params {
    /// Write an 8-bit palette image (colour type 3) whose indices are the labels, with a fixed
    /// 256-entry palette, instead of grayscale. Only for 8-bit labels.
    bool palette = false;
};

namespace detail {

/// State shared by the libpng callbacks and the functions that call setjmp. Trivially
/// destructible: a longjmp out of libpng must not skip a destructor.
struct png_state {
    std::jmp_buf jump;
    char message[256] = {};
    const unsigned char* data = nullptr; // reading: the whole file in memory
    std::size_t size = 0;
    std::size_t pos = 0;
    png_structp png = nullptr;
    png_infop info = nullptr;
    // reading: the header, then the pixels into `pixels` (allocated by `allocate`)
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    unsigned char* (*allocate)(void* owner, std::size_t bytes) = nullptr;
    void* owner = nullptr;
    // writing
    std::FILE* file = nullptr;
    const unsigned char* rows = nullptr;
    std::size_t row_bytes = 0;
    bool palette = false;
};

[[noreturn]] inline void png_error_callback(png_structp png, png_const_charp msg) {
    auto* st = static_cast<png_state*>(png_get_error_ptr(png));
    std::snprintf(st->message, sizeof st->message, "%s", msg ? msg : "libpng error");
    std::longjmp(st->jump, 1);
}

inline void png_warning_callback(png_structp, png_const_charp) {} // warnings are not errors

inline void png_read_callback(png_structp png, png_bytep out, std::size_t length) {
    auto* st = static_cast<png_state*>(png_get_io_ptr(png));
    if (st->size - st->pos < length)
        png_error(png, "the file is truncated (unexpected end of file)");
    std::memcpy(out, st->data + st->pos, length);
    st->pos += length;
}

[[nodiscard]] inline const char* png_color_type_name(int color_type) noexcept {
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: return "grayscale";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "grayscale + alpha";
    default: return "unknown";
    }
}

// The common end of a read, after the transformations are set: checks that a row holds
// `bytes_per_pixel` bytes per pixel, allocates the pixels and reads every row (and pass).
inline bool png_read_rows(png_state* st, std::size_t bytes_per_pixel) {
    const int passes = png_set_interlace_handling(st->png);
    png_read_update_info(st->png, st->info);
    const std::size_t row_bytes = png_get_rowbytes(st->png, st->info);
    if (row_bytes != std::size_t{st->width} * bytes_per_pixel) {
        std::snprintf(st->message, sizeof st->message, "unexpected row size %zu bytes for width %u",
                      row_bytes, static_cast<unsigned>(st->width));
        return false;
    }
    unsigned char* pixels = st->allocate(st->owner, row_bytes * st->height);
    if (pixels == nullptr && row_bytes * st->height != 0) {
        std::snprintf(st->message, sizeof st->message, "out of memory for %ux%u pixels",
                      static_cast<unsigned>(st->width), static_cast<unsigned>(st->height));
        return false;
    }
    for (int pass = 0; pass < passes; ++pass)
        for (png_uint_32 y = 0; y < st->height; ++y)
            png_read_row(st->png, pixels + y * row_bytes, nullptr);
    png_read_end(st->png, nullptr);
    return true;
}

// The body of the read: may longjmp to `st->jump` (set by the caller) from any libpng call; only
// trivially destructible locals. Returns false with `st->message` set for a file that is a valid
// PNG but not a label map.
inline bool png_read_body(png_state* st) {
    png_set_sig_bytes(st->png, 8);
    png_read_info(st->png, st->info);
    png_get_IHDR(st->png, st->info, &st->width, &st->height, &st->bit_depth, &st->color_type,
                 &st->interlace, nullptr, nullptr);
    if (st->color_type != PNG_COLOR_TYPE_GRAY && st->color_type != PNG_COLOR_TYPE_PALETTE) {
        std::snprintf(st->message, sizeof st->message,
                      "colour type %s (%d channels), but a label map must be grayscale or palette "
                      "(one channel)",
                      png_color_type_name(st->color_type),
                      static_cast<int>(png_get_channels(st->png, st->info)));
        return false;
    }
    if (st->bit_depth != 1 && st->bit_depth != 2 && st->bit_depth != 4 && st->bit_depth != 8 &&
        st->bit_depth != 16) {
        std::snprintf(st->message, sizeof st->message, "unsupported bit depth %d", st->bit_depth);
        return false;
    }
    if (st->bit_depth < 8)
        png_set_packing(st->png); // one byte per sample, values unscaled
    if (st->bit_depth == 16 && std::endian::native == std::endian::little)
        png_set_swap(st->png);
    return png_read_rows(st, st->bit_depth == 16 ? 2 : 1);
}

// Calls png_read_body under setjmp; returns whether it succeeded (else `st->message`).
inline bool png_read_guarded(png_state* st) {
    if (setjmp(st->jump) != 0)
        return false;
    return png_read_body(st);
}

// The body of an image read as 8-bit RGB, converted as OpenCV's imread(IMREAD_COLOR) does:
// palette and low-bit-depth gray expanded, 16-bit samples cut to their high byte, alpha dropped
// (not composited), gray replicated into three channels. Same longjmp rules as png_read_body.
inline bool png_read_rgb_body(png_state* st) {
    png_set_sig_bytes(st->png, 8);
    png_read_info(st->png, st->info);
    png_get_IHDR(st->png, st->info, &st->width, &st->height, &st->bit_depth, &st->color_type,
                 &st->interlace, nullptr, nullptr);
    png_set_expand(st->png);
    png_set_strip_16(st->png);
    png_set_strip_alpha(st->png);
    png_set_gray_to_rgb(st->png);
    return png_read_rows(st, 3);
}

inline bool png_read_rgb_guarded(png_state* st) {
    if (setjmp(st->jump) != 0)
        return false;
    return png_read_rgb_body(st);
}

inline bool png_write_body(png_state* st) {
    png_init_io(st->png, st->file);
    png_set_IHDR(st->png, st->info, st->width, st->height, st->bit_depth,
                 st->palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (st->palette) {
        // A fixed, distinguishable palette (the colours carry no meaning; the indices do).
        ::png_color colours[256];
        for (int i = 0; i < 256; ++i) {
            colours[i].red = static_cast<png_byte>((i * 53 + 37) & 255);
            colours[i].green = static_cast<png_byte>((i * 101 + 71) & 255);
            colours[i].blue = static_cast<png_byte>((i * 197 + 13) & 255);
        }
        png_set_PLTE(st->png, st->info, colours, 256);
    }
    png_write_info(st->png, st->info);
    if (st->bit_depth == 16 && std::endian::native == std::endian::little)
        png_set_swap(st->png);
    for (png_uint_32 y = 0; y < st->height; ++y)
        png_write_row(st->png, st->rows + y * st->row_bytes);
    png_write_end(st->png, nullptr);
    return true;
}

inline bool png_write_guarded(png_state* st) {
    if (setjmp(st->jump) != 0)
        return false;
    return png_write_body(st);
}

[[noreturn]] inline void png_fail(const char* fn, const std::string& path, const char* what) {
    throw io_error(concat("detseg::", fn, ": '", path, "': ", what));
}

/// The whole file, or an io_error naming it.
[[nodiscard]] inline std::vector<unsigned char> png_read_file(const char* fn,
                                                              const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        png_fail(fn, path, "cannot read the file");
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    if (in.bad())
        png_fail(fn, path, "cannot read the file");
    return bytes;
}

struct png_pixels {
    std::vector<unsigned char> bytes;
};

inline unsigned char* png_allocate(void* owner, std::size_t n) {
    try {
        auto* p = static_cast<png_pixels*>(owner);
        p->bytes.resize(n);
        return p->bytes.data();
    } catch (const std::exception&) { // bad_alloc, length_error: reported as out of memory
        return nullptr;
    }
}

// Reads the file, checks the signature, runs `guarded` (png_read_guarded or
// png_read_rgb_guarded) with the pixels going to `pixels`, and throws io_error naming `fn` and
// the file on any failure. Returns the header fields (the libpng structures are destroyed).
inline png_state png_decode(const char* fn, const std::string& path, bool (*guarded)(png_state*),
                            png_pixels& pixels) {
    const std::vector<unsigned char> bytes = png_read_file(fn, path);
    if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
        png_fail(fn, path,
                 bytes.size() < 8 && png_sig_cmp(bytes.data(), 0, bytes.size()) == 0 &&
                         !bytes.empty()
                     ? "the file is truncated (shorter than the PNG signature)"
                     : "not a PNG file (bad signature)");

    png_state st;
    st.data = bytes.data();
    st.size = bytes.size();
    st.pos = 8;
    st.allocate = &png_allocate;
    st.owner = &pixels;
    st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, &png_error_callback,
                                    &png_warning_callback);
    if (st.png == nullptr)
        png_fail(fn, path, "cannot create libpng's read structure");
    st.info = png_create_info_struct(st.png);
    if (st.info == nullptr) {
        png_destroy_read_struct(&st.png, nullptr, nullptr);
        png_fail(fn, path, "cannot create libpng's info structure");
    }
    png_set_read_fn(st.png, &st, &png_read_callback);
    const bool ok = guarded(&st);
    png_destroy_read_struct(&st.png, &st.info, nullptr);
    if (!ok)
        png_fail(fn, path, st.message);
    st.png = nullptr;
    st.info = nullptr;
    st.data = nullptr;
    return st;
}

} // namespace detail

/// Reads a PNG label map as stored (see `png_label_map`).
///
/// @param path  a PNG file: grayscale of bit depth 1, 2, 4, 8 or 16 (the gray levels are the
///              labels, unscaled), or palette (the indices are the labels); interlaced or not.
/// @return the map: `labels8` (H×W) for bit depths up to 8, `labels16` for 16; 16-bit samples in
///         native byte order.
/// O(H·W) time and memory, plus the file's size.
/// @throws detseg::io_error (message "detseg::read_png_label_map: 'PATH': ...") if the file
///         cannot be read, is not a PNG (bad signature), is truncated or corrupt (libpng's
///         message), or is not a one-channel image (RGB, RGBA, grayscale + alpha).
[[nodiscard]] inline png_label_map read_png_label_map(const std::string& path) {
    constexpr const char* fn = "read_png_label_map";
    detail::png_pixels pixels;
    const detail::png_state st = detail::png_decode(fn, path, &detail::png_read_guarded, pixels);

    png_label_map map;
    map.format = st.color_type == PNG_COLOR_TYPE_PALETTE ? png_label_format::palette
                                                         : png_label_format::gray;
    map.bit_depth = st.bit_depth;
    const std::array<index_t, 2> ext{static_cast<index_t>(st.height),
                                     static_cast<index_t>(st.width)};
    if (st.bit_depth == 16) {
        map.labels16 = tensor<std::uint16_t, 2>(ext);
        if (!pixels.bytes.empty())
            std::memcpy(map.labels16.data(), pixels.bytes.data(), pixels.bytes.size());
    } else {
        map.labels8 = tensor<std::uint8_t, 2>(ext);
        if (!pixels.bytes.empty())
            std::memcpy(map.labels8.data(), pixels.bytes.data(), pixels.bytes.size());
    }
    return map;
}

/// Reads a PNG image as H×W×3 8-bit RGB, converted as OpenCV's `imread(path, IMREAD_COLOR)`
/// (then in RGB order): palette and 1/2/4-bit gray expanded to 8 bits, 16-bit samples cut to
/// their high byte, alpha dropped (not composited), gray replicated into the three channels; no
/// gamma correction. For the colour images of the dense CRF (`detseg crf`), for example.
/// O(H·W) time and memory, plus the file's size.
/// @throws detseg::io_error (message "detseg::load_png_rgb: 'PATH': ...") if the file cannot be
///         read, is not a PNG, or is truncated or corrupt (libpng's message).
[[nodiscard]] inline tensor<std::uint8_t, 3> load_png_rgb(const std::string& path) {
    detail::png_pixels pixels;
    const detail::png_state st =
        detail::png_decode("load_png_rgb", path, &detail::png_read_rgb_guarded, pixels);
    tensor<std::uint8_t, 3> img(
        {static_cast<index_t>(st.height), static_cast<index_t>(st.width), 3});
    if (!pixels.bytes.empty())
        std::memcpy(img.data(), pixels.bytes.data(), pixels.bytes.size());
    return img;
}

/// Reads a PNG label map into an H×W tensor of `T`.
///
/// @tparam T  an integer type (not bool) that holds every sample: any for files of bit depth up
///            to 8 whose values fit (std::uint8_t and wider), at least 16 bits unsigned range
///            for 16-bit files.
/// @param path  as for `read_png_label_map`.
/// O(H·W).
/// @throws detseg::io_error as `read_png_label_map` (function `load_png_labels`), and if the
///         file is 16-bit but `T` cannot hold 65535.
template <class T = std::uint8_t>
[[nodiscard]] tensor<T, 2> load_png_labels(const std::string& path) {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>,
                  "detseg::load_png_labels: T must be an integer type (not bool)");
    static_assert(std::numeric_limits<T>::max() >= 255,
                  "detseg::load_png_labels: T must hold 0..255");
    png_label_map map;
    try {
        map = read_png_label_map(path);
    } catch (const io_error& e) {
        std::string what = e.what();
        const std::string from = "detseg::read_png_label_map:";
        if (what.starts_with(from))
            what = detail::concat("detseg::load_png_labels:", what.substr(from.size()));
        throw io_error(what);
    }
    if constexpr (std::is_same_v<T, std::uint8_t>) {
        if (map.bit_depth <= 8)
            return std::move(map.labels8);
    } else if constexpr (std::is_same_v<T, std::uint16_t>) {
        if (map.bit_depth == 16)
            return std::move(map.labels16);
    }
    if (map.bit_depth == 16 && static_cast<std::uintmax_t>(std::numeric_limits<T>::max()) < 65535)
        detail::png_fail("load_png_labels", path,
                         "the file is 16-bit but the requested label type holds at most 255 "
                         "(read it as std::uint16_t)");
    tensor<T, 2> out({map.height(), map.width()});
    const index_t n = map.height() * map.width();
    if (map.bit_depth == 16)
        for (index_t k = 0; k < n; ++k)
            out.data()[k] = static_cast<T>(map.labels16.data()[k]);
    else
        for (index_t k = 0; k < n; ++k)
            out.data()[k] = static_cast<T>(map.labels8.data()[k]);
    return out;
}

/// Writes a label map as an 8-bit (std::uint8_t labels) or 16-bit (std::uint16_t labels)
/// grayscale PNG, or, with `params.palette`, an 8-bit palette PNG whose indices are the labels.
///
/// @param path    the file to create or overwrite.
/// @param labels  H×W labels of type std::uint8_t or std::uint16_t, any strides, through any
///                backend (`as_view`); H and W at least 1.
/// O(H·W).
/// @throws detseg::io_error (message "detseg::save_png_labels: 'PATH': ...") if the file cannot
///         be written or the map is empty, or `params.palette` with 16-bit labels.
template <class Labels>
void save_png_labels(const std::string& path, const Labels& labels,
                     const png_write_params& params = {}) {
    constexpr const char* fn = "save_png_labels";
    const auto v = detail::as_view_checked<2>(labels, fn, "labels");
    using T = std::remove_cv_t<typename std::remove_cvref_t<decltype(v)>::value_type>;
    static_assert(std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::uint16_t>,
                  "detseg::save_png_labels: labels must be std::uint8_t or std::uint16_t");
    const index_t h = v.extent(0), w = v.extent(1);
    if (h < 1 || w < 1)
        detail::png_fail(fn, path,
                         detail::concat("cannot write an empty map (", h, "x", w, ")").c_str());
    if (params.palette && sizeof(T) != 1)
        detail::png_fail(fn, path, "a palette image needs 8-bit labels");
    // Contiguous rows for libpng.
    std::vector<T> rows(static_cast<std::size_t>(h * w));
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x)
            rows[static_cast<std::size_t>(y * w + x)] = v(y, x);

    const auto close = [](std::FILE* f) { std::fclose(f); };
    std::unique_ptr<std::FILE, decltype(close)> file(std::fopen(path.c_str(), "wb"), close);
    if (!file)
        detail::png_fail(fn, path, "cannot open the file for writing");
    detail::png_state st;
    st.file = file.get();
    st.width = static_cast<png_uint_32>(w);
    st.height = static_cast<png_uint_32>(h);
    st.bit_depth = sizeof(T) == 2 ? 16 : 8;
    st.rows = reinterpret_cast<const unsigned char*>(rows.data());
    st.row_bytes = static_cast<std::size_t>(w) * sizeof(T);
    st.palette = params.palette;
    st.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &st, &detail::png_error_callback,
                                     &detail::png_warning_callback);
    if (st.png == nullptr)
        detail::png_fail(fn, path, "cannot create libpng's write structure");
    st.info = png_create_info_struct(st.png);
    if (st.info == nullptr) {
        png_destroy_write_struct(&st.png, nullptr);
        detail::png_fail(fn, path, "cannot create libpng's info structure");
    }
    const bool ok = detail::png_write_guarded(&st);
    png_destroy_write_struct(&st.png, &st.info);
    if (!ok)
        detail::png_fail(fn, path, st.message);
    if (std::fflush(file.get()) != 0 || std::ferror(file.get()) != 0)
        detail::png_fail(fn, path, "cannot write the file");
    if (std::fclose(file.release()) != 0)
        detail::png_fail(fn, path, "cannot write the file");
}

} // namespace detseg

#endif // DETSEG_IO_PNG_HPP
