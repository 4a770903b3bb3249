"""Grouped FPE ledger rows (validation/claims/grouped.py): registered as findings, rules beside
them, evaluated on a synthetic store (no training)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from fpe_empirical.experiments.grouped import grouped_configs
from fpe_empirical.results.keys import config_key
from validation import ledger
from validation.catalogue import get_claims


class _Store:
    root = "synthetic"

    def __init__(self, frames):
        self.frames = frames

    def load(self, kind=None, **_):
        return self.frames.get(kind, pd.DataFrame())


def _frame(kind: str, offset: dict[str, float]) -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(0)
    for c in grouped_configs("small"):
        if type(c).kind != kind:
            continue
        base = 0.8 + 0.01 * rng.standard_normal()
        for s in c.strategies:
            rows.append({"key": config_key(c), "strategy": s, "seed": c.seed, "hidden": c.hidden,
                         "n_clauses": getattr(c, "n_clauses", np.nan), "pretrain_epochs": c.pretrain_epochs,
                         "split_epochs": c.split_epochs,
                         "test_accuracy": base + offset.get(s, 0.0) + 0.001 * rng.standard_normal()})
    return pd.DataFrame(rows)


def test_rows_are_findings_with_rules():
    claims = [c for c in get_claims(["grouped.*"])]
    assert {c.id for c in claims} == {"grouped.dnf-G1-vs-random", "grouped.dnf-G4-vs-random",
                                      "grouped.vision-G1-vs-random", "grouped.vision-G4-vs-random",
                                      "grouped.case-study-G4-vs-random", "grouped.inference-cost"}
    assert all(c.category == ledger.FINDING and c.rule for c in claims)


def test_equivalence_rows_on_a_synthetic_store():
    frames = {"dnf-grouped": _frame("dnf-grouped", {"G1": -0.05}), "embedding-grouped": _frame("embedding-grouped", {})}
    ctx = SimpleNamespace(store=_Store(frames))
    by_id = {c.id: c for c in get_claims(["grouped.*"])}
    assert by_id["grouped.dnf-G4-vs-random"].evaluate(ctx).verdict == ledger.REPRODUCED
    assert by_id["grouped.dnf-G1-vs-random"].evaluate(ctx).verdict == ledger.NOT_REPRODUCED  # 5 points below
    assert by_id["grouped.vision-G1-vs-random"].evaluate(ctx).verdict == ledger.REPRODUCED
    empty = SimpleNamespace(store=_Store({}))
    try:
        by_id["grouped.dnf-G4-vs-random"].evaluate(empty)
        raised = False
    except ledger.NotRun as e:
        raised = "grouped_experiment" in str(e)
    assert raised
