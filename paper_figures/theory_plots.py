"""The figures of ``python -m fpe_theory.simulate --plot DIR``, drawn by the theory figure
scripts (one plotting pipeline): the CLI hands over its ``SimulationResult``s.

Writes ``coverage_vs_parents.png`` (``theory_coverage.draw``), ``collision_ratio.png``
(``theory_collisions.draw``) and, for two_four runs, ``two_four_coverage.png``.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .common import MODEL_STYLE, pyplot

__all__ = ["write_cli_plots"]


def write_cli_plots(results, outdir: str, *, seed: int, trials: int) -> list[str]:
    """Write the figures for ``results`` (``fpe_theory.SimulationResult``) into ``outdir``."""
    from fpe_theory import get_model, simulation_frame

    from . import theory_collisions, theory_coverage

    os.makedirs(outdir, exist_ok=True)
    paths = []
    frames = [simulation_frame(r) for r in results]
    sims = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    footer = f"{trials} Monte Carlo trials per point, seed {seed} (python -m fpe_theory.simulate)"
    cov = sims[[get_model(m).has_all_covered for m in sims["model"]]] if len(sims) else sims
    if len(cov):
        fig, _ = theory_coverage.draw(cov, title=f"Clause coverage after random FPE ({footer})")
        paths.append(_save(fig, os.path.join(outdir, "coverage_vs_parents.png")))
        fig, _ = theory_collisions.draw(cov, title=f"Collisions after random FPE ({footer})")
        paths.append(_save(fig, os.path.join(outdir, "collision_ratio.png")))
    tf = [r for r in results if r.model == "two_four"]
    if tf:
        fig = _two_four_figure(tf, footer)
        paths.append(_save(fig, os.path.join(outdir, "two_four_coverage.png")))
    return paths


def _save(fig, path: str) -> str:
    plt = pyplot()
    tmp = f"{path}.{os.getpid()}.tmp.png"
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _two_four_figure(results, footer: str):
    """P(a clause covered) vs N: the 2:4 split (both layouts, exact) vs the unstructured split."""
    from fpe_theory import prob_clause_covered

    plt = pyplot()
    k = results[0].clause_size
    clauses = sorted({r.n_clauses for r in results})
    fig, axes = plt.subplots(1, len(clauses), figsize=(3.9 * len(clauses), 3.6), squeeze=False, sharey=True)
    for ax, c in zip(axes[0], clauses):
        grp = sorted((r for r in results if r.n_clauses == c), key=lambda r: r.n_parents)
        n_max = grp[-1].n_parents
        ns = np.unique(np.geomspace(1, n_max * 1.5, 200).astype(int))
        ax.plot(ns, prob_clause_covered(c, k, 2, ns, model="partition"), color=MODEL_STYLE["partition"][0], lw=1.8,
                label="unstructured split (exact)")
        for layout, ls in (("contiguous", "-"), ("shuffled", "--")):
            ax.plot(ns, prob_clause_covered(c, k, 2, ns, model="two_four", layout=layout),
                    color=MODEL_STYLE["two_four"][0], ls=ls, lw=1.8, label=f"2:4 split, {layout} clauses (exact)")
        est = [r.p_clause_covered for r in grp]
        ax.errorbar([r.n_parents for r in grp], [e.value for e in est],
                    yerr=[[e.value - e.low for e in est], [e.high - e.value for e in est]],
                    fmt="o", ms=4, color="black", capsize=3, label=f"Monte Carlo 2:4, {grp[0].layout}")
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"C = {c}, k = {k}, alpha = 2", fontsize=10)
        ax.set_xlabel("parents N")
    axes[0][0].set_ylabel("P(a clause is covered)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle(f"Structured 2:4 split vs random split ({footer})", fontsize=10)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(labels), frameon=False)
    return fig
