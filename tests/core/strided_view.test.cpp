#include <detseg/core/strided_view.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>

#include <array>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

using detseg::index_t;
using detseg::strided_view;
using testing::expect_invalid;

namespace {

template <class T>
std::vector<T> iota_buffer(std::size_t n) {
    std::vector<T> v(n);
    std::iota(v.begin(), v.end(), T(0));
    return v;
}

template <class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const detseg::invalid_argument& e) {
        return e.what();
    }
    return "no exception";
}

constexpr float constant_data[6] = {1, 2, 3, 4, 5, 6};
constexpr strided_view<const float, 2> constant_view(constant_data, {2, 3});
static_assert(constant_view(1, 2) == 6.0f);
static_assert(constant_view.size() == 6);
static_assert(constant_view.is_contiguous());

static_assert(std::is_same_v<strided_view<const float, 2>::value_type, float>);
static_assert(std::is_same_v<strided_view<const float, 2>::element_type, const float>);
static_assert(strided_view<double, 3>::rank() == 3);
static_assert(std::is_convertible_v<strided_view<float, 2>, strided_view<const float, 2>>);
static_assert(!std::is_convertible_v<strided_view<const float, 2>, strided_view<float, 2>>);
static_assert(!std::is_convertible_v<strided_view<float, 2>, strided_view<double, 2>>);
static_assert(!std::is_convertible_v<strided_view<float, 2>, strided_view<const float, 3>>);

} // namespace

TEST_CASE_TEMPLATE("a default strided_view is empty", T, float, double) {
    const strided_view<T, 2> v;
    CHECK(v.data_handle() == nullptr);
    CHECK(v.extent(0) == 0);
    CHECK(v.extent(1) == 0);
    CHECK(v.size() == 0);
    CHECK(v.empty());
}

TEST_CASE_TEMPLATE("row-major default strides, extents and size", T, float, double) {
    auto buf = iota_buffer<T>(24);
    const strided_view<T, 3> v(buf.data(), {2, 3, 4});
    CHECK(v.rank() == 3);
    CHECK(v.data_handle() == buf.data());
    CHECK(v.extent(0) == 2);
    CHECK(v.extent(1) == 3);
    CHECK(v.extent(2) == 4);
    CHECK(v.stride(0) == 12);
    CHECK(v.stride(1) == 4);
    CHECK(v.stride(2) == 1);
    CHECK(v.extents() == std::array<index_t, 3>{2, 3, 4});
    CHECK(v.strides() == std::array<index_t, 3>{12, 4, 1});
    CHECK(v.size() == 24);
    CHECK_FALSE(v.empty());
    CHECK(v.is_contiguous());
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            for (index_t k = 0; k < 4; ++k)
                CHECK(v(i, j, k) == T(i * 12 + j * 4 + k));
    CHECK(strided_view<T, 3>::row_major_strides({5, 0, 7}) == std::array<index_t, 3>{0, 7, 1});
}

TEST_CASE_TEMPLATE("any zero extent makes a view empty", T, float, double) {
    auto buf = iota_buffer<T>(4);
    const strided_view<T, 2> a(buf.data(), {0, 4});
    const strided_view<T, 2> b(buf.data(), {4, 0});
    CHECK(a.size() == 0);
    CHECK(a.empty());
    CHECK(b.size() == 0);
    CHECK(b.empty());
}

TEST_CASE_TEMPLATE("explicit strides address data[sum of index times stride]", T, float, double) {
    auto buf = iota_buffer<T>(40);
    const strided_view<T, 2> col_major(buf.data(), {3, 4}, {1, 3});
    CHECK(col_major.stride(0) == 1);
    CHECK(col_major.stride(1) == 3);
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 4; ++j)
            CHECK(col_major(i, j) == T(i + 3 * j));

    const strided_view<T, 2> padded(buf.data() + 1, {3, 4}, {10, 2});
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 4; ++j)
            CHECK(padded(i, j) == T(1 + 10 * i + 2 * j));

    const strided_view<T, 2> reversed(buf.data() + 11, {3, 4}, {-4, -1});
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 4; ++j)
            CHECK(reversed(i, j) == T(11 - 4 * i - j));

    const strided_view<T, 2> broadcast(buf.data() + 5, {3, 4}, {0, 1});
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 4; ++j)
            CHECK(broadcast(i, j) == T(5 + j));
}

TEST_CASE_TEMPLATE("is_contiguous", T, float, double) {
    T buf[64] = {};
    CHECK(strided_view<T, 2>(buf, {3, 4}).is_contiguous());
    CHECK(strided_view<T, 2>(buf, {3, 4}, {4, 1}).is_contiguous());
    CHECK_FALSE(strided_view<T, 2>(buf, {3, 4}, {1, 3}).is_contiguous());
    CHECK_FALSE(strided_view<T, 2>(buf, {3, 4}, {5, 1}).is_contiguous());
    CHECK_FALSE(strided_view<T, 2>(buf, {3, 4}, {8, 2}).is_contiguous());
    CHECK_FALSE(strided_view<T, 2>(buf, {3, 4}, {0, 1}).is_contiguous());
    CHECK_FALSE(strided_view<T, 2>(buf + 11, {3, 4}, {-4, -1}).is_contiguous());
    CHECK_FALSE(strided_view<T, 1>(buf, {5}, {2}).is_contiguous());
    CHECK(strided_view<T, 1>(buf, {5}, {1}).is_contiguous());

    CHECK(strided_view<T, 2>(buf, {1, 4}, {99, 1}).is_contiguous());
    CHECK(strided_view<T, 2>(buf, {4, 1}, {1, 7}).is_contiguous());
    CHECK(strided_view<T, 2>(buf, {4, 1}, {1, 0}).is_contiguous());
    CHECK(strided_view<T, 2>(buf, {1, 1}, {-3, 17}).is_contiguous());
    CHECK(strided_view<T, 1>(buf, {1}, {42}).is_contiguous());
    CHECK(strided_view<T, 3>(buf, {2, 1, 3}, {3, 1000, 1}).is_contiguous());
    CHECK_FALSE(strided_view<T, 3>(buf, {2, 1, 3}, {4, 1000, 1}).is_contiguous());
    CHECK_FALSE(strided_view<T, 2>(buf, {4, 1}, {2, 1}).is_contiguous());
}

TEST_CASE_TEMPLATE("operator() and operator[] return writable references", T, float, double) {
    auto buf = iota_buffer<T>(12);
    const strided_view<T, 2> v(buf.data(), {3, 4});
    v(1, 2) = T(-1);
    CHECK(buf[6] == T(-1));
    CHECK(&v(2, 3) == &buf[11]);
    static_assert(std::is_same_v<decltype(v(0, 0)), T&>);

    const strided_view<T, 1> every_other(buf.data(), {6}, {2});
    CHECK(every_other.size() == 6);
    for (index_t i = 0; i < 6; ++i)
        CHECK(&every_other[i] == &buf[static_cast<std::size_t>(2 * i)]);
    every_other[5] = T(100);
    CHECK(buf[10] == T(100));
    CHECK(every_other(5) == T(100));
    static_assert(std::is_same_v<decltype(every_other[0]), T&>);

    const strided_view<const T, 1> ro(buf.data(), {12});
    static_assert(std::is_same_v<decltype(ro[0]), const T&>);
    CHECK(ro[6] == T(-1));
}

TEST_CASE_TEMPLATE("row_data points at the first element of a row", T, float, double) {
    auto buf = iota_buffer<T>(30);
    const strided_view<T, 2> v(buf.data(), {3, 4});
    for (index_t i = 0; i < 3; ++i)
        CHECK(v.row_data(i) == buf.data() + 4 * i);
    const strided_view<T, 2> padded(buf.data() + 2, {3, 4}, {9, 1});
    for (index_t i = 0; i < 3; ++i) {
        CHECK(padded.row_data(i) == buf.data() + 2 + 9 * i);
        CHECK(padded.row_data(i)[3] == padded(i, 3));
    }
    const strided_view<T, 3> cube(buf.data(), {2, 3, 5});
    CHECK(cube.row_data(1) == buf.data() + 15);
}

TEST_CASE_TEMPLATE("a writable view converts to a read-only one", T, float, double) {
    auto buf = iota_buffer<T>(20);
    const strided_view<T, 2> w(buf.data() + 1, {3, 2}, {5, 2});
    const strided_view<const T, 2> r = w;
    CHECK(r.data_handle() == w.data_handle());
    CHECK(r.extents() == w.extents());
    CHECK(r.strides() == w.strides());
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 2; ++j)
            CHECK(&r(i, j) == &w(i, j));
}

TEST_CASE_TEMPLATE("make_view from braced extents and strides", T, float, double) {
    auto buf = iota_buffer<T>(12);
    auto v = detseg::make_view(buf.data(), {3, 4});
    static_assert(std::is_same_v<decltype(v), strided_view<T, 2>>);
    CHECK(v.extents() == std::array<index_t, 2>{3, 4});
    CHECK(v.strides() == std::array<index_t, 2>{4, 1});
    CHECK(v(2, 1) == T(9));

    auto t = detseg::make_view(buf.data(), {4, 3}, {1, 4});
    CHECK(t.strides() == std::array<index_t, 2>{1, 4});
    for (index_t i = 0; i < 4; ++i)
        for (index_t j = 0; j < 3; ++j)
            CHECK(t(i, j) == v(j, i));

    const std::vector<T>& cbuf = buf;
    auto c = detseg::make_view(cbuf.data(), {12});
    static_assert(std::is_same_v<decltype(c), strided_view<const T, 1>>);
    CHECK(c[11] == T(11));
}

TEST_CASE_TEMPLATE("make_view from std::array extents and strides", T, float, double) {
    auto buf = iota_buffer<T>(24);
    const std::array<index_t, 3> e{2, 3, 4};
    auto v = detseg::make_view(buf.data(), e);
    static_assert(std::is_same_v<decltype(v), strided_view<T, 3>>);
    CHECK(v.extents() == e);
    CHECK(v.strides() == std::array<index_t, 3>{12, 4, 1});
    auto s =
        detseg::make_view(buf.data(), std::array<index_t, 2>{3, 2}, std::array<index_t, 2>{8, 3});
    CHECK(s.strides() == std::array<index_t, 2>{8, 3});
    CHECK(s(2, 1) == T(19));
}

TEST_CASE("make_view rejects a negative extent") {
    float buf[8] = {};
    expect_invalid([&] { (void)detseg::make_view(buf, {-1, 4}); }, "make_view", "extents");
    expect_invalid([&] { (void)detseg::make_view(buf, {2, -4}); }, "make_view", "extents");
    expect_invalid([&] { (void)detseg::make_view(buf, {2, -4}, {4, 1}); }, "make_view", "extents");
    expect_invalid([&] { (void)detseg::make_view(buf, std::array<index_t, 1>{-3}); }, "make_view",
                   "extents");
    expect_invalid(
        [&] {
            (void)detseg::make_view(buf, std::array<index_t, 2>{1, -1},
                                    std::array<index_t, 2>{1, 1});
        },
        "make_view", "extents");
    expect_invalid(
        [&] {
            (void)detseg::make_view(static_cast<float*>(nullptr), {0, -1});
        },
        "make_view", "extents");
    CHECK(message_of([&] {
              (void)detseg::make_view(buf, {2, -4});
          }) == "detseg::make_view: argument 'extents': extent 1 is negative (-4)");
    CHECK(message_of([&] { (void)detseg::make_view(static_cast<float*>(nullptr), {2}); }) ==
          "detseg::make_view: argument 'data': null pointer for a non-empty view");
}

TEST_CASE("make_view rejects a null pointer for a non-empty view") {
    const double* null = nullptr;
    expect_invalid([&] { (void)detseg::make_view(null, {2, 4}); }, "make_view", "data");
    expect_invalid([&] { (void)detseg::make_view(null, {1}); }, "make_view", "data");
    expect_invalid([&] { (void)detseg::make_view(null, {2, 4}, {1, 2}); }, "make_view", "data");
    expect_invalid(
        [&] {
            (void)detseg::make_view(null, std::array<index_t, 2>{1, 1});
        },
        "make_view", "data");
    expect_invalid(
        [&] {
            (void)detseg::make_view(null, std::array<index_t, 1>{3}, std::array<index_t, 1>{1});
        },
        "make_view", "data");
}

TEST_CASE("make_view accepts a null pointer when an extent is zero") {
    float* null = nullptr;
    auto a = detseg::make_view(null, {0, 4});
    CHECK(a.empty());
    CHECK(a.extent(0) == 0);
    CHECK(a.extent(1) == 4);
    auto b = detseg::make_view(null, {5, 0}, {0, 1});
    CHECK(b.empty());
    auto c = detseg::make_view(null, std::array<index_t, 1>{0});
    CHECK(c.size() == 0);
    auto d =
        detseg::make_view(null, std::array<index_t, 3>{2, 0, 3}, std::array<index_t, 3>{0, 3, 1});
    CHECK(d.empty());
}
