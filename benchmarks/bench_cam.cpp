// Google Benchmark for the CAM toolkit at the sizes of weakly supervised segmentation on VOC:
// the random walk (321×481, radius 5, 21 maps; one step, so ×256 for PSA/IRN's 2^8), the
// transition builds (IRN boundary and PSA features), PAR (ToCo's defaults on a 321×481 image,
// 21 maps, one iteration), compute_cam (2048 channels at 41×61, 20 classes) and the label rules.
//
// Inputs are seeded and portable (bench::portable_rng). Threads: one unless DETSEG_BENCH_THREADS
// gives another count. Real time; items_per_second = pixels (× maps where a map loop dominates).

#include <detseg/core/tensor.hpp>
#include <detseg/seg/cam.hpp>
#include <detseg/seg/cam_labels.hpp>
#include <detseg/seg/par.hpp>
#include <detseg/seg/random_walk.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <cmath>

namespace {

using detseg::index_t;

const int bench_threads = bench::set_threads_from_env();

constexpr index_t H = 321, W = 481, K = 21;

detseg::tensor<float, 3> random_maps(index_t c, index_t h, index_t w, std::uint64_t seed,
                                     double lo = 0, double hi = 1) {
    bench::portable_rng r(seed);
    detseg::tensor<float, 3> t({c, h, w});
    for (auto& v : t.flat())
        v = static_cast<float>(r.uniform(lo, hi));
    return t;
}

detseg::tensor<float, 2> boundary() {
    detseg::tensor<float, 2> b({H, W});
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x)
            b(y, x) = static_cast<float>(0.5 + 0.5 * std::sin(0.05 * x) * std::cos(0.07 * y));
    return b;
}

void BM_random_walk_step(benchmark::State& state) {
    const auto trans = detseg::boundary_transition(boundary());
    const auto maps = random_maps(K, H, W, 1);
    detseg::tensor<float, 3> out(maps.extents());
    const index_t steps = state.range(0);
    for (auto _ : state) {
        detseg::random_walk(trans, maps, out, {.steps = steps});
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * H * W * K * steps); // pixel-maps per second
}
BENCHMARK(BM_random_walk_step)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_boundary_transition(benchmark::State& state) {
    const auto b = boundary();
    for (auto _ : state) {
        auto t = detseg::boundary_transition(b);
        benchmark::DoNotOptimize(&t);
    }
    state.SetItemsProcessed(state.iterations() * H * W);
}
BENCHMARK(BM_boundary_transition)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_psa_transition(benchmark::State& state) {
    const auto f = random_maps(state.range(0), H / 8 + 1, W / 8 + 1, 2);
    for (auto _ : state) {
        auto t = detseg::psa_transition(f, {.distance = detseg::feature_distance::l1_mean});
        benchmark::DoNotOptimize(&t);
    }
    state.SetItemsProcessed(state.iterations() * (H / 8 + 1) * (W / 8 + 1));
}
BENCHMARK(BM_psa_transition)->Arg(448)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_par_refine(benchmark::State& state) {
    const auto img = random_maps(3, H, W, 3, 0, 255);
    const auto m = random_maps(K, H, W, 4);
    detseg::tensor<float, 3> out(m.extents());
    for (auto _ : state) {
        detseg::par_refine(img, m, out, {.iterations = state.range(0)});
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * H * W);
}
BENCHMARK(BM_par_refine)->Arg(1)->Arg(10)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_compute_cam(benchmark::State& state) {
    const auto f = random_maps(2048, 41, 61, 5, -1, 1);
    const auto w3 = random_maps(1, 20, 2048, 6, -0.05, 0.05);
    const auto w = detseg::make_view(w3.data(), {20, 2048});
    detseg::tensor<float, 3> out({20, 41, 61});
    for (auto _ : state) {
        detseg::compute_cam(f, w, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * 41 * 61 * 20);
}
BENCHMARK(BM_compute_cam)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_cam_to_dual_labels(benchmark::State& state) {
    const auto cam = random_maps(20, H, W, 7);
    detseg::tensor<std::uint8_t, 2> out({H, W});
    for (auto _ : state) {
        detseg::cam_to_dual_labels(cam, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * H * W);
}
BENCHMARK(BM_cam_to_dual_labels)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
