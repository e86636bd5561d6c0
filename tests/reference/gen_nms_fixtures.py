#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's non-maximum suppression.

Run with Debian's interpreter, which provides torch 1.13, torchvision 0.14 and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_nms_fixtures.py [--out-dir DIR]

Every array is written with ``np.save`` (C order, little-endian) as
``<set>_<f32|f64>_<name>.npy``: ``boxes`` (N×4 xyxy), ``scores`` (N) and, per IoU threshold,
``keep_<t>`` (int64, ``torchvision.ops.nms(boxes, scores, t)``) where ``<t>`` is the threshold
times 100 as three digits (``keep_050`` for 0.5). ``manifest.json`` describes the sets.
The float32 inputs are cast from the float64 ones; the largest set is stored in float32 only.
After writing, the files are loaded back and compared bit for bit.

Sets (the box generators are in ``detections.py``):

- ``n50``, ``n500``, ``n3000``: ``detector_output`` (clustered, with tied scores, duplicate and
  zero-area boxes), drawn one after the other from one stream seeded ``SEED``;
- ``exact``: pairs of boxes with IoU exactly 0.25, 0.5 or 0.75 (thresholds 0.25 / 0.5 / 0.75);
- ``n10000`` (float32 only): ``detector_output`` with 10000 boxes;
- ``uniform``: ``uniform_detections``, 400 boxes;
- ``ties``: ``heavy_ties`` applied to a clustered set of 400 boxes: scores from five values,
  a third of the boxes exact copies of others.

The last three each have their own stream, seeded ``[SEED, k]``.
"""

import sys

import numpy as np

from detections import census, detector_output, heavy_ties, uniform_detections
from fixture_files import FixtureWriter, own_stream, parse_args, threshold_tag, versions

GENERATOR = "tests/reference/gen_nms_fixtures.py"
SEED = 0x0D37_45
DTYPES = {"f32": np.float32, "f64": np.float64}
CLUSTERED_THRESHOLDS = (0.3, 0.5, 0.7)


def exact_threshold_set():
    """Pairs of boxes whose IoU is exactly 0.25, 0.5 or 0.75 in float32 and float64, the first
    of each pair scoring higher, so a strict comparison keeps both boxes."""
    boxes, scores = [], []
    for k, (a, b) in enumerate([
        ([0, 0, 4, 1], [0, 0, 2, 1]),      # 0.5
        ([0, 0, 4, 1], [0, 0, 1, 1]),      # 0.25
        ([0, 0, 4, 1], [1, 0, 4, 1]),      # 0.75
        ([0, 0, 8, 8], [0, 0, 8, 4]),      # 0.5
        ([0, 0, 16, 2], [4, 0, 16, 2]),    # 0.75
        ([0, 0, 2, 2], [1, 0, 2, 2]),      # 0.5
        ([0, 0, 2, 2], [0, 0, 1, 1]),      # 0.25
    ]):
        dx = 100.0 * k
        boxes += [[a[0] + dx, a[1], a[2] + dx, a[3]], [b[0] + dx, b[1], b[2] + dx, b[3]]]
        scores += [0.9 - 0.01 * k, 0.5 - 0.01 * k]
    return np.array(boxes, dtype=np.float64), np.array(scores, dtype=np.float64)


def box_sets():
    """name -> ((boxes, scores) in float64, thresholds, dtypes, manifest notes)."""
    rng = np.random.default_rng(SEED)
    sets = {f"n{n}": (detector_output(rng, n), CLUSTERED_THRESHOLDS, ("f32", "f64"), {})
            for n in (50, 500, 3000)}
    sets["exact"] = (exact_threshold_set(), (0.25, 0.5, 0.75), ("f32", "f64"), {})

    rng, notes = own_stream(SEED, 1, "detector_output")
    sets["n10000"] = (detector_output(rng, 10000), CLUSTERED_THRESHOLDS, ("f32",), notes)
    rng, notes = own_stream(SEED, 2, "uniform_detections")
    sets["uniform"] = (uniform_detections(rng, 400), CLUSTERED_THRESHOLDS, ("f32", "f64"), notes)
    rng, notes = own_stream(SEED, 3, "heavy_ties(detector_output)")
    sets["ties"] = (heavy_ties(rng, *detector_output(rng, 400)), CLUSTERED_THRESHOLDS,
                    ("f32", "f64"), notes)
    return sets


def main(argv=None):
    args = parse_args(__doc__, "nms", argv)
    import torch
    import torchvision
    from torchvision.ops import nms

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(torch=torch.__version__, torchvision=torchvision.__version__),
        "naming": "<set>_<f32|f64>_<boxes|scores|keep_TTT>.npy, TTT = threshold*100",
        "sets": {},
    }
    for name, ((boxes, scores), thresholds, dtypes, notes) in box_sets().items():
        entry = {"n": int(len(boxes)), "thresholds": list(thresholds), "keep_counts": {}}
        if notes:
            entry.update(notes, dtypes=list(dtypes))
        for dname in dtypes:
            b = boxes.astype(DTYPES[dname])
            s = scores.astype(DTYPES[dname])
            arrays = {"boxes": b, "scores": s}
            for t in thresholds:
                keep = nms(torch.from_numpy(b), torch.from_numpy(s), t).numpy().astype(np.int64)
                arrays[f"keep_{threshold_tag(t)}"] = keep
                entry["keep_counts"][f"{dname}_{threshold_tag(t)}"] = int(keep.size)
            entry.update({f"{dname}_{k}": v for k, v in census(b, s).items()})
            writer.save_all(f"{name}_{dname}", arrays)
        manifest["sets"][name] = entry
    writer.finish(manifest)
    for name, entry in manifest["sets"].items():
        print(name, entry["n"], entry["keep_counts"])


if __name__ == "__main__":
    sys.exit(main())
