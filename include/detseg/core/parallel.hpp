#ifndef DETSEG_CORE_PARALLEL_HPP
#define DETSEG_CORE_PARALLEL_HPP

/// @file
/// A small parallel-for over an index range. With OpenMP (`DETSEG_HAS_OPENMP`) iterations are
/// split statically over the threads; without it the loop runs serially. Callers write each
/// iteration's results to their own place, so results never depend on the thread count.

#include <detseg/config.hpp>

#include <exception>

#if DETSEG_HAS_OPENMP
#include <omp.h>
#endif

namespace detseg {

/// Threads a parallel region would use (1 without OpenMP).
[[nodiscard]] inline int max_threads() noexcept {
#if DETSEG_HAS_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/// Calls `body(i)` for every `i` in [0, n), in parallel when `n >= min_parallel` and OpenMP is
/// on. Iterations must be independent. The first exception thrown by any iteration is rethrown
/// on the calling thread after the loop (iterations of other threads may still have run).
template <class Body>
void parallel_for(index_t n, Body&& body, index_t min_parallel = 2) {
#if DETSEG_HAS_OPENMP
    if (n >= min_parallel && n > 1 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
        std::exception_ptr error;
#pragma omp parallel for schedule(static)
        for (index_t i = 0; i < n; ++i) {
            try {
                body(i);
            } catch (...) {
#pragma omp critical(detseg_parallel_for_error)
                if (!error)
                    error = std::current_exception();
            }
        }
        if (error)
            std::rethrow_exception(error);
        return;
    }
#else
    (void)min_parallel;
#endif
    for (index_t i = 0; i < n; ++i)
        body(i);
}

/// Calls `body(begin, end)` on consecutive chunks of at most `grain` indices covering [0, n),
/// chunks in parallel (see `parallel_for`). Chunk boundaries depend only on `n` and `grain`.
template <class Body>
void parallel_for_chunks(index_t n, index_t grain, Body&& body) {
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    const index_t chunks = (n + grain - 1) / grain;
    parallel_for(chunks, [&](index_t c) {
        const index_t begin = c * grain;
        const index_t end = begin + grain < n ? begin + grain : n;
        body(begin, end);
    });
}

} // namespace detseg

#endif // DETSEG_CORE_PARALLEL_HPP
