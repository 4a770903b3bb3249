"""The DNF experiment (paper Sections 3.1-3.2): dense pre-training, FPE split, phase 2.

Pipeline, in stages over *all* configs of one call (so a batched ``train_many`` backend
can train every model of a phase at once):

1. data: one ``make_dnf_dataset`` per config;
2. dense models: ``MLP(n_literals, hidden, 1)`` initialised under the init seed;
3. phase 1: one ``train_many`` call, ``pretrain_epochs`` epochs for every dense model;
4. split: per config and strategy, ``"dense"`` is a copy of the pre-trained model, any other
   strategy is ``fpe_expand(pretrained, alpha, strategy=..., groups=dataset.clauses for
   "clause", seed=split seed)``;
5. phase 2: one ``train_many`` call, ``split_epochs`` epochs, a fresh Adam for every model,
   the dense control included (CONTRIBUTING.md: all strategies are treated alike);
6. metrics and a tidy DataFrame, one row per (config, strategy).

Seeds: every random stream comes from ``derive_seed(config.seed, role)``, the first word of
``numpy.random.SeedSequence([seed, ROLES[role]])``; roles: ``data`` (dataset generation and
split), ``init`` (dense initialisation, under ``torch.random.fork_rng``, so the global RNG
is untouched), ``pretrain_order`` (phase-1 batch order), ``split`` (the partition), and
``finetune_order`` (phase-2 batch order). Paired design: all strategies of one seed share
the pre-trained model, the split seed and the phase-2 batch order, so strategy differences
are not confounded with data-order noise.

Defaults (``docs/dnf_defaults.md`` has the sensitivity sweep and the rule used to choose
them): paper schedule Adam, batch 500, 1000 + 1000 epochs; lr 1e-3 (Adam's default),
L1 1e-4 on ``W1``, coupled L2 weight decay 1e-4 on all parameters, 40,000 samples (80/20
split; the a-priori 10,000 left a train-test gap of 3.1 points and 20,000 a late loss spike
of 1.14 on one seed, both of which the rule rejects), true bits in [0.8, 1.0], false bits in
[0.0, 0.2].

CLI (the paper's case study, 5 seeds)::

    python -m fpe_empirical.dnf_experiment --seeds 0 1 2 3 4
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import config_from_dict, config_key, config_to_dict, experiment_config
from .dnf import DNFDataset, make_dnf_dataset
from .expand import fpe_expand
from .metrics import feature_capacity, mean_cosine_similarity
from .models import MLP, count_nonzero
from .runner import register_runner
from .train import TrainHistory, TrainSettings, train_many

__all__ = [
    "DNFExperiment",
    "DNFResult",
    "ROLES",
    "derive_seed",
    "train_dnf",
    "train_dnf_many",
    "run_dnf",
    "save_result",
    "load_result",
    "main",
]

#: ``train_many`` backend of the registered runner ("loop": the reference trainer)
DEFAULT_BACKEND = "loop"
DNF_STRATEGIES = ("dense", "random", "clause", "gram", "two_four")
#: seed role -> code in the SeedSequence entropy
ROLES = {"data": 0, "init": 1, "pretrain_order": 2, "split": 3, "finetune_order": 4}


def derive_seed(seed: int, role: str) -> int:
    """A 32-bit seed for stream ``role`` of run ``seed``: ``SeedSequence([seed, ROLES[role]])``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}, got {role!r}")
    return int(np.random.SeedSequence([int(seed), ROLES[role]]).generate_state(1, np.uint32)[0])


def _int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")


def _float(name, value, *, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite float {'> 0' if positive else '>= 0'}, got {value}")


# code_version 3: the default n_samples became 40,000 (config keys hash only non-default
# fields, so a stored DNFExperiment() result of version 1 holds 10,000 samples, of
# version 2 20,000)
@experiment_config("dnf", 3)
@dataclass(frozen=True)
class DNFExperiment:
    """One DNF run: a dense ``n_literals -> hidden -> 1`` MLP, split by each strategy.

    ``strategies`` may hold ``"dense"`` (the control: same phase-2 training, no split),
    ``"random"``, ``"clause"``, ``"gram"`` and ``"two_four"``. Data fields are passed to
    ``make_dnf_dataset`` (``active_range=None`` is its default); training fields to
    ``TrainSettings`` for both phases.
    """

    n_clauses: int = 8
    clause_size: int = 4
    hidden: int = 8
    alpha: int = 2
    strategies: tuple[str, ...] = ("dense", "clause", "random")
    seed: int = 0
    pretrain_epochs: int = 1000
    split_epochs: int = 1000
    batch_size: int = 500
    lr: float = 1e-3
    l1: float = 1e-4
    weight_decay: float = 1e-4
    n_samples: int = 40_000
    test_fraction: float = 0.2
    true_range: tuple[float, float] = (0.8, 1.0)
    false_range: tuple[float, float] = (0.0, 0.2)
    active_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for name, minimum in (
            ("n_clauses", 1),
            ("clause_size", 2),
            ("hidden", 1),
            ("alpha", 2),
            ("seed", 0),
            ("pretrain_epochs", 0),
            ("split_epochs", 0),
            ("batch_size", 1),
            ("n_samples", 4),
        ):
            _int(name, getattr(self, name), minimum)
        _float("lr", self.lr, positive=True)
        _float("l1", self.l1)
        _float("weight_decay", self.weight_decay)
        strategies = self.strategies
        if isinstance(strategies, str) or not isinstance(strategies, (tuple, list)):
            raise TypeError(f"strategies must be a tuple of names, got {type(strategies).__name__}")
        strategies = tuple(strategies)
        if not strategies:
            raise ValueError("strategies must name at least one strategy")
        for s in strategies:
            if s not in DNF_STRATEGIES:
                raise ValueError(f"strategies must be drawn from {list(DNF_STRATEGIES)}, got {s!r}")
        if len(set(strategies)) != len(strategies):
            raise ValueError(f"strategies must not repeat, got {strategies}")
        object.__setattr__(self, "strategies", strategies)
        n = self.n_clauses * self.clause_size
        if self.alpha > n:
            raise ValueError(f"alpha must be <= n_literals = {n}, got {self.alpha}")
        for name in ("true_range", "false_range", "active_range"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if "two_four" in strategies and (self.alpha != 2 or n % 4):
            raise ValueError(
                f"strategy 'two_four' needs alpha == 2 and n_literals a multiple of 4, got alpha={self.alpha}, n_literals={n}"
            )
        if "clause" in strategies and self.clause_size > math.ceil(n / self.alpha):
            raise ValueError(
                f"strategy 'clause' needs clause_size <= ceil(n_literals / alpha) = {math.ceil(n / self.alpha)}, "
                f"got clause_size={self.clause_size}"
            )
        # the data fields are validated by a tiny dry run of the generator
        _validate_data_args(self)

    @property
    def n_literals(self) -> int:
        return self.n_clauses * self.clause_size

    def settings(self, phase: str) -> TrainSettings:
        """``TrainSettings`` of ``phase`` ("pretrain" or "split")."""
        epochs = {"pretrain": self.pretrain_epochs, "split": self.split_epochs}[phase]
        return TrainSettings(
            epochs=epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, l1=self.l1
        )


def _data_kwargs(config: DNFExperiment) -> dict:
    return dict(
        n_clauses=config.n_clauses,
        clause_size=config.clause_size,
        n_samples=config.n_samples,
        seed=derive_seed(config.seed, "data"),
        true_range=config.true_range,
        false_range=config.false_range,
        active_range=config.active_range,
        test_fraction=config.test_fraction,
    )


def _validate_data_args(config: DNFExperiment) -> None:
    # a 4-sample dry run with the same ranges validates every data argument quickly
    kw = _data_kwargs(config)
    if kw["n_samples"] % 2:
        raise ValueError(f"n_samples must be even (exactly half positives), got {kw['n_samples']}")
    make_dnf_dataset(**{**kw, "n_samples": 40, "test_fraction": 0.5})
    if isinstance(config.test_fraction, bool) or not isinstance(config.test_fraction, (int, float)):
        raise TypeError(f"test_fraction must be a float, got {type(config.test_fraction).__name__}")
    if not 0 < config.test_fraction < 1:  # also NaN and inf, before round() meets them
        raise ValueError(f"test_fraction must be in (0, 1) leaving >= 2 samples on each side, got {config.test_fraction}")
    n_test = round(float(config.test_fraction) * config.n_samples)
    if not (0 < config.test_fraction < 1) or n_test < 2 or n_test > config.n_samples - 2:
        raise ValueError(f"test_fraction must be in (0, 1) leaving >= 2 samples on each side, got {config.test_fraction}")


def make_dataset(config: DNFExperiment) -> DNFDataset:
    """Stage 1: the config's data set (seed ``derive_seed(config.seed, "data")``)."""
    return make_dnf_dataset(**_data_kwargs(config))


def build_dense(config: DNFExperiment) -> MLP:
    """Stage 2: the dense ``n_literals -> hidden -> 1`` MLP under the config's init seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(config.seed, "init"))
        return MLP(config.n_literals, config.hidden, 1)


def split_model(config: DNFExperiment, pretrained: MLP, strategy: str, dataset: DNFDataset) -> MLP:
    """Stage 4: the phase-2 starting model of ``strategy`` (a copy for ``"dense"``)."""
    if strategy == "dense":
        return copy.deepcopy(pretrained)
    groups = [list(c) for c in dataset.clauses] if strategy == "clause" else None
    return fpe_expand(pretrained, config.alpha, strategy=strategy, groups=groups, seed=derive_seed(config.seed, "split"))


@dataclass
class DNFResult:
    """Everything one config produced: data, the pre-trained dense model, the final models."""

    config: DNFExperiment
    dataset: DNFDataset
    pretrained: MLP
    models: dict[str, MLP]
    frame: pd.DataFrame
    histories: dict[str, TrainHistory] = dataclasses.field(default_factory=dict)


def _row(config: DNFExperiment, strategy: str, model: MLP, ds: DNFDataset, extra: dict) -> dict:
    cap = feature_capacity(model, ds.clauses)
    return {
        "config_key": config_key(config),
        "strategy": strategy,
        "seed": config.seed,
        "n_clauses": config.n_clauses,
        "clause_size": config.clause_size,
        "n_literals": config.n_literals,
        "hidden": config.hidden,
        "alpha": config.alpha,
        "train_accuracy": model.accuracy(ds.X_train, ds.y_train),
        "test_accuracy": model.accuracy(ds.X_test, ds.y_test),
        "nonzero": count_nonzero(model),
        "neurons": int(sum(model.hidden)),
        "feature_capacity": cap.total,
        "mean_cosine": mean_cosine_similarity(model),
        **extra,
    }


def train_dnf_many(configs, *, backend: str | None = None, progress: bool = False) -> list[DNFResult]:
    """Run every config through the staged pipeline (module docstring); one result each.

    ``train_many`` is called once per phase with all models of all configs.
    """
    configs = list(configs)
    backend = DEFAULT_BACKEND if backend is None else backend
    for c in configs:
        if not isinstance(c, DNFExperiment):
            raise TypeError(f"configs must be DNFExperiment instances, got {type(c).__name__}")
    datasets = [make_dataset(c) for c in configs]
    dense = [build_dense(c) for c in configs]
    pre_hist = train_many(
        dense,
        [(d.X_train, d.y_train) for d in datasets],
        [c.settings("pretrain") for c in configs],
        [derive_seed(c.seed, "pretrain_order") for c in configs],
        backend=backend,
        progress=progress,
    )
    jobs = []  # (config index, strategy, model)
    for i, (c, d, m) in enumerate(zip(configs, datasets, dense)):
        for s in c.strategies:
            jobs.append((i, s, split_model(c, m, s, d)))
    split_acc = [m.accuracy(datasets[i].X_test, datasets[i].y_test) for i, _, m in jobs]
    post_hist = train_many(
        [m for _, _, m in jobs],
        [(datasets[i].X_train, datasets[i].y_train) for i, _, _ in jobs],
        [configs[i].settings("split") for i, _, _ in jobs],
        [derive_seed(configs[i].seed, "finetune_order") for i, _, _ in jobs],
        backend=backend,
        progress=progress,
    )
    results = []
    for i, (c, d, m) in enumerate(zip(configs, datasets, dense)):
        pre_test = m.accuracy(d.X_test, d.y_test)
        pre_loss = pre_hist[i].epoch_loss[-1] if pre_hist[i].epoch_loss else float("nan")
        rows, models, hists = [], {}, {"pretrain": pre_hist[i]}
        for j, (ci, s, model) in enumerate(jobs):
            if ci != i:
                continue
            h = post_hist[j]
            rows.append(
                _row(
                    c,
                    s,
                    model,
                    d,
                    {
                        "pretrain_test_accuracy": pre_test,
                        "split_test_accuracy": split_acc[j],
                        "pretrain_final_loss": pre_loss,
                        "final_loss": h.epoch_loss[-1] if h.epoch_loss else float("nan"),
                    },
                )
            )
            models[s] = model
            hists[s] = h
        frame = pd.DataFrame(rows)
        dense_acc = frame.loc[frame.strategy == "dense", "test_accuracy"]
        frame["relative_improvement"] = (
            (frame["test_accuracy"] - dense_acc.iloc[0]) / dense_acc.iloc[0] if len(dense_acc) else float("nan")
        )
        results.append(DNFResult(c, d, m, models, frame, hists))
    return results


def train_dnf(config: DNFExperiment, *, backend: str | None = None, progress: bool = False) -> DNFResult:
    """One config: the trained models (``.pretrained``, ``.models[strategy]``), data and frame."""
    return train_dnf_many([config], backend=backend, progress=progress)[0]


@register_runner("dnf")
def run_dnf(configs) -> list[pd.DataFrame]:
    """Runner of kind ``"dnf"``: one tidy DataFrame per config (see ``train_dnf_many``).

    Trains with ``backend="auto"``: every phase of every config in one batched ensemble
    call (``ensemble.py``; equal to the loop up to float reassociation).
    """
    return [r.frame for r in train_dnf_many(configs, backend="auto")]


# --------------------------------------------------------------------------- save / load


def _arch(model: MLP) -> dict:
    return {
        "in_features": model.in_features,
        "hidden": model.hidden,
        "out_features": model.out_features,
        "layernorm": model.layernorm,
        "bias": model.layers[0].bias is not None,
    }


def save_result(result: DNFResult, directory: str | os.PathLike) -> Path:
    """Write ``models.safetensors`` (state dicts, keys ``<name>/<param>``) and ``result.json``
    (kind, config, config key, architectures, the frame's rows) into ``directory``."""
    from safetensors.torch import save_file

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    named = {"pretrained": result.pretrained, **result.models}
    tensors = {f"{name}/{k}": v.detach().cpu().contiguous().clone() for name, m in named.items() for k, v in m.state_dict().items()}
    meta = {
        "kind": type(result.config).kind,
        "code_version": type(result.config).code_version,
        "config": config_to_dict(result.config),
        "config_key": config_key(result.config),
        "models": {name: _arch(m) for name, m in named.items()},
        # exact floats (to_json would keep 10 digits); NaN/inf as null, as to_json wrote them
        "frame": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                  for row in result.frame.to_dict(orient="records")],
    }
    tmp = out / "models.safetensors.tmp"
    save_file(tensors, str(tmp))
    # checked by load_result: a damaged weights file (or one from another save) is refused
    meta["models_sha256"] = _sha256(tmp)
    meta["sha256"] = _meta_digest(meta)  # of everything else in result.json (frame rows included)
    os.replace(tmp, out / "models.safetensors")
    tmp = out / "result.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, out / "result.json")
    return out


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _meta_digest(meta: dict) -> str:
    import hashlib

    body = {k: v for k, v in meta.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load_result(directory: str | os.PathLike) -> DNFResult:
    """Inverse of ``save_result`` (no pickle: safetensors + JSON); the data set is regenerated
    from the config (deterministic). A damaged or inconsistent folder is a ``ValueError``
    (a missing file a ``FileNotFoundError``); result.json and the weights are checked against
    the sha256 digests ``save_result`` records (folders saved before it recorded them are not
    checked)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a str or os.PathLike, got {type(directory).__name__}")
    d = Path(directory)
    try:
        meta = json.loads((d / "result.json").read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{d}/result.json is not a readable JSON result ({exc})") from None
    if not isinstance(meta, dict) or meta.get("kind") != "dnf":
        raise ValueError(f"{d} does not hold a DNF result (kind {meta.get('kind') if isinstance(meta, dict) else None!r})")
    if "sha256" in meta and meta["sha256"] != _meta_digest(meta):
        raise ValueError(f"{d}/result.json does not match its sha256 (damaged or edited)")
    try:
        config = config_from_dict("dnf", meta["config"])
        digest = meta.get("models_sha256")
        if digest is not None and digest != _sha256(d / "models.safetensors"):
            raise ValueError("models.safetensors does not match the sha256 recorded in result.json (damaged)")
        tensors = load_file(str(d / "models.safetensors"))
        models = {}
        for name, arch in meta["models"].items():
            with torch.random.fork_rng(devices=[]):
                m = MLP(arch["in_features"], arch["hidden"], arch["out_features"], layernorm=arch["layernorm"], bias=arch["bias"])
            prefix = f"{name}/"
            m.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
            m.eval()
            models[name] = m
        pretrained = models.pop("pretrained")
        frame = pd.DataFrame(meta["frame"])
    except FileNotFoundError:
        raise
    except (SafetensorError, KeyError, TypeError, ValueError, AttributeError, RuntimeError, OSError) as exc:
        # RuntimeError: load_state_dict on missing or misshapen tensors
        raise ValueError(f"{d}: damaged or inconsistent saved DNF result ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]})") from None
    return DNFResult(config, make_dataset(config), pretrained, models, frame)


# --------------------------------------------------------------------------- CLI


#: columns a resumed CSV must hold (besides ``config_key``)
RESUME_COLUMNS = ("strategy", "seed", "train_accuracy", "test_accuracy", "nonzero", "neurons", "feature_capacity",
                  "mean_cosine")


def read_resumed_csv(path: Path, keys, *, prog: str) -> pd.DataFrame | None:
    """The rows of an earlier run kept in ``path``, or None (recompute) when the file is
    unreadable or does not hold exactly the configs ``keys`` with the expected columns
    (a damaged file, or one written for other settings, is never reused silently)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:  # pandas' parser and empty-file errors are ValueErrors
        reason = f"unreadable ({' '.join(str(exc).split())[:120]})"
    else:
        missing = [c for c in ("config_key", *RESUME_COLUMNS) if c not in frame.columns]
        if missing:
            reason = f"lacks columns {missing}"
        elif set(frame["config_key"].astype(str)) != set(keys):
            reason = "holds the results of other settings"
        elif frame[["strategy", "seed", "train_accuracy", "test_accuracy", "nonzero", "neurons"]].isna().any().any():
            reason = "has empty cells"
        else:
            return frame
    print(f"{prog}: note: {path} {reason}; recomputing it", file=sys.stderr)
    return None


def _format_summary(frame: pd.DataFrame) -> str:
    lines = ["strategy   test accuracy (mean ± std, n)   train accuracy   nonzero   neurons"]
    for s, g in frame.groupby("strategy", sort=False):
        te, tr = g["test_accuracy"], g["train_accuracy"]
        sd = te.std(ddof=1) if len(te) > 1 else float("nan")
        lines.append(
            f"{s:<10} {100 * te.mean():6.2f}% ± {100 * sd:5.2f}% (n={len(te)})"
            f"        {100 * tr.mean():6.2f}%   {int(g['nonzero'].iloc[0]):7d}   {int(g['neurons'].iloc[0]):7d}"
        )
    return "\n".join(lines)


def _parser():
    from fpe_theory.cli_errors import OneLineArgumentParser  # usage errors: one stderr line, exit 2

    p = OneLineArgumentParser(
        prog="python -m fpe_empirical.dnf_experiment",
        description="Train dense and FPE-split networks on DNF data; print accuracy per strategy.",
    )
    defaults = DNFExperiment()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--n-clauses", type=int, default=defaults.n_clauses)
    p.add_argument("--clause-size", type=int, default=defaults.clause_size)
    p.add_argument("--hidden", type=int, default=defaults.hidden)
    p.add_argument("--alpha", type=int, default=defaults.alpha)
    p.add_argument("--strategies", nargs="+", default=list(defaults.strategies))
    p.add_argument("--pretrain-epochs", type=int, default=defaults.pretrain_epochs)
    p.add_argument("--split-epochs", type=int, default=defaults.split_epochs)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--l1", type=float, default=defaults.l1)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--n-samples", type=int, default=defaults.n_samples)
    p.add_argument("--out", help="directory: one CSV per seed (<config_key>.csv), skipped when present (resume)")
    p.add_argument("--save-models", help="directory: models of each seed as safetensors + JSON")
    p.add_argument("--group-size", type=int, default=0, help="configs per training call (0: all at once)")
    p.add_argument(
        "--backend",
        choices=["loop", "ensemble", "auto"],
        default="auto",
        help="train_many backend: 'auto' stacks the models into batched ensembles (fast), 'loop' is the reference",
    )
    p.add_argument("--progress", action="store_true", help="progress bar even when stderr is not a TTY")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit code 2 with one line on stderr for bad input."""
    args = _parser().parse_args(argv)
    try:
        configs = [
            DNFExperiment(
                n_clauses=args.n_clauses,
                clause_size=args.clause_size,
                hidden=args.hidden,
                alpha=args.alpha,
                strategies=tuple(args.strategies),
                seed=s,
                pretrain_epochs=args.pretrain_epochs,
                split_epochs=args.split_epochs,
                lr=args.lr,
                l1=args.l1,
                weight_decay=args.weight_decay,
                n_samples=args.n_samples,
            )
            for s in args.seeds
        ]
        if args.group_size < 0:
            raise ValueError(f"--group-size must be >= 0, got {args.group_size}")
        out = Path(args.out) if args.out else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        frames: list[pd.DataFrame] = []
        pending = []
        for c in configs:
            path = out / f"{config_key(c)}.csv" if out else None
            old = read_resumed_csv(path, {config_key(c)}, prog="dnf_experiment") if path is not None and path.exists() else None
            if old is not None:
                frames.append(old)
            else:
                pending.append(c)
        size = args.group_size or max(len(pending), 1)
        progress = args.progress or sys.stderr.isatty()
        for start in range(0, len(pending), size):
            group = pending[start : start + size]
            for r in train_dnf_many(group, backend=args.backend, progress=progress):
                frames.append(r.frame)
                if out is not None:
                    tmp = out / f"{config_key(r.config)}.csv.tmp"
                    r.frame.to_csv(tmp, index=False)
                    os.replace(tmp, out / f"{config_key(r.config)}.csv")
                if args.save_models:
                    save_result(r, Path(args.save_models) / f"seed{r.config.seed}_{config_key(r.config)}")
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    frame = pd.concat(frames, ignore_index=True)
    cols = ["strategy", "seed", "train_accuracy", "test_accuracy", "nonzero", "neurons", "feature_capacity", "mean_cosine"]
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(frame[cols].sort_values(["strategy", "seed"]).to_string(index=False))
    print()
    print(_format_summary(frame))
    return 0


if __name__ == "__main__":
    sys.exit(main())
