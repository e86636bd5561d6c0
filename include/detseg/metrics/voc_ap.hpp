#ifndef DETSEG_METRICS_VOC_AP_HPP
#define DETSEG_METRICS_VOC_AP_HPP

/// @file
/// PASCAL VOC detection average precision: 11-point (VOC2007) and all-point (VOC2010 and
/// later), with `difficult` ground truth, per class and mean, as the VOC devkit defines it
/// (`VOCevaldet.m`, `VOCap.m`; the same rules as the widely used `voc_eval.py`).
///
///     std::vector<detseg::voc_gt> gts = ...;   // {.image_id, .class_id, .bbox, .difficult}
///     std::vector<detseg::voc_det> dets = ...; // {.image_id, .class_id, .score, .bbox}
///     auto r = detseg::voc_ap(gts, dets, {.method = detseg::voc_ap_method::eleven_point});
///     r.mean_ap;  r.per_class[k].ap;           // boxes are xmin, ymin, xmax, ymax

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/metrics/detail/numpy_sum.hpp>
#include <detseg/metrics/detail/voc_match.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <unordered_map>
#include <vector>

namespace detseg {

/// A VOC box: xmin, ymin, xmax, ymax (the devkit's pixel coordinates).
using voc_box = std::array<double, 4>;

/// A ground-truth object.
struct voc_gt {
    std::int64_t image_id = 0;
    std::int64_t class_id = 0;
    voc_box bbox{};         ///< xmin, ymin, xmax, ymax
    bool difficult = false; ///< neither counts as a positive nor penalises a detection
};

/// A detection.
struct voc_det {
    std::int64_t image_id = 0;
    std::int64_t class_id = 0;
    double score = 0; ///< confidence; higher first
    voc_box bbox{};   ///< xmin, ymin, xmax, ymax
};

/// How precision/recall become AP.
enum class voc_ap_method {
    /// VOC2010 and later (`VOCap.m`): precision made non-increasing from the right, summed over
    /// the recall steps, `sum((mrec[i] - mrec[i-1]) * mpre[i])` (the area under the curve).
    all_point,
    /// VOC2007: the mean over t = 0, 0.1, ..., 1 of the highest precision at recall >= t (0 when
    /// no point reaches t).
    eleven_point,
};

/// The 11 recall thresholds of `eleven_point`.
enum class voc_eleven_point_grid {
    /// `t = i / 10.0` (the double nearest to 0, 0.1, ..., 1): a recall `k/n` equal to `t` as a
    /// real number compares equal, as the definition says.
    exact,
    /// `t = i * 0.1`, as `np.arange(0., 1.1, 0.1)` in `voc_eval.py` (py-faster-rcnn,
    /// detectron2): 0.30000000000000004, 0.6000000000000001, 0.7000000000000001 exceed 0.3, 0.6
    /// and 0.7, so a recall of exactly 3/10, 6/10 or 7/10 does not reach those thresholds.
    numpy_arange,
};

/// Box convention of the overlap.
enum class voc_box_convention {
    /// The devkit's integer-pixel boxes: width `x2 - x1 + 1`, intersection `min - max + 1`.
    inclusive_pixels,
    /// Continuous coordinates (detseg's convention elsewhere): width `x2 - x1`.
    continuous,
};

/// Parameters of `voc_ap`.
struct voc_ap_params {
    voc_ap_method method = voc_ap_method::all_point;
    /// A match needs overlap >= this (the devkit's `minoverlap`); in (0, 1].
    double iou_threshold = 0.5;
    /// Default: the devkit's +1 pixel convention.
    voc_box_convention boxes = voc_box_convention::inclusive_pixels;
    voc_eleven_point_grid grid = voc_eleven_point_grid::exact;
};

/// AP of one class, with its precision/recall curve.
struct voc_class_ap {
    std::int64_t class_id = 0;
    double ap = -1;              ///< -1 when the class has no non-difficult ground truth
    index_t num_positives = 0;   ///< non-difficult ground truths (the devkit's `npos`)
    index_t num_difficult = 0;   ///< difficult ground truths
    index_t num_detections = 0;  ///< detections of the class (TP + FP + ignored)
    index_t true_positives = 0;  ///< detections matched to a non-difficult GT
    index_t false_positives = 0; ///< unmatched or duplicate detections
    /// Per detection in confidence order: cumulative `tp / npos` (empty when npos = 0) and
    /// `tp / (tp + fp)` (0 while `tp + fp = 0`, i.e. after only ignored detections).
    std::vector<double> recall;
    std::vector<double> precision;
};

/// Result of `voc_ap`.
struct voc_ap_result {
    std::vector<voc_class_ap> per_class; ///< ascending class id
    /// Mean of `ap` over the classes with `ap != -1` (numpy's `np.mean`); -1 when there are none.
    double mean_ap = -1;
};

/// AP from a precision/recall curve (points in confidence order, `recall` non-decreasing), as
/// `VOCap.m` (`all_point`) or the VOC2007 11-point rule (`eleven_point`, thresholds per `grid`),
/// with `voc_eval.py`'s arithmetic: all-point sums its terms with numpy's pairwise `np.sum`;
/// 11-point adds `p / 11` in threshold order. An empty curve gives 0.
/// @throws invalid_argument (`voc_average_precision`, `precision`) when the lengths differ.
/// O(N).
[[nodiscard]] inline double voc_average_precision(std::span<const double> recall,
                                                  std::span<const double> precision,
                                                  voc_ap_method method,
                                                  voc_eleven_point_grid grid = {}) {
    DETSEG_REQUIRE(recall.size() == precision.size(), "voc_average_precision", "precision", "has ",
                   precision.size(), " points, recall has ", recall.size());
    const std::size_t n = recall.size();
    if (method == voc_ap_method::eleven_point) {
        double ap = 0.0;
        for (int i = 0; i <= 10; ++i) {
            const double t = grid == voc_eleven_point_grid::exact ? i / 10.0 : i * 0.1;
            double p = 0.0;
            bool any = false;
            for (std::size_t k = 0; k < n; ++k)
                if (recall[k] >= t) {
                    p = any ? std::max(p, precision[k]) : precision[k];
                    any = true;
                }
            ap += p / 11.0;
        }
        return ap;
    }
    // mrec = [0, recall, 1], mpre = [0, precision, 0]; mpre made non-increasing from the right
    std::vector<double> mrec(n + 2), mpre(n + 2);
    mrec[0] = 0.0;
    mpre[0] = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        mrec[k + 1] = recall[k];
        mpre[k + 1] = precision[k];
    }
    mrec[n + 1] = 1.0;
    mpre[n + 1] = 0.0;
    for (std::size_t i = n + 1; i-- > 0;)
        mpre[i] = std::max(mpre[i], mpre[i + 1]);
    std::vector<double> terms;
    terms.reserve(n + 1);
    for (std::size_t i = 1; i < n + 2; ++i)
        if (mrec[i] != mrec[i - 1])
            terms.push_back((mrec[i] - mrec[i - 1]) * mpre[i]);
    return detail::numpy_sum(terms.data(), terms.size());
}

/// PASCAL VOC AP per class and mean (`VOCevaldet.m` + `VOCap.m`). Per class (every class id of
/// `gts` or `dets`, ascending):
/// 1. detections sorted by score, descending, stably (ties keep input order, as MATLAB's sort);
/// 2. each detection, in that order, takes the GT of its image and class with the highest
///    overlap (`params.boxes` decides the +1; the first such GT on ties), whether or not it is
///    already matched; overlap >= `params.iou_threshold` and the GT difficult: the detection is
///    ignored (neither TP nor FP); the GT not yet matched: TP, and the GT is matched; the GT
///    already matched: FP (duplicate); overlap below the threshold: FP;
/// 3. recall `tp / npos` (npos: non-difficult GTs), precision `tp / (tp + fp)`, then AP by
///    `voc_average_precision`. A class without non-difficult GT has AP -1 and is left out of
///    the mean (the devkit divides by zero there).
/// @param gts  ground truth, any order; boxes xyxy with x2 >= x1, y2 >= y1.
/// @param dets detections, any order (order only breaks score ties).
/// @return per-class AP and curves, and their mean.
/// @throws invalid_argument (`voc_ap`): `gts`/`dets` with a non-finite coordinate or an
/// inverted box, `dets` with a NaN score (the message names the index); `params` with a
/// threshold outside (0, 1]. Complexity O(D log D + D·G_img) for D detections and G_img GTs per
/// image.
[[nodiscard]] inline voc_ap_result voc_ap(std::span<const voc_gt> gts,
                                          std::span<const voc_det> dets,
                                          const voc_ap_params& params = {}) {
    const char* fn = "voc_ap";
    DETSEG_REQUIRE(params.iou_threshold > 0.0 && params.iou_threshold <= 1.0, fn,
                   "params.iou_threshold", "value ", params.iou_threshold, " is not in (0, 1]");
    auto check_box = [&](const voc_box& b, const char* arg, std::size_t i) {
        for (double v : b)
            DETSEG_REQUIRE(std::isfinite(v), fn, arg, arg, "[", i, "]: a coordinate is not finite");
        DETSEG_REQUIRE(b[2] >= b[0] && b[3] >= b[1], fn, arg, arg, "[", i,
                       "]: inverted box (xmax < xmin or ymax < ymin)");
    };
    for (std::size_t i = 0; i < gts.size(); ++i)
        check_box(gts[i].bbox, "gts", i);
    for (std::size_t i = 0; i < dets.size(); ++i) {
        check_box(dets[i].bbox, "dets", i);
        DETSEG_REQUIRE(!std::isnan(dets[i].score), fn, "dets", "dets[", i, "]: score is NaN");
    }
    const double offset = params.boxes == voc_box_convention::inclusive_pixels ? 1.0 : 0.0;

    std::vector<std::int64_t> classes;
    classes.reserve(gts.size() + dets.size());
    for (const auto& g : gts)
        classes.push_back(g.class_id);
    for (const auto& d : dets)
        classes.push_back(d.class_id);
    std::sort(classes.begin(), classes.end());
    classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
    auto class_index = [&](std::int64_t id) {
        return static_cast<std::size_t>(std::lower_bound(classes.begin(), classes.end(), id) -
                                        classes.begin());
    };
    const std::size_t K = classes.size();
    std::vector<std::vector<std::size_t>> gt_of(K), det_of(K);
    for (std::size_t i = 0; i < gts.size(); ++i)
        gt_of[class_index(gts[i].class_id)].push_back(i);
    for (std::size_t i = 0; i < dets.size(); ++i)
        det_of[class_index(dets[i].class_id)].push_back(i);

    voc_ap_result result;
    result.per_class.resize(K);
    for (std::size_t k = 0; k < K; ++k) {
        voc_class_ap& c = result.per_class[k];
        c.class_id = classes[k];
        std::unordered_map<std::int64_t, detail::voc_image_gts> images;
        for (std::size_t i : gt_of[k]) {
            auto& im = images[gts[i].image_id];
            im.boxes.push_back(gts[i].bbox);
            im.difficult.push_back(gts[i].difficult ? 1 : 0);
            im.claimed.push_back(0);
            if (gts[i].difficult)
                ++c.num_difficult;
            else
                ++c.num_positives;
        }
        std::vector<std::size_t>& order = det_of[k];
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return dets[a].score > dets[b].score;
        });
        c.num_detections = static_cast<index_t>(order.size());
        if (c.num_positives > 0) {
            c.recall.reserve(order.size());
            c.precision.reserve(order.size());
        }
        detail::voc_image_gts none;
        index_t tp = 0, fp = 0;
        for (std::size_t i : order) {
            auto it = images.find(dets[i].image_id);
            detail::voc_image_gts& im = it == images.end() ? none : it->second;
            switch (detail::voc_match_one(dets[i].bbox, im, params.iou_threshold, offset)) {
            case detail::voc_outcome::tp: ++tp; break;
            case detail::voc_outcome::fp: ++fp; break;
            case detail::voc_outcome::ignored: break;
            }
            if (c.num_positives > 0) {
                c.recall.push_back(static_cast<double>(tp) / static_cast<double>(c.num_positives));
                c.precision.push_back(
                    tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0);
            }
        }
        c.true_positives = tp;
        c.false_positives = fp;
        if (c.num_positives > 0)
            c.ap = voc_average_precision(c.recall, c.precision, params.method, params.grid);
    }
    std::vector<double> aps;
    for (const auto& c : result.per_class)
        if (c.ap != -1)
            aps.push_back(c.ap);
    if (!aps.empty())
        result.mean_ap = detail::numpy_mean(aps.data(), aps.size());
    return result;
}

} // namespace detseg

#endif // DETSEG_METRICS_VOC_AP_HPP
