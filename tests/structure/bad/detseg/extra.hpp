#ifndef DETSEG_EXTRA_HPP
#define DETSEG_EXTRA_HPP

#include <detseg/version.hpp>

#endif // DETSEG_EXTRA_HPP
