// Google Benchmark for detseg::conv2d: the convolutions of a DeepLabV3 ASPP on a 2048-channel
// 33×33 map (1×1 and dilated 3×3, 256 outputs), a 512-channel 65×65 map, a plain 3×3 and a
// depthwise layer; float and double; and the GEMM kernel choice (AVX-512, AVX2+FMA, portable).
//
// Counters: GFLOP/s = 2·O·(C/groups)·(live taps·positions) per second, counting only the
// multiply-adds of taps that read the input (the work conv2d does); GFLOP/s_all counts all
// kH·kW taps, as a convolution that computes the padding would. Threads: DETSEG_BENCH_THREADS
// (default 1). Inputs are deterministic (a simple LCG), weights scaled by 1/sqrt(fan-in).

#include <detseg/dense/conv2d.hpp>
#include <detseg/dense/detail/conv_geometry.hpp>
#include <detseg/dense/detail/gemm_cpu.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

using detseg::index_t;
using detseg::detail::gemm_isa;

const int bench_threads = bench::set_threads_from_env();

template <class T>
void fill(detseg::tensor<T, 4>& t, std::uint64_t seed, double scale) {
    std::uint64_t s = seed;
    for (T& v : t.flat()) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v = static_cast<T>((static_cast<double>(s >> 40) / double(1 << 24) - 0.5) * 2 * scale);
    }
}

// (C, H, W, O, k, dilation, groups)
template <class T>
void bm_conv(benchmark::State& state, index_t c, index_t h, index_t w, index_t o, index_t k,
             index_t dil, index_t groups, gemm_isa isa) {
    detseg::detail::gemm_isa_limit(isa);
    detseg::tensor<T, 4> x({1, c, h, w}), wt({o, c / groups, k, k});
    fill(x, 1, 1.0);
    fill(wt, 2, 1.0 / std::sqrt(double(c / groups * k * k)));
    const detseg::conv2d_params p{.padding = {dil * (k / 2), dil * (k / 2)},
                                  .dilation = {dil, dil}, .groups = groups};
    detseg::tensor<T, 4> y({1, o, h, w});
    for (auto _ : state) {
        detseg::conv2d(x, wt, y, p);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    detseg::detail::gemm_isa_limit(gemm_isa::avx512);
    detseg::detail::conv_geometry g;
    g.h = h;
    g.w = w;
    g.kh = g.kw = k;
    g.ph = g.pw = p.padding[0];
    g.dh = g.dw = dil;
    g.finish();
    double live = 0;
    for (const auto& t : detseg::detail::conv_taps(g))
        live += double(t.oy1 - t.oy0) * double(t.ox1 - t.ox0);
    const double per = 2.0 * double(o) * double(c / groups);
    state.counters["GFLOP/s"] = benchmark::Counter(per * live * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.counters["GFLOP/s_all"] = benchmark::Counter(
        per * double(h * w * k * k) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["threads"] = bench_threads;
}

void aspp_2048(benchmark::State& s, gemm_isa isa, index_t k, index_t r) {
    bm_conv<float>(s, 2048, 33, 33, 256, k, r, 1, isa);
}

void conv_512_65_rate12(benchmark::State& s) {
    bm_conv<float>(s, 512, 65, 65, 256, 3, 12, 1, gemm_isa::avx512);
}
void conv_2048_33_1x1_double(benchmark::State& s) {
    bm_conv<double>(s, 2048, 33, 33, 256, 1, 1, 1, gemm_isa::avx512);
}
void conv_256_56_3x3(benchmark::State& s) {
    bm_conv<float>(s, 256, 56, 56, 256, 3, 1, 1, gemm_isa::avx512);
}
void conv_depthwise_2048_33_rate12(benchmark::State& s) {
    bm_conv<float>(s, 2048, 33, 33, 2048, 3, 12, 2048, gemm_isa::avx512);
}

} // namespace

BENCHMARK_CAPTURE(aspp_2048, 1x1_avx512, gemm_isa::avx512, 1, 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(aspp_2048, 3x3_rate12_avx512, gemm_isa::avx512, 3, 12)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(aspp_2048, 3x3_rate24_avx512, gemm_isa::avx512, 3, 24)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(aspp_2048, 3x3_rate36_avx512, gemm_isa::avx512, 3, 36)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(aspp_2048, 1x1_avx2, gemm_isa::avx2, 1, 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(aspp_2048, 1x1_portable, gemm_isa::portable, 1, 1)->Unit(benchmark::kMillisecond);
BENCHMARK(conv_512_65_rate12)->Unit(benchmark::kMillisecond);
BENCHMARK(conv_2048_33_1x1_double)->Unit(benchmark::kMillisecond);
BENCHMARK(conv_256_56_3x3)->Unit(benchmark::kMillisecond);
BENCHMARK(conv_depthwise_2048_33_rate12)->Unit(benchmark::kMillisecond);
