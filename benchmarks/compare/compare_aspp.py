#!/usr/bin/python3
"""Side-by-side timing of torchvision's DeepLabV3 ASPP (eval) and detseg::aspp, single- and
two-threaded.

Run from anywhere with Debian's interpreter (torch 1.13, torchvision 0.14, numpy):

    /usr/bin/python3 benchmarks/compare/compare_aspp.py [--native] [--reps R] [--cpu-time]

In one run it builds, per case, a torchvision ``ASPP`` in eval mode with seeded weights and
non-trivial BatchNorm statistics (the separable case: each dilated branch a depthwise 3×3 → BN →
ReLU → pointwise 1×1 → BN → ReLU), saves its state_dict as ``.npy`` files and a seeded float32
input, builds time_aspp.cpp (next to this file) and times, for 1 and 2 threads (``--threads``):

- ``torch``: the module as Debian's torch runs it (at 1 thread a 1×1 convolution goes to
  ``slow_conv2d`` and the BLAS, not to oneDNN: ATen's ``use_mkldnn`` skips 1×1 filters when
  single-threaded);
- ``onednn``: the same forward pass with every convolution through oneDNN
  (``torch.mkldnn_convolution``, BatchNorm folded into the weights as detseg does);
- ``detseg``: ``detseg::aspp<float>`` (weights loaded and folded beforehand).

It checks that detseg's output equals torchvision's within max|Δ| / max|ref| ≤ 1e-5 (and that
the oneDNN forward does too), prints median [Q1, Q3] in ms and the ratios reference / detseg,
then the targets of issue 6 (2048@33²: ≥ 1.5× oneDNN at 1 thread, faster than torch at 2
threads). ``--cpu-time`` times the calling thread's CPU time on both sides (for 2 threads that is
the main thread's, about the wall time when the machine is not oversubscribed). Exit status 1 if
a result differs, 2 on a setup error.
"""

import sys

from common import (argument_parser, build, check_reps, clock_name, fail, fmt,
                    import_references, np, print_header, ratio, reference_generator,
                    run_json, time_call, work_directory, write_json)

SEED = 20261121
MIN_REPS = 5
TOL = 1e-5
# name: (in, out, H, W, variant (0 standard, 1 separable), rates)
CASES = {
    "tv2048_33": (2048, 256, 33, 33, 0, (12, 24, 36)),
    "tv512_65": (512, 256, 65, 65, 0, (6, 12, 18)),
    "sep2048_33": (2048, 256, 33, 33, 1, (12, 24, 36)),
}
TARGET_CASE = "tv2048_33"


def make_model(torch, cfg, seed):
    """torchvision's ASPP (or the separable variant) in eval mode, with seeded weights."""
    from torch import nn

    cin, cout, _, _, variant, rates = cfg
    torch.manual_seed(seed)
    m = reference_generator("gen_aspp_fixtures").aspp_module(cin, cout, rates, variant)
    g = torch.Generator().manual_seed(seed + 1)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            n = mod.num_features
            mod.weight.data = 0.75 + 0.5 * torch.rand(n, generator=g)
            mod.bias.data = 0.2 * torch.rand(n, generator=g) - 0.1
            mod.running_mean = 0.2 * torch.rand(n, generator=g) - 0.1
            mod.running_var = 0.5 + torch.rand(n, generator=g)
    return m.eval()


def onednn_forward(torch, m):
    """The ASPP forward pass with every convolution through oneDNN (torch.mkldnn_convolution)
    and each BatchNorm folded into its convolution."""
    def fold(conv, bn):
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return ((conv.weight * s[:, None, None, None]).contiguous(),
                (bn.bias - bn.running_mean * s).contiguous(), conv)

    def conv(x, w, b, c):
        return torch.relu(torch.mkldnn_convolution(x, w, b, c.padding, c.stride, c.dilation,
                                                   c.groups))

    branches = []
    for br in list(m.convs)[:-1]:
        branches.append([fold(br[i], br[i + 1]) for i in range(0, len(br), 3)])
    pool = fold(m.convs[-1][1], m.convs[-1][2])
    proj = fold(m.project[0], m.project[1])

    def forward(x):
        outs = []
        for chain in branches:
            y = x
            for w, b, c in chain:
                y = conv(y, w, b, c)
            outs.append(y)
        p = conv(x.mean((2, 3), keepdim=True), *pool)
        outs.append(p.expand(-1, -1, x.shape[2], x.shape[3]))
        return conv(torch.cat(outs, 1), *proj)

    return forward


def rel_err(a, ref):
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def main():
    parser = argument_parser(__doc__, MIN_REPS)
    parser.set_defaults(reps=11)
    parser.add_argument("--threads", default="1,2", help="thread counts to time (1,2)")
    parser.add_argument("--cases", default=",".join(CASES), help="cases to run (all)")
    args = parser.parse_args()
    check_reps(parser, args, MIN_REPS)
    threads = [int(t) for t in args.threads.split(",")]
    names = args.cases.split(",")
    refs = import_references("torch", "torchvision")
    if refs is None:
        return 2
    torch, _ = refs

    rows, bad = [], False
    with work_directory(args.keep) as workdir:
        exe, flags = build(args, "time_aspp.cpp", workdir)
        data = {}
        for ci, name in enumerate(names):
            cfg = CASES[name]
            cin, cout, h, w, variant, rates = cfg
            m = make_model(torch, cfg, SEED + ci)
            x = torch.from_numpy(np.random.default_rng([SEED, ci]).standard_normal(
                (1, cin, h, w)).astype(np.float32)).relu()
            state = workdir / f"{name}_state"
            state.mkdir()
            for k, v in m.state_dict().items():
                np.save(state / f"{k}.npy", v.numpy())
            np.save(workdir / f"{name}_config.npy",
                    np.array([cin, cout, variant, len(rates), *rates], dtype=np.int64))
            np.save(workdir / f"{name}_x.npy", x[0].numpy())
            data[name] = (m, x)

        compiler = None
        for t in threads:
            run = run_json([exe, "--reps", args.reps, "--threads", t, workdir] + names)
            compiler = run["compiler"]
            ours = {c["case"]: c["ms"] for c in run["cases"]}
            torch.set_num_threads(t)
            for name in names:
                m, x = data[name]
                fwd = onednn_forward(torch, m)
                with torch.no_grad():
                    tt, ref = time_call(lambda: m(x), args.reps, 2)
                    to, y1 = time_call(lambda: fwd(x), args.reps, 2)
                ref = ref[0].numpy()
                y = np.fromfile(workdir / f"{name}_out.f32", dtype=np.float32).reshape(ref.shape)
                err, err1 = rel_err(y, ref), rel_err(y1[0].numpy(), ref)
                ok = err <= TOL and err1 <= TOL
                bad |= not ok
                rows.append({"case": name, "threads": t, "torch": tt, "onednn": to,
                             "detseg": ours[name], "x_torch": ratio(tt, ours[name]),
                             "x_onednn": ratio(to, ours[name]), "rel_err": err,
                             "rel_err_onednn": err1, "equal": ok})

    print(f"ASPP forward, float32, {clock_name()}, ms: median [Q1, Q3] of {args.reps} "
          f"(detseg: {flags}, {compiler})")
    print_header(f"{'case':>11} {'thr':>3} | {'torch':>24} | {'torch oneDNN':>24} | "
                 f"{'detseg':>24} | {'x torch':>7} {'x oneDNN':>8} | rel err")
    for r in rows:
        print(f"{r['case']:>11} {r['threads']:>3} | {fmt(r['torch'], 1):>24} | "
              f"{fmt(r['onednn'], 1):>24} | {fmt(r['detseg'], 1):>24} | {r['x_torch']:7.2f} "
              f"{r['x_onednn']:8.2f} | {r['rel_err']:.1e}{'' if r['equal'] else ' FAIL'}")
    print("\ntargets (issue 6):")
    for r in rows:
        if r["case"] != TARGET_CASE:
            continue
        if r["threads"] == 1:
            print(f"  1 thread:  detseg {r['detseg']['median']:.1f} ms, oneDNN "
                  f"{r['onednn']['median']:.1f} ms: x{r['x_onednn']:.2f} (target >= 1.5): "
                  f"{'met' if r['x_onednn'] >= 1.5 else 'NOT met'}")
        elif r["threads"] == 2:
            best = min(r["torch"]["median"], r["onednn"]["median"])
            print(f"  2 threads: detseg {r['detseg']['median']:.1f} ms, best torch {best:.1f} ms"
                  f": x{best / r['detseg']['median']:.2f} (target > 1): "
                  f"{'met' if best > r['detseg']['median'] else 'NOT met'}")
    write_json(args.json, {"clock": clock_name(), "flags": flags, "compiler": compiler,
                           "rows": rows})
    return fail("torchvision's ASPP") if bad else 0


if __name__ == "__main__":
    sys.exit(main())
