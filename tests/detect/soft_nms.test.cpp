#include <detseg/detect/soft_nms.hpp>

#include "support/backends.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::soft_nms_method;
using detseg::soft_nms_params;

namespace {

template <class T>
std::vector<T> fixture(const std::string& name) {
    const auto a = detseg::load_npy(testing::data_path("soft_nms/" + name + ".npy"));
    if constexpr (std::is_same_v<T, index_t>) {
        const auto t = a.as<std::int64_t, 1>();
        return {t.flat().begin(), t.flat().end()};
    } else if (a.shape.size() == 2) {
        const auto t = a.as<float, 2>();
        return {t.flat().begin(), t.flat().end()};
    } else {
        const auto t = a.as<float, 1>();
        return {t.flat().begin(), t.flat().end()};
    }
}

struct fixture_case {
    const char* name;
    soft_nms_params params;
};

// Mirrors CASES in tests/reference/gen_soft_nms_fixtures.py (OpenCV's top_k = 0 is -1 here).
const std::vector<fixture_case>& fixture_cases() {
    static const std::vector<fixture_case> cases = {
        {"gauss050", {soft_nms_method::gaussian, 0.5, 0.3, 0.001, -1}},
        {"gauss025", {soft_nms_method::gaussian, 0.25, 0.3, 0.001, -1}},
        {"gauss050_s010_k20", {soft_nms_method::gaussian, 0.5, 0.3, 0.1, 20}},
        {"linear030", {soft_nms_method::linear, 0.5, 0.3, 0.001, -1}},
        {"linear050_s005", {soft_nms_method::linear, 0.5, 0.5, 0.05, -1}},
        {"linear000_k10", {soft_nms_method::linear, 0.5, 0.0, 0.001, 10}},
    };
    return cases;
}

long long max_ulp(const std::vector<float>& a, const std::vector<float>& b) {
    long long m = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        m = std::max(m, testing::ulp_distance(a[i], b[i]));
    return m;
}

} // namespace

TEST_CASE_TEMPLATE("soft_nms picks and scores equal cv2.dnn.softNMSBoxes on every fixture", T,
                   float, double) {
    int cases = 0;
    long long worst = 0;
    // Mirrors box_sets() in tests/reference/gen_soft_nms_fixtures.py.
    for (const char* set : {"n50", "n300", "n2000", "n5000", "uniform", "ties"}) {
        const auto boxes32 = fixture<float>(std::string(set) + "_boxes");
        const std::vector<T> boxes(boxes32.begin(), boxes32.end());
        const auto scores = fixture<float>(std::string(set) + "_scores");
        const std::vector<double> scores64(scores.begin(), scores.end());
        REQUIRE(boxes.size() == 4 * scores.size());
        for (const auto& c : fixture_cases()) {
            CAPTURE(set);
            CAPTURE(c.name);
            const std::string prefix = std::string(set) + "_" + c.name;
            const auto ref_idx = fixture<index_t>(prefix + "_indices");
            const auto ref_scores = fixture<float>(prefix + "_scores");
            REQUIRE(ref_idx.size() == ref_scores.size());
            for (const auto& r : {detseg::soft_nms(boxes, scores, c.params),
                                  detseg::soft_nms(boxes, scores64, c.params)}) {
                CHECK(r.indices == ref_idx);
                REQUIRE(r.scores.size() == ref_scores.size());
                const long long u = max_ulp(r.scores, ref_scores);
                CHECK(u <= 1);
                worst = std::max(worst, u);
            }
            ++cases;
        }
    }
    CHECK(cases == 36);
    CHECK(worst <= 1); // 0 with glibc's expf: bit-identical
}

TEST_CASE("soft_nms accepts every box backend") {
    const auto boxes32 = fixture<float>("n300_boxes");
    const detseg::tensor<float, 2> boxes = [&] {
        detseg::tensor<float, 2> t({index_t(boxes32.size() / 4), 4});
        std::copy(boxes32.begin(), boxes32.end(), t.flat().begin());
        return t;
    }();
    const auto scores = fixture<float>("n300_scores");
    const auto ref = fixture<index_t>("n300_gauss050_indices");
    testing::for_each_backend([&]<class B>() {
        B::with(boxes, [&](auto&& src) {
            CAPTURE(B::name);
            CHECK(detseg::soft_nms(src, scores).indices == ref);
        });
    });
}

TEST_CASE("max_output keeps the first picks of the full result") {
    const auto boxes = fixture<float>("n300_boxes");
    const auto scores = fixture<float>("n300_scores");
    for (auto method : {soft_nms_method::linear, soft_nms_method::gaussian}) {
        const auto full = detseg::soft_nms(boxes, scores, {.method = method});
        REQUIRE(full.indices.size() > 25);
        for (index_t k : {0, 1, 7, 25}) {
            const auto r = detseg::soft_nms(boxes, scores, {.method = method, .max_output = k});
            CHECK(r.indices ==
                  std::vector<index_t>(full.indices.begin(), full.indices.begin() + k));
            CHECK(r.scores == std::vector<float>(full.scores.begin(), full.scores.begin() + k));
        }
        const auto all = detseg::soft_nms(boxes, scores, {.method = method, .max_output = 100000});
        CHECK(all.indices == full.indices);
        CHECK(all.scores == full.scores);
    }
}

TEST_CASE("OpenCV's overlap, threshold and tie rules") {
    using P = soft_nms_params;
    SUBCASE("two identical zero-area boxes overlap 1") {
        const std::vector<float> boxes = {0, 0, 10, 10, 1, 1, 11, 11, 3, 3, 3, 3, 3, 3, 3, 3};
        const std::vector<float> scores = {0.9f, 0.8f, 0.5f, 0.5f};
        // Rects (0,0,10,10), (1,1,10,10), (3,3,0,0) twice; cv2.dnn.softNMSBoxes -> indices [0, 2,
        // 1, 3], scores [0.9, 0.5, 0.31670862, 0.06766764].
        const auto r = detseg::soft_nms(boxes, scores);
        CHECK(r.indices == std::vector<index_t>{0, 2, 1, 3});
        REQUIRE(r.scores.size() == 4);
        CHECK(r.scores[0] == 0.9f);
        CHECK(r.scores[1] == 0.5f);
        CHECK(r.scores[3] == 0.5f * std::exp(-1.0f / 0.5f));
        CHECK(testing::ulp_distance(r.scores[2], 0.31670862f) <= 1);
        CHECK(testing::ulp_distance(r.scores[3], 0.06766764f) <= 1);
    }
    SUBCASE("the gaussian divides by sigma, not 2 sigma^2") {
        // IoU 0.5 exactly: [0,0,4,1] and [0,0,2,1].
        const std::vector<double> boxes = {0, 0, 4, 1, 0, 0, 2, 1};
        const std::vector<float> scores = {0.9f, 0.8f};
        const auto r = detseg::soft_nms(boxes, scores, P{.sigma = 0.25});
        REQUIRE(r.scores.size() == 2);
        CHECK(r.scores[1] == 0.8f * std::exp(-(0.5f * 0.5f) / 0.25f));
        CHECK(r.scores[1] != 0.8f * std::exp(-(0.5f * 0.5f) / 0.125f));
    }
    SUBCASE("linear: an overlap equal to iou_threshold is not decayed") {
        const std::vector<float> boxes = {0, 0, 4, 1, 0, 0, 2, 1};
        const std::vector<float> scores = {0.9f, 0.8f};
        const auto at = detseg::soft_nms(
            boxes, scores, P{.method = soft_nms_method::linear, .iou_threshold = 0.5});
        CHECK(at.scores == std::vector<float>{0.9f, 0.8f});
        const auto below = detseg::soft_nms(
            boxes, scores, P{.method = soft_nms_method::linear, .iou_threshold = 0.49});
        CHECK(below.scores == std::vector<float>{0.9f, 0.8f * 0.5f});
    }
    SUBCASE("a score equal to score_threshold is picked; one below ends the loop") {
        const std::vector<float> boxes = {0, 0, 1, 1, 5, 5, 6, 6, 9, 9, 10, 10};
        const std::vector<float> scores = {0.5f, 0.25f, 0.2f};
        const auto r = detseg::soft_nms(boxes, scores, P{.score_threshold = 0.25});
        CHECK(r.indices == std::vector<index_t>{0, 1});
    }
    SUBCASE("tied scores are picked in index order") {
        const std::vector<float> boxes = {0, 0, 1, 1, 5, 5, 6, 6, 9, 9, 10, 10, 20, 20, 21, 21};
        const std::vector<float> scores = {0.3f, 0.7f, 0.3f, 0.7f};
        CHECK(detseg::soft_nms(boxes, scores).indices == std::vector<index_t>{1, 3, 0, 2});
    }
}

TEST_CASE("soft_nms: empty input gives an empty result") {
    const std::vector<float> none;
    const std::vector<double> no_scores;
    const auto r = detseg::soft_nms(none, no_scores);
    CHECK(r.indices.empty());
    CHECK(r.scores.empty());
    CHECK(detseg::soft_nms(none, no_scores, {.max_output = 3}).indices.empty());
}

TEST_CASE("soft_nms rejects bad input naming the argument") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> boxes = {0, 0, 1, 1, 2, 2, 3, 3};
    const std::vector<float> scores = {0.5f, 0.4f};
    using testing::expect_invalid;
    const std::string fn = "soft_nms";
    expect_invalid(
        [&] {
            (void)detseg::soft_nms(boxes, std::vector<float>{0.5f, nan});
        },
        fn, "scores");
    expect_invalid(
        [&] {
            (void)detseg::soft_nms(boxes, std::vector<double>{-inf, 0.1});
        },
        fn, "scores");
    expect_invalid(
        [&] {
            (void)detseg::soft_nms(boxes, std::vector<double>{1e300, 0.1});
        },
        fn, "scores");
    expect_invalid([&] { (void)detseg::soft_nms(boxes, std::vector<float>{0.5f}); }, fn, "scores");
    expect_invalid(
        [&] {
            (void)detseg::soft_nms(std::vector<float>{0, 0, nan, 1}, std::vector<float>{1});
        },
        fn, "boxes");
    expect_invalid(
        [&] {
            (void)detseg::soft_nms(std::vector<double>{0, 0, 1, double(inf)},
                                   std::vector<float>{1});
        },
        fn, "boxes");
    expect_invalid(
        [&] {
            (void)detseg::soft_nms(std::vector<float>{0, 0, 1, 1, 2}, scores);
        },
        fn, "boxes");
    for (double t : {-0.1, 1.5, double(nan), double(inf)}) {
        expect_invalid([&] { (void)detseg::soft_nms(boxes, scores, {.iou_threshold = t}); }, fn,
                       "params.iou_threshold");
        expect_invalid([&] { (void)detseg::soft_nms(boxes, scores, {.score_threshold = t}); }, fn,
                       "params.score_threshold");
    }
    for (double s : {0.0, -0.5, 1e-60, double(nan), double(inf)})
        expect_invalid([&] { (void)detseg::soft_nms(boxes, scores, {.sigma = s}); }, fn,
                       "params.sigma");
    expect_invalid([&] { (void)detseg::soft_nms(boxes, scores, {.max_output = -2}); }, fn,
                   "params.max_output");
    expect_invalid(
        [&] { (void)detseg::soft_nms(boxes, scores, {.method = static_cast<soft_nms_method>(7)}); },
        fn, "params.method");
    CHECK(detseg::soft_nms(boxes, scores, {.iou_threshold = 0.0, .score_threshold = 0.0})
              .indices.size() == 2);
    CHECK(detseg::soft_nms(boxes, scores, {.iou_threshold = 1.0, .score_threshold = 1.0})
              .indices.empty());
}
