// Times detseg::retinanet_postprocess on head outputs stored as .npy files and writes the
// results back as raw little-endian files, for compare_postprocess.py. For each case name C it
// reads <dir>/C_logits.npy (N×K float32), C_deltas.npy (N×4 float32), C_anchors.npy (N×4
// float32), C_levels.npy (L int64, anchors per level) and C_image.npy (2 int64: height, width),
// and writes
//   C_boxes.f32, C_scores.f32, C_labels.i64   the detections of retinanet_postprocess
//   C_ws_boxes.f32, ...                       the same through retinanet_postprocess_into
//                                             with a reused postprocess_workspace
// and prints one JSON object with median/IQR timings in ms (torchvision's default parameters).
//
//     time_postprocess [--reps R] <dir> <case>...

#include <detseg/core/tensor.hpp>
#include <detseg/detect/postprocess.hpp>
#include <detseg/io/npy.hpp>

#include "timing.hpp"

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
using timing::escape_barrier;
using timing::json;
using timing::summary;
using timing::time_ms;

using timing::write_raw;

void write_result(const std::string& base, const detseg::postprocess_result<float>& r) {
    write_raw(base + "boxes.f32", r.boxes.data(), static_cast<std::size_t>(r.boxes.size()));
    write_raw(base + "scores.f32", r.scores.data(), r.scores.size());
    write_raw(base + "labels.i64", r.labels.data(), r.labels.size());
}

std::string run_case(const std::string& dir, const std::string& name, int reps) {
    const std::string base = dir + "/" + name;
    const auto logits = detseg::load_npy(base + "_logits.npy").as<float, 2>();
    const auto deltas = detseg::load_npy(base + "_deltas.npy").as<float, 2>();
    const auto anchors = detseg::load_npy(base + "_anchors.npy").as<float, 2>();
    const auto levels64 = detseg::load_npy(base + "_levels.npy").as<std::int64_t, 1>();
    const auto image64 = detseg::load_npy(base + "_image.npy").as<std::int64_t, 1>();
    const std::vector<index_t> levels(levels64.flat().begin(), levels64.flat().end());
    const detseg::image_size image{.height = index_t(image64(0)), .width = index_t(image64(1))};
    const auto lv = logits.view();
    const auto dv = deltas.view();
    const auto av = anchors.view();
    const std::span<const index_t> ls(levels);

    detseg::postprocess_result<float> r;
    const summary plain = time_ms(reps, [&] {
        r = detseg::retinanet_postprocess(lv, dv, av, ls, image);
        escape_barrier(r.scores.data());
    });
    write_result(base + "_", r);

    detseg::postprocess_result<float> out;
    detseg::postprocess_workspace ws;
    const summary reuse = time_ms(reps, [&] {
        detseg::retinanet_postprocess_into(lv, dv, av, ls, image, out, ws);
        escape_barrier(out.scores.data());
    });
    write_result(base + "_ws_", out);

    char head[200];
    std::snprintf(head, sizeof head, "{\"case\": \"%s\", \"anchors\": %td, \"detections\": %zu, ",
                  name.c_str(), logits.extent(0), r.scores.size());
    return std::string(head) + "\"ms\": " + json(plain) + ", \"ws_ms\": " + json(reuse) + "}";
}

} // namespace

int main(int argc, char** argv) {
    return timing::run_cases(argc, argv, "time_postprocess [--reps R] <dir> <case>...", run_case);
}
