#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's per-class (batched) NMS.

Run with Debian's interpreter, which provides torch 1.13, torchvision 0.14 and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_batched_nms_fixtures.py [--out-dir DIR]

Every array is written with ``np.save`` as ``<set>_<f32|f64>_<name>.npy``: ``boxes`` (N×4 xyxy),
``scores`` (N), ``labels`` (N, int64) and, per IoU threshold, ``keep_<t>`` (int64, the SORTED
kept indices: torchvision's order of tied scores is not stable, so only the set is compared),
``<t>`` being the threshold times 100 as three digits. ``manifest.json`` describes the sets.

- ``n300`` (N <= 1000: torchvision's coordinate-offset path) and ``n2000`` (N > 1000: its
  per-class path): ``torchvision.ops.batched_nms``; the generator asserts that it equals the
  union of per-class ``torchvision.ops.nms``.
- ``negative``: boxes with negative coordinates, where the offset trick lets boxes of different
  classes suppress each other. The expected set is the per-class ``nms`` union (the correct
  answer); ``manifest.json`` records torchvision's wrong ``batched_nms`` set next to it.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "batched_nms"
GENERATOR = "tests/reference/gen_batched_nms_fixtures.py"
SEED = 0xBA7C4ED
DTYPES = (("f32", np.float32), ("f64", np.float64))
THRESHOLDS = (0.5, 0.7)


def clustered(rng, n, classes, width=1333.0, height=800.0, x0=0.0, y0=0.0):
    """N boxes in clusters around objects; each object has a class, and a quarter of the
    proposals around an object carry another class (so clusters mix labels). Tied scores and
    duplicate boxes are included."""
    objects = max(2, n // 10)
    w = np.exp(rng.uniform(np.log(12.0), np.log(400.0), objects))
    h = np.clip(w * np.exp(rng.normal(0.0, 0.5, objects)), 8.0, height - 1.0)
    cx = x0 + rng.uniform(0.5 * w, width - 0.5 * w)
    cy = y0 + rng.uniform(0.5 * h, height - 0.5 * h)
    obj_class = rng.integers(0, classes, objects)
    owner = rng.integers(0, objects, n)
    bx = cx[owner] + w[owner] * rng.normal(0.0, 0.12, n)
    by = cy[owner] + h[owner] * rng.normal(0.0, 0.12, n)
    bw = w[owner] * np.exp(rng.normal(0.0, 0.15, n))
    bh = h[owner] * np.exp(rng.normal(0.0, 0.15, n))
    boxes = np.stack([bx - 0.5 * bw, by - 0.5 * bh, bx + 0.5 * bw, by + 0.5 * bh], axis=1)
    labels = obj_class[owner].astype(np.int64)
    other = rng.uniform(size=n) < 0.25
    labels[other] = rng.integers(0, classes, int(other.sum()))
    scores = rng.beta(4.0, 1.5, n)
    tied = rng.uniform(size=n) < 0.2
    scores[tied] = np.round(scores[tied], 2)
    dup = rng.choice(n, size=max(1, n // 25), replace=False)
    src = rng.choice(n, size=dup.size)
    boxes[dup] = boxes[src]
    scores[dup[::2]] = scores[src[::2]]
    return boxes, scores, labels


def per_class_nms(torch, nms, b, s, labels, t):
    keep = []
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        k = nms(torch.from_numpy(b[idx]), torch.from_numpy(s[idx]), t).numpy()
        keep.append(idx[k])
    return np.sort(np.concatenate(keep)).astype(np.int64) if keep else np.zeros(0, np.int64)


def tag(t):
    return f"{int(round(t * 100)):03d}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = p.parse_args(argv)
    import torch
    import torchvision
    from torchvision.ops import batched_nms, nms

    rng = np.random.default_rng(SEED)
    sets = {
        "n300": clustered(rng, 300, 5),
        "n2000": clustered(rng, 2000, 20),
        # All coordinates negative: the offsets label * (max + 1) are small or negative.
        "negative": clustered(rng, 200, 8, width=400.0, height=300.0, x0=-450.0, y0=-350.0),
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
        "naming": "<set>_<f32|f64>_<boxes|scores|labels|keep_TTT>.npy, TTT = threshold*100; "
                  "keep_TTT holds the sorted kept indices (a set)",
        "thresholds": list(THRESHOLDS),
        "sets": {},
    }
    written = {}
    for name, (boxes, scores, labels) in sets.items():
        entry = {"n": int(len(boxes)), "classes": int(np.unique(labels).size),
                 "negative_coordinates": int(np.sum(boxes < 0)), "keep_counts": {}}
        if name == "negative":
            entry["expected"] = ("union of per-class torchvision.ops.nms; torchvision's "
                                 "batched_nms (offset trick, N <= 1000) is wrong here")
            entry["torchvision_batched_nms_differs"] = {}
        else:
            entry["expected"] = "torchvision.ops.batched_nms (== per-class nms union, asserted)"
        for dname, dtype in DTYPES:
            b = boxes.astype(dtype)
            s = scores.astype(dtype)
            arrays = {"boxes": b, "scores": s, "labels": labels}
            for t in THRESHOLDS:
                tv = np.sort(batched_nms(torch.from_numpy(b), torch.from_numpy(s),
                                         torch.from_numpy(labels), t).numpy()).astype(np.int64)
                ref = per_class_nms(torch, nms, b, s, labels, t)
                if name == "negative":
                    differs = not np.array_equal(tv, ref)
                    assert differs, "the negative set should defeat torchvision's offset trick"
                    entry["torchvision_batched_nms_differs"][f"{dname}_{tag(t)}"] = {
                        "torchvision_kept": int(tv.size), "correct_kept": int(ref.size)}
                    keep = ref
                else:
                    assert np.array_equal(tv, ref), (name, dname, t)
                    keep = tv
                arrays[f"keep_{tag(t)}"] = keep
                entry["keep_counts"][f"{dname}_{tag(t)}"] = int(keep.size)
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
    total = sum(pth.stat().st_size for pth in written)
    print(f"wrote {len(written)} arrays ({total} bytes) + manifest.json to {out_dir}")
    for name, entry in manifest["sets"].items():
        print(name, entry["n"], entry["keep_counts"])


if __name__ == "__main__":
    main()
