"""Experiment grids for the paper's vision results, on any embedding file or offline on digits.

Each builder returns a list of ``EmbeddingExperiment`` configs for a data set (``"digits"``
or an embedding file) and a profile:

- ``"quick"``: a small grid and a short schedule (10 + 300 epochs, 5 seeds) that runs on a
  laptop CPU in minutes on digits;
- ``"paper"``: the paper's grid and schedule (10 epochs of dense training, then 1000).

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

from .config import config_to_dict
from .embedding_experiment import EmbeddingExperiment, paper_depth
from .grids import register_cost, register_grid

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

PROFILES = ("quick", "paper")
SEEDS = (0, 1, 2, 3, 4)
#: schedule per profile: (pretrain_epochs, split_epochs)
SCHEDULE = {"quick": (10, 300), "paper": (10, 1000)}


def _check(dataset: str, profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    if not isinstance(dataset, str):
        raise TypeError(f"dataset must be 'digits' or a path string, got {type(dataset).__name__}")


def _widths(dataset: str, profile: str, quick_digits: Sequence[int], paper: Sequence[int]) -> tuple[int, ...]:
    # digits (64 pixels, 10 classes) saturates by hidden ~16; CLIP embeddings (512-d, 100+
    # classes) need the paper's wider range
    if dataset == "digits" and profile == "quick":
        return tuple(quick_digits)
    return tuple(paper)


def _make(dataset: str, profile: str, **fields) -> EmbeddingExperiment:
    pre, split = SCHEDULE[profile]
    fields.setdefault("pretrain_epochs", pre)
    fields.setdefault("split_epochs", split)
    return EmbeddingExperiment(dataset=dataset, **fields)


def fig5(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 5: hidden widths x {dense, random, gram} x 5 seeds, alpha 2, one hidden layer."""
    _check(dataset, profile)
    widths = _widths(dataset, profile, (2, 4, 8, 16), (2, 4, 8, 16, 32, 64))
    return [_make(dataset, profile, hidden=h, seed=s, strategies=("dense", "random", "gram")) for h in widths for s in SEEDS]


def fig6a(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 6a: random split at the base widths, and dense at a finer width ladder (every
    width from the smallest base width up to 2x the largest), so ``dense_match_table`` can
    read off the dense width whose accuracy the split model matches."""
    _check(dataset, profile)
    base = _widths(dataset, profile, (2, 4, 8), (4, 8, 16, 32, 64))
    lo, top = min(base), 2 * max(base)
    ladder = set(range(lo, min(top, 24) + 1))  # every width up to 24, then 12 log-spaced ones
    if top > 24:
        ladder |= {int(round(w)) for w in np.geomspace(24, top, 12)}
    out = [_make(dataset, profile, hidden=h, seed=s, strategies=("dense", "random")) for h in base for s in SEEDS]
    out += [_make(dataset, profile, hidden=h, seed=s, strategies=("dense",)) for h in sorted(ladder) if h not in base for s in SEEDS]
    return out


def fig6b(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 6b: split timing. Total epochs fixed (``pretrain + split``); the split happens
    early (after 10 epochs), midway, or late (after 3/4 of training); dense and random."""
    _check(dataset, profile)
    pre, split = SCHEDULE[profile]
    total = pre + split
    timings = (pre, total // 2, (3 * total) // 4)
    widths = _widths(dataset, profile, (2, 4, 8), (8, 16, 32))
    return [
        _make(dataset, profile, hidden=h, seed=s, strategies=("dense", "random"), pretrain_epochs=t, split_epochs=total - t)
        for t in timings
        for h in widths
        for s in SEEDS
    ]


def fig6cd(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Figure 6c/d: expansion factors 2 and 4 (random split) vs dense; the frames carry
    ``mean_cosine`` (6c) and accuracy (6d)."""
    _check(dataset, profile)
    widths = _widths(dataset, profile, (2, 4, 8, 16), (4, 8, 16, 32, 64))
    return [_make(dataset, profile, hidden=h, alpha=a, seed=s, strategies=("dense", "random")) for a in (2, 4) for h in widths for s in SEEDS]


def table_a3(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Table A3: the paper's 5-, 7- and 9-layer MLPs (``depth = paper_depth(L)`` = 4, 6, 8
    hidden layers, LayerNorm, alternating expansion) x hidden 4/8/12/16, dense vs random."""
    _check(dataset, profile)
    return [
        _make(dataset, profile, depth=paper_depth(n_layers), hidden=h, seed=s, strategies=("dense", "random"))
        for n_layers in (5, 7, 9)
        for h in (4, 8, 12, 16)
        for s in SEEDS
    ]


def table_a4(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Table A4: a 5-layer MLP (depth 4) at hidden 6..16, dense vs random (ImageNet-1k
    embeddings in the paper; any embedding file here)."""
    _check(dataset, profile)
    return [
        _make(dataset, profile, depth=paper_depth(5), hidden=h, seed=s, strategies=("dense", "random"))
        for h in (6, 8, 10, 12, 14, 16)
        for s in SEEDS
    ]


def table_a5(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """Table A5: 2:4 structured split vs unstructured random split, alpha 2, vs dense."""
    _check(dataset, profile)
    widths = _widths(dataset, profile, (2, 4, 8), (4, 8, 16, 32))
    return [_make(dataset, profile, hidden=h, seed=s, strategies=("dense", "two_four", "random")) for h in widths for s in SEEDS]


def dynamic(dataset: str = "digits", profile: str = "quick") -> list[EmbeddingExperiment]:
    """A.7: dynamic rewiring (random+rewire) vs one-shot random split vs dense.

    The paper reports ten trials "for the optimal rewiring hyper-parameters" at hidden
    4/8/16: the paper profile runs 10 seeds over a small grid of ``rewire_every`` (steps) x
    ``rewire_fraction``; choose the best on a validation criterion before comparing (the
    quick profile uses the defaults, 5 seeds)."""
    _check(dataset, profile)
    if profile == "quick":
        widths = _widths(dataset, profile, (2, 4, 8), (4, 8, 16))
        return [_make(dataset, profile, hidden=h, seed=s, strategies=("dense", "random", "random+rewire")) for h in widths for s in SEEDS]
    # the one-shot runs once per seed; the rewiring runs per hyper-parameter pair (they
    # share the pre-trained model of their seed: init and phase 1 do not depend on them)
    seeds = range(10)
    one_shot = [_make(dataset, profile, hidden=h, seed=s, strategies=("dense", "random")) for h in (4, 8, 16) for s in seeds]
    return one_shot + [
        _make(dataset, profile, hidden=h, seed=s, strategies=("random+rewire",), rewire_every=e, rewire_fraction=f)
        for h in (4, 8, 16)
        for e in (50, 100, 200)
        for f in (0.05, 0.1, 0.2)
        for s in seeds
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


# registered sweep grids: emb-<name>-<profile> on digits (offline)
def _register() -> None:
    for name, fn in BUILDERS.items():
        for profile in PROFILES:
            doc = (fn.__doc__ or "").strip().splitlines()[0]
            register_grid(f"emb-{name.replace('_', '-')}-{profile}", f"{doc} [digits, {profile} profile]")(
                lambda fn=fn, profile=profile: fn("digits", profile)
            )


_register()


@register_cost("embedding")
def _embedding_cost(cfg: EmbeddingExperiment) -> float:
    # relative work: widths x depth x epochs over the dense model and every phase-2 model
    # (a split layer is alpha times wider); the data set size is the same within a grid
    widths = sum(1 if s == "dense" else cfg.alpha for s in cfg.strategies)
    per_epoch = cfg.hidden * cfg.depth
    return per_epoch * (cfg.pretrain_epochs + cfg.split_epochs * widths) + 100.0


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
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, p)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m fpe_empirical.embedding_grids NAME --dataset D --profile P --out grid.json``."""
    import argparse

    class _P(argparse.ArgumentParser):
        def error(self, message):  # one line on stderr, exit 2
            print(f"{self.prog}: error: {message}", file=sys.stderr)
            raise SystemExit(2)

    p = _P(prog="python -m fpe_empirical.embedding_grids", description="Write a vision grid for an embedding file (or digits) as a sweep grid file.")
    p.add_argument("name", choices=sorted(BUILDERS))
    p.add_argument("--dataset", default="digits", help="'digits' or an .npz/.safetensors embedding file")
    p.add_argument("--profile", choices=PROFILES, default="quick")
    p.add_argument("--out", required=True, help="grid file to write (.json), for `python -m fpe_empirical.sweep`")
    args = p.parse_args(argv)
    try:
        configs = build_grid(args.name, args.dataset, args.profile)
        path = write_grid_file(configs, args.out)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(configs)} configs to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
