#ifndef DETSEG_DETECT_DEFAULT_BOXES_HPP
#define DETSEG_DETECT_DEFAULT_BOXES_HPP

/// @file
/// SSD default boxes (priors), Liu et al., "SSD: Single Shot MultiBox Detector", ECCV 2016.
///
/// Reference: `torchvision.models.detection.anchor_utils.DefaultBoxGenerator` (0.14),
/// reproduced bit for bit, including its float32 intermediates (the rules are in
/// docs/anchors.md). Level k has scale s_k; every cell of its grid gets the boxes (w, h) =
/// (s_k, s_k), (s'_k, s'_k) with s'_k = sqrt(s_k·s_{k+1}), then for each aspect ratio r
/// (s_k·sqrt(r), s_k/sqrt(r)) and (s_k/sqrt(r), s_k·sqrt(r)), centred at ((j + 0.5)/f_x,
/// (i + 0.5)/f_y) where f = image / step (or the grid size without steps).

#include <detseg/box/box.hpp>
#include <detseg/box/clip.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/detect/anchors.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Parameters of `default_box_generator`, torchvision's `DefaultBoxGenerator` arguments.
struct default_box_params {
    /// Per level, the aspect ratios r (each adds two boxes per cell, r and 1/r): positive and
    /// finite; at least one level. SSD300: {{2}, {2, 3}, {2, 3}, {2, 3}, {2}, {2}}.
    std::vector<std::vector<double>> aspect_ratios;
    /// Smallest and largest scale when `scales` is empty: with L > 1 levels,
    /// s_k = min_ratio + ((max_ratio - min_ratio)·k)/(L - 1) for k < L, and s_L = 1; with one
    /// level, (min_ratio, max_ratio). Positive, finite, min_ratio <= max_ratio.
    double min_ratio = 0.15;
    double max_ratio = 0.9;
    /// Explicit scales s_0 … s_L (L + 1 values, positive and finite), or empty.
    std::vector<double> scales = {};
    /// Per level, the step in pixels (f = image / step cells per axis for the centres), or empty:
    /// then the centres follow the feature map's own size. Positive and finite.
    std::vector<double> steps = {};
    /// Clamp the normalised widths and heights to [0, 1] (the centres are not clipped).
    bool clip = true;
};

/// SSD default boxes for a list of feature maps. Copies its parameters and computes the
/// per-level box shapes once.
///
/// Output order, as torchvision's: level by level; within a level, location-major (rows top to
/// bottom, each row left to right), and the `num_boxes_per_location(k)` boxes of a cell
/// innermost in the order given above.
///
///     auto ssd = detseg::default_box_generator::ssd300();
///     const std::vector<detseg::grid_size> grids = {{38, 38}, {19, 19}, {10, 10},
///                                                   {5, 5}, {3, 3}, {1, 1}};
///     auto priors = ssd.xyxy<float>({.height = 300, .width = 300}, grids);   // 8732×4
class default_box_generator {
public:
    /// @throws detseg::invalid_argument naming `params` (no level, a ratio, scale or step that is
    ///         not positive and finite, min_ratio > max_ratio, `scales` without L + 1 values,
    ///         `steps` without L values). O(number of box shapes).
    explicit default_box_generator(default_box_params params) : p_(std::move(params)) {
        constexpr const char* fn = "default_box_generator";
        const std::size_t levels = p_.aspect_ratios.size();
        DETSEG_REQUIRE(levels > 0, fn, "params", "aspect_ratios: at least one level is needed");
        for (std::size_t k = 0; k < levels; ++k)
            for (double r : p_.aspect_ratios[k])
                DETSEG_REQUIRE(std::isfinite(r) && r > 0, fn, "params", "aspect_ratios: level ", k,
                               ": ratios must be positive and finite, got ", r);
        if (p_.scales.empty()) {
            DETSEG_REQUIRE(std::isfinite(p_.min_ratio) && p_.min_ratio > 0 &&
                               std::isfinite(p_.max_ratio) && p_.max_ratio > 0,
                           fn, "params",
                           "min_ratio and max_ratio must be positive and finite, "
                           "got ",
                           p_.min_ratio, " and ", p_.max_ratio);
            DETSEG_REQUIRE(p_.min_ratio <= p_.max_ratio, fn, "params", "min_ratio (", p_.min_ratio,
                           ") is larger than max_ratio (", p_.max_ratio, ")");
            if (levels > 1) {
                const double range = p_.max_ratio - p_.min_ratio;
                for (std::size_t k = 0; k < levels; ++k)
                    p_.scales.push_back(p_.min_ratio + range * static_cast<double>(k) /
                                                           (static_cast<double>(levels) - 1.0));
                p_.scales.push_back(1.0);
            } else {
                p_.scales = {p_.min_ratio, p_.max_ratio};
            }
        } else {
            DETSEG_REQUIRE(p_.scales.size() == levels + 1, fn, "params", "scales: expected ",
                           levels + 1, " values (one per level and one more), got ",
                           p_.scales.size());
            for (double s : p_.scales)
                DETSEG_REQUIRE(std::isfinite(s) && s > 0, fn, "params",
                               "scales must be positive and finite, got ", s);
        }
        if (!p_.steps.empty()) {
            DETSEG_REQUIRE(p_.steps.size() == levels, fn, "params", "steps: expected ", levels,
                           " values (one per level), got ", p_.steps.size());
            for (double s : p_.steps)
                DETSEG_REQUIRE(std::isfinite(s) && s > 0, fn, "params",
                               "steps must be positive and finite, got ", s);
        }
        // torchvision builds the (w, h) pairs in double, stores them as float32 tensors (its
        // default dtype) and clamps them there.
        for (std::size_t k = 0; k < levels; ++k) {
            const double s_k = p_.scales[k];
            const double s_prime = std::sqrt(p_.scales[k] * p_.scales[k + 1]);
            std::vector<std::array<float, 2>> wh = {{float(s_k), float(s_k)},
                                                    {float(s_prime), float(s_prime)}};
            for (double r : p_.aspect_ratios[k]) {
                const double sq = std::sqrt(r);
                const double w = s_k * sq, h = s_k / sq;
                wh.push_back({float(w), float(h)});
                wh.push_back({float(h), float(w)});
            }
            if (p_.clip)
                for (auto& v : wh)
                    for (float& x : v)
                        x = std::min(std::max(x, 0.0f), 1.0f);
            wh_.push_back(std::move(wh));
        }
    }

    /// torchvision's `ssd300_vgg16` configuration: ratios {{2}, {2, 3}, {2, 3}, {2, 3}, {2}, {2}},
    /// scales {0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05}, steps {8, 16, 32, 64, 100, 300}; for a
    /// 300×300 image and grids 38, 19, 10, 5, 3, 1 (8732 boxes).
    [[nodiscard]] static default_box_generator ssd300() {
        return default_box_generator({.aspect_ratios = {{2}, {2, 3}, {2, 3}, {2, 3}, {2}, {2}},
                                      .scales = {0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05},
                                      .steps = {8, 16, 32, 64, 100, 300}});
    }

    /// torchvision's `ssdlite320_mobilenet_v3_large` configuration: ratios {2, 3} on 6 levels,
    /// min_ratio 0.2, max_ratio 0.95; for a 320×320 image and grids 20, 10, 5, 3, 2, 1.
    [[nodiscard]] static default_box_generator ssdlite320() {
        return default_box_generator({.aspect_ratios = std::vector<std::vector<double>>(6, {2, 3}),
                                      .min_ratio = 0.2,
                                      .max_ratio = 0.95});
    }

    /// Number of levels.
    [[nodiscard]] index_t num_levels() const noexcept {
        return static_cast<index_t>(p_.aspect_ratios.size());
    }

    /// The scales s_0 … s_L (derived from min_ratio/max_ratio or as given).
    [[nodiscard]] const std::vector<double>& scales() const noexcept { return p_.scales; }

    /// The parameters, with `scales` filled in.
    [[nodiscard]] const default_box_params& params() const noexcept { return p_; }

    /// 2 + 2·(number of ratios of the level). Throws `invalid_argument` for a bad level.
    [[nodiscard]] index_t num_boxes_per_location(index_t level) const {
        DETSEG_REQUIRE(level >= 0 && level < num_levels(), "default_box_generator", "level",
                       "expected a level in [0, ", num_levels(), "), got ", level);
        return static_cast<index_t>(wh_[static_cast<std::size_t>(level)].size());
    }

    /// Total number of boxes for these grids (one per level).
    [[nodiscard]] index_t num_boxes(std::span<const grid_size> grids) const {
        check_grids(grids, "num_boxes");
        index_t n = 0;
        for (std::size_t k = 0; k < grids.size(); ++k)
            n += grids[k].height * grids[k].width * static_cast<index_t>(wh_[k].size());
        return n;
    }

    /// The default boxes in normalised (cx, cy, w, h), torchvision's `_grid_default_boxes`.
    /// @param image the image's `{.height, .width}` (used with `steps`), positive
    /// @param grids one feature-map size per level, positive
    /// @return `num_boxes(grids)`×4 `tensor<T, 2>`, T float or double. torchvision computes
    ///         these in float32 for either dtype, so the double values are the float ones.
    /// @throws detseg::invalid_argument naming `image` or `grids`. O(number of boxes).
    template <class T = float>
    [[nodiscard]] tensor<T, 2> cxcywh(image_size image, std::span<const grid_size> grids) const {
        static_assert(std::is_floating_point_v<T>, "detseg: default boxes are float or double");
        check_image(image, grids, "cxcywh");
        tensor<T, 2> out({num_boxes(grids), 4});
        fill(image, grids, out.view(), false);
        return out;
    }

    /// `cxcywh` into `out`, any writable `num_boxes(grids)`×4 floating-point view.
    template <float_output<2> Out>
    void cxcywh(image_size image, std::span<const grid_size> grids, Out&& out) const {
        check_image(image, grids, "cxcywh");
        auto o = detail::as_view_checked<2>(std::forward<Out>(out), "cxcywh", "out");
        detail::check_out_shape(o, std::array<index_t, 2>{num_boxes(grids), 4}, "cxcywh", "out");
        fill(image, grids, o, false);
    }

    /// The default boxes in pixels, xyxy, as torchvision's `DefaultBoxGenerator.forward`:
    /// x1 = (cx - 0.5·w)·W, x2 = (cx + 0.5·w)·W (y with the height H), computed in T from the
    /// float32 (cx, cy, w, h). Same parameters, errors and complexity as `cxcywh`.
    template <class T = float>
    [[nodiscard]] tensor<T, 2> xyxy(image_size image, std::span<const grid_size> grids) const {
        static_assert(std::is_floating_point_v<T>, "detseg: default boxes are float or double");
        check_image(image, grids, "xyxy");
        tensor<T, 2> out({num_boxes(grids), 4});
        fill(image, grids, out.view(), true);
        return out;
    }

    /// `xyxy` into `out`, any writable `num_boxes(grids)`×4 floating-point view.
    template <float_output<2> Out>
    void xyxy(image_size image, std::span<const grid_size> grids, Out&& out) const {
        check_image(image, grids, "xyxy");
        auto o = detail::as_view_checked<2>(std::forward<Out>(out), "xyxy", "out");
        detail::check_out_shape(o, std::array<index_t, 2>{num_boxes(grids), 4}, "xyxy", "out");
        fill(image, grids, o, true);
    }

private:
    void check_grids(std::span<const grid_size> grids, const char* fn) const {
        DETSEG_REQUIRE(static_cast<index_t>(grids.size()) == num_levels(), fn, "grids", "expected ",
                       num_levels(), " feature-map sizes (one per level), got ", grids.size());
        for (std::size_t k = 0; k < grids.size(); ++k)
            DETSEG_REQUIRE(grids[k].height > 0 && grids[k].width > 0, fn, "grids", "level ", k,
                           ": feature-map size must be positive, got ", grids[k].height, "×",
                           grids[k].width);
    }

    void check_image(image_size image, std::span<const grid_size> grids, const char* fn) const {
        DETSEG_REQUIRE(image.height > 0 && image.width > 0, fn, "image",
                       "image size must be positive, got ", image.height, "×", image.width);
        check_grids(grids, fn);
    }

    template <class U>
    void fill(image_size image, std::span<const grid_size> grids, strided_view<U, 2> out,
              bool pixels) const noexcept {
        using T = std::remove_cv_t<U>;
        const T img_w = static_cast<T>(image.width), img_h = static_cast<T>(image.height);
        index_t row = 0;
        for (std::size_t k = 0; k < grids.size(); ++k) {
            // number of cells per axis for the centres, as a float32 (torchvision divides a
            // float32 tensor by this Python number)
            float f_x = static_cast<float>(grids[k].width);
            float f_y = static_cast<float>(grids[k].height);
            if (!p_.steps.empty()) {
                f_x = static_cast<float>(static_cast<double>(image.width) / p_.steps[k]);
                f_y = static_cast<float>(static_cast<double>(image.height) / p_.steps[k]);
            }
            const auto& wh = wh_[k];
            for (index_t i = 0; i < grids[k].height; ++i) {
                const float cy = (static_cast<float>(i) + 0.5f) / f_y;
                for (index_t j = 0; j < grids[k].width; ++j) {
                    const float cx = (static_cast<float>(j) + 0.5f) / f_x;
                    for (const auto& s : wh) {
                        const T c[4] = {static_cast<T>(cx), static_cast<T>(cy),
                                        static_cast<T>(s[0]), static_cast<T>(s[1])};
                        if (pixels) {
                            const T hw = T(0.5) * c[2], hh = T(0.5) * c[3];
                            out(row, 0) = (c[0] - hw) * img_w;
                            out(row, 1) = (c[1] - hh) * img_h;
                            out(row, 2) = (c[0] + hw) * img_w;
                            out(row, 3) = (c[1] + hh) * img_h;
                        } else {
                            for (index_t q = 0; q < 4; ++q)
                                out(row, q) = c[q];
                        }
                        ++row;
                    }
                }
            }
        }
    }

    default_box_params p_;
    std::vector<std::vector<std::array<float, 2>>> wh_;
};

} // namespace detseg

#endif // DETSEG_DETECT_DEFAULT_BOXES_HPP
