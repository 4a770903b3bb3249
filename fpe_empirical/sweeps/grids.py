"""Named sweep grids (a registry other modules add to) and user-defined grid files.

A grid is a function returning a list of experiment configs. Register one with::

    from fpe_empirical.grids import register_grid

    @register_grid("my-grid", "what it reproduces")
    def my_grid():
        return [DNFExperiment(n_clauses=c, seed=s) for c in (4, 8) for s in range(5)]

The built-in grids are below: the paper's DNF grids (``dnf-paper`` and its figure subsets,
from the ``"paper"`` profile of the catalogue), ``smoke``, and ``emb-<name>-<profile>``, the
vision grids (``sweeps.vision_grids``) on digits for the quick and paper profiles.

Grid files (JSON, TOML or YAML) describe one block, or several under ``grids``::

    {"kind": "dnf",
     "fixed": {"clause_size": 4, "alpha": 2},
     "vary": {"n_clauses": [3, 6, 8], "hidden": [4, 8], "seed": [0, 1, 2, 3, 4]},
     "configs": [{"n_clauses": 10, "hidden": 16, "seed": 0}]}

``fixed`` fields apply to every config of the block, ``vary`` takes the Cartesian product
of its lists (in the order written), ``configs`` adds explicit configs (``fixed`` applies
to them too). Fields left out keep the config class's defaults. Tuple fields are written
as lists (``"strategies": ["dense", "random"]``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..experiments.dnf import DNFExperiment
from ..experiments.registry import config_cost, config_from_dict, get_kind, register_cost  # noqa: F401  (older API)
from ..results.keys import unique_configs
from . import vision_grids
from .catalogue import PAPER

__all__ = [
    "Grid",
    "GRIDS",
    "register_grid",
    "get_grid",
    "list_grids",
    "grid_configs",
    "load_grid_file",
    "expand_block",
    "register_cost",
    "config_cost",
    "DNF_N_CLAUSES",
    "DNF_HIDDEN",
    "DNF_SEEDS",
]


@dataclasses.dataclass(frozen=True)
class Grid:
    """A named grid: ``build()`` returns its configs."""

    name: str
    description: str
    build: Callable[[], list]


GRIDS: dict[str, Grid] = {}


def register_grid(name: str, description: str = "") -> Callable[[Callable[[], list]], Callable[[], list]]:
    """Decorator: register ``fn() -> list[config]`` as grid ``name``."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise ValueError(f"grid name must be a non-empty string without spaces, got {name!r}")

    def wrap(fn: Callable[[], list]) -> Callable[[], list]:
        if name in GRIDS and GRIDS[name].build is not fn:
            raise ValueError(f"grid {name!r} is already registered")
        doc = (fn.__doc__ or "").strip()
        GRIDS[name] = Grid(name, description or (doc.splitlines()[0] if doc else ""), fn)
        return fn

    return wrap


def list_grids() -> list[Grid]:
    """Every registered grid, sorted by name."""
    return [GRIDS[name] for name in sorted(GRIDS)]


def get_grid(name: str) -> Grid:
    """The registered grid ``name`` (ValueError listing the known ones otherwise)."""
    if name not in GRIDS:
        raise ValueError(f"grid must be a registered grid name or a grid file, got {name!r}; known: {sorted(GRIDS)}")
    return GRIDS[name]


_BLOCK_KEYS = {"kind", "fixed", "vary", "configs", "name", "description"}


def expand_block(block: dict[str, Any], *, where: str = "grid") -> list:
    """Configs of one grid block (``kind``, ``fixed``, ``vary``, ``configs``; see module doc)."""
    if not isinstance(block, dict):
        raise TypeError(f"{where} must be a mapping, got {type(block).__name__}")
    unknown = set(block) - _BLOCK_KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(_BLOCK_KEYS)}")
    if "kind" not in block:
        raise ValueError(f"{where} must name its experiment kind (e.g. \"kind\": \"dnf\")")
    kind = block["kind"]
    if not isinstance(kind, str):
        raise TypeError(f"{where}.kind must be a string, got {type(kind).__name__}")
    try:
        get_kind(kind)
    except ValueError as exc:  # say which file (and block) names the unknown kind
        raise ValueError(f"{where}: {exc}") from None
    fixed = block.get("fixed", {})
    vary = block.get("vary", {})
    extra = block.get("configs", [])
    if not isinstance(fixed, dict):
        raise TypeError(f"{where}.fixed must be a mapping of field -> value")
    if not isinstance(vary, dict):
        raise TypeError(f"{where}.vary must be a mapping of field -> list of values")
    if not isinstance(extra, list):
        raise TypeError(f"{where}.configs must be a list of mappings")
    both = set(fixed) & set(vary)
    if both:
        raise ValueError(f"{where}: fields {sorted(both)} are both fixed and varied")
    for name, values in vary.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}.vary.{name} must be a non-empty list, got {values!r}")
    if not vary and not extra:
        # a block with only fixed fields is one config
        rows = [dict(fixed)]
    else:
        rows = []
        if vary:
            names = list(vary)
            for combo in itertools.product(*(vary[n] for n in names)):
                rows.append({**fixed, **dict(zip(names, combo))})
        for i, cfg in enumerate(extra):
            if not isinstance(cfg, dict):
                raise TypeError(f"{where}.configs[{i}] must be a mapping, got {type(cfg).__name__}")
            rows.append({**fixed, **cfg})
    configs = []
    for fields in rows:
        try:
            configs.append(config_from_dict(kind, fields))
        except TypeError as exc:
            raise TypeError(f"{where}: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return configs


def _reader(path: Path) -> tuple[Callable[[str], Any], type, str]:
    """``(loads, its error class, format name)`` for a grid file's suffix."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.loads, json.JSONDecodeError, "JSON"
    if suffix == ".toml":
        try:
            import tomllib  # Python 3.11+
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError:
                raise ValueError("reading TOML grid files on Python 3.10 needs `pip install tomli`") from None
        return tomllib.loads, tomllib.TOMLDecodeError, "TOML"
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError:
            raise ValueError("reading YAML grid files needs `pip install pyyaml`") from None
        return yaml.safe_load, yaml.YAMLError, "YAML"
    raise ValueError(f"grid file must end in .json, .toml, .yaml or .yml, got {path.name!r}")


def _parse_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"grid file {path} is not UTF-8 text ({exc})") from None
    loads, error, name = _reader(path)
    try:
        return loads(text)
    except error as exc:
        raise ValueError(f"grid file {path} is not valid {name}: {exc}") from None


def load_grid_file(path: str | Path) -> list:
    """Configs described by a JSON / TOML / YAML grid file (format in the module doc)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"grid file {path} does not exist")
    doc = _parse_file(path)
    if isinstance(doc, dict) and "grids" in doc:
        if set(doc) - {"grids", "name", "description"}:
            raise ValueError(f"grid file {path}: with 'grids', only 'name' and 'description' may sit beside it")
        blocks = doc["grids"]
        if not isinstance(blocks, list) or not blocks:
            raise ValueError(f"grid file {path}: 'grids' must be a non-empty list of blocks")
    else:
        blocks = [doc]
    configs = []
    for i, block in enumerate(blocks):
        configs.extend(expand_block(block, where=f"{path.name}" + (f" grids[{i}]" if len(blocks) > 1 else "")))
    return configs


def grid_configs(spec: str) -> list:
    """Configs of a registered grid name, or of a grid file path; duplicates (same key) dropped."""
    if not isinstance(spec, str):
        raise TypeError(f"grid must be a string (a name or a file path), got {type(spec).__name__}")
    path = Path(spec)
    if path.suffix.lower() in (".json", ".toml", ".yaml", ".yml"):
        return unique_configs(load_grid_file(path))
    configs = get_grid(spec).build()
    return unique_configs(list(configs))


# ---------------------------------------------------------------- the paper's DNF grids

#: the paper profile's DNF grid (the tables' 12-128 literals at clause_size 4)
DNF_N_CLAUSES = PAPER.dnf.n_clauses
DNF_HIDDEN = PAPER.dnf.hidden
DNF_SEEDS = PAPER.dnf.seeds


def _dnf(n_clauses_values, hidden_values, seeds=DNF_SEEDS, **fields) -> list:
    return [
        DNFExperiment(n_clauses=c, hidden=h, seed=s, **fields)
        for c in n_clauses_values
        for h in hidden_values
        for s in seeds
    ]


@register_grid("dnf-paper", "Figures 3a-c, 4, Tables A1/A2: n_clauses 3..32 x hidden 4..16 x 5 seeds, paper schedule (160 runs)")
def _grid_dnf_paper() -> list:
    return _dnf(DNF_N_CLAUSES, DNF_HIDDEN)


@register_grid("dnf-fig3a", "Figure 3a: 8 clauses, hidden 4/8/12/16, 5 seeds (20 runs)")
def _grid_fig3a() -> list:
    return _dnf((8,), DNF_HIDDEN)


@register_grid("dnf-fig3b", "Figure 3b and Tables A1/A2: 8 hidden, n_clauses 3..32, 5 seeds (40 runs)")
def _grid_fig3b() -> list:
    return _dnf(DNF_N_CLAUSES, (8,))


@register_grid("dnf-fig3c", "Figure 3c heatmaps: the full dnf-paper grid (160 runs)")
def _grid_fig3c() -> list:
    return _dnf(DNF_N_CLAUSES, DNF_HIDDEN)


@register_grid("dnf-fig4", "Figure 4: the union of Figures 3a and 3b (55 runs)")
def _grid_fig4() -> list:
    return unique_configs(_grid_fig3a() + _grid_fig3b())


@register_grid("dnf-case-study", "Section 3.1 case study: 8 clauses, 8 hidden, 5 seeds (5 runs)")
def _grid_case_study() -> list:
    return _dnf((8,), (8,))


@register_grid("smoke", "a handful of tiny DNF runs (4 configs, short schedule, small data): under a minute")
def _grid_smoke() -> list:
    return _dnf((3, 6), (4, 8), seeds=(0,), pretrain_epochs=40, split_epochs=40, n_samples=2000)


def _register_vision_grids() -> None:
    # emb-<name>-<profile>: the vision grids on digits (offline), quick and paper profiles
    for name, fn in vision_grids.BUILDERS.items():
        for profile in vision_grids.PROFILES:
            doc = (fn.__doc__ or "").strip().splitlines()[0]
            register_grid(f"emb-{name.replace('_', '-')}-{profile}", f"{doc} [digits, {profile} profile]")(
                lambda fn=fn, profile=profile: fn("digits", profile)
            )


_register_vision_grids()
