#!/usr/bin/python3
"""Fixtures for detseg's CAM toolkit (tests/seg/cam*.test.cpp, random_walk, affinity, par).

Every reference is written in numpy / PyTorch from the papers' definitions (docs/cam.md), not
from detseg and not copied from the papers' repositories:

- CAM (Zhou et al. 2016): ``relu(conv2d(F[None], W[:, :, None, None]))`` in float64;
  Grad-CAM weights (Selvaraju et al. 2017): ``G.mean(dim=(2, 3))``.
- normalisation: ``cam / (adaptive_max_pool2d(cam, 1) + eps)`` and
  ``(cam - min) / ((max - min) + eps)`` in float32 (PyTorch's own float arithmetic).
- aggregation: ``F.interpolate(cam[None], (H, W), mode="bilinear", align_corners)[0]``,
  ``.flip(-1)`` for maps of the flipped image, summed in order (``s = s + u``) or
  ``torch.stack(...).amax(0)``, float32.
- labels: ``np.argmax`` over ``[background, cams]`` with background = threshold (IRN
  ``cam_eval``) or ``max(0, 1 - max cam) ** alpha`` (PSA); IRN's dual thresholds
  (``conf_fg_thres`` / ``conf_bg_thres``) without the CRF.
- random walk (PSA / IRN): a ``torch.sparse_coo_tensor`` of the affinities of every pair within
  the radius (both inside the image) plus the diagonal 1, ``A ** beta``, rows divided by their
  sums, then ``x <- torch.sparse.mm(T, x)`` t times, float64. PSA affinity
  ``exp(-|f_i - f_j|_1)`` (sum or mean over channels); IRN affinity ``1 - max`` of the boundary
  over the pixels whose centre is at distance < 1 from the segment's line, in its bounding box.
- PAR (Ru et al. 2022 / ToCo): dilated 8-neighbourhoods with replicate padding (``F.pad``),
  ``torch.std`` (unbiased), softmax affinities plus ``w2 * softmax`` of the position term,
  iterated, float64.
- threshold sweep: labels per threshold as above, numpy confusion counts, mIoU = nanmean(IoU).

Writes ``tests/data/seg/cam/*.npy`` and ``manifest.json`` (``--out-dir``). Deterministic (seeded
``numpy.random.default_rng``). Run with Debian's interpreter:

    /usr/bin/python3 tests/reference/gen_cam_fixtures.py [--out-dir DIR]
"""

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("ATEN_CPU_CAPABILITY", "default")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 20261121


# ---------------------------------------------------------------- definitions (also used by
# benchmarks/compare/compare_random_walk.py)

def half_offsets(radius):
    """PSA/IRN search order: (0, 1..r-1), then dy = 1..r-1, dx = -(r-1)..r-1 with dy²+dx² < r²."""
    out = [(0, dx) for dx in range(1, radius)]
    for dy in range(1, radius):
        for dx in range(-radius + 1, radius):
            if dx * dx + dy * dy < radius * radius:
                out.append((dy, dx))
    return out


def pair_indices(h, w, radius):
    """(src, dst, j) for every forward offset j and source pixel whose destination is inside."""
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    src, dst, js = [], [], []
    for j, (dy, dx) in enumerate(half_offsets(radius)):
        yy, xx = ys + dy, xs + dx
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        src.append((ys * w + xs)[ok])
        dst.append((yy * w + xx)[ok])
        js.append(np.full(int(ok.sum()), j))
    return np.concatenate(src), np.concatenate(dst), np.concatenate(js)


def psa_pair_affinity(feat, src, dst, mean):
    """exp(-||f_i - f_j||_1) (or the channel mean) for the pairs, float64."""
    f = feat.reshape(feat.shape[0], -1).astype(np.float64)
    d = np.abs(f[:, src] - f[:, dst]).sum(0)
    if mean:
        d = d / feat.shape[0]
    return np.exp(-d)


def line_path(dy, dx):
    """Pixels of the bounding box of (0,0)-(dy,dx) whose centre is at distance < 1 from the line
    (the distance computed in floating point, independently of the C++ integer test)."""
    out = []
    length = np.hypot(dy, dx)
    for y in range(min(0, dy), max(0, dy) + 1):
        for x in range(min(0, dx), max(0, dx) + 1):
            if abs(dy * x - dx * y) / length < 1.0 - 1e-12:
                out.append((y, x))
    return out


def irn_pair_affinity(boundary, src, dst, js, radius):
    h, w = boundary.shape
    b = boundary.astype(np.float64)
    offs = half_offsets(radius)
    aff = np.empty(len(src))
    for n, (s, j) in enumerate(zip(src, js)):
        y, x = divmod(int(s), w)
        dy, dx = offs[j]
        aff[n] = 1.0 - max(b[y + py, x + px] for py, px in line_path(dy, dx))
    return aff


def sparse_transition(n, src, dst, aff, beta, dtype=torch.float64):
    """T = D^-1 A^beta as a torch sparse COO matrix (rows = the updated pixel)."""
    a = torch.from_numpy(np.asarray(aff, dtype=np.float64)).to(dtype) ** beta
    ones = torch.ones(n, dtype=dtype)
    idx = torch.cat([torch.from_numpy(np.stack([src, dst])),
                     torch.from_numpy(np.stack([dst, src])),
                     torch.arange(n).repeat(2, 1)], dim=1).long()
    val = torch.cat([a, a, ones])
    rows = torch.zeros(n, dtype=dtype).index_add_(0, idx[0], val)
    val = val / rows[idx[0]]
    return torch.sparse_coo_tensor(idx, val, (n, n)).coalesce()


def walk(trans, maps, steps):
    """x <- T x, steps times; maps C x H x W."""
    c = maps.shape[0]
    x = maps.reshape(c, -1).t().contiguous()
    for _ in range(steps):
        x = torch.sparse.mm(trans, x)
    return x.t().reshape(maps.shape)


def dense_weights(trans, h, w, radius):
    """The O x H x W weights of the full disk (raster order, (0,0) included) from T."""
    d = trans.to_dense().numpy()
    offs = [(dy, dx) for dy in range(-radius + 1, radius) for dx in range(-radius + 1, radius)
            if dy * dy + dx * dx < radius * radius]
    out = np.zeros((len(offs), h, w))
    for o, (dy, dx) in enumerate(offs):
        for y in range(h):
            for x in range(w):
                yy, xx = y + dy, x + dx
                if 0 <= yy < h and 0 <= xx < w:
                    out[o, y, x] = d[y * w + x, yy * w + xx]
    return out


def par_reference(img, masks, dilations, iters, w1=0.3, w2=0.01):
    """PAR from its definition, float64 torch; img C x H x W, masks K x H x W."""
    img = torch.from_numpy(img.astype(np.float64))[None]
    m = torch.from_numpy(masks.astype(np.float64))[None]
    h, w = img.shape[-2:]
    pad = max(dilations)

    def neighbours(x):
        xp = F.pad(x, [pad] * 4, mode="replicate")
        out = []
        for d in dilations:
            for dy in (-d, 0, d):
                for dx in (-d, 0, d):
                    if dy or dx:
                        out.append(xp[..., pad + dy:pad + dy + h, pad + dx:pad + dx + w])
        return torch.stack(out, dim=2)                      # 1 x C x J x H x W

    nb = neighbours(img)
    sd = torch.std(nb, dim=2, keepdim=True)                  # unbiased
    kappa = (-((nb - img[:, :, None]).abs() / (sd + 1e-8) / w1) ** 2).mean(dim=1, keepdim=True)
    rho = []
    for d in dilations:
        for dy in (-d, 0, d):
            for dx in (-d, 0, d):
                if dy or dx:
                    rho.append(d * np.sqrt(2.0) if (dy and dx) else float(d))
    rho = torch.tensor(rho, dtype=torch.float64)
    kpos = -(rho / (torch.std(rho) + 1e-8) / w1) ** 2
    aff = F.softmax(kappa, dim=2) + w2 * F.softmax(kpos, dim=0)[None, None, :, None, None]
    for _ in range(iters):
        m = (neighbours(m) * aff).sum(2)
    return m[0].numpy()


# ---------------------------------------------------------------- fixture sets

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "tests" / "data" / "seg" / "cam")
    args = p.parse_args(argv)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    files = {}
    manifest = {"versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                             "numpy": np.__version__},
                "seed": SEED, "cases": {}}

    def save(name, arr):
        arr = np.ascontiguousarray(arr)
        np.save(out / f"{name}.npy", arr)
        files[name] = arr

    # CAM and Grad-CAM
    feat = rng.normal(size=(16, 9, 11)).astype(np.float32)
    wts = rng.normal(size=(5, 16)).astype(np.float32)
    grads = rng.normal(size=(5, 16, 9, 11)).astype(np.float32)
    cam = F.relu(F.conv2d(torch.from_numpy(feat).double()[None],
                          torch.from_numpy(wts).double()[:, :, None, None]))[0]
    gw = torch.from_numpy(grads).double().mean(dim=(2, 3))
    gcam = F.relu(F.conv2d(torch.from_numpy(feat).double()[None], gw[:, :, None, None]))[0]
    save("cam_features", feat)
    save("cam_weights", wts)
    save("cam_gradients", grads)
    save("cam_expected", cam.numpy())
    save("gradcam_weights_expected", gw.numpy())
    save("gradcam_expected", gcam.numpy())
    f32 = F.relu(F.conv2d(torch.from_numpy(feat)[None], torch.from_numpy(wts)[:, :, None, None]))[0]
    manifest["cases"]["cam"] = {"C": 16, "K": 5, "h": 9, "w": 11,
                                "torch_float32_max_abs_diff": float((f32.double() - cam).abs().max())}

    # normalisation (float32, PyTorch's arithmetic)
    raw = torch.from_numpy((rng.gamma(2.0, 1.0, size=(4, 10, 12)) *
                            (rng.random((4, 10, 12)) > 0.3)).astype(np.float32))
    raw[3] = 0  # an all-zero class map stays 0
    save("norm_input", raw.numpy())
    save("norm_max_expected", (raw / (F.adaptive_max_pool2d(raw[None], (1, 1))[0] + 1e-5)).numpy())
    mx = raw.amax(dim=(1, 2), keepdim=True)
    mn = raw.amin(dim=(1, 2), keepdim=True)
    save("norm_minmax_expected", ((raw - mn) / ((mx - mn) + 1e-5)).numpy())

    # multi-scale + flip aggregation
    sizes = [(5, 7), (9, 11), (13, 17)]
    agg_maps = [rng.random((3, hh, ww)).astype(np.float32) for hh, ww in sizes for _ in range(2)]
    for i, m in enumerate(agg_maps):
        save(f"agg_map{i}", m)
    for ac in (False, True):
        ups = []
        for i, m in enumerate(agg_maps):
            u = F.interpolate(torch.from_numpy(m)[None], size=(23, 31), mode="bilinear",
                              align_corners=ac)[0]
            ups.append(u.flip(-1) if i % 2 == 1 else u)
        st = torch.stack(ups)
        tag = "ac" if ac else "noac"
        # sequential sum in the order added (what the C++ promises)
        s = ups[0].clone()
        for u in ups[1:]:
            s = s + u
        save(f"agg_sum_{tag}_expected", s.numpy())
        save(f"agg_max_{tag}_expected", st.amax(0).numpy())

    # labels
    lab_cam = (rng.random((4, 20, 24)) ** 2).astype(np.float32)
    lab_cam[:, :3, :3] = 0.0  # ties: all zero
    lab_cam[1, 5, 5] = lab_cam[2, 5, 5] = 0.9  # tie between classes
    save("labels_cam", lab_cam)
    m = lab_cam.max(0)
    save("labels_const_expected",
         np.argmax(np.concatenate([np.full((1, 20, 24), 0.3, np.float32), lab_cam]), 0)
         .astype(np.uint8))
    bg = np.power(np.maximum(np.float32(0), np.float32(1) - m), np.float32(4.0))
    save("labels_bg_power_expected", bg.astype(np.float32))
    save("labels_power_expected",
         np.argmax(np.concatenate([bg[None], lab_cam]), 0).astype(np.uint8))
    fg = np.argmax(np.concatenate([np.full((1, 20, 24), 0.30, np.float32), lab_cam]), 0)
    bgc = np.argmax(np.concatenate([np.full((1, 20, 24), 0.05, np.float32), lab_cam]), 0)
    conf = fg.copy()
    conf[fg == 0] = 255
    conf[(bgc + fg) == 0] = 0
    save("labels_dual_expected", conf.astype(np.uint8))

    # random walk: PSA features
    h, w, radius = 10, 12, 5
    psa_feat = rng.normal(scale=0.4, size=(6, h, w)).astype(np.float32)
    psa_feat[:, :, 6:] += 1.5  # two regions
    rw_maps = rng.random((3, h, w)).astype(np.float32)
    save("rw_psa_features", psa_feat)
    save("rw_maps", rw_maps)
    src, dst, js = pair_indices(h, w, radius)
    steps = 32
    for mean in (False, True):
        tag = "mean" if mean else "sum"
        aff = psa_pair_affinity(psa_feat, src, dst, mean)
        trans = sparse_transition(h * w, src, dst, aff, 8.0)
        save(f"rw_psa_{tag}_weights", dense_weights(trans, h, w, radius))
        save(f"rw_psa_{tag}_expected",
             walk(trans, torch.from_numpy(rw_maps).double(), steps).numpy())
    # IRN boundary
    yy, xx = np.mgrid[0:h, 0:w]
    boundary = np.clip(np.exp(-((xx - 5.5) ** 2) / 2.0) + 0.1 * rng.random((h, w)), 0, 1)
    boundary = boundary.astype(np.float32)
    save("rw_boundary", boundary)
    aff = irn_pair_affinity(boundary, src, dst, js, radius)
    trans = sparse_transition(h * w, src, dst, aff, 10.0)
    save("rw_irn_weights", dense_weights(trans, h, w, radius))
    save("rw_irn_expected", walk(trans, torch.from_numpy(rw_maps).double(), 16).numpy())
    # given affinities (radius 3)
    r3 = 3
    given = rng.random((len(half_offsets(r3)), h, w)).astype(np.float32)
    save("rw_given_affinity", given)
    s3, d3, j3 = pair_indices(h, w, r3)
    aff = given.astype(np.float64)[j3, s3 // w, s3 % w]
    trans = sparse_transition(h * w, s3, d3, aff, 3.0)
    save("rw_given_expected", walk(trans, torch.from_numpy(rw_maps).double(), 8).numpy())
    manifest["cases"]["random_walk"] = {
        "h": h, "w": w, "radius": radius, "psa": {"beta": 8, "steps": steps},
        "irn": {"beta": 10, "steps": 16}, "given": {"radius": 3, "beta": 3, "steps": 8}}

    # PAR
    img = (rng.random((3, 16, 20)) * 40).astype(np.float32)
    img[:, :, 10:] += 120.0
    par_masks = rng.random((3, 16, 20)).astype(np.float32)
    save("par_image", img)
    save("par_masks", par_masks)
    save("par_small_expected", par_reference(img, par_masks, [1, 2, 4], 5))
    save("par_toco_expected", par_reference(img, par_masks, [1, 2, 4, 8, 12, 24], 10))
    manifest["cases"]["par"] = {"small": {"dilations": [1, 2, 4], "iterations": 5},
                                "toco": {"dilations": [1, 2, 4, 8, 12, 24], "iterations": 10}}

    # threshold sweep
    sw_cam = (rng.random((2, 4, 15, 17)) ** 2).astype(np.float32)
    sw_gt = rng.integers(0, 5, size=(2, 15, 17)).astype(np.uint8)
    sw_gt[0, :2, :] = 255
    thresholds = np.array([0.05, 0.1, 0.2, 0.35, 0.5])
    save("sweep_cams", sw_cam)
    save("sweep_gt", sw_gt)
    save("sweep_thresholds", thresholds)
    mious = []
    for t in thresholds:
        cm = np.zeros((5, 5), np.int64)
        for i in range(2):
            lab = np.argmax(np.concatenate([np.full((1, 15, 17), t, np.float32), sw_cam[i]]), 0)
            g = sw_gt[i]
            keep = g != 255
            np.add.at(cm, (g[keep].astype(np.int64), lab[keep]), 1)
        inter = np.diag(cm).astype(np.float64)
        union = cm.sum(0) + cm.sum(1) - np.diag(cm)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = inter / union
        mious.append(np.nanmean(iou))
    save("sweep_miou_expected", np.array(mious))

    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name, arr in files.items():
        back = np.load(out / f"{name}.npy")
        assert back.dtype == arr.dtype and back.tobytes() == arr.tobytes(), name
    total = sum((out / f"{n}.npy").stat().st_size for n in files)
    print(f"wrote {len(files)} arrays ({total} bytes) + manifest.json to {out}")
    print("cam: torch float32 vs float64 max |diff| =",
          manifest["cases"]["cam"]["torch_float32_max_abs_diff"])


if __name__ == "__main__":
    main()
