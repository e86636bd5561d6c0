// Must not compile: a lazy xtensor expression has no storage to view.
#include <detseg/backend/xtensor.hpp>
#include <detseg/box/iou.hpp>

#include <xtensor/xtensor.hpp>

int main() {
    xt::xtensor<float, 2> a = xt::zeros<float>({3, 4});
    return static_cast<int>(detseg::pairwise_iou(a * 2.0f, a).size());
}
