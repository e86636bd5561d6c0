"""Writing the NMS fixture files: the command line, the streams of later sets, the manifest and
the read-back check.

Shared by ``gen_nms_fixtures.py``, ``gen_batched_nms_fixtures.py``,
``gen_nms_opencv_fixtures.py`` and ``gen_soft_nms_fixtures.py`` (numpy only).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]


def parse_args(doc, folder, argv=None):
    """``--out-dir`` (default ``tests/data/<folder>``), described by the docstring's first line."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "tests" / "data" / folder)
    return p.parse_args(argv)


def versions(**libraries):
    """{"python": ..., <libraries in the order given>, "numpy": ...} for the manifest."""
    return {"python": sys.version.split()[0], **libraries, "numpy": np.__version__}


def own_stream(seed, k, kind):
    """The random stream of a set added after the first ones (seeded [seed, k], so adding a set
    changes no other), and the manifest notes that record it: (rng, {"kind", "seed"})."""
    return np.random.default_rng([seed, k]), {"kind": kind, "seed": [seed, k]}


def threshold_tag(t):
    """The threshold times 100 as three digits: 0.5 -> "050"."""
    return f"{int(round(t * 100)):03d}"


class FixtureWriter:
    """Saves arrays as ``<out_dir>/<stem>.npy`` (C order, little-endian), then writes
    ``manifest.json``, loads every array back and compares it bit for bit."""

    def __init__(self, out_dir):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.written = {}

    def save(self, stem, arr):
        path = self.out_dir / f"{stem}.npy"
        np.save(path, np.ascontiguousarray(arr))
        self.written[path] = arr

    def save_all(self, prefix, arrays):
        for key, arr in arrays.items():
            self.save(f"{prefix}_{key}", arr)

    def finish(self, manifest):
        (self.out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        for path, arr in self.written.items():
            back = np.load(path)
            assert back.dtype == arr.dtype and back.shape == arr.shape, path
            assert back.tobytes() == arr.tobytes(), path
        total = sum(p.stat().st_size for p in self.written)
        print(f"wrote {len(self.written)} arrays ({total} bytes) + manifest.json to "
              f"{self.out_dir}")
