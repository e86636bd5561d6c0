#ifndef DETSEG_TESTS_SUPPORT_THREADS_HPP
#define DETSEG_TESTS_SUPPORT_THREADS_HPP

// Running a computation on several OpenMP thread counts (thread-count independence tests).

#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace testing {

/// Sets the OpenMP thread count (nothing without OpenMP).
inline void set_threads(int threads) {
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(threads);
#else
    (void)threads;
#endif
}

/// The results of `f()` run with 1, 2 and 3 OpenMP threads, in that order (three plain runs
/// without OpenMP); the thread count is 2 afterwards.
template <class F>
auto runs_with_1_2_3_threads(F&& f) {
    std::vector<decltype(f())> runs;
    for (int threads : {1, 2, 3}) {
        set_threads(threads);
        runs.push_back(f());
    }
    set_threads(2);
    return runs;
}

} // namespace testing

#endif
