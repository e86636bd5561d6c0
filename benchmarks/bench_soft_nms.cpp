// Google Benchmark for soft_nms alone: the public function (block store from 96 boxes on) against
// the linear O(N^2) loop it replaces (detail::soft_nms_run with the block store turned off), for
// both decay methods, over N. The results of the two paths are identical (tested in
// tests/detect/soft_nms_large.test.cpp); this measures what the block store buys.
//
// Boxes: detector-like and seeded, jittered around 40 objects in a 1333×800 image, 15% anywhere,
// rounded to integers (the inputs on which soft_nms matches cv2.dnn.softNMSBoxes), with scores
// Beta(2, 2) near objects and Beta(1, 6) elsewhere, as bench_detect.cpp. Every benchmark reports
// real time, items_per_second = input boxes/s and the counter `picks`.

#include <detseg/detect/soft_nms.hpp>

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

using detseg::index_t;

struct detections {
    std::vector<float> boxes;  // 4n, xyxy, integer-valued
    std::vector<float> scores; // n
};

detections make_detections(index_t n) {
    std::mt19937_64 engine(7);
    const auto uniform = [&](double lo, double hi) {
        return lo + (hi - lo) * static_cast<double>(engine() >> 11) * 0x1.0p-53;
    };
    const auto normal = [&](double sigma) {
        const double u1 = uniform(0x1.0p-53, 1.0), u2 = uniform(0.0, 1.0);
        return sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    };
    const auto beta = [&](int a, int b) { // the a-th smallest of a + b - 1 uniforms
        std::array<double, 8> u{};
        const auto k = static_cast<std::size_t>(a + b - 1);
        for (std::size_t i = 0; i < k; ++i)
            u[i] = uniform(0.0, 1.0);
        std::sort(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(k));
        return u[static_cast<std::size_t>(a - 1)];
    };
    constexpr double image_w = 1333.0, image_h = 800.0;
    std::vector<std::array<double, 4>> objects;
    for (int k = 0; k < 40; ++k) {
        const double w =
            std::min(std::exp(uniform(std::log(16.0), std::log(480.0))), 0.95 * image_w);
        const double h = std::min(w * std::exp(normal(0.5)), 0.95 * image_h);
        const double x1 = uniform(0.0, image_w - w), y1 = uniform(0.0, image_h - h);
        objects.push_back({x1, y1, w, h});
    }
    detections d;
    for (index_t i = 0; i < n; ++i) {
        double cx, cy, w, h, score;
        if (uniform(0.0, 1.0) < 0.15) {
            w = std::exp(uniform(std::log(8.0), std::log(600.0)));
            h = std::min(w * std::exp(normal(0.5)), image_h);
            cx = uniform(0.0, image_w);
            cy = uniform(0.0, image_h);
            score = beta(1, 6);
        } else {
            const auto& o =
                objects[std::min<std::size_t>(39, static_cast<std::size_t>(uniform(0, 40)))];
            cx = o[0] + 0.5 * o[2] + o[2] * normal(0.15);
            cy = o[1] + 0.5 * o[3] + o[3] * normal(0.15);
            w = o[2] * std::exp(normal(0.25));
            h = o[3] * std::exp(normal(0.25));
            score = beta(2, 2);
        }
        for (double v :
             {std::clamp(cx - 0.5 * w, 0.0, image_w), std::clamp(cy - 0.5 * h, 0.0, image_h),
              std::clamp(cx + 0.5 * w, 0.0, image_w), std::clamp(cy + 0.5 * h, 0.0, image_h)})
            d.boxes.push_back(static_cast<float>(std::round(v)));
        d.scores.push_back(static_cast<float>(score));
    }
    return d;
}

const detections& cached(index_t n) {
    static std::map<index_t, detections> cache;
    auto& d = cache[n];
    if (d.scores.empty())
        d = make_detections(n);
    return d;
}

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
        auto r = detseg::soft_nms(d.boxes, d.scores, params);
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
        detseg::detail::to_boxes(d.boxes, detseg::box_format::xyxy, "bench", "boxes");
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
