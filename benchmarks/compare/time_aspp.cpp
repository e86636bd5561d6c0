// Times detseg::aspp<float> on inputs and weights stored by compare_aspp.py, and writes the
// output back, for compare_aspp.py. For each case name C it reads
//   <dir>/C_config.npy   int64 [in_channels, out_channels, variant (0 standard, 1 separable),
//                        R, rate_1, ..., rate_R]
//   <dir>/C_state/       the state_dict as <key>.npy files (torchvision's keys)
//   <dir>/C_x.npy        the C×H×W float32 input
// and writes <dir>/C_out.f32 (the O×H×W output, raw little-endian), then prints one JSON object
// with the median/IQR time in ms of one forward pass (weights loaded and folded beforehand).
//
//     time_aspp [--reps R] [--threads T] <dir> <case>...

#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/io/state_dict.hpp>
#include <detseg/seg/aspp.hpp>

#include "timing.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace {

int g_threads = 1;

std::string run_case(const std::string& dir, const std::string& name, int reps) {
#if defined(_OPENMP)
    omp_set_num_threads(g_threads);
#endif
    const std::string base = dir + "/" + name;
    const auto cfgv = detseg::load_npy(base + "_config.npy").as<std::int64_t, 1>();
    detseg::aspp_config cfg;
    cfg.in_channels = cfgv(0);
    cfg.out_channels = cfgv(1);
    cfg.variant = cfgv(2) == 0 ? detseg::aspp_variant::standard : detseg::aspp_variant::separable;
    cfg.rates.assign(cfgv.flat().begin() + 4, cfgv.flat().begin() + 4 + cfgv(3));
    const detseg::aspp<float> net(cfg, detseg::load_state_dict<float>(base + "_state"));
    const auto x = detseg::load_npy(base + "_x.npy").as<float, 3>();
    detseg::tensor<float, 3> y({cfg.out_channels, x.extent(1), x.extent(2)});
    const timing::summary s = timing::time_ms(reps, [&] {
        net(x, y);
        timing::escape_barrier(y.data());
    });
    timing::write_raw(base + "_out.f32", y.data(), static_cast<std::size_t>(y.size()));
    char head[160];
    std::snprintf(head, sizeof head, "{\"case\": \"%s\", \"threads\": %d, \"ms\": ", name.c_str(),
                  g_threads);
    return std::string(head) + timing::json(s) + "}";
}

} // namespace

int main(int argc, char** argv) {
    std::vector<char*> rest{argv[0]};
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--threads" && i + 1 < argc)
            g_threads = std::atoi(argv[++i]);
        else
            rest.push_back(argv[i]);
    }
    if (g_threads < 1) {
        std::fprintf(stderr, "time_aspp: --threads must be >= 1\n");
        return 2;
    }
    return timing::run_cases(static_cast<int>(rest.size()), rest.data(),
                             "time_aspp [--reps R] [--threads T] <dir> <case>...", run_case);
}
