#ifndef DETSEG_TESTS_SUPPORT_DENSE_FIXTURES_HPP
#define DETSEG_TESTS_SUPPORT_DENSE_FIXTURES_HPP

// Inputs and reference outputs of the dense-op fixtures (tests/data/dense/ops/, written by
// tests/reference/gen_dense_ops_fixtures.py), and N×C×H×W maps stored in several layouts.

#include "support/fixtures.hpp"

#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace testing {

/// Output `i` of the splitmix64 stream keyed by `seed`, as `splitmix` in
/// gen_dense_ops_fixtures.py.
inline std::uint64_t splitmix(std::uint64_t seed, std::uint64_t i) {
    std::uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// The script's `values(seed, ·)` in double: (u - 0.5)·4 with u the top 53 bits of
/// splitmix(seed, e) / 2^53, for e = 0..n-1; with `specials`, the script's `with_specials`
/// (element e is -0.0 if e % 7 == 3, NaN if e % 11 == 5, -inf if e % 13 == 6, +inf if e % 17 == 8).
inline std::vector<double> fixture_stream(std::uint64_t seed, detseg::index_t n,
                                          bool specials = false) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (std::uint64_t e = 0; e < static_cast<std::uint64_t>(n); ++e) {
        double d = (static_cast<double>(splitmix(seed, e) >> 11) * 0x1p-53 - 0.5) * 4.0;
        if (specials) {
            if (e % 7 == 3)
                d = -0.0;
            if (e % 11 == 5)
                d = std::numeric_limits<double>::quiet_NaN();
            if (e % 13 == 6)
                d = -std::numeric_limits<double>::infinity();
            if (e % 17 == 8)
                d = std::numeric_limits<double>::infinity();
        }
        v[e] = d;
    }
    return v;
}

/// `fixture_stream` rounded once to T: the input of a case as the script feeds it to PyTorch.
template <class T>
std::vector<T> fixture_values(std::uint64_t seed, detseg::index_t n, bool specials = false) {
    const auto d = fixture_stream(seed, n, specials);
    std::vector<T> v(d.size());
    for (std::size_t e = 0; e < d.size(); ++e)
        v[e] = static_cast<T>(d[e]);
    return v;
}

/// Value `i` of the counter-based generator of tests/reference/gen_conv2d_fixtures.py
/// (`counter_values`, also used by gen_aspp_fixtures.py), bit for bit: a multiple of 2^-19 in
/// [-1, 1), exact in float.
inline double counter_value(std::uint64_t seed, detseg::index_t i) {
    std::uint64_t z =
        seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(i + 1) * 0xD1B54A32D192ED03ull;
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    const auto u = static_cast<std::int64_t>(z >> 44) - (std::int64_t{1} << 19);
    return static_cast<double>(u) / double(1 << 19);
}

/// Values 0..n-1 of `counter_value(seed, ·)`.
inline std::vector<double> counter_values(std::uint64_t seed, detseg::index_t n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (detseg::index_t i = 0; i < n; ++i)
        v[static_cast<std::size_t>(i)] = counter_value(seed, i);
    return v;
}

/// The non-empty lines of the text file tests/data/<rel> (a fixture set's list of case names).
inline std::vector<std::string> fixture_case_names(const std::string& rel) {
    std::ifstream f(data_path(rel));
    std::vector<std::string> names;
    for (std::string s; std::getline(f, s);)
        if (!s.empty())
            names.push_back(s);
    return names;
}

/// tests/data/dense/ops/<op>_<f32|f64>.npy (f32 for T = float): the reference outputs of every
/// case of `op`, concatenated and flattened.
template <class T>
std::vector<T> dense_ops_outputs(const std::string& op) {
    const char* tag = sizeof(T) == 4 ? "f32" : "f64";
    const auto t = detseg::load_npy(data_path("dense/ops/" + op + "_" + tag + ".npy")).as<T, 1>();
    return {t.flat().begin(), t.flat().end()};
}

/// tests/data/dense/ops/<op>_cases.npy: one row of parameters (seed first) per case of `op`.
inline detseg::tensor<double, 2> dense_ops_cases(const std::string& op) {
    return detseg::load_npy(data_path("dense/ops/" + op + "_cases.npy")).as<double, 2>();
}

/// How a `stored_map` lays out its buffer: NCHW, NHWC (channels last), or rows padded by 3
/// with the width reversed and every other element used.
enum class map_layout { nchw, nhwc, padded_reversed };
inline constexpr map_layout all_layouts[] = {map_layout::nchw, map_layout::nhwc,
                                             map_layout::padded_reversed};

inline const char* layout_name(map_layout l) {
    return l == map_layout::nchw ? "nchw" : l == map_layout::nhwc ? "nhwc" : "padded_reversed";
}

/// Row-major N×C×H×W values `v` copied into a buffer of the given layout and viewed as
/// N×C×H×W through strides (unused elements of the padded layout hold -777). Moving keeps the
/// view valid; copying does not.
template <class T>
struct stored_map {
    std::vector<T> buffer;
    detseg::strided_view<T, 4> view;

    stored_map(const std::vector<T>& v, std::array<detseg::index_t, 4> e, map_layout layout) {
        using detseg::index_t;
        const index_t n = e[0], c = e[1], h = e[2], w = e[3];
        std::array<index_t, 4> s{c * h * w, h * w, w, 1};
        index_t offset = 0;
        index_t size = n * c * h * w;
        if (layout == map_layout::nhwc)
            s = {h * w * c, 1, w * c, c};
        if (layout == map_layout::padded_reversed) {
            const index_t row = (w + 3) * 2;
            s = {c * h * row, h * row, row, -2};
            offset = 2 * (w - 1);
            size = n * c * h * row + 2 * w;
        }
        buffer.assign(static_cast<std::size_t>(size), T(-777));
        view = detseg::strided_view<T, 4>(buffer.data() + offset, e, s);
        std::size_t k = 0;
        for (index_t a = 0; a < n; ++a)
            for (index_t b = 0; b < c; ++b)
                for (index_t y = 0; y < h; ++y)
                    for (index_t x = 0; x < w; ++x)
                        view(a, b, y, x) = v[k++];
    }
};

/// Same number and same sign of zero, or both NaN.
template <class A, class B>
bool same_value(A a, B b) {
    if (std::isnan(a) || std::isnan(b))
        return std::isnan(a) && std::isnan(b);
    return static_cast<double>(a) == static_cast<double>(b) && std::signbit(a) == std::signbit(b);
}

} // namespace testing

#endif
