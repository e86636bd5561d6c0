#ifndef DETSEG_METRICS_CONFUSION_MATRIX_HPP
#define DETSEG_METRICS_CONFUSION_MATRIX_HPP

/// @file
/// `confusion_matrix`: a mergeable, serialisable accumulator of (ground truth, prediction) pixel
/// counts over integer label maps, the state behind the mIoU family (`seg_metrics.hpp`).
///
/// The counts follow mmsegmentation's `intersect_and_union`: pixels whose ground truth is the
/// ignore index are dropped, everything else is counted once per (gt, pred) pair. Labels outside
/// [0, C) are an error by default; `out_of_range_policy::mmseg` counts them as mmseg's
/// `torch.histc` over [0, C-1] does (see `out_of_range_policy`). docs/segmentation-metrics.md
/// has every rule.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/metrics/detail/confusion_kernel.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace detseg {

/// What `confusion_matrix::update` does with a label outside [0, C) that is not the ignore index.
enum class out_of_range_policy {
    /// Throw `detseg::invalid_argument` naming the map and the first bad pixel (default).
    error,
    /// Count as mmsegmentation does (`torch.histc(bins=C, min=0, max=C-1)` drops values outside
    /// [0, C-1]): at a pixel whose gt is a class and whose prediction is out of range, the pixel
    /// counts in that class's ground-truth area only (`pred_out_of_range()`); at a pixel whose gt
    /// is out of range and whose prediction is a class, in that class's predicted area only
    /// (`gt_out_of_range()`); with both out of range, nowhere (`both_out_of_range()`).
    mmseg,
};

/// Options of a `confusion_matrix`.
struct confusion_matrix_params {
    /// Ground-truth value whose pixels are skipped (their prediction is neither counted nor
    /// checked); `std::nullopt` for none. Compared by value with labels of any integer type.
    std::optional<std::int64_t> ignore_index = 255;
    /// Labels out of [0, C) that are not the ignore index: an error, or mmseg's counting.
    out_of_range_policy out_of_range = out_of_range_policy::error;

    friend bool operator==(const confusion_matrix_params&,
                           const confusion_matrix_params&) = default;
};

namespace detail {

/// The canonical view of a label array: rank `Rank`, or the source's own rank when `Rank` is 0
/// (rank 2 for sources whose rank is known only at run time, like `xt::xarray`).
template <std::size_t Rank, class S>
[[nodiscard]] auto label_array_view(const S& s, const char* fn, const char* arg) {
    if constexpr (Rank != 0)
        return as_view_checked<Rank>(s, fn, arg);
    else if constexpr (dynamic_rank_source<S>)
        return as_view_checked<2>(s, fn, arg);
    else
        return as_view(s);
}

template <std::size_t R>
[[nodiscard]] std::string shape_string(const std::array<index_t, R>& e) {
    std::string s;
    for (std::size_t r = 0; r < R; ++r)
        s += concat(r ? "x" : "", e[r]);
    return s;
}

template <std::size_t R>
[[nodiscard]] std::string position_string(const std::array<index_t, R>& idx) {
    std::string s = "(";
    for (std::size_t r = 0; r < R; ++r)
        s += concat(r ? ", " : "", idx[r]);
    return s + ")";
}

/// A label value as a printable integer (a `char` would print as a glyph).
template <class T>
[[nodiscard]] auto printable(T v) noexcept {
    if constexpr (std::is_signed_v<T>)
        return static_cast<long long>(v);
    else
        return static_cast<unsigned long long>(v);
}

/// Calls `f(g, sg, p, sp, len)` for the pieces of rows covering the row-major linear range
/// [begin, end) of two views with extents `ext` and element strides `sg`, `sp`.
template <std::size_t R, class G, class P, class F>
void for_each_segment(const G* g, const P* p, const std::array<index_t, R>& ext,
                      const std::array<index_t, R>& sg, const std::array<index_t, R>& sp,
                      index_t begin, index_t end, F&& f) {
    const index_t len_row = ext[R - 1];
    while (begin < end) {
        const index_t row = begin / len_row, off = begin % len_row;
        index_t og = 0, op = 0, rest = row;
        for (std::size_t r = R - 1; r-- > 0;) {
            const index_t i = rest % ext[r];
            rest /= ext[r];
            og += i * sg[r];
            op += i * sp[r];
        }
        const index_t len = std::min(len_row - off, end - begin);
        f(g + og + off * sg[R - 1], sg[R - 1], p + op + off * sp[R - 1], sp[R - 1], len);
        begin += len;
    }
}

/// Counts the pixel pairs of two same-shape views into the extended (C+2)×(C+1) table (see
/// confusion_kernel.hpp). Dimensions are visited in the gt's memory order (the counts do not
/// depend on the order); large maps are split into chunks counted in parallel, each into its
/// own table, and the integer tables summed, so the result is the same for any thread count.
/// Returns the table; throws only std::bad_alloc.
template <class G, class P, std::size_t R>
[[nodiscard]] std::vector<std::uint64_t> count_confusion(const strided_view<const G, R>& vg,
                                                         const strided_view<const P, R>& vp,
                                                         const confusion_coder& coder) {
    const index_t cells = coder.cells();
    std::vector<std::uint64_t> table(static_cast<std::size_t>(cells), 0);
    const index_t n = vg.size();
    if (n == 0)
        return table;
    const pair_codes<G, P> codes(coder);

    // Dimensions sorted by the gt's stride, largest first (a column-major map is read down its
    // columns); then the whole map is one segment when both views are contiguous in that order.
    std::array<std::size_t, R> order{};
    for (std::size_t r = 0; r < R; ++r)
        order[r] = r;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const index_t sa = vg.stride(a) < 0 ? -vg.stride(a) : vg.stride(a);
        const index_t sb = vg.stride(b) < 0 ? -vg.stride(b) : vg.stride(b);
        return sa > sb;
    });
    std::array<index_t, R> ext{}, sg{}, sp{};
    for (std::size_t r = 0; r < R; ++r) {
        ext[r] = vg.extent(order[r]);
        sg[r] = vg.stride(order[r]);
        sp[r] = vp.stride(order[r]);
    }
    const bool contiguous = strided_view<const G, R>(vg.data_handle(), ext, sg).is_contiguous() &&
                            strided_view<const P, R>(vp.data_handle(), ext, sp).is_contiguous();

    constexpr index_t max_chunk = index_t{1} << 30; // keeps every 32-bit count below 2^32
    // Threads only from 4M pixels (two 1024×2048 maps, e.g. an N×H×W batch): one map takes well
    // under a millisecond, and splitting it would cost more than it saves on a busy machine.
    constexpr index_t min_parallel = index_t{1} << 22;
    const index_t threads = n >= min_parallel ? max_threads() : 1;
    const index_t chunk = std::min(max_chunk, (n + threads - 1) / threads);
    const index_t chunks = (n + chunk - 1) / chunk;
    // Four interleaved sub-histograms when the table is small and the chunk large enough to pay
    // for clearing them.
    const bool interleave = cells <= 4096 && chunk >= 16 * cells;
    std::vector<std::uint64_t> partial(chunks > 1 ? static_cast<std::size_t>(chunks * cells) : 0);

    auto count_chunk = [&](index_t c) {
        const index_t k_copies = interleave ? 4 : 1;
        std::vector<std::uint32_t> hist(static_cast<std::size_t>(cells * k_copies), 0);
        auto segment = [&](const G* g, index_t s_g, const P* p, index_t s_p, index_t len) {
            if (interleave)
                count_pairs<4>(g, s_g, p, s_p, len, codes, hist.data());
            else
                count_pairs<1>(g, s_g, p, s_p, len, codes, hist.data());
        };
        const index_t begin = c * chunk, end = std::min(n, begin + chunk);
        if (contiguous)
            for_each_segment<1>(vg.data_handle(), vp.data_handle(), {n}, {1}, {1}, begin, end,
                                segment);
        else
            for_each_segment<R>(vg.data_handle(), vp.data_handle(), ext, sg, sp, begin, end,
                                segment);
        std::uint64_t* out = chunks > 1 ? partial.data() + c * cells : table.data();
        for (index_t k = 0; k < cells; ++k)
            for (index_t j = 0; j < k_copies; ++j)
                out[k] += hist[static_cast<std::size_t>(k * k_copies + j)];
    };
    parallel_for(chunks, count_chunk);
    for (index_t c = 0; c < chunks && chunks > 1; ++c)
        for (index_t k = 0; k < cells; ++k)
            table[static_cast<std::size_t>(k)] += partial[static_cast<std::size_t>(c * cells + k)];
    return table;
}

/// Throws for the first pixel, in row-major order, whose gt is out of range (not the ignore
/// index) or whose gt is a class and whose prediction is out of range.
template <class G, class P, std::size_t R>
[[noreturn]] void throw_first_out_of_range(const strided_view<const G, R>& vg,
                                           const strided_view<const P, R>& vp,
                                           const confusion_coder& coder, const char* fn) {
    const index_t c = coder.num_classes;
    const std::string allowed =
        coder.ignore ? concat("not a class in [0, ", c, ") nor the ignore index ", *coder.ignore)
                     : concat("not a class in [0, ", c, ") (no ignore index)");
    std::array<index_t, R> idx{};
    for (index_t k = 0, n = vg.size(); k < n; ++k) {
        index_t og = 0, op = 0;
        for (std::size_t r = 0; r < R; ++r) {
            og += idx[r] * vg.stride(r);
            op += idx[r] * vp.stride(r);
        }
        const G g = vg.data_handle()[og];
        const P p = vp.data_handle()[op];
        const index_t row = coder.gt_row(g);
        if (row == c)
            throw_invalid(fn, "gt", "value ", printable(g), " at ", position_string(idx), " is ",
                          allowed);
        if (row < c && coder.pred_col(p) == c)
            throw_invalid(fn, "pred", "value ", printable(p), " at ", position_string(idx),
                          " is not a class in [0, ", c, ")");
        for (std::size_t r = R; r-- > 0;) {
            if (++idx[r] < vg.extent(r))
                break;
            idx[r] = 0;
        }
    }
    throw_invalid(fn, "gt", "out-of-range label (position not found)"); // not reached
}

inline void skip_space(std::string_view& s) noexcept {
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
}

[[nodiscard]] inline std::string_view next_token(std::string_view& s) {
    skip_space(s);
    std::size_t k = 0;
    while (k < s.size() && s[k] != ' ' && s[k] != '\n' && s[k] != '\t' && s[k] != '\r')
        ++k;
    const std::string_view t = s.substr(0, k);
    s.remove_prefix(k);
    return t;
}

template <class I>
[[nodiscard]] I parse_integer(std::string_view& s, const char* what) {
    const std::string_view t = next_token(s);
    I v{};
    const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
    DETSEG_REQUIRE(!t.empty() && res.ec == std::errc{} && res.ptr == t.data() + t.size(),
                   "confusion_matrix::deserialize", "text", "expected an integer for ", what,
                   ", got '", t, "'");
    return v;
}

inline void expect_token(std::string_view& s, std::string_view want) {
    const std::string_view t = next_token(s);
    DETSEG_REQUIRE(t == want, "confusion_matrix::deserialize", "text", "expected '", want,
                   "', got '", t, "'");
}

} // namespace detail

/// Confusion matrix of semantic segmentation: C×C 64-bit counts, row = ground-truth class,
/// column = predicted class, accumulated over any number of label maps.
///
/// Reference: mmsegmentation's `intersect_and_union` / `total_intersect_and_union`
/// (`mmseg/core/evaluation/metrics.py`); the areas derived from this matrix
/// (`seg_metrics.hpp`) equal theirs exactly.
///
///     detseg::confusion_matrix cm(19);                     // ignore index 255
///     for (auto& [gt, pred] : images) cm.update(gt, pred); // any integer type, any backend
///     auto m = detseg::compute_seg_metrics(cm);            // m.miou, m.iou[c], ...
///
/// Accumulators built with the same C and options `merge()` exactly, and `serialize()` /
/// `deserialize()` carry one between processes: any split of the images gives the same counts.
/// Not thread-safe (one accumulator per thread, then `merge`).
class confusion_matrix {
public:
    /// Largest number of classes (the table has C² 64-bit counts).
    static constexpr index_t max_classes = 65536;

    /// An empty accumulator for classes 0..num_classes-1.
    /// @throws detseg::invalid_argument if num_classes is not in [1, 65536].
    explicit confusion_matrix(index_t num_classes, const confusion_matrix_params& params = {})
        : c_(num_classes), params_(params) {
        DETSEG_REQUIRE(num_classes >= 1 && num_classes <= max_classes, "confusion_matrix",
                       "num_classes", "must be in [1, ", max_classes, "], got ", num_classes);
        counts_.assign(static_cast<std::size_t>(c_ * c_), 0);
        pred_oor_.assign(static_cast<std::size_t>(c_), 0);
        gt_oor_.assign(static_cast<std::size_t>(c_), 0);
    }

    /// Adds the pixel pairs of one ground-truth map and its prediction.
    ///
    /// @param gt    label map of any integer type (not bool), any rank (H×W, N×H×W, a flat
    ///              vector, ...) and strides, through any backend (`as_view`); `Rank` forces
    ///              the rank, and is needed only for a run-time-rank source (`xt::xarray`) that
    ///              is not 2-D.
    /// @param pred  prediction of the same shape, any integer type.
    /// Pixels whose gt equals the ignore index are skipped. O(pixels + C²) time and O(C²) extra
    /// memory per call (the counts go to a temporary table first, so an error changes nothing).
    /// With OpenMP, a call with at least 4M pixels (a batch N×H×W) is split into one chunk per
    /// thread (the counts do not depend on it); smaller calls run on the calling thread.
    /// @throws detseg::invalid_argument (function `confusion_matrix::update`) if the shapes
    ///         differ (argument `pred`), or, with `out_of_range_policy::error`, for the first
    ///         pixel in row-major order with a gt outside [0, C) that is not the ignore index
    ///         (argument `gt`) or a prediction outside [0, C) where the gt is a class (argument
    ///         `pred`), naming its position and value. The accumulator is then unchanged.
    template <std::size_t Rank = 0, class Gt, class Pred>
    void update(const Gt& gt, const Pred& pred) {
        constexpr const char* fn = "confusion_matrix::update";
        const auto vg = detail::label_array_view<Rank>(gt, fn, "gt");
        const auto vp = detail::label_array_view<Rank>(pred, fn, "pred");
        using VG = std::remove_cvref_t<decltype(vg)>;
        using VP = std::remove_cvref_t<decltype(vp)>;
        static_assert(is_strided_view_v<VG> && is_strided_view_v<VP>,
                      "detseg::confusion_matrix::update: label maps must be arrays of integers "
                      "(a strided view, a contiguous range, an Eigen or xtensor object)");
        using G = typename VG::value_type;
        using P = typename VP::value_type;
        static_assert(detail::label_value_v<G>,
                      "detseg::confusion_matrix::update: gt must hold integers (not bool)");
        static_assert(detail::label_value_v<P>,
                      "detseg::confusion_matrix::update: pred must hold integers (not bool)");
        constexpr std::size_t rg = VG::rank(), rp = VP::rank();
        if constexpr (rg != rp) {
            detail::throw_invalid(fn, "pred", "rank ", rp, " (shape ",
                                  detail::shape_string(vp.extents()), ") differs from gt's rank ",
                                  rg, " (shape ", detail::shape_string(vg.extents()), ")");
        } else {
            DETSEG_REQUIRE(vg.extents() == vp.extents(), fn, "pred", "shape ",
                           detail::shape_string(vp.extents()), " differs from gt's shape ",
                           detail::shape_string(vg.extents()));
            const strided_view<const G, rg> cg = vg;
            const strided_view<const P, rp> cp = vp;
            const detail::confusion_coder coder = coder_of();
            const std::vector<std::uint64_t> table = detail::count_confusion(cg, cp, coder);
            if (params_.out_of_range == out_of_range_policy::error && has_out_of_range(table))
                detail::throw_first_out_of_range(cg, cp, coder, fn);
            add_table(table);
        }
    }

    /// Adds another accumulator's counts: afterwards `*this` is what one accumulator fed with
    /// both sets of maps would be. O(C²).
    /// @throws detseg::invalid_argument (argument `other`) if its num_classes or params differ.
    void merge(const confusion_matrix& other) {
        constexpr const char* fn = "confusion_matrix::merge";
        DETSEG_REQUIRE(other.c_ == c_, fn, "other", "num_classes ", other.c_, " differs from ", c_);
        DETSEG_REQUIRE(other.params_ == params_, fn, "other",
                       "ignore_index or out_of_range policy differs");
        for (std::size_t k = 0; k < counts_.size(); ++k)
            counts_[k] += other.counts_[k];
        for (std::size_t k = 0; k < pred_oor_.size(); ++k) {
            pred_oor_[k] += other.pred_oor_[k];
            gt_oor_[k] += other.gt_oor_[k];
        }
        both_oor_ += other.both_oor_;
        ignored_ += other.ignored_;
    }

    /// Sets every count to 0 (keeps C and the params).
    void reset() noexcept {
        std::fill(counts_.begin(), counts_.end(), 0);
        std::fill(pred_oor_.begin(), pred_oor_.end(), 0);
        std::fill(gt_oor_.begin(), gt_oor_.end(), 0);
        both_oor_ = ignored_ = 0;
    }

    [[nodiscard]] index_t num_classes() const noexcept { return c_; }
    [[nodiscard]] const confusion_matrix_params& params() const noexcept { return params_; }

    /// Pixels with ground truth `gt` predicted as `pred`.
    /// @throws detseg::invalid_argument if either is not in [0, C).
    [[nodiscard]] std::uint64_t count(index_t gt, index_t pred) const {
        DETSEG_REQUIRE(gt >= 0 && gt < c_, "confusion_matrix::count", "gt", gt, " is not in [0, ",
                       c_, ")");
        DETSEG_REQUIRE(pred >= 0 && pred < c_, "confusion_matrix::count", "pred", pred,
                       " is not in [0, ", c_, ")");
        return counts_[static_cast<std::size_t>(gt * c_ + pred)];
    }

    /// The C×C counts, row-major (row = gt class, column = predicted class).
    [[nodiscard]] strided_view<const std::uint64_t, 2> matrix() const noexcept {
        return {counts_.data(), {c_, c_}};
    }
    /// Per gt class: pixels of that class whose prediction was out of range (mmseg policy only;
    /// they count in the class's ground-truth area). Length C.
    [[nodiscard]] std::span<const std::uint64_t> pred_out_of_range() const noexcept {
        return pred_oor_;
    }
    /// Per predicted class: pixels predicted as that class whose gt was out of range and not the
    /// ignore index (mmseg policy only; they count in the class's predicted area). Length C.
    [[nodiscard]] std::span<const std::uint64_t> gt_out_of_range() const noexcept {
        return gt_oor_;
    }
    /// Pixels with gt and prediction both out of range (mmseg policy only; counted nowhere).
    [[nodiscard]] std::uint64_t both_out_of_range() const noexcept { return both_oor_; }
    /// Pixels skipped because their gt was the ignore index.
    [[nodiscard]] std::uint64_t ignored() const noexcept { return ignored_; }

    /// A text form of the whole state (C, params, every count), for `deserialize`. O(C²).
    [[nodiscard]] std::string serialize() const {
        std::string s =
            detail::concat("detseg.confusion_matrix 1\nnum_classes ", c_, "\nignore_index ");
        s += params_.ignore_index ? detail::concat(*params_.ignore_index) : std::string("none");
        s += params_.out_of_range == out_of_range_policy::error ? "\nout_of_range error"
                                                                : "\nout_of_range mmseg";
        s += detail::concat("\nignored ", ignored_, "\nboth_out_of_range ", both_oor_);
        auto row = [&](const char* name, const std::uint64_t* v, index_t len) {
            s += name;
            for (index_t k = 0; k < len; ++k)
                s += detail::concat(k ? " " : "", v[k]);
        };
        row("\npred_out_of_range ", pred_oor_.data(), c_);
        row("\ngt_out_of_range ", gt_oor_.data(), c_);
        s += "\ncounts";
        for (index_t r = 0; r < c_; ++r)
            row("\n", counts_.data() + r * c_, c_);
        s += "\nend\n";
        return s;
    }

    /// The accumulator `serialize()` wrote. O(C²).
    /// @throws detseg::invalid_argument (function `confusion_matrix::deserialize`, argument
    ///         `text`) if the text is not such a record (wrong header, missing or extra numbers).
    [[nodiscard]] static confusion_matrix deserialize(std::string_view text) {
        using detail::expect_token;
        using detail::next_token;
        using detail::parse_integer;
        std::string_view s = text;
        expect_token(s, "detseg.confusion_matrix");
        expect_token(s, "1");
        expect_token(s, "num_classes");
        const auto c = parse_integer<index_t>(s, "num_classes");
        DETSEG_REQUIRE(c >= 1 && c <= max_classes, "confusion_matrix::deserialize", "text",
                       "num_classes ", c, " is not in [1, ", max_classes, "]");
        confusion_matrix_params params;
        expect_token(s, "ignore_index");
        std::string_view probe = s;
        if (next_token(probe) == "none") {
            s = probe;
            params.ignore_index = std::nullopt;
        } else {
            params.ignore_index = parse_integer<std::int64_t>(s, "ignore_index");
        }
        expect_token(s, "out_of_range");
        const std::string_view policy = next_token(s);
        DETSEG_REQUIRE(policy == "error" || policy == "mmseg", "confusion_matrix::deserialize",
                       "text", "unknown out_of_range policy '", policy, "'");
        params.out_of_range =
            policy == "error" ? out_of_range_policy::error : out_of_range_policy::mmseg;
        confusion_matrix cm(c, params);
        expect_token(s, "ignored");
        cm.ignored_ = parse_integer<std::uint64_t>(s, "ignored");
        expect_token(s, "both_out_of_range");
        cm.both_oor_ = parse_integer<std::uint64_t>(s, "both_out_of_range");
        expect_token(s, "pred_out_of_range");
        for (auto& v : cm.pred_oor_)
            v = parse_integer<std::uint64_t>(s, "pred_out_of_range");
        expect_token(s, "gt_out_of_range");
        for (auto& v : cm.gt_oor_)
            v = parse_integer<std::uint64_t>(s, "gt_out_of_range");
        expect_token(s, "counts");
        for (auto& v : cm.counts_)
            v = parse_integer<std::uint64_t>(s, "counts");
        expect_token(s, "end");
        detail::skip_space(s);
        DETSEG_REQUIRE(s.empty(), "confusion_matrix::deserialize", "text",
                       "unexpected text after 'end'");
        return cm;
    }

    /// Same C, params and counts.
    friend bool operator==(const confusion_matrix&, const confusion_matrix&) = default;

private:
    [[nodiscard]] detail::confusion_coder coder_of() const noexcept {
        return {c_, params_.ignore_index};
    }

    /// True when the extended table has a pixel with an out-of-range gt (not ignored) or an
    /// out-of-range prediction at a gt class.
    [[nodiscard]] bool has_out_of_range(const std::vector<std::uint64_t>& t) const noexcept {
        const index_t w = c_ + 1;
        for (index_t k = 0; k < w; ++k)
            if (t[static_cast<std::size_t>(c_ * w + k)] != 0)
                return true;
        for (index_t r = 0; r < c_; ++r)
            if (t[static_cast<std::size_t>(r * w + c_)] != 0)
                return true;
        return false;
    }

    void add_table(const std::vector<std::uint64_t>& t) noexcept {
        const index_t w = c_ + 1;
        auto at = [&](index_t r, index_t k) { return t[static_cast<std::size_t>(r * w + k)]; };
        for (index_t r = 0; r < c_; ++r) {
            for (index_t k = 0; k < c_; ++k)
                counts_[static_cast<std::size_t>(r * c_ + k)] += at(r, k);
            pred_oor_[static_cast<std::size_t>(r)] += at(r, c_);
            gt_oor_[static_cast<std::size_t>(r)] += at(c_, r);
        }
        both_oor_ += at(c_, c_);
        for (index_t k = 0; k < w; ++k)
            ignored_ += at(c_ + 1, k);
    }

    index_t c_;
    confusion_matrix_params params_;
    std::vector<std::uint64_t> counts_;   // C×C
    std::vector<std::uint64_t> pred_oor_; // per gt class
    std::vector<std::uint64_t> gt_oor_;   // per predicted class
    std::uint64_t both_oor_ = 0;
    std::uint64_t ignored_ = 0;
};

} // namespace detseg

#endif // DETSEG_METRICS_CONFUSION_MATRIX_HPP
