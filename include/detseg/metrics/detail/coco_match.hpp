#ifndef DETSEG_METRICS_DETAIL_COCO_MATCH_HPP
#define DETSEG_METRICS_DETAIL_COCO_MATCH_HPP

// The per-image, per-category matching of COCO evaluation (pycocotools' `evaluateImg`), written
// once for every IoU type: it reads an IoU matrix and writes compact match records.

#include <detseg/config.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace detseg::detail {

/// The state of one detection at one IoU threshold and area range, after matching.
enum coco_det_state : std::uint8_t {
    coco_ignored = 0, ///< dtIgnore: matched to an ignored GT, or unmatched and outside the range
    coco_tp = 1,      ///< matched (to a GT whose id is not 0) and not ignored
    coco_fp = 2,      ///< unmatched and not ignored
};

/// One ground truth as matching sees it.
struct coco_match_gt {
    double area;  ///< the `area` field (area-range test)
    bool crowd;   ///< iscrowd: ignored, and absorbs any number of detections
    bool id_zero; ///< pycocotools records a match as the GT's id; id 0 reads as "unmatched"
};

/// Scratch buffers reused across groups (one per thread).
struct coco_match_scratch {
    std::vector<index_t> order;
    std::vector<std::uint8_t> ignored;
    std::vector<std::uint8_t> matched;
    std::vector<std::uint8_t> crowd; ///< in `order`
    struct candidate {
        std::uint32_t j; ///< position in `order`
        double iou;
    };
    std::vector<candidate> cand;          ///< per detection, GTs that can match
    std::vector<std::size_t> cand_begin;  ///< D+1 offsets into `cand`
    std::vector<double> best_iou;         ///< per detection, over every GT
    std::vector<std::uint8_t> gt_ignored; ///< A×G, GT order
    std::vector<std::int32_t> match;      ///< A×T×D: the matched GT (GT order) or -1
};

/// pycocotools `evaluateImg` for one (image, category) group and every area range.
/// `ious` is D×G row-major (detections in score order, GTs in input order); `det_area` has D
/// entries. Writes `npig[a]` (non-ignored GTs in range a) and `states[(d*A + a)*T + t]`.
/// Area ranges that ignore the same GTs share one matching (the matching depends on the area
/// range only through the GT ignore flags). O(A·T·D·G). Throws only `bad_alloc`.
inline void coco_match_group(std::span<const double> ious, std::span<const coco_match_gt> gts,
                             std::span<const double> det_area, std::span<const double> iou_thrs,
                             std::span<const double> area_lo, std::span<const double> area_hi,
                             std::span<std::uint32_t> npig, std::span<std::uint8_t> states,
                             coco_match_scratch& s) {
    const auto G = gts.size();
    const auto D = det_area.size();
    const auto T = iou_thrs.size();
    const auto A = area_lo.size();
    s.order.resize(G);
    s.ignored.resize(G);
    s.matched.resize(G);
    s.crowd.resize(G);
    double min_thr = 1.0;
    for (double t : iou_thrs)
        min_thr = std::min(min_thr, std::min(t, 1 - 1e-10));
    s.gt_ignored.resize(A * G);
    s.match.resize(A * T * D);
    // A detection whose IoU with every GT is below t stays unmatched at t, whatever the
    // order of the GTs: the loop below never gets past `iou < best` (best starts at t).
    s.best_iou.assign(D, -1.0);
    for (std::size_t d = 0; d < D; ++d)
        for (std::size_t g = 0; g < G; ++g)
            s.best_iou[d] = std::max(s.best_iou[d], ious[d * G + g]);
    for (std::size_t a = 0; a < A; ++a) {
        const double lo = area_lo[a];
        const double hi = area_hi[a];
        // gtIg (GT order)
        std::uint8_t* ign = s.gt_ignored.data() + a * G;
        std::uint32_t n_kept = 0;
        for (std::size_t g = 0; g < G; ++g) {
            const auto& gt = gts[g];
            ign[g] = (gt.crowd || gt.area < lo || gt.area > hi) ? 1 : 0;
            n_kept += ign[g] == 0;
        }
        npig[a] = n_kept;
        std::int32_t* match = s.match.data() + a * T * D; // GT index matched at (t, d), or -1
        std::size_t same = a;
        for (std::size_t b = 0; b < a && same == a; ++b)
            if (std::equal(ign, ign + G, s.gt_ignored.data() + b * G))
                same = b;
        if (same != a) {
            std::copy_n(s.match.data() + same * T * D, T * D, match);
        } else {
            // the stable order "not ignored first" (argsort of gtIg, mergesort)
            std::size_t pos = 0;
            for (std::size_t g = 0; g < G; ++g)
                if (!ign[g])
                    s.order[pos++] = static_cast<index_t>(g);
            for (std::size_t g = 0; g < G; ++g)
                if (ign[g])
                    s.order[pos++] = static_cast<index_t>(g);
            for (std::size_t j = 0; j < G; ++j) {
                const auto g = static_cast<std::size_t>(s.order[j]);
                s.ignored[j] = ign[g];
                s.crowd[j] = gts[g].crowd ? 1 : 0;
            }
            // Per detection, the GTs (in matching order) with IoU >= the smallest threshold.
            // Skipping the others changes nothing: such a GT fails `iou < best` at every
            // threshold, and where the reference would `break` at it (a regular GT matched, an
            // ignored one reached), every GT after it is ignored too, so the loop breaks at the
            // next candidate or ends with the same match.
            s.cand_begin.resize(D + 1);
            s.cand.clear();
            for (std::size_t d = 0; d < D; ++d) {
                s.cand_begin[d] = s.cand.size();
                for (std::size_t j = 0; j < G; ++j) {
                    const double iou = ious[d * G + static_cast<std::size_t>(s.order[j])];
                    if (!(iou < min_thr))
                        s.cand.push_back({static_cast<std::uint32_t>(j), iou});
                }
            }
            s.cand_begin[D] = s.cand.size();
            for (std::size_t t = 0; t < T; ++t) {
                const double thr = std::min(iou_thrs[t], 1 - 1e-10);
                std::fill(s.matched.begin(), s.matched.end(), std::uint8_t{0});
                for (std::size_t d = 0; d < D; ++d) {
                    std::ptrdiff_t m = -1;
                    if (!(s.best_iou[d] < thr)) {
                        double best = thr;
                        for (std::size_t c = s.cand_begin[d]; c < s.cand_begin[d + 1]; ++c) {
                            const std::size_t j = s.cand[c].j;
                            // a matched GT is skipped unless it is a crowd region
                            if (s.matched[j] && !s.crowd[j])
                                continue;
                            // once matched to a regular GT, the ignored GTs (last) are not tried
                            if (m > -1 && !s.ignored[static_cast<std::size_t>(m)] && s.ignored[j])
                                break;
                            if (s.cand[c].iou < best)
                                continue;
                            best = s.cand[c].iou; // >=: on equal IoU the later GT wins
                            m = static_cast<std::ptrdiff_t>(j);
                        }
                    }
                    if (m >= 0)
                        s.matched[static_cast<std::size_t>(m)] = 1;
                    match[t * D + d] =
                        m < 0 ? -1
                              : static_cast<std::int32_t>(s.order[static_cast<std::size_t>(m)]);
                }
            }
        }
        // the states: a matched detection inherits the GT's ignore flag; an unmatched one
        // outside the range is ignored. pycocotools stores a match as the GT id, and reads 0
        // as "no match" (the area test then applies).
        for (std::size_t d = 0; d < D; ++d) {
            const bool outside = det_area[d] < lo || det_area[d] > hi;
            for (std::size_t t = 0; t < T; ++t) {
                const std::int32_t g = match[t * D + d];
                std::uint8_t state;
                if (g < 0)
                    state = outside ? coco_ignored : coco_fp;
                else if (ign[g] || (gts[static_cast<std::size_t>(g)].id_zero && outside))
                    state = coco_ignored;
                else
                    state = gts[static_cast<std::size_t>(g)].id_zero ? coco_fp : coco_tp;
                states[(d * A + a) * T + t] = state;
            }
        }
    }
}

} // namespace detseg::detail

#endif // DETSEG_METRICS_DETAIL_COCO_MATCH_HPP
