#ifndef DETSEG_BOX_UPWARD_HPP
#define DETSEG_BOX_UPWARD_HPP

#include <detseg/config.hpp>
#include <detseg/core/error.hpp>

#include <detseg/detect/nms.hpp>
#include <detseg/backend/eigen.hpp>
#include <Eigen/Core>
#include "../core/error.hpp"
#include "detseg/core/error.hpp"
#include <iostream>

#include <vector>

#endif // DETSEG_BOX_UPWARD_HPP
