"""validation: the ledger, its decision rules, the report files and ``python -m validation``.

End-to-end runs use the profiles' "tiny" profile (2 seeds, a few epochs: numbers that mean
nothing, but every code path of the real profiles) so the whole file stays fast; the quick
and paper profiles' configs are checked for shape only.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sst

from validation import needs
from validation.catalogue import get_claims
from validation.ledger import (
    LEDGER,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    Outcome,
    all_of,
    correlated,
    equivalent,
    fraction_at_least,
    greater,
    less,
    matches_gain,
    within,
)
from validation.report import to_json, to_markdown, write_report
from validation.run import Context, validate
from validation.stats import CI, mean_ci, paired_diff, pearson_ci, per_unit_slopes, slope_ci, spearman_ci

# --------------------------------------------------------------------------- the ledger


#: every claim family the issue lists (an id, or a prefix ending in '*', must exist)
REQUIRED = [
    "theory.coverage-bound", "theory.sizing-rule", "theory.collision-ratio-limit", "theory.collision-ratio-paper-sizes",
    "theory.p-approx", "case-study.dense-accuracy", "case-study.clause-accuracy", "case-study.random-accuracy",
    "case-study.ordering", "sweep.neurons-gains-shrink", "sweep.clauses-gains-rise", "sweep.clauses-plateau",
    "sweep.ordering-most-configs", "interference.capacity-up", "interference.cosine-down", "interference.ri-vs-capacity",
    "interference.ri-vs-cosine", "networks.partition-before-pruning", "networks.after-pruning",
    "networks.benefit-vs-collision-reduction", "networks.benefit-vs-polysemantic-load",
    "vision.fpe-beats-dense-small@digits", "vision.fpe-beats-dense-small@clip", "vision.random-comparable-to-gram@*",
    "vision.early-split-beats-late@*", "vision.dense-match-1.2x@*", "vision.gains-shrink-with-width@*",
    "tableA3.deep-gains-narrow@*", "tableA3.values@clip", "tableA4.consistent-gains@digits",
    "tableA4.consistent-gains@imagenet1k", "tableA4.values@imagenet1k", "tableA5.two-four-comparable@*",
    "tableA5.both-beat-dense@*", "tableA5.values@clip", "rewiring.gains@*", "rewiring.values@clip",
    # issue 13: the balanced split's gap as findings, and the claims the ledger lacked
    "theory.balanced-gap.min-parents", "theory.balanced-gap.coverage-bound", "theory.balanced-gap.collision-ratio",
    "theory.closed-forms-vs-monte-carlo", "vision.doubles-dense-smallest@clip", "rewiring.relative-improvements@clip",
    "interference.random-like-clause", "interference.capacity-gains-few-neurons", "sweep.fig3c-plateau",
    "vision.feature-split-beats-dense@*", "case-study.block-diagonality", "vision.fpe-beats-dense-small@fashionmnist",
    "vision.fpe-beats-dense-small@imagenet100", "vision.random-comparable-to-gram@fashionmnist",
    "vision.gains-shrink-with-width@imagenet100",
]

#: the category of each claim whose category the issue fixes (every other claim: "paper claim")
CATEGORY_OF = {
    "theory.coverage-bound": "paper claim", "theory.sizing-rule": "paper claim",
    "theory.collision-ratio-paper-sizes": "paper claim",
    "theory.balanced-gap.min-parents": "finding", "theory.balanced-gap.coverage-bound": "finding",
    "theory.balanced-gap.collision-ratio": "finding", "theory.coverage-at-paper-sizes": "finding",
    "networks.after-pruning": "finding",
    "theory.closed-forms-vs-monte-carlo": "consistency check", "theory.p-approx": "consistency check",
    "theory.collision-ratio-limit": "consistency check", "networks.partition-before-pruning": "consistency check",
    # beyond the paper (issues 16, 18): every grouped-FPE row and the FPE-inside-MiniLM row
    "minilm.ffn-expansion-finetune@minilm-docstrings": "finding",
    **{f"grouped.{r}": "finding" for r in ("dnf-G1-vs-random", "vision-G1-vs-random", "dnf-G4-vs-random",
                                          "vision-G4-vs-random", "case-study-G4-vs-random", "inference-cost")},
}


def test_categories_are_as_the_issue_fixes():
    """Findings and consistency checks are never paper claims; every claim has a known category."""
    from validation.ledger import CATEGORIES

    for c in get_claims():
        assert c.category in CATEGORIES, c.id
        assert c.category == CATEGORY_OF.get(c.id, "paper claim"), c.id


def test_ledger_covers_the_issue():
    ids = [c.id for c in get_claims()]
    assert len(ids) == len(set(ids))
    for req in REQUIRED:
        hit = [i for i in ids if i.startswith(req[:-1])] if req.endswith("*") else [i for i in ids if i == req]
        assert hit, req


def test_every_claim_is_declared_fully():
    """Each claim states its section, statement, paper value and a rule, names known requirements,
    and real-data-only claims exist only for real data."""
    for c in get_claims():
        assert c.section and c.statement and c.rule and c.paper_value not in (None, ""), c.id
        assert set(c.needs) <= set(needs.REQUIREMENTS), c.id
        if c.id.endswith(".values@clip") or c.id.endswith("@imagenet1k"):
            assert c.data in ("embeddings", "imagenet1k")
        if c.id.endswith("@digits"):
            assert "stand-in" in c.note


def test_only_selects_and_rejects():
    assert [c.id for c in get_claims(["theory.sizing-rule"])] == ["theory.sizing-rule"]
    assert all(c.id.startswith("case-study.") for c in get_claims(["case-study.*"]))
    with pytest.raises(ValueError, match="--only"):
        get_claims(["no.such.claim"])


# --------------------------------------------------------------------------- rules and statistics

cis = st.builds(lambda a, b: CI((a + b) / 2, min(a, b), max(a, b), 5, 0.95, "t"),
                st.floats(-5, 5, allow_nan=False), st.floats(-5, 5, allow_nan=False))


@given(ci=cis, thr=st.floats(-1, 1, allow_nan=False), margin=st.floats(0.01, 3))
def test_rules_are_mechanical(ci, thr, margin):
    """Every rule's verdict is the stated comparison of the numbers it records."""
    assert (matches_gain(ci, thr, margin).verdict == REPRODUCED) == (ci.low > 0 and abs(ci.value - thr) <= margin)
    assert (greater(ci, thr).verdict == REPRODUCED) == (ci.low > thr)
    assert (less(ci, thr).verdict == REPRODUCED) == (ci.high < thr)
    assert (equivalent(ci, margin).verdict == REPRODUCED) == (-margin < ci.low and ci.high < margin)
    assert (within(ci.value, thr, margin).verdict == REPRODUCED) == (abs(ci.value - thr) <= margin)
    assert (correlated(ci, -1).verdict == REPRODUCED) == (ci.high < 0)
    assert greater(ci, thr).decision["ci"]["low"] == ci.low


@given(k=st.integers(0, 20), n=st.integers(1, 20))
def test_fraction_rule(k, n):
    k = min(k, n)
    assert (fraction_at_least(k, n, 0.5, strict=True).verdict == REPRODUCED) == (k / n > 0.5)
    assert (fraction_at_least(k, n, 1.0).verdict == REPRODUCED) == (k == n)


def test_all_of_combines():
    yes, no = Outcome(REPRODUCED), Outcome(NOT_REPRODUCED, reason="r")
    assert all_of({"a": yes, "b": yes}).verdict == REPRODUCED
    out = all_of({"a": yes, "b": no})
    assert out.verdict == NOT_REPRODUCED and "b: r" in out.reason
    assert all_of({"a": yes, "b": Outcome(NOT_RUN)}).verdict == NOT_RUN
    with pytest.raises(ValueError, match="verdict"):
        Outcome("maybe")


@given(ci=cis, thr=st.floats(-1, 1, allow_nan=False), margin=st.floats(0.01, 3), k=st.integers(0, 20),
       n=st.integers(1, 20), strict=st.booleans(), sign=st.sampled_from([1, -1]))
def test_mechanical_rules_rederive_every_ledger_helper(ci, thr, margin, k, n, strict, sign):
    """``_check_mechanical`` agrees with each helper of validation.ledger (its rule is registered and
    re-derived right) and catches a flipped verdict (it can fail)."""
    k = min(k, n)
    outs = [greater(ci, thr), less(ci, thr), equivalent(ci, margin), within(ci.value, thr, margin),
            matches_gain(ci, thr, margin),
            correlated(ci, sign), fraction_at_least(k, n, thr, strict=strict),
            correlated(CI(float("nan"), -1.0, 1.0, 5, 0.95, "t"), sign)]
    outs.append(all_of({"a": outs[0], "b": outs[2]}))
    for o in outs:
        _check_mechanical(o)
        flipped = Outcome(NOT_REPRODUCED if o.verdict == REPRODUCED else REPRODUCED, decision=o.decision)
        with pytest.raises(AssertionError, match="does not follow"):
            _check_mechanical(flipped)


def test_mechanical_check_fails_on_an_unknown_rule():
    """A rule (or a rule-less decision shape) the checker does not know fails with a message saying
    where to add it, instead of passing silently; a decided verdict with no numbers fails too."""
    with pytest.raises(pytest.fail.Exception, match="MECHANICAL_RULES"):
        _check_mechanical(Outcome(REPRODUCED, decision={"rule": "a new rule", "x": 1}), "demo")
    with pytest.raises(pytest.fail.Exception, match="no 'rule'"):
        _check_mechanical(Outcome(NOT_REPRODUCED, decision={"x": 1}), "demo")
    with pytest.raises(pytest.fail.Exception, match="keys \\[\\]"):
        _check_mechanical(Outcome(REPRODUCED), "demo")
    part = {"verdict": REPRODUCED, "rule": "a new rule"}
    with pytest.raises(pytest.fail.Exception, match="part p"):
        _check_mechanical(Outcome(REPRODUCED, decision={"p": part}), "demo")
    _check_mechanical(Outcome(NOT_RUN, reason="missing"))  # nothing decided: nothing to re-derive


def _ledger_rule_sources():
    """(rule patterns, rule-less decision key sets) written in validation/: every dict literal with a
    'rule' key (constant, or an f-string read as a pattern), and every ``decision={...}`` literal without one."""
    import ast
    import re
    from pathlib import Path

    import validation

    rules, shapes = set(), set()
    root = Path(validation.__file__).parent
    for path in [root / "ledger.py", *sorted((root / "claims").rglob("*.py"))]:  # where claims decide
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                keys = [k.value if isinstance(k, ast.Constant) else None for k in node.keys]
                if "rule" in keys:
                    v = node.values[keys.index("rule")]
                    if isinstance(v, ast.Constant):
                        rules.add((re.escape(v.value), f"{path.name}:{v.lineno}"))
                    elif isinstance(v, ast.JoinedStr):
                        pat = "".join(re.escape(x.value) if isinstance(x, ast.Constant) else ".+" for x in v.values)
                        rules.add((pat, f"{path.name}:{v.lineno}"))
                    else:
                        rules.add((None, f"{path.name}:{v.lineno}"))
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "decision" and isinstance(kw.value, ast.Dict):
                        keys = [k.value if isinstance(k, ast.Constant) else None for k in kw.value.keys]
                        spreads = [v for k, v in zip(keys, kw.value.values) if k is None]
                        inherits = any(isinstance(v, ast.Attribute) and v.attr == "decision" for v in spreads)
                        if "rule" not in keys and not inherits:  # {**out.decision, ...} keeps out's rule
                            shapes.add((frozenset(k for k in keys if k is not None), bool(spreads),
                                        f"{path.name}:{kw.value.lineno}"))
    return rules, shapes


def test_every_rule_in_the_ledger_can_be_rederived():
    """Every rule string written in validation/ has a re-derivation in MECHANICAL_RULES, and every
    rule-less decision literal matches a MECHANICAL_SHAPES entry (one with ``**`` spreads: its
    constant keys are inside one), so a claim evaluated anywhere in this file is checked."""
    import re

    rules, shapes = _ledger_rule_sources()
    assert len(rules) >= 10 and shapes
    for pat, where in sorted(rules, key=lambda r: r[1]):
        assert pat is not None, f"{where}: a rule that is not a string literal cannot be checked statically"
        assert any(re.fullmatch(pat, r) for r in MECHANICAL_RULES), \
            f"{where}: rule matching {pat!r} has no re-derivation in MECHANICAL_RULES (tests/test_validation.py)"
    for keys, spread, where in sorted(shapes, key=lambda s: s[2]):
        if spread:  # e.g. {"width": h, **checks}: its constant keys inside a registered shape
            ok = any(keys <= shape for shape in MECHANICAL_SHAPES)
        else:
            ok = keys in MECHANICAL_SHAPES
        assert ok, f"{where}: decision keys {sorted(keys)} without a 'rule' match no MECHANICAL_SHAPES entry"


def test_intervals_match_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    ci = mean_ci(x, 0.9)
    lo, hi = sst.t.interval(0.9, 11, loc=x.mean(), scale=sst.sem(x))
    assert (ci.low, ci.high) == pytest.approx((lo, hi), rel=1e-12)
    d = paired_diff(x, x - 1.0)
    assert d.value == pytest.approx(1.0) and d.low == d.high == pytest.approx(1.0)
    y = 2 * x + rng.normal(scale=0.1, size=12)
    s = slope_ci(x, y)
    assert s.low < 2 < s.high
    r = pearson_ci(x, y)
    assert r.low < r.value < r.high and r.value == pytest.approx(sst.pearsonr(x, y).statistic)
    sp = spearman_ci(x, y, n_boot=500, seed=1)
    assert sp == spearman_ci(x, y, n_boot=500, seed=1) and -1 <= sp.low <= sp.high <= 1
    import pandas as pd

    f = pd.DataFrame({"seed": [0, 0, 1, 1], "x": [1, 2, 1, 2], "y": [0, 2, 0, 4]})
    assert per_unit_slopes(f, "seed", "x", "y").tolist() == [2.0, 4.0]
    assert mean_ci([3.0]).low == -math.inf


# --------------------------------------------------------------------------- theory rows


def test_theory_rows_verdicts(tmp_path):
    """The A.5 rows are deterministic facts of exact arithmetic (regression test of the verdicts and
    the headline numbers): under the paper's literal model its bound, rule and collision ratio hold;
    the balanced split's gap is a finding with its numbers."""
    from fpe_empirical.store import ResultStore

    ctx = Context("quick", ResultStore(tmp_path / "s"))
    got = {c.id: c.evaluate(ctx) for c in get_claims(["theory.*"]) if c.id != "theory.closed-forms-vs-monte-carlo"}
    assert all(o.verdict == REPRODUCED for o in got.values()), {k: o.reason for k, o in got.items()}
    assert "rule 41, needed 38 literal" in got["theory.sizing-rule"].our_value
    assert got["theory.sizing-rule"].decision["insufficient"] == 0
    assert got["theory.coverage-bound"].decision["violations"] == 0
    gap = got["theory.balanced-gap.min-parents"].decision
    assert (gap["partition"], gap["literal"], gap["paper_rule"]) == (48, 38, 41)
    assert got["theory.balanced-gap.coverage-bound"].decision["violations"] == 85
    assert "1/409 vs 1/128" in got["theory.balanced-gap.collision-ratio"].our_value
    cov = got["theory.coverage-at-paper-sizes"].decision
    assert cov["p_all_partition"] == pytest.approx(0.013674, abs=1e-6)
    assert cov["p_all_literal"] == pytest.approx((1 - (1 - 2.0 ** -3) ** 8) ** 8, rel=1e-12)
    for cid, o in got.items():
        _check_mechanical(o, cid)


# --------------------------------------------------------------------------- a tiny profile, end to end


TINY_CLAIMS = ["case-study.*", "sweep.neurons-gains-shrink", "sweep.fig3c-plateau", "interference.*", "networks.*",
               "vision.fpe-beats-dense-small@digits", "vision.doubles-dense-smallest@digits",
               "vision.feature-split-beats-dense@digits"]


@pytest.fixture
def one_thread():
    """One torch thread: two spinning OpenMP threads on a loaded 2-core box slow tiny runs ~5x
    (the CLI sets OMP_WAIT_POLICY=PASSIVE instead; PERFORMANCE.md)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


#: Every decision rule the ledger uses, re-derived from the numbers its decision records:
#: rule string (``decision["rule"]``) -> reproduced or not. ``_check_mechanical`` fails on a rule
#: missing here, and ``test_every_rule_in_the_ledger_can_be_rederived`` scans ``validation/`` for
#: rule strings: a new rule needs an entry (a function of the decision dict) before its claim passes.
MECHANICAL_RULES = {
    # validation.ledger helpers: greater, less, within, equivalent, fraction_at_least (correlated uses greater/less)
    "low > threshold": lambda d: d["ci"]["low"] > d["threshold"],
    "high < threshold": lambda d: d["ci"]["high"] < d["threshold"],
    "|value - paper| <= tolerance": lambda d: abs(d["value"] - d["paper"]) <= d["tolerance"],
    "-margin < low and high < margin": lambda d: -d["margin"] < d["ci"]["low"] and d["ci"]["high"] < d["margin"],
    "k / n >= threshold": lambda d: d["n"] > 0 and d["k"] / d["n"] >= d["threshold"],
    "k / n > threshold": lambda d: d["n"] > 0 and d["k"] / d["n"] > d["threshold"],
    "low > 0 and |value - paper| <= tolerance":
        lambda d: d["ci"]["low"] > 0 and abs(d["ci"]["value"] - d["paper"]) <= d["tolerance"],
    # claim-specific rules (validation/claims/*.py)
    "|exact/paper - 1| <= 0.10 at every size": lambda d: d["sizes_outside_10pct"] == [] and d["n_sizes"] > 0,
    "paper N >= exact N everywhere": lambda d: d["insufficient"] == 0 and d["settings"] > 0,
    "violations == 0 (paper bound <= exact + tolerance everywhere)": lambda d: d["violations"] == 0 and d["points"] > 0,
    "violations > 0": lambda d: d["violations"] > 0,
    "partition N > literal N and partition N > paper N at the case study, gap <= 1 at C=1024":
        lambda d: d["partition"] > d["literal"] and d["partition"] > d["paper_rule"] and d["gap_at_large_n"] <= 1,
    "partition ratio < paper at every size": lambda d: d["n_sizes"] > 0 and d["sizes_below"] == d["n_sizes"],
    "P(all covered) < 0.95 at C=8, N=8, alpha 2 under literal and partition":
        lambda d: d["p_all_partition"] < d["threshold"] and d["p_all_literal"] < d["threshold"],
    "no exact value outside": lambda d: d["outside"] == 0 and d["checks"] > 0,
    "ratio >= 1.2 (or beyond the ladder) at every base width":
        lambda d: len(d["ratios"]) > 0 and all(r is None or r >= d["threshold"] for r in d["ratios"].values()),
}

#: Decisions recorded without a ``"rule"`` key, recognised by their exact set of keys.
MECHANICAL_SHAPES = {
    # correlated() on a constant variable: the correlation is undefined, never reproduced
    frozenset({"ci", "sign"}): lambda d: False,
}


def _mechanical_verdict(decision: dict, where: str) -> bool:
    """Reproduced or not, re-derived from ``decision`` (a rule's recorded numbers); fails the test
    for a rule or decision shape this file does not know."""
    rule = decision.get("rule")
    if rule is not None:
        if rule not in MECHANICAL_RULES:
            pytest.fail(f"{where}: decision rule {rule!r} has no re-derivation in MECHANICAL_RULES "
                        f"(tests/test_validation.py); add an entry computing the verdict from {sorted(decision)}")
        return bool(MECHANICAL_RULES[rule](decision))
    shape = frozenset(decision)
    if shape not in MECHANICAL_SHAPES:
        pytest.fail(f"{where}: a decision with keys {sorted(shape)} and no 'rule' has no re-derivation in "
                    f"MECHANICAL_SHAPES (tests/test_validation.py); record a 'rule' string in the claim and add it "
                    f"to MECHANICAL_RULES")
    return bool(MECHANICAL_SHAPES[shape](decision))


def _check_mechanical(outcome: Outcome, where: str = "outcome") -> None:
    """Re-derive a verdict from the numbers its rule recorded (the leaves of the decision): an
    unknown rule fails (see MECHANICAL_RULES), it is never silently passed."""
    d = outcome.decision
    if outcome.verdict == NOT_RUN:  # nothing was decided (the reason says why)
        return
    parts = {k: v for k, v in d.items() if isinstance(v, dict) and "verdict" in v}
    if parts:  # all_of: every part reproduced <=> reproduced
        assert (outcome.verdict == REPRODUCED) == all(p["verdict"] == REPRODUCED for p in parts.values()), \
            f"{where}: verdict {outcome.verdict!r} does not follow from its parts' verdicts"
        for name, p in parts.items():
            _check_mechanical(Outcome(p["verdict"], decision={k: v for k, v in p.items() if k != "verdict"}),
                              f"{where} / part {name}")
        return
    expected = _mechanical_verdict(d, where)
    assert (outcome.verdict == REPRODUCED) == expected, f"{where}: verdict {outcome.verdict!r} does not follow from {d}"


def test_tiny_profile_end_to_end(tmp_path, one_thread):
    """From an empty store: trains what the claims need, writes both reports, every verdict follows
    from its recorded numbers; a second run trains nothing and gives the same rows."""
    store = tmp_path / "store"
    r1 = validate(profile="tiny", store=store, only=TINY_CLAIMS)
    assert r1.provenance["configs_run"] == r1.provenance["configs_needed"] > 0
    assert not r1.errors, [r.error for r in r1.errors]
    by = {r.claim.id: r.outcome for r in r1.rows}
    # absolute DNF rows are compared only at the paper's schedule: not run, numbers still shown
    assert by["case-study.dense-accuracy"].verdict == NOT_RUN and by["case-study.dense-accuracy"].our_value
    assert by["networks.partition-before-pruning"].verdict == REPRODUCED  # exact partition before pruning
    for cid, o in by.items():
        _check_mechanical(o, cid)
    md, js = write_report(r1, tmp_path / "out")
    doc = json.loads(js.read_text())
    assert doc["profile"] == "tiny" and len(doc["claims"]) == len(r1.rows)
    for c in doc["claims"]:
        assert {"id", "statement", "paper_value", "our_value", "spread", "verdict", "command"} <= set(c)
        assert c["command"].startswith("python -m validation --profile tiny --only")
    text = md.read_text()
    assert all(c["id"] in text for c in doc["claims"]) and "offline stand-in" in text
    r2 = validate(profile="tiny", store=store, only=TINY_CLAIMS)
    assert r2.provenance["configs_run"] == 0
    assert [(r.claim.id, r.outcome.verdict, r.outcome.our_value) for r in r2.rows] == \
           [(r.claim.id, r.outcome.verdict, r.outcome.our_value) for r in r1.rows]


def test_no_run_reports_missing_results(tmp_path):
    r = validate(profile="tiny", store=tmp_path / "s", only=["case-study.ordering"], run_missing=False)
    (row,) = r.rows
    assert row.outcome.verdict == NOT_RUN and "missing from the store" in row.outcome.reason
    assert r.provenance["configs_run"] == 0


def _check_data_file_rows(tmp_path, rows: dict[str, tuple[str, str | None]]) -> None:
    """``rows``: claim id -> (CLI option named when its file is missing, Context attribute to
    build it on, or None). Without files each row is 'not run' with a reason naming the option;
    given a small embedding file, each row with an attribute is built on it (configs only)."""
    from fpe_empirical.store import ResultStore
    from validation.run import needed_configs

    only = list(rows)
    r = validate(profile="quick", store=tmp_path / "s", only=only, run_missing=False)
    assert [row.outcome.verdict for row in r.rows] == [NOT_RUN] * len(only)
    for row, (option, _) in zip(r.rows, rows.values()):
        assert option in row.outcome.reason
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    np.savez(path, X_train=rng.normal(size=(40, 8)).astype(np.float32), y_train=np.arange(40) % 4,
             X_test=rng.normal(size=(20, 8)).astype(np.float32), y_test=np.arange(20) % 4)
    for cid, (_, attr) in rows.items():
        if attr is not None:
            ctx = Context("quick", ResultStore(tmp_path / "s"), **{attr: str(path)})
            cfgs, blocked = needed_configs(get_claims([cid]), ctx)
            assert not blocked and cfgs and {c.dataset for c in cfgs} == {str(path)}


def test_clip_claims_need_embeddings(tmp_path):
    """Without --embeddings every @clip / @imagenet1k claim is 'not run' with the reason; with a file the
    claims' configs are built on it (checked without training)."""
    _check_data_file_rows(tmp_path, {"vision.fpe-beats-dense-small@clip": ("--embeddings", "embeddings"),
                                     "tableA4.values@imagenet1k": ("--imagenet1k", None)})


def test_clip_claims_run_on_an_embedding_file(tmp_path, one_thread):
    """With --embeddings the @clip rows train on that file (tiny profile, a random 8-d file): the
    ordering row gets a verdict; the absolute-values row is not run outside the paper profile but
    shows its numbers."""
    rng = np.random.default_rng(0)
    path = tmp_path / "emb.npz"
    np.savez(path, X_train=rng.normal(size=(60, 8)).astype(np.float32), y_train=np.arange(60) % 3,
             X_test=rng.normal(size=(30, 8)).astype(np.float32), y_test=np.arange(30) % 3)
    r = validate(profile="tiny", store=tmp_path / "s", embeddings=str(path),
                 only=["vision.fpe-beats-dense-small@clip", "tableA5.values@clip"])
    a, b = (row.outcome for row in r.rows)
    assert not r.errors and a.verdict in (REPRODUCED, NOT_REPRODUCED)
    _check_mechanical(a, "vision.fpe-beats-dense-small@clip")
    assert b.verdict == NOT_RUN and "paper profile" in b.reason and "dense" in b.our_value
    assert r.provenance["embeddings"]["path"] == str(path) and len(r.provenance["embeddings"]["sha256"]) == 64
    assert "--embeddings " + str(path) in r.rows[0].command


def test_real_profiles_resolve():
    """The quick and paper profiles resolve every requirement (configs only, no training)."""
    for profile in ("quick", "paper"):
        for req in needs.REQUIREMENTS:
            cfgs = needs.configs(req, profile, "digits" if req.startswith("vision.") else None)
            assert cfgs, (profile, req)
    cov = needs.coverage_configs("quick")
    assert all(c.replicates == needs.COVERAGE_REPLICATES["quick"] for c in cov)


# --------------------------------------------------------------------------- report and CLI


def test_report_is_strict_json(tmp_path):
    from validation.run import Report, Row

    claim = LEDGER["theory.p-approx"]
    row = Row(claim, Outcome(REPRODUCED, our_value=float("nan"), decision={"x": np.float64(np.inf)},
                             details={"t": [{"a": 1, "b": np.int64(2)}]}), "cmd", 0.1)
    rep = Report("quick", [row], {"store": "s"})
    doc = to_json(rep)
    assert doc["claims"][0]["our_value"] is None and doc["claims"][0]["decision"]["x"] is None
    json.dumps(doc, allow_nan=False)
    assert "| a | b |" in to_markdown(rep)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="directory"):
        write_report(rep, tmp_path / "f")


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "validation", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize("args,needle", [
    (["--profile", "huge"], "--profile"),
    (["--embeddings", "missing.npz"], "does not exist"),
    (["--only", "no.such"], "--only"),
    (["--frobnicate"], "unrecognized"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, args, needle):
    p = _cli(*args, "--store", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--no-run")
    assert p.returncode == 2, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and needle in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o").exists()


def test_cli_bad_embedding_file_exits_2(tmp_path):
    """A malformed embedding file is bad input, found before anything trains."""
    path = tmp_path / "bad.npz"
    np.savez(path, X_train=np.full((4, 3), np.nan, dtype=np.float32), y_train=np.zeros(4, dtype=np.int64),
             X_test=np.zeros((2, 3), dtype=np.float32), y_test=np.zeros(2, dtype=np.int64))
    p = _cli("--embeddings", str(path), "--store", str(tmp_path / "s"), "--out", str(tmp_path / "o"))
    assert p.returncode == 2 and "--embeddings" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_cli_list_and_out_file(tmp_path):
    p = _cli("--list")
    assert p.returncode == 0 and "theory.sizing-rule" in p.stdout and "rewiring.values@clip" in p.stdout
    (tmp_path / "file").write_text("")
    p = _cli("--only", "theory.p-approx", "--out", str(tmp_path / "file"), "--store", str(tmp_path / "s"), "--quiet")
    assert p.returncode == 2 and "directory" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = _cli("--only", "theory.p-approx", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "s"), "--quiet")
    assert p.returncode == 0 and (tmp_path / "o" / "report.json").is_file()
    assert "paper claims: 0 reproduced" in p.stdout and "consistency checks: 1 passed" in p.stdout  # never a reproduction
    doc = json.loads((tmp_path / "o" / "report.json").read_text())
    assert doc["counts"]["consistency check"]["passed"] == 1 and doc["counts"]["paper claim"]["reproduced"] == 0
    assert doc["claims"][0]["category"] == "consistency check" and doc["claims"][0]["result"] == "passed"
    p = _cli("--list")
    line = next(x for x in p.stdout.splitlines() if x.startswith("theory.balanced-gap.min-parents"))
    assert "finding" in line


# --------------------------------------------------------------------------- counts by category, README block


def test_counts_are_apart_by_category():
    """Only paper claims count as reproductions: a passed consistency check or a confirmed finding
    never adds to 'reproduced'."""
    from validation.ledger import count_by_category, summary_line

    c = count_by_category([("paper claim", REPRODUCED), ("paper claim", NOT_RUN), ("finding", REPRODUCED),
                           ("consistency check", REPRODUCED), ("consistency check", NOT_REPRODUCED)])
    assert c == {"paper claim": {"reproduced": 1, "not reproduced": 0, "not run": 1},
                 "finding": {"confirmed": 1, "not confirmed": 0, "not run": 0},
                 "consistency check": {"passed": 1, "failed": 1, "not run": 0}}
    assert summary_line(c).startswith("paper claims: 1 reproduced, 0 not reproduced, 1 not run; findings: 1 confirmed")
    with pytest.raises(ValueError, match="category"):
        count_by_category([("opinion", REPRODUCED)])


def _report_doc(rows):
    from validation.ledger import count_by_category

    return {"profile": "quick", "provenance": {"git_commit": "abc"}, "claims": rows,
            "counts": count_by_category((r["category"], r["verdict"]) for r in rows)}


def test_readme_block_lists_every_not_reproduced_claim(tmp_path):
    """The block shows the counts by category and every paper claim that did not reproduce; --readme
    rewrites only the marked block; missing markers or a bad report are bad input (exit 2)."""
    from validation.readme import END, render_block

    def row(i, cat, verdict, reason=""):
        return {"id": i, "category": cat, "verdict": verdict, "statement": f"s {i}", "paper_value": "p",
                "our_value": f"o {i}", "reason": reason}

    rows = [row("a.ok", "paper claim", REPRODUCED), row("b.bad", "paper claim", NOT_REPRODUCED),
            row("c.clip", "paper claim", NOT_RUN, "needs CLIP: pass --embeddings PATH"),
            row("d.find", "finding", REPRODUCED), row("e.check", "consistency check", REPRODUCED)]
    block = render_block(_report_doc(rows))
    for i in ("a.ok", "b.bad", "c.clip", "d.find", "e.check"):
        assert f"`{i}`" in block
    assert "**not reproduced**" in block and "paper claims: 1 reproduced, 1 not reproduced, 1 not run" in block
    assert "`quick`" in block and block.endswith(END)
    rep = tmp_path / "report.json"
    rep.write_text(json.dumps(_report_doc(rows)))
    readme = tmp_path / "README.md"
    readme.write_text("# T\n\nbefore\n<!-- validation:begin old -->\nstale\n<!-- validation:end -->\nafter\n")
    p = _cli("--readme", "--report", str(rep), "--readme-file", str(readme))
    assert p.returncode == 0, p.stderr
    text = readme.read_text()
    assert "stale" not in text and "before" in text and "after" in text and "`b.bad`" in text
    readme.write_text("no markers\n")
    p = _cli("--readme", "--report", str(rep), "--readme-file", str(readme))
    assert p.returncode == 2 and "markers" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = _cli("--readme", "--report", str(tmp_path / "none.json"), "--readme-file", str(readme))
    assert p.returncode == 2 and "--report" in p.stderr


def test_readme_block_is_generated_from_the_published_report():
    """README.md's claims block is exactly the one rendered from docs/validation/report.json: README
    and ledger cannot disagree (regenerate with `python -m validation --readme`)."""
    from pathlib import Path

    from validation.readme import DEFAULT_REPORT, END, render_block

    root = Path(__file__).resolve().parents[1]
    doc = json.loads((root / DEFAULT_REPORT).read_text())
    text = (root / "README.md").read_text()
    start = text.find("<!-- validation:begin")
    assert start >= 0 and END in text
    assert text[start:text.find(END) + len(END)] == render_block(doc, DEFAULT_REPORT)
    assert all("category" in c for c in doc["claims"])
    bad = [c["id"] for c in doc["claims"] if c["verdict"] == NOT_REPRODUCED and c["category"] == "paper claim"]
    assert all(f"`{i}`" in text for i in bad)


def test_cluster_bootstrap_resamples_configurations():
    """The interval resamples whole clusters: duplicating every point inside its cluster changes
    nothing; same seed, same interval; too few clusters is an error."""
    from validation.stats import cluster_bootstrap_corr

    rng = np.random.default_rng(3)
    x = rng.normal(size=8)
    y = x + rng.normal(scale=0.3, size=8)
    cl = np.arange(8)
    a = cluster_bootstrap_corr(x, y, cl, n_boot=2000)
    b = cluster_bootstrap_corr(np.repeat(x, 2), np.repeat(y, 2), np.repeat(cl, 2), n_boot=2000)
    assert a.value == pytest.approx(b.value) and (a.low, a.high) == pytest.approx((b.low, b.high))
    assert a == cluster_bootstrap_corr(x, y, cl, n_boot=2000) and a.n == 8 and a.low < a.value < a.high
    with pytest.raises(ValueError, match="clusters"):
        cluster_bootstrap_corr(x, y, np.repeat([0, 1], 4))


def test_fashionmnist_and_imagenet100_rows_run_with_their_files(tmp_path):
    """The Figure 5 rows on FashionMNIST / ImageNet-100 are not run without their files (the reason
    names the option) and are built on the file when it is given (configs only, no training)."""
    _check_data_file_rows(tmp_path, {
        "vision.fpe-beats-dense-small@fashionmnist": ("--fashionmnist", "fashionmnist"),
        "vision.gains-shrink-with-width@imagenet100": ("--imagenet100", "imagenet100")})
