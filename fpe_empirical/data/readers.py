"""Raw image data sets as arrays or image files, read without torchvision (``python -m
fpe_empirical.embed`` embeds them; ``data.clip``).

- ``cifar100``: ``cifar-100-python.tar.gz`` (or its extracted ``cifar-100-python/`` folder)
  from https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz; 50,000 train and 10,000
  test images, fine labels (100 classes). Its files are Python pickles: they are read by a
  restricted unpickler that resolves only NumPy's array reconstruction functions and
  ``_codecs.encode``; anything else in the stream is refused, never executed.
- ``fashionmnist``: a folder with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``), from
  http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/.
- ``imagenet`` / ``imagenet100``: a folder with ``train/`` and ``val/``, each holding one
  sub-folder per class (the usual ImageFolder layout; the validation set must be sorted into
  class folders). Classes are the sorted sub-folders of ``train/``. ``imagenet100`` keeps a
  seeded random choice of ``n_classes`` (100) classes (``numpy.random.default_rng(
  class_seed)``), relabelled ``0..99`` in sorted order.

``dataset_splits`` turns any of them into a train and a test ``Split``: labels, a loader of
image ranges and a digest of the items' identities (the extraction cache checks it). A
missing data set is a ``DataMissingError`` saying what to fetch and where to put it.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DATASETS",
    "DataMissingError",
    "Split",
    "dataset_splits",
    "read_cifar100",
    "read_idx",
    "read_fashionmnist",
    "image_folder",
    "choose_classes",
    "digest",
]

DATASETS = ("cifar100", "fashionmnist", "imagenet", "imagenet100")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class DataMissingError(ValueError):
    """A data set or model is not where it was looked for (the message says what to fetch)."""


# --------------------------------------------------------------------------- CIFAR-100


def _np_reconstruct():
    core = getattr(np, "_core", None)  # NumPy 2 (numpy.core is a deprecated alias there)
    if core is None:  # pragma: no cover - NumPy 1.x
        core = np.core
    return core.multiarray._reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """Resolves only what a pickled dict of NumPy arrays and lists needs; refuses the rest."""

    def find_class(self, module: str, name: str):
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
            ("numpy", "ndarray"): lambda: np.ndarray,
            ("numpy", "dtype"): lambda: np.dtype,
            ("_codecs", "encode"): lambda: codecs.encode,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]()
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}: not part of a CIFAR-100 file")


def _unpickle_arrays(blob: bytes, where: str) -> dict:
    try:
        obj = _ArrayUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{where}: not a CIFAR-100 pickle ({exc})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a pickled dict, got {type(obj).__name__}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _cifar_members(path: Path) -> Callable[[str], bytes]:
    """A reader ``name -> bytes`` for ``train``, ``test``, ``meta`` of the archive or folder."""
    if path.is_file():
        try:
            tar = tarfile.open(path, "r:*")
        except (tarfile.TarError, OSError) as exc:
            raise ValueError(f"--data {str(path)!r} is not a readable tar archive ({exc})") from None
        names = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}

        def read(name: str) -> bytes:
            if name not in names:
                raise ValueError(f"--data {str(path)!r}: the archive has no cifar-100-python/{name}")
            fh = tar.extractfile(names[name])
            assert fh is not None
            return fh.read()

        return read
    folder = path / "cifar-100-python" if (path / "cifar-100-python").is_dir() else path

    def read_file(name: str) -> bytes:
        f = folder / name
        if not f.is_file():
            raise DataMissingError(f"CIFAR-100 file {str(f)!r} not found: fetch {CIFAR_URL} and pass the .tar.gz or its extracted folder as --data")
        return f.read_bytes()

    return read_file


def read_cifar100(path: str | os.PathLike) -> dict[str, Any]:
    """CIFAR-100 python version: ``{"train": (images, labels), "test": (...), "classes": [...]}``.

    images: (n, 32, 32, 3) uint8; labels: (n,) int64 fine labels; classes: the 100 fine label
    names. ``path`` is ``cifar-100-python.tar.gz`` or the extracted folder. The pickles are
    read with a restricted unpickler (module docstring).
    """
    p = Path(path)
    if not p.exists():
        raise DataMissingError(
            f"CIFAR-100 not found at {str(p)!r}: fetch {CIFAR_URL} and pass the .tar.gz (or its extracted folder) as --data"
        )
    read = _cifar_members(p)
    out: dict[str, Any] = {}
    for split in ("train", "test"):
        d = _unpickle_arrays(read(split), f"CIFAR-100 {split}")
        if "data" not in d or "fine_labels" not in d:
            raise ValueError(f"CIFAR-100 {split}: missing 'data' or 'fine_labels'")
        data = np.asarray(d["data"])
        labels = np.asarray(d["fine_labels"], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
            raise ValueError(f"CIFAR-100 {split}: expected uint8 data (n, 3072) and n labels, got {data.dtype} {data.shape}, {labels.shape}")
        out[split] = (data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels)
    meta = _unpickle_arrays(read("meta"), "CIFAR-100 meta")
    names = meta.get("fine_label_names")
    if names is None:
        raise ValueError("CIFAR-100 meta: missing 'fine_label_names'")
    out["classes"] = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return out


# --------------------------------------------------------------------------- FashionMNIST


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (optionally gzipped) as a NumPy array: unsigned-byte data only (MNIST-style).

    Header: two zero bytes, type code 0x08 (ubyte), the number of dimensions, then each
    dimension as a big-endian uint32.
    """
    p = Path(path)
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"IDX file {str(p)!r}: broken gzip stream ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"IDX file {str(p)!r}: bad magic number")
    if raw[2] != 0x08:
        raise ValueError(f"IDX file {str(p)!r}: only unsigned-byte data (type 0x08) is supported, got 0x{raw[2]:02x}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"IDX file {str(p)!r}: truncated header")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"IDX file {str(p)!r}: {body.size} data bytes for dimensions {dims}")
    return body.reshape(dims).copy()


def _find_idx(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataMissingError(
        f"FashionMNIST file {stem}(.gz) not found in {str(folder)!r}: fetch it from {FASHION_URL}{stem}.gz into that folder"
    )


def read_fashionmnist(folder: str | os.PathLike) -> dict[str, Any]:
    """FashionMNIST IDX files: ``{"train": (images (n, 28, 28) uint8, labels int64), "test": ..., "classes"}``."""
    f = Path(folder)
    if not f.is_dir():
        raise DataMissingError(
            f"FashionMNIST folder {str(f)!r} not found: fetch the four IDX files from {FASHION_URL} into one folder, pass it as --data"
        )
    out: dict[str, Any] = {"classes": list(FASHION_CLASSES)}
    for split, (img_stem, lab_stem) in FASHION_FILES.items():
        images = read_idx(_find_idx(f, img_stem))
        labels = read_idx(_find_idx(f, lab_stem)).astype(np.int64)
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"FashionMNIST {split}: images {images.shape} and labels {labels.shape} do not match")
        out[split] = (images, labels)
    return out


# --------------------------------------------------------------------------- image folders


def choose_classes(classes: Sequence[str], n_classes: int, seed: int) -> list[str]:
    """A seeded random choice of ``n_classes`` of ``classes`` (sorted): ImageNet-100 from ImageNet-1k."""
    if n_classes > len(classes):
        raise ValueError(f"n_classes must be <= the {len(classes)} classes found, got {n_classes}")
    rng = np.random.default_rng(int(seed))
    pick = rng.choice(len(classes), size=n_classes, replace=False)
    return sorted(classes[i] for i in pick)


def image_folder(
    root: str | os.PathLike,
    split: str,
    classes: Sequence[str],
    *,
    max_per_class: int | None = None,
    seed: int = 0,
) -> tuple[list[Path], np.ndarray]:
    """Image paths and labels of ``root/split/<class>/*`` for the given classes (label = position).

    Files with an image suffix, sorted; ``max_per_class`` keeps a seeded random subset of each
    class (sorted again).
    """
    base = Path(root) / split
    paths: list[Path] = []
    labels: list[int] = []
    rng = np.random.default_rng([int(seed), 1])
    for label, name in enumerate(classes):
        d = base / name
        if not d.is_dir():
            raise DataMissingError(f"class folder {str(d)!r} not found: {split}/ must hold one folder per class, like train/")
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise ValueError(f"class folder {str(d)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        if max_per_class is not None and len(files) > max_per_class:
            keep = np.sort(rng.choice(len(files), size=max_per_class, replace=False))
            files = [files[i] for i in keep]
        paths.extend(files)
        labels.extend([label] * len(files))
    return paths, np.asarray(labels, dtype=np.int64)


def _imagenet_classes(root: Path) -> list[str]:
    train = root / "train"
    if not train.is_dir() or not (root / "val").is_dir():
        raise DataMissingError(
            f"ImageNet folder {str(root)!r} must contain train/ and val/ with one sub-folder per class "
            "(download from https://image-net.org/download.php, sort val/ into class folders)"
        )
    classes = sorted(p.name for p in train.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ValueError(f"{str(train)!r} must hold at least 2 class folders, found {len(classes)}")
    return classes


# --------------------------------------------------------------------------- sources


@dataclass
class Split:
    """One split to embed: ``n`` items, their labels, ``load(i0, i1)`` -> list of images."""

    name: str
    labels: np.ndarray
    load: Callable[[int, int], list]
    ids: str  # digest of the item identities (for the cache manifest)

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])


def digest(*parts: Any) -> str:
    """16 hex digits of sha256 over ``parts`` (arrays by their bytes, anything else by ``str``)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _array_split(name: str, images: np.ndarray, labels: np.ndarray, max_per_class: int | None, seed: int) -> Split:
    idx = np.arange(labels.size)
    if max_per_class is not None:
        rng = np.random.default_rng([int(seed), 2, 0 if name == "train" else 1])
        keep = []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            keep.append(np.sort(rng.choice(rows, size=min(max_per_class, rows.size), replace=False)))
        idx = np.sort(np.concatenate(keep))
    return Split(name, labels[idx], lambda i0, i1: [images[j] for j in idx[i0:i1]], digest(name, images[idx[:64]], idx, labels[idx]))


def _open_images(paths: list[Path]) -> list:
    from PIL import Image

    out = []
    for p in paths:
        with Image.open(p) as img:
            out.append(img.convert("RGB"))
    return out


def dataset_splits(dataset: str, data: Path, *, n_classes: int | None, class_seed: int,
                   max_per_class: int | None) -> tuple[list[Split], list[str], dict]:
    """The train and test ``Split`` of ``dataset`` read from ``data``, the class names, and
    extra metadata (the class seed of ``imagenet100``)."""
    extra: dict[str, Any] = {}
    if dataset == "cifar100":
        d = read_cifar100(data)
        splits = [_array_split(s, *d[s], max_per_class, class_seed) for s in ("train", "test")]
        return splits, d["classes"], extra
    if dataset == "fashionmnist":
        d = read_fashionmnist(data)
        splits = [_array_split(s, *d[s], max_per_class, class_seed) for s in ("train", "test")]
        return splits, d["classes"], extra
    classes = _imagenet_classes(data)
    if dataset == "imagenet100":
        k = 100 if n_classes is None else n_classes
        classes = choose_classes(classes, k, class_seed)
        extra["class_seed"] = class_seed
    elif n_classes is not None:
        raise ValueError("--n-classes applies to imagenet100 only")
    splits = []
    for name, folder in (("train", "train"), ("test", "val")):
        paths, labels = image_folder(data, folder, classes, max_per_class=max_per_class, seed=class_seed)
        rel = [str(p.relative_to(data)) for p in paths]
        splits.append(Split(name, labels, lambda i0, i1, paths=paths: _open_images(paths[i0:i1]), digest(name, *rel)))
    return splits, classes, extra
