#!/usr/bin/python3
"""Generate the OpenCV reference fixtures for detseg's OpenCV-compatible NMS (``nms_opencv``).

Run with Debian's interpreter, which provides OpenCV 4.6 (python3-opencv) and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_nms_opencv_fixtures.py [--out-dir DIR]

``cv2.dnn.NMSBoxes`` takes ``Rect2d`` boxes (x, y, w, h) in double; box (x1, y1, x2, y2) is
passed as Rect2d(x1, y1, x2 - x1, y2 - y1) with the subtraction in float64. Every box set is
run twice: with its float64 coordinates and with the coordinates rounded to float32 (converted
back to float64 before the subtraction, which is what detseg does with float32 boxes); the
largest set only with float32 coordinates. Files (``np.save``, C order, little-endian):
``<set>_boxes64.npy`` (N×4 xyxy, float64), ``<set>_boxes32.npy`` (N×4 xyxy, float32),
``<set>_scores.npy`` (N, float32) and, per case, ``<set>_<case>_keep64.npy`` /
``<set>_<case>_keep32.npy`` (int64, the kept indices). ``manifest.json`` lists the sets and the
parameters of each case. After writing, the files are loaded back and compared bit for bit.

Sets (the box generators are in ``detections.py``):

- ``n50``, ``n500``, ``n3000``: ``detector_output`` with n // 25 zero-area boxes (at least 4)
  and two identical zero-area pairs, drawn one after the other from one stream seeded ``SEED``;
- ``n10000`` (float32 only): the same with 10000 boxes;
- ``uniform``: ``uniform_detections``, 400 boxes;
- ``ties``: ``heavy_ties`` applied to a clustered set of 400 boxes: scores from five values
  (0.3, the ``s030`` threshold, among them), a third of the boxes exact copies of others.

The last three each have their own stream, seeded ``[SEED, k]``.
"""

import sys

import numpy as np

from detections import census, detector_output, heavy_ties, uniform_detections
from fixture_files import FixtureWriter, own_stream, parse_args, versions

GENERATOR = "tests/reference/gen_nms_opencv_fixtures.py"
SEED = 0x0C_4E_75

# name: (score_threshold, nms_threshold, eta, top_k); keep in sync with
# tests/detect/nms_opencv.test.cpp.
CASES = {
    "default": (0.0, 0.5, 1.0, 0),
    "s030": (0.3, 0.5, 1.0, 0),
    "k20": (0.0, 0.5, 1.0, 20),
    "eta090_t070": (0.0, 0.7, 0.9, 0),
    "t000": (0.0, 0.0, 1.0, 0),
}


def clustered(rng, n):
    """``detector_output`` with this folder's zero-area boxes: n // 25 (at least 4), two
    identical zero-area pairs."""
    return detector_output(rng, n, zero_area_every=25, zero_area_min=4, zero_area_pairs=2)


def box_sets():
    """name -> ((boxes, scores) in float64, box dtypes ("64", "32"), manifest notes)."""
    both = ("64", "32")
    rng = np.random.default_rng(SEED)
    sets = {f"n{n}": (clustered(rng, n), both, {}) for n in (50, 500, 3000)}

    rng, notes = own_stream(SEED, 1, "detector_output")
    sets["n10000"] = (clustered(rng, 10000), ("32",), notes)
    rng, notes = own_stream(SEED, 2, "uniform_detections")
    sets["uniform"] = (uniform_detections(rng, 400), both, notes)
    rng, notes = own_stream(SEED, 3, "heavy_ties(detector_output)")
    sets["ties"] = (heavy_ties(rng, *clustered(rng, 400)), both, notes)
    return sets


def opencv_nms(cv2, boxes, scores, score_threshold, nms_threshold, eta, top_k):
    b = boxes.astype(np.float64)
    rects = [[float(r[0]), float(r[1]), float(r[2] - r[0]), float(r[3] - r[1])] for r in b]
    keep = cv2.dnn.NMSBoxes(rects, scores.tolist(), score_threshold, nms_threshold, eta=eta,
                            top_k=top_k)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def main(argv=None):
    args = parse_args(__doc__, "nms_opencv", argv)
    import cv2

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(opencv=cv2.__version__),
        "naming": "<set>_boxes64.npy (f64 xyxy), <set>_boxes32.npy (f32 xyxy), "
                  "<set>_scores.npy (f32), <set>_<case>_keep64.npy / _keep32.npy (i64)",
        "rect": "Rect2d(x1, y1, x2 - x1, y2 - y1) in float64",
        "cases": {k: dict(zip(("score_threshold", "nms_threshold", "eta", "top_k"), v))
                  for k, v in CASES.items()},
        "sets": {},
    }
    for name, ((boxes64, scores), dtypes, notes) in box_sets().items():
        scores = scores.astype(np.float32)
        by_tag = {"64": boxes64, "32": boxes64.astype(np.float32)}
        entry = {"n": int(len(boxes64)), **census(boxes64, scores)}
        if notes:
            entry.update(notes, dtypes=[f"f{tag}" for tag in dtypes])
        entry.update({f"kept{tag}": {} for tag in dtypes})
        arrays = {f"boxes{tag}": by_tag[tag] for tag in dtypes}
        arrays["scores"] = scores
        for case, params in CASES.items():
            for tag in dtypes:
                keep = opencv_nms(cv2, by_tag[tag], scores, *params)
                arrays[f"{case}_keep{tag}"] = keep
                entry["kept" + tag][case] = int(keep.size)
        writer.save_all(name, arrays)
        manifest["sets"][name] = entry
    writer.finish(manifest)
    for name, entry in manifest["sets"].items():
        print(name, entry["n"], *(entry[k] for k in ("kept64", "kept32") if k in entry))


if __name__ == "__main__":
    sys.exit(main())
