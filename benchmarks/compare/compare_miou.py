#!/usr/bin/python3
"""Side-by-side timing of the numpy bincount confusion matrix and detseg::confusion_matrix.

Run from anywhere with Debian's interpreter (numpy):

    /usr/bin/python3 benchmarks/compare/compare_miou.py [--native] [--reps R] [--images N]

In one run it generates seeded 1024x2048 uint8 label maps with 19 classes and ignore index 255
(N images per case, 4 by default), saves them as .npy in a temporary directory, times the usual
numpy confusion matrix

    mask = gt != 255
    np.bincount(19 * gt[mask].astype(np.int64) + pred[mask], minlength=19 * 19)

per image, builds and runs time_miou.cpp (next to this file) on the same files (-O3 at the
baseline ISA unless --native): confusion_matrix::update image by image on one OpenMP thread
(the figure the issue asks for), and, as extras, one update on the whole N x H x W batch on one
and on two threads, and a plain C++ histogram loop. It checks that every matrix equals numpy's
summed matrix and that detseg's mIoU and fwIoU equal numpy's computation from the matrix bit
for bit (nanmean of I / (P + G - I)). Cases:

  scene    Cityscapes-like: Voronoi regions (60 per image) drawn at 256x512 and upsampled x4,
           void (255) on region borders and in one region (about 10% of the pixels); the
           prediction has the regions' seeds moved (sigma 4 px at 256x512) and 10% of them
           relabelled, so its borders differ from the ground truth's;
  speckle  scene with 2% of the prediction's pixels replaced by random classes (isolated
           wrong pixels break the runs detseg counts at once);
  uniform  i.i.d. labels: gt uniform in 0..18 or 255 (10%), prediction uniform in 0..18: no
           spatial structure at all, the worst case for detseg's run-aware path.

Times are ms per image: median [Q1, Q3] of R timed passes over the N images (--reps, 21),
after 3 warm-up passes (2 for the C++ program). Exit status 1 if a result differs, 2 on a setup
error.
"""

import sys

from common import (argument_parser, build, check_reps, fail, fmt, np, print_header, ratio,
                    run_json, time_call, work_directory, write_json)

SEED = 20261121
CLASSES = 19
IGNORE = 255
HEIGHT, WIDTH = 1024, 2048
LOW = 4                      # the regions are drawn at (HEIGHT/LOW) x (WIDTH/LOW)
MIN_REPS = 11
TARGET = ("scene", 20.0)     # issue 4: >= 20x numpy bincount on 1024x2048, 19 classes


def voronoi(h, w, ys, xs, labels):
    yy, xx = np.mgrid[0:h, 0:w]
    best = np.full((h, w), np.inf)
    out = np.zeros((h, w), dtype=np.int64)
    for y, x, lab in zip(ys, xs, labels):
        d = (yy - y) ** 2 + (xx - x) ** 2
        closer = d < best
        best[closer] = d[closer]
        out[closer] = lab
    return out


def scene_pair(rng, regions=60):
    """One Cityscapes-like (gt, pred) pair, uint8 HEIGHTxWIDTH."""
    h, w = HEIGHT // LOW, WIDTH // LOW
    ys, xs = rng.uniform(0, h, regions), rng.uniform(0, w, regions)
    labels = rng.integers(0, CLASSES, regions)
    gt = voronoi(h, w, ys, xs, labels)
    border = np.zeros((h, w), dtype=bool)
    border[:, 1:] |= gt[:, 1:] != gt[:, :-1]
    border[1:, :] |= gt[1:, :] != gt[:-1, :]
    void_region = voronoi(h, w, ys, xs, np.arange(regions)) == rng.integers(0, regions)
    wrong = rng.random(regions) < 0.1
    pred_labels = np.where(wrong, rng.integers(0, CLASSES, regions), labels)
    pred = voronoi(h, w, ys + rng.normal(0, 4, regions), xs + rng.normal(0, 4, regions),
                   pred_labels)
    gt[border | void_region] = IGNORE
    up = np.ones((LOW, LOW), dtype=np.uint8)
    return (np.kron(gt.astype(np.uint8), up), np.kron(pred.astype(np.uint8), up))


def make_case(name, images, seed):
    """(gt, pred): images x HEIGHT x WIDTH uint8."""
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(images):
        if name == "uniform":
            gt = rng.integers(0, CLASSES, (HEIGHT, WIDTH)).astype(np.uint8)
            gt[rng.random((HEIGHT, WIDTH)) < 0.1] = IGNORE
            pred = rng.integers(0, CLASSES, (HEIGHT, WIDTH)).astype(np.uint8)
        else:
            gt, pred = scene_pair(rng)
            if name == "speckle":
                salt = rng.random((HEIGHT, WIDTH)) < 0.02
                pred[salt] = rng.integers(0, CLASSES, int(salt.sum()))
        gts.append(gt)
        preds.append(pred)
    return np.ascontiguousarray(np.stack(gts)), np.ascontiguousarray(np.stack(preds))


def numpy_confusion(gt, pred):
    """The usual numpy confusion matrix of one image (rows = gt, columns = prediction)."""
    mask = gt != IGNORE
    return np.bincount(CLASSES * gt[mask].astype(np.int64) + pred[mask],
                       minlength=CLASSES * CLASSES)


def numpy_miou(cm):
    """mIoU (np.nanmean of I / (P + G - I)) and fwIoU from a C x C matrix, in float64."""
    cm = cm.astype(np.float64)
    inter, pred_area, gt_area = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (pred_area + gt_area - inter)
        freq = gt_area / gt_area.sum()
        fw = np.sum(np.where(gt_area > 0, freq * iou, 0.0))
    return np.nanmean(iou), fw


def per_image(s, n):
    return {k: v / n for k, v in s.items()}


def main():
    parser = argument_parser(__doc__, MIN_REPS)
    parser.add_argument("--images", type=int, default=4, help="images per case (4)")
    args = parser.parse_args()
    check_reps(parser, args, MIN_REPS)
    names = ("scene", "speckle", "uniform")

    with work_directory(args.keep) as workdir:
        exe, flags = build(args, "time_miou.cpp", workdir)
        data = {}
        for k, name in enumerate(names):
            data[name] = make_case(name, args.images, SEED + k)
            np.save(workdir / f"{name}_gt.npy", data[name][0])
            np.save(workdir / f"{name}_pred.npy", data[name][1])
        run = run_json([exe, "--reps", args.reps, "--classes", CLASSES, workdir, *names])
        rows = []
        for name, c in zip(names, run["cases"]):
            gt, pred = data[name]
            n = gt.shape[0]

            def reference():
                return sum(numpy_confusion(gt[k], pred[k]) for k in range(n))

            ref_time, ref = time_call(reference, args.reps)
            ref_time = per_image(ref_time, n)
            ref = ref.reshape(CLASSES, CLASSES).astype(np.uint64)
            ours = np.fromfile(workdir / f"{name}_cm.u64", dtype=np.uint64).reshape(ref.shape)
            miou, fw = numpy_miou(ref)
            our_miou, our_fw = np.fromfile(workdir / f"{name}_miou.f64", dtype=np.float64)
            equal = (np.array_equal(ref, ours) and miou.tobytes() == our_miou.tobytes()
                     and fw.tobytes() == our_fw.tobytes() and c["counts_equal"])
            ignored = float((gt == IGNORE).mean())
            same_pixels = float(((gt == pred) & (gt != IGNORE)).sum() / (gt != IGNORE).sum())
            rows.append({"case": name, "images": n, "ignored": ignored, "aacc": same_pixels,
                         "miou": float(miou), "numpy": ref_time, "detseg_1t": c["update_1t"],
                         "batch_1t": c["batch_1t"], "batch_2t": c["batch_2t"],
                         "naive": c["naive"], "equal": equal,
                         "x_1t": ratio(ref_time, c["update_1t"]),
                         "x_batch_1t": ratio(ref_time, c["batch_1t"]),
                         "x_batch_2t": ratio(ref_time, c["batch_2t"]) if c["batch_2t"] else None,
                         "x_naive": ratio(ref_time, c["naive"])})

    print(f"numpy {np.__version__}; detseg: {args.cxx} {run['compiler']} {flags} "
          f"-I {args.include}")
    print(f"{HEIGHT}x{WIDTH} uint8 label maps, {CLASSES} classes, ignore {IGNORE}; "
          f"{args.images} images per case, {args.reps} timed passes")
    print("times in ms per image: median [Q1, Q3]; x = numpy median / detseg median\n")
    print_header(f"{'case':>8} {'void':>5} {'aAcc':>5} | {'numpy bincount':>24} | "
                 f"{'detseg 1 thread':>22} {'x':>5} | {'batch, 1 thread':>22} {'x':>5} | "
                 f"{'batch, 2 threads':>22} {'x':>5} | {'plain C++ loop':>22} {'x':>5} | equal")
    for r in rows:
        two = (f"{fmt(r['batch_2t']):>22} {r['x_batch_2t']:5.1f}" if r["batch_2t"]
               else f"{'(no OpenMP)':>22} {'':>5}")
        print(f"{r['case']:>8} {r['ignored']:5.2f} {r['aacc']:5.2f} | {fmt(r['numpy']):>24} | "
              f"{fmt(r['detseg_1t']):>22} {r['x_1t']:5.1f} | "
              f"{fmt(r['batch_1t']):>22} {r['x_batch_1t']:5.1f} | {two} | "
              f"{fmt(r['naive']):>22} {r['x_naive']:5.1f} | {'yes' if r['equal'] else 'NO'}")
    by_case = {r["case"]: r for r in rows}
    got = by_case[TARGET[0]]["x_1t"]
    print(f"\nissue 4 target: {TARGET[0]}, 1 thread: {got:.1f}x (>= {TARGET[1]:g}x "
          f"{'met' if got >= TARGET[1] else 'NOT met'})")
    write_json(args.json, {"flags": flags, "run": run, "rows": rows})
    return 0 if all(r["equal"] for r in rows) else fail("numpy")


if __name__ == "__main__":
    sys.exit(main())
