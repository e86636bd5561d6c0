#ifndef DETSEG_TESTS_SUPPORT_SEG_FIXTURES_HPP
#define DETSEG_TESTS_SUPPORT_SEG_FIXTURES_HPP

// Loading the seg fixtures (tests/data/seg/cam/, written by tests/reference/gen_cam_fixtures.py;
// tests/data/seg/pseudo/, by gen_pseudo_label_fixtures.py) and comparing dense results with them.

#include "support/fixtures.hpp"

#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/io/npy.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

namespace testing {

/// tests/data/seg/cam/<name>.npy as a tensor of T.
template <class T, std::size_t R>
detseg::tensor<T, R> cam_fixture(const std::string& name) {
    return detseg::load_npy(data_path("seg/cam/" + name + ".npy")).as<T, R>();
}

/// tests/data/seg/pseudo/<stem>.npy as a tensor of T.
template <class T, std::size_t R>
detseg::tensor<T, R> pseudo_fixture(const std::string& stem) {
    return detseg::load_npy(data_path("seg/pseudo/" + stem + ".npy")).as<T, R>();
}

/// Largest |got - ref| / max(|ref|, floor) over two same-size arrays (tensors or contiguous
/// views, anything `detseg::as_view` takes) walked in row-major order.
template <class A, class B>
double max_rel(const A& got_src, const B& ref_src, double floor = 1e-6) {
    const auto got = detseg::as_view(got_src);
    const auto ref = detseg::as_view(ref_src);
    REQUIRE(got.size() == ref.size());
    double worst = 0;
    for (detseg::index_t i = 0; i < ref.size(); ++i) {
        const double r = static_cast<double>(ref.data_handle()[i]);
        const double g = static_cast<double>(got.data_handle()[i]);
        worst = std::max(worst, std::abs(g - r) / std::max(std::abs(r), floor));
    }
    return worst;
}

} // namespace testing

#endif
