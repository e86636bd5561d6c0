#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

using detseg::index_t;
using detseg::tensor;
using testing::expect_invalid;

TEST_CASE_TEMPLATE("a default tensor is empty", T, float, double, std::int64_t) {
    const tensor<T, 2> t;
    CHECK(t.rank() == 2);
    CHECK(t.extent(0) == 0);
    CHECK(t.extent(1) == 0);
    CHECK(t.size() == 0);
    CHECK(t.empty());
    CHECK(t.flat().empty());
}

TEST_CASE_TEMPLATE("construction value-initialises or fills", T, float, double, std::int64_t,
                   std::uint8_t) {
    const tensor<T, 3> zeros({2, 3, 4});
    CHECK(zeros.extents() == std::array<index_t, 3>{2, 3, 4});
    CHECK(zeros.extent(2) == 4);
    CHECK(zeros.size() == 24);
    CHECK_FALSE(zeros.empty());
    int nonzero = 0;
    for (T x : zeros.flat())
        nonzero += x != T(0);
    CHECK(nonzero == 0);

    const tensor<T, 2> sevens({3, 5}, T(7));
    CHECK(sevens.size() == 15);
    int wrong = 0;
    for (T x : sevens.flat())
        wrong += x != T(7);
    CHECK(wrong == 0);

    const tensor<T, 2> empty({0, 4}, T(1));
    CHECK(empty.size() == 0);
    CHECK(empty.empty());
    CHECK(empty.extent(1) == 4);
}

TEST_CASE_TEMPLATE("elements are stored row-major", T, float, double, std::int64_t) {
    tensor<T, 3> t({2, 3, 4});
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            for (index_t k = 0; k < 4; ++k)
                t(i, j, k) = T(100 * i + 10 * j + k);
    const auto flat = std::as_const(t).flat();
    static_assert(std::is_same_v<decltype(flat), const std::span<const T>>);
    REQUIRE(flat.size() == 24);
    CHECK(flat[0] == T(0));
    CHECK(flat[1] == T(1));
    CHECK(flat[4] == T(10));
    CHECK(flat[12] == T(100));
    CHECK(flat[23] == T(123));
    CHECK(t.data()[13] == T(101));
    CHECK(&t(1, 2, 3) == t.data() + 23);
    CHECK(std::as_const(t)(1, 0, 1) == T(101));
    static_assert(std::is_same_v<decltype(std::as_const(t)(0, 0, 0)), const T&>);
    static_assert(std::is_same_v<decltype(std::as_const(t).data()), const T*>);

    t.flat()[5] = T(-1);
    CHECK(t(0, 1, 1) == T(-1));
}

TEST_CASE_TEMPLATE("view and const view", T, float, double) {
    tensor<T, 2> t({3, 4});
    auto v = t.view();
    static_assert(std::is_same_v<decltype(v), detseg::strided_view<T, 2>>);
    CHECK(v.data_handle() == t.data());
    CHECK(v.extents() == t.extents());
    CHECK(v.strides() == std::array<index_t, 2>{4, 1});
    CHECK(v.is_contiguous());
    v(2, 1) = T(5);
    CHECK(t(2, 1) == T(5));

    auto c = std::as_const(t).view();
    static_assert(std::is_same_v<decltype(c), detseg::strided_view<const T, 2>>);
    CHECK(c(2, 1) == T(5));
}

TEST_CASE_TEMPLATE("resize changes extents and size", T, float, double) {
    tensor<T, 2> t({2, 2}, T(1));
    t.resize({3, 5});
    CHECK(t.extents() == std::array<index_t, 2>{3, 5});
    CHECK(t.size() == 15);
    CHECK(t.view().extent(1) == 5);
    t(2, 4) = T(3);
    CHECK(t.flat()[14] == T(3));
    t.resize({0, 7});
    CHECK(t.empty());
    CHECK(t.extent(1) == 7);
    t.resize({1, 1});
    CHECK(t.size() == 1);
}

TEST_CASE_TEMPLATE("equality compares extents and elements", T, float, double) {
    tensor<T, 2> a({2, 3}, T(1));
    tensor<T, 2> b({2, 3}, T(1));
    CHECK(a == b);
    b(1, 2) = T(2);
    CHECK_FALSE(a == b);
    CHECK(a != b);
    const tensor<T, 2> c({3, 2}, T(1));
    CHECK_FALSE(a == c);
    const tensor<T, 2> e1({0, 3}), e2({3, 0});
    CHECK_FALSE(e1 == e2);
    CHECK(e1 == tensor<T, 2>({0, 3}));
    tensor<T, 2> copy = a;
    CHECK(copy == a);
    copy(0, 0) = T(9);
    CHECK(a(0, 0) == T(1));
}

TEST_CASE("a negative extent is rejected") {
    expect_invalid([] { (void)tensor<float, 2>({-1, 3}); }, "tensor", "extents");
    expect_invalid([] { (void)tensor<double, 3>({2, 3, -4}, 1.0); }, "tensor", "extents");
    tensor<float, 2> t({2, 2});
    expect_invalid([&] { t.resize({2, -2}); }, "tensor", "extents");
}

TEST_CASE("a failed resize leaves the tensor as it was") {
    tensor<float, 2> t({2, 3}, 1.0f);
    CHECK_THROWS_AS(t.resize({4, -1}), detseg::invalid_argument);
    CHECK(t.extents() == std::array<index_t, 2>{2, 3});
    CHECK(t.size() == 6);
}

TEST_CASE_TEMPLATE("a tensor is viewable through as_view", T, float, double) {
    static_assert(detseg::viewable<tensor<T, 2>>);
    static_assert(detseg::viewable<const tensor<T, 2>>);
    static_assert(detseg::viewable_as<tensor<T, 3>, 3>);
    static_assert(!detseg::viewable_as<tensor<T, 3>, 2>);
    tensor<T, 2> t({2, 4}, T(3));
    auto v = detseg::as_view(t);
    static_assert(std::is_same_v<decltype(v), detseg::strided_view<T, 2>>);
    CHECK(v.data_handle() == t.data());
    CHECK(v.extent(0) == 2);
    CHECK(v.extent(1) == 4);
    auto c = detseg::as_view(std::as_const(t));
    static_assert(std::is_same_v<decltype(c), detseg::strided_view<const T, 2>>);
    CHECK(c(1, 3) == T(3));
}

TEST_CASE("moving a tensor keeps its storage") {
    tensor<double, 1> a({4}, 2.0);
    const double* p = a.data();
    tensor<double, 1> b = std::move(a);
    CHECK(b.data() == p);
    CHECK(b(3) == 2.0);
}
