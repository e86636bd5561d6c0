// Google Benchmark for detseg::aspp<T>: torchvision's DeepLabV3 ASPP (eval) at 2048 channels on
// 33×33 (rates 12/24/36; the case) and 512 channels on 65×65 (rates 6/12/18), float and
// double, and the depthwise-separable variant. Weights are deterministic with non-trivial
// BatchNorm statistics, loaded and folded once outside the timed loop. Threads:
// DETSEG_BENCH_THREADS (default 1). compare/compare_aspp.py times PyTorch in the same run.

#include <detseg/core/named_tensors.hpp>
#include <detseg/seg/aspp.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

namespace {

using detseg::index_t;

const int bench_threads = bench::set_threads_from_env();

template <class T>
detseg::named_tensors<T> weights(const detseg::aspp_config& cfg) {
    detseg::named_tensors<T> sd;
    std::uint64_t s = 12345;
    auto next = [&] {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<double>(s >> 40) / double(1 << 24) - 0.5; // [-0.5, 0.5)
    };
    for (const auto& [key, shape] : detseg::aspp_tensor_shapes(cfg)) {
        index_t n = 1;
        for (index_t e : shape)
            n *= e;
        std::vector<T> v(static_cast<std::size_t>(n));
        const bool var = key.ends_with("running_var"), gamma = key.ends_with(".weight") && shape.size() == 1;
        for (T& x : v)
            x = static_cast<T>(var ? 1.0 + next() : gamma ? 1.0 + 0.5 * next()
                                                        : next() / (shape.size() == 4 ? 20.0 : 4.0));
        sd.insert(key, shape, std::move(v));
    }
    return sd;
}

template <class T>
void bm_aspp(benchmark::State& state, index_t c, index_t hw, std::vector<index_t> rates,
             detseg::aspp_variant variant) {
    const detseg::aspp_config cfg{.in_channels = c, .rates = rates, .variant = variant};
    const detseg::aspp<T> net(cfg, weights<T>(cfg));
    detseg::tensor<T, 3> x({c, hw, hw});
    std::uint64_t s = 7;
    for (T& v : x.flat()) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v = static_cast<T>(static_cast<double>(s >> 40) / double(1 << 24));
    }
    detseg::tensor<T, 3> y({cfg.out_channels, hw, hw});
    for (auto _ : state) {
        net(x, y);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.counters["threads"] = bench_threads;
}

void aspp_2048_33(benchmark::State& s) {
    bm_aspp<float>(s, 2048, 33, {12, 24, 36}, detseg::aspp_variant::standard);
}
void aspp_512_65(benchmark::State& s) {
    bm_aspp<float>(s, 512, 65, {6, 12, 18}, detseg::aspp_variant::standard);
}
void aspp_2048_33_double(benchmark::State& s) {
    bm_aspp<double>(s, 2048, 33, {12, 24, 36}, detseg::aspp_variant::standard);
}
void aspp_separable_2048_33(benchmark::State& s) {
    bm_aspp<float>(s, 2048, 33, {12, 24, 36}, detseg::aspp_variant::separable);
}

} // namespace

BENCHMARK(aspp_2048_33)->Unit(benchmark::kMillisecond);
BENCHMARK(aspp_512_65)->Unit(benchmark::kMillisecond);
BENCHMARK(aspp_2048_33_double)->Unit(benchmark::kMillisecond);
BENCHMARK(aspp_separable_2048_33)->Unit(benchmark::kMillisecond);
