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

(resumable: ``--out`` is a result store holding one ``"dnf-sensitivity"`` run per setting and
seed; prints the Markdown table.) A ``SensitivityRun`` is a ``DNFExperiment`` whose stored rows
also hold the dense model's phase-1 diagnostics.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fpe_common.cli import OneLineArgumentParser, run_main

from ..results.keys import config_key
from ..results.store import ResultStore
from .dnf import DNFExperiment, train_dnf_many
from .registry import experiment_kind

#: the a-priori defaults the sweep is centred on (``DNFExperiment()`` before the sweep; the
#: rule moved ``n_samples`` to 40,000 afterwards, see docs/dnf_defaults.md)
APRIORI: dict = {"n_samples": 10_000}

__all__ = ["APRIORI", "VARIATIONS", "SensitivityRun", "sweep_settings", "dense_diagnostics", "run_sensitivity",
           "train_sensitivity", "sensitivity_table", "to_markdown", "main"]

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


@experiment_kind("dnf-sensitivity", 1)
@dataclass(frozen=True)
class SensitivityRun(DNFExperiment):
    """A ``DNFExperiment`` (same fields, defaults, data, training and rows) whose rows also
    hold the dense model's phase-1 diagnostics: ``dense_train_accuracy``,
    ``dense_test_accuracy`` and ``dense_diagnostics`` of its phase-1 losses."""

    @staticmethod
    def run_batch(configs) -> list[pd.DataFrame]:
        """The kind's runner: ``train_sensitivity`` with the batched trainer."""
        return train_sensitivity(configs, backend="auto")


def train_sensitivity(configs: Sequence[SensitivityRun], *, backend: str = "auto", progress: bool = False) -> list[pd.DataFrame]:
    """One frame per config: the DNF rows plus the dense phase-1 diagnostics. All configs
    train in one ``train_dnf_many`` call (members that cannot share a stack get their own;
    each member's result does not depend on its stack-mates)."""
    out = []
    for r in train_dnf_many(configs, backend=backend, progress=progress):
        f = r.frame.copy()
        f["dense_train_accuracy"] = r.pretrained.accuracy(r.dataset.X_train, r.dataset.y_train)
        f["dense_test_accuracy"] = r.pretrained.accuracy(r.dataset.X_test, r.dataset.y_test)
        for k, v in dense_diagnostics(r.histories["pretrain"].epoch_loss).items():
            f[k] = v
        out.append(f)
    return out


def run_sensitivity(
    base: DNFExperiment,
    seeds: list[int],
    *,
    params: list[str] | None = None,
    out: str | os.PathLike | None = None,
    backend: str = "auto",
    progress: bool = False,
) -> pd.DataFrame:
    """Rows per (setting, seed, strategy) with the dense phase-1 diagnostics (columns
    ``param`` and ``setting`` name the setting); resumable: ``out`` is a result store."""
    settings = sweep_settings(base, params)
    runs = {label: [SensitivityRun(**{**dataclasses.asdict(base), "seed": s, **over}) for s in seeds]
            for _, label, over in settings}
    every = [c for configs in runs.values() for c in configs]
    store = ResultStore(out) if out is not None else None
    note = lambda msg: print(f"sensitivity: note: {msg}", file=sys.stderr)  # noqa: E731
    frames, todo = store.split_stored(every, note=note) if store is not None else ({}, every)
    if todo:
        for cfg, frame in zip(todo, train_sensitivity(todo, backend=backend, progress=progress)):
            frames[config_key(cfg)] = frame
            if store is not None:
                store.put(cfg, frame)
    parts = []
    for param, label, _ in settings:
        f = pd.concat([frames[config_key(c)] for c in runs[label]], ignore_index=True)
        f["param"], f["setting"] = param, label
        parts.append(f)
    return pd.concat(parts, ignore_index=True)


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


PROG = "python -m fpe_empirical.sensitivity"


def _main(argv: Sequence[str] | None) -> int:
    p = OneLineArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--params", nargs="+", default=None, help=f"knobs to vary (default all: {list(VARIATIONS)})")
    p.add_argument("--pretrain-epochs", type=int, default=None)
    p.add_argument("--split-epochs", type=int, default=None)
    p.add_argument("--n-samples", type=int, default=None, help=f"base data set size (default {APRIORI['n_samples']})")
    p.add_argument("--out", default=None, help="result store directory (resume: stored runs are reused)")
    p.add_argument("--backend", choices=["loop", "ensemble", "auto"], default="auto")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    over = dict(APRIORI)
    for name in ("pretrain_epochs", "split_epochs", "n_samples"):
        if getattr(args, name) is not None:
            over[name] = getattr(args, name)
    frame = run_sensitivity(DNFExperiment(**over), args.seeds, params=args.params, out=args.out, backend=args.backend,
                            progress=args.progress or sys.stderr.isatty())
    print(to_markdown(sensitivity_table(frame)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: run the sweep (resumable with --out) and print the Markdown table."""
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
