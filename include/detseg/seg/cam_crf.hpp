#ifndef DETSEG_SEG_CAM_CRF_HPP
#define DETSEG_SEG_CAM_CRF_HPP

/// @file
/// `cam_crf_labels`: dense-CRF refinement of CAM pseudo labels, as PSA's `crf_inference` does:
/// the scores [background, CAM_1, ..., CAM_K] (`cam_with_background`) are used as
/// probabilities, the unary is `U = -log(clip(p, 1e-5, 1))` (pydensecrf's
/// `unary_from_softmax`), a Gaussian (position) and a bilateral (position + colour) Potts
/// kernel are added, and the MAP labels after mean-field inference are returned (0 = background,
/// k + 1 = CAM channel k). The CRF itself is `dense_crf` (seg/dense_crf.hpp).

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/seg/cam_labels.hpp>
#include <detseg/seg/dense_crf.hpp>
#include <detseg/seg/detail/cam_common.hpp>

#include <cstdint>

namespace detseg {

/// Options of `cam_crf_labels` (PSA's `crf_inference` defaults at scale 1).
struct cam_crf_params {
    /// How the background score is made (`cam_with_background`).
    cam_label_params background = {};
    double gaussian_sxy = 3.0;      ///< position kernel: sxy
    double gaussian_weight = 3.0;   ///< position kernel: Potts weight
    double bilateral_sxy = 80.0;    ///< appearance kernel: sxy
    double bilateral_srgb = 13.0;   ///< appearance kernel: srgb
    double bilateral_weight = 10.0; ///< appearance kernel: Potts weight
    int iterations = 10;            ///< mean-field iterations, ≥ 0
};

/// CRF-refined pseudo labels from an H×W×C image (any arithmetic type, e.g. 8-bit RGB) and K×H×W
/// foreground CAMs (float or double); see the file comment. Runs in float.
/// @return H×W `tensor<std::int32_t, 2>` with labels 0..K
/// O(iterations · H·W·(K + 1)) with the permutohedral lattice.
/// @throws detseg::invalid_argument (function `cam_crf_labels`) for a bad background parameter
///         or iterations < 0 (`params`), NaN/inf CAMs (`cams`), an image whose H×W differs from
///         the CAMs' (`image`); and as `dense_crf` for the kernel parameters.
template <image_source Image, class Cams>
[[nodiscard]] tensor<std::int32_t, 2> cam_crf_labels(const Image& image, const Cams& cams,
                                                     const cam_crf_params& params = {}) {
    constexpr const char* fn = "cam_crf_labels";
    const auto v = detail::cam_input<3>(cams, fn, "cams");
    const auto img = detail::as_view_checked<3>(image, fn, "image");
    DETSEG_REQUIRE(img.extent(0) == v.extent(1) && img.extent(1) == v.extent(2), fn, "image", "is ",
                   img.extent(0), "x", img.extent(1), ", the CAMs are ", v.extent(1), "x",
                   v.extent(2));
    DETSEG_REQUIRE(params.iterations >= 0, fn, "params", "iterations must be >= 0, got ",
                   params.iterations);
    detail::check_label_params(params.background, fn);
    detail::require_finite(v, fn, "cams");
    const auto scores = cam_with_background(v, params.background);
    tensor<float, 3> prob(scores.extents());
    for (index_t i = 0; i < prob.size(); ++i)
        prob.flat()[i] = static_cast<float>(scores.flat()[i]);
    dense_crf<float> crf(v.extent(1), v.extent(2), v.extent(0) + 1);
    crf.set_unary_from_prob(prob);
    crf.add_pairwise_gaussian(params.gaussian_sxy, params.gaussian_weight);
    crf.add_pairwise_bilateral(params.bilateral_sxy, params.bilateral_srgb, img,
                               params.bilateral_weight);
    return crf.map(params.iterations);
}

} // namespace detseg

#endif // DETSEG_SEG_CAM_CRF_HPP
