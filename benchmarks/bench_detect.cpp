// Google Benchmark for the detect module: greedy NMS (`nms`, and `nms_to` with a reused
// `nms_workspace`, the allocation-free path), per-class `batched_nms` and Gaussian `soft_nms`,
// on detector-like float boxes with scores.
//
// Boxes are seeded and portable: jittered around 40 objects in a 1333×800 image, 15% anywhere,
// every 1000th a zero-size point, clipped (as bench_box.cpp). Scores are higher near objects
// (Beta(2, 2)) than for background boxes (Beta(1, 6)); labels follow the object's class (80
// classes) for 80% of the boxes and are random otherwise. soft_nms gets the boxes rounded to
// integers (the inputs on which it matches OpenCV).
//
// Threads: with OpenMP every benchmark runs on one thread unless the environment variable
// DETSEG_BENCH_THREADS gives another count (the NMS functions are sequential anyway). Every
// benchmark reports real time, items_per_second = input boxes/s, and the counter `kept` (boxes
// kept or picked).

#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/detect/batched_nms.hpp>
#include <detseg/detect/nms.hpp>
#include <detseg/detect/soft_nms.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using bench::cached;
using bench::detections;
using detseg::index_t;

auto box_view(const std::vector<float>& flat, index_t n) {
    return detseg::make_view(flat.data(), {n, index_t{4}});
}

void report(benchmark::State& state, index_t n, std::size_t kept) {
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
    state.counters["kept"] = static_cast<double>(kept);
    state.SetLabel("omp threads: " + std::to_string(detseg::max_threads()));
}

const int bench_threads = bench::set_threads_from_env();

void BM_nms(benchmark::State& state) {
    const index_t n = state.range(0);
    const auto& d = cached(n);
    const auto boxes = box_view(d.boxes, n);
    const auto scores = detseg::make_view(d.scores.data(), {n});
    std::size_t kept = 0;
    for (auto _ : state) {
        auto keep = detseg::nms(boxes, scores, {.iou_threshold = 0.5});
        kept = keep.size();
        benchmark::DoNotOptimize(keep.data());
    }
    report(state, n, kept);
}
BENCHMARK(BM_nms)->Arg(1000)->Arg(5000)->Arg(20000)->UseRealTime()->Unit(benchmark::kMicrosecond);

// nms_to with a workspace reused across iterations: no allocation after the first call.
void BM_nms_to_workspace(benchmark::State& state) {
    const index_t n = state.range(0);
    const auto& d = cached(n);
    const auto boxes = box_view(d.boxes, n);
    const auto scores = detseg::make_view(d.scores.data(), {n});
    detseg::nms_workspace ws;
    std::vector<index_t> out(static_cast<std::size_t>(n));
    index_t kept = 0;
    for (auto _ : state) {
        kept = detseg::nms_to(boxes, scores, std::span<index_t>(out), ws, {.iou_threshold = 0.5});
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report(state, n, static_cast<std::size_t>(kept));
}
BENCHMARK(BM_nms_to_workspace)
    ->Arg(1000)
    ->Arg(5000)
    ->Arg(20000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_batched_nms(benchmark::State& state) {
    const index_t n = state.range(0);
    const auto& d = cached(n);
    const auto boxes = box_view(d.boxes, n);
    const auto scores = detseg::make_view(d.scores.data(), {n});
    const auto labels = detseg::make_view(d.labels.data(), {n});
    std::size_t kept = 0;
    for (auto _ : state) {
        auto keep = detseg::batched_nms(boxes, scores, labels, {.iou_threshold = 0.5});
        kept = keep.size();
        benchmark::DoNotOptimize(keep.data());
    }
    report(state, n, kept);
}
BENCHMARK(BM_batched_nms)->Arg(5000)->Arg(20000)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_soft_nms_gaussian(benchmark::State& state) {
    const index_t n = state.range(0);
    const auto& d = cached(n);
    const auto boxes = box_view(d.integer_boxes, n);
    const auto scores = detseg::make_view(d.scores.data(), {n});
    std::size_t kept = 0;
    for (auto _ : state) {
        auto r = detseg::soft_nms(boxes, scores,
                                  {.method = detseg::soft_nms_method::gaussian, .sigma = 0.5});
        kept = r.indices.size();
        benchmark::DoNotOptimize(r.indices.data());
    }
    report(state, n, kept);
}
BENCHMARK(BM_soft_nms_gaussian)->Arg(1000)->Arg(5000)->UseRealTime()->Unit(benchmark::kMillisecond);

} // namespace
