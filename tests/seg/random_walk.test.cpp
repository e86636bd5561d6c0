// psa_transition, boundary_transition, affinity_transition and random_walk: PyTorch sparse
// fixtures (tests/reference/gen_cam_fixtures.py), long-double brute-force oracles on random
// grids, thread-count independence, bad input.
#include <detseg/core/parallel.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/random_walk.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"
#include "support/threads.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace {

using detseg::index_t;
using testing::cam_fixture;
using testing::max_rel;

template <class T, std::size_t R>
detseg::strided_view<const T, R> cv(const detseg::tensor<T, R>& t) {
    return t.view();
}

/// The transition of the definition, brute force in long double: T[i][j] for all pixel pairs
/// (N×N, small grids only), from an affinity function a(i, j) on pairs within the radius.
template <class Aff>
std::vector<long double> oracle_transition(index_t h, index_t w, index_t r, double beta, Aff&& a) {
    const index_t n = h * w;
    std::vector<long double> t(static_cast<std::size_t>(n * n), 0.0L);
    for (index_t i = 0; i < n; ++i) {
        long double sum = 0;
        for (index_t j = 0; j < n; ++j) {
            const index_t dy = j / w - i / w, dx = j % w - i % w;
            if (dy * dy + dx * dx >= r * r)
                continue;
            const long double v = i == j ? 1.0L : std::pow(a(i, j), static_cast<long double>(beta));
            t[static_cast<std::size_t>(i * n + j)] = v;
            sum += v;
        }
        for (index_t j = 0; j < n; ++j)
            t[static_cast<std::size_t>(i * n + j)] /= sum;
    }
    return t;
}

/// x <- T x, steps times, long double; maps C×H×W.
template <class T>
std::vector<long double> oracle_walk(const std::vector<long double>& t,
                                     const detseg::tensor<T, 3>& m, index_t steps) {
    const index_t c = m.extent(0), n = m.extent(1) * m.extent(2);
    std::vector<long double> x(m.flat().begin(), m.flat().end()), y(x.size());
    for (index_t s = 0; s < steps; ++s) {
        for (index_t k = 0; k < c; ++k)
            for (index_t i = 0; i < n; ++i) {
                long double acc = 0;
                for (index_t j = 0; j < n; ++j)
                    acc += t[static_cast<std::size_t>(i * n + j)] *
                           x[static_cast<std::size_t>(k * n + j)];
                y[static_cast<std::size_t>(k * n + i)] = acc;
            }
        std::swap(x, y);
    }
    return x;
}

/// Checks a transition's weights against the N×N oracle.
template <class T>
double weights_error(const detseg::random_walk_transition<T>& tr,
                     const std::vector<long double>& t) {
    const index_t h = tr.height(), w = tr.width(), n = h * w;
    const auto wv = tr.weights();
    double worst = 0;
    for (std::size_t o = 0; o < tr.offsets().size(); ++o) {
        const auto d = tr.offsets()[o];
        for (index_t y = 0; y < h; ++y)
            for (index_t x = 0; x < w; ++x) {
                const index_t yy = y + d.dy, xx = x + d.dx;
                const bool inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
                const long double want =
                    inside ? t[static_cast<std::size_t>((y * w + x) * n + yy * w + xx)] : 0.0L;
                worst = std::max(
                    worst, static_cast<double>(std::abs(wv(static_cast<index_t>(o), y, x) - want)));
            }
    }
    return worst;
}

/// Whether pixel k lies on IRN's path between i and j (brute force, geometric test).
bool on_path(index_t w, index_t i, index_t j, index_t k) {
    const long double yi = i / w, xi = i % w, yj = j / w, xj = j % w, yk = k / w, xk = k % w;
    if (yk < std::min(yi, yj) || yk > std::max(yi, yj) || xk < std::min(xi, xj) ||
        xk > std::max(xi, xj))
        return false;
    const long double dy = yj - yi, dx = xj - xi;
    const long double dist =
        std::abs(dy * (xk - xi) - dx * (yk - yi)) / std::sqrt(dy * dy + dx * dx);
    return dist < 1.0L - 1e-12L;
}

} // namespace

TEST_CASE("psa_transition and random_walk equal the PyTorch sparse random walk") {
    const auto f = cam_fixture<float, 3>("rw_psa_features");
    const auto maps = cam_fixture<float, 3>("rw_maps");
    for (bool mean : {false, true}) {
        const std::string tag = mean ? "mean" : "sum";
        CAPTURE(tag);
        const auto tr =
            detseg::psa_transition(f, {.radius = 5,
                                       .beta = 8.0,
                                       .distance = mean ? detseg::feature_distance::l1_mean
                                                        : detseg::feature_distance::l1});
        const auto wref = cam_fixture<double, 3>("rw_psa_" + tag + "_weights");
        CHECK(max_rel(tr.weights(), cv(wref), 1e-6) <= 1e-5);
        const auto rw = detseg::random_walk(tr, maps, {.steps = 32});
        CHECK(max_rel(cv(rw), cv(cam_fixture<double, 3>("rw_psa_" + tag + "_expected")), 1e-6) <=
              1e-5);
        // in double the walk is within float64 rounding of the reference
        detseg::tensor<double, 3> fd(f.extents()), md(maps.extents());
        std::copy(f.flat().begin(), f.flat().end(), fd.flat().begin());
        std::copy(maps.flat().begin(), maps.flat().end(), md.flat().begin());
        const auto trd =
            detseg::psa_transition(fd, {.radius = 5,
                                        .beta = 8.0,
                                        .distance = mean ? detseg::feature_distance::l1_mean
                                                         : detseg::feature_distance::l1});
        const auto rwd = detseg::random_walk(trd, md, {.steps = 32});
        CHECK(max_rel(cv(rwd), cv(cam_fixture<double, 3>("rw_psa_" + tag + "_expected")), 1e-6) <=
              1e-12);
    }
}

TEST_CASE("boundary_transition and affinity_transition equal the PyTorch references") {
    const auto maps = cam_fixture<float, 3>("rw_maps");
    const auto b = cam_fixture<float, 2>("rw_boundary");
    const auto tr = detseg::boundary_transition(b, {.radius = 5, .beta = 10.0});
    CHECK(tr.offsets().size() == 69);
    CHECK(max_rel(tr.weights(), cv(cam_fixture<double, 3>("rw_irn_weights")), 1e-6) <= 1e-5);
    const auto rw = detseg::random_walk(tr, maps, {.steps = 16});
    CHECK(max_rel(cv(rw), cv(cam_fixture<double, 3>("rw_irn_expected")), 1e-6) <= 1e-5);

    const auto given = cam_fixture<float, 3>("rw_given_affinity");
    const auto tg = detseg::affinity_transition(given, {.radius = 3, .beta = 3.0});
    const auto rg = detseg::random_walk(tg, maps, {.steps = 8});
    CHECK(max_rel(cv(rg), cv(cam_fixture<double, 3>("rw_given_expected")), 1e-6) <= 1e-5);
}

TEST_CASE_TEMPLATE("transitions and walks equal brute-force oracles on random grids", T, float,
                   double) {
    std::mt19937_64 g(777);
    std::uniform_real_distribution<double> u(0, 1);
    const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
    for (int rep = 0; rep < 9; ++rep) {
        const index_t h = 3 + rep % 4, w = 4 + (rep * 3) % 5, r = 1 + rep % 4, c = 2;
        const double beta = 1 + 9 * u(g);
        const index_t steps = 1 + rep * 3;
        detseg::tensor<T, 3> maps({c, h, w});
        for (auto& v : maps.flat())
            v = static_cast<T>(u(g));
        CAPTURE(rep);
        // PSA features
        detseg::tensor<T, 3> f({3, h, w});
        for (auto& v : f.flat())
            v = static_cast<T>(u(g) * 0.5);
        const auto tp = detseg::psa_transition(f, {.radius = r, .beta = beta});
        const auto op = oracle_transition(h, w, r, beta, [&](index_t i, index_t j) {
            long double s = 0;
            for (index_t k = 0; k < 3; ++k)
                s += std::abs(static_cast<long double>(f(k, i / w, i % w)) - f(k, j / w, j % w));
            return std::exp(-s);
        });
        CHECK(weights_error(tp, op) <= tol);
        const auto wp = detseg::random_walk(tp, maps, {.steps = steps});
        const auto owp = oracle_walk(op, maps, steps);
        for (index_t i = 0; i < wp.size(); ++i)
            CHECK(std::abs(static_cast<long double>(wp.flat()[i]) -
                           owp[static_cast<std::size_t>(i)]) <= tol * (1 + steps));
        // IRN boundary
        detseg::tensor<T, 2> b({h, w});
        for (auto& v : b.flat())
            v = static_cast<T>(u(g) < 0.3 ? u(g) : 0.05 * u(g));
        const auto tb = detseg::boundary_transition(b, {.radius = r, .beta = beta});
        const auto ob = oracle_transition(h, w, r, beta, [&](index_t i, index_t j) {
            long double m = 0;
            for (index_t k = 0; k < h * w; ++k)
                if (on_path(w, i, j, k))
                    m = std::max(m, static_cast<long double>(b(k / w, k % w)));
            return 1.0L - m;
        });
        CHECK(weights_error(tb, ob) <= tol);
        const auto wb = detseg::random_walk(tb, maps, {.steps = steps});
        const auto owb = oracle_walk(ob, maps, steps);
        for (index_t i = 0; i < wb.size(); ++i)
            CHECK(std::abs(static_cast<long double>(wb.flat()[i]) -
                           owb[static_cast<std::size_t>(i)]) <= tol * (1 + steps));
    }
}

TEST_CASE("random_walk gives identical results for any thread count") {
    std::mt19937_64 g(6);
    std::uniform_real_distribution<float> u(0, 1);
    detseg::tensor<float, 2> b({130, 150});
    for (auto& v : b.flat())
        v = u(g) * 0.5f;
    detseg::tensor<float, 3> maps({3, 130, 150});
    for (auto& v : maps.flat())
        v = u(g);
    const auto runs = testing::runs_with_1_2_3_threads([&] {
        const auto tr = detseg::boundary_transition(b);
        return detseg::random_walk(tr, maps, {.steps = 6});
    });
    CHECK(runs[0] == runs[1]);
    CHECK(runs[0] == runs[2]);
}

TEST_CASE("the portable and the dispatched random-walk loops agree") {
    // The AVX2 + FMA loop (where the CPU has it) and the portable loop: same sum order, they
    // differ only by the rounding of the fused multiply-adds. Widths cover full 32-pixel
    // blocks, 8-pixel vectors and masked tails.
    std::mt19937_64 g(9);
    std::uniform_real_distribution<float> u(0, 1);
    for (index_t w : {1, 7, 8, 13, 32, 45, 77}) {
        const index_t h = 9, c = 3;
        detseg::tensor<float, 2> b({h, w});
        for (auto& v : b.flat())
            v = u(g) * 0.6f;
        const auto tr = detseg::boundary_transition(b, {.radius = 3, .beta = 4.0});
        const index_t r = 3, pitch = w + 2 * r, plane = (h + 2 * r) * pitch;
        std::vector<float> in(static_cast<std::size_t>(c * plane), 0.0f), o1(in.size(), 0.0f),
            o2(in.size(), 0.0f);
        for (index_t k = 0; k < c; ++k)
            for (index_t y = 0; y < h; ++y)
                for (index_t x = 0; x < w; ++x)
                    in[static_cast<std::size_t>(k * plane + (y + r) * pitch + x + r)] = u(g);
        std::vector<index_t> disp;
        for (const auto& d : tr.offsets())
            disp.push_back(d.dy * pitch + d.dx);
        const detseg::detail::rw_step<float> s{tr.weights().data_handle(),
                                               disp.data(),
                                               static_cast<index_t>(disp.size()),
                                               h * w,
                                               w,
                                               pitch,
                                               plane,
                                               c,
                                               r};
        detseg::detail::rw_rows_portable(s, in.data(), o1.data(), 0, h);
        detseg::detail::rw_rows(s, in.data(), o2.data(), 0, h);
        double worst = 0;
        for (std::size_t i = 0; i < o1.size(); ++i)
            worst = std::max(worst, static_cast<double>(std::abs(o1[i] - o2[i])));
        CAPTURE(w);
        CHECK(worst <= 1e-6);
        // the padding stays untouched (zero)
        CHECK(o2[0] == 0.0f);
        CHECK(o2[static_cast<std::size_t>(plane - 1)] == 0.0f);
    }
}

TEST_CASE("random_walk rejects bad input with invalid_argument") {
    using testing::expect_invalid;
    detseg::tensor<float, 2> b({5, 6}, 0.2f);
    const auto tr = detseg::boundary_transition(b);
    detseg::tensor<float, 3> maps({3, 5, 7}, 0.5f);
    expect_invalid([&] { (void)detseg::random_walk(tr, maps); }, "random_walk", "maps");
    detseg::tensor<float, 3> ok({3, 5, 6}, 0.5f);
    expect_invalid([&] { (void)detseg::random_walk(tr, ok, {.steps = -1}); }, "random_walk",
                   "params");
    auto okn = ok;
    okn(0, 0, 0) = INFINITY;
    expect_invalid([&] { (void)detseg::random_walk(tr, okn); }, "random_walk", "maps");
    detseg::tensor<float, 3> out({2, 5, 6});
    expect_invalid([&] { detseg::random_walk(tr, ok, out); }, "random_walk", "out");
    CHECK(detseg::steps_from_exp_times(8) == 256);
    CHECK(detseg::steps_from_exp_times(0) == 1);
    expect_invalid([] { (void)detseg::steps_from_exp_times(-1); }, "steps_from_exp_times",
                   "exp_times");
    expect_invalid([] { (void)detseg::steps_from_exp_times(31); }, "steps_from_exp_times",
                   "exp_times");
}

TEST_CASE("random_walk: rows of T sum to 1, constant maps stay constant, 0 steps copy") {
    std::mt19937_64 g(5);
    std::uniform_real_distribution<float> u(0, 1);
    detseg::tensor<float, 3> f({4, 17, 45});
    for (auto& v : f.flat())
        v = u(g);
    const auto tr = detseg::psa_transition(f, {.radius = 4, .beta = 2.0});
    const auto wv = tr.weights();
    for (index_t y = 0; y < 17; ++y)
        for (index_t x = 0; x < 45; ++x) {
            double s = 0;
            for (index_t o = 0; o < wv.extent(0); ++o) {
                CHECK(wv(o, y, x) >= 0.0f);
                s += wv(o, y, x);
            }
            CHECK(std::abs(s - 1.0) <= 1e-5);
        }
    detseg::tensor<float, 3> ones({2, 17, 45}, 0.75f);
    const auto r = detseg::random_walk(tr, ones, {.steps = 20});
    for (float v : r.flat())
        CHECK(std::abs(v - 0.75f) <= 1e-5f);
    CHECK(detseg::random_walk(tr, ones, {.steps = 0}) == ones);
    // maps stored H×W×C (channels last) through strides: the same walk
    detseg::tensor<float, 3> maps({3, 17, 45});
    for (auto& v : maps.flat())
        v = u(g);
    std::vector<float> hwc(static_cast<std::size_t>(maps.size()));
    for (index_t c = 0; c < 3; ++c)
        for (index_t y = 0; y < 17; ++y)
            for (index_t x = 0; x < 45; ++x)
                hwc[static_cast<std::size_t>((y * 45 + x) * 3 + c)] = maps(c, y, x);
    const auto view =
        detseg::make_view(static_cast<const float*>(hwc.data()), {3, 17, 45}, {1, 45 * 3, 3});
    CHECK(detseg::random_walk(tr, view, {.steps = 5}) ==
          detseg::random_walk(tr, maps, {.steps = 5}));
}
