// Google Benchmark for the pseudo-label losses: forward + backward of cross_entropy_loss and
// pseudo_label_loss (confidence-weighted γ = 2, hard threshold, boundary term) on N×21×S×S
// float logits (S = 64 … 513, N = 8 at 513: the case), into a reused gradient buffer
// and as a returned tensor, contiguous and N×H×W×C (channels-last through strides); the double
// path; teacher_pseudo_labels; and the threshold policies' updates.
//
// Inputs: from std::mt19937_64 bits only (portable; logits a sum of three uniforms), labels
// uniform with 10% ignore, confidences uniform. Threads: one unless DETSEG_BENCH_THREADS gives
// another count. items_per_second = logits per second.

#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/seg/pseudo_label.hpp>
#include <detseg/seg/pseudo_teacher.hpp>
#include <detseg/seg/pseudo_threshold.hpp>

#include "detections.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

using detseg::index_t;

const int bench_threads = bench::set_threads_from_env();
constexpr index_t classes = 21;

template <class T>
struct batch {
    detseg::tensor<T, 4> logits;
    detseg::tensor<std::uint8_t, 3> labels;
    detseg::tensor<T, 3> conf;
};

template <class T>
const batch<T>& make_batch(index_t n, index_t s) {
    static batch<T> b;
    if (b.logits.extent(0) == n && b.logits.extent(2) == s)
        return b;
    std::mt19937_64 rng(20261121);
    auto unit = [&] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    b.logits = detseg::tensor<T, 4>({n, classes, s, s});
    for (auto& v : b.logits.flat())
        v = static_cast<T>(4.0 * (unit() + unit() + unit() - 1.5));
    b.labels = detseg::tensor<std::uint8_t, 3>({n, s, s});
    b.conf = detseg::tensor<T, 3>({n, s, s});
    for (index_t q = 0; q < b.labels.size(); ++q) {
        const double u = unit();
        b.labels.flat()[static_cast<std::size_t>(q)] =
            u < 0.1 ? 255 : static_cast<std::uint8_t>(rng() % classes);
        b.conf.flat()[static_cast<std::size_t>(q)] = static_cast<T>(unit());
    }
    return b;
}

index_t batch_for(index_t s) { return s >= 513 ? 8 : 4; }

enum kind { ce, cw, fixmatch, boundary };

detseg::pseudo_label_loss_params params_for(kind k) {
    switch (k) {
    case fixmatch:
        return detseg::pseudo_label_loss_params::fixmatch(0.95);
    case boundary:
        return detseg::pseudo_label_loss_params::cw_bass(2.0, 1.0);
    default:
        return {.gamma = 2.0};
    }
}

template <class T>
void BM_loss(benchmark::State& state, kind k) {
    const index_t s = state.range(0), n = batch_for(s);
    const auto& b = make_batch<T>(n, s);
    detseg::tensor<T, 4> grad(b.logits.extents());
    const auto p = params_for(k);
    for (auto _ : state) {
        const double v = k == ce ? detseg::cross_entropy_loss(b.logits, b.labels, grad)
                                 : detseg::pseudo_label_loss(b.logits, b.labels, b.conf, grad, p);
        benchmark::DoNotOptimize(v);
        benchmark::DoNotOptimize(grad.data());
    }
    state.SetItemsProcessed(state.iterations() * b.logits.size());
}

void BM_loss_float(benchmark::State& state, kind k) { BM_loss<float>(state, k); }
void BM_loss_double(benchmark::State& state, kind k) { BM_loss<double>(state, k); }

void BM_cw_returned(benchmark::State& state) {
    const index_t s = state.range(0), n = batch_for(s);
    const auto& b = make_batch<float>(n, s);
    for (auto _ : state) {
        auto r = detseg::pseudo_label_loss(b.logits, b.labels, b.conf, params_for(cw));
        benchmark::DoNotOptimize(r.grad.data());
    }
    state.SetItemsProcessed(state.iterations() * b.logits.size());
}

void BM_cw_channels_last(benchmark::State& state) {
    const index_t s = state.range(0), n = batch_for(s);
    const auto& b = make_batch<float>(n, s);
    // The same numbers stored N×H×W×C, read and written through strides.
    const auto x = detseg::make_view(b.logits.data(), {n, classes, s, s},
                                     {s * s * classes, 1, s * classes, classes});
    std::vector<float> g(static_cast<std::size_t>(b.logits.size()));
    auto gv = detseg::make_view(g.data(), {n, classes, s, s},
                                {s * s * classes, 1, s * classes, classes});
    for (auto _ : state) {
        const double v = detseg::pseudo_label_loss(x, b.labels, b.conf, gv, params_for(cw));
        benchmark::DoNotOptimize(v);
        benchmark::DoNotOptimize(g.data());
    }
    state.SetItemsProcessed(state.iterations() * b.logits.size());
}

void BM_teacher_labels(benchmark::State& state) {
    const index_t s = state.range(0), n = batch_for(s);
    const auto& b = make_batch<float>(n, s);
    detseg::tensor<std::int32_t, 3> lab(b.labels.extents());
    detseg::tensor<float, 3> conf(b.labels.extents());
    for (auto _ : state) {
        detseg::teacher_pseudo_labels(b.logits, lab, conf);
        benchmark::DoNotOptimize(conf.data());
    }
    state.SetItemsProcessed(state.iterations() * b.logits.size());
}

void BM_u2pl_split(benchmark::State& state) {
    const index_t s = state.range(0), n = batch_for(s);
    const auto& b = make_batch<float>(n, s);
    detseg::tensor<float, 4> probs(b.logits.extents(), 1.0f / classes);
    detseg::tensor<std::uint8_t, 3> out(b.labels.extents());
    detseg::u2pl_entropy_split split;
    for (auto _ : state)
        benchmark::DoNotOptimize(split.split(probs, b.labels, out));
    state.SetItemsProcessed(state.iterations() * probs.size());
}

void sizes(benchmark::internal::Benchmark* b) {
    b->RangeMultiplier(2)->Range(64, 256)->Arg(513)->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK_CAPTURE(BM_loss_float, ce, ce)->Apply(sizes);
BENCHMARK_CAPTURE(BM_loss_float, cw_gamma2, cw)->Apply(sizes);
BENCHMARK_CAPTURE(BM_loss_float, fixmatch, fixmatch)->Apply(sizes);
BENCHMARK_CAPTURE(BM_loss_float, cw_boundary, boundary)->Apply(sizes);
BENCHMARK_CAPTURE(BM_loss_double, cw_gamma2, cw)->Apply(sizes);
BENCHMARK(BM_cw_returned)->Apply(sizes);
BENCHMARK(BM_cw_channels_last)->Apply(sizes);
BENCHMARK(BM_teacher_labels)->Apply(sizes);
BENCHMARK(BM_u2pl_split)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
