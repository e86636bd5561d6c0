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
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "soft_nms"
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


def detector_output(rng, n):
    """N integer boxes with float32 scores as a detector emits them before NMS: clusters of
    jittered proposals, background clutter, exact duplicates, zero-area boxes (including an
    identical zero-area pair) and tied scores."""
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
    boxes = np.rint(boxes)

    tied = rng.uniform(size=n) < 0.2
    scores[tied] = np.round(scores[tied], 2)
    dup = rng.choice(n, size=max(1, n // 25), replace=False)
    src = rng.choice(n, size=dup.size)
    boxes[dup] = boxes[src]
    same = rng.uniform(size=dup.size) < 0.5
    scores[dup[same]] = scores[src[same]]
    flat = rng.choice(n, size=max(2, n // 50), replace=False)
    boxes[flat[::2], 2] = boxes[flat[::2], 0]
    boxes[flat[1::2], 3] = boxes[flat[1::2], 1]
    boxes[flat[-1]] = boxes[flat[0]]
    scores[flat[-1]] = scores[flat[0]]
    return boxes.astype(np.float32), scores.astype(np.float32)


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


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import cv2

    rng = np.random.default_rng(SEED)
    sets = {f"n{n}": detector_output(rng, n) for n in (50, 300, 2000)}
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": GENERATOR,
        "versions": {
            "python": sys.version.split()[0],
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
        "naming": "<set>_boxes.npy (f32 xyxy), <set>_scores.npy (f32), "
                  "<set>_<case>_indices.npy (i64), <set>_<case>_scores.npy (f32)",
        "rect": "Rect(x1, y1, x2 - x1, y2 - y1)",
        "cases": {k: dict(zip(("method", "sigma", "nms_threshold", "score_threshold", "top_k"),
                              v)) for k, v in CASES.items()},
        "sets": {},
    }
    written = {}
    for name, (boxes, scores) in sets.items():
        entry = {
            "n": int(len(boxes)),
            "tied_scores": int(scores.size - np.unique(scores).size),
            "duplicate_boxes": int(len(boxes) - np.unique(boxes, axis=0).shape[0]),
            "zero_area_boxes": int(
                np.sum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) == 0)),
            "picks": {},
        }
        arrays = {"boxes": boxes, "scores": scores}
        for case, params in CASES.items():
            idx, upd = opencv_soft_nms(cv2, boxes, scores, *params)
            arrays[f"{case}_indices"] = idx
            arrays[f"{case}_scores"] = upd
            entry["picks"][case] = int(idx.size)
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
        print(name, entry["n"], entry["picks"])


if __name__ == "__main__":
    main()
