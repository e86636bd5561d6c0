// Grid anchors: torchvision AnchorGenerator fixtures (tests/reference/gen_anchor_fixtures.py),
// peer cases (detectron2 DefaultAnchorGenerator with offset 0 and 0.5, torchvision's own and
// collector cases), a brute-force oracle of the rules on random configurations, every output
// backend, and every bad-input path.

#include <detseg/detect/anchors.hpp>
#include <detseg/io/npy.hpp>

#include "support/backends.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

using detseg::grid_anchor_generator;
using detseg::grid_size;
using detseg::index_t;

namespace {

struct anchor_config {
    std::vector<std::vector<double>> sizes, ratios;
    detseg::image_size image;
    std::vector<grid_size> grids;
};

// The configurations of tests/reference/gen_anchor_fixtures.py (CONFIGS).
std::map<std::string, anchor_config> fixture_configs() {
    std::vector<std::vector<double>> retina;
    for (double x : {32.0, 64.0, 128.0, 256.0, 512.0})
        retina.push_back(
            {x, std::floor(x * std::pow(2.0, 1.0 / 3)), std::floor(x * std::pow(2.0, 2.0 / 3))});
    const std::vector<double> r3 = {0.5, 1.0, 2.0};
    return {
        {"fpn",
         {{{32}, {64}, {128}, {256}, {512}},
          {r3, r3, r3, r3, r3},
          {64, 80},
          {{16, 20}, {8, 10}, {4, 5}, {2, 3}, {1, 2}}}},
        {"retinanet",
         {retina, {r3, r3, r3, r3, r3}, {64, 80}, {{8, 10}, {4, 5}, {2, 3}, {1, 2}, {1, 1}}}},
        {"odd",
         {{{5, 7, 9, 20}, {3, 45}},
          {{0.3, 1.0, 1.7, 4.0}, {0.25, 0.6}},
          {37, 53},
          {{5, 7}, {3, 2}}}},
    };
}

detseg::tensor<float, 2> load(const std::string& name) {
    return detseg::load_npy(testing::data_path("anchors/" + name + ".npy")).as<float, 2>();
}

detseg::tensor<double, 2> load_peer(const std::string& name) {
    return detseg::load_npy(testing::data_path("anchors/peer_" + name + "_expected.npy"))
        .as<double, 2>();
}

using testing::count_different;

// A direct transcription of torchvision's rules, in float as torchvision computes them.
std::vector<std::array<double, 4>> oracle(const anchor_config& c, double offset, bool d2) {
    std::vector<std::array<double, 4>> out;
    for (std::size_t l = 0; l < c.grids.size(); ++l) {
        std::vector<std::array<double, 4>> cell;
        if (!d2) {
            for (double r : c.ratios[l])
                for (double s : c.sizes[l]) {
                    const float hr = std::sqrt(float(r)), wr = 1.0f / hr;
                    const float w = wr * float(s), h = hr * float(s);
                    cell.push_back({std::nearbyint(-w / 2.0f), std::nearbyint(-h / 2.0f),
                                    std::nearbyint(w / 2.0f), std::nearbyint(h / 2.0f)});
                }
        } else {
            for (double s : c.sizes[l])
                for (double a : c.ratios[l]) {
                    const double w = std::sqrt(s * s / a), h = a * w;
                    cell.push_back({-w / 2, -h / 2, w / 2, h / 2});
                }
        }
        const index_t sy = c.image.height / c.grids[l].height;
        const index_t sx = c.image.width / c.grids[l].width;
        for (index_t y = 0; y < c.grids[l].height; ++y)
            for (index_t x = 0; x < c.grids[l].width; ++x)
                for (const auto& a : cell)
                    out.push_back({double((double(x) + offset) * double(sx)) + a[0],
                                   double((double(y) + offset) * double(sy)) + a[1],
                                   double((double(x) + offset) * double(sx)) + a[2],
                                   double((double(y) + offset) * double(sy)) + a[3]});
    }
    return out;
}

} // namespace

TEST_CASE_TEMPLATE("grid anchors equal torchvision's AnchorGenerator bit for bit", T, float,
                   double) {
    int runs = 0;
    for (const auto& entry : fixture_configs()) {
        const std::string& name = entry.first;
        const anchor_config& c = entry.second;
        CAPTURE(name);
        const grid_anchor_generator gen(c.sizes, c.ratios);
        const auto got = gen.generate<T>(c.image, c.grids);
        // float64 feature maps give the same (integer) anchors in torchvision; the generator
        // script checks it, so the float32 file is the reference for both types
        CHECK(count_different(got, load(name + "_f32_anchors")) == 0);
        CHECK(got.extent(0) == gen.num_anchors(c.grids));
        // the cell anchors, level by level
        const auto cells = load(name + "_cell");
        index_t row = 0;
        for (index_t l = 0; l < gen.num_levels(); ++l) {
            const auto& cell = gen.cell_anchors(l);
            CHECK(gen.num_anchors_per_location(l) ==
                  index_t(c.sizes[std::size_t(l)].size() * c.ratios[std::size_t(l)].size()));
            for (index_t a = 0; a < cell.extent(0); ++a, ++row)
                for (index_t k = 0; k < 4; ++k)
                    CHECK(cell(a, k) == double(cells(row, k)));
        }
        CHECK(row == cells.extent(0));
        ++runs;
    }
    CHECK(runs == 3);
}

TEST_CASE("grid anchors: torchvision's test_anchor_generator and the collector's cases") {
    struct peer_case {
        std::string name;
        anchor_config c;
    };
    const std::vector<peer_case> cases = {
        {"tv_upstream", {{{10}}, {{1}}, {15, 15}, {{3, 3}}}},
        {"tv_multi", {{{32, 64}}, {{0.5, 1.0, 2.0}}, {48, 64}, {{3, 4}}}},
        {"tv_two_levels", {{{16}, {32}}, {{0.5, 1.0, 2.0}}, {32, 32}, {{4, 4}, {2, 2}}}},
        {"tv_non_square", {{{8}}, {{1.0}}, {20, 30}, {{2, 3}}}},
    };
    for (const auto& pc : cases) {
        CAPTURE(pc.name);
        const grid_anchor_generator gen(pc.c.sizes, pc.c.ratios); // one ratio list: every level
        CHECK(count_different(gen.generate<float>(pc.c.image, pc.c.grids), load_peer(pc.name)) ==
              0);
    }
}

TEST_CASE("grid anchors: detectron2's DefaultAnchorGenerator with offset 0 and 0.5") {
    const std::vector<grid_size> grids = {{1, 2}};
    const std::vector<detseg::grid_stride> strides = {{4, 4}};
    for (const double offset : {0.0, 0.5}) {
        CAPTURE(offset);
        const grid_anchor_generator gen(
            {{32, 64}}, {{0.25, 1, 4}},
            {.convention = detseg::anchor_convention::detectron2, .offset = offset});
        const auto ref = load_peer(offset == 0 ? "d2_offset0" : "d2_offset05");
        // upstream compares with torch.allclose (rtol 1e-5, atol 1e-8); the values are exact here
        CHECK(count_different(gen.generate<float>(grids, strides), ref) == 0);
        CHECK(count_different(gen.generate<double>(grids, strides), ref) == 0);
    }
}

TEST_CASE_TEMPLATE("grid anchors match a transcription of the rules on random configurations", T,
                   float, double) {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int> levels(1, 4), count(1, 4), cells(1, 9), sz(1, 300);
    std::uniform_real_distribution<double> ratio(0.1, 5.0);
    for (int trial = 0; trial < 40; ++trial) {
        anchor_config c;
        const int nl = levels(rng);
        c.image = {cells(rng) * 37 + 3, cells(rng) * 29 + 5};
        for (int l = 0; l < nl; ++l) {
            std::vector<double> s, r;
            for (int i = count(rng); i > 0; --i)
                s.push_back(trial % 2 ? double(sz(rng)) : sz(rng) * 0.37);
            for (int i = count(rng); i > 0; --i)
                r.push_back(trial % 3 ? ratio(rng) : double(count(rng)) / count(rng));
            c.sizes.push_back(s);
            c.ratios.push_back(r);
            c.grids.push_back({cells(rng), cells(rng)});
        }
        const bool d2 = trial % 4 == 3;
        const double offset = trial % 5 == 2 ? 0.5 : 0.0;
        const grid_anchor_generator gen(c.sizes, c.ratios,
                                        {.convention = d2 ? detseg::anchor_convention::detectron2
                                                          : detseg::anchor_convention::torchvision,
                                         .offset = offset});
        const auto got = gen.generate<T>(c.image, c.grids);
        const auto ref = oracle(c, offset, d2);
        REQUIRE(got.extent(0) == index_t(ref.size()));
        int bad = 0;
        for (index_t i = 0; i < got.extent(0); ++i)
            for (index_t k = 0; k < 4; ++k) {
                // the oracle adds in double; the generator in T: equal after rounding to T, up to
                // one rounding of the sum in T (cell anchors are not integers with detectron2)
                const T want = T(ref[std::size_t(i)][std::size_t(k)]);
                const double tol =
                    d2 ? 8 * (std::abs(double(want)) + 1000) * std::numeric_limits<T>::epsilon()
                       : 0.0;
                bad += !(std::abs(double(got(i, k)) - double(want)) <= tol);
            }
        CAPTURE(trial);
        CHECK(bad == 0);
    }
}

TEST_CASE("grid anchors into every kind of output view, without changing the result") {
    const auto c = fixture_configs().at("odd");
    const grid_anchor_generator gen(c.sizes, c.ratios);
    const auto ref = load("odd_f32_anchors");
    const index_t n = gen.num_anchors(c.grids);
    Eigen::MatrixXf col_major(n, 4);
    gen.generate(c.image, c.grids, col_major);
    CHECK(count_different(col_major, ref) == 0);
    Eigen::Matrix<double, Eigen::Dynamic, 4, Eigen::RowMajor> row_major(n, 4);
    gen.generate(c.image, c.grids, row_major);
    CHECK(count_different(row_major, ref) == 0);
    xt::xtensor<float, 2> xt_out = xt::zeros<float>({std::size_t(n), std::size_t(4)});
    gen.generate(c.image, c.grids, xt_out);
    CHECK(count_different(xt_out, ref) == 0);
    std::vector<float> buf(static_cast<std::size_t>(n * 4));
    gen.generate(c.image, c.grids, detseg::make_view(buf.data(), {n, index_t{4}}));
    CHECK(count_different(detseg::make_view(buf.data(), {n, index_t{4}}), ref) == 0);
    // explicit strides equal to image // grid give the same anchors
    std::vector<detseg::grid_stride> strides;
    for (const auto& g : c.grids)
        strides.push_back({c.image.height / g.height, c.image.width / g.width});
    CHECK(count_different(gen.generate<float>(c.grids, strides), ref) == 0);
}

TEST_CASE("grid anchors bad input throws invalid_argument naming the argument") {
    using testing::expect_invalid;
    const std::string ctor = "grid_anchor_generator";
    expect_invalid([] { grid_anchor_generator({}, {{1.0}}); }, ctor, "sizes");
    expect_invalid([] { grid_anchor_generator({{}}, {{1.0}}); }, ctor, "sizes");
    expect_invalid([] { grid_anchor_generator({{0}}, {{1.0}}); }, ctor, "sizes");
    expect_invalid([] { grid_anchor_generator({{-32}}, {{1.0}}); }, ctor, "sizes");
    expect_invalid([] { grid_anchor_generator({{NAN}}, {{1.0}}); }, ctor, "sizes");
    expect_invalid([] { grid_anchor_generator({{INFINITY}}, {{1.0}}); }, ctor, "sizes");
    expect_invalid([] { grid_anchor_generator({{32}}, {{}}); }, ctor, "aspect_ratios");
    expect_invalid([] { grid_anchor_generator({{32}}, {{0.0}}); }, ctor, "aspect_ratios");
    expect_invalid([] { grid_anchor_generator({{32}}, {{-1.0}}); }, ctor, "aspect_ratios");
    expect_invalid([] { grid_anchor_generator({{32}}, {{NAN}}); }, ctor, "aspect_ratios");
    expect_invalid(
        [] {
            grid_anchor_generator({{32}, {64}, {128}}, {{1.0}, {2.0}});
        },
        ctor, "aspect_ratios");
    expect_invalid([] { grid_anchor_generator({{32}}, {{1.0}}, {.offset = 1.0}); }, ctor, "params");
    expect_invalid([] { grid_anchor_generator({{32}}, {{1.0}}, {.offset = -0.5}); }, ctor,
                   "params");
    expect_invalid([] { grid_anchor_generator({{32}}, {{1.0}}, {.offset = NAN}); }, ctor, "params");

    const grid_anchor_generator gen({{32}, {64}}, {{0.5, 1.0}});
    const std::vector<grid_size> ok = {{4, 4}, {2, 2}};
    const std::vector<grid_size> one = {{4, 4}};
    const std::vector<grid_size> zero = {{4, 0}, {2, 2}};
    const std::vector<grid_size> big = {{4, 4}, {65, 2}};
    expect_invalid([&] { (void)gen.generate({.height = 0, .width = 64}, ok); }, "generate",
                   "image");
    expect_invalid([&] { (void)gen.generate({.height = 64, .width = -1}, ok); }, "generate",
                   "image");
    expect_invalid([&] { (void)gen.generate({64, 64}, one); }, "generate", "grids");
    expect_invalid([&] { (void)gen.generate({64, 64}, zero); }, "generate", "grids");
    expect_invalid([&] { (void)gen.generate({64, 64}, big); }, "generate", "grids");
    expect_invalid([&] { (void)gen.num_anchors(one); }, "num_anchors", "grids");
    const std::vector<detseg::grid_stride> s_ok = {{16, 16}, {32, 32}};
    const std::vector<detseg::grid_stride> s_one = {{16, 16}};
    const std::vector<detseg::grid_stride> s_zero = {{16, 16}, {0, 32}};
    const std::vector<detseg::grid_stride> s_neg = {{16, -16}, {32, 32}};
    expect_invalid([&] { (void)gen.generate(ok, s_one); }, "generate", "strides");
    expect_invalid([&] { (void)gen.generate(ok, s_zero); }, "generate", "strides");
    expect_invalid([&] { (void)gen.generate(ok, s_neg); }, "generate", "strides");
    expect_invalid([&] { (void)gen.generate(zero, s_ok); }, "generate", "grids");
    detseg::tensor<float, 2> wrong({3, 4});
    expect_invalid([&] { gen.generate({64, 64}, ok, wrong); }, "generate", "out");
    expect_invalid([&] { gen.generate(ok, s_ok, wrong); }, "generate", "out");
    expect_invalid([&] { (void)gen.cell_anchors(2); }, ctor, "level");
    expect_invalid([&] { (void)gen.num_anchors_per_location(-1); }, ctor, "level");
}
