#ifndef DETSEG_BOX_DETAIL_PAIRWISE_HPP
#define DETSEG_BOX_DETAIL_PAIRWISE_HPP

// Drivers that evaluate a box-pair metric `Op` pairwise (N×M) or element-wise (N), writing into a
// canonical view. `Op` provides `static constexpr int need` (which derived terms it reads) and
// `template <class T> static T eval(const box_terms<T>& a, const box_terms<T>& b)`.
// The second operand is stored structure-of-arrays (O(M) memory) so the inner loop vectorises.

#include <detseg/box/box.hpp>
#include <detseg/config.hpp>
#include <detseg/core/detail/fp.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>

#include <cmath>
#include <type_traits>
#include <vector>

namespace detseg::detail {

/// Which derived terms a metric reads (each level includes the previous ones).
enum : int { terms_basic = 0, terms_centers = 1, terms_aspect = 2 };

/// A box as corners plus the derived quantities the metrics use, each computed once per box with
/// torchvision's operation order.
template <class T>
struct box_terms {
    T x1, y1, x2, y2;
    T area;       // (x2 - x1) * (y2 - y1)
    T cx, cy;     // (x1 + x2) / 2, (y1 + y2) / 2            (terms_centers)
    T theta;      // atan(w / h), 0 for a box with w = h = 0  (terms_aspect)
    T has_aspect; // 1, or 0 for a box with w = h = 0          (terms_aspect)
};

template <class T, int Need>
[[nodiscard]] inline box_terms<T> make_terms(T x1, T y1, T x2, T y2) noexcept {
    DETSEG_NO_FP_CONTRACT
    box_terms<T> t{x1, y1, x2, y2, rounded((x2 - x1) * (y2 - y1)), T(0), T(0), T(0), T(0)};
    if constexpr (Need >= terms_centers) {
        t.cx = (x1 + x2) / T(2);
        t.cy = (y1 + y2) / T(2);
    }
    if constexpr (Need >= terms_aspect) {
        const T w = x2 - x1, h = y2 - y1;
        const bool point = (w == T(0) && h == T(0));
        t.theta = point ? T(0) : std::atan(w / h);
        t.has_aspect = point ? T(0) : T(1);
    }
    return t;
}

template <class T, int Need, class V>
[[nodiscard]] inline box_terms<T> terms_of(const box_view<V>& b, index_t i) noexcept {
    const auto c = b.xyxy(i);
    return make_terms<T, Need>(static_cast<T>(c.x1), static_cast<T>(c.y1), static_cast<T>(c.x2),
                               static_cast<T>(c.y2));
}

/// Structure-of-arrays copy of the second operand's terms.
template <class T>
struct box_terms_soa {
    std::vector<T> x1, y1, x2, y2, area, cx, cy, theta, has_aspect;

    template <int Need, class V>
    void load(const box_view<V>& b) {
        const auto m = static_cast<std::size_t>(b.size());
        for (auto* v : {&x1, &y1, &x2, &y2, &area})
            v->resize(m);
        if constexpr (Need >= terms_centers) {
            cx.resize(m);
            cy.resize(m);
        }
        if constexpr (Need >= terms_aspect) {
            theta.resize(m);
            has_aspect.resize(m);
        }
        for (std::size_t j = 0; j < m; ++j) {
            const auto t = terms_of<T, Need>(b, static_cast<index_t>(j));
            x1[j] = t.x1;
            y1[j] = t.y1;
            x2[j] = t.x2;
            y2[j] = t.y2;
            area[j] = t.area;
            if constexpr (Need >= terms_centers) {
                cx[j] = t.cx;
                cy[j] = t.cy;
            }
            if constexpr (Need >= terms_aspect) {
                theta[j] = t.theta;
                has_aspect[j] = t.has_aspect;
            }
        }
    }
};

/// One row: out[j] = Op::eval(a, b_j) for j in [0, m).
template <class Op, class T>
inline void pairwise_row(const box_terms<T>& a, const box_terms_soa<T>& b, T* DETSEG_RESTRICT out,
                         index_t m) noexcept {
    const T* DETSEG_RESTRICT bx1 = b.x1.data();
    const T* DETSEG_RESTRICT by1 = b.y1.data();
    const T* DETSEG_RESTRICT bx2 = b.x2.data();
    const T* DETSEG_RESTRICT by2 = b.y2.data();
    const T* DETSEG_RESTRICT bar = b.area.data();
    if constexpr (Op::need == terms_basic) {
        for (index_t j = 0; j < m; ++j)
            out[j] = Op::eval(
                a, box_terms<T>{bx1[j], by1[j], bx2[j], by2[j], bar[j], T(0), T(0), T(0), T(0)});
    } else if constexpr (Op::need == terms_centers) {
        const T* DETSEG_RESTRICT bcx = b.cx.data();
        const T* DETSEG_RESTRICT bcy = b.cy.data();
        for (index_t j = 0; j < m; ++j)
            out[j] = Op::eval(a, box_terms<T>{bx1[j], by1[j], bx2[j], by2[j], bar[j], bcx[j],
                                              bcy[j], T(0), T(0)});
    } else {
        const T* DETSEG_RESTRICT bcx = b.cx.data();
        const T* DETSEG_RESTRICT bcy = b.cy.data();
        const T* DETSEG_RESTRICT bth = b.theta.data();
        const T* DETSEG_RESTRICT bha = b.has_aspect.data();
        for (index_t j = 0; j < m; ++j)
            out[j] = Op::eval(a, box_terms<T>{bx1[j], by1[j], bx2[j], by2[j], bar[j], bcx[j],
                                              bcy[j], bth[j], bha[j]});
    }
}

/// out(i, j) = Op::eval(a_i, b_j) for all i, j; out is an N×M writable strided view.
/// Rows are split over threads; each entry is computed the same way whatever the split.
template <class Op, class T, class VA, class VB, class U>
void pairwise_into(const box_view<VA>& a, const box_view<VB>& b, strided_view<U, 2> out) {
    const index_t n = a.size(), m = b.size();
    if (n == 0 || m == 0)
        return;
    box_terms_soa<T> soa;
    soa.template load<Op::need>(b);
    const bool direct = std::is_same_v<U, T> && out.stride(1) == 1;
    const index_t grain = m >= 16384 ? 1 : 16384 / m;
    parallel_for_chunks(n, grain, [&](index_t begin, index_t end) {
        std::vector<T> buf(direct ? 0 : static_cast<std::size_t>(m));
        for (index_t i = begin; i < end; ++i) {
            const auto ta = terms_of<T, Op::need>(a, i);
            T* dst;
            if constexpr (std::is_same_v<U, T>)
                dst = direct ? out.row_data(i) : buf.data();
            else
                dst = buf.data();
            pairwise_row<Op>(ta, soa, dst, m);
            if (!direct)
                for (index_t j = 0; j < m; ++j)
                    out(i, j) = static_cast<U>(buf[static_cast<std::size_t>(j)]);
        }
    });
}

/// out[i] = Op::eval(a_i, b_i) for all i; out is a writable rank-1 view of length N.
template <class Op, class T, class VA, class VB, class U>
void elementwise_into(const box_view<VA>& a, const box_view<VB>& b, strided_view<U, 1> out) {
    parallel_for_chunks(a.size(), 16384, [&](index_t begin, index_t end) {
        for (index_t i = begin; i < end; ++i)
            out[i] =
                static_cast<U>(Op::eval(terms_of<T, Op::need>(a, i), terms_of<T, Op::need>(b, i)));
    });
}

} // namespace detseg::detail

#endif // DETSEG_BOX_DETAIL_PAIRWISE_HPP
