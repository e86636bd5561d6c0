#!/usr/bin/python3
"""Turn other libraries' box test cases (peer_cases JSON) into fixtures for detseg's box module.

Reads, from the peer-case folder (default ``../shared/testdata/peer_cases`` relative to the
repository root):

- ``torchvision_test_ops.json``: box_convert, box_area, box_iou, generalized/distance/complete
  box_iou, and the collector-generated clip_boxes_to_image / remove_small_boxes cases;
- ``detectron2_test_boxes.json``: pairwise_iou, pairwise_ioa, BoxMode.convert XYXY <-> XYWH;
- ``mmdet_test_iou2d_calculator.json``: aligned GIoU and (collector) iof;
- ``mmcv_test_bbox.json``: bbox_overlaps with offset = 0 only.

Keeps the cases whose operation detseg implements with detseg's convention (continuous
coordinates, no +1 offset) and writes, under ``tests/data/peer/`` (``--out-dir``):

- ``<key>_<f32|f64>_<a|b|expected>.npy`` (``np.save``, C order, little-endian);
- ``cases.txt``: one line per (case, dtype), whitespace-separated, read by
  ``tests/box/peer_cases.test.cpp``;
- ``manifest.json``: every case with its source file, upstream id and test name, op, detseg call,
  tolerance as stated upstream, dtype(s), whether it is collector-generated; and every skipped
  case with the reason.

Conventions mapped onto detseg:
- detectron2 ``pairwise_ioa(b1, b2)`` divides by area(b2): it is detseg's ``pairwise_ioa(b2, b1)``
  transposed (call ``pairwise_ioa_transposed``).
- mmdet/mmcv ``iof`` divides by area(bboxes1): detseg's ``pairwise_ioa(b1, b2)`` (aligned:
  ``elementwise_ioa``).
- Integer-typed upstream inputs (detseg rejects integer boxes) are cast to float32 and float64;
  every such value is a small integer, so the cast is exact.
- A float32 run compares against the expected values rounded to float32, as upstream builds its
  expected tensor in the input's dtype.

Only numpy is needed. The output is deterministic (no timestamps, sorted JSON keys).

    python3 tests/reference/gen_peer_box_cases.py [--peer-dir DIR] [--out-dir DIR]
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PEER_DIR = REPO_ROOT / ".." / "shared" / "testdata" / "peer_cases"
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "peer"
GENERATOR = "tests/reference/gen_peer_box_cases.py"

SOURCES = (
    ("tv", "torchvision_test_ops.json"),
    ("d2", "detectron2_test_boxes.json"),
    ("mmdet", "mmdet_test_iou2d_calculator.json"),
    ("mmcv", "mmcv_test_bbox.json"),
)
NP_DTYPES = {"f32": np.float32, "f64": np.float64}
BOTH = ("f32", "f64")

TV_METRIC_CALL = {
    "box_iou": "pairwise_iou",
    "generalized_box_iou": "pairwise_giou",
    "distance_box_iou": "pairwise_diou",
    "complete_box_iou": "pairwise_ciou",
}
D2_MODES = {"XYXY_ABS": "xyxy", "XYWH_ABS": "xywh"}


def tol(kind, atol=0.0, rtol=0.0, stated=""):
    return {"kind": kind, "atol": float(atol), "rtol": float(rtol), "stated": stated}


def exact(stated):
    return tol("exact", stated=stated)


def dtype_tags(case):
    """(tags, int_cast, reason-if-none) from a case's 'dtype'/'dtypes'."""
    given = case.get("dtypes") or ([case["dtype"]] if "dtype" in case else None)
    if given is None:
        return BOTH, False, "not stated upstream: run in float32 and float64"
    tags = [t for d, t in (("float32", "f32"), ("float64", "f64")) if d in given]
    if tags:
        return tuple(tags), False, "upstream: " + ", ".join(given)
    if any(d.startswith("int") for d in given):
        return BOTH, True, "upstream integer dtypes " + ", ".join(given) + \
            " (detseg rejects integer boxes): inputs cast exactly to float32 and float64"
    return (), False, "upstream dtypes " + ", ".join(given)


def boxes_array(x):
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        a = a.reshape(0, 4)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    return a


class Writer:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.cases = []
        self.skipped = []
        self.lines = []
        self.keys = set()

    def skip(self, src, case, reason):
        self.skipped.append({"source_file": src, "upstream_id": case["id"],
                             "upstream_test": case.get("test"), "op": case.get("op"),
                             "reason": reason})

    def add(self, prefix, src, case, *, call, a, b=None, expected, tolerance, tags,
            dtype_note, param="-", collector=False, suffix="", note=None):
        key = prefix + "__" + re.sub(r"[^A-Za-z0-9]+", "_", case["id"] + suffix).strip("_")
        assert key not in self.keys, key
        self.keys.add(key)
        assert not re.search(r"\s", param)
        exp64 = np.asarray(expected, dtype=np.float64) if call != "remove_small_boxes" else None
        nan_count = int(np.isnan(exp64).sum()) if exp64 is not None else 0
        files = []
        for tag in tags:
            dt = NP_DTYPES[tag]
            arrays = {"a": np.ascontiguousarray(boxes_array(a).astype(dt))}
            if b is not None:
                arrays["b"] = np.ascontiguousarray(boxes_array(b).astype(dt))
            if call == "remove_small_boxes":
                arrays["expected"] = np.asarray(expected, dtype=np.int64)
            else:
                arrays["expected"] = np.ascontiguousarray(exp64.astype(dt))
            for name, arr in arrays.items():
                fn = f"{key}_{tag}_{name}.npy"
                np.save(self.out_dir / fn, arr, allow_pickle=False)
                files.append(fn)
            self.lines.append(" ".join([
                key, call, param, tag, tolerance["kind"], repr(tolerance["atol"]),
                repr(tolerance["rtol"]), "1" if b is not None else "0",
                "1" if collector else "0", str(nan_count)]))
        self.cases.append({
            "id": key, "source_file": src, "upstream_id": case["id"],
            "upstream_test": case.get("test"), "op": case.get("op"), "call": call,
            "param": param, "dtypes": list(tags), "dtype_note": dtype_note,
            "tolerance": tolerance, "collector_generated": collector,
            "origin": case.get("origin") or (
                "collector-computed values in the peer data" if collector else "upstream test"),
            "expected_nan_count": nan_count, "files": files,
            **({"note": note} if note else {})})


def do_torchvision(w, src, data):
    for c in data["cases"]:
        op, cid = c["op"], c["id"]
        if op == "box_convert":
            p = c["params"]
            if c["expected"] == {"raises": "ValueError"} or isinstance(p["in_fmt"], list):
                w.skip(src, c, "invalid format strings: detseg's formats are an enum, "
                               "there is no string to reject")
                continue
            tags, _, note = dtype_tags(c)
            w.add("tv", src, c, call="convert", param=f"{p['in_fmt']}:{p['out_fmt']}",
                  a=c["inputs"]["boxes"], expected=c["expected"], tags=tags, dtype_note=note,
                  tolerance=exact("compare: exact"))
        elif op == "box_area":
            tags, _, note = dtype_tags(c)
            if not tags:
                w.skip(src, c, "float16 only: detseg has float and double boxes")
                continue
            t = c["tolerance"]
            w.add("tv", src, c, call="box_area", a=c["inputs"]["boxes"], expected=c["expected"],
                  tags=tags, dtype_note=note,
                  tolerance=tol("allclose", t["atol"], t["rtol"], "assert_close atol/rtol"))
        elif op in TV_METRIC_CALL:
            if "property" in c:
                w.skip(src, c, "property only on unseeded random boxes; no fixed expected value")
                continue
            tags, cast, note = dtype_tags(c)
            if not tags:
                w.skip(src, c, "float16 only: detseg has float and double boxes")
                continue
            t = c["tolerance"]
            w.add("tv", src, c, call=TV_METRIC_CALL[op], a=c["inputs"]["boxes1"],
                  b=c["inputs"]["boxes2"], expected=c["expected"], tags=tags, dtype_note=note,
                  tolerance=tol("allclose", t["atol"], t["rtol"], "assert_close atol/rtol"))
        elif op == "clip_boxes_to_image":
            h, wd = c["params"]["size_hw"]
            w.add("tv", src, c, call="clip_boxes", param=f"{h}:{wd}", a=c["inputs"]["boxes"],
                  expected=c["expected"], tags=BOTH,
                  dtype_note="not stated: run in float32 and float64",
                  tolerance=exact("none stated (collector, torchvision output): exact"),
                  collector=True)
        elif op == "remove_small_boxes":
            w.add("tv", src, c, call="remove_small_boxes",
                  param=repr(float(c["params"]["min_size"])), a=c["inputs"]["boxes"],
                  expected=c["expected"], tags=BOTH,
                  dtype_note="not stated: run in float32 and float64 (0.99000000953 = "
                             "float32(0.99) stays below min_size 1 in both)",
                  tolerance=exact("kept indices: exact"), collector=True)
        elif op.endswith("_loss"):
            w.skip(src, c, "IoU losses (1 - metric with a reduction) are not a detseg op")
        elif op in ("nms", "batched_nms"):
            w.skip(src, c, "NMS is not in detseg's box module (yet)")
        elif op == "masks_to_boxes":
            w.skip(src, c, "masks_to_boxes is not a detseg op")
        else:
            w.skip(src, c, f"op {op} not implemented by detseg")


def do_detectron2(w, src, data):
    allclose = tol("allclose", 1e-8, 1e-5, "torch.allclose defaults (rtol 1e-5, atol 1e-8)")
    for c in data["cases"]:
        op = c["op"]
        if op in ("pairwise_iou", "pairwise_ioa"):
            tags, _, note = dtype_tags(c)
            w.add("d2", src, c, call=op if op == "pairwise_iou" else "pairwise_ioa_transposed",
                  a=c["inputs"]["boxes1"], b=c["inputs"]["boxes2"], expected=c["expected"],
                  tags=tags, dtype_note=note, tolerance=allclose,
                  note=None if op == "pairwise_iou" else
                  "detectron2 pairwise_ioa(b1, b2)[i, j] = detseg pairwise_ioa(b2, b1)(j, i)")
        elif op == "BoxMode.convert":
            p = c.get("params", {})
            fm, tm = D2_MODES.get(p.get("from_mode")), D2_MODES.get(p.get("to_mode"))
            if isinstance(c["expected"], dict):
                w.skip(src, c, "Python container check (a list of boxes must raise): "
                               "no detseg counterpart")
                continue
            if fm is None or tm is None:
                w.skip(src, c, "rotated box mode (XYWHA): not in detseg")
                continue
            box = c["inputs"]["box"]
            flat = [v for row in box for v in row] if isinstance(box[0], list) else box
            ints = all(isinstance(v, int) for v in flat)
            note = ("integer array upstream (dtype preserved there): cast exactly to float32 "
                    "and float64" if ints else "Python floats upstream: run in float32 and float64")
            w.add("d2", src, c, call="convert", param=f"{fm}:{tm}", a=box,
                  expected=boxes_array(c["expected"]), tags=BOTH, dtype_note=note,
                  tolerance=exact("upstream compares for equality"))
        else:
            w.skip(src, c, f"op {op} not in detseg")


def do_mmdet(w, src, data):
    for c in data["cases"]:
        cid = c["id"]
        if cid == "bbox_overlaps/giou_aligned":
            w.add("mmdet", src, c, call="elementwise_giou", a=c["inputs"]["bboxes1"],
                  b=c["inputs"]["bboxes2"], expected=c["expected"], tags=BOTH,
                  dtype_note="not stated: run in float32 and float64",
                  tolerance=tol("round4", 1e-7, 0.0,
                                "np.allclose(out.round(4), expected, rtol=0, atol=1e-7)"))
        elif cid == "bbox_overlaps/iof":
            cc = c["collector_computed"]
            for suffix, call, exp in (("/pairwise", "pairwise_ioa", cc["pairwise_iof"]),
                                      ("/aligned", "elementwise_ioa", cc["aligned_iof"])):
                w.add("mmdet", src, c, call=call, suffix=suffix, a=c["inputs"]["bboxes1"],
                      b=c["inputs"]["bboxes2"], expected=exp, tags=BOTH,
                      dtype_note="not stated: run in float32 and float64",
                      tolerance=exact("none upstream (range/shape checks only); values are "
                                      "exact quotients: exact"),
                      collector=True,
                      note="mmdet iof = overlap / area(bboxes1) = detseg IoA")
        else:
            w.skip(src, c, "property checks on unseeded random boxes: not extracted upstream")


def do_mmcv(w, src, data):
    rtol_case = tol("allclose", 1e-8, 1e-2, "np.allclose(.., 1e-2): rtol 1e-2, atol 1e-8")
    for c in data["cases"]:
        cid, p = c["id"], c.get("params", {})
        if p.get("offset") == 1:
            w.skip(src, c, "offset=1 (+1 pixel convention): not detseg's convention")
        elif cid == "bbox_overlaps/aligned_1000_offset0":
            i = np.arange(1000, dtype=np.float64)[:, None]
            b1 = np.hstack([10 + i, 10 + i, 30 + i, 30 + i])
            b2 = np.hstack([20 + i, 20 + i, 40 + i, 40 + i])
            assert b1[:3].tolist() == c["inputs"]["bboxes1_first3"]
            assert b2[:3].tolist() == c["inputs"]["bboxes2_first3"]
            exp = np.full(c["expected"]["length"], c["expected"]["all_equal_to"])
            w.add("mmcv", src, c, call="elementwise_iou", a=b1, b=b2, expected=exp, tags=BOTH,
                  dtype_note="not stated: run in float32 and float64", tolerance=rtol_case)
        elif cid == "bbox_overlaps/docstring_example":
            a, b = c["inputs"]["bboxes1"], c["inputs"]["bboxes2"]
            dn = "not stated: run in float32 and float64"
            w.add("mmcv", src, c, call="pairwise_iou", a=a, b=b, expected=c["expected"],
                  tags=BOTH, dtype_note=dn,
                  tolerance=tol("allclose", 1e-4, 0.0,
                                "docstring output (no test tolerance); 4 printed decimals: "
                                "atol 1e-4"))
            extra = c["extra_collector_computed"]
            for k, call, suffix in (("mode=iof", "pairwise_ioa", "/iof"),
                                    ("mode=iof,aligned", "elementwise_ioa", "/iof_aligned")):
                w.add("mmcv", src, c, call=call, suffix=suffix, a=a, b=b, expected=extra[k],
                      tags=BOTH, dtype_note=dn, collector=True,
                      tolerance=exact("none stated (collector); exact quotients: exact"),
                      note=f"extra_collector_computed['{k}']; iof = overlap / area(bboxes1)")
            w.skipped.append({"source_file": src, "upstream_id": cid + " (offset=1 extras)",
                              "upstream_test": c.get("test"), "op": c["op"],
                              "reason": "offset=1 collector variants: not detseg's convention"})
        elif cid == "bbox_overlaps/empty_shapes":
            for k, sub in enumerate(c["inputs"]["cases"]):
                a = np.zeros((0, 4)) if sub["bboxes1"] == "empty" else sub["bboxes1"]
                b = np.zeros((0, 4)) if sub["bboxes2"] == "empty" else sub["bboxes2"]
                w.add("mmcv", src, c, call="pairwise_iou", suffix=f"/{k}", a=a, b=b,
                      expected=np.zeros(sub["expected_shape"]), tags=BOTH,
                      dtype_note="not stated: run in float32 and float64",
                      tolerance=exact("shape only: " + "x".join(map(str, sub["expected_shape"]))))
        else:
            w.skip(src, c, "not an offset=0 bbox_overlaps case")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer-dir", type=Path, default=DEFAULT_PEER_DIR)
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for old in args.out_dir.glob("*.npy"):
        old.unlink()

    w = Writer(args.out_dir)
    handlers = {"tv": do_torchvision, "d2": do_detectron2, "mmdet": do_mmdet, "mmcv": do_mmcv}
    sources = {}
    for prefix, fn in SOURCES:
        data = json.loads((args.peer_dir / fn).read_text())
        sources[fn] = {**data["source"], "cases_in_file": len(data["cases"])}
        handlers[prefix](w, fn, data)

    (args.out_dir / "cases.txt").write_text(
        "# generated by " + GENERATOR + "; one line per (case, dtype):\n"
        "# id call param dtype tol_kind atol rtol has_b collector expected_nan_count\n"
        "# tol_kind: exact | allclose (|got - exp| <= atol + rtol*|exp|) | round4 "
        "(|round(got, 4) - exp| <= atol)\n"
        + "\n".join(w.lines) + "\n")
    manifest = {"generator": GENERATOR, "numpy": np.__version__, "sources": sources,
                "cases": w.cases, "skipped": w.skipped}
    (args.out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    per = {}
    for c in w.cases:
        per.setdefault(c["source_file"], [0, 0, 0])[0 if not c["collector_generated"] else 1] += 1
    for s in w.skipped:
        per.setdefault(s["source_file"], [0, 0, 0])[2] += 1
    for fn, (u, col, sk) in per.items():
        print(f"{fn}: {u} upstream cases, {col} collector cases used; {sk} skipped")
    print(f"{len(w.lines)} runs (case x dtype), "
          f"{sum(c['expected_nan_count'] for c in w.cases)} NaN expected values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
