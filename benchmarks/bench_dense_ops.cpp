// Google Benchmark for the small dense operations, float, on shapes of a DeepLab-style head:
//   - resize_bilinear: 21×65×65 → 513×513 (logits to the image, align_corners false and true),
//     256×33×33 → 129×129 (decoder upsampling);
//   - batch_norm and relu on 256×65×65, relu in place;
//   - global_avg_pool on 2048×33×33 (ASPP's image pooling) and on one 1489×1489 plane;
//   - max_pool2d 3×3 stride 2 padding 1 on 64×112×112 (ResNet's stem);
//   - concat_channels of five 256×33×33 maps (ASPP's branches).
// Every benchmark writes into a reused output and reports items_per_second = output elements
// per second (input elements for global_avg_pool). Inputs: a fixed std::mt19937 stream.
// Threads: one unless DETSEG_BENCH_THREADS gives another count.

#include <detseg/core/tensor.hpp>
#include <detseg/dense/activation.hpp>
#include <detseg/dense/batch_norm.hpp>
#include <detseg/dense/concat.hpp>
#include <detseg/dense/pooling.hpp>
#include <detseg/dense/resize.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using detseg::index_t;

const int bench_threads = bench::set_threads_from_env();

template <std::size_t R>
detseg::tensor<float, R> random_tensor(const std::array<index_t, R>& e, std::uint32_t seed) {
    detseg::tensor<float, R> t(e);
    std::mt19937 rng(seed);
    for (auto& x : t.flat())
        x = static_cast<float>(rng() >> 8) * 0x1p-24f * 4.0f - 2.0f;
    return t;
}

void BM_resize(benchmark::State& state) {
    const index_t c = state.range(0), h = state.range(1), oh = state.range(2);
    const bool align = state.range(3) != 0;
    const auto x = random_tensor<3>({c, h, h}, 1);
    detseg::tensor<float, 3> out({c, oh, oh});
    for (auto _ : state) {
        detseg::resize_bilinear(x, out, {.align_corners = align});
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_resize)
    ->ArgNames({"C", "H", "out", "align"})
    ->Args({21, 65, 513, 0})
    ->Args({21, 65, 513, 1})
    ->Args({256, 33, 129, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_batch_norm(benchmark::State& state) {
    const index_t c = 256, h = 65;
    const auto x = random_tensor<3>({c, h, h}, 2);
    const auto g = random_tensor<1>({c}, 3), b = random_tensor<1>({c}, 4);
    const auto m = random_tensor<1>({c}, 5);
    auto v = random_tensor<1>({c}, 6);
    for (auto& e : v.flat())
        e = e * e;
    const detseg::batch_norm_params<float> bn{g.view(), b.view(), m.view(), v.view()};
    detseg::tensor<float, 3> out(x.extents());
    for (auto _ : state) {
        detseg::batch_norm(x, bn, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_batch_norm)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_relu(benchmark::State& state) {
    const auto x = random_tensor<3>({256, 65, 65}, 7);
    detseg::tensor<float, 3> out(x.extents());
    for (auto _ : state) {
        detseg::relu(x, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_relu)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_relu_inplace(benchmark::State& state) {
    auto x = random_tensor<3>({256, 65, 65}, 7);
    for (auto _ : state) {
        detseg::relu_inplace(x);
        benchmark::DoNotOptimize(x.data());
    }
    state.SetItemsProcessed(state.iterations() * x.size());
}
BENCHMARK(BM_relu_inplace)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_global_avg_pool(benchmark::State& state) {
    const index_t c = state.range(0), h = state.range(1);
    const auto x = random_tensor<3>({c, h, h}, 8);
    detseg::tensor<float, 1> out({c});
    for (auto _ : state) {
        detseg::global_avg_pool(x, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * x.size());
}
BENCHMARK(BM_global_avg_pool)
    ->ArgNames({"C", "H"})
    ->Args({2048, 33})
    ->Args({1, 1489})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_max_pool2d(benchmark::State& state) {
    const auto x = random_tensor<3>({64, 112, 112}, 9);
    const detseg::max_pool2d_params p{.kernel = {3, 3},
                                      .stride = std::array<index_t, 2>{2, 2},
                                      .padding = {1, 1}};
    detseg::tensor<float, 3> out({64, 56, 56});
    for (auto _ : state) {
        detseg::max_pool2d(x, out, p);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_max_pool2d)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_concat(benchmark::State& state) {
    std::vector<detseg::tensor<float, 3>> maps;
    for (std::uint32_t i = 0; i < 5; ++i)
        maps.push_back(random_tensor<3>({256, 33, 33}, 10 + i));
    detseg::tensor<float, 3> out({1280, 33, 33});
    for (auto _ : state) {
        detseg::concat_channels(maps, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_concat)->Unit(benchmark::kMicrosecond)->UseRealTime();

} // namespace
