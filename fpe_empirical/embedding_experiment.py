"""Vision experiments (paper Sections 3.3-3.5, A.7): FPE on classifiers over fixed features.

``EmbeddingExperiment`` trains an MLP on fixed input features (CLIP embeddings from
``python -m fpe_empirical.embed``, any embedding file, or scikit-learn's digits as raw
pixels, the offline stand-in), splits it with each strategy and keeps training:

1. data: ``load_digits_data`` (``dataset="digits"``) or ``load_embeddings(dataset)``;
2. dense model ``MLP(n_features, [hidden] * depth, n_classes, layernorm=...)`` under the
   init seed;
3. phase 1 (one ``train_many`` call over all configs): ``pretrain_epochs`` of dense training;
   the paper's "briefly trained dense model" before the Gram split (Section 3.3), and the
   split timing of Figure 6b ("early" = few pretrain epochs, "late" = many);
4. split, per strategy: ``"dense"`` (the control: a copy), ``"random"``, ``"gram"`` (cluster
   the rows of the feature Gram matrix of the pre-trained model, balance clusters across
   children; ``fpe_expand`` does the clustering), ``"two_four"`` (2:4 pattern, Table A5),
   and ``"random+rewire"`` / ``"gram+rewire"`` (that split, then dynamic rewiring during
   phase 2, A.7); ``layers="first"`` for one hidden layer, ``"alternate"`` for deep nets;
5. phase 2: ``split_epochs`` with a fresh Adam for every model (the dense control too), one
   ``train_many`` call for all one-shot models (the batched ensemble backend stacks them);
   ``+rewire`` models train with ``rewire.train_rewiring`` (same semantics plus a rewire
   every ``rewire_every`` optimizer steps until ``rewire_stop`` of the phase);
6. a tidy DataFrame, one row per (config, strategy): ``strategy, seed, train_accuracy,
   test_accuracy, nonzero`` (``count_nonzero`` of the final model), ``budget`` (mask entries
   plus other parameters: the fixed parameter budget, ``nonzero <= budget``), ``neurons``,
   ``mean_cosine`` / ``mean_abs_cosine`` (first-layer neuron weight vectors, Figure 6c),
   ``feature_capacity`` (per input feature, summed), ``relative_improvement`` over the dense
   control, ``pretrain_test_accuracy``, ``split_test_accuracy`` and ``split_nonzero`` (right
   after the split), ``final_loss``, ``n_rewires``, ``rewired_weights``, and the config's
   ``dataset, hidden, depth, alpha, layer_scheme, pretrain_epochs, split_epochs``.

Depth. ``depth`` is the number of hidden layers (CONTRIBUTING.md). The paper's "5-, 7- and
9-layer" MLPs (Table A3) and its "five layer" ImageNet-1k classifier (Table A4) count the
linear layers including the head, so they are ``depth = 4, 6, 8`` (``paper_depth(L) = L -
1``): then the alternating expansion of A.7 pairs the hidden layers exactly ((1, 2), (3, 4),
...: split 1, widen 2, split 3, widen 4, ...), as the paper describes, and the head is never
split. ``depth`` odd works too (the last hidden layer is then split and the head only gets a
wider input).

Dataset key. A path is stored as given *and* with the sha256 of the file's bytes
(``dataset_sha256``, computed on construction when left empty), so the config key changes
when the file's content does: a regenerated embedding file is never mistaken for the old
one. A config rebuilt with a stored digest checks it against the file when the file exists
(``ValueError`` on mismatch) and trusts it otherwise (e.g. reading results on another
machine); running needs the file.

Seeds: ``derive_seed(seed, role)`` (``dnf_experiment``'s scheme; roles ``init``,
``pretrain_order``, ``split``, ``finetune_order``, plus ``rewire``). Paired design: all
strategies of one seed share the pre-trained model, the split seed and the phase-2 data
order. The digits train/test split is fixed by ``data_seed`` (the same for every seed, like
a standard split).

Defaults: the paper states only the DNF hyper-parameters (A.3.1: Adam lr 1e-3, batch 500,
L1 on ``W1``, L2 on all parameters); these configs use the same optimiser, batch and
regularisation (1e-4 / 1e-4, the DNF defaults), a brief dense phase (10 epochs: "a few
epochs", Section 3.3) and the paper's 1000 epochs after the split. A small sensitivity run on
digits (hidden 2/4/8/16, 5 seeds; schedules 10+300, 10+1000, 100+1000 epochs, lr 1e-3 and
3e-3) ordered the strategies the same way under every schedule (random/Gram split ahead of
dense at hidden 2 and 4, all within about one point at 8 and 16); 10+1000 was chosen
because 10+300 leaves the small dense models visibly under-trained (train accuracy 42% vs
67% at hidden 2). Profiles in ``embedding_grids`` change the schedules.

CLI::

    python -m fpe_empirical.embedding_experiment --dataset digits --hidden 4 --seeds 0 1 2 3 4
"""

from __future__ import annotations

import copy
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import config_key, experiment_config
from .embeddings import EmbeddingData, file_sha256, load_digits_data, load_embeddings
from .expand import fpe_expand
from .metrics import feature_capacity, mean_cosine_similarity
from .models import MLP, count_nonzero
from .rewire import parameter_budget, train_rewiring
from .runner import register_runner
from .train import TrainHistory, TrainSettings, train_many

__all__ = [
    "EmbeddingExperiment",
    "EmbeddingResult",
    "EMBEDDING_STRATEGIES",
    "derive_seed",
    "paper_depth",
    "load_dataset",
    "train_embedding_many",
    "train_embedding",
    "run_embedding",
    "main",
]

BASE_STRATEGIES = ("dense", "random", "gram", "two_four")
EMBEDDING_STRATEGIES = BASE_STRATEGIES + ("random+rewire", "gram+rewire")
ROLES = {"data": 0, "init": 1, "pretrain_order": 2, "split": 3, "finetune_order": 4, "rewire": 5}
#: ``train_many`` backend of the registered runner
DEFAULT_BACKEND = "auto"


def derive_seed(seed: int, role: str) -> int:
    """A 32-bit seed for stream ``role`` of run ``seed``: ``SeedSequence([seed, ROLES[role]])``
    (the same values as ``dnf_experiment.derive_seed`` for the roles they share)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}, got {role!r}")
    return int(np.random.SeedSequence([int(seed), ROLES[role]]).generate_state(1, np.uint32)[0])


def paper_depth(n_layers: int) -> int:
    """``depth`` (hidden layers) of the paper's "``n_layers``-layer" MLP: ``n_layers - 1``."""
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 2:
        raise ValueError(f"n_layers must be an integer >= 2 (linear layers, head included), got {n_layers!r}")
    return n_layers - 1


def _int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")


def _float(name, value, *, positive=False, upper=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0) or (upper is not None and value > upper):
        rule = ("> 0" if positive else ">= 0") + (f" and <= {upper}" if upper is not None else "")
        raise ValueError(f"{name} must be a finite float {rule}, got {value}")


@experiment_config("embedding", 1)
@dataclass(frozen=True)
class EmbeddingExperiment:
    """One vision run: a dense ``n_features -> [hidden] * depth -> n_classes`` MLP split by
    each strategy (module docstring). ``dataset`` is ``"digits"`` or a path to an embedding
    file (``.npz`` / ``.safetensors``).

    ``layernorm=None`` means LayerNorm before each activation iff ``depth > 1`` (paper A.7);
    ``layers=None`` means ``"first"`` for ``depth == 1`` and ``"alternate"`` otherwise.
    ``rewire_every`` (optimizer steps), ``rewire_fraction`` and ``rewire_stop`` (fraction of
    phase 2 after which the mask stays fixed) apply to the ``+rewire`` strategies.
    ``n_clusters`` fixes the Gram split's cluster count (default: best silhouette).
    ``data_seed`` and ``test_fraction`` set the digits split (ignored for files).
    """

    dataset: str = "digits"
    hidden: int = 8
    depth: int = 1
    alpha: int = 2
    strategies: tuple[str, ...] = ("dense", "random", "gram")
    seed: int = 0
    pretrain_epochs: int = 10
    split_epochs: int = 1000
    batch_size: int = 500
    lr: float = 1e-3
    l1: float = 1e-4
    weight_decay: float = 1e-4
    layernorm: bool | None = None
    layers: str | None = None
    rewire_every: int = 100
    rewire_fraction: float = 0.1
    rewire_stop: float = 0.75
    n_clusters: int | None = None
    data_seed: int = 0
    test_fraction: float = 0.2
    dataset_sha256: str = ""

    def __post_init__(self) -> None:
        for name, minimum in (
            ("hidden", 1),
            ("depth", 1),
            ("alpha", 2),
            ("seed", 0),
            ("pretrain_epochs", 0),
            ("split_epochs", 0),
            ("batch_size", 1),
            ("rewire_every", 0),
            ("data_seed", 0),
        ):
            _int(name, getattr(self, name), minimum)
        _float("lr", self.lr, positive=True)
        _float("l1", self.l1)
        _float("weight_decay", self.weight_decay)
        _float("rewire_fraction", self.rewire_fraction, upper=1.0)
        _float("rewire_stop", self.rewire_stop, upper=1.0)
        _float("test_fraction", self.test_fraction, positive=True, upper=1.0)
        if self.layernorm is not None and not isinstance(self.layernorm, bool):
            raise TypeError(f"layernorm must be a bool or None, got {type(self.layernorm).__name__}")
        if self.layers is not None and self.layers not in ("first", "alternate"):
            raise ValueError(f"layers must be 'first', 'alternate' or None (by depth), got {self.layers!r}")
        if self.n_clusters is not None:
            _int("n_clusters", self.n_clusters, 1)
        strategies = self.strategies
        if isinstance(strategies, str) or not isinstance(strategies, (tuple, list)):
            raise TypeError(f"strategies must be a tuple of names, got {type(strategies).__name__}")
        strategies = tuple(strategies)
        if not strategies:
            raise ValueError("strategies must name at least one strategy")
        for s in strategies:
            if s not in EMBEDDING_STRATEGIES:
                raise ValueError(f"strategies must be drawn from {list(EMBEDDING_STRATEGIES)}, got {s!r}")
        if len(set(strategies)) != len(strategies):
            raise ValueError(f"strategies must not repeat, got {strategies}")
        object.__setattr__(self, "strategies", strategies)
        if "two_four" in strategies:
            if self.alpha != 2:
                raise ValueError(f"strategy 'two_four' needs alpha == 2, got alpha={self.alpha}")
            if self.split_layer_scheme == "alternate" and self.depth >= 3 and self.hidden % 4:
                raise ValueError(
                    f"strategy 'two_four' with layers='alternate' needs hidden to be a multiple of 4 "
                    f"(hidden layers 3, 5, ... are split too), got hidden={self.hidden}"
                )
        self._check_dataset()

    def _check_dataset(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise TypeError(f"dataset must be 'digits' or a path string, got {self.dataset!r}")
        if not isinstance(self.dataset_sha256, str):
            raise TypeError(f"dataset_sha256 must be a str, got {type(self.dataset_sha256).__name__}")
        if self.dataset == "digits":
            if self.dataset_sha256:
                raise ValueError("dataset_sha256 must be empty for dataset='digits'")
            return
        if not self.dataset.lower().endswith((".npz", ".safetensors")):
            raise ValueError(f"dataset must be 'digits' or a path ending in .npz or .safetensors, got {self.dataset!r}")
        digest = self.dataset_sha256
        if digest and (len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest)):
            raise ValueError(f"dataset_sha256 must be 64 lowercase hex digits, got {digest!r}")
        exists = Path(self.dataset).is_file()
        if not digest:
            if not exists:
                raise ValueError(f"dataset file {self.dataset!r} does not exist (make one with `python -m fpe_empirical.embed`)")
            object.__setattr__(self, "dataset_sha256", file_sha256(self.dataset))
        elif exists:
            actual = file_sha256(self.dataset)
            if actual != digest:
                raise ValueError(
                    f"dataset file {self.dataset!r} changed: its sha256 is {actual[:12]}..., the config records "
                    f"{digest[:12]}...; build the config again without dataset_sha256 to run on the new content"
                )

    @property
    def use_layernorm(self) -> bool:
        return self.depth > 1 if self.layernorm is None else self.layernorm

    @property
    def split_layer_scheme(self) -> str:
        if self.layers is not None:
            return self.layers
        return "first" if self.depth == 1 else "alternate"

    def settings(self, phase: str) -> TrainSettings:
        """``TrainSettings`` of ``phase`` ("pretrain" or "split")."""
        epochs = {"pretrain": self.pretrain_epochs, "split": self.split_epochs}[phase]
        return TrainSettings(epochs=epochs, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, l1=self.l1)


# --------------------------------------------------------------------------- stages

_DATA_CACHE: dict[tuple, EmbeddingData] = {}


def load_dataset(config: EmbeddingExperiment) -> EmbeddingData:
    """Stage 1: the config's data (cached per process by dataset, digest and split)."""
    key = (config.dataset, config.dataset_sha256, config.data_seed, config.test_fraction)
    if key not in _DATA_CACHE:
        if config.dataset == "digits":
            data = load_digits_data(test_fraction=config.test_fraction, seed=config.data_seed)
        else:
            if not Path(config.dataset).is_file():
                raise ValueError(f"dataset file {config.dataset!r} does not exist")
            if file_sha256(config.dataset) != config.dataset_sha256:
                raise ValueError(f"dataset file {config.dataset!r} changed since the config was made (sha256 differs)")
            data = load_embeddings(config.dataset)
        if len(_DATA_CACHE) >= 4:  # embedding files can be large: keep a few
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = data
    return _DATA_CACHE[key]


def build_dense(config: EmbeddingExperiment, data: EmbeddingData) -> MLP:
    """Stage 2: the dense MLP under the config's init seed (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(config.seed, "init"))
        return MLP(data.n_features, [config.hidden] * config.depth, data.n_classes, layernorm=config.use_layernorm)


def split_model(config: EmbeddingExperiment, pretrained: MLP, strategy: str) -> MLP:
    """Stage 4: the phase-2 starting model of ``strategy`` (a copy for ``"dense"``)."""
    if strategy == "dense":
        return copy.deepcopy(pretrained)
    base = strategy.split("+")[0]
    return fpe_expand(
        pretrained,
        config.alpha,
        strategy=base,
        seed=derive_seed(config.seed, "split"),
        layers=config.split_layer_scheme,
        n_clusters=config.n_clusters if base == "gram" else None,
    )


@dataclass
class EmbeddingResult:
    """Everything one config produced: the pre-trained dense model, the final models, the frame."""

    config: EmbeddingExperiment
    data: EmbeddingData
    pretrained: MLP
    models: dict[str, MLP]
    frame: pd.DataFrame
    histories: dict[str, TrainHistory]


def _row(config: EmbeddingExperiment, data: EmbeddingData, strategy: str, model: MLP, extra: dict) -> dict:
    return {
        "config_key": config_key(config),
        "dataset": config.dataset,
        "strategy": strategy,
        "seed": config.seed,
        "hidden": config.hidden,
        "depth": config.depth,
        "alpha": config.alpha,
        "layer_scheme": config.split_layer_scheme,
        "pretrain_epochs": config.pretrain_epochs,
        "split_epochs": config.split_epochs,
        "train_accuracy": model.accuracy(data.X_train, data.y_train),
        "test_accuracy": model.accuracy(data.X_test, data.y_test),
        "nonzero": count_nonzero(model),
        "budget": parameter_budget(model),
        "neurons": int(sum(model.hidden)),
        "mean_cosine": mean_cosine_similarity(model),
        "mean_abs_cosine": mean_cosine_similarity(model, absolute=True),
        "feature_capacity": feature_capacity(model).total,
        **extra,
    }


def train_embedding_many(configs, *, backend: str | None = None, progress: bool = False) -> list[EmbeddingResult]:
    """Run every config through the staged pipeline (module docstring); one result each.

    ``train_many`` is called once per phase with all one-shot models of all configs.
    """
    configs = list(configs)
    backend = DEFAULT_BACKEND if backend is None else backend
    for c in configs:
        if not isinstance(c, EmbeddingExperiment):
            raise TypeError(f"configs must be EmbeddingExperiment instances, got {type(c).__name__}")
    datas = [load_dataset(c) for c in configs]
    dense = [build_dense(c, d) for c, d in zip(configs, datas)]
    pre_hist = train_many(
        dense,
        [(d.X_train, d.y_train) for d in datas],
        [c.settings("pretrain") for c in configs],
        [derive_seed(c.seed, "pretrain_order") for c in configs],
        backend=backend,
        progress=progress,
    )
    jobs = []  # (config index, strategy, model)
    for i, (c, m) in enumerate(zip(configs, dense)):
        for s in c.strategies:
            jobs.append((i, s, split_model(c, m, s)))
    split_acc = [m.accuracy(datas[i].X_test, datas[i].y_test) for i, _, m in jobs]
    split_nnz = [count_nonzero(m) for _, _, m in jobs]
    one_shot = [j for j, (_, s, _) in enumerate(jobs) if not s.endswith("+rewire")]
    hist: dict[int, TrainHistory] = {}
    n_rewires: dict[int, int] = {}
    n_moved: dict[int, int] = {}
    if one_shot:
        out = train_many(
            [jobs[j][2] for j in one_shot],
            [(datas[jobs[j][0]].X_train, datas[jobs[j][0]].y_train) for j in one_shot],
            [configs[jobs[j][0]].settings("split") for j in one_shot],
            [derive_seed(configs[jobs[j][0]].seed, "finetune_order") for j in one_shot],
            backend=backend,
            progress=progress,
        )
        hist.update(zip(one_shot, out))
    for j, (i, s, model) in enumerate(jobs):
        if j in hist:
            continue
        c, d = configs[i], datas[i]
        _, h, reports = train_rewiring(
            model,
            d.X_train,
            d.y_train,
            c.settings("split"),
            seed=derive_seed(c.seed, "finetune_order"),
            every=c.rewire_every,
            fraction=c.rewire_fraction,
            stop=c.rewire_stop,
            rewire_seed=derive_seed(c.seed, "rewire"),
        )
        hist[j] = h
        n_rewires[j] = len(reports)
        n_moved[j] = sum(r.n_changed for r in reports)
    results = []
    for i, (c, d, m) in enumerate(zip(configs, datas, dense)):
        pre_test = m.accuracy(d.X_test, d.y_test)
        rows, models, hists = [], {}, {"pretrain": pre_hist[i]}
        for j, (ci, s, model) in enumerate(jobs):
            if ci != i:
                continue
            h = hist[j]
            rows.append(
                _row(
                    c,
                    d,
                    s,
                    model,
                    {
                        "pretrain_test_accuracy": pre_test,
                        "split_test_accuracy": split_acc[j],
                        "split_nonzero": split_nnz[j],
                        "final_loss": h.epoch_loss[-1] if h.epoch_loss else float("nan"),
                        "n_rewires": n_rewires.get(j, 0),
                        "rewired_weights": n_moved.get(j, 0),
                    },
                )
            )
            models[s] = model
            hists[s] = h
        frame = pd.DataFrame(rows)
        dense_acc = frame.loc[frame.strategy == "dense", "test_accuracy"]
        frame["relative_improvement"] = (
            (frame["test_accuracy"] - dense_acc.iloc[0]) / dense_acc.iloc[0]
            if len(dense_acc) and dense_acc.iloc[0] > 0
            else float("nan")
        )
        results.append(EmbeddingResult(c, d, m, models, frame, hists))
    return results


def train_embedding(config: EmbeddingExperiment, *, backend: str | None = None, progress: bool = False) -> EmbeddingResult:
    """One config: the trained models (``.pretrained``, ``.models[strategy]``), data and frame."""
    return train_embedding_many([config], backend=backend, progress=progress)[0]


@register_runner("embedding")
def run_embedding(configs) -> list[pd.DataFrame]:
    """Runner of kind ``"embedding"``: one tidy DataFrame per config (``train_embedding_many``)."""
    return [r.frame for r in train_embedding_many(configs)]


# --------------------------------------------------------------------------- CLI


def summarize(frame: pd.DataFrame, by: tuple[str, ...] = ("hidden", "strategy")) -> pd.DataFrame:
    """Mean, sample std and count of test accuracy (and mean non-zeros, neurons) per group."""
    g = frame.groupby(list(by), sort=False)
    out = g["test_accuracy"].agg(["mean", "std", "count"]).rename(
        columns={"mean": "test_mean", "std": "test_std", "count": "n"}
    )
    out["train_mean"] = g["train_accuracy"].mean()
    out["nonzero"] = g["nonzero"].mean()
    out["neurons"] = g["neurons"].mean()
    return out.reset_index()


def _parser():
    import argparse

    class _P(argparse.ArgumentParser):
        def error(self, message):  # one line on stderr, exit 2
            print(f"{self.prog}: error: {message}", file=sys.stderr)
            raise SystemExit(2)

    d = EmbeddingExperiment()
    p = _P(
        prog="python -m fpe_empirical.embedding_experiment",
        description="Train dense and FPE-split classifiers on fixed features (digits or an embedding file).",
    )
    p.add_argument("--dataset", default=d.dataset, help="'digits' or an .npz/.safetensors embedding file")
    p.add_argument("--hidden", type=int, nargs="+", default=[d.hidden], help="hidden widths (one run per width and seed)")
    p.add_argument("--depth", type=int, default=d.depth, help="number of hidden layers (paper 'L-layer' = L - 1)")
    p.add_argument("--alpha", type=int, default=d.alpha)
    p.add_argument("--strategies", nargs="+", default=list(d.strategies), help=f"from {list(EMBEDDING_STRATEGIES)}")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--pretrain-epochs", type=int, default=d.pretrain_epochs)
    p.add_argument("--split-epochs", type=int, default=d.split_epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--l1", type=float, default=d.l1)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--rewire-every", type=int, default=d.rewire_every)
    p.add_argument("--rewire-fraction", type=float, default=d.rewire_fraction)
    p.add_argument("--out", help="write every row to this CSV file")
    p.add_argument("--backend", choices=["loop", "ensemble", "auto"], default=DEFAULT_BACKEND)
    p.add_argument("--progress", action="store_true", help="progress bars even when stderr is not a TTY")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; exit code 2 with one line on stderr for bad input."""
    args = _parser().parse_args(argv)
    try:
        configs = [
            EmbeddingExperiment(
                dataset=args.dataset,
                hidden=h,
                depth=args.depth,
                alpha=args.alpha,
                strategies=tuple(args.strategies),
                seed=s,
                pretrain_epochs=args.pretrain_epochs,
                split_epochs=args.split_epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                l1=args.l1,
                weight_decay=args.weight_decay,
                rewire_every=args.rewire_every,
                rewire_fraction=args.rewire_fraction,
            )
            for h in args.hidden
            for s in args.seeds
        ]
        results = train_embedding_many(configs, backend=args.backend, progress=args.progress or sys.stderr.isatty())
        frame = pd.concat([r.frame for r in results], ignore_index=True)
        if args.out:
            tmp = f"{args.out}.tmp"
            frame.to_csv(tmp, index=False)
            os.replace(tmp, args.out)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    table = summarize(frame)
    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
