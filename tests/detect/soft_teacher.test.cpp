// Soft Teacher: the classification loss and its gradient equal PyTorch 1.13 autograd (both
// normalisations; 1e-5 relative in float, 1e-10 in double), the box-jitter uncertainty equals
// torch.std-based references (tests/reference/gen_pseudo_label_fixtures.py); random inputs
// against finite differences; rejected inputs.

#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/detect/soft_teacher.hpp>
#include <detseg/io/npy.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::soft_teacher_normalization;
using detseg::tensor;

namespace {

template <class T, std::size_t R>
tensor<T, R> load(const std::string& stem) {
    return detseg::load_npy(testing::data_path("detect/soft_teacher/" + stem + ".npy"))
        .as<T, R>();
}

template <class A, class B>
bool close_arrays(const A& got, const B& ref, double tol) {
    double scale = 0.0;
    for (auto v : ref.flat())
        scale = std::max(scale, std::abs(static_cast<double>(v)));
    if (got.size() != ref.size())
        return false;
    for (std::size_t k = 0; k < ref.flat().size(); ++k) {
        const double a = static_cast<double>(got.flat()[k]), b = static_cast<double>(ref.flat()[k]);
        if (!(std::abs(a - b) <= tol * (std::abs(b) + scale)))
            return false;
    }
    return true;
}

} // namespace

TEST_CASE_TEMPLATE("soft_teacher_classification_loss equals PyTorch autograd", T, float, double) {
    const std::string tag = sizeof(T) == 4 ? "_f32" : "_f64";
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-10;
    int ran = 0;
    for (int k = 0; k < 3; ++k) {
        const std::string cs = "cls" + std::to_string(k);
        const auto x = load<T, 2>(cs + tag + "_logits");
        const auto r = load<T, 1>(cs + tag + "_bgscore");
        const auto y = load<std::int64_t, 1>(cs + "_labels");
        for (const std::string norm : {"paper", "code"}) {
            CAPTURE(cs);
            CAPTURE(norm);
            const auto ref_grad = load<T, 2>(cs + "_" + norm + tag + "_grad");
            const double ref = load<double, 1>(cs + "_" + norm + tag + "_value")(0);
            const detseg::soft_teacher_params p{
                .normalization = norm == "paper" ? soft_teacher_normalization::paper
                                                 : soft_teacher_normalization::weight_sum};
            const auto res = detseg::soft_teacher_classification_loss(x, y, r, p);
            CHECK(std::abs(res.value - ref) <= tol * std::max(std::abs(ref), 1e-30));
            CHECK(close_arrays(res.grad, ref_grad, tol));
            // Into a column-major double buffer.
            std::vector<double> buf(static_cast<std::size_t>(x.size()));
            auto g = detseg::make_view(buf.data(), {x.extent(0), x.extent(1)}, {1, x.extent(0)});
            CHECK(detseg::soft_teacher_classification_loss(x, y, r, g, p) == res.value);
            bool same = true;
            for (index_t i = 0; i < x.extent(0); ++i)
                for (index_t c = 0; c < x.extent(1); ++c)
                    same &= static_cast<T>(g(i, c)) == res.grad(i, c);
            CHECK(same);
            ++ran;
        }
    }
    CHECK(ran == 6);
}

TEST_CASE("soft_teacher_classification_loss gradient equals finite differences") {
    std::mt19937_64 rng(99);
    std::normal_distribution<double> nd(0.0, 2.0);
    std::uniform_real_distribution<double> ud(0.0, 1.0);
    for (int trial = 0; trial < 10; ++trial) {
        const index_t n = 3 + static_cast<index_t>(rng() % 20), c = 2 + static_cast<index_t>(rng() % 6);
        tensor<double, 2> x({n, c});
        for (auto& v : x.flat())
            v = nd(rng);
        std::vector<int> y(static_cast<std::size_t>(n));
        std::vector<double> r(static_cast<std::size_t>(n));
        for (index_t i = 0; i < n; ++i) {
            y[static_cast<std::size_t>(i)] = static_cast<int>(rng() % static_cast<std::size_t>(c));
            r[static_cast<std::size_t>(i)] = ud(rng);
        }
        const index_t bg = static_cast<index_t>(rng() % static_cast<std::size_t>(c));
        for (auto norm : {soft_teacher_normalization::paper, soft_teacher_normalization::weight_sum}) {
            const detseg::soft_teacher_params p{.background_class = bg, .normalization = norm};
            const auto res = detseg::soft_teacher_classification_loss(x, y, r, p);
            for (index_t i = 0; i < n; ++i)
                for (index_t k = 0; k < c; ++k) {
                    auto xp = x, xm = x;
                    xp(i, k) += 1e-6;
                    xm(i, k) -= 1e-6;
                    const double fd =
                        (detseg::soft_teacher_classification_loss(xp, y, r, p).value -
                         detseg::soft_teacher_classification_loss(xm, y, r, p).value) /
                        2e-6;
                    CHECK(std::abs(fd - res.grad(i, k)) <= 1e-7);
                }
        }
    }
}

TEST_CASE_TEMPLATE("box_jitter_uncertainty equals the torch.std references", T, float, double) {
    const std::string tag = sizeof(T) == 4 ? "_f32" : "_f64";
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-10;
    const auto pseudo = load<T, 2>("jitter" + tag + "_pseudo");
    const auto refined = load<T, 3>("jitter" + tag + "_refined");
    const auto paper = load<T, 1>("jitter" + tag + "_paper");
    const auto code = load<T, 1>("jitter" + tag + "_code");
    const auto u = detseg::box_jitter_uncertainty(pseudo, refined);
    CHECK(close_arrays(u, paper, tol));
    const auto u2 = detseg::box_jitter_uncertainty(
        pseudo, refined, {.normalization = detseg::jitter_normalization::mean_box_size});
    CHECK(close_arrays(u2, code, tol));
    // The filter: strictly below the threshold, ascending.
    const auto keep = detseg::reliable_box_indices(u, 0.02);
    std::vector<index_t> expect;
    for (index_t m = 0; m < paper.extent(0); ++m)
        if (static_cast<double>(u(m)) < 0.02)
            expect.push_back(m);
    CHECK(keep == expect);
    CHECK(!keep.empty());
    CHECK(static_cast<index_t>(keep.size()) < paper.extent(0));
    // Population std: sqrt((J-1)/J) times the sample one.
    const auto pop = detseg::box_jitter_uncertainty(pseudo, refined, {.unbiased = false});
    const double f = std::sqrt((refined.extent(0) - 1.0) / refined.extent(0));
    for (index_t m = 0; m < pop.extent(0); ++m)
        CHECK(std::abs(static_cast<double>(pop(m)) - f * static_cast<double>(u(m))) <=
              1e-6 * static_cast<double>(u(m)) + 1e-30);
}

TEST_CASE("box_jitter_uncertainty: zero-size pseudo box, identical refinements") {
    tensor<double, 2> pseudo({2, 4});
    pseudo(0, 0) = 5; pseudo(0, 1) = 5; pseudo(0, 2) = 5; pseudo(0, 3) = 5;
    pseudo(1, 0) = 0; pseudo(1, 1) = 0; pseudo(1, 2) = 10; pseudo(1, 3) = 20;
    tensor<double, 3> refined({3, 2, 4});
    for (index_t j = 0; j < 3; ++j)
        for (index_t k = 0; k < 4; ++k) {
            refined(j, 0, k) = 5.0 + static_cast<double>(j);
            refined(j, 1, k) = pseudo(1, k);
        }
    const auto u = detseg::box_jitter_uncertainty(pseudo, refined);
    CHECK(std::isinf(u(0)));
    CHECK(u(1) == 0.0);
}

TEST_CASE("Soft Teacher parts reject bad input") {
    using testing::expect_invalid;
    const std::string fn = "soft_teacher_classification_loss";
    tensor<float, 2> x({3, 3}, 0.1f);
    const std::vector<int> y{0, 2, 1};
    const std::vector<float> r{0.5f, 0.2f, 0.9f};
    tensor<float, 2> g({3, 3});
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(x, std::vector<int>{0, 3, 1}, r, g); },
                   fn, "labels");
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(x, std::vector<int>{0, 1}, r, g); },
                   fn, "labels");
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(x, y, std::vector<float>{0.5f, 1.5f, 0.0f}, g); },
                   fn, "background_scores");
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(x, y, std::vector<float>{0.5f}, g); },
                   fn, "background_scores");
    auto xn = x;
    xn(1, 1) = NAN;
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(xn, y, r, g); }, fn,
                   "logits");
    tensor<float, 2> g_bad({3, 2});
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(x, y, r, g_bad); }, fn,
                   "grad");
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(x, y, r, g, {.background_class = 3}); },
                   fn, "params");
    expect_invalid([&] { (void)detseg::soft_teacher_classification_loss(tensor<float, 2>({3, 1}, 0.f), y, r); },
                   fn, "logits");

    const std::string jf = "box_jitter_uncertainty";
    tensor<double, 2> pseudo({2, 4}, 1.0);
    pseudo(0, 2) = pseudo(1, 2) = pseudo(0, 3) = pseudo(1, 3) = 3.0;
    tensor<double, 3> refined({4, 2, 4}, 2.0);
    expect_invalid([&] { (void)detseg::box_jitter_uncertainty(pseudo, tensor<double, 3>({4, 3, 4}, 2.0)); },
                   jf, "refined");
    expect_invalid([&] { (void)detseg::box_jitter_uncertainty(pseudo, tensor<double, 3>({1, 2, 4}, 2.0)); },
                   jf, "refined");
    auto rn = refined;
    rn(2, 1, 3) = INFINITY;
    expect_invalid([&] { (void)detseg::box_jitter_uncertainty(pseudo, rn); }, jf, "refined");
    auto pn = pseudo;
    pn(1, 0) = NAN;
    expect_invalid([&] { (void)detseg::box_jitter_uncertainty(pn, refined); }, jf, "pseudo_boxes");
    tensor<double, 1> out_bad({3});
    expect_invalid([&] { detseg::box_jitter_uncertainty(pseudo, refined, out_bad); }, jf, "out");
    expect_invalid([&] { (void)detseg::reliable_box_indices(std::vector<double>{0.1}, NAN); },
                   "reliable_box_indices", "threshold");
}

TEST_CASE("box_jitter_uncertainty equals a long-double oracle on random boxes") {
    std::mt19937_64 rng(5150);
    std::uniform_real_distribution<double> ud(0.0, 1.0);
    for (int t = 0; t < 20; ++t) {
        const index_t m_n = 1 + static_cast<index_t>(rng() % 12), j_n = 2 + static_cast<index_t>(rng() % 9);
        tensor<float, 2> pseudo({m_n, 4});
        tensor<float, 3> refined({j_n, m_n, 4});
        for (index_t m = 0; m < m_n; ++m) {
            const double x = 500 * ud(rng), y = 500 * ud(rng), w = 0.5 + 100 * ud(rng), h = 0.5 + 100 * ud(rng);
            const double box[4] = {x, y, x + w, y + h};
            for (index_t k = 0; k < 4; ++k) {
                pseudo(m, k) = static_cast<float>(box[k]);
                for (index_t j = 0; j < j_n; ++j)
                    refined(j, m, k) = static_cast<float>(box[k] + 0.05 * (k % 2 ? h : w) * (ud(rng) - 0.5));
            }
        }
        for (auto norm : {detseg::jitter_normalization::paper, detseg::jitter_normalization::mean_box_size}) {
            const auto u = detseg::box_jitter_uncertainty(pseudo, refined, {.normalization = norm});
            for (index_t m = 0; m < m_n; ++m) {
                long double sd[4], mean[4];
                for (index_t k = 0; k < 4; ++k) {
                    long double s = 0, ss = 0;
                    for (index_t j = 0; j < j_n; ++j)
                        s += refined(j, m, k);
                    mean[k] = s / j_n;
                    for (index_t j = 0; j < j_n; ++j)
                        ss += (refined(j, m, k) - mean[k]) * (refined(j, m, k) - mean[k]);
                    sd[k] = std::sqrt(ss / (j_n - 1));
                }
                long double want;
                if (norm == detseg::jitter_normalization::paper) {
                    const long double size = 0.5L * ((static_cast<long double>(pseudo(m, 2)) - pseudo(m, 0)) +
                                                     (static_cast<long double>(pseudo(m, 3)) - pseudo(m, 1)));
                    want = (sd[0] + sd[1] + sd[2] + sd[3]) / size / 4;
                } else {
                    const long double w = std::max(mean[2] - mean[0], 1.0L), h = std::max(mean[3] - mean[1], 1.0L);
                    want = (sd[0] / w + sd[1] / h + sd[2] / w + sd[3] / h) / 4;
                }
                CHECK(std::abs(static_cast<long double>(u(m)) - want) <= 1e-6L * want + 1e-12L);
            }
        }
    }
}
