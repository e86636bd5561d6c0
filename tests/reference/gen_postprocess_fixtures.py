#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's fused RetinaNet post-processing.

Run with Debian's interpreter (torch 1.13, torchvision 0.14, numpy):

    /usr/bin/python3 tests/reference/gen_postprocess_fixtures.py [--out-dir DIR]

The head outputs are not stored: they come from a counter-based generator (splitmix64) that
``tests/detect/postprocess.test.cpp`` and ``benchmarks/compare/compare_postprocess.py``
reproduce bit for bit (``head_outputs`` below; only exact operations and one rounding to
float32 per value). Per case the script builds the anchors with torchvision's
``AnchorGenerator``, calls ``RetinaNet.postprocess_detections`` on a bare ``RetinaNet`` with the
case's parameters and saves, as ``<case>_<name>.npy``:

- ``config`` (float64): seed, height, width, classes, score_thresh, topk_candidates, nms_thresh,
  detections_per_img, the four coder weights, logit offset, delta scale;
- ``grids`` (int64, L×2): the feature-map sizes (h, w); ``sizes`` (float64, L×S) the anchor
  sizes per level (aspect ratios 0.5, 1, 2 everywhere);
- ``boxes`` (K×4 float32), ``scores`` (K float32), ``labels`` (K int64): torchvision's result.

``torch.topk`` and torchvision's final sort order equal scores arbitrarily, so a case's seed is
the first one from its base seed whose selected candidates have no equal scores (and no tie at a
level's top-k boundary); the seed used is in ``config``. torch runs with
``ATEN_CPU_CAPABILITY=default`` (scalar ``expf``, as the C library's), set before importing it.
"""

import os

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from fixture_files import FixtureWriter, parse_args, versions  # noqa: E402

GENERATOR = "tests/reference/gen_postprocess_fixtures.py"
RETINANET_SIZES = [[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406],
                   [512, 645, 812]]
RATIOS = [0.5, 1.0, 2.0]

# name: (base seed, (height, width), grids, sizes, classes, params, logit offset, delta scale)
DEFAULT = {"score_thresh": 0.05, "topk_candidates": 1000, "nms_thresh": 0.5,
           "detections_per_img": 300, "weights": (1.0, 1.0, 1.0, 1.0)}
CASES = {
    "s320": (1001, (320, 320), [(40, 40), (20, 20), (10, 10), (5, 5), (3, 3)], RETINANET_SIZES,
             91, DEFAULT, 15.0, 0.5),
    "s800": (2002, (800, 800), [(100, 100), (50, 50), (25, 25), (13, 13), (7, 7)],
             RETINANET_SIZES, 91, DEFAULT, 15.0, 0.5),
    "params": (3003, (200, 256), [(25, 32), (13, 16), (7, 8), (4, 4), (2, 2)], RETINANET_SIZES,
               20, {"score_thresh": 0.2, "topk_candidates": 50, "nms_thresh": 0.3,
                    "detections_per_img": 40, "weights": (10.0, 10.0, 5.0, 5.0)}, 12.0, 8.0),
    "single": (4004, (64, 48), [(6, 8)], [[16, 24]], 4,
               {"score_thresh": 0.05, "topk_candidates": 20, "nms_thresh": 0.5,
                "detections_per_img": 10, "weights": (1.0, 1.0, 1.0, 1.0)}, 9.0, 2.0),
}

MASK = (1 << 64) - 1
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix(seed, start, count):
    """splitmix64 outputs number start..start+count-1 of the stream keyed by `seed`."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed & MASK) + (np.arange(start, start + count, dtype=np.uint64)
                                      + np.uint64(1)) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed, start, count):
    """Doubles k / 2^53 from the top 53 bits (exact)."""
    return (splitmix(seed, start, count) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def head_outputs(seed, n, classes, offset, delta_scale, chunk=1 << 20):
    """n×classes float32 logits and n×4 float32 deltas.

    Logit e (row-major) = float32(4·(((u0 + u1) + u2) + u3) - offset) with u_j = uniform number
    4e + j (an Irwin-Hall(4) bell: mean 8 - offset, sd 2.3, range [-offset, 16 - offset));
    delta e = float32(delta_scale · (u - 0.5)) with u = uniform number 4·n·classes + e.
    """
    total = n * classes
    logits = np.empty(total, dtype=np.float32)
    for s in range(0, total, chunk):
        m = min(chunk, total - s)
        u = uniform(seed, 4 * s, 4 * m).reshape(m, 4)
        acc = ((u[:, 0] + u[:, 1]) + u[:, 2]) + u[:, 3]
        logits[s:s + m] = (acc * 4.0 - offset).astype(np.float32)
    u = uniform(seed, 4 * total, 4 * n)
    deltas = ((u - 0.5) * delta_scale).astype(np.float32).reshape(n, 4)
    return logits.reshape(n, classes), deltas


def anchors_of(torch, height, width, grids, sizes):
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    gen = AnchorGenerator(tuple(tuple(s) for s in sizes), (tuple(RATIOS),) * len(sizes))
    images = ImageList(torch.zeros(1, 3, height, width), [(height, width)])
    feats = [torch.zeros(1, 1, h, w) for h, w in grids]
    return gen(images, feats)[0]


def tie_free(torch, logits_levels, params):
    """True if the candidates torchvision selects have distinct scores and no level has a tie at
    its top-k boundary."""
    chosen = []
    for lv in logits_levels:
        s = torch.sigmoid(lv).flatten()
        s = s[s > params["score_thresh"]]
        s, _ = torch.sort(s, descending=True)
        k = min(params["topk_candidates"], s.numel())
        if s.numel() > k and s[k - 1] == s[k]:
            return False
        chosen.append(s[:k])
    allc = torch.cat(chosen)
    return torch.unique(allc).numel() == allc.numel()


def run_case(torch, name, case):
    from torchvision.models.detection import _utils as det_utils
    from torchvision.models.detection.retinanet import RetinaNet

    base, (height, width), grids, sizes, classes, params, offset, dscale = case
    anchors = anchors_of(torch, height, width, grids, sizes)
    per_level = [h * w * len(sizes[i]) * len(RATIOS) for i, (h, w) in enumerate(grids)]
    assert sum(per_level) == anchors.shape[0]
    seed = base
    while True:
        logits, deltas = head_outputs(seed, sum(per_level), classes, offset, dscale)
        tl = list(torch.from_numpy(logits).split(per_level))
        if tie_free(torch, tl, params):
            break
        seed += 1
    td = list(torch.from_numpy(deltas).split(per_level))
    net = RetinaNet.__new__(RetinaNet)
    torch.nn.Module.__init__(net)
    net.score_thresh = params["score_thresh"]
    net.topk_candidates = params["topk_candidates"]
    net.nms_thresh = params["nms_thresh"]
    net.detections_per_img = params["detections_per_img"]
    net.box_coder = det_utils.BoxCoder(weights=params["weights"])
    head = {"cls_logits": [t[None] for t in tl], "bbox_regression": [t[None] for t in td]}
    anchors_levels = [list(anchors.split(per_level))]
    det = net.postprocess_detections(head, anchors_levels, [(height, width)])[0]
    config = np.array([seed, height, width, classes, params["score_thresh"],
                       params["topk_candidates"], params["nms_thresh"],
                       params["detections_per_img"], *params["weights"], offset, dscale],
                      dtype=np.float64)
    arrays = {"config": config, "grids": np.array(grids, dtype=np.int64),
              "sizes": np.array(sizes, dtype=np.float64),
              "boxes": det["boxes"].numpy().astype(np.float32),
              "scores": det["scores"].numpy().astype(np.float32),
              "labels": det["labels"].numpy().astype(np.int64)}
    note = {"seed": seed, "image": [height, width], "grids": grids, "classes": classes,
            "params": params, "logit_offset": offset, "delta_scale": dscale,
            "anchors": sum(per_level), "detections": int(det["scores"].numel())}
    return arrays, note


def main(argv=None):
    args = parse_args(__doc__, "postprocess", argv)
    try:
        import torch
        import torchvision
    except ImportError as e:
        sys.stderr.write(f"{e}; run with Debian's /usr/bin/python3\n")
        return 2
    torch.set_num_threads(1)
    writer = FixtureWriter(args.out_dir)
    manifest = {"generator": GENERATOR,
                "versions": versions(torch=torch.__version__, torchvision=torchvision.__version__),
                "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"), "cases": {}}
    for name, case in CASES.items():
        arrays, note = run_case(torch, name, case)
        writer.save_all(name, arrays)
        manifest["cases"][name] = note
        print(name, json.dumps(note))
    writer.finish(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
