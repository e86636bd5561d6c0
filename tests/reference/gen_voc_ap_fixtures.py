#!/usr/bin/python3
"""Reference fixtures for detseg::voc_ap (tests/metrics/voc_ap.test.cpp).

Written from the PASCAL VOC devkit's published definition (VOCevaldet.m and VOCap.m of the
VOC2007/VOC2012 devkit, and the VOC2007 11-point rule of the VOC2007 paper), in plain numpy,
one detection at a time as the devkit does:

  per class:
    npos = number of non-difficult ground truths
    detections sorted by confidence, descending (MATLAB's sort: stable, ties keep file order)
    for each detection d:
        ovmax = -inf
        for each GT g of d's image and class, in order:
            iw = min(x2) - max(x1) + 1, ih likewise          (the devkit's +1 pixel convention;
            if iw > 0 and ih > 0:                             0 instead of 1 for continuous
                ua = (w_d+1)(h_d+1) + (w_g+1)(h_g+1) - iw*ih   boxes)
                ov = iw*ih / ua
                if ov > ovmax: ovmax, jmax = ov, g           (first GT wins a tie)
        if ovmax >= 0.5:
            if difficult[jmax]: neither TP nor FP
            elif not detected[jmax]: TP; detected[jmax] = True
            else: FP (duplicate)
        else: FP
    rec = cumsum(tp) / npos; prec = cumsum(tp) / (cumsum(tp) + cumsum(fp))
        (0 where tp + fp = 0, as voc_eval.py's division by max(tp + fp, eps))
    VOC2010+ (VOCap.m): mrec = [0, rec, 1], mpre = [0, prec, 0]; mpre[i] = max(mpre[i],
        mpre[i+1]) from the right; ap = sum over i with mrec[i] != mrec[i-1] of
        (mrec[i] - mrec[i-1]) * mpre[i]   (np.sum, as voc_eval.py)
    VOC2007: ap = sum over t in {0, 0.1, ..., 1} of max(prec[rec >= t]) / 11 (0 if none),
        added in order; t = i / 10 ('exact') or i * 0.1 (np.arange(0., 1.1, 0.1), 'arange')
    a class with npos = 0 has ap = -1 and is left out of the mean (np.mean).

Run with Debian's interpreter: /usr/bin/python3 tests/reference/gen_voc_ap_fixtures.py
[--out-dir DIR]. Writes, per case, into tests/data/voc/:
  <case>_gts.npy       G x 7 float64: image_id, class_id, x1, y1, x2, y2, difficult
  <case>_dets.npy      D x 7 float64: image_id, class_id, score, x1, y1, x2, y2
  <case>_expected.npy  K x 14 float64: class_id, npos, ndifficult, ndets, then for the
                       inclusive (+1) and the continuous convention: tp, fp, ap all-point,
                       ap 11-point exact grid, ap 11-point arange grid
  <case>_mean.npy      6 float64: the means of the six AP columns
  <case>_curve.npy     D' x 3 float64: class_id, recall, precision (inclusive convention,
                       classes with npos > 0, detections in confidence order)
Deterministic (seeded); a rerun reproduces every file byte for byte.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

SEED = 20261121
HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "data" / "voc"


def overlap(d, g, offset):
    ixmin, iymin = max(d[0], g[0]), max(d[1], g[1])
    ixmax, iymax = min(d[2], g[2]), min(d[3], g[3])
    iw = (ixmax - ixmin) + offset
    ih = (iymax - iymin) + offset
    if not (iw > 0 and ih > 0):
        return None
    inter = iw * ih
    ad = ((d[2] - d[0]) + offset) * ((d[3] - d[1]) + offset)
    ag = ((g[2] - g[0]) + offset) * ((g[3] - g[1]) + offset)
    return inter / ((ad + ag) - inter)


def evaluate_class(gts, dets, cls, offset, thr=0.5):
    """One class: (npos, ndiff, ndets, tp, fp, rec, prec) with rec/prec as float64 arrays."""
    g = gts[gts[:, 1] == cls]
    d = dets[dets[:, 1] == cls]
    npos = int(np.sum(g[:, 6] == 0))
    ndiff = int(np.sum(g[:, 6] != 0))
    by_image = {}
    for row in g:
        by_image.setdefault(float(row[0]), []).append(
            {"box": [float(v) for v in row[2:6]], "difficult": bool(row[6]), "det": False})
    order = np.argsort(-d[:, 2], kind="stable")
    tp = np.zeros(len(d))
    fp = np.zeros(len(d))
    for k, i in enumerate(order):
        box = [float(v) for v in d[i, 3:7]]
        objects = by_image.get(float(d[i, 0]), [])
        ovmax, jmax = -np.inf, -1
        for j, obj in enumerate(objects):
            ov = overlap(box, obj["box"], offset)
            if ov is not None and ov > ovmax:
                ovmax, jmax = ov, j
        if ovmax >= thr:
            obj = objects[jmax]
            if obj["difficult"]:
                continue
            if not obj["det"]:
                tp[k] = 1
                obj["det"] = True
            else:
                fp[k] = 1
        else:
            fp[k] = 1
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    if npos == 0:
        return npos, ndiff, len(d), int(tp.sum()), int(fp.sum()), None, None
    rec = ctp / float(npos)
    denom = ctp + cfp
    prec = np.where(denom > 0, ctp / np.where(denom > 0, denom, 1.0), 0.0)
    return npos, ndiff, len(d), int(tp.sum()), int(fp.sum()), rec, prec


def ap_all_point(rec, prec):
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


def ap_eleven_point(rec, prec, grid):
    ap = 0.0
    thresholds = [i / 10.0 for i in range(11)] if grid == "exact" else np.arange(0.0, 1.1, 0.1)
    assert len(thresholds) == 11
    for t in thresholds:
        p = float(np.max(prec[rec >= t])) if np.any(rec >= t) else 0.0
        ap = ap + p / 11.0
    return ap


# --- cases ----------------------------------------------------------------------------------------

def random_case(rng, n_images, n_classes, integer, width=500.0, height=375.0):
    gts, dets = [], []
    for im in range(n_images):
        image_id = 1000 + 7 * im
        for _ in range(rng.integers(0, 6)):
            cls = int(rng.integers(0, n_classes))
            w = float(np.exp(rng.uniform(np.log(8), np.log(300))))
            h = float(np.exp(rng.uniform(np.log(8), np.log(300))))
            x1 = rng.uniform(0, width - w)
            y1 = rng.uniform(0, height - h)
            box = np.array([x1, y1, x1 + w, y1 + h])
            if integer:
                box = np.round(box)
            difficult = float(rng.random() < 0.12)
            gts.append([image_id, cls, *box, difficult])
            # detections of this object: 0-3, jittered; sometimes the class is wrong
            for _ in range(rng.integers(0, 4)):
                j = box + rng.normal(0, 0.12, 4) * np.array([w, h, w, h])
                j = np.array([min(j[0], j[2]), min(j[1], j[3]), max(j[0], j[2]), max(j[1], j[3])])
                if integer:
                    j = np.round(j)
                c = cls if rng.random() < 0.9 else int(rng.integers(0, n_classes))
                dets.append([image_id, c, rng.random(), *j])
        for _ in range(rng.integers(0, 3)):  # background
            w, h = rng.uniform(5, 200, 2)
            x1, y1 = rng.uniform(0, width - w), rng.uniform(0, height - h)
            box = np.array([x1, y1, x1 + w, y1 + h])
            if integer:
                box = np.round(box)
            dets.append([image_id, int(rng.integers(0, n_classes)), rng.beta(1, 4), *box])
    dets = np.array(dets, dtype=np.float64).reshape(-1, 7)
    # score ties: a third of the scores rounded to 1/20
    q = rng.random(len(dets)) < 0.33
    dets[q, 2] = np.round(dets[q, 2] * 20) / 20
    # shuffle the detections (file order only breaks ties)
    dets = dets[rng.permutation(len(dets))]
    return np.array(gts, dtype=np.float64).reshape(-1, 7), dets


def edge_case():
    """Hand-made: overlap exactly 0.5, duplicates, difficult first, recall exactly 3/10 and
    7/10 (npos = 10), a class with only difficult GT, one with only detections, one with GT
    and no detections, a zero-size detection, GT on an image without detections."""
    gts, dets = [], []
    # class 1: 10 objects on images 1..10, 100x100 boxes at (0,0)-(99,99) in pixels
    for im in range(1, 11):
        gts.append([im, 1, 0, 0, 99, 99, 0])
    # 3 TPs with score 0.9, then 2 FPs, then 4 TPs, then an FP: recall 0.3 and 0.7 reached
    for im in (1, 2, 3):
        dets.append([im, 1, 0.9, 0, 0, 99, 99])
    dets.append([1, 1, 0.8, 0, 0, 99, 99])        # duplicate on image 1: FP
    dets.append([11, 1, 0.8, 0, 0, 99, 99])       # image without GT: FP
    for im in (4, 5, 6, 7):
        dets.append([im, 1, 0.7, 0, 0, 99, 99])
    dets.append([8, 1, 0.6, 200, 200, 250, 250])  # no overlap: FP
    # overlap exactly 0.5 with the +1 convention: GT 0..99 (100 px), det 0..49 (50 px): 0.5
    dets.append([9, 1, 0.5, 0, 0, 49, 99])
    # continuous: GT 0..99 area 99*99; det 0..49 → 49*99/(99*99) < 0.5: FP there
    # class 2: a difficult GT and a normal one on the same image; the detection on the
    # difficult one comes first (ignored), then a TP, then a second on the difficult (ignored)
    gts.append([20, 2, 10, 10, 60, 60, 1])
    gts.append([20, 2, 100, 100, 150, 150, 0])
    dets.append([20, 2, 0.95, 10, 10, 60, 60])
    dets.append([20, 2, 0.9, 100, 100, 150, 150])
    dets.append([20, 2, 0.85, 12, 12, 60, 60])
    dets.append([20, 2, 0.5, 0, 0, 0, 0])        # zero-size detection: FP
    # the detection's best GT is an already matched one, although another GT also overlaps
    # >= 0.5: the devkit counts it FP (max over all GTs)
    gts.append([21, 2, 0, 0, 99, 99, 0])
    gts.append([21, 2, 20, 0, 119, 99, 0])
    dets.append([21, 2, 0.8, 0, 0, 99, 99])
    dets.append([21, 2, 0.79, 5, 0, 104, 99])    # best: GT 0 (claimed) → FP
    # equal overlap with two GTs: the first in order wins
    gts.append([22, 2, 0, 0, 9, 9, 0])
    gts.append([22, 2, 10, 0, 19, 9, 0])
    dets.append([22, 2, 0.7, 5, 0, 14, 9])      # 50/150 each < 0.5: FP
    dets.append([22, 2, 0.7, 0, 0, 19, 9])      # 100/200 = 0.5 each: first GT wins: TP
    dets.append([22, 2, 0.7, 0, 0, 19, 9])      # again: best is GT 0 (claimed): FP
    # class 3: only difficult GT, and a detection on it
    gts.append([30, 3, 0, 0, 50, 50, 1])
    dets.append([30, 3, 0.5, 0, 0, 50, 50])
    # class 4: only detections
    dets.append([31, 4, 0.5, 0, 0, 50, 50])
    # class 5: GT, no detections
    gts.append([32, 5, 0, 0, 50, 50, 0])
    # class 6: only ignored detections before the first TP (precision 0 there)
    gts.append([33, 6, 0, 0, 50, 50, 1])
    gts.append([33, 6, 100, 100, 150, 150, 0])
    dets.append([33, 6, 0.9, 0, 0, 50, 50])
    dets.append([33, 6, 0.8, 100, 100, 150, 150])
    return np.array(gts, dtype=np.float64), np.array(dets, dtype=np.float64)


def expected(gts, dets):
    classes = np.unique(np.concatenate([gts[:, 1], dets[:, 1]]))
    rows, curve = [], []
    for cls in classes:
        row = [cls]
        for conv, offset in (("inclusive", 1.0), ("continuous", 0.0)):
            npos, ndiff, nd, tp, fp, rec, prec = evaluate_class(gts, dets, cls, offset)
            if conv == "inclusive":
                row += [npos, ndiff, nd]
                if rec is not None:
                    curve += [[cls, r, p] for r, p in zip(rec, prec)]
            aps = ([-1.0] * 3 if rec is None else
                   [ap_all_point(rec, prec), ap_eleven_point(rec, prec, "exact"),
                    ap_eleven_point(rec, prec, "arange")])
            row += [tp, fp, *aps]
        rows.append(row)
    table = np.array(rows, dtype=np.float64)
    means = []
    for col in (6, 7, 8, 11, 12, 13):
        v = table[:, col]
        v = v[v != -1]
        means.append(float(np.mean(v)) if v.size else -1.0)
    return table, np.array(means), np.array(curve, dtype=np.float64).reshape(-1, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=OUT)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    cases = {
        "pixels": random_case(rng, 80, 6, integer=True),
        "continuous": random_case(rng, 60, 4, integer=False),
        "edge": edge_case(),
    }
    for name, (gts, dets) in cases.items():
        table, means, curve = expected(gts, dets)
        files = {"gts": gts, "dets": dets, "expected": table, "mean": means, "curve": curve}
        for suffix, arr in files.items():
            path = args.out_dir / f"{name}_{suffix}.npy"
            np.save(path, np.ascontiguousarray(arr, dtype=np.float64))
            back = np.load(path)
            assert back.tobytes() == np.ascontiguousarray(arr, dtype=np.float64).tobytes()
        grid_diff = int(np.sum(table[:, 7] != table[:, 8]) + np.sum(table[:, 12] != table[:, 13]))
        conv_diff = int(np.sum(table[:, 6] != table[:, 11]))
        print(f"{name}: {len(gts)} GT ({int(gts[:, 6].sum())} difficult), {len(dets)} detections, "
              f"{len(table)} classes; mAP all-point {means[0]:.6f}, 11-point {means[1]:.6f} "
              f"(arange grid {means[2]:.6f}); classes where the grids differ: {grid_diff}; "
              f"where +1 changes all-point AP: {conv_diff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
