// Must not compile: box coordinates are float or double.
#include <detseg/box/iou.hpp>

#include <array>
#include <vector>

int main() {
    std::vector<std::array<int, 4>> a{{0, 0, 2, 2}};
    return static_cast<int>(detseg::pairwise_iou(a, a).size());
}
