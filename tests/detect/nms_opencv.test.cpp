#include <detseg/detect/nms.hpp>
#include <detseg/detect/nms_opencv.hpp>

#include "support/backends.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

using detseg::index_t;
using detseg::opencv_nms_params;

namespace {

template <class T>
std::vector<T> fixture(const std::string& name) {
    const auto a = detseg::load_npy(testing::data_path("nms_opencv/" + name + ".npy"));
    if constexpr (std::is_same_v<T, index_t>) {
        const auto t = a.as<std::int64_t, 1>();
        return {t.flat().begin(), t.flat().end()};
    } else if (a.shape.size() == 2) {
        const auto t = a.as<T, 2>();
        return {t.flat().begin(), t.flat().end()};
    } else {
        const auto t = a.as<T, 1>();
        return {t.flat().begin(), t.flat().end()};
    }
}

struct fixture_case {
    const char* name;
    opencv_nms_params params;
};

// Mirrors CASES in tests/reference/gen_nms_opencv_fixtures.py.
const std::vector<fixture_case>& fixture_cases() {
    static const std::vector<fixture_case> cases = {
        {"default", {0.0, 0.5, 1.0, 0}}, {"s030", {0.3, 0.5, 1.0, 0}},
        {"k20", {0.0, 0.5, 1.0, 20}},    {"eta090_t070", {0.0, 0.7, 0.9, 0}},
        {"t000", {0.0, 0.0, 1.0, 0}},
    };
    return cases;
}

std::vector<float> xyxy(std::initializer_list<float> v) {
    return v;
}

} // namespace

TEST_CASE("nms_opencv keeps exactly what cv2.dnn.NMSBoxes keeps on every fixture") {
    // Mirrors box_sets() in tests/reference/gen_nms_opencv_fixtures.py: every set has float32
    // boxes (_boxes32, _keep32), all but n10000 also float64 boxes (_boxes64, _keep64).
    const std::vector<std::pair<std::string, bool>> sets = {{"n50", true},     {"n500", true},
                                                            {"n3000", true},   {"n10000", false},
                                                            {"uniform", true}, {"ties", true}};
    int cases = 0;
    for (const auto& entry : sets) {
        const std::string& set = entry.first; // CAPTURE(set) needs a variable, not a binding
        const bool has_f64 = entry.second;
        const auto boxes64 = has_f64 ? fixture<double>(set + "_boxes64") : std::vector<double>{};
        const auto boxes32 = fixture<float>(set + "_boxes32");
        const auto scores = fixture<float>(set + "_scores");
        const std::vector<double> scores64(scores.begin(), scores.end());
        REQUIRE(boxes64.size() == (has_f64 ? 4 * scores.size() : 0));
        REQUIRE(boxes32.size() == 4 * scores.size());
        for (const auto& c : fixture_cases()) {
            CAPTURE(set);
            CAPTURE(c.name);
            const std::string prefix = set + "_" + c.name;
            if (has_f64) {
                const auto ref64 = fixture<index_t>(prefix + "_keep64");
                CHECK(detseg::nms_opencv(boxes64, scores, c.params) == ref64);
                CHECK(detseg::nms_opencv(boxes64, scores64, c.params) == ref64);
            }
            const auto ref32 = fixture<index_t>(prefix + "_keep32");
            CHECK(detseg::nms_opencv(boxes32, scores, c.params) == ref32);
            CHECK(detseg::nms_opencv(boxes32, scores64, c.params) == ref32);
            ++cases;
        }
    }
    CHECK(cases == 30);
}

TEST_CASE("nms_opencv accepts every box backend") {
    const auto boxes32 = fixture<float>("n500_boxes32");
    detseg::tensor<float, 2> boxes({index_t(boxes32.size() / 4), 4});
    std::copy(boxes32.begin(), boxes32.end(), boxes.flat().begin());
    const auto scores = fixture<float>("n500_scores");
    const auto ref = fixture<index_t>("n500_default_keep32");
    testing::for_each_backend([&]<class B>() {
        B::with(boxes, [&](auto&& src) {
            CAPTURE(B::name);
            CHECK(detseg::nms_opencv(src, scores) == ref);
        });
    });
}

TEST_CASE("nms_opencv differs from nms where OpenCV does") {
    using V = std::vector<index_t>;
    SUBCASE("top_k truncates the candidates before suppression") {
        // B overlaps A (IoU 81/119); C is apart. cv2.dnn.NMSBoxes(..., top_k=2) -> [0].
        const auto boxes = xyxy({0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30});
        const std::vector<float> scores = {0.9f, 0.8f, 0.7f};
        CHECK(detseg::nms_opencv(boxes, scores, {.top_k = 2}) == V{0});
        CHECK(detseg::nms(boxes, scores, {.max_output = 2}) == V{0, 2});
        CHECK(detseg::nms_opencv(boxes, scores) == V{0, 2});
        CHECK(detseg::nms_opencv(boxes, scores, {.top_k = 3}) == V{0, 2});
        CHECK(detseg::nms_opencv(boxes, scores, {.top_k = 1}) == V{0});
    }
    SUBCASE("zero-area boxes suppress each other, even apart") {
        // Two identical points, a 10x10 box, a vertical segment. cv2 -> [0, 2].
        const auto boxes = xyxy({3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 10, 10, 5, 5, 5, 8});
        const std::vector<float> scores = {0.9f, 0.8f, 0.7f, 0.6f};
        CHECK(detseg::nms_opencv(boxes, scores) == V{0, 2});
        CHECK(detseg::nms(boxes, scores) == V{0, 1, 2, 3});
    }
    SUBCASE("eta decays the threshold only while it is above 0.5") {
        // 0.55 -> 0.495 after the first keep, then stays: C (IoU 0.47 with B) is kept, D (IoU
        // 0.52 with A) is not. cv2 with eta=0.9 -> [0, 1, 2]; with eta=1 -> [0, 1, 2, 3].
        const auto boxes =
            xyxy({0, 0, 10, 10, 100, 100, 110, 110, 100, 100, 110, 104.7f, 0, 0, 10, 5.2f});
        const std::vector<float> scores = {0.9f, 0.8f, 0.7f, 0.6f};
        CHECK(detseg::nms_opencv(boxes, scores, {.nms_threshold = 0.55, .eta = 0.9}) == V{0, 1, 2});
        CHECK(detseg::nms_opencv(boxes, scores, {.nms_threshold = 0.55}) == V{0, 1, 2, 3});
        CHECK(detseg::nms(boxes, scores, {.iou_threshold = 0.55}) == V{0, 1, 2, 3});
    }
    SUBCASE("the score threshold is strict; ties keep index order") {
        const auto boxes = xyxy({0, 0, 1, 1, 5, 5, 6, 6, 9, 9, 10, 10});
        CHECK(detseg::nms_opencv(boxes, std::vector<float>{0.5f, 0.25f, 0.2f},
                                 {.score_threshold = 0.25}) == V{0});
        const auto four = xyxy({0, 0, 1, 1, 5, 5, 6, 6, 9, 9, 10, 10, 20, 20, 21, 21});
        CHECK(detseg::nms_opencv(four, std::vector<float>{0.3f, 0.7f, 0.3f, 0.7f}) ==
              V{1, 3, 0, 2});
        // score 0 is not > 0: dropped with the default threshold.
        CHECK(detseg::nms_opencv(boxes, std::vector<float>{0.5f, 0.0f, 0.2f}) == V{0, 2});
    }
}

TEST_CASE("nms_opencv: empty input gives an empty result") {
    const std::vector<float> none;
    const std::vector<double> no_scores;
    CHECK(detseg::nms_opencv(none, no_scores).empty());
    CHECK(detseg::nms_opencv(none, no_scores, {.eta = 0.5, .top_k = 3}).empty());
    const auto boxes = xyxy({0, 0, 1, 1});
    CHECK(detseg::nms_opencv(boxes, std::vector<float>{0.5f}, {.score_threshold = 0.9}).empty());
}

TEST_CASE("nms_opencv rejects bad input naming the argument") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> boxes = {0, 0, 1, 1, 2, 2, 3, 3};
    const std::vector<float> scores = {0.5f, 0.4f};
    using testing::expect_invalid;
    const std::string fn = "nms_opencv";
    expect_invalid(
        [&] {
            (void)detseg::nms_opencv(boxes, std::vector<float>{0.5f, nan});
        },
        fn, "scores");
    expect_invalid(
        [&] {
            (void)detseg::nms_opencv(boxes, std::vector<double>{-inf, 0.1});
        },
        fn, "scores");
    expect_invalid(
        [&] {
            (void)detseg::nms_opencv(boxes, std::vector<double>{1e300, 0.1});
        },
        fn, "scores");
    expect_invalid([&] { (void)detseg::nms_opencv(boxes, std::vector<float>{0.5f}); }, fn,
                   "scores");
    expect_invalid(
        [&] {
            (void)detseg::nms_opencv(std::vector<float>{0, 0, nan, 1}, std::vector<float>{1});
        },
        fn, "boxes");
    expect_invalid(
        [&] {
            (void)detseg::nms_opencv(std::vector<double>{0, 0, 1, double(inf)},
                                     std::vector<float>{1});
        },
        fn, "boxes");
    expect_invalid(
        [&] {
            (void)detseg::nms_opencv(std::vector<float>{0, 0, 1, 1, 2}, scores);
        },
        fn, "boxes");
    for (double t : {-0.1, double(nan), double(inf), -double(inf)})
        expect_invalid([&] { (void)detseg::nms_opencv(boxes, scores, {.score_threshold = t}); }, fn,
                       "params.score_threshold");
    for (double t : {-0.1, 1.5, double(nan), double(inf)})
        expect_invalid([&] { (void)detseg::nms_opencv(boxes, scores, {.nms_threshold = t}); }, fn,
                       "params.nms_threshold");
    for (double e : {0.0, -0.5, 1.5, 1e-60, double(nan), double(inf)})
        expect_invalid([&] { (void)detseg::nms_opencv(boxes, scores, {.eta = e}); }, fn,
                       "params.eta");
    expect_invalid([&] { (void)detseg::nms_opencv(boxes, scores, {.top_k = -1}); }, fn,
                   "params.top_k");
    CHECK(detseg::nms_opencv(boxes, scores, {.score_threshold = 5.0}).empty());
    CHECK(detseg::nms_opencv(boxes, scores, {.nms_threshold = 0.0}) == std::vector<index_t>{0, 1});
    CHECK(detseg::nms_opencv(boxes, scores, {.nms_threshold = 1.0, .eta = 1e-3}).size() == 2);
}
