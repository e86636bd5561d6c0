#!/usr/bin/python3
"""Side-by-side timing of torchvision.ops.box_iou and detseg::pairwise_iou, with a bit-exactness check.

Run from anywhere with Debian's interpreter (torch 1.13, torchvision 0.14, numpy):

    /usr/bin/python3 benchmarks/compare/compare_box_iou.py [--threads T] [--native] [--reps R]

In one run it generates seeded, detector-like boxes (clustered around objects in a 1333x800
image), saves them as .npy in a temporary directory, times torchvision with
torch.set_num_threads(T), builds and runs time_pairwise_iou.cpp (next to this file) with the
same thread count, compares the two results bit for bit (cells where torchvision gives NaN must
be 0 in detseg) and prints a table. Exit status 1 if any result differs, 2 on a setup error.
The environment is passed on to the C++ program, so GLIBC_TUNABLES=glibc.malloc.hugetlb=1
(transparent huge pages for large allocations) applies to both sides; see docs/benchmarks.md.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import numpy as np
except ImportError as error:
    sys.stderr.write(f"compare_box_iou: {error}; run it with Debian's /usr/bin/python3\n")
    sys.exit(2)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SOURCE = HERE / "time_pairwise_iou.cpp"
SEED = 20240607
WIDTH, HEIGHT = 1333.0, 800.0
CASES = (
    ("n1000_m1000_f32", 1000, 1000, np.float32),
    ("n10000_m1000_f32", 10000, 1000, np.float32),
    ("n1000_m1000_f64", 1000, 1000, np.float64),
    ("n10000_m1000_f64", 10000, 1000, np.float64),
)


def make_objects(rng, k):
    w = np.exp(rng.uniform(math.log(16.0), math.log(480.0), k))
    h = np.minimum(w * np.exp(rng.normal(0.0, 0.5, k)), 0.95 * HEIGHT)
    w = np.minimum(w, 0.95 * WIDTH)
    x1 = rng.uniform(0.0, WIDTH - w)
    y1 = rng.uniform(0.0, HEIGHT - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1)


def make_boxes(rng, objects, n, background=0.15):
    """n boxes (float64, xyxy): most jittered around `objects`, some anywhere, a few points."""
    pick = rng.integers(0, len(objects), n)
    obj = objects[pick]
    w, h = obj[:, 2] - obj[:, 0], obj[:, 3] - obj[:, 1]
    cx = 0.5 * (obj[:, 0] + obj[:, 2]) + w * rng.normal(0.0, 0.15, n)
    cy = 0.5 * (obj[:, 1] + obj[:, 3]) + h * rng.normal(0.0, 0.15, n)
    w = w * np.exp(rng.normal(0.0, 0.25, n))
    h = h * np.exp(rng.normal(0.0, 0.25, n))
    free = rng.random(n) < background
    fw = np.exp(rng.uniform(math.log(8.0), math.log(600.0), n))
    fh = np.minimum(fw * np.exp(rng.normal(0.0, 0.5, n)), HEIGHT)
    cx = np.where(free, rng.uniform(0.0, WIDTH, n), cx)
    cy = np.where(free, rng.uniform(0.0, HEIGHT, n), cy)
    w, h = np.where(free, fw, w), np.where(free, fh, h)
    boxes = np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=1)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0.0, WIDTH)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0.0, HEIGHT)
    points = rng.choice(n, max(2, n // 2000), replace=False)
    boxes[points, 2] = boxes[points, 0]
    boxes[points, 3] = boxes[points, 1]
    return boxes


def make_case(n, m, dtype, seed):
    rng = np.random.default_rng(seed)
    objects = make_objects(rng, 40)
    a = make_boxes(rng, objects, n)
    b = make_boxes(rng, objects, m, background=0.05)
    return np.ascontiguousarray(a.astype(dtype)), np.ascontiguousarray(b.astype(dtype))


def summarize(ms):
    q = statistics.quantiles(ms, n=4, method="inclusive")
    return {"median": statistics.median(ms), "q1": q[0], "q3": q[2]}


def time_torchvision(torch, box_iou, a, b, reps):
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for _ in range(3):
        result = box_iou(ta, tb)
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = box_iou(ta, tb)
        ms.append((time.perf_counter() - t0) * 1e3)
    return summarize(ms), result.numpy()


def build(cxx, include, native, extra, workdir):
    exe = workdir / "time_pairwise_iou"
    flags = ["-O3", "-std=c++20", "-fopenmp"] + (["-march=native"] if native else []) + extra
    subprocess.run([cxx, *flags, "-I", str(include), "-o", str(exe), str(SOURCE)],
                   check=True, capture_output=True, text=True)
    return exe, " ".join(flags)


def bit_exact(reference, ours):
    """(equal, nan cells, differing cells): NaN in `reference` must be +0 in `ours`."""
    if reference.shape != ours.shape or reference.dtype != ours.dtype:
        return False, 0, -1
    uint = np.uint32 if reference.dtype == np.float32 else np.uint64
    nan = np.isnan(reference)
    expected = np.where(nan, reference.dtype.type(0), reference)
    diff = expected.view(uint) != ours.view(uint)
    return not diff.any(), int(nan.sum()), int(diff.sum())


def fmt(s):
    return f"{s['median']:8.2f} [{s['q1']:.2f}, {s['q3']:.2f}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and detseg (1)")
    parser.add_argument("--native", action="store_true", help="build detseg with -march=native")
    parser.add_argument("--reps", type=int, default=21, help="timed repetitions, >= 15 (21)")
    parser.add_argument("--cxx", default=os.environ.get("CXX", "g++"), help="C++ compiler (g++)")
    parser.add_argument("--include", type=Path, default=REPO_ROOT / "include",
                        help="detseg include directory (this checkout's)")
    parser.add_argument("--cxxflags", default="", help="extra compiler flags, e.g. -ffast-math")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    args = parser.parse_args()
    if args.reps < 15 or args.threads < 1:
        parser.error("--reps must be >= 15 and --threads >= 1")

    try:
        import torch
        import torchvision
        from torchvision.ops import box_iou
    except ImportError as e:
        sys.stderr.write(f"compare_box_iou: {e}; run it with Debian's /usr/bin/python3\n")
        return 2

    torch.set_num_threads(args.threads)
    workdir = Path(tempfile.mkdtemp(prefix="detseg_compare_"))
    try:
        exe, flags = build(args.cxx, args.include, args.native, args.cxxflags.split(), workdir)
        for name, n, m, dtype in CASES:
            a, b = make_case(n, m, dtype, SEED + n + m)
            np.save(workdir / f"{name}_a.npy", a)
            np.save(workdir / f"{name}_b.npy", b)

        run = subprocess.run(
            [str(exe), "--threads", str(args.threads), "--reps", str(args.reps), str(workdir)]
            + [c[0] for c in CASES],
            check=True, capture_output=True, text=True)
        cpp = json.loads(run.stdout)
        by_case = {c["case"]: c for c in cpp["cases"]}

        rows, ok = [], True
        for name, n, m, dtype in CASES:
            a = np.load(workdir / f"{name}_a.npy")
            b = np.load(workdir / f"{name}_b.npy")
            tv, reference = time_torchvision(torch, box_iou, a, b, args.reps)
            ours = np.load(workdir / f"{name}_detseg.npy")
            equal, nan_cells, diff_cells = bit_exact(reference, ours)
            ok &= equal
            c = by_case[name]
            gbps = c["out_bytes"] / (c["fill_ms"]["median"] * 1e6)
            rows.append({
                "case": name, "n": n, "m": m, "dtype": np.dtype(dtype).name,
                "torchvision_ms": tv, "detseg_into_ms": c["into_ms"],
                "detseg_returned_ms": c["returned_ms"], "fill_ms": c["fill_ms"],
                "memset_ms": c["memset_ms"], "fill_gb_per_s": gbps,
                "ratio_into": tv["median"] / c["into_ms"]["median"],
                "ratio_returned": tv["median"] / c["returned_ms"]["median"],
                "bit_exact": equal, "nan_cells": nan_cells, "differing_cells": diff_cells,
                "nonzero_fraction": float(np.count_nonzero(ours) / ours.size),
            })
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"compare_box_iou: {' '.join(map(str, e.cmd))} failed\n{e.stderr or ''}")
        return 2
    finally:
        if args.keep:
            print(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"numpy {np.__version__}; torch threads {torch.get_num_threads()}; "
          f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}")
    print(f"detseg: g++ {cpp['compiler']} {flags} -I {args.include}; threads {cpp['threads']}; "
          f"reps {args.reps}")
    print("times in ms: median [Q1, Q3]; x = torchvision median / detseg median;")
    print("'into' writes a preallocated output; 'returned' allocates the N x M tensor, as")
    print("torchvision does; 'fill' = std::fill of a prefaulted N x M buffer (the store-bandwidth")
    print("bound for writing the result), memset for reference; GB/s = fill rate.\n")
    head = (f"{'size':>11} {'dtype':>7} | {'torchvision':>24} | {'detseg into':>24} | "
            f"{'detseg returned':>24} | {'x into':>6} {'x ret':>6} | {'fill':>6} {'memset':>6} "
            f"{'GB/s':>5} | bit-exact")
    print(head)
    print("-" * len(head))
    for r in rows:
        note = f"{r['nan_cells']} NaN cells masked"
        if not r["bit_exact"]:
            note += f", {r['differing_cells']} cells differ"
        print(f"{r['n']:>5}x{r['m']:<5} {r['dtype']:>7} | {fmt(r['torchvision_ms']):>24} | "
              f"{fmt(r['detseg_into_ms']):>24} | {fmt(r['detseg_returned_ms']):>24} | "
              f"{r['ratio_into']:6.1f} {r['ratio_returned']:6.1f} | "
              f"{r['fill_ms']['median']:6.2f} {r['memset_ms']['median']:6.2f} "
              f"{r['fill_gb_per_s']:5.1f} | "
              f"{'yes' if r['bit_exact'] else 'NO'} ({note})")
    target = next(r for r in rows if r["case"] == "n10000_m1000_f32")
    print(f"\ntarget >= 50x torchvision at 10000x1000 float32: into {target['ratio_into']:.1f}x, "
          f"returned {target['ratio_returned']:.1f}x; detseg into / fill bound = "
          f"{target['detseg_into_ms']['median'] / target['fill_ms']['median']:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"flags": flags, "cpp": cpp, "rows": rows}, indent=2))
    if not ok:
        print("\nFAIL: detseg differs from torchvision", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
