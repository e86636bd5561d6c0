#ifndef DETSEG_DETECT_DETAIL_NMS_GRID_HPP
#define DETSEG_DETECT_DETAIL_NMS_GRID_HPP

// The spatial index behind greedy NMS on large inputs: a uniform grid over the box centres, so
// that a kept box only visits the candidates that can overlap it instead of every later one.
//
// Exactness. The grid only skips pairs whose IoU cannot pass the threshold, and it proves that
// in exact comparisons of the coordinates, never with a rounded estimate:
//   - a box with x2 <= x1 or y2 <= y1 ("degenerate") has intersection exactly 0 with every box
//     (min(x2a, x2b) <= x2b <= x1b <= max(x1a, x1b), so the clamped width is 0), hence IoU 0:
//     it never suppresses and is never suppressed (for the comparisons the grid is used with),
//     so it is not stored;
//   - each cell keeps the exact extremes of its boxes' sides (min x1, max x2, min y1, max y2); a
//     cell none of whose boxes can intersect the kept box is skipped on those exact comparisons;
//   - which cells are looked at is bounded by the widest (tallest) box that could pass: the IoU
//     of boxes a and b is at most min(wa, wb) / wb, so a box wider than wa / t cannot pass
//     IoU > t. The bound is used with a relative margin of 1e-3 (the computed IoU is within a
//     few ulps of the real one), only when the boxes are far from underflow, and the search
//     window is widened by a further relative slack, so rounding cannot hide a box.
// Every pair that is not skipped is evaluated by the same kernel as the linear loop, so the keep
// list is identical. Suppressed and already visited candidates are dropped from a cell every few
// visits (a suppressed box never suppresses another, and an earlier box is never suppressed
// again), which keeps the cells short as the loop advances.

#include <detseg/box/detail/pairwise.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/config.hpp>
#include <detseg/detect/detail/nms_kernel.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace detseg::detail {

template <class T>
class nms_grid {
public:
    // Slot states of a candidate (`slot_of_`): its slot in the grid, or one of these.
    static constexpr std::int32_t degenerate = -1; // not stored: IoU 0 with every box
    static constexpr std::int32_t removed = -2;    // suppressed and dropped from its cell

    // Builds the grid over the m candidates given in score order (structure of arrays).
    void build(const T* x1, const T* y1, const T* x2, const T* y2, const T* area, std::int32_t m) {
        const auto um = static_cast<std::size_t>(m);
        slot_of_.assign(um, degenerate);
        cell_of_.resize(um);
        double cx_lo = std::numeric_limits<double>::infinity(), cx_hi = -cx_lo;
        double cy_lo = cx_lo, cy_hi = -cx_lo;
        max_w_ = 0;
        max_h_ = 0;
        int e_max = std::numeric_limits<int>::min(), e_min = std::numeric_limits<int>::max();
        std::int32_t stored = 0;
        for (std::int32_t k = 0; k < m; ++k) {
            if (!(x2[k] > x1[k] && y2[k] > y1[k]))
                continue;
            const double w = double(x2[k]) - double(x1[k]), h = double(y2[k]) - double(y1[k]);
            const double cx = 0.5 * (double(x1[k]) + double(x2[k]));
            const double cy = 0.5 * (double(y1[k]) + double(y2[k]));
            cx_lo = std::min(cx_lo, cx);
            cx_hi = std::max(cx_hi, cx);
            cy_lo = std::min(cy_lo, cy);
            cy_hi = std::max(cy_hi, cy);
            max_w_ = std::max(max_w_, w);
            max_h_ = std::max(max_h_, h);
            const int e = exponent(w);
            e_max = std::max(e_max, e);
            e_min = std::min(e_min, e);
            ++stored;
        }
        ox_ = stored > 0 ? cx_lo : 0.0;
        oy_ = stored > 0 ? cy_lo : 0.0;
        const double ew = stored > 0 ? cx_hi - cx_lo : 0.0, eh = stored > 0 ? cy_hi - cy_lo : 0.0;

        // Levels by width: level l holds the widths in [2^(e_lo + l), 2^(e_lo + l + 1)), the
        // lowest level also every narrower width.
        e_lo_ = stored > 0 ? std::max(e_min, e_max - max_levels + 1) : 0;
        const int nl = stored > 0 ? e_max - e_lo_ + 1 : 0;
        levels_.assign(std::size_t(nl), level{});
        for (std::int32_t k = 0; k < m; ++k) {
            if (!(x2[k] > x1[k] && y2[k] > y1[k]))
                continue;
            auto& lv = levels_[std::size_t(level_of(double(x2[k]) - double(x1[k])))];
            ++lv.count;
            lv.sum_h += double(y2[k]) - double(y1[k]);
        }
        std::int32_t cells = 0;
        for (int l = 0; l < nl; ++l) {
            auto& lv = levels_[std::size_t(l)];
            lv.offset = cells;
            if (lv.count == 0)
                continue;
            // Cells about as wide as the level's boxes and as tall as their mean height; about one
            // per box of the level at most (so the grid's memory stays O(m)).
            const double cw = std::ldexp(1.0, e_lo_ + l), ch = lv.sum_h / double(lv.count);
            double gx = ew > 0 ? std::ceil(ew / cw) : 1.0;
            double gy = eh > 0 && ch > 0 ? std::ceil(eh / ch) : 1.0;
            gx = std::min(gx, 4096.0);
            gy = std::min(gy, 4096.0);
            const double cap = double(lv.count) + 16.0;
            if (gx * gy > cap) {
                const double f = std::sqrt(gx * gy / cap);
                gx = std::max(1.0, std::floor(gx / f));
                gy = std::max(1.0, std::floor(gy / f));
            }
            lv.gx = static_cast<std::int32_t>(gx);
            lv.gy = static_cast<std::int32_t>(gy);
            lv.sx = ew > 0 ? gx / ew : 0.0;
            lv.sy = eh > 0 ? gy / eh : 0.0;
            cells += lv.gx * lv.gy;
        }

        const auto nc = std::size_t(cells);
        begin_.assign(nc + 1, 0);
        for (std::int32_t k = 0; k < m; ++k) {
            if (!(x2[k] > x1[k] && y2[k] > y1[k]))
                continue;
            const auto& lv = levels_[std::size_t(level_of(double(x2[k]) - double(x1[k])))];
            const std::int32_t c =
                lv.offset +
                axis_cell(0.5 * (double(y1[k]) + double(y2[k])), oy_, lv.sy, lv.gy) * lv.gx +
                axis_cell(0.5 * (double(x1[k]) + double(x2[k])), ox_, lv.sx, lv.gx);
            cell_of_[std::size_t(k)] = c;
            ++begin_[std::size_t(c) + 1];
        }
        for (std::size_t c = 0; c < nc; ++c)
            begin_[c + 1] += begin_[c];
        end_.assign(begin_.begin(), begin_.end() - 1);
        const auto us = static_cast<std::size_t>(stored);
        x1_.resize(us);
        y1_.resize(us);
        x2_.resize(us);
        y2_.resize(us);
        area_.resize(us);
        pos_.resize(us);
        dead_.assign(us, 0);
        // Candidates in score order: each cell's slots are in score order too.
        for (std::int32_t k = 0; k < m; ++k) {
            if (!(x2[k] > x1[k] && y2[k] > y1[k]))
                continue;
            const auto c = std::size_t(cell_of_[std::size_t(k)]);
            const std::int32_t s = end_[c]++;
            const auto u = std::size_t(s);
            x1_[u] = x1[k];
            y1_[u] = y1[k];
            x2_[u] = x2[k];
            y2_[u] = y2[k];
            area_[u] = area[k];
            pos_[u] = k;
            slot_of_[std::size_t(k)] = s;
        }
        ext_.resize(4 * nc);
        visits_.assign(nc, 0);
        for (std::size_t c = 0; c < nc; ++c)
            update_extent(c);
    }

    [[nodiscard]] bool suppressed(std::int32_t k) const noexcept {
        const std::int32_t s = slot_of_[std::size_t(k)];
        return s == removed || (s >= 0 && dead_[std::size_t(s)] != 0);
    }

    // Suppresses each candidate whose IoU with candidate k (just kept) passes `Compare`, looking
    // only where such a candidate can be. `t` is the IoU threshold when the size and distance
    // bounds may be used (then > 0), else 0.
    template <class Compare>
    void suppress_by(std::int32_t k, T threshold, double t) {
        const std::int32_t s = slot_of_[std::size_t(k)];
        if (s < 0)
            return; // degenerate: overlaps nothing
        const auto us = std::size_t(s);
        const box_terms<T> a{x1_[us], y1_[us], x2_[us], y2_[us], area_[us], T(0), T(0), T(0), T(0)};
        const double wa = double(a.x2) - double(a.x1), ha = double(a.y2) - double(a.y1);
        const double cxa = 0.5 * (double(a.x1) + double(a.x2));
        const double cya = 0.5 * (double(a.y1) + double(a.y2));
        // Any box b that overlaps a has |cx_b - cx_a| < (wa + wb) / 2 <= (wa + max_w) / 2.
        double hx = 0.5 * (wa + max_w_), hy = 0.5 * (ha + max_h_);
        int l0 = 0, l1 = static_cast<int>(levels_.size()) - 1;
        if (t > 0 && bounded(wa) && bounded(ha)) {
            // IoU(a, b) <= iw / max(wa, wb) with iw <= (wa + wb) / 2 - |dcx| and iw <= min(wa,
            // wb): passing t needs wb in (t wa, wa / t) and |dcx| < wa (1 - t) for t >= 1/2,
            // < wa (1 / t - 1) / 2 below; the same along y. With a margin on t for rounding.
            const double tm = t * (1.0 - 1e-3);
            const double fx = tm >= 0.5 ? 1.0 - tm : 0.5 * (1.0 / tm - 1.0);
            hx = std::min(hx, wa * fx);
            hy = std::min(hy, ha * fx);
            // (The lowest level also holds every narrower width: it stays in the range.)
            l0 = std::max(l0, exponent(tm * wa) - e_lo_);
            l1 = std::clamp(exponent(wa / tm) - e_lo_, 0, l1);
        }
        const double sx = 1e-6 * (std::abs(cxa) + hx) + 1e-300;
        const double sy = 1e-6 * (std::abs(cya) + hy) + 1e-300;
        for (int l = l0; l <= l1; ++l) {
            const auto& lv = levels_[std::size_t(l)];
            if (lv.count == 0)
                continue;
            const std::int32_t cx0 = axis_cell(cxa - hx - sx, ox_, lv.sx, lv.gx);
            const std::int32_t cx1 = axis_cell(cxa + hx + sx, ox_, lv.sx, lv.gx);
            const std::int32_t cy0 = axis_cell(cya - hy - sy, oy_, lv.sy, lv.gy);
            const std::int32_t cy1 = axis_cell(cya + hy + sy, oy_, lv.sy, lv.gy);
            for (std::int32_t cy = cy0; cy <= cy1; ++cy) {
                for (std::int32_t cx = cx0; cx <= cx1; ++cx) {
                    const auto c = std::size_t(lv.offset + cy * lv.gx + cx);
                    const std::int32_t b = begin_[c], e = end_[c];
                    if (b == e)
                        continue;
                    const T* ext = &ext_[4 * c]; // min x1, max x2, min y1, max y2
                    if (!(ext[0] < a.x2 && ext[1] > a.x1 && ext[2] < a.y2 && ext[3] > a.y1))
                        continue;
                    nms_suppress_row<Compare>(a, x1_.data(), y1_.data(), x2_.data(), y2_.data(),
                                              area_.data(), dead_.data(), b, e, threshold);
                    if (++visits_[c] >= 4)
                        compact(c, k);
                }
            }
        }
    }

private:
    static constexpr int max_levels = 48;

    struct level {
        std::int32_t count = 0, offset = 0, gx = 1, gy = 1;
        double sum_h = 0, sx = 0, sy = 0;
    };

    // floor(log2(x)) for a finite x > 0 (std::ilogb without the libm call for normal numbers).
    [[nodiscard]] static int exponent(double x) noexcept {
        const auto bits = std::bit_cast<std::uint64_t>(x);
        const auto e = static_cast<int>((bits >> 52) & 0x7ff);
        return e != 0 ? e - 1023 : std::ilogb(x);
    }

    [[nodiscard]] int level_of(double w) const noexcept {
        return std::max(exponent(w), e_lo_) - e_lo_;
    }

    [[nodiscard]] static bool bounded(double side) noexcept {
        // Far from underflow of the products (areas, intersections) in T.
        return side >= std::sqrt(double(std::numeric_limits<T>::min())) * 1e6;
    }

    // The cell of coordinate v along an axis: floor((v - origin) * scale) clamped to [0, g).
    // (Truncation of the clamped, non-negative value is its floor; no libm call.)
    [[nodiscard]] static std::int32_t axis_cell(double v, double origin, double scale,
                                                std::int32_t g) noexcept {
        const double f = (v - origin) * scale;
        return static_cast<std::int32_t>(std::min(std::max(f, 0.0), double(g - 1)));
    }

    // Drops from cell c the suppressed candidates and those at or before position k (already
    // visited by the main loop), keeping score order, and tightens the cell's extent.
    void compact(std::size_t c, std::int32_t k) noexcept {
        visits_[c] = 0;
        std::int32_t w = begin_[c];
        for (std::int32_t j = begin_[c], e = end_[c]; j < e; ++j) {
            const auto uj = std::size_t(j);
            const std::int32_t p = pos_[uj];
            if (p <= k)
                continue;
            if (dead_[uj]) {
                slot_of_[std::size_t(p)] = removed;
                continue;
            }
            const auto uw = std::size_t(w);
            x1_[uw] = x1_[uj];
            y1_[uw] = y1_[uj];
            x2_[uw] = x2_[uj];
            y2_[uw] = y2_[uj];
            area_[uw] = area_[uj];
            pos_[uw] = p;
            dead_[uw] = 0;
            slot_of_[std::size_t(p)] = w;
            ++w;
        }
        end_[c] = w;
        update_extent(c);
    }

    void update_extent(std::size_t c) noexcept {
        T* ext = &ext_[4 * c];
        ext[0] = std::numeric_limits<T>::infinity();
        ext[1] = -std::numeric_limits<T>::infinity();
        ext[2] = std::numeric_limits<T>::infinity();
        ext[3] = -std::numeric_limits<T>::infinity();
        for (std::int32_t j = begin_[c], e = end_[c]; j < e; ++j) {
            const auto uj = std::size_t(j);
            ext[0] = std::min(ext[0], x1_[uj]);
            ext[1] = std::max(ext[1], x2_[uj]);
            ext[2] = std::min(ext[2], y1_[uj]);
            ext[3] = std::max(ext[3], y2_[uj]);
        }
    }

    // Per slot (cell order).
    std::vector<T> x1_, y1_, x2_, y2_, area_;
    std::vector<std::int32_t> pos_;
    std::vector<unsigned char> dead_;
    // Per candidate (score order).
    std::vector<std::int32_t> slot_of_, cell_of_;
    // Per cell.
    std::vector<std::int32_t> begin_, end_;
    std::vector<T> ext_;
    std::vector<std::uint8_t> visits_;
    // Levels and geometry.
    std::vector<level> levels_;
    int e_lo_ = 0;
    double ox_ = 0, oy_ = 0;
    double max_w_ = 0, max_h_ = 0;
};

} // namespace detseg::detail

#endif // DETSEG_DETECT_DETAIL_NMS_GRID_HPP
