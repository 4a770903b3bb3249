"""What every figure script shares: the read-only context, the style, and the writers.

A figure script defines ``FIGURE = Figure(...)`` and ``make(ctx) -> list[Path]``. It reads
stored results through ``Context.frame`` (the rows of exactly one profile target's configs,
``fpe_empirical.profiles``) or ``Context.case_study`` (the saved case-study networks), draws
with matplotlib, and writes through ``Context.save_figure`` (PNG + PDF + CSV of the plotted
numbers) or ``Context.save_table`` (CSV + Markdown). It never trains: missing results raise
``MissingResults``. Statistics come from ``fpe_empirical.metrics`` (means, spreads, fold
changes, fits) and ``fpe_theory`` (closed forms).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Figure",
    "Context",
    "MissingResults",
    "pyplot",
    "STRATEGY_STYLE",
    "style",
    "seeds_text",
    "monte_carlo_text",
    "mean_std",
    "MODEL_STYLE",
]


class MissingResults(LookupError):
    """A figure needs stored results that the store does not hold (run ``python -m paper_figures``)."""


@dataclass(frozen=True)
class Figure:
    """One figure or table: its id (in every file name), title, the profile targets it reads
    (``fpe_empirical.profiles.TARGETS``), and whether it needs the saved case-study networks."""

    name: str
    title: str
    targets: tuple[str, ...]
    kind: str = "figure"  # or "table"
    models: bool = False
    #: file stems it writes (default: its id)
    outputs: tuple[str, ...] = ()

    @property
    def stems(self) -> tuple[str, ...]:
        return self.outputs or (self.name,)


# --------------------------------------------------------------------------- style

#: strategy -> (color, marker, label)
STRATEGY_STYLE = {
    "dense": ("black", "s", "dense"),
    "clause": ("tab:blue", "o", "clause split"),
    "random": ("tab:orange", "^", "random split"),
    "gram": ("tab:green", "D", "Gram split"),
    "two_four": ("tab:purple", "v", "2:4 split"),
    "random+rewire": ("tab:red", "P", "random split + rewiring"),
}


#: theory model (fpe_theory.models) -> (color, label)
MODEL_STYLE = {
    "literal": ("tab:red", "literal (the paper's A.5 model)"),
    "subset": ("tab:orange", "subset (alpha·N independent d-subsets)"),
    "partition": ("tab:blue", "partition (what random FPE does)"),
    "two_four": ("tab:green", "2:4 split"),
}


def style(strategy: str) -> dict[str, Any]:
    """``color``, ``marker`` and ``label`` keyword arguments for a strategy."""
    color, marker, label = STRATEGY_STYLE.get(strategy, ("tab:gray", "x", strategy))
    return {"color": color, "marker": marker, "label": label}


def pyplot():
    """matplotlib.pyplot on the Agg backend with the figures' readable defaults."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.labelsize": 10.5,
        "legend.fontsize": 8.5,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 100,
        "savefig.dpi": 130,
        "pdf.fonttype": 42,
    })
    return plt


def monte_carlo_text(frame: pd.DataFrame, per: str) -> str:
    """"<trials> Monte Carlo trials per <per> (seed <seed>)" of a stored theory-sim frame."""
    return f"{int(frame['trials'].iloc[0])} Monte Carlo trials per {per} (seed {int(frame['seed'].iloc[0])})"


def seeds_text(seeds: Sequence[int]) -> str:
    """``"5 trials (seeds 0-4)"``."""
    s = sorted({int(x) for x in seeds})
    if not s:
        return "0 trials"
    span = f"{s[0]}-{s[-1]}" if s == list(range(s[0], s[-1] + 1)) and len(s) > 1 else ", ".join(map(str, s))
    return f"{len(s)} trial{'s' if len(s) != 1 else ''} (seed{'s' if len(s) != 1 else ''} {span})"


def mean_std(frame: pd.DataFrame, value: str, by: Sequence[str]) -> pd.DataFrame:
    """``fpe_empirical.metrics.summarize``: mean, sample std and count of ``value`` per group,
    sorted by the group columns (std 0 for a single trial, so error bars draw)."""
    from fpe_empirical.metrics import summarize

    out = summarize(frame, value=value, by=list(by)).sort_values(list(by)).reset_index(drop=True)
    out["std"] = out["std"].fillna(0.0)
    return out


# --------------------------------------------------------------------------- context


@lru_cache(maxsize=1)
def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass
class Context:
    """Read-only access to one profile's stored results, and the output writers.

    ``datasets`` maps each vision target to its data sets (``profiles.resolve_datasets``);
    ``store_label`` is the store as the user named it (shown in footers).
    """

    profile: str
    store: Any  # fpe_empirical.store.ResultStore
    out: Path
    datasets: dict[str, tuple[str, ...]]
    store_label: str = ""
    progress: bool | None = None  # training progress bars (None: only on a terminal)
    _tables: dict = field(default_factory=dict)
    _models: dict | None = None
    written: list[Path] = field(default_factory=list)
    captions: dict[str, str] = field(default_factory=dict)

    # -- reading
    def configs(self, target: str, dataset: str | None = None) -> list:
        """The profile's configs of ``target`` (vision: on ``dataset``, default its first)."""
        from fpe_empirical import profiles

        if profiles.TARGETS[target].domain != "vision":
            return profiles.configs(target, self.profile)
        ds = self.datasets[target][0] if dataset is None else dataset
        return profiles.configs(target, self.profile, dataset=ds)

    def _table(self, kind: str) -> pd.DataFrame:
        if kind not in self._tables:
            self._tables[kind] = self.store.load(kind=kind, on_corrupt="raise")
        return self._tables[kind]

    def frame(self, target: str, dataset: str | None = None) -> pd.DataFrame:
        """Stored rows of exactly ``target``'s configs (``MissingResults`` if any is absent)."""
        from fpe_empirical.results.keys import rows_of

        cfgs = self.configs(target, dataset)
        got, missing, n_keys = rows_of(self._table(type(cfgs[0]).kind), cfgs)
        if missing:
            raise MissingResults(
                f"{missing} of {n_keys} results of {target} ({self.profile} profile) are missing from "
                f"{self.store.root}: run `python -m paper_figures --profile {self.profile} --store {self.store_label or self.store.root}`"
            )
        return got.reset_index(drop=True)

    def case_study(self, *, train: bool = False) -> dict:
        """``{seed: DNFResult}``: the saved case-study networks (trained first when ``train``)."""
        from fpe_empirical import profiles
        from fpe_empirical.config import config_key

        if self._models is None:
            if not train:
                seeds = profiles.case_study_seeds(self.profile)
                root = profiles.models_dir(self.store)
                missing = [s for s in seeds
                           if not (root / config_key(profiles.case_study_config(self.profile, s)) / "result.json").is_file()]
                if missing:
                    raise MissingResults(
                        f"saved case-study networks of seeds {missing} are missing from {root}: run "
                        f"`python -m paper_figures --profile {self.profile} --only fig2`")
            show = sys.stderr.isatty() if self.progress is None else self.progress
            self._models = profiles.case_study_models(self.profile, self.store, progress=show)
            self._tables.clear()  # it may have stored new rows
        return self._models

    # -- captions
    def footer(self, fig: Figure, *, data: str, trials: str, extra: str = "") -> str:
        """The caption line every output carries: id, profile, data, trials, store, commit."""
        parts = [f"{fig.name}", f"profile: {self.profile}", f"data: {data}", trials]
        if extra:
            parts.append(extra)
        parts.append(f"store: {self.store_label or self.store.root}")
        parts.append(f"fpe-toolkit {_git_commit()}")
        return " | ".join(parts)

    def embedding_footer(self, fig: Figure, target: str, dataset: str, seeds: Sequence[int], *,
                         paper_data: str = "CIFAR-100 CLIP embeddings") -> str:
        """``footer`` of an embedding table: its data set, the target's schedule, the paper's data."""
        from fpe_empirical.profiles import dataset_label

        cfg = self.configs(target, dataset)[0]
        return self.footer(
            fig,
            data=f"{dataset_label(dataset)}; {cfg.pretrain_epochs} + {cfg.split_epochs} epochs; paper: {paper_data}",
            trials=f"mean ± std over {seeds_text(seeds)}",
        )

    # -- writing
    def _path(self, fig: Figure, suffix: str, ext: str) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        stem = fig.name + (f"_{suffix}" if suffix else "")
        return self.out / f"{stem}.{ext}"

    def _atomic(self, path: Path, write: Callable[[Path], None]) -> Path:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        self.written.append(path)
        return path

    def save_figure(self, fig: Figure, mpl_figure, data: pd.DataFrame, caption: str, *, suffix: str = "") -> list[Path]:
        """Write ``<id>[_suffix].png``, ``.pdf`` and ``.csv`` (``data``: the plotted numbers, the
        caption as a leading ``#`` comment line). The caption is drawn as a footer below
        everything else (legends placed under the axes included); the saved image is cropped
        to its content (``bbox_inches="tight"``). Lay the figure out before calling this."""
        plt = pyplot()
        renderer = mpl_figure.canvas.get_renderer()
        box = mpl_figure.get_tightbbox(renderer)  # inches, every artist (outside legends too)
        width_in, height_in = mpl_figure.get_size_inches()
        chars = max(60, int((box.x1 - box.x0) * 17))
        mpl_figure.text(((box.x0 + box.x1) / 2) / width_in, (box.y0 - 0.1) / height_in, _wrap(caption, chars),
                        ha="center", va="top", fontsize=7.5, color="0.3")
        paths = []
        png = self._path(fig, suffix, "png")
        paths.append(self._atomic(png, lambda p: mpl_figure.savefig(
            p, format="png", bbox_inches="tight", pad_inches=0.12, metadata={"Software": None})))
        pdf = self._path(fig, suffix, "pdf")
        paths.append(self._atomic(pdf, lambda p: mpl_figure.savefig(
            p, format="pdf", bbox_inches="tight", pad_inches=0.12,
            metadata={"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None})))
        plt.close(mpl_figure)
        paths.append(self.save_csv(fig, data, caption, suffix=suffix))
        self.captions[png.name] = caption
        return paths

    def save_csv(self, fig: Figure, data: pd.DataFrame, caption: str, *, suffix: str = "") -> Path:
        """``<id>[_suffix].csv``: one ``# caption`` line, then the table."""
        path = self._path(fig, suffix, "csv")

        def write(p: Path) -> None:
            with open(p, "w", newline="") as fh:
                fh.write(f"# {caption}\n")
                data.to_csv(fh, index=False, float_format="%.10g")

        return self._atomic(path, write)

    def save_table(self, fig: Figure, data: pd.DataFrame, markdown: str, caption: str, *, suffix: str = "") -> list[Path]:
        """``<id>[_suffix].csv`` (numbers) and ``.md`` (``markdown`` table with its caption)."""
        csv = self.save_csv(fig, data, caption, suffix=suffix)
        md = self._path(fig, suffix, "md")
        title = fig.title if not suffix else f"{fig.title} ({suffix})"
        text = f"## {title}\n\n{markdown.rstrip()}\n\n_{caption}_\n"
        self._atomic(md, lambda p: p.write_text(text))
        self.captions[md.name] = caption
        return [csv, md]


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False))


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub Markdown table of ``frame`` (strings as given; no extra dependency)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(str(v) for v in row.tolist()) + " |")
    return "\n".join(lines)


def pct(mean: float, std: float | None = None, digits: int = 1) -> str:
    """``"12.3% ± 1.0"`` (fractions in, percent out; NaN as "n/a")."""
    if mean is None or not np.isfinite(mean):
        return "n/a"
    s = f"{100 * mean:.{digits}f}%"
    if std is not None and np.isfinite(std):
        s += f" ± {100 * std:.{digits}f}"
    return s


# --------------------------------------------------------------------------- helpers


def replace(fig: Figure, **changes) -> Figure:
    """A copy of ``fig`` with ``changes`` (dataclasses.replace)."""
    return dataclasses.replace(fig, **changes)


def paired_change(frame: pd.DataFrame, value: str, *, how: str = "fold") -> pd.DataFrame:
    """Per run (``key``) and split strategy: ``value`` of the split model against its own
    dense control (same key: same data, pre-training and seed). ``how="fold"``:
    ``fpe_empirical.metrics.fold_change`` (split / dense); ``"diff"``: split - dense.
    Columns: the run's config columns, ``strategy``, ``change``, ``relative_improvement``."""
    from fpe_empirical.metrics import fold_change

    dense = frame[frame.strategy == "dense"].set_index("key")[value]
    split = frame[frame.strategy != "dense"].copy()
    base = split["key"].map(dense).to_numpy(dtype=np.float64)
    vals = split[value].to_numpy(dtype=np.float64)
    if how == "fold":
        split["change"] = fold_change(vals, base) if len(vals) else vals
    elif how == "diff":
        split["change"] = vals - base
    else:
        raise ValueError(f"how must be 'fold' or 'diff', got {how!r}")
    return split.reset_index(drop=True)
