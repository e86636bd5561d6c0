#ifndef DETSEG_DETECT_BATCHED_NMS_HPP
#define DETSEG_DETECT_BATCHED_NMS_HPP

/// @file
/// Per-class (batched) greedy non-maximum suppression: boxes only suppress boxes with the same
/// label.
///
/// Reference: `torchvision.ops.batched_nms` (0.14). Its kept *set* equals the union over labels
/// of `torchvision.ops.nms` run on each label's boxes, which is what detseg computes. Two
/// deliberate differences:
/// - torchvision sorts the union with a non-stable sort (N > 1000) or takes the order of one
///   `nms` on offset boxes (N <= 1000); detseg always returns score descending, ties by lower
///   index (deterministic).
/// - For N <= 1000 torchvision offsets each box by `label * (max coordinate + 1)` and runs one
///   `nms`; that is wrong for negative coordinates (boxes of different labels can suppress each
///   other) and loses low bits for large ones. detseg runs the greedy loop per label on the
///   original coordinates, so it is correct for any finite coordinates.

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/box/detail/pairwise.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/score_order.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/detect/nms.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

namespace detail {

// The grid threshold of one label's run: a label's boxes are mostly one object's, where a grid
// prunes less than across a whole image, so runs switch to it later than `nms` does.
inline constexpr index_t batched_nms_grid_min_candidates = 4096;

// An unsigned key that orders labels of any integer type as their values.
template <class L>
[[nodiscard]] std::uint64_t label_key(L v) noexcept {
    if constexpr (std::is_signed_v<L>)
        return static_cast<std::uint64_t>(static_cast<std::int64_t>(v)) ^ (std::uint64_t{1} << 63);
    else
        return static_cast<std::uint64_t>(v);
}

// Per-label greedy NMS on checked canonical views: writes the kept indices, score descending,
// ties by lower index, at most `limit` of them, to `out` and returns their count.
//
// The candidates are put in score order once (radix sort), then grouped by label with a stable
// sort, so that each label's run is in score order; each run goes through `nms_soa` (runs in
// parallel with OpenMP, each on its own scratch: the result does not depend on the thread
// count); the kept boxes are then read back in the global score order.
template <class T, class V, class S, class L>
index_t batched_nms_run(const box_view<V>& boxes, const S& scores, const L& labels, index_t* out,
                        index_t limit, const nms_params& p, nms_buffers& buf, index_t grid_min) {
    const index_t n = boxes.size();
    if (n == 0 || limit <= 0)
        return 0;
    auto& order = buf.order;
    score_order(scores, n, p.score_threshold, order, buf.sort);
    const auto m = static_cast<index_t>(order.size());
    const auto um = static_cast<std::size_t>(m);

    // Stable grouping by label: `ids` lists the candidates label by label, each label's in score
    // order; `runs` holds the start of every label's run, and m at the end. A counting sort when
    // the labels span a small range, else a radix sort of (label, index) pairs.
    auto& ids = buf.sort.tmp; // the sort's scratch, free now
    ids.resize(um);
    auto& runs = buf.runs;
    runs.clear();
    std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
    for (std::size_t k = 0; k < um; ++k) {
        const std::uint64_t key = label_key(labels[order[k]]);
        lo = std::min(lo, key);
        hi = std::max(hi, key);
    }
    if (m > 0 && hi - lo <= std::uint64_t(std::max<index_t>(m, 1024))) {
        auto& count = buf.counts;
        count.assign(std::size_t(hi - lo) + 2, 0);
        for (std::size_t k = 0; k < um; ++k)
            ++count[std::size_t(label_key(labels[order[k]]) - lo) + 1];
        for (std::size_t v = 1; v < count.size(); ++v) {
            if (count[v] != 0)
                runs.push_back(count[v - 1]);
            count[v] += count[v - 1];
        }
        for (std::size_t k = 0; k < um; ++k)
            ids[std::size_t(count[std::size_t(label_key(labels[order[k]]) - lo)]++)] = order[k];
    } else if (m > 0) {
        auto& g = buf.groups;
        g.resize(um);
        for (std::size_t k = 0; k < um; ++k)
            g[k] = {label_key(labels[order[k]]), static_cast<std::uint64_t>(order[k])};
        radix_sort_bits(g, buf.groups_tmp, 0, 64,
                        [](const score_order_buffers::wide& v) { return v.key; });
        for (std::size_t k = 0; k < um; ++k) {
            ids[k] = static_cast<index_t>(g[k].index);
            if (k == 0 || g[k].key != g[k - 1].key)
                runs.push_back(static_cast<index_t>(k));
        }
    }
    runs.push_back(m);
    const auto nruns = static_cast<index_t>(runs.size()) - 1;

    auto& s = buf.template scratch<T>();
    T* c = gather_candidates<T>(boxes, ids.data(), m, s);
    auto& flag = buf.keep_flag;
    flag.assign(static_cast<std::size_t>(n), 0);
    // Each run's kept ids overwrite the start of its own part of `ids` (nms_soa allows it).
    const auto run_nms = [&](index_t r, nms_scratch<T>& scratch) {
        const index_t b = runs[std::size_t(r)], e = runs[std::size_t(r) + 1];
        const index_t k =
            nms_soa<T>(c + b, c + m + b, c + 2 * m + b, c + 3 * m + b, c + 4 * m + b,
                       ids.data() + b, e - b, ids.data() + b, e - b, p, scratch, grid_min);
        for (index_t j = 0; j < k; ++j)
            flag[std::size_t(ids[std::size_t(b + j)])] = 1;
    };
    if (max_threads() > 1 && m >= 4096 && nruns > 1) {
        // Thread t takes runs t, t + nt, ...; any split gives the same result.
        const index_t nt = std::min<index_t>(max_threads(), nruns);
        parallel_for(nt, [&](index_t t) {
            nms_scratch<T> scratch;
            for (index_t r = t; r < nruns; r += nt)
                run_nms(r, scratch);
        });
    } else {
        for (index_t r = 0; r < nruns; ++r)
            run_nms(r, s);
    }

    // `out == nullptr`: the result goes to the start of `order` itself (count <= k), which
    // `batched_nms` returns. (The spans of `batched_nms_to` never pass a null pointer here:
    // an empty span has limit 0 and returned above.)
    index_t* dst = out != nullptr ? out : order.data();
    index_t count = 0;
    for (std::size_t k = 0; k < um && count < limit; ++k)
        if (flag[std::size_t(order[k])])
            dst[count++] = order[k];
    return count;
}

template <box_source B, score_source S, label_source L>
index_t batched_nms_checked(B&& boxes, S&& scores, L&& labels, index_t* out, index_t limit,
                            const nms_params& p, nms_buffers& buf, const char* fn,
                            index_t grid_min = batched_nms_grid_min_candidates) {
    check_nms_params(p, fn);
    auto b = to_boxes(std::forward<B>(boxes), box_format::xyxy, fn, "boxes");
    auto s = as_view_checked<1>(std::forward<S>(scores), fn, "scores");
    auto l = as_view_checked<1>(std::forward<L>(labels), fn, "labels");
    DETSEG_REQUIRE(s.extent(0) == b.size(), fn, "scores", "expected ", b.size(),
                   " scores (one per box), got ", s.extent(0));
    DETSEG_REQUIRE(l.extent(0) == b.size(), fn, "labels", "expected ", b.size(),
                   " labels (one per box), got ", l.extent(0));
    check_finite_boxes(b, fn, "boxes");
    check_finite_scores(s, fn, "scores");
    using T = typename decltype(b)::value_type;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "detseg::batched_nms: box coordinates must be float or double");
    if (p.max_output >= 0)
        limit = std::min(limit, p.max_output);
    return batched_nms_run<T>(b, s, l, out, limit, p, buf, grid_min);
}

} // namespace detail

/// Per-class non-maximum suppression: greedy NMS (as `detseg::nms`) run separately on the boxes
/// of each label, in one call. The kept set equals
/// `torchvision.ops.batched_nms(boxes, scores, labels, iou_threshold)`'s (with the default
/// parameters); unlike torchvision, it is also correct for negative and very large coordinates,
/// and the order is deterministic.
/// @param boxes  N×4 box source (xyxy; `as_boxes(src, format)` for others), float or double,
///               finite; inverted and zero-area boxes are allowed (IoU 0 with every box)
/// @param scores N scores, float or double (independently of the boxes), finite
/// @param labels N class labels of any integer type; only boxes with equal labels interact
/// @param params threshold, comparison, score threshold and limit (see `nms_params`);
///               `max_output` caps the total, keeping the highest-scoring kept boxes overall
/// @return kept indices in descending score order, ties by lower index; empty for N = 0
/// @throws detseg::invalid_argument naming `batched_nms` and the argument: `boxes` (not N×4, a
///         NaN or infinite coordinate), `scores` (length is not N, a NaN or infinite score),
///         `labels` (length is not N), `params.iou_threshold` (outside [0, 1] or NaN),
///         `params.score_threshold` (NaN), `params.max_output` (< -1)
///
/// Complexity: O(N) radix/counting sorts, then at most O(Σ N_c·K_c) IoU evaluations for N_c
/// candidates and K_c kept boxes of label c (labels in parallel with OpenMP; the result does not
/// depend on the thread count); O(N) extra memory (no N×N matrix).
///
///     auto keep = detseg::batched_nms(boxes, scores, labels, {.iou_threshold = 0.7});
template <box_source B, score_source S, label_source L>
[[nodiscard]] std::vector<index_t> batched_nms(B&& boxes, S&& scores, L&& labels,
                                               const nms_params& params = {}) {
    nms_workspace ws;
    auto& buf = detail::nms_access::buffers(ws);
    const index_t k = detail::batched_nms_checked(
        std::forward<B>(boxes), std::forward<S>(scores), std::forward<L>(labels), nullptr,
        std::numeric_limits<index_t>::max(), params, buf, "batched_nms");
    std::vector<index_t> keep = std::move(buf.order);
    keep.resize(static_cast<std::size_t>(k));
    return keep;
}

/// `batched_nms` written into the caller's span: the first `min(out.size(), max_output)` kept
/// indices, in the order `batched_nms` returns them (a short span acts as a limit). Returns how
/// many were written; `out` past them is left unchanged. Allocates O(N) scratch memory; see the
/// overload with an `nms_workspace` to reuse it.
/// @throws detseg::invalid_argument as `batched_nms`, naming `batched_nms_to`
template <box_source B, score_source S, label_source L>
index_t batched_nms_to(B&& boxes, S&& scores, L&& labels, std::span<index_t> out,
                       const nms_params& params = {}) {
    nms_workspace ws;
    return detail::batched_nms_checked(std::forward<B>(boxes), std::forward<S>(scores),
                                       std::forward<L>(labels), out.data(),
                                       static_cast<index_t>(out.size()), params,
                                       detail::nms_access::buffers(ws), "batched_nms_to");
}

/// `batched_nms_to` with caller-owned scratch memory: allocation-free once `ws` has held a
/// problem of this size (when it runs single-threaded).
template <box_source B, score_source S, label_source L>
index_t batched_nms_to(B&& boxes, S&& scores, L&& labels, std::span<index_t> out, nms_workspace& ws,
                       const nms_params& params = {}) {
    return detail::batched_nms_checked(std::forward<B>(boxes), std::forward<S>(scores),
                                       std::forward<L>(labels), out.data(),
                                       static_cast<index_t>(out.size()), params,
                                       detail::nms_access::buffers(ws), "batched_nms_to");
}

} // namespace detseg

#endif // DETSEG_DETECT_BATCHED_NMS_HPP
