#include <detseg/dense/resize.hpp>

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
using testing::all_layouts;
using testing::fixture_values;
using testing::layout_name;
using testing::map_layout;
using testing::stored_map;

namespace {

struct resize_case {
    std::uint64_t seed;
    index_t n, c, h, w, oh, ow;
    bool align;
    double sh, sw;
};

std::vector<resize_case> resize_cases() {
    const auto t = testing::dense_ops_cases("resize");
    std::vector<resize_case> out;
    for (index_t i = 0; i < t.extent(0); ++i) {
        auto g = [&](index_t k) { return static_cast<index_t>(t(i, k)); };
        out.push_back({static_cast<std::uint64_t>(t(i, 0)), g(1), g(2), g(3), g(4), g(5), g(6),
                       t(i, 7) != 0.0, t(i, 8), t(i, 9)});
    }
    return out;
}

/// Runs the case through the size or scale overload, output into `out`.
template <class X, class O>
void run(const resize_case& k, X&& x, O&& out) {
    if (k.sh > 0)
        detseg::resize_bilinear_scale(x, k.sh, k.sw, out, {.align_corners = k.align});
    else
        detseg::resize_bilinear(x, out, {.align_corners = k.align});
}

template <class X>
auto run_returning(const resize_case& k, X&& x) {
    if (k.sh > 0)
        return detseg::resize_bilinear_scale(x, k.sh, k.sw, {.align_corners = k.align});
    return detseg::resize_bilinear(x, k.oh, k.ow, {.align_corners = k.align});
}

/// Long-double bilinear interpolation from the definition (exact rational source coordinates).
template <class T>
long double oracle(const detseg::strided_view<const T, 4>& x, index_t n, index_t c, index_t oy,
                   index_t ox, index_t oh, index_t ow, bool align) {
    auto coord = [&](index_t o, index_t in, index_t out, index_t& i0, index_t& i1,
                     long double& l1) {
        long double src;
        if (align)
            src = out > 1 ? static_cast<long double>(o) * (in - 1) / (out - 1) : 0.0L;
        else
            src = std::max(0.0L, (o + 0.5L) * in / out - 0.5L);
        i0 = std::min(static_cast<index_t>(src), in - 1);
        i1 = std::min(i0 + 1, in - 1);
        l1 = src - static_cast<long double>(i0);
    };
    index_t y0, y1, x0, x1;
    long double ly, lx;
    coord(oy, x.extent(2), oh, y0, y1, ly);
    coord(ox, x.extent(3), ow, x0, x1, lx);
    auto at = [&](index_t y, index_t xx) { return static_cast<long double>(x(n, c, y, xx)); };
    return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
           ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
}

} // namespace

TEST_CASE_TEMPLATE("resize_bilinear equals F.interpolate bit for bit on every fixture", T, float,
                   double) {
    const auto cases = resize_cases();
    const auto ref = testing::dense_ops_outputs<T>("resize");
    REQUIRE(cases.size() == 28);
    std::size_t offset = 0;
    for (const auto& k : cases) {
        CAPTURE(k.seed);
        const std::array<index_t, 4> in_e{k.n, k.c, k.h, k.w}, out_e{k.n, k.c, k.oh, k.ow};
        const auto v = fixture_values<T>(k.seed, k.n * k.c * k.h * k.w);
        const index_t count = k.n * k.c * k.oh * k.ow;
        const std::vector<T> want(ref.begin() + static_cast<std::ptrdiff_t>(offset),
                                  ref.begin() + static_cast<std::ptrdiff_t>(offset + count));
        offset += static_cast<std::size_t>(count);

        for (map_layout l : all_layouts) {
            CAPTURE(layout_name(l));
            stored_map<T> in(v, in_e, l);
            const detseg::strided_view<const T, 4> x = in.view;
            // returning overload, rank 4
            const auto got = run_returning(k, x);
            REQUIRE(got.extents() == out_e);
            // a 1×1 input is broadcast exactly; PyTorch's channels-last kernel is 1-2 ulp off
            const long long tol = k.h == 1 && k.w == 1 ? 2 : 0;
            int bad = 0;
            for (index_t i = 0; i < count; ++i)
                bad += testing::ulp_distance(got.flat()[static_cast<std::size_t>(i)],
                                             want[static_cast<std::size_t>(i)]) > tol;
            CHECK(bad == 0);
            // output overload into a strided view (NHWC), also converting to double
            stored_map<double> o(std::vector<double>(static_cast<std::size_t>(count), 0.0), out_e,
                                 map_layout::nhwc);
            run(k, x, o.view);
            bad = 0;
            index_t e = 0;
            for (index_t a = 0; a < k.n; ++a)
                for (index_t b = 0; b < k.c; ++b)
                    for (index_t y = 0; y < k.oh; ++y)
                        for (index_t xx = 0; xx < k.ow; ++xx)
                            bad += o.view(a, b, y, xx) !=
                                   static_cast<double>(got.flat()[static_cast<std::size_t>(e++)]);
            CHECK(bad == 0);
            // lower ranks: C×H×W for N = 1, H×W for N = C = 1
            if (k.n == 1) {
                const detseg::strided_view<const T, 3> x3(
                    x.data_handle(), {k.c, k.h, k.w}, {x.stride(1), x.stride(2), x.stride(3)});
                const auto g3 = run_returning(k, x3);
                CHECK(g3.flat().size() == got.flat().size());
                CHECK(std::equal(g3.flat().begin(), g3.flat().end(), got.flat().begin()));
            }
            if (k.n == 1 && k.c == 1) {
                const detseg::strided_view<const T, 2> x2(x.data_handle(), {k.h, k.w},
                                                          {x.stride(2), x.stride(3)});
                const auto g2 = run_returning(k, x2);
                CHECK(g2.flat().size() == got.flat().size());
                CHECK(std::equal(g2.flat().begin(), g2.flat().end(), got.flat().begin()));
            }
        }
    }
    CHECK(offset == ref.size());
}

TEST_CASE_TEMPLATE("resize_bilinear agrees with the exact definition on random shapes", T, float,
                   double) {
    std::mt19937_64 rng(61);
    std::uniform_int_distribution<index_t> size(1, 24), chans(1, 3);
    std::uniform_real_distribution<double> val(-3.0, 3.0);
    // the float ratio in/out is rounded; the error it causes grows with the coordinate
    const long double tol = sizeof(T) == 4 ? 2e-5L : 1e-13L;
    for (int trial = 0; trial < 200; ++trial) {
        const index_t n = chans(rng), c = chans(rng), h = size(rng), w = size(rng);
        const index_t oh = size(rng) * 2, ow = size(rng);
        const bool align = trial % 2 == 1;
        std::vector<T> v(static_cast<std::size_t>(n * c * h * w));
        for (auto& e : v)
            e = static_cast<T>(val(rng));
        stored_map<T> in(v, {n, c, h, w}, all_layouts[trial % 3]);
        const detseg::strided_view<const T, 4> x = in.view;
        const auto got = detseg::resize_bilinear(x, oh, ow, {.align_corners = align});
        long double worst = 0;
        for (index_t a = 0; a < n; ++a)
            for (index_t b = 0; b < c; ++b)
                for (index_t y = 0; y < oh; ++y)
                    for (index_t xx = 0; xx < ow; ++xx) {
                        const long double d = std::fabs(
                            static_cast<long double>(got(a, b, y, xx)) -
                            oracle(x, a, b, y, xx, oh, ow, align));
                        worst = std::max(worst, d);
                    }
        CAPTURE(trial);
        CHECK(static_cast<double>(worst) <= static_cast<double>(tol * 3));
    }
}

TEST_CASE_TEMPLATE("resize_bilinear: copies, broadcasts and corners are exact", T, float, double) {
    std::mt19937_64 rng(62);
    std::uniform_real_distribution<double> val(-1e3, 1e3);
    std::vector<T> v(2 * 3 * 7 * 5);
    for (auto& e : v)
        e = static_cast<T>(val(rng));
    stored_map<T> in(v, {2, 3, 7, 5}, map_layout::padded_reversed);
    const detseg::strided_view<const T, 4> x = in.view;
    for (bool align : {false, true}) {
        // same size: a copy
        const auto same = detseg::resize_bilinear(x, 7, 5, {.align_corners = align});
        CHECK(std::vector<T>(same.flat().begin(), same.flat().end()) == v);
        // 1×1 input: a broadcast
        const detseg::strided_view<const T, 4> one(x.data_handle(), {2, 3, 1, 1}, x.strides());
        const auto b = detseg::resize_bilinear(one, 9, 11, {.align_corners = align});
        int bad = 0;
        for (index_t a = 0; a < 2; ++a)
            for (index_t c = 0; c < 3; ++c)
                for (index_t y = 0; y < 9; ++y)
                    for (index_t xx = 0; xx < 11; ++xx)
                        bad += b(a, c, y, xx) != one(a, c, 0, 0);
        CHECK(bad == 0);
    }
    // align_corners keeps the four corners
    const auto g = detseg::resize_bilinear(x, 19, 13, {.align_corners = true});
    for (index_t a = 0; a < 2; ++a)
        for (index_t c = 0; c < 3; ++c) {
            CHECK(g(a, c, 0, 0) == x(a, c, 0, 0));
            CHECK(g(a, c, 18, 0) == x(a, c, 6, 0));
            CHECK(g(a, c, 0, 12) == x(a, c, 0, 4));
            CHECK(g(a, c, 18, 12) == x(a, c, 6, 4));
        }
}

TEST_CASE("resize_bilinear: the parallel path equals the per-plane serial path") {
    // 2×3×40×50 → 2×3×97×123 (≥ 65536 outputs: rows in parallel); each plane alone is small
    const index_t n = 2, c = 3, h = 40, w = 50, oh = 97, ow = 123;
    const auto v = fixture_values<float>(77, n * c * h * w);
    stored_map<float> in(v, {n, c, h, w}, map_layout::nhwc);
    const detseg::strided_view<const float, 4> x = in.view;
    for (bool align : {false, true}) {
        const auto all = detseg::resize_bilinear(x, oh, ow, {.align_corners = align});
        int bad = 0;
        for (index_t a = 0; a < n; ++a)
            for (index_t b = 0; b < c; ++b) {
                const detseg::strided_view<const float, 4> plane(&x(a, b, 0, 0), {1, 2, h, w},
                                                                 {0, 0, x.stride(2), x.stride(3)});
                const auto p = detseg::resize_bilinear(plane, oh, ow, {.align_corners = align});
                for (index_t y = 0; y < oh; ++y)
                    for (index_t xx = 0; xx < ow; ++xx)
                        bad += p(0, 0, y, xx) != all(a, b, y, xx);
            }
        CHECK(bad == 0);
    }
}

TEST_CASE("resize_bilinear reads tensors and converts into another output type") {
    detseg::tensor<double, 3> t({2, 3, 4});
    for (index_t i = 0; i < t.size(); ++i)
        t.flat()[static_cast<std::size_t>(i)] = static_cast<double>(i % 7);
    detseg::tensor<float, 3> out({2, 6, 8});
    detseg::resize_bilinear(t, out);
    const auto back = detseg::resize_bilinear(t, 6, 8);
    int bad = 0;
    for (index_t i = 0; i < out.size(); ++i)
        bad += out.flat()[static_cast<std::size_t>(i)] !=
               static_cast<float>(back.flat()[static_cast<std::size_t>(i)]);
    CHECK(bad == 0);
}

TEST_CASE("resize_bilinear rejects bad input") {
    using testing::expect_invalid;
    std::vector<float> buf(2 * 3 * 4 * 5, 1.0f);
    const auto x = detseg::make_view(buf.data(), {2, 3, 4, 5});
    const auto empty_h = detseg::make_view(buf.data(), {2, 3, 0, 5});
    const auto empty_w = detseg::make_view(buf.data(), {3, 4, 0});
    std::vector<float> ob(2 * 3 * 6 * 7);
    const std::string fn = "resize_bilinear", fs = "resize_bilinear_scale";

    expect_invalid([&] { (void)detseg::resize_bilinear(empty_h, 3, 3); }, fn, "input");
    expect_invalid([&] { (void)detseg::resize_bilinear(empty_w, 3, 3); }, fn, "input");
    expect_invalid([&] { (void)detseg::resize_bilinear(x, 0, 3); }, fn, "out_height");
    expect_invalid([&] { (void)detseg::resize_bilinear(x, -2, 3); }, fn, "out_height");
    expect_invalid([&] { (void)detseg::resize_bilinear(x, 3, 0); }, fn, "out_width");
    expect_invalid([&] { detseg::resize_bilinear(x, detseg::make_view(ob.data(), {2, 2, 6, 7})); },
                   fn, "out");
    expect_invalid([&] { detseg::resize_bilinear(x, detseg::make_view(ob.data(), {1, 3, 6, 7})); },
                   fn, "out");
    expect_invalid([&] { detseg::resize_bilinear(x, detseg::make_view(ob.data(), {2, 3, 0, 7})); },
                   fn, "out");
    expect_invalid([&] { detseg::resize_bilinear(empty_h, detseg::make_view(ob.data(), {2, 3, 6, 7})); },
                   fn, "input");

    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    expect_invalid([&] { (void)detseg::resize_bilinear_scale(x, 0.0, 2.0); }, fs, "scale_h");
    expect_invalid([&] { (void)detseg::resize_bilinear_scale(x, -1.0, 2.0); }, fs, "scale_h");
    expect_invalid([&] { (void)detseg::resize_bilinear_scale(x, nan, 2.0); }, fs, "scale_h");
    expect_invalid([&] { (void)detseg::resize_bilinear_scale(x, 2.0, inf); }, fs, "scale_w");
    expect_invalid([&] { (void)detseg::resize_bilinear_scale(x, 2.0, 0.1); }, fs, "scale_w");
    expect_invalid([&] { (void)detseg::resize_bilinear_scale(x, 0.2, 2.0); }, fs, "scale_h");
    expect_invalid([&] { (void)detseg::resize_bilinear_scale(empty_h, 2.0, 2.0); }, fs, "input");
    // scale 1.5 gives 6×7; a 6×8 output is rejected
    expect_invalid(
        [&] { detseg::resize_bilinear_scale(x, 1.5, 1.5, detseg::make_view(ob.data(), {2, 3, 6, 6})); },
        fs, "out");
    detseg::resize_bilinear_scale(x, 1.5, 1.5, detseg::make_view(ob.data(), {2, 3, 6, 7}));
    CHECK(ob[0] == 1.0f);
}
