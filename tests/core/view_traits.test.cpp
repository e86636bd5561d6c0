#include <detseg/box/iou.hpp>
#include <detseg/core/field_view.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using detseg::index_t;
using detseg::strided_view;
using testing::expect_invalid;

namespace user {

// A column-major matrix with its own storage, as a user's library might define it.
template <class T>
struct matrix {
    index_t rows = 0, cols = 0;
    std::vector<T> values;

    matrix(index_t r, index_t c) : rows(r), cols(c), values(static_cast<std::size_t>(r * c)) {}
    T& at(index_t i, index_t j) { return values[static_cast<std::size_t>(i + j * rows)]; }
    const T& at(index_t i, index_t j) const {
        return values[static_cast<std::size_t>(i + j * rows)];
    }
};

} // namespace user

template <class T>
struct detseg::view_traits<user::matrix<T>> {
    static strided_view<T, 2> view(user::matrix<T>& m) {
        return {m.values.data(), {m.rows, m.cols}, {1, m.rows}};
    }
    static strided_view<const T, 2> view(const user::matrix<T>& m) {
        return {m.values.data(), {m.rows, m.cols}, {1, m.rows}};
    }
};

namespace {

static_assert(detseg::viewable<user::matrix<float>>);
static_assert(detseg::viewable<const user::matrix<double>>);
static_assert(detseg::viewable_as<user::matrix<float>, 2>);
static_assert(detseg::view_rank_v<user::matrix<float>> == 2);
static_assert(std::is_same_v<detseg::view_value_t<const user::matrix<double>>, double>);

template <class V, class E, std::size_t R>
inline constexpr bool is_view_of = std::is_same_v<V, strided_view<E, R>>;

template <class T>
user::matrix<T> boxes_matrix(const std::vector<std::array<T, 4>>& boxes) {
    user::matrix<T> m(static_cast<index_t>(boxes.size()), 4);
    for (index_t i = 0; i < m.rows; ++i)
        for (index_t k = 0; k < 4; ++k)
            m.at(i, k) = boxes[static_cast<std::size_t>(i)][static_cast<std::size_t>(k)];
    return m;
}

template <class T>
std::vector<T> flat(const std::vector<std::array<T, 4>>& boxes) {
    std::vector<T> out;
    for (const auto& b : boxes)
        out.insert(out.end(), b.begin(), b.end());
    return out;
}

} // namespace

TEST_CASE_TEMPLATE("as_view returns a strided_view unchanged", T, float, double) {
    std::vector<T> buf(20);
    const strided_view<T, 2> v(buf.data() + 1, {3, 4}, {5, 1});
    auto w = detseg::as_view(v);
    static_assert(is_view_of<decltype(w), T, 2>);
    CHECK(w.data_handle() == v.data_handle());
    CHECK(w.extents() == v.extents());
    CHECK(w.strides() == v.strides());

    const strided_view<const T, 3> c(buf.data(), {2, 2, 5});
    auto cw = detseg::as_view(c);
    static_assert(is_view_of<decltype(cw), const T, 3>);
    CHECK(cw.data_handle() == buf.data());
    auto rv = detseg::as_view(strided_view<T, 1>(buf.data(), {4}, {3}));
    CHECK(rv.stride(0) == 3);
}

TEST_CASE("as_view of a field_view is the field_view") {
    struct det {
        float x1, y1, x2, y2;
        int label;
    };
    const std::vector<det> dets = {{1, 2, 3, 4, 0}, {5, 6, 7, 8, 1}};
    const auto fv = detseg::make_field_view(dets, &det::x1, &det::y1, &det::x2, &det::y2);
    auto v = detseg::as_view(fv);
    static_assert(std::is_same_v<decltype(v), std::remove_const_t<decltype(fv)>>);
    CHECK(v(1, 2) == 7.0f);
    CHECK(std::is_same_v<detseg::view_value_t<decltype(fv)>, float>);
}

TEST_CASE_TEMPLATE("as_view of a tensor goes through its view_traits", T, float, double, int,
                   std::uint8_t) {
    detseg::tensor<T, 3> t({2, 3, 4});
    auto v = detseg::as_view(t);
    static_assert(is_view_of<decltype(v), T, 3>);
    CHECK(v.data_handle() == t.data());
    CHECK(v.extents() == t.extents());
    v(1, 2, 3) = T(7);
    CHECK(t(1, 2, 3) == T(7));
    auto c = detseg::as_view(std::as_const(t));
    static_assert(is_view_of<decltype(c), const T, 3>);
    CHECK(c(1, 2, 3) == T(7));
}

TEST_CASE_TEMPLATE("as_view of contiguous ranges of numbers is rank 1", T, float, double,
                   std::int64_t) {
    std::vector<T> vec = {T(1), T(2), T(3)};
    auto v = detseg::as_view(vec);
    static_assert(is_view_of<decltype(v), T, 1>);
    CHECK(v.data_handle() == vec.data());
    CHECK(v.extent(0) == 3);
    CHECK(v.stride(0) == 1);
    v[0] = T(9);
    CHECK(vec[0] == T(9));

    const std::vector<T>& cvec = vec;
    auto cv = detseg::as_view(cvec);
    static_assert(is_view_of<decltype(cv), const T, 1>);
    CHECK(cv.data_handle() == vec.data());

    auto moved = detseg::as_view(std::as_const(vec));
    static_assert(is_view_of<decltype(moved), const T, 1>);

    const std::span<T> span(vec.data() + 1, 2);
    auto sv = detseg::as_view(span);
    static_assert(is_view_of<decltype(sv), T, 1>);
    CHECK(sv.data_handle() == vec.data() + 1);
    CHECK(sv.extent(0) == 2);

    auto csv = detseg::as_view(std::span<const T>(vec));
    static_assert(is_view_of<decltype(csv), const T, 1>);
    CHECK(csv.extent(0) == 3);

    std::array<T, 4> arr{T(4), T(3), T(2), T(1)};
    auto av = detseg::as_view(arr);
    static_assert(is_view_of<decltype(av), T, 1>);
    CHECK(av.data_handle() == arr.data());
    CHECK(av.extent(0) == 4);
    CHECK(av[3] == T(1));
    auto cav = detseg::as_view(std::as_const(arr));
    static_assert(is_view_of<decltype(cav), const T, 1>);

    T c_array[5] = {};
    auto ca = detseg::as_view(c_array);
    static_assert(is_view_of<decltype(ca), T, 1>);
    CHECK(ca.extent(0) == 5);

    std::vector<T> empty;
    auto ev = detseg::as_view(empty);
    CHECK(ev.empty());
}

TEST_CASE_TEMPLATE("as_view<1> accepts N x 1 and 1 x N rank-2 views", T, float, double) {
    std::vector<T> buf(12);
    for (std::size_t i = 0; i < buf.size(); ++i)
        buf[i] = T(i);

    const strided_view<T, 2> column(buf.data(), {4, 1}, {3, 1});
    auto c = detseg::as_view<1>(column);
    static_assert(is_view_of<decltype(c), T, 1>);
    CHECK(c.extent(0) == 4);
    CHECK(c.stride(0) == 3);
    for (index_t i = 0; i < 4; ++i)
        CHECK(&c[i] == &column(i, 0));

    const strided_view<const T, 2> row(buf.data() + 1, {1, 5}, {100, 2});
    auto r = detseg::as_view<1>(row);
    static_assert(is_view_of<decltype(r), const T, 1>);
    CHECK(r.extent(0) == 5);
    CHECK(r.stride(0) == 2);
    for (index_t j = 0; j < 5; ++j)
        CHECK(&r[j] == &row(0, j));

    const strided_view<T, 2> one(buf.data() + 7, {1, 1});
    auto o = detseg::as_view<1>(one);
    CHECK(o.extent(0) == 1);
    CHECK(o[0] == T(7));

    const strided_view<T, 2> none(buf.data(), {0, 1});
    CHECK(detseg::as_view<1>(none).extent(0) == 0);

    detseg::tensor<T, 2> t({3, 1}, T(2));
    CHECK(detseg::as_view<1>(t).extent(0) == 3);

    auto same = detseg::as_view<1>(buf);
    CHECK(same.extent(0) == 12);
    auto same2 = detseg::as_view<2>(column);
    static_assert(is_view_of<decltype(same2), T, 2>);
}

TEST_CASE("as_view<1> rejects a rank-2 view without a unit extent") {
    std::vector<float> buf(6);
    const auto m = detseg::make_view(buf.data(), {2, 3});
    expect_invalid([&] { (void)detseg::as_view<1>(m); }, "as_view", "source");
    const auto z = detseg::make_view(buf.data(), {0, 3});
    expect_invalid([&] { (void)detseg::as_view<1>(z); }, "as_view", "source");
    detseg::tensor<double, 2> t({2, 2});
    expect_invalid([&] { (void)detseg::as_view<1>(t); }, "as_view", "source");
    try {
        (void)detseg::as_view<1>(m);
        FAIL("no exception");
    } catch (const detseg::invalid_argument& e) {
        CHECK(std::string(e.what()) ==
              "detseg::as_view: argument 'source': expected a vector, got a 2x3 matrix");
    }
}

TEST_CASE("view_value_t and view_rank_v") {
    static_assert(std::is_same_v<detseg::view_value_t<std::vector<float>>, float>);
    static_assert(std::is_same_v<detseg::view_value_t<const std::vector<double>>, double>);
    static_assert(
        std::is_same_v<detseg::view_value_t<std::span<const std::int32_t>>, std::int32_t>);
    static_assert(std::is_same_v<detseg::view_value_t<std::array<std::uint8_t, 3>>, std::uint8_t>);
    static_assert(std::is_same_v<detseg::view_value_t<detseg::tensor<double, 3>>, double>);
    static_assert(std::is_same_v<detseg::view_value_t<strided_view<const float, 2>>, float>);
    static_assert(std::is_same_v<detseg::view_value_t<detseg::tensor<float, 2>, 1>, float>);
    static_assert(detseg::view_rank_v<std::vector<float>> == 1);
    static_assert(detseg::view_rank_v<detseg::tensor<float, 3>> == 3);
    static_assert(detseg::view_rank_v<strided_view<int, 4>> == 4);
    static_assert(detseg::view_rank_v<int> == 0);
    CHECK(detseg::view_rank_v<user::matrix<float>> == 2);
}

TEST_CASE_TEMPLATE("a user type adapted by one view_traits specialisation", T, float, double) {
    user::matrix<T> m(2, 3);
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            m.at(i, j) = T(10 * i + j);
    auto v = detseg::as_view(m);
    static_assert(is_view_of<decltype(v), T, 2>);
    CHECK(v.extent(0) == 2);
    CHECK(v.extent(1) == 3);
    CHECK_FALSE(v.is_contiguous());
    for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 3; ++j)
            CHECK(&v(i, j) == &m.at(i, j));
    auto c = detseg::as_view(std::as_const(m));
    static_assert(is_view_of<decltype(c), const T, 2>);

    user::matrix<T> col(3, 1);
    col.at(2, 0) = T(5);
    CHECK(detseg::as_view<1>(col)[2] == T(5));
    expect_invalid([&] { (void)detseg::as_view<1>(m); }, "as_view", "source");
}

TEST_CASE_TEMPLATE("pairwise_iou accepts a user-adapted type as input and output", T, float,
                   double) {
    const std::vector<std::array<T, 4>> a = {
        {T(0), T(0), T(10), T(10)}, {T(5), T(5), T(15), T(15)}, {T(20), T(20), T(21), T(22)}};
    const std::vector<std::array<T, 4>> b = {{T(0), T(0), T(10), T(10)},
                                             {T(0), T(5), T(10), T(15)}};
    const auto fa = flat(a), fb = flat(b);
    const auto expected = detseg::pairwise_iou(detseg::make_view(fa.data(), {3, 4}),
                                               detseg::make_view(fb.data(), {2, 4}));
    CHECK(expected(0, 0) == T(1));
    CHECK(expected(2, 1) == T(0));

    const auto ma = boxes_matrix(a);
    const auto mb = boxes_matrix(b);
    const auto got = detseg::pairwise_iou(ma, mb);
    CHECK(got == expected);

    user::matrix<T> out(3, 2);
    detseg::pairwise_iou(ma, mb, out);
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 2; ++j)
            CHECK(out.at(i, j) == expected(i, j));

    user::matrix<T> wrong(2, 3);
    expect_invalid([&] { detseg::pairwise_iou(ma, mb, wrong); }, "pairwise_iou", "out");
    user::matrix<T> five(3, 5);
    expect_invalid([&] { (void)detseg::pairwise_iou(five, mb); }, "pairwise_iou", "boxes1");
}
