"""Sensitivity sweep of the DNF defaults the paper leaves unstated (docs/dnf_defaults.md).

One-at-a-time around the case study (``DNFExperiment()``: 8 clauses of 4 literals, 8
hidden, alpha 2, 1000 + 1000 epochs): each knob takes a few values in common use while the
others keep their defaults. For every setting and seed the full pipeline runs (dense,
clause, random), and the table reports the *dense* model's phase-1 diagnostics, which
decide the defaults, next to the final test accuracies, which do not:

- ``phase-1 train / test``: accuracy of the dense model after phase 1 (before the split);
- ``gap``: train minus test accuracy (points); a gap under 2 points means the data set is
  large enough that accuracy differences reflect capacity, not memorisation;
- ``tail change``: relative change of the mean epoch loss between epochs [-100, -50) and
  [-50, end) of phase 1 (converged when |change| < 1%);
- ``spike``: the largest epoch loss in the second half of phase 1 over the smallest loss of
  phase 1 (stable when < 1.1: no divergence or oscillation late in training).

Rule (fixed before the sweep ran): keep the a-priori default (Adam's default lr 1e-3, L1
1e-4, L2 1e-4, 10,000 samples, true bits in [0.8, 1], false bits in [0, 0.2]) unless the
dense model is unstable, unconverged or has a gap of 2 points or more there; then take the
nearest value that passes. FPE accuracies play no part in the choice.

CLI::

    python -m fpe_empirical.sensitivity --seeds 0 1 2 --out results/sensitivity

(resumable: one CSV per setting in ``--out``; prints the Markdown table.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .config import config_key
from .dnf_experiment import DNFExperiment, read_resumed_csv, train_dnf_many

#: the a-priori defaults the sweep is centred on (``DNFExperiment()`` before the sweep; the
#: rule moved ``n_samples`` to 40,000 afterwards, see docs/dnf_defaults.md)
APRIORI: dict = {"n_samples": 10_000}

__all__ = ["APRIORI", "VARIATIONS", "sweep_settings", "dense_diagnostics", "run_sensitivity", "sensitivity_table", "to_markdown", "main"]

#: knob -> alternative values (the default is the centre row). "ranges" sets
#: (true_range, false_range) together.
VARIATIONS: dict[str, list] = {
    "lr": [3e-4, 3e-3, 1e-2],
    "l1": [0.0, 1e-5, 1e-3],
    "weight_decay": [0.0, 1e-5, 1e-3],
    "n_samples": [2_000, 5_000, 20_000, 40_000],
    "ranges": [((1.0, 1.0), (0.0, 0.0)), ((0.9, 1.0), (0.0, 0.1)), ((0.6, 1.0), (0.0, 0.4))],
}


def _label(param: str, value) -> str:
    if param == "ranges":
        (t0, t1), (f0, f1) = value
        return f"true [{t0:g}, {t1:g}], false [{f0:g}, {f1:g}]"
    return f"{param} = {value:g}"


def sweep_settings(base: DNFExperiment, params: list[str] | None = None) -> list[tuple[str, str, dict]]:
    """``(param, label, overrides)`` per setting: the default first, then each variation."""
    params = list(VARIATIONS) if params is None else params
    for p in params:
        if p not in VARIATIONS:
            raise ValueError(f"params must be drawn from {list(VARIATIONS)}, got {p!r}")
    out = [("default", "default", {})]
    for p in params:
        for v in VARIATIONS[p]:
            over = {"true_range": v[0], "false_range": v[1]} if p == "ranges" else {p: v}
            out.append((p, _label(p, v), over))
    return out


def dense_diagnostics(epoch_loss: list[float]) -> dict:
    """Phase-1 convergence and stability numbers from the per-epoch training loss."""
    L = np.asarray(epoch_loss, dtype=np.float64)
    if L.size < 100:
        return {"tail_change": float("nan"), "spike": float("nan")}
    a, b = L[-100:-50].mean(), L[-50:].mean()
    return {"tail_change": float((b - a) / b), "spike": float(L[L.size // 2 :].max() / L.min())}


def run_sensitivity(
    base: DNFExperiment,
    seeds: list[int],
    *,
    params: list[str] | None = None,
    out: str | os.PathLike | None = None,
    backend: str = "auto",
    progress: bool = False,
) -> pd.DataFrame:
    """Rows per (setting, seed, strategy) with the dense phase-1 diagnostics; resumable via ``out``."""
    import dataclasses

    from tqdm.auto import tqdm

    settings = sweep_settings(base, params)
    outdir = Path(out) if out is not None else None
    if outdir is not None:
        outdir.mkdir(parents=True, exist_ok=True)

    def path(label: str) -> Path | None:
        if outdir is None:
            return None
        return outdir / (label.replace(" ", "").replace("/", "_").replace(",", "_") + ".csv")

    done: dict[str, pd.DataFrame] = {}
    todo: dict[tuple, list[tuple[str, str, list[DNFExperiment]]]] = {}
    for param, label, over in settings:
        fname = path(label)
        configs = [dataclasses.replace(base, seed=s, **over) for s in seeds]
        if fname is not None and fname.exists():
            # reused only when it holds exactly these configs (seeds, epochs, ... included)
            old = read_resumed_csv(fname, {config_key(c) for c in configs}, prog="sensitivity")
            if old is not None:
                done[label] = old
                continue
        c = configs[0]
        # settings the batched trainer can stack together run in one call (l1 and the data
        # ranges are per member; lr, weight decay and the training-set size are not)
        key = (c.lr, c.weight_decay, c.n_samples, c.test_fraction, c.batch_size, c.pretrain_epochs, c.split_epochs)
        todo.setdefault(key, []).append((param, label, configs))
    for group in tqdm(list(todo.values()), desc="setting groups", disable=not progress):
        flat = [c for _, _, configs in group for c in configs]
        results = iter(train_dnf_many(flat, backend=backend, progress=progress))
        for param, label, configs in group:
            rows = []
            for _ in configs:
                r = next(results)
                diag = dense_diagnostics(r.histories["pretrain"].epoch_loss)
                pre = r.pretrained
                f = r.frame.copy()
                f["param"], f["setting"] = param, label
                f["dense_train_accuracy"] = pre.accuracy(r.dataset.X_train, r.dataset.y_train)
                f["dense_test_accuracy"] = pre.accuracy(r.dataset.X_test, r.dataset.y_test)
                for k, v in diag.items():
                    f[k] = v
                rows.append(f)
            frame = pd.concat(rows, ignore_index=True)
            fname = path(label)
            if fname is not None:
                tmp = fname.with_suffix(".csv.tmp")
                frame.to_csv(tmp, index=False)
                os.replace(tmp, fname)
            done[label] = frame
    frames = [done[label] for _, label, _ in settings]
    return pd.concat(frames, ignore_index=True)


def sensitivity_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per setting: dense phase-1 diagnostics (means over seeds) and final test
    accuracy ``mean ± std`` per strategy."""
    rows = []
    for label, g in frame.groupby("setting", sort=False):
        dense_rows = g.drop_duplicates("seed")
        row = {
            "setting": label,
            "phase-1 train": f"{100 * dense_rows.dense_train_accuracy.mean():.1f}",
            "phase-1 test": f"{100 * dense_rows.dense_test_accuracy.mean():.1f}",
            "gap (pts)": f"{100 * (dense_rows.dense_train_accuracy - dense_rows.dense_test_accuracy).mean():.1f}",
            "tail change": f"{100 * dense_rows.tail_change.mean():+.2f}%",
            "spike": f"{dense_rows.spike.max():.2f}",
        }
        for s, gs in g.groupby("strategy", sort=False):
            te = 100 * gs.test_accuracy
            row[f"{s} test"] = f"{te.mean():.1f} ± {te.std(ddof=1) if len(te) > 1 else float('nan'):.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub Markdown table (no extra dependency)."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI: run the sweep (resumable with --out) and print the Markdown table."""
    from fpe_theory.cli_errors import OneLineArgumentParser  # usage errors: one stderr line, exit 2

    p = OneLineArgumentParser(prog="python -m fpe_empirical.sensitivity", description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--params", nargs="+", default=None, help=f"knobs to vary (default all: {list(VARIATIONS)})")
    p.add_argument("--pretrain-epochs", type=int, default=None)
    p.add_argument("--split-epochs", type=int, default=None)
    p.add_argument("--n-samples", type=int, default=None, help=f"base data set size (default {APRIORI['n_samples']})")
    p.add_argument("--out", default=None, help="directory for per-setting CSVs (resume)")
    p.add_argument("--backend", choices=["loop", "ensemble", "auto"], default="auto")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    try:
        over = dict(APRIORI)
        if args.pretrain_epochs is not None:
            over["pretrain_epochs"] = args.pretrain_epochs
        if args.split_epochs is not None:
            over["split_epochs"] = args.split_epochs
        if args.n_samples is not None:
            over["n_samples"] = args.n_samples
        base = DNFExperiment(**over)
        frame = run_sensitivity(
            base, args.seeds, params=args.params, out=args.out, backend=args.backend,
            progress=args.progress or sys.stderr.isatty(),
        )
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(to_markdown(sensitivity_table(frame)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
