#ifndef DETSEG_METRICS_COCO_BBOX_IOU_HPP
#define DETSEG_METRICS_COCO_BBOX_IOU_HPP

/// @file
/// The box IoU of COCO evaluation: pycocotools' `bbIou` (maskApi.c), in double, on boxes in
/// COCO's (x, y, w, h) format, with crowd ground truth measured against the detection's area.

#include <detseg/config.hpp>
#include <detseg/core/detail/fp.hpp>

#include <array>
#include <cmath>

namespace detseg {

/// A COCO box: top-left corner, width, height (pixels, double).
using coco_box = std::array<double, 4>;

/// IoU of detection `d` with ground truth `g` as pycocotools' `bbIou` computes it:
/// `w = min(xd+wd, xg+wg) - max(xd, xg)` and `h` likewise; 0 when `w <= 0` or `h <= 0`;
/// `i = w*h`; `i / (wd*hd)` for crowd ground truth, else `i / ((wd*hd + wg*hg) - i)`.
/// Each product is rounded before it is added (no FMA), so the result is the reference's bit
/// for bit. O(1); checks nothing and throws nothing (finite input gives a value in [0, 1]).
[[nodiscard]] inline double coco_bbox_iou(const coco_box& d, const coco_box& g,
                                          bool crowd) noexcept {
    DETSEG_NO_FP_CONTRACT
    const double w = std::fmin(d[2] + d[0], g[2] + g[0]) - std::fmax(d[0], g[0]);
    if (!(w > 0))
        return 0.0;
    const double h = std::fmin(d[3] + d[1], g[3] + g[1]) - std::fmax(d[1], g[1]);
    if (!(h > 0))
        return 0.0;
    const double da = detail::rounded(d[2] * d[3]);
    const double i = detail::rounded(w * h);
    if (crowd)
        return i / da;
    const double ga = detail::rounded(g[2] * g[3]);
    return i / ((da + ga) - i);
}

} // namespace detseg

#endif // DETSEG_METRICS_COCO_BBOX_IOU_HPP
