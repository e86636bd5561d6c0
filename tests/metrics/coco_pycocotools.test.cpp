// COCO bbox evaluation against pycocotools on the shared sets: the 12 stats to the last bit and
// the precision / recall / scores arrays element for element.

#include <detseg/io/coco_json.hpp>
#include <detseg/metrics/coco_evaluator.hpp>

#include "support/zip.hpp"

#include <doctest/doctest.h>

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

const std::string shared_coco = std::string(DETSEG_SHARED_TESTDATA_DIR) + "/coco/";

std::vector<double> reference_stats(const std::string& set) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.load(shared_coco + set + "_bbox.pycocotools.json");
    std::vector<double> stats;
    for (simdjson::dom::element e : doc["stats"].get_array())
        stats.push_back(e.get_double());
    return stats;
}

template <class T>
std::vector<T> npz_values(const std::map<std::string, detseg::npy_array>& z,
                          const std::string& name) {
    const auto it = z.find(name);
    REQUIRE(it != z.end());
    REQUIRE(it->second.holds<T>());
    std::vector<T> v(static_cast<std::size_t>(it->second.size()));
    std::memcpy(v.data(), it->second.bytes.data(), v.size() * sizeof(T));
    return v;
}

std::vector<detseg::index_t> npz_shape(const std::map<std::string, detseg::npy_array>& z,
                                       const std::string& name) {
    return z.at(name).shape;
}

/// Number of entries of `got` that differ (bitwise, as doubles compare) from `want`.
std::size_t count_differences(std::span<const double> got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    std::size_t n = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
        if (!(std::bit_cast<std::uint64_t>(got[i]) == std::bit_cast<std::uint64_t>(want[i])))
            ++n;
    return n;
}

} // namespace

TEST_CASE("coco bbox: the shared sets equal pycocotools bit for bit") {
    for (const std::string set : {"public300_s1", "edge200_s2", "segm80_s3"}) {
        CAPTURE(set);
        const auto gt = detseg::load_coco_ground_truth(shared_coco + set + "_gt.json");
        const auto dt = detseg::load_coco_results(shared_coco + set + "_dt_bbox.json", gt);
        const auto r = detseg::build_coco_evaluator(gt, dt).accumulate();

        // the 12 stats, to the last bit
        const auto want = reference_stats(set);
        const auto got = r.stats();
        REQUIRE(want.size() == 12);
        REQUIRE(got.size() == 12);
        for (std::size_t i = 0; i < 12; ++i) {
            CAPTURE(i);
            CHECK(std::bit_cast<std::uint64_t>(got[i]) == std::bit_cast<std::uint64_t>(want[i]));
        }

        // the arrays and the parameters of COCOeval.eval
        const auto z = testing::load_npz(shared_coco + set + "_eval_bbox.npz");
        CHECK(npz_values<double>(z, "iouThrs") == r.params.iou_thresholds);
        CHECK(npz_values<double>(z, "recThrs") == r.params.recall_thresholds);
        CHECK(npz_values<std::int64_t>(z, "catIds") == r.category_ids);
        const auto md = npz_values<std::int64_t>(z, "maxDets");
        CHECK(std::vector<detseg::index_t>(md.begin(), md.end()) == r.params.max_dets);
        const auto area = npz_values<double>(z, "areaRng");
        REQUIRE(area.size() == 2 * r.params.area_ranges.size());
        for (std::size_t a = 0; a < r.params.area_ranges.size(); ++a) {
            CHECK(area[2 * a] == r.params.area_ranges[a].lo);
            CHECK(area[2 * a + 1] == r.params.area_ranges[a].hi);
        }
        const auto ps = npz_shape(z, "precision");
        REQUIRE(ps.size() == 5);
        for (std::size_t d = 0; d < 5; ++d)
            CHECK(ps[d] == r.precision.extent(d));
        const auto rs = npz_shape(z, "recall");
        REQUIRE(rs.size() == 4);
        for (std::size_t d = 0; d < 4; ++d)
            CHECK(rs[d] == r.recall.extent(d));
        CHECK(count_differences(r.precision.flat(), npz_values<double>(z, "precision")) == 0);
        CHECK(count_differences(r.recall.flat(), npz_values<double>(z, "recall")) == 0);
        CHECK(count_differences(r.scores.flat(), npz_values<double>(z, "scores")) == 0);
        CHECK(npz_values<double>(z, "stats") == want);

        // the data exercise what they claim: some -1 (categories without GT) and real values
        std::size_t minus_one = 0, positive = 0;
        for (double v : r.precision.flat()) {
            minus_one += v == -1;
            positive += v > 0;
        }
        CHECK(minus_one > 0);
        CHECK(positive > 0);
    }
}

TEST_CASE("coco bbox: the summary text is pycocotools'") {
    const auto gt = detseg::load_coco_ground_truth(shared_coco + "public300_s1_gt.json");
    const auto dt = detseg::load_coco_results(shared_coco + "public300_s1_dt_bbox.json", gt);
    const auto r = detseg::build_coco_evaluator(gt, dt).accumulate();
    REQUIRE(r.summary.size() == 12);
    CHECK(r.summary[0].to_string(0.5, 0.95) ==
          " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.477");
    CHECK(r.summary[1].to_string(0.5, 0.95) ==
          " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.707");
    CHECK(r.summary[6].to_string(0.5, 0.95) ==
          " Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.202");
    CHECK(r.summary[10].to_string(0.5, 0.95) ==
          " Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = 0.637");
}
