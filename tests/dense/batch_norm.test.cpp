#include <detseg/dense/batch_norm.hpp>

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
using testing::stored_map;

namespace {

/// gamma, beta, running_mean, running_var of a case (bn_params in the script).
template <class T>
struct bn_storage {
    std::vector<T> gamma, beta, mean, var;
    bn_storage(std::uint64_t seed, index_t c)
        : gamma(fixture_values<T>(seed + 1, c)), beta(fixture_values<T>(seed + 2, c)),
          mean(fixture_values<T>(seed + 3, c)) {
        for (double v : testing::fixture_stream(seed + 4, c))
            var.push_back(static_cast<T>(std::max(std::fabs(v) - 1.0, 0.0) * 0.5));
    }
    detseg::batch_norm_params<T> params(double eps, bool affine = true) const {
        detseg::batch_norm_params<T> p{.running_mean = detseg::as_view(mean),
                                       .running_var = detseg::as_view(var),
                                       .eps = eps};
        if (affine) {
            p.gamma = detseg::as_view(gamma);
            p.beta = detseg::as_view(beta);
        }
        return p;
    }
};

template <class V, class T>
int count_unequal(const V& got, const std::vector<T>& want) {
    int bad = 0;
    std::size_t k = 0;
    for (index_t a = 0; a < got.extent(0); ++a)
        for (index_t b = 0; b < got.extent(1); ++b)
            for (index_t y = 0; y < got.extent(2); ++y)
                for (index_t x = 0; x < got.extent(3); ++x)
                    bad += static_cast<double>(got(a, b, y, x)) != static_cast<double>(want[k++]);
    return bad + (k != want.size());
}

/// Naive cross-correlation, stride 1, zero padding, in long double: y[o, i, j].
template <class W, class X>
long double conv_at(const W& w, const X& x, index_t o, index_t i, index_t j, index_t pad,
                    long double* magnitude) {
    long double s = 0, m = 0;
    for (index_t c = 0; c < w.extent(1); ++c)
        for (index_t u = 0; u < w.extent(2); ++u)
            for (index_t v = 0; v < w.extent(3); ++v) {
                const index_t y = i + u - pad, xx = j + v - pad;
                if (y < 0 || y >= x.extent(2) || xx < 0 || xx >= x.extent(3))
                    continue;
                const long double t = static_cast<long double>(w(o, c, u, v)) *
                                      static_cast<long double>(x(0, c, y, xx));
                s += t;
                m += std::fabs(t);
            }
    *magnitude = m;
    return s;
}

} // namespace

TEST_CASE_TEMPLATE("batch_norm equals F.batch_norm (eval) bit for bit on every fixture", T, float,
                   double) {
    const auto cases = testing::dense_ops_cases("batch_norm");
    const auto ref = testing::dense_ops_outputs<T>("batch_norm");
    REQUIRE(cases.extent(0) == 7);
    std::size_t offset = 0;
    for (index_t k = 0; k < cases.extent(0); ++k) {
        const auto seed = static_cast<std::uint64_t>(cases(k, 0));
        const std::array<index_t, 4> e{static_cast<index_t>(cases(k, 1)),
                                       static_cast<index_t>(cases(k, 2)),
                                       static_cast<index_t>(cases(k, 3)),
                                       static_cast<index_t>(cases(k, 4))};
        const double eps = cases(k, 5);
        const bool affine = cases(k, 6) != 0.0;
        CAPTURE(seed);
        const index_t count = e[0] * e[1] * e[2] * e[3];
        const std::vector<T> want(ref.begin() + static_cast<std::ptrdiff_t>(offset),
                                  ref.begin() + static_cast<std::ptrdiff_t>(offset + count));
        offset += static_cast<std::size_t>(count);
        const bn_storage<T> bn(seed, e[1]);
        const auto params = bn.params(eps, affine);
        const auto v = fixture_values<T>(seed, count);
        for (map_layout l : testing::all_layouts) {
            CAPTURE(testing::layout_name(l));
            stored_map<T> in(v, e, l);
            const detseg::strided_view<const T, 4> x = in.view;
            CHECK(count_unequal(detseg::batch_norm(x, params).view(), want) == 0);
            // into a double NHWC output
            stored_map<double> out(std::vector<double>(static_cast<std::size_t>(count)), e,
                                   map_layout::nhwc);
            detseg::batch_norm(x, params, out.view);
            CHECK(count_unequal(out.view, want) == 0);
            // in place
            detseg::batch_norm(in.view, params, in.view);
            CHECK(count_unequal(in.view, want) == 0);
            if (e[0] == 1) { // C×H×W
                stored_map<T> in3(v, e, l);
                const detseg::strided_view<const T, 3> x3(
                    in3.view.data_handle(), {e[1], e[2], e[3]},
                    {in3.view.stride(1), in3.view.stride(2), in3.view.stride(3)});
                const auto y3 = detseg::batch_norm(x3, params);
                const detseg::strided_view<const T, 4> y4(y3.data(), e);
                CHECK(count_unequal(y4, want) == 0);
            }
        }
    }
    CHECK(offset == ref.size());
}

TEST_CASE_TEMPLATE("fold_batch_norm equals fuse_conv_bn_weights bit for bit, and conv with the "
                   "folded weights equals conv→BN",
                   T, float, double) {
    const auto cases = testing::dense_ops_cases("fold");
    const auto ref = testing::dense_ops_outputs<T>("fold");
    REQUIRE(cases.extent(0) == 5);
    std::size_t offset = 0;
    for (index_t k = 0; k < cases.extent(0); ++k) {
        auto g = [&](index_t col) { return static_cast<index_t>(cases(k, col)); };
        const auto seed = static_cast<std::uint64_t>(cases(k, 0));
        const std::array<index_t, 4> we{g(1), g(2), g(3), g(4)};
        const double eps = cases(k, 5);
        const bool has_bias = cases(k, 6) != 0.0;
        const index_t xh = g(7), xw = g(8), pad = g(9);
        CAPTURE(seed);
        const index_t o = we[0], wn = we[0] * we[1] * we[2] * we[3];
        const index_t oh = xh + 2 * pad - we[2] + 1, ow = xw + 2 * pad - we[3] + 1;
        const std::vector<T> want_w(ref.begin() + static_cast<std::ptrdiff_t>(offset),
                                    ref.begin() + static_cast<std::ptrdiff_t>(offset + wn));
        offset += static_cast<std::size_t>(wn);
        const std::vector<T> want_b(ref.begin() + static_cast<std::ptrdiff_t>(offset),
                                    ref.begin() + static_cast<std::ptrdiff_t>(offset + o));
        offset += static_cast<std::size_t>(o);
        const std::vector<T> want_y(
            ref.begin() + static_cast<std::ptrdiff_t>(offset),
            ref.begin() + static_cast<std::ptrdiff_t>(offset + o * oh * ow));
        offset += static_cast<std::size_t>(o * oh * ow);

        const bn_storage<T> bn(seed, o);
        const auto params = bn.params(eps);
        const auto wv = fixture_values<T>(seed, wn);
        const auto bias = fixture_values<T>(seed + 6, o);
        stored_map<T> w(wv, we, map_layout::padded_reversed); // strided weights
        const detseg::strided_view<const T, 4> wc = w.view;

        const auto folded = has_bias ? detseg::fold_batch_norm(wc, bias, params)
                                     : detseg::fold_batch_norm(wc, params);
        CHECK(count_unequal(folded.weight.view(), want_w) == 0);
        CHECK(std::vector<T>(folded.bias.flat().begin(), folded.bias.flat().end()) == want_b);

        // in place, into the caller's views
        std::vector<T> bias_io = bias;
        if (has_bias)
            detseg::fold_batch_norm(w.view, bias_io, params, w.view, bias_io);
        else
            detseg::fold_batch_norm(w.view, params, w.view, bias_io);
        CHECK(count_unequal(w.view, want_w) == 0);
        CHECK(bias_io == want_b);

        // conv(x, W') + b' against PyTorch's conv → BN
        const auto xv = fixture_values<T>(seed + 5, we[1] * xh * xw);
        const detseg::strided_view<const T, 4> x(xv.data(), {1, we[1], xh, xw});
        const auto fw = folded.weight.view();
        const long double tol = sizeof(T) == 4 ? 2e-6L : 1e-14L;
        int bad = 0;
        std::size_t e = 0;
        for (index_t oc = 0; oc < o; ++oc)
            for (index_t i = 0; i < oh; ++i)
                for (index_t j = 0; j < ow; ++j) {
                    long double mag = 0;
                    const long double y = conv_at(fw, x, oc, i, j, pad, &mag) +
                                          static_cast<long double>(folded.bias(oc));
                    const long double d = std::fabs(y - static_cast<long double>(want_y[e++]));
                    bad += d > tol * (mag + std::fabs(y) + 1);
                }
        CHECK(bad == 0);
    }
    CHECK(offset == ref.size());
}

TEST_CASE_TEMPLATE("batch_norm agrees with (x - mean)/sqrt(var + eps)·gamma + beta on random data",
                   T, float, double) {
    std::mt19937_64 rng(71);
    std::uniform_real_distribution<double> val(-5.0, 5.0), var(0.0, 3.0);
    const long double ulp = std::numeric_limits<T>::epsilon();
    for (int trial = 0; trial < 40; ++trial) {
        const index_t n = 1 + trial % 2, c = 1 + trial % 7, h = 1 + trial % 5, w = 2 + trial % 9;
        std::vector<T> xv(static_cast<std::size_t>(n * c * h * w)), g(c), b(c), m(c), v(c);
        for (auto& e : xv)
            e = static_cast<T>(val(rng));
        for (index_t k = 0; k < c; ++k) {
            g[k] = static_cast<T>(val(rng));
            b[k] = static_cast<T>(val(rng));
            m[k] = static_cast<T>(val(rng));
            v[k] = static_cast<T>(trial % 4 == 0 ? 0.0 : var(rng));
        }
        const double eps = trial % 3 == 0 ? 1e-5 : 0.01;
        const detseg::batch_norm_params<T> p{detseg::as_view(g), detseg::as_view(b),
                                             detseg::as_view(m), detseg::as_view(v), eps};
        stored_map<T> in(xv, {n, c, h, w}, testing::all_layouts[trial % 3]);
        const detseg::strided_view<const T, 4> x = in.view;
        const auto y = detseg::batch_norm(x, p);
        int bad = 0;
        for (index_t a = 0; a < n; ++a)
            for (index_t k = 0; k < c; ++k) {
                const long double s = 1.0L / std::sqrt(static_cast<long double>(v[k]) +
                                                       static_cast<long double>(static_cast<T>(eps)));
                for (index_t i = 0; i < h; ++i)
                    for (index_t j = 0; j < w; ++j) {
                        const long double xd = x(a, k, i, j);
                        const long double want = (xd - m[k]) * s * g[k] + b[k];
                        const long double mag =
                            (std::fabs(xd) + std::fabs(m[k])) * s * std::fabs(g[k]) + std::fabs(b[k]);
                        bad += std::fabs(y(a, k, i, j) - want) > 4 * ulp * mag;
                    }
            }
        CAPTURE(trial);
        CHECK(bad == 0);
    }
}

TEST_CASE("batch_norm: absent gamma and beta mean 1 and 0; the parallel path is the serial one") {
    const index_t n = 2, c = 3, h = 130, w = 170; // ≥ 2^17 elements: rows in parallel
    const auto xv = fixture_values<float>(91, n * c * h * w);
    const bn_storage<float> bn(91, c);
    std::vector<float> ones(c, 1.0f), zeros(c, 0.0f);
    auto with_unit = bn.params(1e-5, false);
    with_unit.gamma = detseg::as_view(ones);
    with_unit.beta = detseg::as_view(zeros);
    const detseg::strided_view<const float, 4> x(xv.data(), {n, c, h, w});
    const auto a = detseg::batch_norm(x, bn.params(1e-5, false));
    const auto b = detseg::batch_norm(x, with_unit);
    CHECK(a == b);
    int bad = 0;
    for (index_t i = 0; i < n; ++i)
        for (index_t k = 0; k < c; ++k) {
            const detseg::strided_view<const float, 3> plane(&x(i, k, 0, 0), {1, h, w}, {0, w, 1});
            auto one = bn.params(1e-5, false);
            one.running_mean = {bn.mean.data() + k, {1}};
            one.running_var = {bn.var.data() + k, {1}};
            const auto p = detseg::batch_norm(plane, one);
            for (index_t y = 0; y < h; ++y)
                for (index_t xx = 0; xx < w; ++xx)
                    bad += p(0, y, xx) != a(i, k, y, xx);
        }
    CHECK(bad == 0);
}

TEST_CASE("batch_norm and fold_batch_norm reject bad input") {
    using testing::expect_invalid;
    const index_t c = 3;
    std::vector<float> xb(2 * c * 4 * 5, 1.0f), ob(xb.size());
    const auto x = detseg::make_view(xb.data(), {2, c, 4, 5});
    std::vector<float> g(c, 1.0f), b(c, 0.0f), m(c, 0.5f), v(c, 2.0f), short_v(c - 1, 1.0f);
    const detseg::batch_norm_params<float> ok{detseg::as_view(g), detseg::as_view(b),
                                              detseg::as_view(m), detseg::as_view(v)};
    const std::string fn = "batch_norm", ff = "fold_batch_norm";
    auto with = [&](auto edit) {
        auto p = ok;
        edit(p);
        return p;
    };
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> bad_nan = m, bad_neg = v;
    bad_nan[1] = nan;
    bad_neg[2] = -1e-6f;
    const auto short_view = detseg::as_view(short_v);

    expect_invalid([&] { (void)detseg::batch_norm(x, with([&](auto& p) { p.gamma = short_view; })); },
                   fn, "gamma");
    expect_invalid([&] { (void)detseg::batch_norm(x, with([&](auto& p) { p.beta = short_view; })); },
                   fn, "beta");
    expect_invalid(
        [&] { (void)detseg::batch_norm(x, with([&](auto& p) { p.running_mean = short_view; })); },
        fn, "running_mean");
    expect_invalid(
        [&] { (void)detseg::batch_norm(x, with([&](auto& p) { p.running_var = short_view; })); },
        fn, "running_var");
    expect_invalid(
        [&] {
            (void)detseg::batch_norm(x, with([&](auto& p) { p.running_mean = {}; }));
        },
        fn, "running_mean");
    expect_invalid(
        [&] {
            (void)detseg::batch_norm(x, with([&](auto& p) {
                p.running_mean = detseg::as_view(bad_nan);
            }));
        },
        fn, "running_mean");
    expect_invalid(
        [&] {
            (void)detseg::batch_norm(x, with([&](auto& p) { p.gamma = detseg::as_view(bad_nan); }));
        },
        fn, "gamma");
    expect_invalid(
        [&] {
            (void)detseg::batch_norm(x,
                                     with([&](auto& p) { p.running_var = detseg::as_view(bad_neg); }));
        },
        fn, "running_var");
    expect_invalid([&] { (void)detseg::batch_norm(x, with([](auto& p) { p.eps = 0.0; })); }, fn,
                   "eps");
    expect_invalid([&] { (void)detseg::batch_norm(x, with([](auto& p) { p.eps = -1e-5; })); }, fn,
                   "eps");
    expect_invalid([&] { (void)detseg::batch_norm(x, with([](auto& p) { p.eps = 1e-50; })); }, fn,
                   "eps");
    expect_invalid(
        [&] {
            (void)detseg::batch_norm(
                x, with([](auto& p) { p.eps = std::numeric_limits<double>::quiet_NaN(); }));
        },
        fn, "eps");
    expect_invalid([&] { detseg::batch_norm(x, ok, detseg::make_view(ob.data(), {2, c, 5, 4})); },
                   fn, "out");
    expect_invalid([&] { detseg::batch_norm(x, ok, detseg::make_view(ob.data(), {1, c, 4, 5})); },
                   fn, "out");

    // fold: weights 3×2×3×3
    std::vector<float> wb(c * 2 * 9, 0.25f), wo(wb.size()), bias(c, 0.0f), bo(c);
    const auto w = detseg::make_view(wb.data(), {c, 2, 3, 3});
    std::vector<float> long_bias(c + 1, 0.0f), nan_bias = bias;
    nan_bias[0] = nan;
    expect_invalid([&] { (void)detseg::fold_batch_norm(w, long_bias, ok); }, ff, "bias");
    expect_invalid([&] { (void)detseg::fold_batch_norm(w, nan_bias, ok); }, ff, "bias");
    const auto w4 = detseg::make_view(wb.data(), {c - 1, 2, 3, 3});
    expect_invalid([&] { (void)detseg::fold_batch_norm(w4, ok); }, ff, "gamma");
    expect_invalid(
        [&] {
            (void)detseg::fold_batch_norm(
                w, with([&](auto& p) { p.running_var = detseg::as_view(bad_neg); }));
        },
        ff, "running_var");
    expect_invalid([&] { (void)detseg::fold_batch_norm(w, with([](auto& p) { p.eps = 0.0; })); },
                   ff, "eps");
    expect_invalid(
        [&] {
            detseg::fold_batch_norm(w, ok, detseg::make_view(wo.data(), {c, 2, 9, 1}),
                                    detseg::as_view(bo));
        },
        ff, "weight_out");
    expect_invalid(
        [&] {
            detseg::fold_batch_norm(w, bias, ok, detseg::make_view(wo.data(), {c, 2, 3, 3}),
                                    detseg::make_view(bo.data(), {c - 1}));
        },
        ff, "bias_out");
}
