#ifndef DETSEG_SEG_DETAIL_PSEUDO_KERNEL_HPP
#define DETSEG_SEG_DETAIL_PSEUDO_KERNEL_HPP

// The fused forward + backward pass of the pixel-wise cross-entropy family
// (seg/pseudo_label.hpp). Two passes:
//
// 1. over the labels (and the confidence map), row by row in parallel: checks every label and
//    confidence, and stores each pixel's target and weight
//        w = class_weight[y] · conf^γ · [conf >= τ] · (1 + λ · boundary)     (0 where ignored)
//    plus one partial sum of the denominator per row; the rows' sums are added in row order.
// 2. over the logits, in blocks of B pixels (each a piece of one row, or of one image when the
//    views are contiguous over H×W), in parallel: each block is gathered into a C×B scratch,
//    its softmax is computed once and used for the loss and the gradient, the gradient is
//    written, and the block's loss sum (double) is stored; the blocks' sums are added in block
//    order. So the results do not depend on the thread count.

#include <detseg/config.hpp>
#include <detseg/core/detail/cpu.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/seg/boundary.hpp>
#include <detseg/seg/detail/pseudo_exp.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

namespace detseg {

/// How the per-pixel losses of the cross-entropy family are reduced to one value.
enum class loss_reduction {
    /// Σ_p w_p ℓ_p / Σ_{p valid} class_weight[y_p]: PyTorch's `reduction='mean'` with
    /// `ignore_index` and `weight`; the pixel weights (confidence, threshold, boundary) are not in
    /// the denominator, so a thresholded loss is divided by the number of non-ignored pixels, as
    /// in UniMatch.
    mean,
    /// Σ_p w_p ℓ_p / Σ_p w_p: the mean under the full pixel weights (with a hard threshold, the
    /// mean over the confident pixels, as in a masked-select then `mean`).
    weighted_mean,
    /// Σ_p w_p ℓ_p.
    sum,
    /// Per-pixel losses w_p ℓ_p (into the `losses` output); the returned value and the gradient
    /// are those of their sum.
    none,
};

namespace detail {

/// Everything the kernel needs besides the arrays.
struct pixel_ce_config {
    bool has_ignore = true;
    std::int64_t ignore = 255;
    loss_reduction reduction = loss_reduction::mean;
    bool use_conf = false;
    double gamma = 0.0;
    bool use_threshold = false;
    double threshold = 0.0;
    double boundary_weight = 0.0;
};

/// conf^γ with exact shortcuts for the usual small integer exponents.
[[nodiscard]] inline double confidence_power(double c, double gamma) noexcept {
    if (gamma == 0.0)
        return 1.0;
    if (gamma == 1.0)
        return c;
    if (gamma == 2.0)
        return c * c;
    return std::pow(c, gamma);
}

/// Pass 1's output: per pixel (image-major, row-major) the target class (0 where ignored) and
/// the weight (0 where ignored), and the denominator.
struct pixel_targets {
    // Not value-initialised: pass 1 writes every entry, from the threads that later read them.
    std::unique_ptr<std::int32_t[]> target;
    std::unique_ptr<double[]> weight;
    double denominator = 1.0;
};

/// Pass 1 (see the file comment). `labels` and `conf` are N×H×W; `conf` may be empty when not
/// used. `class_weights` has C entries or none. Throws naming `fn` and `labels`/`confidence`.
template <class L, class Cf>
[[nodiscard]] pixel_targets make_pixel_targets(const strided_view<const L, 3>& labels,
                                               const strided_view<const Cf, 3>& conf,
                                               const std::vector<double>& class_weights,
                                               index_t classes, const pixel_ce_config& cfg,
                                               const char* fn) {
    const index_t n_img = labels.extent(0), h = labels.extent(1), w = labels.extent(2);
    const index_t rows = n_img * h;
    pixel_targets t;
    t.target.reset(new std::int32_t[static_cast<std::size_t>(n_img * h * w)]);
    t.weight.reset(new double[static_cast<std::size_t>(n_img * h * w)]);
    std::vector<double> row_den(static_cast<std::size_t>(rows), 0.0);
    std::vector<unsigned char> row_bad(static_cast<std::size_t>(rows), 0);
    const bool weighted = !class_weights.empty();
    const bool boundary = cfg.boundary_weight != 0.0;

    auto label_ok = [&](std::int64_t y) {
        return (y >= 0 && y < classes) || (cfg.has_ignore && y == cfg.ignore);
    };
    auto conf_ok = [](double c) { return c >= 0.0 && c <= 1.0; }; // false for NaN

    // Threads only for batches of at least 256K pixels: below that, starting them costs more.
    parallel_for(rows, [&](index_t r) {
        const index_t n = r / h, i = r % h;
        const strided_view<const L, 2> img(labels.data_handle() + n * labels.stride(0), {h, w},
                                           {labels.stride(1), labels.stride(2)});
        double den = 0.0;
        bool bad = false;
        std::int32_t* tg = t.target.get() + r * w;
        double* wt = t.weight.get() + r * w;
        for (index_t j = 0; j < w; ++j) {
            tg[j] = 0;
            wt[j] = 0.0;
            const auto y = static_cast<std::int64_t>(img(i, j));
            double c = 1.0;
            if (cfg.use_conf) {
                c = static_cast<double>(conf(n, i, j));
                bad |= !conf_ok(c);
            }
            if (!label_ok(y)) {
                bad = true;
                continue;
            }
            if (cfg.has_ignore && y == cfg.ignore)
                continue;
            const double cw = weighted ? class_weights[static_cast<std::size_t>(y)] : 1.0;
            double pw = cw;
            if (cfg.use_conf) {
                const bool keep = !cfg.use_threshold || c >= cfg.threshold;
                pw *= keep ? confidence_power(c, cfg.gamma) : 0.0;
            }
            if (boundary && sobel_boundary_at(img, i, j))
                pw *= 1.0 + cfg.boundary_weight;
            tg[j] = static_cast<std::int32_t>(y);
            wt[j] = pw;
            den += cfg.reduction == loss_reduction::weighted_mean ? pw : cw;
        }
        row_den[static_cast<std::size_t>(r)] = den;
        row_bad[static_cast<std::size_t>(r)] = bad;
    }, n_img * h * w >= (index_t{1} << 18) ? 2 : rows + 1);

    for (index_t r = 0; r < rows; ++r) {
        if (!row_bad[static_cast<std::size_t>(r)])
            continue;
        const index_t n = r / h, i = r % h;
        for (index_t j = 0; j < w; ++j) {
            const auto y = static_cast<std::int64_t>(labels(n, i, j));
            DETSEG_REQUIRE(label_ok(y), fn, "labels", "label ", y, " at (", n, ", ", i, ", ", j,
                           ") is neither in [0, ", classes, ") nor the ignore index");
            if (cfg.use_conf) {
                const auto c = static_cast<double>(conf(n, i, j));
                DETSEG_REQUIRE(conf_ok(c), fn, "confidence", "confidence ", c, " at (", n, ", ",
                               i, ", ", j, ") is not in [0, 1]");
            }
        }
    }
    double den = 0.0;
    for (double d : row_den)
        den += d;
    if (cfg.reduction == loss_reduction::mean || cfg.reduction == loss_reduction::weighted_mean)
        t.denominator = den;
    return t;
}

/// One block of B pixels of pass 2. `x` is the C×B scratch, `lg` the first logit of the block
/// (class stride `sc`, pixel stride `sp`), `gr` the first gradient element (`gsc`, `gsp`).
/// Returns the block's loss sum; sets `nonfinite` if a logit is NaN or infinite.
template <class T, class G>
DETSEG_ALWAYS_INLINE double
ce_block_body(const T* lg, index_t sc, index_t sp, G* gr, index_t gsc, index_t gsp,
              const std::int32_t* DETSEG_RESTRICT tg, const double* DETSEG_RESTRICT wt,
              index_t classes, index_t len, double grad_scale, T* DETSEG_RESTRICT x,
              T* DETSEG_RESTRICT m, T* DETSEG_RESTRICT s, T* DETSEG_RESTRICT g,
              T* DETSEG_RESTRICT xy, double* DETSEG_RESTRICT pixel_loss,
              bool& nonfinite) noexcept {
    const index_t B = len;
    // Gather.
    for (index_t c = 0; c < classes; ++c) {
        const T* src = lg + c * sc;
        T* DETSEG_RESTRICT dst = x + c * B;
        if (sp == 1) {
            for (index_t k = 0; k < B; ++k)
                dst[k] = src[k];
        } else {
            for (index_t k = 0; k < B; ++k)
                dst[k] = src[k * sp];
        }
    }
    // Max over classes.
    for (index_t k = 0; k < B; ++k)
        m[k] = x[k];
    for (index_t c = 1; c < classes; ++c) {
        const T* DETSEG_RESTRICT xc = x + c * B;
        for (index_t k = 0; k < B; ++k)
            m[k] = xc[k] > m[k] ? xc[k] : m[k];
    }
    for (index_t k = 0; k < B; ++k)
        xy[k] = x[tg[k] * B + k];
    // exp(x - max), in place, and the sums.
    for (index_t k = 0; k < B; ++k)
        s[k] = T(0);
    for (index_t c = 0; c < classes; ++c) {
        T* DETSEG_RESTRICT xc = x + c * B;
        if constexpr (std::is_same_v<T, float>) {
            for (index_t k = 0; k < B; ++k)
                xc[k] = clamp_exp_argument(xc[k] - m[k]);
            for (index_t k = 0; k < B; ++k) {
                const float e = exp_nonpositive(xc[k]);
                xc[k] = e;
                s[k] += e;
            }
        } else {
            for (index_t k = 0; k < B; ++k) {
                const T e = std::exp(xc[k] - m[k]);
                xc[k] = e;
                s[k] += e;
            }
        }
    }
    // Per pixel: loss w (log s + max - x_y), gradient coefficient, 1/s (in s).
    double total = 0.0;
    bool finite = true;
    for (index_t k = 0; k < B; ++k) {
        // A NaN or +inf logit makes s NaN (exp(NaN), inf - inf); -inf everywhere makes m -inf;
        // -inf at the target of a weighted pixel makes the loss infinite. (-inf elsewhere
        // contributes exp = 0.)
        finite &= std::isfinite(s[k]) && std::isfinite(m[k]) &&
                  (wt[k] == 0.0 || std::isfinite(xy[k]));
        const double l = static_cast<double>(std::log(s[k])) +
                         (static_cast<double>(m[k]) - static_cast<double>(xy[k]));
        const double pl = wt[k] * l;
        pixel_loss[k] = pl;
        total += pl;
        g[k] = static_cast<T>(wt[k] * grad_scale);
        s[k] = T(1) / s[k];
    }
    if (!finite)
        nonfinite = true;
    // Gradient: g (softmax - onehot).
    for (index_t c = 0; c < classes; ++c) {
        const T* DETSEG_RESTRICT xc = x + c * B;
        G* dst = gr + c * gsc;
        const auto ci = static_cast<std::int32_t>(c);
        if (gsp == 1 && std::is_same_v<G, T>) {
            for (index_t k = 0; k < B; ++k)
                dst[k] = static_cast<G>(g[k] * (xc[k] * s[k] - (tg[k] == ci ? T(1) : T(0))));
        } else {
            for (index_t k = 0; k < B; ++k)
                dst[k * gsp] =
                    static_cast<G>(g[k] * (xc[k] * s[k] - (tg[k] == ci ? T(1) : T(0))));
        }
    }
    return total;
}

template <class T, class G>
double ce_block_baseline(const T* lg, index_t sc, index_t sp, G* gr, index_t gsc, index_t gsp,
                         const std::int32_t* tg, const double* wt, index_t classes, index_t len,
                         double grad_scale, T* x, T* m, T* s, T* g, T* xy, double* pixel_loss,
                         bool& nonfinite) noexcept {
    return ce_block_body<T, G>(lg, sc, sp, gr, gsc, gsp, tg, wt, classes, len, grad_scale, x, m,
                               s, g, xy, pixel_loss, nonfinite);
}

#if DETSEG_X86_DISPATCH
template <class T, class G>
DETSEG_TARGET_AVX2 double ce_block_avx2(const T* lg, index_t sc, index_t sp, G* gr, index_t gsc,
                                        index_t gsp, const std::int32_t* tg, const double* wt,
                                        index_t classes, index_t len, double grad_scale, T* x,
                                        T* m, T* s, T* g, T* xy, double* pixel_loss,
                                        bool& nonfinite) noexcept {
    return ce_block_body<T, G>(lg, sc, sp, gr, gsc, gsp, tg, wt, classes, len, grad_scale, x, m,
                               s, g, xy, pixel_loss, nonfinite);
}
#endif

/// Pass 2 over N×C×H×W logits into an N×C×H×W gradient; per-pixel losses into `losses`
/// (N×H×W) when `write_losses`. Returns the reduced value; throws naming `fn`/`logits` for a
/// non-finite logit (the gradient is then unspecified).
template <class T, class G, class Lo>
[[nodiscard]] double pixel_ce_pass(const strided_view<const T, 4>& logits,
                                   const strided_view<G, 4>& grad,
                                   const strided_view<Lo, 3>& losses, bool write_losses,
                                   const pixel_targets& t, const pixel_ce_config& cfg,
                                   const char* fn) {
    const index_t n_img = logits.extent(0), classes = logits.extent(1), h = logits.extent(2),
                  w = logits.extent(3);
    if (n_img == 0 || h == 0 || w == 0)
        return 0.0;
    const bool divide =
        cfg.reduction == loss_reduction::mean || cfg.reduction == loss_reduction::weighted_mean;
    const double den = t.denominator;
    const double grad_scale = divide ? (den > 0.0 ? 1.0 / den : 0.0) : 1.0;

    auto flat = [&](index_t sh, index_t sw) { return h == 1 || sh == w * sw; };
    const bool whole = flat(logits.stride(2), logits.stride(3)) &&
                       flat(grad.stride(2), grad.stride(3)) &&
                       (!write_losses || flat(losses.stride(1), losses.stride(2)));
    const index_t seg_len = whole ? h * w : w;
    const index_t segs = whole ? 1 : h;
    const index_t B = std::clamp<index_t>((index_t{4096} / std::max<index_t>(classes, 1)) / 8 * 8,
                                          8, 256);
    const index_t per_seg = (seg_len + B - 1) / B;
    const index_t blocks = n_img * segs * per_seg;
    std::vector<double> block_sum(static_cast<std::size_t>(blocks), 0.0);
    std::vector<unsigned char> block_bad(static_cast<std::size_t>(blocks), 0);
    const bool avx2 = has_avx2();

    // Threads only from 1M logits (e.g. 4×21×128×96): below that, starting them costs more.
    const bool threaded = n_img * classes * h * w >= (index_t{1} << 20);
    const index_t grain = threaded ? std::max<index_t>(1, blocks / (8 * max_threads())) : blocks;
    parallel_for_chunks(blocks, grain, [&](index_t begin, index_t end) {
        std::vector<T> scratch(static_cast<std::size_t>(B * (classes + 4)));
        std::vector<double> pl(static_cast<std::size_t>(B));
        T* x = scratch.data();
        T* m = x + B * classes;
        T* s = m + B;
        T* g = s + B;
        T* xy = g + B;
        for (index_t b = begin; b < end; ++b) {
            const index_t n = b / (segs * per_seg);
            const index_t rest = b % (segs * per_seg);
            const index_t seg = rest / per_seg;
            const index_t k0 = (rest % per_seg) * B;
            const index_t len = std::min(B, seg_len - k0);
            const T* lg = logits.data_handle() + n * logits.stride(0) + seg * logits.stride(2) +
                          k0 * logits.stride(3);
            G* gr = grad.data_handle() + n * grad.stride(0) + seg * grad.stride(2) +
                    k0 * grad.stride(3);
            const index_t q0 = n * h * w + seg * w + k0; // pixel index in pass 1's arrays
            bool bad = false;
            double sum;
#if DETSEG_X86_DISPATCH
            if (avx2)
                sum = ce_block_avx2<T, G>(lg, logits.stride(1), logits.stride(3), gr,
                                          grad.stride(1), grad.stride(3), t.target.get() + q0,
                                          t.weight.get() + q0, classes, len, grad_scale, x, m, s,
                                          g, xy, pl.data(), bad);
            else
#endif
                sum = ce_block_baseline<T, G>(lg, logits.stride(1), logits.stride(3), gr,
                                              grad.stride(1), grad.stride(3),
                                              t.target.get() + q0, t.weight.get() + q0, classes,
                                              len, grad_scale, x, m, s, g, xy, pl.data(), bad);
            (void)avx2;
            block_sum[static_cast<std::size_t>(b)] = sum;
            block_bad[static_cast<std::size_t>(b)] = bad;
            if (write_losses) {
                Lo* lo = losses.data_handle() + n * losses.stride(0) + seg * losses.stride(1) +
                         k0 * losses.stride(2);
                for (index_t k = 0; k < len; ++k)
                    lo[k * losses.stride(2)] = static_cast<Lo>(pl[static_cast<std::size_t>(k)]);
            }
        }
    });

    if (std::find(block_bad.begin(), block_bad.end(), 1) != block_bad.end()) {
        for (index_t n = 0; n < n_img; ++n)
            for (index_t c = 0; c < classes; ++c)
                for (index_t i = 0; i < h; ++i)
                    for (index_t j = 0; j < w; ++j) {
                        const T v = logits(n, c, i, j);
                        DETSEG_REQUIRE(std::isfinite(v), fn, "logits", "non-finite logit ", v,
                                       " at (", n, ", ", c, ", ", i, ", ", j, ")");
                    }
        throw_invalid(fn, "logits", "non-finite logits");
    }
    double total = 0.0;
    for (double v : block_sum)
        total += v;
    if (divide)
        return den > 0.0 ? total / den : 0.0;
    return total;
}

} // namespace detail

} // namespace detseg

#endif // DETSEG_SEG_DETAIL_PSEUDO_KERNEL_HPP
