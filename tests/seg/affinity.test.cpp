// psa_transition, boundary_transition, affinity_transition, random_walk_transition and
// affinity_offsets: PSA/IRN's offset order, rows of T, from_affinities, bad input. The weights
// against the PyTorch fixtures and the brute-force oracles are checked with the walks in
// random_walk.test.cpp.
#include <detseg/core/tensor.hpp>
#include <detseg/io/npy.hpp>
#include <detseg/seg/affinity.hpp>

#include "support/errors.hpp"
#include "support/fixtures.hpp"
#include "support/seg_fixtures.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

namespace {

using detseg::index_t;
using testing::cam_fixture;

} // namespace

TEST_CASE("affinity_offsets follow PSA/IRN's search order") {
    const auto o = detseg::affinity_offsets(5);
    REQUIRE(o.size() == 34);
    CHECK(o[0] == detseg::pixel_offset{0, 1});
    CHECK(o[3] == detseg::pixel_offset{0, 4});
    CHECK(o[4] == detseg::pixel_offset{1, -4});
    CHECK(o.back() == detseg::pixel_offset{4, 2});
    CHECK(detseg::affinity_offsets(1).empty());
}

TEST_CASE("random_walk_transition::from_affinities equals affinity_transition; bad input") {
    const auto given = cam_fixture<float, 3>("rw_given_affinity");
    const auto a = detseg::affinity_transition(given, {.radius = 3, .beta = 3.0});
    const auto b = detseg::random_walk_transition<float>::from_affinities(
        given.extent(1), given.extent(2), 3, 3.0,
        [&](index_t j, index_t y, index_t x) { return given(j, y, x); });
    CHECK(a.offsets() == b.offsets());
    const auto wa = a.weights(), wb = b.weights();
    int differ = 0;
    for (index_t o = 0; o < wa.extent(0); ++o)
        for (index_t y = 0; y < wa.extent(1); ++y)
            for (index_t x = 0; x < wa.extent(2); ++x)
                differ += wa(o, y, x) != wb(o, y, x);
    CHECK(differ == 0);
    using testing::expect_invalid;
    using tr = detseg::random_walk_transition<float>;
    auto one = [](index_t, index_t, index_t) { return 1.0; };
    const char* fn = "random_walk_transition::from_affinities";
    expect_invalid([&] { (void)tr::from_affinities(-1, 4, 3, 1.0, one); }, fn, "height");
    expect_invalid([&] { (void)tr::from_affinities(4, -1, 3, 1.0, one); }, fn, "width");
    expect_invalid([&] { (void)tr::from_affinities(4, 4, 0, 1.0, one); }, fn, "params");
    expect_invalid([&] { (void)tr::from_affinities(4, 4, 3, 0.0, one); }, fn, "params");
}

TEST_CASE("transition builders reject bad input with invalid_argument") {
    using testing::expect_invalid;
    detseg::tensor<float, 3> f({2, 5, 6}, 0.5f);
    detseg::tensor<float, 2> b({5, 6}, 0.2f);
    expect_invalid([&] { (void)detseg::psa_transition(f, {.radius = 0}); }, "psa_transition",
                   "params");
    expect_invalid([&] { (void)detseg::psa_transition(f, {.radius = -3}); }, "psa_transition",
                   "params");
    expect_invalid([&] { (void)detseg::psa_transition(f, {.beta = 0.0}); }, "psa_transition",
                   "params");
    expect_invalid([&] { (void)detseg::psa_transition(f, {.beta = NAN}); }, "psa_transition",
                   "params");
    auto fn = f;
    fn(1, 1, 1) = NAN;
    expect_invalid([&] { (void)detseg::psa_transition(fn); }, "psa_transition", "features");
    expect_invalid([&] { (void)detseg::boundary_transition(b, {.radius = 0}); },
                   "boundary_transition", "params");
    expect_invalid([&] { (void)detseg::boundary_transition(b, {.beta = -1.0}); },
                   "boundary_transition", "params");
    auto bb = b;
    bb(2, 2) = 1.5f;
    expect_invalid([&] { (void)detseg::boundary_transition(bb); }, "boundary_transition",
                   "boundary");
    bb(2, 2) = NAN;
    expect_invalid([&] { (void)detseg::boundary_transition(bb); }, "boundary_transition",
                   "boundary");
    detseg::tensor<float, 3> aff({33, 5, 6}, 0.5f);
    expect_invalid([&] { (void)detseg::affinity_transition(aff); }, "affinity_transition",
                   "affinity");
    detseg::tensor<float, 3> aff34({34, 5, 6}, 0.5f);
    aff34(3, 1, 1) = -0.1f;
    expect_invalid([&] { (void)detseg::affinity_transition(aff34); }, "affinity_transition",
                   "affinity");
    expect_invalid([&] { (void)detseg::affinity_transition(aff34, {.radius = 0}); },
                   "affinity_transition", "params");
}
