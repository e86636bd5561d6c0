// SSD300 training targets from scratch: generate the 8732 default boxes of torchvision's
// ssd300_vgg16, match three ground-truth boxes to them with SSD's rule, and encode the
// regression targets with SSD's variances (weights 10, 10, 5, 5). Then decode the targets back
// and check that they reproduce the ground truth.

#include <detseg/detseg.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

int main() {
    // 1. Priors: six feature maps of a 300×300 input.
    const auto ssd = detseg::default_box_generator::ssd300();
    const std::vector<detseg::grid_size> grids = {{38, 38}, {19, 19}, {10, 10},
                                                  {5, 5},   {3, 3},   {1, 1}};
    const detseg::image_size image{.height = 300, .width = 300};
    const auto priors = ssd.xyxy<float>(image, grids); // 8732×4, pixels
    std::printf("SSD300 priors: %td boxes on %td levels (scales", priors.extent(0),
                ssd.num_levels());
    for (double s : ssd.scales())
        std::printf(" %.2f", s);
    std::printf(")\n");

    // 2. Ground truth (xyxy pixels) with class labels.
    const std::vector<detseg::box<float>> gt = {
        {48, 240, 195, 291}, // a wide object near the bottom left
        {8, 12, 292, 298},   // a large object covering most of the image
        {150, 30, 180, 75},  // a small object near the top
    };
    const std::vector<int> gt_labels = {12, 15, 7};

    // 3. Match: IoU of every ground truth with every prior (3×8732), then SSD's rule
    //    (threshold 0.5, and every ground truth keeps its best prior).
    const auto iou = detseg::pairwise_iou(gt, priors);
    const auto matches = detseg::ssd_match_priors(iou, 0.5);
    const auto labels = detseg::match_labels(matches, gt_labels);
    const auto targets = detseg::match_targets(matches, gt, priors, detseg::ssd_box_coder);

    std::vector<int> per_gt(gt.size(), 0);
    for (detseg::index_t j = 0; j < matches.extent(0); ++j)
        if (matches(j) >= 0)
            ++per_gt[static_cast<std::size_t>(matches(j))];
    for (std::size_t g = 0; g < gt.size(); ++g)
        std::printf("ground truth %zu (label %d): %d positive priors\n", g, gt_labels[g],
                    per_gt[g]);

    // 4. One positive prior of each ground truth, with its target.
    for (std::size_t g = 0; g < gt.size(); ++g) {
        for (detseg::index_t j = 0; j < matches.extent(0); ++j) {
            if (matches(j) != static_cast<detseg::index_t>(g))
                continue;
            std::printf("  prior %5td (%6.1f %6.1f %6.1f %6.1f) label %td, target "
                        "(%+.3f %+.3f %+.3f %+.3f)\n",
                        j, priors(j, 0), priors(j, 1), priors(j, 2), priors(j, 3), labels(j),
                        targets(j, 0), targets(j, 1), targets(j, 2), targets(j, 3));
            break;
        }
    }

    // 5. Decoding the targets against their priors gives the ground truth back.
    const auto decoded = detseg::decode_boxes(targets, priors, detseg::ssd_box_coder);
    float worst = 0;
    for (detseg::index_t j = 0; j < matches.extent(0); ++j) {
        if (matches(j) < 0)
            continue;
        const auto& b = gt[static_cast<std::size_t>(matches(j))];
        const float ref[4] = {b.x1, b.y1, b.x2, b.y2};
        for (detseg::index_t k = 0; k < 4; ++k)
            worst = std::max(worst, std::abs(decoded(j, k) - ref[k]));
    }
    std::printf("decode(encode(gt)) reproduces the ground truth within %.2g px\n", worst);
    return worst < 1e-3f ? 0 : 1;
}
