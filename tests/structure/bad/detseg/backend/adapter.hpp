#ifndef DETSEG_BACKEND_ADAPTER_HPP
#define DETSEG_BACKEND_ADAPTER_HPP

#include <detseg/core/error.hpp>

#include <Eigen/Core>
#include <xtensor/xarray.hpp>

#endif // DETSEG_BACKEND_ADAPTER_HPP
