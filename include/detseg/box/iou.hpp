#ifndef DETSEG_BOX_IOU_HPP
#define DETSEG_BOX_IOU_HPP

/// @file
/// The IoU family: IoU, generalized IoU (GIoU), distance IoU (DIoU), complete IoU (CIoU), and
/// intersection over the first box's area (IoA); for one pair of boxes, element-wise over two
/// sets of N boxes, and pairwise as an N×M matrix.
///
/// Reference: torchvision.ops `box_iou`, `generalized_box_iou`, `distance_box_iou`,
/// `complete_box_iou` (0.14), with the same operation order, so `pairwise_iou` is bit-exact with
/// `box_iou` in float and double (except for a union below the smallest normal number, sides
/// under ~1e-19 in float: see docs/conventions.md), and so are GIoU and DIoU; CIoU is too where
/// `std::atan` is glibc's, otherwise within ~1e-7 (float) / ~1e-15 (double).
/// Where torchvision returns NaN, detseg returns a finite, documented value:
/// - IoU of two boxes whose union is 0 (two zero-area boxes) is 0; IoA of a zero-area first box
///   is 0. An inverted box (x2 < x1 or y2 < y1) has IoU and IoA 0 with every box.
/// - GIoU is `iou - (C - union)/C` with C the enclosing box's area; when C = 0 it is `iou` (0).
/// - DIoU is `iou - rho²/(c² + 1e-7)`; CIoU is `diou - alpha·v` with
///   `v = 4/π² (atan(w1/h1) - atan(w2/h2))²`, `alpha = v / (1 - iou + v + 1e-7)`, and v = 0 when
///   either box has w = h = 0 (no aspect ratio).
/// GIoU, DIoU and CIoU require x2 >= x1 and y2 >= y1 (zero size is allowed).
///
/// Boxes are any `box_source` (N×4 views, flat ranges, ranges of box structs; see box.hpp) in
/// float or double; the result type is the common type of the two coordinate types. Pairwise
/// outputs go into any writable N×M view (`Eigen::MatrixXf&`, `xt::xtensor<float, 2>&`, a
/// `strided_view`, ...) or a returned `tensor`. Every pairwise/element-wise function throws
/// `detseg::invalid_argument` for a NaN or infinite coordinate, a view without 4 columns, an
/// output of the wrong shape, mismatched lengths (element-wise), or an inverted box (GIoU, DIoU,
/// CIoU). Extra memory O(M); rows run in parallel with OpenMP, results independent of threads.

#include <detseg/box/box.hpp>
#include <detseg/box/detail/checks.hpp>
#include <detseg/box/detail/pairwise.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/fp.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

namespace detseg {

namespace detail {

template <class T>
inline void inter_union(const box_terms<T>& a, const box_terms<T>& b, T& inter, T& uni) noexcept {
    DETSEG_NO_FP_CONTRACT
    T w = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
    T h = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
    w = w < T(0) ? T(0) : w;
    h = h < T(0) ? T(0) : h;
    inter = w * h; // also a divisor's numerator: never fused into the subtraction
    uni = (a.area + b.area) - inter;
}

// A divisor that is never 0: `d` itself when it is at least the smallest normal number, else that
// number. Where the metrics use it, d <= 0 implies a numerator of 0 (docs/conventions.md), so the
// quotient is 0 there and unchanged wherever d is a normal positive number. Unlike a condition
// around the division, `max` leaves the loop branch-free and vectorisable.
template <class T>
[[nodiscard]] inline T safe_divisor(T d) noexcept {
    return std::max(d, std::numeric_limits<T>::min());
}

template <class T>
[[nodiscard]] inline T iou_from(T inter, T uni) noexcept {
    return inter / safe_divisor(uni);
}

// The enclosing box's sides; never negative for the ordered boxes GIoU/DIoU/CIoU require.
template <class T>
inline void enclosing(const box_terms<T>& a, const box_terms<T>& b, T& cw, T& ch) noexcept {
    cw = std::max(a.x2, b.x2) - std::min(a.x1, b.x1);
    ch = std::max(a.y2, b.y2) - std::min(a.y1, b.y1);
}

template <class T>
[[nodiscard]] inline T diou_from(const box_terms<T>& a, const box_terms<T>& b, T iou) noexcept {
    DETSEG_NO_FP_CONTRACT
    T cw, ch;
    enclosing(a, b, cw, ch);
    const T diag2 = (rounded_finite(cw * cw) + rounded_finite(ch * ch)) + T(1e-7);
    const T dx = a.cx - b.cx, dy = a.cy - b.cy;
    const T rho2 = rounded_finite(dx * dx) + rounded_finite(dy * dy);
    return iou - rho2 / diag2;
}

struct iou_op {
    static constexpr int need = terms_basic;
    static constexpr bool ordered = false;
    template <class T>
    [[nodiscard]] static T eval(const box_terms<T>& a, const box_terms<T>& b) noexcept {
        DETSEG_NO_FP_CONTRACT
        T inter, uni;
        inter_union(a, b, inter, uni);
        return iou_from(inter, uni);
    }
};

struct giou_op {
    static constexpr int need = terms_basic;
    static constexpr bool ordered = true;
    template <class T>
    [[nodiscard]] static T eval(const box_terms<T>& a, const box_terms<T>& b) noexcept {
        DETSEG_NO_FP_CONTRACT
        T inter, uni, cw, ch;
        inter_union(a, b, inter, uni);
        enclosing(a, b, cw, ch);
        const T c = cw * ch; // used by a max(): never fused
        return iou_from(inter, uni) - (c - uni) / safe_divisor(c);
    }
};

struct diou_op {
    static constexpr int need = terms_centers;
    static constexpr bool ordered = true;
    template <class T>
    [[nodiscard]] static T eval(const box_terms<T>& a, const box_terms<T>& b) noexcept {
        DETSEG_NO_FP_CONTRACT
        T inter, uni;
        inter_union(a, b, inter, uni);
        return diou_from(a, b, iou_from(inter, uni));
    }
};

struct ciou_op {
    static constexpr int need = terms_aspect;
    static constexpr bool ordered = true;
    template <class T>
    [[nodiscard]] static T eval(const box_terms<T>& a, const box_terms<T>& b) noexcept {
        DETSEG_NO_FP_CONTRACT
        T inter, uni;
        inter_union(a, b, inter, uni);
        const T iou = iou_from(inter, uni);
        const T diou = diou_from(a, b, iou);
        const T d = a.theta - b.theta;
        const T v =
            (T(0.40528473456935108577551785283891) * (d * d)) * (a.has_aspect * b.has_aspect);
        const T alpha = v / (((T(1) - iou) + v) + T(1e-7));
        return diou - rounded_finite(alpha * v);
    }
};

struct ioa_op {
    static constexpr int need = terms_basic;
    static constexpr bool ordered = false;
    template <class T>
    [[nodiscard]] static T eval(const box_terms<T>& a, const box_terms<T>& b) noexcept {
        DETSEG_NO_FP_CONTRACT
        T inter, uni;
        inter_union(a, b, inter, uni);
        return inter / safe_divisor(a.area);
    }
};

template <class Op, class T>
[[nodiscard]] inline T eval_pair(const box<T>& a, const box<T>& b) noexcept {
    return Op::eval(make_terms<T, Op::need>(a.x1, a.y1, a.x2, a.y2),
                    make_terms<T, Op::need>(b.x1, b.y1, b.x2, b.y2));
}

template <class A, class B>
using pair_value_t = std::common_type_t<box_value_t<A>, box_value_t<B>>;

template <class Op, class A, class B>
[[nodiscard]] auto checked_pair(A&& a, B&& b, const char* fn) {
    auto va = to_boxes(std::forward<A>(a), box_format::xyxy, fn, "boxes1");
    auto vb = to_boxes(std::forward<B>(b), box_format::xyxy, fn, "boxes2");
    check_finite_boxes(va, fn, "boxes1");
    check_finite_boxes(vb, fn, "boxes2");
    if constexpr (Op::ordered) {
        check_ordered_boxes(va, fn, "boxes1");
        check_ordered_boxes(vb, fn, "boxes2");
    }
    return std::pair{va, vb};
}

template <class Op, class A, class B>
[[nodiscard]] auto pairwise_matrix(A&& a, B&& b, const char* fn) {
    using T = pair_value_t<A, B>;
    auto [va, vb] = checked_pair<Op>(std::forward<A>(a), std::forward<B>(b), fn);
    tensor<T, 2> out({va.size(), vb.size()});
    pairwise_into<Op, T>(va, vb, out.view());
    return out;
}

template <class Op, class A, class B, class Out>
void pairwise_to(A&& a, B&& b, Out&& out, const char* fn) {
    using T = pair_value_t<A, B>;
    auto [va, vb] = checked_pair<Op>(std::forward<A>(a), std::forward<B>(b), fn);
    auto vo = as_view_checked<2>(std::forward<Out>(out), fn, "out");
    check_out_shape(vo, std::array<index_t, 2>{va.size(), vb.size()}, fn, "out");
    pairwise_into<Op, T>(va, vb, vo);
}

template <class Op, class A, class B>
[[nodiscard]] auto checked_elementwise(A&& a, B&& b, const char* fn) {
    auto p = checked_pair<Op>(std::forward<A>(a), std::forward<B>(b), fn);
    DETSEG_REQUIRE(p.first.size() == p.second.size(), fn, "boxes2", "expected ", p.first.size(),
                   " boxes (as many as boxes1), got ", p.second.size());
    return p;
}

template <class Op, class A, class B>
[[nodiscard]] auto elementwise_vector(A&& a, B&& b, const char* fn) {
    using T = pair_value_t<A, B>;
    auto [va, vb] = checked_elementwise<Op>(std::forward<A>(a), std::forward<B>(b), fn);
    tensor<T, 1> out({va.size()});
    elementwise_into<Op, T>(va, vb, out.view());
    return out;
}

template <class Op, class A, class B, class Out>
void elementwise_to(A&& a, B&& b, Out&& out, const char* fn) {
    using T = pair_value_t<A, B>;
    auto [va, vb] = checked_elementwise<Op>(std::forward<A>(a), std::forward<B>(b), fn);
    auto vo = as_view_checked<1>(std::forward<Out>(out), fn, "out");
    check_out_shape(vo, std::array<index_t, 1>{va.size()}, fn, "out");
    elementwise_into<Op, T>(va, vb, vo);
}

} // namespace detail

/// An output argument for a metric of boxes `A` and `B`: a writable rank-`R` floating-point view.
template <class Out, class A, class B, std::size_t R>
concept box_metric_output = writable_view<Out, detail::pair_value_t<A, B>, R> &&
    std::is_floating_point_v<typename detail::checked_view_t<Out, R>::value_type>;

// ---------------------------------------------------------------------------------------------
// Single pairs. Constant time; no checks (NaN in, NaN out).

/// IoU of two boxes (xyxy): intersection / union; 0 when the union is 0.
template <class T>
[[nodiscard]] T iou(const box<T>& a, const box<T>& b) noexcept {
    return detail::eval_pair<detail::iou_op>(a, b);
}
/// Generalized IoU (Rezatofighi et al. 2019) of two boxes; see the file comment.
template <class T>
[[nodiscard]] T giou(const box<T>& a, const box<T>& b) noexcept {
    return detail::eval_pair<detail::giou_op>(a, b);
}
/// Distance IoU (Zheng et al. 2020) of two boxes; see the file comment.
template <class T>
[[nodiscard]] T diou(const box<T>& a, const box<T>& b) noexcept {
    return detail::eval_pair<detail::diou_op>(a, b);
}
/// Complete IoU (Zheng et al. 2020) of two boxes; see the file comment.
template <class T>
[[nodiscard]] T ciou(const box<T>& a, const box<T>& b) noexcept {
    return detail::eval_pair<detail::ciou_op>(a, b);
}
/// Intersection over the area of `a` (the first box); 0 when `a` has no area.
template <class T>
[[nodiscard]] T ioa(const box<T>& a, const box<T>& b) noexcept {
    return detail::eval_pair<detail::ioa_op>(a, b);
}

// ---------------------------------------------------------------------------------------------
// Pairwise: N×M. O(N·M) time, O(M) extra memory.

/// Pairwise IoU matrix, `result(i, j) = iou(boxes1[i], boxes2[j])`; bit-exact with
/// `torchvision.ops.box_iou` (0 where it gives NaN).
/// @param boxes1 N×4 boxes (xyxy; use `as_boxes(src, format)` for others)
/// @param boxes2 M×4 boxes
/// @return N×M `tensor` of the common coordinate type
/// @throws detseg::invalid_argument (see the file comment)
///
///     auto m = detseg::pairwise_iou(detseg::make_view(dets, {n, 4}), gt_boxes);
template <box_source A, box_source B>
[[nodiscard]] auto pairwise_iou(A&& boxes1, B&& boxes2) {
    return detail::pairwise_matrix<detail::iou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                                   "pairwise_iou");
}
/// Pairwise IoU written into `out`, any writable N×M floating-point view (not resized).
template <box_source A, box_source B, box_metric_output<A, B, 2> Out>
void pairwise_iou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::pairwise_to<detail::iou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                        std::forward<Out>(out), "pairwise_iou");
}

/// Pairwise GIoU matrix (torchvision `generalized_box_iou`); see `pairwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto pairwise_giou(A&& boxes1, B&& boxes2) {
    return detail::pairwise_matrix<detail::giou_op>(std::forward<A>(boxes1),
                                                    std::forward<B>(boxes2), "pairwise_giou");
}
/// Pairwise GIoU written into a writable N×M view.
template <box_source A, box_source B, box_metric_output<A, B, 2> Out>
void pairwise_giou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::pairwise_to<detail::giou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                         std::forward<Out>(out), "pairwise_giou");
}

/// Pairwise DIoU matrix (torchvision `distance_box_iou`, eps 1e-7); see `pairwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto pairwise_diou(A&& boxes1, B&& boxes2) {
    return detail::pairwise_matrix<detail::diou_op>(std::forward<A>(boxes1),
                                                    std::forward<B>(boxes2), "pairwise_diou");
}
/// Pairwise DIoU written into a writable N×M view.
template <box_source A, box_source B, box_metric_output<A, B, 2> Out>
void pairwise_diou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::pairwise_to<detail::diou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                         std::forward<Out>(out), "pairwise_diou");
}

/// Pairwise CIoU matrix (torchvision `complete_box_iou`, eps 1e-7); see `pairwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto pairwise_ciou(A&& boxes1, B&& boxes2) {
    return detail::pairwise_matrix<detail::ciou_op>(std::forward<A>(boxes1),
                                                    std::forward<B>(boxes2), "pairwise_ciou");
}
/// Pairwise CIoU written into a writable N×M view.
template <box_source A, box_source B, box_metric_output<A, B, 2> Out>
void pairwise_ciou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::pairwise_to<detail::ciou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                         std::forward<Out>(out), "pairwise_ciou");
}

/// Pairwise IoA matrix, `result(i, j) = inter(i, j) / area(boxes1[i])` (detectron2's
/// `pairwise_ioa(b2, b1)` transposed); see `pairwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto pairwise_ioa(A&& boxes1, B&& boxes2) {
    return detail::pairwise_matrix<detail::ioa_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                                   "pairwise_ioa");
}
/// Pairwise IoA written into a writable N×M view.
template <box_source A, box_source B, box_metric_output<A, B, 2> Out>
void pairwise_ioa(A&& boxes1, B&& boxes2, Out&& out) {
    detail::pairwise_to<detail::ioa_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                        std::forward<Out>(out), "pairwise_ioa");
}

// ---------------------------------------------------------------------------------------------
// Element-wise: N pairs (boxes1[i], boxes2[i]). O(N) time, no extra memory.

/// Element-wise IoU of two sets of N boxes; returns a length-N `tensor`.
template <box_source A, box_source B>
[[nodiscard]] auto elementwise_iou(A&& boxes1, B&& boxes2) {
    return detail::elementwise_vector<detail::iou_op>(std::forward<A>(boxes1),
                                                      std::forward<B>(boxes2), "elementwise_iou");
}
/// Element-wise IoU written into a writable length-N view.
template <box_source A, box_source B, box_metric_output<A, B, 1> Out>
void elementwise_iou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::elementwise_to<detail::iou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                           std::forward<Out>(out), "elementwise_iou");
}

/// Element-wise GIoU; see `elementwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto elementwise_giou(A&& boxes1, B&& boxes2) {
    return detail::elementwise_vector<detail::giou_op>(std::forward<A>(boxes1),
                                                       std::forward<B>(boxes2), "elementwise_giou");
}
/// Element-wise GIoU written into a writable length-N view.
template <box_source A, box_source B, box_metric_output<A, B, 1> Out>
void elementwise_giou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::elementwise_to<detail::giou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                            std::forward<Out>(out), "elementwise_giou");
}

/// Element-wise DIoU; see `elementwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto elementwise_diou(A&& boxes1, B&& boxes2) {
    return detail::elementwise_vector<detail::diou_op>(std::forward<A>(boxes1),
                                                       std::forward<B>(boxes2), "elementwise_diou");
}
/// Element-wise DIoU written into a writable length-N view.
template <box_source A, box_source B, box_metric_output<A, B, 1> Out>
void elementwise_diou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::elementwise_to<detail::diou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                            std::forward<Out>(out), "elementwise_diou");
}

/// Element-wise CIoU; see `elementwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto elementwise_ciou(A&& boxes1, B&& boxes2) {
    return detail::elementwise_vector<detail::ciou_op>(std::forward<A>(boxes1),
                                                       std::forward<B>(boxes2), "elementwise_ciou");
}
/// Element-wise CIoU written into a writable length-N view.
template <box_source A, box_source B, box_metric_output<A, B, 1> Out>
void elementwise_ciou(A&& boxes1, B&& boxes2, Out&& out) {
    detail::elementwise_to<detail::ciou_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                            std::forward<Out>(out), "elementwise_ciou");
}

/// Element-wise IoA (over boxes1's areas); see `elementwise_iou`.
template <box_source A, box_source B>
[[nodiscard]] auto elementwise_ioa(A&& boxes1, B&& boxes2) {
    return detail::elementwise_vector<detail::ioa_op>(std::forward<A>(boxes1),
                                                      std::forward<B>(boxes2), "elementwise_ioa");
}
/// Element-wise IoA written into a writable length-N view.
template <box_source A, box_source B, box_metric_output<A, B, 1> Out>
void elementwise_ioa(A&& boxes1, B&& boxes2, Out&& out) {
    detail::elementwise_to<detail::ioa_op>(std::forward<A>(boxes1), std::forward<B>(boxes2),
                                           std::forward<Out>(out), "elementwise_ioa");
}

} // namespace detseg

#endif // DETSEG_BOX_IOU_HPP
