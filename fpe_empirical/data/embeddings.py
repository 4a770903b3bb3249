"""Fixed-feature classification data: embedding files and scikit-learn's digits.

``load_embeddings(path)`` reads ``X_train, y_train, X_test, y_test`` from a ``.npz``
(``numpy.load(allow_pickle=False)``: never unpickles) or a ``.safetensors`` file, as written
by ``python -m fpe_empirical.embed`` or by any other tool, and validates them:

- ``X_train``, ``X_test``: 2-D floating-point arrays with the same number of columns (the
  feature dimension), every value finite (no NaN, no inf);
- ``y_train``, ``y_test``: 1-D integer arrays, one label per row of the matching ``X``;
- labels lie in ``0 .. n_classes - 1`` and every class occurs in ``y_train`` (a class that
  is never trained on is almost always a broken export, e.g. labels starting at 1);
  ``n_classes`` is ``max(label) + 1``, or the file's optional scalar ``n_classes``.

Optional entries: ``class_names`` (a string array, one per class) and ``meta`` (a JSON
object: in ``.npz`` a 0-d string array, in ``.safetensors`` the header's ``__metadata__``
key ``"meta"``). Any rule broken is a ``ValueError`` naming the file, the array and the rule.

``load_digits_data`` is the offline stand-in for FashionMNIST / CLIP data: scikit-learn's
bundled 8x8 handwritten digits (1797 images, 10 classes) as raw pixels scaled to [0, 1]
(the paper's raw-pixel FashionMNIST setting at small scale), with a seeded stratified
train/test split.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fpe_common.atomic import atomic_path
from fpe_common.checks import check_int

__all__ = ["EmbeddingData", "load_embeddings", "check_embedding_file", "load_digits_data", "save_embeddings", "file_sha256", "REQUIRED_KEYS"]

REQUIRED_KEYS = ("X_train", "y_train", "X_test", "y_test")
SUFFIXES = (".npz", ".safetensors")


@dataclass(frozen=True, eq=False)
class EmbeddingData:
    """A fixed-feature classification data set with its train/test split.

    X_train: (n_train, n_features) float32; y_train: (n_train,) int64 in ``0..n_classes-1``;
    X_test / y_test likewise. ``name`` says where it came from; ``class_names`` (optional,
    one per class) and ``meta`` (free-form provenance: model id, preprocessing, ...).
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    name: str = ""
    class_names: tuple[str, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.X_test.shape[0])

    def __repr__(self) -> str:
        return (
            f"EmbeddingData(name={self.name!r}, n_train={self.n_train}, n_test={self.n_test}, "
            f"n_features={self.n_features}, n_classes={self.n_classes})"
        )


# --------------------------------------------------------------------------- validation


def _validate(arrays: dict[str, np.ndarray], where: str, n_classes: int | None) -> tuple[dict[str, np.ndarray], int]:
    """Check the four arrays (module docstring rules); return them as float32 / int64."""
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{where}: missing arrays {missing}; an embedding file needs {list(REQUIRED_KEYS)}")
    out: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        X, y = arrays[f"X_{split}"], arrays[f"y_{split}"]
        if X.ndim != 2:
            raise ValueError(f"{where}: X_{split} must be 2-D (samples, features), got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            raise ValueError(f"{where}: X_{split} must be a floating-point array, got dtype {X.dtype}")
        if y.ndim != 1:
            raise ValueError(f"{where}: y_{split} must be 1-D (one label per sample), got shape {y.shape}")
        if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{where}: y_{split} must be an integer array of class indices, got dtype {y.dtype}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"{where}: y_{split} must have one label per row of X_{split}: {y.shape[0]} labels for {X.shape[0]} rows"
            )
        if X.shape[0] < 1:
            raise ValueError(f"{where}: X_{split} must hold at least one sample, got 0 rows")
        finite = np.isfinite(X)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise ValueError(f"{where}: X_{split} must be finite (no NaN or inf); row {row} is not")
        out[f"X_{split}"] = X.astype(np.float32, copy=False)
        out[f"y_{split}"] = y.astype(np.int64, copy=False)
    if out["X_train"].shape[1] != out["X_test"].shape[1]:
        raise ValueError(
            f"{where}: X_train and X_test must have the same feature dimension, got "
            f"{out['X_train'].shape[1]} and {out['X_test'].shape[1]}"
        )
    if out["X_train"].shape[1] < 1:
        raise ValueError(f"{where}: X_train must have at least one feature column")
    lo = min(int(out["y_train"].min()), int(out["y_test"].min()))
    hi = max(int(out["y_train"].max()), int(out["y_test"].max()))
    if n_classes is None:
        n_classes = hi + 1
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"{where}: labels must lie in 0..n_classes-1 = 0..{n_classes - 1}, got range {lo}..{hi}")
    # np.unique, not a bincount of n_classes bins: a damaged label of 2**40 must not
    # allocate terabytes before it is reported
    present = np.unique(out["y_train"])
    if present.size != n_classes:
        shown = np.setdiff1d(np.arange(min(n_classes, present.size + 10)), present)[:10].tolist()
        raise ValueError(
            f"{where}: every class 0..{n_classes - 1} must occur in y_train; {n_classes - present.size} never do "
            f"(first: {shown}); labels must be 0-based and contiguous"
        )
    if n_classes < 2:
        raise ValueError(f"{where}: a classification data set needs n_classes >= 2, got {n_classes}")
    return out, n_classes


def _scalar_n_classes(value: Any, where: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{where}: n_classes must be a single integer, got {arr.dtype} of shape {arr.shape}")
    n = int(arr.reshape(()))
    if n < 2:
        raise ValueError(f"{where}: n_classes must be an integer >= 2, got {n}")
    return n


def _read_npz(path: Path, where: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{where}: not a readable .npz file (not a zip archive of named arrays)")
    try:
        # our own handle: np.load leaks the one it opens when a damaged archive makes it fail
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            names = list(z.files)
            arrays = {}
            for k in names:
                try:
                    arrays[k] = z[k]
                except ValueError as exc:  # object arrays need pickle: refused
                    raise ValueError(f"{where}: array {k!r} cannot be read without pickle ({exc}); store plain numeric arrays") from None
                if not isinstance(arrays[k], np.ndarray):  # numpy hands back the raw bytes of a non-.npy member
                    raise ValueError(f"{where}: member {k!r} is not a .npy array")
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError, zlib.error, struct.error,
            OverflowError, MemoryError) as exc:
        # what zipfile and numpy raise on damaged archives (unknown flags, "encrypted"
        # members, bad deflate streams, headers claiming absurd shapes)
        raise ValueError(f"{where}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:  # a damaged archive numpy does not recognise as one
        if str(exc).startswith(where):
            raise
        raise ValueError(f"{where}: not a readable .npz file ({exc})") from None
    extra: dict[str, Any] = {}
    if "meta" in arrays:
        extra["meta"] = _parse_meta(str(arrays.pop("meta")), where)
    if "class_names" in arrays:
        names_arr = arrays.pop("class_names")
        if names_arr.ndim != 1 or names_arr.dtype.kind not in "US":
            raise ValueError(f"{where}: class_names must be a 1-D string array, got {names_arr.dtype} {names_arr.shape}")
        extra["class_names"] = tuple(str(s) for s in names_arr.tolist())
    if "n_classes" in arrays:
        extra["n_classes"] = _scalar_n_classes(arrays.pop("n_classes"), where)
    return arrays, extra


def _parse_meta(text: str, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: meta must be a JSON object ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: meta must be a JSON object, got {type(meta).__name__}")
    return meta


def _read_safetensors(path: Path, where: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            header = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{where}: not a readable .safetensors file ({exc})") from None
    extra: dict[str, Any] = {}
    if "meta" in header:
        extra["meta"] = _parse_meta(header["meta"], where)
    if "class_names" in header:
        try:
            names = json.loads(header["class_names"])
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: class_names metadata must be a JSON list of strings ({exc})") from None
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            raise ValueError(f"{where}: class_names metadata must be a JSON list of strings")
        extra["class_names"] = tuple(names)
    if "n_classes" in arrays:
        extra["n_classes"] = _scalar_n_classes(arrays.pop("n_classes"), where)
    return arrays, extra


def check_embedding_file(flag: str, path: str | os.PathLike, *, hint: str = "") -> None:
    """``ValueError`` naming ``flag`` unless ``path`` is a readable, valid embedding file
    (an existing ``.npz``/``.safetensors`` that ``load_embeddings`` accepts): CLIs call it
    so a bad file is bad input (exit 2), found before anything trains."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{flag} file {str(path)!r} does not exist{hint}")
    if p.suffix.lower() not in SUFFIXES:
        raise ValueError(f"{flag} must be an .npz or .safetensors embedding file, got {str(path)!r}")
    try:
        load_embeddings(p)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{flag} {path}: {exc}") from None


def load_embeddings(path: str | os.PathLike) -> EmbeddingData:
    """Read and validate an embedding file (``.npz`` or ``.safetensors``; module docstring).

    Returns float32 ``X`` and int64 ``y`` tensors; ``ValueError`` names the array and the
    rule for a file that breaks one (wrong shape, dtype, label range, NaN/inf, ...).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path)
    where = f"embedding file {str(path)!r}"
    if p.suffix.lower() not in SUFFIXES:
        raise ValueError(f"path must end in .npz or .safetensors, got {str(path)!r}")
    if not p.is_file():
        raise ValueError(f"{where} does not exist (make one with `python -m fpe_empirical.embed`)")
    if p.suffix.lower() == ".npz":
        arrays, extra = _read_npz(p, where)
    else:
        arrays, extra = _read_safetensors(p, where)
    checked, n_classes = _validate(arrays, where, extra.get("n_classes"))
    names = extra.get("class_names")
    if names is not None and len(names) != n_classes:
        raise ValueError(f"{where}: class_names must name each of the {n_classes} classes, got {len(names)} names")
    return EmbeddingData(
        X_train=torch.from_numpy(np.ascontiguousarray(checked["X_train"])),
        y_train=torch.from_numpy(np.ascontiguousarray(checked["y_train"])),
        X_test=torch.from_numpy(np.ascontiguousarray(checked["X_test"])),
        y_test=torch.from_numpy(np.ascontiguousarray(checked["y_test"])),
        n_classes=n_classes,
        name=p.name,
        class_names=names,
        meta=extra.get("meta", {}),
    )


def save_embeddings(
    path: str | os.PathLike,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    class_names: list[str] | tuple[str, ...] | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write an embedding file that ``load_embeddings`` reads (atomically: temp file + rename).

    The format follows the suffix (``.npz`` or ``.safetensors``); the arrays are validated
    first, so a file this writes always loads.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"path must end in .npz or .safetensors, got {str(path)!r}")
    arrays = {
        "X_train": np.asarray(X_train),
        "y_train": np.asarray(y_train),
        "X_test": np.asarray(X_test),
        "y_test": np.asarray(y_test),
    }
    checked, n_classes = _validate(arrays, f"embeddings for {str(path)!r}", None)
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"class_names must name each of the {n_classes} classes, got {len(class_names)}")
    meta_text = json.dumps(meta or {}, sort_keys=True)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        if suffix == ".npz":
            extra: dict[str, np.ndarray] = {"meta": np.array(meta_text)}
            if class_names is not None:
                extra["class_names"] = np.array([str(s) for s in class_names])
            with open(tmp, "wb") as fh:  # a handle: np.savez would append ".npz" to a bare name
                np.savez(fh, **checked, **extra)
        else:
            from safetensors.numpy import save_file

            header = {"meta": meta_text}
            if class_names is not None:
                header["class_names"] = json.dumps([str(s) for s in class_names])
            save_file({k: np.ascontiguousarray(v) for k, v in checked.items()}, str(tmp), metadata=header)
    return p


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (cached per process by path, size and mtime)."""
    import hashlib

    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


# --------------------------------------------------------------------------- digits


def load_digits_data(*, test_fraction: float = 0.2, seed: int = 0) -> EmbeddingData:
    """scikit-learn's digits as raw pixels ``X = pixels / 16`` in [0, 1], 64 features, 10 classes.

    Stratified split: within each class (rows in file order) a permutation from
    ``numpy.random.default_rng(seed)`` puts ``round(test_fraction * n_class)`` rows into the
    test set; both sets keep file order. Same seed, same split.
    """
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)):
        raise TypeError(f"test_fraction must be a float, got {type(test_fraction).__name__}")
    if not (0.0 < float(test_fraction) < 1.0) or not math.isfinite(test_fraction):
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    seed = check_int("seed", seed, 0)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = (bunch.data / 16.0).astype(np.float32)  # (1797, 64), pixel intensities 0..16
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(int(seed))
    is_test = np.zeros(y.size, dtype=bool)
    for c in range(10):
        rows = np.flatnonzero(y == c)
        n_test = int(round(float(test_fraction) * rows.size))
        if n_test < 1 or n_test >= rows.size:
            raise ValueError(f"test_fraction must leave at least one sample of each class on both sides, got {test_fraction}")
        is_test[rng.permutation(rows)[:n_test]] = True
    return EmbeddingData(
        X_train=torch.from_numpy(X[~is_test]),
        y_train=torch.from_numpy(y[~is_test]),
        X_test=torch.from_numpy(X[is_test]),
        y_test=torch.from_numpy(y[is_test]),
        n_classes=10,
        name="digits",
        class_names=tuple(str(c) for c in range(10)),
        meta={"source": "sklearn.datasets.load_digits", "scaling": "pixels / 16", "test_fraction": float(test_fraction), "seed": int(seed)},
    )
