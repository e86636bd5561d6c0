#ifndef DETSEG_BACKEND_EIGEN_HPP
#define DETSEG_BACKEND_EIGEN_HPP

/// @file
/// Eigen adapter: makes every Eigen object with storage (`Matrix`, `Array`, `Map`, `Block`,
/// `Ref`, row- or column-major, any inner/outer stride) usable wherever detseg takes a tensor,
/// without copying. Vectors (compile-time one row or one column) view as rank 1, everything else
/// as rank 2 (rows × cols). Constness follows the object: a `const Eigen::MatrixXf&` or a
/// `Map<const ...>` is read-only; an `Eigen::MatrixXf&` or a `Map<MatrixXf>` temporary is a valid
/// output. A lazy expression (`a + b`, `m.transpose() * 2`) has no storage and is a compile
/// error asking for `.eval()`: detseg never copies behind your back.
///
/// Include this header yourself (`<detseg/detseg.hpp>` does not); link `detseg::eigen`.

#include <detseg/core/strided_view.hpp>
#include <detseg/core/view_traits.hpp>

#include <Eigen/Core>

#include <type_traits>

namespace detseg {

namespace detail {

template <class D>
void eigen_dense_base(const Eigen::DenseBase<D>&);

// Any Eigen dense object: Matrix, Array, Map, Block, VectorBlock (segment/head/tail), Ref, ...
template <class E>
concept eigen_dense = requires(const E& e) {
    eigen_dense_base(e);
};

template <class E>
inline constexpr bool eigen_direct_access = (int(E::Flags) & int(Eigen::DirectAccessBit)) != 0;

template <class E, class Obj>
auto eigen_view(Obj& e) {
    static_assert(eigen_direct_access<E>,
                  "detseg: this Eigen expression has no storage (it is computed lazily). Call "
                  ".eval() on it, or write it into a Matrix/Array first.");
    using P = std::remove_pointer_t<decltype(e.data())>;
    if constexpr (E::IsVectorAtCompileTime) {
        const index_t step =
            E::RowsAtCompileTime == 1 ? index_t(e.colStride()) : index_t(e.rowStride());
        return strided_view<P, 1>(e.data(), {index_t(e.size())}, {step});
    } else {
        return strided_view<P, 2>(e.data(), {index_t(e.rows()), index_t(e.cols())},
                                  {index_t(e.rowStride()), index_t(e.colStride())});
    }
}

} // namespace detail

template <class E>
    requires detail::eigen_dense<E>
struct view_traits<E> {
    static auto view(E& e) { return detail::eigen_view<E>(e); }
    static auto view(const E& e) { return detail::eigen_view<E>(e); }
};

} // namespace detseg

#endif // DETSEG_BACKEND_EIGEN_HPP
