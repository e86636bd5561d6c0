#ifndef DETSEG_CORE_VIEW_TRAITS_HPP
#define DETSEG_CORE_VIEW_TRAITS_HPP

/// @file
/// The one customisation point for tensor types: `view_traits<Source>`, and `as_view`, which
/// turns any supported source into a canonical view without copying.
///
/// `as_view(src)` resolves, in order:
/// 1. a `strided_view` or `field_view`: returned as is;
/// 2. a type with a `view_traits` specialisation (Eigen and xtensor types once
///    `<detseg/backend/eigen.hpp>` / `<detseg/backend/xtensor.hpp>` are included, the library's
///    `tensor`, or your own type);
/// 3. a contiguous sized range of numbers (`std::vector<float>`, `std::span`, `std::array`):
///    a rank-1 view;
/// 4. anything else: a compile error that says how to adapt the type.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/field_view.hpp>
#include <detseg/core/strided_view.hpp>

#include <cstddef>
#include <ranges>
#include <type_traits>
#include <utility>

namespace detseg {

/// Customisation point: specialise for your tensor type to make every detseg algorithm accept
/// it without a copy. The primary template is declared, never defined. A specialisation has
///
///     static strided_view<T, R> view(Source& s);              // writable if s is
///     static strided_view<const T, R> view(const Source& s);  // read-only
///
/// or, when the rank is only known at run time (like `xt::xarray`),
///
///     static constexpr bool dynamic_rank = true;
///     template <std::size_t R> static strided_view<T, R> view(Source& s);       // and const
///
/// which throws `detseg::invalid_argument` when the source's rank is not R; such a source is
/// used through `as_view<R>(src)`.
/// Example (OpenCV, a 2-D single-channel `cv::Mat` of floats):
///
///     template <> struct detseg::view_traits<cv::Mat> {
///         static detseg::strided_view<float, 2> view(cv::Mat& m) {
///             return {m.ptr<float>(), {m.rows, m.cols},
///                     {index_t(m.step1(0)), index_t(m.step1(1))}};
///         }
///         static detseg::strided_view<const float, 2> view(const cv::Mat& m) { ... }
///     };
template <class Source>
struct view_traits;

template <class>
inline constexpr bool always_false_v = false;

namespace detail {

template <class S>
concept has_traits_view = requires(S& s) {
    view_traits<std::remove_cvref_t<S>>::view(s);
};

template <class S, std::size_t R>
concept has_traits_view_rank = requires(S& s) {
    view_traits<std::remove_cvref_t<S>>::template view<R>(s);
};

template <class S>
concept dynamic_rank_source = requires {
    view_traits<std::remove_cvref_t<S>>::dynamic_rank;
};

template <class S>
concept numeric_contiguous_range = std::ranges::contiguous_range<S> &&
    std::ranges::sized_range<S> && std::is_arithmetic_v<std::ranges::range_value_t<S>>;

template <class S>
concept canonical_view =
    is_strided_view_v<std::remove_cvref_t<S>> || is_field_view_v<std::remove_cvref_t<S>>;

} // namespace detail

/// True when `as_view` accepts `S` (an lvalue of type `S`, const-qualified as given). Sources
/// whose rank is known only at run time (`xt::xarray`) are not: use `as_view<R>`/`viewable_as`.
template <class S>
concept viewable = !detail::dynamic_rank_source<S> &&
                   (detail::canonical_view<S> || detail::has_traits_view<S> ||
                    detail::numeric_contiguous_range<std::remove_reference_t<S>>);

/// The canonical view of any supported source (see the file comment), without copying.
/// Constness follows the source: a const `std::vector<float>&` gives a
/// `strided_view<const float, 1>`.
template <class S>
[[nodiscard]] constexpr auto as_view(S&& src) {
    using U = std::remove_cvref_t<S>;
    if constexpr (detail::dynamic_rank_source<U>) {
        static_assert(always_false_v<S>, "detseg::as_view: this source's rank is known only at "
                                         "run time (e.g. xt::xarray); call as_view<Rank>(src)");
    } else if constexpr (detail::canonical_view<U>) {
        return U(src);
    } else if constexpr (detail::has_traits_view<std::remove_reference_t<S>>) {
        return view_traits<U>::view(src);
    } else if constexpr (detail::numeric_contiguous_range<std::remove_reference_t<S>>) {
        auto* p = std::ranges::data(src);
        using E = std::remove_pointer_t<decltype(p)>;
        return strided_view<E, 1>(p, {static_cast<index_t>(std::ranges::size(src))});
    } else {
        static_assert(always_false_v<S>,
                      "detseg::as_view: this type is not a tensor detseg knows. Pass a "
                      "detseg::strided_view (detseg::make_view(ptr, {extents...})), a contiguous "
                      "range of numbers, include <detseg/backend/eigen.hpp> or "
                      "<detseg/backend/xtensor.hpp> for those libraries, or specialise "
                      "detseg::view_traits<YourType> (see docs/backends.md). A lazy Eigen or "
                      "xtensor expression has no storage: call .eval() / xt::eval first.");
    }
}

/// Static rank of `as_view(S&)`'s result, or 0 when the source's rank is dynamic.
template <class S>
inline constexpr std::size_t view_rank_v = [] {
    if constexpr (viewable<S>)
        return decltype(as_view(std::declval<S&>()))::rank();
    else
        return std::size_t{0};
}();

/// True when `as_view<R>` accepts `S`: its rank is `R`, it is rank-dynamic, or `R == 1` and it is
/// rank 2 (accepted at run time when one extent is 1).
template <class S, std::size_t R>
concept viewable_as = detail::has_traits_view_rank<std::remove_reference_t<S>, R> ||
    (viewable<S> &&
     (view_rank_v<S> == R ||
      (R == 1 && view_rank_v<S> == 2 && is_strided_view_v<decltype(as_view(std::declval<S&>()))>)));

namespace detail {

/// `as_view` with a rank requirement, naming `fn`/`arg` in the errors it throws.
template <std::size_t R, class S>
[[nodiscard]] constexpr auto as_view_checked(S&& src, const char* fn, const char* arg) {
    using U = std::remove_cvref_t<S>;
    if constexpr (has_traits_view_rank<std::remove_reference_t<S>, R>) {
        try {
            return view_traits<U>::template view<R>(src);
        } catch (const invalid_argument& e) {
            throw invalid_argument(fn, arg, e.reason());
        }
    } else {
        static_assert(viewable<S>, "detseg: argument is not a tensor detseg knows; see "
                                   "detseg::as_view and docs/backends.md");
        auto v = as_view(std::forward<S>(src));
        if constexpr (decltype(v)::rank() == R) {
            return v;
        } else if constexpr (R == 1 && decltype(v)::rank() == 2 && is_strided_view_v<decltype(v)>) {
            using E = typename decltype(v)::element_type;
            if (v.extent(1) == 1)
                return strided_view<E, 1>(v.data_handle(), {v.extent(0)}, {v.stride(0)});
            DETSEG_REQUIRE(v.extent(0) == 1, fn, arg, "expected a vector, got a ", v.extent(0), "x",
                           v.extent(1), " matrix");
            return strided_view<E, 1>(v.data_handle(), {v.extent(1)}, {v.stride(1)});
        } else {
            static_assert(always_false_v<S>, "detseg: argument has the wrong rank for this "
                                             "parameter (see the function's documentation)");
        }
    }
}

} // namespace detail

/// `as_view` with a required rank `R`: for rank-dynamic sources (`xt::xarray`) the rank is
/// checked at run time, and a rank-2 source with one unit extent is accepted as rank 1.
/// @throws detseg::invalid_argument if the source's run-time rank or shape does not fit.
template <std::size_t R, class S>
[[nodiscard]] constexpr auto as_view(S&& src) {
    return detail::as_view_checked<R>(std::forward<S>(src), "as_view", "source");
}

/// The value type (cv-unqualified element type) of `as_view<R>` on `S`.
template <class S, std::size_t R = view_rank_v<S>>
using view_value_t =
    typename decltype(detail::as_view_checked<R>(std::declval<S&>(), "", ""))::value_type;

} // namespace detseg

#endif // DETSEG_CORE_VIEW_TRAITS_HPP
