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
    get_claims,
    greater,
    less,
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
]


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
    the headline numbers)."""
    from fpe_empirical.store import ResultStore

    ctx = Context("quick", ResultStore(tmp_path / "s"))
    got = {c.id: c.evaluate(ctx) for c in get_claims(["theory.*"]) if c.id != "theory.closed-forms-vs-monte-carlo"}
    assert got["theory.p-approx"].verdict == REPRODUCED
    assert got["theory.collision-ratio-limit"].verdict == REPRODUCED
    assert got["theory.collision-ratio-paper-sizes"].verdict == NOT_REPRODUCED
    assert got["theory.coverage-bound"].verdict == NOT_REPRODUCED
    assert got["theory.sizing-rule"].verdict == NOT_REPRODUCED
    assert "paper 41 vs exact 48" in got["theory.sizing-rule"].our_value
    cov = got["theory.coverage-at-paper-sizes"]
    assert cov.verdict == NOT_REPRODUCED and cov.decision["p_all_covered_case_study"] == pytest.approx(0.013674, abs=1e-6)


# --------------------------------------------------------------------------- a tiny profile, end to end


TINY_CLAIMS = ["case-study.*", "sweep.neurons-gains-shrink", "networks.*", "vision.fpe-beats-dense-small@digits"]


@pytest.fixture
def one_thread():
    """One torch thread: two spinning OpenMP threads on a loaded 2-core box slow tiny runs ~5x
    (the CLI sets OMP_WAIT_POLICY=PASSIVE instead; PERFORMANCE.md)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _check_mechanical(outcome: Outcome) -> None:
    """Re-derive a verdict from the numbers its rule recorded (the leaves of the decision)."""
    d = outcome.decision
    parts = [v for v in d.values() if isinstance(v, dict) and "verdict" in v]
    if parts:  # all_of: every part reproduced <=> reproduced
        assert (outcome.verdict == REPRODUCED) == all(p["verdict"] == REPRODUCED for p in parts)
        for p in parts:
            _check_mechanical(Outcome(p["verdict"], decision={k: v for k, v in p.items() if k != "verdict"}))
        return
    rule = d.get("rule")
    if rule == "low > threshold":
        assert (outcome.verdict == REPRODUCED) == (d["ci"]["low"] > d["threshold"])
    elif rule == "high < threshold":
        assert (outcome.verdict == REPRODUCED) == (d["ci"]["high"] < d["threshold"])
    elif rule == "|value - paper| <= tolerance":
        assert (outcome.verdict == REPRODUCED) == (abs(d["value"] - d["paper"]) <= d["tolerance"])
    elif rule == "-margin < low and high < margin":
        assert (outcome.verdict == REPRODUCED) == (-d["margin"] < d["ci"]["low"] and d["ci"]["high"] < d["margin"])


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
    for o in by.values():
        _check_mechanical(o)
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


def test_clip_claims_need_embeddings(tmp_path):
    """Without --embeddings every @clip / @imagenet1k claim is 'not run' with the reason; with a file the
    claims' configs are built on it (checked without training)."""
    from fpe_empirical.store import ResultStore
    from validation.run import needed_configs

    only = ["vision.fpe-beats-dense-small@clip", "tableA4.values@imagenet1k"]
    r = validate(profile="quick", store=tmp_path / "s", only=only, run_missing=False)
    assert [row.outcome.verdict for row in r.rows] == [NOT_RUN, NOT_RUN]
    assert "--embeddings" in r.rows[0].outcome.reason and "--imagenet1k" in r.rows[1].outcome.reason
    rng = np.random.default_rng(0)
    path = tmp_path / "emb.npz"
    np.savez(path, X_train=rng.normal(size=(40, 8)).astype(np.float32), y_train=np.arange(40) % 4,
             X_test=rng.normal(size=(20, 8)).astype(np.float32), y_test=np.arange(20) % 4)
    ctx = Context("quick", ResultStore(tmp_path / "s"), embeddings=str(path))
    cfgs, blocked = needed_configs(get_claims(["vision.fpe-beats-dense-small@clip"]), ctx)
    assert not blocked and cfgs and {c.dataset for c in cfgs} == {str(path)}


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
    assert p.returncode == 0 and (tmp_path / "o" / "report.json").is_file() and "1 reproduced" in p.stdout
