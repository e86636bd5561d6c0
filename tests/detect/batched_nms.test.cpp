#include <detseg/detect/batched_nms.hpp>
#include <detseg/detect/nms.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::nms_compare;
using detseg::nms_params;

namespace {

template <class T, std::size_t R, class U = T>
detseg::tensor<U, R> bnms_fixture(const std::string& set, const std::string& name) {
    const char* tag = sizeof(T) == 4 ? "f32" : "f64";
    return detseg::load_npy(
               testing::data_path("batched_nms/" + set + "_" + tag + "_" + name + ".npy"))
        .template as<U, R>();
}

std::string threshold_tag(double t) {
    const int v = static_cast<int>(std::lround(t * 100));
    std::string s = std::to_string(v);
    return std::string(3 - s.size(), '0') + s;
}

std::vector<index_t> sorted(std::vector<index_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Score descending, ties by lower index.
template <class S>
bool in_score_order(const std::vector<index_t>& keep, const S& scores) {
    for (std::size_t k = 1; k < keep.size(); ++k) {
        const auto a = scores[std::size_t(keep[k - 1])], b = scores[std::size_t(keep[k])];
        if (!(a > b || (a == b && keep[k - 1] < keep[k])))
            return false;
    }
    return true;
}

// Per-class detseg::nms, merged into score order: the definition of batched NMS.
template <class T, class S, class L>
std::vector<index_t> oracle_batched(const std::vector<std::array<T, 4>>& boxes,
                                    const std::vector<S>& scores, const std::vector<L>& labels,
                                    const nms_params& p) {
    std::map<L, std::vector<index_t>> groups;
    for (std::size_t i = 0; i < labels.size(); ++i)
        groups[labels[i]].push_back(index_t(i));
    std::vector<index_t> all;
    for (const auto& [label, idx] : groups) {
        std::vector<std::array<T, 4>> b;
        std::vector<S> s;
        for (index_t i : idx) {
            b.push_back(boxes[std::size_t(i)]);
            s.push_back(scores[std::size_t(i)]);
        }
        nms_params q = p;
        q.max_output = -1;
        for (index_t k : detseg::nms(b, s, q))
            all.push_back(idx[std::size_t(k)]);
    }
    std::sort(all.begin(), all.end(), [&](index_t a, index_t b) {
        const auto sa = scores[std::size_t(a)], sb = scores[std::size_t(b)];
        return sa > sb || (sa == sb && a < b);
    });
    if (p.max_output >= 0 && p.max_output < index_t(all.size()))
        all.resize(std::size_t(p.max_output));
    return all;
}

template <class T>
std::vector<std::array<T, 4>> rows(const detseg::tensor<T, 2>& t) {
    std::vector<std::array<T, 4>> r(static_cast<std::size_t>(t.extent(0)));
    for (index_t i = 0; i < t.extent(0); ++i)
        for (index_t j = 0; j < 4; ++j)
            r[std::size_t(i)][std::size_t(j)] = t(i, j);
    return r;
}

} // namespace

TEST_CASE_TEMPLATE("batched_nms kept sets equal torchvision's on every fixture", T, float, double) {
    // Mirrors box_sets() in tests/reference/gen_batched_nms_fixtures.py; n10000 is float32 only.
    const std::vector<std::pair<std::string, bool>> sets = {{"n300", true},     {"n2000", true},
                                                            {"negative", true}, {"n10000", false},
                                                            {"uniform", true},  {"ties", true}};
    int cases = 0;
    for (const auto& entry : sets) {
        const std::string& set = entry.first; // CAPTURE(set) needs a variable, not a binding
        const bool has_f64 = entry.second;
        if (sizeof(T) == 8 && !has_f64)
            continue;
        const auto boxes = bnms_fixture<T, 2>(set, "boxes");
        const auto scores = bnms_fixture<T, 1>(set, "scores");
        const auto labels64 = bnms_fixture<T, 1, std::int64_t>(set, "labels");
        const std::vector<std::int64_t> labels(labels64.flat().begin(), labels64.flat().end());
        const std::vector<std::int32_t> labels32(labels.begin(), labels.end());
        const std::vector<std::uint8_t> labels8(labels.begin(), labels.end());
        const std::vector<T> s(scores.flat().begin(), scores.flat().end());
        const auto b = rows(boxes);
        for (double t : {0.5, 0.7}) {
            CAPTURE(set);
            CAPTURE(t);
            const auto ref = bnms_fixture<T, 1, std::int64_t>(set, "keep_" + threshold_tag(t));
            const std::vector<index_t> want(ref.flat().begin(), ref.flat().end());
            const auto got = detseg::batched_nms(boxes, scores, labels64, {.iou_threshold = t});
            CHECK(sorted(got) == want);
            CHECK(in_score_order(got, s));
            CHECK(got == oracle_batched(b, s, labels, {.iou_threshold = t}));
            CHECK(detseg::batched_nms(boxes, scores, labels32, {.iou_threshold = t}) == got);
            CHECK(detseg::batched_nms(boxes, scores, labels8, {.iou_threshold = t}) == got);
            std::vector<index_t> out(static_cast<std::size_t>(boxes.extent(0)) + 1, -7);
            const index_t k =
                detseg::batched_nms_to(boxes, scores, labels, out, {.iou_threshold = t});
            REQUIRE(k == index_t(got.size()));
            CHECK(std::equal(got.begin(), got.end(), out.begin()));
            CHECK(out[got.size()] == -7);
            ++cases;
        }
    }
    CHECK(cases == (sizeof(T) == 4 ? 12 : 10));
}

TEST_CASE("batched_nms: negative coordinates do not let classes interact") {
    // torchvision's offset trick makes these suppress each other (it returns [0]).
    const std::vector<std::array<float, 4>> boxes = {{0, 0, 10, 10}, {-11, -11, -1, -1}};
    const std::vector<float> scores = {0.9f, 0.8f};
    CHECK(detseg::batched_nms(boxes, scores, std::vector<int>{0, 1}) == std::vector<index_t>{0, 1});
    // Same boxes in one class: the second is far away, both kept; a copy is suppressed.
    const std::vector<std::array<double, 4>> copies = {{-1e9, -1e9, -1e9 + 10, -1e9 + 10},
                                                       {-1e9, -1e9, -1e9 + 10, -1e9 + 10},
                                                       {1e12, 1e12, 1e12 + 1e4, 1e12 + 1e4}};
    const std::vector<double> s3 = {0.5, 0.6, 0.6};
    CHECK(detseg::batched_nms(copies, s3, std::vector<long>{3, 3, 3}) ==
          std::vector<index_t>{1, 2});
    CHECK(detseg::batched_nms(copies, s3, std::vector<long>{3, -3, 3}) ==
          std::vector<index_t>{1, 2, 0});
}

TEST_CASE_TEMPLATE("batched_nms equals per-class nms on random detections", T, float, double) {
    std::mt19937_64 rng(77);
    std::uniform_real_distribution<double> u(0, 1);
    for (int trial = 0; trial < 40; ++trial) {
        const int n = 1 + trial * 7;
        const int classes = 1 + trial % 6;
        std::vector<std::array<T, 4>> boxes;
        std::vector<T> scores;
        std::vector<std::int16_t> labels;
        for (int i = 0; i < n; ++i) {
            const double x = u(rng) * 100 - 50, y = u(rng) * 100 - 50;
            const double w = 1 + u(rng) * 40, h = 1 + u(rng) * 40;
            boxes.push_back({T(x), T(y), T(x + w), T(y + h)});
            scores.push_back(T(u(rng) < 0.3 ? std::round(u(rng) * 10) / 10 : u(rng)));
            labels.push_back(std::int16_t(int(u(rng) * classes) - 2));
        }
        for (double t : {0.0, 0.3, 0.5, 0.7, 1.0}) {
            for (nms_compare c : {nms_compare::greater, nms_compare::greater_equal}) {
                nms_params p{.iou_threshold = t, .compare = c};
                if (trial % 3 == 1)
                    p.score_threshold = 0.5;
                if (trial % 4 == 2)
                    p.max_output = trial % 9;
                CAPTURE(trial);
                CAPTURE(t);
                const auto got = detseg::batched_nms(boxes, scores, labels, p);
                CHECK(got == oracle_batched(boxes, scores, labels, p));
                CHECK(in_score_order(got, scores));
            }
        }
    }
}

TEST_CASE("batched_nms: max_output keeps the highest-scoring kept boxes overall") {
    const auto boxes = bnms_fixture<float, 2>("n300", "boxes");
    const auto scores = bnms_fixture<float, 1>("n300", "scores");
    const auto labels = bnms_fixture<float, 1, std::int64_t>("n300", "labels");
    const auto full = detseg::batched_nms(boxes, scores, labels);
    REQUIRE(full.size() > 20);
    for (index_t k : {0, 1, 7, 20}) {
        CAPTURE(k);
        CHECK(detseg::batched_nms(boxes, scores, labels, {.max_output = k}) ==
              std::vector<index_t>(full.begin(), full.begin() + k));
        std::vector<index_t> out(5, -1);
        const index_t w = detseg::batched_nms_to(boxes, scores, labels, out, {.max_output = k});
        CHECK(w == std::min<index_t>(k, 5));
        CHECK(std::equal(out.begin(), out.begin() + w, full.begin()));
    }
    CHECK(detseg::batched_nms(boxes, scores, labels, {.max_output = 100000}) == full);
    CHECK(detseg::batched_nms_to(boxes, scores, labels, std::span<index_t>{}) == 0);
}

TEST_CASE("batched_nms: score_threshold and ties") {
    const std::vector<std::array<float, 4>> boxes = {
        {0, 0, 10, 10}, {1, 0, 11, 10}, {0, 0, 10, 10}, {1, 0, 11, 10}};
    const std::vector<float> scores = {0.5f, 0.9f, 0.5f, 0.5f};
    const std::vector<std::uint8_t> labels = {0, 0, 1, 1};
    CHECK(detseg::batched_nms(boxes, scores, labels) == std::vector<index_t>{1, 2});
    CHECK(detseg::batched_nms(boxes, scores, labels, {.score_threshold = 0.5}) ==
          std::vector<index_t>{1});
    const std::vector<float> tied(4, 0.5f);
    CHECK(detseg::batched_nms(boxes, tied, labels) == std::vector<index_t>{0, 2});
}

TEST_CASE("batched_nms: empty input gives empty output") {
    const std::vector<float> none;
    const std::vector<double> no_scores;
    const std::vector<int> no_labels;
    CHECK(detseg::batched_nms(none, no_scores, no_labels).empty());
    std::vector<index_t> out(2, -1);
    CHECK(detseg::batched_nms_to(none, no_scores, no_labels, out) == 0);
    CHECK(out == std::vector<index_t>(2, -1));
}

TEST_CASE("batched_nms rejects bad input naming the argument") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> boxes = {0, 0, 1, 1, 2, 2, 3, 3};
    const std::vector<float> scores = {0.5f, 0.4f};
    const std::vector<int> labels = {0, 1};
    using testing::expect_invalid;
    expect_invalid([&] { (void)detseg::batched_nms(boxes, scores, std::vector<int>{0}); },
                   "batched_nms", "labels");
    expect_invalid(
        [&] {
            (void)detseg::batched_nms(boxes, scores, std::vector<std::int64_t>{0, 1, 2});
        },
        "batched_nms", "labels");
    expect_invalid([&] { (void)detseg::batched_nms(boxes, std::vector<float>{0.5f}, labels); },
                   "batched_nms", "scores");
    expect_invalid(
        [&] {
            (void)detseg::batched_nms(boxes, std::vector<float>{0.5f, nan}, labels);
        },
        "batched_nms", "scores");
    expect_invalid(
        [&] {
            (void)detseg::batched_nms(boxes, std::vector<double>{-inf, 0.1}, labels);
        },
        "batched_nms", "scores");
    expect_invalid(
        [&] {
            (void)detseg::batched_nms(std::vector<float>{0, 0, nan, 1, 0, 0, 1, 1}, scores, labels);
        },
        "batched_nms", "boxes");
    expect_invalid(
        [&] {
            (void)detseg::batched_nms(std::vector<float>{0, 0, 1, 1, 2}, scores, labels);
        },
        "batched_nms", "boxes");
    for (double t : {-0.1, 1.5, double(nan)})
        expect_invalid(
            [&] { (void)detseg::batched_nms(boxes, scores, labels, {.iou_threshold = t}); },
            "batched_nms", "params.iou_threshold");
    expect_invalid(
        [&] { (void)detseg::batched_nms(boxes, scores, labels, {.score_threshold = double(nan)}); },
        "batched_nms", "params.score_threshold");
    expect_invalid([&] { (void)detseg::batched_nms(boxes, scores, labels, {.max_output = -2}); },
                   "batched_nms", "params.max_output");
    std::vector<index_t> out(2);
    expect_invalid([&] { (void)detseg::batched_nms_to(boxes, scores, std::vector<int>{1}, out); },
                   "batched_nms_to", "labels");
    expect_invalid(
        [&] { (void)detseg::batched_nms_to(boxes, scores, labels, out, {.max_output = -5}); },
        "batched_nms_to", "params.max_output");
}
