#ifndef DETSEG_SEG_PSEUDO_THRESHOLD_HPP
#define DETSEG_SEG_PSEUDO_THRESHOLD_HPP

/// @file
/// Stateful pseudo-label threshold policies, updated once per batch (docs/pseudo-labels.md has
/// each formula with its source):
///
/// - `cw_bass_threshold`: CW-BASS's dynamic threshold τ = base / (1 + exp(-β (mean conf - 0.5)))
///   clamped to [0.3, 0.8];
/// - `flexmatch_threshold`: FlexMatch's curriculum per-class thresholds (Zhang et al., NeurIPS
///   2021, Eqs. 6, 7, 9, 11);
/// - `freematch_threshold`: FreeMatch's self-adaptive global and class thresholds (Wang et al.,
///   ICLR 2023, Eqs. 5-8);
/// - `confidence_decay`: pseudo-label confidence multiplied by factor^round;
/// - `u2pl_entropy_split`: U2PL's reliable / unreliable split by an entropy percentile (Wang et
///   al., CVPR 2022, Sec. 3.3).
///
/// Every sum is taken in double in a fixed (row-major) order, so the results do not depend on
/// the number of threads. Every policy copies what it keeps.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

namespace detseg {

namespace detail {

/// Calls f(value, multi-index) for every element of a view in row-major order.
template <class E, std::size_t R, class F>
void for_each_element(const strided_view<E, R>& v, F&& f) {
    if (v.empty())
        return;
    std::array<index_t, R> idx{};
    for (;;) {
        index_t off = 0;
        for (std::size_t r = 0; r < R; ++r)
            off += idx[r] * v.stride(r);
        f(v.data_handle()[off], idx);
        std::size_t r = R;
        while (r-- > 0) {
            if (++idx[r] < v.extent(r))
                break;
            idx[r] = 0;
            if (r == 0)
                return;
        }
    }
}

/// Checks that every element is in [0, 1] (not NaN) and returns their double sum (row-major).
template <class E, std::size_t R>
[[nodiscard]] double checked_unit_sum(const strided_view<E, R>& v, const char* fn,
                                      const char* arg) {
    double sum = 0.0;
    for_each_element(v, [&](const auto& x, const std::array<index_t, R>&) {
        const auto d = static_cast<double>(x);
        DETSEG_REQUIRE(d >= 0.0 && d <= 1.0, fn, arg, "value ", d, " is not in [0, 1]");
        sum += d;
    });
    return sum;
}

/// The class axis and the item extents of a probability source: rank 2 (B×C), 3 (C×H×W) or
/// 4 (N×C×H×W).
template <std::size_t R>
inline constexpr std::size_t class_axis_v = R == 3 ? 0 : 1;

} // namespace detail

// --- CW-BASS ------------------------------------------------------------------------------------

/// Parameters of `cw_bass_threshold`: τ = clamp(base / (1 + exp(-beta (mean - 0.5))), min, max).
struct cw_bass_threshold_params {
    double base = 0.95;
    double beta = 10.0;
    double min = 0.3;
    double max = 0.8;
};

/// CW-BASS's dynamic confidence threshold. Before the first update, τ is its value at mean
/// confidence 0.5: clamp(base / 2, min, max).
class cw_bass_threshold {
public:
    /// @throws detseg::invalid_argument naming `params` unless base > 0, beta and the bounds
    ///         are finite and 0 <= min <= max <= 1.
    explicit cw_bass_threshold(const cw_bass_threshold_params& params = {}) : p_(params) {
        DETSEG_REQUIRE(std::isfinite(p_.base) && p_.base > 0.0 && std::isfinite(p_.beta) &&
                           p_.min >= 0.0 && p_.min <= p_.max && p_.max <= 1.0,
                       "cw_bass_threshold", "params",
                       "need base > 0, a finite beta and 0 <= min <= max <= 1");
        tau_ = evaluate(0.5);
    }

    /// Updates τ from the mean of a batch's confidences (any rank, values in [0, 1]) and returns
    /// it. An empty batch leaves τ unchanged. O(size).
    /// @throws detseg::invalid_argument naming `confidence` for a value outside [0, 1] or NaN.
    template <class Conf>
        requires viewable<Conf>
    double update(const Conf& confidence) {
        const auto v = as_view(confidence);
        const double sum = detail::checked_unit_sum(v, "cw_bass_threshold::update", "confidence");
        if (v.size() > 0)
            tau_ = evaluate(sum / static_cast<double>(v.size()));
        return tau_;
    }

    /// Updates τ from a given mean confidence in [0, 1] and returns it.
    double update_mean(double mean_confidence) {
        DETSEG_REQUIRE(mean_confidence >= 0.0 && mean_confidence <= 1.0,
                       "cw_bass_threshold::update_mean", "mean_confidence", "value ",
                       mean_confidence, " is not in [0, 1]");
        return tau_ = evaluate(mean_confidence);
    }

    /// The current threshold τ.
    [[nodiscard]] double threshold() const noexcept { return tau_; }
    [[nodiscard]] const cw_bass_threshold_params& params() const noexcept { return p_; }

private:
    [[nodiscard]] double evaluate(double mean) const noexcept {
        const double t = p_.base / (1.0 + std::exp(-p_.beta * (mean - 0.5)));
        return std::min(std::max(t, p_.min), p_.max);
    }

    cw_bass_threshold_params p_;
    double tau_ = 0.0;
};

// --- FlexMatch ----------------------------------------------------------------------------------

/// Parameters of `flexmatch_threshold`.
struct flexmatch_params {
    /// The fixed threshold τ (Eq. 6's selection and Eq. 9's scale).
    double tau = 0.95;
    /// Threshold warm-up (Eq. 11): normalise by max(max_c σ(c), unused items).
    bool warmup = true;
};

/// FlexMatch's curriculum pseudo-labelling thresholds. The state is one memory slot per
/// unlabeled item (an image, a pixel, a crop: the caller's choice), holding the class of the
/// item's last prediction with confidence > τ, or none. Per class c,
///
///     σ(c) = #items whose slot holds c                                        (Eq. 6)
///     β(c) = σ(c) / max(max_c' σ(c'), #items with an empty slot)  (warm-up, Eq. 11)
///          = σ(c) / max_c' σ(c')                                  (otherwise, Eq. 7)
///     T(c) = M(β(c)) · τ,   M(x) = x / (2 - x)                                 (Eq. 9)
///
/// (β = 0 when its denominator is 0). A prediction (c, conf) passes when conf > T(c) (Eq. 8).
/// Memory O(items + classes).
class flexmatch_threshold {
public:
    /// @throws detseg::invalid_argument naming `classes` (< 1), `items` (< 0) or `params`
    ///         (τ not in [0, 1]).
    flexmatch_threshold(index_t classes, index_t items, const flexmatch_params& params = {})
        : p_(params) {
        constexpr const char* fn = "flexmatch_threshold";
        DETSEG_REQUIRE(classes >= 1, fn, "classes", "need at least one class, got ", classes);
        DETSEG_REQUIRE(items >= 0, fn, "items", "negative item count ", items);
        DETSEG_REQUIRE(p_.tau >= 0.0 && p_.tau <= 1.0, fn, "params", "tau ", p_.tau,
                       " is not in [0, 1]");
        slot_.assign(static_cast<std::size_t>(items), -1);
        sigma_.assign(static_cast<std::size_t>(classes), 0);
        unused_ = items;
    }

    [[nodiscard]] index_t classes() const noexcept { return static_cast<index_t>(sigma_.size()); }
    [[nodiscard]] index_t items() const noexcept { return static_cast<index_t>(slot_.size()); }

    /// σ(c): the number of items whose memory holds class c.
    [[nodiscard]] index_t count(index_t c) const { return sigma_.at(static_cast<std::size_t>(c)); }

    /// β(c), the learning effect of class c (Eq. 7 or 11).
    [[nodiscard]] double learning_effect(index_t c) const {
        const index_t top = *std::max_element(sigma_.begin(), sigma_.end());
        const index_t den = p_.warmup ? std::max(top, unused_) : top;
        return den > 0 ? static_cast<double>(count(c)) / static_cast<double>(den) : 0.0;
    }

    /// T(c) = M(β(c)) τ.
    [[nodiscard]] double threshold(index_t c) const {
        const double b = learning_effect(c);
        return b / (2.0 - b) * p_.tau;
    }

    /// All C thresholds.
    [[nodiscard]] std::vector<double> thresholds() const {
        std::vector<double> t(sigma_.size());
        for (std::size_t c = 0; c < t.size(); ++c)
            t[c] = threshold(static_cast<index_t>(c));
        return t;
    }

    /// Whether a prediction of class c with confidence conf passes: conf > T(c).
    [[nodiscard]] bool passes(index_t c, double conf) const { return conf > threshold(c); }

    /// Eq. 6's memory update for one batch: for each k, if confidence[k] > τ, item
    /// `indices[k]`'s slot becomes `labels[k]`. Items are processed in order (a repeated index
    /// keeps its last confident label). Call it after computing the batch's mask.
    /// @throws detseg::invalid_argument naming `indices` (out of range, or lengths differ),
    ///         `labels` (not in [0, C)) or `confidence` (outside [0, 1] or NaN); nothing is
    ///         changed then.
    template <label_source Indices, label_source Labels, score_source Conf>
    void update(const Indices& indices, const Labels& labels, const Conf& confidence) {
        constexpr const char* fn = "flexmatch_threshold::update";
        const auto iv = detail::as_view_checked<1>(indices, fn, "indices");
        const auto lv = detail::as_view_checked<1>(labels, fn, "labels");
        const auto cv = detail::as_view_checked<1>(confidence, fn, "confidence");
        const index_t n = iv.extent(0);
        DETSEG_REQUIRE(lv.extent(0) == n, fn, "labels", "expected ", n, " labels, got ",
                       lv.extent(0));
        DETSEG_REQUIRE(cv.extent(0) == n, fn, "confidence", "expected ", n,
                       " confidences, got ", cv.extent(0));
        for (index_t k = 0; k < n; ++k) {
            const auto i = static_cast<std::int64_t>(iv[k]);
            const auto c = static_cast<std::int64_t>(lv[k]);
            const auto p = static_cast<double>(cv[k]);
            DETSEG_REQUIRE(i >= 0 && i < items(), fn, "indices", "index ", i, " is not in [0, ",
                           items(), ")");
            DETSEG_REQUIRE(c >= 0 && c < classes(), fn, "labels", "label ", c,
                           " is not in [0, ", classes(), ")");
            DETSEG_REQUIRE(p >= 0.0 && p <= 1.0, fn, "confidence", "value ", p,
                           " is not in [0, 1]");
        }
        for (index_t k = 0; k < n; ++k) {
            if (!(static_cast<double>(cv[k]) > p_.tau))
                continue;
            auto& s = slot_[static_cast<std::size_t>(iv[k])];
            if (s >= 0)
                --sigma_[static_cast<std::size_t>(s)];
            else
                --unused_;
            s = static_cast<std::int32_t>(lv[k]);
            ++sigma_[static_cast<std::size_t>(s)];
        }
    }

private:
    flexmatch_params p_;
    std::vector<std::int32_t> slot_;
    std::vector<index_t> sigma_;
    index_t unused_ = 0;
};

// --- FreeMatch ----------------------------------------------------------------------------------

/// Parameters of `freematch_threshold`.
struct freematch_params {
    /// EMA momentum λ.
    double momentum = 0.999;
};

/// FreeMatch's self-adaptive thresholds. With q_b the probability vector of item b of a batch of
/// B items (a pixel of an N×C×H×W map, or a row of a B×C matrix):
///
///     τ_t    = λ τ_{t-1}    + (1 - λ) (1/B) Σ_b max_c q_b(c)      (Eq. 5, global)
///     p̃_t(c) = λ p̃_{t-1}(c) + (1 - λ) (1/B) Σ_b q_b(c)           (Eq. 6, local)
///     τ_t(c) = p̃_t(c) / max_c' p̃_t(c') · τ_t                      (Eqs. 7-8)
///
/// with τ_0 = p̃_0(c) = 1/C. A prediction (c, conf) passes when conf >= τ_t(c).
class freematch_threshold {
public:
    /// @throws detseg::invalid_argument naming `classes` (< 1) or `params` (λ not in [0, 1]).
    explicit freematch_threshold(index_t classes, const freematch_params& params = {})
        : p_(params) {
        DETSEG_REQUIRE(classes >= 1, "freematch_threshold", "classes",
                       "need at least one class, got ", classes);
        DETSEG_REQUIRE(p_.momentum >= 0.0 && p_.momentum <= 1.0, "freematch_threshold",
                       "params", "momentum ", p_.momentum, " is not in [0, 1]");
        tau_ = 1.0 / static_cast<double>(classes);
        local_.assign(static_cast<std::size_t>(classes), tau_);
    }

    [[nodiscard]] index_t classes() const noexcept { return static_cast<index_t>(local_.size()); }
    /// τ_t.
    [[nodiscard]] double global_threshold() const noexcept { return tau_; }
    /// p̃_t(c).
    [[nodiscard]] double class_average(index_t c) const {
        return local_.at(static_cast<std::size_t>(c));
    }
    /// τ_t(c).
    [[nodiscard]] double threshold(index_t c) const {
        const double top = *std::max_element(local_.begin(), local_.end());
        return top > 0.0 ? class_average(c) / top * tau_ : 0.0;
    }
    [[nodiscard]] std::vector<double> thresholds() const {
        std::vector<double> t(local_.size());
        for (std::size_t c = 0; c < t.size(); ++c)
            t[c] = threshold(static_cast<index_t>(c));
        return t;
    }
    [[nodiscard]] bool passes(index_t c, double conf) const { return conf >= threshold(c); }

    /// One EMA step from a batch of probabilities: B×C (rank 2), C×H×W (rank 3) or N×C×H×W
    /// (rank 4), values in [0, 1]. An empty batch changes nothing. O(size).
    /// @throws detseg::invalid_argument naming `probs` (class extent is not C, or a value outside
    ///         [0, 1] or NaN); nothing is changed then.
    template <class Probs>
        requires viewable<Probs> &&
                 (view_rank_v<Probs> >= 2 && view_rank_v<Probs> <= 4)
    void update(const Probs& probs) {
        constexpr const char* fn = "freematch_threshold::update";
        const auto v = as_view(probs);
        constexpr std::size_t R = decltype(v)::rank();
        constexpr std::size_t ca = detail::class_axis_v<R>;
        DETSEG_REQUIRE(v.extent(ca) == classes(), fn, "probs", "expected ", classes(),
                       " classes on axis ", ca, ", got ", v.extent(ca));
        const index_t items = v.size() / std::max<index_t>(classes(), 1);
        (void)detail::checked_unit_sum(v, fn, "probs");
        if (items == 0)
            return;
        // Per item: max over classes; per class: sum over items (item order).
        std::vector<double> class_sum(local_.size(), 0.0);
        double max_sum = 0.0;
        std::array<index_t, R> e = v.extents();
        e[ca] = 1;
        const strided_view<const typename decltype(v)::value_type, R> items_view(
            v.data_handle(), e, v.strides());
        detail::for_each_element(items_view, [&](const auto&, const std::array<index_t, R>& i0) {
            auto idx = i0;
            double top = 0.0;
            for (index_t c = 0; c < classes(); ++c) {
                idx[ca] = c;
                index_t off = 0;
                for (std::size_t r = 0; r < R; ++r)
                    off += idx[r] * v.stride(r);
                const auto q = static_cast<double>(v.data_handle()[off]);
                class_sum[static_cast<std::size_t>(c)] += q;
                top = std::max(top, q);
            }
            max_sum += top;
        });
        const double lam = p_.momentum, b = static_cast<double>(items);
        tau_ = lam * tau_ + (1.0 - lam) * (max_sum / b);
        for (std::size_t c = 0; c < local_.size(); ++c)
            local_[c] = lam * local_[c] + (1.0 - lam) * (class_sum[c] / b);
    }

private:
    freematch_params p_;
    double tau_ = 0.0;
    std::vector<double> local_;
};

// --- confidence decay ---------------------------------------------------------------------------

/// Parameters of `confidence_decay`.
struct confidence_decay_params {
    /// Multiplier per round (e.g. 0.9).
    double factor = 0.9;
    /// Lower bound of the scale.
    double min_scale = 0.0;
};

/// Pseudo-label confidence decay: after r rounds, confidences are multiplied by
/// s_r = max(factor^r, min_scale) (s_0 = 1).
class confidence_decay {
public:
    /// @throws detseg::invalid_argument naming `params` unless 0 < factor <= 1 and
    ///         0 <= min_scale <= 1.
    explicit confidence_decay(const confidence_decay_params& params = {}) : p_(params) {
        DETSEG_REQUIRE(p_.factor > 0.0 && p_.factor <= 1.0 && p_.min_scale >= 0.0 &&
                           p_.min_scale <= 1.0,
                       "confidence_decay", "params",
                       "need 0 < factor <= 1 and 0 <= min_scale <= 1");
    }

    /// Starts the next round.
    void next_round() noexcept { ++round_; }
    [[nodiscard]] index_t round() const noexcept { return round_; }
    /// s_r.
    [[nodiscard]] double scale() const noexcept {
        return std::max(std::pow(p_.factor, static_cast<double>(round_)), p_.min_scale);
    }

    /// out = confidence · s_r, element by element (same shape, any rank, any strides; in place
    /// is allowed).
    /// @throws detseg::invalid_argument naming `out` if the shapes differ.
    template <class Conf, class Out>
        requires viewable<Conf> && float_output<Out, view_rank_v<Conf>>
    void apply(const Conf& confidence, Out&& out) const {
        const auto in = as_view(confidence);
        constexpr std::size_t R = decltype(in)::rank();
        auto o = detail::as_view_checked<R>(out, "confidence_decay::apply", "out");
        detail::check_out_shape(o, in.extents(), "confidence_decay::apply", "out");
        const double s = scale();
        detail::for_each_element(in, [&](const auto& x, const std::array<index_t, R>& idx) {
            index_t off = 0;
            for (std::size_t r = 0; r < R; ++r)
                off += idx[r] * o.stride(r);
            o.data_handle()[off] =
                static_cast<typename decltype(o)::value_type>(static_cast<double>(x) * s);
        });
    }

private:
    confidence_decay_params p_;
    index_t round_ = 0;
};

// --- U2PL ---------------------------------------------------------------------------------------

/// Parameters of `u2pl_entropy_split`.
struct u2pl_params {
    /// α_0: the proportion of unreliable pixels at epoch 0 (U2PL: 0.2).
    double alpha0 = 0.2;
    /// The total number of epochs T of the schedule α_t = α_0 (1 - t / T).
    index_t total_epochs = 80;
    /// Label value of pixels that take no part (not counted in the percentile).
    std::optional<std::int64_t> ignore_index = 255;
};

/// The codes `u2pl_entropy_split::split` writes.
enum class u2pl_pixel : std::uint8_t { ignored = 0, reliable = 1, unreliable = 2 };

/// U2PL's split of pseudo-labelled pixels into reliable and unreliable ones by entropy:
///
///     H(p) = -Σ_c p_c log p_c            (0 log 0 = 0)
///     α_t  = α_0 (1 - t / T)
///     γ_t  = the 100 (1 - α_t) percentile of H over the non-ignored pixels (NumPy's default
///            'linear' percentile, evaluated with NumPy's operations)
///     reliable: H < γ_t;  unreliable: H >= γ_t
class u2pl_entropy_split {
public:
    /// @throws detseg::invalid_argument naming `params` unless 0 <= α_0 <= 1 and T >= 1.
    explicit u2pl_entropy_split(const u2pl_params& params = {}) : p_(params) {
        DETSEG_REQUIRE(p_.alpha0 >= 0.0 && p_.alpha0 <= 1.0 && p_.total_epochs >= 1,
                       "u2pl_entropy_split", "params", "need 0 <= alpha0 <= 1 and total_epochs >= 1");
    }

    /// Sets the current epoch t (clamped to [0, T]).
    void set_epoch(index_t epoch) noexcept {
        epoch_ = std::clamp<index_t>(epoch, 0, p_.total_epochs);
    }
    [[nodiscard]] index_t epoch() const noexcept { return epoch_; }
    /// α_t.
    [[nodiscard]] double alpha() const noexcept {
        return p_.alpha0 *
               (1.0 - static_cast<double>(epoch_) / static_cast<double>(p_.total_epochs));
    }

    /// Splits the pixels of a batch. `probs` N×C×H×W or C×H×W (values in [0, 1]); `labels`
    /// N×H×W or H×W (only compared with the ignore index); `out` N×H×W or H×W receives
    /// `u2pl_pixel` codes (as integers). Returns γ_t (NaN when every pixel is ignored).
    /// O(N·C·H·W + P log P) for P valid pixels; memory O(N·H·W).
    /// @throws detseg::invalid_argument naming `probs` (a value outside [0, 1] or NaN),
    ///         `labels` or `out` (shape).
    template <class Probs, class Labels, class Out>
        requires viewable<Probs> && (view_rank_v<Probs> == 3 || view_rank_v<Probs> == 4) &&
                 viewable_with<Labels, view_rank_v<Probs> - 1, std::is_integral> &&
                 writable_view<Out, std::uint8_t, view_rank_v<Probs> - 1>
    double split(const Probs& probs, const Labels& labels, Out&& out) const {
        constexpr const char* fn = "u2pl_entropy_split::split";
        constexpr std::size_t R = view_rank_v<Probs>;
        const auto pv = as_view(probs);
        const auto lv = detail::as_view_checked<R - 1>(labels, fn, "labels");
        auto ov = detail::as_view_checked<R - 1>(out, fn, "out");
        constexpr std::size_t ca = R == 4 ? 1 : 0;
        std::array<index_t, R - 1> pix{};
        for (std::size_t r = 0, k = 0; r < R; ++r)
            if (r != ca)
                pix[k++] = pv.extent(r);
        detail::check_out_shape(lv, pix, fn, "labels");
        detail::check_out_shape(ov, pix, fn, "out");
        (void)detail::checked_unit_sum(pv, fn, "probs");
        const index_t classes = pv.extent(ca);
        std::vector<double> ent;
        std::vector<double> valid;
        ent.reserve(static_cast<std::size_t>(lv.size()));
        detail::for_each_element(lv, [&](const auto& y, const std::array<index_t, R - 1>& i) {
            std::array<index_t, R> idx{};
            for (std::size_t r = 0, k = 0; r < R; ++r)
                idx[r] = r == ca ? 0 : i[k++];
            double h = 0.0;
            for (index_t c = 0; c < classes; ++c) {
                idx[ca] = c;
                index_t off = 0;
                for (std::size_t r = 0; r < R; ++r)
                    off += idx[r] * pv.stride(r);
                const auto q = static_cast<double>(pv.data_handle()[off]);
                if (q > 0.0)
                    h -= q * std::log(q);
            }
            const bool ignored =
                p_.ignore_index && static_cast<std::int64_t>(y) == *p_.ignore_index;
            ent.push_back(ignored ? std::numeric_limits<double>::quiet_NaN() : h);
            if (!ignored)
                valid.push_back(h);
        });
        const double gamma = percentile(valid, 100.0 * (1.0 - alpha()));
        std::size_t k = 0;
        detail::for_each_element(lv, [&](const auto&, const std::array<index_t, R - 1>& i) {
            index_t off = 0;
            for (std::size_t r = 0; r + 1 < R; ++r)
                off += i[r] * ov.stride(r);
            const double h = ent[k++];
            const u2pl_pixel code = std::isnan(h) ? u2pl_pixel::ignored
                                    : h < gamma   ? u2pl_pixel::reliable
                                                  : u2pl_pixel::unreliable;
            ov.data_handle()[off] =
                static_cast<typename decltype(ov)::value_type>(static_cast<std::uint8_t>(code));
        });
        return gamma;
    }

    /// NumPy's `percentile(values, q)` with the default 'linear' method, operation by operation.
    [[nodiscard]] static double percentile(std::vector<double> v, double q) {
        if (v.empty())
            return std::numeric_limits<double>::quiet_NaN();
        std::sort(v.begin(), v.end());
        const double n = static_cast<double>(v.size());
        const double quantile = q / 100.0;
        const double virtual_index = (n * quantile + (1.0 + quantile * (1.0 - 1.0 - 1.0))) - 1.0;
        const double lo_f = std::floor(virtual_index);
        const double g = virtual_index - lo_f;
        const auto last = static_cast<index_t>(v.size()) - 1;
        const index_t lo = std::clamp<index_t>(static_cast<index_t>(lo_f), 0, last);
        const index_t hi = std::clamp<index_t>(static_cast<index_t>(lo_f) + 1, 0, last);
        const double a = v[static_cast<std::size_t>(lo)], b = v[static_cast<std::size_t>(hi)];
        const double diff = b - a;
        return g >= 0.5 ? b - diff * (1.0 - g) : a + diff * g;
    }

private:
    u2pl_params p_;
    index_t epoch_ = 0;
};

} // namespace detseg

#endif // DETSEG_SEG_PSEUDO_THRESHOLD_HPP
