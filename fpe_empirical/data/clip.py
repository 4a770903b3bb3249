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

Datasets (``--data``): CIFAR-100, FashionMNIST, ImageNet / ImageNet-100 image folders, read by
``data.readers`` (its docstring says what each needs). For ``imagenet100`` the chosen class
list is also written to ``OUT.classes.json`` and to the file's ``class_names``.

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

import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fpe_common.atomic import atomic_write
from fpe_common.checks import check_int
from fpe_common.cli import OneLineArgumentParser, run_main

from .chunks import INTERRUPTED, cli_result, load_chunk, open_cache, save_chunk
from .embeddings import save_embeddings
from .readers import DATASETS, DataMissingError, dataset_splits, digest

__all__ = [
    "extract_embeddings",
    "clip_preprocess",
    "load_clip_vision",
    "CLIP_MEAN",
    "CLIP_STD",
    "DEFAULT_MODEL",
    "DATASETS",
    "PREPROCESS_VERSION",
    "main",
]

DEFAULT_MODEL = "openai/clip-vit-base-patch16"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: bumped when preprocessing or the cache layout changes (part of the cache manifest)
PREPROCESS_VERSION = 1


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


def _chunk_path(cache: Path, split: str, k: int) -> Path:
    return cache / f"{split}-{k:06d}.npy"


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
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
    if features not in ("clip", "pixels"):
        raise ValueError(f"features must be 'clip' or 'pixels', got {features!r}")
    if features == "pixels" and dataset.startswith("imagenet"):
        raise ValueError("features='pixels' needs same-sized images: use it with cifar100 or fashionmnist")
    if features == "pixels" and normalize:
        raise ValueError("normalize applies to features='clip' only")
    check_int("batch_size", batch_size, 1)
    check_int("chunk_size", chunk_size, 1)
    check_int("class_seed", class_seed, 0)
    if n_classes is not None:
        check_int("n_classes", n_classes, 2)
    if max_per_class is not None:
        check_int("max_per_class", max_per_class, 1)
    if max_chunks is not None:
        check_int("max_chunks", max_chunks, 0)
    out = Path(out)
    if out.suffix.lower() not in (".npz", ".safetensors"):
        raise ValueError(f"out must end in .npz or .safetensors, got {str(out)!r}")
    data = Path(data)
    splits, classes, extra = dataset_splits(dataset, data, n_classes=n_classes, class_seed=class_seed, max_per_class=max_per_class)

    net = None
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if features == "clip":
        net = load_clip_vision(model, offline=offline, device=device)
        size = int(net.config.image_size)
        # a cheap fingerprint of the weights, so a cache made with other weights is refused
        weights = digest(*(float(t.detach().double().sum()) for t in net.state_dict().values()))
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
    open_cache(cache_dir, manifest,
               f"cache {str(cache_dir)!r} was made with other settings or data; remove it or pass another --cache")

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
            arr = load_chunk(path, i1 - i0, dim, warn=True)
            if arr is None:
                if max_chunks is not None and new_chunks >= max_chunks:
                    bar.close()
                    return None
                arr = embed(split.load(i0, i1))
                save_chunk(path, arr)
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
            arr = load_chunk(_chunk_path(cache_dir, split.name, k), rows, dim, warn=True)
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
        atomic_write(out.with_name(out.name + ".classes.json"), json.dumps({"class_seed": class_seed, "classes": classes}, indent=1))
    if not keep_cache:
        shutil.rmtree(cache_dir, ignore_errors=True)
    return out


# --------------------------------------------------------------------------- CLI


PROG = "python -m fpe_empirical.embed"


def _parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(prog=PROG, description="Extract CLIP image embeddings (or raw pixels) into an embedding file.")
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


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    options = ("model", "features", "batch_size", "chunk_size", "cache", "keep_cache", "device", "normalize",
               "n_classes", "class_seed", "max_per_class", "max_chunks", "offline")
    return cli_result(extract_embeddings(args.dataset, args.data, args.out, **{k: getattr(args, k) for k in options},
                                         progress=args.progress or sys.stderr.isatty()))


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point. Exit codes: 0 done, 2 bad input or missing data/model (one line on
    stderr), 3 stopped by --max-chunks (resume with the same command), 130 interrupted
    (resume likewise)."""
    return run_main(_main, argv, prog=PROG, interrupted=INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
