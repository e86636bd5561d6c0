// confusion_matrix: counts against a brute-force oracle on random maps (every label type, every
// counting path of the kernel), every backend and layout, thread counts, merging random shards,
// serialisation, and every rejected input.

#include <detseg/backend/eigen.hpp>
#include <detseg/backend/xtensor.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/metrics/confusion_matrix.hpp>

#include "support/errors.hpp"

#include <Eigen/Core>
#include <doctest/doctest.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

using detseg::confusion_matrix;
using detseg::confusion_matrix_params;
using detseg::index_t;
using detseg::out_of_range_policy;

namespace {

/// `std::in_range` and `std::cmp_*` do not take `char`: compare through a standard type.
template <class T>
using std_int =
    std::conditional_t<std::is_signed_v<T>, std::make_signed_t<T>, std::make_unsigned_t<T>>;

template <class T, class U>
bool in_range_of(U x) {
    return std::in_range<std_int<T>>(static_cast<std_int<U>>(x));
}

/// The counts every accumulator is checked against, from the documented rules, pixel by pixel.
struct oracle_counts {
    index_t c;
    std::vector<std::uint64_t> m, pred_oor, gt_oor;
    std::uint64_t both = 0, ignored = 0;
    explicit oracle_counts(index_t classes)
        : c(classes), m(std::size_t(classes * classes)), pred_oor(std::size_t(classes)),
          gt_oor(std::size_t(classes)) {}

    template <class G0, class P0>
    void add(G0 g0, P0 p0, std::optional<std::int64_t> ignore) {
        const auto g = static_cast<std_int<G0>>(g0);
        const auto p = static_cast<std_int<P0>>(p0);
        const long long gv = static_cast<long long>(g), pv = static_cast<long long>(p);
        if (ignore && std::cmp_equal(g, *ignore)) {
            ++ignored;
            return;
        }
        const bool gin = std::cmp_greater_equal(g, 0) && std::cmp_less(g, c);
        const bool pin = std::cmp_greater_equal(p, 0) && std::cmp_less(p, c);
        if (gin && pin)
            ++m[std::size_t(gv * c + pv)];
        else if (gin)
            ++pred_oor[std::size_t(gv)];
        else if (pin)
            ++gt_oor[std::size_t(pv)];
        else
            ++both;
    }
};

void check_equal(const confusion_matrix& cm, const oracle_counts& o) {
    REQUIRE(cm.num_classes() == o.c);
    const auto v = cm.matrix();
    std::size_t bad = 0;
    for (index_t i = 0; i < o.c; ++i)
        for (index_t j = 0; j < o.c; ++j)
            bad += v(i, j) != o.m[std::size_t(i * o.c + j)];
    CHECK(bad == 0);
    CHECK(std::vector<std::uint64_t>(cm.pred_out_of_range().begin(),
                                     cm.pred_out_of_range().end()) == o.pred_oor);
    CHECK(std::vector<std::uint64_t>(cm.gt_out_of_range().begin(), cm.gt_out_of_range().end()) ==
          o.gt_oor);
    CHECK(cm.both_out_of_range() == o.both);
    CHECK(cm.ignored() == o.ignored);
}

/// Random label maps of the kinds the kernel distinguishes: i.i.d. values, runs of random length
/// (uniform 32-pixel blocks, 8-pixel words and mixed bytes), and constant maps.
enum class pattern { iid, runs, long_runs, constant };

template <class T>
std::vector<T> random_values(std::mt19937_64& rng, std::size_t n, const std::vector<T>& pool,
                             pattern pat) {
    std::vector<T> v(n);
    std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
    std::size_t max_run = pat == pattern::runs ? 40 : 700;
    std::size_t i = 0;
    const T first = pool[pick(rng)];
    while (i < n) {
        std::size_t len = 1;
        if (pat == pattern::runs || pat == pattern::long_runs)
            len = std::uniform_int_distribution<std::size_t>(1, max_run)(rng);
        if (pat == pattern::constant)
            len = n;
        const T x = pat == pattern::constant ? first : pool[pick(rng)];
        for (std::size_t k = 0; k < len && i < n; ++k)
            v[i++] = x;
    }
    return v;
}

/// Values in range, the ignore index, and (when `oob`) values out of range.
template <class T>
std::vector<T> value_pool(index_t c, std::optional<std::int64_t> ignore, bool oob) {
    std::vector<T> pool;
    for (index_t k = 0; k < c; ++k)
        if (in_range_of<T>(k))
            pool.push_back(static_cast<T>(k));
    if (ignore && in_range_of<T>(*ignore))
        pool.push_back(static_cast<T>(*ignore));
    if (oob) {
        for (long long x : {-1LL, -128LL, static_cast<long long>(c), static_cast<long long>(c) + 1,
                            254LL, 255LL, 1000LL, 70000LL})
            if (in_range_of<T>(x) && !(ignore && x == *ignore))
                pool.push_back(static_cast<T>(x));
        pool.push_back(std::numeric_limits<T>::max());
        if (std::is_signed_v<T>)
            pool.push_back(std::numeric_limits<T>::min());
    }
    return pool;
}

/// Mixes a map with the other: a fraction of pixels from `b` (predictions agree mostly).
template <class T>
void agree(std::vector<T>& pred, const std::vector<T>& gt, std::mt19937_64& rng) {
    std::bernoulli_distribution copy(0.7);
    for (std::size_t i = 0; i < pred.size(); ++i)
        if (copy(rng) && in_range_of<T>(gt[i]))
            pred[i] = static_cast<T>(gt[i]);
}

template <class G, class P>
void random_property_case(std::mt19937_64& rng, index_t c, confusion_matrix_params params,
                          pattern pat, index_t h, index_t w) {
    const bool oob = params.out_of_range == out_of_range_policy::mmseg;
    const auto n = std::size_t(h * w);
    auto gt = random_values(rng, n, value_pool<G>(c, params.ignore_index, oob), pat);
    auto pred = random_values(rng, n, value_pool<P>(c, std::nullopt, oob), pat);
    if (pat != pattern::constant)
        for (std::size_t i = 0; i < n; ++i)
            if (std::bernoulli_distribution(0.6)(rng) &&
                std::cmp_greater_equal(static_cast<std_int<G>>(gt[i]), 0) &&
                std::cmp_less(static_cast<std_int<G>>(gt[i]), c))
                pred[i] = static_cast<P>(gt[i]);
    oracle_counts o(c);
    for (std::size_t i = 0; i < n; ++i)
        o.add(gt[i], pred[i], params.ignore_index);
    confusion_matrix cm(c, params);
    cm.update(detseg::make_view(gt.data(), {h, w}), detseg::make_view(pred.data(), {h, w}));
    check_equal(cm, o);
}

// --- label-map backends --------------------------------------------------------------------------
// The same H×W map presented through each kind of source `update` accepts. `with(t, f)` builds the
// storage from a row-major tensor and calls f(source).

struct lm_raw {
    static constexpr const char* name = "raw pointer view";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        f(detseg::make_view(t.data(), {t.extent(0), t.extent(1)}));
    }
};
struct lm_column_major {
    static constexpr const char* name = "column-major strided view";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        const index_t h = t.extent(0), w = t.extent(1);
        std::vector<T> buf(std::size_t(h * w));
        for (index_t i = 0; i < h; ++i)
            for (index_t j = 0; j < w; ++j)
                buf[std::size_t(j * h + i)] = t(i, j);
        f(detseg::make_view(static_cast<const T*>(buf.data()), {h, w}, {index_t{1}, h}));
    }
};
struct lm_flipped_padded {
    static constexpr const char* name = "rows flipped (negative stride) and padded";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        const index_t h = t.extent(0), w = t.extent(1), pitch = w + 5;
        std::vector<T> buf(std::size_t(h * pitch), T(7));
        for (index_t i = 0; i < h; ++i)
            for (index_t j = 0; j < w; ++j)
                buf[std::size_t((h - 1 - i) * pitch + j)] = t(i, j);
        f(detseg::make_view(static_cast<const T*>(buf.data() + (h - 1) * pitch), {h, w},
                            {-pitch, index_t{1}}));
    }
};
struct lm_flat_vector {
    static constexpr const char* name = "flat std::vector (rank 1)";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        const std::vector<T> v(t.flat().begin(), t.flat().end());
        f(v);
    }
};
struct lm_span {
    static constexpr const char* name = "std::span (rank 1)";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        f(std::span<const T>(t.flat()));
    }
};
struct lm_tensor3 {
    static constexpr const char* name = "detseg::tensor 1xHxW (rank 3)";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        detseg::tensor<T, 3> x({1, t.extent(0), t.extent(1)});
        std::copy(t.flat().begin(), t.flat().end(), x.flat().begin());
        f(x);
    }
};
struct lm_eigen_row_major {
    static constexpr const char* name = "Eigen row-major Matrix";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(t.extent(0),
                                                                            t.extent(1));
        for (index_t i = 0; i < t.extent(0); ++i)
            for (index_t j = 0; j < t.extent(1); ++j)
                m(i, j) = t(i, j);
        f(std::as_const(m));
    }
};
struct lm_eigen_col_major {
    static constexpr const char* name = "Eigen column-major Matrix";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> m(t.extent(0), t.extent(1));
        for (index_t i = 0; i < t.extent(0); ++i)
            for (index_t j = 0; j < t.extent(1); ++j)
                m(i, j) = t(i, j);
        f(m);
    }
};
struct lm_eigen_block {
    static constexpr const char* name = "Eigen Block of a Map";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        const index_t h = t.extent(0), w = t.extent(1);
        std::vector<T> buf(std::size_t((h + 3) * (w + 2)), T(9));
        Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> big(
            buf.data(), h + 3, w + 2);
        for (index_t i = 0; i < h; ++i)
            for (index_t j = 0; j < w; ++j)
                big(i + 2, j + 1) = t(i, j);
        f(big.block(2, 1, h, w));
    }
};
struct lm_xtensor {
    static constexpr const char* name = "xt::xtensor<T, 2>";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        xt::xtensor<T, 2> x = xt::zeros<T>({std::size_t(t.extent(0)), std::size_t(t.extent(1))});
        for (index_t i = 0; i < t.extent(0); ++i)
            for (index_t j = 0; j < t.extent(1); ++j)
                x(std::size_t(i), std::size_t(j)) = t(i, j);
        f(std::as_const(x));
    }
};
struct lm_xarray_column_major {
    static constexpr const char* name = "xt::xarray column-major (run-time rank)";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        xt::xarray<T, xt::layout_type::column_major> x =
            xt::zeros<T>({std::size_t(t.extent(0)), std::size_t(t.extent(1))});
        for (index_t i = 0; i < t.extent(0); ++i)
            for (index_t j = 0; j < t.extent(1); ++j)
                x(std::size_t(i), std::size_t(j)) = t(i, j);
        f(x);
    }
};
struct lm_xadapt {
    static constexpr const char* name = "xt::adapt(pointer)";
    template <class T, class F>
    static void with(const detseg::tensor<T, 2>& t, F&& f) {
        std::vector<T> buf(t.flat().begin(), t.flat().end());
        std::array<std::size_t, 2> shape{std::size_t(t.extent(0)), std::size_t(t.extent(1))};
        auto x = xt::adapt(buf.data(), buf.size(), xt::no_ownership(), shape);
        f(x);
    }
};

using label_backends = std::tuple<lm_raw, lm_column_major, lm_flipped_padded, lm_flat_vector,
                                  lm_span, lm_tensor3, lm_eigen_row_major, lm_eigen_col_major,
                                  lm_eigen_block, lm_xtensor, lm_xarray_column_major, lm_xadapt>;

template <class F>
void for_each_label_backend(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (f.template operator()<std::tuple_element_t<I, label_backends>>(), ...);
    }
    (std::make_index_sequence<std::tuple_size_v<label_backends>>{});
}

template <class T>
detseg::tensor<T, 2> to_tensor(const std::vector<T>& v, index_t h, index_t w) {
    detseg::tensor<T, 2> t({h, w});
    std::copy(v.begin(), v.end(), t.flat().begin());
    return t;
}

} // namespace

TEST_CASE("confusion_matrix: a hand-made 3-class example, rows = gt, columns = prediction") {
    // gt   0 0 1 | 1 2 255      pred 0 1 1 | 2 2 0
    const std::vector<std::uint8_t> gt = {0, 0, 1, 1, 2, 255};
    const std::vector<std::uint8_t> pred = {0, 1, 1, 2, 2, 0};
    confusion_matrix cm(3);
    cm.update(detseg::make_view(gt.data(), {2, 3}), detseg::make_view(pred.data(), {2, 3}));
    const std::uint64_t want[3][3] = {{1, 1, 0}, {0, 1, 1}, {0, 0, 1}};
    for (index_t i = 0; i < 3; ++i)
        for (index_t j = 0; j < 3; ++j) {
            CHECK(cm.count(i, j) == want[i][j]);
            CHECK(cm.matrix()(i, j) == want[i][j]);
        }
    CHECK(cm.ignored() == 1);
    CHECK(cm.both_out_of_range() == 0);
    CHECK(cm.params() == confusion_matrix_params{});
    cm.reset();
    CHECK(cm == confusion_matrix(3));
}

TEST_CASE("confusion_matrix: the ignore index skips the pixel, its prediction unchecked") {
    const std::vector<std::int32_t> gt = {255, 255, 1, 0};
    const std::vector<std::int32_t> pred = {-4, 1000, 1, 1};
    confusion_matrix cm(2);
    cm.update(gt, pred); // no error: predictions at ignored pixels are not read
    CHECK(cm.ignored() == 2);
    CHECK(cm.count(1, 1) == 1);
    CHECK(cm.count(0, 1) == 1);

    SUBCASE("another ignore index, inside [0, C) too") {
        confusion_matrix c0(3, {.ignore_index = 0});
        const std::vector<std::int8_t> g = {0, 0, 1, 2};
        const std::vector<std::int8_t> p = {2, 0, 0, 2};
        c0.update(g, p);
        CHECK(c0.ignored() == 2);
        CHECK(c0.count(1, 0) == 1);
        CHECK(c0.count(2, 2) == 1);
        CHECK(c0.count(0, 0) == 0);
    }
    SUBCASE("negative ignore index with signed labels") {
        confusion_matrix cn(2, {.ignore_index = -1});
        const std::vector<std::int64_t> g = {-1, 1, -1};
        const std::vector<std::int64_t> p = {0, 1, 5};
        cn.update(g, p);
        CHECK(cn.ignored() == 2);
        CHECK(cn.count(1, 1) == 1);
    }
    SUBCASE("no ignore index: 255 is an out-of-range label") {
        confusion_matrix cn(2, {.ignore_index = std::nullopt});
        const std::vector<std::uint8_t> g = {0, 255};
        const std::vector<std::uint8_t> p = {0, 0};
        testing::expect_invalid([&] { cn.update(g, p); }, "confusion_matrix::update", "gt");
    }
    SUBCASE("an ignore index no value of the label type can equal") {
        confusion_matrix cn(2, {.ignore_index = 300});
        const std::vector<std::uint8_t> g = {0, 1, 1};
        const std::vector<std::uint8_t> p = {0, 1, 0};
        cn.update(g, p);
        CHECK(cn.ignored() == 0);
        CHECK(cn.count(1, 0) == 1);
    }
}

TEST_CASE("confusion_matrix: mmseg policy counts out-of-range labels as torch.histc does") {
    // pixel:  gt  pred   effect
    //  0      0   0      I,P,G of class 0
    //  1      1   7      G of class 1 only (prediction out of range)
    //  2      9   1      P of class 1 only (gt out of range)
    //  3      9   9      nowhere (both out of range, equal)
    //  4      -3  8      nowhere
    //  5      255 99     ignored
    const std::vector<int> gt = {0, 1, 9, 9, -3, 255};
    const std::vector<int> pred = {0, 7, 1, 9, 8, 99};
    confusion_matrix cm(2, {.out_of_range = out_of_range_policy::mmseg});
    cm.update(gt, pred);
    CHECK(cm.count(0, 0) == 1);
    CHECK(cm.count(1, 1) == 0);
    CHECK(cm.pred_out_of_range()[1] == 1);
    CHECK(cm.pred_out_of_range()[0] == 0);
    CHECK(cm.gt_out_of_range()[1] == 1);
    CHECK(cm.both_out_of_range() == 2);
    CHECK(cm.ignored() == 1);

    confusion_matrix strict(2);
    testing::expect_invalid([&] { strict.update(gt, pred); }, "confusion_matrix::update", "pred");
}

TEST_CASE("confusion_matrix: random maps equal the brute-force oracle (every label type and "
          "counting path)") {
    std::mt19937_64 rng(20261121);
    const std::vector<std::pair<index_t, index_t>> shapes = {
        {1, 1}, {1, 7}, {3, 31}, {5, 33}, {17, 64}, {64, 96}, {37, 301}, {128, 200}};
    for (auto pat : {pattern::iid, pattern::runs, pattern::long_runs, pattern::constant}) {
        for (const auto& shape : shapes) {
            const index_t h = shape.first, w = shape.second;
            for (index_t c : {1, 2, 19, 150, 300}) { // 300: no byte codes
                CAPTURE(int(pat));
                CAPTURE(h);
                CAPTURE(w);
                CAPTURE(c);
                for (auto policy : {out_of_range_policy::error, out_of_range_policy::mmseg}) {
                    random_property_case<std::uint8_t, std::uint8_t>(
                        rng, c, {.out_of_range = policy}, pat, h, w);
                    random_property_case<std::int8_t, std::int8_t>(
                        rng, c, {.ignore_index = -1, .out_of_range = policy}, pat, h, w);
                    random_property_case<std::uint16_t, std::uint16_t>(
                        rng, c, {.out_of_range = policy}, pat, h, w);
                    random_property_case<std::int64_t, std::int32_t>(
                        rng, c, {.ignore_index = std::nullopt, .out_of_range = policy}, pat, h, w);
                    random_property_case<std::uint8_t, std::int64_t>(
                        rng, c, {.out_of_range = policy}, pat, h, w);
                    random_property_case<char, unsigned char>(rng, c, {.out_of_range = policy}, pat,
                                                              h, w);
                }
            }
        }
    }
}

TEST_CASE("confusion_matrix: every backend and layout gives the same counts") {
    std::mt19937_64 rng(7);
    const index_t h = 45, w = 70, c = 19;
    const auto pool = value_pool<std::uint8_t>(c, 255, false);
    auto gt = random_values(rng, std::size_t(h * w), pool, pattern::runs);
    auto pred = random_values(rng, std::size_t(h * w), value_pool<std::uint8_t>(c, {}, false),
                              pattern::runs);
    agree(pred, gt, rng);
    for (auto& v : pred)
        v = v == 255 ? 0 : v;
    oracle_counts o(c);
    for (std::size_t i = 0; i < gt.size(); ++i)
        o.add(gt[i], pred[i], 255);
    const auto tg = to_tensor(gt, h, w);
    const auto tp = to_tensor(pred, h, w);
    std::vector<std::int32_t> pred32(pred.begin(), pred.end());
    const auto tp32 = to_tensor(pred32, h, w);
    int runs = 0;
    for_each_label_backend([&]<class B>() {
        CAPTURE(B::name);
        B::with(tg, [&](const auto& g) {
            B::with(tp, [&](const auto& p) {
                confusion_matrix cm(c);
                cm.update(g, p);
                check_equal(cm, o);
            });
            lm_column_major::with(tp32, [&](const auto& p) { // another backend and type
                confusion_matrix cm(c);
                if constexpr (detseg::view_rank_v<std::remove_cvref_t<decltype(g)>> == 2 ||
                              detseg::detail::dynamic_rank_source<
                                  std::remove_cvref_t<decltype(g)>>) {
                    cm.update(g, p);
                    check_equal(cm, o);
                } else {
                    testing::expect_invalid([&] { cm.update(g, p); }, "confusion_matrix::update",
                                            "pred");
                }
            });
        });
        ++runs;
    });
    CHECK(runs == 12);

    SUBCASE("N×H×W in one call equals the images one by one") {
        detseg::tensor<std::uint8_t, 3> g3({3, h, w}), p3({3, h, w});
        confusion_matrix by_image(c);
        for (index_t k = 0; k < 3; ++k) {
            auto g = random_values(rng, std::size_t(h * w), pool, pattern::runs);
            auto p = random_values(rng, std::size_t(h * w), value_pool<std::uint8_t>(c, {}, false),
                                   pattern::iid);
            std::copy(g.begin(), g.end(), g3.flat().begin() + k * h * w);
            std::copy(p.begin(), p.end(), p3.flat().begin() + k * h * w);
            by_image.update(g, p);
        }
        confusion_matrix at_once(c);
        at_once.update(g3, p3);
        CHECK(at_once == by_image);
        CHECK(at_once.ignored() > 0);
    }
    SUBCASE("an xt::xarray of rank 3 with an explicit rank") {
        xt::xarray<std::uint8_t> g =
            xt::zeros<std::uint8_t>({std::size_t(2), std::size_t(3), std::size_t(4)});
        xt::xarray<std::uint8_t> p = g;
        g(1, 2, 3) = 5;
        p(1, 2, 3) = 4;
        confusion_matrix cm(6);
        cm.update<3>(g, p);
        CHECK(cm.count(0, 0) == 23);
        CHECK(cm.count(5, 4) == 1);
        testing::expect_invalid([&] { cm.update(g, p); }, "confusion_matrix::update", "gt");
    }
}

TEST_CASE("confusion_matrix: the counts do not depend on the thread count") {
    // 2×1024×2100 pixels: above the 4M pixels from which update splits a call over threads.
    std::mt19937_64 rng(99);
    const index_t h = 2 * 1024, w = 2100, c = 21;
    auto gt = random_values(rng, std::size_t(h * w), value_pool<std::uint8_t>(c, 255, true),
                            pattern::long_runs);
    auto pred = random_values(rng, std::size_t(h * w), value_pool<std::uint8_t>(c, {}, true),
                              pattern::runs);
    oracle_counts o(c);
    for (std::size_t i = 0; i < gt.size(); ++i)
        o.add(gt[i], pred[i], 255);
    const confusion_matrix_params mm{.out_of_range = out_of_range_policy::mmseg};
    std::vector<confusion_matrix> results;
#if DETSEG_HAS_OPENMP
    const int saved = omp_get_max_threads();
    for (int t : {1, 2, 3, 5}) {
        omp_set_num_threads(t);
        confusion_matrix cm(c, mm);
        cm.update(detseg::make_view(gt.data(), {h, w}), detseg::make_view(pred.data(), {h, w}));
        results.push_back(cm);
    }
    omp_set_num_threads(saved);
#else
    confusion_matrix cm(c, mm);
    cm.update(detseg::make_view(gt.data(), {h, w}), detseg::make_view(pred.data(), {h, w}));
    results.push_back(cm);
#endif
    for (const auto& r : results) {
        check_equal(r, o);
        CHECK(r == results.front());
    }
    CHECK(o.both > 0);
    CHECK(o.gt_oor[0] + o.pred_oor[0] > 0);
}

TEST_CASE("confusion_matrix: merging random shards equals one pass; serialise round trip") {
    std::mt19937_64 rng(4242);
    for (int trial = 0; trial < 20; ++trial) {
        const index_t c = std::uniform_int_distribution<index_t>(1, 40)(rng);
        const confusion_matrix_params params{
            .ignore_index = trial % 3 == 0 ? std::optional<std::int64_t>{} : 255,
            .out_of_range = out_of_range_policy::mmseg};
        const int images = std::uniform_int_distribution<int>(1, 12)(rng);
        const int shards = std::uniform_int_distribution<int>(1, 5)(rng);
        confusion_matrix one(c, params);
        std::vector<confusion_matrix> parts(std::size_t(shards), confusion_matrix(c, params));
        for (int k = 0; k < images; ++k) {
            const index_t h = std::uniform_int_distribution<index_t>(1, 40)(rng);
            const index_t w = std::uniform_int_distribution<index_t>(1, 40)(rng);
            auto g = random_values(rng, std::size_t(h * w),
                                   value_pool<std::uint8_t>(c, params.ignore_index, true),
                                   pattern::runs);
            auto p = random_values(rng, std::size_t(h * w), value_pool<std::uint8_t>(c, {}, true),
                                   pattern::iid);
            one.update(detseg::make_view(g.data(), {h, w}), detseg::make_view(p.data(), {h, w}));
            parts[std::size_t(std::uniform_int_distribution<int>(0, shards - 1)(rng))].update(g, p);
        }
        // Merge in a random order, some shards through their text form (another process).
        std::shuffle(parts.begin(), parts.end(), rng);
        confusion_matrix merged(c, params);
        for (const auto& part : parts) {
            if (std::bernoulli_distribution(0.5)(rng))
                merged.merge(confusion_matrix::deserialize(part.serialize()));
            else
                merged.merge(part);
        }
        CHECK(merged == one);
        const confusion_matrix back = confusion_matrix::deserialize(one.serialize());
        CHECK(back == one);
        CHECK(back.serialize() == one.serialize());
    }
}

TEST_CASE("confusion_matrix: deserialize keeps the params and rejects malformed text") {
    confusion_matrix cm(3, {.ignore_index = -7, .out_of_range = out_of_range_policy::mmseg});
    const std::vector<int> g = {0, 1, 2, 5, -7};
    const std::vector<int> p = {0, 2, 9, 1, 1};
    cm.update(g, p);
    const std::string text = cm.serialize();
    const auto back = confusion_matrix::deserialize(text);
    CHECK(back.params() == cm.params());
    CHECK(back == cm);
    CHECK(confusion_matrix::deserialize(
              confusion_matrix(2, {.ignore_index = std::nullopt}).serialize())
              .params()
              .ignore_index == std::nullopt);

    auto bad = [](const std::string& s) {
        testing::expect_invalid([&] { (void)confusion_matrix::deserialize(s); },
                                "confusion_matrix::deserialize", "text");
    };
    bad("");
    bad("detseg.confusion_matrix 2\n");
    bad(text.substr(0, text.size() / 2)); // truncated
    bad(text + "7\n");                    // extra text
    bad("garbage " + text);               // wrong header
    std::string neg = text;
    neg.replace(neg.find("counts\n") + 7, 1, "-"); // a negative count
    bad(neg);
    std::string policy = text;
    policy.replace(policy.find("mmseg"), 5, "torch");
    bad(policy);
    std::string classes = text;
    classes.replace(classes.find("num_classes 3"), 13, "num_classes 0");
    bad(classes);
    std::string letters = text;
    letters.replace(letters.find("ignored ") + 8, 1, "x");
    bad(letters);
}

TEST_CASE("confusion_matrix: rejected inputs name the function, the argument and the pixel") {
    using testing::expect_invalid;
    expect_invalid([] { confusion_matrix cm(0); }, "confusion_matrix", "num_classes");
    expect_invalid([] { confusion_matrix cm(-3); }, "confusion_matrix", "num_classes");
    expect_invalid([] { confusion_matrix cm(65537); }, "confusion_matrix", "num_classes");

    confusion_matrix cm(19);
    std::vector<std::uint8_t> g(6 * 8, 3), p(6 * 8, 3);
    const auto vg = detseg::make_view(g.data(), {6, 8});
    const auto vp = detseg::make_view(p.data(), {6, 8});
    cm.update(vg, vp);
    const confusion_matrix before = cm;

    SUBCASE("shape and rank mismatch") {
        expect_invalid(
            [&] {
                cm.update(vg, detseg::make_view(p.data(), {8, 6}));
            },
            "confusion_matrix::update", "pred");
        expect_invalid(
            [&] {
                cm.update(vg, detseg::make_view(p.data(), {6, 7}));
            },
            "confusion_matrix::update", "pred");
        expect_invalid([&] { cm.update(vg, p); }, "confusion_matrix::update", "pred");
        try {
            cm.update(vg, detseg::make_view(p.data(), {6, 7}));
        } catch (const detseg::invalid_argument& e) {
            CHECK(e.reason() == "shape 6x7 differs from gt's shape 6x8");
        }
    }
    SUBCASE("gt out of range: the first bad pixel in row-major order") {
        g[2 * 8 + 5] = 19;
        g[4 * 8 + 1] = 200;
        p[1 * 8 + 1] = 250; // later pixels may be bad too; the first is reported
        p[0] = 40;
        g[0] = 255; // ignored: its prediction is not checked
        try {
            cm.update(vg, vp);
            FAIL("no exception");
        } catch (const detseg::invalid_argument& e) {
            CHECK(e.argument() == "pred");
            CHECK(e.reason() == "value 250 at (1, 1) is not a class in [0, 19)");
        }
        p[1 * 8 + 1] = 3;
        try {
            cm.update(vg, vp);
            FAIL("no exception");
        } catch (const detseg::invalid_argument& e) {
            CHECK(e.function() == "confusion_matrix::update");
            CHECK(e.argument() == "gt");
            CHECK(e.reason() ==
                  "value 19 at (2, 5) is not a class in [0, 19) nor the ignore index 255");
        }
        CHECK(cm == before); // unchanged after the errors
    }
    SUBCASE("negative labels and a rank-3 position") {
        std::vector<std::int16_t> g3(2 * 3 * 4, 1), p3(2 * 3 * 4, 1);
        g3[1 * 12 + 2 * 4 + 3] = -1;
        try {
            cm.update(detseg::make_view(g3.data(), {2, 3, 4}),
                      detseg::make_view(p3.data(), {2, 3, 4}));
            FAIL("no exception");
        } catch (const detseg::invalid_argument& e) {
            CHECK(e.argument() == "gt");
            CHECK(e.reason() ==
                  "value -1 at (1, 2, 3) is not a class in [0, 19) nor the ignore index 255");
        }
        confusion_matrix none(4, {.ignore_index = std::nullopt});
        std::vector<char> cg = {0, 1, 2, 3}, cp = {0, 1, 2, 4};
        try {
            none.update(cg, cp);
            FAIL("no exception");
        } catch (const detseg::invalid_argument& e) {
            CHECK(e.argument() == "pred");
            CHECK(e.reason() == "value 4 at (3) is not a class in [0, 4)");
        }
        cg[3] = 9;
        expect_invalid([&] { none.update(cg, cp); }, "confusion_matrix::update", "gt");
        CHECK(cm == before);
    }
    SUBCASE("count(), merge()") {
        expect_invalid([&] { (void)cm.count(19, 0); }, "confusion_matrix::count", "gt");
        expect_invalid([&] { (void)cm.count(-1, 0); }, "confusion_matrix::count", "gt");
        expect_invalid([&] { (void)cm.count(0, 19); }, "confusion_matrix::count", "pred");
        expect_invalid([&] { cm.merge(confusion_matrix(18)); }, "confusion_matrix::merge", "other");
        expect_invalid([&] { cm.merge(confusion_matrix(19, {.ignore_index = 0})); },
                       "confusion_matrix::merge", "other");
        expect_invalid(
            [&] { cm.merge(confusion_matrix(19, {.out_of_range = out_of_range_policy::mmseg})); },
            "confusion_matrix::merge", "other");
        CHECK(cm == before);
        cm.merge(before);
        CHECK(cm.count(3, 3) == 2 * 48);
    }
    SUBCASE("empty maps are valid and count nothing") {
        const std::vector<std::uint8_t> e;
        cm.update(e, e);
        cm.update(detseg::make_view(g.data(), {0, 8}), detseg::make_view(p.data(), {0, 8}));
        CHECK(cm == before);
    }
}

TEST_CASE("confusion_matrix kernel: the run-aware byte paths equal the plain loop") {
    // Both byte kernels (SSE2 where the target has it, and the portable one that other targets
    // use) on every pattern and on lengths around the 8- and 32-pixel blocks.
    std::mt19937_64 rng(5150);
    const detseg::detail::confusion_coder coder{19, 255};
    const detseg::detail::label_codes<std::uint8_t, true> rows(coder);
    const detseg::detail::label_codes<std::uint8_t, false> cols(coder);
    const auto cells = std::size_t(coder.cells());
    int runs = 0;
    for (auto pat : {pattern::iid, pattern::runs, pattern::long_runs, pattern::constant}) {
        for (index_t n : {1, 7, 8, 31, 32, 33, 63, 64, 65, 100, 1000, 4099, 20000}) {
            auto g =
                random_values(rng, std::size_t(n), value_pool<std::uint8_t>(19, 255, true), pat);
            auto p =
                random_values(rng, std::size_t(n), value_pool<std::uint8_t>(19, {}, true), pat);
            if (pat != pattern::iid)
                agree(p, g, rng);
            std::vector<std::uint32_t> want(cells), got1(cells), got4(cells * 4);
            detseg::detail::count_strided<1>(g.data(), 1, p.data(), 1, n, rows, cols, want.data());
            auto check = [&](auto kernel, const char* name) {
                CAPTURE(name);
                CAPTURE(n);
                CAPTURE(int(pat));
                std::fill(got1.begin(), got1.end(), 0);
                std::fill(got4.begin(), got4.end(), 0);
                kernel.template operator()<1>(got1.data());
                kernel.template operator()<4>(got4.data());
                CHECK(got1 == want);
                std::vector<std::uint32_t> sum4(cells);
                for (std::size_t k = 0; k < cells; ++k)
                    sum4[k] = got4[4 * k] + got4[4 * k + 1] + got4[4 * k + 2] + got4[4 * k + 3];
                CHECK(sum4 == want);
                ++runs;
            };
            check(
                [&]<int K>(std::uint32_t* h) {
                    detseg::detail::count_bytes_portable<K>(g.data(), p.data(), n, rows.table(),
                                                            cols.table(), h);
                },
                "portable");
#if defined(__SSE2__)
            check(
                [&]<int K>(std::uint32_t* h) {
                    detseg::detail::count_bytes_sse2<K>(g.data(), p.data(), n, rows.table(),
                                                        cols.table(), h);
                },
                "sse2");
#endif
        }
    }
    CHECK(runs >= 4 * 13);
}
