#ifndef DETSEG_SEG_CAM_SWEEP_HPP
#define DETSEG_SEG_CAM_SWEEP_HPP

/// @file
/// `cam_threshold_sweep`: the evaluation every CAM paper runs (IRN's `eval_cam.py`, PSA's
/// `infer_cls` sweep): for each background threshold t, the labels of `cam_to_labels` with a
/// constant background t are compared with the ground truth, and the mIoU per threshold is
/// reported. Counts go into one `confusion_matrix` per threshold (metrics module), so the mIoU
/// equals `compute_seg_metrics` on the same labels, and sweeps over shards merge exactly.
///
///     detseg::cam_threshold_sweep sweep(21, {0.05, 0.10, 0.15, 0.20});
///     for (auto& [cams, gt] : images) sweep.update(cams, gt);     // K×H×W (K = 20), H×W
///     auto miou = sweep.miou();                                   // one per threshold

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>
#include <detseg/seg/detail/cam_common.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace detseg {

/// Confusion matrices of CAM pseudo labels for a list of background thresholds.
class cam_threshold_sweep {
public:
    /// A sweep for `num_classes` labels (background 0 and the K = num_classes - 1 CAM classes)
    /// over ascending thresholds; `params` configures every confusion matrix (ignore index
    /// 255 by default).
    /// @throws detseg::invalid_argument if num_classes < 2 or > 65536 (`num_classes`), or the
    ///         thresholds are empty, not finite or not strictly ascending (`thresholds`).
    cam_threshold_sweep(index_t num_classes, std::vector<double> thresholds,
                        const confusion_matrix_params& params = {})
        : thresholds_(std::move(thresholds)) {
        constexpr const char* fn = "cam_threshold_sweep";
        DETSEG_REQUIRE(num_classes >= 2 && num_classes <= confusion_matrix::max_classes, fn,
                       "num_classes", "must be in [2, ", confusion_matrix::max_classes, "], got ",
                       num_classes);
        DETSEG_REQUIRE(!thresholds_.empty(), fn, "thresholds", "empty");
        for (std::size_t i = 0; i < thresholds_.size(); ++i) {
            DETSEG_REQUIRE(std::isfinite(thresholds_[i]), fn, "thresholds", "threshold ", i,
                           " is not finite");
            DETSEG_REQUIRE(i == 0 || thresholds_[i] > thresholds_[i - 1], fn, "thresholds",
                           "not strictly ascending at position ", i);
        }
        matrices_.assign(thresholds_.size(), confusion_matrix(num_classes, params));
    }

    /// Adds one image: K×H×W foreground CAMs (K = num_classes - 1; float or double) and its H×W
    /// integer ground truth. For threshold t a pixel's label is `argmax_k CAM + 1` where
    /// `max_k CAM > t` (t rounded to the CAMs' type), else 0 — `cam_to_labels` with
    /// `{.background = constant, .threshold = t}`. O(K·H·W + thresholds·H·W).
    /// @throws detseg::invalid_argument (function `cam_threshold_sweep::update`) if K is not
    ///         num_classes - 1 or a CAM is NaN/inf (`cams`), or as `confusion_matrix::update`
    ///         for the ground truth (`gt`); the sweep is then unchanged.
    template <class Cams, class Gt>
    void update(const Cams& cams, const Gt& gt) {
        constexpr const char* fn = "cam_threshold_sweep::update";
        const auto v = detail::cam_input<3>(cams, fn, "cams");
        using T = typename decltype(v)::value_type;
        const index_t k = v.extent(0), h = v.extent(1), w = v.extent(2);
        DETSEG_REQUIRE(k == num_classes() - 1, fn, "cams", "has ", k, " classes, expected ",
                       num_classes() - 1);
        detail::require_finite(v, fn, "cams");
        const auto g = detail::as_view_checked<2>(gt, fn, "gt");
        DETSEG_REQUIRE(g.extent(0) == h && g.extent(1) == w, fn, "gt", "is ", g.extent(0), "x",
                       g.extent(1), ", the CAMs are ", h, "x", w);
        std::vector<T> mx(static_cast<std::size_t>(h * w));
        std::vector<std::uint16_t> arg(static_cast<std::size_t>(h * w));
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x) {
                const T* p = v.data_handle() + y * v.stride(1) + x * v.stride(2);
                const auto [m, a] = detail::channel_max(p, k, v.stride(0));
                mx[static_cast<std::size_t>(y * w + x)] = m;
                arg[static_cast<std::size_t>(y * w + x)] = static_cast<std::uint16_t>(a + 1);
            }
        // Count into copies first, so a rejected ground truth leaves the sweep unchanged.
        std::vector<confusion_matrix> next = matrices_;
        tensor<std::uint16_t, 2> labels({h, w});
        for (std::size_t i = 0; i < thresholds_.size(); ++i) {
            const T t = static_cast<T>(thresholds_[i]);
            auto* l = labels.data();
            for (index_t p = 0; p < h * w; ++p)
                l[p] = mx[static_cast<std::size_t>(p)] > t ? arg[static_cast<std::size_t>(p)]
                                                           : std::uint16_t{0};
            try {
                next[i].update(gt, labels);
            } catch (const invalid_argument& e) {
                throw invalid_argument(fn, e.argument(), e.reason());
            }
        }
        matrices_ = std::move(next);
    }

    /// Number of labels (background included).
    [[nodiscard]] index_t num_classes() const noexcept { return matrices_.front().num_classes(); }
    /// The thresholds, ascending.
    [[nodiscard]] const std::vector<double>& thresholds() const noexcept { return thresholds_; }
    /// The confusion matrix of threshold i.
    [[nodiscard]] const confusion_matrix& matrix(std::size_t i) const { return matrices_.at(i); }
    /// mIoU (`compute_seg_metrics(matrix(i)).miou`, NaN-mean over classes) per threshold.
    [[nodiscard]] std::vector<double> miou() const {
        std::vector<double> out;
        for (const auto& m : matrices_)
            out.push_back(compute_seg_metrics(m).miou);
        return out;
    }
    /// Index of the threshold with the highest mIoU (the first on ties).
    [[nodiscard]] std::size_t best() const {
        const auto m = miou();
        std::size_t b = 0;
        for (std::size_t i = 1; i < m.size(); ++i)
            if (m[i] > m[b])
                b = i;
        return b;
    }

private:
    std::vector<double> thresholds_;
    std::vector<confusion_matrix> matrices_;
};

} // namespace detseg

#endif // DETSEG_SEG_CAM_SWEEP_HPP
