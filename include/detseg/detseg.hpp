#ifndef DETSEG_DETSEG_HPP
#define DETSEG_DETSEG_HPP

/// @file
/// Umbrella header: every detseg algorithm. Backend adapters (`<detseg/backend/eigen.hpp>`,
/// `<detseg/backend/xtensor.hpp>`) and file I/O (`<detseg/io/...>`) are included separately.

#include <detseg/box/area.hpp>
#include <detseg/box/box.hpp>
#include <detseg/box/clip.hpp>
#include <detseg/box/coder.hpp>
#include <detseg/box/convert.hpp>
#include <detseg/box/filter.hpp>
#include <detseg/box/iou.hpp>
#include <detseg/config.hpp>
#include <detseg/core/concepts.hpp>
#include <detseg/core/named_tensors.hpp>
#include <detseg/core/error.hpp>
#include <detseg/core/field_view.hpp>
#include <detseg/core/parallel.hpp>
#include <detseg/core/strided_view.hpp>
#include <detseg/core/tensor.hpp>
#include <detseg/core/view_traits.hpp>
#include <detseg/dense/activation.hpp>
#include <detseg/dense/batch_norm.hpp>
#include <detseg/dense/concat.hpp>
#include <detseg/dense/conv2d.hpp>
#include <detseg/dense/pooling.hpp>
#include <detseg/dense/resize.hpp>
#include <detseg/detect/anchors.hpp>
#include <detseg/detect/batched_nms.hpp>
#include <detseg/detect/default_boxes.hpp>
#include <detseg/detect/matcher.hpp>
#include <detseg/detect/nms.hpp>
#include <detseg/detect/nms_opencv.hpp>
#include <detseg/detect/postprocess.hpp>
#include <detseg/detect/soft_nms.hpp>
#include <detseg/detect/soft_teacher.hpp>
#include <detseg/metrics/coco_evaluator.hpp>
#include <detseg/metrics/coco_params.hpp>
#include <detseg/metrics/coco_result.hpp>
#include <detseg/metrics/confusion_matrix.hpp>
#include <detseg/metrics/seg_metrics.hpp>
#include <detseg/metrics/voc_ap.hpp>
#include <detseg/seg/affinity.hpp>
#include <detseg/seg/aspp.hpp>
#include <detseg/seg/boundary.hpp>
#include <detseg/seg/cam.hpp>
#include <detseg/seg/cam_aggregate.hpp>
#include <detseg/seg/cam_crf.hpp>
#include <detseg/seg/cam_labels.hpp>
#include <detseg/seg/cam_sweep.hpp>
#include <detseg/seg/crf_presets.hpp>
#include <detseg/seg/dense_crf.hpp>
#include <detseg/seg/par.hpp>
#include <detseg/seg/pseudo_label.hpp>
#include <detseg/seg/pseudo_teacher.hpp>
#include <detseg/seg/pseudo_threshold.hpp>
#include <detseg/seg/random_walk.hpp>
#include <detseg/version.hpp>

#endif // DETSEG_DETSEG_HPP
