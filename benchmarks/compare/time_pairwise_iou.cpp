// Times detseg::pairwise_iou on boxes stored as .npy files and writes its result back as .npy,
// for compare_box_iou.py. For each case name C it reads <dir>/C_a.npy (N×4) and <dir>/C_b.npy
// (M×4), float32 or float64, writes <dir>/C_detseg.npy (N×M) and prints one JSON object.
//
//     time_pairwise_iou [--threads T] [--reps R] <dir> <case>...

#include <detseg/box/iou.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>

#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using timing::clock_type;

using timing::escape_barrier;
using timing::json;
using timing::summary;
using timing::time_ms;

template <class T>
std::string run_case(const std::string& dir, const std::string& name, int reps) {
    const auto a = detseg::load_npy(dir + "/" + name + "_a.npy").as<T, 2>();
    const auto b = detseg::load_npy(dir + "/" + name + "_b.npy").as<T, 2>();
    const detseg::index_t n = a.extent(0), m = b.extent(0);
    const auto va = detseg::make_view(a.data(), {n, detseg::index_t{4}});
    const auto vb = detseg::make_view(b.data(), {m, detseg::index_t{4}});

    detseg::tensor<T, 2> out({n, m});
    const summary into = time_ms(reps, [&] {
        detseg::pairwise_iou(va, vb, out);
        escape_barrier(out.data());
    });
    detseg::save_npy(dir + "/" + name + "_detseg.npy", out);

    const summary returned = time_ms(reps, [&] {
        auto r = detseg::pairwise_iou(va, vb);
        escape_barrier(r.data());
    });

    std::vector<T> sink(static_cast<std::size_t>(n * m));
    const summary fill = time_ms(reps, [&] {
        std::fill(sink.begin(), sink.end(), T(0.5));
        escape_barrier(sink.data());
    });
    const summary set = time_ms(reps, [&] {
        std::memset(static_cast<void*>(sink.data()), 0, sink.size() * sizeof(T));
        escape_barrier(sink.data());
    });

    const double bytes = static_cast<double>(n * m) * sizeof(T);
    char head[256];
    std::snprintf(head, sizeof head,
                  "{\"case\": \"%s\", \"dtype\": \"%s\", \"n\": %td, \"m\": %td, "
                  "\"out_bytes\": %.0f, ",
                  name.c_str(), sizeof(T) == 4 ? "float32" : "float64", n, m, bytes);
    return std::string(head) + "\"into_ms\": " + json(into) +
           ", \"returned_ms\": " + json(returned) + ", \"fill_ms\": " + json(fill) +
           ", \"memset_ms\": " + json(set) + "}";
}

int usage() {
    std::fprintf(stderr, "usage: time_pairwise_iou [--threads T] [--reps R] <dir> <case>...\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    int threads = 1, reps = 21;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        if ((s == "--threads" || s == "--reps") && i + 1 < argc) {
            (s == "--threads" ? threads : reps) = std::atoi(argv[++i]);
        } else {
            args.push_back(s);
        }
    }
    if (args.size() < 2 || threads < 1 || reps < 1)
        return usage();
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(threads);
#endif
    try {
        std::string cases;
        for (std::size_t k = 1; k < args.size(); ++k) {
            const auto probe = detseg::load_npy(args[0] + "/" + args[k] + "_a.npy");
            cases += (k > 1 ? ",\n  " : "\n  ");
            cases += probe.holds<float>() ? run_case<float>(args[0], args[k], reps)
                                          : run_case<double>(args[0], args[k], reps);
        }
        std::printf("{\"threads\": %d, \"openmp\": %s, \"reps\": %d, \"compiler\": \"%s\", "
                    "\"cases\": [%s\n]}\n",
                    detseg::max_threads(), DETSEG_HAS_OPENMP ? "true" : "false", reps, __VERSION__,
                    cases.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "time_pairwise_iou: %s\n", e.what());
        return 1;
    }
    return 0;
}
