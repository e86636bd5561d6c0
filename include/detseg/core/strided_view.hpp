#ifndef DETSEG_CORE_STRIDED_VIEW_HPP
#define DETSEG_CORE_STRIDED_VIEW_HPP

/// @file
/// `strided_view<T, Rank>`: a non-owning pointer + extents + element strides, the canonical view
/// every algorithm works on, and `make_view` to build one from a raw pointer.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>

#include <array>
#include <cassert>
#include <concepts>
#include <cstddef>
#include <type_traits>

namespace detseg {

/// A non-owning, strided, `Rank`-dimensional view of elements of type `T` (const-qualify `T` for
/// a read-only view). Member names follow `std::mdspan`: `data_handle()`, `extent(r)`,
/// `stride(r)`, `size()`. Strides are in elements and may be any integers (including 0 and
/// negative); `operator()` does not check bounds.
template <class T, std::size_t Rank>
class strided_view {
    static_assert(Rank >= 1, "detseg::strided_view: Rank must be at least 1");

public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using index_type = index_t;
    using extents_type = std::array<index_t, Rank>;

    [[nodiscard]] static constexpr std::size_t rank() noexcept { return Rank; }

    constexpr strided_view() noexcept = default;

    /// A view with explicit element strides.
    constexpr strided_view(T* data, const extents_type& extents,
                           const extents_type& strides) noexcept
        : data_(data), extents_(extents), strides_(strides) {}

    /// A row-major contiguous view.
    constexpr strided_view(T* data, const extents_type& extents) noexcept
        : data_(data), extents_(extents), strides_(row_major_strides(extents)) {}

    /// Read-only view of a writable one.
    template <class U>
        requires(!std::same_as<U, T> && std::is_convertible_v<U (*)[], T (*)[]>)
    constexpr strided_view(const strided_view<U, Rank>& other) noexcept
        : data_(other.data_handle()), extents_(other.extents()), strides_(other.strides()) {}

    [[nodiscard]] constexpr T* data_handle() const noexcept { return data_; }
    [[nodiscard]] constexpr index_t extent(std::size_t r) const noexcept { return extents_[r]; }
    [[nodiscard]] constexpr index_t stride(std::size_t r) const noexcept { return strides_[r]; }
    [[nodiscard]] constexpr const extents_type& extents() const noexcept { return extents_; }
    [[nodiscard]] constexpr const extents_type& strides() const noexcept { return strides_; }

    /// Number of elements (product of the extents).
    [[nodiscard]] constexpr index_t size() const noexcept {
        index_t n = 1;
        for (index_t e : extents_)
            n *= e;
        return n;
    }
    [[nodiscard]] constexpr bool empty() const noexcept { return size() == 0; }

    /// True when the elements are laid out row-major without gaps (strides of unit extents are
    /// ignored), so `data_handle()[k]` walks the view in row-major order.
    [[nodiscard]] constexpr bool is_contiguous() const noexcept {
        index_t expected = 1;
        for (std::size_t r = Rank; r-- > 0;) {
            if (extents_[r] != 1 && strides_[r] != expected)
                return false;
            expected *= extents_[r];
        }
        return true;
    }

    /// Element at the given multi-index (no bounds check; asserted in debug builds).
    template <class... I>
        requires(sizeof...(I) == Rank && (std::convertible_to<I, index_t> && ...))
    [[nodiscard]] constexpr T& operator()(I... idx) const noexcept {
        const index_t ii[] = {static_cast<index_t>(idx)...};
        index_t off = 0;
        for (std::size_t r = 0; r < Rank; ++r) {
            assert(ii[r] >= 0 && ii[r] < extents_[r]);
            off += ii[r] * strides_[r];
        }
        return data_[off];
    }

    /// Element `i` of a rank-1 view.
    [[nodiscard]] constexpr T& operator[](index_t i) const noexcept requires(Rank == 1) {
        assert(i >= 0 && i < extents_[0]);
        return data_[i * strides_[0]];
    }

    /// Pointer to the first element of row `i` (the sub-view with the first index fixed).
    [[nodiscard]] constexpr T* row_data(index_t i) const noexcept {
        return data_ + i * strides_[0];
    }

    [[nodiscard]] static constexpr extents_type row_major_strides(const extents_type& e) noexcept {
        extents_type s{};
        index_t acc = 1;
        for (std::size_t r = Rank; r-- > 0;) {
            s[r] = acc;
            acc *= e[r];
        }
        return s;
    }

private:
    T* data_ = nullptr;
    extents_type extents_{};
    extents_type strides_{};
};

template <class T>
inline constexpr bool is_strided_view_v = false;
template <class T, std::size_t R>
inline constexpr bool is_strided_view_v<strided_view<T, R>> = true;

namespace detail {

template <class T, std::size_t R>
void check_make_view(const T* data, const std::array<index_t, R>& extents) {
    index_t n = 1;
    for (std::size_t r = 0; r < R; ++r) {
        DETSEG_REQUIRE(extents[r] >= 0, "make_view", "extents", "extent ", r, " is negative (",
                       extents[r], ")");
        n *= extents[r];
    }
    DETSEG_REQUIRE(data != nullptr || n == 0, "make_view", "data",
                   "null pointer for a non-empty view");
}

template <std::size_t R>
constexpr std::array<index_t, R> to_array(const index_t (&a)[R]) noexcept {
    std::array<index_t, R> out{};
    for (std::size_t r = 0; r < R; ++r)
        out[r] = a[r];
    return out;
}

} // namespace detail

/// Row-major view of `data` with the given extents, e.g. `make_view(ptr, {n, 4})` for N×4 boxes.
/// @throws detseg::invalid_argument if an extent is negative, or `data` is null and the view is
///         not empty.
template <class T, std::size_t R>
[[nodiscard]] strided_view<T, R> make_view(T* data, const index_t (&extents)[R]) {
    auto e = detail::to_array(extents);
    detail::check_make_view(data, e);
    return {data, e};
}

/// Strided view of `data`: element (i0, i1, ...) is `data[i0*strides[0] + i1*strides[1] + ...]`,
/// e.g. `make_view(ptr, {n, 4}, {1, n})` for column-major N×4 boxes.
/// @throws detseg::invalid_argument as the contiguous overload.
template <class T, std::size_t R>
[[nodiscard]] strided_view<T, R> make_view(T* data, const index_t (&extents)[R],
                                           const index_t (&strides)[R]) {
    auto e = detail::to_array(extents);
    detail::check_make_view(data, e);
    return {data, e, detail::to_array(strides)};
}

/// `make_view` from `std::array` extents (and strides).
template <class T, std::size_t R>
[[nodiscard]] strided_view<T, R> make_view(T* data, const std::array<index_t, R>& extents) {
    detail::check_make_view(data, extents);
    return {data, extents};
}

template <class T, std::size_t R>
[[nodiscard]] strided_view<T, R> make_view(T* data, const std::array<index_t, R>& extents,
                                           const std::array<index_t, R>& strides) {
    detail::check_make_view(data, extents);
    return {data, extents, strides};
}

} // namespace detseg

#endif // DETSEG_CORE_STRIDED_VIEW_HPP
