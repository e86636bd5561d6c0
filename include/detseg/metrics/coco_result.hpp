#ifndef DETSEG_METRICS_COCO_RESULT_HPP
#define DETSEG_METRICS_COCO_RESULT_HPP

/// @file
/// The result of COCO evaluation: pycocotools' `eval` arrays (`precision`, `recall`, `scores`),
/// the summary (`summarize()`'s 12 stats, or a summary that follows custom parameters) and a
/// per-category table; and the functions that derive the summary from the arrays.

#include <detseg/config.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/metrics/coco_params.hpp>
#include <detseg/metrics/detail/numpy_sum.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace detseg {

/// One line of the summary: an AP or AR averaged as pycocotools' `_summarize` does.
struct coco_stat {
    bool is_ap = true;    ///< average precision (true) or average recall (false)
    double iou = -1;      ///< the IoU threshold, or -1 for the mean over all thresholds
    std::string area;     ///< the area range's label
    index_t max_dets = 0; ///< the maxDets value
    double value = -1;    ///< the mean of the entries that are not -1; -1 when there are none
    /// pycocotools' text, e.g. " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all |
    /// maxDets=100 ] = 0.477".
    [[nodiscard]] std::string to_string(double iou_first, double iou_last) const;
};

/// Per-category AP and AR at the first area range and the largest maxDets (-1: no GT).
struct coco_class_stats {
    std::int64_t category_id = 0; ///< -1 when categories are pooled (`use_cats = false`)
    double ap = -1;               ///< mean precision over IoU thresholds and recall thresholds
    double ap50 = -1;             ///< at IoU 0.5 (-1 when 0.5 is not a threshold)
    double ap75 = -1;             ///< at IoU 0.75 (-1 when 0.75 is not a threshold)
    double ar = -1;               ///< mean recall over IoU thresholds
};

/// Accumulated COCO evaluation.
struct coco_eval_result {
    coco_params params;
    std::vector<std::int64_t> category_ids; ///< the K categories (`{-1}` when pooled)
    /// T×R×K×A×M interpolated precision, -1 where a category has no non-ignored GT.
    tensor<double, 5> precision;
    /// T×R×K×A×M score at each recall threshold (pycocotools' `eval['scores']`).
    tensor<double, 5> scores;
    /// T×K×A×M recall (the last cumulative recall), -1 where there is no non-ignored GT.
    tensor<double, 4> recall;
    /// The summary lines (`params.summary` decides which); `stats()` gives their values.
    std::vector<coco_stat> summary;
    /// One row per category, in category id order.
    std::vector<coco_class_stats> per_class;

    /// The values of `summary` (pycocotools' `COCOeval.stats` in the default mode).
    [[nodiscard]] std::vector<double> stats() const {
        std::vector<double> v;
        v.reserve(summary.size());
        for (const auto& s : summary)
            v.push_back(s.value);
        return v;
    }
};

namespace detail {

/// pycocotools `_summarize`: `np.mean(s[s > -1])` over precision[t, :, :, a, m] (AP) or
/// recall[t, :, a, m] (AR), for every t (`t < 0`) or only t, in C order; -1 when nothing is
/// left. O(T·R·K).
[[nodiscard]] inline double coco_mean(const coco_eval_result& r, bool ap, index_t t_only,
                                      index_t k_only, index_t a, index_t m) {
    const index_t T = r.recall.extent(0);
    const index_t K = r.recall.extent(1);
    const index_t R = r.precision.extent(1);
    const index_t k0 = k_only >= 0 ? k_only : 0;
    const index_t k1 = k_only >= 0 ? k_only + 1 : K;
    const index_t t0 = t_only >= 0 ? t_only : 0;
    const index_t t1 = t_only >= 0 ? t_only + 1 : T;
    std::vector<double> kept;
    kept.reserve(static_cast<std::size_t>((t1 - t0) * (ap ? R : 1) * (k1 - k0)));
    for (index_t t = t0; t < t1; ++t) {
        if (ap) {
            for (index_t ri = 0; ri < R; ++ri)
                for (index_t k = k0; k < k1; ++k) {
                    const double v = r.precision(t, ri, k, a, m);
                    if (v > -1)
                        kept.push_back(v);
                }
        } else {
            for (index_t k = k0; k < k1; ++k) {
                const double v = r.recall(t, k, a, m);
                if (v > -1)
                    kept.push_back(v);
            }
        }
    }
    if (kept.empty())
        return -1;
    return numpy_mean(kept.data(), kept.size());
}

/// The index of the threshold exactly equal to `v` (pycocotools' `np.where(iouThr ==
/// p.iouThrs)`), or -1.
[[nodiscard]] inline index_t coco_find_threshold(const std::vector<double>& thrs, double v) {
    for (std::size_t i = 0; i < thrs.size(); ++i)
        if (thrs[i] == v)
            return static_cast<index_t>(i);
    return -1;
}

[[nodiscard]] inline index_t coco_find_area(const std::vector<coco_area_range>& areas,
                                            const std::string& label) {
    for (std::size_t i = 0; i < areas.size(); ++i)
        if (areas[i].label == label)
            return static_cast<index_t>(i);
    return -1;
}

[[nodiscard]] inline index_t coco_find_max_dets(const std::vector<index_t>& md, index_t v) {
    for (std::size_t i = 0; i < md.size(); ++i)
        if (md[i] == v)
            return static_cast<index_t>(i);
    return -1;
}

/// One summary line: AP/AR at IoU `iou` (-1: all), area label, maxDets value, looked up as
/// pycocotools does (exact threshold equality, label and value search); -1 when a lookup fails.
[[nodiscard]] inline coco_stat coco_summary_line(const coco_eval_result& r, bool ap, double iou,
                                                 const std::string& area, index_t max_dets) {
    coco_stat s{ap, iou, area, max_dets, -1};
    const index_t a = coco_find_area(r.params.area_ranges, area);
    const index_t m = coco_find_max_dets(r.params.max_dets, max_dets);
    index_t t = -1;
    if (iou >= 0) {
        t = coco_find_threshold(r.params.iou_thresholds, iou);
        if (t < 0)
            return s;
    }
    if (a < 0 || m < 0)
        return s;
    s.value = coco_mean(r, ap, t, -1, a, m);
    return s;
}

/// Fills `r.summary` and `r.per_class` from the arrays, as `r.params.summary` says. O(T·R·K·A·M).
inline void coco_summarize(coco_eval_result& r) {
    const auto& p = r.params;
    r.summary.clear();
    if (p.summary == coco_summary_mode::pycocotools) {
        auto md = [&](std::size_t i) -> index_t {
            return i < p.max_dets.size() ? p.max_dets[i] : -1;
        };
        r.summary.push_back(coco_summary_line(r, true, -1, "all", 100));
        r.summary.push_back(coco_summary_line(r, true, 0.5, "all", md(2)));
        r.summary.push_back(coco_summary_line(r, true, 0.75, "all", md(2)));
        r.summary.push_back(coco_summary_line(r, true, -1, "small", md(2)));
        r.summary.push_back(coco_summary_line(r, true, -1, "medium", md(2)));
        r.summary.push_back(coco_summary_line(r, true, -1, "large", md(2)));
        r.summary.push_back(coco_summary_line(r, false, -1, "all", md(0)));
        r.summary.push_back(coco_summary_line(r, false, -1, "all", md(1)));
        r.summary.push_back(coco_summary_line(r, false, -1, "all", md(2)));
        r.summary.push_back(coco_summary_line(r, false, -1, "small", md(2)));
        r.summary.push_back(coco_summary_line(r, false, -1, "medium", md(2)));
        r.summary.push_back(coco_summary_line(r, false, -1, "large", md(2)));
    } else {
        const index_t last = p.max_dets.back();
        const std::string& first = p.area_ranges.front().label;
        r.summary.push_back(coco_summary_line(r, true, -1, first, last));
        for (double iou : {0.5, 0.75})
            if (coco_find_threshold(p.iou_thresholds, iou) >= 0)
                r.summary.push_back(coco_summary_line(r, true, iou, first, last));
        for (std::size_t a = 1; a < p.area_ranges.size(); ++a)
            r.summary.push_back(coco_summary_line(r, true, -1, p.area_ranges[a].label, last));
        for (index_t m : p.max_dets)
            r.summary.push_back(coco_summary_line(r, false, -1, first, m));
        for (std::size_t a = 1; a < p.area_ranges.size(); ++a)
            r.summary.push_back(coco_summary_line(r, false, -1, p.area_ranges[a].label, last));
    }
    // per-class table at the first area range and the largest maxDets
    r.per_class.clear();
    const index_t K = r.recall.extent(1);
    const index_t m = static_cast<index_t>(p.max_dets.size()) - 1;
    const index_t t50 = coco_find_threshold(p.iou_thresholds, 0.5);
    const index_t t75 = coco_find_threshold(p.iou_thresholds, 0.75);
    for (index_t k = 0; k < K; ++k) {
        coco_class_stats c;
        c.category_id = r.category_ids[static_cast<std::size_t>(k)];
        c.ap = coco_mean(r, true, -1, k, 0, m);
        c.ap50 = t50 >= 0 ? coco_mean(r, true, t50, k, 0, m) : -1;
        c.ap75 = t75 >= 0 ? coco_mean(r, true, t75, k, 0, m) : -1;
        c.ar = coco_mean(r, false, -1, k, 0, m);
        r.per_class.push_back(c);
    }
}

inline std::string coco_format_fixed(double v, int decimals) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
    return std::string(buf, res.ptr);
}

} // namespace detail

inline std::string coco_stat::to_string(double iou_first, double iou_last) const {
    std::string title = is_ap ? "Average Precision" : "Average Recall";
    title.resize(18, ' ');
    std::string iou_text = iou < 0 ? detail::coco_format_fixed(iou_first, 2) + ":" +
                                         detail::coco_format_fixed(iou_last, 2)
                                   : detail::coco_format_fixed(iou, 2);
    iou_text.resize(std::max<std::size_t>(iou_text.size(), 9), ' ');
    std::string area_text = area;
    if (area_text.size() < 6)
        area_text.insert(0, 6 - area_text.size(), ' ');
    std::string md = std::to_string(max_dets);
    if (md.size() < 3)
        md.insert(0, 3 - md.size(), ' ');
    return " " + title + " " + (is_ap ? "(AP)" : "(AR)") + " @[ IoU=" + iou_text +
           " | area=" + area_text + " | maxDets=" + md +
           " ] = " + detail::coco_format_fixed(value, 3);
}

} // namespace detseg

#endif // DETSEG_METRICS_COCO_RESULT_HPP
