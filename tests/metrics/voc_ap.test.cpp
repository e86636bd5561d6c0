// voc_ap: the reference fixtures of tests/reference/gen_voc_ap_fixtures.py (the VOC devkit's
// definition in numpy) bit for bit, a randomized comparison with a brute-force oracle, bad input
// and empty input.

#include <detseg/io/npy.hpp>
#include <detseg/metrics/voc_ap.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using detseg::voc_ap_method;
using detseg::voc_ap_params;
using detseg::voc_box_convention;
using detseg::voc_det;
using detseg::voc_eleven_point_grid;
using detseg::voc_gt;

namespace {

detseg::tensor<double, 2> voc_fixture(const std::string& name) {
    return detseg::load_npy(testing::data_path("voc/" + name + ".npy")).as<double, 2>();
}

struct voc_case {
    std::vector<voc_gt> gts;
    std::vector<voc_det> dets;
};

voc_case load_case(const std::string& name) {
    voc_case c;
    const auto g = voc_fixture(name + "_gts");
    for (detseg::index_t i = 0; i < g.extent(0); ++i)
        c.gts.push_back({static_cast<std::int64_t>(g(i, 0)),
                         static_cast<std::int64_t>(g(i, 1)),
                         {g(i, 2), g(i, 3), g(i, 4), g(i, 5)},
                         g(i, 6) != 0});
    const auto d = voc_fixture(name + "_dets");
    for (detseg::index_t i = 0; i < d.extent(0); ++i)
        c.dets.push_back({static_cast<std::int64_t>(d(i, 0)),
                          static_cast<std::int64_t>(d(i, 1)),
                          d(i, 2),
                          {d(i, 3), d(i, 4), d(i, 5), d(i, 6)}});
    return c;
}

// --- brute-force oracle -------------------------------------------------------------------------
// The definition read directly: every detection in a fresh confidence order (index tie-break),
// against every GT of the whole set (filtered by image and class), overlap in long double; AP
// all-point as the sum over recall steps of the step times the best precision at or beyond it.

struct oracle_class {
    long npos = 0, tp = 0, fp = 0;
    double ap = -1;
};

oracle_class oracle(const std::vector<voc_gt>& gts, const std::vector<voc_det>& dets,
                    std::int64_t cls, double offset, double thr, voc_ap_method method) {
    oracle_class o;
    std::vector<std::size_t> d;
    for (std::size_t i = 0; i < dets.size(); ++i)
        if (dets[i].class_id == cls)
            d.push_back(i);
    std::sort(d.begin(), d.end(), [&](std::size_t a, std::size_t b) {
        if (dets[a].score != dets[b].score)
            return dets[a].score > dets[b].score;
        return a < b;
    });
    for (const auto& g : gts)
        if (g.class_id == cls && !g.difficult)
            ++o.npos;
    std::vector<bool> claimed(gts.size(), false);
    std::vector<double> rec, prec;
    for (std::size_t i : d) {
        const auto& b = dets[i].bbox;
        long double best = 0;
        std::size_t jbest = gts.size();
        for (std::size_t j = 0; j < gts.size(); ++j) {
            const auto& g = gts[j];
            if (g.class_id != cls || g.image_id != dets[i].image_id)
                continue;
            const long double iw = std::min<long double>(b[2], g.bbox[2]) -
                                   std::max<long double>(b[0], g.bbox[0]) + offset;
            const long double ih = std::min<long double>(b[3], g.bbox[3]) -
                                   std::max<long double>(b[1], g.bbox[1]) + offset;
            if (iw <= 0 || ih <= 0)
                continue;
            const long double ad = (static_cast<long double>(b[2]) - b[0] + offset) *
                                   (static_cast<long double>(b[3]) - b[1] + offset);
            const long double ag = (static_cast<long double>(g.bbox[2]) - g.bbox[0] + offset) *
                                   (static_cast<long double>(g.bbox[3]) - g.bbox[1] + offset);
            const long double ov = iw * ih / (ad + ag - iw * ih);
            if (ov > best) {
                best = ov;
                jbest = j;
            }
        }
        if (jbest < gts.size() && best >= thr) {
            if (!gts[jbest].difficult) {
                if (claimed[jbest]) {
                    ++o.fp;
                } else {
                    claimed[jbest] = true;
                    ++o.tp;
                }
            }
        } else {
            ++o.fp;
        }
        if (o.npos > 0) {
            rec.push_back(static_cast<double>(o.tp) / static_cast<double>(o.npos));
            prec.push_back(o.tp + o.fp > 0
                               ? static_cast<double>(o.tp) / static_cast<double>(o.tp + o.fp)
                               : 0.0);
        }
    }
    if (o.npos == 0)
        return o;
    auto best_beyond = [&](double r) {
        double p = 0;
        for (std::size_t k = 0; k < rec.size(); ++k)
            if (rec[k] >= r)
                p = std::max(p, prec[k]);
        return p;
    };
    o.ap = 0;
    if (method == voc_ap_method::all_point) {
        double prev = 0;
        for (double r : rec) {
            if (r > prev)
                o.ap += (r - prev) * best_beyond(r);
            prev = r;
        }
    } else {
        for (int i = 0; i <= 10; ++i)
            o.ap += best_beyond(i / 10.0) / 11;
    }
    return o;
}

// integer-pixel boxes with many overlaps, ties and difficult objects
voc_case random_voc_case(std::mt19937_64& rng, int images, int classes, bool integer) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    auto pick = [&](int n) { return static_cast<int>(u(rng) * n) % n; };
    voc_case c;
    for (int im = 0; im < images; ++im) {
        const int objects = pick(5);
        for (int o = 0; o < objects; ++o) {
            const double w = 5 + 120 * u(rng), h = 5 + 120 * u(rng);
            const double x = 200 * u(rng), y = 200 * u(rng);
            detseg::voc_box b{x, y, x + w, y + h};
            if (integer)
                for (double& v : b)
                    v = std::round(v);
            const int cls = pick(classes);
            c.gts.push_back({im, cls, b, u(rng) < 0.15});
            for (int k = pick(4); k > 0; --k) {
                detseg::voc_box j = b;
                for (double& v : j)
                    v += (u(rng) - 0.5) * 0.3 * w;
                if (integer)
                    for (double& v : j)
                        v = std::round(v);
                if (j[2] < j[0])
                    std::swap(j[0], j[2]);
                if (j[3] < j[1])
                    std::swap(j[1], j[3]);
                c.dets.push_back(
                    {im, u(rng) < 0.9 ? cls : pick(classes), std::round(u(rng) * 8) / 8, j});
            }
        }
        for (int k = pick(3); k > 0; --k) {
            const double x = 250 * u(rng), y = 250 * u(rng);
            c.dets.push_back({im, pick(classes), u(rng) * 0.5, {x, y, x + 40, y + 30}});
        }
    }
    return c;
}

} // namespace

TEST_CASE("voc_ap: the numpy reference of the VOC devkit's definition, bit for bit") {
    int checked = 0;
    for (const char* name : {"pixels", "continuous", "edge"}) {
        CAPTURE(name);
        const voc_case c = load_case(name);
        const auto table = voc_fixture(std::string(name) + "_expected");
        const auto means =
            detseg::load_npy(testing::data_path(std::string("voc/") + name + "_mean.npy"))
                .as<double, 1>();
        const auto curve = voc_fixture(std::string(name) + "_curve");
        const struct {
            voc_box_convention boxes;
            int col; // tp column
        } conventions[] = {{voc_box_convention::inclusive_pixels, 4},
                           {voc_box_convention::continuous, 9}};
        for (std::size_t cv = 0; cv < 2; ++cv) {
            const auto conv = conventions[cv];
            const struct {
                voc_ap_method method;
                voc_eleven_point_grid grid;
            } methods[] = {{voc_ap_method::all_point, voc_eleven_point_grid::exact},
                           {voc_ap_method::eleven_point, voc_eleven_point_grid::exact},
                           {voc_ap_method::eleven_point, voc_eleven_point_grid::numpy_arange}};
            for (int m = 0; m < 3; ++m) {
                CAPTURE(cv);
                CAPTURE(m);
                const auto r = detseg::voc_ap(
                    c.gts, c.dets,
                    {.method = methods[m].method, .boxes = conv.boxes, .grid = methods[m].grid});
                REQUIRE(static_cast<detseg::index_t>(r.per_class.size()) == table.extent(0));
                for (std::size_t k = 0; k < r.per_class.size(); ++k) {
                    const auto& pc = r.per_class[k];
                    const auto i = static_cast<detseg::index_t>(k);
                    CAPTURE(pc.class_id);
                    CHECK(pc.class_id == static_cast<std::int64_t>(table(i, 0)));
                    CHECK(pc.num_positives == static_cast<detseg::index_t>(table(i, 1)));
                    CHECK(pc.num_difficult == static_cast<detseg::index_t>(table(i, 2)));
                    CHECK(pc.num_detections == static_cast<detseg::index_t>(table(i, 3)));
                    CHECK(pc.true_positives == static_cast<detseg::index_t>(table(i, conv.col)));
                    CHECK(pc.false_positives ==
                          static_cast<detseg::index_t>(table(i, conv.col + 1)));
                    CHECK(pc.ap == table(i, conv.col + 2 + m)); // exact
                    ++checked;
                }
                CHECK(r.mean_ap == means(static_cast<detseg::index_t>(cv * 3 + m)));
                if (cv == 0 && m == 0) { // the curves (inclusive convention)
                    detseg::index_t row = 0;
                    for (const auto& pc : r.per_class)
                        for (std::size_t d = 0; d < pc.recall.size(); ++d, ++row) {
                            REQUIRE(row < curve.extent(0));
                            CHECK(pc.class_id == static_cast<std::int64_t>(curve(row, 0)));
                            CHECK(pc.recall[d] == curve(row, 1));
                            CHECK(pc.precision[d] == curve(row, 2));
                        }
                    CHECK(row == curve.extent(0));
                }
            }
        }
    }
    CHECK(checked == 2 * 3 * (6 + 4 + 6));
}

TEST_CASE("voc_ap: hand-checked rules") {
    SUBCASE("a difficult object neither counts nor penalises") {
        std::vector<voc_gt> g = {{1, 0, {0, 0, 9, 9}, true}, {1, 0, {20, 20, 29, 29}, false}};
        std::vector<voc_det> d = {{1, 0, 0.9, {0, 0, 9, 9}}, {1, 0, 0.8, {20, 20, 29, 29}}};
        const auto r = detseg::voc_ap(g, d);
        REQUIRE(r.per_class.size() == 1);
        CHECK(r.per_class[0].num_positives == 1);
        CHECK(r.per_class[0].true_positives == 1);
        CHECK(r.per_class[0].false_positives == 0);
        CHECK(r.per_class[0].ap == 1.0);
        CHECK(r.mean_ap == 1.0);
    }
    SUBCASE("duplicates are false positives; a lower-scored first in input order loses a tie") {
        std::vector<voc_gt> g = {{1, 0, {0, 0, 9, 9}, false}};
        std::vector<voc_det> d = {{1, 0, 0.5, {0, 0, 9, 9}}, {1, 0, 0.5, {0, 0, 9, 8}}};
        const auto r = detseg::voc_ap(g, d);
        CHECK(r.per_class[0].true_positives == 1);
        CHECK(r.per_class[0].false_positives == 1);
        CHECK(r.per_class[0].precision == std::vector<double>{1.0, 0.5});
    }
    SUBCASE("+1 pixel convention: 0..49 against 0..99 overlaps exactly 0.5") {
        std::vector<voc_gt> g = {{1, 0, {0, 0, 99, 99}, false}};
        std::vector<voc_det> d = {{1, 0, 0.5, {0, 0, 49, 99}}};
        CHECK(detseg::voc_ap(g, d).per_class[0].ap == 1.0);
        CHECK(detseg::voc_ap(g, d, {.boxes = voc_box_convention::continuous}).per_class[0].ap ==
              0.0);
    }
    SUBCASE("11-point grids differ where recall is exactly 3/10") {
        // 10 objects; TP TP TP FP FP ... : recall 0.3 reached at precision 1
        std::vector<voc_gt> g;
        std::vector<voc_det> d;
        for (int i = 0; i < 10; ++i)
            g.push_back({i, 0, {0, 0, 9, 9}, false});
        for (int i = 0; i < 3; ++i)
            d.push_back({i, 0, 0.9, {0, 0, 9, 9}});
        const auto exact = detseg::voc_ap(g, d, {.method = voc_ap_method::eleven_point});
        const auto arange = detseg::voc_ap(
            g, d,
            {.method = voc_ap_method::eleven_point, .grid = voc_eleven_point_grid::numpy_arange});
        CHECK(exact.mean_ap == doctest::Approx(4.0 / 11));
        CHECK(arange.mean_ap == doctest::Approx(3.0 / 11));
    }
    SUBCASE("voc_average_precision on a curve") {
        const std::vector<double> rec = {0.5, 0.5, 1.0}, prec = {1.0, 0.5, 2.0 / 3};
        CHECK(detseg::voc_average_precision(rec, prec, voc_ap_method::all_point) ==
              doctest::Approx(0.5 + 0.5 * 2.0 / 3));
        CHECK(detseg::voc_average_precision({}, {}, voc_ap_method::all_point) == 0.0);
        CHECK(detseg::voc_average_precision({}, {}, voc_ap_method::eleven_point) == 0.0);
    }
}

TEST_CASE("voc_ap: randomized against a brute-force oracle") {
    std::mt19937_64 rng(20261121);
    int compared = 0;
    for (int trial = 0; trial < 40; ++trial) {
        const bool integer = trial % 2 == 0;
        const voc_case c = random_voc_case(rng, 1 + trial % 13, 1 + trial % 4, integer);
        for (auto boxes : {voc_box_convention::inclusive_pixels, voc_box_convention::continuous})
            for (auto method : {voc_ap_method::all_point, voc_ap_method::eleven_point})
                for (double thr : {0.5, 0.3, 0.75}) {
                    const double offset = boxes == voc_box_convention::inclusive_pixels ? 1 : 0;
                    const auto r = detseg::voc_ap(
                        c.gts, c.dets, {.method = method, .iou_threshold = thr, .boxes = boxes});
                    std::vector<double> aps;
                    for (const auto& pc : r.per_class) {
                        CAPTURE(trial);
                        CAPTURE(pc.class_id);
                        const auto o = oracle(c.gts, c.dets, pc.class_id, offset, thr, method);
                        CHECK(pc.num_positives == o.npos);
                        CHECK(pc.true_positives == o.tp);
                        CHECK(pc.false_positives == o.fp);
                        if (o.ap == -1)
                            CHECK(pc.ap == -1);
                        else
                            CHECK(pc.ap == doctest::Approx(o.ap).epsilon(1e-12));
                        if (pc.ap != -1)
                            aps.push_back(pc.ap);
                        ++compared;
                    }
                    double mean = -1;
                    if (!aps.empty()) {
                        mean = 0;
                        for (double a : aps)
                            mean += a;
                        mean /= static_cast<double>(aps.size());
                    }
                    CHECK(r.mean_ap == doctest::Approx(mean).epsilon(1e-12));
                }
    }
    CHECK(compared > 500);
}

TEST_CASE("voc_ap: empty input") {
    const std::vector<voc_gt> no_gts;
    const std::vector<voc_det> no_dets;
    auto r = detseg::voc_ap(no_gts, no_dets);
    CHECK(r.per_class.empty());
    CHECK(r.mean_ap == -1);

    const std::vector<voc_gt> g = {{1, 3, {0, 0, 9, 9}, false}, {1, 4, {0, 0, 9, 9}, true}};
    r = detseg::voc_ap(g, no_dets);
    REQUIRE(r.per_class.size() == 2);
    CHECK(r.per_class[0].ap == 0.0); // GT and no detections
    CHECK(r.per_class[1].ap == -1);  // only difficult GT
    CHECK(r.per_class[1].recall.empty());
    CHECK(r.mean_ap == 0.0);

    const std::vector<voc_det> d = {{1, 7, 0.3, {0, 0, 9, 9}}};
    r = detseg::voc_ap(no_gts, d);
    REQUIRE(r.per_class.size() == 1);
    CHECK(r.per_class[0].ap == -1); // detections and no GT
    CHECK(r.per_class[0].false_positives == 1);
    CHECK(r.mean_ap == -1);
}

TEST_CASE("voc_ap: bad input") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<voc_gt> g = {{1, 0, {0, 0, 9, 9}, false}};
    const std::vector<voc_det> d = {{1, 0, 0.5, {0, 0, 9, 9}}};
    using testing::expect_invalid;
    expect_invalid(
        [&] {
            (void)detseg::voc_ap(g, std::vector<voc_det>{{1, 0, nan, {0, 0, 9, 9}}});
        },
        "voc_ap", "dets");
    expect_invalid(
        [&] {
            (void)detseg::voc_ap(g, std::vector<voc_det>{{1, 0, 0.5, {0, 0, inf, 9}}});
        },
        "voc_ap", "dets");
    expect_invalid(
        [&] {
            (void)detseg::voc_ap(g, std::vector<voc_det>{{1, 0, 0.5, {5, 0, 4, 9}}});
        },
        "voc_ap", "dets");
    expect_invalid(
        [&] {
            (void)detseg::voc_ap(std::vector<voc_gt>{{1, 0, {0, 9, 9, 8}, false}}, d);
        },
        "voc_ap", "gts");
    expect_invalid(
        [&] {
            (void)detseg::voc_ap(std::vector<voc_gt>{{1, 0, {nan, 0, 9, 9}, false}}, d);
        },
        "voc_ap", "gts");
    for (double t : {0.0, -0.5, 1.5, nan})
        expect_invalid([&] { (void)detseg::voc_ap(g, d, {.iou_threshold = t}); }, "voc_ap",
                       "params.iou_threshold");
    const std::vector<double> two = {0.5, 1.0}, one = {1.0};
    expect_invalid([&] { (void)detseg::voc_average_precision(two, one, voc_ap_method::all_point); },
                   "voc_average_precision", "precision");
    // infinite scores are fine (they sort first)
    const auto r = detseg::voc_ap(g, std::vector<voc_det>{{1, 0, inf, {0, 0, 9, 9}}});
    CHECK(r.mean_ap == 1.0);
}
