// Box basics on one image: COCO-style ground truth and a detector's raw output.
//
// Reads the detections as the detector produced them (centre/size, partly outside the image),
// brings them to corners, clips them to the image, drops boxes that became too small, and matches
// them to the ground truth by IoU. Then it shows how the regression losses built on GIoU, DIoU
// and CIoU see a few of the predictions.

#include <detseg/detseg.hpp>

#include <cstdio>
#include <vector>

struct ground_truth {
    const char* name;
    float x, y, w, h; // COCO: top-left corner and size
};

struct detection {
    float cx, cy, w, h; // the head's output: centre and size
    float score;
};

int main() {
    const detseg::image_size image{.height = 480, .width = 640};

    const std::vector<ground_truth> gt = {
        {"person", 48, 120, 90, 260},
        {"bicycle", 150, 250, 210, 150},
        {"dog", 420, 330, 140, 110},
        {"kite", 560, 20, 60, 40},
    };
    const std::vector<detection> dets = {
        {93, 250, 86, 250, 0.96f},   // person, good
        {255, 322, 200, 140, 0.91f}, // bicycle, good
        {470, 380, 120, 96, 0.84f},  // dog, a bit small and off-centre
        {600, 45, 90, 50, 0.55f},    // kite, sticks out of the image on the right
        {95, 240, 120, 300, 0.40f},  // person, loose duplicate
        {320, 60, 4, 3, 0.30f},      // a speck
        {-20, 460, 80, 70, 0.22f},   // corner false positive, mostly outside
    };

    // 1. Ground truth: COCO xywh -> corners. A range of structs is read through member pointers.
    const auto gt_xywh = detseg::make_field_view(gt, &ground_truth::x, &ground_truth::y,
                                                 &ground_truth::w, &ground_truth::h);
    const auto gt_boxes =
        detseg::convert_boxes(gt_xywh, detseg::box_format::xywh, detseg::box_format::xyxy);

    // 2. Detections: centre/size -> corners, clipped to the image.
    const auto det_cxcywh =
        detseg::make_field_view(dets, &detection::cx, &detection::cy, &detection::w, &detection::h);
    const auto det_boxes =
        detseg::clip_boxes(detseg::as_boxes(det_cxcywh, detseg::box_format::cxcywh), image);

    // 3. Drop what is smaller than 8 px on a side after clipping.
    const auto keep = detseg::remove_small_boxes(det_boxes, 8.0);
    std::printf("%zu of %zu detections are at least 8x8 px inside the %ldx%ld image\n\n",
                keep.size(), dets.size(), long(image.width), long(image.height));

    // 4. IoU of every kept detection with every ground-truth box.
    detseg::tensor<float, 2> kept({detseg::index_t(keep.size()), 4});
    for (std::size_t k = 0; k < keep.size(); ++k)
        for (detseg::index_t c = 0; c < 4; ++c)
            kept(detseg::index_t(k), c) = det_boxes(keep[k], c);
    const auto iou = detseg::pairwise_iou(kept, gt_boxes);

    std::printf("IoU      ");
    for (const auto& g : gt)
        std::printf("%9s", g.name);
    std::printf("\n");
    for (detseg::index_t i = 0; i < iou.extent(0); ++i) {
        std::printf("det %-2ld   ", long(keep[std::size_t(i)]));
        for (detseg::index_t j = 0; j < iou.extent(1); ++j)
            std::printf("%9.3f", iou(i, j));
        std::printf("\n");
    }

    // 5. Greedy matching in score order (detections are already sorted), IoU >= 0.5.
    std::printf("\nmatches at IoU >= 0.5 (score order):\n");
    std::vector<bool> taken(gt.size(), false);
    for (detseg::index_t i = 0; i < iou.extent(0); ++i) {
        detseg::index_t best = -1;
        float best_iou = 0.5f;
        for (detseg::index_t j = 0; j < iou.extent(1); ++j)
            if (!taken[std::size_t(j)] && iou(i, j) >= best_iou) {
                best_iou = iou(i, j);
                best = j;
            }
        const auto d = keep[std::size_t(i)];
        if (best < 0) {
            std::printf("  det %ld (score %.2f): false positive\n", long(d),
                        dets[std::size_t(d)].score);
            continue;
        }
        taken[std::size_t(best)] = true;
        std::printf("  det %ld (score %.2f) -> %-8s IoU %.3f\n", long(d),
                    dets[std::size_t(d)].score, gt[std::size_t(best)].name, best_iou);
    }

    // 6. The regression losses' view of the first three detections against their objects:
    //    1 - IoU is flat (zero gradient) once boxes stop overlapping; GIoU, DIoU and CIoU are not.
    std::printf("\n%-10s %8s %8s %8s %8s\n", "pair", "IoU", "GIoU", "DIoU", "CIoU");
    for (detseg::index_t i = 0; i < 3; ++i) {
        const detseg::box<float> p{kept(i, 0), kept(i, 1), kept(i, 2), kept(i, 3)};
        const detseg::box<float> g{gt_boxes(i, 0), gt_boxes(i, 1), gt_boxes(i, 2), gt_boxes(i, 3)};
        std::printf("%-10s %8.4f %8.4f %8.4f %8.4f\n", gt[std::size_t(i)].name, detseg::iou(p, g),
                    detseg::giou(p, g), detseg::diou(p, g), detseg::ciou(p, g));
    }
    const detseg::box<float> far{300, 0, 340, 30};
    const detseg::box<float> kite{gt_boxes(3, 0), gt_boxes(3, 1), gt_boxes(3, 2), gt_boxes(3, 3)};
    std::printf("%-10s %8.4f %8.4f %8.4f %8.4f   (no overlap: only IoU cannot tell how far)\n",
                "far/kite", detseg::iou(far, kite), detseg::giou(far, kite),
                detseg::diou(far, kite), detseg::ciou(far, kite));
    return 0;
}
