#!/usr/bin/python3
"""Parity cases for detseg's dense CRF (tests/seg/crf_cases.test.cpp), computed by pydensecrf.

pydensecrf (densecrf v2, the permutohedral-lattice mean field of Krähenbühl & Koltun) is not a
Debian package and this script does not build it: it imports it when it is importable (from the
interpreter's path, or from ``--pydensecrf DIR``, a folder holding the built ``pydensecrf``
package) and otherwise says so and exits with status 2. The committed files were made with
pydensecrf @ 2723c7f built against Debian's cython3; the versions are in ``manifest.json``.
It can be built by hand under /tmp for comparison (Debian's cython3 works once the
``setup_requires`` pin of its setup.py is removed); neither it nor build steps are kept here.

The cases are synthetic scenes the shared case (``../shared/testdata/crf``) does not cover:
other sizes, label counts, seeds and presets, the three unary sources, and non-default
compatibility and normalisation. A scene is a background with 4 to 12 objects (ellipses,
rectangles and triangles of random labels) in per-object colours, some camouflaged (colour close
to the background), with a shading gradient and pixel noise; the prediction is a coarse one:
the one-hot ground truth averaged over stride x stride blocks, scaled, plus Gaussian noise, then
upsampled bilinearly (align_corners=False) and softmaxed.

Into ``tests/data/seg/crf_cases/`` (``--out-dir``), for every case NAME:

- ``NAME_image.npy``     uint8 H x W x 3 RGB;
- the unary source, one of
  ``NAME_prob_f16.npy``     uint16 L x H x W: the float16 bits of the probabilities (npy
                            readers without float16 convert the bits; the CRF gets them as
                            float32, exactly), unary ``-log(clip(p, 1e-5, 1))`` (pydensecrf's
                            ``unary_from_softmax``);
  ``NAME_prob_coarse.npy``  float32 L x h x w: probabilities at stride s = H / h (H and W are
                            multiples of s), repeated s x s (nearest) to L x H x W;
  ``NAME_unary_f16.npy``    uint16 L x H x W: float16 bits of the energies, used as given;
  ``NAME_labels.npy``       uint8 H x W label map with ``NAME_label_unary.npy`` float64
                            [gt_prob, zero_unsure]: pydensecrf's ``unary_from_labels``;
- ``NAME_kernels.npy``   float64 K x 6, one row per pairwise term in the order added:
  [kind (0 Gaussian: features x/sxy, y/sxy; 1 bilateral: x/sxy, y/sxy, r/srgb, g/srgb, b/srgb;
  2 general features x/sxy, y/sxy, G/srgb with G the green channel), sxy, srgb, Potts weight
  (NaN unless compat kind is 0), normalisation (0 symmetric, 1 after, 2 before, 3 none), compat
  kind (0 Potts, 1 diagonal: ``NAME_compat<k>.npy`` float32 length L, 2 matrix:
  ``NAME_compat<k>.npy`` float32 L x L, symmetrised by pydensecrf)]; features in float32,
  ``float(x) / float(sxy)``;
- ``NAME_map_it<n>.npy`` uint8 H x W: argmax of pydensecrf's Q after n = 1 and 10 iterations
  (the first maximum);
- ``NAME_q_index.npy`` int32: a sorted sample of pixel indices ``y * W + x`` (at most 1024, and
  12288 / L);
  ``NAME_q_it<n>.npy`` float32 L x len(q_index): Q at those pixels.

``manifest.json`` records the versions, every case's parameters and mIoU before and after.

Into ``apps/tests/data/crf/`` (``--app-dir``), for the `detseg crf` tests
(apps/tests/CMakeLists.txt): ``scene.png`` (40 x 56 RGB, written by OpenCV) with the same pixels
in ``scene_image.npy``, ``scene_prob.npy`` (float32 4 x 40 x 56), pydensecrf's labels after 10
iterations with the README and DeepLab v2 ResNet-101 presets (``scene_map_<preset>_it10.npy``,
uint8) and Q with the README preset (``scene_q_readme_it10.npy``); a label map
``scene_labels.png`` (8-bit gray: the argmax + 1, 15% of the pixels 0 = unsure) with
pydensecrf's labels from ``unary_from_labels(..., 4, 0.7)`` and the README preset
(``scene_map_labels_readme_it10.npy``); ``batch/`` with three 24 x 32 scenes with 3 labels
(``images/a.png``, ``b.png``, ``c.npy``; the same pixels in ``images_npy/``; ``prob/``;
``unary/`` with ``unary_from_softmax``'s L x (H*W) energies; ``labels/a.png``, ``b.npy``,
``c.png`` label maps as above and pydensecrf's labels from them in ``labels_ref/``); and bad
input: ``tiny.png`` (4 x 5) with ``tiny_prob.npy`` (2 x 4 x 5),
``tiny_negative_prob.npy`` and ``tiny_nan_prob.npy`` (one bad value at label 1, row 2, column
3), ``tiny_bad_labels.npy`` (uint8, value 9 at row 3, column 1), ``not_a_png.png`` (text).

Deterministic (seeded ``numpy.random.default_rng``; no timestamps).

    /usr/bin/python3 tests/reference/gen_crf_cases.py --pydensecrf /tmp/pydensecrf \
        [--out-dir DIR] [--app-dir DIR]
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "data" / "seg" / "crf_cases"
DEFAULT_APP_DIR = REPO_ROOT / "apps" / "tests" / "data" / "crf"
SEED = 20261121
ITERATIONS = (1, 10)
Q_SAMPLE = 1024          # pixels whose Q is stored (fewer for many labels: 12288 // L)

# (Gaussian sxy, weight), (bilateral sxy, srgb, weight): ../shared/docs/reference-semantics.md
PRESETS = {
    "readme": ((3.0, 3.0), (80.0, 13.0, 10.0)),
    "deeplab-v2-resnet101": ((1.0, 3.0), (67.0, 3.0, 4.0)),
    "deeplab-v2-vgg16": ((2.0, 2.0), (65.0, 3.0, 4.0)),
}
NORMALISATIONS = ("symmetric", "after", "before", "none")
KINDS = ("gaussian", "bilateral", "features")
COMPAT_KINDS = ("potts", "diagonal", "matrix")


def preset_kernels(name):
    (g_sxy, g_w), (b_sxy, b_srgb, b_w) = PRESETS[name]
    return [dict(kind="gaussian", sxy=g_sxy, compat=g_w),
            dict(kind="bilateral", sxy=b_sxy, srgb=b_srgb, compat=b_w)]


def case_list(rng_for):
    """The cases: name -> spec. Compatibility arrays are drawn from their own stream."""
    r = rng_for("compat")
    diag5 = np.round(r.uniform(1.0, 6.0, 5), 2).astype(np.float32)
    m4 = np.round(r.uniform(-1.0, 1.0, (4, 4)), 2).astype(np.float32)
    m4[np.diag_indices(4)] = np.round(r.uniform(-5.0, -2.0, 4), 2)   # agreeing is rewarded
    diag6 = np.round(r.uniform(2.0, 8.0, 6), 2).astype(np.float32)
    return {
        "a_97x131_L3_readme": dict(H=97, W=131, L=3, seed=1, unary="prob_f16", stride=8,
                                   kernels=preset_kernels("readme")),
        "b_64x200_L21_resnet101": dict(H=64, W=200, L=21, seed=2, unary="prob_coarse", stride=8,
                                       kernels=preset_kernels("deeplab-v2-resnet101")),
        "c_80x96_L5_vgg16": dict(H=80, W=96, L=5, seed=3, unary="unary_f16", stride=8,
                                 kernels=preset_kernels("deeplab-v2-vgg16")),
        "d_72x90_L4_matrix_after_before": dict(
            H=72, W=90, L=4, seed=4, unary="prob_f16", stride=6,
            kernels=[dict(kind="gaussian", sxy=3.0, compat=m4, normalization="after"),
                     dict(kind="bilateral", sxy=40.0, srgb=10.0, compat=2.5,
                          normalization="before")]),
        "e_56x88_L5_diagonal_none": dict(
            H=56, W=88, L=5, seed=5, unary="prob_f16", stride=8,
            kernels=[dict(kind="gaussian", sxy=2.0, compat=0.3, normalization="none"),
                     dict(kind="bilateral", sxy=50.0, srgb=12.0, compat=diag5)]),
        "f_60x80_L6_labels_features": dict(
            H=60, W=80, L=6, seed=6, unary="labels", gt_prob=0.7, zero_unsure=True, stride=8,
            kernels=[dict(kind="gaussian", sxy=3.0, compat=3.0),
                     dict(kind="features", sxy=20.0, srgb=8.0, compat=diag6)]),
    }


# --- scenes -------------------------------------------------------------------------------------

def make_scene(rng, H, W, L, zero_label_ok=True):
    """(image uint8 H x W x 3, gt uint8 H x W) with regions and edges."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    gt = np.zeros((H, W), np.int64)
    # two background labels split by a tilted horizon when there are enough labels
    palette = rng.uniform(25, 230, (L, 3))
    colour = np.empty((H, W, 3))
    colour[:] = palette[0]
    if L > 3:
        horizon = H * rng.uniform(0.3, 0.6) + (xx - W / 2) * rng.uniform(-0.3, 0.3)
        ground = yy > horizon
        gt[ground] = 1
        colour[ground] = palette[1]
    for _ in range(int(rng.integers(4, 13))):
        lab = int(rng.integers(1 if L <= 3 else 2, L)) if L > 1 else 0
        cy, cx = rng.uniform(0, H), rng.uniform(0, W)
        ry, rx = rng.uniform(0.08, 0.3) * H, rng.uniform(0.08, 0.3) * W
        shape = rng.integers(0, 3)
        if shape == 0:
            mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        elif shape == 1:
            mask = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
        else:  # triangle: below two lines through the apex
            mask = ((yy >= cy - ry) & (yy <= cy + ry)
                    & (np.abs(xx - cx) <= (yy - (cy - ry)) * rx / (2 * ry)))
        if not mask.any():
            continue
        gt[mask] = lab
        if rng.random() < 0.25:   # camouflage: close to what is behind it
            c = colour[mask].mean(axis=0) + rng.normal(0, 12, 3)
        else:
            c = palette[lab] + rng.normal(0, 15, 3)
        colour[mask] = c
    shade = (yy / H - 0.5) * rng.uniform(-30, 30) + (xx / W - 0.5) * rng.uniform(-30, 30)
    img = colour + shade[..., None] + rng.normal(0, 7, (H, W, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8), gt.astype(np.uint8)


def bilinear_up(a, H, W):
    """C x h x w -> C x H x W, bilinear with align_corners=False (edge clamped), float64."""
    _, h, w = a.shape

    def axis(n_out, n_in):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, fy = axis(H, h)
    x0, x1, fx = axis(W, w)
    top = a[:, y0][:, :, x0] * (1 - fx) + a[:, y0][:, :, x1] * fx
    bot = a[:, y1][:, :, x0] * (1 - fx) + a[:, y1][:, :, x1] * fx
    return top * (1 - fy)[None, :, None] + bot * fy[None, :, None]


def coarse_logits(rng, gt, L, stride, scale=5.0, noise=1.3):
    """L x H/s x W/s logits of a coarse prediction (block means of the one-hot truth)."""
    H, W = gt.shape
    h, w = -(-H // stride), -(-W // stride)
    pad = np.full((h * stride, w * stride), 255, np.int64)
    pad[:H, :W] = gt
    onehot = (pad[None] == np.arange(L)[:, None, None]).astype(np.float64)
    valid = (pad != 255).astype(np.float64)
    blocks = onehot.reshape(L, h, stride, w, stride).sum(axis=(2, 4))
    counts = valid.reshape(h, stride, w, stride).sum(axis=(1, 3))
    return scale * blocks / counts + rng.normal(0, noise, (L, h, w))


def softmax(z):
    z = z - z.max(axis=0, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=0, keepdims=True)


def miou(gt, pred, L):
    ious = []
    for c in range(L):
        g, p = gt == c, pred == c
        union = (g | p).sum()
        if union:
            ious.append((g & p).sum() / union)
    return float(np.mean(ious))


# --- pydensecrf -----------------------------------------------------------------------------

def import_pydensecrf(path):
    if path is not None:
        sys.path.insert(0, str(path))
    try:
        import pydensecrf.densecrf as dcrf
        import pydensecrf.utils as dutils
    except ImportError as e:
        sys.stderr.write(f"gen_crf_cases: pydensecrf is not importable ({e}); build it under "
                         "/tmp as the script's docstring says and pass --pydensecrf DIR\n")
        sys.exit(2)
    return dcrf, dutils


def run_pydensecrf(dcrf, image, unary, spec, compat_arrays, iterations):
    """Q (L x N float32) after `iterations` mean-field steps."""
    H, W = image.shape[:2]
    L = unary.shape[0]
    norm = {"symmetric": dcrf.NORMALIZE_SYMMETRIC, "after": dcrf.NORMALIZE_AFTER,
            "before": dcrf.NORMALIZE_BEFORE, "none": dcrf.NO_NORMALIZATION}
    any_features = any(k["kind"] == "features" for k in spec["kernels"])
    crf = dcrf.DenseCRF(H * W, L) if any_features else dcrf.DenseCRF2D(W, H, L)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    for k, (kern, compat) in enumerate(zip(spec["kernels"], compat_arrays)):
        n = norm[kern.get("normalization", "symmetric")]
        if any_features:
            feats = features_of(image, kern)
            crf.addPairwiseEnergy(feats, compat=compat, kernel=dcrf.DIAG_KERNEL, normalization=n)
        elif kern["kind"] == "gaussian":
            crf.addPairwiseGaussian(sxy=kern["sxy"], compat=compat, normalization=n)
        else:
            crf.addPairwiseBilateral(sxy=kern["sxy"], srgb=kern["srgb"],
                                     rgbim=np.ascontiguousarray(image), compat=compat,
                                     normalization=n)
    return np.array(crf.inference(iterations), dtype=np.float32)


def features_of(image, kern):
    """D x N float32 features, as DenseCRF2D computes them (float(x) / float(s))."""
    H, W = image.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W]
    sxy = np.float32(kern["sxy"])
    f = [xx.astype(np.float32) / sxy, yy.astype(np.float32) / sxy]
    if kern["kind"] == "bilateral":
        srgb = np.float32(kern["srgb"])
        f += [image[..., c].astype(np.float32) / srgb for c in range(3)]
    elif kern["kind"] == "features":
        f += [image[..., 1].astype(np.float32) / np.float32(kern["srgb"])]
    return np.ascontiguousarray(np.stack([a.ravel() for a in f]))


def pydensecrf_commit(path, default):
    """The commit of a git checkout at `path`, else `default` (--pydensecrf-commit)."""
    if path is not None:
        try:
            out = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, check=True)
            return out.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return default


# --- the `detseg crf` test data ------------------------------------------------------------------

def write_app_data(out_dir, dcrf, dutils):
    """apps/tests/data/crf/: the inputs of the `detseg crf` tests and pydensecrf's results."""
    import cv2   # Debian's python3-opencv: a PNG writer independent of detseg's libpng use

    out_dir = Path(out_dir)
    for sub in ("batch/images", "batch/images_npy", "batch/prob", "batch/unary", "batch/labels",
                "batch/labels_ref"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    written = []

    def save(rel, arr):
        np.save(out_dir / rel, np.ascontiguousarray(arr))
        written.append(out_dir / rel)

    def save_png(rel, img):
        assert cv2.imwrite(str(out_dir / rel), np.ascontiguousarray(img[..., ::-1]))   # BGR
        back = cv2.imread(str(out_dir / rel), cv2.IMREAD_COLOR)[..., ::-1]
        assert np.array_equal(back, img), rel
        written.append(out_dir / rel)

    def save_gray_png(rel, labels):
        assert cv2.imwrite(str(out_dir / rel), labels)
        assert np.array_equal(cv2.imread(str(out_dir / rel), cv2.IMREAD_UNCHANGED), labels), rel
        written.append(out_dir / rel)

    def noisy_labels(rng, prob):
        """The argmax + 1 (uint8), 15% of the pixels set to 0 (unsure)."""
        labels = (prob.argmax(axis=0) + 1).astype(np.uint8)
        labels[rng.random(labels.shape) < 0.15] = 0
        return labels

    def labels_crf(img, labels, L):
        """pydensecrf's labels: unary_from_labels(gt_prob 0.7), README preset, 10 iterations."""
        u = dutils.unary_from_labels(labels.astype(np.int64), L, 0.7, zero_unsure=True)
        spec = {"kernels": preset_kernels("readme")}
        q = run_pydensecrf(dcrf, img, u, spec, [k["compat"] for k in spec["kernels"]], 10)
        return q.argmax(axis=0).reshape(labels.shape).astype(np.uint8)

    def scene(seed, H, W, L):
        rng = np.random.default_rng([SEED, 100 + seed])
        img, gt = make_scene(rng, H, W, L)
        prob = softmax(bilinear_up(coarse_logits(rng, gt, L, 8), H, W)).astype(np.float32)
        return img, prob

    # one scene, 40 x 56, 4 labels, with pydensecrf's labels (and Q for the README preset)
    img, prob = scene(0, 40, 56, 4)
    save_png("scene.png", img)
    save("scene_image.npy", img)
    save("scene_prob.npy", prob)
    unary = dutils.unary_from_softmax(prob)
    # a label map (values 1..4, 0 = unsure) and pydensecrf's labels with gt_prob 0.7
    labels = noisy_labels(np.random.default_rng([SEED, 300]), prob)
    save_gray_png("scene_labels.png", labels)
    save("scene_map_labels_readme_it10.npy", labels_crf(img, labels, 4))
    for preset in ("readme", "deeplab-v2-resnet101"):
        spec = {"kernels": preset_kernels(preset)}
        q = run_pydensecrf(dcrf, img, unary, spec, [k["compat"] for k in spec["kernels"]], 10)
        save(f"scene_map_{preset}_it10.npy", q.argmax(axis=0).reshape(40, 56).astype(np.uint8))
        if preset == "readme":
            save("scene_q_readme_it10.npy", q.reshape(4, 40, 56))
    # a folder of three 24 x 32 images with 3 labels: a and b as PNG, c as .npy
    for k, stem in enumerate("abc"):
        img, prob = scene(1 + k, 24, 32, 3)
        if stem == "c":
            save(f"batch/images/{stem}.npy", img)
        else:
            save_png(f"batch/images/{stem}.png", img)
        save(f"batch/images_npy/{stem}.npy", img)
        save(f"batch/prob/{stem}.npy", prob)
        save(f"batch/unary/{stem}.npy", dutils.unary_from_softmax(prob))   # L x (H*W)
        labels = noisy_labels(np.random.default_rng([SEED, 310 + k]), prob)
        if stem == "b":
            save(f"batch/labels/{stem}.npy", labels)
        else:
            save_gray_png(f"batch/labels/{stem}.png", labels)
        save(f"batch/labels_ref/{stem}.npy", labels_crf(img, labels, 3))
    # bad input: a 4 x 5 image and 2-label probabilities, one negative, one NaN
    rng = np.random.default_rng([SEED, 200])
    save_png("tiny.png", rng.integers(0, 256, (4, 5, 3)).astype(np.uint8))
    p = rng.uniform(0.1, 0.9, (2, 4, 5)).astype(np.float32)
    save("tiny_prob.npy", p)
    bad = p.copy()
    bad[1, 2, 3] = -0.25
    save("tiny_negative_prob.npy", bad)
    bad[1, 2, 3] = np.nan
    save("tiny_nan_prob.npy", bad)
    bad_labels = rng.integers(0, 3, (4, 5)).astype(np.uint8)
    bad_labels[3, 1] = 9
    save("tiny_bad_labels.npy", bad_labels)
    (out_dir / "not_a_png.png").write_text("not a PNG file\n")
    written.append(out_dir / "not_a_png.png")
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files ({total} bytes) to {out_dir}")


# --- main ---------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    p.add_argument("--app-dir", type=Path, default=DEFAULT_APP_DIR,
                   help="the `detseg crf` test data (apps/tests/data/crf)")
    p.add_argument("--pydensecrf", type=Path,
                   help="folder holding the built pydensecrf package (not built by this script)")
    p.add_argument("--pydensecrf-commit", default="2723c7f",
                   help="recorded in manifest.json when --pydensecrf is not a git checkout")
    args = p.parse_args(argv)
    dcrf, dutils = import_pydensecrf(args.pydensecrf)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_app_data(args.app_dir, dcrf, dutils)

    cases = case_list(lambda what: np.random.default_rng([SEED, sum(map(ord, what))]))
    manifest = {"generator": "tests/reference/gen_crf_cases.py",
                "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                             "pydensecrf": pydensecrf_commit(args.pydensecrf,
                                                           args.pydensecrf_commit)},
                "seed": SEED, "iterations": list(ITERATIONS), "cases": {}}
    written = []

    def save(stem, arr):
        path = args.out_dir / f"{stem}.npy"
        np.save(path, np.ascontiguousarray(arr))
        back = np.load(path)
        assert back.dtype == arr.dtype and back.tobytes() == np.ascontiguousarray(arr).tobytes()
        written.append(path)

    for name, spec in cases.items():
        H, W, L, s = spec["H"], spec["W"], spec["L"], spec["stride"]
        rng = np.random.default_rng([SEED, spec["seed"]])
        image, gt = make_scene(rng, H, W, L)
        logits = coarse_logits(rng, gt, L, s)
        save(f"{name}_image", image)
        kind = spec["unary"]
        if kind == "prob_coarse":
            assert H % s == 0 and W % s == 0
            coarse = softmax(logits).astype(np.float32)
            save(f"{name}_prob_coarse", coarse)
            prob = np.repeat(np.repeat(coarse, s, axis=1), s, axis=2)
            unary = dutils.unary_from_softmax(prob)
        elif kind in ("prob_f16", "unary_f16"):
            prob32 = softmax(bilinear_up(logits, H, W)).astype(np.float32)
            if kind == "prob_f16":
                p16 = prob32.astype(np.float16)
                save(f"{name}_prob_f16", p16.view(np.uint16))
                prob = p16.astype(np.float32)
                unary = dutils.unary_from_softmax(prob)
            else:
                u16 = dutils.unary_from_softmax(prob32).reshape(L, H, W).astype(np.float16)
                save(f"{name}_unary_f16", u16.view(np.uint16))
                unary = u16.astype(np.float32).reshape(L, -1)
                prob = np.exp(-unary).reshape(L, H, W)
        else:  # labels: a noisy label map (the coarse prediction's argmax)
            labels = softmax(bilinear_up(logits, H, W)).argmax(axis=0).astype(np.uint8)
            if spec["zero_unsure"]:   # value v >= 1 is label v - 1; 0 is "unsure"
                labels += 1
                labels[rng.random((H, W)) < 0.1] = 0
            save(f"{name}_labels", labels)
            save(f"{name}_label_unary", np.array([spec["gt_prob"], float(spec["zero_unsure"])]))
            unary = dutils.unary_from_labels(labels.astype(np.int64), L, spec["gt_prob"],
                                             zero_unsure=spec["zero_unsure"])
            prob = np.exp(-unary).reshape(L, H, W)
        unary = np.ascontiguousarray(unary.reshape(L, H * W), dtype=np.float32)

        rows, compat_arrays = [], []
        for k, kern in enumerate(spec["kernels"]):
            c = kern["compat"]
            if np.ndim(c) == 0:
                ckind, weight = 0, float(c)
                compat_arrays.append(float(c))
            else:
                c = np.asarray(c, np.float32)
                ckind, weight = (1 if c.ndim == 1 else 2), float("nan")
                save(f"{name}_compat{k}", c)
                compat_arrays.append(c)
            rows.append([KINDS.index(kern["kind"]), kern["sxy"], kern.get("srgb", 0.0), weight,
                         NORMALISATIONS.index(kern.get("normalization", "symmetric")), ckind])
        save(f"{name}_kernels", np.array(rows, np.float64))

        q_index = np.sort(rng.choice(H * W, size=min(Q_SAMPLE, 12288 // L, H * W), replace=False))
        save(f"{name}_q_index", q_index.astype(np.int32))
        results = {"before": miou(gt, prob.reshape(L, H, W).argmax(axis=0), L)}
        for n in ITERATIONS:
            q = run_pydensecrf(dcrf, image, unary, spec, compat_arrays, n)
            labels_n = q.argmax(axis=0).reshape(H, W).astype(np.uint8)
            save(f"{name}_map_it{n}", labels_n)
            save(f"{name}_q_it{n}", np.ascontiguousarray(q[:, q_index]))
            results[f"it{n}"] = miou(gt, labels_n, L)
        manifest["cases"][name] = {
            "H": H, "W": W, "L": L, "seed": [SEED, spec["seed"]], "unary": kind,
            "stride": s, "labels_present": int(len(np.unique(gt))),
            **({"gt_prob": spec["gt_prob"], "zero_unsure": spec["zero_unsure"]}
               if kind == "labels" else {}),
            "kernels": [{**{k: v for k, v in kern.items() if k != "compat"},
                         "compat": (kern["compat"] if np.ndim(kern["compat"]) == 0
                                    else np.asarray(kern["compat"]).tolist()),
                         "normalization": kern.get("normalization", "symmetric")}
                        for kern in spec["kernels"]],
            "mIoU": results}
        print(f"{name}: mIoU before {results['before']:.4f}, after 1 it {results['it1']:.4f}, "
              f"10 it {results['it10']:.4f}")

    (args.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} arrays ({total} bytes) + manifest.json to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
