"""Result keys: how an experiment config names its stored result.

Every experiment kind is a frozen dataclass registered with
``fpe_empirical.experiments.registry.experiment_kind`` (which sets the class attributes
``kind`` and ``code_version``). Its result key is ``sha256`` of a canonical JSON of the
kind, the kind's ``code_version`` (bumped when a change alters results), and only the
fields that differ from their defaults (as in open_lth): adding a new field with a default
orphans no stored result.
Tests pin a few keys so a refactor cannot silently change them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

__all__ = ["config_key", "config_to_dict", "canonical", "unique_configs", "rows_of"]


def canonical(value: Any) -> Any:
    """JSON-ready form with a stable representation (tuples -> lists, floats by repr)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"config values must be finite, got {value}")
        return float(repr(value)) if value != int(value) else value
    if isinstance(value, (tuple, list)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items())}
    raise TypeError(f"config values must be JSON-like, got {type(value).__name__}")


def _as_declared(annotation: Any, value: Any) -> Any:
    """An int given for a field declared ``float`` (or ``tuple[float, ...]``) as that float,
    so that ``lr=1`` (e.g. ``lr = 1`` in a TOML grid) and ``lr=1.0`` name one result."""
    ann = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    ann = ann.replace(" ", "")
    if ann in ("float", "float|None") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if ann.startswith("tuple[float") and isinstance(value, (tuple, list)):
        return type(value)(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
    return value


def config_to_dict(config: Any, *, only_changed: bool = False) -> dict[str, Any]:
    """Fields of ``config`` as a JSON-ready dict (optionally only non-default ones); ints in
    fields declared float are written as floats (one key per value, however spelled)."""
    out = {}
    for f in dataclasses.fields(config):
        value = _as_declared(f.type, getattr(config, f.name))
        if only_changed:
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                default = f.default_factory()  # type: ignore[misc]
            else:
                default = dataclasses.MISSING
            if default is not dataclasses.MISSING and canonical(default) == canonical(value):
                continue
        out[f.name] = canonical(value)
    return out


def config_key(config: Any) -> str:
    """Stable 16-hex-digit key: sha256 of (kind, code_version, non-default fields)."""
    kind = getattr(type(config), "kind", None)
    if kind is None:
        raise TypeError(f"{type(config).__name__} is not a registered experiment config")
    payload = {
        "kind": kind,
        "code_version": type(config).code_version,
        "fields": config_to_dict(config, only_changed=True),
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def unique_configs(configs) -> list:
    """``configs`` without repeats (the same result key), in input order."""
    seen, out = set(), []
    for cfg in configs:
        key = config_key(cfg)
        if key not in seen:
            seen.add(key)
            out.append(cfg)
    return out


def rows_of(table, configs) -> tuple[Any, int, int]:
    """``(rows, n_missing, n_keys)``: the rows of a stored ``table`` (a frame with a ``key``
    column) whose key is one of ``configs``' distinct keys, how many of those keys have no
    row, and how many distinct keys there are."""
    keys = {config_key(c) for c in configs}
    got = table[table["key"].isin(keys)] if len(table) else table
    have = got["key"].nunique() if len(got) else 0
    return got, len(keys) - have, len(keys)
