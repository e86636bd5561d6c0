// Google Benchmark for prior generation and box coding:
//   - grid anchors for RetinaNet/FPN (800×1333 image padded to 800×1344, 5 levels of strides
//     8–128, 3 sizes × 3 aspect ratios: 201600 anchors), returned as a new tensor and written
//     into a reused buffer (no allocation per call);
//   - SSD300's default boxes (pixel xyxy, 8732 boxes), the same two ways;
//   - encode_boxes and decode_boxes of 100k float boxes against 100k anchors into a reused
//     buffer (RetinaNet's weights (1, 1, 1, 1)).
// Inputs are seeded (std::mt19937 with portable arithmetic on its output). Every benchmark
// reports real time and items_per_second = anchors, boxes or encoded/decoded rows per second.
// Threads: with OpenMP (the coder splits large inputs into chunks) every benchmark runs on one
// thread unless the environment variable DETSEG_BENCH_THREADS gives another count.

#include <detseg/box/coder.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/detect/anchors.hpp>
#include <detseg/detect/default_boxes.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using detseg::index_t;

const int bench_threads = bench::set_threads_from_env();

const detseg::image_size retinanet_image{800, 1344};
const std::array<detseg::grid_size, 5> retinanet_grids{
    {{100, 168}, {50, 84}, {25, 42}, {13, 21}, {7, 11}}};

const detseg::grid_anchor_generator& retinanet_anchors() {
    static const detseg::grid_anchor_generator gen = [] {
        std::vector<std::vector<double>> sizes;
        for (double s : {32.0, 64.0, 128.0, 256.0, 512.0})
            sizes.push_back({s, s * std::cbrt(2.0), s * std::cbrt(4.0)});
        return detseg::grid_anchor_generator(sizes, {{0.5, 1.0, 2.0}});
    }();
    return gen;
}

const detseg::image_size ssd_image{300, 300};
const std::array<detseg::grid_size, 6> ssd_grids{
    {{38, 38}, {19, 19}, {10, 10}, {5, 5}, {3, 3}, {1, 1}}};

void items(benchmark::State& state, index_t n) {
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
    state.counters["threads"] = bench_threads;
}

void BM_grid_anchors_tensor(benchmark::State& state) {
    const auto& gen = retinanet_anchors();
    for (auto _ : state) {
        auto a = gen.generate<float>(retinanet_image, retinanet_grids);
        benchmark::DoNotOptimize(a.data());
    }
    items(state, gen.num_anchors(retinanet_grids));
}
BENCHMARK(BM_grid_anchors_tensor)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_grid_anchors_reused(benchmark::State& state) {
    const auto& gen = retinanet_anchors();
    detseg::tensor<float, 2> out({gen.num_anchors(retinanet_grids), 4});
    for (auto _ : state) {
        gen.generate(retinanet_image, retinanet_grids, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    items(state, out.extent(0));
}
BENCHMARK(BM_grid_anchors_reused)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_ssd300_default_boxes_tensor(benchmark::State& state) {
    const auto gen = detseg::default_box_generator::ssd300();
    for (auto _ : state) {
        auto b = gen.xyxy<float>(ssd_image, ssd_grids);
        benchmark::DoNotOptimize(b.data());
    }
    items(state, gen.num_boxes(ssd_grids));
}
BENCHMARK(BM_ssd300_default_boxes_tensor)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_ssd300_default_boxes_reused(benchmark::State& state) {
    const auto gen = detseg::default_box_generator::ssd300();
    detseg::tensor<float, 2> out({gen.num_boxes(ssd_grids), 4});
    for (auto _ : state) {
        gen.xyxy(ssd_image, ssd_grids, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    items(state, out.extent(0));
}
BENCHMARK(BM_ssd300_default_boxes_reused)->UseRealTime()->Unit(benchmark::kMicrosecond);

constexpr index_t coder_n = 100'000;

/// n xyxy boxes in a 1333×800 image: centres uniform, sides log-uniform in [8, 512].
detseg::tensor<float, 2> random_boxes(std::uint32_t seed) {
    std::mt19937 gen(seed);
    const auto uniform = [&gen] { return static_cast<double>(gen()) / 4294967296.0; };
    detseg::tensor<float, 2> b({coder_n, 4});
    for (index_t i = 0; i < coder_n; ++i) {
        const double cx = 1333.0 * uniform(), cy = 800.0 * uniform();
        const double w = 8.0 * std::exp(std::log(64.0) * uniform());
        const double h = 8.0 * std::exp(std::log(64.0) * uniform());
        b(i, 0) = static_cast<float>(cx - w / 2);
        b(i, 1) = static_cast<float>(cy - h / 2);
        b(i, 2) = static_cast<float>(cx + w / 2);
        b(i, 3) = static_cast<float>(cy + h / 2);
    }
    return b;
}

struct coder_inputs {
    detseg::tensor<float, 2> boxes = random_boxes(1);
    detseg::tensor<float, 2> anchors = random_boxes(2);
};

const coder_inputs& inputs() {
    static const coder_inputs in;
    return in;
}

void BM_encode_boxes_reused(benchmark::State& state) {
    const auto& in = inputs();
    detseg::tensor<float, 2> out({coder_n, 4});
    for (auto _ : state) {
        detseg::encode_boxes(in.boxes, in.anchors, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    items(state, coder_n);
}
BENCHMARK(BM_encode_boxes_reused)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_decode_boxes_reused(benchmark::State& state) {
    const auto& in = inputs();
    // deltas of the boxes relative to the anchors, so the decoded boxes are realistic
    const auto deltas = detseg::encode_boxes(in.boxes, in.anchors);
    detseg::tensor<float, 2> out({coder_n, 4});
    for (auto _ : state) {
        detseg::decode_boxes(deltas, in.anchors, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    items(state, coder_n);
}
BENCHMARK(BM_decode_boxes_reused)->UseRealTime()->Unit(benchmark::kMicrosecond);

} // namespace
