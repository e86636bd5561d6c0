#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's non-maximum suppression.

Run with Debian's interpreter, which provides torch 1.13, torchvision 0.14 and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_nms_fixtures.py [--out-dir DIR]

Every array is written with ``np.save`` (C order, little-endian) as
``<set>_<f32|f64>_<name>.npy``: ``boxes`` (N×4 xyxy), ``scores`` (N) and, per IoU threshold,
``keep_<t>`` (int64, ``torchvision.ops.nms(boxes, scores, t)``) where ``<t>`` is the threshold
times 100 as three digits (``keep_050`` for 0.5). ``manifest.json`` describes the sets.
The float32 inputs are cast from the float64 ones. After writing, the files are loaded back and
compared bit for bit.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "nms"
GENERATOR = "tests/reference/gen_nms_fixtures.py"
SEED = 0x0D37_45
DTYPES = (("f32", np.float32), ("f64", np.float64))


def detector_output(rng, n):
    """N scored boxes as a detector emits them before NMS: clusters of jittered proposals
    around objects, background clutter, exact duplicates, zero-area boxes and tied scores."""
    width, height = 1333.0, 800.0
    objects = max(2, n // 12)
    w = np.exp(rng.uniform(np.log(12.0), np.log(500.0), objects))
    h = w * np.exp(rng.normal(0.0, 0.5, objects))
    h = np.clip(h, 8.0, height - 1.0)
    w = np.clip(w, 8.0, width - 1.0)
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

    # Tied scores: a fifth of the scores rounded to two decimals.
    tied = rng.uniform(size=n) < 0.2
    scores[tied] = np.round(scores[tied], 2)
    # Exact duplicate boxes, some with the same score.
    dup = rng.choice(n, size=max(1, n // 25), replace=False)
    src = rng.choice(n, size=dup.size)
    boxes[dup] = boxes[src]
    same = rng.uniform(size=dup.size) < 0.5
    scores[dup[same]] = scores[src[same]]
    # Zero-area boxes (a line or a point), and a pair of identical zero-area boxes.
    flat = rng.choice(n, size=max(2, n // 50), replace=False)
    boxes[flat[::2], 2] = boxes[flat[::2], 0]
    boxes[flat[1::2], 3] = boxes[flat[1::2], 1]
    boxes[flat[-1]] = boxes[flat[0]]
    scores[flat[-1]] = scores[flat[0]]
    return boxes, scores


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


def tag(t):
    return f"{int(round(t * 100)):03d}"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    import torchvision
    from torchvision.ops import nms

    rng = np.random.default_rng(SEED)
    sets = {
        "n50": (detector_output(rng, 50), (0.3, 0.5, 0.7)),
        "n500": (detector_output(rng, 500), (0.3, 0.5, 0.7)),
        "n3000": (detector_output(rng, 3000), (0.3, 0.5, 0.7)),
        "exact": (exact_threshold_set(), (0.25, 0.5, 0.75)),
    }
    out_dir = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "generator": GENERATOR,
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": np.__version__,
        },
        "naming": "<set>_<f32|f64>_<boxes|scores|keep_TTT>.npy, TTT = threshold*100",
        "sets": {},
    }
    written = {}
    for name, ((boxes, scores), thresholds) in sets.items():
        entry = {"n": int(len(boxes)), "thresholds": list(thresholds), "keep_counts": {}}
        for dname, dtype in DTYPES:
            b = boxes.astype(dtype)
            s = scores.astype(dtype)
            arrays = {"boxes": b, "scores": s}
            for t in thresholds:
                keep = nms(torch.from_numpy(b), torch.from_numpy(s), t).numpy().astype(np.int64)
                arrays[f"keep_{tag(t)}"] = keep
                entry["keep_counts"][f"{dname}_{tag(t)}"] = int(keep.size)
            entry[f"{dname}_tied_scores"] = int(s.size - np.unique(s).size)
            entry[f"{dname}_duplicate_boxes"] = int(len(b) - np.unique(b, axis=0).shape[0])
            entry[f"{dname}_zero_area_boxes"] = int(
                np.sum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) == 0))
            for key, arr in arrays.items():
                path = out_dir / f"{name}_{dname}_{key}.npy"
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
        print(name, entry["n"], entry["keep_counts"])


if __name__ == "__main__":
    main()
