#ifndef DETSEG_DENSE_DETAIL_CONV_IMPL_HPP
#define DETSEG_DENSE_DETAIL_CONV_IMPL_HPP

// The convolution kernels behind conv2d, on canonical 4-D views: GEMM per image and group (the
// weights packed once per call), or the direct kernel when a group has one input channel.

#include <detseg/config.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/dense/detail/conv_direct.hpp>
#include <detseg/dense/detail/conv_geometry.hpp>
#include <detseg/dense/detail/conv_pack.hpp>
#include <detseg/dense/detail/gemm.hpp>

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg::detail {

/// The k blocks of `a` whose tap reads inside the input somewhere.
template <class T>
[[nodiscard]] std::vector<gemm_kblock> conv_live_blocks(const gemm_packed_a<T>& a,
                                                        const std::vector<conv_tap>& taps) {
    std::vector<gemm_kblock> live;
    for (const gemm_kblock& b : a.blocks)
        if (taps[static_cast<std::size_t>(b.tap)].live())
            live.push_back(b);
    return live;
}

/// One image and group through the GEMM: out (rows of `a`; planes of ho×wo contiguous
/// elements, `out_cs` apart) = bias + W ⋆ x, then ReLU if `relu`. `x` points at the group's
/// first input channel.
template <class T>
void conv_gemm(const gemm_packed_a<T>& a, const T* x, index_t xs0, index_t xs1, index_t xs2,
               const conv_geometry& g, const std::vector<conv_tap>& taps,
               const conv_order& order, T* out, index_t out_cs, const T* bias, bool relu) {
    const std::vector<gemm_kblock> blocks = conv_live_blocks(a, taps);
    const conv_b_packer<T> pack{x,           xs0,    xs1, xs2, &g, taps.data(),
                                &order, a.isa == gemm_isa::avx512};
    const index_t hw = g.ho * g.wo;
    if (order.identity) {
        gemm_run(a, std::span<const gemm_kblock>(blocks), hw, out, out_cs, bias, relu, pack);
        return;
    }
    // Region order: compute into a workspace, then put each segment in its place.
    aligned_buffer<T> ws(a.m * hw); // uninitialised: the GEMM writes every element
    gemm_run(a, std::span<const gemm_kblock>(blocks), hw, ws.data(), hw, bias, relu, pack);
    parallel_for(a.m, [&](index_t o) {
        const T* src = ws.data() + o * hw;
        T* dst = out + o * out_cs;
        for (std::size_t s = 0; s + 1 < order.start.size(); ++s)
            std::copy(src + order.start[s], src + order.start[s + 1],
                      dst + order.oy[s] * g.wo + order.ox[s]);
    }, 8);
}

/// Packs the OIHW weights of group `gi` (`og` output channels) for the taps `ids` (row-major
/// tap indices) and all of the group's input channels.
template <class T>
[[nodiscard]] gemm_packed_a<T> conv_pack_weights(strided_view<const T, 4> w, index_t gi,
                                                 index_t og, std::span<const index_t> ids,
                                                 gemm_isa isa) {
    const index_t kw = w.extent(3);
    return gemm_pack_a<T>(og, ids, w.extent(1), isa, [&](index_t m, index_t tap) {
        return std::pair<const T*, index_t>(
            w.data_handle() + (gi * og + m) * w.stride(0) + (tap / kw) * w.stride(2) +
                (tap % kw) * w.stride(3),
            w.stride(1));
    });
}

/// out (N×O×Ho×Wo) = conv(x, w) + bias, ReLU when `relu`; everything already checked.
template <class T, class U>
void conv2d_run(strided_view<const T, 4> x, strided_view<const T, 4> w, const T* bias,
                index_t groups, const conv_geometry& g, strided_view<U, 4> out, bool relu) {
    const index_t images = x.extent(0);
    const index_t o_all = w.extent(0), cg = w.extent(1);
    const index_t og = o_all / groups;
    const index_t hw = g.ho * g.wo;
    if (images == 0 || o_all == 0 || hw == 0)
        return;
    const std::vector<conv_tap> taps = conv_taps(g);
    const bool direct_out = std::is_same_v<U, T> && out.stride(3) == 1 &&
                            (g.ho == 1 || out.stride(2) == g.wo);

    if (cg <= 1) { // one input channel per group: direct kernel, parallel over output channels
        for (index_t n = 0; n < images; ++n)
            parallel_for(o_all, [&](index_t o) {
                const index_t ci = o / og; // the group's input channel
                const T b = bias ? bias[o] : T(0);
                std::vector<T> local;
                T* plane;
                if constexpr (std::is_same_v<U, T>) {
                    if (direct_out) {
                        plane = &out(n, o, 0, 0);
                    } else {
                        local.resize(static_cast<std::size_t>(hw));
                        plane = local.data();
                    }
                } else {
                    local.resize(static_cast<std::size_t>(hw));
                    plane = local.data();
                }
                if (cg == 0) {
                    for (index_t i = 0; i < hw; ++i)
                        plane[i] = relu && b < T(0) ? T(0) : b;
                } else {
                    conv_direct_plane(&x(n, ci, 0, 0), x.stride(2), x.stride(3), g, taps,
                                      [&](index_t u, index_t v) { return w(o, 0, u, v); }, b, relu,
                                      plane);
                }
                if (plane == local.data())
                    for (index_t oy = 0; oy < g.ho; ++oy)
                        for (index_t ox = 0; ox < g.wo; ++ox)
                            out(n, o, oy, ox) = static_cast<U>(plane[oy * g.wo + ox]);
            });
        return;
    }

    std::vector<index_t> live;
    for (std::size_t t = 0; t < taps.size(); ++t)
        if (taps[t].live())
            live.push_back(static_cast<index_t>(t));
    const gemm_isa isa = gemm_isa_active();
    const conv_order order = conv_position_order(g, taps);
    aligned_buffer<T> ws(direct_out ? 0 : og * hw);
    for (index_t gi = 0; gi < groups; ++gi) {
        const gemm_packed_a<T> a =
            conv_pack_weights(w, gi, og, std::span<const index_t>(live), isa);
        for (index_t n = 0; n < images; ++n) {
            const T* xg = &x(n, gi * cg, 0, 0);
            const T* bg = bias ? bias + gi * og : nullptr;
            if constexpr (std::is_same_v<U, T>) {
                if (direct_out) {
                    conv_gemm(a, xg, x.stride(1), x.stride(2), x.stride(3), g, taps, order,
                              &out(n, gi * og, 0, 0), out.stride(1), bg, relu);
                    continue;
                }
            }
            conv_gemm(a, xg, x.stride(1), x.stride(2), x.stride(3), g, taps, order, ws.data(), hw,
                      bg, relu);
            for (index_t o = 0; o < og; ++o)
                for (index_t oy = 0; oy < g.ho; ++oy)
                    for (index_t ox = 0; ox < g.wo; ++ox)
                        out(n, gi * og + o, oy, ox) =
                            static_cast<U>(ws.data()[o * hw + oy * g.wo + ox]);
        }
    }
}

} // namespace detseg::detail

#endif // DETSEG_DENSE_DETAIL_CONV_IMPL_HPP
