#ifndef DETSEG_DENSE_CONCAT_HPP
#define DETSEG_DENSE_CONCAT_HPP

/// @file
/// `concat_channels`: the channel concatenation of several C_i×H×W (or N×C_i×H×W) maps, as
/// `torch.cat(xs, dim=1)` for N×C×H×W tensors (dim 0 of C×H×W ones). Values are copied exactly.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/detail/dense_views.hpp>

#include <array>
#include <cstddef>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// A range of C_i×H×W or N×C_i×H×W floating-point maps (e.g. `std::vector<tensor<float, 3>>`,
/// `std::array<strided_view<const float, 4>, 5>`).
template <class Inputs>
concept channel_maps =
    std::ranges::forward_range<Inputs> &&
    (view_rank_v<std::ranges::range_reference_t<Inputs>> == 3 ||
     view_rank_v<std::ranges::range_reference_t<Inputs>> == 4) &&
    dense_map_source<std::ranges::range_reference_t<Inputs>,
                     view_rank_v<std::ranges::range_reference_t<Inputs>>>;

namespace detail {

template <class Inputs>
inline constexpr std::size_t maps_rank_v = view_rank_v<std::ranges::range_reference_t<Inputs>>;

/// The inputs as rank-4 const views, checked for equal N, H, W; also returns ΣC_i.
template <class Inputs>
[[nodiscard]] auto concat_inputs(const Inputs& inputs, const char* fn, index_t& channels) {
    constexpr std::size_t R = maps_rank_v<Inputs>;
    using T = dense_value_t<std::ranges::range_reference_t<const Inputs&>, R>;
    std::vector<strided_view<const T, 4>> views;
    for (auto&& src : inputs)
        views.push_back(to_nchw(strided_view<const T, R>(as_view_checked<R>(src, fn, "inputs"))));
    DETSEG_REQUIRE(!views.empty(), fn, "inputs", "no maps to concatenate");
    channels = 0;
    const auto& f = views.front();
    for (std::size_t i = 0; i < views.size(); ++i) {
        const auto& v = views[i];
        DETSEG_REQUIRE(v.extent(0) == f.extent(0) && v.extent(2) == f.extent(2) &&
                           v.extent(3) == f.extent(3),
                       fn, "inputs", "map ", i, " is ", v.extent(0), "x", v.extent(1), "x",
                       v.extent(2), "x", v.extent(3), " (N×C×H×W), map 0 is ", f.extent(0), "x",
                       f.extent(1), "x", f.extent(2), "x", f.extent(3),
                       ": N, H and W must agree");
        channels += v.extent(1);
    }
    return views;
}

template <class T, class U>
void concat_kernel(const std::vector<strided_view<const T, 4>>& views, strided_view<U, 4> out) {
    const index_t nn = out.extent(0), hh = out.extent(2), ww = out.extent(3);
    const index_t total = out.extent(1);
    if (nn == 0 || total == 0 || hh == 0 || ww == 0)
        return;
    const bool parallel = nn * total * hh * ww >= (index_t(1) << 18);
    // first output channel of each map
    std::vector<index_t> first(views.size());
    for (std::size_t i = 0, c = 0; i < views.size(); c += static_cast<std::size_t>(views[i].extent(1)), ++i)
        first[i] = static_cast<index_t>(c);
    // a C_i×H×W block that is one contiguous run in the map and in out
    auto block_flat = [hh, ww](const auto& v) {
        return (v.extent(3) == 1 || v.stride(3) == 1) && (hh == 1 || v.stride(2) == ww) &&
               (v.extent(1) == 1 || v.stride(1) == hh * ww);
    };
    const bool out_flat = block_flat(out);
    // one task per (n, map): a flat copy, or row by row
    auto block = [&](index_t item) {
        const auto i = static_cast<std::size_t>(item % static_cast<index_t>(views.size()));
        const index_t n = item / static_cast<index_t>(views.size());
        const auto& v = views[i];
        const index_t ci = v.extent(1);
        if (ci == 0)
            return;
        if (out_flat && block_flat(v)) {
            const T* src = &v(n, 0, 0, 0);
            U* dst = &out(n, first[i], 0, 0);
            for (index_t k = 0, m = ci * hh * ww; k < m; ++k)
                dst[k] = static_cast<U>(src[k]);
            return;
        }
        const index_t xs = v.stride(3), os = out.stride(3);
        for (index_t c = 0; c < ci; ++c)
            for (index_t h = 0; h < hh; ++h) {
                const T* src = &v(n, c, h, 0);
                U* dst = &out(n, first[i] + c, h, 0);
                for (index_t j = 0; j < ww; ++j)
                    dst[j * os] = static_cast<U>(src[j * xs]);
            }
    };
    const index_t blocks = nn * static_cast<index_t>(views.size());
    parallel_for(blocks, block, parallel ? 2 : blocks + 1);
}

} // namespace detail

/// Concatenates the maps of `inputs` along the channel axis into `out`: output channels
/// [C_0 + … + C_{i-1}, … + C_i) are map i's (`torch.cat(inputs, dim=1)`), values converted to
/// out's element type.
/// @param inputs non-empty range of C_i×H×W (or N×C_i×H×W) floating-point maps, any strides,
///               with equal H, W (and N)
/// @param out    writable (ΣC_i)×H×W (or N×ΣC_i×H×W) view, any floating type; must not overlap
///               the inputs
/// @throws detseg::invalid_argument if `inputs` is empty, the maps' N, H or W differ, or `out`
///         has the wrong shape.
/// O(N·ΣC_i·H·W).
template <class Inputs, class Out>
    requires channel_maps<Inputs> && float_output<Out, detail::maps_rank_v<Inputs>>
void concat_channels(const Inputs& inputs, Out&& out) {
    constexpr std::size_t R = detail::maps_rank_v<Inputs>;
    index_t channels = 0;
    const auto views = detail::concat_inputs(inputs, "concat_channels", channels);
    const auto o4 = detail::to_nchw(
        detail::as_view_checked<R>(std::forward<Out>(out), "concat_channels", "out"));
    const auto& f = views.front();
    const std::array<index_t, 4> want{f.extent(0), channels, f.extent(2), f.extent(3)};
    for (std::size_t r = 0; r < 4; ++r)
        DETSEG_REQUIRE(o4.extent(r) == want[r], "concat_channels", "out", "expected shape ",
                       want[0], "x", want[1], "x", want[2], "x", want[3], " (N×C×H×W), got ",
                       o4.extent(0), "x", o4.extent(1), "x", o4.extent(2), "x", o4.extent(3));
    detail::concat_kernel(views, o4);
}

/// `concat_channels` returning a `tensor` of the inputs' rank and element type.
template <class Inputs>
    requires channel_maps<Inputs>
[[nodiscard]] auto concat_channels(const Inputs& inputs) {
    constexpr std::size_t R = detail::maps_rank_v<Inputs>;
    index_t channels = 0;
    const auto views = detail::concat_inputs(inputs, "concat_channels", channels);
    using T = typename std::remove_cvref_t<decltype(views.front())>::value_type;
    const auto& f = views.front();
    tensor<T, R> result(detail::nchw_extents<R>(f.extent(0), channels, f.extent(2), f.extent(3)));
    detail::concat_kernel(views, detail::to_nchw(result.view()));
    return result;
}

} // namespace detseg

#endif // DETSEG_DENSE_CONCAT_HPP
