// Other libraries' own test cases for box operations (torchvision test_ops.py, detectron2
// test_boxes.py, mmdet test_iou2d_calculator.py, mmcv test_bbox.py with offset=0), run against
// detseg with the tolerance each upstream test states.
//
// The cases are written by tests/reference/gen_peer_box_cases.py into tests/data/peer/:
// cases.txt (one line per case and dtype) and <id>_<f32|f64>_<a|b|expected>.npy; manifest.json
// says, per case, where it comes from, the upstream test, and whether the collector generated it.
// Expected values that are NaN upstream would be skipped and counted (detseg returns a finite,
// documented value there, docs/conventions.md); the selected cases contain none, and the count
// is checked against cases.txt.

#include <detseg/box/area.hpp>
#include <detseg/box/clip.hpp>
#include <detseg/box/convert.hpp>
#include <detseg/box/filter.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/io/npy.hpp>

#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using detseg::box_format;
using detseg::index_t;

namespace {

struct peer_run {
    std::string id, call, param, dtype, kind;
    double atol = 0, rtol = 0;
    int has_b = 0, collector = 0, nan_count = 0;
};

std::vector<peer_run> read_peer_runs() {
    std::ifstream in(testing::data_path("peer/cases.txt"));
    REQUIRE(in.good());
    std::vector<peer_run> runs;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream ls(line);
        peer_run r;
        ls >> r.id >> r.call >> r.param >> r.dtype >> r.kind >> r.atol >> r.rtol >> r.has_b >>
            r.collector >> r.nan_count;
        INFO("cases.txt line: ", line);
        REQUIRE(!ls.fail());
        runs.push_back(r);
    }
    return runs;
}

box_format parse_format(const std::string& s) {
    if (s == "xywh")
        return box_format::xywh;
    if (s == "cxcywh")
        return box_format::cxcywh;
    REQUIRE(s == "xyxy");
    return box_format::xyxy;
}

// A result flattened to doubles (exact for float and double), with its shape.
struct flat {
    std::vector<index_t> shape;
    std::vector<double> values;
};

template <class T, std::size_t R>
flat flatten(const detseg::tensor<T, R>& t) {
    flat f;
    for (std::size_t r = 0; r < R; ++r)
        f.shape.push_back(t.extent(r));
    for (index_t k = 0; k < t.size(); ++k)
        f.values.push_back(static_cast<double>(t.data()[k]));
    return f;
}

std::string npy_path(const peer_run& r, const char* name) {
    return testing::data_path("peer/" + r.id + "_" + r.dtype + "_" + name + ".npy");
}

template <class T>
flat compute(const peer_run& r, const detseg::tensor<T, 2>& a, const detseg::tensor<T, 2>& b) {
    const std::string& c = r.call;
    if (c == "convert") {
        const auto colon = r.param.find(':');
        return flatten(detseg::convert_boxes(a, parse_format(r.param.substr(0, colon)),
                                             parse_format(r.param.substr(colon + 1))));
    }
    if (c == "box_area")
        return flatten(detseg::box_area(a));
    if (c == "clip_boxes") {
        const auto colon = r.param.find(':');
        const detseg::image_size size{.height = std::stol(r.param.substr(0, colon)),
                                      .width = std::stol(r.param.substr(colon + 1))};
        return flatten(detseg::clip_boxes(a, size));
    }
    if (c == "remove_small_boxes") {
        const auto keep = detseg::remove_small_boxes(a, std::stod(r.param));
        flat f;
        f.shape = {static_cast<index_t>(keep.size())};
        for (index_t i : keep)
            f.values.push_back(static_cast<double>(i));
        return f;
    }
    if (c == "pairwise_iou")
        return flatten(detseg::pairwise_iou(a, b));
    if (c == "pairwise_giou")
        return flatten(detseg::pairwise_giou(a, b));
    if (c == "pairwise_diou")
        return flatten(detseg::pairwise_diou(a, b));
    if (c == "pairwise_ciou")
        return flatten(detseg::pairwise_ciou(a, b));
    if (c == "pairwise_ioa")
        return flatten(detseg::pairwise_ioa(a, b));
    if (c == "pairwise_ioa_transposed") {
        // detectron2's pairwise_ioa(a, b) divides by area(b): detseg's pairwise_ioa(b, a)ᵀ.
        const auto m = detseg::pairwise_ioa(b, a);
        detseg::tensor<T, 2> t({m.extent(1), m.extent(0)});
        for (index_t i = 0; i < t.extent(0); ++i)
            for (index_t j = 0; j < t.extent(1); ++j)
                t(i, j) = m(j, i);
        return flatten(t);
    }
    if (c == "elementwise_iou")
        return flatten(detseg::elementwise_iou(a, b));
    if (c == "elementwise_giou")
        return flatten(detseg::elementwise_giou(a, b));
    if (c == "elementwise_ioa")
        return flatten(detseg::elementwise_ioa(a, b));
    FAIL("unknown call in cases.txt: ", c);
    return {};
}

flat load_expected(const peer_run& r, bool as_float) {
    const auto npy = detseg::load_npy(npy_path(r, "expected"));
    flat f;
    f.shape = npy.shape;
    if (r.call == "remove_small_boxes") {
        const auto t = npy.as<std::int64_t, 1>();
        for (index_t k = 0; k < t.size(); ++k)
            f.values.push_back(static_cast<double>(t.data()[k]));
        return f;
    }
    auto read = [&]<class T>() {
        if (npy.shape.size() == 1) {
            const auto t = npy.as<T, 1>();
            for (index_t k = 0; k < t.size(); ++k)
                f.values.push_back(static_cast<double>(t.data()[k]));
        } else {
            const auto t = npy.as<T, 2>();
            for (index_t k = 0; k < t.size(); ++k)
                f.values.push_back(static_cast<double>(t.data()[k]));
        }
    };
    if (as_float)
        read.template operator()<float>();
    else
        read.template operator()<double>();
    return f;
}

bool close_enough(const peer_run& r, double got, double exp) {
    if (r.kind == "exact")
        return got == exp;
    if (r.kind == "allclose") // torch.allclose / np.allclose / assert_close
        return std::fabs(got - exp) <= r.atol + r.rtol * std::fabs(exp);
    if (r.kind == "round4") // mmdet: np.allclose(out.round(4), expected, rtol=0, atol=1e-7)
        return std::fabs(std::nearbyint(got * 1e4) / 1e4 - exp) <= r.atol;
    FAIL("unknown tolerance kind in cases.txt: ", r.kind);
    return false;
}

struct tally {
    int runs = 0, collector_runs = 0, nan_skipped = 0;
};

template <class T>
void run_case(const peer_run& r, tally& t) {
    const auto a = detseg::load_npy(npy_path(r, "a")).as<T, 2>();
    const auto b = r.has_b ? detseg::load_npy(npy_path(r, "b")).as<T, 2>()
                           : detseg::tensor<T, 2>({0, 4});
    const flat got = compute<T>(r, a, b);
    const flat exp = load_expected(r, sizeof(T) == 4);
    CHECK(got.shape == exp.shape);
    REQUIRE(got.values.size() == exp.values.size());
    int bad = 0, nans = 0;
    for (std::size_t k = 0; k < got.values.size(); ++k) {
        if (std::isnan(exp.values[k])) {
            ++nans; // upstream NaN: detseg's finite value is checked by iou.test.cpp
            continue;
        }
        if (!close_enough(r, got.values[k], exp.values[k])) {
            ++bad;
            INFO("element ", k, ": detseg ", got.values[k], ", upstream ", exp.values[k]);
            CHECK(false);
        }
    }
    CHECK(bad == 0);
    CHECK(nans == r.nan_count);
    ++t.runs;
    t.collector_runs += r.collector;
    t.nan_skipped += nans;
}

} // namespace

TEST_CASE("peer cases: torchvision, detectron2, mmdet, mmcv box tests pass on detseg") {
    const auto runs = read_peer_runs();
    CHECK(runs.size() == 61); // tests/data/peer/cases.txt as generated
    tally t;
    for (const auto& r : runs) {
        const std::string origin = r.collector ? " (collector-generated)" : " (upstream)";
        INFO("peer case ", r.id, " [", r.dtype, "] call ", r.call, " ", r.param, ", ", r.kind,
             " atol ", r.atol, " rtol ", r.rtol, origin);
        if (r.dtype == "f32")
            run_case<float>(r, t);
        else if (r.dtype == "f64")
            run_case<double>(r, t);
        else
            FAIL("unknown dtype ", r.dtype);
    }
    CHECK(t.runs == static_cast<int>(runs.size()));
    CHECK(t.nan_skipped == 0); // none of the selected cases is NaN upstream
    MESSAGE("peer cases: ", t.runs, " runs (", t.collector_runs, " collector-generated), ",
            t.nan_skipped, " upstream-NaN values skipped");
}
