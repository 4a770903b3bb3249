"""The sparse file format: safetensors (never pickle) with a JSON header entry
``"fpe_sparse"`` giving the format name and version, the dtype, the layer kinds and shapes.

``write_sparse(path, layers, norms, dtype)`` writes atomically; ``read_sparse(path)``
validates every tensor against the header and raises ``ValueError`` on a bad, truncated or
foreign file (``SparseMLP.save`` / ``SparseMLP.load`` use them).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence

import numpy as np

from fpe_common.atomic import atomic_path

from .layers import KINDS, SparseLayer

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "write_sparse", "read_sparse"]

FORMAT_NAME = "fpe-sparse-mlp"
FORMAT_VERSION = 1


def write_sparse(path, layers: Sequence[SparseLayer], norms: Sequence, dtype: np.dtype) -> None:
    """Write ``layers`` and ``norms`` (one ``(gamma, beta, eps)`` or None per hidden layer) to
    ``path`` (safetensors; atomic: a temp file then a rename)."""
    from safetensors.numpy import save_file

    tensors: dict[str, np.ndarray] = {}
    meta_layers = []
    for i, layer in enumerate(layers):
        tensors[f"layers.{i}.values"] = np.ascontiguousarray(layer.values)
        if layer.indices is not None:
            tensors[f"layers.{i}.indices"] = np.ascontiguousarray(layer.indices)
        if layer.indptr is not None:
            tensors[f"layers.{i}.indptr"] = np.ascontiguousarray(layer.indptr)
        if layer.bias is not None:
            tensors[f"layers.{i}.bias"] = np.ascontiguousarray(layer.bias)
        tensors[f"layers.{i}.parent_index"] = np.ascontiguousarray(layer.parent_index.astype(np.int64))
        entry = {
            "kind": layer.kind,
            "in_features": layer.in_features,
            "out_features": layer.out_features,
            "nnz": layer.nnz,
            "width": int(layer.values.shape[1]) if layer.kind == "ell" else None,
            "bias": layer.bias is not None,
        }
        if layer.kind == "grouped":  # dense blocks: values (blocks, m, d), indices (blocks, d), rows (blocks, m)
            tensors[f"layers.{i}.rows"] = np.ascontiguousarray(layer.rows.astype(np.int64))
            entry["blocks"] = [int(v) for v in layer.values.shape]
        meta_layers.append(entry)
    meta_norms = []
    for i, norm in enumerate(norms):
        if norm is None:
            meta_norms.append(None)
            continue
        gamma, beta, eps = norm
        tensors[f"norms.{i}.weight"] = np.ascontiguousarray(gamma)
        tensors[f"norms.{i}.bias"] = np.ascontiguousarray(beta)
        meta_norms.append({"eps": float(eps)})
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "dtype": str(np.dtype(dtype)),
        "activation": "relu",
        "layers": meta_layers,
        "norms": meta_norms,
    }
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"fpe_sparse": json.dumps(meta)})


def read_sparse(path) -> tuple[list[SparseLayer], list]:
    """``(layers, norms)`` of a file ``write_sparse`` wrote; ``ValueError`` on a bad,
    truncated or foreign file, ``FileNotFoundError`` when there is none."""
    from safetensors import safe_open

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with safe_open(path, framework="numpy") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises SafetensorError (an Exception) on a bad header/size
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from None
    return _from_file_contents(path, header, tensors)


def _from_file_contents(path: str, header: dict, tensors: dict) -> tuple[list[SparseLayer], list]:
    def bad(msg: str) -> ValueError:
        return ValueError(f"{path}: {msg}")

    raw = header.get("fpe_sparse")
    if raw is None:
        raise bad("no 'fpe_sparse' entry in the safetensors header: not written by SparseMLP.save")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise bad(f"the 'fpe_sparse' header entry is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise bad(f"header format must be {FORMAT_NAME!r}, got {meta.get('format') if isinstance(meta, dict) else meta!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise bad(f"format version must be {FORMAT_VERSION}, got {meta.get('version')!r}")
    if meta.get("activation") != "relu":
        raise bad(f"activation must be 'relu', got {meta.get('activation')!r}")
    dtype_name = meta.get("dtype")
    if dtype_name not in ("float32", "float64"):
        raise bad(f"dtype must be 'float32' or 'float64', got {dtype_name!r}")
    dtype = np.dtype(dtype_name)
    mlayers, mnorms = meta.get("layers"), meta.get("norms")
    if not isinstance(mlayers, list) or not mlayers:
        raise bad("header 'layers' must be a non-empty list")
    if not isinstance(mnorms, list) or len(mnorms) != len(mlayers) - 1:
        raise bad(f"header 'norms' must be a list of {len(mlayers) - 1} entries")
    used: set[str] = set()

    def get(name: str, shape: tuple[int, ...], kinds: str) -> np.ndarray:
        if name not in tensors:
            raise bad(f"missing tensor {name!r}")
        a = tensors[name]
        used.add(name)
        if a.shape != shape:
            raise bad(f"tensor {name!r} must have shape {shape}, got {tuple(a.shape)}")
        if kinds == "float" and a.dtype != dtype:
            raise bad(f"tensor {name!r} must have dtype {dtype}, got {a.dtype}")
        if kinds == "index" and a.dtype not in (np.uint16, np.int32):
            raise bad(f"tensor {name!r} must have dtype uint16 or int32, got {a.dtype}")
        if kinds == "int64" and a.dtype != np.int64:
            raise bad(f"tensor {name!r} must have dtype int64, got {a.dtype}")
        return a

    def pos_int(d: dict, key: str, i: int) -> int:
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise bad(f"layers[{i}].{key} must be an integer >= 1, got {v!r}")
        return v

    layers = []
    for i, m in enumerate(mlayers):
        if not isinstance(m, dict):
            raise bad(f"layers[{i}] must be an object")
        kind = m.get("kind")
        if kind not in KINDS:
            raise bad(f"layers[{i}].kind must be one of {list(KINDS)}, got {kind!r}")
        n_in, n_out = pos_int(m, "in_features", i), pos_int(m, "out_features", i)
        if i and n_in != layers[-1].out_features:
            raise bad(f"layers[{i}].in_features must equal layers[{i - 1}].out_features")
        p = f"layers.{i}."
        indices = indptr = rows = None
        if kind == "grouped":
            shape = m.get("blocks")
            if (not isinstance(shape, list) or len(shape) != 3
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)
                    or shape[2] > n_in or shape[0] * shape[1] < n_out):
                raise bad(f"layers[{i}].blocks must be [blocks, rows, cols] of integers >= 1 (cols <= {n_in}), "
                          f"got {shape!r}")
            values = get(p + "values", tuple(shape), "float")
            indices = get(p + "indices", (shape[0], shape[2]), "index")
            rows = get(p + "rows", (shape[0], shape[1]), "int64")
            valid = rows[rows >= 0]
            if rows.min() < -1 or valid.size != n_out or np.any(np.sort(valid) != np.arange(n_out)):
                raise bad(f"tensor {p + 'rows'!r} must hold every output row 0..{n_out - 1} once (-1: padding)")
            if np.any(values[rows < 0] != 0):
                raise bad(f"tensor {p + 'values'!r} has non-zeros in padding rows")
            for b in range(shape[0]):  # a column used twice in a block would count a weight twice
                live_cols = np.any(values[b] != 0, axis=0)
                if np.unique(indices[b][live_cols]).size != int(live_cols.sum()):
                    raise bad(f"tensor {p + 'indices'!r} repeats a column inside block {b}")
        elif kind == "dense":
            values = get(p + "values", (n_out, n_in), "float")
        elif kind == "ell":
            width = m.get("width")
            if isinstance(width, bool) or not isinstance(width, int) or not 0 <= width <= n_in:
                raise bad(f"layers[{i}].width must be an integer in [0, {n_in}], got {width!r}")
            values = get(p + "values", (n_out, width), "float")
            indices = get(p + "indices", (n_out, width), "index")
        else:
            indptr = get(p + "indptr", (n_out + 1,), "int64")
            if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or np.any(np.diff(indptr) > n_in):
                raise bad(f"tensor {p + 'indptr'!r} must start at 0 and rise by 0..{n_in} per row")
            nnz = int(indptr[-1])
            values = get(p + "values", (nnz,), "float")
            indices = get(p + "indices", (nnz,), "index")
        if indices is not None and indices.size and (indices.min() < 0 or indices.max() >= n_in):
            raise bad(f"tensor {p + 'indices'!r} must hold indices in [0, {n_in})")
        if kind == "csr" and indices.size:
            # no repeated column inside a row (a repeat would double-count a weight)
            rows = np.repeat(np.arange(n_out), np.diff(indptr))
            key = rows * n_in + indices.astype(np.int64)
            if np.unique(key).size != key.size:
                raise bad(f"tensor {p + 'indices'!r} repeats a column inside a row")
        if kind == "ell" and indices.size:
            live = values != 0
            rows = np.nonzero(live)[0]
            key = rows * n_in + indices[live].astype(np.int64)
            if np.unique(key).size != key.size:
                raise bad(f"tensor {p + 'indices'!r} repeats a column inside a row")
        if m.get("bias") not in (True, False):
            raise bad(f"layers[{i}].bias must be true or false")
        bias = get(p + "bias", (n_out,), "float") if m["bias"] else None
        parent_index = get(p + "parent_index", (n_out,), "int64")
        layer = SparseLayer(kind, n_in, n_out, values, indices, indptr, bias, parent_index, rows)
        if m.get("nnz") != layer.nnz:
            raise bad(f"layers[{i}].nnz is {m.get('nnz')!r} but the tensors hold {layer.nnz} non-zeros")
        layers.append(layer)
    norms = []
    for i, m in enumerate(mnorms):
        if m is None:
            norms.append(None)
            continue
        eps = m.get("eps") if isinstance(m, dict) else None
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not (eps >= 0 and math.isfinite(eps)):
            raise bad(f"norms[{i}].eps must be a finite number >= 0, got {eps!r}")
        w = layers[i].out_features
        norms.append((get(f"norms.{i}.weight", (w,), "float"), get(f"norms.{i}.bias", (w,), "float"), float(eps)))
    extra = sorted(set(tensors) - used)
    if extra:
        raise bad(f"unexpected tensors {extra[:5]}")
    return layers, norms
