// cam_threshold_sweep: numpy fixture, agreement with cam_to_labels + confusion_matrix on random
// maps, merge-free sharding, bad input.
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/metrics/seg_metrics.hpp>
#include <detseg/seg/cam_labels.hpp>
#include <detseg/seg/cam_sweep.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"

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

} // namespace

TEST_CASE("cam_threshold_sweep equals the numpy sweep (argmax with a constant background)") {
    const auto cams = cam_fixture<float, 4>("sweep_cams");
    const auto gt = cam_fixture<std::uint8_t, 3>("sweep_gt");
    const auto th = cam_fixture<double, 1>("sweep_thresholds");
    const auto ref = cam_fixture<double, 1>("sweep_miou_expected");
    detseg::cam_threshold_sweep sweep(5, std::vector<double>(th.flat().begin(), th.flat().end()));
    const index_t k = cams.extent(1), h = cams.extent(2), w = cams.extent(3);
    for (index_t i = 0; i < 2; ++i) {
        const auto c = detseg::make_view(cams.data() + i * k * h * w, {k, h, w});
        const auto g = detseg::make_view(gt.data() + i * h * w, {h, w});
        sweep.update(c, g);
    }
    const auto miou = sweep.miou();
    REQUIRE(miou.size() == 5);
    for (std::size_t i = 0; i < 5; ++i)
        CHECK(std::abs(miou[i] - ref.flat()[i]) <= 1e-12);
    CHECK(miou[sweep.best()] == *std::max_element(miou.begin(), miou.end()));
}

TEST_CASE("cam_threshold_sweep equals cam_to_labels + confusion_matrix on random maps") {
    std::mt19937_64 g(8);
    std::uniform_real_distribution<double> u(0, 1);
    const std::vector<double> th{0.1, 0.25, 0.4};
    detseg::cam_threshold_sweep sweep(4, th);
    std::vector<detseg::confusion_matrix> cms(3, detseg::confusion_matrix(4));
    for (int img = 0; img < 5; ++img) {
        detseg::tensor<double, 3> cam({3, 7 + img, 9});
        for (auto& v : cam.flat())
            v = u(g) * u(g);
        detseg::tensor<std::int32_t, 2> gt({7 + img, 9});
        for (auto& v : gt.flat())
            v = u(g) < 0.1 ? 255 : static_cast<std::int32_t>(u(g) * 4);
        sweep.update(cam, gt);
        for (std::size_t i = 0; i < th.size(); ++i)
            cms[i].update(gt, detseg::cam_to_labels(cam, {.threshold = th[i]}));
    }
    for (std::size_t i = 0; i < th.size(); ++i) {
        CHECK(sweep.matrix(i) == cms[i]);
        CHECK(sweep.miou()[i] == detseg::compute_seg_metrics(cms[i]).miou);
    }
}

TEST_CASE("cam_threshold_sweep rejects bad input with invalid_argument") {
    using testing::expect_invalid;
    expect_invalid([] { detseg::cam_threshold_sweep s(1, {0.1}); }, "cam_threshold_sweep",
                   "num_classes");
    expect_invalid([] { detseg::cam_threshold_sweep s(3, {}); }, "cam_threshold_sweep",
                   "thresholds");
    expect_invalid(
        [] {
            detseg::cam_threshold_sweep s(3, {0.2, 0.1});
        },
        "cam_threshold_sweep", "thresholds");
    expect_invalid(
        [] {
            detseg::cam_threshold_sweep s(3, {0.1, 0.1});
        },
        "cam_threshold_sweep", "thresholds");
    expect_invalid([] { detseg::cam_threshold_sweep s(3, {NAN}); }, "cam_threshold_sweep",
                   "thresholds");
    detseg::cam_threshold_sweep s(3, {0.1, 0.2});
    detseg::tensor<float, 3> cam({3, 4, 4}, 0.5f);
    detseg::tensor<std::uint8_t, 2> gt({4, 4}, 1);
    expect_invalid([&] { s.update(cam, gt); }, "cam_threshold_sweep::update", "cams");
    detseg::tensor<float, 3> cam2({2, 4, 4}, 0.5f);
    detseg::tensor<std::uint8_t, 2> gt_small({4, 3}, 1);
    expect_invalid([&] { s.update(cam2, gt_small); }, "cam_threshold_sweep::update", "gt");
    auto bad = gt;
    bad(1, 1) = 7; // label outside [0, 3), not the ignore index
    expect_invalid([&] { s.update(cam2, bad); }, "cam_threshold_sweep::update", "gt");
    auto nan = cam2;
    nan(0, 0, 0) = NAN;
    expect_invalid([&] { s.update(nan, gt); }, "cam_threshold_sweep::update", "cams");
    CHECK(s.matrix(0) == detseg::confusion_matrix(3));
}
