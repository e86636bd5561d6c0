#include <detseg/backend/xtensor.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xfixed.hpp>
#include <xtensor/xstrided_view.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <array>
#include <cstddef>
#include <filesystem>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using detseg::index_t;
using detseg::strided_view;
using testing::expect_invalid;

namespace {

template <class V>
using element_t = typename V::element_type;

template <class X>
void fill2(X& x) {
    using T = typename X::value_type;
    for (std::size_t i = 0; i < x.shape()[0]; ++i)
        for (std::size_t j = 0; j < x.shape()[1]; ++j)
            x(i, j) = T(100 * i + j + 1);
}

/// Every element of the rank-2 view equals the xtensor expression's.
template <class V, class X>
void expect_same_2d(const V& v, const X& x) {
    static_assert(V::rank() == 2);
    REQUIRE(x.dimension() == 2);
    REQUIRE(v.extent(0) == index_t(x.shape()[0]));
    REQUIRE(v.extent(1) == index_t(x.shape()[1]));
    int wrong = 0;
    for (index_t i = 0; i < v.extent(0); ++i)
        for (index_t j = 0; j < v.extent(1); ++j)
            wrong += !(v(i, j) == x(static_cast<std::size_t>(i), static_cast<std::size_t>(j)));
    CHECK(wrong == 0);
}

template <class T>
std::vector<T> some_boxes(int n, int salt) {
    std::vector<T> out;
    for (int i = 0; i < n; ++i) {
        const T x = T((i * 31 + salt * 5) % 60), y = T((i * 47 + salt * 3) % 45);
        const T w = T(3 + (i * 17 + salt) % 22), h = T(6 + (i * 11 + salt) % 19);
        out.insert(out.end(), {x, y, x + w, y + h});
    }
    return out;
}

} // namespace

TEST_CASE_TEMPLATE("xt::xtensor of rank 2, both layouts", T, float, double) {
    xt::xtensor<T, 2> a = xt::zeros<T>({3, 5});
    fill2(a);
    auto v = detseg::as_view(a);
    static_assert(std::is_same_v<decltype(v), strided_view<T, 2>>);
    CHECK(v.data_handle() == a.data());
    CHECK(v.stride(0) == 5);
    CHECK(v.stride(1) == 1);
    CHECK(v.is_contiguous());
    expect_same_2d(v, a);

    xt::xtensor<T, 2, xt::layout_type::column_major> c = xt::zeros<T>({3, 5});
    fill2(c);
    auto vc = detseg::as_view(c);
    CHECK(vc.stride(0) == 1);
    CHECK(vc.stride(1) == 3);
    expect_same_2d(vc, c);

    xt::xtensor<T, 3> cube = xt::zeros<T>({2, 3, 4});
    cube(1, 2, 3) = T(9);
    auto v3 = detseg::as_view(cube);
    static_assert(decltype(v3)::rank() == 3);
    CHECK(v3(1, 2, 3) == T(9));
    CHECK(v3.strides() == std::array<index_t, 3>{12, 4, 1});

    xt::xtensor<T, 1> line = {T(1), T(2), T(3)};
    auto v1 = detseg::as_view(line);
    static_assert(decltype(v1)::rank() == 1);
    CHECK(v1[2] == T(3));
}

TEST_CASE_TEMPLATE("xt::xtensor_fixed", T, float, double) {
    xt::xtensor_fixed<T, xt::xshape<3, 4>> f;
    fill2(f);
    auto v = detseg::as_view(f);
    static_assert(std::is_same_v<decltype(v), strided_view<T, 2>>);
    CHECK(v.data_handle() == f.data());
    CHECK(v.stride(0) == 4);
    CHECK(v.stride(1) == 1);
    expect_same_2d(v, f);
}

TEST_CASE_TEMPLATE("xt::xarray, row- and column-major, through as_view<R>", T, float, double) {
    xt::xarray<T> a = xt::zeros<T>({4, 3});
    fill2(a);
    auto v = detseg::as_view<2>(a);
    static_assert(std::is_same_v<decltype(v), strided_view<T, 2>>);
    CHECK(v.data_handle() == a.data());
    CHECK(v.stride(0) == 3);
    CHECK(v.stride(1) == 1);
    expect_same_2d(v, a);

    xt::xarray<T, xt::layout_type::column_major> c = xt::zeros<T>({4, 3});
    fill2(c);
    auto vc = detseg::as_view<2>(c);
    CHECK(vc.stride(0) == 1);
    CHECK(vc.stride(1) == 4);
    expect_same_2d(vc, c);

    xt::xarray<T> cube = xt::zeros<T>({2, 2, 2});
    cube(1, 0, 1) = T(5);
    CHECK(detseg::as_view<3>(cube)(1, 0, 1) == T(5));
    xt::xarray<T> line = xt::zeros<T>({6});
    CHECK(detseg::as_view<1>(line).extent(0) == 6);
}

TEST_CASE("xt::xarray of the wrong rank is rejected at run time") {
    xt::xarray<float> cube = xt::zeros<float>({2, 3, 4});
    expect_invalid([&] { (void)detseg::as_view<2>(cube); }, "as_view", "source");
    xt::xarray<double> line = xt::zeros<double>({5});
    expect_invalid([&] { (void)detseg::as_view<2>(line); }, "as_view", "source");
    const xt::xarray<float>& ccube = cube;
    expect_invalid([&] { (void)detseg::as_view<1>(ccube); }, "as_view", "source");
}

TEST_CASE("the rank error message names the function once") {
    xt::xarray<float> cube = xt::zeros<float>({2, 3, 4});
    try {
        (void)detseg::as_view<2>(cube);
        FAIL("no exception");
    } catch (const detseg::invalid_argument& e) {
        CHECK(std::string(e.what()) ==
              "detseg::as_view: argument 'source': expected an array of rank 2, got rank 3");
    }
    const std::vector<float> good = {0, 0, 1, 1};
    try {
        (void)detseg::pairwise_iou(cube, good);
        FAIL("no exception");
    } catch (const detseg::invalid_argument& e) {
        CHECK(std::string(e.what()) ==
              "detseg::pairwise_iou: argument 'boxes1': expected an array of rank 2, got rank 3");
    }
}

TEST_CASE_TEMPLATE("an N x 1 or 1 x N xt::xarray is accepted as rank 1", T, float, double) {
    xt::xarray<T> column = xt::zeros<T>({3, 1});
    column(2, 0) = T(4);
    auto c = detseg::as_view<1>(column);
    CHECK(c.extent(0) == 3);
    CHECK(c.data_handle() == column.data());
    CHECK(c[2] == T(4));

    xt::xarray<T, xt::layout_type::column_major> row = xt::zeros<T>({1, 5});
    row(0, 3) = T(7);
    auto r = detseg::as_view<1>(row);
    CHECK(r.extent(0) == 5);
    CHECK(&r[3] == &row(0, 3));

    xt::xarray<T> one = xt::zeros<T>({1, 1});
    CHECK(detseg::as_view<1>(one).extent(0) == 1);

    xt::xarray<T> wide = xt::zeros<T>({2, 3});
    expect_invalid([&] { (void)detseg::as_view<1>(wide); }, "as_view", "source");
    static_assert(detseg::score_source<xt::xarray<T>>);
}

TEST_CASE("an xt::xarray is used through as_view<R>, not as a flat range") {
    static_assert(!detseg::viewable<xt::xarray<float>>);
    static_assert(!detseg::viewable<const xt::xarray<double>>);
    static_assert(detseg::viewable_as<xt::xarray<float>, 2>);
    static_assert(detseg::view_rank_v<xt::xarray<float>> == 0);
    xt::xarray<float> a = {{1, 2, 3}, {4, 5, 6}};
    std::random_device rd;
    const auto path =
        (std::filesystem::temp_directory_path() /
         ("detseg_xarray_" + std::to_string(rd()) + "_" + std::to_string(rd()) + ".npy"))
            .string();
    detseg::save_npy(path, detseg::as_view<2>(a));
    const auto loaded = detseg::load_npy(path);
    std::filesystem::remove(path);
    CHECK(loaded.shape == std::vector<index_t>{2, 3});
    CHECK(loaded.as<float, 2>()(1, 2) == 6.0f);
}

TEST_CASE_TEMPLATE("xt::adapt of a pointer", T, float, double) {
    std::vector<T> buf(12);
    for (std::size_t k = 0; k < buf.size(); ++k)
        buf[k] = T(k);
    const std::array<std::size_t, 2> shape{3, 4};
    auto fixed_rank = xt::adapt(buf.data(), buf.size(), xt::no_ownership(), shape);
    auto v = detseg::as_view(fixed_rank);
    static_assert(std::is_same_v<decltype(v), strided_view<T, 2>>);
    CHECK(v.data_handle() == buf.data());
    expect_same_2d(v, fixed_rank);
    v(2, 3) = T(-1);
    CHECK(buf[11] == T(-1));

    const std::vector<std::size_t> dyn_shape{4, 3};
    auto dyn = xt::adapt(buf.data(), buf.size(), xt::no_ownership(), dyn_shape);
    auto vd = detseg::as_view<2>(dyn);
    CHECK(vd.data_handle() == buf.data());
    CHECK(vd.stride(0) == 3);
    expect_same_2d(vd, dyn);

    auto cm =
        xt::adapt<xt::layout_type::column_major>(buf.data(), buf.size(), xt::no_ownership(), shape);
    auto vcm = detseg::as_view(cm);
    CHECK(vcm.stride(0) == 1);
    CHECK(vcm.stride(1) == 3);
    expect_same_2d(vcm, cm);

    auto from_vector = xt::adapt(buf, shape);
    expect_same_2d(detseg::as_view(from_vector), from_vector);
}

TEST_CASE_TEMPLATE("xt::view with a data interface: column range and data_offset", T, float,
                   double) {
    xt::xtensor<T, 2> a = xt::zeros<T>({5, 4});
    fill2(a);

    auto cols = xt::view(a, xt::all(), xt::range(1, 3));
    auto vc = detseg::as_view<2>(cols);
    static_assert(std::is_same_v<decltype(vc), strided_view<T, 2>>);
    CHECK(vc.extent(0) == 5);
    CHECK(vc.extent(1) == 2);
    CHECK(vc.data_handle() == &a(0, 1));
    CHECK(vc.stride(0) == 4);
    CHECK(vc.stride(1) == 1);
    expect_same_2d(vc, cols);

    auto rows = xt::view(a, xt::range(1, 4), xt::all());
    CHECK(rows.data_offset() == 4);
    auto vr = detseg::as_view<2>(rows);
    CHECK(vr.data_handle() == &a(1, 0));
    CHECK(vr.extent(0) == 3);
    expect_same_2d(vr, rows);

    auto both = xt::view(a, xt::range(1, 5, 2), xt::range(1, 4, 2));
    auto vb = detseg::as_view<2>(both);
    CHECK(vb.data_handle() == &a(1, 1));
    CHECK(vb.stride(0) == 8);
    CHECK(vb.stride(1) == 2);
    expect_same_2d(vb, both);

    using namespace xt::placeholders;
    auto flipped = xt::view(a, xt::range(_, _, -1), xt::all());
    auto vf = detseg::as_view<2>(flipped);
    CHECK(vf.stride(0) == -4);
    expect_same_2d(vf, flipped);

    auto row2 = xt::view(a, 2, xt::all());
    auto v1 = detseg::as_view<1>(row2);
    CHECK(v1.extent(0) == 4);
    CHECK(v1.data_handle() == &a(2, 0));
    CHECK(v1[3] == a(2, 3));

    auto col3 = xt::view(a, xt::all(), 3);
    auto vcol = detseg::as_view<1>(col3);
    CHECK(vcol.stride(0) == 4);
    CHECK(vcol[4] == a(4, 3));

    xt::xarray<T> x = a;
    auto xv = xt::view(x, xt::range(2, 5), xt::range(0, 2));
    auto vx = detseg::as_view<2>(xv);
    CHECK(vx.data_handle() == &x(2, 0));
    expect_same_2d(vx, xv);
}

TEST_CASE_TEMPLATE("xt::strided_view", T, float, double) {
    xt::xarray<T> a = xt::zeros<T>({4, 6});
    fill2(a);
    auto s = xt::strided_view(a, {xt::all(), xt::range(1, 6, 2)});
    auto v = detseg::as_view<2>(s);
    CHECK(v.extent(0) == 4);
    CHECK(v.extent(1) == 3);
    CHECK(v.data_handle() == &a(0, 1));
    CHECK(v.stride(0) == 6);
    CHECK(v.stride(1) == 2);
    expect_same_2d(v, s);

    auto lower = xt::strided_view(a, {xt::range(2, 4), xt::all()});
    auto vl = detseg::as_view<2>(lower);
    CHECK(vl.data_handle() == &a(2, 0));
    expect_same_2d(vl, lower);
}

TEST_CASE_TEMPLATE("constness follows the xtensor object", T, float, double) {
    xt::xtensor<T, 2> a = xt::zeros<T>({2, 2});
    const auto& ca = a;
    static_assert(std::is_same_v<element_t<decltype(detseg::as_view(a))>, T>);
    static_assert(std::is_same_v<element_t<decltype(detseg::as_view(ca))>, const T>);
    xt::xarray<T> x = xt::zeros<T>({2, 2});
    const auto& cx = x;
    static_assert(std::is_same_v<element_t<decltype(detseg::as_view<2>(x))>, T>);
    static_assert(std::is_same_v<element_t<decltype(detseg::as_view<2>(cx))>, const T>);
    static_assert(detseg::writable_view<xt::xtensor<T, 2>&, T, 2>);
    static_assert(!detseg::writable_view<const xt::xtensor<T, 2>&, T, 2>);
    static_assert(detseg::writable_view<xt::xarray<T>&, T, 2>);
    static_assert(!detseg::writable_view<const xt::xarray<T>&, T, 2>);

    auto w = detseg::as_view<2>(xt::view(a, xt::all(), xt::all()));
    w(1, 1) = T(3);
    CHECK(a(1, 1) == T(3));
}

TEST_CASE_TEMPLATE("xtensor inputs to pairwise_iou give the strided_view result", T, float,
                   double) {
    const auto fa = some_boxes<T>(6, 1);
    const auto fb = some_boxes<T>(5, 2);
    const auto expected = detseg::pairwise_iou(detseg::make_view(fa.data(), {6, 4}),
                                               detseg::make_view(fb.data(), {5, 4}));

    const std::array<std::size_t, 2> sa{6, 4}, sb{5, 4};
    const xt::xtensor<T, 2> a = xt::adapt(fa, sa);
    xt::xarray<T, xt::layout_type::column_major> b = xt::zeros<T>({5, 4});
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t k = 0; k < 4; ++k)
            b(i, k) = fb[4 * i + k];
    CHECK(detseg::pairwise_iou(a, b) == expected);
    CHECK(detseg::pairwise_iou(xt::adapt(fa.data(), fa.size(), xt::no_ownership(), sa),
                               xt::adapt(fb.data(), fb.size(), xt::no_ownership(), sb)) ==
          expected);

    xt::xtensor<T, 2> big = xt::zeros<T>({8, 6});
    xt::view(big, xt::range(1, 7), xt::range(2, 6)) = a;
    CHECK(detseg::pairwise_iou(xt::view(big, xt::range(1, 7), xt::range(2, 6)), b) == expected);
}

TEST_CASE_TEMPLATE("pairwise_iou writes into xtensor outputs", T, float, double) {
    const auto fa = some_boxes<T>(6, 3);
    const auto fb = some_boxes<T>(4, 4);
    const auto a = detseg::make_view(fa.data(), {6, 4});
    const auto b = detseg::make_view(fb.data(), {4, 4});
    const auto expected = detseg::pairwise_iou(a, b);

    xt::xtensor<T, 2> out = xt::zeros<T>({6, 4});
    detseg::pairwise_iou(a, b, out);
    expect_same_2d(expected.view(), out);

    xt::xtensor<T, 2, xt::layout_type::column_major> out_cm = xt::zeros<T>({6, 4});
    detseg::pairwise_iou(a, b, out_cm);
    expect_same_2d(expected.view(), out_cm);

    xt::xarray<T> out_dyn = xt::zeros<T>({6, 4});
    detseg::pairwise_iou(a, b, out_dyn);
    expect_same_2d(expected.view(), out_dyn);

    xt::xtensor_fixed<T, xt::xshape<6, 4>> out_fixed;
    detseg::pairwise_iou(a, b, out_fixed);
    expect_same_2d(expected.view(), out_fixed);

    std::vector<T> buf(24, T(-1));
    const std::array<std::size_t, 2> shape{6, 4};
    detseg::pairwise_iou(a, b, xt::adapt(buf.data(), buf.size(), xt::no_ownership(), shape));
    expect_same_2d(expected.view(), xt::adapt(buf, shape));

    xt::xtensor<T, 2> big = xt::zeros<T>({9, 7}) - T(1);
    detseg::pairwise_iou(a, b, xt::view(big, xt::range(2, 8), xt::range(1, 5)));
    expect_same_2d(expected.view(), xt::view(big, xt::range(2, 8), xt::range(1, 5)));
    int touched = 0;
    for (std::size_t i = 0; i < 9; ++i)
        for (std::size_t j = 0; j < 7; ++j)
            if (i < 2 || i >= 8 || j < 1 || j >= 5)
                touched += big(i, j) != T(-1);
    CHECK(touched == 0);

    xt::xtensor<T, 2> wrong = xt::zeros<T>({4, 6});
    expect_invalid([&] { detseg::pairwise_iou(a, b, wrong); }, "pairwise_iou", "out");
    xt::xarray<T> wrong_rank = xt::zeros<T>({6, 4, 1});
    expect_invalid([&] { detseg::pairwise_iou(a, b, wrong_rank); }, "pairwise_iou", "out");
}
