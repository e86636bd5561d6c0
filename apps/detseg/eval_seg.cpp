// `detseg eval seg`: the mIoU family (mmsegmentation's definition) over two directories of PNG
// label maps matched by file name: a per-class table and the summary on stdout, a progress bar
// on stderr, and a JSON file with every figure in full precision.

#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/io/png.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>

#include "cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace detseg_cli {

const char* eval_seg_help() {
    return R"(usage: detseg eval seg --gt DIR --pred DIR --num-classes N [options]

Semantic-segmentation evaluation of PNG label maps: every *.png in --gt is compared with the
file of the same name in --pred (8- or 16-bit grayscale, or palette: the indices are the
labels). The metrics are mmsegmentation's (IoU, Acc, Dice, Precision per class; mIoU, mAcc,
aAcc; classes absent from both ground truth and prediction are left out of the means), plus
fwIoU; see docs/segmentation-metrics.md. Prints a per-class table (percent) and the summary on
stdout; a progress bar (a plain count when stderr is not a terminal) goes to stderr.

options:
  --gt DIR               ground-truth label maps (*.png; other files are ignored)
  --pred DIR             predictions, same file names, same sizes
  --num-classes N        classes 0..N-1
  --ignore V|none        ground-truth value to skip (default 255; 'none': no ignore index)
  --mmseg-out-of-range   count labels outside [0, N) as mmseg does instead of failing
  --allow-extra          accept predictions without a ground truth (they are not read)
  --json FILE            write {"num_classes", "ignore_index", "out_of_range", "images",
                         "summary", "per_class"}; numbers with 17 significant digits, null
                         for NaN (a class with a zero denominator)
  --threads N            threads reading and counting images (OpenMP; default:
                         OMP_NUM_THREADS or all cores); results are identical for every N
  -h, --help             this text

exit status: 0 on success, 1 when a file is missing, unreadable, not a one-channel PNG, of a
different size than its ground truth, or holds a label out of range (the message names the
file), 2 on a wrong command line.
)";
}

namespace {

namespace fs = std::filesystem;

/// The names of the regular `*.png` files in `dir`, sorted. @throws detseg::io_error.
std::vector<std::string> png_names(const std::string& dir, const char* option) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw detseg::io_error(detseg::detail::concat(option, " '", dir, "': not a directory"));
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        if (p.extension() == ".png" && it->is_regular_file(ec))
            names.push_back(p.filename().string());
    }
    if (ec)
        throw detseg::io_error(
            detseg::detail::concat(option, " '", dir, "': cannot list: ", ec.message()));
    std::sort(names.begin(), names.end());
    return names;
}

/// The labels of one PNG as 16-bit values (8-bit files widened). @throws detseg::io_error.
detseg::tensor<std::uint16_t, 2> read_labels(const std::string& path) {
    return detseg::load_png_labels<std::uint16_t>(path);
}

/// Progress on stderr: a bar redrawn in place on a terminal, else a line per tenth.
class progress {
public:
    explicit progress(std::size_t total) : total_(total), tty_(isatty(STDERR_FILENO) == 1) {}

    /// One more image done (call under a lock).
    void step() {
        ++done_;
        if (tty_) {
            const int width = 30;
            const auto filled = static_cast<int>(done_ * width / total_);
            std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu images", filled,
                         "##############################", width - filled, "", done_, total_);
            if (done_ == total_)
                std::fputc('\n', stderr);
        } else if (done_ * 10 / total_ != (done_ - 1) * 10 / total_ || done_ == total_) {
            std::fprintf(stderr, "eval seg: %zu/%zu images\n", done_, total_);
        }
        std::fflush(stderr);
    }

    /// Ends a bar left unfinished by an error.
    void abort() const {
        if (tty_ && done_ != total_)
            std::fputc('\n', stderr);
    }

private:
    std::size_t total_, done_ = 0;
    bool tty_;
};

std::string percent(double v) {
    if (std::isnan(v))
        return "nan";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", 100 * v);
    return buf;
}

std::string json_value(double v) {
    return std::isnan(v) ? std::string("null") : json_number(v);
}

} // namespace

int eval_seg_main(std::span<const std::string_view> args) {
    std::string gt_dir, pred_dir, json_path;
    int num_classes = 0, threads = 0;
    std::optional<std::int64_t> ignore = 255;
    bool mmseg = false, allow_extra = false;
    arg_reader r("detseg eval seg", args);
    while (r.more()) {
        const std::string_view opt = r.next();
        if (opt == "--gt")
            gt_dir = r.value();
        else if (opt == "--pred")
            pred_dir = r.value();
        else if (opt == "--json")
            json_path = r.value();
        else if (opt == "--num-classes")
            num_classes = r.positive_int();
        else if (opt == "--threads")
            threads = r.positive_int();
        else if (opt == "--ignore") {
            const std::string v = r.value();
            if (v == "none") {
                ignore.reset();
            } else {
                std::size_t used = 0;
                long long n = -1;
                try {
                    n = std::stoll(v, &used);
                } catch (const std::exception&) {
                    used = 0;
                }
                if (used != v.size() || v.empty())
                    throw usage_error("--ignore needs an integer or 'none', got '" + v + "'");
                ignore = n;
            }
        } else if (opt == "--mmseg-out-of-range") {
            r.flag();
            mmseg = true;
        } else if (opt == "--allow-extra") {
            r.flag();
            allow_extra = true;
        } else
            throw usage_error("unknown argument '" + std::string(opt) + "'");
    }
    if (gt_dir.empty())
        throw usage_error("--gt is required");
    if (pred_dir.empty())
        throw usage_error("--pred is required");
    if (num_classes == 0)
        throw usage_error("--num-classes is required");
    if (num_classes > detseg::confusion_matrix::max_classes)
        throw usage_error(detseg::detail::concat("--num-classes must be at most ",
                                                 detseg::confusion_matrix::max_classes));
    if (threads > 0) {
#if DETSEG_HAS_OPENMP
        omp_set_num_threads(threads);
#else
        if (threads > 1)
            std::fprintf(stderr, "detseg eval seg: built without OpenMP: --threads %d ignored\n",
                         threads);
#endif
    }

    // Pair the files by name: every ground truth needs a prediction.
    const std::vector<std::string> names = png_names(gt_dir, "--gt");
    if (names.empty())
        throw detseg::io_error("--gt '" + gt_dir + "': no *.png file");
    const std::vector<std::string> pred_names = png_names(pred_dir, "--pred");
    const std::set<std::string> pred_set(pred_names.begin(), pred_names.end());
    for (const std::string& n : names)
        if (!pred_set.contains(n))
            throw detseg::io_error(detseg::detail::concat("'", (fs::path(pred_dir) / n).string(),
                                                          "': missing (the prediction for '",
                                                          (fs::path(gt_dir) / n).string(), "')"));
    if (!allow_extra) {
        const std::set<std::string> gt_set(names.begin(), names.end());
        for (const std::string& n : pred_names)
            if (!gt_set.contains(n))
                throw detseg::io_error(
                    detseg::detail::concat("'", (fs::path(pred_dir) / n).string(),
                                           "': a prediction without a ground truth in '", gt_dir,
                                           "' (--allow-extra accepts it)"));
    }

    const detseg::confusion_matrix_params params{.ignore_index = ignore,
                                                 .out_of_range =
                                                     mmseg ? detseg::out_of_range_policy::mmseg
                                                           : detseg::out_of_range_policy::error};
    const detseg::confusion_matrix empty(num_classes, params);
    const auto n_images = static_cast<detseg::index_t>(names.size());
    const int n_threads = std::max(1, detseg::max_threads());
    std::vector<detseg::confusion_matrix> per_thread(static_cast<std::size_t>(n_threads), empty);
    // The error of the first failing image in name order (not the first to fail in time), so
    // the message is the same for every thread count.
    std::vector<std::string> errors(names.size());
    std::atomic<detseg::index_t> first_error{n_images};
    progress bar(names.size());

    const auto t0 = std::chrono::steady_clock::now();
    auto evaluate = [&](detseg::index_t i, int thread) {
        if (i > first_error.load())
            return;
        const std::string& n = names[static_cast<std::size_t>(i)];
        const std::string gt_path = (fs::path(gt_dir) / n).string();
        const std::string pred_path = (fs::path(pred_dir) / n).string();
        try {
            const auto gt = read_labels(gt_path);
            const auto pred = read_labels(pred_path);
            if (gt.extents() != pred.extents())
                throw detseg::io_error(detseg::detail::concat(
                    "'", pred_path, "': size ", pred.extent(1), "x", pred.extent(0),
                    " (width x height) differs from the ground truth '", gt_path,
                    "': ", gt.extent(1), "x", gt.extent(0)));
            try {
                per_thread[static_cast<std::size_t>(thread)].update(gt, pred);
            } catch (const detseg::invalid_argument& e) {
                // e.g. "value 7 at (2, 3) is not a class in [0, 5)": (row, column)
                throw detseg::io_error(detseg::detail::concat(
                    "'", e.argument() == "gt" ? gt_path : pred_path, "': ", e.reason(),
                    " (position: row, column; --mmseg-out-of-range counts such labels)"));
            }
        } catch (const std::exception& e) {
            errors[static_cast<std::size_t>(i)] = e.what();
            detseg::index_t cur = first_error.load();
            while (i < cur && !first_error.compare_exchange_weak(cur, i)) {
            }
            return;
        }
#if DETSEG_HAS_OPENMP
#pragma omp critical(detseg_eval_seg_progress)
#endif
        bar.step();
    };
#if DETSEG_HAS_OPENMP
#pragma omp parallel for schedule(dynamic, 1)
    for (detseg::index_t i = 0; i < n_images; ++i)
        evaluate(i, omp_get_thread_num());
#else
    for (detseg::index_t i = 0; i < n_images; ++i)
        evaluate(i, 0);
#endif
    const detseg::index_t bad = first_error.load();
    if (bad < n_images) {
        bar.abort();
        throw detseg::io_error(errors[static_cast<std::size_t>(bad)]);
    }
    // Integer counts: the merge is exact; in thread order all the same.
    detseg::confusion_matrix cm = empty;
    for (const detseg::confusion_matrix& part : per_thread)
        cm.merge(part);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "%zu images, %.1f ms, %d thread(s)\n", names.size(), ms, n_threads);

    const detseg::seg_metrics m = detseg::compute_seg_metrics(cm);
    std::printf("%6s %8s %8s %8s %10s %12s %12s\n", "class", "IoU", "Acc", "Dice", "Precision",
                "gt pixels", "pred pixels");
    for (int c = 0; c < num_classes; ++c) {
        const auto k = static_cast<std::size_t>(c);
        std::printf("%6d %8s %8s %8s %10s %12llu %12llu\n", c, percent(m.iou[k]).c_str(),
                    percent(m.acc[k]).c_str(), percent(m.dice[k]).c_str(),
                    percent(m.precision[k]).c_str(),
                    static_cast<unsigned long long>(m.area_label[k]),
                    static_cast<unsigned long long>(m.area_pred_label[k]));
    }
    std::printf("\nmIoU %s  mAcc %s  aAcc %s  fwIoU %s  (%%, %zu images)\n",
                percent(m.miou).c_str(), percent(m.macc).c_str(), percent(m.aacc).c_str(),
                percent(m.fwiou).c_str(), names.size());
    std::fflush(stdout);

    if (!json_path.empty()) {
        std::string j = detseg::detail::concat("{\n  \"num_classes\": ", num_classes,
                                               ",\n  \"ignore_index\": ");
        j += ignore ? std::to_string(*ignore) : std::string("null");
        j += mmseg ? ",\n  \"out_of_range\": \"mmseg\"" : ",\n  \"out_of_range\": \"error\"";
        j += ",\n  \"images\": " + std::to_string(names.size());
        j += ",\n  \"summary\": {\"aAcc\": " + json_value(m.aacc);
        j += ", \"mIoU\": " + json_value(m.miou);
        j += ", \"mAcc\": " + json_value(m.macc);
        j += ", \"mDice\": " + json_value(m.mdice);
        j += ", \"mPrecision\": " + json_value(m.mprecision);
        j += ", \"fwIoU\": " + json_value(m.fwiou);
        j += "},\n  \"per_class\": [\n";
        for (int c = 0; c < num_classes; ++c) {
            const auto k = static_cast<std::size_t>(c);
            j += detseg::detail::concat(c ? ",\n" : "", "    {\"class\": ", c);
            j += ", \"IoU\": " + json_value(m.iou[k]);
            j += ", \"Acc\": " + json_value(m.acc[k]);
            j += ", \"Dice\": " + json_value(m.dice[k]);
            j += ", \"Precision\": " + json_value(m.precision[k]);
            j += detseg::detail::concat(", \"area_intersect\": ", m.area_intersect[k],
                                        ", \"area_union\": ", m.area_union[k],
                                        ", \"area_pred\": ", m.area_pred_label[k],
                                        ", \"area_gt\": ", m.area_label[k], "}");
        }
        j += "\n  ]\n}\n";
        std::ofstream out(json_path, std::ios::binary);
        out << j;
        out.close();
        if (!out)
            throw detseg::io_error("cannot write '" + json_path + "'");
    }
    return 0;
}

} // namespace detseg_cli
