#ifndef DETSEG_DENSE_DETAIL_CONV_GEOMETRY_HPP
#define DETSEG_DENSE_DETAIL_CONV_GEOMETRY_HPP

// The geometry of a 2-D convolution and, per kernel tap, the rectangle of output positions whose
// input lies inside the image. A tap whose rectangle is empty reads only zero padding and is
// skipped; so are the parts of a B micro-panel outside the rectangle (gemm.hpp).

#include <detseg/config.hpp>

#include <algorithm>
#include <vector>

namespace detseg::detail {

struct conv_geometry {
    index_t h = 0, w = 0;   // input extent
    index_t kh = 1, kw = 1; // kernel extent
    index_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
    index_t ho = 0, wo = 0; // output extent

    [[nodiscard]] static index_t out_extent(index_t in, index_t k, index_t s, index_t p,
                                            index_t d) noexcept {
        const index_t span = d * (k - 1) + 1;
        const index_t room = in + 2 * p - span;
        return room < 0 ? 0 : room / s + 1;
    }
    void finish() noexcept {
        ho = out_extent(h, kh, sh, ph, dh);
        wo = out_extent(w, kw, sw, pw, dw);
    }
};

/// Output positions [oy0, oy1) × [ox0, ox1) where tap (u, v) reads inside the input.
struct conv_tap {
    index_t u = 0, v = 0;
    index_t oy0 = 0, oy1 = 0, ox0 = 0, ox1 = 0;

    [[nodiscard]] bool live() const noexcept { return oy0 < oy1 && ox0 < ox1; }
};

/// Outputs o in [0, out) with 0 <= o*s - p + off < in.
inline void conv_valid_range(index_t in, index_t out, index_t s, index_t p, index_t off,
                             index_t& lo, index_t& hi) noexcept {
    // o*s >= p - off  and  o*s <= in - 1 + p - off
    const index_t a = p - off;
    const index_t b = in - 1 + p - off;
    lo = a <= 0 ? 0 : (a + s - 1) / s;
    hi = b < 0 ? 0 : b / s + 1;
    lo = std::min(lo, out);
    hi = std::clamp(hi, lo, out);
}

/// Every tap of the kernel, row-major (tap index u*kw + v), with its valid output rectangle.
[[nodiscard]] inline std::vector<conv_tap> conv_taps(const conv_geometry& g) {
    std::vector<conv_tap> taps;
    taps.reserve(static_cast<std::size_t>(g.kh * g.kw));
    for (index_t u = 0; u < g.kh; ++u)
        for (index_t v = 0; v < g.kw; ++v) {
            conv_tap t;
            t.u = u;
            t.v = v;
            conv_valid_range(g.h, g.ho, g.sh, g.ph, u * g.dh, t.oy0, t.oy1);
            conv_valid_range(g.w, g.wo, g.sw, g.pw, v * g.dw, t.ox0, t.ox1);
            taps.push_back(t);
        }
    return taps;
}

/// The order in which the GEMM visits output positions. Where taps are live on only part of the
/// output (dilated taps near the border), the positions are grouped by region, a band of rows ×
/// a band of columns on which the set of live taps is constant, so that a tap's positions are
/// contiguous and its all-zero micro-panels can be skipped. Segment s covers positions
/// [start[s], start[s+1]) of that order: output row oy[s], columns ox[s], ox[s]+1, ...
/// With a single band of columns the order is the row-major one (`identity`).
struct conv_order {
    bool identity = true;
    std::vector<index_t> start, oy, ox;
};

[[nodiscard]] inline conv_order conv_position_order(const conv_geometry& g,
                                                    const std::vector<conv_tap>& taps) {
    std::vector<index_t> ys{0, g.ho}, xs{0, g.wo};
    for (const conv_tap& t : taps)
        if (t.live()) {
            ys.insert(ys.end(), {t.oy0, t.oy1});
            xs.insert(xs.end(), {t.ox0, t.ox1});
        }
    std::sort(ys.begin(), ys.end());
    ys.erase(std::unique(ys.begin(), ys.end()), ys.end());
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    conv_order order;
    order.identity = xs.size() <= 2;
    if (order.identity) {
        ys = {0, g.ho};
        xs = {0, g.wo};
    }
    index_t n = 0;
    for (std::size_t a = 0; a + 1 < ys.size(); ++a)
        for (std::size_t b = 0; b + 1 < xs.size(); ++b)
            for (index_t y = ys[a]; y < ys[a + 1]; ++y) {
                order.start.push_back(n);
                order.oy.push_back(y);
                order.ox.push_back(xs[b]);
                n += xs[b + 1] - xs[b];
            }
    order.start.push_back(n);
    return order;
}

} // namespace detseg::detail

#endif // DETSEG_DENSE_DETAIL_CONV_GEOMETRY_HPP
