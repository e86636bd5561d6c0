#ifndef DETSEG_CONFIG_HPP
#define DETSEG_CONFIG_HPP

/// @file
/// Build configuration and the library-wide index type.
///
/// - `DETSEG_HAS_OPENMP` is 1 when the translation unit is compiled with OpenMP (`_OPENMP`) and
///   `DETSEG_NO_OPENMP` is not defined; the library then parallelises large loops. Results never
///   depend on whether OpenMP is used or on the number of threads.

#include <detseg/version.hpp>

#include <cstddef>

#if defined(_OPENMP) && !defined(DETSEG_NO_OPENMP)
#define DETSEG_HAS_OPENMP 1
#else
#define DETSEG_HAS_OPENMP 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DETSEG_RESTRICT __restrict__
#else
#define DETSEG_RESTRICT
#endif

namespace detseg {

/// Signed index and extent type used by every view, tensor and returned index list.
using index_t = std::ptrdiff_t;

} // namespace detseg

#endif // DETSEG_CONFIG_HPP
