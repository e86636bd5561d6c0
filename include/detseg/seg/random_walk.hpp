#ifndef DETSEG_SEG_RANDOM_WALK_HPP
#define DETSEG_SEG_RANDOM_WALK_HPP

/// @file
/// The affinity random walk of AffinityNet / PSA (Ahn & Kwak, CVPR 2018) and IRN (Ahn, Cho &
/// Kwak, CVPR 2019): `vec(M*_c) = T^t · vec(M_c)` for every map c, with the sparse transition
/// matrix `T = D⁻¹ A^β` of `affinity.hpp`. PSA's `logt` and IRN's `exp_times` = e square the
/// dense matrix e times: `t = 2^e` steps (`steps_from_exp_times`). detseg applies the t steps
/// to the maps instead, so memory stays O(pixels × neighbours).
///
///     auto trans = detseg::boundary_transition(boundary, {.radius = 5, .beta = 10});
///     auto rw = detseg::random_walk(trans, cams, {.steps = detseg::steps_from_exp_times(8)});

#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/seg/affinity.hpp>
#include <detseg/seg/detail/cam_common.hpp>
#include <detseg/seg/detail/random_walk_kernel.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace detseg {

/// Options of `random_walk`.
struct random_walk_params {
    /// Number t of applications of T; ≥ 0 (0 copies the maps). PSA/IRN: 2^8 = 256.
    index_t steps = 256;
};

/// `2^exp_times`: the steps of PSA's `logt` / IRN's `exp_times` matrix squarings.
/// @throws detseg::invalid_argument if exp_times is not in [0, 30].
[[nodiscard]] inline index_t steps_from_exp_times(int exp_times) {
    DETSEG_REQUIRE(exp_times >= 0 && exp_times <= 30, "steps_from_exp_times", "exp_times",
                   "must be in [0, 30], got ", exp_times);
    return index_t{1} << exp_times;
}

namespace detail {

template <class T, class M, class Out>
void random_walk_into(const random_walk_transition<T>& trans, const strided_view<const M, 3>& m,
                      Out o, index_t steps) {
    const index_t c = m.extent(0), h = trans.height(), w = trans.width(), r = trans.radius();
    const index_t pitch = w + 2 * r, plane = (h + 2 * r) * pitch;
    std::vector<T> a = padded_planes<T>(m, r), b(a.size(), T(0));
    std::vector<index_t> disp;
    for (const auto& d : trans.offsets())
        disp.push_back(d.dy * pitch + d.dx);
    const rw_step<T> s{trans.weights().data_handle(),
                       disp.data(),
                       static_cast<index_t>(disp.size()),
                       h * w,
                       w,
                       pitch,
                       plane,
                       c,
                       r};
    T* cur = a.data();
    T* nxt = b.data();
    // Rows in chunks of ~16k pixels: boundaries depend only on the size, never on threads.
    const index_t grain = w > 0 ? (16384 + w - 1) / w : 1;
    for (index_t t = 0; t < steps; ++t) {
        parallel_for_chunks(h, grain,
                            [&](index_t y0, index_t y1) { rw_rows(s, cur, nxt, y0, y1); });
        std::swap(cur, nxt);
    }
    unpad_planes(cur, r, o);
}

template <class T, class M>
void check_random_walk(const random_walk_transition<T>& trans, const strided_view<const M, 3>& m,
                       const random_walk_params& p, const char* fn) {
    DETSEG_REQUIRE(m.extent(1) == trans.height() && m.extent(2) == trans.width(), fn, "maps",
                   "maps are ", m.extent(1), "x", m.extent(2), ", the transition is ",
                   trans.height(), "x", trans.width());
    DETSEG_REQUIRE(p.steps >= 0, fn, "params", "steps must be >= 0, got ", p.steps);
    require_finite(m, fn, "maps");
}

} // namespace detail

/// Applies `T` `steps` times to every map of `maps` (C×H×W, H×W = the transition's grid):
/// `x ← T·x`, i.e. `x'(p) = Σ_o T(o, p) · x(p + offset_o)`, written into `out` (C×H×W).
/// Runs in the transition's type T (float: AVX2 + FMA where available, see
/// detail/random_walk_kernel.hpp); the sum over the neighbours of a pixel has a fixed order, so
/// the result is the same for any thread count. O(steps · C · H·W · neighbours) time,
/// O(C·(H+2r)·(W+2r)) extra memory; rows in parallel.
/// @throws detseg::invalid_argument if the maps' H×W differs from the transition's or holds
///         NaN/inf (`maps`), steps < 0 (`params`), or `out` is not C×H×W.
template <class T, class Maps, float_output<3> Out>
void random_walk(const random_walk_transition<T>& transition, const Maps& maps, Out&& out,
                 const random_walk_params& params = {}) {
    constexpr const char* fn = "random_walk";
    const auto m = detail::cam_input<3>(maps, fn, "maps");
    detail::check_random_walk(transition, m, params, fn);
    auto o = detail::cam_output<3>(std::forward<Out>(out), m.extents(), fn, "out");
    detail::random_walk_into(transition, m, o, params.steps);
}

/// `random_walk` returning a C×H×W `tensor<T, 3>`.
template <class T, class Maps>
[[nodiscard]] tensor<T, 3> random_walk(const random_walk_transition<T>& transition,
                                       const Maps& maps, const random_walk_params& params = {}) {
    constexpr const char* fn = "random_walk";
    const auto m = detail::cam_input<3>(maps, fn, "maps");
    detail::check_random_walk(transition, m, params, fn);
    tensor<T, 3> out(m.extents());
    detail::random_walk_into(transition, m, out.view(), params.steps);
    return out;
}

} // namespace detseg

#endif // DETSEG_SEG_RANDOM_WALK_HPP
