"""Where results live by default, shared by every command (``make run`` uses the same
layout): one result store, the figures and the claims ledger under ``results/``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["RESULTS_DIR", "STORE_DIR", "FIGURES_DIR", "VALIDATION_DIR", "validation_dir", "models_dir"]

#: the root of every default output
RESULTS_DIR = "results"
#: the result store (``fpe_empirical.ResultStore``) that figures and validation share
STORE_DIR = f"{RESULTS_DIR}/store"
#: ``python -m paper_figures`` output
FIGURES_DIR = f"{RESULTS_DIR}/figures"
#: ``python -m validation`` output, one folder per profile
VALIDATION_DIR = f"{RESULTS_DIR}/validation"


def validation_dir(profile: str) -> str:
    """``results/validation/<profile>``: the default output of ``python -m validation``."""
    return os.path.join(VALIDATION_DIR, profile)


def models_dir(store: str | os.PathLike) -> Path:
    """``<store>/models``: saved networks beside a result store, one folder per config key."""
    return Path(getattr(store, "root", store)) / "models"
