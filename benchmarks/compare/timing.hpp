// Timing helpers shared by the side-by-side programs in this folder (not part of the library).
#ifndef DETSEG_BENCHMARKS_COMPARE_TIMING_HPP
#define DETSEG_BENCHMARKS_COMPARE_TIMING_HPP

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

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

/// Writes n elements as raw little-endian bytes (the scripts read them with numpy.fromfile).
template <class T>
void write_raw(const std::string& path, const T* data, std::size_t n) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        throw std::runtime_error("cannot write " + path);
    const std::size_t w = n == 0 ? 0 : std::fwrite(data, sizeof(T), n, f);
    std::fclose(f);
    if (w != n)
        throw std::runtime_error("short write to " + path);
}

template <class T>
void write_raw(const std::string& path, const std::vector<T>& v) {
    write_raw(path, v.data(), v.size());
}

/// Sets the number of OpenMP threads (nothing without OpenMP).
inline void set_threads(int t) {
#if defined(_OPENMP)
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

/// A timer program's command line `prog [--reps R] <arg>...`.
struct command_line {
    int reps;                      ///< R, or the default when absent
    std::vector<std::string> args; ///< the other arguments, in order
};

inline command_line parse_command_line(int argc, char** argv, int default_reps) {
    command_line c{default_reps, {}};
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        if (s == "--reps" && i + 1 < argc)
            c.reps = std::atoi(argv[++i]);
        else
            c.args.push_back(s);
    }
    return c;
}

/// The main of a timer program `prog [--reps R] <dir> <case>...`: one OpenMP thread, then
/// `run_case(dir, case, reps)` (a JSON object) for each case, printed as one JSON document.
/// Returns the exit status (2 on a usage error, 1 on an exception).
template <class RunCase>
int run_cases(int argc, char** argv, const char* usage, RunCase&& run_case) {
    const auto cl = parse_command_line(argc, argv, 21);
    const int reps = cl.reps;
    const std::vector<std::string>& args = cl.args;
    if (args.size() < 2 || reps < 1) {
        std::fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
#if defined(_OPENMP)
    omp_set_num_threads(1);
#endif
    try {
        std::string cases;
        for (std::size_t k = 1; k < args.size(); ++k) {
            cases += (k > 1 ? ",\n  " : "\n  ");
            cases += run_case(args[0], args[k], reps);
        }
        std::printf("{\"reps\": %d, \"compiler\": \"%s\", \"cases\": [%s\n]}\n", reps, __VERSION__,
                    cases.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
        return 1;
    }
    return 0;
}

} // namespace timing

#endif
