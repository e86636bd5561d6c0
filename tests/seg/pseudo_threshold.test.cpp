// Threshold policies: cw_bass_threshold, flexmatch_threshold, freematch_threshold,
// confidence_decay and u2pl_entropy_split equal the references written from the papers'
// definitions in tests/reference/gen_pseudo_label_fixtures.py; random batches against
// brute-force restatements; rejected parameters and inputs.

#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/pseudo_threshold.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::tensor;

namespace {

using testing::pseudo_fixture;

bool near(double a, double b, double tol = 1e-12) {
    return std::abs(a - b) <= tol * std::max(1.0, std::abs(b));
}

} // namespace

TEST_CASE("cw_bass_threshold equals the dynamic-threshold reference batch by batch") {
    const auto conf = pseudo_fixture<double, 4>("cwbass_conf");
    const auto tau = pseudo_fixture<double, 1>("cwbass_tau");
    const auto p = pseudo_fixture<double, 1>("cwbass_params");
    detseg::cw_bass_threshold policy({.base = p(0), .beta = p(1), .min = p(2), .max = p(3)});
    CHECK(policy.threshold() == std::clamp(p(0) / 2.0, p(2), p(3)));
    int clamped = 0;
    for (index_t t = 0; t < conf.extent(0); ++t) {
        const auto batch = detseg::make_view(conf.data() + t * conf.extent(1) * conf.extent(2) *
                                                               conf.extent(3),
                                             {conf.extent(1), conf.extent(2), conf.extent(3)});
        const double got = policy.update(batch);
        CHECK(near(got, tau(t)));
        CHECK(policy.threshold() == got);
        clamped += tau(t) == p(2) || tau(t) == p(3);
    }
    CHECK(clamped > 0);                      // the fixture reaches a clamp
    CHECK(clamped < conf.extent(0));         // and the formula in between
    CHECK(policy.update_mean(0.5) == std::clamp(p(0) / 2.0, p(2), p(3)));
    CHECK(policy.update(std::vector<float>{}) == policy.threshold());
}

TEST_CASE("flexmatch_threshold equals the FlexMatch reference (warm-up on and off)") {
    for (const std::string tag : {"flex_warm", "flex_nowarm"}) {
        CAPTURE(tag);
        const auto idx = pseudo_fixture<std::int64_t, 2>(tag + "_index");
        const auto lab = pseudo_fixture<std::int64_t, 2>(tag + "_label");
        const auto conf = pseudo_fixture<double, 2>(tag + "_conf");
        const auto thr = pseudo_fixture<double, 2>(tag + "_thresholds");
        const auto mask = pseudo_fixture<std::uint8_t, 2>(tag + "_mask");
        const auto fin = pseudo_fixture<double, 1>(tag + "_final");
        const auto p = pseudo_fixture<double, 1>(tag + "_params");
        detseg::flexmatch_threshold policy(static_cast<index_t>(p(0)), static_cast<index_t>(p(1)),
                                           {.tau = p(2), .warmup = p(3) != 0.0});
        int passed = 0;
        for (index_t t = 0; t < idx.extent(0); ++t) {
            const index_t b = idx.extent(1);
            for (index_t c = 0; c < policy.classes(); ++c)
                CHECK(near(policy.threshold(c), thr(t, c)));
            for (index_t k = 0; k < b; ++k) {
                CHECK(policy.passes(lab(t, k), conf(t, k)) == (mask(t, k) != 0));
                passed += mask(t, k);
            }
            policy.update(detseg::make_view(idx.data() + t * b, {b}),
                          detseg::make_view(lab.data() + t * b, {b}),
                          detseg::make_view(conf.data() + t * b, {b}));
        }
        const auto final_thr = policy.thresholds();
        for (index_t c = 0; c < policy.classes(); ++c)
            CHECK(near(final_thr[static_cast<std::size_t>(c)], fin(c)));
        CHECK(passed > 0);
    }
}

TEST_CASE("flexmatch_threshold counts against a brute-force memory on random batches") {
    std::mt19937 rng(11);
    const index_t classes = 4, items = 25;
    detseg::flexmatch_threshold policy(classes, items, {.tau = 0.6, .warmup = true});
    std::vector<int> mem(items, -1);
    for (int t = 0; t < 50; ++t) {
        std::vector<int> idx(8), lab(8);
        std::vector<double> conf(8);
        for (int k = 0; k < 8; ++k) {
            idx[static_cast<std::size_t>(k)] = static_cast<int>(rng() % items);
            lab[static_cast<std::size_t>(k)] = static_cast<int>(rng() % classes);
            conf[static_cast<std::size_t>(k)] = std::uniform_real_distribution<double>(0, 1)(rng);
        }
        policy.update(idx, lab, conf);
        for (int k = 0; k < 8; ++k)
            if (conf[static_cast<std::size_t>(k)] > 0.6)
                mem[static_cast<std::size_t>(idx[static_cast<std::size_t>(k)])] =
                    lab[static_cast<std::size_t>(k)];
        int unused = 0, top = 0;
        std::vector<int> sigma(classes, 0);
        for (int m : mem) {
            if (m < 0)
                ++unused;
            else
                ++sigma[static_cast<std::size_t>(m)];
        }
        for (int s : sigma)
            top = std::max(top, s);
        for (index_t c = 0; c < classes; ++c) {
            CHECK(policy.count(c) == sigma[static_cast<std::size_t>(c)]);
            const double beta = static_cast<double>(sigma[static_cast<std::size_t>(c)]) /
                                std::max(top, unused);
            CHECK(policy.threshold(c) == beta / (2.0 - beta) * 0.6);
        }
    }
}

TEST_CASE("freematch_threshold equals the FreeMatch reference; layouts agree") {
    const auto probs = pseudo_fixture<double, 5>("free_probs");
    const auto tau = pseudo_fixture<double, 1>("free_tau");
    const auto local = pseudo_fixture<double, 2>("free_class_tau");
    const auto p = pseudo_fixture<double, 1>("free_params");
    const auto c_n = static_cast<index_t>(p(0));
    detseg::freematch_threshold policy(c_n, {.momentum = p(1)});
    detseg::freematch_threshold by_items(c_n, {.momentum = p(1)});
    CHECK(policy.global_threshold() == 1.0 / static_cast<double>(c_n));
    const index_t n = probs.extent(1), h = probs.extent(3), w = probs.extent(4);
    for (index_t t = 0; t < probs.extent(0); ++t) {
        const auto batch = detseg::make_view(probs.data() + t * n * c_n * h * w, {n, c_n, h, w});
        policy.update(batch);
        CHECK(near(policy.global_threshold(), tau(t)));
        for (index_t c = 0; c < c_n; ++c)
            CHECK(near(policy.threshold(c), local(t, c)));
        // The same batch as (N·H·W)×C items through strides: the same sums in the same order.
        tensor<double, 2> rows({n * h * w, c_n});
        for (index_t a = 0; a < n; ++a)
            for (index_t c = 0; c < c_n; ++c)
                for (index_t q = 0; q < h * w; ++q)
                    rows(a * h * w + q, c) = batch(a, c, q / w, q % w);
        by_items.update(rows);
        CHECK(by_items.global_threshold() == policy.global_threshold());
        CHECK(by_items.thresholds() == policy.thresholds());
    }
    CHECK(policy.passes(0, 1.0));
}

TEST_CASE("confidence_decay equals factor^round with its floor") {
    const auto conf = pseudo_fixture<float, 2>("decay_conf");
    const auto scales = pseudo_fixture<double, 1>("decay_scales");
    const auto out = pseudo_fixture<float, 3>("decay_out");
    const auto p = pseudo_fixture<double, 1>("decay_params");
    detseg::confidence_decay decay({.factor = p(0), .min_scale = p(1)});
    for (index_t r = 0; r < scales.extent(0); ++r) {
        CHECK(decay.round() == r);
        CHECK(decay.scale() == scales(r));
        tensor<float, 2> o(conf.extents());
        decay.apply(conf, o);
        for (index_t i = 0; i < conf.extent(0); ++i)
            for (index_t j = 0; j < conf.extent(1); ++j)
                CHECK(o(i, j) == out(r, i, j));
        decay.next_round();
    }
    auto in_place = conf;
    decay.apply(in_place, in_place);
    CHECK(in_place(0, 0) == static_cast<float>(static_cast<double>(conf(0, 0)) * decay.scale()));
}

TEST_CASE("u2pl_entropy_split equals the U2PL reference at every epoch") {
    const auto probs = pseudo_fixture<double, 4>("u2pl_probs");
    const auto labels = pseudo_fixture<std::int32_t, 3>("u2pl_labels");
    const auto epochs = pseudo_fixture<std::int64_t, 1>("u2pl_epochs");
    const auto gamma = pseudo_fixture<double, 1>("u2pl_gamma");
    const auto mask = pseudo_fixture<std::uint8_t, 4>("u2pl_mask");
    const auto p = pseudo_fixture<double, 1>("u2pl_params");
    detseg::u2pl_entropy_split split({.alpha0 = p(0), .total_epochs = static_cast<index_t>(p(1))});
    for (index_t e = 0; e < epochs.extent(0); ++e) {
        split.set_epoch(epochs(e));
        CHECK(split.alpha() == p(0) * (1.0 - static_cast<double>(epochs(e)) / p(1)));
        tensor<std::uint8_t, 3> out(labels.extents());
        const double g = split.split(probs, labels, out);
        CHECK(near(g, gamma(e), 1e-13));
        int diff = 0;
        for (index_t q = 0; q < out.size(); ++q)
            diff += out.flat()[static_cast<std::size_t>(q)] !=
                    mask.flat()[static_cast<std::size_t>(e * out.size() + q)];
        CHECK(diff == 0);
    }
    // The percentile restated: NumPy's linear interpolation on a small sorted set.
    CHECK(detseg::u2pl_entropy_split::percentile({3.0, 1.0, 2.0, 4.0}, 50.0) == 2.5);
    CHECK(detseg::u2pl_entropy_split::percentile({1.0, 2.0, 3.0, 4.0, 5.0}, 100.0) == 5.0);
    CHECK(detseg::u2pl_entropy_split::percentile({7.0}, 80.0) == 7.0);
    CHECK(std::isnan(detseg::u2pl_entropy_split::percentile({}, 80.0)));
}

TEST_CASE("threshold policies reject bad parameters and inputs") {
    using testing::expect_invalid;
    expect_invalid([] { detseg::cw_bass_threshold({.base = -1.0}); }, "cw_bass_threshold",
                   "params");
    expect_invalid([] { detseg::cw_bass_threshold({.min = 0.9, .max = 0.8}); },
                   "cw_bass_threshold", "params");
    detseg::cw_bass_threshold cw;
    expect_invalid([&] { cw.update(std::vector<float>{0.5f, NAN}); },
                   "cw_bass_threshold::update", "confidence");
    expect_invalid([&] { cw.update(std::vector<double>{1.5}); }, "cw_bass_threshold::update",
                   "confidence");
    expect_invalid([&] { cw.update_mean(-0.1); }, "cw_bass_threshold::update_mean",
                   "mean_confidence");

    expect_invalid([] { detseg::flexmatch_threshold(0, 5); }, "flexmatch_threshold", "classes");
    expect_invalid([] { detseg::flexmatch_threshold(2, -1); }, "flexmatch_threshold", "items");
    expect_invalid([] { detseg::flexmatch_threshold(2, 5, {.tau = 1.5}); },
                   "flexmatch_threshold", "params");
    detseg::flexmatch_threshold fm(3, 4);
    const std::vector<int> one{1};
    const std::vector<double> half{0.5};
    expect_invalid([&] { fm.update(std::vector<int>{4}, one, half); },
                   "flexmatch_threshold::update", "indices");
    expect_invalid([&] { fm.update(one, std::vector<int>{3}, half); },
                   "flexmatch_threshold::update", "labels");
    expect_invalid([&] { fm.update(one, one, std::vector<double>{-0.5}); },
                   "flexmatch_threshold::update", "confidence");
    expect_invalid([&] { fm.update(one, std::vector<int>{1, 2}, half); },
                   "flexmatch_threshold::update", "labels");

    expect_invalid([] { detseg::freematch_threshold(0); }, "freematch_threshold", "classes");
    expect_invalid([] { detseg::freematch_threshold(3, {.momentum = 2.0}); },
                   "freematch_threshold", "params");
    detseg::freematch_threshold fr(3);
    expect_invalid([&] { fr.update(tensor<double, 2>({4, 2}, 0.5)); },
                   "freematch_threshold::update", "probs");
    expect_invalid([&] { fr.update(tensor<double, 2>({4, 3}, NAN)); },
                   "freematch_threshold::update", "probs");
    CHECK(fr.global_threshold() == 1.0 / 3.0); // unchanged by the rejected calls

    expect_invalid([] { detseg::confidence_decay({.factor = 0.0}); }, "confidence_decay",
                   "params");
    expect_invalid([] { detseg::confidence_decay({.factor = 0.9, .min_scale = 2.0}); },
                   "confidence_decay", "params");
    detseg::confidence_decay d;
    tensor<float, 2> small({1, 2});
    expect_invalid([&] { d.apply(tensor<float, 2>({2, 2}, 0.5f), small); },
                   "confidence_decay::apply", "out");

    expect_invalid([] { detseg::u2pl_entropy_split({.alpha0 = 1.5}); }, "u2pl_entropy_split",
                   "params");
    expect_invalid([] { detseg::u2pl_entropy_split({.total_epochs = 0}); }, "u2pl_entropy_split",
                   "params");
    detseg::u2pl_entropy_split u;
    tensor<double, 3> probs({2, 3, 3}, 0.5);
    tensor<int, 2> labels({3, 3}, 0);
    tensor<std::uint8_t, 2> out({3, 3});
    expect_invalid([&] { (void)u.split(probs, tensor<int, 2>({3, 2}, 0), out); },
                   "u2pl_entropy_split::split", "labels");
    tensor<std::uint8_t, 2> out_bad({2, 3});
    expect_invalid([&] { (void)u.split(probs, labels, out_bad); }, "u2pl_entropy_split::split",
                   "out");
    probs(1, 2, 2) = 1.25;
    expect_invalid([&] { (void)u.split(probs, labels, out); }, "u2pl_entropy_split::split",
                   "probs");
}

TEST_CASE("cw_bass, freematch and u2pl equal brute-force restatements on random batches") {
    std::mt19937_64 rng(31337);
    std::uniform_real_distribution<double> ud(0.0, 1.0);
    // CW-BASS: the mean in long double, then the formula.
    detseg::cw_bass_threshold cw({.base = 0.9, .beta = 6.0});
    for (int t = 0; t < 20; ++t) {
        std::vector<float> conf(1 + rng() % 500);
        long double sum = 0;
        const double shift = ud(rng);
        for (auto& c : conf) {
            c = static_cast<float>(std::pow(ud(rng), 0.2 + 3.0 * shift));
            sum += c;
        }
        const double mean = static_cast<double>(sum / static_cast<long double>(conf.size()));
        const double want = std::clamp(0.9 / (1.0 + std::exp(-6.0 * (mean - 0.5))), 0.3, 0.8);
        CHECK(near(cw.update(conf), want));
    }
    // FreeMatch: the EMA over random N×C×H×W batches.
    const index_t c_n = 4;
    detseg::freematch_threshold fm(c_n, {.momentum = 0.8});
    long double tau = 1.0L / c_n;
    std::vector<long double> pm(c_n, 1.0L / c_n);
    for (int t = 0; t < 15; ++t) {
        const index_t n = 1 + static_cast<index_t>(rng() % 3), h = 1 + static_cast<index_t>(rng() % 5),
                      w = 1 + static_cast<index_t>(rng() % 7);
        tensor<double, 4> p({n, c_n, h, w});
        long double max_sum = 0;
        std::vector<long double> cls(c_n, 0);
        for (index_t a = 0; a < n; ++a)
            for (index_t i = 0; i < h; ++i)
                for (index_t j = 0; j < w; ++j) {
                    double s = 0;
                    for (index_t c = 0; c < c_n; ++c)
                        s += p(a, c, i, j) = std::exp(4.0 * ud(rng));
                    long double top = 0;
                    for (index_t c = 0; c < c_n; ++c) {
                        p(a, c, i, j) /= s;
                        top = std::max<long double>(top, p(a, c, i, j));
                        cls[static_cast<std::size_t>(c)] += p(a, c, i, j);
                    }
                    max_sum += top;
                }
        const long double b = static_cast<long double>(n * h * w);
        tau = 0.8L * tau + 0.2L * (max_sum / b);
        for (index_t c = 0; c < c_n; ++c)
            pm[static_cast<std::size_t>(c)] =
                0.8L * pm[static_cast<std::size_t>(c)] + 0.2L * (cls[static_cast<std::size_t>(c)] / b);
        fm.update(p);
        const long double top = *std::max_element(pm.begin(), pm.end());
        CHECK(near(fm.global_threshold(), static_cast<double>(tau)));
        for (index_t c = 0; c < c_n; ++c)
            CHECK(near(fm.threshold(c),
                       static_cast<double>(pm[static_cast<std::size_t>(c)] / top * tau)));
    }
    // U2PL: entropies, the sorted values and the linear percentile restated.
    detseg::u2pl_entropy_split split({.alpha0 = 0.3, .total_epochs = 7});
    for (int t = 0; t < 12; ++t) {
        split.set_epoch(static_cast<index_t>(rng() % 9)); // also past the end: clamped to 7
        const index_t h = 1 + static_cast<index_t>(rng() % 9), w = 1 + static_cast<index_t>(rng() % 9);
        tensor<float, 3> p({c_n, h, w});
        tensor<std::uint8_t, 2> y({h, w});
        std::vector<long double> ent, valid;
        for (index_t i = 0; i < h; ++i)
            for (index_t j = 0; j < w; ++j) {
                double s = 0;
                for (index_t c = 0; c < c_n; ++c)
                    s += p(c, i, j) = static_cast<float>(std::exp(3.0 * ud(rng)));
                long double e = 0;
                for (index_t c = 0; c < c_n; ++c) {
                    p(c, i, j) = static_cast<float>(p(c, i, j) / s);
                    const long double q = p(c, i, j);
                    e -= q * std::log(q);
                }
                y(i, j) = ud(rng) < 0.2 ? 255 : 1;
                ent.push_back(y(i, j) == 255 ? -1 : e);
                if (y(i, j) != 255)
                    valid.push_back(e);
            }
        tensor<std::uint8_t, 2> out({h, w});
        const double g = split.split(p, y, out);
        const double alpha = 0.3 * (1.0 - static_cast<double>(std::min<index_t>(split.epoch(), 7)) / 7.0);
        CHECK(split.alpha() == alpha);
        if (valid.empty()) {
            CHECK(std::isnan(g));
            continue;
        }
        std::sort(valid.begin(), valid.end());
        const long double pos = (1.0L - alpha) * static_cast<long double>(valid.size() - 1);
        const auto lo = static_cast<std::size_t>(pos);
        const std::size_t hi = std::min(lo + 1, valid.size() - 1);
        const long double want = valid[lo] + (valid[hi] - valid[lo]) * (pos - static_cast<long double>(lo));
        CHECK(near(g, static_cast<double>(want), 1e-12));
        for (index_t q = 0; q < h * w; ++q) {
            const long double e = ent[static_cast<std::size_t>(q)];
            const auto code = out.flat()[static_cast<std::size_t>(q)];
            if (e < 0)
                CHECK(code == 0);
            else if (std::abs(e - g) > 1e-12L)
                CHECK(code == (e < g ? 1 : 2));
        }
    }
}
