// Box coder: torchvision BoxCoder fixtures (tests/reference/gen_coder_fixtures.py), peer cases
// (torchvision collector case, detectron2 Box2BoxTransform), every backend, a long-double oracle
// of the formulas, encode/decode round trips, and every bad-input path.

#include <detseg/box/coder.hpp>
#include <detseg/io/npy.hpp>

#include "support/backends.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using detseg::box_coder_params;
using detseg::index_t;

namespace {

template <class T, std::size_t R = 2>
detseg::tensor<T, R> coder_fixture(const std::string& set, const std::string& name) {
    const char* tag = sizeof(T) == 4 ? "f32" : "f64";
    return detseg::load_npy(testing::data_path("coder/" + set + "_" + tag + "_" + name + ".npy"))
        .template as<T, R>();
}

template <class T>
detseg::tensor<T, 2> peer(const std::string& name) {
    return detseg::load_npy(testing::data_path("coder/peer_" + name + ".npy")).template as<T, 2>();
}

const std::vector<std::pair<std::string, box_coder_params>> weight_sets = {
    {"w1111", {.weights = {1, 1, 1, 1}}},
    {"w101055", detseg::ssd_box_coder},
    {"w551010", {.weights = {5, 5, 10, 10}}},
};

using testing::count_different;

// The formulas of docs/anchors.md in long double (no torchvision rounding order).
std::array<long double, 4> oracle_encode(const std::array<long double, 4>& g,
                                         const std::array<long double, 4>& a,
                                         const std::array<double, 4>& w) {
    const long double aw = a[2] - a[0], ah = a[3] - a[1];
    const long double gw = g[2] - g[0], gh = g[3] - g[1];
    const long double dcx = (g[0] + g[2]) / 2 - (a[0] + a[2]) / 2;
    const long double dcy = (g[1] + g[3]) / 2 - (a[1] + a[3]) / 2;
    return {w[0] * dcx / aw, w[1] * dcy / ah, w[2] * std::log(gw / aw), w[3] * std::log(gh / ah)};
}

template <class T>
detseg::tensor<T, 2> random_boxes(std::mt19937_64& rng, index_t n) {
    std::uniform_real_distribution<double> pos(-100, 900), lsize(std::log(0.5), std::log(400));
    detseg::tensor<T, 2> b({n, 4});
    for (index_t i = 0; i < n; ++i) {
        const double x = pos(rng), y = pos(rng);
        b(i, 0) = T(x);
        b(i, 1) = T(y);
        b(i, 2) = T(x + std::exp(lsize(rng)));
        b(i, 3) = T(y + std::exp(lsize(rng)));
        if (!(b(i, 2) > b(i, 0)) || !(b(i, 3) > b(i, 1))) { // keep sizes positive in float
            b(i, 2) = b(i, 0) + T(1);
            b(i, 3) = b(i, 1) + T(1);
        }
    }
    return b;
}

} // namespace

TEST_CASE_TEMPLATE("encode_boxes and decode_boxes equal torchvision's BoxCoder bit for bit", T,
                   float, double) {
    int runs = 0;
    for (const std::string set : {"random", "multi", "scale"}) {
        const auto anchors = coder_fixture<T>(set, "anchors");
        const auto boxes = coder_fixture<T>(set, "boxes");
        const auto deltas = coder_fixture<T>(set, "deltas");
        for (const auto& ws : weight_sets) {
            const std::string& tag = ws.first;
            const box_coder_params& params = ws.second;
            CAPTURE(set);
            CAPTURE(tag);
            const auto enc = detseg::encode_boxes(boxes, anchors, params);
            CHECK(count_different(enc, coder_fixture<T>(set, "encode_" + tag)) == 0);
            const auto dec = detseg::decode_boxes(deltas, anchors, params);
            CHECK(count_different(dec, coder_fixture<T>(set, "decode_" + tag)) == 0);
            ++runs;
        }
    }
    CHECK(runs == 9);
}

TEST_CASE_TEMPLATE("the coder gives the same bits for every backend", T, float, double) {
    const auto anchors = coder_fixture<T>("random", "anchors");
    const auto boxes = coder_fixture<T>("random", "boxes");
    const auto deltas = coder_fixture<T>("random", "deltas");
    const auto enc_ref = coder_fixture<T>("random", "encode_w101055");
    const auto dec_ref = coder_fixture<T>("random", "decode_w101055");
    int runs = 0;
    testing::for_each_backend_pair([&]<class B1, class B2>() {
        B1::with(boxes, [&](auto&& b) {
            B2::with(anchors, [&](auto&& a) {
                CAPTURE(std::string(B1::name));
                CAPTURE(std::string(B2::name));
                CHECK(count_different(detseg::encode_boxes(b, a, detseg::ssd_box_coder), enc_ref) ==
                      0);
                CHECK(count_different(detseg::decode_boxes(deltas, a, detseg::ssd_box_coder),
                                      dec_ref) == 0);
                ++runs;
            });
        });
    });
    CHECK(runs == 14);

    // Deltas through other kinds of views, outputs into Eigen, xtensor and strided views.
    const index_t n = anchors.extent(0);
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> deltas_cm(n, 4);
    for (index_t i = 0; i < n; ++i)
        for (index_t k = 0; k < 4; ++k)
            deltas_cm(i, k) = deltas(i, k);
    const std::vector<T> deltas_flat(deltas.flat().begin(), deltas.flat().end());
    Eigen::Matrix<T, Eigen::Dynamic, 4, Eigen::RowMajor> out_e(n, 4);
    detseg::decode_boxes(deltas_cm, anchors, out_e, detseg::ssd_box_coder);
    CHECK(count_different(out_e, dec_ref) == 0);
    xt::xtensor<T, 2> out_x = xt::zeros<T>({std::size_t(n), std::size_t(4)});
    detseg::decode_boxes(deltas_flat, anchors, out_x, detseg::ssd_box_coder);
    CHECK(count_different(out_x, dec_ref) == 0);
    std::vector<T> buf(static_cast<std::size_t>(8 * n), T(-7));
    detseg::encode_boxes(boxes, anchors,
                         detseg::make_view(buf.data(), {n, index_t{4}}, {index_t{1}, 2 * n}),
                         detseg::ssd_box_coder);
    int bad = 0;
    for (index_t i = 0; i < n; ++i)
        for (index_t k = 0; k < 4; ++k)
            bad += !(buf[static_cast<std::size_t>(k * 2 * n + i)] == enc_ref(i, k));
    CHECK(bad == 0);
    CHECK(buf[static_cast<std::size_t>(n)] == T(-7)); // the gaps of the strided view untouched
}

TEST_CASE("peer cases: torchvision BoxCoder (10, 10, 5, 5) and detectron2 Box2BoxTransform") {
    // torchvision collector case (atol 1e-4 as stated; detseg is in fact much closer)
    {
        const auto a = peer<float>("tv_anchors"), b = peer<float>("tv_boxes");
        const auto enc = detseg::encode_boxes(b, a, detseg::ssd_box_coder);
        const auto dec = detseg::decode_boxes(peer<float>("tv_deltas"), a, detseg::ssd_box_coder);
        const auto enc_ref = peer<float>("tv_encode"), dec_ref = peer<float>("tv_decode");
        for (index_t i = 0; i < 4; ++i)
            for (index_t k = 0; k < 4; ++k) {
                CHECK(std::abs(enc(i, k) - enc_ref(i, k)) <= 1e-4f);
                CHECK(std::abs(dec(i, k) - dec_ref(i, k)) <= 1e-4f);
            }
    }
    // detectron2 test_reconstruction: deltas as printed (torch allclose defaults), and the
    // round trip apply_deltas(get_deltas(src, dst), src) == dst
    {
        const box_coder_params d2{.weights = {5, 5, 10, 10}, .scale_clamp = 4.135166556742356};
        const auto src = peer<float>("d2_anchors"), dst = peer<float>("d2_boxes");
        const auto enc = detseg::encode_boxes(dst, src, d2);
        const auto enc_ref = peer<float>("d2_encode");
        const auto dec = detseg::decode_boxes(enc, src, d2);
        const auto dec_ref = peer<float>("d2_decode");
        for (index_t i = 0; i < 10; ++i)
            for (index_t k = 0; k < 4; ++k) {
                CHECK(std::abs(enc(i, k) - enc_ref(i, k)) <=
                      1e-8f + 1e-5f * std::abs(enc_ref(i, k)));
                CHECK(std::abs(dec(i, k) - dst(i, k)) <= 1e-8f + 1e-5f * std::abs(dst(i, k)));
                CHECK(std::abs(dec(i, k) - dec_ref(i, k)) <=
                      1e-8f + 1e-5f * std::abs(dec_ref(i, k)));
            }
    }
}

TEST_CASE_TEMPLATE("encode_boxes agrees with a long-double oracle and decode inverts it", T, float,
                   double) {
    std::mt19937_64 rng(20240611);
    const T tol = sizeof(T) == 4 ? T(2e-4) : T(1e-11);
    for (int trial = 0; trial < 20; ++trial) {
        const index_t n = 1 + trial * 7;
        const auto anchors = random_boxes<T>(rng, n);
        const auto boxes = random_boxes<T>(rng, n);
        const auto& params = weight_sets[static_cast<std::size_t>(trial % 3)].second;
        const auto enc = detseg::encode_boxes(boxes, anchors, params);
        const auto dec = detseg::decode_boxes(enc, anchors, {params.weights, 1e9});
        for (index_t i = 0; i < n; ++i) {
            std::array<long double, 4> g{}, a{};
            for (std::size_t k = 0; k < 4; ++k) {
                g[k] = boxes(i, index_t(k));
                a[k] = anchors(i, index_t(k));
            }
            const auto o = oracle_encode(g, a, params.weights);
            const long double scale =
                std::max({std::abs(a[0]), std::abs(a[2]), std::abs(g[0]), std::abs(g[2]),
                          std::abs(a[1]), std::abs(a[3]), std::abs(g[1]), std::abs(g[3]), 1.0L});
            for (index_t k = 0; k < 4; ++k) {
                CAPTURE(i);
                CAPTURE(k);
                // dx, dy divide a difference of centres by the anchor size: relative to the
                // coordinates' scale over that size
                const long double unit =
                    k < 2 ? scale / (k == 0 ? a[2] - a[0] : a[3] - a[1]) * params.weights[0] : 1;
                CHECK(std::abs(enc(i, k) - o[std::size_t(k)]) <= tol * unit * 10);
                // round trip: decoded box within a few ulps of the coordinates' scale
                CHECK(std::abs(dec(i, k) - boxes(i, k)) <=
                      (sizeof(T) == 4 ? 2e-6L : 4e-15L) * scale);
            }
        }
    }
}

TEST_CASE_TEMPLATE("decode_boxes clamps dw and dh at scale_clamp", T, float, double) {
    const std::vector<T> anchor = {10, 20, 30, 60}; // w 20, h 40, centre (20, 40)
    const std::vector<T> d = {0, 0, 100, -3};
    const auto out = detseg::decode_boxes(d, anchor);
    const T w = std::exp(T(4.135166556742356)) * T(20); // exp(log(1000/16)) * 20 = 1250
    CHECK(out(0, 0) == T(20) - T(0.5) * w);
    CHECK(out(0, 2) == T(20) + T(0.5) * w);
    const T h = std::exp(T(-3)) * T(40);
    CHECK(out(0, 1) == T(40) - T(0.5) * h);
    // +infinity disables the clamp
    const std::vector<T> d2 = {0, 0, 5, 0};
    const auto free = detseg::decode_boxes(d2, anchor, {.scale_clamp = HUGE_VAL});
    CHECK(free(0, 2) == T(20) + T(0.5) * (std::exp(T(5)) * T(20)));
    const auto clamped = detseg::decode_boxes(d2, anchor);
    CHECK(clamped(0, 2) == T(20) + T(0.5) * (std::exp(T(4.135166556742356)) * T(20)));
}

TEST_CASE("encode_boxes computes in the common type of boxes and anchors; empty input") {
    const std::vector<double> b = {1, 1, 11, 12};
    const std::vector<float> a = {0, 0, 10, 10};
    const auto e = detseg::encode_boxes(b, a);
    static_assert(std::is_same_v<decltype(e), const detseg::tensor<double, 2>>);
    CHECK(e(0, 0) == 0.1);
    const std::vector<float> none;
    CHECK(detseg::encode_boxes(none, none).extent(0) == 0);
    CHECK(detseg::decode_boxes(none, none).extent(0) == 0);
    // anchors in another format are converted to corners first
    const std::vector<float> a_cxcywh = {5, 5, 10, 10};
    const auto e2 = detseg::encode_boxes(std::vector<float>{1, 1, 11, 12},
                                         detseg::as_boxes(a_cxcywh, detseg::box_format::cxcywh));
    const auto e1 = detseg::encode_boxes(std::vector<float>{1, 1, 11, 12}, a);
    CHECK(e1 == e2);
}

TEST_CASE("coder bad input throws invalid_argument naming the argument") {
    using testing::expect_invalid;
    const std::vector<float> ok = {0, 0, 10, 10, 5, 5, 25, 15};
    const std::vector<float> nan_box = {0, 0, 10, 10, 5, NAN, 25, 15};
    const std::vector<float> inf_box = {0, 0, 10, INFINITY, 5, 5, 25, 15};
    const std::vector<float> flat_box = {0, 0, 10, 0, 5, 5, 25, 15};
    const std::vector<float> inverted = {0, 0, 10, 10, 25, 5, 5, 15};
    const std::vector<float> one = {0, 0, 10, 10};
    const std::vector<float> five = {0, 0, 10, 10, 1};
    detseg::tensor<float, 2> three_cols({2, 3});
    detseg::tensor<float, 2> wrong_out({2, 5});

    expect_invalid([&] { (void)detseg::encode_boxes(nan_box, ok); }, "encode_boxes", "boxes");
    expect_invalid([&] { (void)detseg::encode_boxes(ok, inf_box); }, "encode_boxes", "anchors");
    expect_invalid([&] { (void)detseg::encode_boxes(ok, one); }, "encode_boxes", "anchors");
    expect_invalid([&] { (void)detseg::encode_boxes(flat_box, ok); }, "encode_boxes", "boxes");
    expect_invalid([&] { (void)detseg::encode_boxes(ok, inverted); }, "encode_boxes", "anchors");
    expect_invalid([&] { (void)detseg::encode_boxes(five, ok); }, "encode_boxes", "boxes");
    expect_invalid([&] { (void)detseg::encode_boxes(three_cols, ok); }, "encode_boxes", "boxes");
    expect_invalid(
        [&] {
            (void)detseg::encode_boxes(ok, ok, {.weights = {1, 0, 1, 1}});
        },
        "encode_boxes", "params");
    expect_invalid(
        [&] {
            (void)detseg::encode_boxes(ok, ok, {.weights = {1, 1, -5, 1}});
        },
        "encode_boxes", "params");
    expect_invalid(
        [&] {
            (void)detseg::encode_boxes(ok, ok, {.weights = {1, 1, 1, NAN}});
        },
        "encode_boxes", "params");
    expect_invalid([&] { (void)detseg::encode_boxes(ok, ok, {.scale_clamp = NAN}); },
                   "encode_boxes", "params");
    expect_invalid([&] { detseg::encode_boxes(ok, ok, wrong_out); }, "encode_boxes", "out");

    const std::vector<float> d_ok = {0, 0, 0, 0, 1, 1, 1, 1};
    const std::vector<float> d_nan = {0, 0, 0, 0, 1, NAN, 1, 1};
    const std::vector<float> d_odd = {0, 0, 0, 0, 1, 1};
    detseg::tensor<float, 2> d_three({2, 3});
    detseg::tensor<float, 2> d_rows({3, 4});
    detseg::tensor<float, 2> d_inf({2, 4});
    d_inf(1, 2) = INFINITY;
    expect_invalid([&] { (void)detseg::decode_boxes(d_nan, ok); }, "decode_boxes", "deltas");
    expect_invalid([&] { (void)detseg::decode_boxes(d_inf, ok); }, "decode_boxes", "deltas");
    expect_invalid([&] { (void)detseg::decode_boxes(d_odd, ok); }, "decode_boxes", "deltas");
    expect_invalid([&] { (void)detseg::decode_boxes(d_three, ok); }, "decode_boxes", "deltas");
    expect_invalid([&] { (void)detseg::decode_boxes(d_rows, ok); }, "decode_boxes", "deltas");
    expect_invalid([&] { (void)detseg::decode_boxes(d_ok, nan_box); }, "decode_boxes", "anchors");
    expect_invalid([&] { (void)detseg::decode_boxes(d_ok, five); }, "decode_boxes", "anchors");
    expect_invalid(
        [&] {
            (void)detseg::decode_boxes(d_ok, ok, {.weights = {0, 1, 1, 1}});
        },
        "decode_boxes", "params");
    expect_invalid([&] { (void)detseg::decode_boxes(d_ok, ok, {.scale_clamp = NAN}); },
                   "decode_boxes", "params");
    expect_invalid([&] { detseg::decode_boxes(d_ok, ok, wrong_out); }, "decode_boxes", "out");
    // a rank-3 xarray is not a matrix of deltas
    xt::xarray<float> rank3 = xt::zeros<float>({2, 2, 4});
    expect_invalid([&] { (void)detseg::decode_boxes(rank3, ok); }, "decode_boxes", "deltas");
}
