#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's matcher (``detect/matcher.hpp``).

Run with Debian's interpreter (torch 1.13, torchvision 0.14.1, numpy):

    /usr/bin/python3 tests/reference/gen_matcher_fixtures.py [--out-dir DIR]

Per set and dtype (``<set>_<f32|f64>_<name>.npy``):

- ``iou``: an M×N match-quality matrix (ground truths × priors, torchvision's layout);
- ``match_<tag>``: ``torchvision.models.detection._utils.Matcher(high, low, allow)(iou)``
  (int64, N) for the tags of ``MATCHERS``, and ``ssd_<t>``: ``SSDMatcher(t)(iou)``.

Sets:
- ``boxes``: ``box_iou(gt, priors)`` of 9 ground truths and 300 priors (SSD-like grid);
- ``ties``: 7 × 120 values drawn from {0, 0.1, 0.3, 0.4, 0.5, 0.7 and their float32 neighbours}:
  ties within rows and columns, values equal to the thresholds (in float32, 0.7 rounds down, so
  ``float32(0.7) >= float32(0.7)`` matches), rows whose best prior is also another row's best;
- ``one_gt``: 1 × 50; ``zeros``: 4 × 30 all zero (every prior ties for every ground truth).

The float32 matrices are the float64 ones cast (``boxes``: IoU computed in each dtype).
Peer cases: detectron2 ``Matcher/test_scriptability`` and torchvision
``Matcher/collector/detectron2_matrix`` (``../shared/testdata/peer_cases``) as
``peer_<name>_iou.npy`` (float32) and ``peer_<name>_<allow|noallow>.npy``.
"""

import json
import os
import sys

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

import numpy as np

from fixture_files import REPO_ROOT, FixtureWriter, parse_args, versions

GENERATOR = "tests/reference/gen_matcher_fixtures.py"
PEER_DIR = REPO_ROOT / ".." / "shared" / "testdata" / "peer_cases"
SEED = 0x3A7C_4
# tag -> (high, low, allow_low_quality_matches)
MATCHERS = {"h07_l03_allow": (0.7, 0.3, True), "h07_l03": (0.7, 0.3, False),
            "h05_l04_allow": (0.5, 0.4, True), "h05_l05": (0.5, 0.5, False)}
SSD_THRESHOLDS = {"ssd_050": 0.5, "ssd_030": 0.3}
DTYPES = {"f32": np.float32, "f64": np.float64}


def prior_grid(rng, n):
    cx, cy = rng.uniform(0, 300, n), rng.uniform(0, 300, n)
    s = rng.choice([20.0, 40.0, 80.0, 160.0], n)
    r = np.sqrt(rng.choice([0.5, 1.0, 2.0], n))
    w, h = s * r, s / r
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def gt_boxes(rng, m):
    x1, y1 = rng.uniform(0, 250, m), rng.uniform(0, 250, m)
    w, h = rng.uniform(10, 150, m), rng.uniform(10, 150, m)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1)


def main(argv=None):
    args = parse_args(__doc__, "matcher", argv)
    import torch
    import torchvision
    from torchvision.models.detection._utils import Matcher, SSDMatcher
    from torchvision.ops import box_iou

    rng = np.random.default_rng(SEED)
    gt, priors = gt_boxes(rng, 9), prior_grid(rng, 300)
    f7 = float(np.float32(0.7))
    values = np.array([0.0, 0.1, 0.3, 0.4, 0.5, 0.7, f7, np.nextafter(np.float32(0.5), 0),
                       np.nextafter(np.float32(0.3), 1)], dtype=np.float64)
    ties = values[rng.integers(0, len(values), (7, 120))]
    ties[3] = ties[2]                      # two ground truths with the same row
    sets = {
        "boxes": lambda dt: box_iou(torch.from_numpy(gt.astype(dt)),
                                    torch.from_numpy(priors.astype(dt))).numpy(),
        "ties": lambda dt: ties.astype(dt),
        "one_gt": lambda dt: rng_one.astype(dt),
        "zeros": lambda dt: np.zeros((4, 30), dtype=dt),
    }
    rng_one = rng.uniform(0, 0.9, (1, 50))

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(torch=torch.__version__, torchvision=torchvision.__version__),
        "seed": SEED,
        "matchers": MATCHERS,
        "ssd_thresholds": SSD_THRESHOLDS,
        "naming": "<set>_<f32|f64>_<iou|match_<tag>|ssd_<t>>.npy",
        "sets": {},
        "peer": {},
    }
    for name, make in sets.items():
        entry = {}
        for tag, dtype in DTYPES.items():
            iou = make(dtype)
            arrays = {"iou": iou}
            t = torch.from_numpy(iou)
            for mtag, (high, low, allow) in MATCHERS.items():
                arrays[f"match_{mtag}"] = Matcher(high, low, allow)(t).numpy().astype(np.int64)
            for stag, thr in SSD_THRESHOLDS.items():
                arrays[stag] = SSDMatcher(thr)(t).numpy().astype(np.int64)
            writer.save_all(f"{name}_{tag}", arrays)
            entry[f"{tag}_shape"] = list(iou.shape)
            entry[f"{tag}_matched"] = {k: int((v >= 0).sum()) for k, v in arrays.items()
                                       if k != "iou"}
        manifest["sets"][name] = entry

    d2 = json.loads((PEER_DIR / "detectron2_test_matcher.json").read_text())
    case = d2["cases"][0]
    iou = np.array(case["inputs"]["match_quality_matrix"], dtype=np.float32)
    writer.save("peer_d2_iou", iou)
    writer.save("peer_d2_matches", np.array(case["expected"]["matches"], dtype=np.int64))
    writer.save("peer_d2_labels", np.array(case["expected"]["match_labels"], dtype=np.int64))
    manifest["peer"]["d2"] = {"id": case["id"], "params": case["params"],
                              "semantics": case["semantics"], "collector": False}
    tv = json.loads((PEER_DIR / "torchvision_test_models_detection_utils.json").read_text())
    for case in tv["cases"]:
        if case["id"] == "Matcher/collector/detectron2_matrix":
            iou = np.array(case["inputs"]["match_quality_matrix_gt_x_pred"], dtype=np.float32)
            writer.save("peer_tv_iou", iou)
            writer.save("peer_tv_allow", np.array(
                case["expected"]["allow_low_quality_matches=True"], dtype=np.int64))
            writer.save("peer_tv_noallow", np.array(
                case["expected"]["allow_low_quality_matches=False"], dtype=np.int64))
            manifest["peer"]["tv"] = {"id": case["id"], "params": case["params"],
                                      "collector": True}
    writer.finish(manifest)


if __name__ == "__main__":
    sys.exit(main())
