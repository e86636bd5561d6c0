#include <detseg/box/clip.hpp>
#include <detseg/box/filter.hpp>

#include "support/backends.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

using detseg::index_t;

namespace {

// Reads "clip_size_hw" and "min_size" of a set from tests/data/box/manifest.json.
struct set_params {
    index_t height, width;
    double min_size;
};

set_params params_of(const std::string& set) {
    std::ifstream in(testing::data_path("box/manifest.json"));
    const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = s.find("\"" + set + "\"", s.find("\"sets\""));
    REQUIRE(at != std::string::npos);
    auto number_after = [&](const std::string& key, std::size_t from) {
        auto p = s.find("\"" + key + "\"", from);
        REQUIRE(p != std::string::npos);
        p = s.find_first_of("-0123456789.", s.find(':', p));
        return std::pair{std::stod(s.substr(p)), p};
    };
    const auto [h, p1] = number_after("clip_size_hw", at);
    const auto w = std::stod(s.substr(s.find_first_of("0123456789", s.find(',', p1))));
    const auto [ms, p2] = number_after("min_size", at);
    (void)p2;
    return {index_t(h), index_t(w), ms};
}

} // namespace

TEST_CASE_TEMPLATE("clip_boxes equals torchvision clip_boxes_to_image", T, float, double) {
    for (const std::string set : {"clustered", "uniform", "edge", "inverted"}) {
        const auto p = params_of(set);
        const auto a = testing::box_fixture<T, 2>(set, "a");
        const auto ref = testing::box_fixture<T, 2>(set, "clip_a");
        testing::for_each_backend([&]<class B>() {
            B::with(a, [&](auto&& src) {
                CAPTURE(set);
                CAPTURE(std::string(B::name));
                const auto got = detseg::clip_boxes(src, {.height = p.height, .width = p.width});
                int bad = 0;
                for (index_t i = 0; i < ref.extent(0); ++i)
                    for (index_t k = 0; k < 4; ++k)
                        bad += !(got(i, k) == ref(i, k));
                CHECK(bad == 0);
            });
        });
        // In place.
        auto inplace = a;
        detseg::clip_boxes(inplace, inplace, {p.height, p.width});
        CHECK(inplace == ref);
    }
}

TEST_CASE_TEMPLATE("remove_small_boxes equals torchvision", T, float, double) {
    for (const std::string set : {"clustered", "uniform", "edge", "inverted"}) {
        const auto p = params_of(set);
        const auto a = testing::box_fixture<T, 2>(set, "a");
        const auto ref = testing::box_fixture<T, 1, std::int64_t>(set, "small_a");
        testing::for_each_backend([&]<class B>() {
            B::with(a, [&](auto&& src) {
                CAPTURE(set);
                CAPTURE(std::string(B::name));
                const auto keep = detseg::remove_small_boxes(src, p.min_size);
                REQUIRE(keep.size() == std::size_t(ref.extent(0)));
                for (std::size_t i = 0; i < keep.size(); ++i)
                    CHECK(keep[i] == ref(index_t(i)));
            });
        });
    }
}

TEST_CASE("remove_small_boxes keeps a side equal to min_size and drops inverted boxes") {
    const std::vector<float> b = {0, 0, 2, 2, 0, 0, 1.999f, 5, 3, 0, 1, 5, 0, 0, 0, 0};
    const auto keep = detseg::remove_small_boxes(b, 2.0);
    REQUIRE(keep.size() == 1);
    CHECK(keep[0] == 0);
    CHECK(detseg::remove_small_boxes(b, 0.0) == std::vector<index_t>{0, 1, 3});
}
