#include <detseg/io/state_dict.hpp>
#include <detseg/seg/aspp.hpp>

#include "support/dense_fixtures.hpp"
#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

using detseg::index_t;

namespace {

// The weights of tests/reference/gen_aspp_fixtures.py (state_dict(cfg)).
template <class T>
detseg::named_tensors<T> make_weights(const detseg::aspp_config& cfg, std::uint64_t seed) {
    detseg::named_tensors<T> sd;
    std::uint64_t t = 0;
    for (const auto& [key, shape] : detseg::aspp_tensor_shapes(cfg)) {
        index_t n = 1;
        for (index_t e : shape)
            n *= e;
        std::vector<T> v(static_cast<std::size_t>(n));
        const std::string leaf = key.substr(key.rfind('.') + 1);
        double scale = 1, offset = 0;
        if (shape.size() == 4) {
            const auto fan = static_cast<std::uint64_t>(shape[1] * shape[2] * shape[3]);
            scale = std::ldexp(1.0, -((std::bit_width(fan) - 1) / 2));
        } else if (leaf == "weight") {
            scale = 0.25;
            offset = 1;
        } else if (leaf == "running_var") {
            scale = 0.5;
            offset = 0.75;
        } else {
            scale = 0.125;
        }
        for (index_t i = 0; i < n; ++i)
            v[static_cast<std::size_t>(i)] =
                static_cast<T>(offset + testing::counter_value(1000 * seed + t, i) * scale);
        sd.insert(key, shape, std::move(v));
        ++t;
    }
    return sd;
}

template <class T>
detseg::tensor<T, 3> make_input(index_t c, index_t h, index_t w, std::uint64_t seed) {
    detseg::tensor<T, 3> x({c, h, w});
    for (index_t i = 0; i < x.size(); ++i)
        x.flat()[static_cast<std::size_t>(i)] = T(testing::counter_value(1000 * seed + 999, i));
    return x;
}

struct aspp_case {
    detseg::aspp_config cfg;
    index_t h, w;
    std::uint64_t seed;
};

aspp_case read_case(const std::string& name) {
    const auto c = detseg::load_npy(testing::data_path("seg/aspp/" + name + "_config.npy"))
                       .as<std::int64_t, 1>();
    aspp_case k;
    k.cfg.in_channels = c(0);
    k.cfg.out_channels = c(1);
    k.h = c(2);
    k.w = c(3);
    k.cfg.variant = c(4) == 0 ? detseg::aspp_variant::standard : detseg::aspp_variant::separable;
    k.seed = static_cast<std::uint64_t>(c(5));
    k.cfg.rates.assign(c.flat().begin() + 7, c.flat().begin() + 7 + c(6));
    return k;
}

std::vector<std::string> case_names() {
    return testing::fixture_case_names("seg/aspp/cases.txt");
}

bool heavy(const aspp_case& k) {
    return k.cfg.in_channels * k.h * k.w > 300000;
}

// Brute-force eval-mode ASPP in long double from the unfolded weights (torchvision's definition).
template <class T>
std::vector<long double> oracle(const detseg::aspp_config& cfg, const detseg::named_tensors<T>& sd,
                                const detseg::tensor<T, 3>& x) {
    const index_t c = cfg.in_channels, o = cfg.out_channels, h = x.extent(1), w = x.extent(2);
    using L = long double;
    auto get = [&](const std::string& k) { return sd.find(k)->values; };
    // conv (groups 1 or depthwise) + BN + ReLU on a ci×h×w map
    auto conv_bn_relu = [&](const std::vector<L>& in, index_t ci, const std::string& wkey,
                            const std::string& bn, index_t co, index_t ksz, index_t rate,
                            bool depthwise) {
        const auto wt = get(wkey);
        const auto g = get(bn + "weight"), b = get(bn + "bias"), m = get(bn + "running_mean"),
                   v = get(bn + "running_var");
        std::vector<L> out(static_cast<std::size_t>(co * h * w));
        const index_t pad = ksz == 3 ? rate : 0;
        for (index_t oc = 0; oc < co; ++oc)
            for (index_t i = 0; i < h; ++i)
                for (index_t j = 0; j < w; ++j) {
                    L s = 0;
                    for (index_t cc = 0; cc < (depthwise ? 1 : ci); ++cc)
                        for (index_t u = 0; u < ksz; ++u)
                            for (index_t q = 0; q < ksz; ++q) {
                                const index_t iy = i - pad + u * rate, ix = j - pad + q * rate;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                    continue;
                                const index_t chan = depthwise ? oc : cc;
                                s += L(wt[static_cast<std::size_t>(((oc * (depthwise ? 1 : ci) + cc) * ksz + u) * ksz + q)]) *
                                     in[static_cast<std::size_t>((chan * h + iy) * w + ix)];
                            }
                    const auto z = static_cast<std::size_t>(oc);
                    L y = (s - L(m[z])) / std::sqrt(L(v[z]) + L(cfg.eps)) * L(g[z]) + L(b[z]);
                    out[static_cast<std::size_t>((oc * h + i) * w + j)] = y > 0 ? y : 0;
                }
        return out;
    };
    std::vector<L> xin(x.flat().begin(), x.flat().end());
    std::vector<L> cat = conv_bn_relu(xin, c, "convs.0.0.weight", "convs.0.1.", o, 1, 1, false);
    const auto r = static_cast<index_t>(cfg.rates.size());
    for (index_t k = 1; k <= r; ++k) {
        const index_t rate = cfg.rates[static_cast<std::size_t>(k - 1)];
        const std::string p = "convs." + std::to_string(k) + ".";
        std::vector<L> br;
        if (cfg.variant == detseg::aspp_variant::standard) {
            br = conv_bn_relu(xin, c, p + "0.weight", p + "1.", o, 3, rate, false);
        } else {
            const auto dw = conv_bn_relu(xin, c, p + "0.weight", p + "1.", c, 3, rate, true);
            br = conv_bn_relu(dw, c, p + "3.weight", p + "4.", o, 1, 1, false);
        }
        cat.insert(cat.end(), br.begin(), br.end());
    }
    // pooling branch, evaluated on a 1×1 map then broadcast
    std::vector<L> mean(static_cast<std::size_t>(c));
    for (index_t ch = 0; ch < c; ++ch) {
        L s = 0;
        for (index_t i = 0; i < h * w; ++i)
            s += xin[static_cast<std::size_t>(ch * h * w + i)];
        mean[static_cast<std::size_t>(ch)] = s / L(h * w);
    }
    {
        const std::string p = "convs." + std::to_string(r + 1) + ".";
        const auto wt = get(p + "1.weight");
        const auto g = get(p + "2.weight"), b = get(p + "2.bias"), m = get(p + "2.running_mean"),
                   v = get(p + "2.running_var");
        for (index_t oc = 0; oc < o; ++oc) {
            L s = 0;
            for (index_t ch = 0; ch < c; ++ch)
                s += L(wt[static_cast<std::size_t>(oc * c + ch)]) * mean[static_cast<std::size_t>(ch)];
            const auto z = static_cast<std::size_t>(oc);
            L y = (s - L(m[z])) / std::sqrt(L(v[z]) + L(cfg.eps)) * L(g[z]) + L(b[z]);
            y = y > 0 ? y : 0;
            for (index_t i = 0; i < h * w; ++i)
                cat.push_back(y);
        }
    }
    return conv_bn_relu(cat, (r + 2) * o, "project.0.weight", "project.1.", o, 1, 1, false);
}

} // namespace

TEST_CASE_TEMPLATE("aspp equals torchvision's ASPP (eval) on every fixture", T, float, double) {
    const auto names = case_names();
    REQUIRE(names.size() == 9);
    // max |detseg - torchvision| / max |torchvision| over the stored outputs
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-10;
    int ran = 0;
    for (const std::string& name : names) {
        CAPTURE(name);
        const aspp_case k = read_case(name);
        if (testing::sanitized_build && heavy(k))
            continue;
        const detseg::aspp<T> net(k.cfg, make_weights<T>(k.cfg, k.seed));
        const auto x = make_input<T>(k.cfg.in_channels, k.h, k.w, k.seed);
        const auto y = net(x);
        REQUIRE(y.extents() == std::array<index_t, 3>{k.cfg.out_channels, k.h, k.w});
        const std::string base = "seg/aspp/" + name;
        const auto idx = detseg::load_npy(testing::data_path(base + "_idx.npy")).as<std::int64_t, 1>();
        const auto ref = detseg::load_npy(testing::data_path(base + (sizeof(T) == 4 ? "_f32.npy" : "_f64.npy")))
                             .as<T, 1>();
        const auto maxima = detseg::load_npy(testing::data_path(base + "_max.npy")).as<double, 1>();
        const double scale = maxima(sizeof(T) == 4 ? 0 : 1);
        double worst = 0;
        for (index_t i = 0; i < idx.extent(0); ++i)
            worst = std::max(worst, std::abs(double(y.flat()[static_cast<std::size_t>(idx(i))]) -
                                             double(ref(i))));
        CHECK(worst / scale <= tol);
        // The largest output is in the stored ones for the fully stored cases.
        if (idx.extent(0) == y.size()) {
            double m = 0;
            for (T v : y.flat())
                m = std::max(m, std::abs(double(v)));
            CHECK(std::abs(m - scale) <= tol * scale);
        }
        ++ran;
    }
    CHECK(ran == (testing::sanitized_build ? 6 : 9));
}

TEST_CASE("aspp matches a brute-force oracle on configurations no fixture has") {
    std::mt19937_64 rng(7);
    auto pick = [&](index_t lo, index_t hi) {
        return std::uniform_int_distribution<index_t>(lo, hi)(rng);
    };
    const int trials = testing::sanitized_build ? 6 : 25;
    for (int t = 0; t < trials; ++t) {
        detseg::aspp_config cfg;
        cfg.in_channels = pick(1, 24);
        cfg.out_channels = pick(1, 14);
        cfg.rates.clear();
        for (index_t r = pick(0, 3); r > 0; --r)
            cfg.rates.push_back(pick(1, 16));
        cfg.variant = t % 3 == 2 ? detseg::aspp_variant::separable : detseg::aspp_variant::standard;
        const index_t h = pick(1, 14), w = pick(1, 14);
        CAPTURE(t);
        const auto sd = make_weights<double>(cfg, 500 + static_cast<std::uint64_t>(t));
        const auto x = make_input<double>(cfg.in_channels, h, w, 500 + static_cast<std::uint64_t>(t));
        const auto y = detseg::aspp<double>(cfg, sd)(x);
        const auto ref = oracle(cfg, sd, x);
        REQUIRE(static_cast<std::size_t>(y.size()) == ref.size());
        long double d = 0, m = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) {
            d = std::max(d, std::abs(static_cast<long double>(y.flat()[i]) - ref[i]));
            m = std::max(m, std::abs(ref[i]));
        }
        CHECK(static_cast<double>(d) <= 1e-12 * std::max(1.0, static_cast<double>(m)));
    }
}

TEST_CASE("aspp: weights from a folder of .npy files; output views; thread counts") {
    const aspp_case k = read_case("small");
    const auto loaded = detseg::load_state_dict<float>(testing::data_path("seg/aspp/small_state"));
    CHECK(loaded.contains("convs.0.1.num_batches_tracked"));
    const auto generated = make_weights<float>(k.cfg, k.seed);
    CHECK(loaded.size() == generated.size() + 1);
    for (const auto& entry : generated) {
        const std::string& key = entry.first;
        CAPTURE(key);
        const auto* l = loaded.find(key);
        REQUIRE(l != nullptr);
        CHECK(l->shape == entry.second.shape);
        CHECK(l->values == entry.second.values);
    }
    const detseg::aspp<float> net(k.cfg, loaded);
    const auto x = make_input<float>(k.cfg.in_channels, k.h, k.w, k.seed);
    const auto y = net(x);
    // H×W×O output memory, written through strides, and a double output.
    std::vector<float> hwc(static_cast<std::size_t>(y.size()));
    const index_t o = k.cfg.out_channels;
    auto ov = detseg::make_view(hwc.data(), {o, k.h, k.w}, {index_t{1}, k.w * o, o});
    net(x, ov);
    detseg::tensor<double, 3> yd({o, k.h, k.w});
    net(x, yd);
    int bad = 0;
    for (index_t c = 0; c < o; ++c)
        for (index_t i = 0; i < k.h; ++i)
            for (index_t j = 0; j < k.w; ++j)
                bad += (ov(c, i, j) != y(c, i, j)) + (yd(c, i, j) != double(y(c, i, j)));
    CHECK(bad == 0);
    // The input through strides (H×W×C memory).
    std::vector<float> xhwc(static_cast<std::size_t>(x.size()));
    const index_t c = k.cfg.in_channels;
    for (index_t ch = 0; ch < c; ++ch)
        for (index_t i = 0; i < k.h; ++i)
            for (index_t j = 0; j < k.w; ++j)
                xhwc[static_cast<std::size_t>((i * k.w + j) * c + ch)] = x(ch, i, j);
    CHECK(net(detseg::make_view(xhwc.data(), {c, k.h, k.w}, {index_t{1}, k.w * c, c})) == y);
#if DETSEG_HAS_OPENMP
    const aspp_case m = read_case("sep_mid");
    const detseg::aspp<float> mid(m.cfg, make_weights<float>(m.cfg, m.seed));
    const auto xm = make_input<float>(m.cfg.in_channels, m.h, m.w, m.seed);
    const auto ref = mid(xm);
    const int saved = omp_get_max_threads();
    for (int threads : {1, 3}) {
        omp_set_num_threads(threads);
        CHECK(mid(xm) == ref);
    }
    omp_set_num_threads(saved);
#endif
}

TEST_CASE("aspp: bad configurations, weights and inputs throw invalid_argument") {
    using testing::expect_invalid;
    const detseg::aspp_config cfg{.in_channels = 6, .out_channels = 4, .rates = {2, 3}};
    const auto sd = make_weights<float>(cfg, 1);
    auto with = [&](auto change) {
        detseg::aspp_config c = cfg;
        change(c);
        return c;
    };
    expect_invalid([&] { detseg::aspp<float>(with([](auto& c) { c.in_channels = 0; }), sd); },
                   "aspp", "config.in_channels");
    expect_invalid([&] { detseg::aspp<float>(with([](auto& c) { c.out_channels = -1; }), sd); },
                   "aspp", "config.out_channels");
    expect_invalid([&] { detseg::aspp<float>(with([](auto& c) { c.rates = {2, 0}; }), sd); },
                   "aspp", "config.rates");
    expect_invalid([&] { detseg::aspp<float>(with([](auto& c) { c.eps = 0; }), sd); }, "aspp",
                   "config.eps");
    expect_invalid([&] { (void)detseg::aspp_tensor_shapes(with([](auto& c) { c.rates = {-1}; })); },
                   "aspp_tensor_shapes", "config.rates");
    // A missing tensor, and one of the wrong shape: the message names the key and the shape.
    auto missing = sd;
    missing.erase("convs.2.1.running_var");
    try {
        detseg::aspp<float> bad(cfg, missing);
        FAIL("expected invalid_argument");
    } catch (const detseg::invalid_argument& e) {
        CHECK(e.function() == "aspp");
        CHECK(e.argument() == "weights");
        CHECK(std::string(e.what()).find("'convs.2.1.running_var'") != std::string::npos);
        CHECK(std::string(e.what()).find("expected shape 4") != std::string::npos);
    }
    auto misshaped = sd;
    misshaped.insert("project.0.weight", {4, 12, 1, 1}, std::vector<float>(48, 0.f));
    try {
        detseg::aspp<float> bad(cfg, misshaped);
        FAIL("expected invalid_argument");
    } catch (const detseg::invalid_argument& e) {
        CHECK(e.argument() == "weights");
        CHECK(std::string(e.what()).find("'project.0.weight' has shape 4×12×1×1, expected 4×16×1×1") !=
              std::string::npos);
    }
    // The separable variant needs its own keys.
    expect_invalid([&] {
        detseg::aspp<float>(with([](auto& c) { c.variant = detseg::aspp_variant::separable; }), sd);
    }, "aspp", "weights");
    auto negative_var = sd;
    negative_var.insert("convs.0.1.running_var", {4}, std::vector<float>{1, 1, -1, 1});
    CHECK_THROWS_AS(detseg::aspp<float>(cfg, negative_var), detseg::invalid_argument);
    // Inputs and outputs.
    const detseg::aspp<float> net(cfg, sd);
    detseg::tensor<float, 3> x5({5, 7, 7});
    expect_invalid([&] { (void)net(x5); }, "aspp::forward", "input");
    detseg::tensor<float, 3> x({6, 7, 7});
    detseg::tensor<float, 3> out({4, 7, 6});
    expect_invalid([&] { net(x, out); }, "aspp::forward", "out");
    CHECK(detseg::aspp_tensor_shapes(cfg).size() == 5 * 4 + 5); // 5 convs, 5 BNs of 4 tensors
}
