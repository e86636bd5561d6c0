// `detseg crf`: dense-CRF refinement of per-class probabilities (or unary energies) with the
// permutohedral mean field of detseg/seg/dense_crf.hpp: one image, or every file of a folder
// (matched by file stem, in name order) with a progress bar on stderr.

#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/io/png.hpp>
#include <detseg/seg/crf_presets.hpp>
#include <detseg/seg/dense_crf.hpp>

#include "cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace detseg_cli {

const char* crf_help() {
    return R"(usage: detseg crf --image IMG --prob PROB.npy --out LABELS [options]
       detseg crf --image-dir DIR --prob-dir DIR --out-dir DIR [options]

Refines a segmentation with a fully connected CRF (Kraehenbuehl & Koltun; pydensecrf's
conventions): a Gaussian kernel on position and a bilateral kernel on position and colour, both
Potts, mean-field inference on a permutohedral lattice. Writes the MAP labels (first argmax of
Q) and optionally Q. See docs/crf.md.

one image:
  --image FILE        the image: PNG (RGB; gray and palette are expanded to RGB, alpha is
                      dropped, 16-bit samples keep their high byte, no gamma: as OpenCV's
                      imread) or .npy (uint8 or float32 H x W x C, or H x W as one channel)
  --prob FILE         .npy float32/float64 L x H x W probabilities; unary -log(clip(p, 1e-5, 1))
  --unary FILE        instead of --prob: .npy float32/float64 energies, L x H x W or L x (H*W)
                      (pydensecrf's layout)
  --labels FILE       instead of --prob: a label map, PNG (gray or palette) or integer .npy
                      H x W, with --num-labels L and --gt-prob P (default 0.5): the given label
                      gets -log(P), the others -log((1 - P)/(L - 1)) (pydensecrf's
                      unary_from_labels); value 0 is "unsure" (uniform) and 1..L are the labels
                      0..L-1, unless --no-zero-unsure (then 0..L-1 are the labels)
  --out FILE          the labels: .png (8-bit gray; 16-bit when L > 256) or .npy (uint8; uint16
                      when L > 256)
  --q-out FILE        also write Q, .npy float32 L x H x W

a folder (every *.npy of --prob-dir or --unary-dir, or *.png and *.npy of --labels-dir, in
name order; the image of STEM is STEM.png or STEM.npy in --image-dir; other images are
ignored):
  --image-dir DIR, --prob-dir DIR | --unary-dir DIR | --labels-dir DIR, --out-dir DIR
  --q-out-dir DIR     also write Q as DIR/STEM.npy
  --format png|npy    the labels' format in --out-dir (default png)
  --progress          show the progress on stderr even when it is not a terminal (one line per
                      image); on a terminal a bar is always shown

parameters:
  --preset NAME       readme (default: Gaussian sxy 3 w 3, bilateral sxy 80 srgb 13 w 10),
                      deeplab-v2-resnet101 (1 3, 67 3 4) or deeplab-v2-vgg16 (2 2, 65 3 4)
  --iters N           mean-field iterations (default 10; 0 gives softmax(-unary))
  --gauss-sxy S, --gauss-w W, --bi-sxy S, --bi-srgb S, --bi-w W
                      override one value of the preset
  --normalization M   symmetric (default), after, before or none (pydensecrf's modes)
  --exact-spatial     the Gaussian kernel as an exact separable filter (no lattice error)
  --brute-force       exact O(N^2) mean field for both kernels (small images only)
  --threads N         OpenMP threads (default: OMP_NUM_THREADS or all cores); the results are
                      identical for every N
  -h, --help          this text

exit status: 0 on success, 1 when a file is missing or unreadable, the sizes of the image and
the probabilities differ, or a value is invalid (the message names the file), 2 on a wrong
command line.
)";
}

namespace {

namespace fs = std::filesystem;
using detseg::index_t;

[[noreturn]] void file_error(const std::string& path, const std::string& what) {
    throw detseg::io_error(detseg::detail::concat("'", path, "': ", what));
}

// --- inputs ----------------------------------------------------------------------------------

/// An H×W×C image as stored: 8-bit (PNG, uint8 .npy) or float (float32/float64 .npy).
struct image {
    detseg::tensor<std::uint8_t, 3> u8;
    detseg::tensor<float, 3> f32;
    bool is_float = false;
    [[nodiscard]] index_t height() const { return is_float ? f32.extent(0) : u8.extent(0); }
    [[nodiscard]] index_t width() const { return is_float ? f32.extent(1) : u8.extent(1); }
};

void require_file(const std::string& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        file_error(path, fs::exists(path, ec) ? "not a regular file" : "no such file");
}

bool has_extension(const std::string& path, const char* ext) {
    return fs::path(path).extension() == ext;
}

image read_image(const std::string& path) {
    require_file(path);
    image im;
    if (has_extension(path, ".png")) {
        im.u8 = detseg::load_png_rgb(path);
        return im;
    }
    if (!has_extension(path, ".npy"))
        file_error(path, "the image must be a .png or a .npy file");
    detseg::npy_array a = detseg::load_npy(path);
    if (a.shape.size() != 2 && a.shape.size() != 3)
        file_error(path, detseg::detail::concat("an image must be H x W x C or H x W, got rank ",
                                                a.shape.size()));
    const index_t h = a.shape[0], w = a.shape[1], c = a.shape.size() == 3 ? a.shape[2] : 1;
    if (h < 1 || w < 1 || c < 1)
        file_error(path, "the image is empty");
    a.shape = {h, w, c};
    const detseg::npy_array& flat = a;
    if (a.holds<std::uint8_t>() || (a.kind == 'b' && a.itemsize == 1)) {
        im.u8 = flat.as<std::uint8_t, 3>();
    } else if (a.holds<float>()) {
        im.f32 = flat.as<float, 3>();
        im.is_float = true;
    } else if (a.holds<double>()) {
        const auto d = flat.as<double, 3>();
        im.f32 = detseg::tensor<float, 3>({h, w, c});
        std::transform(d.data(), d.data() + h * w * c, im.f32.data(),
                       [](double v) { return static_cast<float>(v); });
        im.is_float = true;
    } else {
        file_error(path, detseg::detail::concat("an image .npy must be uint8, float32 or float64, "
                                                "got dtype '",
                                                a.kind, a.itemsize, "'"));
    }
    return im;
}

/// Probabilities or energies: L×H×W (or L×N) float32 or float64, as loaded.
struct unary_file {
    detseg::npy_array array;
    index_t labels = 0;
};

unary_file read_unary(const std::string& path, const char* what) {
    require_file(path);
    if (!has_extension(path, ".npy"))
        file_error(path, detseg::detail::concat("the ", what, " must be a .npy file"));
    unary_file u{detseg::load_npy(path), 0};
    const auto& a = u.array;
    if (!a.holds<float>() && !a.holds<double>())
        file_error(path, detseg::detail::concat("the ", what,
                                                " must be float32 or float64, got "
                                                "dtype '",
                                                a.kind, a.itemsize, "'"));
    if (a.shape.size() != 3 && a.shape.size() != 2)
        file_error(path,
                   detseg::detail::concat("the ", what, " must be L x H x W",
                                          std::string_view(what) == "unary" ? " or L x (H*W)" : "",
                                          ", got rank ", a.shape.size()));
    u.labels = a.shape[0];
    return u;
}

std::string shape_text(const std::vector<index_t>& shape) {
    std::string s;
    for (std::size_t i = 0; i < shape.size(); ++i)
        s += detseg::detail::concat(i ? " x " : "", shape[i]);
    return s;
}

/// An H×W integer label map: PNG (8/16-bit gray or palette) or an integer .npy.
detseg::tensor<std::int64_t, 2> read_label_map(const std::string& path) {
    require_file(path);
    detseg::tensor<std::int64_t, 2> out;
    auto widen = [&](const auto& t) {
        out = detseg::tensor<std::int64_t, 2>(t.extents());
        std::copy(t.data(), t.data() + t.size(), out.data());
    };
    if (has_extension(path, ".png")) {
        widen(detseg::load_png_labels<std::uint16_t>(path));
        return out;
    }
    if (!has_extension(path, ".npy"))
        file_error(path, "a label map must be a .png or a .npy file");
    const detseg::npy_array a = detseg::load_npy(path);
    if (a.shape.size() != 2)
        file_error(path,
                   detseg::detail::concat("a label map must be H x W, got rank ", a.shape.size()));
    if (a.holds<std::uint8_t>() || (a.kind == 'b' && a.itemsize == 1))
        widen(a.as<std::uint8_t, 2>());
    else if (a.holds<std::uint16_t>())
        widen(a.as<std::uint16_t, 2>());
    else if (a.holds<std::int32_t>())
        widen(a.as<std::int32_t, 2>());
    else if (a.holds<std::int64_t>())
        widen(a.as<std::int64_t, 2>());
    else if (a.holds<std::int8_t>())
        widen(a.as<std::int8_t, 2>());
    else if (a.holds<std::int16_t>())
        widen(a.as<std::int16_t, 2>());
    else if (a.holds<std::uint32_t>())
        widen(a.as<std::uint32_t, 2>());
    else
        file_error(path, detseg::detail::concat("a label map .npy must hold integers, got dtype '",
                                                a.kind, a.itemsize, "'"));
    return out;
}

// --- one image -------------------------------------------------------------------------------

struct settings {
    detseg::crf_preset preset = detseg::crf_preset::readme();
    int iterations = 10;
    detseg::crf_normalization normalization = detseg::crf_normalization::symmetric;
    detseg::crf_options options;
    enum class input { prob, unary, labels } kind = input::prob;
    index_t num_labels = 0; // --labels: L
    double gt_prob = 0.5;   // --labels: the confidence of the given label
    bool zero_unsure = true;
};

struct job {
    std::string image, input, out, q_out;
};

/// Writes H×W labels (int32, in [0, L)) as 8-bit (L ≤ 256) or 16-bit PNG / .npy.
void write_labels(const std::string& path, const detseg::tensor<std::int32_t, 2>& labels,
                  index_t num_labels) {
    const index_t h = labels.extent(0), w = labels.extent(1);
    auto write = [&](auto zero) {
        using L = decltype(zero);
        detseg::tensor<L, 2> out({h, w});
        std::transform(labels.data(), labels.data() + h * w, out.data(),
                       [](std::int32_t v) { return static_cast<L>(v); });
        if (has_extension(path, ".npy"))
            detseg::save_npy(path, out);
        else
            detseg::save_png_labels(path, out);
    };
    if (num_labels <= 256)
        write(std::uint8_t{0});
    else
        write(std::uint16_t{0});
}

/// Sets the unary of `crf` (created here: the label count comes from the input) from the job's
/// probabilities, energies or label map, after checking its size against the image's.
detseg::dense_crf<float> make_crf(const job& j, const settings& s, index_t H, index_t W) {
    auto check_labels = [&](index_t L) {
        if (L < 1)
            file_error(j.input, "no labels (L = 0)");
        if (L > 65536)
            file_error(j.input, detseg::detail::concat(L, " labels: at most 65536 are supported"));
    };
    auto size_error = [&](const std::vector<index_t>& shape, const char* layout) {
        throw detseg::io_error(detseg::detail::concat("'", j.input, "' is ", shape_text(shape),
                                                      " (", layout, ") but the image '", j.image,
                                                      "' is ", H, " x ", W, " (H x W)"));
    };
    if (s.kind == settings::input::labels) {
        const auto map = read_label_map(j.input);
        if (map.extent(0) != H || map.extent(1) != W)
            size_error({map.extent(0), map.extent(1)}, "H x W");
        check_labels(s.num_labels);
        detseg::dense_crf<float> crf(H, W, s.num_labels, s.options);
        try {
            crf.set_unary_from_labels(map, s.gt_prob, s.zero_unsure);
        } catch (const detseg::invalid_argument& e) {
            file_error(j.input, e.reason());
        }
        return crf;
    }
    const bool energies = s.kind == settings::input::unary;
    unary_file u = read_unary(j.input, energies ? "unary" : "probabilities");
    const index_t L = u.labels;
    const std::vector<index_t> shape = u.array.shape;
    if (shape.size() == 3 ? (shape[1] != H || shape[2] != W) : (!energies || shape[1] != H * W))
        size_error(shape, shape.size() == 3 ? "L x H x W" : "L x N");
    check_labels(L);
    detseg::dense_crf<float> crf(H, W, L, s.options);
    try {
        // the file as L×H×W (an L×N unary is the same bytes)
        detseg::npy_array& flat = u.array;
        flat.shape = {L, H, W};
        auto set = [&](const auto& t) {
            std::vector<std::byte>().swap(flat.bytes); // the file's bytes are no longer needed
            energies ? crf.set_unary_energy(t) : crf.set_unary_from_prob(t);
        };
        if (flat.holds<float>())
            set(flat.as<float, 3>());
        else
            set(flat.as<double, 3>());
    } catch (const detseg::invalid_argument& e) {
        file_error(j.input, e.reason());
    }
    return crf;
}

void run_job(const job& j, const settings& s) {
    const image im = read_image(j.image);
    const index_t H = im.height(), W = im.width();
    detseg::dense_crf<float> crf = make_crf(j, s, H, W);
    const index_t L = crf.labels();
    try {
        if (im.is_float)
            detseg::add_crf_preset(crf, s.preset, im.f32, s.normalization);
        else
            detseg::add_crf_preset(crf, s.preset, im.u8, s.normalization);
    } catch (const detseg::invalid_argument& e) {
        file_error(j.image, e.what());
    }

    detseg::tensor<std::int32_t, 2> labels({H, W});
    if (!j.q_out.empty()) {
        detseg::tensor<float, 3> q({L, H, W});
        crf.inference(s.iterations, q.view());
        crf.current_map(labels.view());
        detseg::save_npy(j.q_out, q);
    } else {
        crf.map(s.iterations, labels.view());
    }
    write_labels(j.out, labels, L);
}

// --- a folder --------------------------------------------------------------------------------

/// The regular `*.npy` files in `dir` (also `*.png` with `png`), sorted by name.
/// @throws detseg::io_error, also when a stem has both a .png and a .npy.
std::vector<fs::path> input_files(const std::string& dir, const char* option, bool png) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw detseg::io_error(detseg::detail::concat(option, " '", dir, "': not a directory"));
    std::vector<fs::path> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        if ((p.extension() == ".npy" || (png && p.extension() == ".png")) &&
            it->is_regular_file(ec))
            files.push_back(p);
    }
    if (ec)
        throw detseg::io_error(
            detseg::detail::concat(option, " '", dir, "': cannot list: ", ec.message()));
    std::sort(files.begin(), files.end());
    for (std::size_t k = 1; k < files.size(); ++k)
        if (files[k].stem() == files[k - 1].stem())
            throw detseg::io_error(detseg::detail::concat(
                option, " '", dir, "': both ", files[k - 1].filename().string(), " and ",
                files[k].filename().string(), " exist (one input per image)"));
    return files;
}

void require_directory(const std::string& dir, const char* option) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw detseg::io_error(detseg::detail::concat(option, " '", dir, "': not a directory"));
}

/// Progress on stderr: a bar redrawn in place on a terminal, else (when forced) a line per image.
class progress {
public:
    progress(std::size_t total, bool forced)
        : total_(total), tty_(isatty(STDERR_FILENO) == 1), shown_(tty_ || forced),
          start_(std::chrono::steady_clock::now()) {}

    void step(const std::string& name) {
        ++done_;
        if (!shown_)
            return;
        const double s = seconds();
        if (tty_) {
            const int width = 30;
            const auto filled = static_cast<int>(done_ * width / total_);
            std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu images, %.1f s", filled,
                         "##############################", width - filled, "", done_, total_, s);
            if (done_ == total_)
                std::fputc('\n', stderr);
        } else {
            std::fprintf(stderr, "crf: %zu/%zu %s\n", done_, total_, name.c_str());
        }
        std::fflush(stderr);
    }

    void abort() const {
        if (tty_ && done_ != total_)
            std::fputc('\n', stderr);
    }

    void finish(int threads) const {
        if (shown_)
            std::fprintf(stderr, "%zu images, %.1f s, %d thread(s)\n", done_, seconds(), threads);
    }

private:
    [[nodiscard]] double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
    std::size_t total_, done_ = 0;
    bool tty_, shown_;
    std::chrono::steady_clock::time_point start_;
};

// --- the command line ------------------------------------------------------------------------

double number(arg_reader& r, std::string_view opt, bool positive) {
    const std::string v = r.value();
    std::size_t used = 0;
    double x = 0;
    try {
        x = std::stod(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || !std::isfinite(x) || (positive && !(x > 0)))
        throw usage_error(detseg::detail::concat(opt, " needs a ", positive ? "positive " : "",
                                                 "number, got '", v, "'"));
    return x;
}

int non_negative_int(arg_reader& r, std::string_view opt) {
    const std::string v = r.value();
    std::size_t used = 0;
    int n = -1;
    try {
        n = std::stoi(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != v.size() || v.empty() || n < 0)
        throw usage_error(
            detseg::detail::concat(opt, " needs a non-negative integer, got '", v, "'"));
    return n;
}

} // namespace

int crf_main(std::span<const std::string_view> args) {
    // the one-image options and their folder counterparts, by input kind
    std::string image, input[3], out, q_out;
    std::string image_dir, input_dir[3], out_dir, q_out_dir, format = "png";
    const char* const input_option[3] = {"--prob", "--unary", "--labels"};
    const char* const input_dir_option[3] = {"--prob-dir", "--unary-dir", "--labels-dir"};
    std::string preset_name = "readme";
    std::optional<int> iters;
    std::map<std::string, double> overrides;
    bool force_progress = false, gt_prob_given = false;
    int threads = 0;
    settings s;
    arg_reader r("detseg crf", args);
    while (r.more()) {
        const std::string_view opt = r.next();
        bool matched = false;
        for (int k = 0; k < 3; ++k) {
            if (opt == input_option[k]) {
                input[k] = r.value();
                matched = true;
            } else if (opt == input_dir_option[k]) {
                input_dir[k] = r.value();
                matched = true;
            }
        }
        if (matched)
            continue;
        if (opt == "--image")
            image = r.value();
        else if (opt == "--out")
            out = r.value();
        else if (opt == "--q-out")
            q_out = r.value();
        else if (opt == "--image-dir")
            image_dir = r.value();
        else if (opt == "--out-dir")
            out_dir = r.value();
        else if (opt == "--q-out-dir")
            q_out_dir = r.value();
        else if (opt == "--format") {
            format = r.value();
            if (format != "png" && format != "npy")
                throw usage_error("--format must be png or npy, got '" + format + "'");
        } else if (opt == "--num-labels")
            s.num_labels = r.positive_int();
        else if (opt == "--gt-prob") {
            s.gt_prob = number(r, opt, true);
            gt_prob_given = true;
            if (!(s.gt_prob < 1))
                throw usage_error(
                    detseg::detail::concat("--gt-prob must be in (0, 1), got ", s.gt_prob));
        } else if (opt == "--no-zero-unsure") {
            r.flag();
            s.zero_unsure = false;
        } else if (opt == "--preset")
            preset_name = r.value();
        else if (opt == "--iters")
            iters = non_negative_int(r, opt);
        else if (opt == "--gauss-sxy" || opt == "--bi-sxy" || opt == "--bi-srgb")
            overrides[std::string(opt)] = number(r, opt, true);
        else if (opt == "--gauss-w" || opt == "--bi-w")
            overrides[std::string(opt)] = number(r, opt, false);
        else if (opt == "--normalization") {
            const std::string v = r.value();
            if (v == "symmetric")
                s.normalization = detseg::crf_normalization::symmetric;
            else if (v == "after")
                s.normalization = detseg::crf_normalization::after;
            else if (v == "before")
                s.normalization = detseg::crf_normalization::before;
            else if (v == "none")
                s.normalization = detseg::crf_normalization::none;
            else
                throw usage_error(
                    std::string("--normalization must be symmetric, after, before or none, got '")
                        .append(v)
                        .append("'"));
        } else if (opt == "--exact-spatial") {
            r.flag();
            s.options.exact_spatial = true;
        } else if (opt == "--brute-force") {
            r.flag();
            s.options.brute_force = true;
        } else if (opt == "--progress") {
            r.flag();
            force_progress = true;
        } else if (opt == "--threads")
            threads = r.positive_int();
        else
            throw usage_error("unknown argument '" + std::string(opt) + "'");
    }

    try {
        s.preset = detseg::crf_preset_by_name(preset_name);
    } catch (const detseg::invalid_argument& e) {
        throw usage_error("--preset: " + e.reason());
    }
    s.iterations = iters ? *iters : s.preset.iterations;
    for (const auto& [opt, v] : overrides) {
        if (opt == "--gauss-sxy")
            s.preset.gauss_sxy = v;
        else if (opt == "--gauss-w")
            s.preset.gauss_w = v;
        else if (opt == "--bi-sxy")
            s.preset.bi_sxy = v;
        else if (opt == "--bi-srgb")
            s.preset.bi_srgb = v;
        else
            s.preset.bi_w = v;
    }

    const bool single = !image.empty() || !input[0].empty() || !input[1].empty() ||
                        !input[2].empty() || !out.empty() || !q_out.empty();
    const bool batch = !image_dir.empty() || !input_dir[0].empty() || !input_dir[1].empty() ||
                       !input_dir[2].empty() || !out_dir.empty() || !q_out_dir.empty();
    if (single && batch)
        throw usage_error("give either --image/--prob/--out (one image) or --image-dir/"
                          "--prob-dir/--out-dir (a folder), not both");
    if (!single && !batch)
        throw usage_error("--image and --prob (or --unary or --labels) and --out are required");
    // which input: exactly one of --prob, --unary, --labels (or their -dir forms)
    const std::string* inputs = single ? input : input_dir;
    const char* const* options = single ? input_option : input_dir_option;
    int kind = -1;
    for (int k = 0; k < 3; ++k)
        if (!inputs[k].empty()) {
            if (kind >= 0)
                throw usage_error(detseg::detail::concat("give ", options[kind], " or ", options[k],
                                                         ", not both"));
            kind = k;
        }
    if (kind < 0)
        throw usage_error(detseg::detail::concat(options[0], " or ", options[1], " (or ",
                                                 options[2], ") is required"));
    s.kind = static_cast<settings::input>(kind);
    if (s.kind == settings::input::labels && s.num_labels == 0)
        throw usage_error(detseg::detail::concat(options[2], " needs --num-labels"));
    if (s.kind != settings::input::labels && (s.num_labels != 0 || gt_prob_given || !s.zero_unsure))
        throw usage_error(detseg::detail::concat("--num-labels, --gt-prob and --no-zero-unsure "
                                                 "apply to ",
                                                 options[2], " only"));
    if (single) {
        if (image.empty())
            throw usage_error("--image is required");
        if (out.empty())
            throw usage_error("--out is required");
        if (!has_extension(out, ".png") && !has_extension(out, ".npy"))
            throw usage_error("--out must end in .png or .npy, got '" + out + "'");
        if (!q_out.empty() && !has_extension(q_out, ".npy"))
            throw usage_error("--q-out must end in .npy, got '" + q_out + "'");
    } else {
        if (image_dir.empty())
            throw usage_error("--image-dir is required");
        if (out_dir.empty())
            throw usage_error("--out-dir is required");
    }
    if (threads > 0) {
#if DETSEG_HAS_OPENMP
        omp_set_num_threads(threads);
#else
        if (threads > 1)
            std::fprintf(stderr, "detseg crf: built without OpenMP: --threads %d ignored\n",
                         threads);
#endif
    }

    if (single) {
        run_job({image, input[kind], out, q_out}, s);
        return 0;
    }

    const std::string& in_dir = input_dir[kind];
    const char* in_option = input_dir_option[kind];
    require_directory(image_dir, "--image-dir");
    const std::vector<fs::path> files =
        input_files(in_dir, in_option, s.kind == settings::input::labels);
    if (files.empty())
        throw detseg::io_error(detseg::detail::concat(
            in_option, " '", in_dir,
            s.kind == settings::input::labels ? "': no *.png or *.npy file" : "': no *.npy file"));
    require_directory(out_dir, "--out-dir");
    if (!q_out_dir.empty())
        require_directory(q_out_dir, "--q-out-dir");
    // Pair every input with its image first, so a missing image fails before any work.
    std::vector<job> jobs;
    std::vector<std::string> stems;
    for (const fs::path& file : files) {
        const std::string stem = file.stem().string();
        const fs::path png = fs::path(image_dir) / (stem + ".png");
        const fs::path npy = fs::path(image_dir) / (stem + ".npy");
        std::error_code ec;
        const bool has_png = fs::is_regular_file(png, ec), has_npy = fs::is_regular_file(npy, ec);
        if (has_png && has_npy)
            throw detseg::io_error(detseg::detail::concat(
                "--image-dir '", image_dir, "': both ", stem, ".png and ", stem,
                ".npy exist (the image of '", file.string(), "' must be one file)"));
        if (!has_png && !has_npy)
            throw detseg::io_error(
                detseg::detail::concat("'", png.string(), "': missing (the image of '",
                                       file.string(), "'; ", stem, ".npy is accepted too)"));
        jobs.push_back(
            {(has_png ? png : npy).string(), file.string(),
             (fs::path(out_dir) / (stem + "." + format)).string(),
             q_out_dir.empty() ? std::string() : (fs::path(q_out_dir) / (stem + ".npy")).string()});
        stems.push_back(stem);
    }
    progress bar(jobs.size(), force_progress);
    for (std::size_t k = 0; k < jobs.size(); ++k) {
        try {
            run_job(jobs[k], s);
        } catch (...) {
            bar.abort();
            throw;
        }
        bar.step(stems[k]);
    }
    bar.finish(detseg::max_threads());
    return 0;
}

} // namespace detseg_cli
