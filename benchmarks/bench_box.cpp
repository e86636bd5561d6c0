// Google Benchmark for the box/IoU module: pairwise IoU (and GIoU, DIoU, CIoU) on detector-like
// boxes, float and double, and the same 10k×1k float IoU through each input/output kind.
//
// Boxes are seeded and portable: boxes jittered around 40 objects in a 1333×800 image, 15% (first
// operand) or 5% (second) anywhere, every 1000th a zero-size point, clipped (see make_boxes).
//
// Threads: with OpenMP every benchmark runs on one thread unless the environment variable
// DETSEG_BENCH_THREADS gives another count; BM_iou_threads runs with the thread count in its
// name. Every benchmark reports real time, items_per_second = pairs/s, bytes_per_second =
// bytes of output written per second, and out_bytes = bytes of one output matrix.

#include <detseg/backend/eigen.hpp>
#include <detseg/backend/xtensor.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>

#include "detections.hpp"

#include <Eigen/Core>
#include <benchmark/benchmark.h>
#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using detseg::index_t;

constexpr double image_w = 1333.0;
constexpr double image_h = 800.0;

using bench::portable_rng;

std::vector<std::array<double, 4>> make_objects(portable_rng& rng, int count) {
    std::vector<std::array<double, 4>> objects;
    for (int k = 0; k < count; ++k) {
        const double w =
            std::min(std::exp(rng.uniform(std::log(16.0), std::log(480.0))), 0.95 * image_w);
        const double h = std::min(w * std::exp(rng.normal(0.5)), 0.95 * image_h);
        const double x1 = rng.uniform(0.0, image_w - w), y1 = rng.uniform(0.0, image_h - h);
        objects.push_back({x1, y1, x1 + w, y1 + h});
    }
    return objects;
}

/// n boxes as 4n numbers (xyxy, row-major), a fraction `background` of them anywhere; the same
/// objects for every seed.
template <class T>
std::vector<T> make_boxes(index_t n, std::uint64_t seed, double background) {
    portable_rng object_rng(2024);
    const auto objects = make_objects(object_rng, 40);
    portable_rng rng(seed);
    std::vector<T> flat;
    flat.reserve(static_cast<std::size_t>(4 * n));
    for (index_t i = 0; i < n; ++i) {
        double cx, cy, w, h;
        if (rng.uniform(0.0, 1.0) < background) {
            w = std::exp(rng.uniform(std::log(8.0), std::log(600.0)));
            h = std::min(w * std::exp(rng.normal(0.5)), image_h);
            cx = rng.uniform(0.0, image_w);
            cy = rng.uniform(0.0, image_h);
        } else {
            const auto& o = objects[rng.index(objects.size())];
            const double ow = o[2] - o[0], oh = o[3] - o[1];
            cx = 0.5 * (o[0] + o[2]) + ow * rng.normal(0.15);
            cy = 0.5 * (o[1] + o[3]) + oh * rng.normal(0.15);
            w = ow * std::exp(rng.normal(0.25));
            h = oh * std::exp(rng.normal(0.25));
        }
        const double x1 = std::clamp(cx - 0.5 * w, 0.0, image_w);
        const double y1 = std::clamp(cy - 0.5 * h, 0.0, image_h);
        const bool point = i % 1000 == 500;
        const double x2 = point ? x1 : std::clamp(cx + 0.5 * w, 0.0, image_w);
        const double y2 = point ? y1 : std::clamp(cy + 0.5 * h, 0.0, image_h);
        for (double v : {x1, y1, x2, y2})
            flat.push_back(static_cast<T>(v));
    }
    return flat;
}

/// Cached box sets: the first operand (detections) and the second (ground truth / anchors).
template <class T>
const std::vector<T>& boxes(index_t n, bool second) {
    static std::map<std::pair<index_t, bool>, std::vector<T>> cache;
    auto& v = cache[{n, second}];
    if (v.empty())
        v = second ? make_boxes<T>(n, 2, 0.05) : make_boxes<T>(n, 1, 0.15);
    return v;
}

template <class T>
auto raw_boxes(index_t n, bool second) {
    return detseg::make_view(boxes<T>(n, second).data(), {n, index_t{4}});
}

std::string thread_label() {
    return "omp threads: " + std::to_string(detseg::max_threads());
}

template <class T>
void report(benchmark::State& state, index_t n, index_t m) {
    const auto pairs = static_cast<std::int64_t>(n * m);
    state.SetItemsProcessed(state.iterations() * pairs);
    state.SetBytesProcessed(state.iterations() * pairs * static_cast<std::int64_t>(sizeof(T)));
    state.counters["out_bytes"] = static_cast<double>(pairs) * sizeof(T);
    state.SetLabel(thread_label());
}

const int bench_threads = bench::set_threads_from_env();

enum class metric { iou, giou, diou, ciou };

template <metric M, class A, class B, class O>
void pairwise_into(A&& a, B&& b, O&& out) {
    if constexpr (M == metric::iou)
        detseg::pairwise_iou(a, b, out);
    else if constexpr (M == metric::giou)
        detseg::pairwise_giou(a, b, out);
    else if constexpr (M == metric::diou)
        detseg::pairwise_diou(a, b, out);
    else
        detseg::pairwise_ciou(a, b, out);
}

// ---------------------------------------------------------------------------------------------
// Raw-pointer boxes into a caller-provided tensor (allocation excluded), float and double.

template <class T, metric M>
void BM_pairwise(benchmark::State& state) {
    const index_t n = state.range(0), m = state.range(1);
    const auto a = raw_boxes<T>(n, false);
    const auto b = raw_boxes<T>(m, true);
    detseg::tensor<T, 2> out({n, m});
    for (auto _ : state) {
        pairwise_into<M>(a, b, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<T>(state, n, m);
}

/// Raw-pointer boxes to a returned tensor (allocation included).
template <class T>
void BM_iou_returned(benchmark::State& state) {
    const index_t n = state.range(0), m = state.range(1);
    const auto a = raw_boxes<T>(n, false);
    const auto b = raw_boxes<T>(m, true);
    for (auto _ : state) {
        auto out = detseg::pairwise_iou(a, b);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<T>(state, n, m);
}

void sizes_and_sweep(benchmark::internal::Benchmark* bench) {
    bench->ArgNames({"n", "m"})->Args({1000, 1000})->Args({10000, 1000})->UseRealTime();
    bench->RangeMultiplier(4)->Ranges({{64, 16384}, {1000, 1000}});
}

void sizes(benchmark::internal::Benchmark* bench) {
    bench->ArgNames({"n", "m"})->Args({1000, 1000})->Args({10000, 1000})->UseRealTime();
}

void one_size(benchmark::internal::Benchmark* bench) {
    bench->ArgNames({"n", "m"})->Args({1000, 1000})->UseRealTime();
}

BENCHMARK(BM_pairwise<float, metric::iou>)->Name("BM_iou<float>")->Apply(sizes_and_sweep);
BENCHMARK(BM_pairwise<double, metric::iou>)->Name("BM_iou<double>")->Apply(sizes_and_sweep);
BENCHMARK(BM_iou_returned<float>)->Apply(sizes);
BENCHMARK(BM_iou_returned<double>)->Apply(sizes);
BENCHMARK(BM_pairwise<float, metric::giou>)->Name("BM_giou<float>")->Apply(one_size);
BENCHMARK(BM_pairwise<float, metric::diou>)->Name("BM_diou<float>")->Apply(one_size);
BENCHMARK(BM_pairwise<float, metric::ciou>)->Name("BM_ciou<float>")->Apply(one_size);
BENCHMARK(BM_pairwise<double, metric::giou>)->Name("BM_giou<double>")->Apply(one_size);
BENCHMARK(BM_pairwise<double, metric::diou>)->Name("BM_diou<double>")->Apply(one_size);
BENCHMARK(BM_pairwise<double, metric::ciou>)->Name("BM_ciou<double>")->Apply(one_size);

// ---------------------------------------------------------------------------------------------
// Input/output kinds, IoU at 10k×1k float. All but the first write a preallocated output.

constexpr index_t kind_n = 10000;
constexpr index_t kind_m = 1000;

void BM_kind_pointer_to_returned_tensor(benchmark::State& state) {
    const auto a = raw_boxes<float>(kind_n, false);
    const auto b = raw_boxes<float>(kind_m, true);
    for (auto _ : state) {
        auto out = detseg::pairwise_iou(a, b);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, kind_n, kind_m);
}

void BM_kind_pointer_into_tensor(benchmark::State& state) {
    const auto a = raw_boxes<float>(kind_n, false);
    const auto b = raw_boxes<float>(kind_m, true);
    detseg::tensor<float, 2> out({kind_n, kind_m});
    for (auto _ : state) {
        detseg::pairwise_iou(a, b, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, kind_n, kind_m);
}

void BM_kind_pointer_into_pointer(benchmark::State& state) {
    const auto a = raw_boxes<float>(kind_n, false);
    const auto b = raw_boxes<float>(kind_m, true);
    std::vector<float> buffer(static_cast<std::size_t>(kind_n * kind_m));
    for (auto _ : state) {
        detseg::pairwise_iou(a, b, detseg::make_view(buffer.data(), {kind_n, kind_m}));
        benchmark::DoNotOptimize(buffer.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, kind_n, kind_m);
}

template <class T>
std::vector<std::array<T, 4>> as_structs(const std::vector<T>& flat) {
    std::vector<std::array<T, 4>> out(flat.size() / 4);
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t k = 0; k < 4; ++k)
            out[i][k] = flat[4 * i + k];
    return out;
}

void BM_kind_array_vector_into_pointer(benchmark::State& state) {
    const auto a = as_structs(boxes<float>(kind_n, false));
    const auto b = as_structs(boxes<float>(kind_m, true));
    std::vector<float> buffer(static_cast<std::size_t>(kind_n * kind_m));
    for (auto _ : state) {
        detseg::pairwise_iou(a, b, detseg::make_view(buffer.data(), {kind_n, kind_m}));
        benchmark::DoNotOptimize(buffer.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, kind_n, kind_m);
}

using eigen_boxes = Eigen::Matrix<float, Eigen::Dynamic, 4, Eigen::RowMajor>;
using eigen_rows = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

eigen_boxes as_eigen(const std::vector<float>& flat) {
    eigen_boxes e(static_cast<Eigen::Index>(flat.size() / 4), 4);
    std::copy(flat.begin(), flat.end(), e.data());
    return e;
}

void BM_kind_eigen_into_eigen(benchmark::State& state) {
    const eigen_boxes a = as_eigen(boxes<float>(kind_n, false));
    const eigen_boxes b = as_eigen(boxes<float>(kind_m, true));
    eigen_rows out(kind_n, kind_m);
    for (auto _ : state) {
        detseg::pairwise_iou(a, b, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, kind_n, kind_m);
}

xt::xtensor<float, 2> as_xtensor(const std::vector<float>& flat) {
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({flat.size() / 4, 4});
    std::copy(flat.begin(), flat.end(), x.data());
    return x;
}

void BM_kind_xtensor_into_xtensor(benchmark::State& state) {
    const auto a = as_xtensor(boxes<float>(kind_n, false));
    const auto b = as_xtensor(boxes<float>(kind_m, true));
    auto out = xt::xtensor<float, 2>::from_shape(
        {static_cast<std::size_t>(kind_n), static_cast<std::size_t>(kind_m)});
    for (auto _ : state) {
        detseg::pairwise_iou(a, b, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, kind_n, kind_m);
}

void BM_kind_pointer_into_column_major(benchmark::State& state) {
    const auto a = raw_boxes<float>(kind_n, false);
    const auto b = raw_boxes<float>(kind_m, true);
    Eigen::MatrixXf out(kind_n, kind_m);
    for (auto _ : state) {
        detseg::pairwise_iou(a, b, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, kind_n, kind_m);
}

BENCHMARK(BM_kind_pointer_to_returned_tensor)->UseRealTime();
BENCHMARK(BM_kind_pointer_into_tensor)->UseRealTime();
BENCHMARK(BM_kind_pointer_into_pointer)->UseRealTime();
BENCHMARK(BM_kind_array_vector_into_pointer)->UseRealTime();
BENCHMARK(BM_kind_eigen_into_eigen)->UseRealTime();
BENCHMARK(BM_kind_xtensor_into_xtensor)->UseRealTime();
BENCHMARK(BM_kind_pointer_into_column_major)->UseRealTime();

// ---------------------------------------------------------------------------------------------
// Threads: IoU at 10k×1k float into a preallocated tensor with state.range(2) OpenMP threads.

void BM_iou_threads(benchmark::State& state) {
    const index_t n = state.range(0), m = state.range(1);
    const auto a = raw_boxes<float>(n, false);
    const auto b = raw_boxes<float>(m, true);
    detseg::tensor<float, 2> out({n, m});
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(static_cast<int>(state.range(2)));
#endif
    for (auto _ : state) {
        detseg::pairwise_iou(a, b, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    report<float>(state, n, m);
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(bench_threads);
#endif
}

BENCHMARK(BM_iou_threads)->ArgNames({"n", "m", "threads"})->Args({10000, 1000, 2})->UseRealTime();

} // namespace
