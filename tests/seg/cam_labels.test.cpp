// cam_background, cam_with_background, cam_to_labels, cam_to_dual_labels: numpy fixtures
// (tests/reference/gen_cam_fixtures.py), per-pixel oracles on random maps, bad input.
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/cam_labels.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>

namespace {

using detseg::index_t;
using testing::cam_fixture;

} // namespace

TEST_CASE("cam_to_labels and cam_to_dual_labels equal numpy's argmax rules on the fixture") {
    const auto cam = cam_fixture<float, 3>("labels_cam");
    CHECK(detseg::cam_to_labels(cam, {.threshold = 0.3}) ==
          cam_fixture<std::uint8_t, 2>("labels_const_expected"));
    const detseg::cam_label_params power{.background = detseg::cam_background_mode::power,
                                         .alpha = 4.0};
    const auto bg = detseg::cam_background(cam, power);
    const auto bg_ref = cam_fixture<float, 2>("labels_bg_power_expected");
    int off = 0;
    for (index_t i = 0; i < bg.size(); ++i)
        off += testing::ulp_distance(bg.flat()[i], bg_ref.flat()[i]) > 1;
    CHECK(off == 0);
    CHECK(detseg::cam_to_labels(cam, power) ==
          cam_fixture<std::uint8_t, 2>("labels_power_expected"));
    CHECK(detseg::cam_to_dual_labels(cam) == cam_fixture<std::uint8_t, 2>("labels_dual_expected"));
    // other label types through the output overload
    detseg::tensor<std::int32_t, 2> l32({cam.extent(1), cam.extent(2)});
    detseg::cam_to_dual_labels(cam, l32, {.ignore_index = -1});
    const auto l8 = cam_to_dual_labels(cam);
    for (index_t i = 0; i < l8.size(); ++i)
        CHECK(l32.flat()[i] == (l8.flat()[i] == 255 ? -1 : l8.flat()[i]));
}

TEST_CASE_TEMPLATE("labels equal a per-pixel oracle on random maps", T, float, double) {
    std::mt19937_64 g(31337);
    std::uniform_real_distribution<double> u(0, 1);
    for (int rep = 0; rep < 30; ++rep) {
        const index_t k = 1 + rep % 6, h = 3 + rep % 5, w = 4 + rep % 3;
        detseg::tensor<T, 3> cam({k, h, w});
        for (auto& v : cam.flat())
            v = static_cast<T>(std::floor(u(g) * 8) / 8); // many ties
        const double t = std::floor(u(g) * 8) / 8, alpha = 1 + 3 * u(g);
        const double fg = 0.5, bgt = std::floor(u(g) * 4) / 8;
        const auto lc = detseg::cam_to_labels(cam, {.threshold = t});
        const auto lp = detseg::cam_to_labels(
            cam, {.background = detseg::cam_background_mode::power, .alpha = alpha});
        const auto ld = detseg::cam_to_dual_labels(cam, {.fg_threshold = fg, .bg_threshold = bgt});
        const auto stack = detseg::cam_with_background(cam, {.threshold = t});
        CHECK(stack.extent(0) == k + 1);
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x) {
                // argmax over [bg, cams], first maximum
                auto argmax = [&](T bg) {
                    int best = 0;
                    T bv = bg;
                    for (index_t c = 0; c < k; ++c)
                        if (cam(c, y, x) > bv) {
                            bv = cam(c, y, x);
                            best = static_cast<int>(c + 1);
                        }
                    return best;
                };
                T m = cam(0, y, x);
                for (index_t c = 1; c < k; ++c)
                    m = std::max(m, cam(c, y, x));
                CHECK(lc(y, x) == argmax(static_cast<T>(t)));
                const T pb = std::pow(std::max(T(0), T(1) - m), static_cast<T>(alpha));
                CHECK(lp(y, x) == argmax(pb));
                const int want_d = m > static_cast<T>(fg)     ? argmax(static_cast<T>(fg))
                                   : m <= static_cast<T>(bgt) ? 0
                                                              : 255;
                CHECK(ld(y, x) == want_d);
                CHECK(stack(0, y, x) == static_cast<T>(t));
                CHECK(stack(1, y, x) == cam(0, y, x));
            }
    }
}

TEST_CASE("label functions reject bad input with invalid_argument") {
    using testing::expect_invalid;
    detseg::tensor<float, 3> cam({3, 4, 5}, 0.5f);
    expect_invalid(
        [&] { (void)detseg::cam_to_dual_labels(cam, {.fg_threshold = 0.1, .bg_threshold = 0.2}); },
        "cam_to_dual_labels", "params");
    expect_invalid([&] { (void)detseg::cam_to_dual_labels(cam, {.fg_threshold = NAN}); },
                   "cam_to_dual_labels", "params");
    expect_invalid([&] { (void)detseg::cam_to_dual_labels(cam, {.ignore_index = 2}); },
                   "cam_to_dual_labels", "params");
    expect_invalid([&] { (void)detseg::cam_to_dual_labels(cam, {.ignore_index = 300}); },
                   "cam_to_dual_labels", "params");
    expect_invalid([&] { (void)detseg::cam_to_labels(cam, {.threshold = INFINITY}); },
                   "cam_to_labels", "params");
    expect_invalid(
        [&] {
            (void)detseg::cam_to_labels(
                cam, {.background = detseg::cam_background_mode::power, .alpha = 0.0});
        },
        "cam_to_labels", "params");
    expect_invalid([&] { (void)detseg::cam_background(cam, {.alpha = -2.0}); }, "cam_background",
                   "params");
    detseg::tensor<std::uint8_t, 2> wrong({4, 4});
    expect_invalid([&] { detseg::cam_to_labels(cam, wrong); }, "cam_to_labels", "out");
    detseg::tensor<float, 2> wrong_bg({5, 4});
    expect_invalid([&] { detseg::cam_background(cam, wrong_bg); }, "cam_background", "out");
    detseg::tensor<float, 3> many({300, 2, 2}, 0.1f);
    expect_invalid([&] { (void)detseg::cam_to_labels(many); }, "cam_to_labels", "out");
    auto nan = cam;
    nan(2, 3, 4) = NAN;
    expect_invalid([&] { (void)detseg::cam_to_labels(nan); }, "cam_to_labels", "cams");
    expect_invalid([&] { (void)detseg::cam_to_dual_labels(nan); }, "cam_to_dual_labels", "cams");
    expect_invalid([&] { (void)detseg::cam_with_background(nan); }, "cam_with_background", "cams");
}

TEST_CASE("argmax_labels: first maximum over the score maps") {
    std::mt19937_64 g(4);
    std::uniform_real_distribution<double> u(0, 1);
    detseg::tensor<double, 3> s({5, 6, 7});
    for (auto& v : s.flat())
        v = std::floor(u(g) * 4); // ties
    const auto l = detseg::argmax_labels(s);
    for (index_t y = 0; y < 6; ++y)
        for (index_t x = 0; x < 7; ++x) {
            int best = 0;
            for (int c = 1; c < 5; ++c)
                if (s(c, y, x) > s(best, y, x))
                    best = c;
            CHECK(l(y, x) == best);
        }
    // the stack of cam_with_background gives cam_to_labels' labels
    detseg::tensor<float, 3> cam({3, 6, 7});
    for (auto& v : cam.flat())
        v = static_cast<float>(u(g));
    CHECK(detseg::argmax_labels(detseg::cam_with_background(cam, {.threshold = 0.4})) ==
          detseg::cam_to_labels(cam, {.threshold = 0.4}));
    using testing::expect_invalid;
    detseg::tensor<float, 3> none({0, 2, 2});
    expect_invalid([&] { (void)detseg::argmax_labels(none); }, "argmax_labels", "scores");
    auto nan = cam;
    nan(1, 1, 1) = NAN;
    expect_invalid([&] { (void)detseg::argmax_labels(nan); }, "argmax_labels", "scores");
    detseg::tensor<std::int16_t, 2> wrong({7, 6});
    expect_invalid([&] { detseg::argmax_labels(cam, wrong); }, "argmax_labels", "out");
}
