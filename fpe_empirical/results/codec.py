"""The JSON encoding of stored results: cells and frames to JSON and back, canonical bytes
and their checksum (nothing here unpickles)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable", "unjson", "encode_frame", "decode_frame", "canonical_bytes", "checksum", "cell"]

# dtypes a metrics column may be restored to (anything else stays object)
_SAFE_DTYPES = re.compile(r"^(u?int(8|16|32|64)|float(16|32|64)|bool|object|string|str)$")


def jsonable(value: Any, where: str) -> Any:
    """A JSON-ready copy of one cell or provenance value (numpy scalars/arrays unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v, where) for k, v in value.items()}
    try:  # torch tensors without importing torch here
        return jsonable(value.tolist(), where)
    except AttributeError:
        pass
    raise TypeError(f"{where} must hold JSON-like values, got {type(value).__name__}")


def unjson(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"float"}:
            return float(value["float"])
        return {k: unjson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unjson(v) for v in value]
    return value


def encode_frame(frame: pd.DataFrame) -> dict[str, Any]:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"frame columns must be unique strings, got {list(frame.columns)}")
    return {
        "columns": names,
        "dtypes": [str(frame[c].dtype) for c in frame.columns],
        "data": {str(c): [jsonable(v, f"column {c!r}") for v in frame[c].tolist()] for c in frame.columns},
    }


def decode_frame(obj: dict[str, Any]) -> pd.DataFrame:
    cols = {}
    for name, dtype in zip(obj["columns"], obj["dtypes"]):
        values = [unjson(v) for v in obj["data"][name]]
        if any(isinstance(v, list) for v in values):
            values = [tuple(v) if isinstance(v, list) else v for v in values]
        series = pd.Series(values, dtype=object)
        if _SAFE_DTYPES.match(dtype) and dtype != "object":
            try:
                series = series.astype(dtype)
            except (TypeError, ValueError):
                pass
        cols[name] = series
    return pd.DataFrame(cols, columns=obj["columns"])


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True).encode()


def checksum(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def cell(value: Any) -> Any:
    return tuple(cell(v) for v in value) if isinstance(value, list) else value
