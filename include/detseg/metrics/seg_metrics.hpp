#ifndef DETSEG_METRICS_SEG_METRICS_HPP
#define DETSEG_METRICS_SEG_METRICS_HPP

/// @file
/// The mIoU family from a `confusion_matrix`: per-class IoU, Acc (recall), Dice, Precision and
/// F-score; mIoU, mAcc, mDice, mPrecision, mFscore, aAcc and fwIoU. Equal to mmsegmentation's
/// `total_area_to_metrics` + `np.nanmean` (0.x, float64) bit for bit; docs/segmentation-metrics.md
/// states every rule.

#include <detseg/config.hpp>
#include <detseg/core/detail/fp.hpp>
#include <detseg/core/error.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/detail/numpy_sum.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace detseg {

/// Options of `compute_seg_metrics`.
struct seg_metrics_params {
    /// mmseg's `nan_to_num`: when set, every NaN (a per-class value whose denominator is 0, and
    /// aAcc/fwIoU of an empty matrix) is replaced by this value before the means, so `0.0`
    /// counts classes absent from both gt and prediction as 0. Default: NaN, excluded from the
    /// means (`np.nanmean`).
    std::optional<double> nan_to_num = std::nullopt;
    /// F-score weight β: `F = (1 + β²)·P·R / (β²·P + R)`. Must be finite.
    double beta = 1.0;
};

/// Per-class areas (pixel counts), as mmseg's `total_intersect_and_union`, and the metrics.
/// Vectors have length C, indexed by class. A per-class value is NaN where its denominator is 0
/// (unless `nan_to_num`): IoU and Dice where P + G = 0 (class absent from both), Acc where G = 0,
/// Precision where P = 0, F-score where P = 0, G = 0 or both ratios are 0.
struct seg_metrics {
    std::vector<std::uint64_t> area_intersect;  ///< I: pixels of the class predicted as it
    std::vector<std::uint64_t> area_union;      ///< U = P + G − I
    std::vector<std::uint64_t> area_pred_label; ///< P: pixels predicted as the class
    std::vector<std::uint64_t> area_label;      ///< G: ground-truth pixels of the class

    std::vector<double> iou;       ///< I / U
    std::vector<double> acc;       ///< I / G (recall; mmseg's `Acc` and `Recall`)
    std::vector<double> dice;      ///< 2I / (P + G)
    std::vector<double> precision; ///< I / P
    std::vector<double> fscore;    ///< (1 + β²)·(precision·acc) / (β²·precision + acc)

    double aacc = 0;       ///< ΣI / ΣG (overall pixel accuracy)
    double miou = 0;       ///< nanmean(iou)
    double macc = 0;       ///< nanmean(acc)
    double mdice = 0;      ///< nanmean(dice)
    double mprecision = 0; ///< nanmean(precision)
    double mfscore = 0;    ///< nanmean(fscore)
    double fwiou = 0;      ///< Σ over classes with G > 0 of (G / ΣG)·IoU
};

namespace detail {

/// `np.nanmean` of a float64 vector: the NumPy sum with NaN replaced by 0, divided by the count
/// of non-NaN values (NaN when there is none).
[[nodiscard]] inline double numpy_nanmean(const std::vector<double>& v) {
    std::vector<double> z(v.size());
    std::size_t count = 0;
    for (std::size_t k = 0; k < v.size(); ++k) {
        const bool nan = std::isnan(v[k]);
        z[k] = nan ? 0.0 : v[k];
        count += nan ? 0 : 1;
    }
    return numpy_sum(z.data(), z.size()) / static_cast<double>(count);
}

[[nodiscard]] inline double ratio(std::uint64_t num, std::uint64_t den) noexcept {
    return static_cast<double>(num) / static_cast<double>(den); // 0/0 = NaN, as torch
}

} // namespace detail

/// Per-class areas, per-class metrics and their means from the counts of `cm`.
///
/// Reference: mmsegmentation 0.x `total_area_to_metrics(..., metrics=['mIoU', 'mDice',
/// 'mFscore'], nan_to_num, beta)` on float64 areas, and `np.nanmean` of each per-class array
/// for the means (mmseg rounds those ×100 to 2 decimals for display; detseg does not). Every
/// value is computed with the reference's operations in the same order, in double: equal bit
/// for bit while each area and ΣG are below 2^53. fwIoU (not in mmseg) is
/// `np.sum(np.where(G > 0, (G / ΣG) * IoU, 0))`.
/// Under `out_of_range_policy::mmseg`, G includes `pred_out_of_range()` and P includes
/// `gt_out_of_range()`, as mmseg's histograms do. O(C²) for the areas, O(C) for the rest.
/// @throws detseg::invalid_argument (function `compute_seg_metrics`, argument `params`) if
///         beta is not finite.
[[nodiscard]] inline seg_metrics compute_seg_metrics(const confusion_matrix& cm,
                                                     const seg_metrics_params& params = {}) {
    DETSEG_NO_FP_CONTRACT
    DETSEG_REQUIRE(std::isfinite(params.beta), "compute_seg_metrics", "params",
                   "beta must be finite, got ", params.beta);
    const index_t c = cm.num_classes();
    const auto n = static_cast<std::size_t>(c);
    const auto m = cm.matrix();
    seg_metrics r;
    r.area_intersect.assign(n, 0);
    r.area_union.assign(n, 0);
    r.area_pred_label.assign(n, 0);
    r.area_label.assign(n, 0);
    for (index_t i = 0; i < c; ++i) {
        const auto k = static_cast<std::size_t>(i);
        r.area_intersect[k] = m(i, i);
        r.area_label[k] += cm.pred_out_of_range()[k];
        r.area_pred_label[k] += cm.gt_out_of_range()[k];
        for (index_t j = 0; j < c; ++j) {
            r.area_label[k] += m(i, j);
            r.area_pred_label[k] += m(j, i);
        }
        r.area_union[k] = r.area_pred_label[k] + r.area_label[k] - r.area_intersect[k];
    }

    const double nan = std::numeric_limits<double>::quiet_NaN();
    auto fix = [&](double v) {
        return std::isnan(v) && params.nan_to_num ? *params.nan_to_num : v;
    };
    const double b2 = params.beta * params.beta;
    const double one_plus_b2 = 1.0 + b2;
    r.iou.resize(n);
    r.acc.resize(n);
    r.dice.resize(n);
    r.precision.resize(n);
    r.fscore.resize(n);
    std::uint64_t sum_i = 0, sum_g = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const std::uint64_t i = r.area_intersect[k], p = r.area_pred_label[k], g = r.area_label[k];
        sum_i += i;
        sum_g += g;
        const double precision = detail::ratio(i, p);
        const double recall = detail::ratio(i, g);
        r.iou[k] = detail::ratio(i, r.area_union[k]);
        r.acc[k] = recall;
        r.dice[k] = (2.0 * static_cast<double>(i)) / static_cast<double>(p + g);
        r.precision[k] = precision;
        // mmseg's f_score: (1 + beta**2) * (precision * recall) / ((beta**2 * precision) + recall)
        r.fscore[k] =
            (one_plus_b2 * (precision * recall)) / (detail::rounded(b2 * precision) + recall);
    }
    r.aacc = fix(detail::ratio(sum_i, sum_g));

    // fwIoU from the raw IoU (a class with G > 0 has U > 0, so its IoU is never NaN).
    std::vector<double> weighted(n);
    for (std::size_t k = 0; k < n; ++k) {
        const double freq = detail::ratio(r.area_label[k], sum_g);
        weighted[k] = r.area_label[k] > 0 ? detail::rounded(freq * r.iou[k]) : 0.0;
    }
    r.fwiou = fix(sum_g > 0 ? detail::numpy_sum(weighted.data(), n) : nan);

    for (auto* v : {&r.iou, &r.acc, &r.dice, &r.precision, &r.fscore})
        for (double& x : *v)
            x = fix(x);
    r.miou = detail::numpy_nanmean(r.iou);
    r.macc = detail::numpy_nanmean(r.acc);
    r.mdice = detail::numpy_nanmean(r.dice);
    r.mprecision = detail::numpy_nanmean(r.precision);
    r.mfscore = detail::numpy_nanmean(r.fscore);
    return r;
}

} // namespace detseg

#endif // DETSEG_METRICS_SEG_METRICS_HPP
