#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's SSD default boxes
(``detect/default_boxes.hpp``).

Run with Debian's interpreter (torch 1.13, torchvision 0.14.1, numpy):

    /usr/bin/python3 tests/reference/gen_default_box_fixtures.py [--out-dir DIR]

For each configuration, with torchvision's ``DefaultBoxGenerator``:

- ``<config>_f32_cxcywh.npy``: the normalised (cx, cy, w, h) boxes (``_grid_default_boxes`` in
  float32). In float64 torchvision computes the same numbers in float32 and converts them
  (its wh pairs and centre offsets are float32 tensors), so there is no float64 file: the test
  compares detseg's double output with these values converted to double.
- ``<config>_<f32|f64>_xyxy.npy``: the pixel xyxy boxes of one image (``forward``), for the
  dtypes listed per configuration (SSD300 in float32 only, SSDlite320 in float64 only, to keep
  the data small).

The configurations are repeated in ``tests/detect/default_boxes.test.cpp``; ``manifest.json``
records them. Peer cases from ``../shared/testdata/peer_cases``
(``torchvision_test_models_detection_anchor_utils.json``: ``test_defaultbox_generator`` and the
collector's two-level case) are written as ``peer_<name>_expected.npy`` (float64, as in the
JSON, which rounds them to 4-5 decimals).
"""

import json
import os
import sys

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

import numpy as np

from fixture_files import REPO_ROOT, FixtureWriter, parse_args, versions

GENERATOR = "tests/reference/gen_default_box_fixtures.py"
PEER_DIR = REPO_ROOT / ".." / "shared" / "testdata" / "peer_cases"

# name -> (constructor kwargs, image (h, w), feature maps (h, w), xyxy dtypes)
CONFIGS = {
    # torchvision ssd300_vgg16
    "ssd300": (dict(aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                    scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
                    steps=[8, 16, 32, 64, 100, 300]),
               (300, 300), [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)], ("f32",)),
    # torchvision ssdlite320_mobilenet_v3_large
    "ssdlite320": (dict(aspect_ratios=[[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95),
                   (320, 320), [(20, 20), (10, 10), (5, 5), (3, 3), (2, 2), (1, 1)], ("f64",)),
    # no clipping, non-square image and maps, fractional steps, ratios below 1, one level
    # with explicit scales; SSD's clip=False keeps wh pairs above 1
    "noclip": (dict(aspect_ratios=[[1.5, 0.4], [3]], scales=[0.6, 1.1, 1.3], steps=[7, 24],
                    clip=False),
               (45, 70), [(7, 10), (2, 3)], ("f32", "f64")),
    # a single level: scales = [min_ratio, max_ratio]
    "single": (dict(aspect_ratios=[[2, 3, 0.7]], min_ratio=0.25, max_ratio=0.8),
               (33, 21), [(4, 3)], ("f32", "f64")),
}


def main(argv=None):
    args = parse_args(__doc__, "default_boxes", argv)
    import torch
    import torchvision
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    from torchvision.models.detection.image_list import ImageList

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(torch=torch.__version__, torchvision=torchvision.__version__),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
        "naming": "<config>_f32_cxcywh.npy, <config>_<f32|f64>_xyxy.npy, "
                  "peer_<name>_expected.npy",
        "configs": {},
        "peer": {},
    }
    for name, (kwargs, image, fmaps, dtypes) in CONFIGS.items():
        gen = DefaultBoxGenerator(**kwargs)
        entry = {"kwargs": kwargs, "scales": list(gen.scales), "image_hw": list(image),
                 "feature_maps_hw": [list(f) for f in fmaps], "xyxy_dtypes": list(dtypes)}
        cx = gen._grid_default_boxes([list(f) for f in fmaps], list(image), dtype=torch.float32)
        writer.save(f"{name}_f32_cxcywh", cx.numpy())
        cx64 = gen._grid_default_boxes([list(f) for f in fmaps], list(image), dtype=torch.float64)
        assert torch.equal(cx64, cx.to(torch.float64)), name
        entry["count"] = int(cx.shape[0])
        for tag in dtypes:
            dtype = torch.float32 if tag == "f32" else torch.float64
            images = ImageList(torch.zeros(1, 3, *image, dtype=dtype), [image])
            feats = [torch.zeros(1, 1, h, w, dtype=dtype) for h, w in fmaps]
            xyxy = gen(images, feats)[0]
            assert xyxy.dtype == dtype
            writer.save(f"{name}_{tag}_xyxy", xyxy.numpy())
        manifest["configs"][name] = entry

    tv = json.loads((PEER_DIR / "torchvision_test_models_detection_anchor_utils.json").read_text())
    names = {"DefaultBoxGenerator/test_defaultbox_generator": "tv_upstream",
             "DefaultBoxGenerator/collector/two_levels": "tv_two_levels"}
    for case in tv["cases"]:
        if case["id"] in names:
            exp = case.get("expected_float64_recomputed") or case["expected"]["boxes_per_image_xyxy"]
            writer.save(f"peer_{names[case['id']]}_expected", np.array(exp, dtype=np.float64))
            manifest["peer"][names[case["id"]]] = {
                "id": case["id"], "params": case["params"], "inputs": case["inputs"],
                "tolerance": case["tolerance"], "collector": case["test"] is None}
    writer.finish(manifest)


if __name__ == "__main__":
    sys.exit(main())
