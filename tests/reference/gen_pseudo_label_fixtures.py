#!/usr/bin/python3
"""Fixtures for detseg's pseudo-label losses, threshold policies and Soft Teacher parts
(tests/seg/pseudo_label*.test.cpp, tests/seg/pseudo_threshold.test.cpp,
tests/detect/soft_teacher.test.cpp).

References (written from the definitions, not from any project's code):

- losses: PyTorch 1.13 autograd. ``F.cross_entropy(x, y, weight, ignore_index=255,
  reduction)`` and ``x.grad`` after ``backward()``; the pseudo-label losses as
  ``(F.cross_entropy(x, y, ignore_index=255, reduction='none') * w).sum() / D`` with the detached
  pixel weight ``w = conf**gamma * (conf >= tau) * (1 + lam * boundary)`` and ``D`` the number of
  non-ignored pixels (``mean``) or ``w.sum()`` (``weighted_mean``); the boundary map is a 3x3
  Sobel filter on the label values with edge padding (``numpy.pad(mode='edge')``), nonzero
  response = boundary.
- CW-BASS dynamic threshold: tau = clip(base / (1 + exp(-beta (mean_conf - 0.5))), 0.3, 0.8).
- FlexMatch (Zhang et al., NeurIPS 2021), Eqs. 6, 7, 9, 11: per-item memory of the last
  confident prediction; sigma(c) = count of items whose memory is c; beta(c) = sigma(c) /
  max(max_c sigma, N - sum_c sigma) (warm-up) or sigma(c) / max_c sigma; T(c) = M(beta(c)) tau
  with M(x) = x / (2 - x).
- FreeMatch (Wang et al., ICLR 2023), Eqs. 5-8: tau_t = lam tau_{t-1} + (1 - lam) mean max q;
  p_t(c) = lam p_{t-1}(c) + (1 - lam) mean q(c); tau_t(c) = p_t(c) / max_c p_t(c) * tau_t;
  tau_0 = p_0(c) = 1 / C.
- U2PL (Wang et al., CVPR 2022), Sec. 3.3: alpha_t = alpha_0 (1 - t / T); entropy
  H = -sum p log p over the valid pixels; gamma_t = numpy.percentile(H, 100 (1 - alpha_t));
  reliable = H < gamma_t.
- Soft Teacher (Xu et al., ICCV 2021), Eqs. 4-6: classification loss
  (1 / N_fg) sum_fg CE + sum_bg (r_j / sum_k r_k) CE with torch autograd; the released code's
  normalisation sum(w CE) / max(sum w, 1) with w = 1 (fg), r (bg); box-jitter uncertainty:
  torch.std (unbiased) over the jittered refined boxes, divided by 0.5 (w + h) of the pseudo box
  (paper) or per axis by the clamped (>= 1) size of the mean refined box (released code), mean of
  the four.

Writes ``tests/data/seg/pseudo/`` and ``tests/data/detect/soft_teacher/`` (``--out-dir`` root)
and a ``manifest.json`` in each. Deterministic (seeded ``numpy.random.default_rng``).

    /usr/bin/python3 tests/reference/gen_pseudo_label_fixtures.py [--out-dir DIR]
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
IGNORE = 255
torch.set_num_threads(1)


class Writer:
    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.written = {}

    def save(self, stem, arr):
        arr = np.ascontiguousarray(arr)
        path = self.out_dir / f"{stem}.npy"
        np.save(path, arr)
        self.written[path] = arr

    def finish(self, manifest):
        (self.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for path, arr in self.written.items():
            back = np.load(path)
            assert back.dtype == arr.dtype and back.tobytes() == arr.tobytes(), path
        total = sum(p.stat().st_size for p in self.written)
        print(f"wrote {len(self.written)} arrays ({total} bytes) to {self.out_dir}")


# --- losses ---------------------------------------------------------------------------------------

def sobel_boundary(labels):
    """labels N x H x W (int) -> uint8 boundary map: 3x3 Sobel on the values, edge padding."""
    out = np.zeros(labels.shape, dtype=np.uint8)
    k = np.array([1, 2, 1], dtype=np.int64)
    for n in range(labels.shape[0]):
        p = np.pad(labels[n].astype(np.int64), 1, mode="edge")
        h, w = labels.shape[1:]
        gx = np.zeros((h, w), dtype=np.int64)
        gy = np.zeros((h, w), dtype=np.int64)
        for a in range(3):
            gx += k[a] * (p[a:a + h, 2:2 + w] - p[a:a + h, 0:w])
            gy += k[a] * (p[2:2 + h, a:a + w] - p[0:h, a:a + w])
        out[n] = ((gx != 0) | (gy != 0)).astype(np.uint8)
    return out


def make_inputs(rng, n, c, h, w, blocky):
    x = rng.normal(0.0, 2.5, (n, c, h, w))
    if blocky:  # pseudo labels with regions, so that there are boundaries
        small = rng.integers(0, c, (n, (h + 2) // 3, (w + 2) // 3))
        y = np.repeat(np.repeat(small, 3, axis=1), 3, axis=2)[:, :h, :w].astype(np.int64)
    else:
        y = rng.integers(0, c, (n, h, w)).astype(np.int64)
    y[rng.random((n, h, w)) < 0.12] = IGNORE
    conf = rng.random((n, h, w))
    conf[rng.random((n, h, w)) < 0.1] = 0.75  # exactly at the threshold used below
    cw = rng.uniform(0.2, 3.0, c)
    return x, y, conf, cw


LOSS_CASES = [
    # name, kind, shape (N, C, H, W) or (C, H, W), params
    ("ce_mean", "ce", (2, 5, 7, 9), {"reduction": "mean"}),
    ("ce_weight_mean", "ce", (2, 5, 7, 9), {"reduction": "mean", "weights": True}),
    ("ce_weight_sum", "ce", (2, 5, 7, 9), {"reduction": "sum", "weights": True}),
    ("ce_none", "ce", (2, 5, 7, 9), {"reduction": "none", "weights": True}),
    ("ce_chw", "ce", (6, 8, 5), {"reduction": "mean"}),
    ("cw_mean", "pl", (2, 6, 8, 7), {"reduction": "mean", "gamma": 2.0}),
    ("cw_wmean", "pl", (2, 6, 8, 7), {"reduction": "weighted_mean", "gamma": 1.5}),
    ("fix_mean", "pl", (2, 4, 6, 10), {"reduction": "mean", "gamma": 0.0, "tau": 0.75}),
    ("fix_wmean", "pl", (2, 4, 6, 10), {"reduction": "weighted_mean", "gamma": 0.0, "tau": 0.75}),
    ("bnd_mean", "pl", (2, 5, 12, 11),
     {"reduction": "mean", "gamma": 1.0, "tau": 0.3, "lam": 1.5, "blocky": True}),
    ("bnd_none", "pl", (5, 9, 10),
     {"reduction": "none", "gamma": 0.5, "lam": 2.0, "blocky": True}),
]


def torch_loss(kind, xt, y4, conf4, cw, p):
    """The reference loss of one case on a torch tensor xt (N x C x H x W) with grad."""
    yt = torch.from_numpy(y4)
    red = p["reduction"]
    if kind == "ce":
        wt = torch.from_numpy(cw).to(xt.dtype) if p.get("weights") else None
        return F.cross_entropy(xt, yt, weight=wt, ignore_index=IGNORE,
                               reduction="none" if red == "none" else red), None
    wpix = conf4 ** p["gamma"]
    if "tau" in p:
        wpix = wpix * (conf4 >= p["tau"])
    if p.get("lam", 0.0):
        wpix = wpix * (1.0 + p["lam"] * sobel_boundary(y4))
    wpix = np.where(y4 == IGNORE, 0.0, wpix)
    per = F.cross_entropy(xt, yt, ignore_index=IGNORE, reduction="none")
    loss = per * torch.from_numpy(wpix).to(xt.dtype)
    if red == "none":
        return loss, wpix
    if red == "sum":
        return loss.sum(), wpix
    den = (y4 != IGNORE).sum() if red == "mean" else wpix.sum()
    return loss.sum() / float(den), wpix


def gen_losses(wr, rng, manifest):
    for name, kind, shape, p in LOSS_CASES:
        four = len(shape) == 4
        n, c, h, w = shape if four else (1, *shape)
        x, y, conf, cw = make_inputs(rng, n, c, h, w, p.get("blocky", False))
        for dt, tag in ((np.float32, "f32"), (np.float64, "f64")):
            xx = x.astype(dt)
            cc = conf.astype(dt)
            xt = torch.tensor(xx, requires_grad=True)
            loss, _ = torch_loss(kind, xt, y, cc.astype(np.float64), cw, p)
            (loss.sum() if p["reduction"] == "none" else loss).backward()
            sq = (lambda a: a) if four else (lambda a: a[0])
            wr.save(f"{name}_{tag}_logits", sq(xx))
            wr.save(f"{name}_{tag}_conf", sq(cc))
            wr.save(f"{name}_{tag}_grad", sq(xt.grad.numpy()))
            if p["reduction"] == "none":
                wr.save(f"{name}_{tag}_losses", sq(loss.detach().numpy()))
                value = float(loss.detach().double().sum())
            else:
                value = float(loss.detach())
            wr.save(f"{name}_{tag}_value", np.array([value]))
        wr.save(f"{name}_labels", (y if four else y[0]).astype(np.int32))
        wr.save(f"{name}_class_weights", cw)
        red = ["mean", "weighted_mean", "sum", "none"].index(p["reduction"])
        wr.save(f"{name}_params", np.array([
            red, p.get("gamma", 0.0), p.get("tau", -1.0), p.get("lam", 0.0),
            1.0 if p.get("weights") else 0.0, 1.0 if kind == "pl" else 0.0]))
        manifest["losses"].append({"name": name, "kind": kind, "shape": list(shape), **p})
        if p.get("lam"):
            wr.save(f"{name}_boundary", sobel_boundary(y) if four else sobel_boundary(y)[0])
    (wr.out_dir / "loss_cases.txt").write_text("".join(f"{c[0]}\n" for c in LOSS_CASES))


# --- threshold policies ---------------------------------------------------------------------------

def softmax_np(z, axis):
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def gen_cw_bass(wr, rng, manifest):
    base, beta, lo, hi = 0.95, 8.0, 0.3, 0.8
    steps = 12
    confs = []
    taus = []
    for t in range(steps):
        a = rng.uniform(0.5, 12.0)
        conf = rng.beta(a, 2.0, (3, 6, 5))  # N x H x W, mean drifting over the batches
        confs.append(conf)
        m = conf.mean()
        taus.append(min(max(base / (1.0 + np.exp(-beta * (m - 0.5))), lo), hi))
    wr.save("cwbass_conf", np.stack(confs))
    wr.save("cwbass_tau", np.array(taus))
    wr.save("cwbass_params", np.array([base, beta, lo, hi]))
    manifest["policies"]["cw_bass"] = {"base": base, "beta": beta, "clamp": [lo, hi],
                                       "steps": steps}


def gen_flexmatch(wr, rng, manifest):
    c, items, batch, steps, tau = 6, 40, 10, 14, 0.7
    for warm in (1, 0):
        mem = np.full(items, -1, dtype=np.int64)
        idx_all, lab_all, conf_all, thr_all, mask_all = [], [], [], [], []
        for t in range(steps):
            idx = rng.choice(items, batch, replace=False)
            logits = rng.normal(0.0, 1.0 + 0.3 * t, (batch, c))
            p = softmax_np(logits, 1)
            lab = p.argmax(1)
            conf = p.max(1)
            # mask with the thresholds before this batch's update
            sigma = np.array([(mem == k).sum() for k in range(c)], dtype=np.float64)
            unused = float((mem == -1).sum())
            den = max(sigma.max(), unused) if warm else sigma.max()
            beta = sigma / den if den > 0 else np.zeros(c)
            thr = beta / (2.0 - beta) * tau
            mask = conf > thr[lab]  # Eq. 8
            # update the memory with this batch's confident predictions (Eq. 6: conf > tau)
            sel = conf > tau
            mem[idx[sel]] = lab[sel]
            idx_all.append(idx)
            lab_all.append(lab)
            conf_all.append(conf)
            thr_all.append(thr)
            mask_all.append(mask)
        sigma = np.array([(mem == k).sum() for k in range(c)], dtype=np.float64)
        unused = float((mem == -1).sum())
        den = max(sigma.max(), unused) if warm else sigma.max()
        beta = sigma / den if den > 0 else np.zeros(c)
        final = beta / (2.0 - beta) * tau
        tag = "flex_warm" if warm else "flex_nowarm"
        wr.save(f"{tag}_index", np.stack(idx_all).astype(np.int64))
        wr.save(f"{tag}_label", np.stack(lab_all).astype(np.int64))
        wr.save(f"{tag}_conf", np.stack(conf_all))
        wr.save(f"{tag}_thresholds", np.stack(thr_all))
        wr.save(f"{tag}_mask", np.stack(mask_all).astype(np.uint8))
        wr.save(f"{tag}_final", final)
        wr.save(f"{tag}_params", np.array([c, items, tau, warm], dtype=np.float64))
    manifest["policies"]["flexmatch"] = {"classes": c, "items": items, "batch": batch,
                                         "steps": steps, "tau": tau}


def gen_freematch(wr, rng, manifest):
    c, steps, lam = 5, 10, 0.9
    tau = 1.0 / c
    pm = np.full(c, 1.0 / c)
    probs, taus, locs = [], [], []
    for t in range(steps):
        logits = rng.normal(0.0, 0.5 + 0.4 * t, (2, c, 4, 6))  # N x C x H x W
        q = softmax_np(logits, 1)
        probs.append(q)
        qq = q.transpose(0, 2, 3, 1).reshape(-1, c)
        tau = lam * tau + (1.0 - lam) * qq.max(1).mean()
        pm = lam * pm + (1.0 - lam) * qq.mean(0)
        taus.append(tau)
        locs.append(pm / pm.max() * tau)
    wr.save("free_probs", np.stack(probs))
    wr.save("free_tau", np.array(taus))
    wr.save("free_class_tau", np.stack(locs))
    wr.save("free_params", np.array([c, lam], dtype=np.float64))
    manifest["policies"]["freematch"] = {"classes": c, "momentum": lam, "steps": steps}


def gen_teacher(wr, rng, manifest):
    x = rng.normal(0.0, 3.0, (2, 6, 5, 7))
    for dt, tag in ((np.float32, "f32"), (np.float64, "f64")):
        xt = torch.from_numpy(x.astype(dt))
        conf, lab = torch.softmax(xt, dim=1).max(dim=1)
        wr.save(f"teacher_{tag}_logits", x.astype(dt))
        wr.save(f"teacher_{tag}_conf", conf.numpy())
        wr.save(f"teacher_{tag}_labels", lab.numpy().astype(np.int32))
    manifest["teacher"] = {"shape": list(x.shape), "reference": "torch.softmax(x, 1).max(1)"}


def gen_decay(wr, rng, manifest):
    factor, floor, rounds = 0.9, 0.5, 9
    conf = rng.random((3, 4)).astype(np.float32)
    scales = np.array([max(factor ** r, floor) for r in range(rounds)])
    wr.save("decay_conf", conf)
    wr.save("decay_scales", scales)
    wr.save("decay_out", np.stack([(conf.astype(np.float64) * s).astype(np.float32)
                                   for s in scales]))
    wr.save("decay_params", np.array([factor, floor]))
    manifest["policies"]["confidence_decay"] = {"factor": factor, "min_scale": floor,
                                                "rounds": rounds}


def gen_u2pl(wr, rng, manifest):
    c, alpha0, total = 7, 0.2, 10
    logits = rng.normal(0.0, 2.0, (2, c, 9, 11))
    p = softmax_np(logits, 1)
    y = rng.integers(0, c, (2, 9, 11))
    y[rng.random((2, 9, 11)) < 0.15] = IGNORE
    ent = np.zeros((2, 9, 11))
    for k in range(c):
        pk = p[:, k]
        ent -= np.where(pk > 0, pk * np.log(np.where(pk > 0, pk, 1.0)), 0.0)
    out_t, out_g, out_m = [], [], []
    for epoch in (0, 3, 7, 10):
        alpha = alpha0 * (1.0 - epoch / total)
        valid = y != IGNORE
        g = np.percentile(ent[valid], 100.0 * (1.0 - alpha))
        m = np.where(valid, np.where(ent < g, 1, 2), 0).astype(np.uint8)
        out_t.append(epoch)
        out_g.append(g)
        out_m.append(m)
    wr.save("u2pl_probs", p)
    wr.save("u2pl_labels", y.astype(np.int32))
    wr.save("u2pl_entropy", ent)
    wr.save("u2pl_epochs", np.array(out_t, dtype=np.int64))
    wr.save("u2pl_gamma", np.array(out_g))
    wr.save("u2pl_mask", np.stack(out_m))
    wr.save("u2pl_params", np.array([alpha0, total], dtype=np.float64))
    manifest["policies"]["u2pl"] = {"classes": c, "alpha0": alpha0, "total_epochs": total}


# --- Soft Teacher -----------------------------------------------------------------------------------

def gen_soft_teacher(wr, rng, manifest):
    k = 6  # foreground classes; background = index k
    for case, (n, bg_frac) in enumerate([(40, 0.7), (25, 0.0), (30, 1.0)]):
        logits = rng.normal(0.0, 2.0, (n, k + 1))
        lab = rng.integers(0, k, n)
        bg = rng.random(n) < bg_frac
        lab[bg] = k
        r = rng.random(n)
        for dt, tag in ((np.float32, "f32"), (np.float64, "f64")):
            for norm in ("paper", "code"):
                xt = torch.tensor(logits.astype(dt), requires_grad=True)
                per = F.cross_entropy(xt, torch.from_numpy(lab), reduction="none")
                fg = torch.from_numpy(lab != k)
                rr = torch.from_numpy(r.astype(dt))
                if norm == "paper":
                    nfg = int(fg.sum())
                    loss = per[fg].sum() / nfg if nfg else per.sum() * 0
                    rb = rr[~fg]
                    if rb.numel() and float(rb.sum()) > 0:
                        loss = loss + (per[~fg] * rb / rb.sum()).sum()
                else:
                    wgt = torch.where(fg, torch.ones_like(rr), rr)
                    loss = (per * wgt).sum() / max(float(wgt.sum()), 1.0)
                loss.backward()
                wr.save(f"cls{case}_{norm}_{tag}_grad", xt.grad.numpy())
                wr.save(f"cls{case}_{norm}_{tag}_value", np.array([float(loss.detach())]))
            wr.save(f"cls{case}_{tag}_logits", logits.astype(dt))
            wr.save(f"cls{case}_{tag}_bgscore", r.astype(dt))
        wr.save(f"cls{case}_labels", lab.astype(np.int64))
    # jitter uncertainty: J jitters x M boxes x 4
    m, j = 30, 10
    cx, cy = rng.uniform(50, 500, m), rng.uniform(50, 400, m)
    bw, bh = np.exp(rng.uniform(np.log(4), np.log(200), m)), np.exp(rng.uniform(np.log(4),
                                                                              np.log(200), m))
    bw[0] = 0.5  # a tiny box: the clamp at 1 matters
    pseudo = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    spread = rng.uniform(0.0, 0.06, m)[None, :, None] * np.concatenate(
        [bw[:, None], bh[:, None], bw[:, None], bh[:, None]], 1)[None]
    refined = pseudo[None] + rng.normal(0.0, 1.0, (j, m, 4)) * spread
    for dt, tag in ((np.float32, "f32"), (np.float64, "f64")):
        rt = torch.from_numpy(refined.astype(dt))
        pt = torch.from_numpy(pseudo.astype(dt))
        std = rt.std(dim=0)  # unbiased
        wh = pt[:, 2:4] - pt[:, :2]
        paper = (std / (0.5 * (wh[:, 0] + wh[:, 1]))[:, None]).mean(1)
        mean_box = rt.mean(dim=0)
        mwh = (mean_box[:, 2:4] - mean_box[:, :2]).clamp(min=1.0)
        code = (std / mwh.repeat(1, 2)).mean(1)
        wr.save(f"jitter_{tag}_pseudo", pseudo.astype(dt))
        wr.save(f"jitter_{tag}_refined", refined.astype(dt))
        wr.save(f"jitter_{tag}_paper", paper.numpy())
        wr.save(f"jitter_{tag}_code", code.numpy())
    manifest["soft_teacher"] = {"classes": k, "cls_cases": 3, "jitter": {"boxes": m,
                                                                         "jitters": j}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=REPO_ROOT / "tests" / "data")
    args = ap.parse_args()
    versions = {"python": sys.version.split()[0], "torch": torch.__version__,
                "numpy": np.__version__}
    seg = Writer(args.out_dir / "seg" / "pseudo")
    man = {"versions": versions, "seed": SEED, "losses": [], "policies": {}}
    gen_losses(seg, np.random.default_rng([SEED, 0]), man)
    gen_cw_bass(seg, np.random.default_rng([SEED, 1]), man)
    gen_flexmatch(seg, np.random.default_rng([SEED, 2]), man)
    gen_freematch(seg, np.random.default_rng([SEED, 3]), man)
    gen_u2pl(seg, np.random.default_rng([SEED, 4]), man)
    gen_decay(seg, np.random.default_rng([SEED, 6]), man)
    gen_teacher(seg, np.random.default_rng([SEED, 7]), man)
    seg.finish(man)
    det = Writer(args.out_dir / "detect" / "soft_teacher")
    dman = {"versions": versions, "seed": SEED}
    gen_soft_teacher(det, np.random.default_rng([SEED, 5]), dman)
    det.finish(dman)


if __name__ == "__main__":
    main()
