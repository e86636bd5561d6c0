#ifndef DETSEG_DENSE_DETAIL_CONV_DIRECT_HPP
#define DETSEG_DENSE_DETAIL_CONV_DIRECT_HPP

// Direct convolution for groups with one input channel (depthwise convolution), where a GEMM
// would have a single step per tap: per output channel, plane = bias, then for each live tap in
// row-major order plane += w · (shifted input) over the tap's valid rectangle only.

#include <detseg/config.hpp>
#include <detseg/dense/detail/conv_geometry.hpp>

#include <vector>

namespace detseg::detail {

/// One output plane (contiguous ho×wo in `plane`) of a single-input-channel convolution:
/// `x` is the input channel (strides xs1, xs2), `w(u, v)` the kernel.
template <class T, class W>
void conv_direct_plane(const T* x, index_t xs1, index_t xs2, const conv_geometry& g,
                       const std::vector<conv_tap>& taps, W&& w, T bias, bool relu, T* plane) {
    const index_t n = g.ho * g.wo;
    for (index_t i = 0; i < n; ++i)
        plane[i] = bias;
    for (const conv_tap& t : taps) {
        if (!t.live())
            continue;
        const T wt = w(t.u, t.v);
        for (index_t oy = t.oy0; oy < t.oy1; ++oy) {
            const T* xr = x + (oy * g.sh - g.ph + t.u * g.dh) * xs1 +
                          (t.ox0 * g.sw - g.pw + t.v * g.dw) * xs2;
            T* pr = plane + oy * g.wo;
            const index_t step = g.sw * xs2;
            if (step == 1) {
                for (index_t ox = t.ox0; ox < t.ox1; ++ox)
                    pr[ox] += wt * xr[ox - t.ox0];
            } else {
                for (index_t ox = t.ox0; ox < t.ox1; ++ox)
                    pr[ox] += wt * xr[(ox - t.ox0) * step];
            }
        }
    }
    if (relu)
        for (index_t i = 0; i < n; ++i)
            plane[i] = plane[i] < T(0) ? T(0) : plane[i];
}

} // namespace detseg::detail

#endif // DETSEG_DENSE_DETAIL_CONV_DIRECT_HPP
