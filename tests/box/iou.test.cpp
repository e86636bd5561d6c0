#include <detseg/box/iou.hpp>

#include "support/backends.hpp"
#include "support/fixtures.hpp"
#include "support/oracle.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <tuple>

using detseg::index_t;
using testing::metric;

namespace {

template <metric M, class A, class B>
auto pairwise(A&& a, B&& b) {
    if constexpr (M == metric::iou)
        return detseg::pairwise_iou(a, b);
    else if constexpr (M == metric::giou)
        return detseg::pairwise_giou(a, b);
    else if constexpr (M == metric::diou)
        return detseg::pairwise_diou(a, b);
    else if constexpr (M == metric::ciou)
        return detseg::pairwise_ciou(a, b);
    else
        return detseg::pairwise_ioa(a, b);
}

template <metric M, class A, class B, class O>
void pairwise_out(A&& a, B&& b, O&& o) {
    if constexpr (M == metric::iou)
        detseg::pairwise_iou(a, b, o);
    else if constexpr (M == metric::giou)
        detseg::pairwise_giou(a, b, o);
    else if constexpr (M == metric::diou)
        detseg::pairwise_diou(a, b, o);
    else if constexpr (M == metric::ciou)
        detseg::pairwise_ciou(a, b, o);
    else
        detseg::pairwise_ioa(a, b, o);
}

template <metric M, class A, class B>
auto elementwise(A&& a, B&& b) {
    if constexpr (M == metric::iou)
        return detseg::elementwise_iou(a, b);
    else if constexpr (M == metric::giou)
        return detseg::elementwise_giou(a, b);
    else if constexpr (M == metric::diou)
        return detseg::elementwise_diou(a, b);
    else if constexpr (M == metric::ciou)
        return detseg::elementwise_ciou(a, b);
    else
        return detseg::elementwise_ioa(a, b);
}

template <metric M, class T>
T scalar(const detseg::box<T>& a, const detseg::box<T>& b) {
    if constexpr (M == metric::iou)
        return detseg::iou(a, b);
    else if constexpr (M == metric::giou)
        return detseg::giou(a, b);
    else if constexpr (M == metric::diou)
        return detseg::diou(a, b);
    else if constexpr (M == metric::ciou)
        return detseg::ciou(a, b);
    else
        return detseg::ioa(a, b);
}

template <class T>
detseg::box<T> row(const detseg::tensor<T, 2>& t, index_t i) {
    return {t(i, 0), t(i, 1), t(i, 2), t(i, 3)};
}

template <class T>
testing::oracle_box<T> obox(const detseg::tensor<T, 2>& t, index_t i) {
    return {t(i, 0), t(i, 1), t(i, 2), t(i, 3)};
}

// IoU, GIoU and DIoU follow torchvision's operation order exactly, so they must be bit-exact with
// any compiler flags (FMA contraction included: see core/detail/fp.hpp). CIoU is too where
// std::atan is glibc's, which the fixtures were generated to match; elsewhere, the tolerance.
bool expect_bit_exact(metric m) {
#if defined(__GLIBC__)
    (void)m;
    return true;
#else
    return m != metric::ciou;
#endif
}

// Compares a detseg N×M result against torchvision's. Where torchvision gives NaN, detseg's
// documented finite value is checked against the long-double oracle instead.
template <class T, class Result>
void expect_matches_torchvision(metric m, const detseg::tensor<T, 2>& a,
                                const detseg::tensor<T, 2>& b, const detseg::tensor<T, 2>& ref,
                                const Result& got, const std::string& what) {
    const T tol = sizeof(T) == 4 ? T(1e-6) : T(1e-12);
    long long max_ulp = 0;
    int mismatches = 0, nan_cells = 0;
    for (index_t i = 0; i < ref.extent(0); ++i)
        for (index_t j = 0; j < ref.extent(1); ++j) {
            const T r = ref(i, j);
            const T g = static_cast<T>(got(i, j));
            if (!std::isfinite(g)) {
                ++mismatches;
                continue;
            }
            if (std::isnan(r)) {
                ++nan_cells;
                // Degenerate cells are ill-conditioned (eps dominates): follow T's rounding.
                const T o = testing::oracle<T>(m, obox(a, i), obox(b, j));
                if (std::abs(g - o) > T(1e-5) * std::max(T(1), std::abs(o)))
                    ++mismatches;
                continue;
            }
            max_ulp = std::max(max_ulp, testing::ulp_distance(r, g));
            const bool ok =
                expect_bit_exact(m) ? g == r : std::abs(g - r) <= tol * std::max(T(1), std::abs(r));
            if (!ok)
                ++mismatches;
        }
    INFO(what, " metric=", std::string(testing::metric_name(m)), " max_ulp=", max_ulp,
         " nan_cells=", nan_cells);
    CHECK(mismatches == 0);
}

template <metric M, class T>
void check_set(const std::string& set) {
    const auto a = testing::box_fixture<T, 2>(set, "a");
    const auto b = testing::box_fixture<T, 2>(set, "b");
    const auto ref = testing::box_fixture<T, 2>(set, testing::metric_name(M));
    REQUIRE(ref.extent(0) == a.extent(0));
    REQUIRE(ref.extent(1) == b.extent(0));

    // Every backend for boxes1, paired with another backend for boxes2.
    testing::for_each_backend_pair([&]<class BA, class BB>() {
        BA::with(a, [&](auto&& sa) {
            BB::with(b, [&](auto&& sb) {
                const auto got = pairwise<M>(sa, sb);
                expect_matches_torchvision(M, a, b, ref, got,
                                           set + " / " + BA::name + " x " + BB::name);
            });
        });
    });

    // Outputs: an Eigen column-major matrix, an xtensor, a transposed strided view.
    const index_t n = a.extent(0), m = b.extent(0);
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> em(n, m);
    pairwise_out<M>(a, b, em);
    expect_matches_torchvision(M, a, b, ref, em, set + " / out Eigen");
    xt::xtensor<T, 2> xo = xt::zeros<T>({std::size_t(n), std::size_t(m)});
    pairwise_out<M>(a, b, xo);
    expect_matches_torchvision(M, a, b, ref, xo, set + " / out xtensor");
    std::vector<T> buf(static_cast<std::size_t>(n * m));
    auto tv = detseg::make_view(buf.data(), {n, m}, {index_t{1}, n});
    pairwise_out<M>(a, b, tv);
    expect_matches_torchvision(M, a, b, ref, tv, set + " / out column-major view");

    // Element-wise and scalar forms agree with the pairwise diagonal / entries bit for bit.
    const auto full = pairwise<M>(a, b);
    const index_t k = std::min(n, m);
    std::vector<std::array<T, 4>> ak, bk;
    for (index_t i = 0; i < k; ++i) {
        ak.push_back({a(i, 0), a(i, 1), a(i, 2), a(i, 3)});
        bk.push_back({b(i, 0), b(i, 1), b(i, 2), b(i, 3)});
    }
    const auto diag = elementwise<M>(ak, bk);
    CAPTURE(std::string(testing::metric_name(M)));
    REQUIRE(diag.extent(0) == k);
    for (index_t i = 0; i < k; ++i) {
        CHECK(diag(i) == full(i, i));
        CHECK(scalar<M>(row(a, i), row(b, i)) == full(i, i));
    }
}

} // namespace

TEST_CASE_TEMPLATE("pairwise IoU family equals torchvision on every set and backend", T, float,
                   double) {
    for (const std::string set : {"clustered", "uniform", "edge"}) {
        CAPTURE(set);
        check_set<metric::iou, T>(set);
        check_set<metric::giou, T>(set);
        check_set<metric::diou, T>(set);
        check_set<metric::ciou, T>(set);
    }
}

TEST_CASE_TEMPLATE("pairwise IoU accepts inverted boxes: 0, as torchvision where finite", T, float,
                   double) {
    const auto a = testing::box_fixture<T, 2>("inverted", "a");
    const auto b = testing::box_fixture<T, 2>("inverted", "b");
    const auto ref = testing::box_fixture<T, 2>("inverted", "iou");
    const auto got = detseg::pairwise_iou(a, b);
    expect_matches_torchvision(metric::iou, a, b, ref, got, "inverted");
    const auto ioa = detseg::pairwise_ioa(a, b);
    for (index_t i = 0; i < a.extent(0); ++i)
        for (index_t j = 0; j < b.extent(0); ++j) {
            const bool inv =
                a(i, 2) < a(i, 0) || a(i, 3) < a(i, 1) || b(j, 2) < b(j, 0) || b(j, 3) < b(j, 1);
            if (inv) {
                CHECK(got(i, j) == T(0));
                CHECK(ioa(i, j) == T(0));
            }
        }
}

TEST_CASE_TEMPLATE("IoU family agrees with a long-double oracle on random boxes", T, float,
                   double) {
    std::mt19937_64 rng(1234);
    const T tol = sizeof(T) == 4 ? T(2e-5) : T(1e-12);
    for (int trial = 0; trial < 20; ++trial) {
        const auto a = testing::random_boxes<T>(rng, 1 + trial * 7);
        const auto b = testing::random_boxes<T>(rng, 1 + trial * 5);
        for (metric mm : {metric::iou, metric::giou, metric::diou, metric::ciou, metric::ioa}) {
            detseg::tensor<T, 2> got;
            switch (mm) {
            case metric::iou: got = detseg::pairwise_iou(a, b); break;
            case metric::giou: got = detseg::pairwise_giou(a, b); break;
            case metric::diou: got = detseg::pairwise_diou(a, b); break;
            case metric::ciou: got = detseg::pairwise_ciou(a, b); break;
            case metric::ioa: got = detseg::pairwise_ioa(a, b); break;
            }
            int bad = 0;
            for (std::size_t i = 0; i < a.size(); ++i)
                for (std::size_t j = 0; j < b.size(); ++j) {
                    const auto& p = a[i];
                    const auto& q = b[j];
                    const auto o = testing::oracle<long double>(mm, {p[0], p[1], p[2], p[3]},
                                                                {q[0], q[1], q[2], q[3]});
                    if (std::abs(static_cast<long double>(got(index_t(i), index_t(j))) - o) > tol)
                        ++bad;
                }
            INFO("metric ", testing::metric_name(mm), " trial ", trial);
            CHECK(bad == 0);
        }
    }
}

TEST_CASE_TEMPLATE("IoU properties: symmetry, self-IoU, bounds", T, float, double) {
    std::mt19937_64 rng(99);
    const auto a = testing::random_boxes<T>(rng, 60);
    const auto m = detseg::pairwise_iou(a, a);
    const auto g = detseg::pairwise_giou(a, a);
    const auto d = detseg::pairwise_diou(a, a);
    for (index_t i = 0; i < m.extent(0); ++i) {
        const auto& bi = a[std::size_t(i)];
        const bool degenerate = bi[2] == bi[0] || bi[3] == bi[1];
        CHECK(m(i, i) == (degenerate ? T(0) : T(1)));
        for (index_t j = 0; j < m.extent(1); ++j) {
            CHECK(m(i, j) == m(j, i));
            CHECK(m(i, j) >= T(0));
            CHECK(m(i, j) <= T(1));
            CHECK(g(i, j) >= T(-1));
            CHECK(g(i, j) <= m(i, j) + std::numeric_limits<T>::epsilon());
            CHECK(d(i, j) <= m(i, j));
        }
    }
}

TEST_CASE("degenerate boxes give the documented finite values") {
    using B = detseg::box<float>;
    const B point{5, 5, 5, 5}, line{0, 2, 10, 2}, unit{0, 0, 1, 1}, inverted{4, 4, 2, 6};
    CHECK(detseg::iou(point, point) == 0.0f);
    CHECK(detseg::iou(line, line) == 0.0f);
    CHECK(detseg::giou(point, point) == 0.0f); // enclosing area 0
    CHECK(detseg::giou(line, line) == 0.0f);
    CHECK(detseg::giou(point, B{7, 7, 7, 7}) == -1.0f);
    CHECK(detseg::diou(point, point) == 0.0f);
    CHECK(detseg::ciou(point, point) == 0.0f);
    CHECK(std::isfinite(detseg::ciou(point, unit)));
    CHECK(detseg::ciou(point, unit) == detseg::diou(point, unit)); // v = 0 for a point box
    CHECK(detseg::ioa(point, unit) == 0.0f);
    CHECK(detseg::ioa(unit, B{0, 0, 2, 2}) == 1.0f);
    CHECK(detseg::ioa(B{0, 0, 2, 2}, unit) == 0.25f);
    CHECK(detseg::iou(inverted, unit) == 0.0f);
    CHECK(detseg::iou(inverted, inverted) == 0.0f);
    CHECK(detseg::iou(unit, B{1, 0, 2, 1}) == 0.0f); // touching
}

TEST_CASE("mixed float and double boxes compute in double") {
    const std::vector<float> a = {0, 0, 3, 3};
    const std::vector<double> b = {1, 1, 4, 4};
    const auto m = detseg::pairwise_iou(a, b);
    static_assert(std::is_same_v<decltype(m), const detseg::tensor<double, 2>>);
    CHECK(m(0, 0) == doctest::Approx(4.0 / 14.0).epsilon(1e-15));
}

TEST_CASE("empty inputs give empty results") {
    const std::vector<float> none;
    const std::vector<float> one = {0, 0, 1, 1};
    CHECK(detseg::pairwise_iou(none, one).extent(0) == 0);
    CHECK(detseg::pairwise_iou(none, one).extent(1) == 1);
    CHECK(detseg::pairwise_iou(one, none).size() == 0);
    CHECK(detseg::elementwise_ciou(none, none).size() == 0);
    detseg::tensor<float, 2> out({0, 1});
    detseg::pairwise_giou(none, one, out);
}

TEST_CASE("results do not depend on the thread count") {
    std::mt19937_64 rng(7);
    const auto a = testing::random_boxes<float>(rng, 700);
    const auto b = testing::random_boxes<float>(rng, 300);
    const auto ref = detseg::pairwise_ciou(a, b);
    const auto eref = detseg::elementwise_giou(a, a);
#if DETSEG_HAS_OPENMP
    const int saved = omp_get_max_threads();
    for (int t : {1, 2, 3, 5}) {
        omp_set_num_threads(t);
        CHECK(detseg::pairwise_ciou(a, b) == ref);
        CHECK(detseg::elementwise_giou(a, a) == eref);
    }
    omp_set_num_threads(saved);
#else
    CHECK(detseg::pairwise_ciou(a, b) == ref);
    CHECK(detseg::elementwise_giou(a, a) == eref);
#endif
}
