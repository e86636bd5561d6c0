// Times detseg::dense_crf for compare_crf.py: the lattice build (constructor, unary, the preset's
// two kernels) and the mean-field inference, separately, on 1 and 2 OpenMP threads, in one
// process per preset so that its peak memory is the preset's.
//
//     time_crf [--reps R] --preset NAME --iters N <dir>
//
// Reads <dir>/image.npy (H×W×3 uint8) and <dir>/unary.npy (L×H×W float32 energies, the same
// array pydensecrf gets), writes <dir>/detseg_q_<preset>.npy (Q after N iterations, float32
// L×H×W) and prints one JSON object: per thread count the build, inference and total times in ms
// (median and quartiles of R repetitions after one warm-up, wall time and the process's CPU time
// over all threads), whether Q is identical for 1 and 2 threads, the lattice sizes, the resident
// memory after loading the inputs and the peak (ru_maxrss), in MB.

#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/crf_presets.hpp>
#include <detseg/seg/dense_crf.hpp>

#include "timing.hpp"

#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <string>
#include <vector>


namespace {

using detseg::index_t;

double wall_ms() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

double cpu_ms() { // the whole process: every OpenMP thread
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

/// Resident set size now, MB (VmRSS).
double rss_mb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::atof(line.c_str() + 6) / 1024.0;
    return 0;
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::string summary_json(const std::vector<double>& ms) {
    return timing::json(
        {timing::quantile(ms, 0.5), timing::quantile(ms, 0.25), timing::quantile(ms, 0.75)});
}

struct samples {
    std::vector<double> build_wall, build_cpu, infer_wall, infer_cpu, total_wall, total_cpu;

    [[nodiscard]] std::string json() const {
        return "{\"build\": {\"wall\": " + summary_json(build_wall) +
               ", \"cpu\": " + summary_json(build_cpu) +
               "}, \"inference\": {\"wall\": " + summary_json(infer_wall) +
               ", \"cpu\": " + summary_json(infer_cpu) +
               "}, \"total\": {\"wall\": " + summary_json(total_wall) +
               ", \"cpu\": " + summary_json(total_cpu) + "}}";
    }
};

using timing::set_threads;

} // namespace

int main(int argc, char** argv) {
    try {
        int reps = 7, iters = 10;
        std::string preset_name, dir;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--reps" && i + 1 < argc)
                reps = std::atoi(argv[++i]);
            else if (a == "--iters" && i + 1 < argc)
                iters = std::atoi(argv[++i]);
            else if (a == "--preset" && i + 1 < argc)
                preset_name = argv[++i];
            else
                dir = a;
        }
        if (dir.empty() || preset_name.empty() || reps < 1 || iters < 0) {
            std::fprintf(stderr, "usage: time_crf [--reps R] --preset NAME --iters N <dir>\n");
            return 2;
        }
        const detseg::crf_preset preset = detseg::crf_preset_by_name(preset_name);
        const auto image = detseg::load_npy(dir + "/image.npy").as<std::uint8_t, 3>();
        const auto unary = detseg::load_npy(dir + "/unary.npy").as<float, 3>();
        const index_t L = unary.extent(0), H = unary.extent(1), W = unary.extent(2);
        detseg::tensor<float, 3> q({L, H, W});
        const double rss_inputs = rss_mb();

        std::vector<index_t> lattice_points;
        auto run = [&](samples* s) {
            const double w0 = wall_ms(), c0 = cpu_ms();
            detseg::dense_crf<float> crf(H, W, L);
            crf.set_unary_energy(unary);
            detseg::add_crf_preset(crf, preset, image);
            const double w1 = wall_ms(), c1 = cpu_ms();
            crf.inference(iters, q.view());
            const double w2 = wall_ms(), c2 = cpu_ms();
            timing::escape_barrier(q.data());
            lattice_points = crf.lattice_points();
            if (s != nullptr) {
                s->build_wall.push_back(w1 - w0);
                s->build_cpu.push_back(c1 - c0);
                s->infer_wall.push_back(w2 - w1);
                s->infer_cpu.push_back(c2 - c1);
                s->total_wall.push_back(w2 - w0);
                s->total_cpu.push_back(c2 - c0);
            }
        };

        // Q of 1 and 2 threads compared by a hash of its bytes (a copy would add to the peak)
        auto hash_q = [&] {
            std::uint64_t h = 1469598103934665603ull;
            const auto* b = reinterpret_cast<const unsigned char*>(q.data());
            for (std::size_t i = 0; i < static_cast<std::size_t>(q.size()) * sizeof(float); ++i)
                h = (h ^ b[i]) * 1099511628211ull;
            return h;
        };
        std::string threads_json;
        std::uint64_t q1 = 0;
        bool same_q = true;
        const int thread_counts[] = {1, 2};
        for (const int t : thread_counts) {
#if !DETSEG_HAS_OPENMP
            if (t > 1)
                break;
#endif
            set_threads(t);
            samples s;
            run(nullptr); // warm-up
            for (int r = 0; r < reps; ++r)
                run(&s);
            if (t == 1) {
                q1 = hash_q();
                detseg::save_npy(dir + "/detseg_q_" + preset_name + ".npy", q);
            } else {
                same_q = same_q && q1 == hash_q();
            }
            threads_json += (threads_json.empty() ? "" : ", ") + std::string("\"") +
                            std::to_string(t) + "\": " + s.json();
        }
        std::string points;
        for (const index_t p : lattice_points)
            points += (points.empty() ? "" : ", ") + std::to_string(p);
        std::printf("{\"preset\": \"%s\", \"H\": %td, \"W\": %td, \"L\": %td, \"iters\": %d, "
                    "\"reps\": %d, \"compiler\": \"%s\", \"threads\": {%s}, "
                    "\"same_q_1_2_threads\": %s, \"lattice_points\": [%s], "
                    "\"rss_inputs_mb\": %.1f, \"peak_rss_mb\": %.1f}\n",
                    preset_name.c_str(), H, W, L, iters, reps, __VERSION__, threads_json.c_str(),
                    same_q ? "true" : "false", points.c_str(), rss_inputs, peak_rss_mb());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "time_crf: %s\n", e.what());
        return 1;
    }
}
