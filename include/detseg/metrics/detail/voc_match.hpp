#ifndef DETSEG_METRICS_DETAIL_VOC_MATCH_HPP
#define DETSEG_METRICS_DETAIL_VOC_MATCH_HPP

// The VOC devkit's matching of one class (VOCevaldet.m, and voc_eval.py which follows it):
// detections in confidence order, each against every ground truth of its image.

#include <detseg/config.hpp>
#include <detseg/core/detail/fp.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace detseg::detail {

/// VOC overlap of two xyxy boxes, as the devkit: `iw = min(x2) - max(x1) + offset`, `ih`
/// likewise; 0 unless `iw > 0` and `ih > 0`; else `iw*ih / (area_d + area_g - iw*ih)` with
/// `area = (x2 - x1 + offset) * (y2 - y1 + offset)`, in double, in voc_eval.py's order, each
/// product rounded before it is added (no FMA contraction, whatever the flags). Pairs that do not
/// overlap give 0, never NaN. O(1).
[[nodiscard]] inline double voc_overlap(const std::array<double, 4>& d,
                                        const std::array<double, 4>& g, double offset) noexcept {
    DETSEG_NO_FP_CONTRACT
    const double ixmin = d[0] > g[0] ? d[0] : g[0];
    const double iymin = d[1] > g[1] ? d[1] : g[1];
    const double ixmax = d[2] < g[2] ? d[2] : g[2];
    const double iymax = d[3] < g[3] ? d[3] : g[3];
    const double iw = (ixmax - ixmin) + offset;
    const double ih = (iymax - iymin) + offset;
    if (!(iw > 0.0) || !(ih > 0.0))
        return 0.0;
    const double inter = rounded(iw * ih);
    const double wd = (d[2] - d[0]) + offset;
    const double hd = (d[3] - d[1]) + offset;
    const double wg = (g[2] - g[0]) + offset;
    const double hg = (g[3] - g[1]) + offset;
    const double ad = rounded(wd * hd);
    const double ag = rounded(wg * hg);
    return inter / ((ad + ag) - inter);
}

/// What one detection became.
enum class voc_outcome : std::uint8_t { tp, fp, ignored };

/// The ground truths of one image and class, with the devkit's `detected` flags.
struct voc_image_gts {
    std::vector<std::array<double, 4>> boxes;
    std::vector<std::uint8_t> difficult;
    std::vector<std::uint8_t> claimed;
};

/// Matches one detection (called in global confidence order) against the ground truths of its
/// image and class: the GT of maximum overlap over **all** of them (the first on ties: the
/// devkit's `ov > ovmax`); if that overlap is `>= threshold`: a difficult GT makes the detection
/// ignored, an unclaimed one a TP (and claims it), a claimed one a FP (duplicate); otherwise a
/// FP. O(G).
[[nodiscard]] inline voc_outcome voc_match_one(const std::array<double, 4>& det, voc_image_gts& im,
                                               double threshold, double offset) noexcept {
    double ovmax = 0.0;
    std::size_t jmax = 0;
    bool any = false;
    for (std::size_t j = 0; j < im.boxes.size(); ++j) {
        const double ov = voc_overlap(det, im.boxes[j], offset);
        if (ov > 0.0 && (!any || ov > ovmax)) {
            ovmax = ov;
            jmax = j;
            any = true;
        }
    }
    if (!any || !(ovmax >= threshold))
        return voc_outcome::fp;
    if (im.difficult[jmax])
        return voc_outcome::ignored;
    if (im.claimed[jmax])
        return voc_outcome::fp;
    im.claimed[jmax] = 1;
    return voc_outcome::tp;
}

} // namespace detseg::detail

#endif // DETSEG_METRICS_DETAIL_VOC_MATCH_HPP
