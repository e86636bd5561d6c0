// Semi-supervised segmentation with pseudo labels, small enough to read top to bottom: a linear
// per-pixel classifier (features -> C logits, plain SGD) trained in C++ with detseg's losses.
//
// 1. Synthetic scenes: label maps made of rectangles of C classes; each pixel has F features,
//    its class's prototype plus Gaussian noise (the classes overlap, so no classifier is
//    perfect). A few images are labelled, many are not, and separate images are kept for testing.
// 2. A teacher is trained on the labelled images only (cross_entropy_loss). Its argmax on the
//    unlabelled images are the pseudo labels (teacher_pseudo_labels), wrong on a good part of the
//    pixels, with the teacher's confidence.
// 3. Students start from scratch and train on labelled + pseudo-labelled images with four
//    pseudo-label losses: plain CE on the pseudo labels, confidence-weighted (CW-BASS, conf^2),
//    hard threshold (FixMatch/UniMatch), and confidence-weighted with the boundary term.
// 4. Each model's mIoU on the test images (confusion_matrix + compute_seg_metrics).
//
// Whatever the numbers say is printed; nothing is asserted about which loss wins.

#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>
#include <detseg/seg/pseudo_label.hpp>
#include <detseg/seg/pseudo_teacher.hpp>
#include <detseg/seg/pseudo_threshold.hpp>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

using detseg::index_t;
using detseg::tensor;

constexpr index_t classes = 5, features = 6, size = 48;

struct dataset {
    tensor<float, 4> x;              // N×F×H×W features
    tensor<std::uint8_t, 3> labels;  // N×H×W ground truth
};

/// n scenes of rectangles, features = prototype[class] + noise.
dataset make_scenes(index_t n, const std::vector<float>& prototypes, float noise,
                    std::mt19937& rng) {
    dataset d{tensor<float, 4>({n, features, size, size}), tensor<std::uint8_t, 3>({n, size, size})};
    std::uniform_int_distribution<int> cls(0, classes - 1), pos(0, size - 1), len(6, 24);
    std::normal_distribution<float> gauss(0.0f, noise);
    for (index_t k = 0; k < n; ++k) {
        const auto background = static_cast<std::uint8_t>(cls(rng));
        for (index_t i = 0; i < size; ++i)
            for (index_t j = 0; j < size; ++j)
                d.labels(k, i, j) = background;
        for (int r = 0; r < 7; ++r) {
            const int i0 = pos(rng), j0 = pos(rng), h = len(rng), w = len(rng);
            const auto c = static_cast<std::uint8_t>(cls(rng));
            for (index_t i = i0; i < std::min<index_t>(size, i0 + h); ++i)
                for (index_t j = j0; j < std::min<index_t>(size, j0 + w); ++j)
                    d.labels(k, i, j) = c;
        }
        for (index_t f = 0; f < features; ++f)
            for (index_t i = 0; i < size; ++i)
                for (index_t j = 0; j < size; ++j)
                    d.x(k, f, i, j) =
                        prototypes[static_cast<std::size_t>(d.labels(k, i, j) * features + f)] +
                        gauss(rng);
    }
    return d;
}

/// logits[n, c, p] = Σ_f w[c, f] x[n, f, p] + b[c].
struct linear_model {
    std::vector<float> w = std::vector<float>(classes * features, 0.0f);
    std::vector<float> b = std::vector<float>(classes, 0.0f);

    [[nodiscard]] tensor<float, 4> logits(const tensor<float, 4>& x) const {
        const index_t n = x.extent(0), hw = size * size;
        tensor<float, 4> out({n, classes, size, size});
        for (index_t k = 0; k < n; ++k)
            for (index_t c = 0; c < classes; ++c) {
                float* o = out.data() + (k * classes + c) * hw;
                for (index_t p = 0; p < hw; ++p)
                    o[p] = b[static_cast<std::size_t>(c)];
                for (index_t f = 0; f < features; ++f) {
                    const float wf = w[static_cast<std::size_t>(c * features + f)];
                    const float* xf = x.data() + (k * features + f) * hw;
                    for (index_t p = 0; p < hw; ++p)
                        o[p] += wf * xf[p];
                }
            }
        return out;
    }

    /// One SGD step from the gradient of the loss with respect to the logits.
    void step(const tensor<float, 4>& x, const tensor<float, 4>& grad, float lr) {
        const index_t n = x.extent(0), hw = size * size;
        for (index_t c = 0; c < classes; ++c) {
            double gb = 0.0;
            std::vector<double> gw(features, 0.0);
            for (index_t k = 0; k < n; ++k) {
                const float* g = grad.data() + (k * classes + c) * hw;
                for (index_t p = 0; p < hw; ++p)
                    gb += g[p];
                for (index_t f = 0; f < features; ++f) {
                    const float* xf = x.data() + (k * features + f) * hw;
                    double s = 0.0;
                    for (index_t p = 0; p < hw; ++p)
                        s += static_cast<double>(g[p]) * xf[p];
                    gw[static_cast<std::size_t>(f)] += s;
                }
            }
            b[static_cast<std::size_t>(c)] -= lr * static_cast<float>(gb);
            for (index_t f = 0; f < features; ++f)
                w[static_cast<std::size_t>(c * features + f)] -=
                    lr * static_cast<float>(gw[static_cast<std::size_t>(f)]);
        }
    }
};

double test_miou(const linear_model& m, const dataset& test) {
    const auto pred = detseg::teacher_pseudo_labels(m.logits(test.x));
    detseg::confusion_matrix cm(classes);
    cm.update(test.labels, pred.labels);
    return detseg::compute_seg_metrics(cm).miou;
}

} // namespace

int main() {
    std::mt19937 rng(2026);
    std::normal_distribution<float> proto(0.0f, 1.0f);
    std::vector<float> prototypes(classes * features);
    for (auto& v : prototypes)
        v = proto(rng);
    const float noise = 1.0f;
    const dataset labelled = make_scenes(3, prototypes, noise, rng);
    const dataset unlabelled = make_scenes(8, prototypes, noise, rng);
    const dataset test = make_scenes(6, prototypes, noise, rng);

    // The teacher: 120 full-batch SGD steps on the labelled images only, for a weak teacher.
    linear_model teacher;
    for (int it = 0; it < 120; ++it) {
        const auto out = detseg::cross_entropy_loss(teacher.logits(labelled.x), labelled.labels);
        teacher.step(labelled.x, out.grad, 0.5f);
    }
    const auto pseudo = detseg::teacher_pseudo_labels(teacher.logits(unlabelled.x));
    index_t correct = 0, confident = 0, confident_correct = 0;
    double conf_right = 0.0, conf_wrong = 0.0;
    for (index_t q = 0; q < pseudo.labels.size(); ++q) {
        const bool ok = pseudo.labels.flat()[static_cast<std::size_t>(q)] ==
                        unlabelled.labels.flat()[static_cast<std::size_t>(q)];
        const float c = pseudo.confidence.flat()[static_cast<std::size_t>(q)];
        correct += ok;
        (ok ? conf_right : conf_wrong) += c;
        confident += c >= 0.95f;
        confident_correct += ok && c >= 0.95f;
    }
    const double n_pix = static_cast<double>(pseudo.labels.size());
    std::printf("synthetic scenes: %lld classes, %lld features, %lldx%lld; %lld labelled, %lld "
                "unlabelled, %lld test images\n",
                static_cast<long long>(classes), static_cast<long long>(features),
                static_cast<long long>(size), static_cast<long long>(size),
                static_cast<long long>(labelled.x.extent(0)),
                static_cast<long long>(unlabelled.x.extent(0)),
                static_cast<long long>(test.x.extent(0)));
    std::printf("teacher (labelled images only): test mIoU %.4f\n", test_miou(teacher, test));
    std::printf("pseudo labels: %.1f%% correct; mean confidence %.3f where right, %.3f where "
                "wrong; %.1f%% at >= 0.95 (%.1f%% of those correct)\n",
                100.0 * static_cast<double>(correct) / n_pix,
                conf_right / static_cast<double>(correct),
                conf_wrong / std::max(1.0, n_pix - static_cast<double>(correct)),
                100.0 * static_cast<double>(confident) / n_pix,
                confident ? 100.0 * static_cast<double>(confident_correct) /
                                static_cast<double>(confident)
                          : 0.0);

    struct variant {
        const char* name;
        detseg::pseudo_label_loss_params params;
    };
    const variant variants[] = {
        {"plain CE on pseudo labels", {.gamma = 0.0}},
        {"confidence-weighted (CW-BASS, conf^2)", {.gamma = 2.0}},
        {"hard threshold 0.95 (FixMatch/UniMatch)", detseg::pseudo_label_loss_params::fixmatch()},
        {"conf^2 + boundary weight 1 (CW-BASS)",
         detseg::pseudo_label_loss_params::cw_bass(2.0, 1.0)},
    };
    std::printf("\nstudents (from scratch, 100 SGD steps, labelled CE + pseudo-label loss):\n");
    for (const auto& v : variants) {
        linear_model student;
        for (int it = 0; it < 100; ++it) {
            const auto sup =
                detseg::cross_entropy_loss(student.logits(labelled.x), labelled.labels);
            student.step(labelled.x, sup.grad, 0.5f);
            const auto uns = detseg::pseudo_label_loss(student.logits(unlabelled.x), pseudo.labels,
                                                       pseudo.confidence, v.params);
            student.step(unlabelled.x, uns.grad, 0.5f);
        }
        std::printf("  %-42s test mIoU %.4f\n", v.name, test_miou(student, test));
    }
    return 0;
}
