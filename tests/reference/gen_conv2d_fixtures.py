#!/usr/bin/python3
"""Fixtures for detseg::conv2d (tests/dense/conv2d.test.cpp): torch.nn.functional.conv2d on
many shapes, in float32 and float64.

Inputs, weights and biases are not stored: they come from a counter-based generator that the
C++ tests reproduce bit for bit (``counter_values`` below, ``testing::counter_values`` in
tests/support/dense_fixtures.hpp):

    z = seed * 0x9E3779B97F4A7C15 + (i + 1) * 0xD1B54A32D192ED03   (mod 2**64)
    z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31
    value_i = ((z >> 44) - 2**19) / 2**19                           (in [-1, 1), 20 bits)

so every value is exact in float32, and float32 and float64 see the same numbers. Per case the
input uses seed 3·s, the weight 3·s + 1 (scaled by 2**-e, e = (bit_length(fan_in) - 1) // 2)
and the bias 3·s + 2 (scaled by 1/4), s the case's seed.

Writes into ``tests/data/dense/conv/`` (``--out-dir``), for every case NAME:

- ``NAME_config.npy`` int64: [N (0 = a C×H×W input), C, H, W, O, kH, kW, stride_h, stride_w,
  pad_h, pad_w, dil_h, dil_w, groups, has_bias, seed];
- ``NAME_f32.npy``, ``NAME_f64.npy``: F.conv2d's output (O×Ho×Wo or N×O×Ho×Wo).

``cases.txt`` lists the names. Deterministic.

    /usr/bin/python3 tests/reference/gen_conv2d_fixtures.py [--out-dir DIR]
"""

import os
import sys

import numpy as np
from fixture_files import parse_args

MASK = (1 << 64) - 1

# name: (N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias, seed)
CASES = {
    "basic3x3": (0, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
    "stride2_groups2": (2, 8, 10, 12, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 0, 2),
    "depthwise_dil2": (0, 16, 13, 11, 16, 3, 3, 1, 1, 2, 2, 2, 2, 16, 1, 3),
    "pointwise": (0, 5, 9, 9, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 4),
    "rect_mixed": (2, 6, 20, 17, 10, 3, 5, 2, 1, 3, 2, 2, 3, 2, 1, 5),
    "rate36_33": (0, 12, 33, 33, 3, 3, 3, 1, 1, 36, 36, 36, 36, 1, 1, 6),
    "rate12_16": (0, 32, 16, 16, 14, 3, 3, 1, 1, 12, 12, 12, 12, 1, 0, 7),
    "kernel_fills": (0, 4, 5, 6, 3, 5, 5, 1, 1, 0, 0, 1, 1, 1, 1, 8),
    "pointwise_s2_g4": (0, 24, 9, 9, 48, 1, 1, 2, 2, 0, 0, 1, 1, 4, 1, 9),
    "edges_70": (0, 24, 9, 11, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 10),
    "channels_300": (0, 300, 7, 7, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 11),
    "multiplier2": (0, 8, 12, 10, 16, 3, 3, 1, 1, 2, 2, 2, 2, 8, 0, 12),
    "stride3_pad": (1, 10, 23, 21, 13, 3, 3, 3, 3, 4, 4, 1, 1, 1, 1, 13),
    "wide_row": (0, 16, 3, 130, 8, 3, 3, 1, 1, 1, 6, 1, 6, 1, 1, 14),
}


def counter_values(seed, n):
    """n values of the counter-based generator (float64, exact in float32)."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64((seed * 0x9E3779B97F4A7C15) & MASK) + i * np.uint64(0xD1B54A32D192ED03)
        z ^= z >> np.uint64(30)
        z *= np.uint64(0xBF58476D1CE4E5B9)
        z ^= z >> np.uint64(27)
        z *= np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    u = (z >> np.uint64(44)).astype(np.int64) - (1 << 19)
    return u.astype(np.float64) / float(1 << 19)


def weight_scale(fan_in):
    """2**-e with e = (bit_length(fan_in) - 1) // 2, about 1/sqrt(fan_in)."""
    return 2.0 ** -((int(fan_in).bit_length() - 1) // 2)


def case_arrays(cfg):
    n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g, has_bias, seed = cfg
    xshape = (max(n, 1), c, h, w)
    x = counter_values(3 * seed, int(np.prod(xshape))).reshape(xshape)
    fan = (c // g) * kh * kw
    wt = counter_values(3 * seed + 1, o * fan).reshape(o, c // g, kh, kw) * weight_scale(fan)
    b = counter_values(3 * seed + 2, o) * 0.25 if has_bias else None
    return x, wt, b


def main(argv=None):
    args = parse_args(__doc__, "dense/conv", argv)
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, cfg in CASES.items():
        n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g, has_bias, seed = cfg
        x, wt, b = case_arrays(cfg)
        np.save(args.out_dir / f"{name}_config.npy", np.array(cfg, dtype=np.int64))
        for dtype, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
            tx = torch.from_numpy(x).to(dtype)
            tw = torch.from_numpy(wt).to(dtype)
            tb = torch.from_numpy(b).to(dtype) if b is not None else None
            y = F.conv2d(tx, tw, tb, (sh, sw), (ph, pw), (dh, dw), g)
            if n == 0:
                y = y[0]
            arr = np.ascontiguousarray(y.numpy())
            np.save(args.out_dir / f"{name}_{tag}.npy", arr)
            total += arr.nbytes
    (args.out_dir / "cases.txt").write_text("".join(f"{k}\n" for k in CASES))
    print(f"wrote {len(CASES)} cases ({total} bytes of outputs) to {args.out_dir}")


if __name__ == "__main__":
    sys.exit(main())
