#ifndef DETSEG_TESTS_SUPPORT_NMS_ORACLE_HPP
#define DETSEG_TESTS_SUPPORT_NMS_ORACLE_HPP

// Brute-force greedy NMS for the tests of the NMS family.

#include <detseg/box/iou.hpp>
#include <detseg/detect/nms.hpp>

#include <algorithm>
#include <array>
#include <vector>

namespace testing {

// Greedy NMS over the full IoU matrix from detseg::pairwise_iou, written from the definition.
template <class T, class S>
std::vector<detseg::index_t> oracle_nms(const std::vector<std::array<T, 4>>& boxes,
                                        const std::vector<S>& scores, const detseg::nms_params& p) {
    using detseg::index_t;
    using detseg::nms_compare;
    const auto iou = detseg::pairwise_iou(boxes, boxes);
    std::vector<index_t> order;
    for (index_t i = 0; i < index_t(scores.size()); ++i)
        if (static_cast<double>(scores[std::size_t(i)]) > p.score_threshold)
            order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](index_t a, index_t b) {
        return scores[std::size_t(a)] > scores[std::size_t(b)];
    });
    std::vector<bool> removed(scores.size(), false);
    std::vector<index_t> keep;
    for (index_t i : order) {
        if (removed[std::size_t(i)])
            continue;
        if (p.max_output >= 0 && index_t(keep.size()) == p.max_output)
            break;
        keep.push_back(i);
        for (index_t j : order) {
            const double v = static_cast<double>(iou(i, j));
            if (p.compare == nms_compare::greater ? v > p.iou_threshold : v >= p.iou_threshold)
                removed[std::size_t(j)] = true;
        }
    }
    return keep;
}

} // namespace testing

#endif
