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

import os
import sys

from common import (argument_parser, build, check_reps, clock_name, fail, fmt, import_references,
                    jittered_boxes, make_objects, np, print_header, ratio, run_json, time_call,
                    work_directory, write_json)

SEED = 20240607
MIN_REPS = 15
CASES = (
    ("n1000_m1000_f32", 1000, 1000, np.float32),
    ("n10000_m1000_f32", 10000, 1000, np.float32),
    ("n1000_m1000_f64", 1000, 1000, np.float64),
    ("n10000_m1000_f64", 10000, 1000, np.float64),
)


def make_boxes(rng, objects, n, background=0.15):
    """n boxes (float64, xyxy): most jittered around `objects`, some anywhere, a few points."""
    boxes, _, _ = jittered_boxes(rng, objects, n, background)
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


def bit_exact(reference, ours):
    """(equal, nan cells, differing cells): NaN in `reference` must be +0 in `ours`."""
    if reference.shape != ours.shape or reference.dtype != ours.dtype:
        return False, 0, -1
    uint = np.uint32 if reference.dtype == np.float32 else np.uint64
    nan = np.isnan(reference)
    expected = np.where(nan, reference.dtype.type(0), reference)
    diff = expected.view(uint) != ours.view(uint)
    return not diff.any(), int(nan.sum()), int(diff.sum())


def main():
    parser = argument_parser(__doc__, MIN_REPS)
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and detseg (1)")
    args = parser.parse_args()
    check_reps(parser, args, MIN_REPS)
    if args.threads < 1:
        parser.error("--threads must be >= 1")

    refs = import_references("torch", "torchvision", "torchvision.ops")
    if refs is None:
        return 2
    torch, torchvision, ops = refs

    torch.set_num_threads(args.threads)
    with work_directory(args.keep) as workdir:
        exe, flags = build(args, "time_pairwise_iou.cpp", workdir)
        for name, n, m, dtype in CASES:
            a, b = make_case(n, m, dtype, SEED + n + m)
            np.save(workdir / f"{name}_a.npy", a)
            np.save(workdir / f"{name}_b.npy", b)

        cpp = run_json([exe, "--threads", args.threads, "--reps", args.reps, workdir]
                       + [c[0] for c in CASES])
        by_case = {c["case"]: c for c in cpp["cases"]}

        rows, ok = [], True
        for name, n, m, dtype in CASES:
            ta = torch.from_numpy(np.load(workdir / f"{name}_a.npy"))
            tb = torch.from_numpy(np.load(workdir / f"{name}_b.npy"))
            tv, reference = time_call(lambda: ops.box_iou(ta, tb), args.reps)
            reference = reference.numpy()
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
                "ratio_into": ratio(tv, c["into_ms"]),
                "ratio_returned": ratio(tv, c["returned_ms"]),
                "bit_exact": equal, "nan_cells": nan_cells, "differing_cells": diff_cells,
                "nonzero_fraction": float(np.count_nonzero(ours) / ours.size),
            })

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"numpy {np.__version__}; torch threads {torch.get_num_threads()}; "
          f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r}")
    print(f"detseg: g++ {cpp['compiler']} {flags} -I {args.include}; threads {cpp['threads']}; "
          f"reps {args.reps}")
    print(f"times in ms ({clock_name()}): median [Q1, Q3]; x = torchvision median / detseg "
          "median;")
    print("'into' writes a preallocated output; 'returned' allocates the N x M tensor, as")
    print("torchvision does; 'fill' = std::fill of a prefaulted N x M buffer (the store-bandwidth")
    print("bound for writing the result), memset for reference; GB/s = fill rate.\n")
    print_header(f"{'size':>11} {'dtype':>7} | {'torchvision':>24} | {'detseg into':>24} | "
                 f"{'detseg returned':>24} | {'x into':>6} {'x ret':>6} | {'fill':>6} "
                 f"{'memset':>6} {'GB/s':>5} | bit-exact")
    for r in rows:
        note = f"{r['nan_cells']} NaN cells masked"
        if not r["bit_exact"]:
            note += f", {r['differing_cells']} cells differ"
        print(f"{r['n']:>5}x{r['m']:<5} {r['dtype']:>7} | {fmt(r['torchvision_ms'], 2):>24} | "
              f"{fmt(r['detseg_into_ms'], 2):>24} | {fmt(r['detseg_returned_ms'], 2):>24} | "
              f"{r['ratio_into']:6.1f} {r['ratio_returned']:6.1f} | "
              f"{r['fill_ms']['median']:6.2f} {r['memset_ms']['median']:6.2f} "
              f"{r['fill_gb_per_s']:5.1f} | "
              f"{'yes' if r['bit_exact'] else 'NO'} ({note})")
    target = next(r for r in rows if r["case"] == "n10000_m1000_f32")
    print(f"\ntarget >= 50x torchvision at 10000x1000 float32: into {target['ratio_into']:.1f}x, "
          f"returned {target['ratio_returned']:.1f}x; detseg into / fill bound = "
          f"{target['detseg_into_ms']['median'] / target['fill_ms']['median']:.1f}")
    write_json(args.json, {"flags": flags, "cpp": cpp, "rows": rows})
    return 0 if ok else fail("torchvision")


if __name__ == "__main__":
    sys.exit(main())
