// Times detseg::confusion_matrix::update on label maps stored as .npy files, for compare_miou.py.
// For each case name C it reads <dir>/C_gt.npy and <dir>/C_pred.npy (N×H×W uint8, ignore index
// 255) and writes
//   C_cm.u64     the C×C counts of one confusion_matrix fed with the N images (row-major)
//   C_miou.f64   mIoU and fwIoU from compute_seg_metrics
// and prints one JSON object with the timings in ms per image (median and quartiles of `reps`
// passes over the N images):
//   update_1t     confusion_matrix::update image by image, one OpenMP thread (the figure)
//   batch_1t      one update on the whole N×H×W array, one thread
//   batch_2t      the same with two threads (when built with OpenMP; update splits calls of at
//                 least 4M pixels over the threads)
//   naive         a plain C++ loop (`if (g != 255) ++m[g * C + p]`), for context
//
//     time_miou [--reps R] --classes K <dir> <case>...

#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>

#include "timing.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>


namespace {

using detseg::index_t;
using timing::escape_barrier;
using timing::json;
using timing::summary;
using timing::time_ms;

using timing::write_raw;

using timing::set_threads;

summary per_image(summary s, index_t images) {
    const auto n = static_cast<double>(images);
    return {s.median / n, s.q1 / n, s.q3 / n};
}

std::string run_case(const std::string& dir, const std::string& name, index_t classes, int reps) {
    const std::string base = dir + "/" + name;
    const auto gt = detseg::load_npy(base + "_gt.npy").as<std::uint8_t, 3>();
    const auto pred = detseg::load_npy(base + "_pred.npy").as<std::uint8_t, 3>();
    const index_t n = gt.extent(0), h = gt.extent(1), w = gt.extent(2);
    auto image = [&](const detseg::tensor<std::uint8_t, 3>& t, index_t k) {
        return detseg::make_view(t.data() + k * h * w, {h, w});
    };

    detseg::confusion_matrix cm(classes);
    auto pass = [&] {
        cm.reset();
        for (index_t k = 0; k < n; ++k)
            cm.update(image(gt, k), image(pred, k));
        escape_barrier(&cm);
    };
    auto batch = [&] {
        cm.reset();
        cm.update(gt, pred);
        escape_barrier(&cm);
    };
    set_threads(1);
    const summary one = per_image(time_ms(reps, pass), n);
    const summary batch_one = per_image(time_ms(reps, batch), n);
    std::string two_json = "null";
#if DETSEG_HAS_OPENMP
    set_threads(2);
    two_json = json(per_image(time_ms(reps, batch), n));
    batch();
    const auto two_threads = cm.matrix();
    std::vector<std::uint64_t> batch_counts(two_threads.data_handle(),
                                            two_threads.data_handle() + classes * classes);
    set_threads(1);
#endif
    pass();
    const auto m = cm.matrix();
    write_raw(base + "_cm.u64", m.data_handle(), static_cast<std::size_t>(classes * classes));
    const auto metrics = detseg::compute_seg_metrics(cm);
    const double scalars[2] = {metrics.miou, metrics.fwiou};
    write_raw(base + "_miou.f64", scalars, 2);

    std::vector<std::uint64_t> naive_counts(static_cast<std::size_t>(classes * classes));
    const summary naive = per_image(
        time_ms(reps,
                [&] {
                    std::fill(naive_counts.begin(), naive_counts.end(), 0);
                    const std::uint8_t* g = gt.data();
                    const std::uint8_t* p = pred.data();
                    for (index_t i = 0, e = n * h * w; i < e; ++i)
                        if (g[i] != 255)
                            ++naive_counts[static_cast<std::size_t>(g[i] * classes + p[i])];
                    escape_barrier(naive_counts.data());
                }),
        n);
    bool counts_equal = true;
    for (index_t i = 0; i < classes * classes; ++i) {
        counts_equal &= naive_counts[static_cast<std::size_t>(i)] == m.data_handle()[i];
#if DETSEG_HAS_OPENMP
        counts_equal &= batch_counts[static_cast<std::size_t>(i)] == m.data_handle()[i];
#endif
    }

    return "{\"case\": \"" + name + "\", \"images\": " + std::to_string(n) +
           ", \"height\": " + std::to_string(h) + ", \"width\": " + std::to_string(w) +
           ", \"update_1t\": " + json(one) + ", \"batch_1t\": " + json(batch_one) +
           ", \"batch_2t\": " + two_json + ", \"naive\": " + json(naive) +
           ", \"counts_equal\": " + (counts_equal ? "true" : "false") + "}";
}

} // namespace

int main(int argc, char** argv) {
    try {
        int reps = 21;
        index_t classes = 0;
        std::vector<std::string> args;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--reps" && i + 1 < argc)
                reps = std::atoi(argv[++i]);
            else if (a == "--classes" && i + 1 < argc)
                classes = std::atoll(argv[++i]);
            else
                args.push_back(a);
        }
        if (args.size() < 2 || reps < 1 || classes < 1) {
            std::fprintf(stderr, "usage: time_miou [--reps R] --classes K <dir> <case>...\n");
            return 2;
        }
        std::string out = "{\"compiler\": \"" __VERSION__ "\", \"cases\": [";
        for (std::size_t k = 1; k < args.size(); ++k)
            out += (k > 1 ? ", " : "") + run_case(args[0], args[k], classes, reps);
        std::printf("%s]}\n", out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "time_miou: %s\n", e.what());
        return 1;
    }
}
