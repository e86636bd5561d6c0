#!/usr/bin/python3
"""Generate the PyTorch reference fixtures for detseg's small dense operations.

Run with Debian's interpreter (torch 1.13, numpy):

    /usr/bin/python3 tests/reference/gen_dense_ops_fixtures.py [--out-dir DIR]

The inputs are not stored: element e (row-major) of a case's input is
``(u - 0.5) * 4`` with ``u`` the e-th uniform number (top 53 bits of splitmix64) of the stream
keyed by the case's seed, rounded once to float32 for the float32 run; the C++ tests
(``tests/dense/*.test.cpp``) reproduce it bit for bit. Per operation ``<op>`` the script writes

- ``<op>_cases.npy`` (float64, K×P): one row per case, the columns listed in ``manifest.json``;
- ``<op>_f32.npy`` and ``<op>_f64.npy``: the outputs of all cases, flattened row-major and
  concatenated in case order (the C++ test recomputes each case's output shape).

Operations: ``resize`` (``F.interpolate`` bilinear, size and scale_factor forms),
``batch_norm`` (``F.batch_norm`` eval; parameters from streams seed+1..seed+4, see
``bn_params``), ``fold`` (``fuse_conv_bn_weights``, then conv→BN of a 1×I×H×W input from stream
seed+5; bias from seed+6), ``relu`` and ``max_pool2d`` (some inputs with the special values of
``with_specials``), ``global_avg_pool`` (``F.adaptive_avg_pool2d(x + 1, 1)``), ``concat``
(``torch.cat`` of maps from streams seed, seed+1, seed+2).

torch runs with ``ATEN_CPU_CAPABILITY=default`` (its scalar kernels, set before the import), so
the outputs do not depend on the CPU that generates them.
"""

import os

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

import math  # noqa: E402

import numpy as np  # noqa: E402

from fixture_files import FixtureWriter, parse_args, versions  # noqa: E402

GENERATOR = "tests/reference/gen_dense_ops_fixtures.py"
MASK = (1 << 64) - 1
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix(seed, count):
    """splitmix64 outputs 0..count-1 of the stream keyed by `seed`."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed & MASK) + (np.arange(count, dtype=np.uint64) + np.uint64(1)) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def values(seed, shape):
    """The float64 input of a case: (u - 0.5)·4, u = k/2^53 (exact)."""
    n = int(np.prod(shape))
    u = (splitmix(seed, n) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return ((u - 0.5) * 4.0).reshape(shape)


def with_specials(x):
    """Element e (row-major) becomes -0.0 if e % 7 == 3, NaN if e % 11 == 5, -inf if
    e % 13 == 6, +inf if e % 17 == 8 (later rules win)."""
    flat = x.ravel().copy()
    e = np.arange(flat.size)
    flat[e % 7 == 3] = -0.0
    flat[e % 11 == 5] = np.nan
    flat[e % 13 == 6] = -np.inf
    flat[e % 17 == 8] = np.inf
    return flat.reshape(x.shape)


def tensors(torch, seed, shape, specials=False):
    """(float32 tensor, float64 tensor) of the case input."""
    x = values(seed, shape)
    if specials:
        x = with_specials(x)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(x)


# --- resize ------------------------------------------------------------------------------------

RESIZE_COLUMNS = ["seed", "n", "c", "h", "w", "out_h", "out_w", "align_corners", "scale_h",
                  "scale_w"]

# (N, C, H, W), (out_h, out_w) or None, align_corners, (scale_h, scale_w) or None
RESIZE_CASES = [
    ((1, 3, 7, 9), (13, 4), False, None),
    ((1, 3, 7, 9), (13, 4), True, None),
    ((2, 2, 8, 8), (17, 17), False, None),
    ((2, 2, 8, 8), (17, 17), True, None),
    ((1, 2, 17, 17), (33, 33), False, None),
    ((1, 2, 12, 21), (23, 41), True, None),
    ((1, 4, 10, 6), (5, 3), False, None),
    ((1, 4, 10, 6), (5, 3), True, None),
    ((1, 2, 7, 15), (7, 4), False, None),     # height unchanged
    ((1, 2, 5, 6), (5, 6), False, None),      # same size: a copy
    ((1, 2, 1, 9), (4, 5), False, None),      # one-row input
    ((1, 2, 6, 1), (3, 8), True, None),       # one-column input
    ((1, 3, 9, 11), (1, 1), False, None),
    ((1, 3, 9, 11), (1, 1), True, None),
    ((1, 3, 9, 11), (1, 5), True, None),
    ((1, 1, 6, 7), (9, 3), False, None),      # C = 1: PyTorch's channels-last kernel
    ((1, 1, 6, 7), (9, 3), True, None),
    ((3, 1, 5, 9), (11, 13), False, None),
    ((1, 1, 31, 17), (8, 40), True, None),
    ((1, 5, 1, 1), (6, 7), False, None),      # 1×1: exact broadcast
    ((1, 5, 1, 1), (6, 7), True, None),
    ((1, 3, 7, 9), None, False, (2.5, 1.7)),  # scale form
    ((1, 3, 7, 9), None, False, (0.3, 0.61)),
    ((1, 3, 5, 5), None, False, (1.0, 3.0)),
    ((1, 2, 6, 10), None, False, (1.3, 0.75)),
    ((1, 2, 6, 10), None, True, (1.3, 0.75)),
    ((1, 1, 9, 4), None, False, (2.2, 3.3)),
    ((2, 3, 13, 11), None, False, (0.5, 0.5)),
]


def resize_reference(torch, x, size, align, scale):
    import torch.nn.functional as F
    if scale is None:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=align)
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=align)


def gen_resize(torch):
    rows, out32, out64 = [], [], []
    for k, (shape, size, align, scale) in enumerate(RESIZE_CASES):
        seed = 1000 + k
        x32, x64 = tensors(torch, seed, shape)
        y32 = resize_reference(torch, x32, size, align, scale)
        y64 = resize_reference(torch, x64, size, align, scale)
        oh, ow = y32.shape[2], y32.shape[3]
        if scale is not None:
            assert (oh, ow) == (math.floor(shape[2] * scale[0]), math.floor(shape[3] * scale[1]))
        sh, sw = scale if scale is not None else (0.0, 0.0)
        rows.append([seed, *shape, oh, ow, float(align), sh, sw])
        out32.append(y32.numpy().ravel())
        out64.append(y64.numpy().ravel())
    return RESIZE_COLUMNS, rows, out32, out64


# --- batch norm and its folding -----------------------------------------------------------------

def bn_params(seed, c):
    """gamma, beta, running_mean, running_var (float64) of a case: streams seed+1..seed+4;
    var = max(|v| - 1, 0)·0.5 (about a quarter of the channels exactly 0)."""
    gamma = values(seed + 1, (c,))
    beta = values(seed + 2, (c,))
    mean = values(seed + 3, (c,))
    var = np.maximum(np.abs(values(seed + 4, (c,))) - 1.0, 0.0) * 0.5
    return gamma, beta, mean, var


BN_COLUMNS = ["seed", "n", "c", "h", "w", "eps", "affine"]
# (N, C, H, W), eps, affine (False: gamma and beta absent)
BN_CASES = [
    ((2, 5, 7, 9), 1e-5, True),
    ((1, 16, 1, 1), 1e-5, True),
    ((3, 4, 1, 1), 1e-3, True),
    ((1, 1, 6, 7), 1e-5, True),
    ((1, 37, 3, 5), 0.1, True),
    ((2, 6, 4, 4), 1e-5, False),
    ((1, 3, 17, 1), 2e-4, True),
]


def gen_batch_norm(torch):
    import torch.nn.functional as F
    rows, out32, out64 = [], [], []
    for k, (shape, eps, affine) in enumerate(BN_CASES):
        seed = 2000 + 10 * k
        x32, x64 = tensors(torch, seed, shape)
        params = bn_params(seed, shape[1])
        for x, out, dt in ((x32, out32, np.float32), (x64, out64, np.float64)):
            g, b, m, v = (torch.from_numpy(p.astype(dt)) for p in params)
            y = F.batch_norm(x, m, v, g if affine else None, b if affine else None,
                             training=False, eps=eps)
            out.append(y.numpy().ravel())
        rows.append([seed, *shape, eps, float(affine)])
    return BN_COLUMNS, rows, out32, out64


FOLD_COLUMNS = ["seed", "o", "i", "kh", "kw", "eps", "has_bias", "x_h", "x_w", "padding"]
# (O, I, kh, kw), eps, has_bias, conv input (H, W), padding
FOLD_CASES = [
    ((8, 5, 3, 3), 1e-5, False, (6, 7), 1),
    ((8, 5, 3, 3), 1e-5, True, (6, 7), 1),
    ((16, 12, 1, 1), 1e-3, False, (4, 5), 0),
    ((3, 2, 5, 3), 1e-5, True, (7, 6), 2),
    ((6, 64, 3, 3), 1e-5, False, (5, 5), 1),
]


def gen_fold(torch):
    """Per case: the folded weights and bias (fuse_conv_bn_weights), then conv→BN of an input
    (stream seed+5, 1×I×H×W) with the unfolded conv, all flattened in that order."""
    import torch.nn.functional as F
    from torch.nn.utils.fusion import fuse_conv_bn_weights
    rows, out32, out64 = [], [], []
    for k, (wshape, eps, has_bias, xhw, pad) in enumerate(FOLD_CASES):
        seed = 3000 + 10 * k
        o = wshape[0]
        params = bn_params(seed, o)
        w64 = values(seed, wshape)
        b64 = values(seed + 6, (o,))
        x64 = values(seed + 5, (1, wshape[1], *xhw))
        for out, dt in ((out32, np.float32), (out64, np.float64)):
            g, b, m, v = (torch.from_numpy(p.astype(dt)) for p in params)
            w = torch.from_numpy(w64.astype(dt))
            cb = torch.from_numpy(b64.astype(dt)) if has_bias else None
            x = torch.from_numpy(x64.astype(dt))
            fw, fb = fuse_conv_bn_weights(w, cb, m, v, eps, g, b)
            y = F.batch_norm(F.conv2d(x, w, cb, padding=pad), m, v, g, b, training=False,
                             eps=eps)
            out.append(np.concatenate([fw.detach().numpy().ravel(), fb.detach().numpy().ravel(),
                                       y.numpy().ravel()]))
        rows.append([seed, *wshape, eps, float(has_bias), *xhw, pad])
    return FOLD_COLUMNS, rows, out32, out64


# --- activation, pooling, concatenation ----------------------------------------------------------

RELU_COLUMNS = ["seed", "n", "c", "h", "w", "specials"]
RELU_CASES = [((1, 1, 1, 40), True), ((2, 3, 5, 7), True), ((1, 4, 9, 1), False)]


def gen_relu(torch):
    import torch.nn.functional as F
    rows, out32, out64 = [], [], []
    for k, (shape, specials) in enumerate(RELU_CASES):
        seed = 4000 + k
        x32, x64 = tensors(torch, seed, shape, specials)
        out32.append(F.relu(x32).numpy().ravel())
        out64.append(F.relu(x64).numpy().ravel())
        rows.append([seed, *shape, float(specials)])
    return RELU_COLUMNS, rows, out32, out64


GAP_COLUMNS = ["seed", "n", "c", "h", "w"]
GAP_CASES = [(2, 3, 7, 9), (1, 64, 33, 33), (1, 2, 65, 65), (1, 3, 2, 3), (2, 2, 1, 5),
             (1, 2, 1, 1), (1, 2, 1, 7), (1, 2, 1, 8), (1, 2, 4, 4), (1, 2, 5, 13),
             (1, 2, 129, 97), (1, 1, 300, 300), (1, 1, 512, 512), (3, 1, 6, 6)]


def gen_gap(torch):
    import torch.nn.functional as F
    rows, out32, out64 = [], [], []
    for k, shape in enumerate(GAP_CASES):
        seed = 5000 + k
        x32, x64 = tensors(torch, seed, shape)
        x32, x64 = x32 + 1.0, x64 + 1.0  # mean 1: no cancellation to 0
        out32.append(F.adaptive_avg_pool2d(x32, 1).numpy().ravel())
        out64.append(F.adaptive_avg_pool2d(x64, 1).numpy().ravel())
        rows.append([seed, *shape])
    return GAP_COLUMNS, rows, out32, out64


MAXPOOL_COLUMNS = ["seed", "n", "c", "h", "w", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw",
                   "ceil_mode", "specials", "out_h", "out_w"]
# (N, C, H, W), kernel, stride or None, padding, dilation, ceil_mode, specials
MAXPOOL_CASES = [
    ((1, 3, 8, 8), (2, 2), None, (0, 0), (1, 1), False, False),
    ((2, 2, 9, 11), (3, 3), (2, 2), (1, 1), (1, 1), False, False),
    ((2, 2, 9, 11), (3, 3), (2, 2), (1, 1), (1, 1), True, False),
    ((1, 2, 10, 7), (3, 2), (2, 3), (1, 0), (1, 1), True, False),
    ((1, 2, 13, 12), (3, 3), (1, 1), (1, 1), (2, 3), False, False),
    ((1, 2, 13, 12), (2, 3), (3, 2), (1, 1), (2, 2), True, False),
    ((1, 1, 1, 1), (2, 2), (1, 1), (1, 1), (2, 2), False, False),  # windows without input: -inf
    ((1, 3, 7, 7), (7, 7), None, (0, 0), (1, 1), False, False),
    ((1, 2, 5, 5), (4, 4), (3, 3), (2, 2), (1, 1), True, False),
    ((1, 2, 6, 9), (3, 3), (2, 2), (1, 1), (1, 1), True, True),     # NaN, ±inf, -0.0
    ((2, 1, 8, 6), (2, 2), (1, 1), (0, 1), (1, 1), False, True),
    ((1, 2, 17, 15), (5, 3), (4, 2), (2, 1), (1, 2), True, True),
]


def gen_maxpool(torch):
    import torch.nn.functional as F
    rows, out32, out64 = [], [], []
    for k, (shape, kernel, stride, pad, dil, ceil, specials) in enumerate(MAXPOOL_CASES):
        seed = 6000 + k
        x32, x64 = tensors(torch, seed, shape, specials)
        ys = [F.max_pool2d(x, kernel, stride=stride, padding=pad, dilation=dil, ceil_mode=ceil)
              for x in (x32, x64)]
        out32.append(ys[0].numpy().ravel())
        out64.append(ys[1].numpy().ravel())
        s = stride if stride is not None else (0, 0)
        rows.append([seed, *shape, *kernel, *s, *pad, *dil, float(ceil), float(specials),
                     ys[0].shape[2], ys[0].shape[3]])
    return MAXPOOL_COLUMNS, rows, out32, out64


CONCAT_COLUMNS = ["seed", "n", "h", "w", "c0", "c1", "c2"]
CONCAT_CASES = [((1, 5, 4), (2, 1, 3)), ((2, 3, 3), (1, 4, 2)), ((1, 1, 1), (3, 2, 5))]


def gen_concat(torch):
    """Input i of a case is N×c_i×H×W from stream seed + i."""
    rows, out32, out64 = [], [], []
    for k, ((n, h, w), cs) in enumerate(CONCAT_CASES):
        seed = 7000 + 10 * k
        parts = [tensors(torch, seed + i, (n, c, h, w)) for i, c in enumerate(cs)]
        out32.append(torch.cat([p[0] for p in parts], dim=1).numpy().ravel())
        out64.append(torch.cat([p[1] for p in parts], dim=1).numpy().ravel())
        rows.append([seed, n, h, w, *cs])
    return CONCAT_COLUMNS, rows, out32, out64


OPS = {"resize": gen_resize, "batch_norm": gen_batch_norm, "fold": gen_fold, "relu": gen_relu,
       "global_avg_pool": gen_gap, "max_pool2d": gen_maxpool, "concat": gen_concat}


def main():
    args = parse_args(__doc__, "dense/ops")
    import torch
    torch.set_num_threads(1)
    writer = FixtureWriter(args.out_dir)
    manifest = {"generator": GENERATOR,
                "versions": versions(torch=torch.__version__),
                "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
                "input": "(u - 0.5) * 4, u = (splitmix64(seed, e) >> 11) / 2^53; float32 rounded",
                "ops": {}}
    for name, gen in OPS.items():
        columns, rows, out32, out64 = gen(torch)
        writer.save(f"{name}_cases", np.array(rows, dtype=np.float64))
        writer.save(f"{name}_f32", np.concatenate(out32).astype(np.float32))
        writer.save(f"{name}_f64", np.concatenate(out64).astype(np.float64))
        manifest["ops"][name] = {"columns": columns, "cases": len(rows)}
    writer.finish(manifest)


if __name__ == "__main__":
    main()
