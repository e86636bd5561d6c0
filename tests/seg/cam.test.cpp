// compute_cam, grad_cam_weights, normalize_cam, mask_cam: PyTorch fixtures
// (tests/reference/gen_cam_fixtures.py), long-double oracles on random inputs, bad input.
#include <detseg/backend/eigen.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/cam.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

namespace {

using detseg::index_t;
using testing::cam_fixture;
using testing::max_rel;

template <class T>
detseg::tensor<T, 3> random_maps(std::mt19937_64& g, index_t c, index_t h, index_t w, double lo,
                                 double hi) {
    std::uniform_real_distribution<double> u(lo, hi);
    detseg::tensor<T, 3> t({c, h, w});
    for (auto& v : t.flat())
        v = static_cast<T>(u(g));
    return t;
}

} // namespace

TEST_CASE("compute_cam equals ReLU(conv2d(F, W)) of PyTorch (float64 reference)") {
    const auto f = cam_fixture<float, 3>("cam_features");
    const auto w = cam_fixture<float, 2>("cam_weights");
    const auto ref = cam_fixture<double, 3>("cam_expected");
    const auto cam = detseg::compute_cam(f, w);
    CHECK(cam.extents() == ref.extents());
    // one rounding of a double sum: within an ulp of the float64 reference
    CHECK(max_rel(cam, ref) <= 1e-5);
    int zeros = 0;
    for (index_t i = 0; i < ref.size(); ++i)
        zeros += ref.flat()[i] == 0.0 && cam.flat()[i] == 0.0f;
    CHECK(zeros > 50); // the ReLU cut many pixels, and at the same places
    // output overload into a strided (transposed) view of another type
    std::vector<double> buf(static_cast<std::size_t>(ref.size()));
    const index_t k = ref.extent(0), h = ref.extent(1), wd = ref.extent(2);
    auto out = detseg::make_view(buf.data(), {k, h, wd}, {1, wd * k, k});
    detseg::compute_cam(f, w, out);
    for (index_t c = 0; c < k; ++c)
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < wd; ++x)
                CHECK(static_cast<float>(out(c, y, x)) ==
                      cam(c, y, x)); // the double sum, unrounded
    // raw scores without ReLU can be negative
    const auto raw = detseg::compute_cam(f, w, {.relu = false});
    bool negative = false;
    for (float v : raw.flat())
        negative |= v < 0;
    CHECK(negative);
}

TEST_CASE("grad_cam_weights and Grad-CAM equal PyTorch's mean of gradients") {
    const auto f = cam_fixture<float, 3>("cam_features");
    const auto g = cam_fixture<float, 4>("cam_gradients");
    const auto wref = cam_fixture<double, 2>("gradcam_weights_expected");
    const auto ref = cam_fixture<double, 3>("gradcam_expected");
    const auto a = detseg::grad_cam_weights(g);
    CHECK(max_rel(a, wref) <= 1e-5);
    // Grad-CAM from the double weights; the float weights agree to 1e-5 as well
    const auto gd = detseg::grad_cam_weights(g.view());
    const auto cam = detseg::compute_cam(f, a);
    CHECK(max_rel(cam, ref, 1e-3) <= 1e-5);
    CHECK(gd == a);
}

TEST_CASE_TEMPLATE("compute_cam equals a long-double oracle on random inputs", T, float, double) {
    std::mt19937_64 g(4242);
    for (int rep = 0; rep < 20; ++rep) {
        std::uniform_int_distribution<index_t> d(1, 9);
        const index_t c = d(g), k = d(g), h = d(g), w = d(g);
        const auto f = random_maps<T>(g, c, h, w, -2, 2);
        const auto wt3 = random_maps<T>(g, 1, k, c, -1, 1);
        const auto wt = detseg::make_view(wt3.data(), {k, c});
        const auto cam = detseg::compute_cam(f, wt);
        for (index_t kk = 0; kk < k; ++kk)
            for (index_t y = 0; y < h; ++y)
                for (index_t x = 0; x < w; ++x) {
                    long double s = 0;
                    for (index_t cc = 0; cc < c; ++cc)
                        s += static_cast<long double>(wt(kk, cc)) * f(cc, y, x);
                    const double want = static_cast<double>(s > 0 ? s : 0);
                    CHECK(std::abs(static_cast<double>(cam(kk, y, x)) - want) <=
                          1e-6 * std::max(1.0, std::abs(want)));
                }
    }
}

TEST_CASE("normalize_cam equals PyTorch's float32 max and min-max normalisation bit for bit") {
    const auto in = cam_fixture<float, 3>("norm_input");
    const auto ref_max = cam_fixture<float, 3>("norm_max_expected");
    const auto ref_mm = cam_fixture<float, 3>("norm_minmax_expected");
    CHECK(detseg::normalize_cam(in) == ref_max);
    CHECK(detseg::normalize_cam(in, {.mode = detseg::cam_normalization::min_max}) == ref_mm);
    // in place
    auto copy = in;
    detseg::normalize_cam(copy, copy);
    CHECK(copy == ref_max);
    // an all-zero map stays 0
    for (index_t y = 0; y < in.extent(1); ++y)
        CHECK(ref_max(3, y, 0) == 0.0f);
}

TEST_CASE_TEMPLATE("normalize_cam on random maps: maximum below 1, definition", T, float, double) {
    std::mt19937_64 g(99);
    const auto in = random_maps<T>(g, 3, 7, 5, -1, 4);
    const auto n = detseg::normalize_cam(in, {.eps = 0.0});
    const auto mm =
        detseg::normalize_cam(in, {.mode = detseg::cam_normalization::min_max, .eps = 0.0});
    for (index_t c = 0; c < 3; ++c) {
        T mx = in(c, 0, 0), mn = in(c, 0, 0), nmx = n(c, 0, 0), mmmin = mm(c, 0, 0),
          mmmax = mm(c, 0, 0);
        for (index_t y = 0; y < 7; ++y)
            for (index_t x = 0; x < 5; ++x) {
                mx = std::max(mx, in(c, y, x));
                mn = std::min(mn, in(c, y, x));
                nmx = std::max(nmx, n(c, y, x));
                mmmin = std::min(mmmin, mm(c, y, x));
                mmmax = std::max(mmmax, mm(c, y, x));
            }
        CHECK(nmx == T(1));
        CHECK(mmmin == T(0));
        CHECK(mmmax == T(1));
        CHECK(n(c, 2, 3) == in(c, 2, 3) / mx);
        CHECK(mm(c, 2, 3) == (in(c, 2, 3) - mn) / (mx - mn));
    }
}

TEST_CASE("mask_cam zeroes the classes absent from the image") {
    std::mt19937_64 g(7);
    auto cam = random_maps<float>(g, 5, 4, 6, 0.1, 1);
    const auto orig = cam;
    const std::vector<std::int64_t> present{3, 1, 3};
    detseg::mask_cam(cam, present);
    for (index_t c = 0; c < 5; ++c)
        for (index_t y = 0; y < 4; ++y)
            for (index_t x = 0; x < 6; ++x)
                CHECK(cam(c, y, x) == (c == 1 || c == 3 ? orig(c, y, x) : 0.0f));
    const std::vector<std::uint8_t> none;
    detseg::mask_cam(cam, none);
    for (float v : cam.flat())
        CHECK(v == 0.0f);
}

TEST_CASE("CAM functions reject bad input with invalid_argument") {
    detseg::tensor<float, 3> f({4, 3, 3}, 1.0f);
    detseg::tensor<float, 2> w({2, 5}, 1.0f);
    using testing::expect_invalid;
    expect_invalid([&] { (void)detseg::compute_cam(f, w); }, "compute_cam", "weights");
    detseg::tensor<float, 2> w4({2, 4}, 1.0f);
    detseg::tensor<float, 3> bad_out({2, 3, 4});
    expect_invalid([&] { detseg::compute_cam(f, w4, bad_out); }, "compute_cam", "out");
    auto fnan = f;
    fnan(1, 2, 0) = std::nanf("");
    expect_invalid([&] { (void)detseg::compute_cam(fnan, w4); }, "compute_cam", "features");
    auto winf = w4;
    winf(0, 0) = INFINITY;
    expect_invalid([&] { (void)detseg::compute_cam(f, winf); }, "compute_cam", "weights");
    detseg::tensor<float, 4> g({2, 4, 0, 3});
    expect_invalid([&] { (void)detseg::grad_cam_weights(g); }, "grad_cam_weights", "gradients");
    detseg::tensor<float, 4> gn({1, 1, 2, 2}, 1.0f);
    gn(0, 0, 1, 1) = std::nanf("");
    expect_invalid([&] { (void)detseg::grad_cam_weights(gn); }, "grad_cam_weights", "gradients");
    expect_invalid([&] { (void)detseg::normalize_cam(f, {.eps = -1.0}); }, "normalize_cam",
                   "params");
    expect_invalid([&] { (void)detseg::normalize_cam(f, {.eps = NAN}); }, "normalize_cam",
                   "params");
    expect_invalid([&] { (void)detseg::normalize_cam(fnan); }, "normalize_cam", "cams");
    expect_invalid([&] { detseg::normalize_cam(f, bad_out); }, "normalize_cam", "out");
    auto before = f;
    const std::vector<int> classes{0, 4};
    expect_invalid([&] { detseg::mask_cam(f, classes); }, "mask_cam", "classes");
    const std::vector<int> negative{-1};
    expect_invalid([&] { detseg::mask_cam(f, negative); }, "mask_cam", "classes");
    CHECK(f == before);
}

TEST_CASE("compute_cam reads Eigen and strided inputs without copies, same result") {
    const auto f = cam_fixture<float, 3>("cam_features");
    const auto w = cam_fixture<float, 2>("cam_weights");
    const auto ref = detseg::compute_cam(f, w);
    // column-major Eigen weights
    Eigen::MatrixXf we(w.extent(0), w.extent(1));
    for (index_t k = 0; k < w.extent(0); ++k)
        for (index_t c = 0; c < w.extent(1); ++c)
            we(k, c) = w(k, c);
    CHECK(detseg::compute_cam(f, we) == ref);
    // features stored h×w×C (channels last), read through strides
    const index_t c = f.extent(0), h = f.extent(1), wd = f.extent(2);
    std::vector<float> hwc(static_cast<std::size_t>(f.size()));
    for (index_t k = 0; k < c; ++k)
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < wd; ++x)
                hwc[static_cast<std::size_t>((y * wd + x) * c + k)] = f(k, y, x);
    const auto fv =
        detseg::make_view(static_cast<const float*>(hwc.data()), {c, h, wd}, {1, wd * c, c});
    CHECK(detseg::compute_cam(fv, we) == ref);
}

TEST_CASE_TEMPLATE("grad_cam_weights equals the long-double mean on random gradients", T, float,
                   double) {
    std::mt19937_64 g(515);
    std::uniform_real_distribution<double> u(-3, 3);
    for (int rep = 0; rep < 10; ++rep) {
        const index_t k = 1 + rep % 3, c = 2 + rep % 4, h = 1 + rep % 5, w = 2 + rep % 3;
        detseg::tensor<T, 4> grads({k, c, h, w});
        for (auto& v : grads.flat())
            v = static_cast<T>(u(g));
        const auto a = detseg::grad_cam_weights(grads);
        for (index_t i = 0; i < k; ++i)
            for (index_t j = 0; j < c; ++j) {
                long double s = 0;
                for (index_t y = 0; y < h; ++y)
                    for (index_t x = 0; x < w; ++x)
                        s += grads(i, j, y, x);
                const double want = static_cast<double>(s / static_cast<long double>(h * w));
                CHECK(std::abs(static_cast<double>(a(i, j)) - want) <=
                      (std::is_same_v<T, float> ? 1e-6 : 1e-14) * std::max(1.0, std::abs(want)));
            }
    }
}
