#ifndef DETSEG_CORE_CONCEPTS_HPP
#define DETSEG_CORE_CONCEPTS_HPP

/// @file
/// Concepts naming the roles a tensor plays in a call. Each is checked cheaply at compile time;
/// shapes are checked at run time by the algorithm (see the function's documentation).
/// `box_source` lives with the box formats in `<detseg/box/box.hpp>`.

#include <detseg/core/view_traits.hpp>

#include <concepts>
#include <cstddef>
#include <type_traits>

namespace detseg {

namespace detail {

template <class S, std::size_t R>
using checked_view_t = decltype(as_view_checked<R>(std::declval<S&>(), "", ""));

} // namespace detail

/// `S` views as rank `R` with elements satisfying `Pred`.
template <class S, std::size_t R, template <class> class Pred>
concept viewable_with =
    viewable_as<S, R> && Pred<typename detail::checked_view_t<S, R>::value_type>::value;

/// A writable rank-`Rank` view whose elements can be assigned from `T`: an output argument.
/// Pass outputs as lvalues (`Eigen::MatrixXf& m`) or as view temporaries (`Eigen::Map`, a
/// `strided_view`, an `xt::adapt`ed buffer).
template <class V, class T, std::size_t Rank>
concept writable_view =
    viewable_as<V, Rank> &&
    !std::is_const_v<typename detail::checked_view_t<V, Rank>::element_type> &&
    std::is_assignable_v<typename detail::checked_view_t<V, Rank>::element_type&, T>;

/// A writable rank-`Rank` view of floating-point numbers: an output for real-valued results.
template <class V, std::size_t Rank>
concept float_output = writable_view<V, double, Rank> &&
    std::is_floating_point_v<typename detail::checked_view_t<V, Rank>::value_type>;

/// One score per item: a rank-1 view (or N×1 / 1×N) of floating-point numbers.
template <class S>
concept score_source = viewable_with<S, 1, std::is_floating_point>;

/// One integer label per item: a rank-1 view of integers (any width and signedness).
template <class S>
concept label_source = viewable_with<S, 1, std::is_integral>;

/// An image: H×W×C (interleaved, e.g. RGB) or C×H×W through strides, any arithmetic type.
template <class S>
concept image_source = viewable_with<S, 3, std::is_arithmetic>;

/// Per-class probabilities or scores: C×H×W floating point.
template <class S>
concept prob_source = viewable_with<S, 3, std::is_floating_point>;

/// An integer H×W label map.
template <class S>
concept label_map_source = viewable_with<S, 2, std::is_integral>;

} // namespace detseg

#endif // DETSEG_CORE_CONCEPTS_HPP
