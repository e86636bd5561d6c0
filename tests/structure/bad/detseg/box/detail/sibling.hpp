#ifndef DETSEG_BOX_DETAIL_SIBLING_HPP
#define DETSEG_BOX_DETAIL_SIBLING_HPP

#include <detseg/core/error.hpp>

#endif // DETSEG_BOX_DETAIL_SIBLING_HPP
