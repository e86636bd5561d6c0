#!/usr/bin/python3
"""Generate the torchvision reference fixtures for detseg's box/IoU module.

Run with Debian's interpreter, which provides torch 1.13, torchvision 0.14 and numpy 1.24:

    /usr/bin/python3 tests/reference/gen_box_fixtures.py [--out-dir DIR]

Every array is written with ``np.save`` (C order, little-endian) as
``<set>_<f32|f64>_<name>.npy``; ``manifest.json`` describes the sets.
After writing, the files are loaded back and compared bit for bit, and the
torchvision results are compared with a numpy re-implementation that follows
torchvision's order of operations (printed as max ULP differences).
"""

import argparse
import ctypes
import ctypes.util
import itertools
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "box"
GENERATOR = "tests/reference/gen_box_fixtures.py"
SEED = 0x0DE75E6
FORMATS = ("xyxy", "xywh", "cxcywh")
CONVERSIONS = tuple(itertools.permutations(FORMATS, 2))
DTYPES = (("f32", np.float32), ("f64", np.float64))
EPS = 1e-7


def _xyxy(x1, y1, w, h):
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1)


def _jitter(rng, box, pos, scale, corner):
    w, h = box[2] - box[0], box[3] - box[1]
    cx = 0.5 * (box[0] + box[2]) + w * rng.normal(0.0, pos)
    cy = 0.5 * (box[1] + box[3]) + h * rng.normal(0.0, pos)
    w2 = w * math.exp(rng.normal(0.0, scale))
    h2 = h * math.exp(rng.normal(0.0, scale))
    e = np.clip(rng.normal(0.0, corner, 4), -0.2, 0.2) * np.array([w2, h2, w2, h2])
    return np.array([cx - 0.5 * w2 + e[0], cy - 0.5 * h2 + e[1], cx + 0.5 * w2 + e[2], cy + 0.5 * h2 + e[3]])


def make_clustered(rng):
    width, height = 1333.0, 800.0
    sizes = np.array([
        [10.0, 11.0], [13.0, 9.0], [22.0, 58.0], [46.0, 34.0], [78.0, 150.0], [118.0, 92.0],
        [190.0, 136.0], [250.0, 410.0], [330.0, 240.0], [600.0, 380.0], [170.0, 600.0], [96.0, 28.0],
    ])
    wh = sizes * rng.uniform(0.92, 1.08, size=sizes.shape)
    x1 = rng.uniform(0.0, width - wh[:, 0])
    y1 = rng.uniform(0.0, height - wh[:, 1])
    x1[2] = 0.0
    x1[7], y1[7] = width - wh[7, 0], 0.0
    x1[9] = width - wh[9, 0]
    y1[10] = height - wh[10, 1]
    y1[11] = height - wh[11, 1]
    objects = _xyxy(x1, y1, wh[:, 0], wh[:, 1])
    objects[2, 0] = 0.0
    objects[7, [1, 2]] = [0.0, width]
    objects[9, 2] = width
    objects[10, 3] = height
    objects[11, 3] = height

    n_extra = 12
    ew = np.exp(rng.uniform(math.log(12.0), math.log(300.0), n_extra))
    eh = ew * np.exp(rng.normal(0.0, 0.4, n_extra))
    eh = np.minimum(eh, 0.9 * height)
    ex = rng.uniform(0.0, width - ew)
    ey = rng.uniform(0.0, height - eh)
    extras = _xyxy(ex, ey, ew, eh)
    for k, target in ((0, 4), (1, 8)):
        t = objects[target]
        tw, th = t[2] - t[0], t[3] - t[1]
        extras[k] = [t[0] + 0.3 * tw, t[1] + 0.2 * th, t[2] + 0.25 * tw, t[3] - 0.1 * th]
    extras[2] = objects[6] + rng.normal(0.0, 1.5, 4)
    gt = np.concatenate([objects, extras])

    dets = []
    for obj in objects:
        for pos in (0.02, 0.03, 0.05, 0.05, 0.08, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3):
            dets.append(_jitter(rng, obj, pos, 0.6 * pos + 0.03, 0.5 * pos))
    for k in rng.choice(np.arange(2, n_extra), 6, replace=False):
        dets.append(_jitter(rng, extras[k], 0.06, 0.08, 0.04))
    dets = np.array(dets)
    dup_src = rng.choice(len(dets), 10, replace=False)
    dups = dets[dup_src] + rng.normal(0.0, 0.01, (10, 4))
    dups[0] = dets[dup_src[0]]
    fw = np.exp(rng.uniform(math.log(8.0), math.log(300.0), 12))
    fh = fw * np.exp(rng.normal(0.0, 0.5, 12))
    fx = rng.uniform(-60.0, width - 0.5 * fw)
    fy = rng.uniform(-40.0, height - 0.5 * fh)
    fps = _xyxy(fx, fy, fw, fh)
    a = np.concatenate([dets, dups, fps])
    a = a[rng.permutation(len(a))]

    outside = (a[:, 0] < 0) | (a[:, 1] < 0) | (a[:, 2] > width) | (a[:, 3] > height)
    assert a.shape == (160, 4) and gt.shape == (24, 4)
    assert np.all(a[:, 2] > a[:, 0]) and np.all(a[:, 3] > a[:, 1])
    assert np.all(gt[:, 2] > gt[:, 0]) and np.all(gt[:, 3] > gt[:, 1])
    assert outside.sum() >= 8 and (a < 0).any() and (a[:, 2] > width).any() and (a[:, 3] > height).any()
    return {
        "a": a, "b": gt, "clip_size_hw": [800, 1333], "min_size": 16.0,
        "description": "detections (a) clustered around ground truth (b) in a 1333x800 image; "
                       "b[:12] are the main objects, b[12:] extra ground truth",
    }


def make_uniform(rng):
    n, m = 96, 64

    def boxes(k):
        x1 = rng.uniform(0.0, 1000.0, k)
        y1 = rng.uniform(0.0, 1000.0, k)
        w = 300.0 - rng.uniform(0.0, 300.0, k)
        h = 300.0 - rng.uniform(0.0, 300.0, k)
        return _xyxy(x1, y1, w, h)

    return {
        "a": boxes(n), "b": boxes(m), "clip_size_hw": [900, 1100], "min_size": 40.0,
        "description": "x1, y1 uniform in [0, 1000), w, h uniform in (0, 300]",
    }


def make_edge():
    u32 = float(np.spacing(np.float32(1000.0)))
    u64 = float(np.spacing(1.0))
    pairs = [
        ("identical", [0, 0, 10, 10], [0, 0, 10, 10]),
        ("identical_fractional", [12.25, 3.5, 47.75, 20.125], [12.25, 3.5, 47.75, 20.125]),
        ("identical_point", [5, 5, 5, 5], [5, 5, 5, 5]),
        ("identical_hline", [0, 5, 10, 5], [0, 5, 10, 5]),
        ("identical_vline", [3, 0, 3, 8], [3, 0, 3, 8]),
        ("point_inside_box", [5, 5, 5, 5], [0, 0, 10, 10]),
        ("hline_crossing_vline", [0, 5, 10, 5], [5, 0, 5, 10]),
        ("hline_on_box_edge", [0, 0, 10, 0], [0, 0, 10, 10]),
        ("shared_edge", [0, 0, 10, 10], [10, 0, 20, 10]),
        ("shared_corner", [0, 0, 10, 10], [10, 10, 20, 20]),
        ("nested", [0, 0, 100, 100], [25, 25, 75, 75]),
        ("nested_shared_edge", [0, 0, 10, 10], [0, 0, 5, 10]),
        ("disjoint", [0, 0, 10, 10], [50, 60, 70, 90]),
        ("disjoint_far", [-5e4, -5e4, -4.9e4, -4.9e4], [5e4, 5e4, 5.1e4, 5.1e4]),
        ("overlap_one_third", [0, 0, 2, 1], [1, 0, 3, 1]),
        ("tiny_1e-3", [1, 1, 1.001, 1.001], [1.0005, 1.0005, 1.0015, 1.0015]),
        ("tiny_1e-6_identical", [1, 1, 1 + 1e-6, 1 + 1e-6], [1, 1, 1 + 1e-6, 1 + 1e-6]),
        ("tiny_1e-6_half_overlap", [0, 0, 1e-6, 1e-6], [0.5e-6, 0, 1.5e-6, 1e-6]),
        ("at_1e5_small_size", [1e5 + 0.1, 1e5, 1e5 + 0.6, 1e5 + 0.25], [1e5 + 0.35, 1e5, 1e5 + 0.85, 1e5 + 0.25]),
        ("at_1e6_unit_size", [1e6, 2e6, 1e6 + 1, 2e6 + 1], [1e6 + 0.3, 2e6 + 0.3, 1e6 + 1.3, 2e6 + 1.3]),
        ("at_1e6_identical", [1e6 + 0.1, 1e6 + 0.2, 1e6 + 100.3, 1e6 + 50.7],
         [1e6 + 0.1, 1e6 + 0.2, 1e6 + 100.3, 1e6 + 50.7]),
        ("at_3e7_small_size", [3e7, 3e7, 3e7 + 1, 3e7 + 1], [3e7 + 0.5, 3e7, 3e7 + 1.5, 3e7 + 1]),
        ("size_3e7_nested", [0, 0, 3e7, 3e7], [1e7, 1e7, 3e7, 3e7]),
        ("at_3e7_identical", [3e7, 2.9e7, 3e7 + 1000.5, 2.9e7 + 999.25],
         [3e7, 2.9e7, 3e7 + 1000.5, 2.9e7 + 999.25]),
        ("at_3e7_identical_point", [3e7 + 0.7, 3e7 + 0.7, 3e7 + 0.7, 3e7 + 0.7],
         [3e7 + 0.7, 3e7 + 0.7, 3e7 + 0.7, 3e7 + 0.7]),
        ("negative_5e4_overlap", [-5e4, -5e4, -4e4, -3e4], [-4.5e4, -4e4, -3.5e4, -2e4]),
        ("straddling_origin", [-10.5, -20.25, 10.5, 20.25], [-5, -5, 30, 5]),
        ("few_ulp_f32_width", [1000, 1000, 1000 + 3 * u32, 1000 + 2 * u32],
         [1000 + u32, 1000, 1000 + 4 * u32, 1000 + 2 * u32]),
        ("few_ulp_f64_width", [1, 1, 1 + 2 * u64, 2], [1, 1, 1 + u64, 2]),
        ("negative_zero_identical", [-0.0, -0.0, 4, 4], [0, 0, 4, 4]),
        ("negative_zero_x2_touching", [-2, -2, -0.0, 3], [0, 0, 5, 5]),
        ("side_equals_min_size", [2, 3, 2.5, 5], [2, 3, 4, 3.5]),
        ("side_below_min_size", [7, 7, 7.4999, 9], [7, 7, 9, 7.4999]),
        ("huge_box_tiny_box", [0, 0, 1e6, 1e6], [5e5, 5e5, 5e5 + 1e-3, 5e5 + 1e-3]),
        ("zero_area_disjoint", [0, 0, 0, 10], [20, 20, 30, 20]),
        ("point_vs_far_box", [-5e4, -5e4, -5e4, -5e4], [0, 0, 1, 1]),
    ]
    a = np.array([p[1] for p in pairs], dtype=np.float64)
    b = np.array([p[2] for p in pairs], dtype=np.float64)
    for boxes in (a, b, a.astype(np.float32), b.astype(np.float32)):
        assert np.all(boxes[:, 2] >= boxes[:, 0]) and np.all(boxes[:, 3] >= boxes[:, 1])
    return {
        "a": a, "b": b, "clip_size_hw": [48, 64], "min_size": 0.5,
        "labels": [p[0] for p in pairs],
        "description": "hand-made valid edge cases; row i of a and row i of b form the case labels[i]",
    }


def make_inverted(rng):
    def boxes(k, kinds):
        x1 = rng.uniform(-50.0, 600.0, k)
        y1 = rng.uniform(-50.0, 450.0, k)
        w = rng.uniform(5.0, 200.0, k)
        h = rng.uniform(5.0, 200.0, k)
        out = _xyxy(x1, y1, w, h)
        labels = []
        for i, kind in enumerate(rng.permutation(kinds)):
            if kind in ("flip_x", "flip_xy"):
                out[i, [0, 2]] = out[i, [2, 0]]
            if kind in ("flip_y", "flip_xy"):
                out[i, [1, 3]] = out[i, [3, 1]]
            labels.append(kind)
        return out, labels

    ra, la = boxes(18, ["valid"] * 6 + ["flip_x"] * 4 + ["flip_y"] * 4 + ["flip_xy"] * 4)
    rb, lb = boxes(15, ["valid"] * 6 + ["flip_x"] * 3 + ["flip_y"] * 3 + ["flip_xy"] * 3)
    ha = [
        ("flip_x_area_-100", [10, 0, 0, 10]),
        ("flip_y_area_-100", [0, 10, 10, 0]),
        ("flip_xy_area_100", [10, 10, 0, 0]),
        ("flip_x_zero_height", [30, 5, 20, 5]),
        ("valid_area_100", [0, 0, 10, 10]),
        ("flip_y_area_-100_offset", [100, 100, 120, 95]),
    ]
    hb = [
        ("valid_area_100_far", [200, 200, 210, 210]),
        ("flip_x_area_-100", [10, 0, 0, 10]),
        ("valid_area_100", [0, 0, 10, 10]),
        ("flip_y_zero_width", [4, 6, 4, 2]),
        ("valid_small", [2, 2, 3, 3]),
    ]
    a = np.concatenate([ra, np.array([h[1] for h in ha], dtype=np.float64)])
    b = np.concatenate([rb, np.array([h[1] for h in hb], dtype=np.float64)])
    return {
        "a": a, "b": b, "clip_size_hw": [400, 500], "min_size": 4.0,
        "labels": {"a": la + [h[0] for h in ha], "b": lb + [h[0] for h in hb]},
        "description": "valid and inverted (x2 < x1 and/or y2 < y1) boxes; the last rows are hand-made",
    }


def torch_outputs(torch, ops, a_np, b_np, spec, with_iou_variants):
    a = torch.from_numpy(a_np)
    b = torch.from_numpy(b_np)
    out = {"a": a_np, "b": b_np, "iou": ops.box_iou(a, b)}
    if with_iou_variants:
        out["giou"] = ops.generalized_box_iou(a, b)
        out["diou"] = ops.distance_box_iou(a, b)
        out["ciou"] = ops.complete_box_iou(a, b)
    out["area_a"] = ops.box_area(a)
    for fi, fo in CONVERSIONS:
        out[f"convert_{fi}_to_{fo}"] = ops.box_convert(a, fi, fo)
    out["clip_a"] = ops.clip_boxes_to_image(a, tuple(spec["clip_size_hw"]))
    out["small_a"] = ops.remove_small_boxes(a, spec["min_size"])
    result = {}
    for name, value in out.items():
        arr = value if isinstance(value, np.ndarray) else value.detach().cpu().numpy()
        arr = np.ascontiguousarray(arr)
        result[name] = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return result


class Libm:
    def __init__(self):
        lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        self.atanf = lib.atanf
        self.atanf.restype = ctypes.c_float
        self.atanf.argtypes = [ctypes.c_float]
        self.atan = lib.atan
        self.atan.restype = ctypes.c_double
        self.atan.argtypes = [ctypes.c_double]

    def __call__(self, x):
        f = self.atanf if x.dtype == np.float32 else self.atan
        return np.array([f(float(v)) for v in x], dtype=x.dtype)


def atan_rounded_from_f64(x):
    return np.arctan(x.astype(np.float64)).astype(x.dtype) if x.dtype == np.float32 else np.arctan(x)


def _max(x, y):
    return np.where(np.isnan(x) | np.isnan(y), np.nan, np.where(x < y, y, x)).astype(x.dtype)


def _min(x, y):
    return np.where(np.isnan(x) | np.isnan(y), np.nan, np.where(y < x, y, x)).astype(x.dtype)


def _clamp_min0(x):
    return np.where(x < 0, x.dtype.type(0), x)


def _fma(x, y, z):
    if x.dtype == np.float32:
        return (x.astype(np.float64) * y.astype(np.float64) + z.astype(np.float64)).astype(np.float32)
    raise TypeError("fma emulation only for float32")


def reference_outputs(a, b, spec, with_iou_variants, atan, fused=False):
    t = a.dtype.type
    mul_add = _fma if fused else (lambda x, y, z: x * y + z)
    neg_mul_add = (lambda x, y, z: _fma(-x, y, z)) if fused else (lambda x, y, z: z - x * y)
    out = {}
    with np.errstate(all="ignore"):
        area1 = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area2 = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        lt = _max(a[:, None, :2], b[None, :, :2])
        rb = _min(a[:, None, 2:], b[None, :, 2:])
        wh = _clamp_min0(rb - lt)
        inter = wh[..., 0] * wh[..., 1]
        union = neg_mul_add(wh[..., 0], wh[..., 1], area1[:, None] + area2[None, :])
        iou = inter / union
        out["iou"] = iou
        if with_iou_variants:
            lti = _min(a[:, None, :2], b[None, :, :2])
            rbi = _max(a[:, None, 2:], b[None, :, 2:])
            whi = _clamp_min0(rbi - lti)
            areai = whi[..., 0] * whi[..., 1]
            out["giou"] = iou - (areai - union) / areai
            diag = mul_add(whi[..., 0], whi[..., 0], whi[..., 1] * whi[..., 1]) + t(EPS)
            xp = (a[:, 0] + a[:, 2]) / t(2)
            yp = (a[:, 1] + a[:, 3]) / t(2)
            xg = (b[:, 0] + b[:, 2]) / t(2)
            yg = (b[:, 1] + b[:, 3]) / t(2)
            dx = xp[:, None] - xg[None, :]
            dy = yp[:, None] - yg[None, :]
            cdist = mul_add(dx, dx, dy * dy)
            diou = iou - cdist / diag
            out["diou"] = diou
            d = atan((a[:, 2] - a[:, 0]) / (a[:, 3] - a[:, 1]))[:, None] - atan((b[:, 2] - b[:, 0]) / (b[:, 3] - b[:, 1]))[None, :]
            v = t(4 / math.pi ** 2) * (d * d)
            alpha = v / (((t(1) - iou) + v) + t(EPS))
            out["ciou"] = neg_mul_add(alpha, v, diou)
        out["area_a"] = area1
        x1, y1, x2, y2 = (a[:, k] for k in range(4))
        half = t(0.5)
        to_xyxy = {
            "xyxy": (x1, y1, x2, y2),
            "xywh": (x1, y1, x1 + x2, y1 + y2),
            "cxcywh": (x1 - half * x2, y1 - half * y2, x1 + half * x2, y1 + half * y2),
        }
        for fi, fo in CONVERSIONS:
            c = to_xyxy[fi]
            if fo == "xyxy":
                r = c
            elif fo == "xywh":
                r = (c[0], c[1], c[2] - c[0], c[3] - c[1])
            else:
                r = ((c[0] + c[2]) / t(2), (c[1] + c[3]) / t(2), c[2] - c[0], c[3] - c[1])
            out[f"convert_{fi}_to_{fo}"] = np.stack(r, axis=1)
        h, w = spec["clip_size_hw"]
        lo = np.where(a < 0, t(0), a)
        hi = np.array([w, h, w, h], dtype=a.dtype)
        out["clip_a"] = np.where(hi < lo, hi, lo)
        ms = t(spec["min_size"])
        out["small_a"] = np.nonzero(((x2 - x1) >= ms) & ((y2 - y1) >= ms))[0].astype(np.int64)
    return out


def _ordered(x):
    if x.dtype == np.float32:
        bits = x.view(np.uint32).astype(np.int64)
        mag = bits & 0x7FFFFFFF
        return np.where(bits >> 31 == 1, -mag, mag)
    bits = x.view(np.uint64)
    mag = (bits & np.uint64(0x7FFFFFFFFFFFFFFF)).astype(object)
    sign = (bits >> np.uint64(63)).astype(object)
    return np.where(sign == 1, -mag, mag)


def compare(ref, got):
    if got.dtype.kind == "i":
        return {"ulp": 0 if np.array_equal(ref, got) else None}
    ref = np.asarray(ref, dtype=got.dtype)
    if ref.shape != got.shape:
        return {"ulp": None}
    nan_r, nan_g = np.isnan(ref), np.isnan(got)
    ok = ~(nan_r | nan_g)
    diff = np.abs(_ordered(ref[ok]) - _ordered(got[ok])) if ok.any() else np.zeros(1, dtype=np.int64)
    zero = ok & (ref == 0) & (got == 0)
    return {
        "ulp": int(max(diff.max(), 0)) if diff.size else 0,
        "nan_mismatch": int((nan_r != nan_g).sum()),
        "zero_sign_mismatch": int((np.signbit(ref[zero]) != np.signbit(got[zero])).sum()),
    }


def special_counts(arr):
    if arr.dtype.kind != "f":
        return None
    return {
        "nan": int(np.isnan(arr).sum()),
        "inf": int(np.isinf(arr).sum()),
        "neg_zero": int(((arr == 0) & np.signbit(arr)).sum()),
    }


def cpu_capability(torch):
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                   help=f"output directory (default: {DEFAULT_OUT_DIR})")
    p.add_argument("--aten-cpu-capability", default="default",
                   help="value for ATEN_CPU_CAPABILITY before torch is imported "
                        "('default' = scalar ATen kernels, so atan is the C library's; "
                        "'native' leaves the environment alone)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.aten_cpu_capability != "native":
        os.environ["ATEN_CPU_CAPABILITY"] = args.aten_cpu_capability
    import torch
    import torchvision
    from torchvision import ops

    assert sys.byteorder == "little"
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    sets = {
        "clustered": make_clustered(rng),
        "uniform": make_uniform(rng),
        "edge": make_edge(),
        "inverted": make_inverted(rng),
    }

    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for set_name in sets:
        for dname, _ in DTYPES:
            for stale in out_dir.glob(f"{set_name}_{dname}_*.npy"):
                stale.unlink()

    libm = Libm()
    manifest = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "aten_cpu_capability": cpu_capability(torch),
        "seed": SEED,
        "file_pattern": "<set>_<dtype>_<name>.npy",
        "dtypes": {"f32": "<f4", "f64": "<f8"},
        "index_dtype": "<i8",
        "box_format": "xyxy",
        "eps": EPS,
        "sets": {},
    }
    written = {}
    checks = {}
    for set_name, spec in sets.items():
        with_variants = set_name != "inverted"
        a64 = np.ascontiguousarray(spec["a"], dtype=np.float64)
        b64 = np.ascontiguousarray(spec["b"], dtype=np.float64)
        entry = {
            "n": int(a64.shape[0]),
            "m": int(b64.shape[0]),
            "clip_size_hw": list(spec["clip_size_hw"]),
            "min_size": spec["min_size"],
            "ops": [],
            "description": spec["description"],
        }
        if "labels" in spec:
            entry["labels"] = spec["labels"]
        entry["special_counts"] = {}
        for dname, dtype in DTYPES:
            a = a64.astype(dtype)
            b = b64.astype(dtype)
            res = torch_outputs(torch, ops, a, b, spec, with_variants)
            if not entry["ops"]:
                entry["ops"] = [k for k in res if k not in ("a", "b")]
            entry["special_counts"][dname] = {
                k: special_counts(v) for k, v in res.items() if k not in ("a", "b") and v.dtype.kind == "f"
            }
            for name, arr in res.items():
                path = out_dir / f"{set_name}_{dname}_{name}.npy"
                np.save(path, arr, allow_pickle=False)
                written[path] = arr
            variants = {"libm_atan": reference_outputs(a, b, spec, with_variants, libm)}
            if dtype == np.float32:
                variants["cr_atan"] = reference_outputs(a, b, spec, with_variants, atan_rounded_from_f64)
                variants["fma"] = reference_outputs(a, b, spec, with_variants, libm, fused=True)
                promoted = reference_outputs(a.astype(np.float64), b.astype(np.float64), spec, with_variants, libm)
                variants["via_f64"] = {k: v.astype(np.float32) if v.dtype == np.float64 else v
                                       for k, v in promoted.items()}
            checks[(set_name, dname)] = {
                vname: {op: compare(ref[op], res[op]) for op in entry["ops"]} for vname, ref in variants.items()
            }
        manifest["sets"][set_name] = entry

    manifest_path = out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")

    for path, arr in written.items():
        back = np.load(path, allow_pickle=False)
        assert back.dtype == arr.dtype and back.dtype.byteorder in ("<", "|", "=") and back.flags.c_contiguous
        assert back.shape == arr.shape and back.tobytes() == arr.tobytes(), path
    assert json.loads(manifest_path.read_text())["sets"].keys() == sets.keys()

    print(f"wrote {len(written)} arrays + manifest.json to {out_dir}")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, numpy {np.__version__}, "
          f"ATen CPU capability: {manifest['aten_cpu_capability']}")
    total = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    print(f"total size {total} bytes")
    for set_name, entry in manifest["sets"].items():
        print(f"\n[{set_name}] a: {entry['n']}x4, b: {entry['m']}x4, clip_size_hw={entry['clip_size_hw']}, "
              f"min_size={entry['min_size']}")
        for dname, _ in DTYPES:
            small = written[out_dir / f"{set_name}_{dname}_small_a.npy"]
            a = written[out_dir / f"{set_name}_{dname}_a.npy"]
            clip = written[out_dir / f"{set_name}_{dname}_clip_a.npy"]
            changed = int((clip != a).any(axis=1).sum())
            counts = entry["special_counts"][dname]
            nz = ", ".join(
                f"{op}: " + "/".join(f"{k}={v}" for k, v in c.items() if v) for op, c in counts.items()
                if any(c.values())
            )
            print(f"  {dname}: kept {small.size}/{entry['n']} by remove_small, clipped {changed}/{entry['n']}; "
                  f"special values: {nz or 'none'}")
            for vname, per_op in checks[(set_name, dname)].items():
                parts = []
                for op, c in per_op.items():
                    if c["ulp"] is None:
                        parts.append(f"{op}=MISMATCH")
                    elif c["ulp"] or c.get("nan_mismatch") or c.get("zero_sign_mismatch"):
                        extra = "".join(f",{k}={v}" for k, v in c.items() if k != "ulp" and v)
                        parts.append(f"{op}={c['ulp']}{extra}")
                print(f"    vs numpy[{vname}] max ULP: {', '.join(parts) if parts else 'all 0 (bit-exact)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
