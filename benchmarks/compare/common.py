"""Shared pieces of the side-by-side scripts in this folder (compare_box_iou.py, compare_nms.py):
the detector-like box generator, the command line, building and running the C++ timing
program, timing Python calls, and formatting.

Each script builds its C++ program (``time_<what>.cpp`` next to this file, with ``timing.hpp``)
into a temporary directory, writes the inputs there as ``.npy``, runs the program on them (it
prints one JSON object with median and quartile times in ms) and times the reference in Python
on the same arrays.
"""

import argparse
import contextlib
import importlib
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

PROG = Path(sys.argv[0]).stem

try:
    import numpy as np
except ImportError as error:
    sys.stderr.write(f"{PROG}: {error}; run it with Debian's /usr/bin/python3\n")
    sys.exit(2)

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
WIDTH, HEIGHT = 1333.0, 800.0


# --- inputs -------------------------------------------------------------------------------------

def make_objects(rng, k):
    """k ground-truth boxes (float64 xyxy) in the WIDTH×HEIGHT image, log-uniform size 16–480."""
    w = np.exp(rng.uniform(math.log(16.0), math.log(480.0), k))
    h = np.minimum(w * np.exp(rng.normal(0.0, 0.5, k)), 0.95 * HEIGHT)
    w = np.minimum(w, 0.95 * WIDTH)
    x1 = rng.uniform(0.0, WIDTH - w)
    y1 = rng.uniform(0.0, HEIGHT - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1)


def jittered_boxes(rng, objects, n, background=0.15):
    """n detections (float64 xyxy, clipped to the image): around a random one of `objects`
    (centre jitter 0.15 of its size, size jitter exp(N(0, 0.25))), or, for a `background`
    fraction, anywhere with a log-uniform size 8–600. Returns (boxes, owner index, background
    mask)."""
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
    return boxes, pick, free


# --- command line -------------------------------------------------------------------------------

def argument_parser(doc, min_reps):
    """The options both scripts take; `doc` is the script's docstring."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--native", action="store_true", help="build detseg with -march=native")
    parser.add_argument("--reps", type=int, default=21,
                        help=f"timed repetitions, >= {min_reps} (21)")
    parser.add_argument("--cxx", default=os.environ.get("CXX", "g++"), help="C++ compiler (g++)")
    parser.add_argument("--include", type=Path, default=REPO_ROOT / "include",
                        help="detseg include directory (this checkout's)")
    parser.add_argument("--cxxflags", default="", help="extra compiler flags, e.g. -ffast-math")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", type=Path, help="also write all figures to this file")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time thread CPU time, not wall time, on both sides (steadier when "
                             "other processes load the machine)")
    return parser


def check_reps(parser, args, min_reps):
    """Checks --reps, and applies --cpu-time (see use_cpu_time)."""
    if args.reps < min_reps:
        parser.error(f"--reps must be >= {min_reps}")
    if getattr(args, "cpu_time", False):
        use_cpu_time()


_clock = time.perf_counter


def use_cpu_time():
    """From now on time_call, and the C++ timers started from here (timing.hpp reads
    DETSEG_TIMING_CLOCK=cpu), measure the calling thread's CPU time instead of wall time."""
    global _clock
    _clock = time.thread_time
    os.environ["DETSEG_TIMING_CLOCK"] = "cpu"


def clock_name():
    """'thread CPU time' or 'wall time', whichever time_call measures."""
    return "thread CPU time" if _clock is time.thread_time else "wall time"


def import_references(*modules):
    """Imports the reference libraries by name; None (after a message) if one is missing."""
    try:
        return [__import__(m, fromlist=["_"]) for m in modules]
    except ImportError as e:
        sys.stderr.write(f"{PROG}: {e}; run it with Debian's /usr/bin/python3\n")
        return None


def reference_generator(name):
    """The fixture generator tests/reference/<name>.py imported as a module, for the reference
    definitions it shares with a comparison. The environment is left as it was (a generator may
    pin ATEN_CPU_CAPABILITY for reproducible fixtures; the timings must not be affected)."""
    saved = dict(os.environ)
    folder = str(REPO_ROOT / "tests" / "reference")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- building and running the C++ side ------------------------------------------------------------

@contextlib.contextmanager
def work_directory(keep):
    """A temporary directory, removed afterwards unless `keep`. A failing compiler or timing
    program is reported as a setup error (exit status 2)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"detseg_{PROG}_"))
    try:
        yield workdir
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"{PROG}: {' '.join(map(str, e.cmd))} failed\n{e.stderr or ''}")
        sys.exit(2)
    finally:
        if keep:
            print(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def build(args, source, workdir):
    """Compiles `source` (a file in this folder) against args.include; (executable, flags)."""
    exe = workdir / Path(source).stem
    flags = (["-O3", "-std=c++20", "-fopenmp"] + (["-march=native"] if args.native else [])
             + args.cxxflags.split())
    subprocess.run([args.cxx, *flags, "-I", str(args.include), "-o", str(exe),
                    str(HERE / source)], check=True, capture_output=True, text=True)
    return exe, " ".join(flags)


def run_json(command):
    """Runs the timing program and returns the JSON object it prints."""
    run = subprocess.run([str(c) for c in command], check=True, capture_output=True, text=True)
    return json.loads(run.stdout)


def write_json(path, figures):
    if path:
        path.write_text(json.dumps(figures, indent=2, default=bool))


# --- timing and formatting ----------------------------------------------------------------------

def summarize(ms):
    """Median and quartiles (inclusive method) of a list of times."""
    q = statistics.quantiles(ms, n=4, method="inclusive")
    return {"median": statistics.median(ms), "q1": q[0], "q3": q[2]}


def time_call(f, reps, warmup=3):
    """Calls f `warmup` times, then times `reps` calls; (summary in ms, last result)."""
    for _ in range(warmup):
        result = f()
    ms = []
    for _ in range(reps):
        t0 = _clock()
        result = f()
        ms.append((_clock() - t0) * 1e3)
    return summarize(ms), result


def ratio(reference, ours):
    """reference median / detseg median."""
    return reference["median"] / ours["median"]


def fmt(s, digits=3):
    """'median [Q1, Q3]'."""
    return f"{s['median']:8.{digits}f} [{s['q1']:.{digits}f}, {s['q3']:.{digits}f}]"


def print_header(head):
    print(head)
    print("-" * len(head))


def fail(what):
    print(f"\nFAIL: detseg differs from {what}", file=sys.stderr)
    return 1
