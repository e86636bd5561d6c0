// Google Benchmark for the dense CRF (issue 5's speed case): 513×513, 21 labels, 10 mean-field
// iterations, the README and DeepLab v2 ResNet-101 presets, on 1 and 2 threads.
//
// BM_crf_total  a whole refinement: the CRF, its unary from probabilities, both lattices
//               (build), 10 iterations and Q written to a caller's L×H×W buffer;
// BM_crf_build  the part before the iterations (unary + the two kernels), for comparison with
//               pydensecrf's "lattice build" figure.
// Counters: lattice points of the two kernels, and the process's peak resident memory.
//
// Input (seeded, portable: bench::portable_rng): a scene of 24 random ellipses over a background,
// each region one of the 21 labels and one colour, image = colour + N(0, 8²) noise; the
// probabilities are a softmax of stride-8 logits (+3 for the region's label at the cell's centre,
// N(0, 1.5²) noise on every label), as a coarse network output upsampled by nearest neighbour.
// Wall time (UseRealTime); with 2 threads the process CPU time is measured too.

#include <detseg/core/tensor.hpp>
#include <detseg/seg/crf_presets.hpp>
#include <detseg/seg/dense_crf.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <sys/resource.h>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using detseg::index_t;

constexpr index_t H = 513, W = 513, L = 21;

struct scene {
    detseg::tensor<std::uint8_t, 3> image{{H, W, 3}};
    detseg::tensor<float, 3> prob{{L, H, W}};
};

const scene& make_scene() {
    static const scene s = [] {
        scene sc;
        bench::portable_rng rng(2026);
        struct ellipse {
            double cy, cx, ry, rx;
            int label;
            double rgb[3];
        };
        std::vector<ellipse> es;
        for (int k = 0; k < 24; ++k) {
            ellipse e{rng.uniform(0, H), rng.uniform(0, W), rng.uniform(20, 120),
                      rng.uniform(20, 120), 1 + static_cast<int>(rng.uniform(0, L - 1)), {}};
            for (double& c : e.rgb)
                c = rng.uniform(30, 225);
            es.push_back(e);
        }
        std::vector<int> label(static_cast<std::size_t>(H * W), 0);
        for (index_t y = 0; y < H; ++y)
            for (index_t x = 0; x < W; ++x) {
                double rgb[3] = {110, 120, 100};
                for (const auto& e : es) {
                    const double dy = (y - e.cy) / e.ry, dx = (x - e.cx) / e.rx;
                    if (dy * dy + dx * dx <= 1) {
                        label[static_cast<std::size_t>(y * W + x)] = e.label;
                        std::copy(e.rgb, e.rgb + 3, rgb);
                    }
                }
                for (index_t c = 0; c < 3; ++c)
                    sc.image(y, x, c) = static_cast<std::uint8_t>(
                        std::clamp(std::lround(rgb[c] + rng.normal(8.0)), 0L, 255L));
            }
        const index_t stride = 8, gh = (H + stride - 1) / stride, gw = (W + stride - 1) / stride;
        std::vector<float> logits(static_cast<std::size_t>(gh * gw * L));
        for (index_t gy = 0; gy < gh; ++gy)
            for (index_t gx = 0; gx < gw; ++gx) {
                const index_t cy = std::min(H - 1, gy * stride + stride / 2);
                const index_t cx = std::min(W - 1, gx * stride + stride / 2);
                const int truth = label[static_cast<std::size_t>(cy * W + cx)];
                for (index_t l = 0; l < L; ++l)
                    logits[static_cast<std::size_t>((gy * gw + gx) * L + l)] =
                        static_cast<float>((l == truth ? 3.0 : 0.0) + rng.normal(1.5));
            }
        for (index_t y = 0; y < H; ++y)
            for (index_t x = 0; x < W; ++x) {
                const float* z = logits.data() + ((y / stride) * gw + x / stride) * L;
                const float m = *std::max_element(z, z + L);
                float sum = 0;
                for (index_t l = 0; l < L; ++l)
                    sum += std::exp(z[l] - m);
                for (index_t l = 0; l < L; ++l)
                    sc.prob(l, y, x) = std::exp(z[l] - m) / sum;
            }
        return sc;
    }();
    return s;
}

detseg::crf_preset preset_of(int k) {
    return k == 0 ? detseg::crf_preset::readme() : detseg::crf_preset::deeplab_v2_resnet101();
}

void set_threads(int threads) {
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
}

double peak_rss_mb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0; // KiB on Linux
}

void add_counters(benchmark::State& state, const std::vector<index_t>& points) {
    state.counters["lattice_pts_gauss"] = static_cast<double>(points.at(0));
    state.counters["lattice_pts_bilateral"] = static_cast<double>(points.at(1));
    state.counters["peak_rss_MB"] = peak_rss_mb();
}

void BM_crf_total(benchmark::State& state) {
    const auto& sc = make_scene();
    const auto preset = preset_of(static_cast<int>(state.range(0)));
    set_threads(static_cast<int>(state.range(1)));
    detseg::tensor<float, 3> q({L, H, W});
    std::vector<index_t> points;
    for (auto _ : state) {
        detseg::dense_crf<float> crf(H, W, L);
        crf.set_unary_from_prob(sc.prob);
        detseg::add_crf_preset(crf, preset, sc.image);
        crf.inference(10, q.view());
        points = crf.lattice_points();
        benchmark::DoNotOptimize(q.data());
    }
    add_counters(state, points);
    set_threads(1);
}

void BM_crf_build(benchmark::State& state) {
    const auto& sc = make_scene();
    const auto preset = preset_of(static_cast<int>(state.range(0)));
    set_threads(static_cast<int>(state.range(1)));
    std::vector<index_t> points;
    for (auto _ : state) {
        detseg::dense_crf<float> crf(H, W, L);
        crf.set_unary_from_prob(sc.prob);
        detseg::add_crf_preset(crf, preset, sc.image);
        points = crf.lattice_points();
        benchmark::DoNotOptimize(points.data());
    }
    add_counters(state, points);
    set_threads(1);
}

void args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"preset", "threads"});
    for (int preset : {0, 1})
        for (int threads : {1, 2})
            b->Args({preset, threads});
    b->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
}

} // namespace

BENCHMARK(BM_crf_total)->Apply(args);
BENCHMARK(BM_crf_build)->Apply(args);
