#!/usr/bin/python3
"""detseg's affinity random walk against a PyTorch CPU implementation in the PSA/IRN style, side
by side, single thread.

The reference builds IRN's boundary affinities (1 - the maximum boundary response over the
pixels on the line between two pixels within the radius), the sparse transition matrix
T = D^-1 A^beta as a ``torch.sparse_coo_tensor`` (both directions plus the diagonal, as PSA's
and IRN's ``affinity_sparse2dense`` before they densify it), and applies it ``--steps`` times
with ``torch.sparse.mm`` (PSA/IRN square a dense N x N matrix instead, which does not fit at
this size). detseg runs ``boundary_transition`` + ``random_walk`` (benchmarks/compare/
time_random_walk.cpp). Both in float32, one thread (``torch.set_num_threads(1)``, OpenMP 1).

Inputs: a 321 x 481 boundary map (smooth random blobs' edges) and 21 random class maps, seeded.
Prints medians [quartiles] in ms of the transition build, the walk and the total, and the
ratios reference / detseg; checks that the two results agree (max relative difference).

    /usr/bin/python3 benchmarks/compare/compare_random_walk.py [--steps 256] [--reps 3]
        [--cpu-time] [--radius 5] [--beta 10] [--size 321x481] [--classes 21]
"""

import sys

import common
from common import np

SEED = 20261121


def make_inputs(rng, h, w, k):
    """A boundary map in [0, 1] (edges of random discs, blurred) and k class maps in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w]
    b = np.zeros((h, w))
    for _ in range(12):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(20, 120)
        d = np.abs(np.hypot(yy - cy, xx - cx) - r)
        b = np.maximum(b, np.exp(-d * d / 8.0))
    b = np.clip(b + 0.05 * rng.random((h, w)), 0, 1).astype(np.float32)
    maps = rng.random((k, h, w)).astype(np.float32)
    return b, maps


def path(dy, dx):
    length2 = dy * dy + dx * dx
    return [(y, x) for y in range(min(0, dy), max(0, dy) + 1)
            for x in range(min(0, dx), max(0, dx) + 1) if (dy * x - dx * y) ** 2 < length2]


class TorchWalk:
    """IRN-style sparse random walk in PyTorch (precomputed pair indices, as IRN's PathIndex)."""

    def __init__(self, torch, h, w, radius, offsets):
        self.torch, self.h, self.w, self.radius = torch, h, w, radius
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        src, dst, self.masks, self.paths = [], [], [], []
        for dy, dx in offsets:
            ok = (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w)
            src.append((ys * w + xs)[ok])
            dst.append(((ys + dy) * w + xs + dx)[ok])
            self.masks.append(torch.from_numpy(ok))
            self.paths.append(path(dy, dx))
        src, dst = np.concatenate(src), np.concatenate(dst)
        n = h * w
        self.n = n
        self.index = torch.cat([torch.from_numpy(np.stack([src, dst])),
                                torch.from_numpy(np.stack([dst, src])),
                                torch.arange(n).repeat(2, 1)], dim=1).long()

    def transition(self, boundary, beta):
        torch, r = self.torch, self.radius
        b = torch.nn.functional.pad(boundary[None, None], (r, r, 0, r), value=1.0)[0, 0]
        affs = []
        for ok, p in zip(self.masks, self.paths):
            m = torch.stack([b[y:y + self.h, r + x:r + x + self.w] for y, x in p]).amax(0)
            affs.append((1.0 - m)[ok])
        a = torch.cat(affs) ** beta
        val = torch.cat([a, a, torch.ones(self.n)])
        rows = torch.zeros(self.n).index_add_(0, self.index[0], val)
        return torch.sparse_coo_tensor(self.index, val / rows[self.index[0]],
                                       (self.n, self.n)).coalesce()

    def walk(self, trans, maps, steps):
        k = maps.shape[0]
        x = maps.reshape(k, -1).t().contiguous()
        for _ in range(steps):
            x = self.torch.sparse.mm(trans, x)
        return x.t().reshape(maps.shape)


def main():
    parser = common.argument_parser(__doc__, 2)
    parser.set_defaults(reps=3)
    parser.add_argument("--steps", type=int, default=256, help="walk steps t (256 = 2^8)")
    parser.add_argument("--radius", type=int, default=5)
    parser.add_argument("--beta", type=float, default=10.0)
    parser.add_argument("--size", default="321x481", help="H x W")
    parser.add_argument("--classes", type=int, default=21)
    args = parser.parse_args()
    common.check_reps(parser, args, 2)
    refs = common.import_references("torch")
    if refs is None:
        return 2
    (torch,) = refs
    torch.set_num_threads(1)
    h, w = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(SEED)
    boundary, maps = make_inputs(rng, h, w, args.classes)

    with common.work_directory(args.keep) as workdir:
        exe, flags = common.build(args, "time_random_walk.cpp", workdir)
        np.save(workdir / "boundary.npy", boundary)
        np.save(workdir / "maps.npy", maps)
        ours = common.run_json([exe, "--reps", args.reps, workdir, args.radius, args.beta,
                                args.steps])
        got = np.fromfile(workdir / "walk.f32", dtype=np.float32).reshape(maps.shape)

    # PSA/IRN's offset order, as the fixtures of tests/seg/random_walk.test.cpp define it
    offsets = common.reference_generator("gen_cam_fixtures").half_offsets(args.radius)
    ref = TorchWalk(torch, h, w, args.radius, offsets)
    tb, tm = torch.from_numpy(boundary), torch.from_numpy(maps)
    t_build, trans = common.time_call(lambda: ref.transition(tb, args.beta), args.reps, warmup=1)
    t_walk, out = common.time_call(lambda: ref.walk(trans, tm, args.steps), args.reps, warmup=1)
    t_total, _ = common.time_call(
        lambda: ref.walk(ref.transition(tb, args.beta), tm, args.steps), args.reps, warmup=0)
    want = out.numpy()
    rel = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-6)))

    common.print_header(f"random walk {h}x{w}, radius {args.radius}, beta {args.beta}, "
                        f"{args.classes} classes, {args.steps} steps, 1 thread, "
                        f"{common.clock_name()}, ms median [Q1, Q3], {args.reps} reps")
    print(f"detseg flags: {flags}; torch {torch.__version__}")
    figures = {}
    for name, r, o in (("transition", t_build, ours["transition"]),
                       ("walk", t_walk, ours["walk"]), ("total", t_total, ours["total"])):
        figures[name] = {"torch": r, "detseg": o, "ratio": common.ratio(r, o)}
        print(f"{name:10s}  torch {common.fmt(r, 1)}   detseg {common.fmt(o, 1)}   "
              f"ratio {common.ratio(r, o):6.1f}x")
    print(f"max relative difference detseg vs torch (float32): {rel:.2e}")
    figures["max_rel_diff"] = rel
    common.write_json(args.json, figures)
    if not rel <= 1e-3:
        return common.fail("the PyTorch random walk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
