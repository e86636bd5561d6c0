// par_refine: PyTorch float64 fixtures of PAR's definition (tests/reference/gen_cam_fixtures.py),
// a long-double oracle on random images, thread-count independence, bad input.
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/par.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"
#include "support/threads.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

using detseg::index_t;
using testing::cam_fixture;
using testing::max_rel;

/// PAR from the definition (file comment of par.hpp), long double, brute force.
template <class I, class M>
std::vector<long double> oracle_par(const detseg::tensor<I, 3>& img, const detseg::tensor<M, 3>& m,
                                    const std::vector<index_t>& dil, index_t iters, double w1,
                                    double w2) {
    const index_t c = img.extent(0), h = img.extent(1), w = img.extent(2), k = m.extent(0);
    std::vector<std::pair<index_t, index_t>> nb;
    std::vector<long double> rho;
    for (index_t d : dil)
        for (index_t dy : {-d, index_t{0}, d})
            for (index_t dx : {-d, index_t{0}, d})
                if (dy || dx) {
                    nb.emplace_back(dy, dx);
                    rho.push_back(dy && dx ? d * std::sqrt(2.0L) : static_cast<long double>(d));
                }
    const auto nj = static_cast<index_t>(nb.size());
    auto stdev = [&](const std::vector<long double>& v) {
        long double mean = 0, s = 0;
        for (auto x : v)
            mean += x;
        mean /= static_cast<long double>(v.size());
        for (auto x : v)
            s += (x - mean) * (x - mean);
        return std::sqrt(s / static_cast<long double>(v.size() - 1));
    };
    const long double srho = stdev(rho);
    std::vector<long double> pos(static_cast<std::size_t>(nj));
    long double ps = 0;
    for (index_t j = 0; j < nj; ++j) {
        const long double z = rho[static_cast<std::size_t>(j)] / (srho + 1e-8L) / w1;
        pos[static_cast<std::size_t>(j)] = std::exp(-z * z);
        ps += pos[static_cast<std::size_t>(j)];
    }
    auto at = [&](index_t y, index_t x, index_t j) {
        return std::pair{std::clamp(y + nb[static_cast<std::size_t>(j)].first, index_t{0}, h - 1),
                         std::clamp(x + nb[static_cast<std::size_t>(j)].second, index_t{0}, w - 1)};
    };
    std::vector<long double> aff(static_cast<std::size_t>(nj * h * w));
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x) {
            std::vector<long double> kap(static_cast<std::size_t>(nj), 0.0L);
            for (index_t ch = 0; ch < c; ++ch) {
                std::vector<long double> v;
                for (index_t j = 0; j < nj; ++j) {
                    const auto [yy, xx] = at(y, x, j);
                    v.push_back(img(ch, yy, xx));
                }
                const long double sd = stdev(v);
                for (index_t j = 0; j < nj; ++j) {
                    const long double z = std::abs(static_cast<long double>(img(ch, y, x)) -
                                                   v[static_cast<std::size_t>(j)]) /
                                          (sd + 1e-8L) / w1;
                    kap[static_cast<std::size_t>(j)] -= z * z / static_cast<long double>(c);
                }
            }
            long double mx = *std::max_element(kap.begin(), kap.end()), s = 0;
            for (auto& v : kap)
                s += std::exp(v - mx);
            for (index_t j = 0; j < nj; ++j)
                aff[static_cast<std::size_t>((j * h + y) * w + x)] =
                    std::exp(kap[static_cast<std::size_t>(j)] - mx) / s +
                    w2 * pos[static_cast<std::size_t>(j)] / ps;
        }
    std::vector<long double> cur(m.flat().begin(), m.flat().end()), nxt(cur.size());
    for (index_t t = 0; t < iters; ++t) {
        for (index_t q = 0; q < k; ++q)
            for (index_t y = 0; y < h; ++y)
                for (index_t x = 0; x < w; ++x) {
                    long double s = 0;
                    for (index_t j = 0; j < nj; ++j) {
                        const auto [yy, xx] = at(y, x, j);
                        s += aff[static_cast<std::size_t>((j * h + y) * w + x)] *
                             cur[static_cast<std::size_t>((q * h + yy) * w + xx)];
                    }
                    nxt[static_cast<std::size_t>((q * h + y) * w + x)] = s;
                }
        std::swap(cur, nxt);
    }
    return cur;
}

} // namespace

TEST_CASE("par_refine equals the PyTorch PAR reference (small and ToCo dilations)") {
    const auto img = cam_fixture<float, 3>("par_image");
    const auto masks = cam_fixture<float, 3>("par_masks");
    const auto small = detseg::par_refine(img, masks, {.dilations = {1, 2, 4}, .iterations = 5});
    CHECK(max_rel(small, cam_fixture<double, 3>("par_small_expected")) <= 1e-5);
    const auto toco = detseg::par_refine(img, masks); // ToCo's defaults
    CHECK(max_rel(toco, cam_fixture<double, 3>("par_toco_expected")) <= 1e-5);
    // the image as H×W×C (interleaved) through strides gives the same result
    const index_t h = img.extent(1), w = img.extent(2);
    std::vector<float> hwc(static_cast<std::size_t>(img.size()));
    for (index_t c = 0; c < 3; ++c)
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x)
                hwc[static_cast<std::size_t>((y * w + x) * 3 + c)] = img(c, y, x);
    const auto view =
        detseg::make_view(static_cast<const float*>(hwc.data()), {3, h, w}, {1, w * 3, 3});
    CHECK(detseg::par_refine(view, masks, {.dilations = {1, 2, 4}, .iterations = 5}) == small);
}

TEST_CASE_TEMPLATE("par_refine equals a long-double oracle on random images", T, float, double) {
    std::mt19937_64 g(11);
    std::uniform_real_distribution<double> u(0, 1);
    for (int rep = 0; rep < 6; ++rep) {
        const index_t h = 2 + rep, w = 9 - rep, k = 1 + rep % 3, c = 1 + rep % 3;
        std::vector<index_t> dil = rep % 2 ? std::vector<index_t>{1, 3} : std::vector<index_t>{2};
        const double w1 = 0.2 + 0.3 * u(g), w2 = 0.05 * u(g);
        detseg::tensor<std::uint8_t, 3> img({c, h, w});
        for (auto& v : img.flat())
            v = static_cast<std::uint8_t>(u(g) * 255);
        detseg::tensor<T, 3> m({k, h, w});
        for (auto& v : m.flat())
            v = static_cast<T>(u(g));
        const index_t iters = 1 + rep;
        const auto got = detseg::par_refine(
            img, m, {.dilations = dil, .iterations = iters, .w_color = w1, .w_pos = w2});
        const auto want = oracle_par(img, m, dil, iters, w1, w2);
        const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-11;
        for (index_t i = 0; i < got.size(); ++i)
            CHECK(std::abs(static_cast<long double>(got.flat()[i]) -
                           want[static_cast<std::size_t>(i)]) <=
                  tol * (1 + std::abs(want[static_cast<std::size_t>(i)])));
    }
}

TEST_CASE("par_refine gives identical results for any thread count") {
    std::mt19937_64 g(12);
    std::uniform_real_distribution<float> u(0, 1);
    detseg::tensor<float, 3> img({3, 90, 70}), m({2, 90, 70});
    for (auto& v : img.flat())
        v = u(g);
    for (auto& v : m.flat())
        v = u(g);
    const auto runs = testing::runs_with_1_2_3_threads(
        [&] { return detseg::par_refine(img, m, {.iterations = 3}); });
    CHECK(runs[0] == runs[1]);
    CHECK(runs[0] == runs[2]);
}

TEST_CASE("par_refine rejects bad input with invalid_argument") {
    using testing::expect_invalid;
    detseg::tensor<float, 3> img({3, 6, 7}, 1.0f), m({2, 6, 7}, 0.5f);
    detseg::tensor<float, 3> m_bad({2, 6, 8}, 0.5f);
    expect_invalid([&] { (void)detseg::par_refine(img, m_bad); }, "par_refine", "masks");
    expect_invalid([&] { (void)detseg::par_refine(img, m, {.dilations = {}}); }, "par_refine",
                   "params");
    expect_invalid(
        [&] {
            (void)detseg::par_refine(img, m, {.dilations = {1, 0}});
        },
        "par_refine", "params");
    expect_invalid([&] { (void)detseg::par_refine(img, m, {.iterations = -1}); }, "par_refine",
                   "params");
    expect_invalid([&] { (void)detseg::par_refine(img, m, {.w_color = 0.0}); }, "par_refine",
                   "params");
    expect_invalid([&] { (void)detseg::par_refine(img, m, {.w_pos = -0.5}); }, "par_refine",
                   "params");
    auto in = img;
    in(1, 2, 3) = NAN;
    expect_invalid([&] { (void)detseg::par_refine(in, m); }, "par_refine", "image");
    auto mn = m;
    mn(1, 2, 3) = INFINITY;
    expect_invalid([&] { (void)detseg::par_refine(img, mn); }, "par_refine", "masks");
    detseg::tensor<float, 3> out({3, 6, 7});
    expect_invalid([&] { detseg::par_refine(img, m, out); }, "par_refine", "out");
}
