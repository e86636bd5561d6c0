#include <detseg/box/iou.hpp>
#include <detseg/detect/nms.hpp>

#include "support/backends.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/nms_oracle.hpp"
#include "support/oracle.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::nms_compare;
using detseg::nms_params;

namespace {

template <class T, std::size_t R, class U = T>
detseg::tensor<U, R> nms_fixture(const std::string& set, const std::string& name) {
    const char* tag = sizeof(T) == 4 ? "f32" : "f64";
    return detseg::load_npy(testing::data_path("nms/" + set + "_" + tag + "_" + name + ".npy"))
        .template as<U, R>();
}

std::vector<index_t> to_indices(const detseg::tensor<std::int64_t, 1>& t) {
    return {t.flat().begin(), t.flat().end()};
}

std::string threshold_tag(double t) {
    const int v = static_cast<int>(std::lround(t * 100));
    std::string s = std::to_string(v);
    return std::string(3 - s.size(), '0') + s;
}

template <class S>
std::vector<S> random_scores(std::mt19937_64& rng, std::size_t n) {
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<S> s(n);
    for (auto& v : s)
        v = static_cast<S>(u(rng) < 0.3 ? std::round(u(rng) * 10) / 10 : u(rng));
    return s;
}

} // namespace

TEST_CASE_TEMPLATE("nms keep lists equal torchvision's on every fixture", T, float, double) {
    struct fixture_set {
        std::string name;
        std::vector<double> thresholds;
        bool has_f64 = true;
    };
    // Mirrors box_sets() in tests/reference/gen_nms_fixtures.py.
    const std::vector<double> clustered = {0.3, 0.5, 0.7};
    const std::vector<fixture_set> sets = {
        {"n50", clustered},           {"n500", clustered},          {"n3000", clustered},
        {"exact", {0.25, 0.5, 0.75}}, {"n10000", clustered, false}, {"uniform", clustered},
        {"ties", clustered}};
    int cases = 0;
    for (const auto& entry : sets) {
        if (sizeof(T) == 8 && !entry.has_f64)
            continue;
        const std::string& set = entry.name; // CAPTURE(set) needs a variable, not a binding
        const std::vector<double>& thresholds = entry.thresholds;
        const auto boxes = nms_fixture<T, 2>(set, "boxes");
        const auto scores = nms_fixture<T, 1>(set, "scores");
        std::vector<double> scores64(scores.flat().begin(), scores.flat().end());
        for (double t : thresholds) {
            CAPTURE(set);
            CAPTURE(t);
            const auto ref =
                to_indices(nms_fixture<T, 1, std::int64_t>(set, "keep_" + threshold_tag(t)));
            CHECK(detseg::nms(boxes, scores, {.iou_threshold = t}) == ref);
            CHECK(detseg::nms(boxes, scores64, {.iou_threshold = t}) == ref);
            std::vector<index_t> out(static_cast<std::size_t>(boxes.extent(0)) + 2, -7);
            const index_t k = detseg::nms_to(boxes, scores, out, {.iou_threshold = t});
            REQUIRE(k == index_t(ref.size()));
            CHECK(std::equal(ref.begin(), ref.end(), out.begin()));
            CHECK(out[ref.size()] == -7);
            ++cases;
        }
    }
    CHECK(cases == (sizeof(T) == 4 ? 21 : 18));
}

TEST_CASE_TEMPLATE("nms accepts every box backend", T, float, double) {
    const auto boxes = nms_fixture<T, 2>("n500", "boxes");
    const auto scores = nms_fixture<T, 1>("n500", "scores");
    const auto ref = to_indices(nms_fixture<T, 1, std::int64_t>("n500", "keep_050"));
    testing::for_each_backend([&]<class B>() {
        B::with(boxes, [&](auto&& src) {
            CAPTURE(B::name);
            CHECK(detseg::nms(src, scores) == ref);
        });
    });
}

TEST_CASE("IoU exactly at the threshold: kept by greater, suppressed by greater_equal") {
    const auto boxes = nms_fixture<float, 2>("exact", "boxes");
    const auto scores = nms_fixture<float, 1>("exact", "scores");
    // Pairs (2k, 2k+1) with IoU 0.5, 0.25, 0.75, 0.5, 0.75, 0.5, 0.25.
    const std::array<double, 7> pair_iou = {0.5, 0.25, 0.75, 0.5, 0.75, 0.5, 0.25};
    for (double t : {0.25, 0.5, 0.75}) {
        CAPTURE(t);
        const auto gt = detseg::nms(boxes, scores, {.iou_threshold = t});
        const auto ge =
            detseg::nms(boxes, scores, {.iou_threshold = t, .compare = nms_compare::greater_equal});
        std::vector<index_t> want_gt, want_ge;
        for (index_t k = 0; k < 7; ++k) {
            want_gt.push_back(2 * k);
            want_ge.push_back(2 * k);
        }
        for (index_t k = 0; k < 7; ++k) {
            if (!(pair_iou[std::size_t(k)] > t))
                want_gt.push_back(2 * k + 1);
            if (!(pair_iou[std::size_t(k)] >= t))
                want_ge.push_back(2 * k + 1);
        }
        CHECK(gt == want_gt);
        CHECK(ge == want_ge);
    }
}

TEST_CASE_TEMPLATE("nms equals a brute-force greedy oracle on random detections", T, float,
                   double) {
    std::mt19937_64 rng(2024);
    std::uniform_real_distribution<double> u(0, 1);
    for (int trial = 0; trial < 60; ++trial) {
        const int n = 1 + trial * 5;
        const auto boxes = testing::random_boxes<T>(rng, n);
        const auto scores = random_scores<T>(rng, boxes.size());
        const auto iou = detseg::pairwise_iou(boxes, boxes);
        // Thresholds that are IoU values of the set itself hit the equality case.
        const double at = static_cast<double>(iou(index_t(u(rng) * n), index_t(u(rng) * n)));
        for (double t : {0.0, 0.3, 0.5, 0.7, 1.0, at}) {
            for (nms_compare c : {nms_compare::greater, nms_compare::greater_equal}) {
                nms_params p{.iou_threshold = t, .compare = c};
                if (trial % 3 == 1)
                    p.score_threshold = 0.5;
                if (trial % 4 == 2)
                    p.max_output = trial % 7;
                CAPTURE(trial);
                CAPTURE(t);
                CAPTURE(int(c));
                CHECK(detseg::nms(boxes, scores, p) == testing::oracle_nms(boxes, scores, p));
            }
        }
    }
}

TEST_CASE_TEMPLATE("the threshold in the box type compares as the double threshold", T, float,
                   double) {
    for (double t : {0.0, 0.1, 0.25, 0.3, 1.0 / 3.0, 0.5, 0.7, 0.9999999, 1.0}) {
        for (nms_compare c : {nms_compare::greater, nms_compare::greater_equal}) {
            const T tt = detseg::detail::nms_threshold_as<T>(t, c);
            T v = static_cast<T>(t);
            for (int k = 0; k < 4; ++k)
                v = std::nextafter(v, T(-1));
            for (int k = 0; k < 9; ++k, v = std::nextafter(v, T(2))) {
                const double vd = static_cast<double>(v);
                CAPTURE(t);
                CAPTURE(vd);
                if (c == nms_compare::greater)
                    CHECK((v > tt) == (vd > t));
                else
                    CHECK((v >= tt) == (vd >= t));
            }
        }
    }
}

TEST_CASE("tied scores are visited in index order") {
    std::vector<std::array<double, 4>> boxes;
    for (int i = 0; i < 10; ++i)
        boxes.push_back({10.0 * i, 0, 10.0 * i + 5, 5});
    const std::vector<float> flat(10, 0.5f);
    std::vector<index_t> all(10);
    std::iota(all.begin(), all.end(), index_t{0});
    CHECK(detseg::nms(boxes, flat) == all);

    // Three copies of one box with tied top scores: the lowest index survives.
    const std::vector<std::array<float, 4>> same = {
        {0, 0, 4, 4}, {0, 0, 4, 4}, {0, 0, 4, 4}, {9, 9, 12, 12}};
    CHECK(detseg::nms(same, std::vector<double>{0.7, 0.9, 0.9, 0.9}) == std::vector<index_t>{1, 3});
}

TEST_CASE("identical zero-area boxes are both kept, as in torchvision") {
    const std::vector<float> boxes = {5, 5, 5, 5, 5, 5, 5, 5, 0, 2, 10, 2, 0, 2, 10, 2};
    const std::vector<float> scores = {0.9f, 0.8f, 0.7f, 0.6f};
    CHECK(detseg::nms(boxes, scores) == std::vector<index_t>{0, 1, 2, 3});
    CHECK(detseg::nms(boxes, scores, {.iou_threshold = 0.0}) == std::vector<index_t>{0, 1, 2, 3});
}

TEST_CASE("max_output keeps the first boxes of the full result") {
    const auto boxes = nms_fixture<double, 2>("n500", "boxes");
    const auto scores = nms_fixture<double, 1>("n500", "scores");
    const auto full = detseg::nms(boxes, scores);
    REQUIRE(full.size() > 20);
    for (index_t k : {0, 1, 7, 20}) {
        const auto got = detseg::nms(boxes, scores, {.max_output = k});
        CHECK(got == std::vector<index_t>(full.begin(), full.begin() + k));
    }
    CHECK(detseg::nms(boxes, scores, {.max_output = 100000}) == full);
    CHECK(detseg::nms(boxes, scores, {.max_output = -1}) == full);
}

TEST_CASE("score_threshold drops scores at or below it before suppression") {
    const std::vector<std::array<float, 4>> boxes = {
        {0, 0, 10, 10}, {1, 0, 11, 10}, {50, 50, 60, 60}, {51, 50, 61, 60}};
    const std::vector<float> scores = {0.3f, 0.9f, 0.5f, 0.4f};
    CHECK(detseg::nms(boxes, scores) == std::vector<index_t>{1, 2});
    // Box 1 (0.9) would suppress box 0; with box 2 at exactly the threshold, box 3 survives.
    CHECK(detseg::nms(boxes, scores, {.score_threshold = 0.5}) == std::vector<index_t>{1});
    CHECK(detseg::nms(boxes, scores, {.score_threshold = static_cast<double>(0.4f)}) ==
          std::vector<index_t>{1, 2});
    CHECK(detseg::nms(boxes, scores, {.score_threshold = 0.35}) == std::vector<index_t>{1, 2});
    CHECK(detseg::nms(boxes, scores, {.score_threshold = 1.0}).empty());
    CHECK(detseg::nms(boxes, scores, {.score_threshold = std::numeric_limits<double>::infinity()})
              .empty());
    const std::vector<float> low = {0.9f, 0.2f, 0.5f, 0.45f};
    CHECK(detseg::nms(boxes, low, {.score_threshold = 0.48}) == std::vector<index_t>{0, 2});
}

TEST_CASE("nms_to: a short span acts as a limit; a workspace is reusable") {
    const auto boxes = nms_fixture<float, 2>("n3000", "boxes");
    const auto scores = nms_fixture<float, 1>("n3000", "scores");
    const auto full = detseg::nms(boxes, scores, {.iou_threshold = 0.7});
    std::vector<index_t> out(5, -1);
    CHECK(detseg::nms_to(boxes, scores, out, {.iou_threshold = 0.7}) == 5);
    CHECK(out == std::vector<index_t>(full.begin(), full.begin() + 5));
    CHECK(detseg::nms_to(boxes, scores, std::span<index_t>{}, {.iou_threshold = 0.7}) == 0);
    CHECK(detseg::nms_to(boxes, scores, out, {.iou_threshold = 0.7, .max_output = 2}) == 2);

    detseg::nms_workspace ws;
    std::vector<index_t> big(3000);
    for (double t : {0.3, 0.5, 0.7}) {
        const auto ref =
            to_indices(nms_fixture<float, 1, std::int64_t>("n3000", "keep_" + threshold_tag(t)));
        const index_t k = detseg::nms_to(boxes, scores, big, ws, {.iou_threshold = t});
        CHECK(std::vector<index_t>(big.begin(), big.begin() + k) == ref);
    }
    const auto d = nms_fixture<double, 2>("n50", "boxes");
    const auto ds = nms_fixture<double, 1>("n50", "scores");
    const index_t k = detseg::nms_to(d, ds, big, ws);
    CHECK(std::vector<index_t>(big.begin(), big.begin() + k) ==
          to_indices(nms_fixture<double, 1, std::int64_t>("n50", "keep_050")));
}

TEST_CASE("empty input gives empty output") {
    const std::vector<float> none;
    const std::vector<double> no_scores;
    CHECK(detseg::nms(none, no_scores).empty());
    CHECK(detseg::nms(none, no_scores, {.max_output = 3}).empty());
    std::vector<index_t> out(3, -1);
    CHECK(detseg::nms_to(none, no_scores, out) == 0);
    CHECK(out == std::vector<index_t>(3, -1));
}

TEST_CASE("nms rejects bad input naming the argument") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> boxes = {0, 0, 1, 1, 2, 2, 3, 3};
    const std::vector<float> scores = {0.5f, 0.4f};
    using testing::expect_invalid;
    expect_invalid(
        [&] {
            (void)detseg::nms(boxes, std::vector<float>{0.5f, nan});
        },
        "nms", "scores");
    expect_invalid(
        [&] {
            (void)detseg::nms(boxes, std::vector<double>{-inf, 0.1});
        },
        "nms", "scores");
    expect_invalid([&] { (void)detseg::nms(boxes, std::vector<float>{0.5f}); }, "nms", "scores");
    expect_invalid(
        [&] {
            (void)detseg::nms(std::vector<float>{0, 0, nan, 1}, std::vector<float>{1});
        },
        "nms", "boxes");
    expect_invalid(
        [&] {
            (void)detseg::nms(std::vector<double>{0, 0, 1, double(inf)}, std::vector<float>{1});
        },
        "nms", "boxes");
    expect_invalid(
        [&] {
            (void)detseg::nms(std::vector<float>{0, 0, 1, 1, 2}, scores);
        },
        "nms", "boxes");
    for (double t : {-0.1, 1.5, double(nan), double(inf)})
        expect_invalid([&] { (void)detseg::nms(boxes, scores, {.iou_threshold = t}); }, "nms",
                       "params.iou_threshold");
    expect_invalid([&] { (void)detseg::nms(boxes, scores, {.score_threshold = double(nan)}); },
                   "nms", "params.score_threshold");
    expect_invalid([&] { (void)detseg::nms(boxes, scores, {.max_output = -2}); }, "nms",
                   "params.max_output");
    std::vector<index_t> out(2);
    expect_invalid(
        [&] {
            (void)detseg::nms_to(boxes, std::vector<float>{nan, 0}, out);
        },
        "nms_to", "scores");
    expect_invalid([&] { (void)detseg::nms_to(boxes, scores, out, {.max_output = -5}); }, "nms_to",
                   "params.max_output");
    CHECK(detseg::nms(boxes, scores, {.iou_threshold = 0.0}).size() == 2);
    CHECK(detseg::nms(boxes, scores, {.iou_threshold = 1.0}).size() == 2);
}
