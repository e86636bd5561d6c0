// cam_aggregator: PyTorch F.interpolate + flip + sum/max fixtures, an oracle of the bilinear
// definition on random sizes, bad input.
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/cam_aggregate.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

namespace {

using detseg::index_t;

template <class T, std::size_t R>
detseg::tensor<T, R> cam_fixture(const std::string& name) {
    return detseg::load_npy(testing::data_path("seg/cam/" + name + ".npy")).as<T, R>();
}

/// PyTorch's bilinear sample of map c at output (oy, ox) for output size oh×ow, from the
/// definition in long double.
template <class T>
long double bilinear(const detseg::tensor<T, 3>& m, index_t c, index_t oy, index_t ox, index_t oh,
                     index_t ow, bool ac) {
    auto axis = [&](index_t o, index_t in, index_t out, index_t& i0, index_t& i1) {
        long double src;
        if (ac)
            src = out > 1 ? static_cast<long double>(o) * (in - 1) / (out - 1) : 0.0L;
        else
            src = std::max(0.0L, (o + 0.5L) * in / out - 0.5L);
        i0 = static_cast<index_t>(std::floor(src));
        i1 = std::min(i0 + 1, in - 1);
        return src - static_cast<long double>(i0);
    };
    index_t y0, y1, x0, x1;
    const long double ly = axis(oy, m.extent(1), oh, y0, y1);
    const long double lx = axis(ox, m.extent(2), ow, x0, x1);
    return (1 - ly) * ((1 - lx) * m(c, y0, x0) + lx * m(c, y0, x1)) +
           ly * ((1 - lx) * m(c, y1, x0) + lx * m(c, y1, x1));
}

} // namespace

TEST_CASE("cam_aggregator equals PyTorch interpolate + flip + sum/max bit for bit (float32)") {
    for (bool ac : {false, true}) {
        const std::string tag = ac ? "ac" : "noac";
        for (auto red : {detseg::cam_reduction::sum, detseg::cam_reduction::max}) {
            detseg::cam_aggregator<float> agg(3, 23, 31, {.reduction = red, .align_corners = ac});
            for (int i = 0; i < 6; ++i)
                agg.add(cam_fixture<float, 3>("agg_map" + std::to_string(i)), i % 2 == 1);
            CHECK(agg.count() == 6);
            const auto ref = cam_fixture<float, 3>(
                std::string(red == detseg::cam_reduction::sum ? "agg_sum_" : "agg_max_") + tag +
                "_expected");
            const auto& got = agg.result();
            int bad = 0; // bit-exact: resize_bilinear is, and the sum runs in PyTorch's order
            for (index_t i = 0; i < ref.size(); ++i)
                bad += got.flat()[i] != ref.flat()[i];
            CHECK(bad == 0);
        }
    }
}

TEST_CASE("cam_aggregator equals the bilinear definition on random sizes (double)") {
    std::mt19937_64 g(2024);
    std::uniform_real_distribution<double> u(0, 1);
    std::uniform_int_distribution<index_t> sz(1, 9);
    for (int rep = 0; rep < 12; ++rep) {
        const bool ac = rep % 2 == 0;
        const index_t k = 1 + rep % 3, oh = sz(g) + 3, ow = sz(g) + 3;
        detseg::cam_aggregator<double> sum(k, oh, ow, {.align_corners = ac});
        detseg::cam_aggregator<double> mx(
            k, oh, ow, {.reduction = detseg::cam_reduction::max, .align_corners = ac});
        std::vector<detseg::tensor<double, 3>> maps;
        for (int s = 0; s < 3; ++s) {
            detseg::tensor<double, 3> m({k, sz(g), sz(g)});
            for (auto& v : m.flat())
                v = u(g);
            sum.add(m, s == 1);
            mx.add(m, s == 1);
            maps.push_back(m);
        }
        for (index_t c = 0; c < k; ++c)
            for (index_t y = 0; y < oh; ++y)
                for (index_t x = 0; x < ow; ++x) {
                    long double s = 0, m = -1;
                    for (int i = 0; i < 3; ++i) {
                        const index_t xs = i == 1 ? ow - 1 - x : x;
                        const long double v =
                            bilinear(maps[static_cast<std::size_t>(i)], c, y, xs, oh, ow, ac);
                        s += v;
                        m = std::max(m, v);
                    }
                    CHECK(std::abs(sum.result()(c, y, x) - static_cast<double>(s)) <= 1e-12);
                    CHECK(std::abs(mx.result()(c, y, x) - static_cast<double>(m)) <= 1e-12);
                }
    }
}

TEST_CASE("cam_aggregator rejects bad input with invalid_argument") {
    using testing::expect_invalid;
    expect_invalid([] { detseg::cam_aggregator<float> a(-1, 4, 4); }, "cam_aggregator", "classes");
    expect_invalid([] { detseg::cam_aggregator<float> a(2, 0, 4); }, "cam_aggregator", "height");
    expect_invalid([] { detseg::cam_aggregator<float> a(2, 4, 0); }, "cam_aggregator", "width");
    detseg::cam_aggregator<float> a(2, 4, 4);
    detseg::tensor<float, 3> wrong({3, 2, 2}, 1.0f);
    expect_invalid([&] { a.add(wrong); }, "cam_aggregator::add", "cam");
    detseg::tensor<float, 3> empty({2, 0, 2});
    expect_invalid([&] { a.add(empty); }, "cam_aggregator::add", "cam");
    detseg::tensor<float, 3> nan({2, 2, 2}, 1.0f);
    nan(1, 1, 1) = NAN;
    expect_invalid([&] { a.add(nan); }, "cam_aggregator::add", "cam");
    CHECK(a.count() == 0);
}
