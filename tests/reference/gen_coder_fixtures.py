#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's box coder (``box/coder.hpp``).

Run with Debian's interpreter (torch 1.13, torchvision 0.14.1, numpy):

    /usr/bin/python3 tests/reference/gen_coder_fixtures.py [--out-dir DIR]

``ATEN_CPU_CAPABILITY=default`` is set before torch is imported, so ``torch.log`` and
``torch.exp`` are the C library's ``logf``/``log``/``expf``/``exp`` (what ``std::log`` and
``std::exp`` call), not SLEEF's vectorised versions.

Per set and dtype (``<set>_<f32|f64>_<name>.npy``, float32 inputs cast from float64):

- ``anchors``, ``boxes`` (N×4 xyxy, positive sizes), ``deltas`` (N×4K);
- per weight tag ``w1111`` (1, 1, 1, 1), ``w101055`` (10, 10, 5, 5), ``w551010`` (5, 5, 10, 10):
  ``encode_<tag>`` = ``BoxCoder(w).encode_single(boxes, anchors)`` (N×4) and ``decode_<tag>`` =
  ``BoxCoder(w).decode_single(deltas, anchors)`` (N×4K, the default clamp log(1000/16)).

Sets: ``random`` (N = 128, K = 1; deltas normal with sd 1.5 (weights 1) and some large dw/dh,
so the clamp is hit), ``multi`` (N = 40, K = 3: class-specific deltas as Faster R-CNN's box
head produces them), ``scale`` (N = 60, K = 1: boxes and anchors of sizes from 1e-2 to 1e4).

Peer cases (``../shared/testdata/peer_cases``): torchvision ``BoxCoder/collector/encode_decode``
(weights 10, 10, 5, 5) and detectron2 ``Box2BoxTransform/test_reconstruction`` (weights
5, 5, 10, 10), written as ``peer_<name>_<input|expected name>.npy`` in float32 (their dtype).
"""

import json
import os
import sys

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

import numpy as np

from fixture_files import REPO_ROOT, FixtureWriter, parse_args, versions

GENERATOR = "tests/reference/gen_coder_fixtures.py"
PEER_DIR = REPO_ROOT / ".." / "shared" / "testdata" / "peer_cases"
SEED = 0xC0DE_7
WEIGHTS = {"w1111": (1.0, 1.0, 1.0, 1.0), "w101055": (10.0, 10.0, 5.0, 5.0),
           "w551010": (5.0, 5.0, 10.0, 10.0)}
DTYPES = {"f32": np.float32, "f64": np.float64}


def random_boxes(rng, n, lo=1.0, hi=300.0, image=800.0):
    w = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    h = w * np.exp(rng.normal(0.0, 0.6, n))
    x1 = rng.uniform(-50.0, image, n)
    y1 = rng.uniform(-50.0, image, n)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1)


def jitter(rng, anchors, scale):
    """Ground-truth-like boxes near the anchors."""
    w = anchors[:, 2] - anchors[:, 0]
    h = anchors[:, 3] - anchors[:, 1]
    cx = anchors[:, 0] + 0.5 * w + rng.normal(0, scale, len(w)) * w
    cy = anchors[:, 1] + 0.5 * h + rng.normal(0, scale, len(w)) * h
    w2 = w * np.exp(rng.normal(0, scale * 2, len(w)))
    h2 = h * np.exp(rng.normal(0, scale * 2, len(w)))
    return np.stack([cx - 0.5 * w2, cy - 0.5 * h2, cx + 0.5 * w2, cy + 0.5 * h2], axis=1)


def deltas(rng, n, k):
    d = rng.normal(0.0, 1.5, (n, 4 * k))
    big = rng.random((n, 4 * k)) < 0.08
    d[big] = rng.uniform(-60.0, 60.0, int(big.sum()))
    return d


def sets():
    rng = np.random.default_rng(SEED)
    out = {}
    a = random_boxes(rng, 128)
    out["random"] = (a, jitter(rng, a, 0.3), deltas(rng, 128, 1))
    a = random_boxes(rng, 40)
    out["multi"] = (a, jitter(rng, a, 0.2), deltas(rng, 40, 3))
    a = random_boxes(rng, 60, lo=1e-2, hi=1e4, image=5e3)
    out["scale"] = (a, jitter(rng, a, 0.5), deltas(rng, 60, 1))
    return out


def main(argv=None):
    args = parse_args(__doc__, "coder", argv)
    import torch
    import torchvision
    from torchvision.models.detection._utils import BoxCoder

    writer = FixtureWriter(args.out_dir)
    manifest = {
        "generator": GENERATOR,
        "versions": versions(torch=torch.__version__, torchvision=torchvision.__version__),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
        "seed": SEED,
        "weights": WEIGHTS,
        "naming": "<set>_<f32|f64>_<anchors|boxes|deltas|encode_<w>|decode_<w>>.npy",
        "sets": {},
        "peer": {},
    }
    for name, (anchors, boxes, dl) in sets().items():
        entry = {"n": int(len(anchors)), "k": int(dl.shape[1] // 4)}
        for tag, dtype in DTYPES.items():
            a, b, d = (x.astype(dtype) for x in (anchors, boxes, dl))
            assert np.all(a[:, 2] > a[:, 0]) and np.all(a[:, 3] > a[:, 1])
            assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])
            arrays = {"anchors": a, "boxes": b, "deltas": d}
            for wtag, w in WEIGHTS.items():
                coder = BoxCoder(w)
                arrays[f"encode_{wtag}"] = coder.encode_single(
                    torch.from_numpy(b), torch.from_numpy(a)).numpy()
                arrays[f"decode_{wtag}"] = coder.decode_single(
                    torch.from_numpy(d), torch.from_numpy(a)).numpy()
                clip = np.log(1000.0 / 16)
                entry[f"{tag}_{wtag}_clamped"] = int(
                    (d[:, 2::4] / w[2] > clip).sum() + (d[:, 3::4] / w[3] > clip).sum())
            writer.save_all(f"{name}_{tag}", arrays)
        manifest["sets"][name] = entry

    tv = json.loads((PEER_DIR / "torchvision_test_models_detection_utils.json").read_text())
    for case in tv["cases"]:
        if case["id"] == "BoxCoder/collector/encode_decode":
            f = lambda x: np.array(x, dtype=np.float32)
            writer.save_all("peer_tv", {
                "anchors": f(case["inputs"]["anchors"]), "boxes": f(case["inputs"]["gt_boxes"]),
                "deltas": f(case["inputs"]["deltas"]),
                "encode": f(case["expected"]["encode(gt, anchors)"]),
                "decode": f(case["expected"]["decode(deltas, anchors)"])})
            manifest["peer"]["tv"] = {"id": case["id"], "params": case["params"],
                                      "tolerance": case["tolerance"], "collector": True}
    d2 = json.loads((PEER_DIR / "detectron2_test_box2box_transform.json").read_text())
    for case in d2["cases"]:
        if case["id"] == "Box2BoxTransform/test_reconstruction":
            f = lambda x: np.array(x, dtype=np.float32)
            writer.save_all("peer_d2", {
                "anchors": f(case["inputs"]["src_boxes"]), "boxes": f(case["inputs"]["dst_boxes"]),
                "encode": f(case["expected"]["deltas"]),
                "decode": f(case["expected"]["apply_deltas(deltas, src)"])})
            manifest["peer"]["d2"] = {"id": case["id"], "params": case["params"],
                                      "property": case["property"], "collector": False}
    writer.finish(manifest)


if __name__ == "__main__":
    sys.exit(main())
