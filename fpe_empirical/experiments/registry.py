"""The experiment-kind registry: one table of every kind the toolkit can run and store.

A kind is a frozen dataclass (its config) registered with one decorator::

    @experiment_kind("dnf", 3)
    @dataclass(frozen=True)
    class DNFExperiment:
        ...
        def cost(self) -> float: ...                      # relative cost of one run (sweep chunking)

        @staticmethod
        def run_batch(configs) -> list[pd.DataFrame]: ... # one frame per config, batched

``experiment_kind(kind, code_version, *, runner=None, cost=None)`` records the config class,
the code version (part of every result key: bump it when a change makes stored results of
the kind stale), the runner (``runner``, else the class's ``run_batch``) and the cost
estimate (``cost``, else the class's ``cost`` method; 1.0 when neither). ``run`` / ``run_many``
(``runner.py``) dispatch on it, the sweeps read it (grid files name a kind, chunks are
ordered by cost), and ``config_from_dict`` rebuilds a stored config from it. Importing
``fpe_empirical.experiments`` registers the built-in kinds (dnf, embedding, dnf-coverage,
theory-sim, dnf-sensitivity).

``experiment_config(kind, code_version)`` (a kind without a runner yet), ``register_runner``
and ``register_cost`` are the older spellings, kept for existing code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fpe_common.checks import check_float, check_int

__all__ = [
    "ExperimentKind",
    "KINDS",
    "CONFIG_KINDS",
    "experiment_kind",
    "experiment_config",
    "register_runner",
    "register_cost",
    "get_kind",
    "kind_of",
    "config_from_dict",
    "config_cost",
    "check_fields",
]

Runner = Callable[[list], list[pd.DataFrame]]


@dataclass(frozen=True)
class ExperimentKind:
    """One registered kind: its name, config class, code version, runner and cost."""

    name: str
    config: type
    code_version: int
    runner: Runner | None = None
    cost: Callable[[Any], float] | None = None


#: kind name -> ExperimentKind
KINDS: dict[str, ExperimentKind] = {}


class _ConfigClasses(Mapping):
    """``{kind: config class}``: a live view of ``KINDS`` (the older ``CONFIG_KINDS`` table)."""

    def __getitem__(self, kind: str) -> type:
        return KINDS[kind].config

    def __iter__(self):
        return iter(KINDS)

    def __len__(self) -> int:
        return len(KINDS)


CONFIG_KINDS: Mapping[str, type] = _ConfigClasses()


def experiment_kind(kind: str, code_version: int, *, runner: Runner | None = None,
                    cost: Callable[[Any], float] | None = None) -> Callable[[type], type]:
    """Class decorator: register a frozen dataclass as experiment kind ``kind`` (module docstring)."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    check_int("code_version", code_version, 0)

    def wrap(cls: type) -> type:
        if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:
            raise TypeError(f"{cls.__name__} must be a frozen dataclass")
        if kind in KINDS and KINDS[kind].config is not cls:
            raise ValueError(f"experiment kind {kind!r} is already registered")
        cls.kind = kind
        cls.code_version = code_version
        KINDS[kind] = ExperimentKind(kind, cls, code_version, runner or getattr(cls, "run_batch", None),
                                     cost or getattr(cls, "cost", None))
        return cls

    return wrap


def experiment_config(kind: str, code_version: int) -> Callable[[type], type]:
    """``experiment_kind`` without a runner (add one with ``register_runner``)."""
    return experiment_kind(kind, code_version)


def _update(kind: str, **changes) -> None:
    if kind not in KINDS:
        raise ValueError(f"experiment kind {kind!r} is not registered; register its config class first")
    KINDS[kind] = dataclasses.replace(KINDS[kind], **changes)


def register_runner(kind: str) -> Callable[[Runner], Runner]:
    """Decorator: ``fn(configs) -> list[DataFrame]`` runs every config of ``kind``."""

    def wrap(fn: Runner) -> Runner:
        _update(kind, runner=fn)
        return fn

    return wrap


def register_cost(kind: str) -> Callable[[Callable[[Any], float]], Callable[[Any], float]]:
    """Decorator: ``fn(config) -> float``, a rough relative cost of one run of ``kind``."""

    def wrap(fn: Callable[[Any], float]) -> Callable[[Any], float]:
        _update(kind, cost=fn)
        return fn

    return wrap


def kind_of(config: Any) -> ExperimentKind:
    """The registered kind of ``config`` (``TypeError`` for anything but an experiment config)."""
    name = getattr(type(config), "kind", None)
    if name is None or isinstance(config, type):
        raise TypeError(f"config must be an experiment config (e.g. DNFExperiment), got {type(config).__name__}")
    return get_kind(name)


def get_kind(name: str) -> ExperimentKind:
    """The registered kind ``name`` (``ValueError`` listing the known ones)."""
    if not isinstance(name, str):
        raise TypeError(f"kind must be a str, got {type(name).__name__}")
    if name not in KINDS:
        raise ValueError(f"kind must be a registered experiment kind, got {name!r}; known: {sorted(KINDS)}")
    return KINDS[name]


def config_cost(config: Any) -> float:
    """Relative cost of one run (1.0 for kinds without an estimate): sweeps start the most
    expensive chunks first, so parallel workers finish together."""
    fn = kind_of(config).cost
    return float(fn(config)) if fn is not None else 1.0


def config_from_dict(kind: str, fields: dict[str, Any]) -> Any:
    """Rebuild a config of ``kind`` from stored fields (lists become tuples where the default is one)."""
    if kind not in KINDS:
        raise ValueError(f"unknown experiment kind {kind!r}; known: {sorted(KINDS)}")
    cls = KINDS[kind].config
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(fields) - names
    if unknown:
        raise ValueError(f"unknown fields for {kind}: {sorted(unknown)}")
    kwargs = {}
    for name, value in fields.items():
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        kwargs[name] = value
    return cls(**kwargs)


def check_fields(config: Any, *, ints: Mapping[str, int] = {}, floats: Mapping[str, dict] = {},
                 tuples: tuple[str, ...] = ()) -> None:
    """Validate a frozen config's fields in place: ``ints`` (name -> minimum, stored as Python
    ints), ``floats`` (name -> ``check_float`` options), ``tuples`` (lists become tuples)."""
    for name, minimum in ints.items():  # stored as a Python int: a NumPy int would not hash
        object.__setattr__(config, name, check_int(name, getattr(config, name), minimum))
    for name, options in floats.items():
        check_float(name, getattr(config, name), **options)
    for name in tuples:
        value = getattr(config, name)
        if isinstance(value, list):
            object.__setattr__(config, name, tuple(value))
