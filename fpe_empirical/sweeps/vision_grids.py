"""Experiment grids for the paper's vision results, on any embedding file or offline on digits.

Each builder returns a list of ``EmbeddingExperiment`` configs for a data set (``"digits"``
or an embedding file) and a profile (``"quick"``: a small grid and a short schedule that runs
on a laptop CPU in minutes on digits; ``"paper"``: the paper's grid and schedule). The
builders fix each grid's structure (strategies, depths, expansion factors, split timings);
every number that depends on the profile (schedule, seeds, widths, the rewiring grid) comes
from the profile catalogue (``sweeps.catalogue``).

| builder | reproduces |
|---|---|
| ``fig5`` | Figure 5: test accuracy vs hidden width, dense vs random vs Gram split |
| ``fig6a`` | Figure 6a: dense at many widths, to find the width (and non-zeros) matching random split |
| ``fig6b`` | Figure 6b: split timing, early vs late, same total epochs |
| ``fig6cd`` | Figure 6c/d: cosine similarity and accuracy for expansion factors 2 and 4 |
| ``table_a3`` | Table A3: 5/7/9-layer MLPs (depth 4/6/8 hidden layers) x hidden 4/8/12/16 |
| ``table_a4`` | Table A4: 5-layer MLP (depth 4), hidden 6..16 (ImageNet-1k in the paper) |
| ``table_a5`` | Table A5: 2:4 split vs random split, alpha 2 |
| ``dynamic`` | A.7: dynamic rewiring vs one-shot random split (the paper profile sweeps the rewiring hyper-parameters) |

Registered sweep grids (``python -m fpe_empirical.sweep --list``): ``emb-<name>-quick`` and
``emb-<name>-paper`` on digits, offline. For an embedding file, write a grid file and sweep it::

    python -m fpe_empirical.embedding_grids fig5 --dataset cifar100_clip.npz --profile paper --out fig5.json
    python -m fpe_empirical.sweep fig5.json --store results/

(The grid file stores each config's non-default fields, including the file's sha256, so the
stored results are tied to that file's content.) ``dense_match_table`` turns a ``fig6a``
result frame into Figure 6a's "dense width needed to match" table.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fpe_common.atomic import atomic_write
from fpe_common.cli import OneLineArgumentParser, run_main

from ..experiments.embedding import EmbeddingExperiment, paper_depth
from ..results.keys import config_to_dict
from .catalogue import PROFILES, VisionProfile, get_profile

__all__ = [
    "BUILDERS",
    "PROFILES",
    "build_grid",
    "fig5",
    "fig6a",
    "fig6b",
    "fig6cd",
    "table_a3",
    "table_a4",
    "table_a5",
    "dynamic",
    "dense_match_table",
    "write_grid_file",
    "main",
]


def _vision(dataset: str, profile: str) -> VisionProfile:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be 'digits' or a path string, got {type(dataset).__name__}")
    return get_profile(profile).vision


def _make(dataset: str, v: VisionProfile, **fields) -> EmbeddingExperiment:
    pre, split = v.schedule
    fields.setdefault("pretrain_epochs", pre)
    fields.setdefault("split_epochs", split)
    return EmbeddingExperiment(dataset=dataset, **fields)


def fig5(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 5: hidden widths x {dense, random, gram} x 5 seeds, alpha 2, one hidden layer."""
    v = _vision(dataset, profile)
    return [_make(dataset, v, hidden=h, seed=s, strategies=("dense", "random", "gram"))
            for h in v.widths_for("fig5", dataset) for s in v.seeds]


def fig6a(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 6a: random split at the base widths, and dense at a finer width ladder (every
    width from the smallest base width up to 2x the largest), so ``dense_match_table`` can
    read off the dense width whose accuracy the split model matches."""
    v = _vision(dataset, profile)
    base = v.widths_for("fig6a", dataset)
    lo, top = min(base), 2 * max(base)
    ladder = set(range(lo, min(top, 24) + 1))  # every width up to 24, then 12 log-spaced ones
    if top > 24:
        ladder |= {int(round(w)) for w in np.geomspace(24, top, 12)}
    out = [_make(dataset, v, hidden=h, seed=s, strategies=("dense", "random")) for h in base for s in v.seeds]
    out += [_make(dataset, v, hidden=h, seed=s, strategies=("dense",)) for h in sorted(ladder) if h not in base
            for s in v.seeds]
    return out


def fig6b(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 6b: split timing. Total epochs fixed (``pretrain + split``); the split happens
    early (after 10 epochs), midway, or late (after 3/4 of training); dense and random."""
    v = _vision(dataset, profile)
    pre, split = v.schedule
    total = pre + split
    timings = (pre, total // 2, (3 * total) // 4)
    return [
        _make(dataset, v, hidden=h, seed=s, strategies=("dense", "random"), pretrain_epochs=t, split_epochs=total - t)
        for t in timings
        for h in v.widths_for("fig6b", dataset)
        for s in v.seeds
    ]


def fig6cd(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 6c/d: expansion factors 2 and 4 (random split) vs dense; the frames carry
    ``mean_cosine`` (6c) and accuracy (6d)."""
    v = _vision(dataset, profile)
    return [_make(dataset, v, hidden=h, alpha=a, seed=s, strategies=("dense", "random"))
            for a in (2, 4) for h in v.widths_for("fig6cd", dataset) for s in v.seeds]


def table_a3(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Table A3: the paper's 5-, 7- and 9-layer MLPs (``depth = paper_depth(L)`` = 4, 6, 8
    hidden layers, LayerNorm, alternating expansion) x hidden 4/8/12/16, dense vs random."""
    v = _vision(dataset, profile)
    return [
        _make(dataset, v, depth=paper_depth(n_layers), hidden=h, seed=s, strategies=("dense", "random"))
        for n_layers in (5, 7, 9)
        for h in v.widths_for("table_a3", dataset)
        for s in v.seeds
    ]


def table_a4(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Table A4: a 5-layer MLP (depth 4) at hidden 6..16, dense vs random (ImageNet-1k
    embeddings in the paper; any embedding file here)."""
    v = _vision(dataset, profile)
    return [
        _make(dataset, v, depth=paper_depth(5), hidden=h, seed=s, strategies=("dense", "random"))
        for h in v.widths_for("table_a4", dataset)
        for s in v.seeds
    ]


def table_a5(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Table A5: 2:4 structured split vs unstructured random split, alpha 2, vs dense."""
    v = _vision(dataset, profile)
    return [_make(dataset, v, hidden=h, seed=s, strategies=("dense", "two_four", "random"))
            for h in v.widths_for("table_a5", dataset) for s in v.seeds]


def dynamic(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """A.7: dynamic rewiring (random+rewire) vs one-shot random split vs dense.

    The paper reports ten trials "for the optimal rewiring hyper-parameters" at hidden
    4/8/16: the paper profile runs 10 seeds over a small grid of ``rewire_every`` (steps) x
    ``rewire_fraction`` (the catalogue's); choose the best on a validation criterion before
    comparing (the quick profile uses the defaults, 5 seeds)."""
    v = _vision(dataset, profile)
    widths = v.widths_for("dynamic", dataset)
    if v.dynamic_seeds is None:
        return [_make(dataset, v, hidden=h, seed=s, strategies=("dense", "random", "random+rewire"))
                for h in widths for s in v.seeds]
    # the one-shot runs once per seed; the rewiring runs per hyper-parameter pair (they
    # share the pre-trained model of their seed: init and phase 1 do not depend on them)
    one_shot = [_make(dataset, v, hidden=h, seed=s, strategies=("dense", "random")) for h in widths for s in v.dynamic_seeds]
    return one_shot + [
        _make(dataset, v, hidden=h, seed=s, strategies=("random+rewire",), rewire_every=e, rewire_fraction=f)
        for h in widths
        for e in v.rewire_every
        for f in v.rewire_fraction
        for s in v.dynamic_seeds
    ]


BUILDERS: dict[str, Callable[[str, str], list[EmbeddingExperiment]]] = {
    "fig5": fig5,
    "fig6a": fig6a,
    "fig6b": fig6b,
    "fig6cd": fig6cd,
    "table_a3": table_a3,
    "table_a4": table_a4,
    "table_a5": table_a5,
    "dynamic": dynamic,
}


def build_grid(name: str, dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """The configs of builder ``name`` (see ``BUILDERS``) for ``dataset`` and ``profile``."""
    if name not in BUILDERS:
        raise ValueError(f"grid must be one of {sorted(BUILDERS)}, got {name!r}")
    return BUILDERS[name](dataset, profile)


# --------------------------------------------------------------------------- analysis


def dense_match_table(frame: pd.DataFrame, strategy: str = "random") -> pd.DataFrame:
    """Figure 6a: for each width of ``strategy``, the dense width matching its mean accuracy.

    From a frame with dense rows at many widths: mean test accuracy per dense width, made
    monotone (running maximum over widths), then linearly interpolated in the non-zero count
    at the split model's mean accuracy. Columns: hidden, split_accuracy, nonzero,
    dense_nonzero_needed (NaN when no dense width in the frame reaches it),
    dense_hidden_needed (the smallest dense width reaching it) and param_ratio =
    dense_nonzero_needed / nonzero (the paper's "1.2x more parameters").
    """
    dense = frame[frame.strategy == "dense"].groupby("hidden").agg(acc=("test_accuracy", "mean"), nnz=("nonzero", "mean")).sort_index()
    if dense.empty:
        raise ValueError("frame must hold dense rows at several widths (a fig6a grid)")
    acc = np.maximum.accumulate(dense["acc"].to_numpy())
    nnz = dense["nnz"].to_numpy()
    rows = []
    split = frame[frame.strategy == strategy].groupby("hidden").agg(acc=("test_accuracy", "mean"), nnz=("nonzero", "mean"))
    for h, r in split.iterrows():
        target = r["acc"]
        reach = np.flatnonzero(acc >= target)
        if reach.size == 0:
            needed, width = float("nan"), float("nan")
        else:
            j = int(reach[0])
            width = float(dense.index[j])
            if j == 0 or acc[j] == acc[j - 1]:
                needed = float(nnz[j])
            else:
                t = (target - acc[j - 1]) / (acc[j] - acc[j - 1])
                needed = float(nnz[j - 1] + t * (nnz[j] - nnz[j - 1]))
        rows.append({
            "hidden": int(h),
            "split_accuracy": float(target),
            "nonzero": float(r["nnz"]),
            "dense_nonzero_needed": needed,
            "dense_hidden_needed": width,
            "param_ratio": needed / float(r["nnz"]),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- grid files / CLI


def write_grid_file(configs: Sequence[EmbeddingExperiment], path: str | os.PathLike) -> Path:
    """A grid file (``fpe_empirical.grids`` JSON format) listing ``configs`` explicitly."""
    p = Path(path)
    if p.suffix.lower() != ".json":
        raise ValueError(f"path must end in .json, got {str(path)!r}")
    doc = {"kind": "embedding", "configs": [config_to_dict(c, only_changed=True) for c in configs]}
    return atomic_write(p, json.dumps(doc, indent=1))


PROG = "python -m fpe_empirical.embedding_grids"


def _main(argv: Sequence[str] | None) -> int:
    p = OneLineArgumentParser(prog=PROG, description="Write a vision grid for an embedding file (or digits) as a sweep grid file.")
    p.add_argument("name", choices=sorted(BUILDERS))
    p.add_argument("--dataset", default="digits", help="'digits' or an .npz/.safetensors embedding file")
    p.add_argument("--profile", choices=PROFILES, default="quick")
    p.add_argument("--out", required=True, help="grid file to write (.json), for `python -m fpe_empirical.sweep`")
    args = p.parse_args(argv)
    configs = build_grid(args.name, args.dataset, args.profile)
    path = write_grid_file(configs, args.out)
    print(f"wrote {len(configs)} configs to {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fpe_empirical.embedding_grids NAME --dataset D --profile P --out grid.json``."""
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
