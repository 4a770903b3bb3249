"""paper_figures: regenerate every figure and table of the paper (``python -m paper_figures``).

One script per figure or table (``FIGURE_MODULES``, in drawing order). Each script only
reads the result store and writes PNG + PDF + CSV (figures) or CSV + Markdown (tables)
whose file names start with the figure id. ``python -m paper_figures`` first runs the
experiments the selected figures need and the store lacks (``fpe_empirical.profiles``:
the same configs ``validation`` uses), then draws. See ``paper_figures/__main__.py``.
"""

from __future__ import annotations

#: figure scripts (modules of this package), in the order they are drawn
FIGURE_MODULES = (
    "theory_coverage",
    "theory_collisions",
    "theory_model_gap",
    "fig2_case_study",
    "figA1_random_split",
    "fig3_sweeps",
    "fig4_interference",
    "tableA1A2_interference",
    "fig5_vision_width",
    "fig6_cifar_analysis",
    "tableA3_deep",
    "tableA4_imagenet",
    "tableA5_two_four",
    "table_rewiring",
)

#: extra names accepted by ``--only``
ALIASES = {"tableA1": "tableA1A2", "tableA2": "tableA1A2", "rewiring": "table_rewiring", "figA1": "figA1"}

__all__ = ["FIGURE_MODULES", "ALIASES", "figures", "load_figure"]


def load_figure(module: str):
    """The imported script module ``paper_figures.<module>`` (has ``FIGURE`` and ``make``)."""
    import importlib

    return importlib.import_module(f"{__name__}.{module}")


def figures() -> dict:
    """``{figure id: script module}`` in drawing order."""
    out = {}
    for m in FIGURE_MODULES:
        mod = load_figure(m)
        out[mod.FIGURE.name] = mod
    return out
