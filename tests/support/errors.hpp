#ifndef DETSEG_TESTS_SUPPORT_ERRORS_HPP
#define DETSEG_TESTS_SUPPORT_ERRORS_HPP

#include <detseg/core/error.hpp>

#include <doctest/doctest.h>

#include <string>

namespace testing {

/// Runs `f` and checks that it throws detseg::invalid_argument naming `fn` and `arg`.
template <class F>
void expect_invalid(F&& f, const std::string& fn, const std::string& arg) {
    try {
        f();
        FAIL("expected detseg::invalid_argument from ", fn, " for '", arg, "'");
    } catch (const detseg::invalid_argument& e) {
        INFO(e.what());
        CHECK(e.function() == fn);
        CHECK(e.argument() == arg);
        CHECK(std::string(e.what()).rfind("detseg::" + fn + ": argument '" + arg + "': ", 0) == 0);
    }
}

} // namespace testing

#endif
