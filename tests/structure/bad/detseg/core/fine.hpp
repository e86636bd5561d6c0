#ifndef DETSEG_CORE_FINE_HPP
#define DETSEG_CORE_FINE_HPP

/// Usage:
///     #include <detseg/seg/dense_crf.hpp>
/*
#include <iostream>
*/

#include <detseg/config.hpp>

#include <vector>

#define DETSEG_FINE_MACRO(x)                                                                       \
    do {                                                                                           \
        (void)(x);                                                                                 \
    } while (false)

#endif // DETSEG_CORE_FINE_HPP
