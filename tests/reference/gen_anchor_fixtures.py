#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's grid anchors (``detect/anchors.hpp``).

Run with Debian's interpreter (torch 1.13, torchvision 0.14.1, numpy):

    /usr/bin/python3 tests/reference/gen_anchor_fixtures.py [--out-dir DIR]

For each configuration below, writes ``<config>_f32_anchors.npy`` (the anchors of one image,
N×4 xyxy, as ``torchvision.models.detection.anchor_utils.AnchorGenerator`` returns them for
float32 feature maps) and
``<config>_cell.npy`` (the rounded cell anchors of every level, concatenated, float32 as
torchvision computes them). For float64 feature maps torchvision returns the same values
(integers, exact in both types); the script checks this, and the test compares detseg's double
output with the float32 file converted to double. The configurations are repeated in
``tests/detect/anchors.test.cpp``; ``manifest.json`` records them.

Peer cases (``../shared/testdata/peer_cases``), written as ``peer_<name>_expected.npy``:
detectron2 ``DefaultAnchorGenerator`` with offset 0 and 0.5 (float32, values from the JSON),
and torchvision's ``test_anchor_generator`` and the three collector cases (values from the JSON).
"""

import json
import os
import sys

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

import numpy as np

from fixture_files import REPO_ROOT, FixtureWriter, parse_args, versions

GENERATOR = "tests/reference/gen_anchor_fixtures.py"
PEER_DIR = REPO_ROOT / ".." / "shared" / "testdata" / "peer_cases"

RETINA_SIZES = [[x, int(x * 2 ** (1.0 / 3)), int(x * 2 ** (2.0 / 3))] for x in (32, 64, 128, 256, 512)]

# name -> (sizes per level, aspect ratios per level, image (h, w), feature maps (h, w) per level)
CONFIGS = {
    # Faster R-CNN FPN (torchvision _default_anchorgen), a 64×80 image
    "fpn": ([[32], [64], [128], [256], [512]], [[0.5, 1.0, 2.0]] * 5, (64, 80),
            [(16, 20), (8, 10), (4, 5), (2, 3), (1, 2)]),
    # RetinaNet (torchvision _default_anchorgen: 3 octave scales × 3 ratios), a 64×80 image
    "retinanet": (RETINA_SIZES, [[0.5, 1.0, 2.0]] * 5, (64, 80),
                  [(8, 10), (4, 5), (2, 3), (1, 2), (1, 1)]),
    # odd sizes (half-way cases of torch.round: ±2.5, ±3.5, ±4.5), odd ratios, strides from
    # floor division that do not tile the image
    "odd": ([[5, 7, 9, 20], [3, 45]], [[0.3, 1.0, 1.7, 4.0], [0.25, 0.6]], (37, 53),
            [(5, 7), (3, 2)]),
}


def torchvision_anchors(torch, AnchorGenerator, ImageList, sizes, ratios, image, fmaps, dtype):
    gen = AnchorGenerator(tuple(tuple(s) for s in sizes), tuple(tuple(r) for r in ratios))
    images = ImageList(torch.zeros(1, 3, *image, dtype=dtype), [image])
    feats = [torch.zeros(1, 1, h, w, dtype=dtype) for h, w in fmaps]
    anchors = gen(images, feats)[0]
    assert anchors.dtype == dtype
    cell = torch.cat([c.to(torch.float32) for c in AnchorGenerator(
        tuple(tuple(s) for s in sizes), tuple(tuple(r) for r in ratios)).cell_anchors])
    return anchors.numpy(), cell.numpy()


def peer_cases():
    """name -> (expected N×4 float64 array, notes) from the peer-case JSON files."""
    out = {}
    d2 = json.loads((PEER_DIR / "detectron2_test_anchor_generator.json").read_text())
    for case in d2["cases"]:
        if case["op"] != "DefaultAnchorGenerator":
            continue
        name = "d2_offset0" if case["params"]["offset"] == 0.0 else "d2_offset05"
        out[name] = (np.array(case["expected"], dtype=np.float64),
                     {"id": case["id"], "params": case["params"], "inputs": case["inputs"]})
    tv = json.loads((PEER_DIR / "torchvision_test_models_detection_anchor_utils.json").read_text())
    names = {"AnchorGenerator/test_anchor_generator": "tv_upstream",
             "AnchorGenerator/collector/multi_size_ratio_single_level": "tv_multi",
             "AnchorGenerator/collector/two_levels": "tv_two_levels",
             "AnchorGenerator/collector/non_square_stride": "tv_non_square"}
    for case in tv["cases"]:
        if case["id"] in names:
            out[names[case["id"]]] = (
                np.array(case["expected"]["anchors_per_image"], dtype=np.float64),
                {"id": case["id"], "params": case["params"], "inputs": case["inputs"],
                 "collector": case["test"] is None})
    return out


def main(argv=None):
    args = parse_args(__doc__, "anchors", argv)
    import torch
    import torchvision
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(torch=torch.__version__, torchvision=torchvision.__version__),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
        "naming": "<config>_f32_anchors.npy (N×4 xyxy), <config>_cell.npy (float32), "
                  "peer_<name>_expected.npy (float64)",
        "configs": {},
        "peer": {},
    }
    for name, (sizes, ratios, image, fmaps) in CONFIGS.items():
        entry = {"sizes": sizes, "aspect_ratios": ratios, "image_hw": list(image),
                 "feature_maps_hw": [list(f) for f in fmaps]}
        anchors, cell = torchvision_anchors(torch, AnchorGenerator, ImageList, sizes, ratios,
                                            image, fmaps, torch.float32)
        anchors64, _ = torchvision_anchors(torch, AnchorGenerator, ImageList, sizes, ratios,
                                           image, fmaps, torch.float64)
        assert anchors64.dtype == np.float64
        assert np.array_equal(anchors64, anchors.astype(np.float64)), name
        writer.save(f"{name}_f32_anchors", anchors)
        entry["count"] = int(anchors.shape[0])
        writer.save(f"{name}_cell", cell)
        manifest["configs"][name] = entry
    for name, (expected, notes) in peer_cases().items():
        writer.save(f"peer_{name}_expected", expected)
        manifest["peer"][name] = notes
    writer.finish(manifest)


if __name__ == "__main__":
    sys.exit(main())
