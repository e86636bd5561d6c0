// Times detseg::nms, batched_nms and soft_nms on inputs stored as .npy files and writes the
// results back as raw little-endian files, for compare_nms.py. For each case name C it reads
// <dir>/C_boxes.npy (N×4 float32), C_scores.npy (N float32), C_labels.npy (N int64) and
// C_ibox.npy (N×4 float32, integer-valued: the boxes OpenCV's softNMSBoxes sees), and writes
//   C_nms.i64          kept indices of nms (iou 0.5)
//   C_nms_ws.i64       the same through nms_to with a reused nms_workspace
//   C_batched.i64      kept indices of batched_nms (iou 0.5)
//   C_batched_ws.i64   the same through batched_nms_to with the reused nms_workspace
//   C_soft.i64/.f32    soft_nms gaussian (sigma 0.5, score_threshold 0.001) picks and scores
//                      (only with --soft for that case)
// and prints one JSON object with median/IQR timings in ms.
//
//     time_nms [--reps R] <dir> <case>[:soft]...

#include <detseg/core/tensor.hpp>
#include <detseg/detect/batched_nms.hpp>
#include <detseg/detect/nms.hpp>
#include <detseg/detect/soft_nms.hpp>
#include <detseg/io/npy.hpp>

#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace {

using detseg::index_t;
using timing::clock_type;

using timing::escape_barrier;
using timing::json;
using timing::summary;
using timing::time_ms;

using timing::write_raw;

std::vector<std::int64_t> to_i64(const std::vector<index_t>& v) {
    return {v.begin(), v.end()};
}

std::string run_case(const std::string& dir, const std::string& name, bool soft, int reps) {
    const std::string base = dir + "/" + name;
    const auto boxes = detseg::load_npy(base + "_boxes.npy").as<float, 2>();
    const auto scores = detseg::load_npy(base + "_scores.npy").as<float, 1>();
    const auto labels = detseg::load_npy(base + "_labels.npy").as<std::int64_t, 1>();
    const index_t n = boxes.extent(0);
    const auto vb = detseg::make_view(boxes.data(), {n, index_t{4}});
    const auto vs = detseg::make_view(scores.data(), {n});
    const auto vl = detseg::make_view(labels.data(), {n});
    const detseg::nms_params params{.iou_threshold = 0.5};

    std::vector<index_t> keep;
    const summary nms = time_ms(reps, [&] {
        keep = detseg::nms(vb, vs, params);
        escape_barrier(keep.data());
    });
    write_raw(base + "_nms.i64", to_i64(keep));

    detseg::nms_workspace ws;
    std::vector<index_t> out(static_cast<std::size_t>(n));
    index_t k = 0;
    const summary nms_ws = time_ms(reps, [&] {
        k = detseg::nms_to(vb, vs, std::span<index_t>(out), ws, params);
        escape_barrier(out.data());
    });
    out.resize(static_cast<std::size_t>(k));
    write_raw(base + "_nms_ws.i64", to_i64(out));

    std::vector<index_t> bkeep;
    const summary batched = time_ms(reps, [&] {
        bkeep = detseg::batched_nms(vb, vs, vl, params);
        escape_barrier(bkeep.data());
    });
    write_raw(base + "_batched.i64", to_i64(bkeep));

    std::vector<index_t> bout(static_cast<std::size_t>(n));
    index_t bk = 0;
    const summary batched_ws = time_ms(reps, [&] {
        bk = detseg::batched_nms_to(vb, vs, vl, std::span<index_t>(bout), ws, params);
        escape_barrier(bout.data());
    });
    bout.resize(static_cast<std::size_t>(bk));
    write_raw(base + "_batched_ws.i64", to_i64(bout));

    std::string soft_json = "null";
    std::size_t soft_picks = 0;
    if (soft) {
        const auto ibox = detseg::load_npy(base + "_ibox.npy").as<float, 2>();
        const auto vi = detseg::make_view(ibox.data(), {n, index_t{4}});
        const detseg::soft_nms_params sp{
            .method = detseg::soft_nms_method::gaussian, .sigma = 0.5, .score_threshold = 0.001};
        detseg::soft_nms_result r;
        const summary s = time_ms(reps, [&] {
            r = detseg::soft_nms(vi, vs, sp);
            escape_barrier(r.indices.data());
        });
        write_raw(base + "_soft.i64", to_i64(r.indices));
        write_raw(base + "_soft.f32", r.scores);
        soft_json = json(s);
        soft_picks = r.indices.size();
    }

    char head[256];
    std::snprintf(head, sizeof head,
                  "{\"case\": \"%s\", \"n\": %td, \"nms_kept\": %zu, \"batched_kept\": %zu, "
                  "\"soft_picks\": %zu, ",
                  name.c_str(), n, keep.size(), bkeep.size(), soft_picks);
    return std::string(head) + "\"nms_ms\": " + json(nms) + ", \"nms_ws_ms\": " + json(nms_ws) +
           ", \"batched_ms\": " + json(batched) + ", \"batched_ws_ms\": " + json(batched_ws) +
           ", \"soft_ms\": " + soft_json + "}";
}

} // namespace

int main(int argc, char** argv) {
    return timing::run_cases(argc, argv, "time_nms [--reps R] <dir> <case>[:soft]...",
                             [](const std::string& dir, std::string name, int reps) {
                                 bool soft = false;
                                 if (const auto colon = name.find(':');
                                     colon != std::string::npos) {
                                     soft = name.substr(colon + 1) == "soft";
                                     name.resize(colon);
                                 }
                                 return run_case(dir, name, soft, reps);
                             });
}
