// detseg::dense_crf against pydensecrf on synthetic cases the other CRF tests do not use
// (tests/data/seg/crf_cases/, written by tests/reference/gen_crf_cases.py, which documents the
// files): other sizes, 3 to 21 labels, the three presets, the three unary sources (probabilities,
// energies, a label map), diagonal and matrix compatibilities, the four normalisations and a
// general feature kernel. Issue 5's parity criteria: after 10 iterations the labels agree on at
// least 99.9% of the pixels and the mean |ΔQ| is at most 1e-3; after 1 iteration at most 1e-4.

#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/dense_crf.hpp>

#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace {

using detseg::index_t;

/// The float value of IEEE half-precision bits (exact: every half is a float).
float half_to_float(std::uint16_t h) {
    const int exponent = (h >> 10) & 0x1f;
    const int mantissa = h & 0x3ff;
    float v = 0;
    if (exponent == 0)
        v = std::ldexp(static_cast<float>(mantissa), -24);
    else if (exponent == 31)
        v = mantissa != 0 ? std::numeric_limits<float>::quiet_NaN()
                          : std::numeric_limits<float>::infinity();
    else
        v = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
    return (h & 0x8000) != 0 ? -v : v;
}

std::string case_file(const std::string& name, const std::string& what) {
    return testing::data_path("seg/crf_cases/" + name + "_" + what + ".npy");
}

bool has_file(const std::string& name, const std::string& what) {
    return std::filesystem::exists(case_file(name, what));
}

detseg::npy_array load(const std::string& name, const std::string& what) {
    return detseg::load_npy(case_file(name, what));
}

/// float32 L×H×W from the stored float16 bits.
detseg::tensor<float, 3> load_f16(const std::string& name, const std::string& what) {
    const auto bits = load(name, what).as<std::uint16_t, 3>();
    detseg::tensor<float, 3> out(bits.extents());
    for (index_t i = 0; i < bits.size(); ++i)
        out.data()[i] = half_to_float(bits.data()[i]);
    return out;
}

detseg::crf_compatibility compatibility(const std::string& name, index_t k, double kind,
                                        double weight) {
    const std::string file = "compat" + std::to_string(k);
    if (kind == 0)
        return detseg::crf_compatibility::potts(weight);
    if (kind == 1)
        return detseg::crf_compatibility::diagonal(load(name, file).as<float, 1>());
    return detseg::crf_compatibility::matrix(load(name, file).as<float, 2>());
}

detseg::crf_normalization normalization(double code) {
    switch (static_cast<int>(code)) {
    case 1: return detseg::crf_normalization::after;
    case 2: return detseg::crf_normalization::before;
    case 3: return detseg::crf_normalization::none;
    default: return detseg::crf_normalization::symmetric;
    }
}

/// The CRF of one case, unary and kernels set as gen_crf_cases.py gave them to pydensecrf.
detseg::dense_crf<float> make_crf(const std::string& name) {
    const auto image = load(name, "image").as<std::uint8_t, 3>();
    const index_t H = image.extent(0), W = image.extent(1);
    const index_t L = load(name, "q_it1").shape.at(0);
    detseg::dense_crf<float> crf(H, W, L);

    if (has_file(name, "prob_f16")) {
        crf.set_unary_from_prob(load_f16(name, "prob_f16"));
    } else if (has_file(name, "unary_f16")) {
        crf.set_unary_energy(load_f16(name, "unary_f16"));
    } else if (has_file(name, "prob_coarse")) {
        const auto coarse = load(name, "prob_coarse").as<float, 3>();
        const index_t s = H / coarse.extent(1);
        REQUIRE(coarse.extent(1) * s == H);
        REQUIRE(coarse.extent(2) * s == W);
        detseg::tensor<float, 3> prob({L, H, W});
        for (index_t l = 0; l < L; ++l)
            for (index_t y = 0; y < H; ++y)
                for (index_t x = 0; x < W; ++x)
                    prob(l, y, x) = coarse(l, y / s, x / s);
        crf.set_unary_from_prob(prob);
    } else {
        const auto labels = load(name, "labels").as<std::uint8_t, 2>();
        const auto p = load(name, "label_unary").as<double, 1>();
        crf.set_unary_from_labels(labels, p(0), p(1) != 0);
    }

    const auto kernels = load(name, "kernels").as<double, 2>();
    for (index_t k = 0; k < kernels.extent(0); ++k) {
        const double kind = kernels(k, 0), sxy = kernels(k, 1), srgb = kernels(k, 2);
        const auto compat = compatibility(name, k, kernels(k, 5), kernels(k, 3));
        const auto norm = normalization(kernels(k, 4));
        if (kind == 0) {
            crf.add_pairwise_gaussian(sxy, compat, norm);
        } else if (kind == 1) {
            crf.add_pairwise_bilateral(sxy, srgb, image, compat, norm);
        } else {
            // x/sxy, y/sxy, green/srgb in float, as DenseCRF2D computes its features
            detseg::tensor<float, 3> f({3, H, W});
            const auto fs = static_cast<float>(sxy), fc = static_cast<float>(srgb);
            for (index_t y = 0; y < H; ++y)
                for (index_t x = 0; x < W; ++x) {
                    f(0, y, x) = static_cast<float>(x) / fs;
                    f(1, y, x) = static_cast<float>(y) / fs;
                    f(2, y, x) = static_cast<float>(image(y, x, 1)) / fc;
                }
            crf.add_pairwise_kernel(f, compat, norm);
        }
    }
    return crf;
}

struct figures {
    double agree = 0, mean_dq = 0, max_dq = 0;
};

/// Label agreement over all pixels; |ΔQ| over the stored pixel sample and all labels.
figures compare(const std::string& name, int it, const detseg::tensor<float, 3>& q,
                const detseg::tensor<std::int32_t, 2>& labels) {
    const auto ref_map = load(name, "map_it" + std::to_string(it)).as<std::uint8_t, 2>();
    const auto ref_q = load(name, "q_it" + std::to_string(it)).as<float, 2>();
    const auto index = load(name, "q_index").as<std::int32_t, 1>();
    const index_t H = q.extent(1), W = q.extent(2), L = q.extent(0);
    REQUIRE(ref_map.extent(0) == H);
    REQUIRE(ref_map.extent(1) == W);
    REQUIRE(ref_q.extent(0) == L);
    REQUIRE(ref_q.extent(1) == index.extent(0));
    figures f;
    index_t same = 0;
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x)
            same += labels(y, x) == static_cast<std::int32_t>(ref_map(y, x));
    f.agree = static_cast<double>(same) / static_cast<double>(H * W);
    double sum = 0;
    for (index_t l = 0; l < L; ++l)
        for (index_t k = 0; k < index.extent(0); ++k) {
            const index_t n = index(k);
            const double d = std::abs(static_cast<double>(q(l, n / W, n % W)) - ref_q(l, k));
            sum += d;
            f.max_dq = std::max(f.max_dq, d);
        }
    f.mean_dq = sum / static_cast<double>(L * index.extent(0));
    return f;
}

const char* const cases[] = {
    "a_97x131_L3_readme",       "b_64x200_L21_resnet101",
    "c_80x96_L5_vgg16",         "d_72x90_L4_matrix_after_before",
    "e_56x88_L5_diagonal_none", "f_60x80_L6_labels_features",
};

} // namespace

TEST_CASE("dense_crf: pydensecrf parity on unseen cases (labels >= 99.9%, mean |dQ| <= 1e-4 "
          "after 1 iteration, <= 1e-3 after 10)") {
    for (const std::string name : cases) {
        CAPTURE(name);
        detseg::dense_crf<float> crf = make_crf(name);
        crf.start();
        int done = 0;
        for (const int it : {1, 10}) {
            crf.step(it - done);
            done = it;
            REQUIRE(crf.iteration() == it);
            const figures f = compare(name, it, crf.current_q(), crf.current_map());
            MESSAGE(name << " it" << it << ": labels agree " << 100 * f.agree << "%, mean |dQ| "
                         << f.mean_dq << ", max |dQ| " << f.max_dq);
            CAPTURE(it);
            CAPTURE(f.agree);
            CAPTURE(f.mean_dq);
            CHECK(f.agree >= 0.999);
            CHECK(f.mean_dq <= (it == 1 ? 1e-4 : 1e-3));
        }
    }
}

TEST_CASE("dense_crf: inference() and map() equal the step-by-step path on an unseen case") {
    const std::string name = cases[2];
    detseg::dense_crf<float> crf = make_crf(name);
    const detseg::tensor<float, 3> q = crf.inference(10);
    const detseg::tensor<std::int32_t, 2> labels = crf.map(10);
    crf.start();
    crf.step(4);
    crf.step(6);
    const detseg::tensor<float, 3> q_steps = crf.current_q();
    const detseg::tensor<std::int32_t, 2> labels_steps = crf.current_map();
    index_t q_differ = 0, labels_differ = 0;
    for (index_t i = 0; i < q.size(); ++i)
        q_differ += q.data()[i] != q_steps.data()[i];
    for (index_t i = 0; i < labels.size(); ++i)
        labels_differ += labels.data()[i] != labels_steps.data()[i];
    CHECK(q_differ == 0);
    CHECK(labels_differ == 0);
}
