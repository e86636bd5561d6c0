// Matcher: torchvision Matcher / SSDMatcher fixtures (tests/reference/gen_matcher_fixtures.py),
// peer cases (detectron2 test_matcher, torchvision collector case), a direct transcription of
// the rules on random matrices with many ties, labels and regression targets from a match, every
// backend, and every bad-input path.

#include <detseg/box/coder.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/detect/matcher.hpp>
#include <detseg/io/npy.hpp>

#include "support/backends.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::matcher_params;

namespace {

template <class T, class U = T, std::size_t R = 2>
detseg::tensor<U, R> matcher_fixture(const std::string& set, const std::string& name) {
    const char* tag = sizeof(T) == 4 ? "f32" : "f64";
    return detseg::load_npy(testing::data_path("matcher/" + set + "_" + tag + "_" + name + ".npy"))
        .template as<U, R>();
}

template <class U, std::size_t R>
detseg::tensor<U, R> peer(const std::string& name) {
    return detseg::load_npy(testing::data_path("matcher/peer_" + name + ".npy"))
        .template as<U, R>();
}

const std::vector<std::pair<std::string, matcher_params>> matcher_sets = {
    {"h07_l03_allow", {0.7, 0.3, true}},
    {"h07_l03", {0.7, 0.3, false}},
    {"h05_l04_allow", {0.5, 0.4, true}},
    {"h05_l05", {0.5, 0.5, false}},
};

template <class A, class B>
int count_different_1d(const A& got, const B& ref) {
    REQUIRE(got.extent(0) == ref.extent(0));
    int bad = 0;
    for (index_t j = 0; j < ref.extent(0); ++j)
        bad += !(static_cast<index_t>(got(j)) == static_cast<index_t>(ref(j)));
    return bad;
}

// torchvision's Matcher, transcribed rule by rule from its documentation: column argmax (first
// maximum), thresholds in the matrix's type, low-quality matches over all tied priors.
template <class T>
std::vector<index_t> oracle_match(const detseg::tensor<T, 2>& q, double high, double low,
                                  bool allow) {
    const index_t m = q.extent(0), n = q.extent(1);
    std::vector<index_t> best(std::size_t(n), 0), out(std::size_t(n), -1);
    if (m == 0)
        return out;
    for (index_t j = 0; j < n; ++j) {
        index_t arg = 0;
        for (index_t i = 0; i < m; ++i)
            if (q(i, j) > q(arg, j))
                arg = i;
        best[std::size_t(j)] = arg;
        const T v = q(arg, j);
        out[std::size_t(j)] = v >= T(high) ? arg : v >= T(low) ? -2 : -1;
    }
    if (allow && n > 0)
        for (index_t i = 0; i < m; ++i) {
            T mx = q(i, 0);
            for (index_t j = 0; j < n; ++j)
                mx = std::max(mx, q(i, j));
            for (index_t j = 0; j < n; ++j)
                if (q(i, j) == mx)
                    out[std::size_t(j)] = best[std::size_t(j)];
        }
    return out;
}

template <class T>
std::vector<index_t> oracle_ssd(const detseg::tensor<T, 2>& q, double t) {
    auto out = oracle_match(q, t, t, false);
    for (index_t i = 0; i < q.extent(0) && q.extent(1) > 0; ++i) {
        index_t arg = 0;
        for (index_t j = 0; j < q.extent(1); ++j)
            if (q(i, j) > q(i, arg))
                arg = j;
        out[std::size_t(arg)] = i;
    }
    return out;
}

} // namespace

TEST_CASE_TEMPLATE("match_priors and ssd_match_priors equal torchvision's on every fixture", T,
                   float, double) {
    int runs = 0;
    for (const std::string set : {"boxes", "ties", "one_gt", "zeros"}) {
        CAPTURE(set);
        const auto iou = matcher_fixture<T>(set, "iou");
        for (const auto& ms : matcher_sets) {
            const std::string& tag = ms.first;
            const matcher_params& params = ms.second;
            CAPTURE(tag);
            const auto ref = matcher_fixture<T, std::int64_t, 1>(set, "match_" + tag);
            CHECK(count_different_1d(detseg::match_priors(iou, params), ref) == 0);
            ++runs;
        }
        for (const auto& st : {std::pair{"ssd_050", 0.5}, std::pair{"ssd_030", 0.3}}) {
            const std::string tag = st.first;
            const double t = st.second;
            CAPTURE(tag);
            const auto ref = matcher_fixture<T, std::int64_t, 1>(set, tag);
            CHECK(count_different_1d(detseg::ssd_match_priors(iou, t), ref) == 0);
            ++runs;
        }
    }
    CHECK(runs == 24);
}

TEST_CASE("matcher peer cases: detectron2 test_matcher and the torchvision collector case") {
    const auto iou = peer<float, 2>("d2_iou");
    // detectron2 labels [0, -1, 1] for [low, high) intervals are torchvision's -1 / -2 / match
    const auto m = detseg::match_priors(iou, {.high_threshold = 0.7, .low_threshold = 0.3});
    const auto d2_matches = peer<std::int64_t, 1>("d2_matches");
    const auto d2_labels = peer<std::int64_t, 1>("d2_labels");
    for (index_t j = 0; j < 4; ++j) {
        CAPTURE(j);
        const index_t label = m(j) >= 0 ? 1 : m(j) == -1 ? 0 : -1;
        CHECK(label == d2_labels(j));
        if (m(j) >= 0)
            CHECK(m(j) == d2_matches(j));
    }
    const auto tv = peer<float, 2>("tv_iou");
    CHECK(count_different_1d(detseg::match_priors(tv, {0.7, 0.3, true}),
                             peer<std::int64_t, 1>("tv_allow")) == 0);
    CHECK(count_different_1d(detseg::match_priors(tv, {0.7, 0.3, false}),
                             peer<std::int64_t, 1>("tv_noallow")) == 0);
}

TEST_CASE_TEMPLATE("the matchers equal a transcription of torchvision's rules on random ties", T,
                   float, double) {
    std::mt19937_64 rng(31337);
    std::uniform_int_distribution<int> dim(0, 12), pick(0, 6);
    const double levels[7] = {0.0, 0.1, 0.3, 0.4, 0.5, 0.7, 0.9};
    int compared = 0;
    for (int trial = 0; trial < 200; ++trial) {
        const index_t m = dim(rng), n = dim(rng);
        detseg::tensor<T, 2> q({m, n});
        for (auto& v : q.flat())
            v = static_cast<T>(levels[pick(rng)]);
        const double hi = levels[2 + pick(rng) % 5], lo = levels[pick(rng) % 5];
        const matcher_params p{std::max(hi, lo), std::min(hi, lo), trial % 2 == 0};
        CAPTURE(trial);
        const auto got = detseg::match_priors(q, p);
        const auto want =
            oracle_match(q, p.high_threshold, p.low_threshold, p.allow_low_quality_matches);
        for (index_t j = 0; j < n; ++j)
            CHECK(got(j) == want[std::size_t(j)]);
        const auto ssd = detseg::ssd_match_priors(q, p.high_threshold);
        const auto ssd_want = oracle_ssd(q, p.high_threshold);
        for (index_t j = 0; j < n; ++j)
            CHECK(ssd(j) == ssd_want[std::size_t(j)]);
        compared += int(n);
    }
    CHECK(compared > 1000);
}

TEST_CASE("the matchers read every backend's matrix and write integer outputs") {
    const auto iou = matcher_fixture<float>("boxes", "iou"); // 9×300
    const auto ref = matcher_fixture<float, std::int64_t, 1>("boxes", "match_h07_l03_allow");
    const auto ssd_ref = matcher_fixture<float, std::int64_t, 1>("boxes", "ssd_050");
    const index_t m = iou.extent(0), n = iou.extent(1);
    Eigen::MatrixXf col_major(m, n);
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major(m, n);
    xt::xarray<float> xa = xt::zeros<float>({std::size_t(m), std::size_t(n)});
    for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < n; ++j)
            col_major(i, j) = row_major(i, j) = xa(i, j) = iou(i, j);
    const matcher_params p{0.7, 0.3, true};
    CHECK(count_different_1d(detseg::match_priors(col_major, p), ref) == 0);
    CHECK(count_different_1d(detseg::match_priors(row_major, p), ref) == 0);
    CHECK(count_different_1d(detseg::match_priors(xa, p), ref) == 0);
    CHECK(count_different_1d(detseg::match_priors(col_major.transpose().transpose().eval(), p),
                             ref) == 0);
    // a raw pointer to column-major storage, read through strides as M×N
    CHECK(count_different_1d(
              detseg::match_priors(detseg::make_view(static_cast<const float*>(col_major.data()),
                                                     {m, n}, {index_t{1}, m}),
                                   p),
              ref) == 0);

    std::vector<int> out32(static_cast<std::size_t>(n));
    detseg::match_priors(iou, out32, p);
    CHECK(count_different_1d(detseg::make_view(out32.data(), {n}), ref) == 0);
    Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> out_e(n);
    detseg::ssd_match_priors(row_major, out_e, 0.5);
    CHECK(count_different_1d(detseg::as_view(out_e), ssd_ref) == 0);
    xt::xtensor<long, 1> out_x = xt::zeros<long>({std::size_t(n)});
    detseg::ssd_match_priors(xa, out_x, 0.5);
    CHECK(count_different_1d(detseg::as_view(out_x), ssd_ref) == 0);
}

TEST_CASE("match_priors: no ground truth, no priors") {
    const detseg::tensor<float, 2> none({0, 5});
    const auto m = detseg::match_priors(none);
    REQUIRE(m.extent(0) == 5);
    for (index_t j = 0; j < 5; ++j)
        CHECK(m(j) == detseg::match_below_low);
    const auto s = detseg::ssd_match_priors(none);
    for (index_t j = 0; j < 5; ++j)
        CHECK(s(j) == detseg::match_below_low);
    const detseg::tensor<double, 2> no_priors({3, 0});
    CHECK(detseg::match_priors(no_priors).extent(0) == 0);
    CHECK(detseg::ssd_match_priors(no_priors).extent(0) == 0);
}

TEST_CASE_TEMPLATE("match_labels and match_targets follow the match", T, float, double) {
    // 3 ground truths, 5 priors: priors 0, 4 and 3 are the best of ground truths 0, 1 and 2
    const std::vector<T> gt = {10, 10, 50, 50, 100, 100, 160, 140, 98, 96, 150, 150};
    const std::vector<T> priors = {12, 8,  48,  52, 0,   0,   20, 20, 60,  60,
                                   90, 90, 105, 95, 150, 150, 99, 99, 158, 142};
    const std::vector<int> gt_labels = {3, 7, 9};
    const auto iou = detseg::pairwise_iou(gt, priors);
    const auto matches = detseg::ssd_match_priors(iou, 0.5);
    const auto labels = detseg::match_labels(matches, gt_labels);
    const auto targets = detseg::match_targets(matches, gt, priors, detseg::ssd_box_coder);
    REQUIRE(matches.extent(0) == 5);
    int positives = 0;
    for (index_t j = 0; j < 5; ++j) {
        CAPTURE(j);
        const index_t g = matches(j);
        if (g >= 0) {
            ++positives;
            CHECK(labels(j) == gt_labels[std::size_t(g)]);
            // the row equals encode_boxes of that pair
            const auto one = detseg::encode_boxes(
                std::vector<T>(gt.begin() + 4 * g, gt.begin() + 4 * g + 4),
                std::vector<T>(priors.begin() + 4 * j, priors.begin() + 4 * j + 4),
                detseg::ssd_box_coder);
            for (index_t k = 0; k < 4; ++k)
                CHECK(targets(j, k) == one(0, k));
        } else {
            CHECK(labels(j) == 0);
            for (index_t k = 0; k < 4; ++k)
                CHECK(targets(j, k) == T(0));
        }
    }
    CHECK(positives == 3); // every ground truth keeps its best prior
    CHECK(matches(1) == -1);

    // -2 gets the ignore label; custom labels
    const std::vector<std::int64_t> m2 = {-2, -1, 0, 2};
    const auto l2 = detseg::match_labels(m2, gt_labels, {.background = 5, .ignore = -100});
    CHECK(l2(0) == -100);
    CHECK(l2(1) == 5);
    CHECK(l2(2) == 3);
    CHECK(l2(3) == 9);
}

TEST_CASE("matcher bad input throws invalid_argument naming the argument") {
    using testing::expect_invalid;
    detseg::tensor<float, 2> q({2, 3}, 0.5f);
    detseg::tensor<float, 2> q_nan = q;
    q_nan(1, 2) = NAN;
    detseg::tensor<double, 2> q_inf({2, 3}, 0.5);
    q_inf(0, 0) = -INFINITY;
    expect_invalid([&] { (void)detseg::match_priors(q_nan); }, "match_priors", "quality");
    expect_invalid([&] { (void)detseg::match_priors(q_inf); }, "match_priors", "quality");
    expect_invalid(
        [&] { (void)detseg::match_priors(q, {.high_threshold = 0.3, .low_threshold = 0.7}); },
        "match_priors", "params");
    expect_invalid([&] { (void)detseg::match_priors(q, {.high_threshold = NAN}); }, "match_priors",
                   "params");
    expect_invalid([&] { (void)detseg::match_priors(q, {.low_threshold = -INFINITY}); },
                   "match_priors", "params");
    std::vector<index_t> wrong(2);
    expect_invalid([&] { detseg::match_priors(q, wrong); }, "match_priors", "out");
    xt::xarray<float> rank3 = xt::zeros<float>({2, 2, 2});
    expect_invalid([&] { (void)detseg::match_priors(rank3); }, "match_priors", "quality");
    expect_invalid([&] { (void)detseg::ssd_match_priors(q_nan); }, "ssd_match_priors", "quality");
    expect_invalid([&] { (void)detseg::ssd_match_priors(q, NAN); }, "ssd_match_priors",
                   "threshold");
    expect_invalid([&] { detseg::ssd_match_priors(q, wrong, 0.5); }, "ssd_match_priors", "out");

    const std::vector<int> labels = {1, 2};
    const std::vector<index_t> bad_high = {0, 2, -1};
    const std::vector<index_t> bad_low = {0, -3, -1};
    expect_invalid([&] { (void)detseg::match_labels(bad_high, labels); }, "match_labels",
                   "matches");
    expect_invalid([&] { (void)detseg::match_labels(bad_low, labels); }, "match_labels", "matches");
    const std::vector<float> gt = {0, 0, 10, 10, 5, 5, 25, 15};
    const std::vector<float> priors = {0, 0, 10, 10, 5, 5, 25, 15, 1, 1, 2, 2};
    const std::vector<float> flat_gt = {0, 0, 10, 10, 5, 5, 5, 15};
    const std::vector<float> nan_priors = {0, 0, 10, 10, 5, 5, 25, NAN, 1, 1, 2, 2};
    const std::vector<index_t> ok = {0, 1, -1};
    const std::vector<index_t> short_m = {0, 1};
    expect_invalid([&] { (void)detseg::match_targets(bad_high, gt, priors); }, "match_targets",
                   "matches");
    expect_invalid([&] { (void)detseg::match_targets(short_m, gt, priors); }, "match_targets",
                   "matches");
    expect_invalid([&] { (void)detseg::match_targets(ok, flat_gt, priors); }, "match_targets",
                   "gt_boxes");
    expect_invalid([&] { (void)detseg::match_targets(ok, gt, nan_priors); }, "match_targets",
                   "priors");
    expect_invalid(
        [&] {
            (void)detseg::match_targets(ok, gt, priors, {.weights = {1, 1, 0, 1}});
        },
        "match_targets", "params");
}
