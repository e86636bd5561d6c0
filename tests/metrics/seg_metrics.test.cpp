// compute_seg_metrics: bit-exact against the numpy re-statement of mmseg's metrics
// (tests/reference/gen_seg_metric_fixtures.py, cross-checked there with torch.histc), the
// torchmetrics corner cases from ../shared/testdata/peer_cases, the denominator-0 rules, random
// matrices against a brute-force oracle, and the rejected parameters.

#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

using detseg::compute_seg_metrics;
using detseg::confusion_matrix;
using detseg::confusion_matrix_params;
using detseg::index_t;
using detseg::out_of_range_policy;
using detseg::seg_metrics;
using detseg::seg_metrics_params;

namespace {

const std::string data_dir = std::string(DETSEG_TEST_DATA_DIR) + "/seg_metrics/";

std::vector<std::string> read_names(const std::string& file) {
    std::ifstream in(data_dir + file);
    REQUIRE(in.good());
    std::vector<std::string> names;
    for (std::string s; in >> s;)
        names.push_back(s);
    return names;
}

/// Same double, bit for bit, or both NaN.
bool same(double a, double b) {
    return (std::isnan(a) && std::isnan(b)) ||
           std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

struct fixture_config {
    confusion_matrix_params cm;
    seg_metrics_params metrics;
    index_t num_classes;
};

fixture_config read_config(const std::string& name) {
    const auto c = detseg::load_npy(data_dir + name + "_config.npy").as<double, 1>();
    REQUIRE(c.extent(0) == 7);
    fixture_config f;
    f.num_classes = static_cast<index_t>(c(0));
    f.cm.ignore_index =
        c(1) != 0 ? std::optional<std::int64_t>(static_cast<std::int64_t>(c(2))) : std::nullopt;
    f.cm.out_of_range = c(3) != 0 ? out_of_range_policy::mmseg : out_of_range_policy::error;
    f.metrics.nan_to_num = c(4) != 0 ? std::optional<double>(c(5)) : std::nullopt;
    f.metrics.beta = c(6);
    return f;
}

/// The fixture's maps (any stored integer type, rank 2 or 3) fed image by image.
void feed(confusion_matrix& cm, const std::string& name) {
    const auto g = detseg::load_npy(data_dir + name + "_gt.npy");
    const auto p = detseg::load_npy(data_dir + name + "_pred.npy");
    int fed = 0;
    auto try_type = [&]<class T>() {
        if (!g.holds<T>())
            return;
        REQUIRE(p.holds<T>());
        if (g.shape.size() == 2) {
            cm.update(g.as<T, 2>(), p.as<T, 2>());
        } else {
            const auto tg = g.as<T, 3>();
            const auto tp = p.as<T, 3>();
            const index_t hw = tg.extent(1) * tg.extent(2);
            for (index_t k = 0; k < tg.extent(0); ++k)
                cm.update(detseg::make_view(tg.data() + k * hw, {tg.extent(1), tg.extent(2)}),
                          detseg::make_view(tp.data() + k * hw, {tg.extent(1), tg.extent(2)}));
        }
        ++fed;
    };
    try_type.operator()<std::uint8_t>();
    try_type.operator()<std::int8_t>();
    try_type.operator()<std::uint16_t>();
    try_type.operator()<std::int32_t>();
    try_type.operator()<std::int64_t>();
    REQUIRE(fed == 1);
}

/// Long-double oracle of the definitions, with sequential sums: the means within 1e-15.
struct metric_oracle {
    std::vector<long double> iou, acc, dice, precision;
    long double miou = 0, macc = 0, mdice = 0, aacc = 0, fwiou = 0;
};

metric_oracle oracle(const std::vector<std::uint64_t>& m, index_t c) {
    metric_oracle o;
    const long double nan = std::numeric_limits<long double>::quiet_NaN();
    long double si = 0, sg = 0;
    std::vector<long double> gs(std::size_t(c), 0);
    for (index_t k = 0; k < c; ++k) {
        long double i = 0, p = 0, g = 0;
        for (index_t j = 0; j < c; ++j) {
            g += m[std::size_t(k * c + j)];
            p += m[std::size_t(j * c + k)];
        }
        i = m[std::size_t(k * c + k)];
        gs[std::size_t(k)] = g;
        si += i;
        sg += g;
        o.iou.push_back(p + g - i > 0 ? i / (p + g - i) : nan);
        o.acc.push_back(g > 0 ? i / g : nan);
        o.dice.push_back(p + g > 0 ? 2 * i / (p + g) : nan);
        o.precision.push_back(p > 0 ? i / p : nan);
    }
    auto nanmean = [&](const std::vector<long double>& v) {
        long double s = 0;
        int n = 0;
        for (long double x : v)
            if (!std::isnan(x)) {
                s += x;
                ++n;
            }
        return n ? s / n : nan;
    };
    o.miou = nanmean(o.iou);
    o.macc = nanmean(o.acc);
    o.mdice = nanmean(o.dice);
    o.aacc = sg > 0 ? si / sg : nan;
    o.fwiou = 0;
    for (index_t k = 0; k < c; ++k)
        if (gs[std::size_t(k)] > 0)
            o.fwiou += gs[std::size_t(k)] / sg * o.iou[std::size_t(k)];
    if (sg == 0)
        o.fwiou = nan;
    return o;
}

bool close(double got, long double want, long double tol) {
    if (std::isnan(want))
        return std::isnan(got);
    return std::fabs(static_cast<long double>(got) - want) <= tol;
}

} // namespace

TEST_CASE("seg_metrics: equal to the mmseg reference fixtures, bit for bit") {
    const auto names = read_names("cases.txt");
    CHECK(names.size() == 14);
    int nan_cells = 0, mmseg_cases = 0;
    for (const auto& name : names) {
        CAPTURE(name);
        const auto cfg = read_config(name);
        confusion_matrix cm(cfg.num_classes, cfg.cm);
        feed(cm, name);
        mmseg_cases += cfg.cm.out_of_range == out_of_range_policy::mmseg;
        const seg_metrics m = compute_seg_metrics(cm, cfg.metrics);

        const auto areas = detseg::load_npy(data_dir + name + "_areas.npy").as<std::int64_t, 2>();
        const auto per = detseg::load_npy(data_dir + name + "_perclass.npy").as<double, 2>();
        const auto sum = detseg::load_npy(data_dir + name + "_summary.npy").as<double, 1>();
        REQUIRE(areas.extent(0) == cfg.num_classes);
        for (index_t k = 0; k < cfg.num_classes; ++k) {
            CAPTURE(k);
            const auto u = std::size_t(k);
            CHECK(m.area_intersect[u] == std::uint64_t(areas(k, 0)));
            CHECK(m.area_union[u] == std::uint64_t(areas(k, 1)));
            CHECK(m.area_pred_label[u] == std::uint64_t(areas(k, 2)));
            CHECK(m.area_label[u] == std::uint64_t(areas(k, 3)));
            CHECK(same(m.iou[u], per(k, 0)));
            CHECK(same(m.acc[u], per(k, 1)));
            CHECK(same(m.dice[u], per(k, 2)));
            CHECK(same(m.precision[u], per(k, 3)));
            CHECK(same(m.fscore[u], per(k, 4)));
            nan_cells += std::isnan(per(k, 0));
        }
        const double got[] = {m.aacc, m.miou, m.macc, m.mdice, m.mprecision, m.mfscore, m.fwiou};
        for (index_t k = 0; k < 7; ++k) {
            CAPTURE(k);
            CHECK(same(got[k], sum(k)));
        }
        // The whole N×H×W array in one call, and in two shards merged, give the same.
        confusion_matrix a(cfg.num_classes, cfg.cm), b(cfg.num_classes, cfg.cm);
        feed(a, name);
        b.merge(confusion_matrix::deserialize(a.serialize()));
        CHECK(b == cm);
    }
    CHECK(nan_cells > 100); // absent classes are exercised
    CHECK(mmseg_cases == 3);
}

TEST_CASE("seg_metrics: torchmetrics corner cases (peer_cases) in the matching detseg mode") {
    const auto names = read_names("peer_cases.txt");
    CHECK(names.size() == 10);
    int checks = 0;
    for (const auto& name : names) {
        CAPTURE(name);
        const auto cfg = read_config(name);
        confusion_matrix cm(cfg.num_classes, cfg.cm);
        feed(cm, name);
        const seg_metrics m = compute_seg_metrics(cm, cfg.metrics);
        const auto e = detseg::load_npy(data_dir + name + "_expect.npy").as<double, 2>();
        for (index_t r = 0; r < e.extent(0); ++r) {
            const int metric = int(e(r, 0));
            const index_t cls = index_t(e(r, 1));
            const double want = e(r, 2), tol = e(r, 3);
            const double got = cls < 0 ? (metric == 0 ? m.miou : m.mdice)
                                       : (metric == 0 ? m.iou : m.dice)[std::size_t(cls)];
            CAPTURE(r);
            CAPTURE(got);
            CAPTURE(want);
            if (std::isnan(want))
                CHECK(std::isnan(got));
            else
                CHECK(std::fabs(got - want) <= tol);
            ++checks;
        }
    }
    CHECK(checks == 30);
}

TEST_CASE("seg_metrics: denominators of 0 give NaN, excluded from the means; nan_to_num") {
    // 4 classes; gt 0 0 1 1, pred 0 2 1 1: class 3 absent from both, class 2 only predicted.
    const std::vector<std::uint8_t> gt = {0, 0, 1, 1};
    const std::vector<std::uint8_t> pred = {0, 2, 1, 1};
    confusion_matrix cm(4);
    cm.update(gt, pred);
    const auto m = compute_seg_metrics(cm);
    CHECK(m.iou[0] == 0.5);
    CHECK(m.iou[1] == 1.0);
    CHECK(m.iou[2] == 0.0);      // predicted, not in gt: U = 1 > 0
    CHECK(std::isnan(m.iou[3])); // absent from both
    CHECK(std::isnan(m.acc[2])); // G = 0
    CHECK(std::isnan(m.acc[3]));
    CHECK(m.precision[2] == 0.0);      // P = 1
    CHECK(std::isnan(m.precision[3])); // P = 0
    CHECK(m.dice[2] == 0.0);
    CHECK(std::isnan(m.dice[3]));
    CHECK(std::isnan(m.fscore[2])); // recall NaN
    CHECK(m.miou == (0.5 + 1.0 + 0.0) / 3);
    CHECK(m.macc == (0.5 + 1.0) / 2);
    CHECK(m.aacc == 0.75);
    CHECK(m.fwiou == 0.5 * 0.5 + 0.5 * 1.0);
    CHECK(m.area_union == std::vector<std::uint64_t>{2, 2, 1, 0});

    const auto z = compute_seg_metrics(cm, {.nan_to_num = 0.0});
    CHECK(z.iou[3] == 0.0);
    CHECK(z.acc[2] == 0.0);
    CHECK(z.miou == (0.5 + 1.0 + 0.0 + 0.0) / 4);
    CHECK(z.macc == (0.5 + 1.0) / 4);
    const auto one = compute_seg_metrics(cm, {.nan_to_num = 1.0});
    CHECK(one.iou[3] == 1.0);

    SUBCASE("F-score with beta") {
        // class 0: precision 1, recall 0.5
        const auto f2 = compute_seg_metrics(cm, {.beta = 2.0});
        CHECK(f2.fscore[0] == (5.0 * 0.5) / (4.0 + 0.5));
        const auto f0 = compute_seg_metrics(cm, {.beta = 0.0});
        CHECK(f0.fscore[0] == 1.0); // beta 0: precision
        CHECK(m.fscore[0] == (2.0 * 0.5) / 1.5);
    }
    SUBCASE("empty matrix: every metric NaN; with nan_to_num every value replaced") {
        const confusion_matrix empty(3);
        const auto e = compute_seg_metrics(empty);
        CHECK(std::isnan(e.aacc));
        CHECK(std::isnan(e.miou));
        CHECK(std::isnan(e.fwiou));
        const auto e0 = compute_seg_metrics(empty, {.nan_to_num = 0.0});
        CHECK(e0.aacc == 0.0);
        CHECK(e0.miou == 0.0);
        CHECK(e0.fwiou == 0.0);
        CHECK(e0.mfscore == 0.0);
    }
    SUBCASE("mmseg policy: out-of-range predictions count in G, out-of-range gt in P") {
        confusion_matrix mm(2, {.out_of_range = out_of_range_policy::mmseg});
        const std::vector<int> g = {0, 0, 5, 1};
        const std::vector<int> p = {0, 9, 1, 1};
        mm.update(g, p);
        const auto r = compute_seg_metrics(mm);
        CHECK(r.area_label == std::vector<std::uint64_t>{2, 1});
        CHECK(r.area_pred_label == std::vector<std::uint64_t>{1, 2});
        CHECK(r.iou[0] == 0.5);
        CHECK(r.iou[1] == 0.5);
        CHECK(r.aacc == 2.0 / 3.0);
    }
}

TEST_CASE("seg_metrics: random matrices against a long-double oracle") {
    std::mt19937_64 rng(31337);
    for (int trial = 0; trial < 200; ++trial) {
        const index_t c = std::uniform_int_distribution<index_t>(1, 60)(rng);
        const index_t n = std::uniform_int_distribution<index_t>(0, 3000)(rng);
        // Labels from a random subset of the classes, so some are absent.
        std::vector<std::int32_t> present;
        for (index_t k = 0; k < c; ++k)
            if (std::bernoulli_distribution(0.6)(rng))
                present.push_back(std::int32_t(k));
        if (present.empty())
            present.push_back(0);
        std::uniform_int_distribution<std::size_t> pick(0, present.size() - 1);
        std::vector<std::int32_t> g(static_cast<std::size_t>(n)), p(static_cast<std::size_t>(n));
        for (index_t i = 0; i < n; ++i) {
            g[std::size_t(i)] = std::bernoulli_distribution(0.1)(rng) ? 255 : present[pick(rng)];
            p[std::size_t(i)] = std::bernoulli_distribution(0.5)(rng) && g[std::size_t(i)] != 255
                                    ? g[std::size_t(i)]
                                    : present[pick(rng)];
        }
        confusion_matrix cm(c);
        cm.update(g, p);
        std::vector<std::uint64_t> flat(std::size_t(c * c));
        for (index_t i = 0; i < c; ++i)
            for (index_t j = 0; j < c; ++j)
                flat[std::size_t(i * c + j)] = cm.count(i, j);
        const auto o = oracle(flat, c);
        const auto m = compute_seg_metrics(cm);
        CAPTURE(trial);
        for (index_t k = 0; k < c; ++k) {
            const auto u = std::size_t(k);
            CHECK(close(m.iou[u], o.iou[u], 1e-16L));
            CHECK(close(m.acc[u], o.acc[u], 1e-16L));
            CHECK(close(m.dice[u], o.dice[u], 1e-16L));
            CHECK(close(m.precision[u], o.precision[u], 1e-16L));
        }
        CHECK(close(m.miou, o.miou, 1e-15L));
        CHECK(close(m.macc, o.macc, 1e-15L));
        CHECK(close(m.mdice, o.mdice, 1e-15L));
        CHECK(close(m.aacc, o.aacc, 1e-16L));
        CHECK(close(m.fwiou, o.fwiou, 1e-15L));
    }
}

TEST_CASE("seg_metrics: numpy's pairwise summation order for the means (C = 150)") {
    // 150 classes with IoU k/150 + tiny offsets: a sequential sum and numpy's pairwise sum differ
    // in the last bits; the mean must be numpy's.
    std::vector<double> v(150);
    for (std::size_t k = 0; k < v.size(); ++k)
        v[k] = 1.0 / double(k + 3) + 1e-9 * double(k % 7);
    double seq = 0;
    for (double x : v)
        seq += x;
    // numpy: 150 > 128, so split at 72 (a multiple of 8), each half with 8 accumulators.
    auto block = [&](std::size_t b, std::size_t n) {
        double r[8];
        for (std::size_t j = 0; j < 8; ++j)
            r[j] = v[b + j];
        std::size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (std::size_t j = 0; j < 8; ++j)
                r[j] += v[b + i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i)
            res += v[b + i];
        return res;
    };
    const double np_sum = block(0, 72) + block(72, 78);
    CHECK(np_sum != seq); // the data tells the two orders apart
    CHECK(detseg::detail::numpy_nanmean(v) == np_sum / 150.0);
    v[3] = std::numeric_limits<double>::quiet_NaN();
    CHECK(!std::isnan(detseg::detail::numpy_nanmean(v)));
}

TEST_CASE("seg_metrics: rejected parameters") {
    const confusion_matrix cm(2);
    testing::expect_invalid(
        [&] { (void)compute_seg_metrics(cm, {.beta = std::numeric_limits<double>::quiet_NaN()}); },
        "compute_seg_metrics", "params");
    testing::expect_invalid(
        [&] { (void)compute_seg_metrics(cm, {.beta = std::numeric_limits<double>::infinity()}); },
        "compute_seg_metrics", "params");
}
