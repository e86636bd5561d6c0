#ifndef DETSEG_SEG_DENSE_CRF_HPP
#define DETSEG_SEG_DENSE_CRF_HPP

/// @file
/// Fully connected CRF with Gaussian pairwise terms and mean-field inference (Krähenbühl &
/// Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials", NIPS
/// 2011), the filtering done on a permutohedral lattice (Adams, Baek & Davis, Eurographics 2010).
///
/// Reference: pydensecrf @ 2723c7f (densecrf v2). With the default options the results follow its
/// conventions (see docs/crf.md and ../shared/docs/reference-semantics.md):
/// - energies: `E(x) = Σ_i U_i(x_i) + Σ_k Σ_{i,j} μ_k(x_i, x_j) k_k(f_i, f_j)`,
///   `k(f_i, f_j) = exp(-|f_i - f_j|² / 2)` on the scaled features;
/// - mean field: `Q0 = softmax(-U)`; each iteration `t = -U`, for each kernel in the order added
///   `t -= compat(filt(Q))`, `Q = softmax(t)` (max subtracted), all pixels at once, no damping;
///   the MAP label is the first argmax;
/// - the lattice includes the self term j = i; `filt` is normalised with `n = K·1`
///   (see `crf_normalization`).
///
/// Pixel `n = y·W + x`; Q and unaries are L×H×W (or L×N for a point set), as PyTorch's C×H×W.
/// Memory O(N·(L + d)) per CRF plus the lattice, never N×N. OpenMP over lattice points and pixels;
/// results do not depend on the number of threads.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/seg/detail/crf_exact.hpp>
#include <detseg/seg/detail/crf_math.hpp>
#include <detseg/seg/detail/permutohedral.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// How a kernel's filtered message is normalised, with `n = K·1` the kernel's row sums (self
/// term included, computed by the same operator as the message, so on the lattice it is the
/// lattice's own approximate sum) and `D = diag(n)`:
/// - `symmetric` (default, pydensecrf's NORMALIZE_SYMMETRIC): `D^-½ K D^-½ Q`, with
///   `D^-½ = 1/sqrt(n + 1e-20)`;
/// - `after` (NORMALIZE_AFTER): `D⁻¹ K Q`; `before` (NORMALIZE_BEFORE): `K D⁻¹ Q`, `D⁻¹ = 1/(n + 1e-20)`;
/// - `none` (NO_NORMALIZATION): the raw operator `K Q`. pydensecrf computes a normaliser for this
///   mode (the mean of n) and never applies it; detseg reproduces that: the raw lattice output,
///   which is about 0.85× (Gaussian) to 0.55× (bilateral) of the exact kernel sum.
enum class crf_normalization { symmetric, after, before, none };

/// The label compatibility μ of a pairwise term; the message added to `-U` is `-μ(filt(Q))`.
/// - Potts with weight w (a number, implicit): `μ(m) = -w·m`, a reward for agreeing labels
///   (pydensecrf's `compat=w`);
/// - diagonal with L weights v: `μ(m)_l = v_l·m_l` (pydensecrf's 1-D `compat`), an energy;
/// - a full L×L matrix M: `μ(m) = ½(M + Mᵀ)·m` (pydensecrf's 2-D `compat`, symmetrised).
class crf_compatibility {
public:
    enum class kind { potts, diagonal, matrix };

    /// Potts compatibility with weight `w` (implicit, so `add_pairwise_gaussian(3, 3)` reads as
    /// pydensecrf's `compat=3`).
    /// @throws detseg::invalid_argument if `w` is not finite.
    crf_compatibility(double w = 1.0) : kind_(kind::potts), weight_(w) { // NOLINT: implicit
        DETSEG_REQUIRE(std::isfinite(w), "crf_compatibility", "w", "not finite (", w, ")");
    }

    /// Potts compatibility with weight `w`.
    [[nodiscard]] static crf_compatibility potts(double w) { return crf_compatibility(w); }

    /// Diagonal compatibility: one weight per label (any rank-1 floating-point source).
    /// @throws detseg::invalid_argument if empty or a weight is not finite.
    template <score_source S>
    [[nodiscard]] static crf_compatibility diagonal(const S& weights) {
        auto v = detail::as_view_checked<1>(weights, "crf_compatibility::diagonal", "weights");
        crf_compatibility c;
        c.kind_ = kind::diagonal;
        c.labels_ = v.extent(0);
        DETSEG_REQUIRE(c.labels_ > 0, "crf_compatibility::diagonal", "weights", "empty");
        for (index_t i = 0; i < v.extent(0); ++i) {
            const double x = static_cast<double>(v[i]);
            DETSEG_REQUIRE(std::isfinite(x), "crf_compatibility::diagonal", "weights",
                           "weight ", i, " is not finite");
            c.values_.push_back(x);
        }
        return c;
    }

    /// Full L×L compatibility matrix M (any rank-2 floating-point source), used as ½(M + Mᵀ).
    /// @throws detseg::invalid_argument if M is not square, empty, or has a non-finite entry.
    template <class M>
        requires viewable_with<M, 2, std::is_floating_point>
    [[nodiscard]] static crf_compatibility matrix(const M& m) {
        auto v = detail::as_view_checked<2>(m, "crf_compatibility::matrix", "m");
        DETSEG_REQUIRE(v.extent(0) == v.extent(1) && v.extent(0) > 0, "crf_compatibility::matrix",
                       "m", "expected a non-empty square matrix, got ", v.extent(0), "x",
                       v.extent(1));
        crf_compatibility c;
        c.kind_ = kind::matrix;
        c.labels_ = v.extent(0);
        const index_t L = c.labels_;
        c.values_.assign(static_cast<std::size_t>(L * L), 0.0);
        for (index_t i = 0; i < L; ++i)
            for (index_t j = 0; j < L; ++j) {
                const double a = static_cast<double>(v(i, j));
                DETSEG_REQUIRE(std::isfinite(a), "crf_compatibility::matrix", "m", "entry (", i,
                               ", ", j, ") is not finite");
            }
        for (index_t i = 0; i < L; ++i)
            for (index_t j = 0; j < L; ++j) {
                // pydensecrf: 0.5*(w + w.transpose()) in float
                const float s = 0.5f * (static_cast<float>(v(i, j)) + static_cast<float>(v(j, i)));
                c.values_[static_cast<std::size_t>(i * L + j)] = s;
            }
        return c;
    }

    [[nodiscard]] kind type() const noexcept { return kind_; }
    /// The Potts weight (0 for the other kinds).
    [[nodiscard]] double weight() const noexcept { return kind_ == kind::potts ? weight_ : 0.0; }
    /// Number of labels the compatibility is for (0 for Potts, which fits any).
    [[nodiscard]] index_t labels() const noexcept { return labels_; }
    /// Diagonal weights (L), or the symmetrised matrix row-major (L×L); empty for Potts.
    [[nodiscard]] const std::vector<double>& values() const noexcept { return values_; }

private:
    kind kind_ = kind::potts;
    double weight_ = 1.0;
    index_t labels_ = 0;
    std::vector<double> values_;
};

/// How the pairwise messages are computed.
struct crf_options {
    /// Exact O(N²) mean field for every kernel (no lattice): the kernel is evaluated for every
    /// pair on the fly at each iteration (no N×N memory). Time O(N²·(d + L)) per kernel and
    /// iteration: for small images (up to a few 10⁴ pixels) and for checking.
    bool brute_force = false;
    /// The position-only kernel of `add_pairwise_gaussian` is applied exactly, as separable 1-D
    /// Gaussian filters along x then y (truncated where the weight drops below 1e-8 of the
    /// centre), instead of on the lattice; other kernels still use the lattice. Time
    /// O(N·L·sxy) per iteration.
    bool exact_spatial = false;
    /// Whether the exact modes include the self term j = i in the kernel sums (pydensecrf's
    /// lattice does). `false` needs `brute_force` or applies only to the `exact_spatial` kernel;
    /// a lattice kernel with `include_self = false` is rejected.
    bool include_self = true;
};

/// A fully connected CRF over an H×W image (or N points) with L labels, `T` = float or double.
///
/// Typical use (pydensecrf's README):
///
///     detseg::dense_crf<> crf(H, W, L);
///     crf.set_unary_from_prob(prob);                 // L×H×W probabilities
///     crf.add_pairwise_gaussian(3, 3);               // sxy = 3, Potts weight 3
///     crf.add_pairwise_bilateral(80, 13, image, 10); // sxy, srgb, H×W×3 image, weight 10
///     crf.map(10, labels);                           // H×W labels after 10 iterations
///
/// Set the unary before inference; add kernels in any order (the order of the messages is that
/// of pydensecrf). Each kernel's lattice is built when the kernel is added.
template <class T = float>
class dense_crf {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "detseg::dense_crf: T must be float or double");

public:
    using value_type = T;

    /// A CRF over an H×W image with `labels` labels.
    /// @throws detseg::invalid_argument if a size is not positive.
    dense_crf(index_t height, index_t width, index_t labels, crf_options options = {})
        : dense_crf(height, width, labels, options, false) {}

    /// A CRF over `n` points (no image grid): unaries and Q are L×N and only
    /// `add_pairwise_kernel` applies.
    /// @throws detseg::invalid_argument if a size is not positive.
    [[nodiscard]] static dense_crf points(index_t n, index_t labels, crf_options options = {}) {
        return dense_crf(1, n, labels, options, true);
    }

    [[nodiscard]] index_t height() const noexcept { return H_; }
    [[nodiscard]] index_t width() const noexcept { return W_; }
    /// Number of pixels or points N.
    [[nodiscard]] index_t size() const noexcept { return N_; }
    [[nodiscard]] index_t labels() const noexcept { return L_; }
    [[nodiscard]] const crf_options& options() const noexcept { return options_; }
    /// Number of pairwise kernels added so far.
    [[nodiscard]] index_t kernels() const noexcept { return static_cast<index_t>(kernels_.size()); }

    // ----------------------------------------------------------------------------------- unary

    /// Sets the unary energies U from L×H×W (image) or L×N (rank 2) values: `-log p` of the
    /// label probabilities.
    /// @throws detseg::invalid_argument if the shape is not L×H×W / L×N or a value is NaN or
    ///         infinite. O(N·L).
    template <class U>
        requires(viewable_with<U, 3, std::is_floating_point> ||
                 viewable_with<U, 2, std::is_floating_point>)
    void set_unary_energy(const U& energy) {
        set_unary_impl(energy, "dense_crf::set_unary_energy", "energy", [](double e) {
            DETSEG_REQUIRE(std::isfinite(e), "dense_crf::set_unary_energy", "energy",
                           "not finite (", e, ")");
            return e;
        });
    }

    /// Sets the unary from probabilities, `U = -log(clip(p, 1e-5, 1))` computed in `T` as
    /// pydensecrf's `unary_from_softmax` (which computes it in float32). L×H×W or L×N.
    /// @throws detseg::invalid_argument if the shape differs or a probability is negative or NaN.
    template <class P>
        requires(viewable_with<P, 3, std::is_floating_point> ||
                 viewable_with<P, 2, std::is_floating_point>)
    void set_unary_from_prob(const P& prob) {
        set_unary_impl(prob, "dense_crf::set_unary_from_prob", "prob", [](double p) {
            DETSEG_REQUIRE(p >= 0.0, "dense_crf::set_unary_from_prob", "prob",
                           "negative or NaN probability (", p, ")");
            return p;
        });
        // -log(clip(p, 1e-5, 1)) in T on the stored values (negated: -U = log(clip(p)))
        parallel_for_chunks(N_, 4096, [&](index_t lo, index_t hi) {
            if constexpr (std::is_same_v<T, float>) {
                // in place over the chunk's rows: the clipped probabilities (padded lanes
                // become 1), their logs (crf_log8, 8 at a time: within 1 ulp of logf on
                // [1e-5, 1]), then the padded lanes restored
                T* u = neg_unary_.data() + lo * S_;
                const index_t cnt = (hi - lo) * S_;
                for (index_t e = 0; e < cnt; ++e) {
                    const float q = -u[e];
                    u[e] = q < 1e-5f ? 1e-5f : (q > 1.0f ? 1.0f : q);
                }
                detail::crf_log_array(u, cnt);
                if (S_ > L_)
                    for (index_t i = 0; i < hi - lo; ++i)
                        for (index_t l = L_; l < S_; ++l)
                            u[i * S_ + l] = -crf_pad_energy_();
                return;
            }
            for (index_t i = lo; i < hi; ++i) {
                T* u = neg_unary_.data() + i * S_;
                for (index_t l = 0; l < L_; ++l) {
                    T q = -u[l];
                    q = q < T(1e-5) ? T(1e-5) : (q > T(1) ? T(1) : q);
                    u[l] = -(-std::log(q));
                }
            }
        });
    }

    /// Sets the unary from an integer label map (H×W, or N for points) and a ground-truth
    /// confidence, as pydensecrf's `unary_from_labels(labels, L, gt_prob, zero_unsure)`: the
    /// labelled class gets `-log(gt_prob)`, the others `-log((1 - gt_prob)/(L - 1))`. With
    /// `zero_unsure` (pydensecrf's default) the value 0 means "unsure" (uniform, `-log(1/L)`) and
    /// values 1..L are the classes 0..L-1; otherwise the values 0..L-1 are the classes. A pixel
    /// whose value equals `ignore_value` is unsure too.
    /// @throws detseg::invalid_argument if the shape differs from H×W (N), `gt_prob` is not in
    ///         (0, 1), L < 2, or a value is negative or out of range and not `ignore_value`.
    template <class M>
        requires(viewable_with<M, 2, std::is_integral> || viewable_with<M, 1, std::is_integral>)
    void set_unary_from_labels(const M& label_map, double gt_prob, bool zero_unsure = true,
                               std::optional<std::int64_t> ignore_value = std::nullopt);

    /// The unary energies as an L×H×W tensor (L×1×N for points).
    [[nodiscard]] tensor<T, 3> unary() const;

    // -------------------------------------------------------------------------------- pairwise

    /// Adds the position-only kernel with features `(x/sxy, y/sxy)` (pydensecrf's
    /// `addPairwiseGaussian(sxy, compat)`): `k = exp(-|p_i - p_j|²/(2 sxy²))`. Default weight 3,
    /// as pydensecrf. Uses the lattice, or the exact separable filter with
    /// `options().exact_spatial`, or the exact sum with `options().brute_force`.
    /// Lattice build O(N), memory O(N) (d = 2).
    /// @throws detseg::invalid_argument if `sxy` is not positive and finite, the compatibility's
    ///         label count is not L, or the CRF is over points.
    void add_pairwise_gaussian(double sxy, crf_compatibility compat = 3.0,
                               crf_normalization normalization = crf_normalization::symmetric);

    /// Adds the appearance kernel with features `(x/sxy, y/sxy, c_1/srgb, ..., c_C/srgb)` from an
    /// H×W×C image (pydensecrf's `addPairwiseBilateral(sxy, srgb, rgbim, compat)`, C = 3 there;
    /// channels used in the order given). Default weight 10, as pydensecrf.
    /// Lattice build O(N·d²) with d = 2 + C, memory O(N·(d+1)).
    /// @throws detseg::invalid_argument if `sxy` or `srgb` is not positive and finite, the image is
    ///         not H×W×C with C ≥ 1, has a non-finite value, the compatibility's label count is
    ///         not L, or the CRF is over points.
    template <image_source I>
    void add_pairwise_bilateral(double sxy, double srgb, const I& image,
                                crf_compatibility compat = 10.0,
                                crf_normalization normalization = crf_normalization::symmetric);

    /// Adds a kernel on arbitrary, already scaled features: a d×N (rank 2) or d×H×W (rank 3)
    /// floating-point source, `k = exp(-|f_i - f_j|²/2)` (pydensecrf's `addPairwiseEnergy`;
    /// its kernel types DIAG/CONST/FULL differ only in learning, not in inference).
    /// @throws detseg::invalid_argument if the shape is not d×N with d ≥ 1, a feature is not
    ///         finite or (lattice kernels) |f|·(d+1) ≥ 1e9, or the compatibility's label count
    ///         is not L. The Gaussian and bilateral kernels check the same bound on their
    ///         scaled features (argument `features`).
    template <class F>
        requires(viewable_with<F, 2, std::is_floating_point> ||
                 viewable_with<F, 3, std::is_floating_point>)
    void add_pairwise_kernel(const F& features, crf_compatibility compat = 1.0,
                             crf_normalization normalization = crf_normalization::symmetric);

    // ------------------------------------------------------------------------------- inference

    /// Runs `iterations` mean-field iterations from `Q0 = softmax(-U)` and writes Q into `q_out`,
    /// an L×H×W (rank 3) or L×N (rank 2) writable floating-point view (0 iterations give Q0).
    /// Time O(iterations · (N·L·(d+1) + lattice)) per kernel.
    /// @throws detseg::invalid_argument if the unary is not set, `iterations` < 0 or the output
    ///         shape differs.
    template <class V>
        requires(float_output<V, 3> || float_output<V, 2>)
    void inference(int iterations, V&& q_out) {
        start("dense_crf::inference");
        step(iterations, "dense_crf::inference");
        current_q_impl(q_out, "dense_crf::inference");
    }

    /// As above, returning Q as an L×H×W tensor (L×1×N for points).
    [[nodiscard]] tensor<T, 3> inference(int iterations) {
        tensor<T, 3> q({L_, H_, W_});
        inference(iterations, q.view());
        return q;
    }

    /// Runs `iterations` iterations and writes the MAP labels (first argmax of Q) into an H×W
    /// (rank 2) or N (rank 1) writable integer view.
    /// @throws detseg::invalid_argument as `inference`, or if the output shape differs.
    template <class V>
        requires(writable_view<V, std::int32_t, 2> || writable_view<V, std::int32_t, 1>)
    void map(int iterations, V&& labels_out) {
        start("dense_crf::map");
        step(iterations, "dense_crf::map");
        current_map_impl(labels_out, "dense_crf::map");
    }

    /// As above, returning an H×W tensor of labels (1×N for points).
    [[nodiscard]] tensor<std::int32_t, 2> map(int iterations) {
        tensor<std::int32_t, 2> out({H_, W_});
        map(iterations, out.view());
        return out;
    }

    // ------------------------------------------------------------------------ step by step

    /// Starts (or restarts) inference: `Q = Q0 = softmax(-U)`, iteration count 0.
    /// @throws detseg::invalid_argument if the unary is not set.
    void start() { start("dense_crf::start"); }

    /// Runs `n` more mean-field iterations from the current Q (`start()` first if not started).
    /// @throws detseg::invalid_argument if `n` < 0 or the unary is not set.
    void step(int n = 1) { step(n, "dense_crf::step"); }

    /// Iterations run since `start()`.
    [[nodiscard]] int iteration() const noexcept { return iteration_; }

    /// Writes the current Q (L×H×W or L×N).
    /// @throws detseg::invalid_argument if inference has not started or the shape differs.
    template <class V>
        requires(float_output<V, 3> || float_output<V, 2>)
    void current_q(V&& q_out) const {
        current_q_impl(q_out, "dense_crf::current_q");
    }

    /// The current Q as an L×H×W tensor (L×1×N for points).
    [[nodiscard]] tensor<T, 3> current_q() const {
        tensor<T, 3> q({L_, H_, W_});
        current_q(q.view());
        return q;
    }

    /// Writes the current MAP labels (H×W or N).
    template <class V>
        requires(writable_view<V, std::int32_t, 2> || writable_view<V, std::int32_t, 1>)
    void current_map(V&& labels_out) const {
        current_map_impl(labels_out, "dense_crf::current_map");
    }

    /// The current MAP labels as an H×W tensor.
    [[nodiscard]] tensor<std::int32_t, 2> current_map() const {
        tensor<std::int32_t, 2> out({H_, W_});
        current_map(out.view());
        return out;
    }

    /// Applies kernel `kernel`'s normalised filter (without its compatibility) to arbitrary L×H×W
    /// values: `D^-½ K D^-½ v` for the symmetric normalisation, etc. (the message of one
    /// mean-field step for v = Q is `-compat` of it). For inspection and tests.
    /// @throws detseg::invalid_argument if `kernel` is out of range or a shape differs.
    template <class In, class Out>
        requires(viewable_with<In, 3, std::is_floating_point> && float_output<Out, 3>)
    void apply_kernel(index_t kernel, const In& values, Out&& out) const;

    /// Lattice points M of each kernel (0 for exact kernels). A lattice holds about
    /// 16·N·(d+1) bytes of offsets and weights and 8·M·(d+1) of neighbour indices; inference adds
    /// two M×S value buffers (S = L rounded up to 4 or 8) per kernel.
    [[nodiscard]] std::vector<index_t> lattice_points() const {
        std::vector<index_t> out;
        for (const auto& k : kernels_)
            out.push_back(k->lattice ? k->lattice->points() : 0);
        return out;
    }

private:
    struct kernel_state {
        crf_compatibility compat;
        crf_normalization normalization = crf_normalization::symmetric;
        // lattice kernels
        std::unique_ptr<detail::permutohedral_lattice<T>> lattice;
        // brute-force kernels: d×N features
        std::vector<double> features;
        index_t dims = 0;
        // exact separable spatial kernel
        std::vector<double> taps; // taps[0..r]
        // per-pixel scales applied before and after the filter
        std::vector<T> scale_in, scale_out;
    };

    dense_crf(index_t height, index_t width, index_t labels, crf_options options, bool points)
        : options_(options), points_(points) {
        const char* fn = points ? "dense_crf::points" : "dense_crf";
        if (!points)
            DETSEG_REQUIRE(height > 0, fn, "height", "not positive (", height, ")");
        DETSEG_REQUIRE(width > 0, fn, points ? "n" : "width", "not positive (", width, ")");
        DETSEG_REQUIRE(labels > 0, fn, "labels", "not positive (", labels, ")");
        H_ = height;
        W_ = width;
        N_ = height * width;
        L_ = labels;
        S_ = detail::crf_value_stride(labels);
    }

    template <class U, class F>
    void set_unary_impl(const U& src, const char* fn, const char* arg, F&& convert);

    void add_kernel(std::vector<double> features, index_t dims, crf_compatibility compat,
                    crf_normalization normalization, bool spatial, double sxy, const char* fn);

    void step(int n, const char* fn);
    void start(const char* fn);

    struct scratch {
        std::vector<T> a, b, scaled, tmp;
    };
    // out (N×S) = the normalised filter of kernel k applied to in (N×S), without compatibility
    void message(const kernel_state& k, const T* in, T* out, scratch& sc) const;

    template <class V>
    void current_q_impl(V& q_out, const char* fn) const;
    template <class V>
    void current_map_impl(V& out, const char* fn) const;

    static T crf_pad_energy_() noexcept { return detail::crf_pad_energy<T>; }

    void check_compat(const crf_compatibility& c, const char* fn) const {
        DETSEG_REQUIRE(c.type() == crf_compatibility::kind::potts || c.labels() == L_, fn,
                       "compat", "compatibility for ", c.labels(), " labels, the CRF has ", L_);
    }

    crf_options options_;
    bool points_ = false;
    index_t H_ = 0, W_ = 0, N_ = 0, L_ = 0, S_ = 0; // S_: padded label stride
    std::vector<T> neg_unary_;                      // -U, N×S, label innermost
    bool has_unary_ = false;
    std::vector<T> q_, t_;                          // N×S
    bool started_ = false;
    int iteration_ = 0;
    std::vector<std::unique_ptr<kernel_state>> kernels_;
};

// ------------------------------------------------------------------------ implementation

template <class T>
template <class U, class F>
void dense_crf<T>::set_unary_impl(const U& src, const char* fn, const char* arg, F&& convert) {
    std::vector<T> u(static_cast<std::size_t>(N_ * S_), -crf_pad_energy_());
    if constexpr (viewable_with<U, 3, std::is_floating_point>) {
        auto v = detail::as_view_checked<3>(src, fn, arg);
        DETSEG_REQUIRE(v.extent(0) == L_ && v.extent(1) == H_ && v.extent(2) == W_, fn, arg,
                       "expected ", L_, "x", H_, "x", W_, " (labels x height x width), got ",
                       v.extent(0), "x", v.extent(1), "x", v.extent(2));
        // blocks of 64 pixels of a row, all labels: the destination rows stay in cache
        for (index_t y = 0; y < H_; ++y)
            for (index_t x0 = 0; x0 < W_; x0 += 64) {
                const index_t x1 = std::min(W_, x0 + 64);
                for (index_t l = 0; l < L_; ++l)
                    for (index_t x = x0; x < x1; ++x)
                        u[static_cast<std::size_t>((y * W_ + x) * S_ + l)] =
                            -static_cast<T>(convert(static_cast<double>(v(l, y, x))));
            }
    } else {
        auto v = detail::as_view_checked<2>(src, fn, arg);
        DETSEG_REQUIRE(v.extent(0) == L_ && v.extent(1) == N_, fn, arg, "expected ", L_, "x", N_,
                       " (labels x pixels), got ", v.extent(0), "x", v.extent(1));
        for (index_t i0 = 0; i0 < N_; i0 += 64) {
            const index_t i1 = std::min(N_, i0 + 64);
            for (index_t l = 0; l < L_; ++l)
                for (index_t i = i0; i < i1; ++i)
                    u[static_cast<std::size_t>(i * S_ + l)] =
                        -static_cast<T>(convert(static_cast<double>(v(l, i))));
        }
    }
    neg_unary_.swap(u);
    has_unary_ = true;
    started_ = false;
    iteration_ = 0;
}

template <class T>
template <class M>
    requires(viewable_with<M, 2, std::is_integral> || viewable_with<M, 1, std::is_integral>)
void dense_crf<T>::set_unary_from_labels(const M& label_map, double gt_prob, bool zero_unsure,
                                         std::optional<std::int64_t> ignore_value) {
    const char* fn = "dense_crf::set_unary_from_labels";
    DETSEG_REQUIRE(gt_prob > 0.0 && gt_prob < 1.0, fn, "gt_prob", "not in (0, 1) (", gt_prob, ")");
    DETSEG_REQUIRE(L_ >= 2, fn, "label_map", "needs at least 2 labels, the CRF has ", L_);
    const T e_other = static_cast<T>(-std::log((1.0 - gt_prob) / static_cast<double>(L_ - 1)));
    const T e_label = static_cast<T>(-std::log(gt_prob));
    const T e_unsure = static_cast<T>(-std::log(1.0 / static_cast<double>(L_)));
    std::vector<T> u(static_cast<std::size_t>(N_ * S_), -crf_pad_energy_());
    auto set = [&](index_t i, std::int64_t value) {
        T* ui = u.data() + i * S_;
        std::int64_t cls = -1;
        if (!(ignore_value && value == *ignore_value)) {
            if (zero_unsure) {
                DETSEG_REQUIRE(value >= 0 && value <= L_, fn, "label_map", "value ", value,
                               " at pixel ", i, " is not in [0, ", L_, "] (0 = unsure)");
                cls = value - 1;
            } else {
                DETSEG_REQUIRE(value >= 0 && value < L_, fn, "label_map", "value ", value,
                               " at pixel ", i, " is not in [0, ", L_, ")");
                cls = value;
            }
        }
        for (index_t l = 0; l < L_; ++l)
            ui[l] = -(cls < 0 ? e_unsure : (l == cls ? e_label : e_other));
    };
    if constexpr (viewable_with<M, 2, std::is_integral>) {
        auto v = detail::as_view_checked<2>(label_map, fn, "label_map");
        DETSEG_REQUIRE(v.extent(0) == H_ && v.extent(1) == W_, fn, "label_map", "expected ", H_,
                       "x", W_, ", got ", v.extent(0), "x", v.extent(1));
        for (index_t y = 0; y < H_; ++y)
            for (index_t x = 0; x < W_; ++x)
                set(y * W_ + x, static_cast<std::int64_t>(v(y, x)));
    } else {
        auto v = detail::as_view_checked<1>(label_map, fn, "label_map");
        DETSEG_REQUIRE(v.extent(0) == N_, fn, "label_map", "expected ", N_, " labels, got ",
                       v.extent(0));
        for (index_t i = 0; i < N_; ++i)
            set(i, static_cast<std::int64_t>(v[i]));
    }
    neg_unary_.swap(u);
    has_unary_ = true;
    started_ = false;
    iteration_ = 0;
}

template <class T>
tensor<T, 3> dense_crf<T>::unary() const {
    tensor<T, 3> out({L_, H_, W_});
    if (has_unary_)
        for (index_t l = 0; l < L_; ++l)
            for (index_t i = 0; i < N_; ++i)
                out.data()[l * N_ + i] = -neg_unary_[static_cast<std::size_t>(i * S_ + l)];
    return out;
}

template <class T>
void dense_crf<T>::add_pairwise_gaussian(double sxy, crf_compatibility compat,
                                         crf_normalization normalization) {
    const char* fn = "dense_crf::add_pairwise_gaussian";
    DETSEG_REQUIRE(!points_, fn, "this", "a CRF over points has no image grid: use "
                                         "add_pairwise_kernel");
    DETSEG_REQUIRE(sxy > 0.0 && std::isfinite(sxy), fn, "sxy", "not positive and finite (", sxy,
                   ")");
    check_compat(compat, fn);
    std::vector<double> f(static_cast<std::size_t>(2 * N_));
    for (index_t y = 0; y < H_; ++y)
        for (index_t x = 0; x < W_; ++x) {
            f[static_cast<std::size_t>(y * W_ + x)] = static_cast<double>(x) / sxy;
            f[static_cast<std::size_t>(N_ + y * W_ + x)] = static_cast<double>(y) / sxy;
        }
    add_kernel(std::move(f), 2, std::move(compat), normalization, true, sxy, fn);
}

template <class T>
template <image_source I>
void dense_crf<T>::add_pairwise_bilateral(double sxy, double srgb, const I& image,
                                          crf_compatibility compat,
                                          crf_normalization normalization) {
    const char* fn = "dense_crf::add_pairwise_bilateral";
    DETSEG_REQUIRE(!points_, fn, "this", "a CRF over points has no image grid: use "
                                         "add_pairwise_kernel");
    DETSEG_REQUIRE(sxy > 0.0 && std::isfinite(sxy), fn, "sxy", "not positive and finite (", sxy,
                   ")");
    DETSEG_REQUIRE(srgb > 0.0 && std::isfinite(srgb), fn, "srgb", "not positive and finite (",
                   srgb, ")");
    auto im = detail::as_view_checked<3>(image, fn, "image");
    DETSEG_REQUIRE(im.extent(0) == H_ && im.extent(1) == W_ && im.extent(2) >= 1, fn, "image",
                   "expected ", H_, "x", W_, "xC (height x width x channels), got ", im.extent(0),
                   "x", im.extent(1), "x", im.extent(2));
    check_compat(compat, fn);
    const index_t C = im.extent(2);
    const index_t d = 2 + C;
    std::vector<double> f(static_cast<std::size_t>(d * N_));
    for (index_t y = 0; y < H_; ++y)
        for (index_t x = 0; x < W_; ++x) {
            const index_t i = y * W_ + x;
            f[static_cast<std::size_t>(i)] = static_cast<double>(x) / sxy;
            f[static_cast<std::size_t>(N_ + i)] = static_cast<double>(y) / sxy;
            for (index_t c = 0; c < C; ++c) {
                const double v = static_cast<double>(im(y, x, c));
                DETSEG_REQUIRE(std::isfinite(v), fn, "image", "value at (", y, ", ", x, ", ", c,
                               ") is not finite");
                f[static_cast<std::size_t>((2 + c) * N_ + i)] = v / srgb;
            }
        }
    add_kernel(std::move(f), d, std::move(compat), normalization, false, 0.0, fn);
}

template <class T>
template <class F>
    requires(viewable_with<F, 2, std::is_floating_point> ||
             viewable_with<F, 3, std::is_floating_point>)
void dense_crf<T>::add_pairwise_kernel(const F& features, crf_compatibility compat,
                                       crf_normalization normalization) {
    const char* fn = "dense_crf::add_pairwise_kernel";
    check_compat(compat, fn);
    std::vector<double> f;
    index_t d = 0;
    auto fill = [&](auto&& at) {
        f.resize(static_cast<std::size_t>(d * N_));
        for (index_t k = 0; k < d; ++k)
            for (index_t i = 0; i < N_; ++i) {
                const double v = static_cast<double>(at(k, i));
                DETSEG_REQUIRE(std::isfinite(v), fn, "features", "feature ", k, " of point ", i,
                               " is not finite");
                f[static_cast<std::size_t>(k * N_ + i)] = v;
            }
    };
    if constexpr (viewable_with<F, 2, std::is_floating_point>) {
        auto v = detail::as_view_checked<2>(features, fn, "features");
        d = v.extent(0);
        DETSEG_REQUIRE(d >= 1 && v.extent(1) == N_, fn, "features", "expected dx", N_,
                       " with d >= 1, got ", v.extent(0), "x", v.extent(1));
        fill([&](index_t k, index_t i) { return v(k, i); });
    } else {
        auto v = detail::as_view_checked<3>(features, fn, "features");
        d = v.extent(0);
        DETSEG_REQUIRE(d >= 1 && v.extent(1) == H_ && v.extent(2) == W_, fn, "features",
                       "expected dx", H_, "x", W_, " with d >= 1, got ", v.extent(0), "x",
                       v.extent(1), "x", v.extent(2));
        fill([&](index_t k, index_t i) { return v(k, i / W_, i % W_); });
    }
    add_kernel(std::move(f), d, std::move(compat), normalization, false, 0.0, fn);
}

template <class T>
void dense_crf<T>::add_kernel(std::vector<double> features, index_t dims, crf_compatibility compat,
                              crf_normalization normalization, bool spatial, double sxy,
                              const char* fn) {
    auto k = std::make_unique<kernel_state>();
    k->compat = std::move(compat);
    k->normalization = normalization;
    k->dims = dims;
    const bool self = options_.include_self;
    std::vector<double> norm(static_cast<std::size_t>(N_));
    if (options_.brute_force) {
        k->features = std::move(features);
        std::vector<T> ones(static_cast<std::size_t>(N_), T(1)), out(static_cast<std::size_t>(N_));
        detail::crf_brute_force_filter(k->features.data(), static_cast<int>(dims), N_,
                                       ones.data(), out.data(), 1, self);
        for (index_t i = 0; i < N_; ++i)
            norm[static_cast<std::size_t>(i)] = static_cast<double>(out[static_cast<std::size_t>(i)]);
    } else if (spatial && options_.exact_spatial) {
        k->taps = detail::crf_gaussian_taps(sxy, std::max(H_, W_));
        norm = detail::crf_separable_norm(k->taps, H_, W_);
        if (!self)
            for (double& v : norm)
                v -= 1.0;
    } else {
        DETSEG_REQUIRE(self, fn, "options", "include_self = false needs brute_force (or "
                                            "exact_spatial for the Gaussian kernel): the lattice "
                                            "always includes the self term");
        // lattice coordinates are 32-bit integers of magnitude about |f|·(d+1)
        double fmax = 0.0;
        for (double v : features)
            fmax = std::max(fmax, std::abs(v));
        DETSEG_REQUIRE(fmax * static_cast<double>(dims + 1) < 1e9, fn, "features",
                       "a scaled feature is too large for the lattice (", fmax,
                       "); use a larger standard deviation");
        k->lattice = std::make_unique<detail::permutohedral_lattice<T>>();
        // features rounded to float as they are read, as pydensecrf (float(x)/float(sxy) is the
        // rounded double quotient)
        k->lattice->build(features.data(), static_cast<int>(dims), N_);
        std::vector<T> out(static_cast<std::size_t>(N_));
        k->lattice->compute_ones(out.data());
        for (index_t i = 0; i < N_; ++i)
            norm[static_cast<std::size_t>(i)] = static_cast<double>(out[static_cast<std::size_t>(i)]);
    }
    if (normalization != crf_normalization::none) {
        std::vector<T> s(static_cast<std::size_t>(N_));
        for (index_t i = 0; i < N_; ++i) {
            // as densecrf: norm in T, the +1e-20, sqrt and division in double
            const double n = static_cast<double>(static_cast<T>(norm[static_cast<std::size_t>(i)]));
            s[static_cast<std::size_t>(i)] = static_cast<T>(
                normalization == crf_normalization::symmetric ? 1.0 / std::sqrt(n + 1e-20)
                                                              : 1.0 / (n + 1e-20));
        }
        if (normalization != crf_normalization::after)
            k->scale_in = s;
        if (normalization != crf_normalization::before)
            k->scale_out = std::move(s);
    }
    if (k->lattice)
        k->lattice->set_weights(k->scale_in.empty() ? nullptr : k->scale_in.data(),
                                k->scale_out.empty() ? nullptr : k->scale_out.data());
    kernels_.push_back(std::move(k));
    started_ = false;
    iteration_ = 0;
}

template <class T>
void dense_crf<T>::start(const char* fn) {
    DETSEG_REQUIRE(has_unary_, fn, "unary",
                   "not set: call set_unary_energy, set_unary_from_prob or set_unary_from_labels");
    q_.resize(neg_unary_.size());
    detail::crf_softmax(neg_unary_.data(), q_.data(), N_, S_);
    started_ = true;
    iteration_ = 0;
}

template <class T>
void dense_crf<T>::message(const kernel_state& k, const T* in, T* out, scratch& sc) const {
    const std::size_t NS = static_cast<std::size_t>(N_ * S_);
    if (k.lattice) {
        sc.a.resize(static_cast<std::size_t>(k.lattice->value_rows() * S_));
        sc.b.resize(sc.a.size());
        k.lattice->compute_into(in, out, S_, sc.a.data(), sc.b.data(), false);
        return;
    }
    if (!k.scale_in.empty()) {
        sc.scaled.resize(NS);
        parallel_for_chunks(N_, 4096, [&](index_t lo, index_t hi) {
            for (index_t i = lo; i < hi; ++i)
                for (index_t l = 0; l < S_; ++l)
                    sc.scaled[static_cast<std::size_t>(i * S_ + l)] =
                        in[i * S_ + l] * k.scale_in[static_cast<std::size_t>(i)];
        });
        in = sc.scaled.data();
    }
    if (!k.features.empty()) {
        detail::crf_brute_force_filter(k.features.data(), static_cast<int>(k.dims), N_, in, out,
                                       S_, options_.include_self);
    } else {
        sc.tmp.resize(NS);
        detail::crf_separable_filter(k.taps, H_, W_, in, sc.tmp.data(), out, S_);
        if (!options_.include_self)
            for (std::size_t e = 0; e < NS; ++e)
                out[e] -= in[e];
    }
    if (!k.scale_out.empty())
        parallel_for_chunks(N_, 4096, [&](index_t lo, index_t hi) {
            for (index_t i = lo; i < hi; ++i)
                for (index_t l = 0; l < S_; ++l)
                    out[i * S_ + l] *= k.scale_out[static_cast<std::size_t>(i)];
        });
}

template <class T>
void dense_crf<T>::step(int n, const char* fn) {
    DETSEG_REQUIRE(n >= 0, fn, "iterations", "negative (", n, ")");
    DETSEG_REQUIRE(has_unary_, fn, "unary",
                   "not set: call set_unary_energy, set_unary_from_prob or set_unary_from_labels");
    if (!started_)
        start(fn);
    if (n == 0)
        return;
    scratch sc;
    std::vector<T> msg;
    const std::size_t NS = neg_unary_.size();
    for (const auto& k : kernels_)
        if (!k->lattice || k->compat.type() != crf_compatibility::kind::potts)
            msg.resize(NS);
    // the usual case (every kernel on the lattice with a Potts compatibility, at most 8): all
    // splats in one pass over Q, all slices and the softmax in another
    bool fused = !kernels_.empty() && kernels_.size() <= 8;
    for (const auto& k : kernels_)
        fused = fused && k->lattice && k->compat.type() == crf_compatibility::kind::potts;
    if (fused) {
        // two value buffers per lattice, three when small lattices fuse the slice, softmax and
        // next splat into one pass
        std::size_t bytes = 0;
        for (const auto& k : kernels_)
            bytes += static_cast<std::size_t>(k->lattice->value_rows() * S_) * sizeof(T);
        const std::size_t nb = detail::lattice_fuse_passes(bytes) ? 3 : 2;
        std::vector<std::vector<T>> bufs(3 * kernels_.size());
        std::vector<detail::lattice_job<T>> jobs;
        for (std::size_t k = 0; k < kernels_.size(); ++k) {
            const auto& lat = *kernels_[k]->lattice;
            for (std::size_t b = 0; b < nb; ++b)
                bufs[3 * k + b].resize(static_cast<std::size_t>(lat.value_rows() * S_));
            jobs.push_back({&lat, bufs[3 * k].data(), bufs[3 * k + 1].data(),
                            static_cast<T>(kernels_[k]->compat.weight()),
                            nb == 3 ? bufs[3 * k + 2].data() : nullptr});
        }
        detail::lattice_mean_field(jobs, neg_unary_.data(), q_.data(), S_, n);
        iteration_ += n;
        return;
    }
    t_.resize(NS); // the fused path above needs no N×S buffer besides Q
    for (int it = 0; it < n; ++it) {
        bool t_ready = false; // t = -U not yet written this iteration
        bool q_ready = false; // the softmax was fused into the last kernel's slice
        for (std::size_t kk = 0; kk < kernels_.size(); ++kk) {
            const kernel_state& k = *kernels_[kk];
            const auto type = k.compat.type();
            if (k.lattice && type == crf_compatibility::kind::potts) {
                // t (+)= [-U +] w·filt(Q), fused into the slice; for the last kernel the
                // softmax is fused too (every kernel has read Q by then)
                const bool last = kk + 1 == kernels_.size();
                sc.a.resize(static_cast<std::size_t>(k.lattice->value_rows() * S_));
                sc.b.resize(sc.a.size());
                k.lattice->compute_into(q_.data(), t_.data(), S_, sc.a.data(), sc.b.data(), true,
                                        static_cast<T>(k.compat.weight()),
                                        t_ready ? t_.data() : neg_unary_.data(),
                                        last ? q_.data() : nullptr);
                t_ready = true;
                q_ready = last;
                continue;
            }
            if (!t_ready) {
                std::copy(neg_unary_.begin(), neg_unary_.end(), t_.begin());
                t_ready = true;
            }
            message(k, q_.data(), msg.data(), sc);
            // t -= compat(msg)
            const auto& cv = k.compat.values();
            parallel_for_chunks(N_, 4096, [&](index_t lo, index_t hi) {
                std::vector<T> row(static_cast<std::size_t>(L_));
                for (index_t i = lo; i < hi; ++i) {
                    T* ti = t_.data() + i * S_;
                    const T* mi = msg.data() + i * S_;
                    if (type == crf_compatibility::kind::potts) {
                        const T w = static_cast<T>(k.compat.weight());
                        for (index_t l = 0; l < L_; ++l)
                            ti[l] += w * mi[l];
                    } else if (type == crf_compatibility::kind::diagonal) {
                        for (index_t l = 0; l < L_; ++l)
                            ti[l] -= static_cast<T>(cv[static_cast<std::size_t>(l)]) * mi[l];
                    } else {
                        for (index_t l = 0; l < L_; ++l) {
                            T s = 0;
                            for (index_t m = 0; m < L_; ++m)
                                s += static_cast<T>(cv[static_cast<std::size_t>(l * L_ + m)]) *
                                     mi[m];
                            row[static_cast<std::size_t>(l)] = s;
                        }
                        for (index_t l = 0; l < L_; ++l)
                            ti[l] -= row[static_cast<std::size_t>(l)];
                    }
                }
            });
        }
        if (!q_ready)
            detail::crf_softmax(t_ready ? t_.data() : neg_unary_.data(), q_.data(), N_, S_);
        ++iteration_;
    }
}

template <class T>
template <class In, class Out>
    requires(viewable_with<In, 3, std::is_floating_point> && float_output<Out, 3>)
void dense_crf<T>::apply_kernel(index_t kernel, const In& values, Out&& out) const {
    const char* fn = "dense_crf::apply_kernel";
    DETSEG_REQUIRE(kernel >= 0 && kernel < kernels(), fn, "kernel", "no kernel ", kernel, " (",
                   kernels(), " added)");
    auto v = detail::as_view_checked<3>(values, fn, "values");
    DETSEG_REQUIRE(v.extent(0) == L_ && v.extent(1) == H_ && v.extent(2) == W_, fn, "values",
                   "expected ", L_, "x", H_, "x", W_, ", got ", v.extent(0), "x", v.extent(1),
                   "x", v.extent(2));
    auto o = detail::as_view_checked<3>(out, fn, "out");
    DETSEG_REQUIRE(o.extent(0) == L_ && o.extent(1) == H_ && o.extent(2) == W_, fn, "out",
                   "expected ", L_, "x", H_, "x", W_, ", got ", o.extent(0), "x", o.extent(1),
                   "x", o.extent(2));
    const std::size_t NS = static_cast<std::size_t>(N_ * S_);
    std::vector<T> in(NS, T(0)), res(NS);
    for (index_t l = 0; l < L_; ++l)
        for (index_t y = 0; y < H_; ++y)
            for (index_t x = 0; x < W_; ++x)
                in[static_cast<std::size_t>((y * W_ + x) * S_ + l)] = static_cast<T>(v(l, y, x));
    scratch sc;
    message(*kernels_[static_cast<std::size_t>(kernel)], in.data(), res.data(), sc);
    using E = typename decltype(o)::value_type;
    for (index_t l = 0; l < L_; ++l)
        for (index_t y = 0; y < H_; ++y)
            for (index_t x = 0; x < W_; ++x)
                o(l, y, x) = static_cast<E>(res[static_cast<std::size_t>((y * W_ + x) * S_ + l)]);
}

template <class T>
template <class V>
void dense_crf<T>::current_q_impl(V& q_out, const char* fn) const {
    DETSEG_REQUIRE(started_, fn, "this", "inference has not started (call start or inference)");
    if constexpr (float_output<V, 3>) {
        auto o = detail::as_view_checked<3>(q_out, fn, "q_out");
        DETSEG_REQUIRE(o.extent(0) == L_ && o.extent(1) == H_ && o.extent(2) == W_, fn, "q_out",
                       "expected ", L_, "x", H_, "x", W_, ", got ", o.extent(0), "x",
                       o.extent(1), "x", o.extent(2));
        using E = typename decltype(o)::value_type;
        // rows in parallel; within a row, blocks of 64 pixels so that each plane is written in
        // runs while the block's rows of Q stay in cache
        parallel_for(H_, [&](index_t y) {
            for (index_t x0 = 0; x0 < W_; x0 += 64) {
                const index_t x1 = std::min(W_, x0 + 64);
                for (index_t l = 0; l < L_; ++l)
                    for (index_t x = x0; x < x1; ++x)
                        o(l, y, x) =
                            static_cast<E>(q_[static_cast<std::size_t>((y * W_ + x) * S_ + l)]);
            }
        });
    } else {
        auto o = detail::as_view_checked<2>(q_out, fn, "q_out");
        DETSEG_REQUIRE(o.extent(0) == L_ && o.extent(1) == N_, fn, "q_out", "expected ", L_, "x",
                       N_, ", got ", o.extent(0), "x", o.extent(1));
        using E = typename decltype(o)::value_type;
        parallel_for_chunks(N_, 4096, [&](index_t lo, index_t hi) {
            for (index_t i0 = lo; i0 < hi; i0 += 64) {
                const index_t i1 = std::min(hi, i0 + 64);
                for (index_t l = 0; l < L_; ++l)
                    for (index_t i = i0; i < i1; ++i)
                        o(l, i) = static_cast<E>(q_[static_cast<std::size_t>(i * S_ + l)]);
            }
        });
    }
}

template <class T>
template <class V>
void dense_crf<T>::current_map_impl(V& out, const char* fn) const {
    DETSEG_REQUIRE(started_, fn, "this", "inference has not started (call start or map)");
    auto argmax = [&](index_t i) {
        const T* q = q_.data() + i * S_;
        index_t best = 0;
        for (index_t l = 1; l < L_; ++l)
            if (q[l] > q[best])
                best = l;
        return best;
    };
    if constexpr (writable_view<V, std::int32_t, 2>) {
        auto o = detail::as_view_checked<2>(out, fn, "labels_out");
        DETSEG_REQUIRE(o.extent(0) == H_ && o.extent(1) == W_, fn, "labels_out", "expected ", H_,
                       "x", W_, ", got ", o.extent(0), "x", o.extent(1));
        using E = typename decltype(o)::value_type;
        for (index_t y = 0; y < H_; ++y)
            for (index_t x = 0; x < W_; ++x)
                o(y, x) = static_cast<E>(argmax(y * W_ + x));
    } else {
        auto o = detail::as_view_checked<1>(out, fn, "labels_out");
        DETSEG_REQUIRE(o.extent(0) == N_, fn, "labels_out", "expected ", N_, " labels, got ",
                       o.extent(0));
        using E = typename decltype(o)::value_type;
        for (index_t i = 0; i < N_; ++i)
            o[i] = static_cast<E>(argmax(i));
    }
}

} // namespace detseg

#endif // DETSEG_SEG_DENSE_CRF_HPP
