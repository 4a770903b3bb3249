"""The split-strategy registry: how ``fpe_expand`` partitions a parent's inputs among its children.

A strategy is one function registered by name::

    from fpe_empirical.nn.strategies import register_strategy

    @register_strategy("halves", description="first half of the live inputs to child 0, ...")
    def halves(layer: LayerSplit, parent: int, live: np.ndarray) -> np.ndarray:
        return (np.arange(live.size) * layer.alpha) // live.size   # a child label per live input

``fpe_expand(model, alpha, strategy="halves")`` then splits with it (and the experiment configs
accept it: ``DNFExperiment(strategies=("dense", "halves"))``). The function returns the child
label (``0 .. alpha - 1``) of each of the parent's live inputs ``live`` (sorted indices of its
non-zero weights); ``fpe_expand`` turns the labels into disjoint child masks, widens the next
layer and re-sparsifies, so a strategy never touches the model. Parents are visited in order
and a parent without live inputs is skipped; draw every random number from ``layer.rng`` (one
generator per ``fpe_expand`` call, seeded by its ``seed``), so the same seed gives the same
masks.

Registration options:

- ``options``: keyword arguments of ``fpe_expand`` the strategy uses (``"groups"``,
  ``"n_clusters"``); passing one to a strategy that does not declare it is a ``ValueError``.
  Their checked values are in ``layer.options``.
- ``prepare(layer)``: per-layer work before the parents (e.g. ``"gram"`` clusters the layer's
  Gram matrix); whatever it returns is ``layer.state``.
- ``check(alpha, fan_in, where)``: reject a layer the strategy cannot split (raise
  ``ValueError``; ``where`` names the layer, e.g. ``"hidden layer 1"``; ``fan_in`` is None
  when not known yet, e.g. an experiment config checked before its data are loaded).
- ``validate(options, fan_ins, alpha)``: check and normalise the strategy's options (returns
  the dict ``layer.options`` will hold); ``fan_ins`` maps each split layer's name (``"hidden
  layer 1"``) to its input width.
- ``first_layer_only``: the options name input features of the network (``"clause"``'s
  groups), so only hidden layer 1 can be split (``layers="alternate"`` is refused).
- ``rewirable``: dynamic rewiring keeps the strategy's structure meaningful, so vision
  experiments offer ``"<name>+rewire"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["LayerSplit", "SplitStrategy", "register_strategy", "get_strategy", "strategy_names", "STRATEGIES"]


@dataclass
class LayerSplit:
    """What a strategy sees of one layer being split.

    ``weight``: the layer's effective weight ``(parents, in_features)`` (``weight * mask``);
    ``alpha``: children per parent; ``rng``: the call's generator; ``options``: the checked
    strategy options; ``state``: what the strategy's ``prepare`` returned.
    """

    weight: torch.Tensor | None
    in_features: int
    alpha: int
    rng: np.random.Generator
    options: Mapping[str, Any] = field(default_factory=dict)
    state: Any = None


Labels = Callable[[LayerSplit, int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SplitStrategy:
    """A registered strategy (see the module docstring for each field's contract)."""

    name: str
    labels: Labels
    description: str = ""
    options: tuple[str, ...] = ()
    prepare: Callable[[LayerSplit], Any] | None = None
    check: Callable[[int, int | None, str], None] | None = None
    validate: Callable[[dict, Mapping[str, int], int], dict] | None = None
    first_layer_only: bool = False
    rewirable: bool = False

    def child_masks(self, layer: LayerSplit, support: np.ndarray) -> np.ndarray:
        """``(parents * alpha, in_features)`` bool: child ``p * alpha + a`` of parent ``p``
        holds the live inputs (``support[p]``) the strategy labels ``a``; disjoint per parent."""
        n_parents, n_in = support.shape
        if self.prepare is not None:
            layer.state = self.prepare(layer)
        masks = np.zeros((n_parents * layer.alpha, n_in), dtype=bool)
        for p in range(n_parents):
            live = np.flatnonzero(support[p])
            if live.size:
                masks[p * layer.alpha + self.labels(layer, p, live), live] = True
        return masks


#: name -> strategy, in registration order (the built-ins: random, clause, gram, two_four)
STRATEGIES: dict[str, SplitStrategy] = {}


def register_strategy(name: str, *, description: str = "", options: Sequence[str] = (),
                      prepare: Callable[[LayerSplit], Any] | None = None,
                      check: Callable[[int, int | None, str], None] | None = None,
                      validate: Callable[[dict, Mapping[str, int], int], dict] | None = None,
                      first_layer_only: bool = False, rewirable: bool = False) -> Callable[[Labels], Labels]:
    """Decorator: register ``labels(layer, parent, live) -> child labels`` as strategy ``name``."""
    if not isinstance(name, str) or not name.isidentifier() or name == "dense":
        raise ValueError(f"strategy name must be an identifier other than 'dense', got {name!r}")

    def wrap(fn: Labels) -> Labels:
        if name in STRATEGIES and STRATEGIES[name].labels is not fn:
            raise ValueError(f"split strategy {name!r} is already registered")
        doc = (fn.__doc__ or "").strip().splitlines()
        STRATEGIES[name] = SplitStrategy(name, fn, description or (doc[0] if doc else ""), tuple(options), prepare,
                                         check, validate, first_layer_only, rewirable)
        return fn

    return wrap


def strategy_names(*, without_options: Sequence[str] = (), rewirable: bool | None = None) -> tuple[str, ...]:
    """Registered names (registration order), leaving out those using any of
    ``without_options`` (e.g. ``"groups"``: data sets without clauses) and, when
    ``rewirable`` is given, those whose ``rewirable`` differs."""
    return tuple(s.name for s in STRATEGIES.values()
                 if not set(s.options) & set(without_options) and (rewirable is None or s.rewirable == rewirable))


def get_strategy(name: str) -> SplitStrategy:
    """The registered strategy ``name`` (``ValueError`` listing the known ones otherwise)."""
    if not isinstance(name, str):
        raise TypeError(f"strategy must be a str, one of {list(STRATEGIES)}, got {type(name).__name__}")
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {name!r}")
    return STRATEGIES[name]
