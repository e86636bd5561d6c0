#!/usr/bin/python3
"""Side-by-side timing of pydensecrf and detseg::dense_crf (dense CRF, permutohedral mean field).

Run from anywhere with Debian's interpreter (numpy; OpenCV for the PNG of the tool's run):

    /usr/bin/python3 benchmarks/compare/compare_crf.py [--pydensecrf DIR] [--reps R] [--cpu-time]

pydensecrf is not a Debian package: build it under /tmp (benchmarks/compare/README.md says how;
this script never builds it) and pass the folder holding the built package with --pydensecrf
(default /tmp/pydensecrf when it exists). Without it the script prints pydensecrf's recorded
figures on this machine kind (../shared/docs/reference-semantics.md) beside detseg's.

In one run it makes a seeded 513x513 scene with 21 labels and a coarse noisy prediction (the
generator of tests/reference/gen_crf_cases.py, plus a smooth colour texture and pixel noise, so
that the lattices are as large as a photograph's), writes image.npy, the L x H x W float32
probabilities and their unary energies -log(clip(p, 1e-5, 1)) to a temporary directory, and for
the README and DeepLab v2 ResNet-101 presets, 10 iterations, times:

  pydensecrf   DenseCRF2D + setUnaryEnergy + addPairwiseGaussian + addPairwiseBilateral (the
               lattice build), then inference(10); in a process of its own (peak memory);
  detseg       dense_crf + set_unary_energy + add_crf_preset (build), then inference(10), on 1
               and 2 OpenMP threads (time_crf.cpp, built here with g++ -O3 -fopenmp), in a
               process of its own;

R repetitions after one warm-up (--reps, default 7); times are medians [Q1, Q3] in ms. It
checks parity: the labels (first argmax) agree on >= 99.9% of the pixels and the mean |dQ| is
<= 1e-3, and Q is identical on 1 and 2 threads. Then it times the `detseg crf` tool end to end
(a process reading a PNG and the .npy probabilities, writing a PNG of labels; built here from
apps/detseg/, -lsimdjson -lpng) on the same file, 1 thread, and checks its labels the same way
(--no-cli skips it).

Wall time by default. --cpu-time: the single-threaded figures are process CPU time on both
sides (steadier on a loaded machine); the 2-thread speed-up is always wall time (1 thread /
2 threads, same process, back to back), shown with the CPU time both threads spent relative to
one thread's (the parallel overhead). On a loaded machine OpenMP's default busy waiting
inflates both; OMP_WAIT_POLICY=passive in the environment is passed on to detseg. Peak memory:
ru_maxrss of each process, and its growth over the resident size after loading the inputs.
Exit status 1 if parity fails, 2 on a setup error.
"""

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import (REPO_ROOT, argument_parser, build, check_reps, fail, fmt, np, print_header,
                    work_directory, write_json)

sys.path.insert(0, str(REPO_ROOT / "tests" / "reference"))
import gen_crf_cases as cases  # noqa: E402  (the scene generator and the presets)

SEED = 20261121
SIZE, LABELS, ITERS = 513, 21, 10
PRESETS = ("readme", "deeplab-v2-resnet101")
TEXTURE, NOISE = 25.0, 4.0   # added to the scene (grey levels)
MIN_REPS = 3
DEFAULT_PYDENSECRF = Path("/tmp/pydensecrf")
# pydensecrf on this machine kind, 1 thread, 513x513, 21 labels, 10 iterations (lattice build,
# inference), ms: ../shared/docs/reference-semantics.md
RECORDED = {"readme": (110.0, 615.0), "deeplab-v2-resnet101": (1100.0, 3300.0)}
TARGETS = {"readme": 3.0, "deeplab-v2-resnet101": 3.0}   # issue 5: x pydensecrf, 1 thread
TARGET_2T = 1.7                                            # and 1 -> 2 threads, README preset


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024
    return 0.0


def summary(ms):
    ms = sorted(ms)
    q = np.percentile(ms, [25, 50, 75])
    return {"median": float(q[1]), "q1": float(q[0]), "q3": float(q[2])}


# --- the pydensecrf side (a process of its own) --------------------------------------------

def worker(workdir, preset, reps, iters, path):
    """Runs in a child process: times pydensecrf, prints JSON, saves Q."""
    if path:
        sys.path.insert(0, path)
    import pydensecrf.densecrf as dcrf
    workdir = Path(workdir)
    image = np.ascontiguousarray(np.load(workdir / "image.npy"))
    unary = np.load(workdir / "unary.npy")
    L, H, W = unary.shape
    u = np.ascontiguousarray(unary.reshape(L, H * W))
    rss_inputs = rss_mb()
    (g_sxy, g_w), (b_sxy, b_srgb, b_w) = cases.PRESETS[preset]

    def build():
        d = dcrf.DenseCRF2D(W, H, L)
        d.setUnaryEnergy(u)
        d.addPairwiseGaussian(sxy=g_sxy, compat=g_w)
        d.addPairwiseBilateral(sxy=b_sxy, srgb=b_srgb, rgbim=image, compat=b_w)
        return d

    times = {k: [] for k in ("build_wall", "build_cpu", "infer_wall", "infer_cpu")}
    q = None
    for rep in range(reps + 1):
        w0, c0 = time.perf_counter(), time.process_time()
        d = build()
        w1, c1 = time.perf_counter(), time.process_time()
        q = d.inference(iters)
        w2, c2 = time.perf_counter(), time.process_time()
        del d
        if rep > 0:   # the first is the warm-up
            times["build_wall"].append((w1 - w0) * 1e3)
            times["build_cpu"].append((c1 - c0) * 1e3)
            times["infer_wall"].append((w2 - w1) * 1e3)
            times["infer_cpu"].append((c2 - c1) * 1e3)
    np.save(workdir / f"py_q_{preset}.npy", np.array(q, dtype=np.float32).reshape(L, H, W))
    total_wall = [a + b for a, b in zip(times["build_wall"], times["infer_wall"])]
    total_cpu = [a + b for a, b in zip(times["build_cpu"], times["infer_cpu"])]
    out = {"build": {"wall": summary(times["build_wall"]), "cpu": summary(times["build_cpu"])},
           "inference": {"wall": summary(times["infer_wall"]),
                         "cpu": summary(times["infer_cpu"])},
           "total": {"wall": summary(total_wall), "cpu": summary(total_cpu)},
           "rss_inputs_mb": rss_inputs,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(out))


def find_pydensecrf(path):
    """The folder to put on sys.path ('' when importable as is), or None."""
    candidates = [path] if path else ["", str(DEFAULT_PYDENSECRF)]
    for c in candidates:
        code = ("import sys; sys.path.insert(0, sys.argv[1]) if sys.argv[1] else None; "
                "import pydensecrf.densecrf")
        r = subprocess.run([sys.executable, "-c", code, c or ""], capture_output=True)
        if r.returncode == 0:
            return c
    return None


def run_with_rusage(command):
    """Runs a command and waits for it with wait4: (stdout, wall ms, CPU ms, peak RSS MB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([str(c) for c in command], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1e3
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, [str(c) for c in command],
                                            out.decode(), err.decode())
    return (out.decode(), wall, (usage.ru_utime + usage.ru_stime) * 1e3,
            usage.ru_maxrss / 1024)


# --- inputs, parity ------------------------------------------------------------------------

def texture(rng, h, w, amplitude):
    """Smooth colour texture: Gaussian noise on grids of 64, 16 and 4 pixels (weights 1, 1/2,
    1/4), upsampled bilinearly; H x W x 3."""
    t = np.zeros((h, w, 3))
    for step, weight in ((64, 1.0), (16, 0.5), (4, 0.25)):
        g = rng.normal(0.0, 1.0, (3, h // step + 2, w // step + 2))
        t += weight * cases.bilinear_up(g, h, w).transpose(1, 2, 0)
    return amplitude * t


def make_inputs(workdir):
    rng = np.random.default_rng([SEED, SIZE, LABELS])
    image, gt = cases.make_scene(rng, SIZE, SIZE, LABELS)
    # texture and noise like a photograph's: the lattices (and pydensecrf's times) then come
    # close to pydensecrf's recorded figures; flat regions would make the srgb=3 lattice small
    image = np.clip(np.round(image + texture(rng, SIZE, SIZE, TEXTURE)
                             + rng.normal(0.0, NOISE, image.shape)), 0, 255).astype(np.uint8)
    logits = cases.coarse_logits(rng, gt, LABELS, 8)
    prob = cases.softmax(cases.bilinear_up(logits, SIZE, SIZE)).astype(np.float32)
    unary = -np.log(np.clip(prob, np.float32(1e-5), np.float32(1)))   # unary_from_softmax
    np.save(workdir / "image.npy", image)
    np.save(workdir / "prob.npy", prob)
    np.save(workdir / "unary.npy", unary.astype(np.float32))
    png = None
    try:
        import cv2
        png = workdir / "image.png"
        cv2.imwrite(str(png), np.ascontiguousarray(image[..., ::-1]))
    except ImportError:
        sys.stderr.write("compare_crf: no OpenCV; the tool reads image.npy instead of a PNG\n")
    return gt, png


def parity(labels, ref_q, q=None):
    """(label agreement, mean |dQ| or None) against pydensecrf's Q."""
    ref_labels = ref_q.argmax(axis=0)
    agree = float((labels == ref_labels).mean())
    mean_dq = float(np.abs(q - ref_q).mean()) if q is not None else None
    return agree, mean_dq


def build_tool(args, workdir):
    flags = (["-O3", "-std=c++20", "-fopenmp"] + (["-march=native"] if args.native else [])
             + args.cxxflags.split())
    exe = workdir / "detseg"
    sources = sorted((REPO_ROOT / "apps" / "detseg").glob("*.cpp"))
    subprocess.run([args.cxx, *flags, "-I", str(args.include),
                    "-I", str(REPO_ROOT / "apps" / "detseg"), "-o", str(exe),
                    *map(str, sources), "-lsimdjson", "-lpng"], check=True, capture_output=True,
                   text=True)
    return exe


def load_png_labels(path):
    import cv2
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


# --- main ----------------------------------------------------------------------------------

def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
        return 0
    parser = argument_parser(__doc__, MIN_REPS)
    parser.set_defaults(reps=7)
    parser.add_argument("--pydensecrf", type=Path,
                        help=f"folder holding the built pydensecrf package "
                             f"(default {DEFAULT_PYDENSECRF} when it exists)")
    parser.add_argument("--no-cli", action="store_true", help="do not time the detseg tool")
    args = parser.parse_args()
    check_reps(parser, args, MIN_REPS)
    cpu = args.cpu_time
    clock = "cpu" if cpu else "wall"
    py_path = find_pydensecrf(str(args.pydensecrf) if args.pydensecrf else None)
    if py_path is None:
        sys.stderr.write("compare_crf: pydensecrf is not importable; showing its recorded "
                         "figures (../shared/docs/reference-semantics.md)\n")

    rows, ok = [], True
    with work_directory(args.keep) as workdir:
        gt, png = make_inputs(workdir)
        exe, flags = build(args, "time_crf.cpp", workdir)
        for preset in PRESETS:
            out, _, _, peak = run_with_rusage([exe, "--reps", args.reps, "--preset", preset,
                                               "--iters", ITERS, workdir])
            ours = json.loads(out)
            row = {"preset": preset, "detseg": ours, "detseg_peak_mb": peak}
            if py_path is not None:
                out, _, _, py_peak = run_with_rusage(
                    [sys.executable, __file__, "--worker", workdir, preset, args.reps, ITERS,
                     py_path])
                py = json.loads(out)
                py["peak_rss_mb"] = py_peak
                ref_q = np.load(workdir / f"py_q_{preset}.npy")
                q = np.load(workdir / f"detseg_q_{preset}.npy")
                row["agree"], row["mean_dq"] = parity(q.argmax(axis=0), ref_q, q)
                before = np.load(workdir / "prob.npy").argmax(axis=0)
                row["mIoU"] = {"before": cases.miou(gt, before, LABELS),
                               "pydensecrf": cases.miou(gt, ref_q.argmax(axis=0), LABELS),
                               "detseg": cases.miou(gt, q.argmax(axis=0), LABELS)}
                ok &= row["agree"] >= 0.999 and row["mean_dq"] <= 1e-3
            else:
                b, i = RECORDED[preset]
                py = {"build": {clock: {"median": b, "q1": b, "q3": b}},
                      "inference": {clock: {"median": i, "q1": i, "q3": i}},
                      "total": {clock: {"median": b + i, "q1": b + i, "q3": b + i}},
                      "recorded": True}
            row["pydensecrf"] = py
            ok &= ours["same_q_1_2_threads"]
            rows.append(row)

        cli = None
        if not args.no_cli:
            tool = build_tool(args, workdir)
            image = png if png is not None else workdir / "image.npy"
            cli = {"runs": []}
            reps = max(MIN_REPS, args.reps // 2)
            for preset in PRESETS:
                cmd = [tool, "crf", "--image", image, "--prob", workdir / "prob.npy",
                       "--out", workdir / f"cli_{preset}.png", "--preset", preset,
                       "--threads", "1"]
                walls, cpus, peaks = [], [], []
                for rep in range(reps + 1):
                    _, wall, cpu_ms, peak = run_with_rusage(cmd)
                    if rep > 0:
                        walls.append(wall)
                        cpus.append(cpu_ms)
                        peaks.append(peak)
                entry = {"preset": preset, "wall": summary(walls), "cpu": summary(cpus),
                         "peak_rss_mb": max(peaks), "reps": reps}
                if py_path is not None and png is not None:
                    labels = load_png_labels(workdir / f"cli_{preset}.png")
                    entry["agree"], _ = parity(labels, np.load(workdir / f"py_q_{preset}.npy"))
                    ok &= entry["agree"] >= 0.999
                cli["runs"].append(entry)

    report(args, flags, rows, cli, py_path, clock)
    write_json(args.json, {"flags": flags, "clock": clock, "rows": rows, "cli": cli,
                           "pydensecrf": py_path})
    return 0 if ok else fail("pydensecrf (or 1 vs 2 threads)")


def report(args, flags, rows, cli, py_path, clock):
    recorded = py_path is None
    print(f"pydensecrf: {'recorded figures' if recorded else (py_path or 'on sys.path')}; "
          f"numpy {np.__version__}; detseg: {args.cxx} {rows[0]['detseg']['compiler']} {flags}")
    print(f"{SIZE}x{SIZE} image, {LABELS} labels, {ITERS} iterations; {args.reps} reps; "
          f"{'process CPU time' if clock == 'cpu' else 'wall time'} (2 threads: wall time); "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; "
          "times in ms, median [Q1, Q3]; x = pydensecrf median / detseg median\n")
    print_header(f"{'preset':>21} | {'side':>18} | {'lattice build':>24} | "
                 f"{'inference':>24} | {'total':>24} | {'x':>5} | {'peak MB':>8} {'+MB':>6}")
    for r in rows:
        py, ours = r["pydensecrf"], r["detseg"]
        t1 = ours["threads"]["1"]
        py_total = py["total"][clock]["median"]
        py_mem = ("" if recorded else
                  f"{py['peak_rss_mb']:8.0f} {py['peak_rss_mb'] - py['rss_inputs_mb']:6.0f}")
        print(f"{r['preset']:>21} | {'pydensecrf' + (' (rec.)' if recorded else ''):>18} | "
              f"{fmt(py['build'][clock], 1):>24} | {fmt(py['inference'][clock], 1):>24} | "
              f"{fmt(py['total'][clock], 1):>24} | {'':>5} | {py_mem}")
        mem = f"{r['detseg_peak_mb']:8.0f} {r['detseg_peak_mb'] - ours['rss_inputs_mb']:6.0f}"
        print(f"{'':>21} | {'detseg 1 thread':>18} | {fmt(t1['build'][clock], 1):>24} | "
              f"{fmt(t1['inference'][clock], 1):>24} | {fmt(t1['total'][clock], 1):>24} | "
              f"{py_total / t1['total'][clock]['median']:5.2f} | {mem}")
        if "2" in ours["threads"]:
            t2 = ours["threads"]["2"]
            print(f"{'':>21} | {'detseg 2 threads':>18} | {fmt(t2['build']['wall'], 1):>24} | "
                  f"{fmt(t2['inference']['wall'], 1):>24} | {fmt(t2['total']['wall'], 1):>24} | "
                  f"{py_total / t2['total']['wall']['median']:5.2f} |")
    print()
    for r in rows:
        ours = r["detseg"]
        t1 = ours["threads"]["1"]
        x1 = r["pydensecrf"]["total"][clock]["median"] / t1["total"][clock]["median"]
        target = TARGETS[r["preset"]]
        line = (f"{r['preset']}: 1 thread {x1:.2f}x pydensecrf (target >= {target:g}x "
                f"{'met' if x1 >= target else 'NOT met'})")
        if "2" in ours["threads"]:
            x2 = t1["total"]["wall"]["median"] / ours["threads"]["2"]["total"]["wall"]["median"]
            cpu2 = (ours["threads"]["2"]["total"]["cpu"]["median"]
                    / t1["total"]["cpu"]["median"])
            line += f"; 2 threads {x2:.2f}x 1 thread (wall"
            line += (f", target >= {TARGET_2T:g}x {'met' if x2 >= TARGET_2T else 'NOT met'}"
                     if r["preset"] == "readme" else "")
            line += f"; CPU time of both threads {cpu2:.2f}x one thread's)"
        line += f"; Q identical on 1 and 2 threads: {'yes' if ours['same_q_1_2_threads'] else 'NO'}"
        line += f"; lattice points {ours['lattice_points']}"
        print(line)
        if "agree" in r:
            m = r["mIoU"]
            print(f"  parity: labels agree {100 * r['agree']:.3f}%, mean |dQ| {r['mean_dq']:.2e}; "
                  f"mIoU before {100 * m['before']:.2f}, pydensecrf {100 * m['pydensecrf']:.2f}, "
                  f"detseg {100 * m['detseg']:.2f}")
    if cli:
        print(f"\n`detseg crf` end to end ({cli['runs'][0]['reps']} runs, 1 thread: read PNG + "
              f"{LABELS}x{SIZE}x{SIZE} float32 .npy, unary from probabilities, CRF, write PNG):")
        for e in cli["runs"]:
            extra = (f", labels agree with pydensecrf {100 * e['agree']:.3f}%" if "agree" in e
                     else "")
            print(f"  {e['preset']:>21}: wall {fmt(e['wall'], 1)} ms, CPU {fmt(e['cpu'], 1)} ms, "
                  f"peak {e['peak_rss_mb']:.0f} MB{extra}")


if __name__ == "__main__":
    sys.exit(main())
