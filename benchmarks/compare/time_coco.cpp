// Times detseg's COCO box evaluation on a ground-truth file and a results file, for
// compare_coco.py, on one thread (OpenMP set to 1 thread unless --threads says otherwise):
//   load       load_coco_ground_truth + load_coco_results (simdjson)
//   evaluate   build_coco_evaluator: grouping by image and per-image matching (pycocotools'
//              evaluate())
//   accumulate coco_evaluator::accumulate: accumulate() + summarize()
//   eval_total evaluate + accumulate in one timed call (pycocotools' evaluate + accumulate +
//              summarize)
// and prints one JSON object with median/IQR times in ms and the 12 stats (%.17g).
//
//     time_coco [--reps R] [--threads N] GT.json DT.json

#include <detseg/core/parallel.hpp>
#include <detseg/io/coco_json.hpp>
#include <detseg/metrics/coco_evaluator.hpp>

#include "timing.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

int main(int argc, char** argv) try {
    int reps = 21;
    int threads = 1;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--reps" && i + 1 < argc)
            reps = std::atoi(argv[++i]);
        else if (a == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else
            files.push_back(a);
    }
    if (files.size() != 2 || reps < 1 || threads < 1) {
        std::fprintf(stderr, "usage: time_coco [--reps R] [--threads N] GT.json DT.json\n");
        return 2;
    }
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(threads);
#endif
    const auto gt = detseg::load_coco_ground_truth(files[0]);
    const auto dt = detseg::load_coco_results(files[1], gt);

    const timing::summary load = timing::time_ms(reps, [&] {
        auto g = detseg::load_coco_ground_truth(files[0]);
        auto d = detseg::load_coco_results(files[1], g);
        timing::escape_barrier(d.detections.data());
    });
    const timing::summary evaluate = timing::time_ms(reps, [&] {
        auto ev = detseg::build_coco_evaluator(gt, dt);
        timing::escape_barrier(&ev);
    });
    const detseg::coco_evaluator ev = detseg::build_coco_evaluator(gt, dt);
    const timing::summary accumulate = timing::time_ms(reps, [&] {
        auto r = ev.accumulate();
        timing::escape_barrier(r.precision.data());
    });
    std::vector<double> stats;
    const timing::summary total = timing::time_ms(
        reps, [&] { stats = detseg::build_coco_evaluator(gt, dt).accumulate().stats(); });

    std::printf("{\"compiler\": \"%s\", \"threads\": %d, \"reps\": %d, \"images\": %zu, "
                "\"gt\": %zu, \"dt\": %zu,\n",
                __VERSION__, detseg::max_threads(), reps, gt.image_ids.size(),
                gt.annotations.size(), dt.detections.size());
    std::printf(" \"load_ms\": %s,\n \"evaluate_ms\": %s,\n \"accumulate_ms\": %s,\n"
                " \"eval_total_ms\": %s,\n \"stats\": [",
                timing::json(load).c_str(), timing::json(evaluate).c_str(),
                timing::json(accumulate).c_str(), timing::json(total).c_str());
    for (std::size_t i = 0; i < stats.size(); ++i)
        std::printf("%s%.17g", i ? ", " : "", stats[i]);
    std::printf("]}\n");
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "time_coco: %s\n", e.what());
    return 1;
}
