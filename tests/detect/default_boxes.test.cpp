// SSD default boxes: torchvision DefaultBoxGenerator fixtures
// (tests/reference/gen_default_box_fixtures.py: SSD300-VGG16, SSDlite320, a no-clip and a
// single-level configuration), torchvision's own test and the collector's case, a double-precision
// oracle of the paper's formulas on random configurations, output backends, and every bad-input
// path.

#include <detseg/detect/default_boxes.hpp>
#include <detseg/io/npy.hpp>

#include "support/backends.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

using detseg::default_box_generator;
using detseg::default_box_params;
using detseg::grid_size;
using detseg::index_t;

namespace {

struct box_config {
    default_box_params params;
    detseg::image_size image;
    std::vector<grid_size> grids;
    std::vector<double> scales; // as torchvision computes them (manifest.json)
    bool f32_xyxy, f64_xyxy;
};

// The configurations of tests/reference/gen_default_box_fixtures.py (CONFIGS).
std::map<std::string, box_config> fixture_configs() {
    return {
        {"ssd300",
         {default_box_generator::ssd300().params(),
          {300, 300},
          {{38, 38}, {19, 19}, {10, 10}, {5, 5}, {3, 3}, {1, 1}},
          {0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05},
          true,
          false}},
        {"ssdlite320",
         {{.aspect_ratios = std::vector<std::vector<double>>(6, {2, 3}),
           .min_ratio = 0.2,
           .max_ratio = 0.95},
          {320, 320},
          {{20, 20}, {10, 10}, {5, 5}, {3, 3}, {2, 2}, {1, 1}},
          {0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0},
          false,
          true}},
        {"noclip",
         {{.aspect_ratios = {{1.5, 0.4}, {3}},
           .scales = {0.6, 1.1, 1.3},
           .steps = {7, 24},
           .clip = false},
          {45, 70},
          {{7, 10}, {2, 3}},
          {0.6, 1.1, 1.3},
          true,
          true}},
        {"single",
         {{.aspect_ratios = {{2, 3, 0.7}}, .min_ratio = 0.25, .max_ratio = 0.8},
          {33, 21},
          {{4, 3}},
          {0.25, 0.8},
          true,
          true}},
    };
}

template <class T>
detseg::tensor<T, 2> load(const std::string& name) {
    return detseg::load_npy(testing::data_path("default_boxes/" + name + ".npy")).as<T, 2>();
}

using testing::count_different;

} // namespace

TEST_CASE("default boxes equal torchvision's DefaultBoxGenerator bit for bit") {
    int runs = 0;
    for (const auto& entry : fixture_configs()) {
        const std::string& name = entry.first;
        const box_config& c = entry.second;
        CAPTURE(name);
        const default_box_generator gen(c.params);
        CHECK(gen.scales() == c.scales);
        const auto cx_ref = load<float>(name + "_f32_cxcywh");
        CHECK(gen.num_boxes(c.grids) == cx_ref.extent(0));
        CHECK(count_different(gen.cxcywh<float>(c.image, c.grids), cx_ref) == 0);
        // torchvision's float64 boxes are its float32 ones converted (float32 intermediates)
        CHECK(count_different(gen.cxcywh<double>(c.image, c.grids), cx_ref) == 0);
        if (c.f32_xyxy) {
            CHECK(count_different(gen.xyxy<float>(c.image, c.grids),
                                  load<float>(name + "_f32_xyxy")) == 0);
            ++runs;
        }
        if (c.f64_xyxy) {
            CHECK(count_different(gen.xyxy<double>(c.image, c.grids),
                                  load<double>(name + "_f64_xyxy")) == 0);
            ++runs;
        }
    }
    CHECK(runs == 6);
    const auto ssd = default_box_generator::ssd300();
    CHECK(ssd.num_boxes(fixture_configs().at("ssd300").grids) == 8732);
    CHECK(ssd.num_boxes_per_location(0) == 4);
    CHECK(ssd.num_boxes_per_location(1) == 6);
    const auto lite = default_box_generator::ssdlite320();
    CHECK(lite.scales() == fixture_configs().at("ssdlite320").scales);
}

TEST_CASE("default boxes: torchvision's test_defaultbox_generator and the collector's case") {
    {
        const default_box_generator gen(
            {.aspect_ratios = {{2}}, .min_ratio = 0.15, .max_ratio = 0.9});
        const std::vector<grid_size> grids = {{1, 1}};
        const auto got = gen.xyxy<float>({15, 15}, grids);
        // expected_float64_recomputed: 6 decimals; upstream prints 4 (rtol 1e-5 stated)
        const auto ref =
            detseg::load_npy(testing::data_path("default_boxes/peer_tv_upstream_expected.npy"))
                .as<double, 2>();
        for (index_t i = 0; i < 4; ++i)
            for (index_t k = 0; k < 4; ++k)
                CHECK(std::abs(got(i, k) - ref(i, k)) <= 1e-5 + 1e-5 * std::abs(ref(i, k)));
    }
    {
        const default_box_generator gen(
            {.aspect_ratios = {{2}, {2, 3}}, .min_ratio = 0.15, .max_ratio = 0.9});
        CHECK(gen.scales() == std::vector<double>{0.15, 0.9, 1.0});
        const std::vector<grid_size> grids = {{2, 2}, {1, 1}};
        const auto got = gen.xyxy<double>({32, 32}, grids);
        const auto ref =
            detseg::load_npy(testing::data_path("default_boxes/peer_tv_two_levels_expected.npy"))
                .as<double, 2>();
        REQUIRE(got.extent(0) == ref.extent(0));
        for (index_t i = 0; i < ref.extent(0); ++i)
            for (index_t k = 0; k < 4; ++k)
                CHECK(std::abs(got(i, k) - ref(i, k)) <= 1e-4);
    }
}

TEST_CASE_TEMPLATE("default boxes follow the SSD formulas on random configurations", T, float,
                   double) {
    // The paper's rules in double, written out directly: torchvision's float32 intermediates
    // differ from them by a few float ulps, so the comparison has a float tolerance.
    std::mt19937_64 rng(99);
    std::uniform_int_distribution<int> levels(1, 5), nratios(0, 3), cells(1, 12);
    std::uniform_real_distribution<double> ratio(0.2, 4.0), scale(0.05, 1.2);
    for (int trial = 0; trial < 30; ++trial) {
        const int nl = levels(rng);
        default_box_params p;
        p.clip = trial % 2 == 0;
        for (int l = 0; l < nl; ++l) {
            std::vector<double> r;
            for (int i = nratios(rng); i > 0; --i)
                r.push_back(ratio(rng));
            p.aspect_ratios.push_back(r);
        }
        if (trial % 3 == 0)
            for (int l = 0; l <= nl; ++l)
                p.scales.push_back(scale(rng));
        else
            p.min_ratio = 0.1 + 0.01 * trial, p.max_ratio = p.min_ratio + 0.6;
        if (trial % 4 == 1)
            for (int l = 0; l < nl; ++l)
                p.steps.push_back(4.0 * (l + 1) + trial);
        std::vector<grid_size> grids;
        for (int l = 0; l < nl; ++l)
            grids.push_back({cells(rng), cells(rng)});
        const detseg::image_size image{cells(rng) * 25, cells(rng) * 25};
        const default_box_generator gen(p);
        const auto& s = gen.scales();
        REQUIRE(s.size() == std::size_t(nl + 1));
        if (p.scales.empty()) {
            for (int k = 0; k < nl && nl > 1; ++k)
                CHECK(std::abs(s[std::size_t(k)] - (p.min_ratio + (p.max_ratio - p.min_ratio) * k /
                                                                      (nl - 1.0))) <= 1e-15);
            CHECK(s.back() == (nl > 1 ? 1.0 : p.max_ratio));
        }
        const auto cx = gen.cxcywh<T>(image, grids);
        const auto xy = gen.xyxy<T>(image, grids);
        index_t row = 0;
        int bad = 0;
        for (int k = 0; k < nl; ++k) {
            const auto sk = s[std::size_t(k)], sk1 = s[std::size_t(k + 1)];
            std::vector<std::pair<double, double>> wh = {
                {sk, sk}, {std::sqrt(sk * sk1), std::sqrt(sk * sk1)}};
            for (double r : p.aspect_ratios[std::size_t(k)]) {
                wh.push_back({sk * std::sqrt(r), sk / std::sqrt(r)});
                wh.push_back({sk / std::sqrt(r), sk * std::sqrt(r)});
            }
            const auto& g = grids[std::size_t(k)];
            const double fx = p.steps.empty() ? g.width : image.width / p.steps[std::size_t(k)];
            const double fy = p.steps.empty() ? g.height : image.height / p.steps[std::size_t(k)];
            for (index_t i = 0; i < g.height; ++i)
                for (index_t j = 0; j < g.width; ++j)
                    for (auto [w, h] : wh) {
                        if (p.clip)
                            w = std::clamp(w, 0.0, 1.0), h = std::clamp(h, 0.0, 1.0);
                        const double want[4] = {(j + 0.5) / fx, (i + 0.5) / fy, w, h};
                        const double px[4] = {
                            (want[0] - w / 2) * image.width, (want[1] - h / 2) * image.height,
                            (want[0] + w / 2) * image.width, (want[1] + h / 2) * image.height};
                        for (index_t q = 0; q < 4; ++q) {
                            bad +=
                                !(std::abs(cx(row, q) - want[q]) <= 4e-7 * (1 + std::abs(want[q])));
                            bad += !(std::abs(xy(row, q) - px[q]) <=
                                     4e-7 * (image.width + image.height + std::abs(px[q])));
                        }
                        ++row;
                    }
        }
        CAPTURE(trial);
        CHECK(bad == 0);
        CHECK(row == cx.extent(0));
    }
}

TEST_CASE("default boxes into every kind of output view") {
    const auto c = fixture_configs().at("noclip");
    const default_box_generator gen(c.params);
    const index_t n = gen.num_boxes(c.grids);
    const auto ref = load<double>("noclip_f64_xyxy");
    Eigen::MatrixXd col_major(n, 4);
    gen.xyxy(c.image, c.grids, col_major);
    CHECK(count_different(col_major, ref) == 0);
    xt::xtensor<double, 2> xt_out = xt::zeros<double>({std::size_t(n), std::size_t(4)});
    gen.xyxy(c.image, c.grids, xt_out);
    CHECK(count_different(xt_out, ref) == 0);
    std::vector<float> buf(static_cast<std::size_t>(n * 4));
    gen.cxcywh(c.image, c.grids, detseg::make_view(buf.data(), {n, index_t{4}}));
    CHECK(count_different(detseg::make_view(buf.data(), {n, index_t{4}}),
                          load<float>("noclip_f32_cxcywh")) == 0);
    Eigen::Matrix<float, Eigen::Dynamic, 4, Eigen::RowMajor> row_major(n, 4);
    gen.xyxy(c.image, c.grids, row_major);
    CHECK(count_different(row_major, load<float>("noclip_f32_xyxy")) == 0);
}

TEST_CASE("default boxes bad input throws invalid_argument naming the argument") {
    using testing::expect_invalid;
    const std::string ctor = "default_box_generator";
    auto make = [](default_box_params p) { return default_box_generator(std::move(p)); };
    expect_invalid([&] { make({}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2, 0}}}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}, {-3}}}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{NAN}}}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}}, .min_ratio = 0}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}}, .max_ratio = INFINITY}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}}, .min_ratio = 0.9, .max_ratio = 0.2}); },
                   ctor, "params");
    expect_invalid(
        [&] {
            make({.aspect_ratios = {{2}, {2}}, .scales = {0.1, 0.2}});
        },
        ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}}, .scales = {0.1, -0.2}}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}}, .scales = {0.1, NAN}}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}, {2}}, .steps = {8}}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}}, .steps = {0}}); }, ctor, "params");
    expect_invalid([&] { make({.aspect_ratios = {{2}}, .steps = {NAN}}); }, ctor, "params");

    const auto gen = default_box_generator::ssd300();
    const std::vector<grid_size> ok = {{38, 38}, {19, 19}, {10, 10}, {5, 5}, {3, 3}, {1, 1}};
    const std::vector<grid_size> few = {{38, 38}};
    const std::vector<grid_size> zero = {{38, 38}, {19, 19}, {10, 0}, {5, 5}, {3, 3}, {1, 1}};
    expect_invalid([&] { (void)gen.xyxy({0, 300}, ok); }, "xyxy", "image");
    expect_invalid([&] { (void)gen.cxcywh({300, -3}, ok); }, "cxcywh", "image");
    expect_invalid([&] { (void)gen.xyxy({300, 300}, few); }, "xyxy", "grids");
    expect_invalid([&] { (void)gen.cxcywh({300, 300}, zero); }, "cxcywh", "grids");
    expect_invalid([&] { (void)gen.num_boxes(few); }, "num_boxes", "grids");
    expect_invalid([&] { (void)gen.num_boxes_per_location(6); }, ctor, "level");
    detseg::tensor<float, 2> wrong({8731, 4});
    expect_invalid([&] { gen.xyxy({300, 300}, ok, wrong); }, "xyxy", "out");
    expect_invalid([&] { gen.cxcywh({300, 300}, ok, wrong); }, "cxcywh", "out");
}
