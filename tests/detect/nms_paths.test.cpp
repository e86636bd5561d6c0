// The internal strategies of nms and batched_nms (grid or linear scan, radix or counting sorts,
// serial or OpenMP) give identical keep lists: each is forced on random inputs built to reach
// every branch, and compared with the other and with a brute-force greedy oracle.

#include <detseg/box/iou.hpp>
#include <detseg/core/detail/score_order.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/detect/batched_nms.hpp>
#include <detseg/detect/nms.hpp>
#include <detseg/detect/nms_opencv.hpp>
#include <detseg/detect/soft_nms.hpp>

#include "support/nms_oracle.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

using detseg::index_t;
using detseg::nms_compare;
using detseg::nms_params;

namespace {

constexpr index_t always_grid = 0;
constexpr index_t never_grid = std::numeric_limits<index_t>::max();

// Detector-like boxes over many scales (so that the grid has many levels), with clusters,
// duplicates, nested boxes whose IoU is exactly 1/2, 1/4 or 3/4, tiny, huge, negative,
// zero-area and inverted boxes; and scores with many exact ties.
template <class T>
std::vector<std::array<T, 4>> random_boxes(std::mt19937_64& rng, std::size_t n) {
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<std::array<T, 4>> b;
    while (b.size() < n) {
        const double kind = u(rng);
        const double s = std::exp2(-6 + 16 * u(rng)); // sizes from 1/64 to 1024
        const double cx = -500 + 2000 * u(rng), cy = -300 + 1200 * u(rng);
        const double w = s * std::exp(0.5 * (u(rng) - 0.5)), h = s * std::exp(u(rng) - 0.5);
        if (kind < 0.55) { // a cluster around (cx, cy)
            const int k = 1 + int(u(rng) * 12);
            for (int i = 0; i < k && b.size() < n; ++i) {
                const double jx = 0.2 * w * (u(rng) - 0.5), jy = 0.2 * h * (u(rng) - 0.5);
                const double f = std::exp(0.4 * (u(rng) - 0.5));
                b.push_back({T(cx + jx - w * f / 2), T(cy + jy - h * f / 2), T(cx + jx + w * f / 2),
                             T(cy + jy + h * f / 2)});
            }
        } else if (kind < 0.7) { // nested pair with an exact IoU of 1/2, 1/4 or 3/4
            const double r = std::array<double, 3>{2, 4, 4.0 / 3}[std::size_t(u(rng) * 3) % 3];
            const T x1 = T(std::round(cx)), y1 = T(std::round(cy)), w0 = T(std::round(s) + 1);
            b.push_back({x1, y1, x1 + w0, y1 + w0});
            if (b.size() < n)
                b.push_back({x1, y1, x1 + T(double(w0) * r), y1 + w0});
        } else if (kind < 0.78 && !b.empty()) { // a duplicate
            b.push_back(b[std::size_t(u(rng) * double(b.size())) % b.size()]);
        } else if (kind < 0.84) { // zero-area or inverted
            const T x = T(cx), y = T(cy);
            b.push_back(u(rng) < 0.5 ? std::array<T, 4>{x, y, x, T(y + h)}
                                     : std::array<T, 4>{T(x + w), y, x, T(y + h)});
        } else { // a lone box
            b.push_back({T(cx - w / 2), T(cy - h / 2), T(cx + w / 2), T(cy + h / 2)});
        }
    }
    return b;
}

template <class S>
std::vector<S> random_scores(std::mt19937_64& rng, std::size_t n) {
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<S> s(n);
    for (auto& v : s) {
        const double r = u(rng);
        v = static_cast<S>(r < 0.3 ? std::round(u(rng) * 8) / 8 : r < 0.35 ? -0.0 : u(rng));
    }
    return s;
}

template <class T, class S>
std::vector<index_t> run_nms(const std::vector<std::array<T, 4>>& boxes,
                             const std::vector<S>& scores, const nms_params& p, index_t grid_min) {
    detseg::nms_workspace ws;
    std::vector<index_t> out(boxes.size());
    const index_t k =
        detseg::detail::nms_checked(boxes, scores, std::span<index_t>(out), p, ws, "nms", grid_min);
    out.resize(std::size_t(k));
    return out;
}

template <class T, class S, class L>
std::vector<index_t> run_batched(const std::vector<std::array<T, 4>>& boxes,
                                 const std::vector<S>& scores, const std::vector<L>& labels,
                                 const nms_params& p, index_t grid_min) {
    detseg::nms_workspace ws;
    std::vector<index_t> out(boxes.size());
    const index_t k = detseg::detail::batched_nms_checked(
        boxes, scores, labels, out.data(), index_t(out.size()), p,
        detseg::detail::nms_access::buffers(ws), "batched_nms", grid_min);
    out.resize(std::size_t(k));
    return out;
}

const std::vector<nms_params> parameter_sets = {
    {.iou_threshold = 0.5},
    {.iou_threshold = 0.5, .compare = nms_compare::greater_equal},
    {.iou_threshold = 0.25, .compare = nms_compare::greater_equal},
    {.iou_threshold = 0.75, .compare = nms_compare::greater_equal},
    {.iou_threshold = 0.0},
    {.iou_threshold = 0.0, .compare = nms_compare::greater_equal},
    {.iou_threshold = 1e-9},
    {.iou_threshold = 0.1},
    {.iou_threshold = 0.3, .score_threshold = 0.25},
    {.iou_threshold = 0.7, .max_output = 17},
    {.iou_threshold = 0.9},
    {.iou_threshold = 1.0},
    {.iou_threshold = 1.0, .compare = nms_compare::greater_equal},
};

} // namespace

TEST_CASE_TEMPLATE("score_order equals a stable sort by descending score", S, float, double) {
    std::mt19937_64 rng(11);
    for (std::size_t n : {0u, 1u, 7u, 255u, 256u, 1000u, 5000u}) {
        auto scores = random_scores<S>(rng, n);
        if (n > 10) {
            scores[3] = S(-1e30);
            scores[4] = -std::numeric_limits<S>::denorm_min();
            scores[5] = std::numeric_limits<S>::max();
            scores[6] = S(0.0);
        }
        for (double threshold : {-std::numeric_limits<double>::infinity(), 0.0, 0.5}) {
            std::vector<index_t> expected;
            for (index_t i = 0; i < index_t(n); ++i)
                if (double(scores[std::size_t(i)]) > threshold)
                    expected.push_back(i);
            std::stable_sort(expected.begin(), expected.end(), [&](index_t a, index_t b) {
                return scores[std::size_t(a)] > scores[std::size_t(b)];
            });
            std::vector<index_t> order{-1, -2};
            detseg::detail::score_order_buffers buf;
            detseg::detail::score_order(scores, index_t(n), threshold, order, buf);
            CAPTURE(n);
            CAPTURE(threshold);
            CHECK(order == expected);
        }
    }
}

TEST_CASE_TEMPLATE("nms: the grid and the linear scan keep exactly what the oracle keeps", T, float,
                   double) {
    std::mt19937_64 rng(20261121);
    int cases = 0;
    for (int round = 0; round < 6; ++round) {
        const std::size_t n = 40 + std::size_t(round) * 50;
        const auto boxes = random_boxes<T>(rng, n);
        const auto scores = random_scores<float>(rng, n);
        const auto scores64 = std::vector<double>(scores.begin(), scores.end());
        for (const auto& p : parameter_sets) {
            CAPTURE(round);
            CAPTURE(p.iou_threshold);
            CAPTURE(int(p.compare));
            const auto expected = testing::oracle_nms(boxes, scores, p);
            CHECK(run_nms(boxes, scores, p, always_grid) == expected);
            CHECK(run_nms(boxes, scores, p, never_grid) == expected);
            CHECK(run_nms(boxes, scores64, p, always_grid) == expected);
            ++cases;
        }
    }
    CHECK(cases == 6 * int(parameter_sets.size()));
}

TEST_CASE_TEMPLATE("nms: grid and linear scan agree on large inputs", T, float, double) {
    std::mt19937_64 rng(7);
    for (std::size_t n : {3000u, 12000u}) {
        const auto boxes = random_boxes<T>(rng, n);
        const auto scores = random_scores<float>(rng, n);
        for (const auto& p : parameter_sets) {
            CAPTURE(n);
            CAPTURE(p.iou_threshold);
            CAPTURE(int(p.compare));
            const auto linear = run_nms(boxes, scores, p, never_grid);
            CHECK(run_nms(boxes, scores, p, always_grid) == linear);
            CHECK(detseg::nms(boxes, scores, p) == linear);
        }
    }
}

TEST_CASE("nms: the grid keeps pairs whose IoU is exactly the threshold, at every scale") {
    // Box b is box a widened by 1/t: IoU(a, b) = t exactly, the edge of the grid's size bound.
    std::vector<std::array<double, 4>> boxes;
    std::vector<float> scores;
    // 61 octaves of sizes: more than the grid's levels, so the lowest one holds several.
    for (int e = -30; e <= 30; ++e) {
        const double s = std::ldexp(1.0, e), x = 3 * s * (e + 31);
        for (double r : {2.0, 4.0, 4.0 / 3.0}) {
            boxes.push_back({x, 0, x + s, s});
            boxes.push_back({x, 0, x + s * r, s});
            scores.push_back(0.9f);
            scores.push_back(0.8f);
        }
    }
    for (double t : {0.5, 0.25, 0.75}) {
        for (auto c : {nms_compare::greater, nms_compare::greater_equal}) {
            const nms_params p{.iou_threshold = t, .compare = c};
            CAPTURE(t);
            const auto expected = testing::oracle_nms(boxes, scores, p);
            CHECK(run_nms(boxes, scores, p, always_grid) == expected);
        }
    }
    // Sanity of the construction: with >= 1/2, the wider box of each r = 2 pair goes.
    const auto kept = run_nms(
        boxes, scores, {.iou_threshold = 0.5, .compare = nms_compare::greater_equal}, always_grid);
    CHECK(kept.size() < boxes.size());
}

TEST_CASE_TEMPLATE("batched_nms: every strategy keeps the union of per-label nms", T, float,
                   double) {
    std::mt19937_64 rng(99);
    for (int round = 0; round < 4; ++round) {
        const std::size_t n = round < 3 ? 300 : 6000;
        const auto boxes = random_boxes<T>(rng, n);
        const auto scores = random_scores<float>(rng, n);
        std::uniform_int_distribution<int> small(0, 4);
        // Labels over a small range (counting sort) and a huge one (radix sort).
        std::vector<std::int16_t> labels16(n);
        std::vector<std::int64_t> labels64(n);
        std::vector<std::uint8_t> labels8(n);
        for (std::size_t i = 0; i < n; ++i) {
            labels16[i] = std::int16_t(small(rng) - 2);
            labels64[i] = std::int64_t(labels16[i]) * 2305843009213693951LL;
            labels8[i] = std::uint8_t(labels16[i] + 250);
        }
        for (const auto& p : parameter_sets) {
            CAPTURE(round);
            CAPTURE(p.iou_threshold);
            CAPTURE(int(p.compare));
            // Expected: nms per label, merged by score (ties by index), cut to max_output.
            nms_params per_label = p;
            per_label.max_output = -1;
            std::vector<index_t> expected;
            for (int l = -2; l <= 2; ++l) {
                std::vector<std::array<T, 4>> b;
                std::vector<float> s;
                std::vector<index_t> id;
                for (std::size_t i = 0; i < n; ++i)
                    if (labels16[i] == l) {
                        b.push_back(boxes[i]);
                        s.push_back(scores[i]);
                        id.push_back(index_t(i));
                    }
                for (index_t k : run_nms(b, s, per_label, never_grid))
                    expected.push_back(id[std::size_t(k)]);
            }
            std::stable_sort(expected.begin(), expected.end(), [&](index_t a, index_t b) {
                return scores[std::size_t(a)] > scores[std::size_t(b)] ||
                       (scores[std::size_t(a)] == scores[std::size_t(b)] && a < b);
            });
            if (p.max_output >= 0 && index_t(expected.size()) > p.max_output)
                expected.resize(std::size_t(p.max_output));
            CHECK(run_batched(boxes, scores, labels16, p, always_grid) == expected);
            CHECK(run_batched(boxes, scores, labels16, p, never_grid) == expected);
            CHECK(run_batched(boxes, scores, labels64, p, always_grid) == expected);
            CHECK(run_batched(boxes, scores, labels8, p, never_grid) == expected);
            CHECK(detseg::batched_nms(boxes, scores, labels64, p) == expected);
        }
    }
}

#if DETSEG_HAS_OPENMP
TEST_CASE("batched_nms: the result does not depend on the number of threads") {
    std::mt19937_64 rng(5);
    const std::size_t n = 20000;
    const auto boxes = random_boxes<float>(rng, n);
    const auto scores = random_scores<float>(rng, n);
    std::vector<int> labels(n);
    std::uniform_int_distribution<int> l(0, 79);
    for (auto& v : labels)
        v = l(rng);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = detseg::batched_nms(boxes, scores, labels, {.iou_threshold = 0.5});
    for (int threads : {2, 3, 7}) {
        omp_set_num_threads(threads);
        CAPTURE(threads);
        CHECK(detseg::batched_nms(boxes, scores, labels, {.iou_threshold = 0.5}) == one);
    }
    omp_set_num_threads(saved);
    CHECK(!one.empty());
}
#endif

TEST_CASE("every NMS function checks its parameters before its arrays") {
    // Malformed boxes (5 numbers) and a bad threshold: the threshold is reported.
    const std::vector<float> bad_boxes = {0, 0, 1, 1, 2};
    const std::vector<float> scores = {0.5f};
    const std::vector<int> labels = {0};
    std::vector<index_t> out(4);
    detseg::nms_workspace ws;
    const nms_params bad{.iou_threshold = 2.0};
    const auto expect_threshold = [](auto&& f, const char* fn,
                                     const char* arg = "params.iou_threshold") {
        try {
            f();
            FAIL("no exception from " << fn);
        } catch (const detseg::invalid_argument& e) {
            CHECK(e.function() == std::string(fn));
            CHECK(e.argument() == std::string(arg));
        }
    };
    expect_threshold([&] { (void)detseg::nms(bad_boxes, scores, bad); }, "nms");
    expect_threshold([&] { (void)detseg::nms_to(bad_boxes, scores, out, bad); }, "nms_to");
    expect_threshold([&] { (void)detseg::nms_to(bad_boxes, scores, out, ws, bad); }, "nms_to");
    expect_threshold([&] { (void)detseg::batched_nms(bad_boxes, scores, labels, bad); },
                     "batched_nms");
    expect_threshold([&] { (void)detseg::batched_nms_to(bad_boxes, scores, labels, out, bad); },
                     "batched_nms_to");
    expect_threshold([&] { (void)detseg::batched_nms_to(bad_boxes, scores, labels, out, ws, bad); },
                     "batched_nms_to");
    expect_threshold([&] { (void)detseg::nms_opencv(bad_boxes, scores, {.nms_threshold = 2.0}); },
                     "nms_opencv", "params.nms_threshold");
    expect_threshold([&] { (void)detseg::soft_nms(bad_boxes, scores, {.iou_threshold = 2.0}); },
                     "soft_nms");
}
