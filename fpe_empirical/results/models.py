"""Saved networks: one folder per result, ``models.safetensors`` + ``result.json``.

``write_model_folder(folder, models, meta)`` writes the named models' state dicts (keys
``<name>/<param>``, safetensors: no pickle) and ``result.json``: ``meta`` plus each model's
architecture, the sha256 of the weights file (``models_sha256``) and of the JSON itself
(``sha256``). The folder is written as a whole (a temporary folder renamed into place), so a
kill leaves the old folder or the new one. ``read_model_folder`` checks both digests (a
damaged or edited folder is a ``ValueError``, a missing file a ``FileNotFoundError``) and
rebuilds the models. Folders live at ``<models root>/<config key>/``; beside a result store
the root is ``<store>/models`` (``fpe_common.paths.models_dir``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from fpe_common.atomic import atomic_dir
from fpe_common.checks import check_path

from ..nn.models import MLP

__all__ = ["write_model_folder", "read_model_folder", "architecture"]


def architecture(model: MLP) -> dict:
    """What ``MLP(...)`` needs to rebuild ``model``'s shape."""
    return {
        "in_features": model.in_features,
        "hidden": model.hidden,
        "out_features": model.out_features,
        "layernorm": model.layernorm,
        "bias": model.layers[0].bias is not None,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _meta_digest(meta: dict) -> str:
    body = {k: v for k, v in meta.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_model_folder(folder: str | os.PathLike, models: dict[str, MLP], meta: dict[str, Any]) -> Path:
    """Write ``models`` and ``meta`` (JSON-ready) to ``folder`` as a whole; return it."""
    from safetensors.torch import save_file

    folder = check_path("folder", folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"{name}/{k}": v.detach().cpu().contiguous().clone()
               for name, m in models.items() for k, v in m.state_dict().items()}
    meta = {**meta, "models": {name: architecture(m) for name, m in models.items()}}
    with atomic_dir(folder) as tmp:
        save_file(tensors, str(tmp / "models.safetensors"))
        # checked by read_model_folder: a damaged weights file (or one from another save) is refused
        meta["models_sha256"] = _sha256(tmp / "models.safetensors")
        meta["sha256"] = _meta_digest(meta)  # of everything else in result.json
        (tmp / "result.json").write_text(json.dumps(meta, indent=1))
    return folder


def read_model_folder(folder: str | os.PathLike) -> tuple[dict[str, Any], dict[str, MLP]]:
    """``(meta, {name: model})`` of a folder ``write_model_folder`` wrote (models in eval
    mode). Folders saved before the digests were recorded are read unchecked."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    d = check_path("directory", folder)
    try:
        meta = json.loads((d / "result.json").read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{d}/result.json is not a readable JSON result ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{d}/result.json does not hold a saved result")
    if "sha256" in meta and meta["sha256"] != _meta_digest(meta):
        raise ValueError(f"{d}/result.json does not match its sha256 (damaged or edited)")
    try:
        digest = meta.get("models_sha256")
        if digest is not None and digest != _sha256(d / "models.safetensors"):
            raise ValueError("models.safetensors does not match the sha256 recorded in result.json (damaged)")
        tensors = load_file(str(d / "models.safetensors"))
        models = {}
        for name, arch in meta["models"].items():
            with torch.random.fork_rng(devices=[]):
                m = MLP(arch["in_features"], arch["hidden"], arch["out_features"], layernorm=arch["layernorm"],
                        bias=arch["bias"])
            prefix = f"{name}/"
            m.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
            m.eval()
            models[name] = m
    except FileNotFoundError:
        raise
    except (SafetensorError, KeyError, TypeError, ValueError, AttributeError, RuntimeError, OSError) as exc:
        # RuntimeError: load_state_dict on missing or misshapen tensors
        raise ValueError(f"{d}: damaged or inconsistent saved result ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:300]})") from None
    return meta, models
