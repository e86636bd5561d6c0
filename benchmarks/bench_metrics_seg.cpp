// Google Benchmark for the segmentation metrics: confusion_matrix::update on 1024×2048 label maps
// (the case: uint8, 19 classes, ignore 255), by map kind, class count, label type and
// layout; and compute_seg_metrics.
//
// Maps are seeded and portable (std::mt19937_64, no <random> distributions):
//   scene    piecewise-constant regions (nearest of 60 random seeds, drawn at 256×512 and
//            upsampled ×4), void (255) on region borders; the prediction's seeds are moved and 10%
//            of its regions relabelled (the compare_miou.py 'scene' model);
//   uniform  i.i.d. labels (gt 10% ignore), the worst case for the run-aware path.
//
// Threads: with OpenMP every benchmark runs on one thread unless DETSEG_BENCH_THREADS gives
// another count. Real time; items_per_second = pixels/s, bytes_per_second = bytes of the two
// maps read per second.

#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
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

constexpr index_t height = 1024, width = 2048, low = 4;

const int bench_threads = bench::set_threads_from_env();

// uniform in [0, 1) and an index below n, from the shared portable generator.
struct portable_rng {
    explicit portable_rng(std::uint64_t seed) : rng(seed) {}
    double uniform() { return rng.uniform(0.0, 1.0); }
    int below(int n) { return static_cast<int>(rng.index(static_cast<std::size_t>(n))); }
    bench::portable_rng rng;
};

struct label_pair {
    std::vector<std::uint8_t> gt, pred;
};

/// Nearest-seed map at (height/low)×(width/low), upsampled ×low.
std::vector<int> regions(const std::vector<double>& ys, const std::vector<double>& xs,
                         const std::vector<int>& labels) {
    const index_t h = height / low, w = width / low;
    std::vector<int> lo(static_cast<std::size_t>(h * w));
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x) {
            double best = 1e300;
            for (std::size_t s = 0; s < ys.size(); ++s) {
                const double d = (y - ys[s]) * (y - ys[s]) + (x - xs[s]) * (x - xs[s]);
                if (d < best) {
                    best = d;
                    lo[static_cast<std::size_t>(y * w + x)] = labels[s];
                }
            }
        }
    return lo;
}

label_pair make_maps(bool scene, int classes, std::uint64_t seed) {
    portable_rng rng(seed);
    label_pair m;
    const auto n = static_cast<std::size_t>(height * width);
    m.gt.resize(n);
    m.pred.resize(n);
    if (!scene) {
        for (std::size_t i = 0; i < n; ++i) {
            m.gt[i] = rng.uniform() < 0.1 ? 255 : static_cast<std::uint8_t>(rng.below(classes));
            m.pred[i] = static_cast<std::uint8_t>(rng.below(classes));
        }
        return m;
    }
    const int seeds = 60;
    const index_t h = height / low, w = width / low;
    std::vector<double> ys(seeds), xs(seeds), yp(seeds), xp(seeds);
    std::vector<int> lab(seeds), lab_p(seeds);
    for (int s = 0; s < seeds; ++s) {
        ys[std::size_t(s)] = rng.uniform() * h;
        xs[std::size_t(s)] = rng.uniform() * w;
        yp[std::size_t(s)] = ys[std::size_t(s)] + 8 * (rng.uniform() - 0.5);
        xp[std::size_t(s)] = xs[std::size_t(s)] + 8 * (rng.uniform() - 0.5);
        lab[std::size_t(s)] = rng.below(classes);
        lab_p[std::size_t(s)] = rng.uniform() < 0.1 ? rng.below(classes) : lab[std::size_t(s)];
    }
    const auto g = regions(ys, xs, lab), p = regions(yp, xp, lab_p);
    for (index_t y = 0; y < height; ++y)
        for (index_t x = 0; x < width; ++x) {
            const index_t ly = y / low, lx = x / low;
            const int v = g[std::size_t(ly * w + lx)];
            const bool border = (lx > 0 && g[std::size_t(ly * w + lx - 1)] != v) ||
                                (ly > 0 && g[std::size_t((ly - 1) * w + lx)] != v);
            m.gt[std::size_t(y * width + x)] = border ? 255 : static_cast<std::uint8_t>(v);
            m.pred[std::size_t(y * width + x)] =
                static_cast<std::uint8_t>(p[std::size_t(ly * w + lx)]);
        }
    return m;
}

const label_pair& maps(bool scene, int classes) {
    static const label_pair scene19 = make_maps(true, 19, 1), uniform19 = make_maps(false, 19, 2),
                            scene150 = make_maps(true, 150, 3);
    if (!scene)
        return uniform19;
    return classes == 19 ? scene19 : scene150;
}

void report(benchmark::State& state, std::size_t bytes_per_pixel) {
    const auto pixels = static_cast<std::int64_t>(height * width);
    state.SetItemsProcessed(state.iterations() * pixels);
    state.SetBytesProcessed(state.iterations() * pixels *
                            static_cast<std::int64_t>(2 * bytes_per_pixel));
    state.SetLabel("threads=" + std::to_string(bench_threads));
}

/// uint8 maps as raw-pointer views: the case.
void BM_update_uint8(benchmark::State& state, bool scene, int classes) {
    const auto& m = maps(scene, classes);
    const auto g = detseg::make_view(m.gt.data(), {height, width});
    const auto p = detseg::make_view(m.pred.data(), {height, width});
    detseg::confusion_matrix cm(classes);
    for (auto _ : state) {
        cm.update(g, p);
        benchmark::DoNotOptimize(&cm);
    }
    report(state, 1);
}

/// The same maps widened to int32 or int64 (no lookup table, no run-aware path).
template <class T>
void BM_update_wide(benchmark::State& state) {
    const auto& m = maps(true, 19);
    const std::vector<T> g(m.gt.begin(), m.gt.end()), p(m.pred.begin(), m.pred.end());
    detseg::confusion_matrix cm(19);
    for (auto _ : state) {
        cm.update(detseg::make_view(g.data(), {height, width}),
                  detseg::make_view(p.data(), {height, width}));
        benchmark::DoNotOptimize(&cm);
    }
    report(state, sizeof(T));
}

/// A 1000×2000 crop with row padding: the run-aware path row by row.
void BM_update_uint8_crop(benchmark::State& state) {
    const auto& m = maps(true, 19);
    const auto g = detseg::make_view(m.gt.data() + 8 * width + 16, {height - 24, width - 48},
                                     {width, index_t{1}});
    const auto p = detseg::make_view(m.pred.data() + 8 * width + 16, {height - 24, width - 48},
                                     {width, index_t{1}});
    detseg::confusion_matrix cm(19);
    for (auto _ : state) {
        cm.update(g, p);
        benchmark::DoNotOptimize(&cm);
    }
    report(state, 1);
}

/// The mIoU family from a filled 19- and 150-class matrix.
void BM_compute_seg_metrics(benchmark::State& state, int classes) {
    const auto& m = maps(true, classes);
    detseg::confusion_matrix cm(classes);
    cm.update(m.gt, m.pred);
    for (auto _ : state) {
        auto r = detseg::compute_seg_metrics(cm);
        benchmark::DoNotOptimize(r.miou);
    }
}

} // namespace

BENCHMARK_CAPTURE(BM_update_uint8, scene_c19, true, 19)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_update_uint8, uniform_c19, false, 19)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_update_uint8, scene_c150, true, 150)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_update_uint8_crop)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_update_wide<std::int32_t>)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_update_wide<std::int64_t>)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_compute_seg_metrics, c19, 19)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_compute_seg_metrics, c150, 150)->Unit(benchmark::kMicrosecond);
