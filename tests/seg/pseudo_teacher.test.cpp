// teacher_pseudo_labels: labels and confidences equal torch.softmax(x, 1).max(1) (fixtures of
// tests/reference/gen_pseudo_label_fixtures.py); probabilities, C×H×W, ties and bad input.

#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/pseudo_teacher.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>

using detseg::index_t;
using detseg::tensor;

namespace {

using testing::pseudo_fixture;

} // namespace

TEST_CASE_TEMPLATE("teacher_pseudo_labels equals torch softmax max", T, float, double) {
    const std::string tag = sizeof(T) == 4 ? "_f32" : "_f64";
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
    const auto x = pseudo_fixture<T, 4>("teacher" + tag + "_logits");
    const auto conf = pseudo_fixture<T, 3>("teacher" + tag + "_conf");
    const auto lab = pseudo_fixture<std::int32_t, 3>("teacher" + tag + "_labels");
    const auto r = detseg::teacher_pseudo_labels(x);
    CHECK(r.labels == lab);
    bool ok = true;
    for (index_t q = 0; q < conf.size(); ++q) {
        const double a = r.confidence.flat()[static_cast<std::size_t>(q)];
        const double b = conf.flat()[static_cast<std::size_t>(q)];
        ok &= std::abs(a - b) <= tol * b;
    }
    CHECK(ok);
    // From probabilities: the maximum itself; one image as C×H×W.
    tensor<T, 4> p(x.extents());
    for (index_t n = 0; n < x.extent(0); ++n)
        for (index_t i = 0; i < x.extent(2); ++i)
            for (index_t j = 0; j < x.extent(3); ++j) {
                double s = 0;
                for (index_t c = 0; c < x.extent(1); ++c)
                    s += std::exp(static_cast<double>(x(n, c, i, j)));
                for (index_t c = 0; c < x.extent(1); ++c)
                    p(n, c, i, j) = static_cast<T>(std::exp(static_cast<double>(x(n, c, i, j))) / s);
            }
    const auto rp = detseg::teacher_pseudo_labels(
        p, {.scores = detseg::teacher_scores::probabilities});
    CHECK(rp.labels == lab);
    const auto one = detseg::make_view(x.data(), {x.extent(1), x.extent(2), x.extent(3)});
    const auto r1 = detseg::teacher_pseudo_labels(one);
    for (index_t i = 0; i < x.extent(2); ++i)
        for (index_t j = 0; j < x.extent(3); ++j) {
            CHECK(r1.labels(i, j) == lab(0, i, j));
            CHECK(r1.confidence(i, j) == r.confidence(0, i, j));
        }
}

TEST_CASE("teacher_pseudo_labels: ties go to the lowest class; bad input") {
    tensor<float, 3> x({3, 1, 2}, 0.0f);
    x(2, 0, 1) = 1.0f;
    const auto r = detseg::teacher_pseudo_labels(x);
    CHECK(r.labels(0, 0) == 0);
    CHECK(r.confidence(0, 0) == doctest::Approx(1.0 / 3.0));
    CHECK(r.labels(0, 1) == 2);
    x(1, 0, 0) = NAN;
    testing::expect_invalid([&] { (void)detseg::teacher_pseudo_labels(x); },
                            "teacher_pseudo_labels", "scores");
    tensor<std::int32_t, 2> lab({1, 3});
    tensor<float, 2> conf({1, 2});
    testing::expect_invalid(
        [&] { detseg::teacher_pseudo_labels(tensor<float, 3>({3, 1, 2}, 0.f), lab, conf); },
        "teacher_pseudo_labels", "labels");
}
