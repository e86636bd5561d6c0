#ifndef DETSEG_CORE_TENSOR_HPP
#define DETSEG_CORE_TENSOR_HPP

/// @file
/// `tensor<T, Rank>`: a small owning, row-major, contiguous array, returned by algorithms that
/// produce dense results when the caller did not pass an output view.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

namespace detseg {

/// Owning row-major `Rank`-dimensional array of `T`. Views of it (`view()`, `as_view`) stay valid
/// until it is resized, moved from or destroyed.
template <class T, std::size_t Rank>
class tensor {
    static_assert(!std::is_same_v<T, bool>, "detseg::tensor<bool>: use std::uint8_t");

public:
    using value_type = T;
    using extents_type = std::array<index_t, Rank>;

    tensor() = default;

    /// A tensor of the given extents, value-initialised (zeros for numbers).
    explicit tensor(const extents_type& extents) : extents_(extents), data_(count(extents)) {}
    /// A tensor of the given extents filled with `value`.
    tensor(const extents_type& extents, const T& value)
        : extents_(extents), data_(count(extents), value) {}

    [[nodiscard]] static constexpr std::size_t rank() noexcept { return Rank; }
    [[nodiscard]] index_t extent(std::size_t r) const noexcept { return extents_[r]; }
    [[nodiscard]] const extents_type& extents() const noexcept { return extents_; }
    [[nodiscard]] index_t size() const noexcept { return static_cast<index_t>(data_.size()); }
    [[nodiscard]] bool empty() const noexcept { return data_.empty(); }

    [[nodiscard]] T* data() noexcept { return data_.data(); }
    [[nodiscard]] const T* data() const noexcept { return data_.data(); }
    /// The elements in row-major order.
    [[nodiscard]] std::span<T> flat() noexcept { return data_; }
    [[nodiscard]] std::span<const T> flat() const noexcept { return data_; }

    template <class... I>
        requires(sizeof...(I) == Rank)
    [[nodiscard]] T& operator()(I... idx) noexcept { return view()(idx...); }
    template <class... I>
        requires(sizeof...(I) == Rank)
    [[nodiscard]] const T& operator()(I... idx) const noexcept { return view()(idx...); }

    [[nodiscard]] strided_view<T, Rank> view() noexcept { return {data_.data(), extents_}; }
    [[nodiscard]] strided_view<const T, Rank> view() const noexcept {
        return {data_.data(), extents_};
    }

    /// Changes the extents; the contents are unspecified afterwards.
    void resize(const extents_type& extents) {
        data_.resize(count(extents));
        extents_ = extents;
    }

    friend bool operator==(const tensor&, const tensor&) = default;

private:
    static std::size_t count(const extents_type& e) {
        index_t n = 1;
        for (std::size_t r = 0; r < Rank; ++r) {
            DETSEG_REQUIRE(e[r] >= 0, "tensor", "extents", "extent ", r, " is negative (", e[r],
                           ")");
            n *= e[r];
        }
        return static_cast<std::size_t>(n);
    }

    extents_type extents_{};
    std::vector<T> data_;
};

template <class T, std::size_t Rank>
struct view_traits<tensor<T, Rank>> {
    static strided_view<T, Rank> view(tensor<T, Rank>& t) noexcept { return t.view(); }
    static strided_view<const T, Rank> view(const tensor<T, Rank>& t) noexcept { return t.view(); }
};

} // namespace detseg

#endif // DETSEG_CORE_TENSOR_HPP
