#!/usr/bin/python3
"""Side-by-side timing of torchvision/OpenCV NMS and detseg's nms, batched_nms and soft_nms.

Run from anywhere with Debian's interpreter (torch 1.13, torchvision 0.14, OpenCV 4.6, numpy):

    /usr/bin/python3 benchmarks/compare/compare_nms.py [--native] [--reps R]

In one run it generates seeded, detector-like boxes (clustered around 40 objects in a 1333x800
image, float32) with uniform scores and 80 class labels, saves them as .npy in a temporary
directory, times torchvision.ops.nms and torchvision.ops.batched_nms (torch.set_num_threads(1)),
cv2.dnn.softNMSBoxes (gaussian, sigma 0.5, score_threshold 0.001, on the boxes rounded to
integers; N <= 5000, it is O(N^2)) and cv2.dnn.NMSBoxes (timing only), builds and runs
time_nms.cpp (next to this file, single-threaded) on the same files, and checks:
  - nms: detseg's keep list identical to torchvision's (also through nms_to + nms_workspace);
  - batched_nms: kept sets equal (torchvision's order is not deterministic for N > 1000);
  - soft_nms: picks identical, decayed scores within 1 ulp (float32) of OpenCV's.
Exit status 1 if any result differs, 2 on a setup error.
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
    sys.stderr.write(f"compare_nms: {error}; run it with Debian's /usr/bin/python3\n")
    sys.exit(2)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
SOURCE = HERE / "time_nms.cpp"
SEED = 20240611
WIDTH, HEIGHT = 1333.0, 800.0
CLASSES = 80
IOU = 0.5
SIGMA = 0.5
SOFT_SCORE_THRESHOLD = 0.001
SOFT_MAX_N = 5000
CASES = (1000, 5000, 20000)


def make_objects(rng, k):
    w = np.exp(rng.uniform(math.log(16.0), math.log(480.0), k))
    h = np.minimum(w * np.exp(rng.normal(0.0, 0.5, k)), 0.95 * HEIGHT)
    w = np.minimum(w, 0.95 * WIDTH)
    x1 = rng.uniform(0.0, WIDTH - w)
    y1 = rng.uniform(0.0, HEIGHT - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1)


def make_case(n, seed):
    """n detections: boxes (float32 xyxy), scores (float32), labels (int64), integer boxes."""
    rng = np.random.default_rng(seed)
    objects = make_objects(rng, 40)
    object_label = rng.integers(0, CLASSES, len(objects))
    pick = rng.integers(0, len(objects), n)
    obj = objects[pick]
    w, h = obj[:, 2] - obj[:, 0], obj[:, 3] - obj[:, 1]
    cx = 0.5 * (obj[:, 0] + obj[:, 2]) + w * rng.normal(0.0, 0.15, n)
    cy = 0.5 * (obj[:, 1] + obj[:, 3]) + h * rng.normal(0.0, 0.15, n)
    w = w * np.exp(rng.normal(0.0, 0.25, n))
    h = h * np.exp(rng.normal(0.0, 0.25, n))
    free = rng.random(n) < 0.15
    fw = np.exp(rng.uniform(math.log(8.0), math.log(600.0), n))
    fh = np.minimum(fw * np.exp(rng.normal(0.0, 0.5, n)), HEIGHT)
    cx = np.where(free, rng.uniform(0.0, WIDTH, n), cx)
    cy = np.where(free, rng.uniform(0.0, HEIGHT, n), cy)
    w, h = np.where(free, fw, w), np.where(free, fh, h)
    boxes = np.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], axis=1)
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0.0, WIDTH)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0.0, HEIGHT)
    # A detector's scores: higher near objects; background boxes mostly low. Rounded to float32
    # with some exact ties (scores quantised to 1/4096 for a tenth of the boxes).
    scores = np.where(free, rng.beta(1.0, 6.0, n), rng.beta(2.0, 2.0, n))
    quant = rng.random(n) < 0.1
    scores = np.where(quant, np.round(scores * 4096.0) / 4096.0, scores)
    labels = np.where(rng.random(n) < 0.8, object_label[pick], rng.integers(0, CLASSES, n))
    boxes32 = np.ascontiguousarray(boxes.astype(np.float32))
    ibox = np.ascontiguousarray(np.round(boxes).astype(np.float32))
    return (boxes32, np.ascontiguousarray(scores.astype(np.float32)),
            np.ascontiguousarray(labels.astype(np.int64)), ibox)


def summarize(ms):
    q = statistics.quantiles(ms, n=4, method="inclusive")
    return {"median": statistics.median(ms), "q1": q[0], "q3": q[2]}


def time_call(f, reps):
    for _ in range(3):
        result = f()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = f()
        ms.append((time.perf_counter() - t0) * 1e3)
    return summarize(ms), result


def build(cxx, include, native, extra, workdir):
    exe = workdir / "time_nms"
    flags = ["-O3", "-std=c++20", "-fopenmp"] + (["-march=native"] if native else []) + extra
    subprocess.run([cxx, *flags, "-I", str(include), "-o", str(exe), str(SOURCE)],
                   check=True, capture_output=True, text=True)
    return exe, " ".join(flags)


def ulp_distance(a, b):
    """Per-element distance in float32 ulps (both finite, same sign here)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    return np.abs(ia - ib)


def fmt(s):
    return f"{s['median']:8.3f} [{s['q1']:.3f}, {s['q3']:.3f}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--native", action="store_true", help="build detseg with -march=native")
    parser.add_argument("--reps", type=int, default=21, help="timed repetitions, >= 15 (21)")
    parser.add_argument("--cxx", default=os.environ.get("CXX", "g++"), help="C++ compiler (g++)")
    parser.add_argument("--include", type=Path, default=REPO_ROOT / "include",
                        help="detseg include directory (this checkout's)")
    parser.add_argument("--cxxflags", default="", help="extra compiler flags")
    parser.add_argument("--no-opencv-nms", action="store_true",
                        help="skip timing cv2.dnn.NMSBoxes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    args = parser.parse_args()
    if args.reps < 15:
        parser.error("--reps must be >= 15")

    try:
        import cv2
        import torch
        import torchvision
        from torchvision.ops import batched_nms, nms
    except ImportError as e:
        sys.stderr.write(f"compare_nms: {e}; run it with Debian's /usr/bin/python3\n")
        return 2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    workdir = Path(tempfile.mkdtemp(prefix="detseg_compare_nms_"))
    try:
        exe, flags = build(args.cxx, args.include, args.native, args.cxxflags.split(), workdir)
        data = {}
        for n in CASES:
            name = f"n{n}"
            boxes, scores, labels, ibox = make_case(n, SEED + n)
            data[n] = (boxes, scores, labels, ibox)
            for suffix, arr in (("boxes", boxes), ("scores", scores), ("labels", labels),
                                ("ibox", ibox)):
                np.save(workdir / f"{name}_{suffix}.npy", arr)

        run = subprocess.run(
            [str(exe), "--reps", str(args.reps), str(workdir)]
            + [f"n{n}" + (":soft" if n <= SOFT_MAX_N else "") for n in CASES],
            check=True, capture_output=True, text=True)
        cpp = json.loads(run.stdout)
        by_case = {c["case"]: c for c in cpp["cases"]}

        rows, ok = [], True
        for n in CASES:
            name = f"n{n}"
            boxes, scores, labels, ibox = data[n]
            c = by_case[name]
            tb, ts, tl = (torch.from_numpy(boxes), torch.from_numpy(scores),
                          torch.from_numpy(labels))

            def load(suffix, dtype):
                return np.fromfile(workdir / f"{name}_{suffix}", dtype=dtype)

            # nms: identical keep lists
            tv_nms, ref = time_call(lambda: nms(tb, ts, IOU), args.reps)
            ref = ref.numpy().astype(np.int64)
            ours, ours_ws = load("nms.i64", np.int64), load("nms_ws.i64", np.int64)
            nms_equal = np.array_equal(ref, ours) and np.array_equal(ref, ours_ws)
            row = {"n": n, "nms_kept": int(ref.size), "tv_nms": tv_nms,
                   "ds_nms": c["nms_ms"], "ds_nms_ws": c["nms_ws_ms"], "nms_equal": nms_equal,
                   "x_nms": tv_nms["median"] / c["nms_ms"]["median"],
                   "x_nms_ws": tv_nms["median"] / c["nms_ws_ms"]["median"]}

            # batched_nms: equal kept sets
            tv_b, ref_b = time_call(lambda: batched_nms(tb, ts, tl, IOU), args.reps)
            ref_b = np.sort(ref_b.numpy().astype(np.int64))
            ours_b = load("batched.i64", np.int64)
            b_equal = (np.array_equal(ref_b, np.sort(ours_b))
                       and np.unique(ours_b).size == ours_b.size)
            row.update({"batched_kept": int(ref_b.size), "tv_batched": tv_b,
                        "ds_batched": c["batched_ms"], "batched_equal": b_equal,
                        "x_batched": tv_b["median"] / c["batched_ms"]["median"]})
            ok &= nms_equal and b_equal

            # cv2.dnn.NMSBoxes (timing only: float Rect2d boxes, its own overlap arithmetic)
            if not args.no_opencv_nms:
                rects = [(float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]))
                         for b in boxes.astype(np.float64)]
                slist = scores.tolist()
                cv_nms, cv_keep = time_call(
                    lambda: cv2.dnn.NMSBoxes(rects, slist, 0.0, IOU), args.reps)
                cv_keep = np.asarray(cv_keep, dtype=np.int64).reshape(-1)
                row.update({"cv_nms": cv_nms, "x_cv_nms": cv_nms["median"] / c["nms_ms"]["median"],
                            "cv_nms_same_as_tv": bool(np.array_equal(cv_keep, ref))})

            # soft_nms: identical picks, scores within 1 ulp
            if n <= SOFT_MAX_N:
                ib = ibox.astype(np.int64)
                irects = [(int(b[0]), int(b[1]), int(b[2] - b[0]), int(b[3] - b[1])) for b in ib]
                slist = scores.tolist()
                gaussian = cv2.dnn.SOFT_NMSMETHOD_SOFTNMS_GAUSSIAN
                cv_soft, (cv_scores, cv_idx) = time_call(
                    lambda: cv2.dnn.softNMSBoxes(irects, slist, SOFT_SCORE_THRESHOLD, 0.3, 0,
                                                 SIGMA, gaussian), args.reps)
                cv_idx = np.asarray(cv_idx, dtype=np.int64).reshape(-1)
                cv_scores = np.asarray(cv_scores, dtype=np.float32).reshape(-1)
                ours_i, ours_s = load("soft.i64", np.int64), load("soft.f32", np.float32)
                picks_equal = np.array_equal(cv_idx, ours_i)
                max_ulp = (int(ulp_distance(cv_scores, ours_s).max())
                           if picks_equal and cv_idx.size else (0 if picks_equal else -1))
                soft_equal = picks_equal and 0 <= max_ulp <= 1
                ok &= soft_equal
                row.update({"soft_picks": int(cv_idx.size), "cv_soft": cv_soft,
                            "ds_soft": c["soft_ms"], "soft_picks_equal": picks_equal,
                            "soft_max_ulp": max_ulp, "soft_equal": soft_equal,
                            "x_soft": cv_soft["median"] / c["soft_ms"]["median"]})
            rows.append(row)
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"compare_nms: {' '.join(map(str, e.cmd))} failed\n{e.stderr or ''}")
        return 2
    finally:
        if args.keep:
            print(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"OpenCV {cv2.__version__}, numpy {np.__version__}; torch threads "
          f"{torch.get_num_threads()}, cv2 threads {cv2.getNumThreads()}")
    print(f"detseg: {args.cxx} {cpp['compiler']} {flags} -I {args.include}; 1 thread; "
          f"reps {args.reps}")
    print("times in ms: median [Q1, Q3]; x = reference median / detseg median; float32 boxes,")
    print(f"iou_threshold {IOU}; soft: gaussian sigma {SIGMA}, score_threshold "
          f"{SOFT_SCORE_THRESHOLD}, integer boxes; 'ws' = nms_to with a reused nms_workspace.\n")
    head = (f"{'op':>12} {'N':>6} {'kept':>6} | {'reference':>26} | {'detseg':>26} | "
            f"{'x':>7} | equal")
    print(head)
    print("-" * len(head))

    def line(op, n, kept, ref, ours, x, equal):
        print(f"{op:>12} {n:>6} {kept:>6} | {fmt(ref):>26} | {fmt(ours):>26} | {x:7.1f} | "
              f"{equal}")

    for r in rows:
        eq = "yes" if r["nms_equal"] else "NO"
        line("tv nms", r["n"], r["nms_kept"], r["tv_nms"], r["ds_nms"], r["x_nms"], eq)
        line("tv nms (ws)", r["n"], r["nms_kept"], r["tv_nms"], r["ds_nms_ws"], r["x_nms_ws"], eq)
        if "cv_nms" in r:
            line("cv NMSBoxes", r["n"], r["nms_kept"], r["cv_nms"], r["ds_nms"], r["x_cv_nms"],
                 "(timing only; same keep list as torchvision: "
                 f"{'yes' if r['cv_nms_same_as_tv'] else 'no'})")
        line("tv batched", r["n"], r["batched_kept"], r["tv_batched"], r["ds_batched"],
             r["x_batched"], "yes (sets)" if r["batched_equal"] else "NO")
        if "cv_soft" in r:
            line("cv soft", r["n"], r["soft_picks"], r["cv_soft"], r["ds_soft"], r["x_soft"],
                 f"{'yes' if r['soft_equal'] else 'NO'} (picks "
                 f"{'identical' if r['soft_picks_equal'] else 'DIFFER'}, max score "
                 f"{r['soft_max_ulp'] if r['soft_picks_equal'] else 'n/a'} ulp)")
    if args.json:
        args.json.write_text(json.dumps({"flags": flags, "cpp": cpp, "rows": rows}, indent=2,
                                        default=bool))
    if not ok:
        print("\nFAIL: detseg differs from the reference", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
