#ifndef DETSEG_SEG_DETAIL_CAM_COMMON_HPP
#define DETSEG_SEG_DETAIL_CAM_COMMON_HPP

// Shared argument handling of the CAM headers (cam, cam_labels, cam_aggregate, random_walk, par,
// cam_sweep): floating-point map views, finiteness checks, output views, label-value ranges; and
// the padded class planes that random_walk and par iterate on.

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/detail/shape.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg::detail {

/// The read-only rank-R floating-point view of a map argument.
template <std::size_t R, class S>
[[nodiscard]] auto cam_input(const S& src, const char* fn, const char* arg) {
    auto v = as_view_checked<R>(src, fn, arg);
    using V = std::remove_cvref_t<decltype(v)>;
    static_assert(is_strided_view_v<V>, "detseg: CAM maps must be arrays of numbers");
    using T = typename V::value_type;
    static_assert(std::is_floating_point_v<T>, "detseg: CAM maps must hold float or double");
    return strided_view<const T, R>(v);
}

/// The writable rank-R view of an output argument, checked to have extents `want`.
template <std::size_t R, class S>
[[nodiscard]] auto cam_output(S&& out, const std::array<index_t, R>& want, const char* fn,
                              const char* arg) {
    auto o = as_view_checked<R>(std::forward<S>(out), fn, arg);
    check_out_shape(o, want, fn, arg);
    return o;
}

/// Throws unless every element of `v` is finite (NaN or ±inf named with its position).
template <class T, std::size_t R>
void require_finite(const strided_view<const T, R>& v, const char* fn, const char* arg) {
    std::array<index_t, R> idx{};
    const index_t n = v.size();
    for (index_t k = 0; k < n; ++k) {
        index_t off = 0;
        for (std::size_t r = 0; r < R; ++r)
            off += idx[r] * v.stride(r);
        if (!std::isfinite(v.data_handle()[off])) [[unlikely]] {
            std::string pos;
            for (std::size_t r = 0; r < R; ++r)
                pos.append(r ? ", " : "(").append(std::to_string(idx[r]));
            throw_invalid(fn, arg, "non-finite value at ", pos, ")");
        }
        for (std::size_t r = R; r-- > 0;) {
            if (++idx[r] < v.extent(r))
                break;
            idx[r] = 0;
        }
    }
}

/// C planes holding the C×H×W maps `m` with `pad` zeros on every side: row pitch W + 2·pad,
/// (H + 2·pad)·pitch elements per plane.
template <class T, class M>
[[nodiscard]] std::vector<T> padded_planes(const strided_view<const M, 3>& m, index_t pad) {
    const index_t c = m.extent(0), h = m.extent(1), w = m.extent(2);
    const index_t pitch = w + 2 * pad, plane = (h + 2 * pad) * pitch;
    std::vector<T> a(static_cast<std::size_t>(c * plane), T(0));
    for (index_t k = 0; k < c; ++k)
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x)
                a[static_cast<std::size_t>(k * plane + (y + pad) * pitch + x + pad)] =
                    static_cast<T>(m(k, y, x));
    return a;
}

/// Writes the interiors of the padded planes `p` (layout of `padded_planes`) into the C×H×W
/// view `o`, converted to its element type.
template <class T, class Out>
void unpad_planes(const T* p, index_t pad, Out o) {
    using U = typename Out::value_type;
    const index_t c = o.extent(0), h = o.extent(1), w = o.extent(2);
    const index_t pitch = w + 2 * pad, plane = (h + 2 * pad) * pitch;
    for (index_t k = 0; k < c; ++k)
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x)
                o(k, y, x) = static_cast<U>(
                    p[static_cast<std::size_t>(k * plane + (y + pad) * pitch + x + pad)]);
}

/// The read-only K×H×W view of a `cams` argument, checked in this order: its type and rank,
/// then `check_params()`, then that every value is finite.
template <class S, class Check>
[[nodiscard]] auto checked_cams(const S& cams, const char* fn, const Check& check_params) {
    const auto v = cam_input<3>(cams, fn, "cams");
    check_params();
    require_finite(v, fn, "cams");
    return v;
}

/// Throws unless `x` is finite.
inline void require_finite_param(double x, const char* fn, const char* arg, const char* what) {
    DETSEG_REQUIRE(std::isfinite(x), fn, arg, what, " must be finite, got ", x);
}

/// Throws unless label values 0..max_label (and `ignore_index`, when given) fit `Label` and the
/// ignore index is not one of them.
template <class Label>
void check_label_range(index_t max_label, std::optional<index_t> ignore_index, const char* fn) {
    static_assert(std::is_integral_v<Label> && !std::is_same_v<Label, bool>,
                  "detseg: label maps must hold integers (not bool)");
    constexpr auto hi = static_cast<long double>(std::numeric_limits<Label>::max());
    constexpr auto lo = static_cast<long double>(std::numeric_limits<Label>::min());
    DETSEG_REQUIRE(static_cast<long double>(max_label) <= hi, fn, "out",
                   "label type too narrow for labels up to ", max_label);
    if (!ignore_index)
        return;
    const index_t ig = *ignore_index;
    DETSEG_REQUIRE(static_cast<long double>(ig) <= hi && static_cast<long double>(ig) >= lo, fn,
                   "params", "ignore_index ", ig, " does not fit the label type");
    DETSEG_REQUIRE(ig < 0 || ig > max_label, fn, "params", "ignore_index ", ig,
                   " collides with a class label (0..", max_label, ")");
}

/// Largest value and first index of it over channel values `p[0], p[s], ..., p[(k-1)s]`.
template <class T>
inline std::pair<T, index_t> channel_max(const T* p, index_t k, index_t s) noexcept {
    T best = p[0];
    index_t arg = 0;
    for (index_t c = 1; c < k; ++c) {
        const T v = p[c * s];
        if (v > best) {
            best = v;
            arg = c;
        }
    }
    return {best, arg};
}

} // namespace detseg::detail

#endif // DETSEG_SEG_DETAIL_CAM_COMMON_HPP
