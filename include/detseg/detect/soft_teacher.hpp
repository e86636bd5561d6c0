#ifndef DETSEG_DETECT_SOFT_TEACHER_HPP
#define DETSEG_DETECT_SOFT_TEACHER_HPP

/// @file
/// The two pseudo-label parts of Soft Teacher (Xu et al., "End-to-End Semi-Supervised Object
/// Detection with Soft Teacher", ICCV 2021), docs/pseudo-labels.md:
///
/// - `soft_teacher_classification_loss`: the student's classification loss on the proposals
///   assigned to pseudo boxes, background proposals weighted by the teacher's background score
///   (Eqs. 4-5), with its gradient with respect to the logits;
/// - `box_jitter_uncertainty` and `reliable_box_indices`: the box-jitter regression filter
///   (Eq. 6): the spread of the teacher's refinements of jittered copies of each pseudo box. The
///   jittering and the refinement are the caller's model's work; these functions take the
///   refined boxes.

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

namespace detseg {

/// How `soft_teacher_classification_loss` normalises its terms.
enum class soft_teacher_normalization {
    /// The paper's Eq. 4-5: (1/N_fg) Σ_fg CE_i + Σ_bg (r_j / Σ_bg r_k) CE_j (a term is 0 when
    /// it has no proposals or its weights sum to 0).
    paper,
    /// The released implementation's: Σ_i w_i CE_i / max(Σ_i w_i, 1), w = 1 (foreground) or r
    /// (background).
    weight_sum,
};

/// Options of `soft_teacher_classification_loss`.
struct soft_teacher_params {
    /// The background class; the last column (C - 1, as in mmdetection) when empty.
    std::optional<index_t> background_class = std::nullopt;
    soft_teacher_normalization normalization = soft_teacher_normalization::paper;
};

/// The returned form's result: the loss and its gradient (N×C) with respect to the logits.
template <class T>
struct soft_teacher_loss_result {
    double value = 0.0;
    tensor<T, 2> grad;
};

/// Soft Teacher's classification loss and its gradient. Proposal i has logits x_i (C values, one
/// of them background), assigned label y_i (the pseudo box's class, or background) and, for
/// background proposals, the teacher's background score r_i (its reliability). With
/// CE_i = log Σ_c exp(x_ic) - x_i,y_i, the loss is Σ_i a_i CE_i with the constant coefficients
/// a_i of `soft_teacher_normalization`; ∂/∂x_ic = a_i (softmax(x_i)_c - [c = y_i]). Computed in
/// double. O(N·C).
/// @param logits N×C floating point (any strides); @param labels N integers in [0, C);
/// @param background_scores N teacher background scores in [0, 1] (read for background
///        proposals only, all checked); @param grad writable N×C floating-point view.
/// @return the loss.
/// @throws detseg::invalid_argument naming `logits` (NaN or infinite; C < 2), `labels` (out of
///         range; length), `background_scores` (outside [0, 1], NaN; length), `grad` (shape) or
///         `params` (background class out of range). Nothing is written then.
template <class Logits, class Labels, class Scores, class Grad>
    requires viewable_with<Logits, 2, std::is_floating_point> && label_source<Labels> &&
             score_source<Scores> && float_output<Grad, 2>
double soft_teacher_classification_loss(const Logits& logits, const Labels& labels,
                                        const Scores& background_scores, Grad&& grad,
                                        const soft_teacher_params& params = {}) {
    constexpr const char* fn = "soft_teacher_classification_loss";
    const auto x = detail::as_view_checked<2>(logits, fn, "logits");
    const auto y = detail::as_view_checked<1>(labels, fn, "labels");
    const auto r = detail::as_view_checked<1>(background_scores, fn, "background_scores");
    auto g = detail::as_view_checked<2>(grad, fn, "grad");
    const index_t n = x.extent(0), c_n = x.extent(1);
    DETSEG_REQUIRE(c_n >= 2, fn, "logits", "need at least 2 columns (a class and background), got ",
                   c_n);
    const index_t bg = params.background_class.value_or(c_n - 1);
    DETSEG_REQUIRE(bg >= 0 && bg < c_n, fn, "params", "background class ", bg,
                   " is not in [0, ", c_n, ")");
    DETSEG_REQUIRE(y.extent(0) == n, fn, "labels", "expected ", n, " labels, got ", y.extent(0));
    DETSEG_REQUIRE(r.extent(0) == n, fn, "background_scores", "expected ", n, " scores, got ",
                   r.extent(0));
    detail::check_out_shape(g, x.extents(), fn, "grad");
    double fg_count = 0.0, bg_sum = 0.0, w_sum = 0.0;
    for (index_t i = 0; i < n; ++i) {
        const auto yi = static_cast<std::int64_t>(y[i]);
        DETSEG_REQUIRE(yi >= 0 && yi < c_n, fn, "labels", "label ", yi, " of proposal ", i,
                       " is not in [0, ", c_n, ")");
        const auto ri = static_cast<double>(r[i]);
        DETSEG_REQUIRE(ri >= 0.0 && ri <= 1.0, fn, "background_scores", "score ", ri,
                       " of proposal ", i, " is not in [0, 1]");
        for (index_t c = 0; c < c_n; ++c)
            DETSEG_REQUIRE(std::isfinite(static_cast<double>(x(i, c))), fn, "logits",
                           "non-finite logit at (", i, ", ", c, ")");
        if (yi == bg) {
            bg_sum += ri;
            w_sum += ri;
        } else {
            fg_count += 1.0;
            w_sum += 1.0;
        }
    }
    using G = typename decltype(g)::value_type;
    double loss = 0.0;
    std::vector<double> e(static_cast<std::size_t>(c_n));
    for (index_t i = 0; i < n; ++i) {
        const auto yi = static_cast<index_t>(y[i]);
        const bool is_bg = yi == bg;
        const auto ri = static_cast<double>(r[i]);
        double a;
        if (params.normalization == soft_teacher_normalization::paper)
            a = is_bg ? (bg_sum > 0.0 ? ri / bg_sum : 0.0) : 1.0 / fg_count;
        else
            a = (is_bg ? ri : 1.0) / std::max(w_sum, 1.0);
        double m = -std::numeric_limits<double>::infinity();
        for (index_t c = 0; c < c_n; ++c)
            m = std::max(m, static_cast<double>(x(i, c)));
        double s = 0.0;
        for (index_t c = 0; c < c_n; ++c) {
            e[static_cast<std::size_t>(c)] = std::exp(static_cast<double>(x(i, c)) - m);
            s += e[static_cast<std::size_t>(c)];
        }
        loss += a * (std::log(s) + (m - static_cast<double>(x(i, yi))));
        for (index_t c = 0; c < c_n; ++c)
            g(i, c) = static_cast<G>(a * (e[static_cast<std::size_t>(c)] / s - (c == yi ? 1.0 : 0.0)));
    }
    return loss;
}

/// `soft_teacher_classification_loss` returning the loss and an N×C gradient tensor of the
/// logits' type.
template <class Logits, class Labels, class Scores>
    requires viewable_with<Logits, 2, std::is_floating_point> && label_source<Labels> &&
             score_source<Scores>
[[nodiscard]] auto soft_teacher_classification_loss(const Logits& logits, const Labels& labels,
                                                    const Scores& background_scores,
                                                    const soft_teacher_params& params = {}) {
    const auto x = detail::as_view_checked<2>(logits, "soft_teacher_classification_loss",
                                              "logits");
    using T = typename decltype(x)::value_type;
    soft_teacher_loss_result<T> out;
    out.grad = tensor<T, 2>(x.extents());
    out.value = soft_teacher_classification_loss(x, labels, background_scores, out.grad, params);
    return out;
}

/// How `box_jitter_uncertainty` normalises the standard deviations.
enum class jitter_normalization {
    /// The paper's Eq. 6: each coordinate's σ_k divided by 0.5 (w + h) of the pseudo box.
    paper,
    /// The released implementation's: σ of x1, x2 divided by the width, σ of y1, y2 by the
    /// height of the mean refined box, each clamped to at least 1.
    mean_box_size,
};

/// Options of `box_jitter_uncertainty`.
struct box_jitter_params {
    jitter_normalization normalization = jitter_normalization::paper;
    /// Sample standard deviation (divide by J - 1, as `torch.std`), or population (by J).
    bool unbiased = true;
};

/// Soft Teacher's box-jitter uncertainty of M pseudo boxes: for box m with J refined jittered
/// copies b_jm (xyxy), σ_k = std_j(b_jm,k) (k = x1, y1, x2, y2, computed in double, two-pass),
/// normalised per `jitter_normalization`, and ū_m = the mean of the four. A pseudo box whose
/// normaliser is 0 (`paper`, w + h = 0) gets +inf (0 when every σ is 0).
/// @param pseudo_boxes M boxes (any box source, xyxy; `as_boxes` for other formats);
/// @param refined J×M×4 xyxy floating point (any strides); @param out writable length-M view.
/// @throws detseg::invalid_argument naming `refined` (not J×M×4, J < 2 for `unbiased` or
///         J < 1, a NaN or infinite coordinate), `pseudo_boxes` (non-finite) or `out` (shape).
///         O(J·M).
template <box_source Pseudo, class Refined, class Out>
    requires viewable_with<Refined, 3, std::is_floating_point> && float_output<Out, 1>
void box_jitter_uncertainty(Pseudo&& pseudo_boxes, const Refined& refined, Out&& out,
                            const box_jitter_params& params = {}) {
    constexpr const char* fn = "box_jitter_uncertainty";
    auto b = detail::to_boxes(std::forward<Pseudo>(pseudo_boxes), box_format::xyxy, fn,
                              "pseudo_boxes");
    detail::check_finite_boxes(b, fn, "pseudo_boxes");
    const auto rv = detail::as_view_checked<3>(refined, fn, "refined");
    auto o = detail::as_view_checked<1>(out, fn, "out");
    const index_t m_n = b.size(), j_n = rv.extent(0);
    DETSEG_REQUIRE(rv.extent(1) == m_n && rv.extent(2) == 4, fn, "refined", "expected J×", m_n,
                   "×4, got ", rv.extent(0), "×", rv.extent(1), "×", rv.extent(2));
    DETSEG_REQUIRE(j_n >= (params.unbiased ? 2 : 1), fn, "refined", "need at least ",
                   params.unbiased ? 2 : 1, " jittered copies, got ", j_n);
    detail::check_out_shape(o, std::array<index_t, 1>{m_n}, fn, "out");
    for (index_t j = 0; j < j_n; ++j)
        for (index_t m = 0; m < m_n; ++m)
            for (index_t k = 0; k < 4; ++k)
                DETSEG_REQUIRE(std::isfinite(static_cast<double>(rv(j, m, k))), fn, "refined",
                               "non-finite coordinate at (", j, ", ", m, ", ", k, ")");
    using O = typename decltype(o)::value_type;
    const double dof = static_cast<double>(params.unbiased ? j_n - 1 : j_n);
    for (index_t m = 0; m < m_n; ++m) {
        double mean[4] = {0, 0, 0, 0}, sd[4] = {0, 0, 0, 0};
        for (index_t k = 0; k < 4; ++k) {
            for (index_t j = 0; j < j_n; ++j)
                mean[k] += static_cast<double>(rv(j, m, k));
            mean[k] /= static_cast<double>(j_n);
            double ss = 0.0;
            for (index_t j = 0; j < j_n; ++j) {
                const double d = static_cast<double>(rv(j, m, k)) - mean[k];
                ss += d * d;
            }
            sd[k] = std::sqrt(ss / dof);
        }
        double u = 0.0;
        if (params.normalization == jitter_normalization::paper) {
            const auto c = b.xyxy(m);
            const double size = 0.5 * ((static_cast<double>(c.x2) - static_cast<double>(c.x1)) +
                                       (static_cast<double>(c.y2) - static_cast<double>(c.y1)));
            const double total = sd[0] + sd[1] + sd[2] + sd[3];
            u = size > 0.0 ? (total / size) / 4.0
                           : (total > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
        } else {
            const double w = std::max(mean[2] - mean[0], 1.0), h = std::max(mean[3] - mean[1], 1.0);
            u = (sd[0] / w + sd[1] / h + sd[2] / w + sd[3] / h) / 4.0;
        }
        o[m] = static_cast<O>(u);
    }
}

/// `box_jitter_uncertainty` returning a length-M tensor of the refined boxes' type.
template <box_source Pseudo, class Refined>
    requires viewable_with<Refined, 3, std::is_floating_point>
[[nodiscard]] auto box_jitter_uncertainty(Pseudo&& pseudo_boxes, const Refined& refined,
                                          const box_jitter_params& params = {}) {
    const auto rv = detail::as_view_checked<3>(refined, "box_jitter_uncertainty", "refined");
    using T = typename decltype(rv)::value_type;
    tensor<T, 1> out({rv.extent(1)});
    box_jitter_uncertainty(std::forward<Pseudo>(pseudo_boxes), rv, out, params);
    return out;
}

/// Indices (ascending) of the pseudo boxes reliable enough for the regression loss:
/// uncertainty < threshold (Soft Teacher uses 0.02). O(M).
/// @throws detseg::invalid_argument naming `threshold` if it is NaN.
template <score_source Uncertainty>
[[nodiscard]] std::vector<index_t> reliable_box_indices(const Uncertainty& uncertainty,
                                                        double threshold = 0.02) {
    DETSEG_REQUIRE(!std::isnan(threshold), "reliable_box_indices", "threshold",
                   "threshold is NaN");
    const auto u = detail::as_view_checked<1>(uncertainty, "reliable_box_indices", "uncertainty");
    std::vector<index_t> keep;
    for (index_t i = 0; i < u.extent(0); ++i)
        if (static_cast<double>(u[i]) < threshold)
            keep.push_back(i);
    return keep;
}

} // namespace detseg

#endif // DETSEG_DETECT_SOFT_TEACHER_HPP
