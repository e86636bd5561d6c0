// coco_evaluator: matching rules on hand-made cases, streaming and merging, serialisation,
// options beyond pycocotools, empty input and every rejected input.

#include <detseg/core/parallel.hpp>
#include <detseg/io/coco_json.hpp>
#include <detseg/metrics/coco_evaluator.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

using detseg::coco_det;
using detseg::coco_eval_result;
using detseg::coco_evaluator;
using detseg::coco_gt;
using detseg::coco_params;

namespace {

const std::string shared_coco = std::string(DETSEG_SHARED_TESTDATA_DIR) + "/coco/";

/// A data set split by image: ids in GT file order, per-image GT and detections in file order.
struct image_set {
    std::vector<std::int64_t> categories;
    std::vector<std::int64_t> ids;
    std::vector<std::vector<coco_gt>> gts;
    std::vector<std::vector<coco_det>> dets;
};

image_set load_set(const std::string& set) {
    const auto gt = detseg::load_coco_ground_truth(shared_coco + set + "_gt.json");
    const auto dt = detseg::load_coco_results(shared_coco + set + "_dt_bbox.json", gt);
    image_set s;
    s.categories = gt.category_ids();
    s.ids = gt.image_ids;
    std::map<std::int64_t, std::size_t> slot;
    for (std::size_t i = 0; i < s.ids.size(); ++i)
        slot[s.ids[i]] = i;
    s.gts.resize(s.ids.size());
    s.dets.resize(s.ids.size());
    for (std::size_t i = 0; i < gt.annotations.size(); ++i)
        s.gts[slot.at(gt.annotation_image_ids[i])].push_back(gt.annotations[i]);
    for (std::size_t i = 0; i < dt.detections.size(); ++i)
        s.dets[slot.at(dt.image_ids[i])].push_back(dt.detections[i]);
    return s;
}

const image_set& public300() {
    static const image_set s = load_set("public300_s1");
    return s;
}

bool same_bits(std::span<const double> a, std::span<const double> b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i]))
            return false;
    return true;
}

void check_identical(const coco_eval_result& a, const coco_eval_result& b) {
    CHECK(same_bits(a.precision.flat(), b.precision.flat()));
    CHECK(same_bits(a.recall.flat(), b.recall.flat()));
    CHECK(same_bits(a.scores.flat(), b.scores.flat()));
    const auto sa = a.stats(), sb = b.stats();
    CHECK(same_bits(sa, sb));
    REQUIRE(a.per_class.size() == b.per_class.size());
    for (std::size_t k = 0; k < a.per_class.size(); ++k) {
        CHECK(a.per_class[k].category_id == b.per_class[k].category_id);
        CHECK(std::bit_cast<std::uint64_t>(a.per_class[k].ap) ==
              std::bit_cast<std::uint64_t>(b.per_class[k].ap));
    }
}

coco_eval_result one_pass(const image_set& s, const coco_params& p = {}) {
    coco_evaluator ev(s.categories, p);
    for (std::size_t i = 0; i < s.ids.size(); ++i)
        ev.add_image(s.ids[i], s.gts[i], s.dets[i]);
    return ev.accumulate();
}

coco_gt gt_box(double x, double y, double w, double h, std::int64_t cat = 1, bool crowd = false,
               double area = -1) {
    coco_gt g;
    g.bbox = {x, y, w, h};
    g.area = area < 0 ? w * h : area;
    g.category_id = cat;
    g.iscrowd = crowd;
    return g;
}

coco_det det_box(double x, double y, double w, double h, double score, std::int64_t cat = 1) {
    coco_det d;
    d.bbox = {x, y, w, h};
    d.score = score;
    d.category_id = cat;
    return d;
}

/// precision(t, r, k=0, a=0, m=last)
double prec(const coco_eval_result& r, detseg::index_t t, detseg::index_t ri) {
    return r.precision(t, ri, 0, 0, r.precision.extent(4) - 1);
}

double rec(const coco_eval_result& r, detseg::index_t t, detseg::index_t a = 0) {
    return r.recall(t, 0, a, r.recall.extent(3) - 1);
}

} // namespace

TEST_CASE("coco_params: defaults are pycocotools' linspace values") {
    const coco_params p;
    REQUIRE(p.iou_thresholds.size() == 10);
    CHECK(p.iou_thresholds[0] == 0.5);
    CHECK(p.iou_thresholds[2] == 0.6);
    CHECK(p.iou_thresholds[8] == 0.8999999999999999); // numpy's rounding of 8*step + 0.5
    CHECK(p.iou_thresholds[5] == 0.75);
    CHECK(p.iou_thresholds[9] == 0.95);
    REQUIRE(p.recall_thresholds.size() == 101);
    CHECK(p.recall_thresholds[0] == 0.0);
    CHECK(p.recall_thresholds[3] == 0.03);
    CHECK(p.recall_thresholds[7] == 0.07);
    CHECK(p.recall_thresholds[100] == 1.0);
}

TEST_CASE("coco_bbox_iou: pycocotools' bbIou") {
    using detseg::coco_bbox_iou;
    CHECK(coco_bbox_iou({0, 0, 10, 10}, {0, 0, 10, 10}, false) == 1.0);
    CHECK(coco_bbox_iou({0, 0, 10, 20}, {0, 0, 10, 10}, false) == 0.5);
    CHECK(coco_bbox_iou({0, 0, 10, 10}, {10, 0, 10, 10}, false) == 0.0); // touching
    CHECK(coco_bbox_iou({0, 0, 0, 10}, {0, 0, 10, 10}, false) == 0.0);   // zero width: 0, not NaN
    // crowd: intersection over the detection's area
    CHECK(coco_bbox_iou({0, 0, 10, 10}, {0, 0, 100, 100}, true) == 1.0);
    CHECK(coco_bbox_iou({0, 0, 10, 10}, {5, 0, 100, 100}, true) == 0.5);
    CHECK(coco_bbox_iou({0, 0, 10, 10}, {5, 0, 100, 100}, false) == 50.0 / (100 + 10000 - 50));
}

TEST_CASE("coco matching: perfect detection, threshold reached exactly, misses") {
    coco_evaluator ev({1, 2});
    const std::vector<coco_gt> g = {gt_box(0, 0, 10, 10)};
    // IoU exactly 0.5: a match at t = 0.5 only (IoU >= t)
    const std::vector<coco_det> d = {det_box(0, 0, 10, 20, 0.9)};
    ev.add_image(7, g, d);
    const auto r = ev.accumulate();
    CHECK(rec(r, 0) == 1.0);
    for (detseg::index_t t = 1; t < 10; ++t)
        CHECK(rec(r, t) == 0.0);
    CHECK(prec(r, 0, 100) == 1.0 / (1.0 + std::numeric_limits<double>::epsilon()));
    CHECK(prec(r, 1, 0) == 0.0);
    // category 2 has no GT and no detection: -1 everywhere
    CHECK(r.recall(0, 1, 0, 2) == -1);
    CHECK(r.precision(0, 0, 1, 0, 2) == -1);
    CHECK(r.stats()[1] == doctest::Approx(1.0).epsilon(1e-15)); // mean of 101 × 1/(1+eps)
    CHECK(r.stats()[2] == 0.0);
    REQUIRE(r.per_class.size() == 2);
    CHECK(r.per_class[0].category_id == 1);
    CHECK(r.per_class[0].ap50 == r.stats()[1]);
    CHECK(r.per_class[0].ap75 == 0.0);
    CHECK(r.per_class[1].ap == -1);
}

TEST_CASE("coco matching: a threshold of 1 means IoU >= 1 - 1e-10") {
    // IoU = 1e4 / (1e4 + 1e-7): below 1, above 1 - 1e-10 (pycocotools' min(t, 1 - 1e-10))
    const std::vector<coco_gt> g = {gt_box(0, 0, 100, 100)};
    const std::vector<coco_det> d = {det_box(0, 0, 100, 100 + 1e-9, 0.9)};
    const double iou = detseg::coco_bbox_iou(d[0].bbox, g[0].bbox, false);
    REQUIRE(iou < 1.0);
    REQUIRE(iou >= 1 - 1e-10);
    coco_params p;
    p.iou_thresholds = {1.0};
    coco_evaluator ev({1}, p);
    ev.add_image(1, g, d);
    CHECK(rec(ev.accumulate(), 0) == 1.0);
}

TEST_CASE("coco matching: on equal IoU the later ground truth wins") {
    // det 1 has IoU 0.6 with both GTs; det 2 overlaps only GT A enough. If det 1 took A (the
    // earlier), det 2 would be a false positive; pycocotools gives it B, so both are TPs.
    const std::vector<coco_gt> g = {gt_box(0, 0, 10, 10), gt_box(5, 0, 10, 10)};
    REQUIRE(detseg::coco_bbox_iou({2.5, 0, 10, 10}, g[0].bbox, false) ==
            detseg::coco_bbox_iou({2.5, 0, 10, 10}, g[1].bbox, false));
    const std::vector<coco_det> d = {det_box(2.5, 0, 10, 10, 0.9), det_box(0, 0, 10, 10, 0.8)};
    coco_evaluator ev({1});
    ev.add_image(1, g, d);
    const auto r = ev.accumulate();
    CHECK(rec(r, 0) == 1.0); // t = 0.5: 2 TPs of 2
    CHECK(prec(r, 0, 100) == 2.0 / (2.0 + std::numeric_limits<double>::epsilon()));
    // with the GTs swapped, det 1 takes the new later one (old A), det 2 finds A taken: 1 TP
    const std::vector<coco_gt> g2 = {g[1], g[0]};
    coco_evaluator ev2({1});
    ev2.add_image(1, g2, d);
    CHECK(rec(ev2.accumulate(), 0) == 0.5);
}

TEST_CASE("coco matching: crowd ground truth absorbs detections, which are then ignored") {
    const std::vector<coco_gt> g = {gt_box(0, 0, 10, 10), gt_box(100, 100, 200, 200, 1, true)};
    std::vector<coco_det> d = {det_box(0, 0, 10, 10, 0.5)};
    // three detections inside the crowd region (IoU = inter / det area = 1), higher scores
    for (int i = 0; i < 3; ++i)
        d.push_back(det_box(110 + 20 * i, 110, 10, 10, 0.9));
    coco_evaluator ev({1});
    ev.add_image(1, g, d);
    const auto r = ev.accumulate();
    // without absorption they would be 3 FPs ahead of the TP: precision 0.25
    CHECK(prec(r, 0, 100) == 1.0 / (1.0 + std::numeric_limits<double>::epsilon()));
    CHECK(rec(r, 0) == 1.0);
    // the same detections without the crowd region are false positives
    coco_evaluator ev2({1});
    ev2.add_image(1, std::span<const coco_gt>(g.data(), 1), d);
    CHECK(prec(ev2.accumulate(), 0, 100) == 1.0 / (4.0 + std::numeric_limits<double>::epsilon()));
}

TEST_CASE("coco matching: once matched to a regular GT, ignored GTs are not tried") {
    // The crowd region has the same box: IoU 1 as well, later in the GT order (ignored GTs
    // last). Were it tried, the detection would move to it and become ignored.
    const std::vector<coco_gt> g = {gt_box(0, 0, 10, 10, 1, true), gt_box(0, 0, 10, 10)};
    const std::vector<coco_det> d = {det_box(0, 0, 10, 10, 0.9)};
    coco_evaluator ev({1});
    ev.add_image(1, g, d);
    const auto r = ev.accumulate();
    CHECK(rec(r, 9) == 1.0);
    CHECK(prec(r, 9, 100) == 1.0 / (1.0 + std::numeric_limits<double>::epsilon()));
}

TEST_CASE("coco matching: area ranges are closed and use the GT area field") {
    // box area 400 (small), area field exactly 1024: the GT is both small and medium
    const std::vector<coco_gt> g = {gt_box(0, 0, 20, 20, 1, false, 1024.0)};
    const std::vector<coco_det> d = {det_box(0, 0, 20, 20, 0.9)};
    coco_evaluator ev({1});
    ev.add_image(1, g, d);
    const auto r = ev.accumulate();
    CHECK(rec(r, 0, 1) == 1.0); // small
    CHECK(rec(r, 0, 2) == 1.0); // medium
    CHECK(rec(r, 0, 3) == -1);  // large: no GT in range
    // area field 1024.5: medium only; the matched detection is then ignored in small
    std::vector<coco_gt> g2 = g;
    g2[0].area = 1024.5;
    coco_evaluator ev2({1});
    ev2.add_image(1, g2, d);
    const auto r2 = ev2.accumulate();
    CHECK(rec(r2, 0, 1) == -1);
    CHECK(rec(r2, 0, 2) == 1.0);
}

TEST_CASE("coco matching: unmatched detections outside the area range are ignored") {
    const std::vector<coco_gt> g = {gt_box(0, 0, 10, 10)}; // small
    // a big false positive (area 10000: large) with a higher score
    const std::vector<coco_det> d = {det_box(500, 500, 100, 100, 0.9), det_box(0, 0, 10, 10, 0.5)};
    coco_evaluator ev({1});
    ev.add_image(1, g, d);
    const auto r = ev.accumulate();
    const double eps = std::numeric_limits<double>::epsilon();
    CHECK(r.precision(0, 100, 0, 1, 2) == 1.0 / (1.0 + eps)); // small: FP ignored
    CHECK(r.precision(0, 100, 0, 0, 2) == 1.0 / (2.0 + eps)); // all: FP counts
}

TEST_CASE("coco matching: detections are sorted stably and cut to maxDets per category") {
    // 3 GTs, 3 detections with equal scores; maxDets 1 keeps the first in input order
    const std::vector<coco_gt> g = {gt_box(0, 0, 10, 10), gt_box(20, 0, 10, 10),
                                    gt_box(40, 0, 10, 10)};
    const std::vector<coco_det> d = {det_box(100, 0, 10, 10, 0.5), det_box(20, 0, 10, 10, 0.5),
                                     det_box(40, 0, 10, 10, 0.5)};
    coco_evaluator ev({1});
    ev.add_image(1, g, d);
    const auto r = ev.accumulate();
    CHECK(r.recall(0, 0, 0, 0) == 0.0);       // maxDets 1: the FP (first in input) is kept
    CHECK(r.recall(0, 0, 0, 1) == 2.0 / 3.0); // maxDets 10: all three
    // a custom maxDets of 2 cuts per image and category
    coco_params p;
    p.max_dets = {2};
    coco_evaluator ev2({1}, p);
    ev2.add_image(1, g, d);
    CHECK(ev2.accumulate().recall(0, 0, 0, 0) == 1.0 / 3.0);
}

TEST_CASE("coco matching: a GT with id 0 is recorded as no match (pycocotools quirk)") {
    std::vector<coco_gt> g = {gt_box(0, 0, 10, 10)};
    const std::vector<coco_det> d = {det_box(0, 0, 10, 10, 0.9)};
    coco_evaluator a({1}), b({1});
    a.add_image(1, g, d);
    g[0].id = 0;
    b.add_image(1, g, d);
    CHECK(rec(a.accumulate(), 0) == 1.0);
    CHECK(rec(b.accumulate(), 0) == 0.0);
}

TEST_CASE("coco_evaluator: empty inputs") {
    SUBCASE("no images: every stat is -1") {
        coco_evaluator ev({1, 2, 3});
        const auto r = ev.accumulate();
        for (double s : r.stats())
            CHECK(s == -1);
        for (double v : r.precision.flat())
            CHECK(v == -1);
        CHECK(r.per_class.size() == 3);
    }
    SUBCASE("ground truth and no detections: AP and AR are 0") {
        coco_evaluator ev({1});
        const std::vector<coco_gt> g = {gt_box(0, 0, 10, 10)};
        ev.add_image(1, g, {});
        const auto s = ev.accumulate().stats();
        CHECK(s[0] == 0.0);
        CHECK(s[8] == 0.0);
        CHECK(s[3] == 0.0);  // small
        CHECK(s[4] == -1.0); // no medium GT
    }
    SUBCASE("detections and no ground truth: -1") {
        coco_evaluator ev({1});
        const std::vector<coco_det> d = {det_box(0, 0, 10, 10, 0.9)};
        ev.add_image(1, {}, d);
        for (double s : ev.accumulate().stats())
            CHECK(s == -1);
    }
    SUBCASE("images without anything count as added") {
        coco_evaluator ev({1});
        ev.add_image(1, {}, {});
        CHECK(ev.num_images() == 1);
        testing::expect_invalid([&] { ev.add_image(1, {}, {}); }, "coco_evaluator::add_image",
                                "image_id");
    }
}

TEST_CASE("coco_evaluator: any split into shards merges to the one-pass bits") {
    const auto& s = public300();
    const auto full = one_pass(s);
    std::mt19937 rng(12345);
    for (int trial = 0; trial < 6; ++trial) {
        const int shards = 1 + static_cast<int>(rng() % 5);
        CAPTURE(trial);
        CAPTURE(shards);
        std::vector<coco_evaluator> parts(static_cast<std::size_t>(shards),
                                          coco_evaluator(s.categories));
        std::vector<std::size_t> order(s.ids.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::shuffle(order.begin(), order.end(), rng);
        for (std::size_t i : order)
            parts[rng() % parts.size()].add_image(s.ids[i], s.gts[i], s.dets[i]);
        // merge in a random order, through serialisation for odd trials
        std::vector<std::size_t> mo(parts.size());
        std::iota(mo.begin(), mo.end(), std::size_t{0});
        std::shuffle(mo.begin(), mo.end(), rng);
        coco_evaluator merged(s.categories);
        for (std::size_t j : mo) {
            if (trial % 2 == 1) {
                std::stringstream ss;
                parts[j].save(ss);
                merged.merge(coco_evaluator::load(ss));
            } else {
                merged.merge(parts[j]);
            }
        }
        CHECK(merged.num_images() == static_cast<detseg::index_t>(s.ids.size()));
        check_identical(merged.accumulate(), full);
    }
}

TEST_CASE("coco_evaluator: add_images (parallel) equals add_image, at any thread count") {
    const auto& s = public300();
    const auto full = one_pass(s);
    std::vector<std::span<const coco_gt>> g(s.ids.size());
    std::vector<std::span<const coco_det>> d(s.ids.size());
    for (std::size_t i = 0; i < s.ids.size(); ++i) {
        g[i] = s.gts[i];
        d[i] = s.dets[i];
    }
#if DETSEG_HAS_OPENMP
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3, 5}) {
        omp_set_num_threads(threads);
#endif
        coco_evaluator ev(s.categories);
        ev.add_images(s.ids, g, d);
        check_identical(ev.accumulate(), full);
#if DETSEG_HAS_OPENMP
    }
    omp_set_num_threads(saved);
#endif
}

TEST_CASE("coco_evaluator: save / load round trip") {
    const auto& s = public300();
    coco_params p;
    p.max_dets = {1, 5, 50};
    p.area_ranges.push_back({"huge", 1e5, 1e10});
    p.summary = detseg::coco_summary_mode::params;
    coco_evaluator ev(s.categories, p);
    for (std::size_t i = 0; i < s.ids.size(); i += 2)
        ev.add_image(s.ids[i], s.gts[i], s.dets[i]);
    std::stringstream a;
    ev.save(a);
    const std::string bytes = a.str();
    std::stringstream in(bytes);
    const coco_evaluator back = coco_evaluator::load(in);
    CHECK(back.params() == p);
    CHECK(back.category_ids() == ev.category_ids());
    CHECK(back.num_images() == ev.num_images());
    check_identical(back.accumulate(), ev.accumulate());
    std::stringstream again;
    back.save(again);
    CHECK(again.str() == bytes);

    SUBCASE("corrupt states are rejected") {
        auto load = [](const std::string& b) {
            std::stringstream ss(b);
            return coco_evaluator::load(ss);
        };
        CHECK_THROWS_AS((void)load(""), detseg::io_error);
        CHECK_THROWS_AS((void)load("NOTASTATE" + bytes), detseg::io_error);
        for (std::size_t cut :
             {std::size_t{9}, std::size_t{40}, bytes.size() / 2, bytes.size() - 1})
            CHECK_THROWS_AS((void)load(bytes.substr(0, cut)), detseg::io_error);
        std::string v2 = bytes;
        v2[8] = 2; // version
        CHECK_THROWS_WITH_AS((void)load(v2), doctest::Contains("version 2"), detseg::io_error);
        std::string bad_state = bytes;
        bad_state.back() = 7;
        CHECK_THROWS_WITH_AS((void)load(bad_state), doctest::Contains("match state"),
                             detseg::io_error);
    }
}

TEST_CASE("coco_evaluator: use_cats = false pools the categories of an image") {
    // Pooling equals one category holding every object, listed by category then input order
    // (pycocotools concatenates per category before its stable sort).
    const auto& s = public300();
    coco_params pooled;
    pooled.use_cats = false;
    const auto r = one_pass(s, pooled);
    CHECK(r.category_ids == std::vector<std::int64_t>{-1});
    CHECK(r.precision.extent(2) == 1);

    image_set one = s;
    one.categories = {1};
    auto cat_rank = [&](std::int64_t c) {
        return std::lower_bound(s.categories.begin(), s.categories.end(), c) - s.categories.begin();
    };
    for (std::size_t i = 0; i < s.ids.size(); ++i) {
        std::stable_sort(one.gts[i].begin(), one.gts[i].end(), [&](const auto& a, const auto& b) {
            return cat_rank(a.category_id) < cat_rank(b.category_id);
        });
        std::stable_sort(one.dets[i].begin(), one.dets[i].end(), [&](const auto& a, const auto& b) {
            return cat_rank(a.category_id) < cat_rank(b.category_id);
        });
        for (auto& g : one.gts[i])
            g.category_id = 1;
        for (auto& d : one.dets[i])
            d.category_id = 1;
    }
    const auto ref = one_pass(one);
    CHECK(same_bits(r.precision.flat(), ref.precision.flat()));
    CHECK(same_bits(r.recall.flat(), ref.recall.flat()));
    CHECK(same_bits(r.stats(), ref.stats()));
    // and it differs from the per-category evaluation
    CHECK(r.stats()[0] != one_pass(s).stats()[0]);
}

TEST_CASE("coco summary: pycocotools mode vs parameters mode") {
    const auto& s = public300();
    SUBCASE("default parameters: both modes give the same 12 numbers") {
        coco_params p;
        p.summary = detseg::coco_summary_mode::params;
        const auto a = one_pass(s), b = one_pass(s, p);
        CHECK(same_bits(a.stats(), b.stats()));
    }
    SUBCASE("custom maxDets and area ranges are honoured in parameters mode") {
        coco_params p;
        p.max_dets = {1, 10, 300};
        p.area_ranges = {{"all", 0, 1e10}, {"tiny", 0, 256}, {"rest", 256, 1e10}};
        const auto py = one_pass(s, p);
        CHECK(py.stats()[0] == -1); // pycocotools looks up maxDets=100 and finds none
        CHECK(py.stats()[1] > 0);   // maxDets[2] = 300
        CHECK(py.stats()[3] == -1); // no "small" label
        p.summary = detseg::coco_summary_mode::params;
        const auto r = one_pass(s, p);
        // AP, AP50, AP75, AP tiny, AP rest, AR1, AR10, AR300, AR tiny, AR rest
        REQUIRE(r.summary.size() == 10);
        CHECK(r.summary[0].max_dets == 300);
        CHECK(r.summary[3].area == "tiny");
        CHECK(r.summary[7].max_dets == 300);
        CHECK(r.summary[9].area == "rest");
        CHECK(r.summary[0].value > 0);
        CHECK(r.summary[0].value == detseg::detail::coco_mean(r, true, -1, -1, 0, 2));
        CHECK(r.summary[1].value == py.stats()[1]);
        // AR grows with maxDets
        CHECK(r.summary[5].value < r.summary[6].value);
        CHECK(r.summary[6].value <= r.summary[7].value);
    }
}

TEST_CASE("coco per-class table") {
    const auto& s = public300();
    const auto r = one_pass(s);
    REQUIRE(r.per_class.size() == s.categories.size());
    // the mean of the per-class APs over classes with GT is close to (not bitwise) the AP
    double sum = 0;
    int n = 0;
    for (std::size_t k = 0; k < r.per_class.size(); ++k) {
        CHECK(r.per_class[k].category_id == s.categories[k]);
        if (r.per_class[k].ap >= 0) {
            sum += r.per_class[k].ap;
            ++n;
            // a direct mean of its precision entries
            double direct = 0;
            int cnt = 0;
            for (detseg::index_t t = 0; t < 10; ++t)
                for (detseg::index_t ri = 0; ri < 101; ++ri) {
                    direct += r.precision(t, ri, static_cast<detseg::index_t>(k), 0, 2);
                    ++cnt;
                }
            CHECK(r.per_class[k].ap == doctest::Approx(direct / cnt).epsilon(1e-12));
        } else {
            CHECK(r.recall(0, static_cast<detseg::index_t>(k), 0, 2) == -1);
        }
    }
    REQUIRE(n > 0);
    CHECK(sum / n == doctest::Approx(r.stats()[0]).epsilon(1e-12));
}

TEST_CASE("coco_evaluator: rejected input") {
    const char* add = "coco_evaluator::add_image";
    const std::vector<coco_gt> ok_g = {gt_box(0, 0, 10, 10)};
    const std::vector<coco_det> ok_d = {det_box(0, 0, 10, 10, 0.5)};
    coco_evaluator ev({1, 3});
    auto with_gt = [&](coco_gt g) {
        return [&, g] {
            const std::vector<coco_gt> v = {g};
            ev.add_image(100, v, ok_d);
        };
    };
    auto with_det = [&](coco_det d) {
        return [&, d] {
            const std::vector<coco_det> v = {d};
            ev.add_image(100, ok_g, v);
        };
    };
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    testing::expect_invalid(with_gt(gt_box(0, 0, 10, 10, 2)), add, "gts");
    testing::expect_invalid(with_gt(gt_box(0, 0, -1, 10)), add, "gts");
    testing::expect_invalid(with_gt(gt_box(0, 0, 10, -1)), add, "gts");
    testing::expect_invalid(with_gt(gt_box(nan, 0, 10, 10)), add, "gts");
    testing::expect_invalid(with_gt(gt_box(0, inf, 10, 10)), add, "gts");
    coco_gt nan_area = gt_box(0, 0, 10, 10);
    nan_area.area = nan;
    testing::expect_invalid(with_gt(nan_area), add, "gts");
    testing::expect_invalid(with_det(det_box(0, 0, 10, 10, 0.5, 2)), add, "dets");
    testing::expect_invalid(with_det(det_box(0, 0, -0.5, 10, 0.5)), add, "dets");
    testing::expect_invalid(with_det(det_box(0, 0, 10, 10, nan)), add, "dets");
    testing::expect_invalid(with_det(det_box(0, 0, 10, inf, 0.5)), add, "dets");
    CHECK(ev.num_images() == 0); // nothing was added by a rejected call
    // an infinite score is a valid (if odd) score, as in pycocotools
    ev.add_image(100, ok_g, std::vector<coco_det>{det_box(0, 0, 10, 10, inf)});
    testing::expect_invalid([&] { ev.add_image(100, ok_g, ok_d); }, add, "image_id");

    // the message names the record
    try {
        ev.add_image(101, ok_g, std::vector<coco_det>{ok_d[0], det_box(0, 0, 10, 10, 0.5, 9)});
        FAIL("expected a throw");
    } catch (const detseg::invalid_argument& e) {
        CHECK(std::string(e.what()).find("dets[1]: category_id 9") != std::string::npos);
    }

    SUBCASE("add_images") {
        const std::int64_t ids[] = {1, 1};
        const std::span<const coco_gt> g[] = {ok_g, ok_g};
        const std::span<const coco_det> d[] = {ok_d, ok_d};
        testing::expect_invalid([&] { ev.add_images(ids, g, d); }, "coco_evaluator::add_images",
                                "image_ids");
        const std::int64_t id1[] = {1};
        testing::expect_invalid([&] { ev.add_images(id1, g, std::span(d, 1)); },
                                "coco_evaluator::add_images", "gts");
        testing::expect_invalid([&] { ev.add_images(id1, std::span(g, 1), d); },
                                "coco_evaluator::add_images", "dets");
        const std::int64_t id2[] = {5, 6};
        const std::span<const coco_det> bad[] = {ok_d, std::span<const coco_det>()};
        const std::vector<coco_det> nd = {det_box(0, 0, 10, 10, nan)};
        const std::span<const coco_det> bad2[] = {ok_d, nd};
        (void)bad;
        const auto before = ev.num_images();
        testing::expect_invalid([&] { ev.add_images(id2, g, bad2); }, "coco_evaluator::add_image",
                                "dets");
        CHECK(ev.num_images() == before); // all or nothing
    }
    SUBCASE("merge") {
        coco_evaluator other_cats({1, 2});
        testing::expect_invalid([&] { ev.merge(other_cats); }, "coco_evaluator::merge", "other");
        coco_params p;
        p.max_dets = {1, 10, 50};
        coco_evaluator other_params({1, 3}, p);
        testing::expect_invalid([&] { ev.merge(other_params); }, "coco_evaluator::merge", "other");
        coco_evaluator overlap({1, 3});
        overlap.add_image(100, {}, {});
        testing::expect_invalid([&] { ev.merge(overlap); }, "coco_evaluator::merge", "other");
    }
    SUBCASE("parameters and categories") {
        const char* ctor = "coco_evaluator";
        testing::expect_invalid([] { coco_evaluator e({1, 2, 1}); }, ctor, "category_ids");
        auto with = [](auto edit) {
            return [edit] {
                coco_params p;
                edit(p);
                coco_evaluator e({1}, p);
            };
        };
        testing::expect_invalid(with([](coco_params& p) { p.iou_thresholds = {}; }), ctor,
                                "params.iou_thresholds");
        testing::expect_invalid(with([](coco_params& p) {
                                    p.iou_thresholds = {0.5, 1.5};
                                }),
                                ctor, "params.iou_thresholds");
        testing::expect_invalid(with([](coco_params& p) { p.recall_thresholds = {}; }), ctor,
                                "params.recall_thresholds");
        testing::expect_invalid(with([](coco_params& p) { p.recall_thresholds = {-0.1}; }), ctor,
                                "params.recall_thresholds");
        testing::expect_invalid(with([](coco_params& p) { p.max_dets = {}; }), ctor,
                                "params.max_dets");
        testing::expect_invalid(with([](coco_params& p) {
                                    p.max_dets = {10, 1};
                                }),
                                ctor, "params.max_dets");
        testing::expect_invalid(with([](coco_params& p) { p.max_dets = {0}; }), ctor,
                                "params.max_dets");
        testing::expect_invalid(with([](coco_params& p) { p.area_ranges = {}; }), ctor,
                                "params.area_ranges");
        testing::expect_invalid(with([](coco_params& p) {
                                    p.area_ranges = {{"x", 10, 1}};
                                }),
                                ctor, "params.area_ranges");
    }
}

TEST_CASE("coco_evaluator: add_image_with takes any IoU") {
    // The bbox path through the generic entry point gives the same records.
    const auto& s = public300();
    coco_evaluator a(s.categories), b(s.categories);
    for (std::size_t i = 0; i < 40; ++i) {
        a.add_image(s.ids[i], s.gts[i], s.dets[i]);
        std::vector<detseg::coco_gt_info> gi;
        std::vector<detseg::coco_det_info> di;
        for (const auto& g : s.gts[i])
            gi.push_back({g.category_id, g.area, g.iscrowd, g.id});
        for (const auto& d : s.dets[i])
            di.push_back({d.category_id, d.score, d.bbox[2] * d.bbox[3]});
        const auto& gts = s.gts[i];
        const auto& dets = s.dets[i];
        b.add_image_with(s.ids[i], gi, di,
                         [&](std::span<const detseg::index_t> dx,
                             std::span<const detseg::index_t> gx, std::span<double> out) {
                             for (std::size_t d = 0; d < dx.size(); ++d)
                                 for (std::size_t g = 0; g < gx.size(); ++g) {
                                     const auto& gt = gts[static_cast<std::size_t>(gx[g])];
                                     out[d * gx.size() + g] = detseg::coco_bbox_iou(
                                         dets[static_cast<std::size_t>(dx[d])].bbox, gt.bbox,
                                         gt.iscrowd);
                                 }
                         });
    }
    check_identical(a.accumulate(), b.accumulate());
    const char* fn = "coco_evaluator::add_image_with";
    auto no_iou = [](auto, auto, auto) {};
    const std::vector<detseg::coco_det_info> nan_score = {{1, std::nan(""), 1.0}};
    testing::expect_invalid([&] { b.add_image_with(-5, {}, nan_score, no_iou); }, fn, "dets");
    const std::vector<detseg::coco_det_info> nan_area = {{1, 0.5, std::nan("")}};
    testing::expect_invalid([&] { b.add_image_with(-5, {}, nan_area, no_iou); }, fn, "dets");
    const std::vector<detseg::coco_det_info> bad_cat = {{999, 0.5, 1.0}};
    testing::expect_invalid([&] { b.add_image_with(-5, {}, bad_cat, no_iou); }, fn, "dets");
    const std::vector<detseg::coco_gt_info> gt_nan_area = {{1, std::nan(""), false, -1}};
    testing::expect_invalid([&] { b.add_image_with(-5, gt_nan_area, {}, no_iou); }, fn, "gts");
    const std::vector<detseg::coco_gt_info> gt_bad_cat = {{999, 1.0, false, -1}};
    testing::expect_invalid([&] { b.add_image_with(-5, gt_bad_cat, {}, no_iou); }, fn, "gts");
    testing::expect_invalid([&] { b.add_image_with(s.ids[0], {}, {}, no_iou); }, fn, "image_id");
    // an IoU function that returns NaN is rejected
    const std::vector<detseg::coco_gt_info> one_gt = {{1, 1.0, false, -1}};
    const std::vector<detseg::coco_det_info> one_det = {{1, 0.5, 1.0}};
    testing::expect_invalid(
        [&] {
            b.add_image_with(-5, one_gt, one_det,
                             [](auto, auto, std::span<double> out) { out[0] = std::nan(""); });
        },
        fn, "iou");
    CHECK(b.num_images() == 40);
}
