#!/usr/bin/python3
"""Checks detseg's anchors, default boxes, box coder and matchers against torchvision on random
configurations, and times the main cases side by side.

Run from anywhere with Debian's interpreter (torch 1.13, torchvision 0.14, numpy):

    /usr/bin/python3 benchmarks/compare/compare_anchors.py [--seed S] [--native] [--reps R]
                                                            [--cpu-time]

Configurations are drawn at run time from --seed (default: a fresh one, printed), so they are
not the ones the tests saw:
  - 20 AnchorGenerator configurations: image 32-1400 px a side, 1-5 levels, feature maps from
    strides around 2^(3+l) (sometimes any size up to the image's), 1-4 sizes (8-700, some
    fractional) and 1-4 aspect ratios (0.2-5) per level; a few in float64;
  - 10 DefaultBoxGenerator configurations: 1-6 levels, random aspect-ratio lists, min/max
    ratios or explicit scales, integer steps or none, clip on or off, image 32-600 px; both the
    normalised cxcywh (_grid_default_boxes) and the pixel xyxy (forward);
  - 10 BoxCoder configurations: random weights (0.5-20), 1000-5000 random boxes and anchors
    (encode_single) and deltas (decode_single, 1-3 boxes per anchor, some beyond the dw/dh
    clamp), float32 and float64;
  - 10 Matcher configurations (random thresholds, with and without low-quality matches) and 5
    SSDMatcher ones, on random float32 IoU-like matrices (values on a 1/20 grid so that ties
    occur, and zero columns).
torchvision's results come from a child process run with ATEN_CPU_CAPABILITY=default (torch's
scalar log/exp are the C library's, which detseg calls); detseg's from time_anchors.cpp, built
by the script. Every array must be equal bit for bit. Then, single-threaded on both sides, the
timed cases: AnchorGenerator.forward for RetinaNet at 800x1333 (padded to 800x1344, 5 levels,
3 sizes x 3 ratios: 201600 anchors) vs grid_anchor_generator::generate into a reused buffer;
DefaultBoxGenerator.forward for SSD300 (8732 boxes) vs default_box_generator::xyxy into a
reused buffer; BoxCoder.decode_single on 100k float32 boxes vs decode_boxes into a reused
buffer. torchvision is timed with the CPU capability torch picks (AVX2 here).

Exit status 1 if a result differs, 2 on a setup error.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from common import (argument_parser, build, check_reps, clock_name, fail, fmt,
                    import_references, np, print_header, ratio, run_json, time_call,
                    work_directory, write_json)

MIN_REPS = 5
RETINANET = {"image": (800, 1344), "grids": [(100, 168), (50, 84), (25, 42), (13, 21), (7, 11)],
             "sizes": [[s, s * 2 ** (1 / 3), s * 2 ** (2 / 3)] for s in (32, 64, 128, 256, 512)],
             "ratios": [[0.5, 1.0, 2.0]] * 5}
SSD300 = {"image": (300, 300), "grids": [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)],
          "ratios": [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
          "scales": [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], "steps": [8, 16, 32, 64, 100, 300],
          "clip": True, "min_ratio": 0.15, "max_ratio": 0.9}
DECODE_N = 100_000


# --- random configurations (numpy only) ---------------------------------------------------------

def random_grid(rng):
    h, w = (int(v) for v in rng.integers(32, 1401, 2))
    levels = int(rng.integers(1, 6))
    grids, sizes, ratios = [], [], []
    for lvl in range(levels):
        if rng.random() < 0.25:
            grids.append((int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))))
        else:
            stride = 2 ** (3 + lvl) * float(rng.uniform(0.8, 1.25))
            grids.append((max(1, int(np.ceil(h / stride))), max(1, int(np.ceil(w / stride)))))
        s = rng.uniform(8, 700, int(rng.integers(1, 5)))
        sizes.append([float(v) if rng.random() < 0.3 else float(round(v)) for v in s])
        ratios.append([float(v) for v in np.exp(rng.uniform(np.log(0.2), np.log(5.0),
                                                            int(rng.integers(1, 5))))])
    return {"image": (h, w), "grids": grids, "sizes": sizes, "ratios": ratios,
            "dtype": "f8" if rng.random() < 0.2 else "f4"}


def random_dbox(rng):
    h, w = (int(v) for v in rng.integers(32, 601, 2))
    levels = int(rng.integers(1, 7))
    grids, ratios = [], []
    for lvl in range(levels):
        stride = 2 ** (3 + lvl) * float(rng.uniform(0.8, 1.25))
        grids.append((max(1, int(np.ceil(h / stride))), max(1, int(np.ceil(w / stride)))))
        ratios.append([int(v) if rng.random() < 0.5 else round(float(v), 3)
                       for v in rng.uniform(1.2, 4.0, int(rng.integers(0, 4)))])
    lo = float(rng.uniform(0.05, 0.4))
    cfg = {"image": (h, w), "grids": grids, "ratios": ratios, "clip": bool(rng.random() < 0.5),
           "min_ratio": lo, "max_ratio": float(rng.uniform(lo, 1.2)), "scales": None,
           "steps": None, "dtype": "f8" if rng.random() < 0.2 else "f4"}
    if rng.random() < 0.4:
        cfg["scales"] = sorted(float(v) for v in rng.uniform(0.05, 1.3, levels + 1))
    if rng.random() < 0.6:
        cfg["steps"] = [int(rng.integers(max(1, min(h, w) // (2 * g[0] + 1)), 2 * (h // g[0]) + 2))
                        for g in grids]
    return cfg


def random_boxes(rng, n, dtype):
    cx, cy = rng.uniform(-50, 1400, n), rng.uniform(-50, 900, n)
    w, h = np.exp(rng.uniform(0, 6.5, n)), np.exp(rng.uniform(0, 6.5, n))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(dtype)


def coder_inputs(rng, n, k, dtype):
    boxes, anchors = random_boxes(rng, n, dtype), random_boxes(rng, n, dtype)
    deltas = rng.normal(0, 1.5, (n, 4 * k))
    deltas[:, 2::4] += np.where(rng.random((n, k)) < 0.05, 12.0, 0.0)  # beyond the clamp
    return boxes, anchors, deltas.astype(dtype)


def random_quality(rng):
    m, n = int(rng.integers(1, 30)), int(rng.integers(1, 3000))
    q = np.round(rng.beta(0.6, 2.0, (m, n)) * 20) / 20
    q[:, rng.random(n) < 0.1] = 0.0
    return q.astype(np.float32)


def make_configs(seed, workdir):
    """Writes the inputs and configs.txt; returns the list of (kind, name, cfg)."""
    rng = np.random.default_rng(seed)
    configs = [("grid", f"grid{i}", random_grid(rng)) for i in range(20)]
    configs += [("dbox", f"dbox{i}", random_dbox(rng)) for i in range(10)]
    for i in range(10):
        dtype = np.float64 if i % 3 == 2 else np.float32
        n, k = int(rng.integers(1000, 5001)), int(rng.integers(1, 4))
        arrays = coder_inputs(rng, n, k, dtype)
        for key, arr in zip(("boxes", "anchors", "deltas"), arrays):
            np.save(workdir / f"coder{i}_{key}.npy", arr)
        weights = [1.0] * 4 if i == 0 else [float(v) for v in rng.uniform(0.5, 20, 4)]
        configs.append(("coder", f"coder{i}", {"weights": weights,
                                               "dtype": "f8" if dtype == np.float64 else "f4"}))
    for i in range(15):
        np.save(workdir / f"match{i}_q.npy", random_quality(rng))
        if i < 10:
            lo = float(np.round(rng.uniform(0.1, 0.6), 2))
            cfg = {"high": float(np.round(rng.uniform(lo, 0.8), 2)), "low": lo,
                   "allow": i % 2 == 0}
            configs.append(("match", f"match{i}", cfg))
        else:
            threshold = float(np.round(rng.uniform(0.2, 0.7), 2))
            configs.append(("ssd", f"match{i}", {"threshold": threshold}))
    return configs


def timed_configs(workdir, rng):
    cfgs = [("grid", "grid_retinanet", dict(RETINANET, dtype="f4")),
            ("dbox", "dbox_ssd300", dict(SSD300, dtype="f4"))]
    boxes, anchors, deltas = coder_inputs(rng, DECODE_N, 1, np.float32)
    for key, arr in zip(("boxes", "anchors", "deltas"), (boxes, anchors, deltas)):
        np.save(workdir / f"decode100k_{key}.npy", arr)
    cfgs.append(("coder", "decode100k", {"weights": [1.0] * 4, "dtype": "f4"}))
    return cfgs


def nums(v):
    return f"{len(v)} " + " ".join(repr(float(x)) for x in v) if v else "0"


def config_line(kind, name, c):
    if kind == "grid":
        levels = " ".join(f"{g[0]} {g[1]} {nums(s)} {nums(r)}"
                          for g, s, r in zip(c["grids"], c["sizes"], c["ratios"]))
        return (f"grid {name} {c['dtype']} {c['image'][0]} {c['image'][1]} {len(c['grids'])} "
                f"{levels}")
    if kind == "dbox":
        levels = " ".join(f"{g[0]} {g[1]} {nums(r)}" for g, r in zip(c["grids"], c["ratios"]))
        return (f"dbox {name} {c['dtype']} {c['image'][0]} {c['image'][1]} {len(c['grids'])} "
                f"{int(c['clip'])} {c['min_ratio']!r} {c['max_ratio']!r} {nums(c['scales'])} "
                f"{nums(c['steps'])} {levels}")
    if kind == "coder":
        return f"coder {name} {c['dtype']} " + " ".join(repr(w) for w in c["weights"])
    if kind == "match":
        return f"match {name} {c['high']!r} {c['low']!r} {int(c['allow'])}"
    return f"ssd {name} {c['threshold']!r}"


# --- torchvision -------------------------------------------------------------------------------

def torch_dtype(torch, c):
    return torch.float64 if c.get("dtype") == "f8" else torch.float32


def grid_call(torch, c):
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList
    gen = AnchorGenerator(tuple(tuple(s) for s in c["sizes"]),
                          tuple(tuple(r) for r in c["ratios"]))
    dt = torch_dtype(torch, c)
    images = ImageList(torch.zeros((1, 3, *c["image"]), dtype=dt), [tuple(c["image"])])
    maps = [torch.zeros((1, 1, *g), dtype=dt) for g in c["grids"]]
    return lambda: gen(images, maps)[0]


def dbox_gen(c):
    from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
    return DefaultBoxGenerator([list(r) for r in c["ratios"]], min_ratio=c["min_ratio"],
                               max_ratio=c["max_ratio"], scales=c["scales"], steps=c["steps"],
                               clip=c["clip"])


def dbox_call(torch, c):
    from torchvision.models.detection.image_list import ImageList
    gen, dt = dbox_gen(c), torch_dtype(torch, c)
    images = ImageList(torch.zeros((1, 3, *c["image"]), dtype=dt), [tuple(c["image"])])
    maps = [torch.zeros((1, 1, *g), dtype=dt) for g in c["grids"]]
    return lambda: gen(images, maps)[0]


def reference(workdir):
    """Child process (ATEN_CPU_CAPABILITY=default): torchvision's results as <name>_ref*.npy."""
    refs = import_references("torch")
    if refs is None:
        return 2
    torch = refs[0]
    from torchvision.models.detection import _utils as det_utils
    torch.set_num_threads(1)
    for kind, name, c in json.loads((workdir / "configs.json").read_text()):
        base = workdir / name
        if kind == "grid":
            np.save(f"{base}_ref.npy", grid_call(torch, c)().numpy())
        elif kind == "dbox":
            np.save(f"{base}_ref_xyxy.npy", dbox_call(torch, c)().numpy())
            cxcywh = dbox_gen(c)._grid_default_boxes([list(g) for g in c["grids"]],
                                                     list(c["image"]), dtype=torch_dtype(torch, c))
            np.save(f"{base}_ref_cxcywh.npy", cxcywh.numpy())
        elif kind == "coder":
            coder = det_utils.BoxCoder(tuple(c["weights"]))
            boxes, anchors, deltas = (torch.from_numpy(np.load(f"{base}_{k}.npy"))
                                      for k in ("boxes", "anchors", "deltas"))
            np.save(f"{base}_ref_enc.npy", coder.encode_single(boxes, anchors).numpy())
            np.save(f"{base}_ref_dec.npy", coder.decode_single(deltas, anchors).numpy())
        else:
            q = torch.from_numpy(np.load(f"{base}_q.npy"))
            m = (det_utils.SSDMatcher(c["threshold"]) if kind == "ssd" else
                 det_utils.Matcher(c["high"], c["low"], c["allow"]))
            np.save(f"{base}_ref_out.npy", m(q).numpy())
    return 0


# --- comparison -----------------------------------------------------------------------------------

OUTPUTS = {"grid": [("", ".npy")], "dbox": [("_xyxy", "_xyxy.npy"), ("_cxcywh", "_cxcywh.npy")],
           "coder": [("_enc", "_enc.npy"), ("_dec", "_dec.npy")], "match": [("_out", "_out.npy")],
           "ssd": [("_out", "_out.npy")]}


def compare(workdir, kind, name, c):
    """None if every output equals torchvision's bit for bit, else a description."""
    for ref_key, ours_suffix in OUTPUTS[kind]:
        ref = np.load(workdir / f"{name}_ref{ref_key}.npy")
        ours = np.load(workdir / f"{name}{ours_suffix}")
        if ref.shape != ours.shape or ref.dtype != ours.dtype:
            return (f"{name}{ref_key}: torchvision {ref.dtype}{ref.shape}, "
                    f"detseg {ours.dtype}{ours.shape}")
        if ref.tobytes() != ours.tobytes():
            bits = np.dtype(f"u{ref.itemsize}")
            diff = np.argwhere(ref.view(bits) != ours.view(bits))
            row = diff[0][0]
            return (f"{name}{ref_key} ({kind} {json.dumps(c)}): {len(diff)} of {ref.size} values "
                    f"differ; first at {tuple(diff[0])}: torchvision {ref[row]!r}, "
                    f"detseg {ours[row]!r}")
    return None


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--reference-child":
        return reference(Path(sys.argv[2]))
    parser = argument_parser(__doc__, MIN_REPS)
    parser.add_argument("--seed", type=int, help="seed of the random configurations (fresh)")
    args = parser.parse_args()
    check_reps(parser, args, MIN_REPS)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    refs = import_references("torch", "torchvision")
    if refs is None:
        return 2
    torch, torchvision = refs
    torch.set_num_threads(1)

    with work_directory(args.keep) as workdir:
        configs = make_configs(seed, workdir)
        timed = timed_configs(workdir, np.random.default_rng(seed + 1))
        everything = configs + timed
        (workdir / "configs.json").write_text(json.dumps(everything))
        (workdir / "configs.txt").write_text(
            "\n".join(config_line(*c) for c in everything) + "\n")
        exe, flags = build(args, "time_anchors.cpp", workdir)
        subprocess.run([sys.executable, __file__, "--reference-child", str(workdir)], check=True,
                       capture_output=True, text=True,
                       env=dict(os.environ, ATEN_CPU_CAPABILITY="default"))
        ours = run_json([exe, "--reps", args.reps, workdir, "--time", *(c[1] for c in timed)])

        counts, first = {}, None
        for kind, name, c in everything:
            problem = compare(workdir, kind, name, c)
            label = "Matcher (low-quality)" if kind == "match" and c["allow"] else {
                "grid": "AnchorGenerator", "dbox": "DefaultBoxGenerator", "coder": "BoxCoder",
                "match": "Matcher", "ssd": "SSDMatcher"}[kind]
            if (kind, name, c) in timed:
                label += " (timed cases)"
            ok, total = counts.get(label, (0, 0))
            counts[label] = (ok + (problem is None), total + 1)
            first = first or problem

        grid = grid_call(torch, timed[0][2])
        dbox = dbox_call(torch, timed[1][2])
        from torchvision.models.detection import _utils as det_utils
        coder = det_utils.BoxCoder((1.0, 1.0, 1.0, 1.0))
        deltas, anchors = (torch.from_numpy(np.load(workdir / f"decode100k_{k}.npy"))
                           for k in ("deltas", "anchors"))
        theirs = {"grid_retinanet": time_call(grid, args.reps)[0],
                  "dbox_ssd300": time_call(dbox, args.reps)[0],
                  "decode100k": time_call(lambda: coder.decode_single(deltas, anchors),
                                          args.reps)[0]}

    print(f"seed {seed}; torch {torch.__version__}, torchvision {torchvision.__version__}; "
          f"detseg built with {flags}")
    print_header("torchvision parity on random configurations (bit for bit)")
    for label, (ok, total) in counts.items():
        print(f"  {label:36s} {ok:3d} / {total} match")
    if first:
        print(f"first mismatch: {first}")
    names = {"grid_retinanet": "RetinaNet anchors 800x1333 (201600)",
             "dbox_ssd300": "SSD300 default boxes (8732)",
             "decode100k": f"BoxCoder decode ({DECODE_N} boxes)"}
    print()
    print_header(f"single-threaded, {clock_name()}, ms: median [Q1, Q3], {args.reps} reps")
    print(f"{'case':38s} {'torchvision':>24s} {'detseg (new tensor)':>24s} "
          f"{'detseg (reused buffer)':>24s}  ratio (buffer)")
    figures = {"seed": seed, "parity": counts, "times": {}}
    for key, label in names.items():
        t, o = theirs[key], ours[key]
        new = fmt(o["tensor"]) if o["tensor"] else "-"
        print(f"{label:38s} {fmt(t):>24s} {new:>24s} {fmt(o['buffer']):>24s}  "
              f"{ratio(t, o['buffer']):6.1f}x")
        figures["times"][key] = {"torchvision": t, "detseg": o,
                                 "ratio": ratio(t, o["buffer"])}
    write_json(args.json, figures)
    return fail("torchvision") if first else 0


if __name__ == "__main__":
    sys.exit(main())
