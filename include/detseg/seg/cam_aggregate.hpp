#ifndef DETSEG_SEG_CAM_AGGREGATE_HPP
#define DETSEG_SEG_CAM_AGGREGATE_HPP

/// @file
/// `cam_aggregator`: upsampling of class activation maps to the image size (bilinear, PyTorch's
/// `F.interpolate` semantics through `dense/resize.hpp`) and their aggregation over scales and
/// horizontal flips, as PSA and IRN do at inference (`make_cam.py`: the maps of every scale and
/// of the flipped image, flipped back, summed).
///
///     detseg::cam_aggregator<float> agg(K, H, W);            // sum, align_corners = false
///     for (auto& s : scales) { agg.add(cam_s); agg.add(cam_s_of_flipped_image, true); }
///     auto cam = agg.result();                                 // K×H×W

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/dense/resize.hpp>
#include <detseg/seg/detail/cam_common.hpp>

#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace detseg {

/// How `cam_aggregator` combines the upsampled maps.
enum class cam_reduction {
    sum, ///< element-wise sum in the order added (PSA/IRN)
    max, ///< element-wise maximum
};

/// Options of `cam_aggregator`.
struct cam_aggregate_params {
    cam_reduction reduction = cam_reduction::sum;
    /// `align_corners` of the bilinear upsampling (IRN/PSA: false).
    bool align_corners = false;
};

/// Accumulates K×h_s×w_s class maps of any sizes into one K×H×W map of type `T` (float or
/// double): each added map is resized bilinearly to H×W (exactly `F.interpolate(map[None],
/// (H, W), mode="bilinear", align_corners)[0]`), flipped back along x when it comes from the
/// horizontally flipped image (`.flip(-1)`), then added to (in the order added: `s = s + u`,
/// the first map initialises it) or maxed with the result. Equal bit for bit to PyTorch doing
/// the same; `torch.stack(maps).sum(0)` adds in another order (a difference of float
/// rounding). Not thread-safe.
template <class T = float>
class cam_aggregator {
    static_assert(std::is_floating_point_v<T>, "detseg::cam_aggregator: T is float or double");

public:
    /// An empty aggregator for K classes at H×W.
    /// @throws detseg::invalid_argument if K < 0, H < 1 or W < 1 (arguments `classes`,
    ///         `height`, `width`), or an unknown reduction (`params`).
    cam_aggregator(index_t classes, index_t height, index_t width,
                   const cam_aggregate_params& params = {})
        : params_(params) {
        constexpr const char* fn = "cam_aggregator";
        DETSEG_REQUIRE(classes >= 0, fn, "classes", "must be >= 0, got ", classes);
        DETSEG_REQUIRE(height >= 1, fn, "height", "must be >= 1, got ", height);
        DETSEG_REQUIRE(width >= 1, fn, "width", "must be >= 1, got ", width);
        DETSEG_REQUIRE(params.reduction == cam_reduction::sum ||
                           params.reduction == cam_reduction::max,
                       fn, "params", "unknown reduction");
        acc_ = tensor<T, 3>({classes, height, width});
        tmp_ = tensor<T, 3>({classes, height, width});
    }

    /// Adds one K×h×w map (float or double, any backend; h, w ≥ 1), flipped back along x first
    /// if `flipped`. O(K·H·W).
    /// @throws detseg::invalid_argument (function `cam_aggregator::add`, argument `cam`) if its
    ///         K differs, a spatial extent is 0, or a value is NaN/inf; the result is then
    ///         unchanged.
    template <class Cam>
    void add(const Cam& cam, bool flipped = false) {
        constexpr const char* fn = "cam_aggregator::add";
        const auto v = detail::cam_input<3>(cam, fn, "cam");
        DETSEG_REQUIRE(v.extent(0) == acc_.extent(0), fn, "cam", "has ", v.extent(0),
                       " classes, the aggregator ", acc_.extent(0));
        DETSEG_REQUIRE(v.extent(1) >= 1 && v.extent(2) >= 1, fn, "cam", "empty map (", v.extent(1),
                       "x", v.extent(2), ")");
        detail::require_finite(v, fn, "cam");
        if (acc_.extent(0) == 0) {
            ++count_;
            return;
        }
        resize_bilinear(v, tmp_.view(), {.align_corners = params_.align_corners});
        const index_t k = acc_.extent(0), h = acc_.extent(1), w = acc_.extent(2);
        T* a = acc_.data();
        const T* t = tmp_.data();
        for (index_t c = 0; c < k; ++c)
            for (index_t y = 0; y < h; ++y) {
                T* ar = a + (c * h + y) * w;
                const T* tr = t + (c * h + y) * w;
                for (index_t x = 0; x < w; ++x) {
                    const T val = tr[flipped ? w - 1 - x : x];
                    if (count_ == 0)
                        ar[x] = val;
                    else if (params_.reduction == cam_reduction::sum)
                        ar[x] = ar[x] + val;
                    else
                        ar[x] = std::max(ar[x], val);
                }
            }
        ++count_;
    }

    /// Number of maps added.
    [[nodiscard]] index_t count() const noexcept { return count_; }
    /// The K×H×W aggregate (zeros before the first `add`).
    [[nodiscard]] const tensor<T, 3>& result() const noexcept { return acc_; }

private:
    cam_aggregate_params params_;
    tensor<T, 3> acc_, tmp_;
    index_t count_ = 0;
};

} // namespace detseg

#endif // DETSEG_SEG_CAM_AGGREGATE_HPP
