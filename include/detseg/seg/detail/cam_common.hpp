#ifndef DETSEG_SEG_DETAIL_CAM_COMMON_HPP
#define DETSEG_SEG_DETAIL_CAM_COMMON_HPP

// Shared argument handling of the CAM headers (cam, cam_labels, cam_aggregate, random_walk, par,
// cam_sweep): floating-point map views, finiteness checks, output views, label-value ranges.

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
