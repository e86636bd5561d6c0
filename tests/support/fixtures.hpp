#ifndef DETSEG_TESTS_SUPPORT_FIXTURES_HPP
#define DETSEG_TESTS_SUPPORT_FIXTURES_HPP

// Loading reference fixtures (.npy files written by tests/reference/*.py).

#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/io/npy.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

namespace testing {

/// True in the sanitizer (Debug) build, where heavy parity cases run at a reduced size.
#if defined(DETSEG_TEST_SANITIZED) && DETSEG_TEST_SANITIZED
inline constexpr bool sanitized_build = true;
#else
inline constexpr bool sanitized_build = false;
#endif

inline std::string data_path(const std::string& rel) {
    return std::string(DETSEG_TEST_DATA_DIR) + "/" + rel;
}

/// tests/data/box/<set>_<f32|f64>_<name>.npy (f32 for Coord = float) as a tensor of T.
template <class Coord, std::size_t R, class T = Coord>
detseg::tensor<T, R> box_fixture(const std::string& set, const std::string& name) {
    static_assert(std::is_floating_point_v<Coord>);
    const char* tag = sizeof(Coord) == 4 ? "f32" : "f64";
    return detseg::load_npy(data_path("box/" + set + "_" + tag + "_" + name + ".npy")).as<T, R>();
}

/// How many elements of the 2-D `got` (anything `detseg::as_view` takes) differ from the 2-D
/// `ref`, compared as doubles (a NaN counts as different); -1 when the shapes differ.
template <class A, class B>
int count_different(const A& got_src, const B& ref) {
    const auto got = detseg::as_view(got_src);
    if (got.extent(0) != ref.extent(0) || got.extent(1) != ref.extent(1))
        return -1;
    int bad = 0;
    for (detseg::index_t i = 0; i < ref.extent(0); ++i)
        for (detseg::index_t k = 0; k < ref.extent(1); ++k)
            bad += !(static_cast<double>(got(i, k)) == static_cast<double>(ref(i, k)));
    return bad;
}

/// ULP distance between two finite floats of the same type (0 for +0 vs -0).
template <class T>
long long ulp_distance(T a, T b) {
    if (a == b)
        return 0;
    using I = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    I ia, ib;
    std::memcpy(&ia, &a, sizeof(T));
    std::memcpy(&ib, &b, sizeof(T));
    if (ia < 0)
        ia = std::numeric_limits<I>::min() - ia;
    if (ib < 0)
        ib = std::numeric_limits<I>::min() - ib;
    const long long d = static_cast<long long>(ia) - static_cast<long long>(ib);
    return d < 0 ? -d : d;
}

} // namespace testing

#endif
