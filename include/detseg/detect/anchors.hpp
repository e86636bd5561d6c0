#ifndef DETSEG_DETECT_ANCHORS_HPP
#define DETSEG_DETECT_ANCHORS_HPP

/// @file
/// Grid anchors for FPN, RetinaNet and Faster R-CNN: a few cell anchors (sizes × aspect ratios)
/// per feature-map level, repeated at every location of the level's grid.
///
/// Reference: `torchvision.models.detection.anchor_utils.AnchorGenerator` (0.14), reproduced
/// exactly (`anchor_convention::torchvision`, the default), and detectron2's
/// `DefaultAnchorGenerator` (`anchor_convention::detectron2`, with its `offset`). The rules are
/// in docs/anchors.md.

#include <detseg/box/box.hpp>
#include <detseg/box/clip.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace detseg {

/// A feature map's size in cells: `{.height, .width}`, height first as torchvision's `(h, w)`.
struct grid_size {
    index_t height = 0;
    index_t width = 0;
};

/// The distance in pixels between neighbouring cells of a feature map, per axis.
struct grid_stride {
    index_t y = 0;
    index_t x = 0;
};

/// How the cell anchors are built.
enum class anchor_convention {
    /// torchvision `AnchorGenerator`: ratio-major (for each ratio r, for each size s); in
    /// float32, h = sqrt(r)·s, w = s / sqrt(r) (as (1 / sqrt(r))·s), the anchor
    /// (-w/2, -h/2, w/2, h/2) rounded half to even (`torch.round`).
    torchvision,
    /// detectron2 `DefaultAnchorGenerator`: size-major (for each size s, for each ratio a); in
    /// double, w = sqrt(s² / a), h = a·w, the anchor (-w/2, -h/2, w/2, h/2), not rounded.
    detectron2,
};

/// Parameters of `grid_anchor_generator`; an aggregate.
struct grid_anchor_params {
    anchor_convention convention = anchor_convention::torchvision;
    /// Cell j of a level with stride s is centred at (j + offset)·s: 0 in torchvision (and
    /// detectron2's config default), 0.5 for cell centres (detectron2's constructor default).
    /// In [0, 1).
    double offset = 0.0;
};

/// Generates the anchors of every level of a feature pyramid, for one image.
///
/// Output order, as torchvision's: level by level; within a level, location-major (rows of the
/// grid top to bottom, each row left to right), and the level's cell anchors innermost. Level l
/// contributes `height·width·num_anchors_per_location(l)` boxes, xyxy, in pixels.
///
///     detseg::grid_anchor_generator gen({{32}, {64}, {128}, {256}, {512}},
///                                       {{0.5, 1.0, 2.0}});          // Faster R-CNN FPN
///     const std::vector<detseg::grid_size> grids = {{200, 272}, {100, 136}, {50, 68},
///                                                   {25, 34}, {13, 17}};
///     auto anchors = gen.generate<float>({.height = 800, .width = 1088}, grids);
///
/// The generator copies its parameters and computes the cell anchors once; `generate` into a
/// caller's view allocates nothing.
class grid_anchor_generator {
public:
    /// @param sizes         per level, the anchor sizes (square roots of the areas, pixels):
    ///                      positive, finite, at least one per level
    /// @param aspect_ratios per level, the ratios height / width: positive, finite, at least one
    ///                      per level; a single list is used for every level (torchvision
    ///                      repeats a flat tuple the same way)
    /// @throws detseg::invalid_argument naming `sizes`, `aspect_ratios` or `params` (offset not
    ///         in [0, 1)). O(total number of cell anchors).
    grid_anchor_generator(std::vector<std::vector<double>> sizes,
                          std::vector<std::vector<double>> aspect_ratios,
                          grid_anchor_params params = {})
        : sizes_(std::move(sizes)), ratios_(std::move(aspect_ratios)), params_(params) {
        constexpr const char* fn = "grid_anchor_generator";
        DETSEG_REQUIRE(!sizes_.empty(), fn, "sizes", "at least one level is needed");
        if (ratios_.size() == 1 && sizes_.size() > 1)
            ratios_.resize(sizes_.size(), ratios_.front());
        DETSEG_REQUIRE(ratios_.size() == sizes_.size(), fn, "aspect_ratios", "expected ",
                       sizes_.size(), " levels (as sizes) or one, got ", ratios_.size());
        DETSEG_REQUIRE(std::isfinite(params_.offset) && params_.offset >= 0 && params_.offset < 1,
                       fn, "params", "offset must be in [0, 1), got ", params_.offset);
        for (std::size_t l = 0; l < sizes_.size(); ++l) {
            DETSEG_REQUIRE(!sizes_[l].empty(), fn, "sizes", "level ", l, " has no sizes");
            DETSEG_REQUIRE(!ratios_[l].empty(), fn, "aspect_ratios", "level ", l,
                           " has no aspect ratios");
            for (double s : sizes_[l])
                DETSEG_REQUIRE(std::isfinite(s) && s > 0, fn, "sizes", "level ", l,
                               ": sizes must be positive and finite, got ", s);
            for (double r : ratios_[l])
                DETSEG_REQUIRE(std::isfinite(r) && r > 0, fn, "aspect_ratios", "level ", l,
                               ": aspect ratios must be positive and finite, got ", r);
        }
        cells_.reserve(sizes_.size());
        for (std::size_t l = 0; l < sizes_.size(); ++l)
            cells_.push_back(make_cells(sizes_[l], ratios_[l]));
    }

    /// Number of levels.
    [[nodiscard]] index_t num_levels() const noexcept {
        return static_cast<index_t>(sizes_.size());
    }

    /// Number of cell anchors of level `level` (sizes × ratios), as torchvision's
    /// `num_anchors_per_location()`. Throws `invalid_argument` for a level out of range.
    [[nodiscard]] index_t num_anchors_per_location(index_t level) const {
        check_level(level);
        return cells_[static_cast<std::size_t>(level)].extent(0);
    }

    /// The cell anchors of a level (A×4, xyxy, centred at 0), as torchvision's `cell_anchors`:
    /// integers in the torchvision convention. Valid as long as the generator.
    [[nodiscard]] const tensor<double, 2>& cell_anchors(index_t level) const {
        check_level(level);
        return cells_[static_cast<std::size_t>(level)];
    }

    /// The convention and offset the generator was built with.
    [[nodiscard]] const grid_anchor_params& params() const noexcept { return params_; }

    /// Total number of anchors for these grids (one per level). O(levels).
    [[nodiscard]] index_t num_anchors(std::span<const grid_size> grids) const {
        check_grids(grids, "num_anchors");
        index_t n = 0;
        for (std::size_t l = 0; l < grids.size(); ++l)
            n += grids[l].height * grids[l].width * cells_[l].extent(0);
        return n;
    }

    /// The anchors of an image: the stride of level l is `image / grids[l]` per axis, rounded
    /// down (torchvision: `image_size // grid_size`).
    /// @param image the (padded) image's `{.height, .width}`, positive
    /// @param grids one feature-map size per level, positive, at most the image size (so that
    ///              every stride is at least 1)
    /// @return `num_anchors(grids)`×4 `tensor<T, 2>` (xyxy, pixels), T float or double
    /// @throws detseg::invalid_argument naming `image` or `grids`. O(number of anchors).
    template <class T = float>
    [[nodiscard]] tensor<T, 2> generate(image_size image, std::span<const grid_size> grids) const {
        static_assert(std::is_floating_point_v<T>, "detseg: anchors are float or double");
        const auto strides = strides_of(image, grids, "generate");
        tensor<T, 2> out({num_anchors(grids), 4});
        fill(grids, strides, out.view());
        return out;
    }

    /// `generate` into `out`, any writable `num_anchors(grids)`×4 floating-point view; allocates
    /// nothing (for at most 16 levels).
    template <float_output<2> Out>
    void generate(image_size image, std::span<const grid_size> grids, Out&& out) const {
        const auto strides = strides_of(image, grids, "generate");
        auto o = detail::as_view_checked<2>(std::forward<Out>(out), "generate", "out");
        detail::check_out_shape(o, std::array<index_t, 2>{num_anchors(grids), 4}, "generate",
                                "out");
        fill(grids, strides, o);
    }

    /// The anchors with explicit strides per level (detectron2 gives strides, not an image).
    /// @throws detseg::invalid_argument naming `grids` or `strides` (count other than the number
    ///         of levels, a stride that is not positive). O(number of anchors).
    template <class T = float>
    [[nodiscard]] tensor<T, 2> generate(std::span<const grid_size> grids,
                                        std::span<const grid_stride> strides) const {
        static_assert(std::is_floating_point_v<T>, "detseg: anchors are float or double");
        check_strides(grids, strides, "generate");
        tensor<T, 2> out({num_anchors(grids), 4});
        fill(grids, strides, out.view());
        return out;
    }

    /// `generate` with explicit strides into `out` (`num_anchors(grids)`×4, writable).
    template <float_output<2> Out>
    void generate(std::span<const grid_size> grids, std::span<const grid_stride> strides,
                  Out&& out) const {
        check_strides(grids, strides, "generate");
        auto o = detail::as_view_checked<2>(std::forward<Out>(out), "generate", "out");
        detail::check_out_shape(o, std::array<index_t, 2>{num_anchors(grids), 4}, "generate",
                                "out");
        fill(grids, strides, o);
    }

private:
    static constexpr std::size_t max_inline_levels = 16;

    struct stride_list {
        std::array<grid_stride, max_inline_levels> inline_{};
        std::vector<grid_stride> heap_;
        std::size_t n = 0;
        [[nodiscard]] std::span<const grid_stride> span() const noexcept {
            return n <= max_inline_levels ? std::span<const grid_stride>(inline_.data(), n)
                                          : std::span<const grid_stride>(heap_);
        }
        operator std::span<const grid_stride>() const noexcept { return span(); }
    };

    [[nodiscard]] tensor<double, 2> make_cells(const std::vector<double>& sizes,
                                               const std::vector<double>& ratios) const {
        tensor<double, 2> c({static_cast<index_t>(sizes.size() * ratios.size()), 4});
        index_t k = 0;
        if (params_.convention == anchor_convention::torchvision) {
            // torchvision computes the cell anchors in float32 (its default dtype), whatever the
            // dtype of the feature maps, and rounds them with torch.round (half to even).
            for (double r : ratios) {
                const float h_ratio = std::sqrt(static_cast<float>(r));
                const float w_ratio = 1.0f / h_ratio;
                for (double s : sizes) {
                    const float ws = w_ratio * static_cast<float>(s);
                    const float hs = h_ratio * static_cast<float>(s);
                    const float v[4] = {-ws / 2.0f, -hs / 2.0f, ws / 2.0f, hs / 2.0f};
                    for (index_t q = 0; q < 4; ++q)
                        c(k, q) = static_cast<double>(std::nearbyint(v[q]));
                    ++k;
                }
            }
        } else {
            for (double s : sizes) {
                for (double a : ratios) {
                    const double w = std::sqrt(s * s / a);
                    const double h = a * w;
                    c(k, 0) = -w / 2.0;
                    c(k, 1) = -h / 2.0;
                    c(k, 2) = w / 2.0;
                    c(k, 3) = h / 2.0;
                    ++k;
                }
            }
        }
        return c;
    }

    void check_level(index_t level) const {
        DETSEG_REQUIRE(level >= 0 && level < num_levels(), "grid_anchor_generator", "level",
                       "expected a level in [0, ", num_levels(), "), got ", level);
    }

    void check_grids(std::span<const grid_size> grids, const char* fn) const {
        DETSEG_REQUIRE(static_cast<index_t>(grids.size()) == num_levels(), fn, "grids", "expected ",
                       num_levels(), " feature-map sizes (one per level), got ", grids.size());
        for (std::size_t l = 0; l < grids.size(); ++l)
            DETSEG_REQUIRE(grids[l].height > 0 && grids[l].width > 0, fn, "grids", "level ", l,
                           ": feature-map size must be positive, got ", grids[l].height, "×",
                           grids[l].width);
    }

    void check_strides(std::span<const grid_size> grids, std::span<const grid_stride> strides,
                       const char* fn) const {
        check_grids(grids, fn);
        DETSEG_REQUIRE(strides.size() == grids.size(), fn, "strides", "expected ", grids.size(),
                       " strides (one per level), got ", strides.size());
        for (std::size_t l = 0; l < strides.size(); ++l)
            DETSEG_REQUIRE(strides[l].y > 0 && strides[l].x > 0, fn, "strides", "level ", l,
                           ": strides must be positive, got (", strides[l].y, ", ", strides[l].x,
                           ")");
    }

    [[nodiscard]] stride_list strides_of(image_size image, std::span<const grid_size> grids,
                                         const char* fn) const {
        DETSEG_REQUIRE(image.height > 0 && image.width > 0, fn, "image",
                       "image size must be positive, got ", image.height, "×", image.width);
        check_grids(grids, fn);
        stride_list s;
        s.n = grids.size();
        if (s.n > max_inline_levels)
            s.heap_.resize(s.n);
        grid_stride* p = s.n > max_inline_levels ? s.heap_.data() : s.inline_.data();
        for (std::size_t l = 0; l < grids.size(); ++l) {
            p[l] = {image.height / grids[l].height, image.width / grids[l].width};
            DETSEG_REQUIRE(p[l].y > 0 && p[l].x > 0, fn, "grids", "level ", l, ": feature map ",
                           grids[l].height, "×", grids[l].width, " is larger than the image ",
                           image.height, "×", image.width, " (stride 0)");
        }
        return s;
    }

    template <class U>
    void fill(std::span<const grid_size> grids, std::span<const grid_stride> strides,
              strided_view<U, 2> out) const noexcept {
        using T = std::remove_cv_t<U>;
        const double off = params_.offset;
        index_t row = 0;
        for (std::size_t l = 0; l < grids.size(); ++l) {
            const tensor<double, 2>& cell = cells_[l];
            const index_t na = cell.extent(0);
            for (index_t y = 0; y < grids[l].height; ++y) {
                // torchvision: integer shifts (arange * stride) added to the cell anchors in the
                // output dtype; with an offset, (j + offset) * stride, exact for integer strides
                const T sy = static_cast<T>((static_cast<double>(y) + off) *
                                            static_cast<double>(strides[l].y));
                for (index_t x = 0; x < grids[l].width; ++x) {
                    const T sx = static_cast<T>((static_cast<double>(x) + off) *
                                                static_cast<double>(strides[l].x));
                    for (index_t a = 0; a < na; ++a, ++row) {
                        out(row, 0) = sx + static_cast<T>(cell(a, 0));
                        out(row, 1) = sy + static_cast<T>(cell(a, 1));
                        out(row, 2) = sx + static_cast<T>(cell(a, 2));
                        out(row, 3) = sy + static_cast<T>(cell(a, 3));
                    }
                }
            }
        }
    }

    std::vector<std::vector<double>> sizes_;
    std::vector<std::vector<double>> ratios_;
    grid_anchor_params params_;
    std::vector<tensor<double, 2>> cells_;
};

} // namespace detseg

#endif // DETSEG_DETECT_ANCHORS_HPP
