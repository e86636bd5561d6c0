#ifndef DETSEG_BOX_WRONG_GUARD_HPP
#define DETSEG_BOX_WRONG_GUARD_HPP

#include "sibling.hpp"

#endif
