#!/usr/bin/python3
"""PNG fixtures for detseg's PNG reader (tests/io/png.test.cpp) and the `detseg eval seg` tests
(apps/tests/CMakeLists.txt).

Grayscale PNGs are written by OpenCV (``cv2.imwrite``, Debian's python3-opencv), a writer
independent of libpng's use in detseg; the palette and 4-bit grayscale files, which OpenCV cannot
write, by the small chunk writer below (zlib + CRC from the standard library, following the PNG
specification). Into ``tests/data/png/``:

- ``gray8.png`` (7x5, 8-bit), ``gray16.png`` (6x9, 16-bit), ``palette8.png`` (4x6, colour type
  3), ``gray4.png`` (3x5, bit depth 4), each with ``NAME_labels.npy``: the labels as stored;
- ``NAME_rgb.npy`` for those and ``rgb.png`` (3 channels): the H x W x 3 RGB pixels OpenCV's
  ``imread(IMREAD_COLOR)`` reads, what ``load_png_rgb`` must return;
- ``rgb.png`` (3 channels), ``truncated.png`` (the first half of gray8.png), ``not_a_png.png``
  (text): files the reader must reject.

Into ``apps/tests/data/seg/``: ``gt/`` and ``pred/`` with three 8-bit label maps of different
sizes (a.png, b.png, c.png; 5 classes, class 4 absent from both, ignore index 255), and the
expected ``detseg eval seg --json`` output ``expected.json``, computed with the numpy reference of
mmseg's definition in ``gen_seg_metric_fixtures.py`` (imported, not copied); for the error tests
``pred_missing/`` (no c.png), ``pred_extra/`` (also d.png), ``pred_size/`` (b.png 1 row short),
``pred_not_png/`` (b.png is text), ``pred_oor/`` (c.png has label 7 at row 2, column 3) and
``expected_mmseg.json`` (pred_oor with ``--mmseg-out-of-range``).

Deterministic (seeded ``numpy.random.default_rng``).

    /usr/bin/python3 tests/reference/gen_png_fixtures.py
"""

import shutil
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_seg_metric_fixtures as segref  # noqa: E402  (the mmseg reference)

REPO_ROOT = Path(__file__).resolve().parents[2]
PNG_DIR = REPO_ROOT / "tests" / "data" / "png"
SEG_DIR = REPO_ROOT / "apps" / "tests" / "data" / "seg"
SEED = 20261122
NUM_CLASSES = 5
IGNORE = 255


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png_raw(path, labels, bit_depth, color_type, palette=None):
    """A non-interlaced PNG with one sample per pixel (gray or palette), filter 0 on every row."""
    h, w = labels.shape
    rows = []
    for row in labels:
        if bit_depth == 8:
            packed = bytes(int(v) for v in row)
        else:
            per = 8 // bit_depth
            packed = bytearray()
            for x in range(0, w, per):
                byte = 0
                for k in range(per):
                    v = int(row[x + k]) if x + k < w else 0
                    byte |= v << (8 - bit_depth * (k + 1))
                packed.append(byte)
            packed = bytes(packed)
        rows.append(b"\x00" + packed)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if palette is not None:
        out += png_chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).ravel()))
    out += png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + png_chunk(b"IEND", b"")
    path.write_bytes(out)


def imwrite(path, img):
    assert cv2.imwrite(str(path), img), path
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert back.dtype == img.dtype and np.array_equal(back, img), path


def png_fixtures(rng):
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    gray8 = rng.integers(0, 256, (7, 5), dtype=np.uint8)
    gray8[0, 0], gray8[6, 4] = 0, 255
    imwrite(PNG_DIR / "gray8.png", gray8)
    np.save(PNG_DIR / "gray8_labels.npy", gray8)

    gray16 = rng.integers(0, 65536, (6, 9), dtype=np.uint16)
    gray16[0, 0], gray16[5, 8], gray16[1, 1] = 0, 65535, 258  # 258 = 0x0102: byte order
    imwrite(PNG_DIR / "gray16.png", gray16)
    np.save(PNG_DIR / "gray16_labels.npy", gray16)

    palette8 = rng.integers(0, 20, (4, 6), dtype=np.uint8)
    colours = rng.integers(0, 256, (20, 3), dtype=np.uint8)
    write_png_raw(PNG_DIR / "palette8.png", palette8, 8, 3, colours)
    np.save(PNG_DIR / "palette8_labels.npy", palette8)

    gray4 = rng.integers(0, 16, (3, 5), dtype=np.uint8)
    gray4[0, 0], gray4[2, 4] = 0, 15
    write_png_raw(PNG_DIR / "gray4.png", gray4, 4, 0)
    np.save(PNG_DIR / "gray4_labels.npy", gray4)

    imwrite(PNG_DIR / "rgb.png", rng.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    # What load_png_rgb must return: OpenCV's imread(IMREAD_COLOR), in RGB order.
    for name in ("rgb", "gray8", "gray16", "palette8", "gray4"):
        bgr = cv2.imread(str(PNG_DIR / f"{name}.png"), cv2.IMREAD_COLOR)
        np.save(PNG_DIR / f"{name}_rgb.npy", np.ascontiguousarray(bgr[..., ::-1]))
    data = (PNG_DIR / "gray8.png").read_bytes()
    (PNG_DIR / "truncated.png").write_bytes(data[: len(data) // 2])
    (PNG_DIR / "not_a_png.png").write_text("this is a text file, not a PNG image\n")


def fmt(v):
    return "null" if np.isnan(v) else "%.17g" % v


def expected_json(gts, preds, mmseg):
    """The text `detseg eval seg --json` writes (apps/detseg/eval_seg.cpp), from the reference."""
    cfg = segref.config(NUM_CLASSES, IGNORE, mmseg)
    areas, perclass, summary = segref.reference(preds, gts, cfg)
    s = dict(zip(segref.SUMMARY, summary))
    iou, acc, dice, prec = (perclass[:, segref.PERCLASS.index(k)]
                            for k in ("IoU", "Acc", "Dice", "Precision"))
    lines = ["{",
             f'  "num_classes": {NUM_CLASSES},',
             f'  "ignore_index": {IGNORE},',
             f'  "out_of_range": "{"mmseg" if mmseg else "error"}",',
             f'  "images": {len(gts)},',
             '  "summary": {' + ", ".join(f'"{k}": {fmt(s[k])}' for k in
                                          ("aAcc", "mIoU", "mAcc", "mDice", "mPrecision",
                                           "fwIoU")) + "},",
             '  "per_class": [']
    rows = []
    for c in range(NUM_CLASSES):
        i, u, p, g = (int(x) for x in areas[c])
        rows.append(f'    {{"class": {c}, "IoU": {fmt(iou[c])}, "Acc": {fmt(acc[c])}, '
                    f'"Dice": {fmt(dice[c])}, "Precision": {fmt(prec[c])}, '
                    f'"area_intersect": {i}, "area_union": {u}, "area_pred": {p}, '
                    f'"area_gt": {g}}}')
    lines.append(",\n".join(rows))
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def seg_fixtures(rng):
    if SEG_DIR.exists():
        shutil.rmtree(SEG_DIR)
    dirs = {name: SEG_DIR / name for name in
            ("gt", "pred", "pred_missing", "pred_extra", "pred_size", "pred_not_png", "pred_oor")}
    for d in dirs.values():
        d.mkdir(parents=True)
    gts, preds = [], []
    for name, (h, w) in zip("abc", ((24, 32), (20, 20), (16, 40))):
        gt, pred = segref.make_pair(rng, 1, h, w, present=[0, 1, 2], pred_extra=[3])
        gt, pred = gt[0].astype(np.uint8), pred[0].astype(np.uint8)
        gts.append(gt)
        preds.append(pred)
        imwrite(dirs["gt"] / f"{name}.png", gt)
        for d in ("pred", "pred_missing", "pred_extra", "pred_size", "pred_not_png", "pred_oor"):
            if not (d == "pred_missing" and name == "c"):
                imwrite(dirs[d] / f"{name}.png", pred)
    (SEG_DIR / "expected.json").write_text(expected_json(gts, preds, mmseg=False))

    imwrite(dirs["pred_extra"] / "d.png", preds[0])
    imwrite(dirs["pred_size"] / "b.png", preds[1][:-1])
    (dirs["pred_not_png"] / "b.png").write_text("not a PNG\n")
    oor = preds[2].copy()
    assert gts[2][2, 3] != IGNORE
    oor[2, 3] = 7
    imwrite(dirs["pred_oor"] / "c.png", oor)
    (SEG_DIR / "expected_mmseg.json").write_text(
        expected_json(gts, preds[:2] + [oor], mmseg=True))


def main():
    rng = np.random.default_rng(SEED)
    png_fixtures(rng)
    seg_fixtures(rng)
    print(f"wrote {PNG_DIR} and {SEG_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
