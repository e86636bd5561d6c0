#ifndef DETSEG_METRICS_COCO_PARAMS_HPP
#define DETSEG_METRICS_COCO_PARAMS_HPP

/// @file
/// The parameters of COCO detection evaluation (pycocotools' `Params` for `iouType='bbox'` and
/// `'segm'`), with pycocotools' defaults reproduced to the bit.

#include <detseg/config.hpp>
#include <detseg/core/detail/fp.hpp>
#include <detseg/core/error.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace detseg {

/// `numpy.linspace(start, stop, num)` (endpoint included) with NumPy's arithmetic:
/// `step = (stop - start) / (num - 1)`, `y[i] = i*step + start` (two roundings, no FMA),
/// `y[num-1] = stop`. Reference: numpy 1.24 `linspace`. O(num). Throws nothing but `bad_alloc`.
[[nodiscard]] inline std::vector<double> numpy_linspace(double start, double stop, index_t num) {
    std::vector<double> y(static_cast<std::size_t>(num > 0 ? num : 0));
    if (num <= 0)
        return y;
    if (num == 1) {
        y[0] = start;
        return y;
    }
    const double div = static_cast<double>(num - 1);
    const double delta = stop - start;
    const double step = delta / div;
    for (index_t i = 0; i < num; ++i) {
        double v = step == 0 ? detail::rounded(static_cast<double>(i) / div) * delta
                             : detail::rounded(static_cast<double>(i) * step);
        y[static_cast<std::size_t>(i)] = detail::rounded(v) + start;
    }
    y.back() = stop;
    return y;
}

/// One area range: objects with `lo <= area <= hi` (closed at both ends, as pycocotools).
struct coco_area_range {
    std::string label; ///< name used by the summary ("all", "small", ...)
    double lo = 0;
    double hi = 0;
    friend bool operator==(const coco_area_range&, const coco_area_range&) = default;
};

/// How `coco_eval_result::summary` is built from the accumulated arrays.
enum class coco_summary_mode {
    /// pycocotools' `summarize()` exactly: the 12 stats, looked up by area label ("all", "small",
    /// "medium", "large") and by maxDets value (100 for the first stat, `max_dets[0..2]` for the
    /// others); an entry that is not in the parameters gives -1 (pycocotools would give -1 or
    /// raise IndexError).
    pycocotools,
    /// The summary follows the parameters: AP over all thresholds, AP at 0.5 and 0.75 (when
    /// they are thresholds), AP per area range after the first, all at the largest maxDets
    /// and the first area range; AR per maxDets; AR per area range after the first. With the
    /// default parameters this is the same 12 numbers in the same order.
    params,
};

/// The parameters of COCO evaluation. Defaults are pycocotools' `Params(iouType='bbox')`.
struct coco_params {
    /// `np.linspace(.5, .95, 10)`, bit for bit (e.g. the 3rd is 0.6000000000000001).
    std::vector<double> iou_thresholds = numpy_linspace(0.5, 0.95, 10);
    /// `np.linspace(0, 1, 101)`.
    std::vector<double> recall_thresholds = numpy_linspace(0.0, 1.0, 101);
    /// Detections kept per image and category, ascending.
    std::vector<index_t> max_dets = {1, 10, 100};
    /// `[[0, 1e10], [0, 1024], [1024, 9216], [9216, 1e10]]` as all/small/medium/large.
    std::vector<coco_area_range> area_ranges = {{"all", 0.0, 1e10},
                                                {"small", 0.0, 1024.0},
                                                {"medium", 1024.0, 9216.0},
                                                {"large", 9216.0, 1e10}};
    /// pycocotools' `useCats`: false pools all categories of an image into one class.
    bool use_cats = true;
    coco_summary_mode summary = coco_summary_mode::pycocotools;

    friend bool operator==(const coco_params&, const coco_params&) = default;
};

namespace detail {

/// Checks `p` for function `fn`; throws `invalid_argument` naming `params.<field>`.
inline void check_coco_params(const coco_params& p, std::string_view fn) {
    DETSEG_REQUIRE(!p.iou_thresholds.empty(), fn, "params.iou_thresholds", "is empty");
    for (double t : p.iou_thresholds)
        DETSEG_REQUIRE(t >= 0.0 && t <= 1.0, fn, "params.iou_thresholds", "value ", t,
                       " is not in [0, 1]");
    DETSEG_REQUIRE(!p.recall_thresholds.empty(), fn, "params.recall_thresholds", "is empty");
    for (double r : p.recall_thresholds)
        DETSEG_REQUIRE(r >= 0.0 && r <= 1.0, fn, "params.recall_thresholds", "value ", r,
                       " is not in [0, 1]");
    DETSEG_REQUIRE(!p.max_dets.empty(), fn, "params.max_dets", "is empty");
    for (std::size_t i = 0; i < p.max_dets.size(); ++i) {
        DETSEG_REQUIRE(p.max_dets[i] >= 1, fn, "params.max_dets", "value ", p.max_dets[i],
                       " is not positive");
        DETSEG_REQUIRE(i == 0 || p.max_dets[i] > p.max_dets[i - 1], fn, "params.max_dets",
                       "must be strictly ascending");
    }
    DETSEG_REQUIRE(!p.area_ranges.empty(), fn, "params.area_ranges", "is empty");
    for (const auto& a : p.area_ranges)
        DETSEG_REQUIRE(!std::isnan(a.lo) && !std::isnan(a.hi) && a.lo <= a.hi, fn,
                       "params.area_ranges", "range '", a.label, "' is not an interval");
}

} // namespace detail

} // namespace detseg

#endif // DETSEG_METRICS_COCO_PARAMS_HPP
