#ifndef DETSEG_TESTS_SUPPORT_BACKENDS_HPP
#define DETSEG_TESTS_SUPPORT_BACKENDS_HPP

// The same N×4 boxes presented through every kind of box source the library accepts, so one
// test body runs over raw pointers, strided views, ranges of structs, Eigen and xtensor.
// A backend is a tag type with `name` and `template <class T, class F> static void with(const
// detseg::tensor<T, 2>& boxes, F&& f)` that builds its storage from `boxes` and calls `f(src)`.

#include <detseg/backend/eigen.hpp>
#include <detseg/backend/xtensor.hpp>
#include <detseg/box/box.hpp>
#include <detseg/core/field_view.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>

#include <Eigen/Core>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <array>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace testing {

template <class T>
struct detection {
    int label;
    T score;
    T x1, y1, x2, y2;
};

template <class T>
struct my_box { // adapted through a box_traits specialisation
    T c[4];
};

} // namespace testing

template <class T>
struct detseg::box_traits<testing::my_box<T>> {
    using value_type = T;
    static T get(const testing::my_box<T>& b, detseg::index_t k) { return b.c[k]; }
};

namespace testing {

using detseg::index_t;

struct raw_pointer {
    static constexpr const char* name = "raw pointer";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        std::vector<T> buf(b.flat().begin(), b.flat().end());
        f(detseg::make_view(static_cast<const T*>(buf.data()), {b.extent(0), index_t{4}}));
    }
};

struct column_major_pointer {
    static constexpr const char* name = "column-major strided pointer";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        const index_t n = b.extent(0);
        std::vector<T> buf(static_cast<std::size_t>(4 * n) + 1);
        for (index_t i = 0; i < n; ++i)
            for (index_t k = 0; k < 4; ++k)
                buf[static_cast<std::size_t>(k * n + i)] = b(i, k);
        f(detseg::make_view(buf.data(), {n, index_t{4}}, {index_t{1}, n}));
    }
};

struct flat_vector {
    static constexpr const char* name = "flat std::vector";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        const std::vector<T> v(b.flat().begin(), b.flat().end());
        f(v);
    }
};

struct array_structs {
    static constexpr const char* name = "std::vector<std::array<T, 4>>";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        std::vector<std::array<T, 4>> v(static_cast<std::size_t>(b.extent(0)));
        for (index_t i = 0; i < b.extent(0); ++i)
            v[static_cast<std::size_t>(i)] = {b(i, 0), b(i, 1), b(i, 2), b(i, 3)};
        f(std::as_const(v));
    }
};

struct box_structs {
    static constexpr const char* name = "std::vector<detseg::box<T>>";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        std::vector<detseg::box<T>> v;
        for (index_t i = 0; i < b.extent(0); ++i)
            v.push_back({b(i, 0), b(i, 1), b(i, 2), b(i, 3)});
        f(v);
    }
};

struct traits_structs {
    static constexpr const char* name = "box_traits specialisation";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        std::vector<my_box<T>> v;
        for (index_t i = 0; i < b.extent(0); ++i)
            v.push_back({{b(i, 0), b(i, 1), b(i, 2), b(i, 3)}});
        f(std::span<const my_box<T>>(v));
    }
};

struct member_fields {
    static constexpr const char* name = "field_view over member pointers";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        std::vector<detection<T>> v;
        for (index_t i = 0; i < b.extent(0); ++i)
            v.push_back({int(i), T(0.5), b(i, 0), b(i, 1), b(i, 2), b(i, 3)});
        using D = detection<T>;
        f(detseg::make_field_view(v, &D::x1, &D::y1, &D::x2, &D::y2));
    }
};

struct eigen_row_major {
    static constexpr const char* name = "Eigen row-major Matrix<T, Dynamic, 4>";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        Eigen::Matrix<T, Eigen::Dynamic, 4, Eigen::RowMajor> m(b.extent(0), 4);
        for (index_t i = 0; i < b.extent(0); ++i)
            for (index_t k = 0; k < 4; ++k)
                m(i, k) = b(i, k);
        f(std::as_const(m));
    }
};

struct eigen_col_major {
    static constexpr const char* name = "Eigen column-major MatrixX";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> m(b.extent(0), 4);
        for (index_t i = 0; i < b.extent(0); ++i)
            for (index_t k = 0; k < 4; ++k)
                m(i, k) = b(i, k);
        f(m);
    }
};

struct eigen_block_map {
    static constexpr const char* name = "Eigen Block of a Map (outer stride)";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        const index_t n = b.extent(0);
        std::vector<T> buf(static_cast<std::size_t>(7 * n + 7), T(-1));
        Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> big(buf.data(), n + 1, 7);
        for (index_t i = 0; i < n; ++i)
            for (index_t k = 0; k < 4; ++k)
                big(i + 1, k + 2) = b(i, k);
        f(big.block(1, 2, n, 4));
    }
};

struct eigen_ref {
    static constexpr const char* name = "Eigen Ref<const MatrixX, 0, OuterStride<>>";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
        M m(b.extent(0), 4);
        for (index_t i = 0; i < b.extent(0); ++i)
            for (index_t k = 0; k < 4; ++k)
                m(i, k) = b(i, k);
        Eigen::Ref<const M, 0, Eigen::OuterStride<>> r(m);
        f(r);
    }
};

struct xtensor_fixed_rank {
    static constexpr const char* name = "xt::xtensor<T, 2>";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        xt::xtensor<T, 2> x = xt::zeros<T>({std::size_t(b.extent(0)), std::size_t(4)});
        for (index_t i = 0; i < b.extent(0); ++i)
            for (index_t k = 0; k < 4; ++k)
                x(i, k) = b(i, k);
        f(std::as_const(x));
    }
};

struct xtensor_dynamic_column_major {
    static constexpr const char* name = "xt::xarray<T, column_major>";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        xt::xarray<T, xt::layout_type::column_major> x =
            xt::zeros<T>({std::size_t(b.extent(0)), std::size_t(4)});
        for (index_t i = 0; i < b.extent(0); ++i)
            for (index_t k = 0; k < 4; ++k)
                x(i, k) = b(i, k);
        f(x);
    }
};

struct xtensor_adapted {
    static constexpr const char* name = "xt::adapt(pointer)";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& b, F&& f) {
        std::vector<T> buf(b.flat().begin(), b.flat().end());
        std::array<std::size_t, 2> shape{std::size_t(b.extent(0)), 4};
        auto x = xt::adapt(buf.data(), buf.size(), xt::no_ownership(), shape);
        f(x);
    }
};

using all_backends =
    std::tuple<raw_pointer, column_major_pointer, flat_vector, array_structs, box_structs,
               traits_structs, member_fields, eigen_row_major, eigen_col_major, eigen_block_map,
               eigen_ref, xtensor_fixed_rank, xtensor_dynamic_column_major, xtensor_adapted>;

/// Calls `f.template operator()<Backend>()` for every backend.
template <class F>
void for_each_backend(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f.template operator()<std::tuple_element_t<I, all_backends>>(), ...);
    }
    (std::make_index_sequence<std::tuple_size_v<all_backends>>{});
}

/// Calls `f.template operator()<B1, B2>()` for every backend B1, each paired with another B2 so
/// that every backend also appears as the second operand.
template <class F>
void for_each_backend_pair(F&& f) {
    constexpr std::size_t n = std::tuple_size_v<all_backends>;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f.template operator()<std::tuple_element_t<I, all_backends>,
                               std::tuple_element_t<(I + 5) % n, all_backends>>(),
         ...);
    }
    (std::make_index_sequence<n>{});
}

} // namespace testing

#endif
