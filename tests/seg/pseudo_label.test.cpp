// cross_entropy_loss, pseudo_label_loss, label_boundaries: values and gradients equal PyTorch 1.13
// autograd on the fixtures of tests/reference/gen_pseudo_label_fixtures.py (1e-5 relative in
// float, 1e-10 in double); random inputs against a long-double oracle of the definitions and
// against finite differences; strides, thread counts, and every rejected input.

#include <detseg/backend/eigen.hpp>
#include <detseg/backend/xtensor.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/boundary.hpp>
#include <detseg/seg/pseudo_label.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/threads.hpp"

#include <Eigen/Core>
#include <doctest/doctest.h>
#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>


using detseg::cross_entropy_loss;
using detseg::cross_entropy_params;
using detseg::index_t;
using detseg::loss_reduction;
using detseg::pseudo_label_loss;
using detseg::pseudo_label_loss_params;
using detseg::tensor;

namespace {

const std::string dir = "seg/pseudo/";

template <class T, std::size_t R>
tensor<T, R> load(const std::string& stem) {
    return detseg::load_npy(testing::data_path(dir + stem + ".npy")).as<T, R>();
}

std::vector<std::string> loss_cases() {
    std::ifstream in(testing::data_path(dir + "loss_cases.txt"));
    REQUIRE(in.good());
    std::vector<std::string> names;
    for (std::string s; in >> s;)
        names.push_back(s);
    return names;
}

template <class T>
constexpr double tolerance() {
    return sizeof(T) == 4 ? 1e-5 : 1e-10;
}

/// |a - b| <= tol (|b| + max |ref|): relative to each value, with an absolute floor at the
/// array's scale (elements that cancel to nearly 0 carry the rounding of their terms).
template <class A, class B>
bool close_arrays(const A& got, const B& ref, double tol) {
    const auto g = got.flat();
    const auto r = ref.flat();
    if (g.size() != r.size())
        return false;
    double scale = 0.0;
    for (auto v : r)
        scale = std::max(scale, std::abs(static_cast<double>(v)));
    for (std::size_t k = 0; k < r.size(); ++k) {
        const double a = static_cast<double>(g[k]), b = static_cast<double>(r[k]);
        if (!(std::abs(a - b) <= tol * (std::abs(b) + scale)))
            return false;
    }
    return true;
}

bool close_value(double a, double b, double tol) {
    return std::abs(a - b) <= tol * std::max(std::abs(b), 1e-300);
}

using testing::set_threads;

struct case_params {
    loss_reduction reduction;
    double gamma, tau, lam;
    bool weights, pseudo;
};

case_params read_params(const std::string& name) {
    const auto p = load<double, 1>(name + "_params");
    REQUIRE(p.extent(0) == 6);
    const loss_reduction reds[] = {loss_reduction::mean, loss_reduction::weighted_mean,
                                   loss_reduction::sum, loss_reduction::none};
    return {reds[static_cast<int>(p(0))], p(1), p(2), p(3), p(4) != 0.0, p(5) != 0.0};
}

pseudo_label_loss_params pl_params(const case_params& c) {
    pseudo_label_loss_params p;
    p.reduction = c.reduction;
    p.gamma = c.gamma;
    if (c.tau >= 0.0)
        p.threshold = c.tau;
    p.boundary_weight = c.lam;
    return p;
}

template <class T, std::size_t R>
void check_case(const std::string& name, const case_params& c) {
    const std::string tag = sizeof(T) == 4 ? "_f32" : "_f64";
    const auto x = load<T, R>(name + tag + "_logits");
    const auto y = load<std::int32_t, R - 1>(name + "_labels");
    const auto conf = load<T, R - 1>(name + tag + "_conf");
    const auto cw = load<double, 1>(name + "_class_weights");
    const auto ref_grad = load<T, R>(name + tag + "_grad");
    const double ref_value = load<double, 1>(name + tag + "_value")(0);
    const double tol = tolerance<T>();

    tensor<T, R> grad(x.extents());
    tensor<T, R - 1> losses(y.extents());
    double value = 0.0;
    detseg::loss_result<T, R> returned;
    if (c.pseudo) {
        const auto p = pl_params(c);
        value = pseudo_label_loss(x, y, conf, grad, losses, p);
        returned = pseudo_label_loss(x, y, conf, p);
    } else {
        const cross_entropy_params p{.reduction = c.reduction};
        if (c.weights) {
            value = cross_entropy_loss(x, y, cw, grad, losses, p);
            returned = cross_entropy_loss(x, y, cw, p);
        } else {
            const std::vector<double> ones(static_cast<std::size_t>(cw.extent(0)), 1.0);
            value = cross_entropy_loss(x, y, ones, grad, losses, p);
            returned = cross_entropy_loss(x, y, p);
            tensor<T, R> g2(x.extents());
            CHECK(cross_entropy_loss(x, y, g2, p) == value);
            CHECK(g2 == grad);
        }
    }
    CHECK(close_value(value, ref_value, tol));
    CHECK(close_arrays(grad, ref_grad, tol));
    CHECK(returned.value == value);
    CHECK(returned.grad == grad);
    if (c.reduction == loss_reduction::none) {
        const auto ref_losses = load<T, R - 1>(name + tag + "_losses");
        CHECK(close_arrays(losses, ref_losses, tol));
        CHECK(returned.losses == losses);
    } else {
        CHECK(returned.losses.size() == 0);
    }
}

template <class T>
void check_all_fixtures() {
    int ran = 0;
    for (const auto& name : loss_cases()) {
        CAPTURE(name);
        const auto c = read_params(name);
        const auto probe = detseg::load_npy(testing::data_path(dir + name + "_labels.npy"));
        if (probe.shape.size() == 3)
            check_case<T, 4>(name, c);
        else
            check_case<T, 3>(name, c);
        ++ran;
    }
    CHECK(ran == 11);
}

// --- the oracle: the definitions in long double ---------------------------------------------

struct oracle_out {
    long double value = 0;
    std::vector<long double> grad;   // N×C×H×W row-major
    std::vector<long double> losses; // N×H×W
};

bool oracle_boundary(const std::vector<int>& y, index_t n, index_t h, index_t w, index_t i,
                     index_t j) {
    auto at = [&](index_t a, index_t b) {
        a = std::clamp<index_t>(a, 0, h - 1);
        b = std::clamp<index_t>(b, 0, w - 1);
        return static_cast<long long>(y[static_cast<std::size_t>((n * h + a) * w + b)]);
    };
    const long long gx = (at(i - 1, j + 1) - at(i - 1, j - 1)) +
                         2 * (at(i, j + 1) - at(i, j - 1)) + (at(i + 1, j + 1) - at(i + 1, j - 1));
    const long long gy = (at(i + 1, j - 1) - at(i - 1, j - 1)) +
                         2 * (at(i + 1, j) - at(i - 1, j)) + (at(i + 1, j + 1) - at(i - 1, j + 1));
    return gx != 0 || gy != 0;
}

template <class T>
oracle_out oracle(const std::vector<T>& x, const std::vector<int>& y, const std::vector<T>& conf,
                  const std::vector<double>& cw, index_t n_img, index_t c_n, index_t h, index_t w,
                  bool pseudo, const pseudo_label_loss_params& p) {
    oracle_out o;
    o.grad.assign(x.size(), 0);
    o.losses.assign(y.size(), 0);
    long double num = 0, den_mean = 0, den_w = 0;
    std::vector<long double> pw(y.size(), 0);
    for (index_t n = 0; n < n_img; ++n)
        for (index_t i = 0; i < h; ++i)
            for (index_t j = 0; j < w; ++j) {
                const auto q = static_cast<std::size_t>((n * h + i) * w + j);
                if (y[q] == 255)
                    continue;
                long double wt = cw.empty() ? 1.0L : cw[static_cast<std::size_t>(y[q])];
                den_mean += wt;
                if (pseudo) {
                    const long double cf = conf[q];
                    if (p.threshold && cf < *p.threshold)
                        wt = 0;
                    else
                        wt *= std::pow(cf, static_cast<long double>(p.gamma));
                    if (p.boundary_weight > 0 && oracle_boundary(y, n, h, w, i, j))
                        wt *= 1.0L + p.boundary_weight;
                }
                pw[q] = wt;
                den_w += wt;
                long double mx = -INFINITY, s = 0;
                for (index_t c = 0; c < c_n; ++c)
                    mx = std::max<long double>(mx, x[static_cast<std::size_t>(((n * c_n + c) * h + i) * w + j)]);
                for (index_t c = 0; c < c_n; ++c)
                    s += std::exp(static_cast<long double>(
                                      x[static_cast<std::size_t>(((n * c_n + c) * h + i) * w + j)]) -
                                  mx);
                const long double l =
                    std::log(s) + mx - x[static_cast<std::size_t>(((n * c_n + y[q]) * h + i) * w + j)];
                o.losses[q] = wt * l;
                num += wt * l;
            }
    long double den = 1;
    if (p.reduction == loss_reduction::mean)
        den = den_mean;
    else if (p.reduction == loss_reduction::weighted_mean)
        den = den_w;
    o.value = den > 0 ? num / den : 0;
    const long double scale = den > 0 ? 1 / den : 0;
    for (index_t n = 0; n < n_img; ++n)
        for (index_t i = 0; i < h; ++i)
            for (index_t j = 0; j < w; ++j) {
                const auto q = static_cast<std::size_t>((n * h + i) * w + j);
                if (pw[q] == 0)
                    continue;
                long double mx = -INFINITY, s = 0;
                auto xi = [&](index_t c) {
                    return static_cast<long double>(
                        x[static_cast<std::size_t>(((n * c_n + c) * h + i) * w + j)]);
                };
                for (index_t c = 0; c < c_n; ++c)
                    mx = std::max(mx, xi(c));
                for (index_t c = 0; c < c_n; ++c)
                    s += std::exp(xi(c) - mx);
                for (index_t c = 0; c < c_n; ++c)
                    o.grad[static_cast<std::size_t>(((n * c_n + c) * h + i) * w + j)] =
                        pw[q] * scale * (std::exp(xi(c) - mx) / s - (c == y[q] ? 1 : 0));
            }
    return o;
}

} // namespace

TEST_CASE_TEMPLATE("pseudo-label losses equal PyTorch autograd on every fixture", T, float,
                   double) {
    check_all_fixtures<T>();
}

TEST_CASE("label_boundaries equals the generator's Sobel boundaries") {
    int ran = 0;
    for (const auto& name : loss_cases()) {
        const auto c = read_params(name);
        if (c.lam == 0.0)
            continue;
        const auto probe = detseg::load_npy(testing::data_path(dir + name + "_labels.npy"));
        if (probe.shape.size() == 3) {
            const auto y = load<std::int32_t, 3>(name + "_labels");
            const auto ref = load<std::uint8_t, 3>(name + "_boundary");
            for (index_t n = 0; n < y.extent(0); ++n) {
                const auto img = detseg::make_view(y.data() + n * y.extent(1) * y.extent(2),
                                                   {y.extent(1), y.extent(2)});
                const auto b = detseg::label_boundaries(img);
                for (index_t i = 0; i < y.extent(1); ++i)
                    for (index_t j = 0; j < y.extent(2); ++j)
                        CHECK(b(i, j) == ref(n, i, j));
            }
        } else {
            const auto y = load<std::int32_t, 2>(name + "_labels");
            const auto ref = load<std::uint8_t, 2>(name + "_boundary");
            CHECK(detseg::label_boundaries(y) == ref);
        }
        ++ran;
    }
    CHECK(ran == 2);
}

TEST_CASE_TEMPLATE("pseudo-label losses equal the long-double oracle on random inputs", T, float,
                   double) {
    std::mt19937_64 rng(777 + sizeof(T));
    const int trials = testing::sanitized_build ? 12 : 60;
    for (int t = 0; t < trials; ++t) {
        const index_t n = 1 + static_cast<index_t>(rng() % 3), c = 1 + static_cast<index_t>(rng() % 12),
                      h = 1 + static_cast<index_t>(rng() % 9), w = 1 + static_cast<index_t>(rng() % 40);
        std::normal_distribution<double> nd(0.0, 1.0 + static_cast<double>(rng() % 8));
        std::uniform_real_distribution<double> ud(0.0, 1.0);
        std::vector<T> x(static_cast<std::size_t>(n * c * h * w));
        for (auto& v : x)
            v = static_cast<T>(nd(rng));
        std::vector<int> y(static_cast<std::size_t>(n * h * w));
        std::vector<T> conf(y.size());
        const int region = 1 + static_cast<int>(rng() % 4);
        for (index_t q = 0; q < n * h * w; ++q) {
            const index_t jj = q % w, ii = (q / w) % h;
            y[static_cast<std::size_t>(q)] =
                ud(rng) < 0.1 ? 255
                              : static_cast<int>((jj / region * 7 + ii / region * 3 + (rng() % 2)) %
                                                 static_cast<std::size_t>(c));
            conf[static_cast<std::size_t>(q)] = static_cast<T>(ud(rng));
        }
        std::vector<double> cw;
        const bool pseudo = rng() % 2;
        const auto red = static_cast<loss_reduction>(rng() % 4);
        pseudo_label_loss_params p{.reduction = red};
        if (pseudo) {
            p.gamma = static_cast<double>(rng() % 5) * 0.5;
            if (rng() % 2)
                p.threshold = ud(rng);
            if (rng() % 2)
                p.boundary_weight = 2.0 * ud(rng);
        } else if (rng() % 2) {
            for (index_t k = 0; k < c; ++k)
                cw.push_back(0.1 + 2.0 * ud(rng));
        }
        if (!pseudo && red == loss_reduction::weighted_mean)
            p.reduction = loss_reduction::mean;
        CAPTURE(t);
        CAPTURE(n);
        CAPTURE(c);
        CAPTURE(h);
        CAPTURE(w);
        const auto xv = detseg::make_view(x.data(), {n, c, h, w});
        const auto yv = detseg::make_view(y.data(), {n, h, w});
        const auto cv = detseg::make_view(conf.data(), {n, h, w});
        tensor<T, 4> grad({n, c, h, w});
        tensor<T, 3> losses({n, h, w});
        double value;
        if (pseudo) {
            value = pseudo_label_loss(xv, yv, cv, grad, losses, p);
        } else {
            const cross_entropy_params cp{.reduction = p.reduction};
            const std::vector<double> ones(static_cast<std::size_t>(c), 1.0);
            value = cross_entropy_loss(xv, yv, cw.empty() ? ones : cw, grad, losses, cp);
        }
        const auto o = oracle(x, y, conf, cw, n, c, h, w, pseudo, p);
        const double tol = sizeof(T) == 4 ? 2e-6 : 1e-12;
        long double gscale = 0, lscale = 0;
        for (auto v : o.grad)
            gscale = std::max(gscale, std::abs(v));
        for (auto v : o.losses)
            lscale = std::max(lscale, std::abs(v));
        const double vref = static_cast<double>(o.value);
        CHECK(std::abs(value - vref) <= tol * (std::abs(vref) + 1e-300) + 1e-300);
        bool ok = true;
        for (std::size_t k = 0; k < o.grad.size(); ++k)
            ok &= std::abs(static_cast<long double>(grad.flat()[k]) - o.grad[k]) <=
                  tol * (std::abs(o.grad[k]) + gscale);
        CHECK(ok);
        ok = true;
        for (std::size_t k = 0; k < o.losses.size(); ++k)
            ok &= std::abs(static_cast<long double>(losses.flat()[k]) - o.losses[k]) <=
                  tol * (std::abs(o.losses[k]) + lscale);
        CHECK(ok);
    }
}

TEST_CASE("pseudo-label loss gradients equal finite differences (double)") {
    std::mt19937_64 rng(4242);
    const index_t n = 2, c = 5, h = 6, w = 7;
    std::normal_distribution<double> nd(0.0, 2.0);
    std::uniform_real_distribution<double> ud(0.0, 1.0);
    std::vector<double> x(static_cast<std::size_t>(n * c * h * w));
    for (auto& v : x)
        v = nd(rng);
    std::vector<std::uint8_t> y(static_cast<std::size_t>(n * h * w));
    std::vector<double> conf(y.size());
    for (std::size_t q = 0; q < y.size(); ++q) {
        y[q] = ud(rng) < 0.1 ? 255 : static_cast<std::uint8_t>((q / 3) % c);
        conf[q] = ud(rng);
    }
    const auto yv = detseg::make_view(y.data(), {n, h, w});
    const auto cv = detseg::make_view(conf.data(), {n, h, w});
    for (auto red : {loss_reduction::mean, loss_reduction::weighted_mean, loss_reduction::sum}) {
        const pseudo_label_loss_params p{.reduction = red, .gamma = 1.5, .threshold = 0.2,
                                         .boundary_weight = 0.7};
        auto f = [&](const std::vector<double>& xs) {
            tensor<double, 4> g({n, c, h, w});
            return pseudo_label_loss(detseg::make_view(xs.data(), {n, c, h, w}), yv, cv, g, p);
        };
        tensor<double, 4> grad({n, c, h, w});
        pseudo_label_loss(detseg::make_view(x.data(), {n, c, h, w}), yv, cv, grad, p);
        double gmax = 0.0;
        for (double v : grad.flat())
            gmax = std::max(gmax, std::abs(v));
        for (int k = 0; k < 40; ++k) {
            const auto e = static_cast<std::size_t>(rng() % x.size());
            auto xp = x, xm = x;
            const double step = 1e-5;
            xp[e] += step;
            xm[e] -= step;
            const double fd = (f(xp) - f(xm)) / (2 * step);
            CHECK(std::abs(fd - grad.flat()[e]) <= 1e-7 * gmax + 1e-6 * std::abs(fd));
        }
    }
}

TEST_CASE_TEMPLATE("strided inputs and outputs, and any thread count, give the same results", T,
                   float, double) {
    const std::string tag = sizeof(T) == 4 ? "_f32" : "_f64";
    const auto x = load<T, 4>("bnd_mean" + tag + "_logits");
    const auto y = load<std::int32_t, 3>("bnd_mean_labels");
    const auto conf = load<T, 3>("bnd_mean" + tag + "_conf");
    const index_t n = x.extent(0), c = x.extent(1), h = x.extent(2), w = x.extent(3);
    const auto p = pseudo_label_loss_params::cw_bass(1.0, 1.5, 0.3);
    set_threads(1);
    tensor<T, 4> g1(x.extents());
    const double v1 = pseudo_label_loss(x, y, conf, g1, p);
    // N×H×W×C storage viewed as N×C×H×W, gradient into an N×H×W×C buffer, double output.
    std::vector<T> nhwc(static_cast<std::size_t>(x.size()));
    for (index_t a = 0; a < n; ++a)
        for (index_t k = 0; k < c; ++k)
            for (index_t i = 0; i < h; ++i)
                for (index_t j = 0; j < w; ++j)
                    nhwc[static_cast<std::size_t>(((a * h + i) * w + j) * c + k)] = x(a, k, i, j);
    const auto xs = detseg::make_view(nhwc.data(), {n, c, h, w}, {h * w * c, 1, w * c, c});
    std::vector<double> gbuf(nhwc.size());
    auto gs = detseg::make_view(gbuf.data(), {n, c, h, w}, {h * w * c, 1, w * c, c});
    const double v2 = pseudo_label_loss(xs, y, conf, gs, p);
    CHECK(std::abs(v2 - v1) <= 1e-12 * std::abs(v1));
    bool same = true;
    for (index_t a = 0; a < n; ++a)
        for (index_t k = 0; k < c; ++k)
            for (index_t i = 0; i < h; ++i)
                for (index_t j = 0; j < w; ++j)
                    same &= static_cast<T>(gs(a, k, i, j)) == g1(a, k, i, j);
    CHECK(same);
    // Thread counts: bit-identical, on an input large enough for both passes to use threads
    // (2^18 pixels, 2^21 logits).
    const index_t bn = 4, bc = 8, bh = 256, bw = 256;
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    tensor<T, 4> bx({bn, bc, bh, bw});
    for (auto& v : bx.flat())
        v = static_cast<T>(nd(rng));
    tensor<std::uint8_t, 3> by({bn, bh, bw});
    tensor<T, 3> bconf({bn, bh, bw});
    for (index_t q = 0; q < by.size(); ++q) {
        by.flat()[static_cast<std::size_t>(q)] =
            static_cast<std::uint8_t>(q % 11 == 0 ? 255 : (q / 5) % bc);
        // (q / 5 gives runs of one label, so the boundary term has edges to find.)
        bconf.flat()[static_cast<std::size_t>(q)] = static_cast<T>((q % 97) / 96.0);
    }
    set_threads(1);
    const auto r1 = pseudo_label_loss(bx, by, bconf, p);
    for (int threads : {2, 3, 5}) {
        set_threads(threads);
        const auto rt = pseudo_label_loss(bx, by, bconf, p);
        CHECK(rt.value == r1.value);
        CHECK(rt.grad == r1.grad);
        tensor<T, 4> g(x.extents());
        CHECK(pseudo_label_loss(x, y, conf, g, p) == v1);
        CHECK(g == g1);
    }
    set_threads(2);
}

TEST_CASE("all pixels ignored: the mean is 0 with a zero gradient; sum and none too") {
    tensor<float, 3> x({3, 2, 2}, 1.5f);
    tensor<std::int64_t, 2> y({2, 2}, 255);
    for (auto red : {loss_reduction::mean, loss_reduction::sum, loss_reduction::none}) {
        const auto r = cross_entropy_loss(x, y, cross_entropy_params{.reduction = red});
        CHECK(r.value == 0.0);
        for (float g : r.grad.flat())
            CHECK(g == 0.0f);
    }
    // A threshold nobody passes: weighted_mean has D = 0.
    tensor<float, 2> conf({2, 2}, 0.5f);
    y(0, 0) = 1;
    const auto r = pseudo_label_loss(x, y, conf,
                                     pseudo_label_loss_params{.reduction = loss_reduction::weighted_mean,
                                                              .threshold = 0.9});
    CHECK(r.value == 0.0);
    // No ignore index at all: 255 is then out of range.
    testing::expect_invalid(
        [&] { (void)cross_entropy_loss(x, y, cross_entropy_params{.ignore_index = std::nullopt}); },
        "cross_entropy_loss", "labels");
}

TEST_CASE("pseudo-label losses reject bad input") {
    using testing::expect_invalid;
    tensor<float, 4> x({1, 3, 2, 2}, 0.5f);
    tensor<int, 3> y({1, 2, 2}, 1);
    tensor<float, 3> conf({1, 2, 2}, 0.5f);
    tensor<float, 4> g(x.extents());
    const std::vector<double> cw{1.0, 2.0, 0.5};

    auto bad_label = y;
    bad_label(0, 1, 1) = 3;
    expect_invalid([&] { (void)cross_entropy_loss(x, bad_label, g); }, "cross_entropy_loss",
                   "labels");
    bad_label(0, 1, 1) = -1;
    expect_invalid([&] { (void)pseudo_label_loss(x, bad_label, conf, g); }, "pseudo_label_loss",
                   "labels");
    auto nan_logits = x;
    nan_logits(0, 2, 0, 1) = std::numeric_limits<float>::quiet_NaN();
    expect_invalid([&] { (void)cross_entropy_loss(nan_logits, y, g); }, "cross_entropy_loss",
                   "logits");
    nan_logits(0, 2, 0, 1) = std::numeric_limits<float>::infinity();
    expect_invalid([&] { (void)pseudo_label_loss(nan_logits, y, conf, g); }, "pseudo_label_loss",
                   "logits");
    // -inf in a class that is not the target contributes exp(-inf) = 0 and is accepted.
    auto minus_inf = x;
    minus_inf(0, 2, 0, 1) = -std::numeric_limits<float>::infinity();
    CHECK(std::isfinite(cross_entropy_loss(minus_inf, y, g)));
    CHECK(std::abs(g(0, 2, 0, 1)) < 1e-30f); // exp(-87) at most (the clamp of the float exp)
    minus_inf(0, 1, 0, 1) = -std::numeric_limits<float>::infinity(); // the target
    expect_invalid([&] { (void)cross_entropy_loss(minus_inf, y, g); }, "cross_entropy_loss",
                   "logits");
    expect_invalid([&] { (void)cross_entropy_loss(x, y, std::vector<double>{1.0, -0.5, 1.0}, g); },
                   "cross_entropy_loss", "class_weights");
    expect_invalid([&] { (void)cross_entropy_loss(x, y, std::vector<double>{1.0, 1.0}, g); },
                   "cross_entropy_loss", "class_weights");
    expect_invalid(
        [&] {
            (void)cross_entropy_loss(x, y, std::vector<double>{1.0, NAN, 1.0}, g);
        },
        "cross_entropy_loss", "class_weights");
    expect_invalid([&] { (void)pseudo_label_loss(x, y, conf, g, {.gamma = -1.0}); },
                   "pseudo_label_loss", "gamma");
    expect_invalid([&] { (void)pseudo_label_loss(x, y, conf, g, {.threshold = NAN}); },
                   "pseudo_label_loss", "threshold");
    expect_invalid([&] { (void)pseudo_label_loss(x, y, conf, g, {.boundary_weight = -0.1}); },
                   "pseudo_label_loss", "boundary_weight");
    auto bad_conf = conf;
    bad_conf(0, 0, 0) = 1.5f;
    expect_invalid([&] { (void)pseudo_label_loss(x, y, bad_conf, g); }, "pseudo_label_loss",
                   "confidence");
    bad_conf(0, 0, 0) = NAN;
    expect_invalid([&] { (void)pseudo_label_loss(x, y, bad_conf, g); }, "pseudo_label_loss",
                   "confidence");
    // Shapes.
    tensor<int, 3> y_small({1, 2, 1}, 0);
    expect_invalid([&] { (void)cross_entropy_loss(x, y_small, g); }, "cross_entropy_loss",
                   "labels");
    tensor<float, 3> conf_small({1, 1, 2}, 0.5f);
    expect_invalid([&] { (void)pseudo_label_loss(x, y, conf_small, g); }, "pseudo_label_loss",
                   "confidence");
    tensor<float, 4> g_bad({1, 2, 2, 2});
    expect_invalid([&] { (void)cross_entropy_loss(x, y, g_bad); }, "cross_entropy_loss", "grad");
    tensor<double, 3> l_bad({1, 2, 3});
    expect_invalid([&] { (void)cross_entropy_loss(x, y, cw, g, l_bad); }, "cross_entropy_loss",
                   "losses");
    tensor<float, 4> x0({1, 0, 2, 2});
    expect_invalid([&] { (void)cross_entropy_loss(x0, y, cross_entropy_params{}); },
                   "cross_entropy_loss", "logits");
    tensor<std::uint8_t, 2> b_bad({2, 3});
    expect_invalid([&] { detseg::label_boundaries(tensor<int, 2>({2, 2}, 0), b_bad); },
                   "label_boundaries", "out");
}

TEST_CASE("xtensor and Eigen sources give the same results as detseg tensors") {
    const auto x = load<double, 4>("cw_mean_f64_logits");
    const auto y = load<std::int32_t, 3>("cw_mean_labels");
    const auto conf = load<double, 3>("cw_mean_f64_conf");
    const auto ref = pseudo_label_loss(x, y, conf, {.gamma = 2.0});
    xt::xtensor<double, 4> xx = xt::zeros<double>({std::size_t(x.extent(0)), std::size_t(x.extent(1)),
                                                   std::size_t(x.extent(2)), std::size_t(x.extent(3))});
    std::copy(x.flat().begin(), x.flat().end(), xx.begin());
    xt::xtensor<std::int32_t, 3> xy = xt::zeros<std::int32_t>({std::size_t(y.extent(0)),
                                                              std::size_t(y.extent(1)), std::size_t(y.extent(2))});
    std::copy(y.flat().begin(), y.flat().end(), xy.begin());
    xt::xtensor<double, 3> xc = xt::zeros<double>(xy.shape());
    std::copy(conf.flat().begin(), conf.flat().end(), xc.begin());
    xt::xtensor<double, 4> xg = xt::zeros<double>(xx.shape());
    CHECK(pseudo_label_loss(xx, xy, xc, xg, {.gamma = 2.0}) == ref.value);
    CHECK(std::equal(xg.begin(), xg.end(), ref.grad.flat().begin()));
    // One image's C×H×W logits against an Eigen H×W label map (column-major).
    const index_t c = x.extent(1), h = x.extent(2), w = x.extent(3);
    Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic> ey(h, w);
    Eigen::MatrixXd ec(h, w);
    for (index_t i = 0; i < h; ++i)
        for (index_t j = 0; j < w; ++j) {
            ey(i, j) = y(0, i, j);
            ec(i, j) = conf(0, i, j);
        }
    const auto one = detseg::make_view(x.data(), {c, h, w});
    const pseudo_label_loss_params none{.reduction = loss_reduction::none, .gamma = 2.0};
    const auto r3 = pseudo_label_loss(one, ey, ec, none);
    const auto r4 = pseudo_label_loss(x, y, conf, none);
    double sum0 = 0.0;
    bool same = true;
    for (index_t i = 0; i < h; ++i)
        for (index_t j = 0; j < w; ++j) {
            sum0 += r4.losses(0, i, j);
            same &= r3.losses(i, j) == r4.losses(0, i, j);
            for (index_t k = 0; k < c; ++k)
                same &= r3.grad(k, i, j) == r4.grad(0, k, i, j);
        }
    CHECK(same);
    CHECK(std::abs(r3.value - sum0) <= 1e-12 * std::abs(sum0));
}
