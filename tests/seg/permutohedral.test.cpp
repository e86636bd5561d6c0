#include <detseg/seg/detail/permutohedral.hpp>

#include <detseg/io/npy.hpp>

#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

using detseg::index_t;
using detseg::tensor;
using detseg::detail::permutohedral_lattice;

namespace {

const std::string exact_dir = "seg/crf/exact_24x32_L4_s5/";

// Features of pydensecrf's two README kernels on an H×W×3 image, d×N.
std::vector<float> image_features(const tensor<std::uint8_t, 3>& im, bool bilateral) {
    const index_t H = im.extent(0), W = im.extent(1), N = H * W;
    const float sxy = bilateral ? 80.0f : 3.0f;
    std::vector<float> f(static_cast<std::size_t>((bilateral ? 5 : 2) * N));
    for (index_t y = 0; y < H; ++y)
        for (index_t x = 0; x < W; ++x) {
            const index_t i = y * W + x;
            f[static_cast<std::size_t>(i)] = static_cast<float>(x) / sxy;
            f[static_cast<std::size_t>(N + i)] = static_cast<float>(y) / sxy;
            if (bilateral)
                for (index_t c = 0; c < 3; ++c)
                    f[static_cast<std::size_t>((2 + c) * N + i)] = static_cast<float>(im(y, x, c)) / 13.0f;
        }
    return f;
}

// L×H×W tensor -> N×S rows (S = 4 here)
std::vector<float> to_rows(const tensor<float, 3>& q) {
    const index_t L = q.extent(0), N = q.extent(1) * q.extent(2);
    std::vector<float> r(static_cast<std::size_t>(N * 4), 0.0f);
    for (index_t l = 0; l < L; ++l)
        for (index_t i = 0; i < N; ++i)
            r[static_cast<std::size_t>(i * 4 + l)] = q.data()[l * N + i];
    return r;
}

} // namespace

TEST_CASE("permutohedral: the raw lattice equals pydensecrf's (NO_NORMALIZATION filter)") {
    const auto im = detseg::load_npy(testing::data_path(exact_dir + "image.npy")).as<std::uint8_t, 3>();
    const auto q0 = detseg::load_npy(testing::data_path(exact_dir + "q0.npy")).as<float, 3>();
    const auto in = to_rows(q0);
    const index_t N = 24 * 32;
    for (const bool bilateral : {false, true}) {
        for (const bool generic : {false, true}) {
            CAPTURE(bilateral);
            CAPTURE(generic);
            const auto f = image_features(im, bilateral);
            permutohedral_lattice<float> lat;
            lat.build(f.data(), bilateral ? 5 : 2, N, generic);
            std::vector<float> out(in.size());
            lat.compute(in.data(), out.data(), 4);
            const auto ref = detseg::load_npy(testing::data_path(
                exact_dir + (bilateral ? "lat_readme_bilateral_none.npy" : "lat_readme_gauss_none.npy")))
                                 .as<float, 3>();
            int worse = 0;
            double mx = 0;
            for (index_t l = 0; l < 4; ++l)
                for (index_t i = 0; i < N; ++i) {
                    const float a = out[static_cast<std::size_t>(i * 4 + l)];
                    const float b = ref.data()[l * N + i];
                    mx = std::max(mx, static_cast<double>(std::abs(a - b)));
                    worse += testing::ulp_distance(a, b) > 4;
                }
            CHECK(worse == 0);
            CHECK(mx <= 1e-5);
        }
    }
}

TEST_CASE("permutohedral: linear, scales, thread-count independent; generic-d path agrees") {
    std::mt19937 g(3);
    std::uniform_real_distribution<float> u(0.0f, 6.0f);
    for (const int d : {1, 3, 4, 6, 7, 9}) {
        CAPTURE(d);
        const index_t n = 700;
        const index_t S = 8;
        std::vector<float> f(static_cast<std::size_t>(d * n));
        for (auto& v : f)
            v = u(g);
        std::vector<float> a(static_cast<std::size_t>(n * S)), b(a.size()), ab(a.size());
        for (std::size_t e = 0; e < a.size(); ++e) {
            a[e] = u(g);
            b[e] = u(g) - 3.0f;
            ab[e] = a[e] + b[e];
        }
        permutohedral_lattice<float> lat, gen;
        lat.build(f.data(), d, n);
        gen.build(f.data(), d, n, true);
        CHECK(lat.points() == gen.points());
        CHECK(lat.points() > 0);
        CHECK(lat.points() <= n * (d + 1));
        std::vector<float> oa(a.size()), ob(a.size()), oab(a.size()), og(a.size());
        lat.compute(a.data(), oa.data(), S);
        gen.compute(a.data(), og.data(), S);
        CHECK(oa == og);
        lat.compute(b.data(), ob.data(), S);
        lat.compute(ab.data(), oab.data(), S);
        double mx = 0;
        for (std::size_t e = 0; e < a.size(); ++e)
            mx = std::max(mx, static_cast<double>(std::abs(oab[e] - oa[e] - ob[e])));
        CHECK(mx <= 1e-3);
        // self weight: every output includes the point's own value (all weights are positive)
        std::vector<float> one(static_cast<std::size_t>(n * 4), 0.0f), out1(one.size());
        for (index_t i = 0; i < n; ++i)
            one[static_cast<std::size_t>(i * 4)] = 1.0f;
        lat.compute(one.data(), out1.data(), 4);
        for (index_t i = 0; i < n; ++i) {
            CHECK(out1[static_cast<std::size_t>(i * 4)] > 0.0f);
            CHECK(out1[static_cast<std::size_t>(i * 4 + 1)] == 0.0f);
        }
#if DETSEG_HAS_OPENMP
        const int before = omp_get_max_threads();
        omp_set_num_threads(1);
        std::vector<float> o1(a.size());
        lat.compute(a.data(), o1.data(), S);
        omp_set_num_threads(2);
        std::vector<float> o2(a.size());
        lat.compute(a.data(), o2.data(), S);
        omp_set_num_threads(before);
        CHECK(o1 == o2);
        CHECK(o1 == oa);
#endif
    }
}

TEST_CASE("permutohedral: a constant feature changes nothing; a far-away point is isolated") {
    // Adding a feature that is equal for all points leaves the kernel exp(-|Δf|²/2) unchanged,
    // and the lattice approximates it: outputs stay within the lattice's own error.
    const index_t n = 300;
    std::mt19937 g(5);
    std::uniform_real_distribution<float> u(0.0f, 5.0f);
    std::vector<float> f(static_cast<std::size_t>(2 * n));
    for (auto& v : f)
        v = u(g);
    f[0] = 1000.0f; // point 0 far from all others
    std::vector<float> in(static_cast<std::size_t>(n * 4), 0.0f);
    for (index_t i = 0; i < n; ++i)
        in[static_cast<std::size_t>(i * 4)] = 1.0f;
    permutohedral_lattice<float> lat;
    lat.build(f.data(), 2, n);
    std::vector<float> out(in.size());
    lat.compute(in.data(), out.data(), 4);
    // the isolated point only sees itself: its splat weights sum to 1 and the blur keeps its own
    // value, so its output is alpha·Σ_j w_j·w_j·(1) ... positive and below 1
    CHECK(out[0] > 0.0f);
    CHECK(out[0] <= 1.0f);
    // only its own value reaches it
    std::vector<float> in2 = in;
    in2[0] = 0.0f;
    std::vector<float> out2(in.size());
    lat.compute(in2.data(), out2.data(), 4);
    CHECK(out2[0] == 0.0f);
}
