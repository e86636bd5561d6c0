#include <detseg/box/clip.hpp>
#include <detseg/box/coder.hpp>
#include <detseg/detect/anchors.hpp>
#include <detseg/detect/batched_nms.hpp>
#include <detseg/detect/postprocess.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

using detseg::index_t;
using detseg::postprocess_params;
using detseg::score_activation;

namespace {

// --- the head outputs of tests/reference/gen_postprocess_fixtures.py -------------------------

std::uint64_t splitmix(std::uint64_t seed, std::uint64_t i) {
    std::uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double uniform(std::uint64_t seed, std::uint64_t i) {
    return static_cast<double>(splitmix(seed, i) >> 11) * 0x1p-53;
}

struct head {
    std::vector<float> logits; // n×C
    std::vector<float> deltas; // n×4
};

head head_outputs(std::uint64_t seed, index_t n, index_t classes, double offset, double dscale) {
    const auto total = static_cast<std::uint64_t>(n * classes);
    head h;
    h.logits.resize(total);
    for (std::uint64_t e = 0; e < total; ++e) {
        const double u0 = uniform(seed, 4 * e), u1 = uniform(seed, 4 * e + 1);
        const double u2 = uniform(seed, 4 * e + 2), u3 = uniform(seed, 4 * e + 3);
        const double acc = ((u0 + u1) + u2) + u3;
        h.logits[e] = static_cast<float>(acc * 4.0 - offset); // exact product: no FMA effect
    }
    h.deltas.resize(static_cast<std::size_t>(4 * n));
    for (std::uint64_t e = 0; e < static_cast<std::uint64_t>(4 * n); ++e)
        h.deltas[e] = static_cast<float>((uniform(seed, 4 * total + e) - 0.5) * dscale);
    return h;
}

// --- a straightforward implementation: sigmoid all, threshold, sort, top-k, decode, clip, NMS -

template <class T>
struct simple_result {
    std::vector<std::array<T, 4>> boxes;
    std::vector<T> scores;
    std::vector<std::int64_t> labels;
};

template <class T>
simple_result<T> oracle(const std::vector<T>& logits, const std::vector<T>& deltas,
                        const std::vector<T>& anchors, const std::vector<index_t>& levels,
                        index_t classes, detseg::image_size image, const postprocess_params& p) {
    std::vector<std::array<T, 4>> boxes;
    std::vector<T> scores;
    std::vector<std::int64_t> labels;
    const T thr = static_cast<T>(p.score_thresh);
    index_t first = 0;
    for (const index_t n : levels) {
        std::vector<T> s(static_cast<std::size_t>(n * classes));
        for (index_t r = 0; r < n; ++r) {
            const T* x = logits.data() + (first + r) * classes;
            if (p.activation == score_activation::sigmoid) {
                for (index_t j = 0; j < classes; ++j)
                    s[std::size_t(r * classes + j)] = T(1) / (T(1) + std::exp(T(0) - x[j]));
            } else {
                const T mx = *std::max_element(x, x + classes);
                T sum = 0;
                std::vector<T> e(static_cast<std::size_t>(classes));
                for (index_t j = 0; j < classes; ++j)
                    sum += e[std::size_t(j)] = std::exp(x[j] - mx);
                for (index_t j = 0; j < classes; ++j)
                    s[std::size_t(r * classes + j)] = e[std::size_t(j)] / sum;
            }
        }
        std::vector<index_t> idx;
        for (index_t e = 0; e < n * classes; ++e)
            if (s[std::size_t(e)] > thr)
                idx.push_back(e);
        std::stable_sort(idx.begin(), idx.end(), [&](index_t a, index_t b) {
            return s[std::size_t(a)] > s[std::size_t(b)];
        });
        if (static_cast<index_t>(idx.size()) > p.topk_candidates)
            idx.resize(static_cast<std::size_t>(p.topk_candidates));
        const auto k = static_cast<index_t>(idx.size());
        std::vector<T> d(static_cast<std::size_t>(4 * k)), a(static_cast<std::size_t>(4 * k));
        for (index_t i = 0; i < k; ++i) {
            const index_t row = first + idx[std::size_t(i)] / classes;
            for (index_t j = 0; j < 4; ++j) {
                d[std::size_t(4 * i + j)] = deltas[std::size_t(4 * row + j)];
                a[std::size_t(4 * i + j)] = anchors[std::size_t(4 * row + j)];
            }
        }
        const auto dec =
            detseg::decode_boxes(detseg::make_view(d.data(), {k, index_t{4}}),
                                 detseg::make_view(a.data(), {k, index_t{4}}), p.coder);
        const auto clipped = detseg::clip_boxes(dec, image);
        for (index_t i = 0; i < k; ++i) {
            boxes.push_back({clipped(i, 0), clipped(i, 1), clipped(i, 2), clipped(i, 3)});
            scores.push_back(s[std::size_t(idx[std::size_t(i)])]);
            labels.push_back(idx[std::size_t(i)] % classes);
        }
        first += n;
    }
    auto keep = detseg::batched_nms(boxes, scores, labels, {.iou_threshold = p.nms_thresh});
    if (static_cast<index_t>(keep.size()) > p.detections_per_img)
        keep.resize(static_cast<std::size_t>(p.detections_per_img));
    simple_result<T> r;
    for (const index_t i : keep) {
        r.boxes.push_back(boxes[std::size_t(i)]);
        r.scores.push_back(scores[std::size_t(i)]);
        r.labels.push_back(labels[std::size_t(i)]);
    }
    return r;
}

template <class T>
bool same_bits(T a, T b) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
void check_equal(const detseg::postprocess_result<T>& got, const simple_result<T>& want) {
    REQUIRE(got.boxes.extent(0) == static_cast<index_t>(want.scores.size()));
    REQUIRE(got.scores.size() == want.scores.size());
    REQUIRE(got.labels.size() == want.labels.size());
    for (std::size_t i = 0; i < want.scores.size(); ++i) {
        INFO("detection ", i);
        CHECK(same_bits(got.scores[i], want.scores[i]));
        CHECK(got.labels[i] == want.labels[i]);
        for (index_t j = 0; j < 4; ++j)
            CHECK(same_bits(got.boxes(index_t(i), j), want.boxes[i][std::size_t(j)]));
    }
}

// --- the fixtures --------------------------------------------------------------------------

template <class T, std::size_t R>
detseg::tensor<T, R> pp_fixture(const std::string& set, const std::string& name) {
    return detseg::load_npy(testing::data_path("postprocess/" + set + "_" + name + ".npy"))
        .template as<T, R>();
}

struct fixture_case {
    head h;
    std::vector<float> anchors;
    std::vector<index_t> levels;
    index_t classes = 0;
    detseg::image_size image;
    postprocess_params params;
};

fixture_case load_case(const std::string& set) {
    const auto cfg = pp_fixture<double, 1>(set, "config");
    const auto grids = pp_fixture<std::int64_t, 2>(set, "grids");
    const auto sizes = pp_fixture<double, 2>(set, "sizes");
    fixture_case c;
    c.image = {.height = index_t(cfg(1)), .width = index_t(cfg(2))};
    c.classes = index_t(cfg(3));
    c.params = {.score_thresh = cfg(4),
                .topk_candidates = index_t(cfg(5)),
                .nms_thresh = cfg(6),
                .detections_per_img = index_t(cfg(7)),
                .coder = {.weights = {cfg(8), cfg(9), cfg(10), cfg(11)}}};
    std::vector<std::vector<double>> sz;
    std::vector<detseg::grid_size> gs;
    for (index_t l = 0; l < grids.extent(0); ++l) {
        gs.push_back({.height = grids(l, 0), .width = grids(l, 1)});
        sz.emplace_back();
        for (index_t s = 0; s < sizes.extent(1); ++s)
            sz.back().push_back(sizes(l, s));
    }
    const detseg::grid_anchor_generator gen(sz, {{0.5, 1.0, 2.0}});
    const auto anchors = gen.generate<float>(c.image, gs);
    c.anchors.assign(anchors.flat().begin(), anchors.flat().end());
    for (index_t l = 0; l < grids.extent(0); ++l)
        c.levels.push_back(gs[std::size_t(l)].height * gs[std::size_t(l)].width *
                           gen.num_anchors_per_location(l));
    const index_t n = std::accumulate(c.levels.begin(), c.levels.end(), index_t{0});
    c.h = head_outputs(static_cast<std::uint64_t>(cfg(0)), n, c.classes, cfg(12), cfg(13));
    return c;
}

template <class T>
auto view2(const std::vector<T>& v, index_t cols) {
    return detseg::make_view(v.data(), {static_cast<index_t>(v.size()) / cols, cols});
}

} // namespace

TEST_CASE("retinanet_postprocess: torchvision fixtures, bit-exact") {
    for (const std::string set : {"s320", "s800", "params", "single"}) {
        CAPTURE(set);
        const auto c = load_case(set);
        const auto boxes = pp_fixture<float, 2>(set, "boxes");
        const auto scores = pp_fixture<float, 1>(set, "scores");
        const auto labels = pp_fixture<std::int64_t, 1>(set, "labels");
        simple_result<float> want;
        for (index_t i = 0; i < scores.extent(0); ++i) {
            want.boxes.push_back({boxes(i, 0), boxes(i, 1), boxes(i, 2), boxes(i, 3)});
            want.scores.push_back(scores(i));
            want.labels.push_back(labels(i));
        }
        const auto got = detseg::retinanet_postprocess(
            view2(c.h.logits, c.classes), view2(c.h.deltas, 4), view2(c.anchors, 4),
            std::span<const index_t>(c.levels), c.image, c.params);
        check_equal(got, want);

        // The workspace variant, twice on the same buffers.
        detseg::postprocess_result<float> out;
        detseg::postprocess_workspace ws;
        for (int rep = 0; rep < 2; ++rep) {
            detseg::retinanet_postprocess_into(
                view2(c.h.logits, c.classes), view2(c.h.deltas, 4), view2(c.anchors, 4),
                std::span<const index_t>(c.levels), c.image, out, ws, c.params);
            check_equal(out, want);
        }
        if (set == "s320") // also the straightforward implementation
            check_equal(got, oracle(c.h.logits, c.h.deltas, c.anchors, c.levels, c.classes, c.image,
                                    c.params));
    }
}

TEST_CASE("retinanet_postprocess: the logit bound gives the float sigmoid's candidate set") {
    // Every float within 20000 ulps of logit(thr), for several thresholds: the candidates are
    // exactly the logits whose float (and double) score exceeds thr.
    for (const double thr : {0.05, 0.5, 0.001, 0.3, 0.9, 0.999, 1e-7, 0.99999}) {
        CAPTURE(thr);
        const auto l = static_cast<float>(std::log(thr / (1.0 - thr)));
        std::vector<float> x;
        float v = l;
        for (int i = 0; i < 20000; ++i)
            v = std::nextafter(v, -std::numeric_limits<float>::infinity());
        for (int i = 0; i < 40000; ++i, v = std::nextafter(v, std::numeric_limits<float>::max()))
            x.push_back(v);
        const auto n = static_cast<index_t>(x.size());
        std::vector<float> anchors;
        for (index_t i = 0; i < n; ++i)
            anchors.insert(anchors.end(), {0.f, 0.f, 10.f, 10.f});
        std::vector<float> deltas(static_cast<std::size_t>(4 * n), 0.f);
        const std::vector<index_t> levels{n};
        const postprocess_params p{
            .score_thresh = thr, .topk_candidates = n, .nms_thresh = 1.0, .detections_per_img = n};
        detseg::detail::postprocess_buffers<float> b;
        detseg::detail::sigmoid_candidates<float>(
            detseg::strided_view<const float, 2>(x.data(), {n, 1}), 0, n, static_cast<float>(thr),
            n, b, "t");
        std::vector<index_t> got;
        for (const auto& q : b.cand)
            got.push_back(q.flat);
        std::sort(got.begin(), got.end());
        std::vector<index_t> want;
        for (index_t i = 0; i < n; ++i)
            if (detseg::detail::sigmoid_of(x[std::size_t(i)]) > static_cast<float>(thr))
                want.push_back(i);
        CHECK(got == want);
        CHECK((!want.empty() || thr == 0.5)); // around 0 every score is 0.5f
        CHECK(static_cast<index_t>(want.size()) < n);
        // and through the public function (one class, no suppression)
        const auto r = detseg::retinanet_postprocess(
            view2(x, 1), view2(deltas, 4), view2(anchors, 4), std::span<const index_t>(levels),
            {.height = 20, .width = 20}, p);
        CHECK(r.scores.size() == want.size());
    }
}

TEST_CASE("retinanet_postprocess: the float sigmoid is monotone on a wide range") {
    // The top-k shortcut compares logits; its bound assumes nothing, but the documented tie rule
    // is simplest to read when equal scores come from neighbouring logits: check it holds.
    float prev = detseg::detail::sigmoid_of(-30.f);
    for (float x = -30.f; x < 30.f; x = std::nextafter(x, 31.f) + 1e-4f * std::abs(x)) {
        const float s = detseg::detail::sigmoid_of(x);
        REQUIRE(s >= prev);
        prev = s;
    }
}

TEST_CASE_TEMPLATE("retinanet_postprocess: random heads against a straightforward version", T,
                   float, double) {
    std::mt19937_64 rng(0x7057);
    for (int trial = 0; trial < 60; ++trial) {
        CAPTURE(trial);
        const index_t nl = 1 + index_t(rng() % 4), classes = 1 + index_t(rng() % 12);
        const detseg::image_size image{.height = 50 + index_t(rng() % 200),
                                       .width = 50 + index_t(rng() % 200)};
        std::vector<index_t> levels;
        for (index_t l = 0; l < nl; ++l)
            levels.push_back(index_t(rng() % 400));
        const index_t n = std::accumulate(levels.begin(), levels.end(), index_t{0});
        std::normal_distribution<double> z(-3.0 + double(rng() % 5), 1.5);
        std::uniform_real_distribution<double> u(0.0, 1.0);
        const bool quantised = trial % 3 == 0; // heavy ties
        std::vector<T> logits(static_cast<std::size_t>(n * classes)), deltas, anchors;
        for (auto& v : logits)
            v = static_cast<T>(quantised ? std::round(z(rng) * 4) / 4 : z(rng));
        for (index_t i = 0; i < n; ++i) {
            const double cx = u(rng) * double(image.width), cy = u(rng) * double(image.height);
            const double w = 4 + u(rng) * 100, h = 4 + u(rng) * 100;
            anchors.insert(anchors.end(),
                           {T(cx - w / 2), T(cy - h / 2), T(cx + w / 2), T(cy + h / 2)});
            for (int j = 0; j < 4; ++j)
                deltas.push_back(static_cast<T>((u(rng) - 0.5) * (trial % 2 ? 6.0 : 1.0)));
        }
        postprocess_params p{.score_thresh = trial % 5 == 0 ? 0.0 : u(rng) * 0.6,
                             .topk_candidates = index_t(rng() % 300),
                             .nms_thresh = u(rng),
                             .detections_per_img = index_t(rng() % 200)};
        if (trial % 4 == 1)
            p.coder.weights = {10.0, 10.0, 5.0, 5.0};
        if (trial % 7 == 3)
            p.activation = score_activation::softmax;
        const auto got = detseg::retinanet_postprocess(view2(logits, classes), view2(deltas, 4),
                                                       view2(anchors, 4),
                                                       std::span<const index_t>(levels), image, p);
        check_equal(got, oracle(logits, deltas, anchors, levels, classes, image, p));
    }
}

TEST_CASE("retinanet_postprocess: edge cases") {
    const index_t classes = 3;
    std::vector<float> anchors, deltas;
    for (index_t i = 0; i < 40; ++i) {
        const float x = float(i % 8) * 10.f, y = float(i / 8) * 10.f;
        anchors.insert(anchors.end(), {x, y, x + 12.f, y + 12.f});
        deltas.insert(deltas.end(), {0.1f, -0.1f, 0.2f, 0.f});
    }
    const std::vector<index_t> levels{32, 8};
    const detseg::image_size image{.height = 60, .width = 90};
    auto run = [&](const std::vector<float>& logits, const postprocess_params& p) {
        const auto got = detseg::retinanet_postprocess(view2(logits, classes), view2(deltas, 4),
                                                       view2(anchors, 4),
                                                       std::span<const index_t>(levels), image, p);
        check_equal(got, oracle(logits, deltas, anchors, levels, classes, image, p));
        return got;
    };

    SUBCASE("nothing above the threshold") {
        const std::vector<float> logits(120, -5.f);
        CHECK(run(logits, {}).scores.empty());
        CHECK(run(logits, {.score_thresh = 0.0067}).scores.empty());
    }
    SUBCASE("everything above the threshold, saturated scores") {
        std::vector<float> logits(120);
        for (std::size_t i = 0; i < logits.size(); ++i)
            logits[i] = 20.f + float(i % 7); // all scores 1.0f: ties everywhere
        const auto r = run(logits, {.topk_candidates = 10, .nms_thresh = 0.3});
        CHECK(!r.scores.empty());
        CHECK(r.scores.front() == 1.f);
        run(logits, {.score_thresh = 0.0});
    }
    SUBCASE("ties at the top-k boundary: lower flat index first") {
        const std::vector<float> logits(120, 0.5f);
        const auto r = run(logits, {.topk_candidates = 5, .nms_thresh = 1.0});
        // Level 0 keeps flat indices 0..4, level 1 its 0..4; all kept (nms_thresh 1).
        REQUIRE(r.labels.size() == 10);
        CHECK(r.labels[0] == 0);
        CHECK(r.labels[1] == 1);
        CHECK(r.labels[2] == 2);
        CHECK(r.labels[3] == 0);
    }
    SUBCASE("one level, no levels, top-k 0, no detections") {
        std::vector<float> logits(120);
        for (std::size_t i = 0; i < logits.size(); ++i)
            logits[i] = float(i % 11) * 0.37f - 2.f;
        const std::vector<index_t> one{40};
        const auto r =
            detseg::retinanet_postprocess(view2(logits, classes), view2(deltas, 4),
                                          view2(anchors, 4), std::span<const index_t>(one), image);
        CHECK(!r.scores.empty());
        check_equal(r, oracle(logits, deltas, anchors, one, classes, image, {}));
        const std::vector<float> none_l, none_d, none_a;
        const auto e = detseg::retinanet_postprocess(
            detseg::make_view(none_l.data(), {index_t{0}, classes}),
            detseg::make_view(none_d.data(), {index_t{0}, index_t{4}}),
            detseg::make_view(none_a.data(), {index_t{0}, index_t{4}}), std::span<const index_t>(),
            image);
        CHECK(e.scores.empty());
        CHECK(e.boxes.extent(0) == 0);
        CHECK(run(logits, {.topk_candidates = 0}).scores.empty());
        CHECK(run(logits, {.detections_per_img = 0}).scores.empty());
    }
}

TEST_CASE("retinanet_postprocess: bad input") {
    using testing::expect_invalid;
    const index_t classes = 2;
    std::vector<float> logits(20, 0.f), deltas(40, 0.f), anchors;
    for (int i = 0; i < 10; ++i)
        anchors.insert(anchors.end(), {0.f, 0.f, 5.f, 5.f});
    const std::vector<index_t> levels{6, 4};
    const detseg::image_size image{.height = 10, .width = 10};
    const std::string fn = "retinanet_postprocess";
    auto call = [&](const std::vector<float>& l, const std::vector<float>& d,
                    const std::vector<float>& a, const std::vector<index_t>& lv,
                    detseg::image_size im, const postprocess_params& p) {
        (void)detseg::retinanet_postprocess(view2(l, classes), view2(d, 4), view2(a, 4),
                                            std::span<const index_t>(lv), im, p);
    };
    call(logits, deltas, anchors, levels, image, {}); // fine

    expect_invalid([&] { call(logits, deltas, anchors, {6, 5}, image, {}); }, fn, "logits");
    expect_invalid(
        [&] {
            call(logits, deltas, anchors, {12, -2}, image, {});
        },
        fn, "num_anchors_per_level");
    expect_invalid([&] { call(logits, std::vector<float>(36, 0.f), anchors, levels, image, {}); },
                   fn, "deltas");
    expect_invalid(
        [&] {
            (void)detseg::retinanet_postprocess(view2(logits, classes), view2(deltas, 2),
                                                view2(anchors, 4), std::span<const index_t>(levels),
                                                image);
        },
        fn, "deltas");
    expect_invalid(
        [&] {
            call(logits, deltas, {0.f, 0.f, 1.f, 1.f}, levels, image, {});
        },
        fn, "anchors");
    expect_invalid([&] { call(logits, deltas, anchors, levels, {.height = 0, .width = 5}, {}); },
                   fn, "image");
    expect_invalid([&] { call(logits, deltas, anchors, levels, {.height = 5, .width = -1}, {}); },
                   fn, "image");
    for (const double t : {-0.1, 1.0, std::nan("")})
        expect_invalid([&] { call(logits, deltas, anchors, levels, image, {.score_thresh = t}); },
                       fn, "params.score_thresh");
    for (const double t : {-0.1, 1.5, std::nan("")})
        expect_invalid([&] { call(logits, deltas, anchors, levels, image, {.nms_thresh = t}); }, fn,
                       "params.nms_thresh");
    expect_invalid([&] { call(logits, deltas, anchors, levels, image, {.topk_candidates = -1}); },
                   fn, "params.topk_candidates");
    expect_invalid(
        [&] { call(logits, deltas, anchors, levels, image, {.detections_per_img = -1}); }, fn,
        "params.detections_per_img");
    expect_invalid(
        [&] {
            call(logits, deltas, anchors, levels, image, {.coder = {.weights = {1, 0, 1, 1}}});
        },
        fn, "params");
    for (const float bad : {std::nanf(""), std::numeric_limits<float>::infinity()}) {
        for (const std::size_t at : {std::size_t(0), std::size_t(13), std::size_t(19)}) {
            auto l = logits;
            l[at] = bad;
            expect_invalid([&] { call(l, deltas, anchors, levels, image, {}); }, fn, "logits");
            expect_invalid(
                [&] {
                    call(l, deltas, anchors, levels, image,
                         {.activation = score_activation::softmax});
                },
                fn, "logits");
        }
        auto d = deltas;
        d[5] = bad; // anchor 1: a candidate (all scores 0.5)
        expect_invalid([&] { call(logits, d, anchors, levels, image, {}); }, fn, "deltas");
    }
    // The workspace variant names itself.
    detseg::postprocess_result<float> out;
    detseg::postprocess_workspace ws;
    expect_invalid(
        [&] {
            detseg::retinanet_postprocess_into(view2(logits, classes), view2(deltas, 4),
                                               view2(anchors, 4), std::span<const index_t>(levels),
                                               {.height = 0, .width = 1}, out, ws);
        },
        "retinanet_postprocess_into", "image");
}
