// cam_crf_labels: equal to the dense_crf steps it documents, 0 iterations = the argmax of the
// clipped scores, a CRF that fixes a blurred CAM boundary, bad input.
#include <detseg/core/tensor.hpp>
#include <detseg/seg/cam_crf.hpp>
#include <detseg/seg/cam_labels.hpp>
#include <detseg/seg/dense_crf.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>

namespace {

using detseg::index_t;

struct example {
    detseg::tensor<std::uint8_t, 3> image{{24, 30, 3}};
    detseg::tensor<float, 3> cam{{2, 24, 30}};
    detseg::tensor<std::int32_t, 2> gt{{24, 30}};
};

/// Two coloured squares on grey, and CAMs that are blurred blobs around them.
example make_example() {
    example e;
    std::mt19937_64 g(3);
    std::uniform_real_distribution<double> u(0, 1);
    for (index_t y = 0; y < 24; ++y)
        for (index_t x = 0; x < 30; ++x) {
            const int l = (x >= 3 && x < 12 && y >= 4 && y < 14)     ? 1
                          : (x >= 17 && x < 27 && y >= 10 && y < 20) ? 2
                                                                     : 0;
            e.gt(y, x) = l;
            const int base[3][3] = {{120, 120, 120}, {220, 40, 40}, {40, 40, 220}};
            for (int c = 0; c < 3; ++c)
                e.image(y, x, c) = static_cast<std::uint8_t>(base[l][c] + 10 * u(g));
            e.cam(0, y, x) = static_cast<float>(
                std::exp(-((x - 7.5) * (x - 7.5) + (y - 9.0) * (y - 9.0)) / 40.0));
            e.cam(1, y, x) = static_cast<float>(
                std::exp(-((x - 22.0) * (x - 22.0) + (y - 15.0) * (y - 15.0)) / 40.0));
        }
    return e;
}

int errors(const detseg::tensor<std::int32_t, 2>& a, const detseg::tensor<std::int32_t, 2>& b) {
    int n = 0;
    for (index_t i = 0; i < a.size(); ++i)
        n += a.flat()[i] != b.flat()[i];
    return n;
}

} // namespace

TEST_CASE("cam_crf_labels equals the dense_crf steps it documents") {
    const auto e = make_example();
    const detseg::cam_crf_params p{.background = {.threshold = 0.3}, .iterations = 5};
    const auto got = detseg::cam_crf_labels(e.image, e.cam, p);
    detseg::dense_crf<float> crf(24, 30, 3);
    crf.set_unary_from_prob(detseg::cam_with_background(e.cam, p.background));
    crf.add_pairwise_gaussian(3.0, 3.0);
    crf.add_pairwise_bilateral(80.0, 13.0, e.image, 10.0);
    CHECK(got == crf.map(5));
    // 0 iterations: the argmax of the scores (clipped to [1e-5, 1], no ties here)
    const auto q0 =
        detseg::cam_crf_labels(e.image, e.cam, {.background = {.threshold = 0.3}, .iterations = 0});
    const auto plain = detseg::cam_to_labels<std::int32_t>(e.cam, {.threshold = 0.3});
    CHECK(q0 == plain);
    // the CRF moves the blurred CAM boundary towards the colour edges
    CHECK(errors(got, e.gt) < errors(plain, e.gt));
}

TEST_CASE("cam_crf_labels rejects bad input with invalid_argument") {
    using testing::expect_invalid;
    const auto e = make_example();
    detseg::tensor<std::uint8_t, 3> small({20, 30, 3});
    expect_invalid([&] { (void)detseg::cam_crf_labels(small, e.cam); }, "cam_crf_labels", "image");
    expect_invalid([&] { (void)detseg::cam_crf_labels(e.image, e.cam, {.iterations = -1}); },
                   "cam_crf_labels", "params");
    expect_invalid(
        [&] { (void)detseg::cam_crf_labels(e.image, e.cam, {.background = {.alpha = 0.0}}); },
        "cam_crf_labels", "params");
    auto nan = e.cam;
    nan(0, 3, 3) = NAN;
    expect_invalid([&] { (void)detseg::cam_crf_labels(e.image, nan); }, "cam_crf_labels", "cams");
}
