#include <detseg/dense/concat.hpp>

#include "support/dense_fixtures.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;

TEST_CASE_TEMPLATE("concat_channels equals torch.cat(dim=1) on every fixture", T, float, double) {
    const auto cases = testing::dense_ops_cases("concat");
    const auto ref = testing::dense_ops_outputs<T>("concat");
    REQUIRE(cases.extent(0) == 3);
    std::size_t offset = 0;
    for (index_t k = 0; k < cases.extent(0); ++k) {
        auto g = [&](index_t col) { return static_cast<index_t>(cases(k, col)); };
        const auto seed = static_cast<std::uint64_t>(cases(k, 0));
        const index_t n = g(1), h = g(2), w = g(3);
        const std::array<index_t, 3> cs{g(4), g(5), g(6)};
        const index_t total = cs[0] + cs[1] + cs[2];
        CAPTURE(seed);
        std::vector<testing::stored_map<T>> maps;
        std::vector<detseg::tensor<T, 4>> tensors;
        for (std::size_t i = 0; i < 3; ++i) {
            const auto v = testing::fixture_values<T>(seed + i, n * cs[i] * h * w);
            maps.emplace_back(v, std::array<index_t, 4>{n, cs[i], h, w},
                              testing::map_layout::nhwc);
            tensors.emplace_back(std::array<index_t, 4>{n, cs[i], h, w});
            std::copy(v.begin(), v.end(), tensors.back().data());
        }
        const std::vector<detseg::strided_view<const T, 4>> views{maps[0].view, maps[1].view,
                                                                  maps[2].view};
        const auto a = detseg::concat_channels(views);
        const auto b = detseg::concat_channels(tensors);
        REQUIRE(a.extents() == std::array<index_t, 4>{n, total, h, w});
        CHECK(a == b);
        std::vector<double> ob(static_cast<std::size_t>(n * total * h * w));
        const detseg::strided_view<double, 4> o(ob.data(), {n, total, h, w},
                                                {total * h * w, 1, w * total, total});
        detseg::concat_channels(views, o);
        int bad = 0;
        std::size_t e = offset;
        for (index_t i = 0; i < n; ++i)
            for (index_t c = 0; c < total; ++c)
                for (index_t y = 0; y < h; ++y)
                    for (index_t x = 0; x < w; ++x) {
                        const T want = ref[e++];
                        bad += a(i, c, y, x) != want;
                        bad += o(i, c, y, x) != static_cast<double>(want);
                    }
        CHECK(bad == 0);
        if (n == 1) { // C_i×H×W maps
            std::vector<detseg::strided_view<const T, 3>> v3;
            for (const auto& m : maps)
                v3.emplace_back(m.view.data_handle(),
                                std::array<index_t, 3>{m.view.extent(1), h, w},
                                std::array<index_t, 3>{m.view.stride(1), m.view.stride(2),
                                                       m.view.stride(3)});
            const auto c3 = detseg::concat_channels(v3);
            CHECK(std::equal(c3.flat().begin(), c3.flat().end(), a.flat().begin()));
        }
        offset = e;
    }
    CHECK(offset == ref.size());
}

TEST_CASE("concat_channels: random maps, parallel path, one map") {
    std::mt19937_64 rng(101);
    std::uniform_real_distribution<float> val(-1.0f, 1.0f);
    // 5 maps of 1×C_i×100×120 (≥ 2^18 outputs: rows in parallel)
    const index_t h = 100, w = 120;
    const std::array<index_t, 5> cs{3, 1, 7, 4, 9};
    std::vector<detseg::tensor<float, 3>> maps;
    for (index_t c : cs) {
        maps.emplace_back(std::array<index_t, 3>{c, h, w});
        for (auto& x : maps.back().flat())
            x = val(rng);
    }
    const auto all = detseg::concat_channels(maps);
    REQUIRE(all.extents() == std::array<index_t, 3>{24, h, w});
    int bad = 0;
    index_t oc = 0;
    for (const auto& m : maps)
        for (index_t c = 0; c < m.extent(0); ++c, ++oc)
            for (index_t y = 0; y < h; ++y)
                for (index_t x = 0; x < w; ++x)
                    bad += all(oc, y, x) != m(c, y, x);
    CHECK(bad == 0);
    const std::array<detseg::strided_view<const float, 3>, 1> one{maps[2].view()};
    CHECK(detseg::concat_channels(one) == maps[2]);
}

TEST_CASE("concat_channels rejects bad input") {
    using testing::expect_invalid;
    const std::string fn = "concat_channels";
    std::vector<float> a(2 * 3 * 4 * 5, 1.0f), b(2 * 2 * 4 * 5, 2.0f), o(2 * 5 * 4 * 5);
    using V = detseg::strided_view<const float, 4>;
    const V va = detseg::make_view(a.data(), {2, 3, 4, 5});
    const V vb = detseg::make_view(b.data(), {2, 2, 4, 5});
    const std::vector<V> none;
    expect_invalid([&] { (void)detseg::concat_channels(none); }, fn, "inputs");
    expect_invalid([&] { (void)detseg::concat_channels(std::vector<V>{va, V(b.data(), {2, 2, 5, 4})}); },
                   fn, "inputs");
    expect_invalid([&] { (void)detseg::concat_channels(std::vector<V>{va, V(b.data(), {1, 4, 4, 5})}); },
                   fn, "inputs");
    expect_invalid([&] { (void)detseg::concat_channels(std::vector<V>{va, V(b.data(), {2, 2, 4, 4})}); },
                   fn, "inputs");
    expect_invalid(
        [&] { detseg::concat_channels(std::vector<V>{va, vb}, detseg::make_view(o.data(), {2, 4, 4, 5})); },
        fn, "out");
    expect_invalid(
        [&] { detseg::concat_channels(std::vector<V>{va, vb}, detseg::make_view(o.data(), {2, 5, 5, 4})); },
        fn, "out");
    detseg::concat_channels(std::vector<V>{va, vb}, detseg::make_view(o.data(), {2, 5, 4, 5}));
    CHECK(o[3 * 20] == 2.0f);
    CHECK(o[3 * 20 - 1] == 1.0f);
}
