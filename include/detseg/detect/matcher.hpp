#ifndef DETSEG_DETECT_MATCHER_HPP
#define DETSEG_DETECT_MATCHER_HPP

/// @file
/// Matching priors (anchors, default boxes, proposals) to ground truth from a match-quality
/// matrix, and the training targets built from a match.
///
/// References: `torchvision.models.detection._utils.Matcher` and `SSDMatcher` (0.14), exactly,
/// ties included (docs/anchors.md). The matrix is M×N: ground truths × priors, torchvision's
/// layout, e.g. `detseg::pairwise_iou(gt, priors)`.

#include <detseg/box/box.hpp>
#include <detseg/box/coder.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Match value of a prior whose best quality is below `low_threshold` (torchvision's
/// `Matcher.BELOW_LOW_THRESHOLD`): background.
inline constexpr index_t match_below_low = -1;
/// Match value of a prior whose best quality is in [low_threshold, high_threshold)
/// (`Matcher.BETWEEN_THRESHOLDS`): ignored.
inline constexpr index_t match_between = -2;

/// Parameters of `match_priors`; an aggregate. The defaults are RetinaNet's (torchvision
/// `RetinaNet`: 0.5, 0.4, low-quality matches allowed); Faster R-CNN's RPN uses 0.7, 0.3, true and
/// its box head 0.5, 0.5, false.
struct matcher_params {
    /// A prior whose best quality is >= this is matched to that ground truth. Finite.
    double high_threshold = 0.5;
    /// A prior whose best quality is < this is background (-1); in between, ignored (-2).
    /// Finite, at most `high_threshold`.
    double low_threshold = 0.4;
    /// Also match every prior that attains some ground truth's highest quality (ties
    /// included) to its own best ground truth, whatever the thresholds say.
    bool allow_low_quality_matches = true;
};

/// Parameters of `match_labels`.
struct match_label_params {
    /// Label of a prior matched `match_below_low` (background).
    index_t background = 0;
    /// Label of a prior matched `match_between` (ignored by the loss).
    index_t ignore = -1;
};

namespace detail {

template <class S>
concept quality_matrix = viewable_with<S, 2, std::is_floating_point>;

template <class Out>
concept index_output = writable_view<Out, index_t, 1> &&
    std::is_integral_v<typename checked_view_t<Out, 1>::value_type> &&
    std::is_signed_v<typename checked_view_t<Out, 1>::value_type>;

template <class V>
void check_quality(const V& q, const char* fn) {
    for (index_t i = 0; i < q.extent(0); ++i)
        for (index_t j = 0; j < q.extent(1); ++j)
            DETSEG_REQUIRE(std::isfinite(q(i, j)), fn, "quality", "entry (", i, ", ", j,
                           ") is NaN or infinite");
}

inline void check_threshold(double t, const char* fn, const char* arg) {
    DETSEG_REQUIRE(std::isfinite(t), fn, arg, "threshold must be finite, got ", t);
}

/// For each prior (column) the first ground truth (row) of highest quality and that quality.
template <class T>
void column_best(strided_view<const T, 2> q, std::vector<index_t>& idx, std::vector<T>& val) {
    const index_t m = q.extent(0), n = q.extent(1);
    idx.assign(static_cast<std::size_t>(n), 0);
    val.resize(static_cast<std::size_t>(n));
    if (m == 0)
        return;
    for (index_t j = 0; j < n; ++j)
        val[static_cast<std::size_t>(j)] = q(0, j);
    for (index_t i = 1; i < m; ++i)
        for (index_t j = 0; j < n; ++j) {
            const T v = q(i, j);
            if (v > val[static_cast<std::size_t>(j)]) { // strict: the first maximum wins
                val[static_cast<std::size_t>(j)] = v;
                idx[static_cast<std::size_t>(j)] = i;
            }
        }
}

/// torchvision `Matcher.__call__`, into `matches` (length N).
template <class T>
void match_into(strided_view<const T, 2> q, const matcher_params& p,
                std::vector<index_t>& matches) {
    const index_t m = q.extent(0), n = q.extent(1);
    std::vector<index_t> best;
    std::vector<T> val;
    column_best(q, best, val);
    matches.assign(static_cast<std::size_t>(n), match_below_low);
    if (m == 0 || n == 0)
        return; // no ground truth: every prior is background (torchvision raises)
    // torchvision compares the float32/float64 qualities with the thresholds cast to that type
    const T low = static_cast<T>(p.low_threshold), high = static_cast<T>(p.high_threshold);
    for (index_t j = 0; j < n; ++j) {
        const T v = val[static_cast<std::size_t>(j)];
        matches[static_cast<std::size_t>(j)] = v < low    ? match_below_low
                                               : v < high ? match_between
                                                          : best[static_cast<std::size_t>(j)];
    }
    if (!p.allow_low_quality_matches)
        return;
    for (index_t i = 0; i < m; ++i) {
        T row_max = q(i, 0);
        for (index_t j = 1; j < n; ++j)
            row_max = q(i, j) > row_max ? q(i, j) : row_max;
        for (index_t j = 0; j < n; ++j)
            if (q(i, j) == row_max)
                matches[static_cast<std::size_t>(j)] = best[static_cast<std::size_t>(j)];
    }
}

/// torchvision `SSDMatcher.__call__`.
template <class T>
void ssd_match_into(strided_view<const T, 2> q, double threshold, std::vector<index_t>& matches) {
    match_into(q,
               {.high_threshold = threshold,
                .low_threshold = threshold,
                .allow_low_quality_matches = false},
               matches);
    const index_t m = q.extent(0), n = q.extent(1);
    if (n == 0)
        return;
    for (index_t i = 0; i < m; ++i) { // later ground truths overwrite earlier ones (index_put_)
        index_t arg = 0;
        for (index_t j = 1; j < n; ++j)
            if (q(i, j) > q(i, arg))
                arg = j;
        matches[static_cast<std::size_t>(arg)] = i;
    }
}

template <class Q>
[[nodiscard]] auto quality_view(Q&& quality, const char* fn) {
    auto v = as_view_checked<2>(std::forward<Q>(quality), fn, "quality");
    using T = typename decltype(v)::value_type;
    strided_view<const T, 2> q(v);
    check_quality(q, fn);
    return q;
}

template <class Out>
void write_indices(const std::vector<index_t>& v, Out&& out, const char* fn) {
    auto o = as_view_checked<1>(std::forward<Out>(out), fn, "out");
    check_out_shape(o, std::array<index_t, 1>{static_cast<index_t>(v.size())}, fn, "out");
    using U = typename decltype(o)::value_type;
    for (std::size_t j = 0; j < v.size(); ++j)
        o[static_cast<index_t>(j)] = static_cast<U>(v[j]);
}

[[nodiscard]] inline tensor<index_t, 1> to_tensor(const std::vector<index_t>& v) {
    tensor<index_t, 1> t({static_cast<index_t>(v.size())});
    for (std::size_t j = 0; j < v.size(); ++j)
        t(static_cast<index_t>(j)) = v[j];
    return t;
}

inline void check_matcher_params(const matcher_params& p) {
    check_threshold(p.high_threshold, "match_priors", "params");
    check_threshold(p.low_threshold, "match_priors", "params");
    DETSEG_REQUIRE(p.low_threshold <= p.high_threshold, "match_priors", "params", "low_threshold (",
                   p.low_threshold, ") is above high_threshold (", p.high_threshold, ")");
}

/// The matches as a checked strided view of integers, with every value in [-2, m).
template <class Mt>
[[nodiscard]] auto matches_view(Mt&& matches, index_t m, const char* fn) {
    auto v = as_view_checked<1>(std::forward<Mt>(matches), fn, "matches");
    for (index_t j = 0; j < v.extent(0); ++j) {
        const auto x = static_cast<index_t>(v[j]);
        DETSEG_REQUIRE(x >= match_between && x < m, fn, "matches", "entry ", j, " is ", x,
                       "; expected -2, -1 or a ground-truth index in [0, ", m, ")");
    }
    return v;
}

} // namespace detail

/// Matches N priors to M ground truths, torchvision's `Matcher(high, low, allow)(quality)`:
/// prior j's best ground truth is the first row i of highest `quality(i, j)`; the match is that
/// i if its quality >= high_threshold, -1 (`match_below_low`) if < low_threshold, -2
/// (`match_between`) otherwise, the thresholds converted to the matrix's type first. With
/// `allow_low_quality_matches`, every prior that attains the highest quality of some ground
/// truth (all tied priors) gets back its best ground truth.
/// @param quality M×N floating-point matrix (ground truths × priors), finite
/// @return length-N `tensor<index_t, 1>`. With M = 0 every prior is -1 (torchvision raises).
/// @throws detseg::invalid_argument for a NaN/infinite entry (`quality`), or non-finite or
///         out-of-order thresholds (`params`: low > high). O(M·N) time, O(N) memory.
template <class Q>
    requires detail::quality_matrix<Q>
[[nodiscard]] tensor<index_t, 1> match_priors(Q&& quality, const matcher_params& params = {}) {
    detail::check_matcher_params(params);
    auto q = detail::quality_view(std::forward<Q>(quality), "match_priors");
    std::vector<index_t> m;
    detail::match_into(q, params, m);
    return detail::to_tensor(m);
}

/// `match_priors` into `out`, any writable length-N view of signed integers.
template <class Q, class Out>
    requires detail::quality_matrix<Q> && detail::index_output<Out>
void match_priors(Q&& quality, Out&& out, const matcher_params& params = {}) {
    detail::check_matcher_params(params);
    auto q = detail::quality_view(std::forward<Q>(quality), "match_priors");
    std::vector<index_t> m;
    detail::match_into(q, params, m);
    detail::write_indices(m, std::forward<Out>(out), "match_priors");
}

/// SSD's matching, torchvision's `SSDMatcher(threshold)(quality)`: `match_priors` with both
/// thresholds equal to `threshold` and no low-quality matches, then every ground truth i keeps
/// its best prior (the first column of highest quality in row i): that prior's match becomes i,
/// whatever its quality; where two ground truths share a best prior, the later one wins.
/// @param quality   M×N floating-point matrix (ground truths × priors), finite
/// @param threshold finite (SSD: 0.5)
/// @return length-N `tensor<index_t, 1>` of ground-truth indices and -1.
/// @throws detseg::invalid_argument naming `quality` or `threshold`. O(M·N) time, O(N) memory.
template <class Q>
    requires detail::quality_matrix<Q>
[[nodiscard]] tensor<index_t, 1> ssd_match_priors(Q&& quality, double threshold = 0.5) {
    detail::check_threshold(threshold, "ssd_match_priors", "threshold");
    auto q = detail::quality_view(std::forward<Q>(quality), "ssd_match_priors");
    std::vector<index_t> m;
    detail::ssd_match_into(q, threshold, m);
    return detail::to_tensor(m);
}

/// `ssd_match_priors` into `out`, any writable length-N view of signed integers.
template <class Q, class Out>
    requires detail::quality_matrix<Q> && detail::index_output<Out>
void ssd_match_priors(Q&& quality, Out&& out, double threshold = 0.5) {
    detail::check_threshold(threshold, "ssd_match_priors", "threshold");
    auto q = detail::quality_view(std::forward<Q>(quality), "ssd_match_priors");
    std::vector<index_t> m;
    detail::ssd_match_into(q, threshold, m);
    detail::write_indices(m, std::forward<Out>(out), "ssd_match_priors");
}

/// Class labels of N priors from their matches: `gt_labels[matches[j]]` for a matched prior,
/// `params.background` for -1, `params.ignore` for -2 (torchvision's Faster R-CNN box head and
/// SSD: background 0, ignored -1).
/// @param matches   length-N integers in [-2, M) (from `match_priors` or `ssd_match_priors`)
/// @param gt_labels length-M integers
/// @return length-N `tensor<index_t, 1>`
/// @throws detseg::invalid_argument naming `matches` (a value out of range). O(N).
template <label_source Mt, label_source L>
[[nodiscard]] tensor<index_t, 1> match_labels(Mt&& matches, L&& gt_labels,
                                              const match_label_params& params = {}) {
    auto g = detail::as_view_checked<1>(std::forward<L>(gt_labels), "match_labels", "gt_labels");
    auto m = detail::matches_view(std::forward<Mt>(matches), g.extent(0), "match_labels");
    tensor<index_t, 1> out({m.extent(0)});
    for (index_t j = 0; j < m.extent(0); ++j) {
        const auto x = static_cast<index_t>(m[j]);
        out(j) = x >= 0 ? static_cast<index_t>(g[x])
                        : (x == match_below_low ? params.background : params.ignore);
    }
    return out;
}

/// Regression targets of N priors from their matches: row j is
/// `encode_boxes(gt_boxes[matches[j]], priors[j], coder)` for a matched prior, and 0 for an
/// unmatched one (-1 or -2; torchvision encodes ground truth 0 there, which its losses then
/// ignore). Bit-identical to torchvision's `encode_single` on the matched rows.
/// @param matches  length-N integers in [-2, M)
/// @param gt_boxes M×4 box source, positive sizes
/// @param priors   N×4 box source, positive sizes
/// @return N×4 `tensor` in the common coordinate type
/// @throws detseg::invalid_argument naming `matches`, `gt_boxes`, `priors` or `params` (as
///         `encode_boxes`). O(N + M).
template <label_source Mt, box_source G, box_source P>
[[nodiscard]] auto match_targets(Mt&& matches, G&& gt_boxes, P&& priors,
                                 const box_coder_params& coder = {}) {
    constexpr const char* fn = "match_targets";
    detail::check_coder_params(coder, fn);
    auto g = detail::to_boxes(std::forward<G>(gt_boxes), box_format::xyxy, fn, "gt_boxes");
    auto p = detail::to_boxes(std::forward<P>(priors), box_format::xyxy, fn, "priors");
    detail::check_finite_boxes(g, fn, "gt_boxes");
    detail::check_finite_boxes(p, fn, "priors");
    detail::check_positive_size(g, fn, "gt_boxes");
    detail::check_positive_size(p, fn, "priors");
    auto m = detail::matches_view(std::forward<Mt>(matches), g.size(), fn);
    DETSEG_REQUIRE(m.extent(0) == p.size(), fn, "matches", "expected ", p.size(),
                   " matches (one per prior), got ", m.extent(0));
    using T =
        std::common_type_t<typename decltype(g)::value_type, typename decltype(p)::value_type>;
    tensor<T, 2> out({p.size(), 4});
    const auto w = detail::coder_weights<T>(coder);
    for (index_t j = 0; j < p.size(); ++j) {
        const auto x = static_cast<index_t>(m[j]);
        if (x < 0)
            continue; // zeros
        const auto r =
            detail::encode_one<T>(detail::box_as<T>(g.xyxy(x)), detail::box_as<T>(p.xyxy(j)), w);
        for (index_t k = 0; k < 4; ++k)
            out(j, k) = r[static_cast<std::size_t>(k)];
    }
    return out;
}

} // namespace detseg

#endif // DETSEG_DETECT_MATCHER_HPP
