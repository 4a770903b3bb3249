"""PNG figures for ``python -m fpe_theory.simulate --plot DIR`` (plotting only: every
number comes from ``closed_forms`` or from the simulation rows passed in)."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from . import closed_forms as cf

_MODEL_STYLE = {"partition": ("tab:blue", "partition (random split)"),
                "independent": ("tab:orange", "independent (paper A.5)"),
                "two_four": ("tab:green", "2:4 split")}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(rows, outdir: str, *, seed: int, trials: int, threads=None) -> list[str]:
    """Write the figures for ``rows`` (``simulate.Row``) into ``outdir``; return the paths."""
    os.makedirs(outdir, exist_ok=True)
    paths = []
    cov = [r for r in rows if r.result.model in ("partition", "independent")]
    if cov:
        paths.append(_coverage_figure(cov, os.path.join(outdir, "coverage_vs_parents.png"), seed, trials))
        paths.append(_collision_figure(cov, os.path.join(outdir, "collision_ratio.png"), seed, trials))
    tf = [r for r in rows if r.result.model == "two_four"]
    if tf:
        paths.append(_two_four_figure(tf, os.path.join(outdir, "two_four_coverage.png"), seed, trials))
    return paths


def _coverage_figure(rows, path, seed, trials):
    plt = _pyplot()
    groups = defaultdict(list)  # (alpha, C) -> rows
    for r in rows:
        groups[(r.result.alpha, r.result.n_clauses)].append(r)
    keys = sorted(groups)
    alphas = sorted({a for a, _ in keys})
    clauses = sorted({c for _, c in keys})
    fig, axes = plt.subplots(len(alphas), len(clauses), figsize=(3.6 * len(clauses), 3.2 * len(alphas)),
                             squeeze=False, sharey=True)
    k = rows[0].result.clause_size
    for i, a in enumerate(alphas):
        for j, c in enumerate(clauses):
            ax = axes[i][j]
            grp = groups.get((a, c), [])
            if not grp:
                ax.set_visible(False)
                continue
            n_max = max(r.result.n_parents for r in grp)
            # extend the curves until coverage is nearly certain, so the S shape shows
            n_full = max(cf.min_parents_for_coverage(c, k, a, 0.01, model=r.result.model,
                                                     method="union_bound") for r in grp)
            ns = np.unique(np.geomspace(1, max(n_max * 1.5, n_full * 1.3, 2), 300).astype(int))
            for model in sorted({r.result.model for r in grp}):
                color, label = _MODEL_STYLE[model]
                ax.plot(ns, cf.prob_all_covered(c, k, a, ns, model=model), color=color, lw=1.8,
                        label=f"exact, {label}")
                ax.plot(ns, cf.prob_all_covered(c, k, a, ns, model=model, method="union_bound"),
                        color=color, lw=1.2, ls=":", label="union bound (lower bound)")
                pts = sorted((r for r in grp if r.result.model == model), key=lambda r: r.result.n_parents)
                x = np.array([r.result.n_parents for r in pts])
                est = [r.result.p_all_covered for r in pts]
                y = np.array([e.value for e in est])
                err = np.array([[e.value - e.low for e in est], [e.high - e.value for e in est]])
                ax.errorbar(x, y, yerr=err, fmt="o", ms=4, color="black", capsize=3, lw=1,
                            label="Monte Carlo, 99.9% interval", zorder=5)
            ax.plot(ns, cf.prob_all_covered(c, k, a, ns, method="paper"), color="0.45", lw=1.2,
                    ls="--", label="paper: 1 - C exp(-N a^(1-k))")
            ax.set_xscale("log", base=2)
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"C = {c} clauses, alpha = {a}", fontsize=10)
            ax.grid(alpha=0.3)
            if i == len(alphas) - 1:
                ax.set_xlabel("parents N (dense neurons)")
            if j == 0:
                ax.set_ylabel("P(all clauses covered)")
    handles, labels = [], []
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.suptitle(f"Clause coverage after random FPE (clause size k = {k}; {trials} trials per point, seed {seed})",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.07 if len(labels) <= 4 else 0.11, 1, 0.96))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _collision_figure(rows, path, seed, trials):
    plt = _pyplot()
    k = rows[0].result.clause_size
    alphas = sorted({r.result.alpha for r in rows})
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple"]
    for col, a in zip(colors, alphas):
        cs_sim = sorted({r.result.n_clauses for r in rows if r.result.alpha == a})
        c_lo = max(min(cs_sim), 2)
        cs = np.unique(np.geomspace(c_lo, 4096, 60).astype(int))
        cs = [c for c in cs if (c * k) % a == 0 and k <= c * k // a]
        exact = np.array([cf.collision_ratio(c, k, a) for c in cs])
        paper = cf.collision_ratio(max(cs), k, a, method="paper")
        ax.plot(cs, exact, color=col, lw=1.8, label=f"exact alpha·q2, alpha = {a}")
        ax.axhline(paper, color=col, ls="--", lw=1.2, label=f"paper alpha^(1-2k) = {paper:.3g}")
        ax2.plot(cs, exact / paper, color=col, lw=1.8, label=f"alpha = {a}")
        # Monte Carlo: collisions / dense collisions, from the largest-N config of each C
        best = {}
        for r in rows:
            s = r.result
            if s.alpha == a and (s.n_clauses not in best or s.n_parents > best[s.n_clauses].n_parents):
                best[s.n_clauses] = s
        xs, ys, lo, hi = [], [], [], []
        for c in sorted(best):
            s = best[c]
            dense = cf.dense_collisions(c, s.n_parents)
            e = s.mean_collisions
            if e.value <= 0:
                continue
            xs.append(c)
            ys.append(e.value / dense)
            lo.append((e.value - e.low) / dense)
            hi.append((e.high - e.value) / dense)
        if xs:
            ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", ms=4, color=col, mec="black", capsize=3,
                        label=f"Monte Carlo (99.9%), alpha = {a}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("clauses C")
    ax.set_ylabel("E[collisions FPE] / E[collisions dense]")
    ax.set_title(f"Collision ratio, clause size k = {k}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax2.set_xscale("log", base=2)
    ax2.axhline(1.0, color="0.4", lw=1)
    ax2.set_xlabel("clauses C")
    ax2.set_ylabel("exact / paper approximation")
    ax2.set_title("The paper's alpha^(1-2k) overstates collisions at small C", fontsize=10)
    ax2.set_ylim(0, 1.05)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.suptitle(f"Collisions after random FPE ({trials} trials per point, seed {seed})", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _two_four_figure(rows, path, seed, trials):
    plt = _pyplot()
    k = rows[0].result.clause_size
    clauses = sorted({r.result.n_clauses for r in rows})
    fig, axes = plt.subplots(1, len(clauses), figsize=(3.8 * len(clauses), 3.4), squeeze=False, sharey=True)
    for ax, c in zip(axes[0], clauses):
        grp = sorted((r for r in rows if r.result.n_clauses == c), key=lambda r: r.result.n_parents)
        n_max = grp[-1].result.n_parents
        ns = np.unique(np.geomspace(1, n_max * 1.5, 200).astype(int))
        ax.plot(ns, cf.prob_clause_covered(c, k, 2, ns, model="partition"), color="tab:blue", lw=1.8,
                label="unstructured split (exact)")
        for layout, ls in (("contiguous", "-"), ("shuffled", "--")):
            ax.plot(ns, cf.prob_clause_covered(c, k, 2, ns, model="two_four", layout=layout),
                    color="tab:green", ls=ls, lw=1.8, label=f"2:4 split, {layout} clauses (exact)")
        x = [r.result.n_parents for r in grp]
        est = [r.result.p_clause_covered for r in grp]
        ax.errorbar(x, [e.value for e in est], yerr=[[e.value - e.low for e in est], [e.high - e.value for e in est]],
                    fmt="o", ms=4, color="black", capsize=3, label=f"Monte Carlo 2:4, {grp[0].result.layout}")
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"C = {c}, k = {k}, alpha = 2", fontsize=10)
        ax.set_xlabel("parents N")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("P(a clause is covered)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.suptitle(f"Structured 2:4 split vs random split ({trials} trials per point, seed {seed})", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 0.93))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
