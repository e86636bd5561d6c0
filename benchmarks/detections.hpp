// Helpers shared by the Google Benchmark programs (not part of the library): the thread count
// from DETSEG_BENCH_THREADS, and seeded, portable detector-like data.
//
// portable_rng: the same numbers on every platform (mt19937_64 and explicit transforms, no
// std::*_distribution). make_detections: boxes jittered around 40 objects in a 1333×800 image,
// 15% anywhere, every 1000th a zero-size point, clipped; scores higher near objects
// (Beta(2, 2)) than for background boxes (Beta(1, 6)); labels follow the object's class (80
// classes) for 80% of the boxes and are random otherwise; the boxes also rounded to integers
// (the inputs on which soft_nms matches OpenCV).
#ifndef DETSEG_BENCHMARKS_DETECTIONS_HPP
#define DETSEG_BENCHMARKS_DETECTIONS_HPP

#include <detseg/config.hpp>
#include <detseg/core/parallel.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace bench {

using detseg::index_t;

/// Sets the OpenMP thread count of a benchmark program: DETSEG_BENCH_THREADS, else 1; records
/// the count in the benchmark context. Returns it.
inline int set_threads_from_env() {
    int threads = 1;
    if (const char* env = std::getenv("DETSEG_BENCH_THREADS"))
        threads = std::max(1, std::atoi(env));
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(threads);
#endif
    benchmark::AddCustomContext("detseg_threads", std::to_string(detseg::max_threads()));
    return threads;
}

constexpr double image_w = 1333.0;
constexpr double image_h = 800.0;
constexpr int classes = 80;

class portable_rng {
public:
    explicit portable_rng(std::uint64_t seed) : engine_(seed) {}

    double uniform(double lo, double hi) {
        return lo + (hi - lo) * static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    }
    double normal(double sigma) {
        const double u1 = uniform(0x1.0p-53, 1.0), u2 = uniform(0.0, 1.0);
        return sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    // Beta(a, b) for integer a, b, as the a-th smallest of a + b - 1 uniforms.
    double beta(int a, int b) {
        std::array<double, 8> u{};
        const auto k = static_cast<std::size_t>(a + b - 1);
        for (std::size_t i = 0; i < k; ++i)
            u[i] = uniform(0.0, 1.0);
        std::sort(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(k));
        return u[static_cast<std::size_t>(a - 1)];
    }
    std::size_t index(std::size_t n) {
        return std::min(n - 1, static_cast<std::size_t>(uniform(0.0, static_cast<double>(n))));
    }

private:
    std::mt19937_64 engine_;
};

struct detections {
    std::vector<float> boxes;         // 4n, xyxy row-major
    std::vector<float> integer_boxes; // the same, rounded to integers
    std::vector<float> scores;        // n
    std::vector<std::int32_t> labels; // n, in [0, classes)
};

detections make_detections(index_t n, std::uint64_t seed) {
    portable_rng object_rng(2024);
    std::vector<std::array<double, 4>> objects;
    std::vector<std::int32_t> object_label;
    for (int k = 0; k < 40; ++k) {
        const double w =
            std::min(std::exp(object_rng.uniform(std::log(16.0), std::log(480.0))), 0.95 * image_w);
        const double h = std::min(w * std::exp(object_rng.normal(0.5)), 0.95 * image_h);
        const double x1 = object_rng.uniform(0.0, image_w - w);
        const double y1 = object_rng.uniform(0.0, image_h - h);
        objects.push_back({x1, y1, x1 + w, y1 + h});
        object_label.push_back(static_cast<std::int32_t>(object_rng.index(classes)));
    }
    portable_rng rng(seed);
    detections d;
    d.boxes.reserve(static_cast<std::size_t>(4 * n));
    for (index_t i = 0; i < n; ++i) {
        double cx, cy, w, h, score;
        std::int32_t label;
        if (rng.uniform(0.0, 1.0) < 0.15) {
            w = std::exp(rng.uniform(std::log(8.0), std::log(600.0)));
            h = std::min(w * std::exp(rng.normal(0.5)), image_h);
            cx = rng.uniform(0.0, image_w);
            cy = rng.uniform(0.0, image_h);
            score = rng.beta(1, 6);
            label = static_cast<std::int32_t>(rng.index(classes));
        } else {
            const std::size_t k = rng.index(objects.size());
            const auto& o = objects[k];
            const double ow = o[2] - o[0], oh = o[3] - o[1];
            cx = 0.5 * (o[0] + o[2]) + ow * rng.normal(0.15);
            cy = 0.5 * (o[1] + o[3]) + oh * rng.normal(0.15);
            w = ow * std::exp(rng.normal(0.25));
            h = oh * std::exp(rng.normal(0.25));
            score = rng.beta(2, 2);
            label = rng.uniform(0.0, 1.0) < 0.8 ? object_label[k]
                                                : static_cast<std::int32_t>(rng.index(classes));
        }
        const double x1 = std::clamp(cx - 0.5 * w, 0.0, image_w);
        const double y1 = std::clamp(cy - 0.5 * h, 0.0, image_h);
        const bool point = i % 1000 == 500;
        const double x2 = point ? x1 : std::clamp(cx + 0.5 * w, 0.0, image_w);
        const double y2 = point ? y1 : std::clamp(cy + 0.5 * h, 0.0, image_h);
        for (double v : {x1, y1, x2, y2}) {
            d.boxes.push_back(static_cast<float>(v));
            d.integer_boxes.push_back(static_cast<float>(std::round(v)));
        }
        d.scores.push_back(static_cast<float>(score));
        d.labels.push_back(label);
    }
    return d;
}

const detections& cached(index_t n) {
    static std::map<index_t, detections> cache;
    auto& d = cache[n];
    if (d.scores.empty())
        d = make_detections(n, 7);
    return d;
}

} // namespace bench

#endif
