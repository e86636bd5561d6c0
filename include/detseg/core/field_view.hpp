#ifndef DETSEG_CORE_FIELD_VIEW_HPP
#define DETSEG_CORE_FIELD_VIEW_HPP

/// @file
/// `field_view`: a read-only N×K view of an array of structs, reading field k of struct i
/// through an accessor (member pointers, an index operator, or a traits class). Structs are
/// reached as `data[i]` and fields by name: no pointer arithmetic across struct boundaries.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>

#include <array>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <ranges>
#include <type_traits>

namespace detseg {

/// Reads field k of a struct through member pointers `&S::a, &S::b, ...`.
template <class S, class T, std::size_t K>
struct member_access {
    std::array<T S::*, K> members;
    [[nodiscard]] constexpr T operator()(const S& s, index_t k) const noexcept {
        return s.*members[static_cast<std::size_t>(k)];
    }
};

/// Reads field k as `s[k]` (for `std::array<T, K>` and similar).
struct subscript_access {
    template <class S>
    [[nodiscard]] constexpr auto operator()(const S& s, index_t k) const noexcept {
        return s[static_cast<std::size_t>(k)];
    }
};

/// Read-only N×K view of `N` structs of type `S` with `K` fields of type `T`, read through
/// `Access` (a callable `T(const S&, index_t k)`).
template <class S, class T, std::size_t K, class Access>
class field_view {
public:
    using element_type = const T;
    using value_type = T;
    using struct_type = S;
    using access_type = Access;

    [[nodiscard]] static constexpr std::size_t rank() noexcept { return 2; }
    [[nodiscard]] static constexpr std::size_t fields() noexcept { return K; }

    constexpr field_view() = default;
    constexpr field_view(const S* data, index_t n, Access access = {})
        : data_(data), n_(n), access_(access) {}

    [[nodiscard]] constexpr const S* data_handle() const noexcept { return data_; }
    [[nodiscard]] constexpr index_t extent(std::size_t r) const noexcept {
        return r == 0 ? n_ : static_cast<index_t>(K);
    }
    [[nodiscard]] constexpr index_t size() const noexcept { return n_ * static_cast<index_t>(K); }
    [[nodiscard]] constexpr bool empty() const noexcept { return n_ == 0; }
    [[nodiscard]] constexpr const Access& access() const noexcept { return access_; }

    /// Field `k` of struct `i` (no bounds check; asserted in debug builds).
    [[nodiscard]] constexpr T operator()(index_t i, index_t k) const noexcept {
        assert(i >= 0 && i < n_ && k >= 0 && k < static_cast<index_t>(K));
        return static_cast<T>(access_(data_[i], k));
    }

private:
    const S* data_ = nullptr;
    index_t n_ = 0;
    [[no_unique_address]] Access access_{};
};

template <class V>
inline constexpr bool is_field_view_v = false;
template <class S, class T, std::size_t K, class A>
inline constexpr bool is_field_view_v<field_view<S, T, K, A>> = true;

/// Field view over a contiguous range of structs reading the given data members, e.g.
/// `make_field_view(dets, &det::x1, &det::y1, &det::x2, &det::y2)` for `std::vector<det> dets`.
template <std::ranges::contiguous_range R, class S, class T, class... M>
    requires(std::ranges::sized_range<R>&& std::same_as<std::ranges::range_value_t<R>, S>&&
                 std::is_arithmetic_v<T> &&
             (std::same_as<M, T S::*> && ...))
[[nodiscard]] constexpr auto make_field_view(const R& structs, T S::*first, M... rest) {
    constexpr std::size_t K = 1 + sizeof...(M);
    using access = member_access<S, T, K>;
    return field_view<S, T, K, access>(std::ranges::data(structs),
                                       static_cast<index_t>(std::ranges::size(structs)),
                                       access{{first, rest...}});
}

} // namespace detseg

#endif // DETSEG_CORE_FIELD_VIEW_HPP
