#include <detseg/dense/pooling.hpp>

#include "support/dense_fixtures.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;
using testing::fixture_values;
using testing::map_layout;
using testing::same_value;
using testing::stored_map;

namespace {

/// Max pooling from the definition: the window's taps inside the input (padding is -inf); NaN
/// wins; no tap gives -inf.
template <class T>
T oracle_max(const detseg::strided_view<const T, 4>& x, index_t n, index_t c, index_t oy,
             index_t ox, const std::array<index_t, 8>& g) { // kh kw sh sw ph pw dh dw
    T m = -std::numeric_limits<T>::infinity();
    bool nan = false;
    for (index_t u = 0; u < g[0]; ++u)
        for (index_t v = 0; v < g[1]; ++v) {
            const index_t y = oy * g[2] - g[4] + u * g[6], xx = ox * g[3] - g[5] + v * g[7];
            if (y < 0 || y >= x.extent(2) || xx < 0 || xx >= x.extent(3))
                continue;
            const T t = x(n, c, y, xx);
            nan |= std::isnan(t);
            m = std::max(m, t);
        }
    return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

/// The number of windows from the definition. Floor mode: window o (spanning d(k-1)+1 padded
/// positions from o·s) lies wholly in the padded input. Ceil mode: window o starts inside the
/// input or its left padding, and window o-1 did not reach the end of the padded input.
index_t oracle_out_size(index_t in, index_t k, index_t s, index_t p, index_t d, bool ceil_mode) {
    const index_t span = d * (k - 1) + 1;
    index_t count = 0;
    for (index_t o = 0;; ++o) {
        const bool exists = ceil_mode ? (o - 1) * s + span < in + 2 * p && o * s < in + p
                                      : o * s + span <= in + 2 * p;
        if (!exists)
            return count;
        ++count;
    }
}

} // namespace

TEST_CASE_TEMPLATE("global_avg_pool equals F.adaptive_avg_pool2d(x, 1) bit for bit on every "
                   "fixture",
                   T, float, double) {
    const auto cases = testing::dense_ops_cases("global_avg_pool");
    const auto ref = testing::dense_ops_outputs<T>("global_avg_pool");
    REQUIRE(cases.extent(0) == 14);
    std::size_t offset = 0;
    int naive_differs = 0; // a left-to-right sum would not match: the order matters
    for (index_t k = 0; k < cases.extent(0); ++k) {
        const auto seed = static_cast<std::uint64_t>(cases(k, 0));
        const std::array<index_t, 4> e{
            static_cast<index_t>(cases(k, 1)), static_cast<index_t>(cases(k, 2)),
            static_cast<index_t>(cases(k, 3)), static_cast<index_t>(cases(k, 4))};
        CAPTURE(seed);
        auto v = fixture_values<T>(seed, e[0] * e[1] * e[2] * e[3]);
        for (auto& x : v)
            x = x + T(1); // as the script: mean 1
        const std::vector<T> want(ref.begin() + static_cast<std::ptrdiff_t>(offset),
                                  ref.begin() + static_cast<std::ptrdiff_t>(offset + e[0] * e[1]));
        offset += static_cast<std::size_t>(e[0] * e[1]);
        for (index_t p = 0; p < e[0] * e[1]; ++p) {
            T s = 0;
            for (index_t i = 0; i < e[2] * e[3]; ++i)
                s += v[static_cast<std::size_t>(p * e[2] * e[3] + i)];
            naive_differs += s / static_cast<T>(e[2] * e[3]) != want[static_cast<std::size_t>(p)];
        }
        const int layouts = e[2] * e[3] > 20000 && testing::sanitized_build ? 1 : 3;
        for (int li = 0; li < layouts; ++li) {
            const map_layout l = testing::all_layouts[li];
            CAPTURE(testing::layout_name(l));
            stored_map<T> in(v, e, l);
            const detseg::strided_view<const T, 4> x = in.view;
            const auto got = detseg::global_avg_pool(x);
            CHECK(std::vector<T>(got.flat().begin(), got.flat().end()) == want);
            std::vector<double> ob(want.size() * 2, -1.0); // N×C with a column stride of 2
            detseg::global_avg_pool(x, detseg::make_view(ob.data(), {e[0], e[1]}, {2 * e[1], 2}));
            int bad = 0;
            for (std::size_t i = 0; i < want.size(); ++i)
                bad += ob[2 * i] != static_cast<double>(want[i]);
            CHECK(bad == 0);
            if (e[0] == 1) {
                const detseg::strided_view<const T, 3> x3(x.data_handle(), {e[1], e[2], e[3]},
                                                          {x.stride(1), x.stride(2), x.stride(3)});
                const auto g3 = detseg::global_avg_pool(x3);
                CHECK(std::vector<T>(g3.flat().begin(), g3.flat().end()) == want);
            }
        }
    }
    CHECK(offset == ref.size());
    CHECK(naive_differs > 0);
}

TEST_CASE_TEMPLATE("global_avg_pool is the mean within rounding on random shapes; parallel = "
                   "serial",
                   T, float, double) {
    std::mt19937_64 rng(91);
    std::uniform_int_distribution<index_t> size(1, 70);
    std::uniform_real_distribution<double> val(-1.0, 3.0);
    const long double eps = std::numeric_limits<T>::epsilon();
    for (int trial = 0; trial < 30; ++trial) {
        const index_t n = 1 + trial % 2, c = 1 + trial % 5, h = size(rng), w = size(rng);
        std::vector<T> v(static_cast<std::size_t>(n * c * h * w));
        for (auto& e : v)
            e = static_cast<T>(val(rng));
        stored_map<T> in(v, {n, c, h, w}, testing::all_layouts[trial % 3]);
        const detseg::strided_view<const T, 4> x = in.view;
        const auto got = detseg::global_avg_pool(x);
        int bad = 0;
        for (index_t a = 0; a < n; ++a)
            for (index_t b = 0; b < c; ++b) {
                long double s = 0, mag = 0;
                for (index_t i = 0; i < h; ++i)
                    for (index_t j = 0; j < w; ++j) {
                        s += x(a, b, i, j);
                        mag += std::fabs(static_cast<long double>(x(a, b, i, j)));
                    }
                const long double mean = s / (h * w);
                // a cascade of depth ≤ ~log2(HW) roundings
                bad += std::fabs(got(a, b) - mean) > 40 * eps * mag / (h * w);
            }
        CAPTURE(trial);
        CHECK(bad == 0);
    }
    // 64 planes of 40×40 (≥ 2^16 elements: planes in parallel) against each plane alone
    const index_t n = 2, c = 32, h = 40, w = 40;
    auto v = fixture_values<T>(5, n * c * h * w);
    const detseg::strided_view<const T, 4> x(v.data(), {n, c, h, w});
    const auto all = detseg::global_avg_pool(x);
    int bad = 0;
    for (index_t a = 0; a < n; ++a)
        for (index_t b = 0; b < c; ++b) {
            const detseg::strided_view<const T, 3> plane(&x(a, b, 0, 0), {1, h, w}, {0, w, 1});
            bad += detseg::global_avg_pool(plane)(0) != all(a, b);
        }
    CHECK(bad == 0);
}

TEST_CASE_TEMPLATE("max_pool2d equals F.max_pool2d bit for bit on every fixture", T, float,
                   double) {
    const auto cases = testing::dense_ops_cases("max_pool2d");
    const auto ref = testing::dense_ops_outputs<T>("max_pool2d");
    REQUIRE(cases.extent(0) == 12);
    std::size_t offset = 0;
    for (index_t k = 0; k < cases.extent(0); ++k) {
        auto g = [&](index_t col) { return static_cast<index_t>(cases(k, col)); };
        const auto seed = static_cast<std::uint64_t>(cases(k, 0));
        const std::array<index_t, 4> e{g(1), g(2), g(3), g(4)};
        detseg::max_pool2d_params p{.kernel = {g(5), g(6)},
                                    .padding = {g(9), g(10)},
                                    .dilation = {g(11), g(12)},
                                    .ceil_mode = cases(k, 13) != 0.0};
        if (g(7) > 0)
            p.stride = std::array<index_t, 2>{g(7), g(8)};
        const index_t oh = g(15), ow = g(16);
        CAPTURE(seed);
        CHECK(detseg::max_pool2d_output_size(e[2], e[3], p) == std::array<index_t, 2>{oh, ow});
        const auto v = fixture_values<T>(seed, e[0] * e[1] * e[2] * e[3], cases(k, 14) != 0.0);
        const index_t count = e[0] * e[1] * oh * ow;
        const std::vector<T> want(ref.begin() + static_cast<std::ptrdiff_t>(offset),
                                  ref.begin() + static_cast<std::ptrdiff_t>(offset + count));
        offset += static_cast<std::size_t>(count);
        for (map_layout l : testing::all_layouts) {
            CAPTURE(testing::layout_name(l));
            stored_map<T> in(v, e, l);
            const detseg::strided_view<const T, 4> x = in.view;
            const auto got = detseg::max_pool2d(x, p);
            REQUIRE(got.extents() == std::array<index_t, 4>{e[0], e[1], oh, ow});
            int bad = 0;
            for (std::size_t i = 0; i < want.size(); ++i)
                bad += !same_value(got.flat()[i], want[i]);
            CHECK(bad == 0);
            stored_map<double> o(std::vector<double>(want.size()), {e[0], e[1], oh, ow},
                                 map_layout::nhwc);
            detseg::max_pool2d(x, o.view, p);
            bad = 0;
            std::size_t i = 0;
            for (index_t a = 0; a < e[0]; ++a)
                for (index_t b = 0; b < e[1]; ++b)
                    for (index_t y = 0; y < oh; ++y)
                        for (index_t xx = 0; xx < ow; ++xx)
                            bad += !same_value(o.view(a, b, y, xx), want[i++]);
            CHECK(bad == 0);
            if (e[0] == 1) {
                const detseg::strided_view<const T, 3> x3(x.data_handle(), {e[1], e[2], e[3]},
                                                          {x.stride(1), x.stride(2), x.stride(3)});
                const auto g3 = detseg::max_pool2d(x3, p);
                bad = 0;
                for (std::size_t j = 0; j < want.size(); ++j)
                    bad += !same_value(g3.flat()[j], want[j]);
                CHECK(bad == 0);
            }
        }
    }
    CHECK(offset == ref.size());
}

TEST_CASE_TEMPLATE("max_pool2d equals the definition on random parameters", T, float, double) {
    std::mt19937_64 rng(92);
    std::uniform_int_distribution<index_t> size(1, 20), small(1, 4);
    std::uniform_real_distribution<double> val(-5.0, 5.0);
    int runs = 0;
    for (int trial = 0; trial < 400; ++trial) {
        const index_t n = 1 + trial % 2, c = 1 + trial % 3, h = size(rng), w = size(rng);
        const index_t kh = small(rng), kw = small(rng);
        std::array<index_t, 8> g{kh, kw, small(rng), small(rng),
                                 std::uniform_int_distribution<index_t>(0, kh / 2)(rng),
                                 std::uniform_int_distribution<index_t>(0, kw / 2)(rng),
                                 small(rng), small(rng)};
        const bool ceil_mode = trial % 2 == 1;
        if (trial % 5 == 0) { // default stride
            g[2] = kh;
            g[3] = kw;
        }
        const index_t oh = oracle_out_size(h, kh, g[2], g[4], g[6], ceil_mode);
        const index_t ow = oracle_out_size(w, kw, g[3], g[5], g[7], ceil_mode);
        detseg::max_pool2d_params p{.kernel = {kh, kw},
                                    .padding = {g[4], g[5]},
                                    .dilation = {g[6], g[7]},
                                    .ceil_mode = ceil_mode};
        if (trial % 5 != 0)
            p.stride = std::array<index_t, 2>{g[2], g[3]};
        std::vector<T> v(static_cast<std::size_t>(n * c * h * w));
        for (auto& e : v)
            e = static_cast<T>(val(rng));
        if (trial % 7 == 0)
            v[v.size() / 2] = std::numeric_limits<T>::quiet_NaN();
        stored_map<T> in(v, {n, c, h, w}, testing::all_layouts[trial % 3]);
        const detseg::strided_view<const T, 4> x = in.view;
        CAPTURE(trial);
        if (oh < 1 || ow < 1) {
            testing::expect_invalid([&] { (void)detseg::max_pool2d(x, p); }, "max_pool2d",
                                    "kernel");
            continue;
        }
        ++runs;
        const auto got = detseg::max_pool2d(x, p);
        REQUIRE(got.extents() == std::array<index_t, 4>{n, c, oh, ow});
        int bad = 0;
        for (index_t a = 0; a < n; ++a)
            for (index_t b = 0; b < c; ++b)
                for (index_t y = 0; y < oh; ++y)
                    for (index_t xx = 0; xx < ow; ++xx)
                        bad += !same_value(got(a, b, y, xx), oracle_max(x, a, b, y, xx, g));
        CHECK(bad == 0);
    }
    CHECK(runs > 250);
}

TEST_CASE("max_pool2d: the parallel path equals per-plane runs") {
    const index_t n = 2, c = 4, h = 90, w = 110;
    const auto v = fixture_values<float>(17, n * c * h * w, true);
    const detseg::strided_view<const float, 4> x(v.data(), {n, c, h, w});
    const detseg::max_pool2d_params p{.kernel = {3, 3},
                                      .stride = std::array<index_t, 2>{1, 1},
                                      .padding = {1, 1}};
    const auto all = detseg::max_pool2d(x, p);
    int bad = 0;
    for (index_t a = 0; a < n; ++a)
        for (index_t b = 0; b < c; ++b) {
            const detseg::strided_view<const float, 3> plane(&x(a, b, 0, 0), {1, h, w}, {0, w, 1});
            const auto one = detseg::max_pool2d(plane, p);
            for (index_t y = 0; y < h; ++y)
                for (index_t xx = 0; xx < w; ++xx)
                    bad += !same_value(one(0, y, xx), all(a, b, y, xx));
        }
    CHECK(bad == 0);
}

TEST_CASE("pooling rejects bad input") {
    using testing::expect_invalid;
    std::vector<float> buf(2 * 3 * 5 * 6, 1.0f), ob(200);
    const auto x = detseg::make_view(buf.data(), {2, 3, 5, 6});
    const auto x3 = detseg::make_view(buf.data(), {3, 5, 6});
    const auto empty = detseg::make_view(buf.data(), {2, 3, 0, 6});
    const std::string gap = "global_avg_pool", mp = "max_pool2d";

    expect_invalid([&] { (void)detseg::global_avg_pool(empty); }, gap, "x");
    expect_invalid([&] { detseg::global_avg_pool(empty, detseg::make_view(ob.data(), {2, 3})); },
                   gap, "x");
    expect_invalid([&] { detseg::global_avg_pool(x, detseg::make_view(ob.data(), {3, 2})); }, gap,
                   "out");
    expect_invalid([&] { detseg::global_avg_pool(x3, detseg::make_view(ob.data(), {2})); }, gap,
                   "out");

    auto pool = [&](detseg::max_pool2d_params p) { (void)detseg::max_pool2d(x, p); };
    using A = std::array<index_t, 2>;
    expect_invalid([&] { pool({}); }, mp, "kernel");
    expect_invalid([&] { pool({.kernel = {0, 2}}); }, mp, "kernel");
    expect_invalid([&] { pool({.kernel = {2, -1}}); }, mp, "kernel");
    expect_invalid([&] { pool({.kernel = {2, 2}, .stride = A{0, 1}}); }, mp, "stride");
    expect_invalid([&] { pool({.kernel = {2, 2}, .stride = A{1, -1}}); }, mp, "stride");
    expect_invalid([&] { pool({.kernel = {2, 2}, .dilation = {0, 1}}); }, mp, "dilation");
    expect_invalid([&] { pool({.kernel = {2, 2}, .dilation = {1, -2}}); }, mp, "dilation");
    expect_invalid([&] { pool({.kernel = {3, 3}, .padding = {-1, 0}}); }, mp, "padding");
    expect_invalid([&] { pool({.kernel = {3, 3}, .padding = {2, 1}}); }, mp, "padding");
    expect_invalid([&] { pool({.kernel = {3, 1}, .padding = {1, 1}}); }, mp, "padding");
    expect_invalid([&] { pool({.kernel = {6, 2}}); }, mp, "kernel"); // 5 rows: output 0
    expect_invalid([&] { pool({.kernel = {3, 3}, .dilation = {3, 1}}); }, mp, "kernel");
    expect_invalid([&] { (void)detseg::max_pool2d(empty, {.kernel = {1, 1}}); }, mp, "x");
    expect_invalid(
        [&] {
            detseg::max_pool2d(x, detseg::make_view(ob.data(), {2, 3, 2, 2}), {.kernel = {2, 2}});
        },
        mp, "out");
    expect_invalid(
        [&] {
            detseg::max_pool2d(x, detseg::make_view(ob.data(), {2, 2, 2, 3}), {.kernel = {2, 2}});
        },
        mp, "out");
    expect_invalid([&] { (void)detseg::max_pool2d_output_size(5, 6, {.kernel = {0, 1}}); },
                   "max_pool2d_output_size", "kernel");
    detseg::max_pool2d(x, detseg::make_view(ob.data(), {2, 3, 2, 3}), {.kernel = {2, 2}});
    CHECK(ob[0] == 1.0f);
}
