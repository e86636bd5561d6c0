#ifndef DETSEG_SEG_PSEUDO_TEACHER_HPP
#define DETSEG_SEG_PSEUDO_TEACHER_HPP

/// @file
/// `teacher_pseudo_labels`: a teacher's pseudo labels and their confidences, the inputs of
/// `pseudo_label_loss` and of the threshold policies: per pixel the argmax class (ties: the
/// lowest class, like `torch.max(dim)`) and the confidence max_c softmax(x)_c = 1 / Σ_c
/// exp(x_c - max x) (from logits) or max_c p_c (from probabilities), computed in double.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace detseg {

/// What the teacher's scores are.
enum class teacher_scores {
    logits,        ///< confidences are the softmax maximum
    probabilities, ///< confidences are the maximum itself
};

/// Options of `teacher_pseudo_labels`.
struct teacher_pseudo_label_params {
    teacher_scores scores = teacher_scores::logits;
};

/// The returned form of `teacher_pseudo_labels`.
template <class T, std::size_t R>
struct teacher_pseudo_label_maps {
    tensor<std::int32_t, R> labels;
    tensor<T, R> confidence;
};

/// Per pixel of N×C×H×W (or C×H×W) teacher scores: the argmax class into `labels` and the
/// confidence into `confidence` (both N×H×W or H×W). O(N·C·H·W); rows in parallel (the result
/// does not depend on the thread count).
/// @throws detseg::invalid_argument naming `scores` (a NaN or infinite value; C = 0), `labels`
///         or `confidence` (shape). Nothing is written then.
template <class Scores, class Labels, class Conf>
    requires viewable<Scores> && (view_rank_v<Scores> == 3 || view_rank_v<Scores> == 4) &&
             writable_view<Labels, std::int32_t, view_rank_v<Scores> - 1> &&
             float_output<Conf, view_rank_v<Scores> - 1>
void teacher_pseudo_labels(const Scores& scores, Labels&& labels, Conf&& confidence,
                           const teacher_pseudo_label_params& params = {}) {
    constexpr const char* fn = "teacher_pseudo_labels";
    constexpr std::size_t R = view_rank_v<Scores>;
    const auto s = as_view(scores);
    static_assert(std::is_floating_point_v<typename decltype(s)::value_type>,
                  "detseg::teacher_pseudo_labels: scores must be float or double");
    auto lv = detail::as_view_checked<R - 1>(labels, fn, "labels");
    auto cv = detail::as_view_checked<R - 1>(confidence, fn, "confidence");
    // As N×C×H×W / N×H×W.
    const index_t n = R == 4 ? s.extent(0) : 1, c_n = s.extent(R - 3), h = s.extent(R - 2),
                  w = s.extent(R - 1);
    const index_t sn = R == 4 ? s.stride(0) : 0, sc = s.stride(R - 3), sh = s.stride(R - 2),
                  sw = s.stride(R - 1);
    DETSEG_REQUIRE(c_n >= 1, fn, "scores", "no classes (C = 0)");
    std::array<index_t, R - 1> pix{};
    for (std::size_t r = 0; r + 1 < R; ++r)
        pix[r] = R == 4 ? (r == 0 ? n : s.extent(r + 1)) : s.extent(r + 1);
    detail::check_out_shape(lv, pix, fn, "labels");
    detail::check_out_shape(cv, pix, fn, "confidence");
    const auto* base = s.data_handle();
    for (index_t a = 0; a < n; ++a)
        for (index_t c = 0; c < c_n; ++c)
            for (index_t i = 0; i < h; ++i)
                for (index_t j = 0; j < w; ++j)
                    DETSEG_REQUIRE(std::isfinite(static_cast<double>(
                                       base[a * sn + c * sc + i * sh + j * sw])),
                                   fn, "scores", "non-finite score at (", a, ", ", c, ", ", i,
                                   ", ", j, ")");
    auto at = [](auto& v, index_t a, index_t i, index_t j) -> auto& {
        if constexpr (R == 4)
            return v(a, i, j);
        else
            return v(i, j);
    };
    using LV = typename decltype(lv)::value_type;
    using CV = typename decltype(cv)::value_type;
    parallel_for(n * h, [&](index_t row) {
        const index_t a = row / h, i = row % h;
        for (index_t j = 0; j < w; ++j) {
            const auto* p = base + a * sn + i * sh + j * sw;
            index_t best = 0;
            double top = static_cast<double>(p[0]);
            for (index_t c = 1; c < c_n; ++c) {
                const auto v = static_cast<double>(p[c * sc]);
                if (v > top) {
                    top = v;
                    best = c;
                }
            }
            double conf = top;
            if (params.scores == teacher_scores::logits) {
                double sum = 0.0;
                for (index_t c = 0; c < c_n; ++c)
                    sum += std::exp(static_cast<double>(p[c * sc]) - top);
                conf = 1.0 / sum;
            }
            at(lv, a, i, j) = static_cast<LV>(best);
            at(cv, a, i, j) = static_cast<CV>(conf);
        }
    }, n * c_n * h * w >= (index_t{1} << 20) ? 2 : n * h + 1);
}

/// `teacher_pseudo_labels` returning int32 labels and confidences of the scores' type.
template <class Scores>
    requires viewable<Scores> && (view_rank_v<Scores> == 3 || view_rank_v<Scores> == 4)
[[nodiscard]] auto teacher_pseudo_labels(const Scores& scores,
                                         const teacher_pseudo_label_params& params = {}) {
    constexpr std::size_t R = view_rank_v<Scores>;
    const auto s = as_view(scores);
    using T = typename decltype(s)::value_type;
    std::array<index_t, R - 1> pix{};
    for (std::size_t r = 0; r + 1 < R; ++r)
        pix[r] = (R == 4 && r == 0) ? s.extent(0) : s.extent(r + 1);
    teacher_pseudo_label_maps<T, R - 1> out{tensor<std::int32_t, R - 1>(pix),
                                            tensor<T, R - 1>(pix)};
    teacher_pseudo_labels(s, out.labels, out.confidence, params);
    return out;
}

} // namespace detseg

#endif // DETSEG_SEG_PSEUDO_TEACHER_HPP
