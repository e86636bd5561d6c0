// Google Benchmark for soft_nms alone: the public function (block store from 96 boxes on) against
// the linear O(N^2) loop it replaces (detail::soft_nms_run with the block store turned off), for
// both decay methods, over N. The results of the two paths are identical (tested in
// tests/detect/soft_nms_large.test.cpp); this measures what the block store buys.
//
// Boxes: detections.hpp's detector-like data (as bench_detect.cpp), rounded to integers (the
// inputs on which soft_nms matches cv2.dnn.softNMSBoxes). Every benchmark reports
// real time, items_per_second = input boxes/s and the counter `picks`.

#include <detseg/detect/soft_nms.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace {

using bench::cached;
using detseg::index_t;

// method: 0 gaussian (sigma 0.5), 1 linear (N_t 0.3); score_threshold 0.001.
detseg::soft_nms_params params_of(std::int64_t method) {
    return {.method =
                method == 0 ? detseg::soft_nms_method::gaussian : detseg::soft_nms_method::linear};
}

void report(benchmark::State& state, index_t n, std::size_t picks) {
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
    state.counters["picks"] = static_cast<double>(picks);
}

void BM_soft_nms(benchmark::State& state) {
    const index_t n = state.range(0);
    const auto& d = cached(n);
    const auto params = params_of(state.range(1));
    std::size_t picks = 0;
    for (auto _ : state) {
        auto r = detseg::soft_nms(d.integer_boxes, d.scores, params);
        picks = r.indices.size();
        benchmark::DoNotOptimize(r.indices.data());
    }
    report(state, n, picks);
}
BENCHMARK(BM_soft_nms)
    ->ArgNames({"n", "linear"})
    ->ArgsProduct({{1000, 2000, 4000, 8000, 16000}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The same loop without the block store: an O(N) scan and an O(N) decay pass per pick.
void BM_soft_nms_linear_loop(benchmark::State& state) {
    const index_t n = state.range(0);
    const auto& d = cached(n);
    const auto params = params_of(state.range(1));
    const auto boxes =
        detseg::detail::to_boxes(d.integer_boxes, detseg::box_format::xyxy, "bench", "boxes");
    const auto scores = detseg::detail::as_view_checked<1>(d.scores, "bench", "scores");
    std::size_t picks = 0;
    for (auto _ : state) {
        auto r = detseg::detail::soft_nms_run(boxes, scores, params,
                                              std::numeric_limits<index_t>::max());
        picks = r.indices.size();
        benchmark::DoNotOptimize(r.indices.data());
    }
    report(state, n, picks);
}
BENCHMARK(BM_soft_nms_linear_loop)
    ->ArgNames({"n", "linear"})
    ->ArgsProduct({{1000, 2000, 4000}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

} // namespace
