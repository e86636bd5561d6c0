#ifndef DETSEG_METRICS_DETAIL_COCO_ACCUMULATE_HPP
#define DETSEG_METRICS_DETAIL_COCO_ACCUMULATE_HPP

// pycocotools' `accumulate()` on compact match records.

#include <detseg/config.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/metrics/coco_params.hpp>
#include <detseg/metrics/coco_result.hpp>
#include <detseg/metrics/detail/coco_match.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

namespace detseg::detail {

/// One (image, category) group of match records.
struct coco_group_view {
    std::uint32_t cat;
    std::uint32_t ndets;
    std::size_t det_offset;
};

/// The records accumulation reads: group g has `npig[g*A + a]`, `scores[det_offset + d]` and
/// a D×A×T block of states at `det_offset*A*T` (`(d*A + a)*T + t` within it).
struct coco_records_view {
    std::span<const coco_group_view> groups;
    std::span<const std::size_t> order; ///< group indices in image-id order
    std::span<const std::uint32_t> npig;
    std::span<const double> scores;
    std::span<const std::uint8_t> states;
};

/// `np.spacing(1)`: the distance from 1.0 to the next double, 2^-52.
inline constexpr double numpy_spacing_1 = std::numeric_limits<double>::epsilon();

/// Fills precision/recall/scores for category k (all area ranges and maxDets).
///
/// The result is pycocotools' arithmetic on pycocotools' values, computed with less work:
/// - `rc[i] = tp_i/npig` changes only at true positives, so `searchsorted(rc, r, 'left')` is
///   0 for `r <= 0` and otherwise the first true positive j (the (j+1)-th) with
///   `(j+1)/npig >= r`;
/// - `pr[i] = tp_i/((fp_i + tp_i) + eps)` can only decrease between two true positives (the
///   denominator grows, and rounding is monotonic), and is 0 before the first, so the
///   right-to-left running maximum of `pr` read at such an index equals the running maximum
///   of `pr` over the true positives from there on.
/// So only the true positives need divisions; every value read is the one pycocotools reads.
inline void coco_accumulate_category(const coco_params& p, const coco_records_view& v,
                                     std::span<const std::size_t> groups_of_k, index_t k,
                                     coco_eval_result& r) {
    if (groups_of_k.empty())
        return; // no image had a GT or a detection of k: -1 stays
    const index_t T = static_cast<index_t>(p.iou_thresholds.size());
    const index_t R = static_cast<index_t>(p.recall_thresholds.size());
    const index_t A = static_cast<index_t>(p.area_ranges.size());
    const index_t M = static_cast<index_t>(p.max_dets.size());
    const index_t K = r.precision.extent(2);
    struct entry {
        double score;
        std::uint32_t group; // position in groups_of_k
        std::uint32_t d;
    };
    std::size_t total = 0;
    for (std::size_t j : groups_of_k)
        total += v.groups[j].ndets;
    std::vector<entry> all;
    all.reserve(total);
    for (std::size_t j = 0; j < groups_of_k.size(); ++j) {
        const auto& g = v.groups[groups_of_k[j]];
        for (std::uint32_t d = 0; d < g.ndets; ++d)
            all.push_back({v.scores[g.det_offset + d], static_cast<std::uint32_t>(j), d});
    }
    // np.argsort(-dtScores, kind='mergesort'): stable, concatenation (image, then rank) order.
    // Sorting all kept detections once serves every maxDets: the detections of a smaller
    // maxDets are a subsequence of the concatenation, so their stable order is a subsequence.
    std::stable_sort(all.begin(), all.end(),
                     [](const entry& a, const entry& b) { return a.score > b.score; });
    const std::size_t N = all.size();
    // per maxDets, the positions kept (none stored when every detection is kept)
    std::vector<std::vector<std::uint32_t>> kept(static_cast<std::size_t>(M));
    std::vector<char> keeps_all(static_cast<std::size_t>(M), 1);
    for (index_t m = 0; m < M; ++m) {
        const auto max_det = static_cast<std::uint64_t>(p.max_dets[static_cast<std::size_t>(m)]);
        auto& kp = kept[static_cast<std::size_t>(m)];
        kp.reserve(N);
        for (std::size_t i = 0; i < N; ++i)
            if (all[i].d < max_det)
                kp.push_back(static_cast<std::uint32_t>(i));
        keeps_all[static_cast<std::size_t>(m)] = kp.size() == N;
        if (kp.size() == N)
            kp = {};
    }
    // the states in score order, A×T per detection (one contiguous copy each)
    const std::size_t TA = static_cast<std::size_t>(T * A);
    std::vector<std::uint8_t> st(TA * N);
    for (std::size_t i = 0; i < N; ++i) {
        const auto& e = all[i];
        const auto& g = v.groups[groups_of_k[e.group]];
        const std::uint8_t* src = v.states.data() + (g.det_offset + e.d) * TA;
        std::uint8_t* dst = st.data() + i * TA;
        for (std::size_t x = 0; x < TA; ++x)
            dst[x] = src[x];
    }
    struct tp_at {
        std::uint32_t pos; // position in the kept sequence
        std::uint32_t fp;  // false positives up to there
    };
    std::vector<tp_at> tps;
    std::vector<double> prmax, rc_tp;
    const auto uT = static_cast<std::size_t>(T);
    for (index_t a = 0; a < A; ++a) {
        std::uint64_t npig = 0;
        for (std::size_t j = 0; j < groups_of_k.size(); ++j)
            npig +=
                v.npig[groups_of_k[j] * static_cast<std::size_t>(A) + static_cast<std::size_t>(a)];
        if (npig == 0)
            continue;
        const double npig_d = static_cast<double>(npig);
        for (index_t m = 0; m < M; ++m) {
            const bool every = keeps_all[static_cast<std::size_t>(m)] != 0;
            const auto& kp = kept[static_cast<std::size_t>(m)];
            const std::size_t nd = every ? N : kp.size();
            auto position = [&](std::size_t n) { return every ? n : std::size_t{kp[n]}; };
            for (index_t t = 0; t < T; ++t) {
                const std::size_t at =
                    static_cast<std::size_t>(a) * uT + static_cast<std::size_t>(t);
                // branch-free: every position is written, only true positives advance
                tps.resize(nd + 1);
                std::uint32_t fp = 0;
                std::size_t ntp = 0;
                for (std::size_t n = 0; n < nd; ++n) {
                    const std::uint8_t c = st[position(n) * TA + at];
                    tps[ntp] = {static_cast<std::uint32_t>(n), fp};
                    ntp += c == coco_tp;
                    fp += c == coco_fp;
                }
                // rc and pr at the true positives, pr as a running maximum from the right
                prmax.resize(ntp);
                rc_tp.resize(ntp);
                for (std::size_t j = 0; j < ntp; ++j) {
                    const double tp = static_cast<double>(j + 1);
                    rc_tp[j] = tp / npig_d;
                    prmax[j] = tp / ((static_cast<double>(tps[j].fp) + tp) + numpy_spacing_1);
                }
                for (std::size_t j = ntp; j-- > 1;)
                    if (prmax[j] > prmax[j - 1])
                        prmax[j - 1] = prmax[j];
                r.recall(t, k, a, m) = nd == 0 ? 0.0 : ntp == 0 ? 0.0 / npig_d : rc_tp[ntp - 1];
                // precision[t, :, k, a, m] and scores[t, :, k, a, m]: stride K*A*M along r
                const std::size_t first =
                    static_cast<std::size_t>((((t * R) * K + k) * A + a) * M + m);
                const std::size_t stride = static_cast<std::size_t>(K * A * M);
                double* prec = r.precision.data() + first;
                double* sc = r.scores.data() + first;
                for (index_t ri = 0; ri < R; ++ri) {
                    const double thr = p.recall_thresholds[static_cast<std::size_t>(ri)];
                    double q = 0.0, ss = 0.0;
                    if (nd > 0 && 0.0 / npig_d >= thr) {
                        // index 0: the running maximum over everything
                        q = ntp > 0 ? prmax[0] : 0.0;
                        ss = all[position(0)].score;
                    } else {
                        const std::size_t j = static_cast<std::size_t>(
                            std::lower_bound(rc_tp.begin(), rc_tp.end(), thr) - rc_tp.begin());
                        if (j < ntp) {
                            q = prmax[j];
                            ss = all[position(tps[j].pos)].score;
                        }
                    }
                    prec[static_cast<std::size_t>(ri) * stride] = q;
                    sc[static_cast<std::size_t>(ri) * stride] = ss;
                }
            }
        }
    }
}

/// pycocotools `accumulate()` then `summarize()`. `cats` are the evaluator's sorted ids.
/// Categories run in parallel; each writes only its own slice, so the result is the same for
/// any thread count.
[[nodiscard]] inline coco_eval_result coco_accumulate(const coco_params& p,
                                                      const std::vector<std::int64_t>& cats,
                                                      const coco_records_view& v) {
    coco_eval_result r;
    r.params = p;
    r.category_ids = p.use_cats ? cats : std::vector<std::int64_t>{-1};
    const index_t T = static_cast<index_t>(p.iou_thresholds.size());
    const index_t R = static_cast<index_t>(p.recall_thresholds.size());
    const index_t K = static_cast<index_t>(r.category_ids.size());
    const index_t A = static_cast<index_t>(p.area_ranges.size());
    const index_t M = static_cast<index_t>(p.max_dets.size());
    r.precision = tensor<double, 5>({T, R, K, A, M}, -1.0);
    r.scores = tensor<double, 5>({T, R, K, A, M}, -1.0);
    r.recall = tensor<double, 4>({T, K, A, M}, -1.0);
    std::vector<std::vector<std::size_t>> by_cat(static_cast<std::size_t>(K));
    for (std::size_t g : v.order)
        by_cat[v.groups[g].cat].push_back(g);
    parallel_for(K, [&](index_t k) {
        coco_accumulate_category(p, v, by_cat[static_cast<std::size_t>(k)], k, r);
    });
    coco_summarize(r);
    return r;
}

} // namespace detseg::detail

#endif // DETSEG_METRICS_DETAIL_COCO_ACCUMULATE_HPP
