"""Vision experiments (paper Sections 3.3-3.5, A.7): FPE on classifiers over fixed features.

``EmbeddingExperiment`` trains an MLP on fixed input features (CLIP embeddings from
``python -m fpe_empirical.embed``, any embedding file, or scikit-learn's digits as raw
pixels, the offline stand-in), splits it with each strategy and keeps training:

1. data: ``load_digits_data`` (``dataset="digits"``) or ``load_embeddings(dataset)``;
2. dense model ``MLP(n_features, [hidden] * depth, n_classes, layernorm=...)`` under the
   init seed;
3. phase 1 (one ``train_many`` call over all configs, the shared ``pipeline``): ``pretrain_epochs`` of dense training;
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

Seeds: ``derive_seed(seed, role)`` (``pipeline``'s scheme, shared with the DNF experiment; roles ``init``,
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
67% at hidden 2). The profile catalogue (``sweeps.catalogue``) sets each profile's schedules.

CLI::

    python -m fpe_empirical.embedding_experiment --dataset digits --hidden 4 --seeds 0 1 2 3 4
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fpe_common.atomic import atomic_path
from fpe_common.checks import check_int
from fpe_common.cli import OneLineArgumentParser, run_main

from ..data.embeddings import EmbeddingData, file_sha256, load_digits_data, load_embeddings
from ..nn.expand import fpe_expand
from ..nn.metrics import feature_capacity, mean_cosine_similarity
from ..nn.models import MLP, count_nonzero
from ..nn.strategies import get_strategy, strategy_names
from ..results.keys import config_key
from ..training.rewire import parameter_budget, train_rewiring
from ..training.settings import TrainHistory
from .pipeline import (
    ROLES, Stages, Trained, TwoPhases, add_schedule_arguments, check_strategies, derive_seed, run_pipeline, schedule_fields,
    seeded_init,
)
from .registry import check_fields, experiment_kind

__all__ = [
    "EmbeddingExperiment",
    "EmbeddingResult",
    "EMBEDDING_STRATEGIES",
    "ROLES",
    "derive_seed",
    "paper_depth",
    "load_dataset",
    "build_dense",
    "split_model",
    "train_embedding_many",
    "train_embedding",
    "run_embedding",
    "summarize",
    "main",
]

#: "dense" and the registered strategies that need no input groups (a vision data set has
#: no clauses), then "<name>+rewire" for those that stay meaningful under rewiring
BASE_STRATEGIES = ("dense", *strategy_names(without_options=("groups",)))
EMBEDDING_STRATEGIES = BASE_STRATEGIES + tuple(f"{s}+rewire" for s in strategy_names(without_options=("groups",), rewirable=True))
#: ``train_many`` backend of ``train_embedding_many``
DEFAULT_BACKEND = "auto"


def paper_depth(n_layers: int) -> int:
    """``depth`` (hidden layers) of the paper's "``n_layers``-layer" MLP: ``n_layers - 1``."""
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 2:
        raise ValueError(f"n_layers must be an integer >= 2 (linear layers, head included), got {n_layers!r}")
    return n_layers - 1


@experiment_kind("embedding", 1)
@dataclass(frozen=True)
class EmbeddingExperiment(TwoPhases):
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
        check_fields(self, ints={"hidden": 1, "depth": 1, "alpha": 2, "seed": 0, "pretrain_epochs": 0,
                                 "split_epochs": 0, "batch_size": 1, "rewire_every": 0, "data_seed": 0},
                     floats={"lr": {"positive": True}, "l1": {}, "weight_decay": {}, "rewire_fraction": {"upper": 1.0},
                             "rewire_stop": {"upper": 1.0}, "test_fraction": {"positive": True, "upper": 1.0}})
        if self.layernorm is not None and not isinstance(self.layernorm, bool):
            raise TypeError(f"layernorm must be a bool or None, got {type(self.layernorm).__name__}")
        if self.layers is not None and self.layers not in ("first", "alternate"):
            raise ValueError(f"layers must be 'first', 'alternate' or None (by depth), got {self.layers!r}")
        if self.n_clusters is not None:
            object.__setattr__(self, "n_clusters", check_int("n_clusters", self.n_clusters, 1))
        object.__setattr__(self, "strategies", check_strategies(self.strategies, EMBEDDING_STRATEGIES))
        for s in {s.split("+")[0] for s in self.strategies} - {"dense"}:
            check = get_strategy(s).check
            if check is not None:  # before the data: layer 1's fan-in is unknown, layers 3, 5, ... have hidden
                check(self.alpha, None, "hidden layer 1")
                if self.split_layer_scheme == "alternate" and self.depth >= 3:
                    check(self.alpha, self.hidden, "hidden layer 3")
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

    def cost(self) -> float:
        """Relative cost: widths x depth x epochs over the dense model and every phase-2 model
        (a split layer is alpha times wider); the data set size is the same within a grid."""
        widths = sum(1 if s == "dense" else self.alpha for s in self.strategies)
        return self.hidden * self.depth * (self.pretrain_epochs + self.split_epochs * widths) + 100.0

    @staticmethod
    def run_batch(configs) -> list[pd.DataFrame]:
        """The kind's runner: ``run_embedding``."""
        return run_embedding(configs)


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
    return seeded_init(config.seed, lambda: MLP(data.n_features, [config.hidden] * config.depth, data.n_classes,
                                                layernorm=config.use_layernorm))


def split_model(config: EmbeddingExperiment, pretrained: MLP, strategy: str) -> MLP:
    """Stage 4: the phase-2 starting model of ``strategy`` (a copy for ``"dense"``; the split
    of ``"<name>+rewire"`` is ``"<name>"``'s)."""
    if strategy == "dense":
        return copy.deepcopy(pretrained)
    base = strategy.split("+")[0]
    uses_clusters = "n_clusters" in get_strategy(base).options
    return fpe_expand(pretrained, config.alpha, strategy=base, seed=derive_seed(config.seed, "split"),
                      layers=config.split_layer_scheme, n_clusters=config.n_clusters if uses_clusters else None)


class EmbeddingResult(Trained):
    """Everything one config produced: the data, the pre-trained dense model, the final
    models, the frame and the histories."""


def _row(config: EmbeddingExperiment, data: EmbeddingData, strategy: str, model: MLP) -> dict:
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
    }


def _train_rewiring(config: EmbeddingExperiment, data: EmbeddingData, strategy: str, model: MLP) -> tuple[TrainHistory, dict]:
    """Phase 2 of a ``"+rewire"`` strategy: ``train_rewiring`` (the reference loop plus a
    rewire every ``rewire_every`` optimizer steps until ``rewire_stop`` of the phase)."""
    _, h, reports = train_rewiring(
        model,
        data.X_train,
        data.y_train,
        config.settings("split"),
        seed=derive_seed(config.seed, "finetune_order"),
        every=config.rewire_every,
        fraction=config.rewire_fraction,
        stop=config.rewire_stop,
        rewire_seed=derive_seed(config.seed, "rewire"),
    )
    return h, {"n_rewires": len(reports), "rewired_weights": sum(r.n_changed for r in reports)}


STAGES = Stages(
    config=EmbeddingExperiment,
    result=EmbeddingResult,
    data=load_dataset,
    dense=build_dense,
    split=lambda config, pretrained, strategy, data: split_model(config, pretrained, strategy),
    row=_row,
    facts=("pretrain_test_accuracy", "split_test_accuracy", "split_nonzero", "final_loss", "n_rewires",
           "rewired_weights"),
    alone=lambda strategy: strategy.endswith("+rewire"),
    train_alone=_train_rewiring,
)


def train_embedding_many(configs, *, backend: str | None = None, progress: bool = False) -> list[EmbeddingResult]:
    """Run every config through the staged pipeline (``pipeline``; module docstring); one
    result each. ``train_many`` is called once per phase with all one-shot models of all
    configs; ``"+rewire"`` models train one at a time."""
    return run_pipeline(configs, STAGES, backend=DEFAULT_BACKEND if backend is None else backend, progress=progress)


def train_embedding(config: EmbeddingExperiment, *, backend: str | None = None, progress: bool = False) -> EmbeddingResult:
    """One config: the trained models (``.pretrained``, ``.models[strategy]``), data and frame."""
    return train_embedding_many([config], backend=backend, progress=progress)[0]


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


PROG = "python -m fpe_empirical.embedding_experiment"


def _parser() -> OneLineArgumentParser:
    d = EmbeddingExperiment()
    p = OneLineArgumentParser(prog=PROG, description="Train dense and FPE-split classifiers on fixed features (digits or an embedding file).")
    p.add_argument("--dataset", default=d.dataset, help="'digits' or an .npz/.safetensors embedding file")
    p.add_argument("--hidden", type=int, nargs="+", default=[d.hidden], help="hidden widths (one run per width and seed)")
    p.add_argument("--depth", type=int, default=d.depth, help="number of hidden layers (paper 'L-layer' = L - 1)")
    add_schedule_arguments(p, d, backend=DEFAULT_BACKEND)
    for name in ("alpha", "batch_size", "rewire_every", "rewire_fraction"):
        p.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(d, name)), default=getattr(d, name))
    p.add_argument("--out", help="write every row to this CSV file")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    fields = {**schedule_fields(args), **{name: getattr(args, name)
                                          for name in ("dataset", "depth", "alpha", "batch_size", "rewire_every",
                                                       "rewire_fraction")}}
    configs = [EmbeddingExperiment(hidden=h, seed=s, **fields) for h in args.hidden for s in args.seeds]
    results = train_embedding_many(configs, backend=args.backend, progress=args.progress or sys.stderr.isatty())
    frame = pd.concat([r.frame for r in results], ignore_index=True)
    if args.out:
        with atomic_path(args.out) as tmp:
            frame.to_csv(tmp, index=False)
    table = summarize(frame)
    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit code 2 with one line on stderr for bad input."""
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
