#ifndef DETSEG_TESTS_SUPPORT_THREADS_HPP
#define DETSEG_TESTS_SUPPORT_THREADS_HPP

// Running a computation on several OpenMP thread counts (thread-count independence tests).

#include <vector>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace testing {

/// The results of `f()` run with 1, 2 and 3 OpenMP threads, in that order (three plain runs
/// without OpenMP); the thread count is 2 afterwards.
template <class F>
auto runs_with_1_2_3_threads(F&& f) {
    std::vector<decltype(f())> runs;
    for (int threads : {1, 2, 3}) {
#if DETSEG_HAS_OPENMP
        omp_set_num_threads(threads);
#else
        (void)threads;
#endif
        runs.push_back(f());
    }
#if DETSEG_HAS_OPENMP
    omp_set_num_threads(2);
#endif
    return runs;
}

} // namespace testing

#endif
