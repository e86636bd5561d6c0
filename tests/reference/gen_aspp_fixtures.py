#!/usr/bin/python3
"""Fixtures for detseg::aspp (tests/seg/aspp.test.cpp): torchvision 0.14's DeepLabV3 ``ASPP`` in
eval mode, and its depthwise-separable variant, in float32 and float64.

Weights and inputs are not stored: they come from the counter-based generator of
``gen_conv2d_fixtures.py`` (``counter_values``), which the C++ test reproduces bit for bit.
Tensor number t of ``tensor_shapes(config)`` (the order of detseg's ``aspp_tensor_shapes``) uses
seed ``1000·s + t`` and the input ``1000·s + 999`` (s the case's seed), with v the generated
values in [-1, 1):

- convolution weights: v · 2**-e, e = (bit_length(fan_in) - 1) // 2;
- BatchNorm ``weight`` (gamma) 1 + v/4, ``bias`` (beta) v/8, ``running_mean`` v/8,
  ``running_var`` 0.75 + v/2 (non-trivial statistics, all exact in float32);
- the input (C×H×W): v.

The separable variant is written here from its definition (DeepLabv3+, mmseg's
``DepthwiseSeparableASPPHead`` branches): torchvision's ASPP with each dilated branch replaced by
``Sequential(Conv2d(C, C, 3, padding=r, dilation=r, groups=C, bias=False), BatchNorm2d(C), ReLU(),
Conv2d(C, O, 1, bias=False), BatchNorm2d(O), ReLU())``, so its keys are ``convs.k.{0,1,3,4}.*``.

Writes into ``tests/data/seg/aspp/`` (``--out-dir``), for every case NAME:

- ``NAME_config.npy`` int64: [in_channels, out_channels, H, W, variant (0 standard,
  1 separable), seed, R, rate_1, ..., rate_R];
- ``NAME_idx.npy`` int64: flat indices into the O×H×W output (all of them for small cases, a
  seeded sample of 4096 for large ones);
- ``NAME_f32.npy``, ``NAME_f64.npy``: the output at those indices;
- ``NAME_max.npy`` float64: [max |output| in float32, max |output| in float64] over the whole
  output;

and ``small_state/<key>.npy`` (float32): the ``state_dict`` of case ``small`` as
``torch.save``-free ``.npy`` files, to test ``load_state_dict``. ``cases.txt`` lists the names.

    /usr/bin/python3 tests/reference/gen_aspp_fixtures.py [--out-dir DIR]
"""

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_files import parse_args  # noqa: E402
from gen_conv2d_fixtures import counter_values, weight_scale  # noqa: E402

SAMPLES = 4096

# name: (in, out, H, W, variant, seed, rates)
CASES = {
    "small": (16, 8, 9, 11, 0, 1, (1, 2, 3)),
    "small_far": (8, 5, 7, 6, 0, 2, (4, 7, 20)),
    "no_rates": (6, 4, 5, 5, 0, 3, ()),
    "mid": (64, 32, 17, 17, 0, 4, (3, 6, 9)),
    "sep_small": (16, 8, 9, 11, 1, 5, (2, 4)),
    "sep_mid": (128, 64, 33, 33, 1, 6, (12, 24, 36)),
    "tv512_65": (512, 256, 65, 65, 0, 7, (6, 12, 18)),
    "tv2048_33": (2048, 256, 33, 33, 0, 8, (12, 24, 36)),
    "sep2048_33": (2048, 256, 33, 33, 1, 9, (12, 24, 36)),
}


def tensor_shapes(cin, cout, rates, variant):
    """(key, shape) in detseg's aspp_tensor_shapes order."""
    out = []

    def bn(prefix, n):
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            out.append((prefix + leaf, (n,)))

    out.append(("convs.0.0.weight", (cout, cin, 1, 1)))
    bn("convs.0.1.", cout)
    for k in range(1, len(rates) + 1):
        p = f"convs.{k}."
        if variant == 0:
            out.append((p + "0.weight", (cout, cin, 3, 3)))
            bn(p + "1.", cout)
        else:
            out.append((p + "0.weight", (cin, 1, 3, 3)))
            bn(p + "1.", cin)
            out.append((p + "3.weight", (cout, cin, 1, 1)))
            bn(p + "4.", cout)
    pool = f"convs.{len(rates) + 1}."
    out.append((pool + "1.weight", (cout, cin, 1, 1)))
    bn(pool + "2.", cout)
    out.append(("project.0.weight", (cout, (len(rates) + 2) * cout, 1, 1)))
    bn("project.1.", cout)
    return out


def tensor_values(key, shape, seed):
    v = counter_values(seed, int(np.prod(shape))).reshape(shape)
    if len(shape) == 4:
        return v * weight_scale(shape[1] * shape[2] * shape[3])
    leaf = key.rsplit(".", 1)[1]
    return {"weight": 1.0 + v / 4, "bias": v / 8, "running_mean": v / 8,
            "running_var": 0.75 + v / 2}[leaf]


def state_dict(cfg):
    cin, cout, _, _, variant, seed, rates = cfg
    return {k: tensor_values(k, s, 1000 * seed + t)
            for t, (k, s) in enumerate(tensor_shapes(cin, cout, rates, variant))}


def aspp_module(cin, cout, rates, variant):
    """torchvision's DeepLabV3 ``ASPP`` with its default initialisation; variant 1 (separable):
    each dilated branch a depthwise 3×3 → BN → ReLU → pointwise 1×1 → BN → ReLU. (Also used by
    benchmarks/compare/compare_aspp.py.)"""
    from torch import nn
    from torchvision.models.segmentation.deeplabv3 import ASPP

    m = ASPP(cin, list(rates), cout)
    if variant == 1:
        for k, r in enumerate(rates, start=1):
            m.convs[k] = nn.Sequential(
                nn.Conv2d(cin, cin, 3, padding=r, dilation=r, groups=cin, bias=False),
                nn.BatchNorm2d(cin), nn.ReLU(),
                nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
    return m


def model(torch, cfg):
    cin, cout, _, _, variant, _, rates = cfg
    m = aspp_module(cin, cout, rates, variant)
    sd = {k: torch.from_numpy(v) for k, v in state_dict(cfg).items()}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), missing
    return m.eval()


def main(argv=None):
    args = parse_args(__doc__, "seg/aspp", argv)
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")
    import torch

    torch.set_num_threads(2)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for ci, (name, cfg) in enumerate(CASES.items()):
        cin, cout, h, w, variant, seed, rates = cfg
        x = counter_values(1000 * seed + 999, cin * h * w).reshape(1, cin, h, w)
        n = cout * h * w
        idx = (np.arange(n, dtype=np.int64) if n <= SAMPLES else
               np.sort(np.random.default_rng([20261121, ci]).choice(n, SAMPLES, replace=False))
               .astype(np.int64))
        arrays = {"config": np.array([cin, cout, h, w, variant, seed, len(rates), *rates],
                                     dtype=np.int64), "idx": idx}
        maxima = []
        for dtype, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
            m = model(torch, cfg).to(dtype)
            with torch.no_grad():
                y = m(torch.from_numpy(x).to(dtype))[0].numpy()
            arrays[tag] = np.ascontiguousarray(y.reshape(-1)[idx])
            maxima.append(float(np.abs(y).max()))
        arrays["max"] = np.array(maxima, dtype=np.float64)
        for k, a in arrays.items():
            np.save(out / f"{name}_{k}.npy", a)
            total += a.nbytes
        print(f"{name}: {n} outputs, {idx.size} stored, max |y| {maxima[1]:.4g}")
    sd_dir = out / "small_state"
    sd_dir.mkdir(exist_ok=True)
    for k, v in state_dict(CASES["small"]).items():
        np.save(sd_dir / f"{k}.npy", v.astype(np.float32))
    np.save(sd_dir / "convs.0.1.num_batches_tracked.npy", np.array(0, dtype=np.int64))
    (out / "cases.txt").write_text("".join(f"{k}\n" for k in CASES))
    print(f"wrote {len(CASES)} cases ({total} bytes) and small_state/ to {out}")


if __name__ == "__main__":
    sys.exit(main())
