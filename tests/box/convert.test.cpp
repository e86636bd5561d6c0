#include <detseg/box/area.hpp>
#include <detseg/box/convert.hpp>

#include "support/backends.hpp"
#include "support/fixtures.hpp"

#include <doctest/doctest.h>

#include <string>

using detseg::box_format;
using detseg::index_t;

namespace {

template <class T, class Got>
void expect_bit_equal(const detseg::tensor<T, 2>& ref, const Got& got) {
    int bad = 0;
    for (index_t i = 0; i < ref.extent(0); ++i)
        for (index_t k = 0; k < 4; ++k)
            bad += !(static_cast<T>(got(i, k)) == ref(i, k));
    CHECK(bad == 0);
}

} // namespace

TEST_CASE_TEMPLATE("convert_boxes equals torchvision box_convert on every set and backend", T,
                   float, double) {
    const box_format formats[] = {box_format::xyxy, box_format::xywh, box_format::cxcywh};
    for (const std::string set : {"clustered", "uniform", "edge", "inverted"}) {
        const auto a = testing::box_fixture<T, 2>(set, "a");
        for (auto from : formats)
            for (auto to : formats) {
                if (from == to)
                    continue;
                const auto ref = testing::box_fixture<T, 2>(
                    set, std::string("convert_") + detseg::to_string(from) + "_to_" +
                             detseg::to_string(to));
                testing::for_each_backend([&]<class B>() {
                    B::with(a, [&](auto&& src) {
                        CAPTURE(set);
                        CAPTURE(std::string(B::name));
                        CAPTURE(std::string(detseg::to_string(from)));
                        CAPTURE(std::string(detseg::to_string(to)));
                        expect_bit_equal(ref, detseg::convert_boxes(src, from, to));
                        // The same conversion through as_boxes, written into an Eigen matrix.
                        Eigen::Matrix<T, Eigen::Dynamic, 4> out(a.extent(0), 4);
                        detseg::convert_boxes(detseg::as_boxes(src, from), out, from, to);
                        expect_bit_equal(ref, out);
                    });
                });
            }
    }
}

TEST_CASE_TEMPLATE("converting to the same format copies", T, float, double) {
    const auto a = testing::box_fixture<T, 2>("edge", "a");
    const auto c = detseg::convert_boxes(a, box_format::cxcywh, box_format::cxcywh);
    CHECK(c == a);
}

TEST_CASE_TEMPLATE("box_area equals torchvision box_area", T, float, double) {
    for (const std::string set : {"clustered", "uniform", "edge", "inverted"}) {
        const auto a = testing::box_fixture<T, 2>(set, "a");
        const auto ref = testing::box_fixture<T, 1>(set, "area_a");
        testing::for_each_backend([&]<class B>() {
            B::with(a, [&](auto&& src) {
                CAPTURE(set);
                CAPTURE(std::string(B::name));
                const auto got = detseg::box_area(src);
                int bad = 0;
                for (index_t i = 0; i < ref.extent(0); ++i)
                    bad += !(got(i) == ref(i));
                CHECK(bad == 0);
            });
        });
        Eigen::Matrix<T, Eigen::Dynamic, 1> out(a.extent(0));
        detseg::box_area(a, out);
        for (index_t i = 0; i < ref.extent(0); ++i)
            CHECK(out(i) == ref(i));
    }
}

TEST_CASE("box_area of other formats converts first") {
    const std::vector<double> xywh = {1.5, 2.0, 3.0, 4.0};
    CHECK(detseg::box_area(detseg::as_boxes(xywh, box_format::xywh))(0) == 12.0);
    const std::vector<double> cxcywh = {10, 10, 4, 2};
    CHECK(detseg::box_area(detseg::as_boxes(cxcywh, box_format::cxcywh))(0) == 8.0);
}
