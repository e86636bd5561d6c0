#ifndef DETSEG_DETECT_DETAIL_SOFT_NMS_BLOCKS_HPP
#define DETSEG_DETECT_DETAIL_SOFT_NMS_BLOCKS_HPP

// The candidate store behind soft_nms on large inputs: the live candidates (structure of arrays)
// in blocks of 32, laid out as the leaf level of a packed R-tree (sort-tile-recursive order, so
// a block holds boxes that are close together), each block with the exact extremes of its boxes'
// sides, and a tournament tree over the blocks' best candidates. A pick then costs O(log N) to
// find, and its decay pass only visits the blocks whose extremes say they can hold a box
// overlapping the pick, computing the overlaps of a block 2 (SSE2) or 4 (AVX, chosen at run
// time) at a time. Candidates that fall below the score threshold leave their block, so the
// blocks shrink as the loop advances.
//
// Exactness. The decay pass must visit every candidate whose OpenCV overlap with the pick is not
// 0: a candidate left out keeps its score, which is what the linear loop does for an overlap of
// exactly 0 (exp(-0) = 1 and `0 > t` is false). With the rect of a box stored as in soft_nms
// (x1, y1, x2 = x1 + w, y2 = y1 + h and area = w * h, in double), `soft_nms_overlap(a, b)` is
//   - 1 when area_a + area_b <= 0 (two zero-area boxes, or a box of negative area: inverted in
//     one axis), wherever the boxes are;
//   - otherwise not 0 only if min(x2a, x2b) > max(x1a, x1b) and min(y2a, y2b) > max(y1a, y1b),
//     which needs both boxes "solid" (x2 > x1 and y2 > y1).
// So the candidates are kept in three groups of blocks: solid boxes (area > 0, in spatial
// order), other boxes of area >= 0 (zero-area and doubly inverted: never overlapping a solid
// pick), and boxes of negative area. A solid pick visits the solid blocks whose extremes can
// intersect it (exact comparisons, no margin needed) and every negative-area block; any other
// pick visits every block, as the linear loop does.
//
// Scores only change by the decay factors, which lie in [0, 1] when `soft_nms_indexable` holds:
// the scores stay finite, so "highest score, then lowest original index" is a total order and
// the tournament tree finds the same pick as the linear scan.

#include <detseg/config.hpp>
#include <detseg/core/detail/cpu.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#if defined(__SSE2__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace detseg::detail {

// A box as OpenCV's Rect: the corners and the area, in double (see soft_nms.hpp).
struct soft_nms_rect {
    double x1, y1, x2, y2, area;
};

// OpenCV's rectOverlap: 1.f - (float)jaccardDistance(a, b) (see soft_nms.hpp).
[[nodiscard]] inline float soft_nms_overlap(const soft_nms_rect& a,
                                            const soft_nms_rect& b) noexcept {
    const double sum = a.area + b.area;
    if (sum <= 0.0)
        return 1.0f;
    const double iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    const double ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    if (!(iw > 0.0 && ih > 0.0))
        return 0.0f; // the formula's value for inter = 0, without the division
    const double inter = iw * ih;
    return 1.0f - static_cast<float>(1.0 - inter / (sum - inter));
}

// The decay rule, in OpenCV's f32 expressions.
struct soft_nms_rule {
    bool linear;
    float iou_threshold;
    float sigma;
    float score_threshold;

    // Decays the score `s` of a candidate whose overlap with the pick is `ov` (!= 0).
    void decay(float& s, float ov) const noexcept {
        if (linear) {
            if (ov > iou_threshold)
                s *= 1.0f - ov;
        } else {
            const float e = -(ov * ov) / sigma;
            s *= std::exp(e);
        }
    }
};

// True when the rect `r` of a box (with its width and height w, h as soft_nms computes them)
// keeps the arithmetic of `soft_nms_overlap` within the bounds the block store relies on:
// the stored x2 - x1 gives back w (and y2 - y1 gives h), so an intersection is never wider than
// either box and overlaps lie in [0, 1]; the area is 0 only when w or h is (no underflow); and
// the sum of two areas is finite. Always true for float boxes of moderate magnitude; a double
// box far outside the usual range can fail it, and soft_nms then runs the linear loop.
[[nodiscard]] inline bool soft_nms_indexable(const soft_nms_rect& r, double w, double h) noexcept {
    constexpr double max_area = 0.25 * std::numeric_limits<double>::max();
    return r.x2 - r.x1 == w && r.y2 - r.y1 == h && std::abs(r.area) <= max_area &&
           (r.area != 0.0 || w == 0.0 || h == 0.0);
}

// The overlaps `ov[j] = soft_nms_overlap(p, box j)` of p with the boxes (x1[j], ..., area[j]),
// j < count <= 32, which must be finite and `soft_nms_indexable`; the arrays are read up to
// `count` rounded up to a multiple of 4 (ov is written as far). Returns the mask of the
// j < count with ov[j] != 0. The same operations as soft_nms_overlap, computed on every lane
// without branches and blended:
//   q = 0 if sum <= 0; else 1 if the boxes do not meet; else 1 - inter / (sum - inter)
//   ov = 1.f - (float)q     (1 when sum <= 0; exactly 0 when they do not meet)
[[nodiscard]] inline std::uint32_t soft_nms_overlaps(const soft_nms_rect& p, const double* x1,
                                                     const double* y1, const double* x2,
                                                     const double* y2, const double* area,
                                                     index_t count, float* ov) noexcept {
    std::uint32_t hit = 0;
#if defined(__SSE2__) || defined(_M_X64)
    const __m128d px1 = _mm_set1_pd(p.x1), py1 = _mm_set1_pd(p.y1);
    const __m128d px2 = _mm_set1_pd(p.x2), py2 = _mm_set1_pd(p.y2);
    const __m128d parea = _mm_set1_pd(p.area);
    const __m128d zero = _mm_setzero_pd(), one = _mm_set1_pd(1.0);
    const auto blend = [](__m128d mask, __m128d a, __m128d b) { // mask ? a : b
        return _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b));
    };
    for (index_t j = 0; j < count; j += 4) {
        __m128 qf[2];
        for (int h = 0; h < 2; ++h) {
            const index_t k = j + 2 * h;
            const __m128d sum = _mm_add_pd(parea, _mm_loadu_pd(area + k));
            const __m128d iw = _mm_sub_pd(_mm_min_pd(px2, _mm_loadu_pd(x2 + k)),
                                          _mm_max_pd(px1, _mm_loadu_pd(x1 + k)));
            const __m128d ih = _mm_sub_pd(_mm_min_pd(py2, _mm_loadu_pd(y2 + k)),
                                          _mm_max_pd(py1, _mm_loadu_pd(y1 + k)));
            const __m128d meet = _mm_and_pd(_mm_cmpgt_pd(iw, zero), _mm_cmpgt_pd(ih, zero));
            const __m128d positive = _mm_cmpgt_pd(sum, zero);
            const __m128d inter = _mm_mul_pd(iw, ih);
            const __m128d uni = blend(_mm_and_pd(meet, positive), _mm_sub_pd(sum, inter), one);
            const __m128d q = blend(meet, _mm_sub_pd(one, _mm_div_pd(inter, uni)), one);
            qf[h] = _mm_cvtpd_ps(_mm_and_pd(q, positive));
        }
        const __m128 o = _mm_sub_ps(_mm_set1_ps(1.0f), _mm_movelh_ps(qf[0], qf[1]));
        _mm_storeu_ps(ov + j, o);
        hit |= static_cast<std::uint32_t>(_mm_movemask_ps(_mm_cmpneq_ps(o, _mm_setzero_ps()))) << j;
    }
#else
    for (index_t j = 0; j < count; ++j) {
        ov[j] = soft_nms_overlap(p, {x1[j], y1[j], x2[j], y2[j], area[j]});
        hit |= std::uint32_t{ov[j] != 0.0f} << j;
    }
#endif
    return hit & static_cast<std::uint32_t>((std::uint64_t{1} << count) - 1);
}

#if defined(__AVX__) || DETSEG_X86_DISPATCH
// soft_nms_overlaps on 4 lanes at a time, for CPUs with AVX2 (compiled for them with
// DETSEG_TARGET_AVX2 on the x86-64 baseline; see core/detail/cpu.hpp). Without FMA every lane
// does the same IEEE operations as soft_nms_overlaps, so the overlaps are bit-identical.
DETSEG_TARGET_AVX2 inline std::uint32_t
soft_nms_overlaps_avx(const soft_nms_rect& p, const double* x1, const double* y1, const double* x2,
                      const double* y2, const double* area, index_t count, float* ov) noexcept {
    std::uint32_t hit = 0;
    const __m256d px1 = _mm256_set1_pd(p.x1), py1 = _mm256_set1_pd(p.y1);
    const __m256d px2 = _mm256_set1_pd(p.x2), py2 = _mm256_set1_pd(p.y2);
    const __m256d parea = _mm256_set1_pd(p.area);
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    for (index_t j = 0; j < count; j += 4) {
        const __m256d sum = _mm256_add_pd(parea, _mm256_loadu_pd(area + j));
        const __m256d iw = _mm256_sub_pd(_mm256_min_pd(px2, _mm256_loadu_pd(x2 + j)),
                                         _mm256_max_pd(px1, _mm256_loadu_pd(x1 + j)));
        const __m256d ih = _mm256_sub_pd(_mm256_min_pd(py2, _mm256_loadu_pd(y2 + j)),
                                         _mm256_max_pd(py1, _mm256_loadu_pd(y1 + j)));
        const __m256d meet =
            _mm256_and_pd(_mm256_cmp_pd(iw, zero, _CMP_GT_OQ), _mm256_cmp_pd(ih, zero, _CMP_GT_OQ));
        const __m256d positive = _mm256_cmp_pd(sum, zero, _CMP_GT_OQ);
        const __m256d inter = _mm256_mul_pd(iw, ih);
        const __m256d uni =
            _mm256_blendv_pd(one, _mm256_sub_pd(sum, inter), _mm256_and_pd(meet, positive));
        const __m256d q =
            _mm256_blendv_pd(one, _mm256_sub_pd(one, _mm256_div_pd(inter, uni)), meet);
        const __m128 o = _mm_sub_ps(_mm_set1_ps(1.0f), _mm256_cvtpd_ps(_mm256_and_pd(q, positive)));
        _mm_storeu_ps(ov + j, o);
        hit |= static_cast<std::uint32_t>(_mm_movemask_ps(_mm_cmpneq_ps(o, _mm_setzero_ps()))) << j;
    }
    return hit & static_cast<std::uint32_t>((std::uint64_t{1} << count) - 1);
}

// True when soft_nms_overlaps_avx may run here.
[[nodiscard]] inline bool soft_nms_use_avx() noexcept {
#if defined(__AVX2__)
    return true;
#else
    return has_avx2();
#endif
}
#endif
// The live candidates (score >= score_threshold, not yet picked) of the soft-NMS loop.
class soft_nms_blocks {
public:
    static constexpr index_t block_size = 32;
    static_assert(block_size % 4 == 0 && block_size <= 32);
    // Largest number of boxes the store takes (original indices are kept in 32 bits).
    static constexpr index_t max_n = index_t{0x7fffffff};

    // Stores the candidates among the n rects (in original index order) whose score is
    // `>= score_threshold`; n <= max_n and every rect must be `soft_nms_indexable`.
    void build(const soft_nms_rect* rects, const float* scores, index_t n, float score_threshold) {
        std::vector<index_t> solid, other, negative;
        for (index_t i = 0; i < n; ++i) {
            if (!(scores[i] >= score_threshold))
                continue;
            const soft_nms_rect& r = rects[i];
            if (r.x2 > r.x1 && r.y2 > r.y1)
                solid.push_back(i);
            else if (r.area >= 0.0)
                other.push_back(i);
            else
                negative.push_back(i);
        }
        sort_tile_recursive(rects, solid);
        const auto blocks_of = [](const std::vector<index_t>& v) {
            return (static_cast<index_t>(v.size()) + block_size - 1) / block_size;
        };
        solid_blocks_ = blocks_of(solid);
        negative_begin_ = solid_blocks_ + blocks_of(other);
        blocks_ = negative_begin_ + blocks_of(negative);

        const auto slots = static_cast<std::size_t>(blocks_ * block_size);
        x1_.assign(slots, 0.0);
        y1_.assign(slots, 0.0);
        x2_.assign(slots, 0.0);
        y2_.assign(slots, 0.0);
        area_.assign(slots, 0.0);
        score_.assign(slots, 0.0f);
        rank_.assign(slots, 0);
        const auto ub = static_cast<std::size_t>(blocks_);
        count_.assign(ub, 0);
        bx1_.resize(ub);
        by1_.resize(ub);
        bx2_.resize(ub);
        by2_.resize(ub);
        const auto fill = [&](const std::vector<index_t>& v, index_t first_block) {
            for (std::size_t j = 0; j < v.size(); ++j) {
                const index_t k = first_block + static_cast<index_t>(j) / block_size;
                const auto s = static_cast<std::size_t>(k * block_size + count_[std::size_t(k)]++);
                const soft_nms_rect& r = rects[v[j]];
                x1_[s] = r.x1;
                y1_[s] = r.y1;
                x2_[s] = r.x2;
                y2_[s] = r.y2;
                area_[s] = r.area;
                score_[s] = scores[v[j]];
                rank_[s] = static_cast<std::uint32_t>(max_n - v[j]);
            }
        };
        fill(solid, 0);
        fill(other, solid_blocks_);
        fill(negative, negative_begin_);

        leaves_ = 1;
        while (leaves_ < blocks_)
            leaves_ *= 2;
        tree_.assign(static_cast<std::size_t>(2 * leaves_), 0);
        for (index_t k = 0; k < blocks_; ++k) {
            refresh_bounds(k);
            tree_[std::size_t(leaves_ + k)] = best_key(k);
        }
        for (index_t i = leaves_ - 1; i >= 1; --i)
            tree_[std::size_t(i)] =
                std::max(tree_[std::size_t(2 * i)], tree_[std::size_t(2 * i + 1)]);
        hits_.assign(ub, 0);
        changed_.reserve(ub + 1);
    }

    [[nodiscard]] bool empty() const noexcept { return tree_[1] == 0; }

    // The slot of the live candidate with the highest score (ties: the lowest original index).
    [[nodiscard]] index_t top() const noexcept {
        const std::uint64_t best = tree_[1];
        index_t i = 1;
        while (i < leaves_)
            i = 2 * i + (tree_[std::size_t(2 * i)] == best ? 0 : 1);
        index_t slot = (i - leaves_) * block_size;
        while (key(slot) != best)
            ++slot;
        return slot;
    }
    [[nodiscard]] float score(index_t slot) const noexcept { return score_[std::size_t(slot)]; }
    [[nodiscard]] index_t index(index_t slot) const noexcept {
        return max_n - static_cast<index_t>(rank_[std::size_t(slot)]);
    }

    // Picks the candidate in `slot`: removes it, then decays every live candidate that overlaps
    // it and drops those that fall below the score threshold.
    void pick(index_t slot, const soft_nms_rule& rule) {
        const auto s = std::size_t(slot);
        const soft_nms_rect p{x1_[s], y1_[s], x2_[s], y2_[s], area_[s]};
        const index_t k = slot / block_size;
        remove(slot);
        refresh_bounds(k);
        changed_.clear();
        if (p.x2 > p.x1 && p.y2 > p.y1) {
            std::size_t hits = 0; // the solid blocks that can hold a box meeting p
            for (index_t b = 0; b < solid_blocks_; ++b) {
                const auto ub = std::size_t(b);
                hits_[hits] = b;
                hits += std::size_t{bx1_[ub] < p.x2} & std::size_t{bx2_[ub] > p.x1} &
                        std::size_t{by1_[ub] < p.y2} & std::size_t{by2_[ub] > p.y1};
            }
            for (std::size_t h = 0; h < hits; ++h)
                decay(hits_[h], p, rule);
            for (index_t b = negative_begin_; b < blocks_; ++b)
                decay(b, p, rule);
        } else {
            for (index_t b = 0; b < blocks_; ++b)
                decay(b, p, rule);
        }
        const auto at = std::lower_bound(changed_.begin(), changed_.end(), k);
        if (at == changed_.end() || *at != k)
            changed_.insert(at, k);
        update();
    }

private:
    // Orders the solid candidates so that consecutive runs of block_size are compact: sorted by
    // centre x into vertical slabs of about sqrt(blocks) blocks, each slab sorted by centre y.
    // (The order only matters for speed: the centres are sorted as floats, with the candidate's
    // position in the low bits of one integer key.)
    static void sort_tile_recursive(const soft_nms_rect* rects, std::vector<index_t>& v) {
        const auto n = static_cast<index_t>(v.size());
        const index_t blocks = (n + block_size - 1) / block_size;
        if (blocks == 0)
            return;
        const auto key = [](double centre, std::size_t j) {
            const auto b = std::bit_cast<std::uint32_t>(static_cast<float>(centre));
            const std::uint32_t ordered = b >> 31 ? ~b : b | 0x80000000u; // as unsigned: in order
            return std::uint64_t{ordered} << 32 | static_cast<std::uint32_t>(j);
        };
        std::vector<std::uint64_t> t(v.size());
        for (std::size_t j = 0; j < v.size(); ++j)
            t[j] = key(rects[v[j]].x1 + rects[v[j]].x2, j);
        std::sort(t.begin(), t.end());
        const auto slabs = static_cast<index_t>(std::ceil(std::sqrt(static_cast<double>(blocks))));
        const index_t slab = ((blocks + slabs - 1) / slabs) * block_size;
        for (index_t first = 0; first < n; first += slab) {
            const auto lo = t.begin() + first, hi = t.begin() + std::min(n, first + slab);
            for (auto it = lo; it != hi; ++it) {
                const auto j = static_cast<std::size_t>(*it & 0xffffffffu);
                *it = key(rects[v[j]].y1 + rects[v[j]].y2, j);
            }
            std::sort(lo, hi);
        }
        std::vector<index_t> sorted(v.size());
        for (std::size_t j = 0; j < v.size(); ++j)
            sorted[j] = v[static_cast<std::size_t>(t[j] & 0xffffffffu)];
        v.swap(sorted);
    }

    // Decays the live candidates of block b that overlap p; drops those below the threshold.
    void decay(index_t b, const soft_nms_rect& p, const soft_nms_rule& rule) {
        const auto first = static_cast<std::size_t>(b * block_size);
        const index_t count = count_[std::size_t(b)];
        float ov[block_size];
        const double* const x1 = x1_.data() + first;
        const double* const y1 = y1_.data() + first;
        const double* const x2 = x2_.data() + first;
        const double* const y2 = y2_.data() + first;
        const double* const area = area_.data() + first;
#if defined(__AVX__) || DETSEG_X86_DISPATCH
        std::uint32_t hit = avx_ ? soft_nms_overlaps_avx(p, x1, y1, x2, y2, area, count, ov)
                                 : soft_nms_overlaps(p, x1, y1, x2, y2, area, count, ov);
#else
        std::uint32_t hit = soft_nms_overlaps(p, x1, y1, x2, y2, area, count, ov);
#endif
        if (hit == 0)
            return;
        // Scores only decrease, so the block's best stays where it is unless it is decayed.
        const std::uint64_t best = tree_[std::size_t(leaves_ + b)];
        bool dropped = false, best_decayed = false;
        for (; hit != 0; hit &= hit - 1) {
            const auto j = static_cast<std::size_t>(std::countr_zero(hit));
            best_decayed |= key(static_cast<index_t>(first + j)) == best;
            float& s = score_[first + j];
            rule.decay(s, ov[j]);
            dropped |= s < rule.score_threshold;
        }
        if (dropped) {
            for (index_t i = b * block_size, last = i + count; i < last;) {
                if (score_[std::size_t(i)] < rule.score_threshold) {
                    remove(i);
                    --last;
                } else {
                    ++i;
                }
            }
            refresh_bounds(b);
        }
        if (best_decayed)
            changed_.push_back(b);
    }

    // Removes the candidate in `slot` from its block (the block's last one takes its place).
    void remove(index_t slot) {
        const index_t k = slot / block_size;
        const auto last = std::size_t(k * block_size + --count_[std::size_t(k)]);
        const auto s = std::size_t(slot);
        x1_[s] = x1_[last];
        y1_[s] = y1_[last];
        x2_[s] = x2_[last];
        y2_[s] = y2_[last];
        area_[s] = area_[last];
        score_[s] = score_[last];
        rank_[s] = rank_[last];
    }

    void refresh_bounds(index_t k) {
        constexpr double inf = std::numeric_limits<double>::infinity();
        double x1 = inf, y1 = inf, x2 = -inf, y2 = -inf;
        const index_t first = k * block_size, last = first + count_[std::size_t(k)];
        for (index_t i = first; i < last; ++i) {
            const auto s = std::size_t(i);
            x1 = std::min(x1, x1_[s]);
            y1 = std::min(y1, y1_[s]);
            x2 = std::max(x2, x2_[s]);
            y2 = std::max(y2, y2_[s]);
        }
        const auto uk = std::size_t(k);
        bx1_[uk] = x1;
        by1_[uk] = y1;
        bx2_[uk] = x2;
        by2_[uk] = y2;
    }

    // The pick order of a live candidate as one integer, larger first: its score (>= 0, so its
    // bits order as the value; -0 counts as +0), then its rank (larger for a lower index).
    [[nodiscard]] std::uint64_t key(index_t slot) const noexcept {
        const auto s = std::size_t(slot);
        const std::uint32_t bits = std::bit_cast<std::uint32_t>(score_[s]) & 0x7fffffffu;
        return (std::uint64_t{bits} << 32) | rank_[s];
    }

    // The key of block k's first pick; 0 when it is empty.
    [[nodiscard]] std::uint64_t best_key(index_t k) const noexcept {
        const index_t first = k * block_size, last = first + count_[std::size_t(k)];
        std::uint64_t best = 0;
        for (index_t i = first; i < last; ++i)
            best = std::max(best, key(i));
        return best;
    }

    // Replays the tournament above the blocks in changed_ (ascending), level by level, each
    // node once.
    void update() {
        std::vector<index_t>& nodes = changed_;
        for (index_t& b : nodes) {
            tree_[std::size_t(leaves_ + b)] = best_key(b);
            b += leaves_;
        }
        while (!nodes.empty() && nodes.front() > 1) {
            std::size_t m = 0;
            for (const index_t i : nodes) {
                const index_t parent = i / 2;
                if (m > 0 && nodes[m - 1] == parent)
                    continue;
                nodes[m++] = parent;
                tree_[std::size_t(parent)] =
                    std::max(tree_[std::size_t(2 * parent)], tree_[std::size_t(2 * parent + 1)]);
            }
            nodes.resize(m);
        }
    }

    std::vector<double> x1_, y1_, x2_, y2_, area_; // per slot
    std::vector<float> score_;                     // per slot: current score
    std::vector<std::uint32_t> rank_;              // per slot: max_n - original index
    std::vector<index_t> count_;                   // per block: live slots, packed at its start
    std::vector<double> bx1_, by1_, bx2_, by2_;    // per block: min x1, min y1, max x2, max y2
    std::vector<std::uint64_t> tree_;              // max tournament over the blocks' best keys
    std::vector<index_t> hits_;                    // scratch: blocks a pick can overlap
    std::vector<index_t> changed_;                 // scratch: blocks whose best may have changed
    index_t solid_blocks_ = 0, negative_begin_ = 0, blocks_ = 0, leaves_ = 1;
#if defined(__AVX__) || DETSEG_X86_DISPATCH
    bool avx_ = soft_nms_use_avx(); // run soft_nms_overlaps_avx
#endif
};

} // namespace detseg::detail

#endif // DETSEG_DETECT_DETAIL_SOFT_NMS_BLOCKS_HPP
