// soft_nms on inputs large enough for the block store (detail/soft_nms_blocks.hpp), and on small
// inputs forced through it, against a plain O(N^2) loop written here from the documented
// definition: identical picks in the same order and bit-identical scores.

#include <detseg/detect/soft_nms.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::soft_nms_method;
using detseg::soft_nms_params;

namespace {

// The loop of soft_nms's file comment, as plainly as possible: every pick scans all candidates
// in index order, and every live candidate is decayed by its overlap (also when it is 0).
template <class T>
detseg::soft_nms_result plain_soft_nms(const std::vector<T>& boxes,
                                       const std::vector<float>& scores, const soft_nms_params& p) {
    const std::size_t n = scores.size();
    std::vector<double> x1(n), y1(n), x2(n), y2(n), area(n);
    for (std::size_t i = 0; i < n; ++i) {
        x1[i] = static_cast<double>(boxes[4 * i]);
        y1[i] = static_cast<double>(boxes[4 * i + 1]);
        const double w = static_cast<double>(boxes[4 * i + 2]) - x1[i];
        const double h = static_cast<double>(boxes[4 * i + 3]) - y1[i];
        x2[i] = x1[i] + w;
        y2[i] = y1[i] + h;
        area[i] = w * h;
    }
    const float score_threshold = static_cast<float>(p.score_threshold);
    const float iou_threshold = static_cast<float>(p.iou_threshold);
    const float sigma = static_cast<float>(p.sigma);
    std::vector<float> s = scores;
    std::vector<bool> picked(n, false);
    const std::size_t limit = p.max_output < 0 ? n : static_cast<std::size_t>(p.max_output);
    detseg::soft_nms_result r;
    while (r.indices.size() < limit) {
        std::size_t best = n;
        for (std::size_t i = 0; i < n; ++i)
            if (!picked[i] && !(s[i] < score_threshold) && (best == n || s[i] > s[best]))
                best = i;
        if (best == n)
            break;
        picked[best] = true;
        r.indices.push_back(static_cast<index_t>(best));
        r.scores.push_back(s[best]);
        for (std::size_t i = 0; i < n; ++i) {
            if (picked[i] || s[i] < score_threshold)
                continue;
            const double sum = area[best] + area[i];
            float ov = 1.0f;
            if (!(sum <= 0.0)) {
                const double iw = std::min(x2[best], x2[i]) - std::max(x1[best], x1[i]);
                const double ih = std::min(y2[best], y2[i]) - std::max(y1[best], y1[i]);
                const double inter = iw > 0.0 && ih > 0.0 ? iw * ih : 0.0;
                ov = 1.0f - static_cast<float>(1.0 - inter / (sum - inter));
            }
            if (p.method == soft_nms_method::linear) {
                if (ov > iou_threshold)
                    s[i] *= 1.0f - ov;
            } else {
                s[i] *= std::exp(-(ov * ov) / sigma);
            }
        }
    }
    return r;
}

// soft_nms's checked loop with the block store used from `blocks_min_n` boxes on.
template <class T>
detseg::soft_nms_result run_soft_nms(const std::vector<T>& boxes, const std::vector<float>& scores,
                                     const soft_nms_params& p, index_t blocks_min_n) {
    const auto b = detseg::detail::to_boxes(boxes, detseg::box_format::xyxy, "test", "boxes");
    const auto s = detseg::detail::as_view_checked<1>(scores, "test", "scores");
    return detseg::detail::soft_nms_run(b, s, p, blocks_min_n);
}

std::vector<std::uint32_t> bits(const std::vector<float>& v) {
    std::vector<std::uint32_t> b(v.size());
    std::transform(v.begin(), v.end(), b.begin(),
                   [](float f) { return std::bit_cast<std::uint32_t>(f); });
    return b;
}

void check_identical(const detseg::soft_nms_result& got, const detseg::soft_nms_result& want) {
    REQUIRE(got.indices.size() == want.indices.size());
    CHECK(got.indices == want.indices);
    CHECK(bits(got.scores) == bits(want.scores));
}

// What a generated case contains.
struct shape {
    index_t n;
    bool integer;     // integer coordinates
    double zero_area; // fraction of boxes with zero width or height (or both)
    double inverted;  // fraction with x2 < x1 and/or y2 < y1
    double duplicate; // fraction that copy an earlier box (and often its score)
    int score_levels; // scores in k / levels (heavy ties); 0 for continuous scores
};

struct scene {
    std::vector<double> boxes; // 4n, xyxy
    std::vector<float> scores; // n
};

scene make_scene(const shape& sh, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    const auto uniform = [&](double lo, double hi) {
        return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
    };
    const auto chance = [&](double p) { return uniform(0.0, 1.0) < p; };
    // Clustered, detector-like boxes in a 640x480 image, as soft_nms sees them.
    const int objects = 1 + static_cast<int>(sh.n / 40);
    std::vector<double> obj(4 * static_cast<std::size_t>(objects));
    for (int k = 0; k < objects; ++k) {
        const double w = std::exp(uniform(std::log(8.0), std::log(300.0)));
        const double h = w * std::exp(uniform(-0.7, 0.7));
        obj[4 * k] = uniform(-20.0, 640.0);
        obj[4 * k + 1] = uniform(-20.0, 480.0);
        obj[4 * k + 2] = w;
        obj[4 * k + 3] = h;
    }
    scene sc;
    const auto n = static_cast<std::size_t>(sh.n);
    sc.boxes.resize(4 * n);
    sc.scores.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        double* b = &sc.boxes[4 * i];
        if (i > 0 && chance(sh.duplicate)) {
            const auto j = static_cast<std::size_t>(uniform(0.0, static_cast<double>(i)));
            std::copy_n(&sc.boxes[4 * j], 4, b);
            sc.scores[i] = chance(0.5) ? sc.scores[j] : static_cast<float>(uniform(0.0, 1.0));
            continue;
        }
        double x, y, w, h;
        if (chance(0.15)) { // anywhere, any size
            w = std::exp(uniform(std::log(1.0), std::log(500.0)));
            h = std::exp(uniform(std::log(1.0), std::log(400.0)));
            x = uniform(-50.0, 640.0);
            y = uniform(-50.0, 480.0);
        } else {
            const auto k = static_cast<std::size_t>(uniform(0.0, objects));
            const double* o = &obj[4 * std::min<std::size_t>(k, objects - 1)];
            w = o[2] * std::exp(uniform(-0.3, 0.3));
            h = o[3] * std::exp(uniform(-0.3, 0.3));
            x = o[0] + o[2] * uniform(-0.25, 0.25);
            y = o[1] + o[3] * uniform(-0.25, 0.25);
        }
        if (chance(sh.zero_area)) {
            const double r = uniform(0.0, 3.0);
            if (r < 1.0)
                w = 0.0;
            else if (r < 2.0)
                h = 0.0;
            else
                w = h = 0.0;
        }
        if (chance(sh.inverted)) {
            const double r = uniform(0.0, 3.0);
            if (r < 1.0)
                w = -w;
            else if (r < 2.0)
                h = -h;
            else
                w = -w, h = -h;
        }
        b[0] = x;
        b[1] = y;
        b[2] = x + w;
        b[3] = y + h;
        if (sh.integer)
            for (int c = 0; c < 4; ++c)
                b[c] = std::round(b[c]);
        double s = uniform(0.0, 1.0);
        if (sh.score_levels > 0)
            s = std::floor(s * sh.score_levels + 1.0) / sh.score_levels;
        if (chance(0.03)) // zeros of both signs (live at score_threshold 0) and negative scores
            s = chance(0.3) ? -0.25 : (chance(0.5) ? -0.0 : 0.0);
        sc.scores[i] = static_cast<float>(s);
    }
    return sc;
}

template <class T>
std::vector<T> as(const std::vector<double>& v) {
    return {v.begin(), v.end()};
}

const std::vector<soft_nms_params>& param_sets() {
    static const std::vector<soft_nms_params> sets = {
        {},
        {.method = soft_nms_method::gaussian, .sigma = 0.25, .score_threshold = 0.05},
        {.method = soft_nms_method::gaussian, .sigma = 3.0, .score_threshold = 0.0},
        {.method = soft_nms_method::gaussian, .score_threshold = 1.0},
        {.method = soft_nms_method::gaussian, .score_threshold = 0.01, .max_output = 37},
        {.method = soft_nms_method::linear},
        {.method = soft_nms_method::linear, .iou_threshold = 0.0, .score_threshold = 0.0},
        {.method = soft_nms_method::linear, .iou_threshold = 1.0, .score_threshold = 0.2},
        {.method = soft_nms_method::linear, .iou_threshold = 0.5, .max_output = 1},
        {.method = soft_nms_method::linear, .max_output = 0},
    };
    return sets;
}

std::string describe(const soft_nms_params& p) {
    return std::string(p.method == soft_nms_method::linear ? "linear" : "gaussian") + " sigma " +
           std::to_string(p.sigma) + " iou " + std::to_string(p.iou_threshold) + " score " +
           std::to_string(p.score_threshold) + " max " + std::to_string(p.max_output);
}

} // namespace

TEST_CASE_TEMPLATE("soft_nms on large inputs equals the plain O(N^2) loop", T, float, double) {
    const std::vector<shape> shapes = {
        {3000, true, 0.0, 0.0, 0.0, 0},   // the benchmark's kind: integer, clustered
        {1200, false, 0.0, 0.0, 0.05, 0}, // non-integer, some duplicates
        {1000, true, 0.05, 0.05, 0.2, 8}, // every kind of box, heavy ties
        {800, false, 0.3, 0.1, 0.1, 3},   // many zero-area boxes, three score levels
    };
    std::uint64_t seed = 1000;
    for (const shape& sh : shapes) {
        const scene sc = make_scene(sh, ++seed);
        const auto boxes = as<T>(sc.boxes);
        REQUIRE(sh.n >= detseg::detail::soft_nms_blocks_min_n);
        for (const soft_nms_params& p : param_sets()) {
            if (sh.n > 2000 && p.score_threshold == 0.0)
                continue; // every box is picked: N^2 for the plain loop, slow under sanitizers
            CAPTURE(sh.n);
            CAPTURE(describe(p));
            const auto want = plain_soft_nms(boxes, sc.scores, p);
            check_identical(detseg::soft_nms(boxes, sc.scores, p), want);
        }
    }
}

TEST_CASE_TEMPLATE("the block store on small inputs equals the plain loop and the linear scan", T,
                   float, double) {
    std::mt19937_64 rng(77);
    int cases = 0;
    for (int round = 0; round < 160; ++round) {
        const shape sh{1 + static_cast<index_t>(rng() % 200), round % 2 == 0,
                       round % 3 == 0 ? 0.2 : 0.02,           round % 5 == 0 ? 0.3 : 0.03,
                       round % 4 == 0 ? 0.4 : 0.05,           static_cast<int>(rng() % 4) * 3};
        const scene sc = make_scene(sh, 5000 + static_cast<std::uint64_t>(round));
        const auto boxes = as<T>(sc.boxes);
        const soft_nms_params& p = param_sets()[rng() % param_sets().size()];
        CAPTURE(round);
        CAPTURE(sh.n);
        CAPTURE(describe(p));
        const auto want = plain_soft_nms(boxes, sc.scores, p);
        check_identical(run_soft_nms(boxes, sc.scores, p, 0), want);
        check_identical(run_soft_nms(boxes, sc.scores, p, std::numeric_limits<index_t>::max()),
                        want);
        ++cases;
    }
    CHECK(cases == 160);
}

TEST_CASE("the block store: ties, duplicates, points and inverted boxes") {
    // Every box twice with the same score (exact ties that stay ties), zero-area boxes at the
    // same and at different places, boxes inverted in one axis (negative area: overlap 1 with a
    // box of smaller area wherever it is) and in both.
    std::vector<double> boxes = {
        0,   0,   10,  10,  //
        0,   0,   10,  10,  //
        5,   5,   5,   5,   // a point
        5,   5,   5,   5,   //
        50,  50,  50,  60,  // a vertical segment
        20,  0,   10,  10,  // inverted in x: area -100
        40,  40,  30,  30,  // inverted in both: area 100
        2,   2,   12,  12,  //
        2,   2,   12,  12,  //
        100, 100, 101, 150, //
    };
    std::vector<float> scores = {0.9f, 0.9f, 0.8f, 0.8f, 0.8f, 0.7f, 0.6f, 0.9f, 0.9f, 0.5f};
    // Repeat the scene, shifted, so that it spans several blocks.
    const std::size_t n0 = scores.size();
    for (int k = 1; k < 12; ++k)
        for (std::size_t i = 0; i < n0; ++i) {
            for (int c = 0; c < 4; ++c)
                boxes.push_back(boxes[4 * i + c] + 7.0 * k);
            scores.push_back(scores[i]);
        }
    for (const soft_nms_params& p : param_sets()) {
        CAPTURE(describe(p));
        const auto want = plain_soft_nms(boxes, scores, p);
        check_identical(run_soft_nms(boxes, scores, p, 0), want);
        const auto boxes32 = as<float>(boxes);
        check_identical(run_soft_nms(boxes32, scores, p, 0), plain_soft_nms(boxes32, scores, p));
    }
}

TEST_CASE("soft_nms runs the linear loop on boxes the block store cannot take") {
    using detseg::detail::soft_nms_indexable;
    using detseg::detail::soft_nms_rect;
    const auto rect = [](double x1, double y1, double x2, double y2) {
        const double w = x2 - x1, h = y2 - y1;
        return std::pair{soft_nms_rect{x1, y1, x1 + w, y1 + h, w * h}, std::pair{w, h}};
    };
    const auto ok = [&](double x1, double y1, double x2, double y2) {
        const auto [r, wh] = rect(x1, y1, x2, y2);
        return soft_nms_indexable(r, wh.first, wh.second);
    };
    CHECK(ok(0, 0, 10, 10));
    CHECK(ok(3, 3, 3, 3));
    CHECK(ok(10, 10, 0, 0));
    CHECK(ok(-1e30, -1e30, 1e30, 1e30));
    constexpr double wide = 9007199254740994.0; // 2^53 + 2
    CHECK_FALSE(ok(0, 0, 1e160, 1e160));        // the sum of two areas overflows
    CHECK_FALSE(ok(0, 0, 1e-170, 1e-170));      // the area underflows to 0
    CHECK_FALSE(ok(1, 0, wide, 1));             // w = 2^53, but (1 + w) - 1 = 2^53 - 1
    CHECK_FALSE(ok(0, -1e308, 1, 1e308));       // h overflows

    // A scene with such boxes (every tenth spans 1 to 2^53 + 2): soft_nms runs the linear loop.
    std::vector<double> boxes;
    std::vector<float> scores;
    std::mt19937_64 rng(3);
    for (int i = 0; i < 300; ++i) {
        const double x = static_cast<double>(rng() % 100), y = static_cast<double>(rng() % 100);
        const double w = static_cast<double>(1 + rng() % 30),
                     h = static_cast<double>(1 + rng() % 30);
        if (i % 10 == 0)
            boxes.insert(boxes.end(), {1.0, y, wide, y + h});
        else
            boxes.insert(boxes.end(), {x, y, x + w, y + h});
        scores.push_back(static_cast<float>(rng() % 1000) / 1000.0f);
    }
    for (const soft_nms_params& p : param_sets()) {
        CAPTURE(describe(p));
        check_identical(detseg::soft_nms(boxes, scores, p), plain_soft_nms(boxes, scores, p));
    }
}

TEST_CASE("the block overlap kernels equal soft_nms_overlap lane by lane") {
    using detseg::detail::soft_nms_rect;
    std::mt19937_64 rng(11);
    const auto coord = [&] { return static_cast<double>(rng() % 24) - 4.0; }; // many equal sides
    const auto make = [&] {
        const double x1 = coord(), y1 = coord();
        double x2 = coord(), y2 = coord();
        if (rng() % 4 == 0)
            x2 = x1; // zero width
        if (rng() % 3 == 0)
            x2 += 0.5; // non-integer
        return soft_nms_rect{x1, y1, x2, y2, (x2 - x1) * (y2 - y1)};
    };
    int nonzero = 0, ones = 0;
    for (int round = 0; round < 3000; ++round) {
        const soft_nms_rect p = make();
        const auto count = static_cast<index_t>(1 + rng() % 32);
        double x1[32], y1[32], x2[32], y2[32], area[32];
        for (int j = 0; j < 32; ++j) {
            const soft_nms_rect r = make();
            x1[j] = r.x1, y1[j] = r.y1, x2[j] = r.x2, y2[j] = r.y2, area[j] = r.area;
        }
        float ov[32];
        const std::uint32_t hit =
            detseg::detail::soft_nms_overlaps(p, x1, y1, x2, y2, area, count, ov);
        std::uint32_t want = 0;
        for (index_t j = 0; j < count; ++j) {
            const float o =
                detseg::detail::soft_nms_overlap(p, {x1[j], y1[j], x2[j], y2[j], area[j]});
            if (o == 0.0f)
                continue;
            want |= std::uint32_t{1} << j;
            CHECK(std::bit_cast<std::uint32_t>(ov[j]) == std::bit_cast<std::uint32_t>(o));
            nonzero += 1;
            ones += o == 1.0f;
        }
        CHECK(hit == want);
#if defined(__AVX__) || DETSEG_X86_DISPATCH
        if (detseg::detail::soft_nms_use_avx()) {
            float ov_avx[32];
            const std::uint32_t hit_avx =
                detseg::detail::soft_nms_overlaps_avx(p, x1, y1, x2, y2, area, count, ov_avx);
            CHECK(hit_avx == want);
            for (index_t j = 0; j < count; ++j)
                if (want >> j & 1u)
                    CHECK(std::bit_cast<std::uint32_t>(ov_avx[j]) ==
                          std::bit_cast<std::uint32_t>(ov[j]));
        }
#endif
    }
    CHECK(nonzero > 10000);
    CHECK(ones > 100);
}
