#include <detseg/core/field_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <doctest/doctest.h>

#include <array>
#include <span>
#include <type_traits>
#include <vector>

using detseg::index_t;

namespace {

template <class T>
struct detection {
    int label;
    T score;
    T x1, y1, x2, y2;
};

template <class T>
std::vector<detection<T>> some_detections() {
    return {
        {3, T(0.9), T(1), T(2), T(3), T(4)},
        {7, T(0.25), T(10), T(20), T(30), T(40)},
        {1, T(0.5), T(-1.5), T(-2.5), T(0.5), T(8)},
    };
}

} // namespace

TEST_CASE_TEMPLATE("make_field_view reads the named members in the order given", T, float, double) {
    using D = detection<T>;
    const auto dets = some_detections<T>();
    const auto v = detseg::make_field_view(dets, &D::x1, &D::y1, &D::x2, &D::y2);
    using V = std::remove_const_t<decltype(v)>;
    static_assert(V::rank() == 2);
    static_assert(V::fields() == 4);
    static_assert(std::is_same_v<typename V::value_type, T>);
    static_assert(std::is_same_v<typename V::element_type, const T>);
    static_assert(std::is_same_v<typename V::struct_type, D>);
    static_assert(detseg::is_field_view_v<V>);
    static_assert(!detseg::is_field_view_v<detseg::strided_view<const T, 2>>);

    CHECK(v.data_handle() == dets.data());
    CHECK(v.extent(0) == 3);
    CHECK(v.extent(1) == 4);
    CHECK(v.size() == 12);
    CHECK_FALSE(v.empty());
    for (index_t i = 0; i < 3; ++i) {
        const auto& d = dets[static_cast<std::size_t>(i)];
        CHECK(v(i, 0) == d.x1);
        CHECK(v(i, 1) == d.y1);
        CHECK(v(i, 2) == d.x2);
        CHECK(v(i, 3) == d.y2);
    }

    const auto swapped = detseg::make_field_view(dets, &D::y2, &D::x1, &D::score, &D::y2);
    for (index_t i = 0; i < 3; ++i) {
        const auto& d = dets[static_cast<std::size_t>(i)];
        CHECK(swapped(i, 0) == d.y2);
        CHECK(swapped(i, 1) == d.x1);
        CHECK(swapped(i, 2) == d.score);
        CHECK(swapped(i, 3) == d.y2);
    }
}

TEST_CASE_TEMPLATE("a single-field view (K = 1)", T, float, double) {
    using D = detection<T>;
    const auto dets = some_detections<T>();
    const auto scores = detseg::make_field_view(dets, &D::score);
    static_assert(decltype(scores)::fields() == 1);
    CHECK(scores.extent(0) == 3);
    CHECK(scores.extent(1) == 1);
    CHECK(scores.size() == 3);
    CHECK(scores(0, 0) == T(0.9));
    CHECK(scores(1, 0) == T(0.25));
    CHECK(scores(2, 0) == T(0.5));

    const auto labels = detseg::make_field_view(dets, &D::label);
    static_assert(std::is_same_v<typename decltype(labels)::value_type, int>);
    CHECK(labels(0, 0) == 3);
    CHECK(labels(1, 0) == 7);
    CHECK(labels(2, 0) == 1);
}

TEST_CASE_TEMPLATE("make_field_view over other contiguous ranges", T, float, double) {
    using D = detection<T>;
    const auto dets = some_detections<T>();
    const std::span<const D> tail(dets.data() + 1, 2);
    const auto v = detseg::make_field_view(tail, &D::x2, &D::y2);
    CHECK(v.data_handle() == dets.data() + 1);
    CHECK(v.extent(0) == 2);
    CHECK(v.extent(1) == 2);
    CHECK(v(0, 0) == T(30));
    CHECK(v(1, 1) == T(8));

    const std::array<D, 2> arr{dets[0], dets[2]};
    const auto a = detseg::make_field_view(arr, &D::x1, &D::y1, &D::x2, &D::y2);
    CHECK(a.extent(0) == 2);
    CHECK(a(1, 0) == T(-1.5));
    CHECK(a(1, 2) == T(0.5));
}

TEST_CASE_TEMPLATE("an empty range gives an empty view", T, float, double) {
    using D = detection<T>;
    const std::vector<D> none;
    const auto v = detseg::make_field_view(none, &D::x1, &D::y1, &D::x2, &D::y2);
    CHECK(v.extent(0) == 0);
    CHECK(v.extent(1) == 4);
    CHECK(v.size() == 0);
    CHECK(v.empty());

    const detseg::field_view<D, T, 4, detseg::member_access<D, T, 4>> def;
    CHECK(def.data_handle() == nullptr);
    CHECK(def.empty());
    CHECK(def.extent(1) == 4);
}

TEST_CASE_TEMPLATE("subscript_access reads std::array elements", T, float, double) {
    const std::vector<std::array<T, 3>> rows = {{T(1), T(2), T(3)}, {T(4), T(5), T(6)}};
    using V = detseg::field_view<std::array<T, 3>, T, 3, detseg::subscript_access>;
    const V v(rows.data(), 2);
    CHECK(v.extent(0) == 2);
    CHECK(v.extent(1) == 3);
    CHECK(v.size() == 6);
    for (index_t i = 0; i < 2; ++i)
        for (index_t k = 0; k < 3; ++k)
            CHECK(v(i, k) == T(1 + 3 * i + k));

    const detseg::subscript_access access;
    CHECK(access(rows[1], 2) == T(6));
}

TEST_CASE_TEMPLATE("member_access and a custom accessor", T, float, double) {
    using D = detection<T>;
    const auto dets = some_detections<T>();
    const detseg::member_access<D, T, 2> access{{&D::x2, &D::score}};
    CHECK(access(dets[1], 0) == T(30));
    CHECK(access(dets[1], 1) == T(0.25));

    struct width_height {
        T operator()(const D& d, index_t k) const noexcept {
            return k == 0 ? d.x2 - d.x1 : d.y2 - d.y1;
        }
    };
    const detseg::field_view<D, T, 2, width_height> wh(dets.data(), 3);
    CHECK(wh(0, 0) == T(2));
    CHECK(wh(0, 1) == T(2));
    CHECK(wh(2, 0) == T(2));
    CHECK(wh(2, 1) == T(10.5));
}

TEST_CASE_TEMPLATE("as_view passes a field_view through", T, float, double) {
    using D = detection<T>;
    const auto dets = some_detections<T>();
    const auto v = detseg::make_field_view(dets, &D::x1, &D::y1, &D::x2, &D::y2);
    auto w = detseg::as_view(v);
    static_assert(std::is_same_v<decltype(w), std::remove_const_t<decltype(v)>>);
    CHECK(w.data_handle() == v.data_handle());
    CHECK(w.extent(0) == 3);
    CHECK(w(2, 3) == T(8));
    auto w2 = detseg::as_view<2>(v);
    CHECK(w2(1, 1) == T(20));
}
