#include <detseg/dense/activation.hpp>

#include "support/dense_fixtures.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;
using testing::fixture_values;
using testing::same_value;

TEST_CASE_TEMPLATE("relu equals F.relu bit for bit on every fixture (NaN, ±inf, -0.0)", T, float,
                   double) {
    const auto cases = testing::dense_ops_cases("relu");
    const auto ref = testing::dense_ops_outputs<T>("relu");
    REQUIRE(cases.extent(0) == 3);
    std::size_t offset = 0;
    for (index_t k = 0; k < cases.extent(0); ++k) {
        const auto seed = static_cast<std::uint64_t>(cases(k, 0));
        const index_t n = static_cast<index_t>(cases(k, 1)), c = static_cast<index_t>(cases(k, 2)),
                      h = static_cast<index_t>(cases(k, 3)), w = static_cast<index_t>(cases(k, 4));
        const index_t count = n * c * h * w;
        CAPTURE(seed);
        const auto v = fixture_values<T>(seed, count, cases(k, 5) != 0.0);
        auto want = [&](index_t i) { return ref[offset + static_cast<std::size_t>(i)]; };

        // rank 1 (a vector), rank 4 returning, rank 4 transposed (W×H strides) into double
        const auto y1 = detseg::relu(v);
        const detseg::strided_view<const T, 4> x4(v.data(), {n, c, h, w});
        const auto y4 = detseg::relu(x4);
        std::vector<double> tb(static_cast<std::size_t>(count));
        const detseg::strided_view<double, 4> t4(tb.data(), {n, c, h, w}, {c * h * w, h * w, 1, h});
        detseg::relu(x4, t4);
        std::vector<T> inplace = v;
        detseg::relu_inplace(detseg::make_view(inplace.data(), {n * c, h, w}));
        int bad = 0;
        for (index_t i = 0; i < count; ++i) {
            const auto k4 = static_cast<std::size_t>(i);
            bad += !same_value(y1.flat()[k4], want(i));
            bad += !same_value(y4.flat()[k4], want(i));
            bad += !same_value(inplace[k4], want(i));
        }
        for (index_t a = 0, i = 0; a < n; ++a)
            for (index_t b = 0; b < c; ++b)
                for (index_t y = 0; y < h; ++y)
                    for (index_t x = 0; x < w; ++x)
                        bad += !same_value(t4(a, b, y, x), want(i++));
        CHECK(bad == 0);
        offset += static_cast<std::size_t>(count);
    }
    CHECK(offset == ref.size());
}

TEST_CASE_TEMPLATE("relu: x < 0 ? +0 : x on random data of every rank; parallel = serial", T,
                   float, double) {
    std::mt19937_64 rng(81);
    std::uniform_real_distribution<double> val(-2.0, 2.0);
    // 2×3×200×300 (≥ 2^18 elements: rows in parallel), read through a transposed view
    const index_t n = 2, c = 3, h = 200, w = 300;
    std::vector<T> v(static_cast<std::size_t>(n * c * h * w));
    for (auto& e : v)
        e = static_cast<T>(val(rng));
    v[7] = T(-0.0);
    v[11] = std::numeric_limits<T>::quiet_NaN();
    const detseg::strided_view<const T, 4> xt(v.data(), {n, c, w, h}, {c * h * w, h * w, 1, w});
    const auto y = detseg::relu(xt);
    const auto y2 = detseg::relu(detseg::strided_view<const T, 2>(v.data(), {n * c * h, w}));
    const auto y3 = detseg::relu(detseg::strided_view<const T, 3>(v.data(), {n * c, h, w}));
    int bad = 0;
    for (index_t a = 0; a < n; ++a)
        for (index_t b = 0; b < c; ++b)
            for (index_t i = 0; i < w; ++i)
                for (index_t j = 0; j < h; ++j) {
                    const T x = xt(a, b, i, j);
                    const T want = x < T(0) ? T(0) : x;
                    bad += !same_value(y(a, b, i, j), want);
                }
    for (std::size_t k = 0; k < v.size(); ++k) {
        const T want = v[k] < T(0) ? T(0) : v[k];
        bad += !same_value(y2.flat()[k], want) + !same_value(y3.flat()[k], want);
    }
    CHECK(bad == 0);
    CHECK(std::signbit(y2.flat()[7]));
    CHECK(std::isnan(y2.flat()[11]));
}

TEST_CASE("relu rejects an output of another shape") {
    std::vector<float> x(24, -1.0f), o(24);
    const std::string fn = "relu";
    testing::expect_invalid(
        [&] { detseg::relu(detseg::make_view(x.data(), {2, 3, 4}), detseg::make_view(o.data(), {2, 4, 3})); },
        fn, "out");
    testing::expect_invalid(
        [&] { detseg::relu(detseg::make_view(x.data(), {24}), detseg::make_view(o.data(), {23})); },
        fn, "out");
    detseg::relu(detseg::make_view(x.data(), {2, 3, 4}), detseg::make_view(o.data(), {2, 3, 4}));
    CHECK(o[5] == 0.0f);
}
