#pragma once

#include <detseg/config.hpp>
