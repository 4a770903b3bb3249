"""Provenance of a stored result: where, when and with what it was made."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["provenance", "utc_now"]

_PACKAGES = ("fpe-toolkit", "torch", "numpy", "pandas", "scipy", "numba")


@lru_cache(maxsize=1)
def _git_state() -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout this package runs from, or (None, None)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return commit.stdout.strip(), dirty
    except (OSError, subprocess.SubprocessError):
        return None, None


@lru_cache(maxsize=1)
def _package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def provenance(*, seed: int | None = None, duration_s: float | None = None, **extra: Any) -> dict[str, Any]:
    """Where and how a result was made: seed, package versions, git commit, host, time.

    ``duration_s`` is the wall time attributed to the run; ``extra`` adds fields (e.g. the
    backend, how many runs shared a batch). Values must be JSON-like.
    """
    commit, dirty = _git_state()
    out: dict[str, Any] = {
        "seed": seed,
        "finished_utc": utc_now(),
        "duration_s": duration_s,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": dict(_package_versions()),
        "git_commit": commit,
        "git_dirty": dirty,
    }
    try:
        import torch

        out["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    out.update(extra)
    return out
