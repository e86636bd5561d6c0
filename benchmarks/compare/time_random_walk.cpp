// Times detseg's IRN-style random walk for compare_random_walk.py. Reads <dir>/boundary.npy
// (H×W float32) and <dir>/maps.npy (K×H×W float32), writes <dir>/walk.f32 (K×H×W, the result
// of `steps` steps), and prints one JSON object with the timings in ms, one OpenMP thread:
//   transition   boundary_transition(boundary, {radius, beta})
//   walk         random_walk(transition, maps, {steps})
//   total        both
//
//     time_random_walk [--reps R] <dir> <radius> <beta> <steps>

#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/random_walk.hpp>

#include "timing.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    const auto cl = timing::parse_command_line(argc, argv, 5);
    const int reps = cl.reps;
    const std::vector<std::string>& args = cl.args;
    if (args.size() != 4 || reps < 1) {
        std::fprintf(stderr, "usage: time_random_walk [--reps R] <dir> <radius> <beta> <steps>\n");
        return 2;
    }
    timing::set_threads(1);
    try {
        const std::string dir = args[0];
        const detseg::index_t radius = std::atol(args[1].c_str());
        const double beta = std::atof(args[2].c_str());
        const detseg::index_t steps = std::atol(args[3].c_str());
        const auto boundary = detseg::load_npy(dir + "/boundary.npy").as<float, 2>();
        const auto maps = detseg::load_npy(dir + "/maps.npy").as<float, 3>();
        detseg::random_walk_transition<float> trans;
        detseg::tensor<float, 3> out(maps.extents());
        const auto t_build = timing::time_ms(reps, [&] {
            trans = detseg::boundary_transition(boundary, {.radius = radius, .beta = beta});
            timing::escape_barrier(&trans);
        });
        const auto t_walk = timing::time_ms(reps, [&] {
            detseg::random_walk(trans, maps, out, {.steps = steps});
            timing::escape_barrier(out.data());
        });
        const auto t_total = timing::time_ms(reps, [&] {
            const auto t = detseg::boundary_transition(boundary, {.radius = radius, .beta = beta});
            detseg::random_walk(t, maps, out, {.steps = steps});
            timing::escape_barrier(out.data());
        });
        timing::write_raw(dir + "/walk.f32", out.data(), static_cast<std::size_t>(out.size()));
        std::printf("{\"transition\": %s, \"walk\": %s, \"total\": %s}\n",
                    timing::json(t_build).c_str(), timing::json(t_walk).c_str(),
                    timing::json(t_total).c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "time_random_walk: %s\n", e.what());
        return 1;
    }
    return 0;
}
