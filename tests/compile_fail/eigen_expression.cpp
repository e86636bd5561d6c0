// Must not compile: a lazy Eigen expression has no storage to view.
#include <detseg/backend/eigen.hpp>
#include <detseg/box/iou.hpp>

#include <Eigen/Core>

int main() {
    Eigen::Matrix<float, Eigen::Dynamic, 4> a(3, 4), b(3, 4);
    a.setZero();
    b.setZero();
    return static_cast<int>(detseg::pairwise_iou(a + b, b).size());
}
