#!/usr/bin/python3
"""Generate the OpenCV reference fixtures for detseg's soft non-maximum suppression.

Run with Debian's interpreter, which provides OpenCV 4.6 (python3-opencv) and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_soft_nms_fixtures.py [--out-dir DIR]

``cv2.dnn.softNMSBoxes`` takes integer Rects only, so the boxes are integer-valued: box
(x1, y1, x2, y2) is passed as Rect(x1, y1, x2 - x1, y2 - y1). Every array is written with
``np.save`` (C order, little-endian): ``<set>_boxes.npy`` (N×4 xyxy, float32, integer-valued),
``<set>_scores.npy`` (N, float32) and, per case, ``<set>_<case>_indices.npy`` (int64, the
picks) and ``<set>_<case>_scores.npy`` (float32, the decayed scores). ``manifest.json`` lists
the sets and the parameters of each case. After writing, the files are loaded back and compared
bit for bit.

Sets (the box generators are in ``detections.py``, all with integer coordinates):

- ``n50``, ``n300``, ``n2000``: ``detector_output``, drawn one after the other from one stream
  seeded ``SEED``;
- ``n5000``: the same with 5000 boxes (softNMSBoxes is O(N²));
- ``uniform``: ``uniform_detections``, 400 boxes;
- ``ties``: ``heavy_ties`` applied to a clustered set of 400 boxes: scores from five values,
  a third of the boxes exact copies of others.

The last three each have their own stream, seeded ``[SEED, k]``.
"""

import sys

import numpy as np

from detections import census, detector_output, heavy_ties, uniform_detections
from fixture_files import FixtureWriter, own_stream, parse_args, versions

GENERATOR = "tests/reference/gen_soft_nms_fixtures.py"
SEED = 0x50F7_4E


# name: (method, sigma, nms_threshold, score_threshold, top_k); keep in sync with
# tests/detect/soft_nms.test.cpp.
CASES = {
    "gauss050": ("gaussian", 0.5, 0.3, 0.001, 0),
    "gauss025": ("gaussian", 0.25, 0.3, 0.001, 0),
    "gauss050_s010_k20": ("gaussian", 0.5, 0.3, 0.1, 20),
    "linear030": ("linear", 0.5, 0.3, 0.001, 0),
    "linear050_s005": ("linear", 0.5, 0.5, 0.05, 0),
    "linear000_k10": ("linear", 0.5, 0.0, 0.001, 10),
}


def box_sets():
    """name -> ((boxes, scores) in float64, integer-valued; manifest notes)."""
    rng = np.random.default_rng(SEED)
    sets = {f"n{n}": (detector_output(rng, n, integer=True), {}) for n in (50, 300, 2000)}

    rng, notes = own_stream(SEED, 1, "detector_output")
    sets["n5000"] = (detector_output(rng, 5000, integer=True), notes)
    rng, notes = own_stream(SEED, 2, "uniform_detections")
    sets["uniform"] = (uniform_detections(rng, 400, integer=True), notes)
    rng, notes = own_stream(SEED, 3, "heavy_ties(detector_output)")
    sets["ties"] = (heavy_ties(rng, *detector_output(rng, 400, integer=True)), notes)
    return sets


def opencv_soft_nms(cv2, boxes, scores, method, sigma, nms_threshold, score_threshold, top_k):
    rects = [(int(b[0]), int(b[1]), int(b[2] - b[0]), int(b[3] - b[1])) for b in boxes]
    m = {
        "linear": cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_LINEAR,
        "gaussian": cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_GAUSSIAN,
    }[method]
    updated, indices = cv2.dnn.softNMSBoxes(rects, scores, score_threshold, nms_threshold,
                                            top_k=top_k, sigma=sigma, method=m)
    return (np.asarray(indices, dtype=np.int64).reshape(-1),
            np.asarray(updated, dtype=np.float32).reshape(-1))


def main(argv=None):
    args = parse_args(__doc__, "soft_nms", argv)
    import cv2

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(opencv=cv2.__version__),
        "naming": "<set>_boxes.npy (f32 xyxy), <set>_scores.npy (f32), "
                  "<set>_<case>_indices.npy (i64), <set>_<case>_scores.npy (f32)",
        "rect": "Rect(x1, y1, x2 - x1, y2 - y1)",
        "cases": {k: dict(zip(("method", "sigma", "nms_threshold", "score_threshold", "top_k"),
                              v)) for k, v in CASES.items()},
        "sets": {},
    }
    for name, ((boxes, scores), notes) in box_sets().items():
        boxes, scores = boxes.astype(np.float32), scores.astype(np.float32)
        entry = {"n": int(len(boxes)), **census(boxes, scores), **notes, "picks": {}}
        arrays = {"boxes": boxes, "scores": scores}
        for case, params in CASES.items():
            idx, upd = opencv_soft_nms(cv2, boxes, scores, *params)
            arrays[f"{case}_indices"] = idx
            arrays[f"{case}_scores"] = upd
            entry["picks"][case] = int(idx.size)
        writer.save_all(name, arrays)
        manifest["sets"][name] = entry
    writer.finish(manifest)
    for name, entry in manifest["sets"].items():
        print(name, entry["n"], entry["picks"])


if __name__ == "__main__":
    sys.exit(main())
