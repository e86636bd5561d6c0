// Timing helpers shared by the side-by-side programs in this folder (not part of the library).
#ifndef DETSEG_BENCHMARKS_COMPARE_TIMING_HPP
#define DETSEG_BENCHMARKS_COMPARE_TIMING_HPP

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

namespace timing {

using clock_type = std::chrono::steady_clock;

struct summary {
    double median, q1, q3;
};

inline double quantile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    const double pos = q * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

/// True when the environment sets DETSEG_TIMING_CLOCK=cpu (the scripts' --cpu-time): time the
/// calling thread's CPU time instead of wall time.
inline bool cpu_clock() {
    static const bool cpu = [] {
        const char* v = std::getenv("DETSEG_TIMING_CLOCK");
        return v != nullptr && std::string(v) == "cpu";
    }();
    return cpu;
}

/// Milliseconds on the chosen clock (an arbitrary origin).
inline double now_ms() {
    if (cpu_clock()) {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
    }
    return std::chrono::duration<double, std::milli>(clock_type::now().time_since_epoch()).count();
}

/// Runs `f` twice as warm-up, then `reps` timed times; milliseconds, median and quartiles.
template <class F>
summary time_ms(int reps, F&& f) {
    f();
    f();
    std::vector<double> ms;
    for (int r = 0; r < reps; ++r) {
        const double t0 = now_ms();
        f();
        ms.push_back(now_ms() - t0);
    }
    return {quantile(ms, 0.5), quantile(ms, 0.25), quantile(ms, 0.75)};
}

inline std::string json(const summary& s) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "{\"median\": %.4f, \"q1\": %.4f, \"q3\": %.4f}", s.median, s.q1,
                  s.q3);
    return buf;
}

/// Keeps the compiler from discarding the writes behind `p`.
inline void escape_barrier(const void* p) {
    asm volatile("" : : "g"(p) : "memory");
}

} // namespace timing

#endif
