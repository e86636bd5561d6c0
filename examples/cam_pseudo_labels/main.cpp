// From class activation maps to pseudo labels on a synthetic scene, with and without refinement.
//
// The scene (160×120, three objects of classes 1-3 on a textured background) is made here, with
// a feature map that, like a trained classifier's, responds to a discriminative part of each
// object rather than to all of it. The steps are those of PSA / IRN / ToCo:
//
//   1. CAM = ReLU(W·F) at two scales and on the flipped image, upsampled, summed, masked by the
//      image-level labels and normalised;
//   2. pseudo labels with a constant background threshold (the best of a threshold sweep), and
//      IRN's confident labels with an ignore band;
//   3. refinement: PSA's feature-affinity random walk, IRN's boundary random walk, PAR (ToCo)
//      and a dense CRF;
//
// and the mIoU of every pseudo label map against the ground truth is printed.
//
//     example_cam_pseudo_labels [--figures DIR]     (DIR: write the pictures of docs/cam.md)

#include <detseg/dense/resize.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>
#include <detseg/seg/cam.hpp>
#include <detseg/seg/cam_aggregate.hpp>
#include <detseg/seg/cam_crf.hpp>
#include <detseg/seg/cam_labels.hpp>
#include <detseg/seg/cam_sweep.hpp>
#include <detseg/seg/par.hpp>
#include <detseg/seg/random_walk.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using detseg::index_t;
using detseg::tensor;

constexpr index_t H = 120, W = 160, K = 4; // K classifier classes; classes 1-3 are in the image

/// A small portable random generator (the same numbers with every standard library).
struct rng {
    std::uint64_t s;
    double uniform() {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<double>(s >> 11) * (1.0 / 9007199254740992.0);
    }
};

struct scene {
    tensor<float, 3> image{{3, H, W}};            // C×H×W, 0-255
    tensor<std::uint8_t, 3> image_hwc{{H, W, 3}}; // for the CRF
    tensor<std::uint8_t, 2> gt{{H, W}};
    tensor<float, 3> part{{K, H, W}}; // the "discriminative part" response per class
};

scene make_scene() {
    scene s;
    rng r{12345};
    const std::array<std::array<float, 3>, 4> colour{
        {{110, 120, 105}, {200, 60, 50}, {60, 170, 80}, {70, 90, 200}}};
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x) {
            int label = 0;
            float px = 0, py = 0, spread = 1;          // part centre and size of the object here
            if (std::hypot(x - 45.0, y - 40.0) < 26) { // class 1: a disc
                label = 1;
                px = 33, py = 30, spread = 11;
            } else if (x >= 95 && x < 145 && y >= 20 && y < 62) { // class 2: a box
                label = 2;
                px = 134, py = 28, spread = 12;
            } else if (y >= 70 && y < 110 && std::abs(x - 80.0) < (y - 70) * 1.1) { // class 3
                label = 3;
                px = 80, py = 100, spread = 11;
            }
            s.gt(y, x) = static_cast<std::uint8_t>(label);
            const double texture = 12 * std::sin(x * 0.3) * std::cos(y * 0.25);
            for (index_t c = 0; c < 3; ++c) {
                const double v =
                    colour[static_cast<std::size_t>(label)][static_cast<std::size_t>(c)] +
                    (label == 0 ? texture : 0.0) + 16 * (r.uniform() - 0.5);
                s.image(c, y, x) = static_cast<float>(std::clamp(v, 0.0, 255.0));
                s.image_hwc(y, x, c) = static_cast<std::uint8_t>(s.image(c, y, x));
            }
            if (label > 0) {
                const double d2 = (x - px) * (x - px) + (y - py) * (y - py);
                s.part(label - 1, y, x) = static_cast<float>(std::exp(-d2 / (2 * spread * spread)));
            }
        }
    return s;
}

/// Features at a stride: the part responses average-pooled, plus smooth distractors.
tensor<float, 3> features(const scene& s, index_t stride, bool flipped) {
    const index_t h = H / stride, w = W / stride, c = 6;
    tensor<float, 3> f({c, h, w});
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x)
            for (index_t dy = 0; dy < stride; ++dy)
                for (index_t dx = 0; dx < stride; ++dx) {
                    const index_t sy = y * stride + dy;
                    index_t sx = x * stride + dx;
                    if (flipped)
                        sx = W - 1 - sx;
                    for (index_t k = 0; k < K; ++k)
                        f(k, y, x) += s.part(k, sy, sx) / float(stride * stride);
                    f(4, y, x) += s.image(0, sy, sx) / 255.0f / float(stride * stride);
                    f(5, y, x) += s.image(2, sy, sx) / 255.0f / float(stride * stride);
                }
    return f;
}

/// The classifier: class k reads channel k, with small weights on the distractors.
tensor<float, 2> classifier() {
    tensor<float, 2> w({K, 6});
    for (index_t k = 0; k < K; ++k) {
        w(k, k) = 4.0f;
        w(k, 4) = 0.25f - 0.1f * float(k);
        w(k, 5) = -0.2f + 0.1f * float(k);
    }
    return w;
}

double miou(const tensor<std::uint8_t, 2>& gt, const auto& labels) {
    detseg::confusion_matrix cm(K);
    cm.update(gt, labels);
    return detseg::compute_seg_metrics(cm).miou;
}

// --- pictures ------------------------------------------------------------------------------------

/// A minimal PNG writer (8-bit RGB, stored deflate blocks); good enough for small figures.
void write_png(const std::string& path, index_t w, index_t h,
               const std::vector<std::uint8_t>& rgb) {
    std::vector<std::uint8_t> raw;
    for (index_t y = 0; y < h; ++y) {
        raw.push_back(0);
        raw.insert(raw.end(), rgb.begin() + y * w * 3, rgb.begin() + (y + 1) * w * 3);
    }
    auto crc = [](const std::uint8_t* p, std::size_t n, std::uint32_t c = 0xffffffffu) {
        for (std::size_t i = 0; i < n; ++i) {
            c ^= p[i];
            for (int k = 0; k < 8; ++k)
                c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
        }
        return c;
    };
    std::vector<std::uint8_t> z{0x78, 0x01};
    std::uint32_t a = 1, b = 0;
    for (std::size_t off = 0; off < raw.size() || off == 0; off += 65535) {
        const std::size_t n = std::min<std::size_t>(65535, raw.size() - off);
        z.push_back(off + n == raw.size() ? 1 : 0);
        z.push_back(static_cast<std::uint8_t>(n & 0xff));
        z.push_back(static_cast<std::uint8_t>(n >> 8));
        z.push_back(static_cast<std::uint8_t>(~n & 0xff));
        z.push_back(static_cast<std::uint8_t>((~n >> 8) & 0xff));
        z.insert(z.end(), raw.begin() + static_cast<std::ptrdiff_t>(off),
                 raw.begin() + static_cast<std::ptrdiff_t>(off + n));
        if (n == 0)
            break;
    }
    for (std::uint8_t v : raw) {
        a = (a + v) % 65521;
        b = (b + a) % 65521;
    }
    const std::uint32_t adler = (b << 16) | a;
    for (int s = 24; s >= 0; s -= 8)
        z.push_back(static_cast<std::uint8_t>(adler >> s));
    std::ofstream out(path, std::ios::binary);
    auto be32 = [&](std::uint32_t v) {
        for (int s = 24; s >= 0; s -= 8)
            out.put(static_cast<char>(v >> s));
    };
    auto chunk = [&](const char* type, const std::vector<std::uint8_t>& data) {
        be32(static_cast<std::uint32_t>(data.size()));
        std::vector<std::uint8_t> td(type, type + 4);
        td.insert(td.end(), data.begin(), data.end());
        out.write(reinterpret_cast<const char*>(td.data()),
                  static_cast<std::streamsize>(td.size()));
        be32(~crc(td.data(), td.size()));
    };
    out.write("\x89PNG\r\n\x1a\n", 8);
    std::vector<std::uint8_t> ihdr;
    for (std::uint32_t v : {static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(h)})
        for (int s = 24; s >= 0; s -= 8)
            ihdr.push_back(static_cast<std::uint8_t>(v >> s));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    chunk("IHDR", ihdr);
    chunk("IDAT", z);
    chunk("IEND", {});
}

/// Panels side by side, each H×W RGB, with a 4-pixel white gap.
struct strip {
    std::vector<std::vector<std::uint8_t>> panels;
    void add_image(const tensor<float, 3>& img) {
        std::vector<std::uint8_t> p(static_cast<std::size_t>(H * W * 3));
        for (index_t y = 0; y < H; ++y)
            for (index_t x = 0; x < W; ++x)
                for (index_t c = 0; c < 3; ++c)
                    p[static_cast<std::size_t>((y * W + x) * 3 + c)] =
                        static_cast<std::uint8_t>(img(c, y, x));
        panels.push_back(p);
    }
    void add_heat(const tensor<float, 3>& cams) { // max over classes, blue-red colour map
        std::vector<std::uint8_t> p(static_cast<std::size_t>(H * W * 3));
        for (index_t y = 0; y < H; ++y)
            for (index_t x = 0; x < W; ++x) {
                float m = 0;
                for (index_t k = 0; k < cams.extent(0); ++k)
                    m = std::max(m, cams(k, y, x));
                const double t = std::clamp(double(m), 0.0, 1.0);
                const double rgb[3] = {255 * std::clamp(1.5 - std::abs(4 * t - 3), 0.0, 1.0),
                                       255 * std::clamp(1.5 - std::abs(4 * t - 2), 0.0, 1.0),
                                       255 * std::clamp(1.5 - std::abs(4 * t - 1), 0.0, 1.0)};
                for (int c = 0; c < 3; ++c)
                    p[static_cast<std::size_t>((y * W + x) * 3 + c)] =
                        static_cast<std::uint8_t>(rgb[c]);
            }
        panels.push_back(p);
    }
    template <class L>
    void add_labels(const tensor<L, 2>& labels) { // VOC colours, ignore = white
        static const std::uint8_t pal[5][3] = {
            {0, 0, 0}, {128, 0, 0}, {0, 128, 0}, {128, 128, 0}, {0, 0, 128}};
        std::vector<std::uint8_t> p(static_cast<std::size_t>(H * W * 3));
        for (index_t i = 0; i < H * W; ++i)
            for (int c = 0; c < 3; ++c) {
                const auto l = static_cast<int>(labels.flat()[i]);
                p[static_cast<std::size_t>(i * 3 + c)] = l < 5 ? pal[l][c] : std::uint8_t{255};
            }
        panels.push_back(p);
    }
    void save(const std::string& path) const {
        const index_t n = static_cast<index_t>(panels.size()), gap = 4, ww = n * W + (n - 1) * gap;
        std::vector<std::uint8_t> rgb(static_cast<std::size_t>(ww * H * 3), 255);
        for (index_t i = 0; i < n; ++i)
            for (index_t y = 0; y < H; ++y)
                std::copy_n(panels[static_cast<std::size_t>(i)].begin() + y * W * 3, W * 3,
                            rgb.begin() + (y * ww + i * (W + gap)) * 3);
        write_png(path, ww, H, rgb);
    }
};

} // namespace

int main(int argc, char** argv) {
    const std::string figures = argc == 3 && std::string(argv[1]) == "--figures" ? argv[2] : "";
    const scene s = make_scene();
    const auto weights = classifier();

    // 1. CAMs at strides 4 and 8, of the image and of its mirror, aggregated at full size.
    detseg::cam_aggregator<float> agg(K, H, W);
    for (index_t stride : {4, 8})
        for (bool flipped : {false, true})
            agg.add(detseg::compute_cam(features(s, stride, flipped), weights), flipped);
    auto cam = agg.result();
    const std::vector<int> image_classes{0, 1, 2}; // channels of classes 1-3; class 4 is absent
    detseg::mask_cam(cam, image_classes);
    detseg::normalize_cam(cam, cam);

    // 2. Plain pseudo labels: sweep the background threshold, keep the best.
    detseg::cam_threshold_sweep sweep(K + 1, {0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5});
    sweep.update(cam, s.gt);
    const double best_t = sweep.thresholds()[sweep.best()];
    const auto cam_labels = detseg::cam_to_labels(cam, {.threshold = best_t});
    const auto dual = detseg::cam_to_dual_labels(cam, {.fg_threshold = 0.30, .bg_threshold = 0.05});

    // 3a. PSA: random walk with affinities from (here) stride-4 colour features, on the
    //     low-resolution [background, CAMs], then upsampled; argmax.
    const index_t h = H / 4, w = W / 4;
    const auto cam_low = detseg::resize_bilinear(cam, h, w);
    auto colour_low = detseg::resize_bilinear(s.image, h, w);
    for (float& v : colour_low.flat())
        v /= 16.0f;
    const auto psa = detseg::psa_transition(
        colour_low, {.radius = 5, .beta = 8.0, .distance = detseg::feature_distance::l1_mean});
    const auto psa_walk = detseg::random_walk(
        psa,
        detseg::cam_with_background(
            cam_low, {.background = detseg::cam_background_mode::power, .alpha = 16.0}),
        {.steps = detseg::steps_from_exp_times(8)});
    const auto psa_labels = detseg::argmax_labels(detseg::resize_bilinear(psa_walk, H, W));

    // 3b. IRN: boundary map (here the colour gradient at stride 4), walk CAM·(1 - B), upsample,
    //     normalise by the maximum, constant background 0.25.
    tensor<float, 2> boundary({h, w});
    float gmax = 0;
    for (index_t y = 0; y < h; ++y)
        for (index_t x = 0; x < w; ++x) {
            float g = 0;
            for (index_t c = 0; c < 3; ++c) {
                const float gx = colour_low(c, y, std::min(x + 1, w - 1)) -
                                 colour_low(c, y, std::max<index_t>(x - 1, 0));
                const float gy = colour_low(c, std::min(y + 1, h - 1), x) -
                                 colour_low(c, std::max<index_t>(y - 1, 0), x);
                g += gx * gx + gy * gy;
            }
            boundary(y, x) = std::sqrt(g);
            gmax = std::max(gmax, boundary(y, x));
        }
    for (float& v : boundary.flat())
        v = std::min(1.0f, v / (0.5f * gmax));
    auto cam_masked = cam_low;
    for (index_t k = 0; k < K; ++k)
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x)
                cam_masked(k, y, x) *= 1.0f - boundary(y, x);
    const auto irn = detseg::boundary_transition(boundary, {.radius = 5, .beta = 10.0});
    auto irn_up = detseg::resize_bilinear(
        detseg::random_walk(irn, cam_masked, {.steps = detseg::steps_from_exp_times(8)}), H, W);
    const float irn_max = *std::max_element(irn_up.flat().begin(), irn_up.flat().end());
    for (float& v : irn_up.flat())
        v /= irn_max;
    const auto irn_labels = detseg::cam_to_labels(irn_up, {.threshold = 0.25});

    // 3c. PAR (ToCo) on [background, CAMs] at full size with the image colours; argmax.
    const auto par =
        detseg::par_refine(s.image, detseg::cam_with_background(cam, {.threshold = best_t}));
    const auto par_labels = detseg::argmax_labels(par);

    // 3d. Dense CRF on [background, CAMs] (PSA's crf_inference).
    const auto crf_labels =
        detseg::cam_crf_labels(s.image_hwc, cam, {.background = {.threshold = best_t}});

    // Report.
    std::printf("synthetic scene %ldx%ld, classes 1-3 present, class 4 absent\n", long(W), long(H));
    std::printf("threshold sweep (mIoU of CAM labels):");
    const auto mi = sweep.miou();
    for (std::size_t i = 0; i < mi.size(); ++i)
        std::printf(" %.2f:%.3f", sweep.thresholds()[i], mi[i]);
    std::printf("\n\n%-46s %s\n", "pseudo labels", "mIoU");
    std::printf("%-46s %.3f\n",
                ("CAM, background threshold " + std::to_string(best_t).substr(0, 4)).c_str(),
                miou(s.gt, cam_labels));
    std::printf("%-46s %.3f\n", "PSA random walk (colour affinities, t = 256)",
                miou(s.gt, psa_labels));
    std::printf("%-46s %.3f\n", "IRN random walk (boundary, beta 10, t = 256)",
                miou(s.gt, irn_labels));
    std::printf("%-46s %.3f\n", "PAR (ToCo: 6 dilations, 10 iterations)", miou(s.gt, par_labels));
    std::printf("%-46s %.3f\n", "dense CRF (PSA's crf_inference parameters)",
                miou(s.gt, crf_labels));
    // IRN's confident labels: how much is labelled, and how well.
    auto gt_conf = s.gt;
    index_t labelled = 0;
    for (index_t i = 0; i < H * W; ++i) {
        if (dual.flat()[i] == 255)
            gt_conf.flat()[i] = 255;
        else
            ++labelled;
    }
    auto dual_pred = dual;
    for (auto& v : dual_pred.flat())
        v = v == 255 ? 0 : v;
    std::printf("%-46s %.3f on the %.0f%% of pixels labelled\n", "IRN dual thresholds 0.30 / 0.05",
                miou(gt_conf, dual_pred), 100.0 * double(labelled) / double(H * W));

    if (!figures.empty()) {
        tensor<float, 3> irn_heat = irn_up;
        strip steps;
        steps.add_image(s.image);
        steps.add_heat(cam);
        steps.add_heat(irn_heat);
        steps.add_labels(irn_labels);
        steps.add_labels(s.gt);
        steps.save(figures + "/cam_steps.png");
        strip labels;
        labels.add_labels(cam_labels);
        labels.add_labels(dual);
        labels.add_labels(psa_labels);
        labels.add_labels(par_labels);
        labels.add_labels(crf_labels);
        labels.save(figures + "/cam_labels.png");
        std::printf("\nwrote %s/cam_steps.png and %s/cam_labels.png\n", figures.c_str(),
                    figures.c_str());
    }
    return 0;
}
