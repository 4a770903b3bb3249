"""Sparse inference: does an FPE network cost what its non-zeros cost?

For each width (``IN-H1[-H2..]-OUT``) and alpha, a random-init dense parent MLP is split by
``fpe_expand`` (same non-zero count) and four ways of running it are timed side by side in
one process, round-robin, median of ``--repeats`` (>= 5) rounds:

- ``parent``: the dense parent, plain ``nn.Linear`` layers (torch / MKL), same non-zeros;
- ``fpe``: the FPE network through ``to_sparse`` (our Numba kernels);
- ``wide``: the FPE network as masked *dense* wide matrices (``nn.Linear`` on ``W * M``);
- ``csr``: the FPE network with torch CSR weights (``torch.sparse.mm``);
- ``ours_dense``: the parent through ``to_sparse`` (our kernels on dense layers), for scale.

Grouped FPE (``--n-partitions 1,2,4,8``, issue 16): instead of the table above, for each
width, alpha, batch and thread count the dense parent, the classic random split (``fpe``) and
the grouped splits ``fpe_expand(..., n_partitions=G)`` (``G=g``, through ``to_sparse``: dense
blocks + torch GEMMs) are timed side by side, round-robin; also the split layer alone
(``layer``: the grouped layer alone as a one-layer ``SparseMLP`` vs the parent's first
``nn.Linear``), so the cost of the widened next layer (the head) shows separately. Outputs are checked against the
masked model before timing.

Timing depends on the sparsity structure only, so the weights are PyTorch's initialisation
(no training). Ratios are latency / ``parent`` latency at the same batch and thread count.
Threads: torch gets ``torch.set_num_threads(T)`` and ours ``threads=T``, never at once.

    .venv/bin/python benchmarks/bench_sparse.py                  # paper widths, alpha 2 4 8
    .venv/bin/python benchmarks/bench_sparse.py --widths 512-256-100 --alphas 4 --threads 1
    .venv/bin/python benchmarks/bench_sparse.py --n-partitions 1,2,4,8 --threads 1   # grouped FPE rows
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

PRESETS = {
    # DNF case study (paper 3.1): n = 4 C literals, 4-32 hidden neurons, one logit
    "dnf": ["32-8-1", "64-16-1", "128-32-1"],
    # CLIP classifiers (paper 3.3): 512-d embeddings, 100 classes
    "clip": ["512-64-100", "512-256-100", "512-1024-100"],
}


def _parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widths", default="dnf,clip",
                   help="comma list of presets (dnf, clip) and/or IN-H1[-H2..]-OUT widths (default: dnf,clip)")
    p.add_argument("--alphas", default="2,4,8", help="comma list of expansion factors (default 2,4,8)")
    p.add_argument("--batches", default="1,256", help="comma list of batch sizes (default 1,256)")
    p.add_argument("--threads", default="1,2", help="comma list of thread counts (default 1,2)")
    p.add_argument("--strategy", default="random", help="fpe_expand strategy (default random)")
    p.add_argument("--layers", default="first", help="fpe_expand layers: first or alternate (default first)")
    p.add_argument("--layernorm", action="store_true", help="LayerNorm before each activation")
    p.add_argument("--repeats", type=int, default=7, help="rounds, median reported (>= 5, default 7)")
    p.add_argument("--min-time", type=float, default=0.01,
                   help="seconds each timed sample lasts at least (calls are repeated; default 0.01)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: latency; cpu: CPU time of the calling thread (threads=1 only), "
                        "robust when other processes share the cores (default wall)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--omp-passive", action="store_true",
                   help="set OMP_WAIT_POLICY=PASSIVE before torch starts (2-thread torch on a loaded machine)")
    p.add_argument("--json", default=None, help="also write the rows as JSON to this path")
    p.add_argument("--n-partitions", default=None,
                   help="comma list of G: time grouped FPE (fpe_expand(..., n_partitions=G)) beside the "
                        "parent and the classic split, instead of the default table")
    p.add_argument("--grouped-runtime", choices=("numba", "torch"), default="numba",
                   help="how to_sparse runs the grouped layers (with --n-partitions; default numba)")
    p.add_argument("--kernel-rates", action="store_true",
                   help="only time single layers: sparse vs dense kernel vs torch, multiply-adds per second")
    args = p.parse_args(argv)

    def ints(name, text, lo):
        try:
            vals = [int(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"--{name} must be a comma list of integers, got {text!r}") from None
        if not vals or min(vals) < lo:
            raise ValueError(f"--{name} must list integers >= {lo}, got {text!r}")
        return vals

    args.alphas = ints("alphas", args.alphas, 2)
    args.batches = ints("batches", args.batches, 1)
    args.threads = ints("threads", args.threads, 1)
    args.n_partitions = None if args.n_partitions is None else ints("n-partitions", args.n_partitions, 1)
    if args.clock == "cpu" and args.threads != [1]:
        raise ValueError("--clock cpu measures one thread: use it with --threads 1")
    if args.repeats < 5:
        raise ValueError(f"--repeats must be >= 5, got {args.repeats}")
    if not args.min_time > 0:
        raise ValueError(f"--min-time must be > 0, got {args.min_time}")
    widths = []
    for item in args.widths.split(","):
        item = item.strip()
        if item in PRESETS:
            widths += PRESETS[item]
        elif item:
            parts = item.split("-")
            if len(parts) < 3 or not all(s.isdigit() and int(s) >= 1 for s in parts):
                raise ValueError(f"--widths entries must be a preset {sorted(PRESETS)} or IN-H1[-H2..]-OUT, got {item!r}")
            widths.append(item)
    if not widths:
        raise ValueError("--widths must name at least one network")
    args.widths = widths
    return args


def _median_time(fn, min_time: float, clock=time.perf_counter) -> float:
    """Seconds per call: calls repeated until ``min_time`` has passed (one sample)."""
    n = 1
    while True:
        t0 = clock()
        for _ in range(n):
            fn()
        dt = clock() - t0
        if dt >= min_time:
            return dt / n
        n = max(n * 2, int(n * min_time / max(dt, 1e-7) * 1.2))


def _torch_dense(model):
    """``model`` as plain nn.Linear layers (effective weights; no mask multiply per call)."""
    import torch.nn.functional as F

    lins = [layer.to_linear().eval() for layer in model.layers]
    norms = list(model.norms)

    def run(x):
        for lin, norm in zip(lins[:-1], norms):
            x = F.relu(norm(lin(x)))
        return lins[-1](x)

    return run


def _torch_csr(model):
    import warnings

    import torch
    import torch.nn.functional as F

    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        Ws = [layer.masked_weight().detach().to_sparse_csr() for layer in model.layers]
    bs = [layer.bias.detach() for layer in model.layers]
    norms = list(model.norms)

    def run(x):
        for i in range(len(Ws)):
            x = torch.sparse.mm(Ws[i], x.T).T + bs[i]
            if i < len(Ws) - 1:
                x = F.relu(norms[i](x))
        return x

    return run


def kernel_rates(args, clock) -> None:
    """Multiply-adds per second of one layer through each path (justifies sparse.DENSE_SPEEDUP).

    Layer 512 -> 1024: ``sparse`` has a random fan-in of 128 per row (25% density, ELL),
    ``dense`` the full 512 (our dense kernel), ``torch`` the full 512 (nn.Linear / MKL).
    Rate = stored entries x batch / time.
    """
    import numpy as np
    import torch

    from fpe_empirical.sparse import SparseMLP
    from fpe_empirical.sparse.layers import layer_from_weight

    rng = np.random.default_rng(args.seed)
    n_in, n_out, fan = 512, 1024, 128
    Ws = np.zeros((n_out, n_in), np.float32)
    for j in range(n_out):
        Ws[j, rng.choice(n_in, fan, replace=False)] = rng.standard_normal(fan)
    Wd = rng.standard_normal((n_out, n_in)).astype(np.float32)
    b = np.zeros(n_out, np.float32)
    pi = np.arange(n_out)
    sparse = SparseMLP([layer_from_weight(Ws, b, pi, "ell")])
    dense = SparseMLP([layer_from_weight(Wd, b, pi, "dense")])
    lin = torch.nn.Linear(n_in, n_out)
    torch.set_num_threads(1)
    print("| batch | path | entries | G multiply-adds/s |")
    print("|---|---|---|---|")
    for batch in args.batches:
        x = rng.standard_normal((batch, n_in)).astype(np.float32)
        xt = torch.from_numpy(x)
        runs = {"sparse (ours, ELL)": (lambda: sparse(x), n_out * fan),
                "dense (ours)": (lambda: dense(x), n_out * n_in),
                "dense (torch)": (lambda: lin(xt), n_out * n_in)}
        samples = {k: [] for k in runs}
        with torch.inference_mode():
            for fn, _ in runs.values():
                fn()
            for _ in range(args.repeats):
                for k, (fn, _) in runs.items():
                    samples[k].append(_median_time(fn, args.min_time, clock))
        for k, (_, entries) in runs.items():
            rate = entries * batch / statistics.median(samples[k]) / 1e9
            print(f"| {batch} | {k} | {entries} | {rate:.1f} |", flush=True)


def grouped_table(args, clock) -> list:
    """The grouped FPE rows (module docstring): ratios to the dense parent, measured side by side."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from fpe_empirical import MLP, count_nonzero, fpe_expand, to_sparse
    from fpe_empirical.sparse import SparseMLP

    gs = args.n_partitions
    print("| net | alpha | batch | thr | parent us | fpe/parent | "
          + " | ".join(f"G={g}/parent" for g in gs) + " | "
          + " | ".join(f"layer G={g}" for g in gs) + " | kinds (G) |")
    print("|" + "---|" * (6 + 2 * len(gs)))
    rows = []
    for spec in args.widths:
        dims = [int(s) for s in spec.split("-")]
        torch.manual_seed(args.seed)
        parent = MLP(dims[0], dims[1:-1], dims[-1], layernorm=args.layernorm).eval()
        W1 = parent.layers[0].masked_weight().detach().clone()
        b1 = parent.layers[0].bias.detach().clone()
        for alpha in args.alphas:
            try:
                fpe = fpe_expand(parent, alpha, seed=args.seed, layers=args.layers).eval()
                grouped = {g: fpe_expand(parent, alpha, seed=args.seed, layers=args.layers, n_partitions=g).eval()
                           for g in gs if g <= dims[1]}
            except ValueError as e:
                print(f"| {spec} | {alpha} | skipped: {e} |", flush=True)
                continue
            rt = args.grouped_runtime
            sp = {"fpe": to_sparse(fpe), **{f"G={g}": to_sparse(m, grouped_runtime=rt) for g, m in grouped.items()}}
            # the grouped split layer on its own (vs the parent's first nn.Linear): numba runtime only
            alone = {name: SparseMLP([net.layers[0]]) for name, net in sp.items() if name != "fpe"}
            for g, m in grouped.items():
                assert count_nonzero(m) == count_nonzero(parent)
                assert sp[f"G={g}"].layers[0].kind == "grouped"
            with torch.inference_mode():
                run_parent = _torch_dense(parent)
            for batch in args.batches:
                x = torch.randn(batch, dims[0])
                xn = x.numpy()
                with torch.inference_mode():
                    for name, model in [("fpe", fpe), *((f"G={g}", m) for g, m in grouped.items())]:
                        np.testing.assert_allclose(sp[name](x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-4)
                for threads in args.threads:
                    torch.set_num_threads(threads)
                    fns = {"parent": lambda: run_parent(x), "layer parent": lambda: F.linear(x, W1, b1)}
                    for name, net in sp.items():
                        net.threads = threads
                        fns[name] = (lambda net=net: net(x))
                        if name != "fpe":
                            alone[name].threads = threads
                            fns["layer " + name] = (lambda one=alone[name]: one(xn))
                    samples = {k: [] for k in fns}
                    with torch.inference_mode():
                        for fn in fns.values():
                            fn()
                        for _ in range(args.repeats):
                            for k, fn in fns.items():
                                samples[k].append(_median_time(fn, args.min_time, clock))
                    med = {k: statistics.median(v) for k, v in samples.items()}
                    ratio = {k: med[k] / med["parent"] for k in med}
                    layer = {g: med[f"layer G={g}"] / med["layer parent"] for g in grouped}
                    kinds = ",".join("/".join(lay.kind for lay in sp[f"G={g}"].layers) for g in list(grouped)[:1])
                    cells = [f"{ratio[f'G={g}']:.2f}" if g in grouped else "-" for g in gs]
                    lcells = [f"{layer[g]:.2f}" if g in grouped else "-" for g in gs]
                    print(f"| {spec} | {alpha} | {batch} | {threads} | {med['parent'] * 1e6:.1f} | {ratio['fpe']:.2f} | "
                          + " | ".join(cells) + " | " + " | ".join(lcells) + f" | {kinds} |", flush=True)
                    rows.append(dict(net=spec, alpha=alpha, batch=batch, threads=threads,
                                     us={k: v * 1e6 for k, v in med.items()}, ratio=ratio,
                                     layer_ratio={str(g): v for g, v in layer.items()},
                                     samples_us={k: [t * 1e6 for t in v] for k, v in samples.items()}))
    return rows


def _bytes_dense(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _finish(args, argv, rows, load_before) -> int:
    """Print the load average after the run and write ``--json`` (rows, loads, clock, argv)."""
    load_after = os.getloadavg()
    print(f"# load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, load_before=load_before, load_after=load_after, clock=args.clock,
                           argv=sys.argv[1:] if argv is None else list(argv)), f, indent=1)
    return 0


def main(argv=None) -> int:
    try:
        args = _parse_args(argv)
    except (ValueError, TypeError) as e:
        print(f"bench_sparse: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # argparse: usage error already printed
        return 2 if e.code else 0

    if args.omp_passive:  # must precede torch's OpenMP start-up
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    import numpy as np
    import torch

    from fpe_empirical import MLP, count_nonzero, fpe_expand, to_sparse

    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    if args.kernel_rates:
        print(f"# load average: {os.getloadavg()[0]:.2f}; clock={args.clock}; one thread")
        kernel_rates(args, clock)
        return 0
    load_before = os.getloadavg()
    if args.n_partitions is not None:
        print(f"# load average before: {load_before[0]:.2f} (cores: {os.cpu_count()}); clock={args.clock}; "
              "ratios = time / dense parent time, same batch and threads", flush=True)
        return _finish(args, argv, grouped_table(args, clock), load_before)
    rows = []
    header = (
        "| net | alpha | batch | thr | parent us | fpe/parent | (min) | wide/parent | csr/parent | ours_dense/parent "
        "| layers | bytes parent / fpe / wide |"
    )
    print(f"# load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} "
          f"(cores: {os.cpu_count()}); OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; "
          f"clock={args.clock}", flush=True)
    print(header)
    print("|" + "---|" * 12)
    torch.manual_seed(args.seed)
    for spec in args.widths:
        dims = [int(s) for s in spec.split("-")]
        torch.manual_seed(args.seed)
        parent = MLP(dims[0], dims[1:-1], dims[-1], layernorm=args.layernorm).eval()
        for alpha in args.alphas:
            try:
                fpe = fpe_expand(parent, alpha, strategy=args.strategy, seed=args.seed, layers=args.layers).eval()
            except ValueError as e:
                print(f"| {spec} | {alpha} | skipped: {e} |", flush=True)
                continue
            assert count_nonzero(fpe) == count_nonzero(parent)
            with torch.inference_mode():
                runs = {
                    "parent": _torch_dense(parent),
                    "wide": _torch_dense(fpe),
                    "csr": _torch_csr(fpe),
                }
            sp_fpe = to_sparse(fpe)
            sp_parent = to_sparse(parent)
            bytes_parent, bytes_fpe, bytes_wide = _bytes_dense(parent), sp_fpe.nbytes, _bytes_dense(fpe)
            for batch in args.batches:
                x = torch.randn(batch, dims[0])
                # correctness before timing
                with torch.inference_mode():
                    ref = runs["wide"](x)
                    np.testing.assert_allclose(sp_fpe(x).numpy(), ref.numpy(), rtol=1e-4, atol=1e-4)
                    np.testing.assert_allclose(runs["csr"](x).numpy(), ref.numpy(), rtol=1e-4, atol=1e-4)
                for threads in args.threads:
                    sp_fpe.threads = threads
                    sp_parent.threads = threads
                    fns = {
                        "parent": lambda: runs["parent"](x),
                        "fpe": lambda: sp_fpe(x),
                        "wide": lambda: runs["wide"](x),
                        "csr": lambda: runs["csr"](x),
                        "ours_dense": lambda: sp_parent(x),
                    }
                    samples = {k: [] for k in fns}
                    torch.set_num_threads(threads)
                    with torch.inference_mode():
                        for fn in fns.values():  # warm-up (compile, caches)
                            fn()
                        for _ in range(args.repeats):  # round-robin
                            for k, fn in fns.items():
                                samples[k].append(_median_time(fn, args.min_time, clock))
                    med = {k: statistics.median(v) for k, v in samples.items()}
                    ratio = {k: med[k] / med["parent"] for k in med}
                    # the fastest sample of each: less sensitive to other processes on the cores
                    fpe_min = min(samples["fpe"]) / min(samples["parent"])
                    kinds = "/".join(layer.kind for layer in sp_fpe.layers)
                    row = dict(net=spec, alpha=alpha, batch=batch, threads=threads,
                               us={k: v * 1e6 for k, v in med.items()}, ratio=ratio, fpe_min_ratio=fpe_min,
                               samples_us={k: [t * 1e6 for t in v] for k, v in samples.items()},
                               bytes=dict(parent=bytes_parent, fpe=bytes_fpe, wide=bytes_wide),
                               nonzero=count_nonzero(parent), kinds=kinds)
                    rows.append(row)
                    print(
                        f"| {spec} | {alpha} | {batch} | {threads} | {med['parent'] * 1e6:.1f} | "
                        f"{ratio['fpe']:.2f} | {fpe_min:.2f} | {ratio['wide']:.2f} | {ratio['csr']:.2f} | "
                        f"{ratio['ours_dense']:.2f} | {kinds} | {bytes_parent} / {bytes_fpe} / {bytes_wide} |",
                        flush=True,
                    )
    return _finish(args, argv, rows, load_before)


if __name__ == "__main__":
    sys.exit(main())
