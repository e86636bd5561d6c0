#ifndef DETSEG_DETECT_DETAIL_SCORE_CHECKS_HPP
#define DETSEG_DETECT_DETAIL_SCORE_CHECKS_HPP

// Argument checks on the scores of the NMS family.

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>

#include <cmath>

namespace detseg::detail {

// Every score finite; with `as_float`, also finite once rounded to float (the functions that
// compute in float, as OpenCV does). @throws invalid_argument naming `fn`, `arg` and the score.
template <class S>
void check_finite_scores(const S& s, const char* fn, const char* arg, bool as_float = false) {
    for (index_t i = 0, n = s.extent(0); i < n; ++i) {
        if (as_float)
            DETSEG_REQUIRE(std::isfinite(s[i]) && std::isfinite(static_cast<float>(s[i])), fn, arg,
                           "score ", i, " is ", s[i],
                           "; scores must be finite (and finite as floats)");
        else
            DETSEG_REQUIRE(std::isfinite(s[i]), fn, arg, "score ", i, " is ", s[i],
                           "; scores must be finite");
    }
}

} // namespace detseg::detail

#endif // DETSEG_DETECT_DETAIL_SCORE_CHECKS_HPP
