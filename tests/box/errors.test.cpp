// Every bad-input path of the box module throws detseg::invalid_argument naming the function and
// the argument.

#include "support/errors.hpp"

#include <detseg/box/area.hpp>
#include <detseg/box/clip.hpp>
#include <detseg/box/convert.hpp>
#include <detseg/box/filter.hpp>
#include <detseg/box/iou.hpp>

#include "support/backends.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using detseg::index_t;
using testing::expect_invalid;

namespace {
const std::vector<float> good = {0, 0, 2, 2, 1, 1, 3, 3};
const float qnan = std::numeric_limits<float>::quiet_NaN();
const float inf = std::numeric_limits<float>::infinity();
} // namespace

TEST_CASE("wrong column count") {
    std::vector<float> five(10, 1.0f);
    auto v5 = detseg::make_view(five.data(), {2, 5});
    expect_invalid([&] { (void)detseg::pairwise_iou(v5, good); }, "pairwise_iou", "boxes1");
    expect_invalid([&] { (void)detseg::pairwise_giou(good, v5); }, "pairwise_giou", "boxes2");
    expect_invalid([&] { (void)detseg::elementwise_diou(v5, good); }, "elementwise_diou", "boxes1");
    expect_invalid([&] { (void)detseg::box_area(v5); }, "box_area", "boxes");
    expect_invalid(
        [&] {
            (void)detseg::convert_boxes(v5, detseg::box_format::xyxy, detseg::box_format::xywh);
        },
        "convert_boxes", "boxes");
    expect_invalid([&] { (void)detseg::clip_boxes(v5, {10, 10}); }, "clip_boxes", "boxes");
    expect_invalid([&] { (void)detseg::remove_small_boxes(v5, 1.0); }, "remove_small_boxes",
                   "boxes");
    expect_invalid([&] { (void)detseg::as_boxes(v5); }, "as_boxes", "boxes");
    Eigen::MatrixXf e3(4, 3);
    expect_invalid([&] { (void)detseg::pairwise_ciou(e3, good); }, "pairwise_ciou", "boxes1");
    const std::vector<float> seven(7, 1.0f);
    expect_invalid([&] { (void)detseg::pairwise_ioa(good, seven); }, "pairwise_ioa", "boxes2");
}

TEST_CASE("a rank-dynamic xtensor array of the wrong rank") {
    xt::xarray<float> r3 = xt::zeros<float>({2, 4, 1});
    expect_invalid([&] { (void)detseg::pairwise_iou(r3, good); }, "pairwise_iou", "boxes1");
    xt::xarray<float> out3 = xt::zeros<float>({2, 2, 1});
    expect_invalid([&] { detseg::pairwise_iou(good, good, out3); }, "pairwise_iou", "out");
}

TEST_CASE("NaN and infinite coordinates") {
    for (float bad : {qnan, inf, -inf}) {
        for (int k = 0; k < 4; ++k) {
            std::vector<float> b = good;
            b[4 + k] = bad;
            expect_invalid([&] { (void)detseg::pairwise_iou(b, good); }, "pairwise_iou", "boxes1");
            expect_invalid([&] { (void)detseg::pairwise_giou(good, b); }, "pairwise_giou",
                           "boxes2");
            expect_invalid([&] { (void)detseg::pairwise_diou(b, good); }, "pairwise_diou",
                           "boxes1");
            expect_invalid([&] { (void)detseg::pairwise_ciou(good, b); }, "pairwise_ciou",
                           "boxes2");
            expect_invalid([&] { (void)detseg::pairwise_ioa(b, good); }, "pairwise_ioa", "boxes1");
            expect_invalid([&] { (void)detseg::elementwise_iou(good, b); }, "elementwise_iou",
                           "boxes2");
            expect_invalid([&] { (void)detseg::box_area(b); }, "box_area", "boxes");
            expect_invalid(
                [&] {
                    (void)detseg::convert_boxes(b, detseg::box_format::xywh,
                                                detseg::box_format::xyxy);
                },
                "convert_boxes", "boxes");
            expect_invalid([&] { (void)detseg::clip_boxes(b, {10, 10}); }, "clip_boxes", "boxes");
            expect_invalid([&] { (void)detseg::remove_small_boxes(b, 0.5); }, "remove_small_boxes",
                           "boxes");
        }
    }
}

TEST_CASE("inverted boxes are rejected by GIoU, DIoU and CIoU only") {
    const std::vector<float> inverted = {0, 0, 2, 2, 3, 1, 1, 3}; // box 1: x2 < x1
    expect_invalid([&] { (void)detseg::pairwise_giou(inverted, good); }, "pairwise_giou", "boxes1");
    expect_invalid([&] { (void)detseg::pairwise_diou(good, inverted); }, "pairwise_diou", "boxes2");
    expect_invalid([&] { (void)detseg::pairwise_ciou(inverted, good); }, "pairwise_ciou", "boxes1");
    expect_invalid([&] { (void)detseg::elementwise_giou(good, inverted); }, "elementwise_giou",
                   "boxes2");
    // xywh with a negative height is inverted once converted to corners.
    const std::vector<float> neg_h = {0, 0, 2, -1};
    expect_invalid(
        [&] {
            (void)detseg::pairwise_ciou(detseg::as_boxes(neg_h, detseg::box_format::xywh), good);
        },
        "pairwise_ciou", "boxes1");
    CHECK_NOTHROW((void)detseg::pairwise_iou(inverted, good));
    CHECK_NOTHROW((void)detseg::pairwise_ioa(inverted, good));
    CHECK_NOTHROW((void)detseg::box_area(inverted));
}

TEST_CASE("element-wise lengths must match") {
    const std::vector<float> three = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
    expect_invalid([&] { (void)detseg::elementwise_iou(good, three); }, "elementwise_iou",
                   "boxes2");
    expect_invalid([&] { (void)detseg::elementwise_giou(three, good); }, "elementwise_giou",
                   "boxes2");
    expect_invalid([&] { (void)detseg::elementwise_diou(good, three); }, "elementwise_diou",
                   "boxes2");
    expect_invalid([&] { (void)detseg::elementwise_ciou(good, three); }, "elementwise_ciou",
                   "boxes2");
    expect_invalid([&] { (void)detseg::elementwise_ioa(good, three); }, "elementwise_ioa",
                   "boxes2");
}

TEST_CASE("output views of the wrong shape") {
    Eigen::MatrixXf wrong(2, 3);
    expect_invalid([&] { detseg::pairwise_iou(good, good, wrong); }, "pairwise_iou", "out");
    expect_invalid([&] { detseg::pairwise_giou(good, good, wrong); }, "pairwise_giou", "out");
    expect_invalid([&] { detseg::pairwise_diou(good, good, wrong); }, "pairwise_diou", "out");
    expect_invalid([&] { detseg::pairwise_ciou(good, good, wrong); }, "pairwise_ciou", "out");
    expect_invalid([&] { detseg::pairwise_ioa(good, good, wrong); }, "pairwise_ioa", "out");
    std::vector<float> v3(3);
    expect_invalid([&] { detseg::elementwise_iou(good, good, v3); }, "elementwise_iou", "out");
    Eigen::MatrixXf m23(2, 3);
    expect_invalid([&] { detseg::elementwise_ciou(good, good, m23); }, "elementwise_ciou", "out");
    detseg::tensor<float, 2> c3({2, 3});
    expect_invalid(
        [&] {
            detseg::convert_boxes(good, c3, detseg::box_format::xyxy, detseg::box_format::xywh);
        },
        "convert_boxes", "out");
    expect_invalid([&] { detseg::clip_boxes(good, c3, {5, 5}); }, "clip_boxes", "out");
    expect_invalid([&] { detseg::box_area(good, v3); }, "box_area", "out");
}

TEST_CASE("parameters out of range") {
    expect_invalid([&] { (void)detseg::clip_boxes(good, {-1, 10}); }, "clip_boxes", "size");
    expect_invalid([&] { (void)detseg::clip_boxes(good, {10, -3}); }, "clip_boxes", "size");
    expect_invalid([&] { (void)detseg::remove_small_boxes(good, -1.0); }, "remove_small_boxes",
                   "min_size");
    expect_invalid(
        [&] { (void)detseg::remove_small_boxes(good, std::numeric_limits<double>::quiet_NaN()); },
        "remove_small_boxes", "min_size");
    expect_invalid(
        [&] { (void)detseg::remove_small_boxes(good, std::numeric_limits<double>::infinity()); },
        "remove_small_boxes", "min_size");
}

TEST_CASE("coordinates so large that areas would overflow") {
    const std::vector<float> huge = {0, 0, 3e18f, 3e18f};
    const std::vector<float> big_ok = {-1e18f, -1e18f, 1e18f, 1e18f};
    expect_invalid([&] { (void)detseg::pairwise_iou(huge, good); }, "pairwise_iou", "boxes1");
    expect_invalid([&] { (void)detseg::pairwise_giou(good, huge); }, "pairwise_giou", "boxes2");
    expect_invalid([&] { (void)detseg::box_area(huge); }, "box_area", "boxes");
    const auto iou = detseg::pairwise_iou(big_ok, big_ok);
    CHECK(iou(0, 0) == 1.0f);
    CHECK(std::isfinite(detseg::pairwise_diou(big_ok, good)(0, 0)));
    const std::vector<double> huge_d = {0, 0, 1e154, 1};
    expect_invalid([&] { (void)detseg::pairwise_ioa(huge_d, huge_d); }, "pairwise_ioa", "boxes1");
}

TEST_CASE("convert_boxes: a box_view's own format must match 'from'") {
    const auto as_xywh = detseg::as_boxes(good, detseg::box_format::xywh);
    expect_invalid(
        [&] {
            (void)detseg::convert_boxes(as_xywh, detseg::box_format::xyxy,
                                        detseg::box_format::cxcywh);
        },
        "convert_boxes", "from");
    CHECK_NOTHROW(
        (void)detseg::convert_boxes(as_xywh, detseg::box_format::xywh, detseg::box_format::cxcywh));
}

TEST_CASE("error messages name the caller once, also for rank errors found by a backend") {
    xt::xarray<float> r3 = xt::zeros<float>({2, 4, 1});
    try {
        (void)detseg::pairwise_iou(r3, good);
        FAIL("expected an exception");
    } catch (const detseg::invalid_argument& e) {
        CHECK(std::string(e.what()) ==
              "detseg::pairwise_iou: argument 'boxes1': expected an array of rank 2, got rank 3");
        CHECK(e.reason() == "expected an array of rank 2, got rank 3");
    }
}
