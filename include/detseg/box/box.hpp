#ifndef DETSEG_BOX_BOX_HPP
#define DETSEG_BOX_BOX_HPP

/// @file
/// Box formats, the `box<T>` struct, `box_traits` (how to read a user's box struct), and
/// `as_boxes`, which turns any box source into the canonical `box_view` the algorithms use.
///
/// A *box source* is one of
/// - an N×4 view of numbers (raw pointer through `make_view(ptr, {n, 4})`, Eigen, xtensor, a
///   `tensor`), any strides; the column count is checked at run time;
/// - a contiguous range of 4N numbers (`std::vector<float>`, `std::span<const double>`), read as
///   N×4 row-major;
/// - a contiguous range of box structs: `std::array<T, 4>`, `detseg::box<T>`, any aggregate with
///   data members `x1, y1, x2, y2`, or any type with a `box_traits` specialisation.
/// Coordinates are `float` or `double`. The four numbers are in the format given to `as_boxes`
/// (default `box_format::xyxy`).

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/field_view.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <ranges>
#include <type_traits>

namespace detseg {

/// How the four numbers of a box are to be read.
enum class box_format {
    xyxy,   ///< (x1, y1, x2, y2): corners; the library's default.
    xywh,   ///< (x1, y1, w, h): top-left corner and size (COCO).
    cxcywh, ///< (cx, cy, w, h): centre and size (DETR, SSD).
};

/// Name of a format: "xyxy", "xywh" or "cxcywh".
[[nodiscard]] constexpr const char* to_string(box_format f) noexcept {
    switch (f) {
    case box_format::xyxy: return "xyxy";
    case box_format::xywh: return "xywh";
    case box_format::cxcywh: return "cxcywh";
    }
    return "?";
}

/// An axis-aligned box in xyxy form; an aggregate, so `box<float>{x1, y1, x2, y2}`.
template <class T>
struct box {
    T x1, y1, x2, y2;
    friend constexpr bool operator==(const box&, const box&) = default;
};

/// Customisation point: how to read a box struct `S`. The primary template is declared only.
/// A specialisation provides `using value_type = T;` (float or double) and
/// `static T get(const S& s, index_t k)` returning its k-th number (k = 0..3, in the format the
/// caller passes to `as_boxes`, xyxy by default). `std::array<T, 4>` and aggregates with data
/// members `x1, y1, x2, y2` are recognised without a specialisation.
template <class S>
struct box_traits;

template <class T>
struct box_traits<std::array<T, 4>> {
    using value_type = T;
    [[nodiscard]] static constexpr T get(const std::array<T, 4>& b, index_t k) noexcept {
        return b[static_cast<std::size_t>(k)];
    }
};

namespace detail {

template <class S>
concept has_xyxy_members =
    std::is_arithmetic_v<decltype(S::x1)> && std::same_as<decltype(S::x1), decltype(S::y1)> &&
    std::same_as<decltype(S::x1), decltype(S::x2)> &&
    std::same_as<decltype(S::x1), decltype(S::y2)>;

} // namespace detail

template <class S>
    requires detail::has_xyxy_members<S>
struct box_traits<S> {
    using value_type = decltype(S::x1);
    [[nodiscard]] static constexpr value_type get(const S& s, index_t k) noexcept {
        return k == 0 ? s.x1 : k == 1 ? s.y1 : k == 2 ? s.x2 : s.y2;
    }
};

/// Accessor reading a struct's numbers through `box_traits`.
template <class S>
struct box_traits_access {
    [[nodiscard]] constexpr auto operator()(const S& s, index_t k) const noexcept {
        return box_traits<S>::get(s, k);
    }
};

namespace detail {

template <class S>
concept box_struct = requires(const S& s) {
    typename box_traits<S>::value_type;
    {
        box_traits<S>::get(s, index_t{0})
        } -> std::convertible_to<typename box_traits<S>::value_type>;
};

template <class R>
concept box_struct_range = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
    box_struct<std::ranges::range_value_t<R>>;

} // namespace detail

/// Canonical read-only view of N boxes: `V` is an N×4 `strided_view<const T, 2>` or a
/// `field_view` over structs. `xyxy(i)` gives box i as corners, converting from the stored format
/// with torchvision's arithmetic (`x2 = x + w`; `x1 = cx - 0.5*w`).
template <class V>
class box_view {
public:
    using value_type = typename V::value_type;
    static_assert(std::is_floating_point_v<value_type>,
                  "detseg: box coordinates must be float or double; convert integer boxes first");

    constexpr box_view() = default;
    constexpr box_view(V v, box_format format) noexcept : v_(v), format_(format) {}

    [[nodiscard]] constexpr index_t size() const noexcept { return v_.extent(0); }
    [[nodiscard]] constexpr bool empty() const noexcept { return v_.extent(0) == 0; }
    [[nodiscard]] constexpr box_format format() const noexcept { return format_; }
    [[nodiscard]] constexpr const V& raw_view() const noexcept { return v_; }

    /// The k-th stored number of box i (in `format()`).
    [[nodiscard]] constexpr value_type raw(index_t i, index_t k) const noexcept { return v_(i, k); }

    /// Box i as corners (x1, y1, x2, y2).
    [[nodiscard]] constexpr box<value_type> xyxy(index_t i) const noexcept {
        using T = value_type;
        const T a = v_(i, 0), b = v_(i, 1), c = v_(i, 2), d = v_(i, 3);
        switch (format_) {
        case box_format::xywh: return {a, b, a + c, b + d};
        case box_format::cxcywh: {
            const T hw = T(0.5) * c, hh = T(0.5) * d;
            return {a - hw, b - hh, a + hw, b + hh};
        }
        case box_format::xyxy: break;
        }
        return {a, b, c, d};
    }

private:
    V v_{};
    box_format format_ = box_format::xyxy;
};

template <class V>
inline constexpr bool is_box_view_v = false;
template <class V>
inline constexpr bool is_box_view_v<box_view<V>> = true;

/// Anything `as_boxes` accepts (see the file comment).
template <class S>
concept box_source = is_box_view_v<std::remove_cvref_t<S>> ||
    detail::box_struct_range<std::remove_cvref_t<S>> ||
    ((viewable_as<S, 2> ||
      (viewable_as<S, 1> && detail::numeric_contiguous_range<std::remove_cvref_t<S>>)));

namespace detail {

/// `as_boxes`, naming `fn`/`arg` in its errors.
template <box_source S>
[[nodiscard]] constexpr auto to_boxes(S&& src, box_format format, const char* fn, const char* arg) {
    using U = std::remove_cvref_t<S>;
    if constexpr (is_box_view_v<U>) {
        return U(src);
    } else if constexpr (is_field_view_v<U>) {
        static_assert(U::fields() == 4, "detseg: a field_view of boxes needs exactly 4 fields");
        return box_view<U>(src, format);
    } else if constexpr (box_struct_range<U>) {
        using E = std::ranges::range_value_t<U>;
        using T = typename box_traits<E>::value_type;
        using FV = field_view<E, T, 4, box_traits_access<E>>;
        return box_view<FV>(
            FV(std::ranges::data(src), static_cast<index_t>(std::ranges::size(src))), format);
    } else if constexpr (viewable_as<S, 2>) {
        auto v = as_view_checked<2>(std::forward<S>(src), fn, arg);
        using T = typename decltype(v)::value_type;
        DETSEG_REQUIRE(v.extent(1) == 4, fn, arg, "expected N×4 boxes, got ", v.extent(0), "×",
                       v.extent(1));
        return box_view<strided_view<const T, 2>>(strided_view<const T, 2>(v), format);
    } else {
        auto* p = std::ranges::data(src);
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(p)>>;
        const auto n = static_cast<index_t>(std::ranges::size(src));
        DETSEG_REQUIRE(n % 4 == 0, fn, arg,
                       "a flat range of boxes needs a multiple of 4 numbers, got ", n);
        return box_view<strided_view<const T, 2>>(strided_view<const T, 2>(p, {n / 4, 4}), format);
    }
}

} // namespace detail

/// The canonical `box_view` of a box source, without copying.
/// @param boxes  N×4 view, flat range of 4N numbers, or range of box structs.
/// @param format how the four numbers are stored (default xyxy).
/// @throws detseg::invalid_argument if a view does not have 4 columns or a flat range's length is
///         not a multiple of 4.
template <box_source S>
[[nodiscard]] constexpr auto as_boxes(S&& boxes, box_format format = box_format::xyxy) {
    return detail::to_boxes(std::forward<S>(boxes), format, "as_boxes", "boxes");
}

/// The canonical box view type of a source.
template <class S>
using box_view_t = decltype(detail::to_boxes(std::declval<S&>(), box_format::xyxy, "", ""));

/// The coordinate type of a box source.
template <class S>
using box_value_t = typename box_view_t<S>::value_type;

} // namespace detseg

#endif // DETSEG_BOX_BOX_HPP
