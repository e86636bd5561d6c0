// Runs detseg's anchor generators, box coder and matchers on the configurations described in
// <dir>/configs.txt and writes the results as .npy files, for compare_anchors.py; times the
// configurations named after --time. One configuration per line, whitespace-separated:
//
//   grid  NAME DT H W L  {gh gw nsizes s... nratios r...} x L     -> NAME.npy (anchors)
//   dbox  NAME DT H W L clip min_ratio max_ratio nscales s... nsteps t...
//                        {gh gw nratios r...} x L                 -> NAME_xyxy.npy, NAME_cxcywh.npy
//   coder NAME DT wx wy ww wh   (NAME_boxes/_anchors/_deltas.npy) -> NAME_enc.npy, NAME_dec.npy
//   match NAME high low allow   (NAME_q.npy, float32)             -> NAME_out.npy (int64)
//   ssd   NAME threshold        (NAME_q.npy, float32)             -> NAME_out.npy (int64)
//
// DT is f4 or f8. Timing: a grid or dbox configuration is timed returning a new tensor and
// writing into a reused buffer (xyxy for dbox); a coder configuration is timed decoding into a
// reused buffer. One OpenMP thread. Prints one JSON object {NAME: {"tensor": summary, "buffer":
// summary}} in ms.
//
//     time_anchors [--reps R] <dir> [--time NAME...]

#include <detseg/box/coder.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/detect/anchors.hpp>
#include <detseg/detect/default_boxes.hpp>
#include <detseg/detect/matcher.hpp>
#include <detseg/io/npy.hpp>

#include "timing.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using detseg::index_t;
using timing::escape_barrier;
using timing::json;
using timing::time_ms;

struct context {
    std::string dir;
    std::set<std::string> timed;
    int reps = 21;
};

template <class T>
T next(std::istringstream& in) {
    T v{};
    if (!(in >> v))
        throw std::runtime_error("configs.txt: malformed line");
    return v;
}

std::vector<double> list(std::istringstream& in) {
    std::vector<double> v(next<std::size_t>(in));
    for (double& x : v)
        x = next<double>(in);
    return v;
}

std::string timings(const timing::summary* tensor, const timing::summary& buffer) {
    return std::string("{\"tensor\": ") + (tensor ? json(*tensor) : "null") +
           ", \"buffer\": " + json(buffer) + "}";
}

template <class T>
std::string run_grid(const context& c, const std::string& name, std::istringstream& in) {
    const detseg::image_size image{next<index_t>(in), next<index_t>(in)};
    const auto levels = next<std::size_t>(in);
    std::vector<detseg::grid_size> grids;
    std::vector<std::vector<double>> sizes, ratios;
    for (std::size_t l = 0; l < levels; ++l) {
        grids.push_back({next<index_t>(in), next<index_t>(in)});
        sizes.push_back(list(in));
        ratios.push_back(list(in));
    }
    const detseg::grid_anchor_generator gen(sizes, ratios);
    auto anchors = gen.generate<T>(image, grids);
    detseg::save_npy(c.dir + "/" + name + ".npy", anchors);
    if (!c.timed.contains(name))
        return {};
    const auto fresh = time_ms(c.reps, [&] {
        auto a = gen.generate<T>(image, grids);
        escape_barrier(a.data());
    });
    const auto reused = time_ms(c.reps, [&] {
        gen.generate(image, grids, anchors);
        escape_barrier(anchors.data());
    });
    return timings(&fresh, reused);
}

template <class T>
std::string run_dbox(const context& c, const std::string& name, std::istringstream& in) {
    const detseg::image_size image{next<index_t>(in), next<index_t>(in)};
    const auto levels = next<std::size_t>(in);
    detseg::default_box_params p;
    p.clip = next<int>(in) != 0;
    p.min_ratio = next<double>(in);
    p.max_ratio = next<double>(in);
    p.scales = list(in);
    p.steps = list(in);
    std::vector<detseg::grid_size> grids;
    for (std::size_t l = 0; l < levels; ++l) {
        grids.push_back({next<index_t>(in), next<index_t>(in)});
        p.aspect_ratios.push_back(list(in));
    }
    const detseg::default_box_generator gen(std::move(p));
    auto xyxy = gen.xyxy<T>(image, grids);
    detseg::save_npy(c.dir + "/" + name + "_xyxy.npy", xyxy);
    detseg::save_npy(c.dir + "/" + name + "_cxcywh.npy", gen.cxcywh<T>(image, grids));
    if (!c.timed.contains(name))
        return {};
    const auto fresh = time_ms(c.reps, [&] {
        auto a = gen.xyxy<T>(image, grids);
        escape_barrier(a.data());
    });
    const auto reused = time_ms(c.reps, [&] {
        gen.xyxy(image, grids, xyxy);
        escape_barrier(xyxy.data());
    });
    return timings(&fresh, reused);
}

template <class T>
std::string run_coder(const context& c, const std::string& name, std::istringstream& in) {
    detseg::box_coder_params p;
    for (double& w : p.weights)
        w = next<double>(in);
    const std::string base = c.dir + "/" + name;
    const auto boxes = detseg::load_npy(base + "_boxes.npy").as<T, 2>();
    const auto anchors = detseg::load_npy(base + "_anchors.npy").as<T, 2>();
    const auto deltas = detseg::load_npy(base + "_deltas.npy").as<T, 2>();
    detseg::save_npy(base + "_enc.npy", detseg::encode_boxes(boxes, anchors, p));
    auto decoded = detseg::decode_boxes(deltas, anchors, p);
    detseg::save_npy(base + "_dec.npy", decoded);
    if (!c.timed.contains(name))
        return {};
    const auto reused = time_ms(c.reps, [&] {
        detseg::decode_boxes(deltas, anchors, decoded, p);
        escape_barrier(decoded.data());
    });
    return timings(nullptr, reused);
}

void save_matches(const std::string& path, const detseg::tensor<index_t, 1>& m) {
    std::vector<std::int64_t> v(m.data(), m.data() + m.extent(0));
    detseg::save_npy(path, detseg::make_view(v.data(), {static_cast<index_t>(v.size())}));
}

void run_match(const context& c, const std::string& name, std::istringstream& in, bool ssd) {
    const std::string base = c.dir + "/" + name;
    const auto q = detseg::load_npy(base + "_q.npy").as<float, 2>();
    if (ssd) {
        save_matches(base + "_out.npy", detseg::ssd_match_priors(q, next<double>(in)));
        return;
    }
    detseg::matcher_params p;
    p.high_threshold = next<double>(in);
    p.low_threshold = next<double>(in);
    p.allow_low_quality_matches = next<int>(in) != 0;
    save_matches(base + "_out.npy", detseg::match_priors(q, p));
}

std::string run_line(const context& c, std::istringstream& in, const std::string& name) {
    const auto kind = next<std::string>(in);
    next<std::string>(in); // the name, already read by the caller
    if (kind == "match" || kind == "ssd") {
        run_match(c, name, in, kind == "ssd");
        return {};
    }
    const bool f8 = next<std::string>(in) == "f8";
    if (kind == "grid")
        return f8 ? run_grid<double>(c, name, in) : run_grid<float>(c, name, in);
    if (kind == "dbox")
        return f8 ? run_dbox<double>(c, name, in) : run_dbox<float>(c, name, in);
    if (kind == "coder")
        return f8 ? run_coder<double>(c, name, in) : run_coder<float>(c, name, in);
    throw std::runtime_error("configs.txt: unknown kind " + kind);
}

} // namespace

int main(int argc, char** argv) {
    context c;
    bool timed_names = false;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        if (s == "--reps" && i + 1 < argc)
            c.reps = std::atoi(argv[++i]);
        else if (s == "--time")
            timed_names = true;
        else if (timed_names)
            c.timed.insert(s);
        else if (c.dir.empty())
            c.dir = s;
        else
            c.dir.clear(), i = argc;
    }
    if (c.dir.empty() || c.reps < 1) {
        std::fprintf(stderr, "usage: time_anchors [--reps R] <dir> [--time NAME...]\n");
        return 2;
    }
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(1); // the coder splits large inputs across threads otherwise
#endif
    try {
        std::ifstream file(c.dir + "/configs.txt");
        if (!file)
            throw std::runtime_error("cannot read " + c.dir + "/configs.txt");
        std::string line, out = "{";
        while (std::getline(file, line)) {
            if (line.empty())
                continue;
            std::istringstream in(line);
            std::string kind, name;
            in >> kind >> name;
            in.seekg(0);
            const std::string t = run_line(c, in, name);
            if (!t.empty())
                out += (out.size() > 1 ? ", \"" : "\"") + name + "\": " + t;
        }
        std::printf("%s}\n", out.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "time_anchors: %s\n", e.what());
        return 1;
    }
    return 0;
}
