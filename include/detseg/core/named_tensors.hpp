#ifndef DETSEG_CORE_NAMED_TENSORS_HPP
#define DETSEG_CORE_NAMED_TENSORS_HPP

/// @file
/// `named_tensors<T>`: owning tensors of any rank under string keys, like a PyTorch
/// `state_dict` (e.g. `convs.0.0.weight`). Modules such as `detseg::aspp` read their weights
/// from one; `<detseg/io/state_dict.hpp>` fills one from a folder of `.npy` files.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace detseg {

/// One entry: the extents (row-major) and the values.
template <class T>
struct named_tensor {
    std::vector<index_t> shape;
    std::vector<T> values;
};

/// Tensors of element type `T` by name, in key order.
template <class T>
class named_tensors {
public:
    using map_type = std::map<std::string, named_tensor<T>, std::less<>>;

    /// Adds (or replaces) `key` with the given extents and row-major values.
    /// @throws detseg::invalid_argument if an extent is negative or the number of values is not
    ///         their product.
    void insert(std::string key, std::vector<index_t> shape, std::vector<T> values) {
        index_t n = 1;
        for (index_t e : shape) {
            DETSEG_REQUIRE(e >= 0, "named_tensors::insert", "shape", "negative extent ", e,
                           " for '", key, "'");
            n *= e;
        }
        DETSEG_REQUIRE(static_cast<index_t>(values.size()) == n, "named_tensors::insert",
                       "values", "'", key, "' has ", values.size(), " values for ", n,
                       " elements");
        map_[std::move(key)] = named_tensor<T>{std::move(shape), std::move(values)};
    }

    /// Adds (or replaces) `key` with a copy of any viewable source (converted to T).
    template <class Src>
        requires viewable<const Src&>
    void insert(std::string key, const Src& src) {
        const auto v = as_view(src);
        constexpr std::size_t R = decltype(v)::rank();
        std::vector<index_t> shape(R);
        for (std::size_t r = 0; r < R; ++r)
            shape[r] = v.extent(r);
        std::vector<T> values;
        values.reserve(static_cast<std::size_t>(v.size()));
        for (index_t f = 0; f < v.size(); ++f) {
            std::array<index_t, R> idx{};
            index_t rest = f;
            for (std::size_t r = R; r-- > 0;) {
                idx[r] = rest % v.extent(r);
                rest /= v.extent(r);
            }
            values.push_back(
                static_cast<T>(std::apply([&](auto... i) { return v(i...); }, idx)));
        }
        insert(std::move(key), std::move(shape), std::move(values));
    }

    /// The entry `key`, or null.
    [[nodiscard]] const named_tensor<T>* find(std::string_view key) const {
        const auto it = map_.find(key);
        return it == map_.end() ? nullptr : &it->second;
    }
    [[nodiscard]] bool contains(std::string_view key) const { return find(key) != nullptr; }
    [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }
    [[nodiscard]] bool empty() const noexcept { return map_.empty(); }
    bool erase(std::string_view key) {
        const auto it = map_.find(key);
        if (it == map_.end())
            return false;
        map_.erase(it);
        return true;
    }
    [[nodiscard]] auto begin() const noexcept { return map_.begin(); }
    [[nodiscard]] auto end() const noexcept { return map_.end(); }

    /// The entry `key` as a row-major view of the expected extents.
    /// @throws detseg::invalid_argument naming `fn` and `arg`, whose message names the key and the
    ///         expected shape, when the key is missing or has another shape.
    template <std::size_t R>
    [[nodiscard]] strided_view<const T, R> get(std::string_view key,
                                               const std::array<index_t, R>& expected,
                                               const char* fn, const char* arg) const {
        const named_tensor<T>* t = find(key);
        std::string want;
        for (std::size_t r = 0; r < R; ++r)
            want.append(r ? "×" : "").append(std::to_string(expected[r]));
        DETSEG_REQUIRE(t != nullptr, fn, arg, "missing tensor '", key, "' (expected shape ", want,
                       ")");
        bool ok = t->shape.size() == R;
        for (std::size_t r = 0; ok && r < R; ++r)
            ok = t->shape[r] == expected[r];
        if (!ok) {
            std::string got;
            for (std::size_t r = 0; r < t->shape.size(); ++r)
                got.append(r ? "×" : "").append(std::to_string(t->shape[r]));
            detail::throw_invalid(fn, arg, "tensor '", key, "' has shape ",
                                  got.empty() ? std::string("()") : got, ", expected ", want);
        }
        return strided_view<const T, R>(t->values.data(), expected);
    }

private:
    map_type map_;
};

} // namespace detseg

#endif // DETSEG_CORE_NAMED_TENSORS_HPP
