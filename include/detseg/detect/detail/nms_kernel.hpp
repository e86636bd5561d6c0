#ifndef DETSEG_DETECT_DETAIL_NMS_KERNEL_HPP
#define DETSEG_DETECT_DETAIL_NMS_KERNEL_HPP

// The inner loop of greedy NMS: mark every candidate whose IoU with a kept box passes the
// threshold. Candidates are stored structure of arrays and the loop is branch-free, so that it
// vectorises; on x86-64 baseline builds an AVX2 copy is chosen at run time (core/detail/cpu.hpp;
// bit-identical results).

#include <detseg/box/detail/pairwise.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/config.hpp>
#include <detseg/core/detail/cpu.hpp>

namespace detseg::detail {

struct nms_greater {
    template <class T>
    [[nodiscard]] bool operator()(T iou, T t) const noexcept {
        return iou > t;
    }
};
struct nms_greater_equal {
    template <class T>
    [[nodiscard]] bool operator()(T iou, T t) const noexcept {
        return iou >= t;
    }
};

template <class Compare, class T>
DETSEG_ALWAYS_INLINE void
nms_suppress_body(const box_terms<T>& a, const T* DETSEG_RESTRICT x1, const T* DETSEG_RESTRICT y1,
                  const T* DETSEG_RESTRICT x2, const T* DETSEG_RESTRICT y2,
                  const T* DETSEG_RESTRICT area, unsigned char* DETSEG_RESTRICT suppressed,
                  index_t begin, index_t end, T threshold) noexcept {
    for (index_t j = begin; j < end; ++j) {
        const T iou = iou_op::eval(
            a, box_terms<T>{x1[j], y1[j], x2[j], y2[j], area[j], T(0), T(0), T(0), T(0)});
        suppressed[j] = static_cast<unsigned char>(
            suppressed[j] | static_cast<unsigned char>(Compare{}(iou, threshold)));
    }
}

template <class Compare, class T>
void nms_suppress_baseline(const box_terms<T>& a, const T* x1, const T* y1, const T* x2,
                           const T* y2, const T* area, unsigned char* suppressed, index_t begin,
                           index_t end, T threshold) noexcept {
    nms_suppress_body<Compare>(a, x1, y1, x2, y2, area, suppressed, begin, end, threshold);
}

#if DETSEG_X86_DISPATCH
template <class Compare, class T>
DETSEG_TARGET_AVX2 void nms_suppress_avx2(const box_terms<T>& a, const T* x1, const T* y1,
                                          const T* x2, const T* y2, const T* area,
                                          unsigned char* suppressed, index_t begin, index_t end,
                                          T threshold) noexcept {
    nms_suppress_body<Compare>(a, x1, y1, x2, y2, area, suppressed, begin, end, threshold);
}
#endif

// Sets suppressed[j] for every j in [begin, end) with Compare(IoU(a, candidate j), threshold).
template <class Compare, class T>
inline void nms_suppress_row(const box_terms<T>& a, const T* x1, const T* y1, const T* x2,
                             const T* y2, const T* area, unsigned char* suppressed, index_t begin,
                             index_t end, T threshold) noexcept {
#if DETSEG_X86_DISPATCH
    if (has_avx2()) {
        nms_suppress_avx2<Compare>(a, x1, y1, x2, y2, area, suppressed, begin, end, threshold);
        return;
    }
#endif
    nms_suppress_baseline<Compare>(a, x1, y1, x2, y2, area, suppressed, begin, end, threshold);
}

} // namespace detseg::detail

#endif // DETSEG_DETECT_DETAIL_NMS_KERNEL_HPP
