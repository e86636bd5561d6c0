#include <detseg/core/error.hpp>

#include "support/errors.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

using detseg::detail::concat;

static_assert(std::is_base_of_v<std::invalid_argument, detseg::invalid_argument>);
static_assert(std::is_base_of_v<std::logic_error, detseg::invalid_argument>);
static_assert(std::is_base_of_v<std::runtime_error, detseg::io_error>);
static_assert(!std::is_base_of_v<std::logic_error, detseg::io_error>);

namespace {

int checked_half(int x) {
    DETSEG_REQUIRE(x % 2 == 0, "checked_half", "x", "expected an even number, got ", x);
    return x / 2;
}

std::string expensive_message(int& calls) {
    ++calls;
    return "costly";
}

} // namespace

TEST_CASE("invalid_argument names the function and the argument") {
    const detseg::invalid_argument e("pairwise_iou", "boxes2", "expected 4 columns, got 5");
    CHECK(std::string(e.what()) ==
          "detseg::pairwise_iou: argument 'boxes2': expected 4 columns, got 5");
    CHECK(e.function() == "pairwise_iou");
    CHECK(e.argument() == "boxes2");
    CHECK(e.reason() == "expected 4 columns, got 5");
    static_assert(std::is_same_v<decltype(e.function()), const std::string&>);

    const detseg::invalid_argument copy = e;
    CHECK(std::string(copy.what()) == e.what());
    CHECK(copy.argument() == "boxes2");

    const detseg::invalid_argument empty_what("f", "a", "");
    CHECK(std::string(empty_what.what()) == "detseg::f: argument 'a': ");
}

TEST_CASE("invalid_argument is caught as std::invalid_argument and std::logic_error") {
    try {
        throw detseg::invalid_argument("nms", "iou_threshold", "must be in [0, 1], got 2");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()) ==
              "detseg::nms: argument 'iou_threshold': must be in [0, 1], got 2");
    }
    CHECK_THROWS_AS(throw detseg::invalid_argument("f", "a", "w"), std::logic_error);
    CHECK_THROWS_AS(throw detseg::invalid_argument("f", "a", "w"), std::exception);
}

TEST_CASE("DETSEG_REQUIRE throws only when the condition is false") {
    CHECK(checked_half(4) == 2);
    CHECK_NOTHROW((void)checked_half(0));
    testing::expect_invalid([] { (void)checked_half(3); }, "checked_half", "x");
    try {
        (void)checked_half(-7);
        FAIL("no exception");
    } catch (const detseg::invalid_argument& e) {
        CHECK(std::string(e.what()) ==
              "detseg::checked_half: argument 'x': expected an even number, got -7");
    }
}

TEST_CASE("DETSEG_REQUIRE evaluates the condition once and the message only on failure") {
    int cond_calls = 0, msg_calls = 0;
    auto cond = [&](bool v) {
        ++cond_calls;
        return v;
    };
    DETSEG_REQUIRE(cond(true), "f", "a", expensive_message(msg_calls));
    CHECK(cond_calls == 1);
    CHECK(msg_calls == 0);
    CHECK_THROWS_AS([&] { DETSEG_REQUIRE(cond(false), "f", "a", expensive_message(msg_calls)); }(),
                    detseg::invalid_argument);
    CHECK(cond_calls == 2);
    CHECK(msg_calls == 1);
}

TEST_CASE("DETSEG_REQUIRE is a single statement") {
    bool else_taken = false;
    const bool yes = true;
    if (yes)
        DETSEG_REQUIRE(yes, "f", "a", "unused");
    else
        else_taken = true;
    CHECK_FALSE(else_taken);
}

TEST_CASE("DETSEG_REQUIRE takes std::string function and argument names") {
    const std::string fn = "box_area", arg = "boxes";
    testing::expect_invalid([&] { DETSEG_REQUIRE(1 + 1 == 3, fn, arg, "n = ", 3); }, "box_area",
                            "boxes");
}

TEST_CASE("throw_invalid concatenates its parts") {
    try {
        detseg::detail::throw_invalid("clip_boxes", "size", "expected ", 2, " numbers, got ", 3.5);
        FAIL("no exception");
    } catch (const detseg::invalid_argument& e) {
        CHECK(e.function() == "clip_boxes");
        CHECK(e.argument() == "size");
        CHECK(std::string(e.what()) ==
              "detseg::clip_boxes: argument 'size': expected 2 numbers, got 3.5");
    }
}

TEST_CASE("concat of strings and characters") {
    CHECK(concat() == "");
    CHECK(concat("abc") == "abc");
    CHECK(concat(std::string("ab"), std::string_view("cd"), "ef") == "abcdef");
    const char* p = "ptr";
    CHECK(concat(p, '-', 'x') == "ptr-x");
    CHECK(concat('a', 'b', 'c') == "abc");
    CHECK(concat(std::string()) == "");
}

TEST_CASE("concat of integers") {
    CHECK(concat(0) == "0");
    CHECK(concat(42) == "42");
    CHECK(concat(-7) == "-7");
    CHECK(concat(3u) == "3");
    CHECK(concat(std::size_t{18446744073709551615ull}) == "18446744073709551615");
    CHECK(concat(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
    CHECK(concat(std::ptrdiff_t{-12}) == "-12");
    CHECK(concat(static_cast<unsigned char>(200)) == "200");
    CHECK(concat(static_cast<signed char>(-5)) == "-5");
    CHECK(concat(std::uint8_t{65}) == "65");
    CHECK(concat(short{-300}) == "-300");
    CHECK(concat("n=", 3, ", m=", 4) == "n=3, m=4");
}

TEST_CASE("concat of floating-point numbers uses the shortest round-trip form") {
    CHECK(concat(0.1) == "0.1");
    CHECK(concat(0.1f) == "0.1");
    CHECK(concat(static_cast<double>(0.1f)) == "0.10000000149011612");
    CHECK(concat(1.0 / 3.0) == "0.3333333333333333");
    CHECK(concat(1.0f / 3.0f) == "0.33333334");
    CHECK(concat(2.5) == "2.5");
    CHECK(concat(100.0) == "100");
    CHECK(concat(1e21) == "1e+21");
    CHECK(concat(1e-7) == "1e-07");
    CHECK(concat(-0.0) == "-0");
    CHECK(concat(0.0) == "0");
    CHECK(concat(std::numeric_limits<double>::infinity()) == "inf");
    CHECK(concat(-std::numeric_limits<float>::infinity()) == "-inf");
    CHECK(concat(std::numeric_limits<double>::quiet_NaN()) == "nan");
    CHECK(concat(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
    CHECK(concat(std::numeric_limits<double>::denorm_min()) == "5e-324");
    for (double x : {0.1, 1.0 / 3.0, 123456.789, 1e-300, 6.02214076e23, 0.5 + 1e-16})
        CHECK(std::stod(concat(x)) == x);
}

TEST_CASE("concat of booleans") {
    CHECK(concat(true) == "true");
    CHECK(concat(false) == "false");
    CHECK(concat("ok=", true, ", bad=", false) == "ok=true, bad=false");
}

TEST_CASE("io_error is a std::runtime_error carrying its message") {
    try {
        throw detseg::io_error("detseg::load_npy: cannot open 'x.npy'");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "detseg::load_npy: cannot open 'x.npy'");
    }
    const detseg::io_error e(std::string("from a string"));
    CHECK(std::string(e.what()) == "from a string");
    CHECK_THROWS_AS(throw detseg::io_error("x"), std::exception);
}
