#!/usr/bin/python3
"""Side-by-side timing of pycocotools' COCOeval (bbox) and detseg's COCO evaluation.

Run from anywhere with Debian's interpreter (numpy), with a pycocotools built by hand (see
benchmarks/compare/README.md; it is never fetched or built by this script):

    /usr/bin/python3 benchmarks/compare/compare_coco.py --cocoapi /tmp/cocoapi/PythonAPI

In one run it generates the 5000-image set of `../shared/tools/gen_coco.py -n 5000 --seed 0`
(or uses --data-dir), builds time_coco.cpp and the `detseg` tool (apps/detseg/*.cpp) with
`g++ -O3 -std=c++20 -fopenmp ... -lsimdjson -lpng`, and times, single-threaded:
  - evaluation: pycocotools' evaluate() + accumulate() + summarize() (the COCO objects already
    loaded) against detseg's build_coco_evaluator + accumulate (time_coco.cpp, in process);
  - loading: COCO(gt) + loadRes(dt) against load_coco_ground_truth + load_coco_results;
  - the whole run: pycocotools' loading + evaluation in this process (the interpreter's start
    and imports not counted) against a complete `detseg eval coco --threads 1 --json ...` process
    (start, JSON loading, evaluation, printing and writing the JSON);
and checks that the 12 stats are identical (bits) in all three detseg results and that the
tool prints pycocotools' summary text exactly. The run has --py-reps rounds (3): in each, time_coco
times every detseg phase --reps times (21, after 2 warm-up calls), the tool runs --reps times
(after warm-up runs), then pycocotools loads and evaluates once (about 15 s), so that both sides
see the same load on a shared machine. Figures: pycocotools' median over the rounds; detseg's
median of its per-round medians (the tool: of all its runs). --cpu-time
times thread CPU time on both sides (the tool: its process's user + system CPU time), steadier
when other processes load the machine. Exit status 1 if any result differs, 2 on a setup error.
"""

import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

from common import (REPO_ROOT, argument_parser, check_reps, clock_name, fail, fmt, np,
                    print_header, ratio, run_json, summarize, work_directory, write_json)

MIN_REPS = 5
TARGETS = (("evaluation", 100.0), ("whole run", 50.0))  # issue 4, item 7
GEN_COCO = REPO_ROOT.parent / "shared" / "tools" / "gen_coco.py"


def import_pycocotools(cocoapi):
    """pycocotools from `cocoapi` (the PythonAPI folder); coco.py imports matplotlib for its
    showAnns() only, so a stand-in is installed when matplotlib is missing."""
    sys.path.insert(0, str(cocoapi))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        stub = {m: types.ModuleType(m) for m in ("matplotlib", "matplotlib.pyplot",
                                                  "matplotlib.collections", "matplotlib.patches")}
        stub["matplotlib"].use = lambda *a, **k: None
        stub["matplotlib.collections"].PatchCollection = None
        stub["matplotlib.patches"].Polygon = None
        sys.modules.update(stub)
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError as e:
        sys.stderr.write(f"compare_coco: cannot import pycocotools from {cocoapi}: {e}\n"
                         "build it as benchmarks/compare/README.md says\n")
        return None
    return COCO, COCOeval


def build_programs(args, workdir):
    """time_coco and the detseg tool, -O3 with OpenMP and simdjson; (paths, flags)."""
    flags = (["-O3", "-std=c++20", "-fopenmp"] + (["-march=native"] if args.native else [])
             + args.cxxflags.split())
    here = Path(__file__).resolve().parent
    programs = {"time_coco": [here / "time_coco.cpp"],
                "detseg": sorted((REPO_ROOT / "apps" / "detseg").glob("*.cpp"))}
    out = {}
    for name, sources in programs.items():
        exe = workdir / name
        subprocess.run([args.cxx, *flags, "-I", str(args.include),
                        "-I", str(REPO_ROOT / "apps" / "detseg"), "-o", str(exe),
                        *map(str, sources), "-lsimdjson", "-lpng"], check=True, capture_output=True,
                       text=True)
        out[name] = exe
    return out, " ".join(flags)


def quiet(f):
    """Calls f with stdout captured (pycocotools prints progress); (result, text)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        result = f()
    return result, buf.getvalue()


def load_pycocotools(COCO, gt, dt):
    """COCO(gt) + loadRes(dt), quietly; (coco_gt, coco_dt)."""
    def load():
        coco_gt = COCO(str(gt))
        return coco_gt, coco_gt.loadRes(str(dt))
    return quiet(load)[0]


def run_pycocotools(COCOeval, coco_gt, coco_dt):
    """evaluate + accumulate + summarize; (stats, the text summarize() prints)."""
    def run():
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.evaluate()
        e.accumulate()
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            e.summarize()
        return e.stats.copy(), buf.getvalue()
    return quiet(run)[0]


def summarize_few(ms):
    """summarize() needs 2 values; with fewer the median is the value itself."""
    return summarize(ms) if len(ms) >= 2 else {"median": ms[0], "q1": ms[0], "q3": ms[0]}


def cpu_time():
    return clock_name() == "thread CPU time"


def py_clock():
    """The clock of the Python side: wall time, or this thread's CPU time (--cpu-time)."""
    return time.thread_time() if cpu_time() else time.perf_counter()


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_cli(exe, gt, dt, out_json, reps, warmup):
    """`warmup` + reps complete `detseg eval coco --threads 1` processes, each timed in wall
    time or (--cpu-time) in the process's user + system CPU time; (ms list, stdout)."""
    cmd = [str(exe), "eval", "coco", "--gt", str(gt), "--dt", str(dt), "--threads", "1",
           "--json", str(out_json)]
    ms = []
    for rep in range(warmup + reps):
        t0, c0 = time.perf_counter(), children_cpu()
        run = subprocess.run(cmd, check=True, capture_output=True, text=True)
        t1, c1 = time.perf_counter(), children_cpu()
        if rep >= warmup:
            ms.append(((c1 - c0) if cpu_time() else (t1 - t0)) * 1e3)
    return ms, run.stdout


def same_bits(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def main():
    parser = argument_parser(__doc__, MIN_REPS)
    parser.add_argument("--cocoapi", type=Path, required=True,
                        help="the PythonAPI folder of a built cocoapi (pycocotools inside)")
    parser.add_argument("--py-reps", type=int, default=3,
                        help="timed pycocotools runs, after one warm-up (3)")
    parser.add_argument("-n", type=int, default=5000, help="images of the generated set (5000)")
    parser.add_argument("--seed", type=int, default=0, help="gen_coco.py seed (0)")
    parser.add_argument("--data-dir", type=Path,
                        help="use syn<N>_s<seed>_{gt,dt_bbox}.json from here instead of "
                             "generating them")
    args = parser.parse_args()
    check_reps(parser, args, MIN_REPS)
    if args.py_reps < 1:
        parser.error("--py-reps must be >= 1")
    refs = import_pycocotools(args.cocoapi.resolve())
    if refs is None:
        return 2
    COCO, COCOeval = refs

    with work_directory(args.keep) as workdir:
        data = args.data_dir or workdir
        prefix = f"syn{args.n}_s{args.seed}"
        gt, dt = data / f"{prefix}_gt.json", data / f"{prefix}_dt_bbox.json"
        if not args.data_dir:
            subprocess.run([sys.executable, str(GEN_COCO), "-n", str(args.n), "--seed",
                            str(args.seed), "--out-dir", str(workdir)], check=True,
                           capture_output=True, text=True)
        exes, flags = build_programs(args, workdir)
        # Rounds: detseg (time_coco, then the tool), then one pycocotools run, so that both
        # see the same load on a shared machine. detseg's figures: over all its timed calls.
        load_pycocotools(COCO, gt, dt)  # warm-up (file cache, imports)
        det_runs, cli_ms, py_load_ms, py_eval_ms, py_total_ms, rounds = [], [], [], [], [], []
        for r in range(args.py_reps):
            ds = run_json([exes["time_coco"], "--reps", args.reps, "--threads", 1, gt, dt])
            det_runs.append(ds)
            ms, cli_text = run_cli(exes["detseg"], gt, dt, workdir / "cli.json", args.reps,
                                   2 if r == 0 else 1)
            cli_ms += ms
            t0 = py_clock()
            coco_gt, coco_dt = load_pycocotools(COCO, gt, dt)
            t1 = py_clock()
            py_stats, py_text = run_pycocotools(COCOeval, coco_gt, coco_dt)
            t2 = py_clock()
            py_load_ms.append((t1 - t0) * 1e3)
            py_eval_ms.append((t2 - t1) * 1e3)
            py_total_ms.append((t2 - t0) * 1e3)
            rounds.append({"py_eval_ms": py_eval_ms[-1], "ds_eval_ms": ds["eval_total_ms"],
                           "py_total_ms": py_total_ms[-1], "cli_ms": statistics.median(ms)})
            print(f"  round {r + 1}/{args.py_reps}: pycocotools load {py_load_ms[-1]:.0f} ms, "
                  f"evaluation {py_eval_ms[-1]:.0f} ms; detseg evaluation "
                  f"{ds['eval_total_ms']['median']:.1f} ms, whole tool run "
                  f"{statistics.median(ms):.1f} ms", file=sys.stderr)
        cli_stats = json.loads((workdir / "cli.json").read_text())["stats"]

    def pooled(key):
        """detseg's phase over the rounds: the median of the per-round medians (quartiles
        likewise)."""
        return {q: statistics.median(d[key][q] for d in det_runs) for q in ("median", "q1", "q3")}

    ds = dict(det_runs[0], **{k: pooled(k) for k in ("load_ms", "evaluate_ms", "accumulate_ms",
                                                      "eval_total_ms")})
    cli = summarize(cli_ms)
    py_load, py_eval, py_total = map(summarize_few, (py_load_ms, py_eval_ms, py_total_ms))
    stats_runs_equal = all(same_bits(d["stats"], det_runs[0]["stats"]) for d in det_runs)
    equal = {"time_coco stats": same_bits(ds["stats"], py_stats) and stats_runs_equal,
             "detseg eval coco --json stats": same_bits(cli_stats, py_stats),
             "detseg eval coco summary text": cli_text == py_text}
    rows = [("load (JSON)", py_load, ds["load_ms"]),
            ("evaluate (match)", None, ds["evaluate_ms"]),
            ("accumulate+summarize", None, ds["accumulate_ms"]),
            ("evaluation", py_eval, ds["eval_total_ms"]),
            ("whole run", py_total, cli)]

    print(f"pycocotools from {args.cocoapi}, numpy {np.__version__}; detseg: {args.cxx} "
          f"{ds['compiler']} {flags}; 1 thread")
    print(f"set: {prefix} ({ds['images']} images, {ds['gt']} GT, {ds['dt']} detections)")
    print(f"{clock_name()} in ms (the tool: process CPU time with --cpu-time): median [Q1, Q3]; "
          f"pycocotools {args.py_reps} runs, detseg {args.reps} per round; x = pycocotools "
          "median / detseg median")
    print("evaluation = evaluate + accumulate + summarize (loaded data); whole run = "
          "pycocotools' load + evaluation in Python vs a complete `detseg eval coco` process\n")
    print_header(f"{'phase':>22} | {'pycocotools':>30} | {'detseg':>26} | {'x':>7}")
    figures = {"flags": flags, "detseg": ds, "cli_ms": cli, "py_load_ms": py_load,
               "py_eval_ms": py_eval, "py_total_ms": py_total, "equal": equal,
               "stats": list(map(float, py_stats)), "rounds": rounds}
    ratios = {}
    for name, ref, ours in rows:
        if ref is None:
            print(f"{name:>22} | {'':>30} | {fmt(ours, 1):>26} |")
            continue
        ratios[name] = ratio(ref, ours)
        print(f"{name:>22} | {fmt(ref, 1):>30} | {fmt(ours, 1):>26} | {ratios[name]:7.1f}")
    figures["ratios"] = ratios
    print("\nequal to pycocotools: " + "; ".join(f"{k}: {'yes' if v else 'NO'}"
                                                   for k, v in equal.items()))
    print("issue 4 targets: " + "; ".join(
        f"{name} {ratios[name]:.1f}x (>= {want:g}x {'met' if ratios[name] >= want else 'NOT met'})"
        for name, want in TARGETS))
    write_json(args.json, figures)
    return 0 if all(equal.values()) else fail("pycocotools")


if __name__ == "__main__":
    sys.exit(main())
