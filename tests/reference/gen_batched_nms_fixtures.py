#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's per-class (batched) NMS.

Run with Debian's interpreter, which provides torch 1.13, torchvision 0.14 and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_batched_nms_fixtures.py [--out-dir DIR]

Every array is written with ``np.save`` as ``<set>_<f32|f64>_<name>.npy``: ``boxes`` (N×4 xyxy),
``scores`` (N), ``labels`` (N, int64) and, per IoU threshold, ``keep_<t>`` (int64, the SORTED
kept indices: torchvision's order of tied scores is not stable, so only the set is compared),
``<t>`` being the threshold times 100 as three digits. ``manifest.json`` describes the sets.

Sets (the box generators are in ``detections.py``):

- ``n300`` (N <= 1000: torchvision's coordinate-offset path) and ``n2000`` (N > 1000: its
  per-class path): ``labelled_clusters`` with 5 and 20 classes;
  ``torchvision.ops.batched_nms``; the generator asserts that it equals the union of per-class
  ``torchvision.ops.nms``.
- ``negative``: boxes with negative coordinates, where the offset trick lets boxes of different
  classes suppress each other. The expected set is the per-class ``nms`` union (the correct
  answer); ``manifest.json`` records torchvision's wrong ``batched_nms`` set next to it.
- ``n10000`` (float32 only): ``labelled_clusters`` with 10000 boxes and 80 classes;
- ``uniform``: ``uniform_detections``, 400 boxes, 3 classes;
- ``ties``: ``heavy_ties`` applied to ``labelled_clusters`` (400 boxes, 10 classes): scores
  from five values, a third of the boxes exact copies of others, half of them with the
  source's label.

The first three sets are drawn one after the other from one stream seeded ``SEED``; the last
three each have their own stream, seeded ``[SEED, k]``.
"""

import sys

import numpy as np

from detections import heavy_ties, labelled_clusters, uniform_detections
from fixture_files import FixtureWriter, own_stream, parse_args, threshold_tag, versions

GENERATOR = "tests/reference/gen_batched_nms_fixtures.py"
SEED = 0xBA7C4ED
DTYPES = {"f32": np.float32, "f64": np.float64}
THRESHOLDS = (0.5, 0.7)


def box_sets():
    """name -> ((boxes, scores, labels), dtypes, manifest notes)."""
    both = ("f32", "f64")
    rng = np.random.default_rng(SEED)
    sets = {
        "n300": (labelled_clusters(rng, 300, 5), both, {}),
        "n2000": (labelled_clusters(rng, 2000, 20), both, {}),
        # All coordinates negative: the offsets label * (max + 1) are small or negative.
        "negative": (labelled_clusters(rng, 200, 8, width=400.0, height=300.0, x0=-450.0,
                                       y0=-350.0), both, {}),
    }

    rng, notes = own_stream(SEED, 1, "labelled_clusters")
    sets["n10000"] = (labelled_clusters(rng, 10000, 80), ("f32",), notes)
    rng, notes = own_stream(SEED, 2, "uniform_detections")
    sets["uniform"] = (uniform_detections(rng, 400, classes=3), both, notes)
    rng, notes = own_stream(SEED, 3, "heavy_ties(labelled_clusters)")
    boxes, scores, labels = labelled_clusters(rng, 400, 10)
    sets["ties"] = (heavy_ties(rng, boxes, scores, labels=labels), both, notes)
    return sets


def per_class_nms(torch, nms, b, s, labels, t):
    keep = []
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        k = nms(torch.from_numpy(b[idx]), torch.from_numpy(s[idx]), t).numpy()
        keep.append(idx[k])
    return np.sort(np.concatenate(keep)).astype(np.int64) if keep else np.zeros(0, np.int64)


def main(argv=None):
    args = parse_args(__doc__, "batched_nms", argv)
    import torch
    import torchvision
    from torchvision.ops import batched_nms, nms

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(torch=torch.__version__, torchvision=torchvision.__version__),
        "naming": "<set>_<f32|f64>_<boxes|scores|labels|keep_TTT>.npy, TTT = threshold*100; "
                  "keep_TTT holds the sorted kept indices (a set)",
        "thresholds": list(THRESHOLDS),
        "sets": {},
    }
    for name, ((boxes, scores, labels), dtypes, notes) in box_sets().items():
        entry = {"n": int(len(boxes)), "classes": int(np.unique(labels).size),
                 "negative_coordinates": int(np.sum(boxes < 0)), "keep_counts": {}}
        if notes:
            entry.update(notes, dtypes=list(dtypes))
        if name == "negative":
            entry["expected"] = ("union of per-class torchvision.ops.nms; torchvision's "
                                 "batched_nms (offset trick, N <= 1000) is wrong here")
            entry["torchvision_batched_nms_differs"] = {}
        else:
            entry["expected"] = "torchvision.ops.batched_nms (== per-class nms union, asserted)"
        for dname in dtypes:
            b = boxes.astype(DTYPES[dname])
            s = scores.astype(DTYPES[dname])
            arrays = {"boxes": b, "scores": s, "labels": labels}
            for t in THRESHOLDS:
                tv = np.sort(batched_nms(torch.from_numpy(b), torch.from_numpy(s),
                                         torch.from_numpy(labels), t).numpy()).astype(np.int64)
                ref = per_class_nms(torch, nms, b, s, labels, t)
                if name == "negative":
                    differs = not np.array_equal(tv, ref)
                    assert differs, "the negative set should defeat torchvision's offset trick"
                    entry["torchvision_batched_nms_differs"][f"{dname}_{threshold_tag(t)}"] = {
                        "torchvision_kept": int(tv.size), "correct_kept": int(ref.size)}
                    keep = ref
                else:
                    assert np.array_equal(tv, ref), (name, dname, t)
                    keep = tv
                arrays[f"keep_{threshold_tag(t)}"] = keep
                entry["keep_counts"][f"{dname}_{threshold_tag(t)}"] = int(keep.size)
            writer.save_all(f"{name}_{dname}", arrays)
        manifest["sets"][name] = entry
    writer.finish(manifest)
    for name, entry in manifest["sets"].items():
        print(name, entry["n"], entry["keep_counts"])


if __name__ == "__main__":
    sys.exit(main())
