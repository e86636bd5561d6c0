#include <detseg/detseg.hpp>

#include <array>
#include <cstdio>
#include <vector>

int main() {
    const std::vector<std::array<float, 4>> dets = {{0, 0, 2, 2}, {1, 1, 3, 3}};
    const std::vector<std::array<float, 4>> gt = {{0, 0, 2, 2}};
    const auto iou = detseg::pairwise_iou(dets, gt);
    std::printf("detseg %s: IoU %.4f %.4f\n", detseg::version_string(), iou(0, 0), iou(1, 0));
    return iou(0, 0) == 1.0f && iou(1, 0) == 1.0f / 7.0f ? 0 : 1;
}
