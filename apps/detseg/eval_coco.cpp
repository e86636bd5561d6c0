// `detseg eval coco`: pycocotools' COCOeval (bbox) on a ground-truth file and a results file,
// with detseg's engine: the 12 summary lines as pycocotools prints them, an optional per-class
// table and a JSON file with the stats in full precision.

#include <detseg/core/parallel.hpp>
#include <detseg/io/coco_json.hpp>
#include <detseg/metrics/coco_evaluator.hpp>

#include "cli.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace detseg_cli {

const char* eval_coco_help() {
    return R"(usage: detseg eval coco --gt GT.json --dt DT.json [options]

COCO detection evaluation of a results file against a ground-truth file, with pycocotools'
rules (COCOeval evaluate + accumulate + summarize); the 12 stats are pycocotools' bit for bit.
Prints the 12 summary lines on stdout exactly as pycocotools' summarize() does; loading and
timing notes go to stderr.

options:
  --gt FILE        COCO ground truth (images, categories, annotations with bbox and area)
  --dt FILE        results: a JSON array of {image_id, category_id, bbox, score}
  --iou-type TYPE  bbox (the default and, for now, the only type)
  --per-class      also print a per-category table (AP, AP50, AP75, AR@100; -1: no ground truth)
  --json FILE      write {"stats": [12 numbers], "stats_names", "per_class", "counts",
                   "inputs", "time_ms"}; numbers with 17 significant digits (they read back
                   to the same doubles)
  --threads N      threads for evaluation (OpenMP; default: OMP_NUM_THREADS or all cores);
                   results are identical for every N
  -h, --help       this text

exit status: 0 on success, 1 when a file cannot be read or is invalid (the message names the
file and the record), 2 on a wrong command line.
)";
}

namespace {

const char* const stat_names[12] = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string fixed3(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

} // namespace

int eval_coco_main(std::span<const std::string_view> args) {
    std::string gt_path, dt_path, json_path, iou_type = "bbox";
    bool per_class = false;
    int threads = 0;
    arg_reader r("detseg eval coco", args);
    while (r.more()) {
        const std::string_view opt = r.next();
        if (opt == "--gt")
            gt_path = r.value();
        else if (opt == "--dt")
            dt_path = r.value();
        else if (opt == "--json")
            json_path = r.value();
        else if (opt == "--iou-type")
            iou_type = r.value();
        else if (opt == "--threads")
            threads = r.positive_int();
        else if (opt == "--per-class") {
            r.flag();
            per_class = true;
        } else
            throw usage_error("unknown argument '" + std::string(opt) + "'");
    }
    if (gt_path.empty())
        throw usage_error("--gt is required");
    if (dt_path.empty())
        throw usage_error("--dt is required");
    if (iou_type != "bbox")
        throw usage_error("--iou-type '" + iou_type +
                          "' is not supported (only 'bbox'; mask IoU is planned)");
    if (threads > 0) {
#if DETSEG_HAS_OPENMP
        omp_set_num_threads(threads);
#else
        if (threads > 1)
            std::fprintf(stderr, "detseg eval coco: built without OpenMP: --threads %d ignored\n",
                         threads);
#endif
    }

    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    const detseg::coco_ground_truth gt = detseg::load_coco_ground_truth(gt_path);
    const double t_gt = ms_since(t0);
    t0 = clock::now();
    const detseg::coco_results dt = detseg::load_coco_results(dt_path, gt);
    const double t_dt = ms_since(t0);
    std::fprintf(stderr,
                 "loaded '%s': %zu images, %zu annotations, %zu categories (%.1f ms)\n"
                 "loaded '%s': %zu detections (%.1f ms)\n",
                 gt_path.c_str(), gt.image_ids.size(), gt.annotations.size(), gt.categories.size(),
                 t_gt, dt_path.c_str(), dt.detections.size(), t_dt);
    t0 = clock::now();
    const detseg::coco_evaluator ev = detseg::build_coco_evaluator(gt, dt);
    const double t_eval = ms_since(t0);
    t0 = clock::now();
    const detseg::coco_eval_result res = ev.accumulate();
    const double t_acc = ms_since(t0);
    std::fprintf(stderr, "evaluate %.1f ms, accumulate + summarize %.1f ms, %d thread(s)\n", t_eval,
                 t_acc, detseg::max_threads());

    const auto& thr = res.params.iou_thresholds;
    for (const detseg::coco_stat& s : res.summary)
        std::printf("%s\n", s.to_string(thr.front(), thr.back()).c_str());

    std::unordered_map<std::int64_t, std::string> names;
    for (const auto& c : gt.categories)
        names.emplace(c.id, c.name);
    if (per_class) {
        std::printf("\n%11s  %-20s %7s %7s %7s %7s\n", "category_id", "name", "AP", "AP50", "AP75",
                    "AR100");
        for (const detseg::coco_class_stats& c : res.per_class) {
            std::string name = names[c.category_id];
            if (name.size() > 20)
                name.resize(20);
            std::printf("%11lld  %-20s %7s %7s %7s %7s\n", static_cast<long long>(c.category_id),
                        name.c_str(), fixed3(c.ap).c_str(), fixed3(c.ap50).c_str(),
                        fixed3(c.ap75).c_str(), fixed3(c.ar).c_str());
        }
    }
    std::fflush(stdout);

    if (!json_path.empty()) {
        std::string j = "{\n  \"iou_type\": \"bbox\",\n  \"stats\": [";
        const std::vector<double> stats = res.stats();
        for (std::size_t i = 0; i < stats.size(); ++i)
            j += (i ? ", " : "") + json_number(stats[i]);
        j += "],\n  \"stats_names\": [";
        for (std::size_t i = 0; i < 12; ++i)
            j += (i ? ", \"" : "\"") + std::string(stat_names[i]) + "\"";
        j += "],\n  \"per_class\": [";
        for (std::size_t i = 0; i < res.per_class.size(); ++i) {
            const auto& c = res.per_class[i];
            j += i ? ",\n    " : "\n    ";
            j += "{\"category_id\": " + std::to_string(c.category_id) +
                 ", \"name\": " + json_string(names[c.category_id]) +
                 ", \"ap\": " + json_number(c.ap) + ", \"ap50\": " + json_number(c.ap50) +
                 ", \"ap75\": " + json_number(c.ap75) + ", \"ar100\": " + json_number(c.ar) + "}";
        }
        j += "\n  ],\n  \"counts\": {\"images\": " + std::to_string(gt.image_ids.size()) +
             ", \"gt\": " + std::to_string(gt.annotations.size()) +
             ", \"dt\": " + std::to_string(dt.detections.size()) +
             ", \"categories\": " + std::to_string(gt.categories.size()) + "},\n";
        j += "  \"inputs\": {\"gt\": " + json_string(gt_path) +
             ", \"dt\": " + json_string(dt_path) + "},\n";
        j += "  \"threads\": " + std::to_string(detseg::max_threads()) + ",\n";
        j += "  \"time_ms\": {\"load_gt\": " + json_number(t_gt) +
             ", \"load_dt\": " + json_number(t_dt) + ", \"evaluate\": " + json_number(t_eval) +
             ", \"accumulate_summarize\": " + json_number(t_acc) + "}\n}\n";
        std::ofstream out(json_path, std::ios::binary);
        out << j;
        out.close();
        if (!out)
            throw detseg::io_error("cannot write '" + json_path + "'");
    }
    return 0;
}

} // namespace detseg_cli
