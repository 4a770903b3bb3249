"""What `make run` executes, end to end, from a clean result store.

`make run` is three commands on one store (Makefile, target ``run``)::

    python -m fpe_theory.simulate --quick --model all
    python -m paper_figures --profile quick --store STORE --out FIGURES
    python -m validation --profile quick --store STORE --out VALIDATION

``test_quick_profile_as_make_run_runs_it`` (slow) runs exactly these, as subprocesses; the
default run has the same pipeline on the ``"tiny"`` profile (seconds of training, numbers
that mean nothing, every code path of the real profiles). Both check the same things:

- every command exits 0;
- every file the figures index links to exists and is not empty, every figure and table
  of ``paper_figures`` is in the index and nothing is listed as not drawn;
- ``report.json`` holds one row per ledger claim, in ledger order, each with a category of
  ``validation.ledger.CATEGORIES`` and a known verdict; its ``counts`` are the tally of
  those verdicts, and ``report.md``'s headline states the same counts;
- the store holds every experiment run the profile needs, and the DNF grid has as many runs
  as the catalogue's axes give (``fpe_empirical.sweeps.catalogue``: nothing hard-coded, so
  the tests follow a change of profile).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import paper_figures
from fpe_empirical import profiles
from fpe_empirical.config import config_key
from fpe_empirical.store import ResultStore
from fpe_empirical.sweeps.catalogue import get_profile
from validation.catalogue import get_claims
from validation.ledger import CATEGORIES, VERDICT_LABELS, summary_line

REPO = Path(__file__).resolve().parents[1]
# `make run`'s commands, with the profile, store and output folders filled in
SIMULATE_QUICK = ["-m", "fpe_theory.simulate", "--quick", "--model", "all", "--no-progress"]


def figure_stems() -> set[str]:
    return {stem for mod in paper_figures.figures().values() for stem in mod.FIGURE.stems}


def check_figures(out: Path, profile: str) -> None:
    """Every file the index links to exists (non-empty); every figure/table is indexed."""
    index = (out / "index.md").read_text()
    assert index.startswith(f"# Figures and tables ({profile} profile)")
    assert "Not drawn by the last command" not in index, index
    linked = set(re.findall(r"\]\(([^)\s]+)\)", index))
    assert linked, "the index links no file"
    for name in linked:
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, f"index links {name}, which is missing or empty"
    sections = set(re.findall(r"^## (\S+)$", index, flags=re.M))
    assert figure_stems() <= sections, f"not in the index: {sorted(figure_stems() - sections)}"
    for stem in figure_stems():
        assert f"{stem}.csv" in linked, stem
        caption = (out / f"{stem}.csv").read_text().splitlines()[0]
        assert f"profile: {profile}" in caption, (stem, caption)


def check_report(out: Path, profile: str) -> dict:
    """report.json: one row per ledger claim, categories and verdicts known, counts = tally."""
    doc = json.loads((out / "report.json").read_text())
    assert doc["profile"] == profile
    claims = doc["claims"]
    assert [c["id"] for c in claims] == [c.id for c in get_claims()]
    # the tally, counted here from the rows: {category: {its word for each verdict: n}}
    tally = {cat: {label: 0 for label in VERDICT_LABELS[cat].values()} for cat in CATEGORIES}
    for c in claims:
        assert c["category"] in CATEGORIES, (c["id"], c.get("category"))
        assert c["verdict"] in VERDICT_LABELS[c["category"]], (c["id"], c["verdict"])
        assert c["result"] == VERDICT_LABELS[c["category"]][c["verdict"]], c["id"]
        assert c["error"] is None, (c["id"], c["error"])
        tally[c["category"]][c["result"]] += 1
    assert doc["counts"] == tally
    assert sum(n for per in doc["counts"].values() for n in per.values()) == len(claims)
    md = (out / "report.md").read_text()
    assert f"**{summary_line(tally)}** ({len(claims)} rows)" in md
    assert all(c["id"] in md for c in claims)
    prov = doc["provenance"]
    assert 0 <= prov["configs_run"] <= prov["configs_missing_before"] <= prov["configs_needed"]
    return doc


def check_store(store: Path, profile: str) -> None:
    """The store holds every run the profile's figures and claims need; the DNF grid is the
    catalogue's (clause counts x hidden widths x seeds)."""
    rs = ResultStore(store, create=False)
    needed = [c for cfgs in profiles.experiment_sets(profile).values() for c in cfgs]
    assert needed and rs.missing(needed) == []
    dnf = get_profile(profile).dnf
    grid = profiles.configs("fig3c", profile)
    assert len({config_key(c) for c in grid}) == len(dnf.n_clauses) * len(dnf.hidden) * len(dnf.seeds)
    assert {(c.n_clauses, c.hidden, c.seed) for c in grid} == \
        {(n, h, s) for n in dnf.n_clauses for h in dnf.hidden for s in dnf.seeds}


def check_all(root: Path, profile: str) -> dict:
    check_figures(root / "figures", profile)
    check_store(root / "store", profile)
    return check_report(root / "validation", profile)


def test_tiny_profile_as_make_run_runs_it(tmp_path, monkeypatch):
    """`make run`'s three commands on the tiny profile (in this process), from an empty store."""
    from fpe_theory.simulate import main as simulate_main
    from paper_figures.__main__ import main as figures_main
    from validation.__main__ import main as validation_main

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    # the bound checks at a tiny grid (the quick grid is the slow test's), every model; seed 0
    # (the default) makes it deterministic, and a correct implementation fails the
    # Bonferroni-corrected intervals with probability <= 1e-6 over the seeds
    assert simulate_main(["--model", "all", "--clauses", "4,8", "--alphas", "2", "--parents", "4,16",
                          "--trials", "500", "--family-alpha", "1e-6", "--no-progress"]) == 0
    store, root = tmp_path / "store", tmp_path
    assert figures_main(["--profile", "tiny", "--store", str(store), "--out", str(root / "figures"),
                         "--no-progress"]) == 0
    assert validation_main(["--profile", "tiny", "--store", str(store), "--out", str(root / "validation"),
                            "--quiet"]) == 0
    doc = check_all(root, "tiny")
    # validation reuses what paper_figures trained: it runs only what no figure needs
    assert doc["provenance"]["configs_missing_before"] < doc["provenance"]["configs_needed"]


@pytest.mark.slow
def test_quick_profile_as_make_run_runs_it(tmp_path):
    """`make run` (quick profile) as subprocesses from an empty store. CI runs it (`make
    test-e2e`), so it must fit CI's budget beside `make test` (measured: CONTRIBUTING.md,
    "End-to-end tests")."""
    store = tmp_path / "store"

    def run(*args: str) -> None:
        proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-4000:]}"

    run(*SIMULATE_QUICK)
    run("-m", "paper_figures", "--profile", "quick", "--store", str(store), "--out", str(tmp_path / "figures"),
        "--no-progress")
    run("-m", "validation", "--profile", "quick", "--store", str(store), "--out", str(tmp_path / "validation"),
        "--quiet")
    check_all(tmp_path, "quick")
