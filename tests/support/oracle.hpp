#ifndef DETSEG_TESTS_SUPPORT_ORACLE_HPP
#define DETSEG_TESTS_SUPPORT_ORACLE_HPP

// Brute-force long-double oracles for the IoU family, written from the definitions in
// docs/conventions.md (including detseg's values where torchvision returns NaN), independent of
// the library's kernels.

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <tuple>
#include <vector>

namespace testing {

template <class L = long double>
struct oracle_box {
    L x1, y1, x2, y2;
};

enum class metric { iou, giou, diou, ciou, ioa };

inline const char* metric_name(metric m) {
    switch (m) {
    case metric::iou: return "iou";
    case metric::giou: return "giou";
    case metric::diou: return "diou";
    case metric::ciou: return "ciou";
    case metric::ioa: return "ioa";
    }
    return "?";
}

/// The metric from its definition, evaluated in L (long double for a precise reference, or the
/// box type to follow its rounding where the result is ill-conditioned).
template <class L>
L oracle(metric m, oracle_box<L> a, oracle_box<L> b) {
    const L iw = std::max<L>(0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
    const L ih = std::max<L>(0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
    const L inter = iw * ih;
    const L wa = a.x2 - a.x1, ha = a.y2 - a.y1, wb = b.x2 - b.x1, hb = b.y2 - b.y1;
    const L area_a = wa * ha, area_b = wb * hb;
    const L uni = area_a + area_b - inter;
    const L iou = uni > 0 ? inter / uni : 0;
    if (m == metric::iou)
        return iou;
    if (m == metric::ioa)
        return area_a > 0 ? inter / area_a : 0;
    const L cw = std::max(a.x2, b.x2) - std::min(a.x1, b.x1);
    const L ch = std::max(a.y2, b.y2) - std::min(a.y1, b.y1);
    if (m == metric::giou) {
        const L c = cw * ch;
        return c > 0 ? iou - (c - uni) / c : iou;
    }
    const L dx = (a.x1 + a.x2) / 2 - (b.x1 + b.x2) / 2;
    const L dy = (a.y1 + a.y2) / 2 - (b.y1 + b.y2) / 2;
    const L diou = iou - (dx * dx + dy * dy) / (cw * cw + ch * ch + L(1e-7));
    if (m == metric::diou)
        return diou;
    const bool point = (wa == 0 && ha == 0) || (wb == 0 && hb == 0);
    const L d = point ? 0 : std::atan(wa / ha) - std::atan(wb / hb);
    const L v = 4 / (std::numbers::pi_v<L> * std::numbers::pi_v<L>)*d * d;
    const L alpha = v / (1 - iou + v + L(1e-7));
    return diou - alpha * v;
}

/// Random valid boxes: clustered around a few centres, with some degenerate ones.
template <class T>
std::vector<std::array<T, 4>> random_boxes(std::mt19937_64& rng, int n, T extent = T(1000),
                                           bool allow_degenerate = true) {
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<std::array<T, 4>> out;
    const int centres = 1 + n / 8;
    std::vector<std::array<double, 4>> base;
    for (int c = 0; c < centres; ++c) {
        const double w = 1 + u(rng) * 0.3 * extent, h = 1 + u(rng) * 0.3 * extent;
        const double x = u(rng) * extent, y = u(rng) * extent;
        base.push_back({x, y, x + w, y + h});
    }
    for (int i = 0; i < n; ++i) {
        const auto& c = base[static_cast<std::size_t>(i % centres)];
        const double w = c[2] - c[0], h = c[3] - c[1];
        double x1 = c[0] + (u(rng) - 0.5) * 0.3 * w, y1 = c[1] + (u(rng) - 0.5) * 0.3 * h;
        double x2 = c[2] + (u(rng) - 0.5) * 0.3 * w, y2 = c[3] + (u(rng) - 0.5) * 0.3 * h;
        if (allow_degenerate && u(rng) < 0.05)
            x2 = x1;
        if (allow_degenerate && u(rng) < 0.05)
            y2 = y1;
        if (x2 < x1)
            std::swap(x1, x2);
        if (y2 < y1)
            std::swap(y1, y2);
        out.push_back({T(x1), T(y1), T(x2), T(y2)});
    }
    return out;
}

} // namespace testing

#endif
