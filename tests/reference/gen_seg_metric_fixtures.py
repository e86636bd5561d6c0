#!/usr/bin/python3
"""Fixtures for detseg's confusion matrix and mIoU family (tests/metrics/seg_metrics.test.cpp).

The reference is a numpy re-statement of mmsegmentation 0.x's published definition
(``mmseg/core/evaluation/metrics.py``), written from its documented steps, not copied:

- ``intersect_and_union(pred, label, C, ignore_index)``: keep the pixels where
  ``label != ignore_index``; ``intersect = pred[pred == label]``; the areas are
  ``torch.histc(x.float(), bins=C, min=0, max=C-1)`` of intersect, pred and label, so values
  outside [0, C-1] fall out of every histogram; ``union = P + G - I``.
- ``total_intersect_and_union``: the four areas summed over the images in float64.
- ``total_area_to_metrics(..., ['mIoU', 'mDice', 'mFscore'], nan_to_num, beta)`` in float64:
  ``aAcc = sum(I)/sum(G)``, ``IoU = I/U``, ``Acc = I/G``, ``Dice = 2*I/(P+G)``,
  ``Precision = I/P``, ``Recall = I/G``, ``Fscore = (1+beta**2)*(p*r)/((beta**2*p)+r)`` per class;
  then ``np.nan_to_num(v, nan=nan_to_num)`` on every value when nan_to_num is given.
- the summary: ``np.nanmean`` of each per-class array (mmseg then rounds x100 to 2 decimals for
  display; the fixtures keep the raw float64 mean).
- fwIoU (not in mmseg): ``sum(where(G > 0, (G / sum(G)) * IoU, 0))``, NaN when ``sum(G) == 0``.

When torch is importable (Debian's python3 has 1.13) every case is also run through mmseg's steps
with real ``torch.histc`` and torch float64 tensors, and the script stops unless both agree bit
for bit.

Writes into ``tests/data/seg_metrics/`` (``--out-dir``), for every case NAME listed in
``cases.txt``:

- ``NAME_gt.npy``, ``NAME_pred.npy``: label maps (N x H x W, N = 1 or 2; dtypes uint8, int8,
  uint16, int32, int64);
- ``NAME_config.npy`` float64: [num_classes, has_ignore, ignore_index, mmseg_policy (0 = error,
  1 = mmseg), has_nan_to_num, nan_to_num, beta];
- ``NAME_areas.npy`` int64 C x 4: I, U, P, G;
- ``NAME_perclass.npy`` float64 C x 5: IoU, Acc, Dice, Precision, Fscore;
- ``NAME_summary.npy`` float64 [aAcc, mIoU, mAcc, mDice, mPrecision, mFscore, fwIoU].

and, for the peer cases from ``../shared/testdata/peer_cases/torchmetrics_test_segmentation.json``
listed in ``peer_cases.txt`` (``PEER_gt.npy``, ``PEER_pred.npy``, ``PEER_config.npy`` as above,
and ``PEER_expect.npy`` float64 K x 4 rows [metric (0 IoU, 1 Dice), class (-1 = the mean),
upstream expected value (NaN = NaN), absolute tolerance]): the expected values are upstream's,
not recomputed.

``manifest.json`` records the versions, the seed and every case. Deterministic (seeded
``numpy.random.default_rng``; no timestamps).

    /usr/bin/python3 tests/reference/gen_seg_metric_fixtures.py [--out-dir DIR] [--peer-dir DIR]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "seg_metrics"
DEFAULT_PEER_DIR = REPO_ROOT / ".." / "shared" / "testdata" / "peer_cases"
SEED = 20261121
SUMMARY = ("aAcc", "mIoU", "mAcc", "mDice", "mPrecision", "mFscore", "fwIoU")
PERCLASS = ("IoU", "Acc", "Dice", "Precision", "Fscore")


# --- the reference ------------------------------------------------------------------------------

def histc(values, num_classes):
    """torch.histc(values.float(), bins=C, min=0, max=C-1) for integer values: bin k counts the
    values equal to k; anything outside [0, C-1] is dropped (exact for |v| < 2**24)."""
    v = values.astype(np.int64).ravel()
    v = v[(v >= 0) & (v <= num_classes - 1)]
    return np.bincount(v, minlength=num_classes).astype(np.float64)


def intersect_and_union(pred, label, num_classes, ignore_index):
    if ignore_index is None:
        mask = np.ones(label.shape, dtype=bool)
    else:
        mask = label.astype(np.int64) != ignore_index
    pred, label = pred[mask].astype(np.int64), label[mask].astype(np.int64)
    intersect = pred[pred == label]
    area_i = histc(intersect, num_classes)
    area_p = histc(pred, num_classes)
    area_l = histc(label, num_classes)
    return area_i, area_p + area_l - area_i, area_p, area_l


def total_intersect_and_union(preds, labels, num_classes, ignore_index):
    totals = [np.zeros(num_classes, dtype=np.float64) for _ in range(4)]
    for pred, label in zip(preds, labels):
        for total, area in zip(totals, intersect_and_union(pred, label, num_classes,
                                                           ignore_index)):
            total += area
    return totals


def f_score(precision, recall, beta):
    return (1 + beta ** 2) * (precision * recall) / ((beta ** 2 * precision) + recall)


def total_area_to_metrics(area_i, area_u, area_p, area_l, nan_to_num, beta):
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = {"aAcc": area_i.sum() / area_l.sum(),
               "IoU": area_i / area_u,
               "Acc": area_i / area_l,
               "Dice": 2 * area_i / (area_p + area_l),
               "Precision": area_i / area_p}
        recall = area_i / area_l
        ret["Fscore"] = np.array([f_score(p, r, beta) for p, r in zip(ret["Precision"], recall)],
                                 dtype=np.float64)
        total_l = area_l.sum()
        freq = area_l / total_l
        ret["fwIoU"] = (np.sum(np.where(area_l > 0, freq * ret["IoU"], 0.0)) if total_l > 0
                        else np.float64(np.nan))
    if nan_to_num is not None:
        ret = {k: np.nan_to_num(v, nan=nan_to_num) for k, v in ret.items()}
    return ret


def reference(preds, labels, cfg):
    areas = total_intersect_and_union(preds, labels, cfg["num_classes"], cfg["ignore_index"])
    m = total_area_to_metrics(*areas, cfg["nan_to_num"], cfg["beta"])
    with np.errstate(invalid="ignore"), np.testing.suppress_warnings() as sup:
        sup.filter(RuntimeWarning)
        summary = [m["aAcc"]] + [np.nanmean(m[k]) for k in PERCLASS] + [m["fwIoU"]]
    perclass = np.stack([m[k] for k in PERCLASS], axis=1)
    return np.stack(areas).T, perclass, np.array(summary, dtype=np.float64)


def torch_crosscheck(torch, preds, labels, cfg, areas, perclass):
    """mmseg's steps with torch.histc and torch float64 tensors; must equal the numpy reference."""
    c, ignore = cfg["num_classes"], cfg["ignore_index"]
    totals = [torch.zeros(c, dtype=torch.float64) for _ in range(4)]
    for pred, label in zip(preds, labels):
        p = torch.from_numpy(pred.astype(np.int64))
        lab = torch.from_numpy(label.astype(np.int64))
        if ignore is not None:
            mask = lab != ignore
            p, lab = p[mask], lab[mask]
        inter = p[p == lab]
        ai = torch.histc(inter.float(), bins=c, min=0, max=c - 1)
        ap = torch.histc(p.float(), bins=c, min=0, max=c - 1)
        al = torch.histc(lab.float(), bins=c, min=0, max=c - 1)
        for t, a in zip(totals, (ai, ap + al - ai, ap, al)):
            t += a
    ti, tu, tp, tl = totals
    got = np.stack([t.numpy() for t in totals]).T
    assert np.array_equal(got, areas.astype(np.float64)), "torch areas differ"
    prec = ti / tp
    rec = ti / tl
    fs = torch.tensor([f_score(x[0], x[1], cfg["beta"]) for x in zip(prec, rec)])
    tm = torch.stack([ti / tu, ti / tl, 2 * ti / (tp + tl), prec, fs], dim=1).numpy()
    if cfg["nan_to_num"] is not None:
        tm = np.nan_to_num(tm, nan=cfg["nan_to_num"])
    same = (tm == perclass) | (np.isnan(tm) & np.isnan(perclass))
    assert same.all(), "torch per-class metrics differ"


# --- label maps ---------------------------------------------------------------------------------

def voronoi_map(rng, h, w, classes, seeds):
    """Piecewise-constant map: nearest of `seeds` random points, each with a class of `classes`."""
    ys, xs = rng.uniform(0, h, seeds), rng.uniform(0, w, seeds)
    lab = rng.choice(classes, seeds)
    yy, xx = np.mgrid[0:h, 0:w]
    d = (yy[..., None] - ys) ** 2 + (xx[..., None] - xs) ** 2
    return lab[np.argmin(d, axis=2)]


def make_pair(rng, n, h, w, present, pred_extra=(), ignore=255, ignore_frac=0.08, noise=0.05):
    """n (gt, pred) pairs: gt from `present` classes with ignore blobs; pred = gt with some regions
    relabelled (also to `pred_extra` classes, absent from gt) and a little salt noise."""
    gts, preds = [], []
    for _ in range(n):
        gt = voronoi_map(rng, h, w, np.asarray(present), 14)
        pred = gt.copy()
        relabel = voronoi_map(rng, h, w, np.arange(4), 10) == 0
        pool = np.asarray(list(present) + list(pred_extra))
        pred[relabel] = rng.choice(pool, int(relabel.sum()))
        salt = rng.random((h, w)) < noise
        pred[salt] = rng.choice(pool, int(salt.sum()))
        if ignore is not None:
            blob = voronoi_map(rng, h, w, np.arange(12), 16) == 0
            gt[blob | (rng.random((h, w)) < ignore_frac * 0.25)] = ignore
        gts.append(gt)
        preds.append(pred)
    return np.stack(gts), np.stack(preds)


def config(num_classes, ignore_index=255, mmseg=False, nan_to_num=None, beta=1):
    return {"num_classes": num_classes, "ignore_index": ignore_index, "mmseg": mmseg,
            "nan_to_num": nan_to_num, "beta": beta}


def config_array(cfg):
    ign = cfg["ignore_index"]
    ntn = cfg["nan_to_num"]
    return np.array([cfg["num_classes"], ign is not None, 0 if ign is None else ign,
                     1 if cfg["mmseg"] else 0, ntn is not None, 0.0 if ntn is None else ntn,
                     cfg["beta"]], dtype=np.float64)


def cases(rng):
    """(name, gt, pred, config, description)."""
    out = []

    def add(name, gt, pred, cfg, what):
        out.append((name, gt, pred, cfg, what))

    gt, pred = make_pair(rng, 1, 64, 96, [0, 1])
    add("c2", gt.astype(np.uint8), pred.astype(np.uint8), config(2),
        "binary, uint8 64x96, ignore 255")
    gt, pred = make_pair(rng, 2, 64, 96, [0, 1, 2, 5, 7, 8, 10, 11, 13, 18], pred_extra=[3, 4])
    add("c19", gt.astype(np.uint8), pred.astype(np.uint8), config(19),
        "Cityscapes-like, 2 images uint8 64x96; classes 6, 9, 12, 14-17 absent from both, "
        "3 and 4 only predicted")
    add("c19_nan_to_num", gt.astype(np.uint8), pred.astype(np.uint8), config(19, nan_to_num=0.0),
        "as c19 with nan_to_num=0 (absent classes count as 0)")
    gt, pred = make_pair(rng, 1, 64, 96, [0, 1, 2, 3, 9, 12, 15, 20], pred_extra=[5])
    add("c21", gt.astype(np.uint8), pred.astype(np.uint8), config(21),
        "VOC-like, uint8 64x96, ignore 255")
    add("c21_beta2", gt.astype(np.uint8), pred.astype(np.uint8), config(21, beta=2),
        "as c21 with F-score beta = 2")
    gt, pred = make_pair(rng, 1, 64, 96, list(rng.choice(150, 30, replace=False)),
                         pred_extra=list(range(140, 150)))
    add("c150", gt.astype(np.uint8), pred.astype(np.uint8), config(150),
        "ADE20K-like, uint8 64x96, 30 classes present, ignore 255")
    gt, pred = make_pair(rng, 1, 32, 48, list(range(0, 150, 3)), pred_extra=[1, 2])
    add("c150_uint16", gt.astype(np.uint16), pred.astype(np.uint16), config(150),
        "uint16 32x48, ignore 255")
    gt, pred = make_pair(rng, 1, 32, 48, list(range(21)), ignore=None)
    add("c21_int32_no_ignore", gt.astype(np.int32), pred.astype(np.int32),
        config(21, ignore_index=None), "int32 32x48, no ignore index, every class present")

    # mmseg's counting of out-of-range labels: predictions and gt values 19..40 and 254 beside the
    # ignore index, both out of range at some pixels (equal and different values).
    gt, pred = make_pair(rng, 1, 64, 96, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    oob_p = rng.random(gt.shape) < 0.04
    pred[oob_p] = rng.choice([19, 20, 33, 254, 255], int(oob_p.sum()))
    oob_g = rng.random(gt.shape) < 0.04
    gt[oob_g] = rng.choice([19, 25, 40, 254], int(oob_g.sum()))
    both = rng.random(gt.shape) < 0.01
    gt[both] = 25
    pred[both] = np.where(rng.random(int(both.sum())) < 0.5, 25, 33)
    add("c19_mmseg_oob", gt.astype(np.uint8), pred.astype(np.uint8), config(19, mmseg=True),
        "mmseg policy: out-of-range gt and predictions (19..40, 254, 255 in pred), uint8")
    gt, pred = make_pair(rng, 1, 24, 32, list(range(19)), ignore=-1)
    oob = rng.random(gt.shape) < 0.05
    pred[oob] = rng.choice([-5, -1, 19, 127], int(oob.sum()))
    oob = rng.random(gt.shape) < 0.05
    gt[oob] = rng.choice([-7, 19, 100], int(oob.sum()))
    add("c19_int8_mmseg", gt.astype(np.int8), pred.astype(np.int8),
        config(19, ignore_index=-1, mmseg=True),
        "int8 24x32, ignore -1, negative and large out-of-range values, mmseg policy")
    add("c19_int64_mmseg", gt.astype(np.int64)[:, :16, :16], pred.astype(np.int64)[:, :16, :16],
        config(19, ignore_index=-1, mmseg=True, nan_to_num=0.0),
        "int64 16x16 crop of c19_int8_mmseg, mmseg policy, nan_to_num 0")

    gt, pred = make_pair(rng, 1, 32, 48, [0, 4, 8])
    add("c21_perfect", gt.astype(np.uint8), np.where(gt == 255, 0, gt).astype(np.uint8),
        config(21), "prediction equals gt (ignore pixels predicted 0)")
    add("c2_all_ignored", np.full((1, 16, 16), 255, np.uint8),
        rng.integers(0, 2, (1, 16, 16)).astype(np.uint8), config(2),
        "every gt pixel ignored: every area 0, every metric NaN")
    add("c2_all_ignored_nan_to_num", np.full((1, 16, 16), 255, np.uint8),
        rng.integers(0, 2, (1, 16, 16)).astype(np.uint8), config(2, nan_to_num=0.0),
        "as c2_all_ignored with nan_to_num=0")
    return out


# --- peer cases (torchmetrics) ------------------------------------------------------------------

def peer_cases(peer_dir):
    """torchmetrics cases whose conventions match a detseg mode: global counts, NaN for a class
    absent from both, nanmean ('macro') over the rest. (name, gt, pred, config, expect, what)."""
    data = json.loads((peer_dir / "torchmetrics_test_segmentation.json").read_text())
    by_id = {c["id"]: c for c in data["cases"]}
    nan = float("nan")
    out = []

    c = by_id["MeanIoU/test_mean_iou_absent_class"]
    t, p = np.array(c["inputs"]["target"]), np.array(c["inputs"]["preds"])
    e = c["expected"]["per_class=True (class metric, and functional averaged over batch)"]
    out.append(("tm_mean_iou_absent_class", t, p, config(3, ignore_index=None),
                [(0, k, v if v != -1.0 else nan, 0.0) for k, v in enumerate(e)]
                + [(0, -1, c["expected"]["per_class=False"], 0.0)],
                c["id"] + ": torchmetrics reports -1 for the absent class, detseg NaN"))
    c = by_id["MeanIoU/test_mean_iou_perfect_prediction"]
    t, p = np.array(c["inputs"]["target"]), np.array(c["inputs"]["preds"])
    out.append(("tm_mean_iou_perfect", t, p, config(3, ignore_index=None),
                [(0, k, v, 0.0) for k, v in enumerate(c["expected"])], c["id"]))
    c = by_id["JaccardIndex/test_corner_case_issue1693"]
    t, p = np.array([c["inputs"]["target"]]), np.array([c["inputs"]["preds"]])
    none = c["expected"]["num_classes=3, average='none'"]
    macro = c["expected"]["num_classes=3, average='macro'"]
    out.append(("tm_jaccard_corner_1693", t, p, config(3, ignore_index=None),
                [(0, -1, macro, 1e-7)], c["id"] + ": 'macro' = mIoU"))
    out.append(("tm_jaccard_corner_1693_zero", t, p, config(3, ignore_index=None, nan_to_num=0.0),
                [(0, k, v, 1e-12) for k, v in enumerate(none)],
                c["id"] + ": 'none' = per-class IoU with nan_to_num=0"))
    c = by_id["JaccardIndex/test_corner_case_10_classes"]
    t, p = np.array([c["inputs"]["target"]]), np.array([c["inputs"]["preds"]])
    out.append(("tm_jaccard_corner_10", t, p, config(10, ignore_index=None),
                [(0, -1, c["expected"]["num_classes=10, average='macro' (default)"], 0.0)],
                c["id"] + ": 'macro' = mIoU"))
    out.append(("tm_jaccard_corner_10_zero", t, p, config(10, ignore_index=None, nan_to_num=0.0),
                [(0, k, float(v), 0.0) for k, v in
                 enumerate(c["expected"]["num_classes=10, average='none'"])],
                c["id"] + ": 'none' = per-class IoU with nan_to_num=0"))
    c = by_id["JaccardIndex/test_jaccard_index_zero_division"]
    for key, cm, zd, exp_key in (("bg0", "confmat_all_background", 0.0,
                                  "all_background, zero_division=0.0"),
                                 ("bg1", "confmat_all_background", 1.0,
                                  "all_background, zero_division=1.0"),
                                 ("mixed", "confmat_mixed", 0.0, "mixed, zero_division=0.0")):
        m = np.array(c["inputs"][cm])
        t = np.concatenate([np.full(m[i, j], i) for i in range(2) for j in range(2)])
        p = np.concatenate([np.full(m[i, j], j) for i in range(2) for j in range(2)])
        out.append((f"tm_jaccard_zero_division_{key}", t[None, :], p[None, :],
                    config(2, ignore_index=None, nan_to_num=zd),
                    [(0, 1, c["expected"][exp_key], 1e-12)],
                    c["id"] + f" {exp_key}: binary Jaccard = IoU of class 1, "
                    "zero_division = nan_to_num"))
    c = by_id["DiceScore/test_samples_with_missing_classes"]
    n, k, h, w = c["inputs"]["shape"]
    onehot = {"target": np.zeros((n, k, h, w), np.int8), "preds": np.zeros((n, k, h, w), np.int8)}
    for f in c["inputs"]["fills"]:
        (r0, r1), (c0, c1) = f["rows"], f["cols"]
        onehot[f["tensor"]][f["sample"], f["class"], r0:r1, c0:c1] = 1

    def labels(x):  # the fills never overlap; a pixel of no class becomes the value k (out of range)
        assert (x.sum(axis=1) <= 1).all()
        return np.where(x.sum(axis=1) == 0, k, x.argmax(axis=1))

    tol = c["tolerance"]["atol"]
    out.append(("tm_dice_missing_classes", labels(onehot["target"]), labels(onehot["preds"]),
                config(k, ignore_index=None, mmseg=True),
                [(1, j, nan if v is None else v, tol)
                 for j, v in enumerate(c["expected"]["none/global"])]
                + [(1, -1, c["expected"]["macro/global"], tol)],
                c["id"] + ": 'global' = summed counts; a pixel of no class is the out-of-range "
                "value C under the mmseg policy (in G or P only)"))
    return out


# --- files --------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--peer-dir", type=Path, default=DEFAULT_PEER_DIR)
    args = parser.parse_args()
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    try:
        import torch
    except ImportError:
        torch = None
        sys.stderr.write("torch not found: skipping the torch.histc cross-check\n")

    rng = np.random.default_rng(SEED)
    manifest = {"generator": "tests/reference/gen_seg_metric_fixtures.py", "seed": SEED,
                "numpy": np.__version__, "torch": torch.__version__ if torch else None,
                "reference": "mmsegmentation 0.x mmseg/core/evaluation/metrics.py (numpy "
                             "re-statement) + np.nanmean",
                "summary_columns": SUMMARY, "perclass_columns": PERCLASS, "cases": [],
                "peer_cases": []}
    written = []

    def save(name, arr):
        arr = np.ascontiguousarray(arr)
        np.save(out / f"{name}.npy", arr)
        back = np.load(out / f"{name}.npy")  # read back bit for bit
        assert back.dtype == arr.dtype and back.tobytes() == arr.tobytes(), name
        written.append(out / f"{name}.npy")

    names = []
    for name, gt, pred, cfg, what in cases(rng):
        areas, perclass, summary = reference(pred, gt, cfg)
        if torch is not None:
            torch_crosscheck(torch, pred, gt, cfg, areas, perclass)
        for suffix, arr in (("gt", gt), ("pred", pred), ("config", config_array(cfg)),
                            ("areas", areas.astype(np.int64)), ("perclass", perclass),
                            ("summary", summary)):
            save(f"{name}_{suffix}", arr)
        names.append(name)
        manifest["cases"].append({
            "name": name, "what": what, "shape": list(gt.shape), "dtype": str(gt.dtype),
            "config": cfg, "summary": dict(zip(SUMMARY, map(repr, summary.tolist()))),
            "nan_per_class": {k: int(np.isnan(perclass[:, i]).sum())
                              for i, k in enumerate(PERCLASS)}})
    (out / "cases.txt").write_text("\n".join(names) + "\n")

    peer_names = []
    for name, gt, pred, cfg, expect, what in peer_cases(args.peer_dir):
        gt, pred = np.asarray(gt, np.int64), np.asarray(pred, np.int64)
        for suffix, arr in (("gt", gt), ("pred", pred), ("config", config_array(cfg)),
                            ("expect", np.array(expect, dtype=np.float64).reshape(-1, 4))):
            save(f"{name}_{suffix}", arr)
        # The numpy reference must agree with upstream too.
        _, perclass, summary = reference(pred, gt, cfg)
        for metric, cls, value, tol in expect:
            got = summary[(1, 3)[metric]] if cls < 0 else perclass[int(cls), (0, 2)[metric]]
            ok = (np.isnan(got) and np.isnan(value)) or abs(got - value) <= tol
            assert ok, f"{name}: reference {got} vs upstream {value}"
        peer_names.append(name)
        manifest["peer_cases"].append({"name": name, "what": what, "config": cfg,
                                       "expect": [[m, c, repr(v), t] for m, c, v, t in expect]})
    (out / "peer_cases.txt").write_text("\n".join(peer_names) + "\n")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(names)} cases, {len(peer_names)} peer cases, {len(written)} .npy files, "
          f"{total / 1024:.1f} KiB in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
