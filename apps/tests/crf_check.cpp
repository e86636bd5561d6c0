// Checks the files `detseg crf` wrote (apps/tests/CMakeLists.txt):
//
//   detseg_crf_check api [--unary] --preset NAME --iters N  IMAGE.npy INPUT.npy LABELS Q|- ...
//       For each group of four: runs the C++ API on IMAGE.npy (uint8 H×W×3) and INPUT.npy
//       (float32 probabilities L×H×W, or with --unary energies L×H×W or L×(H·W)) and requires
//       the LABELS file (.png or .npy) and the Q file (.npy; '-' for none) to equal its results
//       exactly.
//   detseg_crf_check parity LABELS REF_LABELS.npy MIN_AGREE [Q.npy REF_Q.npy MAX_MEAN_DQ]
//       Requires the labels to agree with pydensecrf's on at least MIN_AGREE of the pixels and
//       the mean |ΔQ| to be at most MAX_MEAN_DQ.
//   detseg_crf_check parity-many MIN_AGREE LABELS REF_LABELS.npy ...
//       The label check for several pairs.
//
// Exit status 0 when every check passes, 1 otherwise (with the figures on stderr).

#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/io/png.hpp>
#include <detseg/seg/crf_presets.hpp>
#include <detseg/seg/dense_crf.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using detseg::index_t;

/// A label file as int32 H×W: .png (8/16-bit) or .npy (uint8 or uint16).
detseg::tensor<std::int32_t, 2> load_labels(const std::string& path) {
    detseg::tensor<std::int32_t, 2> out;
    auto widen = [&](const auto& t) {
        out = detseg::tensor<std::int32_t, 2>(t.extents());
        for (index_t i = 0; i < t.size(); ++i)
            out.data()[i] = static_cast<std::int32_t>(t.data()[i]);
    };
    if (std::filesystem::path(path).extension() == ".png") {
        widen(detseg::load_png_labels<std::uint16_t>(path));
    } else {
        const detseg::npy_array a = detseg::load_npy(path);
        if (a.holds<std::uint8_t>())
            widen(a.as<std::uint8_t, 2>());
        else
            widen(a.as<std::uint16_t, 2>());
    }
    return out;
}

bool api(const std::vector<std::string>& args) {
    bool unary = false;
    std::string preset = "readme";
    int iters = 10;
    std::vector<std::string> files;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--unary")
            unary = true;
        else if (args[i] == "--preset" && i + 1 < args.size())
            preset = args[++i];
        else if (args[i] == "--iters" && i + 1 < args.size())
            iters = std::atoi(args[++i].c_str());
        else
            files.push_back(args[i]);
    }
    if (files.empty() || files.size() % 4 != 0)
        throw std::runtime_error("api: expected groups of IMAGE INPUT LABELS Q");
    bool ok = true;
    for (std::size_t g = 0; g < files.size(); g += 4) {
        const auto image = detseg::load_npy(files[g]).as<std::uint8_t, 3>();
        const index_t H = image.extent(0), W = image.extent(1);
        detseg::npy_array input = detseg::load_npy(files[g + 1]);
        const index_t L = input.shape.at(0);
        input.shape = {L, H, W}; // an L×(H·W) unary is the same bytes
        const auto values = input.as<float, 3>();
        detseg::tensor<float, 3> q({L, H, W});
        if (unary) {
            // the general API: a dense_crf with the preset's kernels
            detseg::dense_crf<float> crf(H, W, L);
            crf.set_unary_energy(values);
            detseg::add_crf_preset(crf, detseg::crf_preset_by_name(preset), image);
            crf.inference(iters, q.view());
        } else {
            // the one-call API
            detseg::crf_refine(values, image, q.view(), detseg::crf_preset_by_name(preset), iters);
        }
        // the first argmax, as dense_crf::map
        detseg::tensor<std::int32_t, 2> labels({H, W});
        for (index_t y = 0; y < H; ++y)
            for (index_t x = 0; x < W; ++x) {
                index_t best = 0;
                for (index_t l = 1; l < L; ++l)
                    if (q(l, y, x) > q(best, y, x))
                        best = l;
                labels(y, x) = static_cast<std::int32_t>(best);
            }
        const auto got = load_labels(files[g + 2]);
        index_t differ = got.extents() == labels.extents() ? 0 : -1;
        for (index_t i = 0; differ >= 0 && i < labels.size(); ++i)
            differ += got.data()[i] != labels.data()[i];
        std::fprintf(stderr, "%s: %td of %td labels differ from the API's\n", files[g + 2].c_str(),
                     differ, labels.size());
        ok &= differ == 0;
        if (files[g + 3] != "-") {
            const auto got_q = detseg::load_npy(files[g + 3]).as<float, 3>();
            index_t q_differ = got_q.extents() == q.extents() ? 0 : -1;
            for (index_t i = 0; q_differ >= 0 && i < q.size(); ++i)
                q_differ += got_q.data()[i] != q.data()[i];
            std::fprintf(stderr, "%s: %td of %td values differ from the API's Q\n",
                         files[g + 3].c_str(), q_differ, q.size());
            ok &= q_differ == 0;
        }
    }
    return ok;
}

bool parity(const std::vector<std::string>& a) {
    if (a.size() != 3 && a.size() != 6)
        throw std::runtime_error("parity: LABELS REF MIN_AGREE [Q REF_Q MAX_MEAN_DQ]");
    const auto got = load_labels(a[0]);
    const auto ref = load_labels(a[1]);
    if (got.extents() != ref.extents())
        throw std::runtime_error("parity: the label maps differ in size");
    index_t same = 0;
    for (index_t i = 0; i < got.size(); ++i)
        same += got.data()[i] == ref.data()[i];
    const double agree = static_cast<double>(same) / static_cast<double>(got.size());
    bool ok = agree >= std::atof(a[2].c_str());
    std::fprintf(stderr, "labels agree with pydensecrf on %.4f%% of %td pixels (at least %s)\n",
                 100 * agree, got.size(), a[2].c_str());
    if (a.size() == 6) {
        const auto q = detseg::load_npy(a[3]).as<float, 3>();
        const auto q_ref = detseg::load_npy(a[4]).as<float, 3>();
        if (q.extents() != q_ref.extents())
            throw std::runtime_error("parity: the Q arrays differ in size");
        double sum = 0, worst = 0;
        for (index_t i = 0; i < q.size(); ++i) {
            const double d = std::abs(static_cast<double>(q.data()[i]) - q_ref.data()[i]);
            sum += d;
            worst = std::max(worst, d);
        }
        const double mean = sum / static_cast<double>(q.size());
        ok &= mean <= std::atof(a[5].c_str());
        std::fprintf(stderr, "mean |dQ| %.3g (at most %s), max %.3g\n", mean, a[5].c_str(), worst);
    }
    return ok;
}

} // namespace

int main(int argc, char** argv) {
    try {
        const std::vector<std::string> args(argv + 1, argv + argc);
        if (args.empty() || (args[0] != "api" && args[0] != "parity" && args[0] != "parity-many")) {
            std::fprintf(stderr, "usage: detseg_crf_check api|parity|parity-many ...\n");
            return 2;
        }
        const std::vector<std::string> rest(args.begin() + 1, args.end());
        if (args[0] == "parity-many") {
            if (rest.size() < 3 || rest.size() % 2 != 1)
                throw std::runtime_error("parity-many: MIN_AGREE LABELS REF [LABELS REF]...");
            bool ok = true;
            for (std::size_t k = 1; k < rest.size(); k += 2)
                ok &= parity({rest[k], rest[k + 1], rest[0]});
            return ok ? 0 : 1;
        }
        return (args[0] == "api" ? api(rest) : parity(rest)) ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "detseg_crf_check: %s\n", e.what());
        return 1;
    }
}
