"""Extract CLIP image embeddings (or raw pixels) into an embedding file: ``python -m fpe_empirical.embed``.

    python -m fpe_empirical.embed cifar100 --data cifar-100-python.tar.gz --out cifar100_clip.npz
    python -m fpe_empirical.embed fashionmnist --data fashion/ --features pixels --out fmnist.npz
    python -m fpe_empirical.embed imagenet100 --data /data/imagenet --out in100.safetensors

Features (``--features``):

- ``clip`` (default): ``CLIPVisionModelWithProjection(...)(pixel_values).image_embeds`` of
  Hugging Face transformers, model ``openai/clip-vit-base-patch16`` (the paper's ViT-B/16):
  the *projected* image embedding, the same vector as ``CLIPModel.get_image_features``
  (512-d for ViT-B/16). Stored **unnormalised** unless ``--normalize`` (then each row is
  divided by its L2 norm); the file's ``meta`` records which.
- ``pixels``: raw flattened pixels / 255 (``C*H*W`` order, grayscale kept single-channel),
  the paper's FashionMNIST setting; CIFAR-100 and FashionMNIST only.

Preprocessing is done here with PIL + NumPy (no torchvision, whose wheels do not match the
CPU torch build used here), identical to transformers' ``CLIPImageProcessor``: convert to
RGB; resize so the shorter side is ``S`` (``S`` = the model's ``image_size``, 224), the longer
``int(S * long / short)``, PIL bicubic; center crop ``S x S`` (offsets ``(h - S) // 2``,
``(w - S) // 2``); scale to [0, 1]; normalise with CLIP's mean and std (``CLIP_MEAN``,
``CLIP_STD``). Tested against ``CLIPImageProcessor(Pil)`` where transformers provides it.

Datasets (``--data``):

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
  seeded random choice of ``--n-classes`` (100) classes (``numpy.random.default_rng(
  --class-seed)``), relabelled ``0..99`` in sorted order; the chosen list is written to
  ``OUT.classes.json`` and to the file's ``class_names``.

Resumable cache. Embeddings are computed in chunks of ``--chunk-size`` images; each chunk is
written to ``--cache`` (default ``OUT.cache/``) atomically (temp file + rename) as soon as it
is done, with a ``manifest.json`` of the settings (a cache made with other settings is
refused). Re-running the same command skips finished chunks, so a kill loses at most the
chunk in flight; a chunk file that does not load or has the wrong shape is recomputed. The
output is written atomically at the end and the cache removed (``--keep-cache`` keeps it).

Offline. Nothing is downloaded unless the model is missing from the Hugging Face cache and the
machine is online (``--offline`` or ``HF_HUB_OFFLINE=1`` forbid it). A missing model or data
set exits with code 2 and one line saying what to fetch and where to put it.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import sys
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "extract_embeddings",
    "clip_preprocess",
    "read_cifar100",
    "read_idx",
    "read_fashionmnist",
    "image_folder",
    "choose_classes",
    "load_clip_vision",
    "CLIP_MEAN",
    "CLIP_STD",
    "DEFAULT_MODEL",
    "DATASETS",
    "main",
]

DEFAULT_MODEL = "openai/clip-vit-base-patch16"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DATASETS = ("cifar100", "fashionmnist", "imagenet", "imagenet100")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
#: bumped when preprocessing or the cache layout changes (part of the cache manifest)
PREPROCESS_VERSION = 1


class DataMissingError(ValueError):
    """A data set or model is not where it was looked for (the message says what to fetch)."""


# --------------------------------------------------------------------------- preprocessing


def clip_preprocess(images: Sequence[Any], size: int = 224) -> np.ndarray:
    """CLIP preprocessing of ``images`` (PIL images or uint8 arrays HxW / HxWx3): (B, 3, size, size) float32.

    ``x = (crop(resize_bicubic(rgb, shorter side = size)) / 255 - CLIP_MEAN) / CLIP_STD``
    (module docstring for the exact rule; matches transformers' ``CLIPImageProcessor``).
    """
    from PIL import Image

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    mean = np.asarray(CLIP_MEAN, dtype=np.float64)[:, None, None]
    std = np.asarray(CLIP_STD, dtype=np.float64)[:, None, None]
    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, image in enumerate(images):
        img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
        img = img.convert("RGB")
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(size * long / short)
        new_w, new_h = (size, new_long) if w <= h else (new_long, size)
        img = img.resize((new_w, new_h), resample=Image.BICUBIC)
        arr = np.asarray(img)  # (H, W, 3) uint8
        top, left = (new_h - size) // 2, (new_w - size) // 2
        arr = arr[top : top + size, left : left + size].transpose(2, 0, 1).astype(np.float64) / 255.0
        out[i] = (arr - mean) / std
    return out


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
class _Split:
    """One split to embed: ``n`` items, their labels, ``load(i0, i1)`` -> list of images."""

    name: str
    labels: np.ndarray
    load: Callable[[int, int], list]
    ids: str  # digest of the item identities (for the cache manifest)

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _array_split(name: str, images: np.ndarray, labels: np.ndarray, max_per_class: int | None, seed: int) -> _Split:
    idx = np.arange(labels.size)
    if max_per_class is not None:
        rng = np.random.default_rng([int(seed), 2, 0 if name == "train" else 1])
        keep = []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            keep.append(np.sort(rng.choice(rows, size=min(max_per_class, rows.size), replace=False)))
        idx = np.sort(np.concatenate(keep))
    return _Split(name, labels[idx], lambda i0, i1: [images[j] for j in idx[i0:i1]], _digest(name, images[idx[:64]], idx, labels[idx]))


def _open_images(paths: list[Path]) -> list:
    from PIL import Image

    out = []
    for p in paths:
        with Image.open(p) as img:
            out.append(img.convert("RGB"))
    return out


def _sources(dataset: str, data: Path, *, n_classes: int | None, class_seed: int, max_per_class: int | None) -> tuple[list[_Split], list[str], dict]:
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
        splits.append(_Split(name, labels, lambda i0, i1, paths=paths: _open_images(paths[i0:i1]), _digest(name, *rel)))
    return splits, classes, extra


# --------------------------------------------------------------------------- model


def load_clip_vision(model: str, *, offline: bool = False, device: str = "cpu"):
    """``CLIPVisionModelWithProjection.from_pretrained(model)`` in eval mode on ``device``.

    ``model`` is a Hugging Face id (looked up in the HF cache, downloaded only when online and
    not ``offline``) or a local folder. A model that cannot be loaded is a ``DataMissingError``
    saying what to fetch.
    """
    try:
        from transformers import CLIPVisionModelWithProjection
    except ImportError:
        raise DataMissingError("CLIP extraction needs transformers and pillow: pip install 'fpe-toolkit[clip]'") from None
    offline = offline or os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")
    try:
        net = CLIPVisionModelWithProjection.from_pretrained(model, local_files_only=offline)
    except Exception as exc:  # noqa: BLE001 - hub/IO errors come in many classes; all mean "not available"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataMissingError(
            f"cannot load CLIP model {model!r} ({first[:160]}): on a machine with internet run "
            f"`huggingface-cli download {model}` (or `python -c \"from transformers import CLIPModel; "
            f"CLIPModel.from_pretrained('{model}')\"`), then copy the Hugging Face cache here and point "
            "HF_HOME (or HF_HUB_CACHE) at it, or pass --model /path/to/a/saved/model"
        ) from None
    net.eval()
    return net.to(device)


# --------------------------------------------------------------------------- extraction


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return value


def _chunk_path(cache: Path, split: str, k: int) -> Path:
    return cache / f"{split}-{k:06d}.npy"


def _load_chunk(path: Path, rows: int, dim: int | None) -> np.ndarray | None:
    """A finished chunk, or None if it is missing or unusable (then it is recomputed)."""
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        print(f"embed: chunk {path.name} is unreadable; recomputing it", file=sys.stderr)
        return None
    if arr.ndim != 2 or arr.shape[0] != rows or (dim is not None and arr.shape[1] != dim) or not np.isfinite(arr).all():
        print(f"embed: chunk {path.name} has shape {arr.shape} (expected {rows} rows) or non-finite values; recomputing it", file=sys.stderr)
        return None
    return arr


def _save_atomic_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def extract_embeddings(
    dataset: str,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    model: str = DEFAULT_MODEL,
    features: str = "clip",
    batch_size: int = 64,
    chunk_size: int = 2048,
    cache: str | os.PathLike | None = None,
    keep_cache: bool = False,
    device: str | None = None,
    normalize: bool = False,
    n_classes: int | None = None,
    class_seed: int = 0,
    max_per_class: int | None = None,
    max_chunks: int | None = None,
    offline: bool = False,
    progress: bool = False,
) -> Path | None:
    """Embed ``dataset``'s train and test images into ``out`` (``.npz`` / ``.safetensors``).

    Returns the output path, or None when ``max_chunks`` new chunks were computed and work
    remains (call again to resume: finished chunks are kept in ``cache``). See the module
    docstring for the datasets, preprocessing, features and cache.
    """
    from .embeddings import save_embeddings

    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
    if features not in ("clip", "pixels"):
        raise ValueError(f"features must be 'clip' or 'pixels', got {features!r}")
    if features == "pixels" and dataset.startswith("imagenet"):
        raise ValueError("features='pixels' needs same-sized images: use it with cifar100 or fashionmnist")
    if features == "pixels" and normalize:
        raise ValueError("normalize applies to features='clip' only")
    _check_int("batch_size", batch_size, 1)
    _check_int("chunk_size", chunk_size, 1)
    _check_int("class_seed", class_seed, 0)
    if n_classes is not None:
        _check_int("n_classes", n_classes, 2)
    if max_per_class is not None:
        _check_int("max_per_class", max_per_class, 1)
    if max_chunks is not None:
        _check_int("max_chunks", max_chunks, 0)
    out = Path(out)
    if out.suffix.lower() not in (".npz", ".safetensors"):
        raise ValueError(f"out must end in .npz or .safetensors, got {str(out)!r}")
    data = Path(data)
    splits, classes, extra = _sources(dataset, data, n_classes=n_classes, class_seed=class_seed, max_per_class=max_per_class)

    net = None
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if features == "clip":
        net = load_clip_vision(model, offline=offline, device=device)
        size = int(net.config.image_size)
        # a cheap fingerprint of the weights, so a cache made with other weights is refused
        weights = _digest(*(float(t.detach().double().sum()) for t in net.state_dict().values()))
        model_desc = {"model": model, "image_size": size, "projection_dim": int(net.config.projection_dim), "weights": weights}
    else:
        model_desc = {}
        size = 0

    cache_dir = Path(cache) if cache is not None else out.with_name(out.name + ".cache")
    manifest = {
        "dataset": dataset,
        "features": features,
        "normalize": bool(normalize),
        "chunk_size": chunk_size,
        "preprocess_version": PREPROCESS_VERSION,
        "splits": {s.name: {"n": s.n, "ids": s.ids} for s in splits},
        **model_desc,
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    mpath = cache_dir / "manifest.json"
    if mpath.is_file():
        try:
            old = json.loads(mpath.read_text())
        except json.JSONDecodeError:
            old = None
        if old != manifest:
            raise ValueError(
                f"cache {str(cache_dir)!r} was made with other settings or data; remove it or pass another --cache"
            )
    else:
        tmp = mpath.with_name(f".manifest.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, mpath)

    def embed(images: list) -> np.ndarray:
        if net is None:  # raw pixels / 255, channels first
            arr = np.stack([np.asarray(im, dtype=np.uint8) for im in images])
            if arr.ndim == 4:
                arr = arr.transpose(0, 3, 1, 2)
            return (arr.reshape(arr.shape[0], -1) / 255.0).astype(np.float32)
        rows = []
        for b in range(0, len(images), batch_size):
            x = torch.from_numpy(clip_preprocess(images[b : b + batch_size], size)).to(device)
            with torch.inference_mode():
                e = net(pixel_values=x).image_embeds.float()
            if normalize:
                e = e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            rows.append(e.cpu().numpy())
        return np.concatenate(rows).astype(np.float32)

    from tqdm.auto import tqdm

    new_chunks = 0
    dim: int | None = None
    for split in splits:
        n_chunks = -(-split.n // chunk_size)
        done = [k for k in range(n_chunks) if _chunk_path(cache_dir, split.name, k).is_file()]
        bar = tqdm(
            total=split.n,
            initial=sum(min(chunk_size, split.n - k * chunk_size) for k in done),
            desc=f"embed {dataset} {split.name}",
            unit="img",
            disable=not progress,
            leave=False,
        )
        for k in range(n_chunks):
            i0, i1 = k * chunk_size, min((k + 1) * chunk_size, split.n)
            path = _chunk_path(cache_dir, split.name, k)
            arr = _load_chunk(path, i1 - i0, dim)
            if arr is None:
                if max_chunks is not None and new_chunks >= max_chunks:
                    bar.close()
                    return None
                arr = embed(split.load(i0, i1))
                _save_atomic_npy(path, arr)
                new_chunks += 1
                bar.update(i1 - i0)
            dim = arr.shape[1]
        bar.close()
    arrays = {}
    for split in splits:
        n_chunks = -(-split.n // chunk_size)
        parts = []
        for k in range(n_chunks):
            rows = min(chunk_size, split.n - k * chunk_size)
            arr = _load_chunk(_chunk_path(cache_dir, split.name, k), rows, dim)
            if arr is None:  # pragma: no cover - the cache changed under us
                raise ValueError(f"cache chunk {split.name}-{k} disappeared or broke during assembly; run again")
            parts.append(arr)
        arrays[f"X_{split.name}"] = np.concatenate(parts)
        arrays[f"y_{split.name}"] = split.labels
    meta = {
        "dataset": dataset,
        "features": features,
        "normalized": bool(normalize),
        "preprocessing": (
            f"PIL bicubic resize shorter side to {size}, center crop {size}x{size}, /255, CLIP mean/std" if features == "clip" else "pixels / 255"
        ),
        "max_per_class": max_per_class,
        **model_desc,
        **extra,
    }
    if features == "clip":
        meta["embedding"] = "CLIPVisionModelWithProjection image_embeds (projected" + (", L2-normalised)" if normalize else ", unnormalised)")
    save_embeddings(out, arrays["X_train"], arrays["y_train"], arrays["X_test"], arrays["y_test"], class_names=classes, meta=meta)
    if dataset == "imagenet100":
        tmp = out.with_name(f".{out.name}.classes.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"class_seed": class_seed, "classes": classes}, indent=1))
        os.replace(tmp, out.with_name(out.name + ".classes.json"))
    if not keep_cache:
        shutil.rmtree(cache_dir, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- CLI


def _parser():
    import argparse

    class _P(argparse.ArgumentParser):
        def error(self, message):  # one line on stderr, exit 2
            print(f"{self.prog}: error: {message}", file=sys.stderr)
            raise SystemExit(2)

    p = _P(prog="python -m fpe_empirical.embed", description="Extract CLIP image embeddings (or raw pixels) into an embedding file.")
    p.add_argument("dataset", choices=DATASETS)
    p.add_argument("--data", required=True, help="CIFAR-100 archive/folder, FashionMNIST IDX folder, or ImageNet root (train/, val/)")
    p.add_argument("--out", required=True, help="output file (.npz or .safetensors)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="Hugging Face model id or local folder (default %(default)s)")
    p.add_argument("--features", choices=("clip", "pixels"), default="clip")
    p.add_argument("--normalize", action="store_true", help="L2-normalise each CLIP embedding (default: raw image_embeds)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--chunk-size", type=int, default=2048, help="images per cached chunk (a kill loses at most one)")
    p.add_argument("--cache", help="chunk cache folder (default OUT.cache)")
    p.add_argument("--keep-cache", action="store_true")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--n-classes", type=int, help="imagenet100: number of classes to draw (default 100)")
    p.add_argument("--class-seed", type=int, default=0, help="seed of the class choice and of --max-per-class subsets")
    p.add_argument("--max-per-class", type=int, help="keep at most this many images per class and split (seeded)")
    p.add_argument("--max-chunks", type=int, help="compute at most this many new chunks, then stop (resume later)")
    p.add_argument("--offline", action="store_true", help="never download (like HF_HUB_OFFLINE=1)")
    p.add_argument("--progress", action="store_true", help="progress bar even when stderr is not a TTY")
    return p


def main(argv: list[str] | None = None) -> int:
    """CLI entry point. Exit codes: 0 done, 2 bad input or missing data/model, 3 stopped by
    --max-chunks (resume with the same command), 130 interrupted (resume likewise)."""
    args = _parser().parse_args(argv)
    try:
        out = extract_embeddings(
            args.dataset,
            args.data,
            args.out,
            model=args.model,
            features=args.features,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
            cache=args.cache,
            keep_cache=args.keep_cache,
            device=args.device,
            normalize=args.normalize,
            n_classes=args.n_classes,
            class_seed=args.class_seed,
            max_per_class=args.max_per_class,
            max_chunks=args.max_chunks,
            offline=args.offline,
            progress=args.progress or sys.stderr.isatty(),
        )
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)  # one line (tarfile errors span several)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished chunks are cached; run the same command again to resume", file=sys.stderr)
        return 130
    if out is None:
        print("stopped after --max-chunks new chunks; run the same command again to resume", file=sys.stderr)
        return 3
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
