#ifndef DETSEG_SEG_BOUNDARY_HPP
#define DETSEG_SEG_BOUNDARY_HPP

/// @file
/// `label_boundaries`: the boundary pixels of an integer label map by a 3×3 Sobel filter on the
/// label values, the edge map of CW-BASS's boundary-aware pseudo-label term
/// (docs/pseudo-labels.md).
///
/// Definition, for a map l of H×W labels (values as stored, the ignore value included) with
/// replicated borders (l(i, j) for i, j outside the map is the nearest pixel's label):
///
///     Gx(i, j) = Σ_{a=-1..1} k(a) (l(i+a, j+1) - l(i+a, j-1)),   k = (1, 2, 1)
///     Gy(i, j) = Σ_{a=-1..1} k(a) (l(i+1, j+a) - l(i-1, j+a))
///     boundary(i, j) = Gx(i, j) != 0 || Gy(i, j) != 0
///
/// computed exactly in 64-bit integers. A uniform 3×3 neighbourhood is never a boundary; a label
/// change is one at the pixels on both sides, except where the weighted label differences
/// cancel (the filter sees label values, not label identities, as in CW-BASS).

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>

#include <cstdint>
#include <type_traits>

namespace detseg {

namespace detail {

/// Label at (i, j) of an H×W map with replicated borders.
template <class L>
[[nodiscard]] inline std::int64_t clamped_label(const strided_view<const L, 2>& l, index_t i,
                                                index_t j) noexcept {
    const index_t h = l.extent(0), w = l.extent(1);
    i = i < 0 ? 0 : (i >= h ? h - 1 : i);
    j = j < 0 ? 0 : (j >= w ? w - 1 : j);
    return static_cast<std::int64_t>(l(i, j));
}

/// Sobel boundary test at (i, j) (see the file comment).
template <class L>
[[nodiscard]] inline bool sobel_boundary_at(const strided_view<const L, 2>& l, index_t i,
                                            index_t j) noexcept {
    std::int64_t gx = 0, gy = 0;
    for (index_t a = -1; a <= 1; ++a) {
        const std::int64_t k = a == 0 ? 2 : 1;
        gx += k * (clamped_label(l, i + a, j + 1) - clamped_label(l, i + a, j - 1));
        gy += k * (clamped_label(l, i + 1, j + a) - clamped_label(l, i - 1, j + a));
    }
    return gx != 0 || gy != 0;
}

} // namespace detail

/// Writes 1 at the boundary pixels of the H×W integer label map `labels` and 0 elsewhere
/// (Sobel filter on the label values, replicated borders; the definition is in the file
/// comment). `out` is any writable H×W view of an arithmetic type.
/// Complexity O(H·W). Rows in parallel (results do not depend on the thread count).
/// @throws detseg::invalid_argument naming `out` if its shape is not H×W.
template <label_map_source Labels, class Out>
    requires writable_view<Out, std::uint8_t, 2>
void label_boundaries(const Labels& labels, Out&& out) {
    const auto l = detail::as_view_checked<2>(labels, "label_boundaries", "labels");
    auto o = detail::as_view_checked<2>(out, "label_boundaries", "out");
    using L = typename decltype(l)::value_type;
    detail::check_out_shape(o, std::array<index_t, 2>{l.extent(0), l.extent(1)},
                            "label_boundaries", "out");
    const strided_view<const L, 2> lv(l);
    parallel_for(l.extent(0), [&](index_t i) {
        for (index_t j = 0; j < lv.extent(1); ++j)
            o(i, j) = static_cast<typename decltype(o)::value_type>(
                detail::sobel_boundary_at(lv, i, j) ? 1 : 0);
    }, l.extent(0) * l.extent(1) >= (index_t{1} << 18) ? 2 : l.extent(0) + 1);
}

/// The boundary map of `labels` as an H×W `tensor<std::uint8_t, 2>` (see the output overload).
template <label_map_source Labels>
[[nodiscard]] tensor<std::uint8_t, 2> label_boundaries(const Labels& labels) {
    const auto l = detail::as_view_checked<2>(labels, "label_boundaries", "labels");
    tensor<std::uint8_t, 2> out({l.extent(0), l.extent(1)});
    label_boundaries(l, out);
    return out;
}

} // namespace detseg

#endif // DETSEG_SEG_BOUNDARY_HPP
