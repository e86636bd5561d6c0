#!/usr/bin/python3
"""Generate the OpenCV reference fixtures for detseg's OpenCV-compatible NMS (``nms_opencv``).

Run with Debian's interpreter, which provides OpenCV 4.6 (python3-opencv) and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_nms_opencv_fixtures.py [--out-dir DIR]

``cv2.dnn.NMSBoxes`` takes ``Rect2d`` boxes (x, y, w, h) in double; box (x1, y1, x2, y2) is
passed as Rect2d(x1, y1, x2 - x1, y2 - y1) with the subtraction in float64. Every box set is
run twice: with its float64 coordinates and with the coordinates rounded to float32 (converted
back to float64 before the subtraction, which is what detseg does with float32 boxes). Files
(``np.save``, C order, little-endian): ``<set>_boxes64.npy`` (N×4 xyxy, float64),
``<set>_boxes32.npy`` (N×4 xyxy, float32), ``<set>_scores.npy`` (N, float32) and, per case,
``<set>_<case>_keep64.npy`` / ``<set>_<case>_keep32.npy`` (int64, the kept indices).
``manifest.json`` lists the sets and the parameters of each case. After writing, the files are
loaded back and compared bit for bit.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "nms_opencv"
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


def detector_output(rng, n):
    """N float boxes with float32 scores: clusters of jittered proposals, background clutter,
    exact duplicates, zero-area boxes (including identical zero-area pairs) and tied scores."""
    width, height = 1333.0, 800.0
    objects = max(2, n // 12)
    w = np.clip(np.exp(rng.uniform(np.log(12.0), np.log(500.0), objects)), 8.0, width - 1.0)
    h = np.clip(w * np.exp(rng.normal(0.0, 0.5, objects)), 8.0, height - 1.0)
    x1 = rng.uniform(0.0, width - w)
    y1 = rng.uniform(0.0, height - h)
    quality = rng.uniform(0.3, 1.0, objects)

    boxes = np.empty((n, 4))
    scores = np.empty(n)
    clutter = rng.uniform(size=n) < 0.15
    owner = rng.integers(0, objects, n)
    for i in range(n):
        if clutter[i]:
            bw, bh = np.exp(rng.uniform(np.log(4.0), np.log(300.0), 2))
            bx, by = rng.uniform(0.0, width - bw), rng.uniform(0.0, height - bh)
            boxes[i] = [bx, by, bx + bw, by + bh]
            scores[i] = rng.beta(1.0, 8.0)
            continue
        k = owner[i]
        cx = x1[k] + 0.5 * w[k] + w[k] * rng.normal(0.0, 0.12)
        cy = y1[k] + 0.5 * h[k] + h[k] * rng.normal(0.0, 0.12)
        bw = w[k] * np.exp(rng.normal(0.0, 0.15))
        bh = h[k] * np.exp(rng.normal(0.0, 0.15))
        boxes[i] = [cx - 0.5 * bw, cy - 0.5 * bh, cx + 0.5 * bw, cy + 0.5 * bh]
        scores[i] = np.clip(quality[k] * rng.beta(4.0, 1.5), 0.0, 1.0)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0.0, width)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0.0, height)

    tied = rng.uniform(size=n) < 0.2
    scores[tied] = np.round(scores[tied], 2)
    dup = rng.choice(n, size=max(1, n // 25), replace=False)
    src = rng.choice(n, size=dup.size)
    boxes[dup] = boxes[src]
    same = rng.uniform(size=dup.size) < 0.5
    scores[dup[same]] = scores[src[same]]
    flat = rng.choice(n, size=max(4, n // 25), replace=False)
    boxes[flat[::2], 2] = boxes[flat[::2], 0]
    boxes[flat[1::2], 3] = boxes[flat[1::2], 1]
    boxes[flat[-1]] = boxes[flat[0]]
    scores[flat[-1]] = scores[flat[0]]
    boxes[flat[-2]] = boxes[flat[1]]
    return boxes, scores.astype(np.float32)


def opencv_nms(cv2, boxes, scores, score_threshold, nms_threshold, eta, top_k):
    b = boxes.astype(np.float64)
    rects = [[float(r[0]), float(r[1]), float(r[2] - r[0]), float(r[3] - r[1])] for r in b]
    keep = cv2.dnn.NMSBoxes(rects, scores.tolist(), score_threshold, nms_threshold, eta=eta,
                            top_k=top_k)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import cv2

    rng = np.random.default_rng(SEED)
    sets = {f"n{n}": detector_output(rng, n) for n in (50, 500, 3000)}
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": GENERATOR,
        "versions": {
            "python": sys.version.split()[0],
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
        "naming": "<set>_boxes64.npy (f64 xyxy), <set>_boxes32.npy (f32 xyxy), "
                  "<set>_scores.npy (f32), <set>_<case>_keep64.npy / _keep32.npy (i64)",
        "rect": "Rect2d(x1, y1, x2 - x1, y2 - y1) in float64",
        "cases": {k: dict(zip(("score_threshold", "nms_threshold", "eta", "top_k"), v))
                  for k, v in CASES.items()},
        "sets": {},
    }
    written = {}
    for name, (boxes64, scores) in sets.items():
        boxes32 = boxes64.astype(np.float32)
        entry = {
            "n": int(len(boxes64)),
            "tied_scores": int(scores.size - np.unique(scores).size),
            "duplicate_boxes": int(len(boxes64) - np.unique(boxes64, axis=0).shape[0]),
            "zero_area_boxes": int(np.sum(
                (boxes64[:, 2] - boxes64[:, 0]) * (boxes64[:, 3] - boxes64[:, 1]) == 0)),
            "kept64": {},
            "kept32": {},
        }
        arrays = {"boxes64": boxes64, "boxes32": boxes32, "scores": scores}
        for case, params in CASES.items():
            for tag, b in (("64", boxes64), ("32", boxes32)):
                keep = opencv_nms(cv2, b, scores, *params)
                arrays[f"{case}_keep{tag}"] = keep
                entry["kept" + tag][case] = int(keep.size)
        for key, arr in arrays.items():
            path = out_dir / f"{name}_{key}.npy"
            np.save(path, np.ascontiguousarray(arr))
            written[path] = arr
        manifest["sets"][name] = entry
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    for path, arr in written.items():
        back = np.load(path)
        assert back.dtype == arr.dtype and back.shape == arr.shape, path
        assert back.tobytes() == arr.tobytes(), path
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} arrays ({total} bytes) + manifest.json to {out_dir}")
    for name, entry in manifest["sets"].items():
        print(name, entry["n"], entry["kept64"], entry["kept32"])


if __name__ == "__main__":
    main()
