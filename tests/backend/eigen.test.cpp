#include <detseg/backend/eigen.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>

#include "support/errors.hpp"

#include <Eigen/Core>
#include <doctest/doctest.h>

#include <array>
#include <type_traits>
#include <utility>
#include <vector>

using detseg::index_t;
using detseg::strided_view;
using testing::expect_invalid;

namespace {

template <class T>
using matrix_cm = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using matrix_rm = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class V>
using element_t = typename V::element_type;

template <class X>
void fill(X&& x) {
    for (Eigen::Index i = 0; i < x.rows(); ++i)
        for (Eigen::Index j = 0; j < x.cols(); ++j)
            x(i, j) = typename std::remove_cvref_t<X>::Scalar(100 * i + j + 1);
}

/// Every element of the rank-2 view equals the Eigen object's.
template <class V, class X>
void expect_same_2d(const V& v, const X& x) {
    static_assert(V::rank() == 2);
    REQUIRE(v.extent(0) == index_t(x.rows()));
    REQUIRE(v.extent(1) == index_t(x.cols()));
    int wrong = 0;
    for (index_t i = 0; i < v.extent(0); ++i)
        for (index_t j = 0; j < v.extent(1); ++j)
            wrong += !(v(i, j) == x(i, j));
    CHECK(wrong == 0);
}

/// Every element of the rank-1 view equals the Eigen vector's.
template <class V, class X>
void expect_same_1d(const V& v, const X& x) {
    static_assert(V::rank() == 1);
    REQUIRE(v.extent(0) == index_t(x.size()));
    int wrong = 0;
    for (index_t i = 0; i < v.extent(0); ++i)
        wrong += !(v[i] == x(i));
    CHECK(wrong == 0);
}

template <class T>
std::vector<T> some_boxes(int n, int salt) {
    std::vector<T> out;
    for (int i = 0; i < n; ++i) {
        const T x = T((i * 37 + salt * 11) % 50), y = T((i * 53 + salt * 7) % 40);
        const T w = T(5 + (i * 13 + salt) % 20), h = T(4 + (i * 29 + salt) % 25);
        out.insert(out.end(), {x, y, x + w, y + h});
    }
    return out;
}

template <class M, class T>
M to_matrix(const std::vector<T>& flat, Eigen::Index n) {
    M m(n, 4);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index k = 0; k < 4; ++k)
            m(i, k) = flat[static_cast<std::size_t>(4 * i + k)];
    return m;
}

} // namespace

TEST_CASE_TEMPLATE("column-major and row-major dynamic matrices", T, float, double) {
    matrix_cm<T> cm(3, 5);
    fill(cm);
    auto v = detseg::as_view(cm);
    static_assert(std::is_same_v<decltype(v), strided_view<T, 2>>);
    CHECK(v.data_handle() == cm.data());
    CHECK(v.stride(0) == 1);
    CHECK(v.stride(1) == 3);
    CHECK_FALSE(v.is_contiguous());
    expect_same_2d(v, cm);

    matrix_rm<T> rm(3, 5);
    fill(rm);
    auto r = detseg::as_view(rm);
    CHECK(r.data_handle() == rm.data());
    CHECK(r.stride(0) == 5);
    CHECK(r.stride(1) == 1);
    CHECK(r.is_contiguous());
    expect_same_2d(r, rm);

    matrix_cm<T> empty(0, 4);
    auto e = detseg::as_view(empty);
    CHECK(e.extent(0) == 0);
    CHECK(e.extent(1) == 4);
    CHECK(e.empty());
}

TEST_CASE_TEMPLATE("fixed-size matrices", T, float, double) {
    Eigen::Matrix<T, 3, 4> f;
    fill(f);
    auto v = detseg::as_view(f);
    static_assert(decltype(v)::rank() == 2);
    CHECK(v.data_handle() == f.data());
    CHECK(v.stride(0) == 1);
    CHECK(v.stride(1) == 3);
    expect_same_2d(v, f);

    Eigen::Matrix<T, 2, 4, Eigen::RowMajor> fr;
    fill(fr);
    auto r = detseg::as_view(fr);
    CHECK(r.stride(0) == 4);
    CHECK(r.stride(1) == 1);
    expect_same_2d(r, fr);

    Eigen::Matrix<T, 4, 4> sq;
    fill(sq);
    expect_same_2d(detseg::as_view(sq), sq);
}

TEST_CASE_TEMPLATE("arrays", T, float, double) {
    Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> a(4, 3);
    fill(a);
    auto v = detseg::as_view(a);
    static_assert(std::is_same_v<decltype(v), strided_view<T, 2>>);
    CHECK(v.stride(1) == 4);
    expect_same_2d(v, a);

    Eigen::Array<T, Eigen::Dynamic, 4, Eigen::RowMajor> ar(2, 4);
    fill(ar);
    auto r = detseg::as_view(ar);
    CHECK(r.stride(0) == 4);
    expect_same_2d(r, ar);

    Eigen::Array<T, Eigen::Dynamic, 1> col(5);
    for (Eigen::Index i = 0; i < 5; ++i)
        col(i) = T(i * i);
    auto c = detseg::as_view(col);
    static_assert(decltype(c)::rank() == 1);
    expect_same_1d(c, col);
}

TEST_CASE_TEMPLATE("maps with and without strides", T, float, double) {
    std::vector<T> buf(64);
    for (std::size_t k = 0; k < buf.size(); ++k)
        buf[k] = T(k);

    Eigen::Map<matrix_cm<T>> plain(buf.data(), 3, 4);
    auto p = detseg::as_view(plain);
    static_assert(std::is_same_v<decltype(p), strided_view<T, 2>>);
    CHECK(p.data_handle() == buf.data());
    CHECK(p.stride(0) == 1);
    CHECK(p.stride(1) == 3);
    expect_same_2d(p, plain);

    Eigen::Map<const matrix_rm<T>> crow(buf.data() + 2, 3, 4);
    auto cr = detseg::as_view(crow);
    static_assert(std::is_same_v<decltype(cr), strided_view<const T, 2>>);
    CHECK(cr.stride(0) == 4);
    CHECK(cr.stride(1) == 1);
    expect_same_2d(cr, crow);

    Eigen::Map<matrix_cm<T>, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> both(
        buf.data() + 1, 3, 4, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(10, 2));
    auto b = detseg::as_view(both);
    CHECK(b.stride(0) == 2);
    CHECK(b.stride(1) == 10);
    expect_same_2d(b, both);

    Eigen::Map<matrix_cm<T>, 0, Eigen::OuterStride<>> outer(buf.data(), 3, 4,
                                                            Eigen::OuterStride<>(7));
    auto o = detseg::as_view(outer);
    CHECK(o.stride(0) == 1);
    CHECK(o.stride(1) == 7);
    expect_same_2d(o, outer);

    Eigen::Map<matrix_rm<T>, 0, Eigen::OuterStride<>> outer_rm(buf.data(), 3, 4,
                                                               Eigen::OuterStride<>(9));
    auto orm = detseg::as_view(outer_rm);
    CHECK(orm.stride(0) == 9);
    CHECK(orm.stride(1) == 1);
    expect_same_2d(orm, outer_rm);

    Eigen::Map<matrix_cm<T>, 0, Eigen::InnerStride<>> inner(buf.data(), 3, 4,
                                                            Eigen::InnerStride<>(3));
    auto in = detseg::as_view(inner);
    CHECK(in.stride(0) == 3);
    CHECK(in.stride(1) == 9);
    expect_same_2d(in, inner);

    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>, 0, Eigen::InnerStride<2>> every_other(
        buf.data() + 1, 10);
    auto eo = detseg::as_view(every_other);
    static_assert(decltype(eo)::rank() == 1);
    CHECK(eo.stride(0) == 2);
    expect_same_1d(eo, every_other);

    Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>, 0, Eigen::InnerStride<>> row_step(
        buf.data(), 6, Eigen::InnerStride<>(5));
    auto rs = detseg::as_view(row_step);
    CHECK(rs.stride(0) == 5);
    expect_same_1d(rs, row_step);
}

TEST_CASE_TEMPLATE("blocks of column-major and row-major matrices", T, float, double) {
    matrix_cm<T> cm(6, 7);
    fill(cm);
    auto cb = cm.block(1, 2, 3, 4);
    auto vc = detseg::as_view(cb);
    static_assert(std::is_same_v<decltype(vc), strided_view<T, 2>>);
    CHECK(vc.data_handle() == &cm(1, 2));
    CHECK(vc.stride(0) == 1);
    CHECK(vc.stride(1) == 6);
    expect_same_2d(vc, cb);

    matrix_rm<T> rm(6, 7);
    fill(rm);
    auto rb = rm.block(2, 1, 4, 3);
    auto vr = detseg::as_view(rb);
    CHECK(vr.data_handle() == &rm(2, 1));
    CHECK(vr.stride(0) == 7);
    CHECK(vr.stride(1) == 1);
    expect_same_2d(vr, rb);

    auto nested = cm.block(1, 1, 5, 5).block(2, 1, 2, 3);
    auto vn = detseg::as_view(nested);
    CHECK(vn.data_handle() == &cm(3, 2));
    expect_same_2d(vn, nested);

    Eigen::Matrix<T, 5, 5> fixed;
    fill(fixed);
    auto fb = fixed.template block<2, 3>(1, 1);
    auto vf = detseg::as_view(fb);
    CHECK(vf.stride(1) == 5);
    expect_same_2d(vf, fb);

    auto corner = rm.topRightCorner(2, 2);
    expect_same_2d(detseg::as_view(corner), corner);
}

TEST_CASE_TEMPLATE("refs, const and mutable", T, float, double) {
    matrix_cm<T> m(4, 5);
    fill(m);
    Eigen::Ref<matrix_cm<T>> r(m);
    auto vr = detseg::as_view(r);
    static_assert(std::is_same_v<decltype(vr), strided_view<T, 2>>);
    CHECK(vr.data_handle() == m.data());
    expect_same_2d(vr, m);
    vr(3, 4) = T(-7);
    CHECK(m(3, 4) == T(-7));

    Eigen::Ref<const matrix_cm<T>> cr(m);
    auto vcr = detseg::as_view(cr);
    static_assert(std::is_same_v<decltype(vcr), strided_view<const T, 2>>);
    CHECK(vcr.data_handle() == m.data());
    expect_same_2d(vcr, m);

    Eigen::Ref<matrix_cm<T>, 0, Eigen::OuterStride<>> rb(m.block(1, 1, 2, 3));
    auto vrb = detseg::as_view(rb);
    CHECK(vrb.data_handle() == &m(1, 1));
    CHECK(vrb.stride(1) == 4);
    expect_same_2d(vrb, rb);

    Eigen::Ref<const Eigen::Matrix<T, Eigen::Dynamic, 1>> col(m.col(2));
    auto vcol = detseg::as_view(col);
    static_assert(decltype(vcol)::rank() == 1);
    CHECK(vcol.data_handle() == &m(0, 2));
    expect_same_1d(vcol, col);
}

TEST_CASE_TEMPLATE("rows and columns of both storage orders are rank 1", T, float, double) {
    matrix_cm<T> cm(4, 6);
    fill(cm);
    matrix_rm<T> rm(4, 6);
    fill(rm);

    auto cm_row = detseg::as_view(cm.row(2));
    static_assert(std::is_same_v<decltype(cm_row), strided_view<T, 1>>);
    CHECK(cm_row.data_handle() == &cm(2, 0));
    CHECK(cm_row.stride(0) == 4);
    expect_same_1d(cm_row, cm.row(2));

    auto cm_col = detseg::as_view(cm.col(3));
    CHECK(cm_col.data_handle() == &cm(0, 3));
    CHECK(cm_col.stride(0) == 1);
    expect_same_1d(cm_col, cm.col(3));

    auto rm_row = detseg::as_view(rm.row(1));
    CHECK(rm_row.data_handle() == &rm(1, 0));
    CHECK(rm_row.stride(0) == 1);
    expect_same_1d(rm_row, rm.row(1));

    auto rm_col = detseg::as_view(rm.col(5));
    CHECK(rm_col.data_handle() == &rm(0, 5));
    CHECK(rm_col.stride(0) == 6);
    expect_same_1d(rm_col, rm.col(5));

    const auto& ccm = cm;
    auto const_row = detseg::as_view(ccm.row(0));
    static_assert(std::is_same_v<decltype(const_row), strided_view<const T, 1>>);
    expect_same_1d(const_row, ccm.row(0));
}

TEST_CASE_TEMPLATE("transpose and diagonal are views with storage", T, float, double) {
    matrix_cm<T> m(3, 5);
    fill(m);
    auto t = detseg::as_view(m.transpose());
    static_assert(std::is_same_v<decltype(t), strided_view<T, 2>>);
    CHECK(t.data_handle() == m.data());
    CHECK(t.stride(0) == 3);
    CHECK(t.stride(1) == 1);
    expect_same_2d(t, m.transpose());
    t(4, 2) = T(-3);
    CHECK(m(2, 4) == T(-3));

    auto d = detseg::as_view(m.diagonal());
    static_assert(decltype(d)::rank() == 1);
    CHECK(d.stride(0) == 4);
    expect_same_1d(d, m.diagonal());
}

TEST_CASE_TEMPLATE("segment, head and tail of a vector are viewable", T, float, double) {
    Eigen::Matrix<T, Eigen::Dynamic, 1> v(6);
    for (Eigen::Index i = 0; i < 6; ++i)
        v(i) = T(i + 1);
    using segment_t = decltype(v.segment(1, 3));
    CHECK(detseg::viewable<segment_t>);
    CHECK(detseg::viewable<decltype(v.head(2))>);
    CHECK(detseg::viewable<decltype(v.tail(2))>);
    CHECK(detseg::score_source<segment_t>);
    if constexpr (detseg::viewable<segment_t>) {
        auto s = detseg::as_view(v.segment(1, 3));
        CHECK(s.data_handle() == v.data() + 1);
        expect_same_1d(s, v.segment(1, 3));
    }
}

TEST_CASE_TEMPLATE("vectors are rank 1", T, float, double) {
    Eigen::Matrix<T, Eigen::Dynamic, 1> v(6);
    for (Eigen::Index i = 0; i < 6; ++i)
        v(i) = T(2 * i + 1);
    auto a = detseg::as_view(v);
    static_assert(std::is_same_v<decltype(a), strided_view<T, 1>>);
    CHECK(a.data_handle() == v.data());
    CHECK(a.stride(0) == 1);
    expect_same_1d(a, v);

    Eigen::Matrix<T, 1, Eigen::Dynamic> rv(3);
    rv << T(1), T(2), T(3);
    auto b = detseg::as_view(rv);
    static_assert(decltype(b)::rank() == 1);
    expect_same_1d(b, rv);

    Eigen::Matrix<T, 4, 1> fixed4(T(1), T(2), T(3), T(4));
    auto c = detseg::as_view(fixed4);
    static_assert(decltype(c)::rank() == 1);
    expect_same_1d(c, fixed4);
    static_assert(detseg::view_rank_v<Eigen::Matrix<T, 1, 4>> == 1);
}

TEST_CASE_TEMPLATE("as_view<1> of a dynamic matrix with one column or one row", T, float, double) {
    matrix_cm<T> col(5, 1);
    fill(col);
    auto c = detseg::as_view<1>(col);
    CHECK(c.extent(0) == 5);
    expect_same_1d(c, col.col(0));

    matrix_cm<T> row(1, 4);
    fill(row);
    auto r = detseg::as_view<1>(row);
    CHECK(r.extent(0) == 4);
    CHECK(r.stride(0) == 1);
    expect_same_1d(r, row.row(0));

    matrix_cm<T> wide(2, 3);
    expect_invalid([&] { (void)detseg::as_view<1>(wide); }, "as_view", "source");
}

TEST_CASE_TEMPLATE("constness follows the Eigen object", T, float, double) {
    matrix_cm<T> m(3, 3);
    fill(m);
    const matrix_cm<T>& cm = m;
    static_assert(std::is_same_v<element_t<decltype(detseg::as_view(cm))>, const T>);
    static_assert(std::is_same_v<element_t<decltype(detseg::as_view(m))>, T>);
    static_assert(
        std::is_same_v<element_t<decltype(detseg::as_view(cm.block(0, 0, 2, 2)))>, const T>);
    static_assert(std::is_same_v<element_t<decltype(detseg::as_view(m.block(0, 0, 2, 2)))>, T>);
    static_assert(
        std::is_same_v<
            element_t<decltype(detseg::as_view(Eigen::Map<const matrix_cm<T>>(m.data(), 3, 3)))>,
            const T>);

    auto w = detseg::as_view(Eigen::Map<matrix_cm<T>>(m.data(), 3, 3));
    static_assert(std::is_same_v<element_t<decltype(w)>, T>);
    w(0, 2) = T(42);
    CHECK(m(0, 2) == T(42));

    static_assert(detseg::writable_view<Eigen::Map<matrix_cm<T>>, T, 2>);
    static_assert(detseg::writable_view<matrix_cm<T>&, T, 2>);
    static_assert(!detseg::writable_view<const matrix_cm<T>&, T, 2>);
    static_assert(!detseg::writable_view<Eigen::Map<const matrix_cm<T>>, T, 2>);
    static_assert(!detseg::writable_view<Eigen::Ref<const matrix_cm<T>>, T, 2>);
}

TEST_CASE_TEMPLATE("writing through a view of a block changes the parent", T, float, double) {
    matrix_cm<T> m = matrix_cm<T>::Zero(5, 6);
    auto v = detseg::as_view(m.block(1, 2, 3, 2));
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 2; ++j)
            v(i, j) = T(10 * i + j + 1);
    for (Eigen::Index i = 0; i < 5; ++i)
        for (Eigen::Index j = 0; j < 6; ++j) {
            const bool inside = i >= 1 && i < 4 && j >= 2 && j < 4;
            CHECK(m(i, j) == (inside ? T(10 * (i - 1) + (j - 2) + 1) : T(0)));
        }

    matrix_rm<T> r = matrix_rm<T>::Zero(3, 4);
    auto row = detseg::as_view(r.row(1));
    for (index_t j = 0; j < 4; ++j)
        row[j] = T(j + 5);
    CHECK(r(1, 0) == T(5));
    CHECK(r(1, 3) == T(8));
    CHECK(r(0, 3) == T(0));
}

TEST_CASE_TEMPLATE("Eigen inputs to pairwise_iou give the strided_view result", T, float, double) {
    const auto fa = some_boxes<T>(7, 1);
    const auto fb = some_boxes<T>(5, 2);
    const auto expected = detseg::pairwise_iou(detseg::make_view(fa.data(), {7, 4}),
                                               detseg::make_view(fb.data(), {5, 4}));

    const auto a_cm = to_matrix<matrix_cm<T>>(fa, 7);
    const auto b_rm = to_matrix<Eigen::Matrix<T, Eigen::Dynamic, 4, Eigen::RowMajor>>(fb, 5);
    CHECK(detseg::pairwise_iou(a_cm, b_rm) == expected);
    CHECK(detseg::pairwise_iou(a_cm.block(0, 0, 7, 4),
                               Eigen::Map<const matrix_rm<T>>(fb.data(), 5, 4)) == expected);

    matrix_cm<T> big = matrix_cm<T>::Constant(9, 6, T(-1));
    big.block(1, 2, 7, 4) = a_cm;
    CHECK(detseg::pairwise_iou(big.block(1, 2, 7, 4), b_rm) == expected);
    Eigen::Ref<const matrix_cm<T>, 0, Eigen::OuterStride<>> ref(big.block(1, 2, 7, 4));
    CHECK(detseg::pairwise_iou(ref, b_rm) == expected);
    Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic> arr = a_cm.array();
    CHECK(detseg::pairwise_iou(arr, b_rm) == expected);
}

TEST_CASE_TEMPLATE("Eigen outputs of pairwise_iou", T, float, double) {
    const auto fa = some_boxes<T>(6, 3);
    const auto fb = some_boxes<T>(4, 4);
    const auto a = detseg::make_view(fa.data(), {6, 4});
    const auto b = detseg::make_view(fb.data(), {4, 4});
    const auto expected = detseg::pairwise_iou(a, b);

    matrix_cm<T> cm(6, 4);
    detseg::pairwise_iou(a, b, cm);
    expect_same_2d(expected.view(), cm);

    matrix_rm<T> rm(6, 4);
    detseg::pairwise_iou(a, b, rm);
    expect_same_2d(expected.view(), rm);

    Eigen::Matrix<T, 6, 4> fixed;
    detseg::pairwise_iou(a, b, fixed);
    expect_same_2d(expected.view(), fixed);

    std::vector<T> buf(24, T(-1));
    detseg::pairwise_iou(a, b, Eigen::Map<matrix_cm<T>>(buf.data(), 6, 4));
    expect_same_2d(expected.view(), Eigen::Map<const matrix_cm<T>>(buf.data(), 6, 4));

    matrix_cm<T> big = matrix_cm<T>::Constant(8, 7, T(-1));
    detseg::pairwise_iou(a, b, big.block(1, 2, 6, 4));
    expect_same_2d(expected.view(), big.block(1, 2, 6, 4));
    int touched = 0;
    for (Eigen::Index i = 0; i < 8; ++i)
        for (Eigen::Index j = 0; j < 7; ++j)
            if (i < 1 || i >= 7 || j < 2 || j >= 6)
                touched += big(i, j) != T(-1);
    CHECK(touched == 0);

    matrix_cm<T> target = matrix_cm<T>::Zero(6, 4);
    Eigen::Ref<matrix_cm<T>> ref(target);
    detseg::pairwise_iou(a, b, ref);
    expect_same_2d(expected.view(), target);

    Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> arr(6, 4);
    detseg::pairwise_iou(a, b, arr);
    expect_same_2d(expected.view(), arr);

    matrix_cm<T> col_major_a = to_matrix<matrix_cm<T>>(fa, 6);
    matrix_rm<T> out(6, 4);
    detseg::pairwise_iou(col_major_a, b, out);
    expect_same_2d(expected.view(), out);

    matrix_cm<T> wrong(4, 6);
    expect_invalid([&] { detseg::pairwise_iou(a, b, wrong); }, "pairwise_iou", "out");
}

TEST_CASE("a matrix without four columns is rejected naming the argument") {
    Eigen::MatrixXf three(2, 3);
    three.setZero();
    const std::vector<float> good = {0, 0, 1, 1};
    expect_invalid([&] { (void)detseg::pairwise_iou(three, good); }, "pairwise_iou", "boxes1");
    expect_invalid([&] { (void)detseg::pairwise_iou(good, three.transpose().eval()); },
                   "pairwise_iou", "boxes2");
}
