#ifndef DETSEG_SEG_CRF_PRESETS_HPP
#define DETSEG_SEG_CRF_PRESETS_HPP

/// @file
/// Named dense-CRF parameter sets (a Gaussian and a bilateral kernel, both Potts) and a one-call
/// refinement of per-class probabilities with them.
///
/// Reference: pydensecrf's README (Gaussian sxy=3 w=3, bilateral sxy=80 srgb=13 w=10); DeepLab v2
/// (Chen et al., TPAMI 2018) ResNet-101 (Gaussian w=3 sxy=1, bilateral w=4 sxy=67 srgb=3) and
/// VGG-16 (Gaussian w=2 sxy=2, bilateral w=4 sxy=65 srgb=3), 10 iterations.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/seg/dense_crf.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace detseg {

/// The parameters of the usual two-kernel dense CRF.
struct crf_preset {
    std::string_view name; ///< canonical name, as `crf_preset_by_name` accepts it
    double gauss_sxy;      ///< Gaussian (position) kernel: standard deviation in pixels
    double gauss_w;        ///< Gaussian kernel: Potts weight
    double bi_sxy;         ///< bilateral kernel: position standard deviation in pixels
    double bi_srgb;        ///< bilateral kernel: colour standard deviation (0..255 scale)
    double bi_w;           ///< bilateral kernel: Potts weight
    int iterations;        ///< mean-field iterations the source uses

    /// pydensecrf's README example (its code runs 5 iterations; 10 here, as the CLI's default).
    [[nodiscard]] static constexpr crf_preset readme() noexcept {
        return {"readme", 3.0, 3.0, 80.0, 13.0, 10.0, 10};
    }
    /// DeepLab v2 ResNet-101 (PASCAL VOC).
    [[nodiscard]] static constexpr crf_preset deeplab_v2_resnet101() noexcept {
        return {"deeplab-v2-resnet101", 1.0, 3.0, 67.0, 3.0, 4.0, 10};
    }
    /// DeepLab v2 VGG-16 (PASCAL VOC).
    [[nodiscard]] static constexpr crf_preset deeplab_v2_vgg16() noexcept {
        return {"deeplab-v2-vgg16", 2.0, 2.0, 65.0, 3.0, 4.0, 10};
    }
};

/// The names `crf_preset_by_name` accepts (canonical spelling).
[[nodiscard]] inline std::array<std::string_view, 3> crf_preset_names() noexcept {
    return {"readme", "deeplab-v2-resnet101", "deeplab-v2-vgg16"};
}

/// The preset called `name`: "readme", "deeplab-v2-resnet101", "deeplab-v2-vgg16" ('_' may
/// replace '-', and "deeplabv2_resnet101" / "deeplabv2_vgg16" are accepted too).
/// @throws detseg::invalid_argument for another name.
[[nodiscard]] inline crf_preset crf_preset_by_name(std::string_view name) {
    std::string key;
    for (char c : name)
        if (c != '-' && c != '_')
            key.push_back(c);
    if (key == "readme")
        return crf_preset::readme();
    if (key == "deeplabv2resnet101")
        return crf_preset::deeplab_v2_resnet101();
    if (key == "deeplabv2vgg16")
        return crf_preset::deeplab_v2_vgg16();
    detail::throw_invalid("crf_preset_by_name", "name", "unknown preset '", std::string(name),
                          "' (readme, deeplab-v2-resnet101, deeplab-v2-vgg16)");
}

/// Adds the preset's two kernels to `crf` in pydensecrf's order: the Gaussian, then the bilateral
/// on the H×W×C image (Potts compatibilities, the given normalisation).
/// @throws detseg::invalid_argument as `add_pairwise_gaussian` / `add_pairwise_bilateral`.
template <class T, image_source I>
void add_crf_preset(dense_crf<T>& crf, const crf_preset& preset, const I& image,
                    crf_normalization normalization = crf_normalization::symmetric) {
    crf.add_pairwise_gaussian(preset.gauss_sxy, preset.gauss_w, normalization);
    crf.add_pairwise_bilateral(preset.bi_sxy, preset.bi_srgb, image, preset.bi_w, normalization);
}

/// Refines L×H×W probabilities `prob` with the preset's CRF on the H×W×C `image` and writes Q
/// after `iterations` iterations (the preset's count when negative) into the L×H×W `q_out`
/// (which may be `prob` itself: the unary is read first).
/// @throws detseg::invalid_argument as `dense_crf::set_unary_from_prob`, `add_crf_preset`,
///         `dense_crf::inference` (image and prob sizes must agree).
template <class P, image_source I, class V>
    requires(viewable_with<P, 3, std::is_floating_point> && float_output<V, 3>)
void crf_refine(const P& prob, const I& image, V&& q_out,
                const crf_preset& preset = crf_preset::readme(), int iterations = -1,
                crf_options options = {}) {
    auto p = detail::as_view_checked<3>(prob, "crf_refine", "prob");
    dense_crf<float> crf(p.extent(1), p.extent(2), p.extent(0), options);
    crf.set_unary_from_prob(prob);
    add_crf_preset(crf, preset, image);
    crf.inference(iterations < 0 ? preset.iterations : iterations, q_out);
}

/// As above, returning Q as an L×H×W float tensor.
template <class P, image_source I>
    requires viewable_with<P, 3, std::is_floating_point>
[[nodiscard]] tensor<float, 3> crf_refine(const P& prob, const I& image,
                                          const crf_preset& preset = crf_preset::readme(),
                                          int iterations = -1, crf_options options = {}) {
    auto p = detail::as_view_checked<3>(prob, "crf_refine", "prob");
    tensor<float, 3> q({p.extent(0), p.extent(1), p.extent(2)});
    crf_refine(prob, image, q.view(), preset, iterations, options);
    return q;
}

/// Refines `prob` and writes the MAP labels (first argmax) into the H×W integer `labels_out`.
template <class P, image_source I, class V>
    requires(viewable_with<P, 3, std::is_floating_point> && writable_view<V, std::int32_t, 2>)
void crf_refine_labels(const P& prob, const I& image, V&& labels_out,
                       const crf_preset& preset = crf_preset::readme(), int iterations = -1,
                       crf_options options = {}) {
    auto p = detail::as_view_checked<3>(prob, "crf_refine_labels", "prob");
    dense_crf<float> crf(p.extent(1), p.extent(2), p.extent(0), options);
    crf.set_unary_from_prob(prob);
    add_crf_preset(crf, preset, image);
    crf.map(iterations < 0 ? preset.iterations : iterations, labels_out);
}

} // namespace detseg

#endif // DETSEG_SEG_CRF_PRESETS_HPP
