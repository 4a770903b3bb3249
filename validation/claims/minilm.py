"""Claims on the real text task: all-MiniLM-L6-v2 embeddings of the docstring corpus (issue 18).

Data: ``python -m fpe_empirical.text_embed --store STORE`` builds the corpus and embeddings
into ``STORE/data/minilm-docstrings/`` (offline); without them every row here is "not run".

- ``<vision claim>@minilm-docstrings``: the Section 3.3/3.4 and A.7 vision claims (the same
  statements, rules and experiments as ``@digits``/``@clip``) on the MiniLM embeddings, a
  second real data set. Registered from the ``@digits`` rows, so a rule changes in one place.
  The task was checked for saturation before any FPE result was looked at (README).
- ``minilm.ffn-expansion-finetune@minilm-docstrings`` (a finding, beyond the paper): FPE
  inside a pretrained transformer (``fpe_empirical.experiments.text_finetune``).
"""

from __future__ import annotations

import dataclasses
import inspect

from ..ledger import FINDING, LEDGER, NotRun, Outcome, all_of, greater
from ..stats import mean_ci, paired_diff
from . import vision  # noqa: F401  (its @digits rows are copied here)

DATASET = "minilm-docstrings"


def _register_vision_rows() -> None:
    """One ``@minilm-docstrings`` row per ``@digits`` vision claim (same statement and rule;
    ``vision_claim`` registers ``lambda ctx, ds=...: fn(ctx, ds)``, called here with this data set)."""
    for cid, c in list(LEDGER.items()):
        if not cid.endswith("@digits") or not any(n.startswith("vision.") for n in c.needs):
            continue
        if "ds" not in inspect.signature(c.evaluate).parameters:
            continue
        base = cid[: -len("@digits")]
        note = c.note.split("Offline stand-in:")[0].strip()
        note = (note + " Data: all-MiniLM-L6-v2 embeddings (384-d, mean pooled, normalised) of docstrings of the "
                "pinned packages, labelled by module (fpe_empirical.data.docstrings).").strip()
        LEDGER[f"{base}@{DATASET}"] = dataclasses.replace(
            c, id=f"{base}@{DATASET}", note=note, evaluate=lambda ctx, ev=c.evaluate: ev(ctx, ds=DATASET))


_register_vision_rows()


# --------------------------------------------------------------------------- finding


def _finetune_runs(ctx) -> list[dict]:
    from fpe_empirical.experiments.text_finetune import FinetuneSettings, load_runs

    settings = FinetuneSettings()
    runs = load_runs(ctx.store.root, settings)
    need = len(settings.variants) * len(settings.seeds)
    if len(runs) < need:
        raise NotRun(f"{need - len(runs)} of {need} MiniLM fine-tuning runs are missing: run "
                     f"`python -m fpe_empirical.text_finetune --store {ctx.store.root}` (~25 min on 2 loaded cores)")
    return runs


def _register_finding() -> None:
    from ..ledger import claim

    @claim(f"minilm.ffn-expansion-finetune@{DATASET}", "beyond the paper (issue 18)",
           "FPE inside a pretrained transformer: expanding all 6 feed-forward blocks of all-MiniLM-L6-v2 "
           "(alpha 2, random split, same non-zero count) and fine-tuning on the docstring task for the dense "
           "control's budget beats the dense model; so does expanding the last 2 blocks.",
           "not in the paper (Section 3 expands MLP heads on frozen embeddings only)",
           "paired differences (FPE - dense test accuracy) over the 5 seeds, 95% t intervals: holds iff the "
           "lower end is > 0 for both 'all 6 blocks' and 'last 2 blocks'",
           data="vision", category=FINDING,
           note="Budget (fpe_empirical.experiments.text_finetune.FinetuneSettings): 40 AdamW steps of 16 texts x 16 "
                "tokens, embedding tables frozen, 256 test texts, sized to ~15 min CPU on the shared machine; a "
                "short fine-tune, so it measures how fast each variant recovers, not its converged accuracy. "
                "Honesty: this rule was written after 2 of the 5 seeds had been seen (FPE already below dense).")
    def finetune(ctx) -> Outcome:
        runs = _finetune_runs(ctx)
        acc = {}
        for r in runs:
            acc.setdefault(r["variant"], {})[r["seed"]] = r["accuracy"]
        seeds = sorted(acc["dense"])
        parts, shown = {}, {}
        for v, label in (("fpe-all", "all 6 blocks"), ("fpe-last2", "last 2 blocks")):
            ci = paired_diff([acc[v][s] for s in seeds], [acc["dense"][s] for s in seeds])
            parts[label] = greater(ci, what=f"{label} - dense")
            shown[label] = ci
        out = all_of(parts)
        dense = mean_ci([acc["dense"][s] for s in seeds])
        first = {r["variant"]: r for r in runs if r["seed"] == seeds[0]}
        out.our_value = "; ".join(f"{k} - dense {100 * ci.value:+.1f} pts [{100 * ci.low:+.1f}, {100 * ci.high:+.1f}]"
                                  for k, ci in shown.items())
        out.spread = f"dense {100 * dense.value:.1f}% [{100 * dense.low:.1f}, {100 * dense.high:.1f}], {len(seeds)} seeds"
        out.details = {
            "accuracy": {v: [acc[v][s] for s in seeds] for v in acc},
            "nnz_blocks_before": first["dense"]["nnz_blocks_before"],
            "nnz_blocks_after": {v: first[v]["nnz_blocks_expanded"] for v in first},
            "intermediate_widths": {v: first[v]["intermediate_widths"] for v in first},
            "train_seconds": {v: sum(r["train_seconds"] for r in runs if r["variant"] == v) / len(seeds) for v in acc},
        }
        return out


_register_finding()
