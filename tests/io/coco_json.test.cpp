// io/coco_json.hpp: loading COCO ground truth and results; every malformed input is an
// io_error naming the file and the record.

#include <detseg/io/coco_json.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

const std::string shared_coco = std::string(DETSEG_SHARED_TESTDATA_DIR) + "/coco/";

const char* small_gt = R"({
  "images": [{"id": 5, "width": 640, "height": 480}, {"id": 2}],
  "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],
  "annotations": [
    {"id": 10, "image_id": 5, "category_id": 1, "bbox": [1, 2, 3, 4], "area": 7.5, "iscrowd": 0},
    {"id": 11, "image_id": 5, "category_id": 3, "bbox": [0.5, 0, 10, 10], "area": 80,
     "iscrowd": 1, "ignore": 0},
    {"id": 12, "image_id": 2, "category_id": 1, "bbox": [0, 0, 0, 0], "area": 0}
  ]
})";

detseg::coco_ground_truth gt() {
    return detseg::parse_coco_ground_truth(small_gt, "gt.json");
}

/// Runs f, which must throw io_error whose message contains every one of `parts`.
template <class F>
void expect_io_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        FAIL("expected detseg::io_error");
    } catch (const detseg::io_error& e) {
        const std::string what = e.what();
        INFO(what);
        for (const auto& p : parts)
            CHECK(what.find(p) != std::string::npos);
    }
}

void bad_gt(const std::string& json, std::initializer_list<std::string> parts) {
    expect_io_error([&] { (void)detseg::parse_coco_ground_truth(json, "bad_gt.json"); }, parts);
}

void bad_results(const std::string& json, std::initializer_list<std::string> parts) {
    const auto g = gt();
    expect_io_error([&] { (void)detseg::parse_coco_results(json, g, "bad_dt.json"); }, parts);
}

class temp_path {
public:
    temp_path() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("detseg_coco_json_" + std::to_string(rd()) + ".json");
    }
    ~temp_path() { std::filesystem::remove(path_); }
    temp_path(const temp_path&) = delete;
    temp_path& operator=(const temp_path&) = delete;
    [[nodiscard]] std::string str() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

} // namespace

TEST_CASE("coco_json: ground truth fields") {
    const auto g = gt();
    CHECK(g.source == "gt.json");
    CHECK(g.image_ids == std::vector<std::int64_t>{5, 2});
    REQUIRE(g.categories.size() == 2);
    CHECK(g.categories[0].id == 3);
    CHECK(g.categories[0].name == "car");
    CHECK(g.category_ids() == std::vector<std::int64_t>{3, 1});
    REQUIRE(g.annotations.size() == 3);
    CHECK(g.annotation_image_ids == std::vector<std::int64_t>{5, 5, 2});
    CHECK(g.annotations[0].bbox == detseg::coco_box{1, 2, 3, 4});
    CHECK(g.annotations[0].area == 7.5);
    CHECK(g.annotations[0].id == 10);
    CHECK(!g.annotations[0].iscrowd);
    CHECK(g.annotations[1].iscrowd);
    CHECK(g.annotations[1].category_id == 3);
    CHECK(!g.annotations[2].iscrowd); // absent iscrowd reads as 0
}

TEST_CASE("coco_json: results") {
    const auto g = gt();
    const auto r = detseg::parse_coco_results(
        R"([{"image_id": 2, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.5},
            {"image_id": 5, "category_id": 3, "bbox": [0, 0, 1.5, 1], "score": 1}])",
        g, "dt.json");
    REQUIRE(r.detections.size() == 2);
    CHECK(r.image_ids == std::vector<std::int64_t>{2, 5});
    CHECK(r.detections[0].score == 0.5);
    CHECK(r.detections[1].score == 1.0); // an integer score
    CHECK(r.detections[1].bbox == detseg::coco_box{0, 0, 1.5, 1});
    CHECK(detseg::parse_coco_results("[]", g).detections.empty()); // empty results are valid
    const auto res = detseg::build_coco_evaluator(g, r).accumulate();
    CHECK(res.category_ids == std::vector<std::int64_t>{1, 3});
}

TEST_CASE("coco_json: the shared sets load completely") {
    const auto g = detseg::load_coco_ground_truth(shared_coco + "public300_s1_gt.json");
    CHECK(g.image_ids.size() == 300);
    CHECK(g.annotations.size() == 2174);
    CHECK(g.categories.size() == 80);
    std::size_t crowd = 0;
    for (const auto& a : g.annotations)
        crowd += a.iscrowd;
    CHECK(crowd == 23);
    const auto d = detseg::load_coco_results(shared_coco + "public300_s1_dt_bbox.json", g);
    CHECK(d.detections.size() == 10384);
    CHECK(d.image_ids[0] == 37617);
    CHECK(d.detections[0].bbox == detseg::coco_box{208.42, 377.49, 40.08, 66.93});
    CHECK(d.detections[0].score == 0.99);
}

TEST_CASE("coco_json: files") {
    expect_io_error([] { (void)detseg::load_coco_ground_truth("/nonexistent/gt.json"); },
                    {"load_coco_ground_truth", "/nonexistent/gt.json", "cannot read"});
    const auto g = gt();
    expect_io_error([&] { (void)detseg::load_coco_results("/nonexistent/dt.json", g); },
                    {"load_coco_results", "/nonexistent/dt.json", "cannot read"});
    temp_path t;
    {
        std::ofstream o(t.str());
        o << R"([{"image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}])";
    }
    expect_io_error([&] { (void)detseg::load_coco_results(t.str(), g); },
                    {"load_coco_results", t.str(), "result[0]", "image_id 99", "gt.json"});
}

TEST_CASE("coco_json: malformed and truncated JSON") {
    const std::string full = small_gt;
    bad_gt(full.substr(0, full.size() / 2), {"bad_gt.json", "malformed JSON"});
    bad_gt("{\"images\": [}", {"bad_gt.json", "malformed JSON"});
    bad_gt("", {"bad_gt.json", "malformed JSON"});
    bad_gt("[1, 2]", {"bad_gt.json", "not a JSON object"});
    bad_results(R"([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5})",
                {"bad_dt.json", "malformed JSON"});
    // Python's json.dump writes NaN as a bare NaN token, which is not JSON
    bad_results(R"([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": NaN}])",
                {"bad_dt.json", "malformed JSON"});
    bad_results(R"({"image_id": 2})", {"bad_dt.json", "not a JSON array"});
}

TEST_CASE("coco_json: bad ground-truth records") {
    const std::string img = R"("images": [{"id": 1}], "categories": [{"id": 1}], )";
    auto ann = [&](const std::string& a) { return "{" + img + "\"annotations\": [" + a + "]}"; };
    bad_gt(R"({"categories": [], "annotations": []})", {"bad_gt.json", "missing 'images'"});
    bad_gt(R"({"images": {}, "categories": [], "annotations": []})", {"'images' is not an array"});
    bad_gt(R"({"images": [{"id": 1}, {"id": 1}], "categories": [], "annotations": []})",
           {"images[1]", "duplicate image id 1"});
    bad_gt(R"({"images": [{"id": "a"}], "categories": [], "annotations": []})",
           {"images[0]", "'id' is not an integer"});
    bad_gt(R"({"images": [{"id": 1.5}], "categories": [], "annotations": []})",
           {"images[0]", "'id' is not an integer"});
    bad_gt(R"({"images": [3], "categories": [], "annotations": []})",
           {"images[0]", "not an object"});
    bad_gt(R"({"images": [], "categories": [{"id": 1}, {"id": 1}], "annotations": []})",
           {"categories[1]", "duplicate category id 1"});
    bad_gt(R"({"images": [], "categories": [{"name": "x"}], "annotations": []})",
           {"categories[0]", "missing 'id'"});
    const std::string good =
        R"("image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": 0)";
    CHECK_NOTHROW((void)detseg::parse_coco_ground_truth(ann("{\"id\": 4, " + good + "}")));
    bad_gt(ann("{" + good + "}"), {"annotations[0]", "missing 'id'"});
    bad_gt(ann("{\"id\": 4, " + good + "}, {\"id\": 4, " + good + "}"),
           {"annotations[1] (id 4)", "duplicate annotation id"});
    bad_gt(ann(R"({"id": 4, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1})"),
           {"annotations[0] (id 4)", "image_id 2 is not in 'images'"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1], "area": 1})"),
           {"annotations[0] (id 4)", "category_id 7 is not in 'categories'"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 1, "area": 1})"),
           {"annotations[0] (id 4)", "missing 'bbox'"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "area": 1})"),
           {"annotations[0] (id 4)", "'bbox' is not an array of 4 numbers"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1], "area": 1})"),
           {"annotations[0] (id 4)", "negative width or height"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, "x", 1, 1], "area": 1})"),
           {"annotations[0] (id 4)", "'bbox' is not a number"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]})"),
           {"annotations[0] (id 4)", "missing 'area'"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": null})"),
           {"annotations[0] (id 4)", "'area' is not a number"});
    bad_gt(ann(R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1,
                   "iscrowd": "yes"})"),
           {"annotations[0] (id 4)", "'iscrowd' is not an integer"});
    // iscrowd as true/false is accepted
    const auto g = detseg::parse_coco_ground_truth(ann(
        R"({"id": 4, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 1, "iscrowd": true})"));
    CHECK(g.annotations[0].iscrowd);
}

TEST_CASE("coco_json: bad result records") {
    const std::string box = R"("bbox": [0, 0, 1, 1])";
    bad_results(
        R"([{"image_id": 3, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}])",
        {"bad_dt.json", "result[0]", "image_id 3 is not an image of the ground truth", "gt.json"});
    bad_results(R"([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
                    {"image_id": 2, "category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.5}])",
                {"bad_dt.json", "result[1]", "category_id 2 is not a category"});
    bad_results(R"([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, -2], "score": 0.5}])",
                {"result[0]", "negative width or height"});
    bad_results(R"([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1e999, 1], "score": 0.5}])",
                {"bad_dt.json"});
    bad_results(R"([{"image_id": 2, "category_id": 1, "score": 0.5, "segmentation": {}}])",
                {"result[0]", "missing 'bbox'"});
    bad_results(R"([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}])",
                {"result[0]", "missing 'score'"});
    bad_results(R"([{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "high"}])",
                {"result[0]", "'score' is not a number"});
    bad_results(R"([{"category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}])",
                {"result[0]", "missing 'image_id'"});
    bad_results(R"([{"image_id": 2, "bbox": [0, 0, 1, 1], "score": 0.5}])",
                {"result[0]", "missing 'category_id'"});
    bad_results(R"([7])", {"result[0]", "not an object"});
    (void)box;
}
