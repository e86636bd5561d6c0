#ifndef DETSEG_IO_COCO_JSON_HPP
#define DETSEG_IO_COCO_JSON_HPP

/// @file
/// Loading COCO ground truth (`instances_*.json`) and detection results (`[{image_id,
/// category_id, bbox, score}, ...]`) with simdjson, and feeding them to a `coco_evaluator`.
/// Needs simdjson (link `detseg::simdjson`); this header does not compile without it.
///
///     auto gt = detseg::load_coco_ground_truth("instances_val2017.json");
///     auto dt = detseg::load_coco_results("detections.json", gt);
///     auto r = detseg::build_coco_evaluator(gt, dt).accumulate();   // r.stats(): 12 numbers
///
/// Every problem in a file throws `detseg::io_error` naming the file and the record; nothing
/// is silently dropped.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/metrics/coco_evaluator.hpp>
#include <detseg/metrics/coco_params.hpp>

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace detseg {

/// A COCO category.
struct coco_category {
    std::int64_t id = 0;
    std::string name;
};

/// A COCO ground-truth file: images, categories and box annotations, in file order.
struct coco_ground_truth {
    std::string source;                  ///< the file name (or the name given to the parser)
    std::vector<std::int64_t> image_ids; ///< `images[*].id`, file order
    std::vector<coco_category> categories;
    std::vector<std::int64_t> annotation_image_ids; ///< `annotations[i].image_id`
    std::vector<coco_gt> annotations;               ///< bbox, area, category_id, iscrowd, id

    /// The category ids, file order.
    [[nodiscard]] std::vector<std::int64_t> category_ids() const {
        std::vector<std::int64_t> ids;
        ids.reserve(categories.size());
        for (const auto& c : categories)
            ids.push_back(c.id);
        return ids;
    }
};

/// A COCO results file (box detections), in file order.
struct coco_results {
    std::string source;
    std::vector<std::int64_t> image_ids; ///< `image_id` of each detection
    std::vector<coco_det> detections;    ///< bbox, score, category_id
};

namespace detail {

[[noreturn]] inline void coco_json_fail(std::string_view fn, std::string_view source,
                                        std::string_view what) {
    throw io_error(concat("detseg::", fn, ": '", source, "': ", what));
}

/// Names a record in messages, e.g. "annotations[3] (id 17)"; formatted only on failure.
struct coco_json_record {
    std::string_view kind; ///< "images", "annotations", "result", ... or "the document"
    std::size_t index = 0;
    std::int64_t id = 0;
    bool has_index = true;
    bool has_id = false;

    [[nodiscard]] std::string name() const {
        std::string s(kind);
        if (has_index)
            s = concat(s, "[", index, "]");
        if (has_id)
            s = concat(s, " (id ", id, ")");
        return s;
    }
};

inline constexpr coco_json_record coco_json_document{"the document", 0, 0, false, false};

struct coco_json_ctx {
    std::string_view fn;
    std::string_view source;
    [[noreturn]] void fail(const coco_json_record& record, std::string_view what) const {
        coco_json_fail(fn, source, concat(record.name(), ": ", what));
    }
};

inline simdjson::dom::element coco_json_field(const coco_json_ctx& c, simdjson::dom::object obj,
                                              std::string_view key,
                                              const coco_json_record& record) {
    simdjson::dom::element e;
    if (obj[key].get(e) != simdjson::SUCCESS)
        c.fail(record, concat("missing '", key, "'"));
    return e;
}

inline std::int64_t coco_json_int(const coco_json_ctx& c, simdjson::dom::element e,
                                  std::string_view key, const coco_json_record& record) {
    std::int64_t v = 0;
    if (e.get_int64().get(v) != simdjson::SUCCESS) {
        double d = 0;
        // 12.0 is accepted as 12 (Python compares it equal to the integer)
        if (e.get_double().get(d) != simdjson::SUCCESS || !(std::floor(d) == d) ||
            std::fabs(d) > 9007199254740992.0)
            c.fail(record, concat("'", key, "' is not an integer"));
        v = static_cast<std::int64_t>(d);
    }
    return v;
}

inline double coco_json_number(const coco_json_ctx& c, simdjson::dom::element e,
                               std::string_view key, const coco_json_record& record) {
    double v = 0;
    if (e.get_double().get(v) != simdjson::SUCCESS)
        c.fail(record, concat("'", key, "' is not a number"));
    if (!std::isfinite(v))
        c.fail(record, concat("'", key, "' is not finite"));
    return v;
}

inline coco_box coco_json_bbox(const coco_json_ctx& c, simdjson::dom::element e,
                               const coco_json_record& record) {
    simdjson::dom::array arr;
    if (e.get_array().get(arr) != simdjson::SUCCESS || arr.size() != 4)
        c.fail(record, "'bbox' is not an array of 4 numbers");
    coco_box b{};
    std::size_t i = 0;
    for (simdjson::dom::element x : arr)
        b[i++] = coco_json_number(c, x, "bbox", record);
    if (b[2] < 0 || b[3] < 0)
        c.fail(record, "'bbox' has a negative width or height");
    return b;
}

inline simdjson::dom::element coco_json_parse(const coco_json_ctx& c, simdjson::dom::parser& parser,
                                              const simdjson::padded_string& text) {
    simdjson::dom::element doc;
    if (auto err = parser.parse(text).get(doc); err != simdjson::SUCCESS)
        coco_json_fail(c.fn, c.source, concat("malformed JSON: ", simdjson::error_message(err)));
    return doc;
}

inline simdjson::padded_string coco_json_read_file(std::string_view fn, const std::string& path) {
    simdjson::padded_string text;
    if (simdjson::padded_string::load(path).get(text) != simdjson::SUCCESS)
        coco_json_fail(fn, path, "cannot read the file");
    return text;
}

inline coco_ground_truth coco_parse_gt(std::string_view fn, const simdjson::padded_string& text,
                                       std::string source) {
    coco_ground_truth gt;
    gt.source = std::move(source);
    const coco_json_ctx c{fn, gt.source};
    simdjson::dom::parser parser;
    simdjson::dom::element doc = coco_json_parse(c, parser, text);
    simdjson::dom::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS)
        c.fail(coco_json_document, "is not a JSON object");
    auto array_of = [&](std::string_view key) {
        simdjson::dom::array arr;
        if (coco_json_field(c, root, key, coco_json_document).get_array().get(arr) !=
            simdjson::SUCCESS)
            c.fail(coco_json_document, concat("'", key, "' is not an array"));
        return arr;
    };
    std::unordered_set<std::int64_t> images, cats, ann_ids;
    std::size_t i = 0;
    for (simdjson::dom::element e : array_of("images")) {
        const coco_json_record rec{"images", i++};
        simdjson::dom::object o;
        if (e.get_object().get(o) != simdjson::SUCCESS)
            c.fail(rec, "is not an object");
        const std::int64_t id = coco_json_int(c, coco_json_field(c, o, "id", rec), "id", rec);
        if (!images.insert(id).second)
            c.fail(rec, concat("duplicate image id ", id));
        gt.image_ids.push_back(id);
    }
    i = 0;
    for (simdjson::dom::element e : array_of("categories")) {
        const coco_json_record rec{"categories", i++};
        simdjson::dom::object o;
        if (e.get_object().get(o) != simdjson::SUCCESS)
            c.fail(rec, "is not an object");
        coco_category cat;
        cat.id = coco_json_int(c, coco_json_field(c, o, "id", rec), "id", rec);
        if (!cats.insert(cat.id).second)
            c.fail(rec, concat("duplicate category id ", cat.id));
        std::string_view name;
        if (simdjson::dom::element n;
            o["name"].get(n) == simdjson::SUCCESS && n.get_string().get(name) == simdjson::SUCCESS)
            cat.name = std::string(name);
        gt.categories.push_back(std::move(cat));
    }
    i = 0;
    for (simdjson::dom::element e : array_of("annotations")) {
        coco_json_record rec{"annotations", i++};
        simdjson::dom::object o;
        if (e.get_object().get(o) != simdjson::SUCCESS)
            c.fail(rec, "is not an object");
        coco_gt a;
        a.id = coco_json_int(c, coco_json_field(c, o, "id", rec), "id", rec);
        rec.id = a.id;
        rec.has_id = true;
        if (!ann_ids.insert(a.id).second)
            c.fail(rec, "duplicate annotation id");
        const std::int64_t img =
            coco_json_int(c, coco_json_field(c, o, "image_id", rec), "image_id", rec);
        if (!images.contains(img))
            c.fail(rec, concat("image_id ", img, " is not in 'images'"));
        a.category_id =
            coco_json_int(c, coco_json_field(c, o, "category_id", rec), "category_id", rec);
        if (!cats.contains(a.category_id))
            c.fail(rec, concat("category_id ", a.category_id, " is not in 'categories'"));
        a.bbox = coco_json_bbox(c, coco_json_field(c, o, "bbox", rec), rec);
        a.area = coco_json_number(c, coco_json_field(c, o, "area", rec), "area", rec);
        if (simdjson::dom::element cr; o["iscrowd"].get(cr) == simdjson::SUCCESS) {
            bool b = false;
            if (cr.get_bool().get(b) == simdjson::SUCCESS)
                a.iscrowd = b;
            else
                a.iscrowd = coco_json_int(c, cr, "iscrowd", rec) != 0;
        }
        gt.annotation_image_ids.push_back(img);
        gt.annotations.push_back(a);
    }
    return gt;
}

inline coco_results coco_parse_results(std::string_view fn, const simdjson::padded_string& text,
                                       std::string source, const coco_ground_truth& gt) {
    coco_results res;
    res.source = std::move(source);
    const coco_json_ctx c{fn, res.source};
    simdjson::dom::parser parser;
    simdjson::dom::element doc = coco_json_parse(c, parser, text);
    simdjson::dom::array arr;
    if (doc.get_array().get(arr) != simdjson::SUCCESS)
        c.fail(coco_json_document, "is not a JSON array of results");
    const std::unordered_set<std::int64_t> images(gt.image_ids.begin(), gt.image_ids.end());
    std::unordered_set<std::int64_t> cats;
    for (const auto& cat : gt.categories)
        cats.insert(cat.id);
    std::size_t i = 0;
    for (simdjson::dom::element e : arr) {
        const coco_json_record rec{"result", i++};
        simdjson::dom::object o;
        if (e.get_object().get(o) != simdjson::SUCCESS)
            c.fail(rec, "is not an object");
        coco_det d;
        const std::int64_t img =
            coco_json_int(c, coco_json_field(c, o, "image_id", rec), "image_id", rec);
        if (!images.contains(img))
            c.fail(rec, concat("image_id ", img, " is not an image of the ground truth '",
                               gt.source, "'"));
        d.category_id =
            coco_json_int(c, coco_json_field(c, o, "category_id", rec), "category_id", rec);
        if (!cats.contains(d.category_id))
            c.fail(rec, concat("category_id ", d.category_id,
                               " is not a category of the ground truth '", gt.source, "'"));
        d.bbox = coco_json_bbox(c, coco_json_field(c, o, "bbox", rec), rec);
        simdjson::dom::element s = coco_json_field(c, o, "score", rec);
        if (s.get_double().get(d.score) != simdjson::SUCCESS || std::isnan(d.score))
            c.fail(rec, "'score' is not a number");
        res.image_ids.push_back(img);
        res.detections.push_back(d);
    }
    return res;
}

} // namespace detail

/// Loads a COCO ground-truth file: `images[*].id`, `categories[*].id` (and `name`),
/// `annotations[*]` with `id`, `image_id`, `category_id`, `bbox` [x, y, w, h], `area` and
/// `iscrowd` (0 when absent; an `ignore` field is not read: pycocotools overwrites it with
/// `iscrowd`). O(file size).
/// @throws io_error naming the file and the record: unreadable file, malformed or truncated
/// JSON, a missing or mistyped field, a duplicate image, category or annotation id, an
/// annotation whose image or category is not listed, a negative box size, a non-finite number.
[[nodiscard]] inline coco_ground_truth load_coco_ground_truth(const std::string& path) {
    constexpr std::string_view fn = "load_coco_ground_truth";
    return detail::coco_parse_gt(fn, detail::coco_json_read_file(fn, path), path);
}

/// `load_coco_ground_truth` from a JSON text in memory; `name` stands for the file in messages.
[[nodiscard]] inline coco_ground_truth parse_coco_ground_truth(std::string_view json,
                                                               std::string name = "<memory>") {
    return detail::coco_parse_gt("parse_coco_ground_truth", simdjson::padded_string(json),
                                 std::move(name));
}

/// Loads a COCO results file (a JSON array of `{image_id, category_id, bbox, score}`), checked
/// against `gt` as pycocotools' `loadRes` does and more: every image id must be a ground-truth
/// image and every category a ground-truth category. An empty array is valid. O(file size).
/// @throws io_error naming the file and the record: unreadable file, malformed or truncated
/// JSON (a `NaN` literal is malformed JSON), a missing or mistyped field (e.g. no `bbox`), an
/// unknown image or category id, a negative box size, a non-finite coordinate, a NaN score.
[[nodiscard]] inline coco_results load_coco_results(const std::string& path,
                                                    const coco_ground_truth& gt) {
    constexpr std::string_view fn = "load_coco_results";
    return detail::coco_parse_results(fn, detail::coco_json_read_file(fn, path), path, gt);
}

/// `load_coco_results` from a JSON text in memory; `name` stands for the file in messages.
[[nodiscard]] inline coco_results parse_coco_results(std::string_view json,
                                                     const coco_ground_truth& gt,
                                                     std::string name = "<memory>") {
    return detail::coco_parse_results("parse_coco_results", simdjson::padded_string(json),
                                      std::move(name), gt);
}

/// A `coco_evaluator` over `gt`'s categories with every ground-truth image added (images in
/// parallel), annotations and detections in file order within each image: the state of
/// pycocotools' `COCOeval(gt, gt.loadRes(dt), 'bbox').evaluate()`. O(evaluation).
/// @throws invalid_argument for bad `params`; io_error if `dt` has an image not in `gt`.
[[nodiscard]] inline coco_evaluator
build_coco_evaluator(const coco_ground_truth& gt, const coco_results& dt, coco_params params = {}) {
    coco_evaluator ev(gt.category_ids(), std::move(params));
    std::unordered_map<std::int64_t, std::size_t> slot;
    slot.reserve(gt.image_ids.size());
    for (std::size_t i = 0; i < gt.image_ids.size(); ++i)
        slot.emplace(gt.image_ids[i], i);
    const std::size_t n = gt.image_ids.size();
    std::vector<std::vector<coco_gt>> g(n);
    std::vector<std::vector<coco_det>> d(n);
    for (std::size_t i = 0; i < gt.annotations.size(); ++i) {
        auto it = slot.find(gt.annotation_image_ids[i]);
        if (it == slot.end())
            detail::coco_json_fail(
                "build_coco_evaluator", gt.source,
                detail::concat("annotations[", i, "]: image_id is not a ground-truth image"));
        g[it->second].push_back(gt.annotations[i]);
    }
    for (std::size_t i = 0; i < dt.detections.size(); ++i) {
        auto it = slot.find(dt.image_ids[i]);
        if (it == slot.end())
            detail::coco_json_fail(
                "build_coco_evaluator", dt.source,
                detail::concat("result[", i, "]: image_id is not a ground-truth image"));
        d[it->second].push_back(dt.detections[i]);
    }
    std::vector<std::span<const coco_gt>> gs(n);
    std::vector<std::span<const coco_det>> ds(n);
    for (std::size_t i = 0; i < n; ++i) {
        gs[i] = g[i];
        ds[i] = d[i];
    }
    ev.add_images(gt.image_ids, gs, ds);
    return ev;
}

} // namespace detseg

#endif // DETSEG_IO_COCO_JSON_HPP
