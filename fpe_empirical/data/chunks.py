"""The resumable chunk cache of the embedding extractions (CLIP images: ``data.clip``;
MiniLM texts: ``data.minilm``).

A cache folder holds ``manifest.json`` (the settings: a cache made with other settings is
refused) and one ``.npy`` file per finished chunk, each written atomically (temp file +
rename) as soon as it is done, so a killed run loses at most the chunk in flight and the
same command resumes. A chunk file that does not load or has the wrong shape counts as
missing (it is recomputed). The extraction functions return None when ``max_chunks`` new
chunks were computed and work remains; their CLIs exit 3 then (``cli_result``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from fpe_common.atomic import atomic_path, atomic_write

__all__ = ["open_cache", "load_chunk", "save_chunk", "cli_result", "INTERRUPTED"]

#: the CLIs' message on Ctrl-C (``run_main(..., interrupted=INTERRUPTED)``)
INTERRUPTED = "interrupted: finished chunks are cached; run the same command again to resume"


def open_cache(cache_dir: Path, manifest: dict, refused: str) -> None:
    """Create ``cache_dir`` and write ``manifest.json`` there, or check the one it holds:
    a different (or unreadable) manifest is ``ValueError(refused)``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    mpath = cache_dir / "manifest.json"
    if mpath.is_file():
        try:
            old = json.loads(mpath.read_text())
        except json.JSONDecodeError:
            old = None
        if old != manifest:
            raise ValueError(refused)
    else:
        atomic_write(mpath, json.dumps(manifest, indent=1, sort_keys=True))


def load_chunk(path: Path, rows: int, dim: int | None = None, *, warn: bool = False) -> np.ndarray | None:
    """A finished chunk ``(rows, dim)`` of finite values, or None if it is missing or unusable
    (then it is recomputed; ``warn``: say why on stderr)."""
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        if warn:
            print(f"embed: chunk {path.name} is unreadable; recomputing it", file=sys.stderr)
        return None
    if arr.ndim != 2 or arr.shape[0] != rows or (dim is not None and arr.shape[1] != dim) or not np.isfinite(arr).all():
        if warn:
            print(f"embed: chunk {path.name} has shape {arr.shape} (expected {rows} rows) or non-finite values; "
                  "recomputing it", file=sys.stderr)
        return None
    return arr


def save_chunk(path: Path, arr: np.ndarray) -> None:
    """Write ``arr`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:  # a handle: np.save would append ".npy"
        np.save(fh, arr)


def cli_result(out: Path | None) -> int:
    """A CLI's exit code for an extraction's result: 0 (``wrote OUT``), or 3 when it stopped
    at ``--max-chunks`` (one line on stderr: run the same command again)."""
    if out is None:
        print("stopped after --max-chunks new chunks; run the same command again to resume", file=sys.stderr)
        return 3
    print(f"wrote {out}")
    return 0
