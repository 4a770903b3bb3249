"""Old import path of ``run`` / ``run_many`` (``experiments.runner``) and of
``register_runner`` (``experiments.registry``), kept for existing code."""

from .experiments.registry import register_runner  # noqa: F401
from .experiments.runner import run, run_many  # noqa: F401

__all__ = ["run", "run_many", "register_runner"]
