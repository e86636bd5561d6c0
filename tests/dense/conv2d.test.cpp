#include <detseg/dense/conv2d.hpp>

#include "support/dense_fixtures.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

using detseg::index_t;

namespace {

using testing::counter_values;

double weight_scale(index_t fan_in) {
    const int e = (std::bit_width(static_cast<std::uint64_t>(fan_in)) - 1) / 2;
    return std::ldexp(1.0, -e);
}

struct conv_case {
    index_t n, c, h, w, o, kh, kw;
    detseg::conv2d_params p;
    bool bias;
    std::uint64_t seed;
};

conv_case read_case(const std::string& name) {
    const auto cfg =
        detseg::load_npy(testing::data_path("dense/conv/" + name + "_config.npy")).as<std::int64_t, 1>();
    auto g = [&](int i) { return static_cast<index_t>(cfg(i)); };
    return {g(0), g(1), g(2), g(3), g(4), g(5), g(6),
            detseg::conv2d_params{.stride = {g(7), g(8)}, .padding = {g(9), g(10)},
                                  .dilation = {g(11), g(12)}, .groups = g(13)},
            g(14) != 0, static_cast<std::uint64_t>(g(15))};
}

template <class T>
struct conv_inputs {
    detseg::tensor<T, 4> x, w;
    std::vector<T> b;
};

template <class T>
conv_inputs<T> make_inputs(const conv_case& k) {
    conv_inputs<T> in{detseg::tensor<T, 4>({std::max<index_t>(k.n, 1), k.c, k.h, k.w}),
                      detseg::tensor<T, 4>({k.o, k.c / k.p.groups, k.kh, k.kw}),
                      {}};
    const auto xv = counter_values(3 * k.seed, in.x.size());
    std::transform(xv.begin(), xv.end(), in.x.flat().begin(), [](double v) { return T(v); });
    const index_t fan = k.c / k.p.groups * k.kh * k.kw;
    const double s = weight_scale(fan);
    const auto wv = counter_values(3 * k.seed + 1, in.w.size());
    std::transform(wv.begin(), wv.end(), in.w.flat().begin(), [&](double v) { return T(v * s); });
    if (k.bias) {
        for (double v : counter_values(3 * k.seed + 2, k.o))
            in.b.push_back(T(v * 0.25));
    }
    return in;
}

// max |a - b| / max |b| over all elements.
template <class A, class B>
double rel_error(const A& a, const B& b) {
    double d = 0, m = 0;
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        d = std::max(d, std::abs(double(a[i]) - double(b[i])));
        m = std::max(m, std::abs(double(b[i])));
    }
    return m > 0 ? d / m : d;
}

// Brute-force convolution in long double from the definition.
template <class T>
std::vector<long double> oracle(const detseg::tensor<T, 4>& x, const detseg::tensor<T, 4>& w,
                                const std::vector<T>& b, const detseg::conv2d_params& p,
                                index_t ho, index_t wo) {
    const index_t n = x.extent(0), c = x.extent(1), h = x.extent(2), wd = x.extent(3);
    const index_t o = w.extent(0), cg = w.extent(1), kh = w.extent(2), kw = w.extent(3);
    const index_t og = o / p.groups;
    std::vector<long double> y;
    for (index_t im = 0; im < n; ++im)
        for (index_t oc = 0; oc < o; ++oc)
            for (index_t i = 0; i < ho; ++i)
                for (index_t j = 0; j < wo; ++j) {
                    long double s = b.empty() ? 0.0L : b[static_cast<std::size_t>(oc)];
                    for (index_t ci = 0; ci < cg; ++ci)
                        for (index_t u = 0; u < kh; ++u)
                            for (index_t v = 0; v < kw; ++v) {
                                const index_t iy = i * p.stride[0] - p.padding[0] + u * p.dilation[0];
                                const index_t ix = j * p.stride[1] - p.padding[1] + v * p.dilation[1];
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                    continue;
                                s += static_cast<long double>(w(oc, ci, u, v)) *
                                     x(im, (oc / og) * cg + ci, iy, ix);
                            }
                    y.push_back(s);
                }
    (void)c;
    return y;
}

std::vector<std::string> case_names() {
    return testing::fixture_case_names("dense/conv/cases.txt");
}

template <class T>
std::vector<T> flat(const detseg::tensor<T, 3>& t) {
    return {t.flat().begin(), t.flat().end()};
}
template <class T>
std::vector<T> flat(const detseg::tensor<T, 4>& t) {
    return {t.flat().begin(), t.flat().end()};
}

} // namespace

TEST_CASE_TEMPLATE("conv2d equals torch.nn.functional.conv2d on every fixture", T, float, double) {
    const auto names = case_names();
    REQUIRE(names.size() == 14);
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
    for (const std::string& name : names) {
        CAPTURE(name);
        const conv_case k = read_case(name);
        const auto in = make_inputs<T>(k);
        const std::string tag = sizeof(T) == 4 ? "_f32.npy" : "_f64.npy";
        const auto ref = detseg::load_npy(testing::data_path("dense/conv/" + name + tag));
        if (k.n == 0) {
            const auto r = ref.as<T, 3>();
            const auto x3 = detseg::make_view(in.x.data(), {k.c, k.h, k.w});
            const auto y = k.bias ? detseg::conv2d(x3, in.w, in.b, k.p) : detseg::conv2d(x3, in.w, k.p);
            REQUIRE(y.extents() == r.extents());
            CHECK(rel_error(flat(y), flat(r)) <= tol);
            // into a caller's view
            detseg::tensor<T, 3> out(r.extents(), T(-7));
            if (k.bias)
                detseg::conv2d(x3, in.w, in.b, out, k.p);
            else
                detseg::conv2d(x3, in.w, out, k.p);
            CHECK(out == y);
        } else {
            const auto r = ref.as<T, 4>();
            const auto y = k.bias ? detseg::conv2d(in.x, in.w, in.b, k.p) : detseg::conv2d(in.x, in.w, k.p);
            REQUIRE(y.extents() == r.extents());
            CHECK(rel_error(flat(y), flat(r)) <= tol);
        }
    }
}

TEST_CASE_TEMPLATE("conv2d matches a brute-force oracle on random shapes", T, float, double) {
    std::mt19937_64 rng(20261121);
    auto pick = [&](index_t lo, index_t hi) {
        return std::uniform_int_distribution<index_t>(lo, hi)(rng);
    };
    const int trials = testing::sanitized_build ? 12 : 60;
    for (int t = 0; t < trials; ++t) {
        conv_case k{};
        k.p.groups = pick(1, 3);
        k.c = k.p.groups * pick(1, 40);
        k.o = k.p.groups * pick(1, 30);
        if (t % 7 == 0) { // depthwise
            k.p.groups = k.c = pick(1, 12);
            k.o = k.c * pick(1, 2);
        }
        k.n = pick(0, 2);
        k.kh = pick(1, 4);
        k.kw = pick(1, 4);
        k.p.stride = {pick(1, 3), pick(1, 3)};
        k.p.dilation = {pick(1, 5), pick(1, 5)};
        k.p.padding = {pick(0, 8), pick(0, 8)};
        k.h = pick(1, 20);
        k.w = pick(1, 40);
        const index_t span_h = k.p.dilation[0] * (k.kh - 1) + 1;
        const index_t span_w = k.p.dilation[1] * (k.kw - 1) + 1;
        if (span_h > k.h + 2 * k.p.padding[0])
            k.h = span_h;
        if (span_w > k.w + 2 * k.p.padding[1])
            k.w = span_w;
        k.bias = t % 2 == 0;
        k.seed = 1000 + static_cast<std::uint64_t>(t);
        CAPTURE(t);
        const auto in = make_inputs<T>(k);
        const auto y = k.bias ? detseg::conv2d(in.x, in.w, in.b, k.p) : detseg::conv2d(in.x, in.w, k.p);
        const auto ref = oracle(in.x, in.w, in.b, k.p, y.extent(2), y.extent(3));
        REQUIRE(static_cast<std::size_t>(y.size()) == ref.size());
        // Error bound: per element, relative to the sum of |terms| (plus the bias).
        const double eps = sizeof(T) == 4 ? 1e-6 : 1e-15;
        const index_t taps = k.c / k.p.groups * k.kh * k.kw;
        double worst = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) {
            const double d = std::abs(double(y.flat()[i]) - double(ref[i]));
            worst = std::max(worst, d / (double(taps + 1) * eps * 4.0));
        }
        CHECK(worst <= 1.0);
    }
}

TEST_CASE("conv2d: any strides in and out, float into double, 4-D batches") {
    const conv_case k{2, 12, 9, 14, 10, 3, 3,
                      detseg::conv2d_params{.padding = {2, 3}, .dilation = {2, 3}, .groups = 2},
                      true, 77};
    const auto in = make_inputs<float>(k);
    const auto ref = detseg::conv2d(in.x, in.w, in.b, k.p);
    // The input as N×H×W×C memory, viewed as N×C×H×W through strides.
    std::vector<float> nhwc(static_cast<std::size_t>(in.x.size()));
    for (index_t n = 0; n < k.n; ++n)
        for (index_t c = 0; c < k.c; ++c)
            for (index_t i = 0; i < k.h; ++i)
                for (index_t j = 0; j < k.w; ++j)
                    nhwc[static_cast<std::size_t>(((n * k.h + i) * k.w + j) * k.c + c)] = in.x(n, c, i, j);
    const auto xs = detseg::make_view(nhwc.data(), {k.n, k.c, k.h, k.w},
                                      {k.h * k.w * k.c, index_t{1}, k.w * k.c, k.c});
    const auto y1 = detseg::conv2d(xs, in.w, in.b, k.p);
    CHECK(y1 == ref);
    // Output into a column-major-like double buffer.
    const index_t o = ref.extent(1), ho = ref.extent(2), wo = ref.extent(3);
    std::vector<double> buf(static_cast<std::size_t>(ref.size()), -1.0);
    auto ov = detseg::make_view(buf.data(), {k.n, o, ho, wo}, {o * ho * wo, index_t{1}, o, o * ho});
    detseg::conv2d(xs, in.w, in.b, ov, k.p);
    int bad = 0;
    for (index_t n = 0; n < k.n; ++n)
        for (index_t c = 0; c < o; ++c)
            for (index_t i = 0; i < ho; ++i)
                for (index_t j = 0; j < wo; ++j)
                    bad += ov(n, c, i, j) != double(ref(n, c, i, j));
    CHECK(bad == 0);
    // Each image alone as C×H×W gives the batch's slice.
    for (index_t n = 0; n < k.n; ++n) {
        const auto x3 = detseg::make_view(&in.x(n, 0, 0, 0), {k.c, k.h, k.w});
        const auto y3 = detseg::conv2d(x3, in.w, in.b, k.p);
        CHECK(std::equal(y3.flat().begin(), y3.flat().end(), &ref(n, 0, 0, 0)));
    }
}

TEST_CASE("conv2d: the same bits for any thread count and for both SIMD kernels") {
    const conv_case k{0, 96, 21, 23, 50, 3, 3,
                      detseg::conv2d_params{.padding = {6, 6}, .dilation = {6, 6}}, true, 5};
    const auto in = make_inputs<float>(k);
    const auto ind = make_inputs<double>(k);
    const auto x3 = detseg::make_view(in.x.data(), {k.c, k.h, k.w});
    const auto x3d = detseg::make_view(ind.x.data(), {k.c, k.h, k.w});
    const auto ref = detseg::conv2d(x3, in.w, in.b, k.p);
    const auto refd = detseg::conv2d(x3d, ind.w, ind.b, k.p);
#if DETSEG_HAS_OPENMP
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3, 5}) {
        omp_set_num_threads(threads);
        CHECK(detseg::conv2d(x3, in.w, in.b, k.p) == ref);
        CHECK(detseg::conv2d(x3d, ind.w, ind.b, k.p) == refd);
    }
    omp_set_num_threads(saved);
#endif
    using detseg::detail::gemm_isa;
    const gemm_isa best = detseg::detail::gemm_isa_supported();
    if (best == gemm_isa::avx512) {
        detseg::detail::gemm_isa_limit(gemm_isa::avx2);
        const auto y2 = detseg::conv2d(x3, in.w, in.b, k.p);
        const auto y2d = detseg::conv2d(x3d, ind.w, ind.b, k.p);
        detseg::detail::gemm_isa_limit(gemm_isa::avx512);
        CHECK(y2 == ref);
        CHECK(y2d == refd);
    }
    detseg::detail::gemm_isa_limit(gemm_isa::portable);
    const auto yp = detseg::conv2d(x3, in.w, in.b, k.p);
    const auto ypd = detseg::conv2d(x3d, ind.w, ind.b, k.p);
    detseg::detail::gemm_isa_limit(gemm_isa::avx512);
    CHECK(rel_error(flat(yp), flat(ref)) <= 1e-6);
    CHECK(rel_error(flat(ypd), flat(refd)) <= 1e-14);
}

TEST_CASE("conv2d: degenerate sizes") {
    // No input channels: the output is the bias.
    detseg::tensor<float, 3> x({0, 4, 5});
    detseg::tensor<float, 4> w({3, 0, 3, 3});
    const std::vector<float> b{1.f, -2.f, 3.f};
    const auto y = detseg::conv2d(x, w, b, {.padding = {1, 1}});
    REQUIRE(y.extents() == std::array<index_t, 3>{3, 4, 5});
    CHECK(y(1, 2, 3) == -2.f);
    // Every tap in the padding: the output is the bias as well.
    detseg::tensor<float, 3> x2({2, 3, 3}, 1.f);
    detseg::tensor<float, 4> w2({3, 2, 3, 3}, 1.f);
    const auto y2 = detseg::conv2d(x2, w2, b, {.padding = {5, 5}, .dilation = {5, 5}});
    CHECK(y2(0, 0, 0) == 1.f + 2.f); // only the centre tap reads the input (2 channels)
    // An empty batch.
    detseg::tensor<double, 4> x3({0, 2, 4, 4});
    detseg::tensor<double, 4> w3({5, 2, 1, 1});
    CHECK(detseg::conv2d(x3, w3).extents() == std::array<index_t, 4>{0, 5, 4, 4});
}

TEST_CASE("conv2d: bad arguments throw invalid_argument naming them") {
    using testing::expect_invalid;
    detseg::tensor<float, 3> x({4, 6, 6}, 1.f);
    detseg::tensor<float, 4> w({6, 4, 3, 3}, 1.f);
    const std::vector<float> b(6, 0.f);
    expect_invalid([&] { (void)detseg::conv2d(x, w, {.stride = {0, 1}}); }, "conv2d", "params.stride");
    expect_invalid([&] { (void)detseg::conv2d(x, w, {.dilation = {1, 0}}); }, "conv2d",
                   "params.dilation");
    expect_invalid([&] { (void)detseg::conv2d(x, w, {.padding = {-1, 0}}); }, "conv2d",
                   "params.padding");
    expect_invalid([&] { (void)detseg::conv2d(x, w, {.groups = 0}); }, "conv2d", "params.groups");
    detseg::tensor<float, 4> w4({5, 2, 3, 3}, 1.f);
    expect_invalid([&] { (void)detseg::conv2d(x, w4, {.groups = 2}); }, "conv2d", "params.groups");
    detseg::tensor<float, 4> w6({6, 1, 3, 3}, 1.f);
    expect_invalid([&] { (void)detseg::conv2d(x, w6, {.groups = 3}); }, "conv2d", "params.groups");
    detseg::tensor<float, 4> wc({6, 3, 3, 3}, 1.f);
    expect_invalid([&] { (void)detseg::conv2d(x, wc); }, "conv2d", "weight");
    detseg::tensor<float, 4> wk({6, 4, 0, 3});
    expect_invalid([&] { (void)detseg::conv2d(x, wk); }, "conv2d", "weight");
    const std::vector<float> b5(5, 0.f);
    expect_invalid([&] { (void)detseg::conv2d(x, w, b5); }, "conv2d", "bias");
    detseg::tensor<float, 4> wbig({6, 4, 9, 3}, 1.f);
    expect_invalid([&] { (void)detseg::conv2d(x, wbig); }, "conv2d", "input");
    expect_invalid([&] { (void)detseg::conv2d(x, w, {.padding = {1, 1}, .dilation = {4, 1}}); },
                   "conv2d", "input");
    detseg::tensor<float, 3> out({6, 4, 5});
    expect_invalid([&] { detseg::conv2d(x, w, out); }, "conv2d", "out");
    expect_invalid([&] { detseg::conv2d(x, w, b, out); }, "conv2d", "out");
    detseg::tensor<float, 3> ok({6, 4, 4}, -1.f);
    detseg::conv2d(x, w, b, ok);
    CHECK(ok(0, 0, 0) == 36.f);
}
