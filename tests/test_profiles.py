"""fpe_empirical.profiles: the experiment sets of every figure/table, ensure(), theory runs,
saved case-study networks.

Runs use the "tiny" profile (seconds); the quick and paper profiles are checked for their
grids only (no training).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from fpe_empirical import profiles
from fpe_empirical.config import config_key
from fpe_empirical.store import ResultStore


def keys(cfgs) -> set[str]:
    return {config_key(c) for c in cfgs}


# --------------------------------------------------------------------------- the grids


@pytest.mark.parametrize("profile", profiles.ALL_PROFILES)
def test_every_target_has_configs(profile):
    sets = profiles.experiment_sets(profile)
    assert set(sets) == set(profiles.TARGETS)
    for target, cfgs in sets.items():
        assert cfgs, target
        assert len(keys(cfgs)) == len(cfgs), f"{target} repeats a config"


def test_paper_dnf_grid_is_the_papers():
    """Figure 3c at the paper profile: n_clauses {3..32} x hidden {4..16} x 5 seeds, alpha 2,
    1000 + 1000 epochs, dense/clause/random: the registered `dnf-paper` sweep grid, key for key
    (so `python -m fpe_empirical.sweep dnf-paper` fills the same store)."""
    from fpe_empirical.grids import grid_configs

    cfgs = profiles.configs("fig3c", "paper")
    assert {(c.n_clauses, c.hidden, c.seed) for c in cfgs} == {
        (c, h, s) for c in (3, 6, 8, 10, 15, 20, 25, 32) for h in (4, 8, 12, 16) for s in range(5)}
    assert all(c.alpha == 2 and c.clause_size == 4 and (c.pretrain_epochs, c.split_epochs) == (1000, 1000)
               and c.strategies == ("dense", "clause", "random") for c in cfgs)
    assert keys(cfgs) == keys(grid_configs("dnf-paper"))


@pytest.mark.parametrize("profile", profiles.ALL_PROFILES)
def test_dnf_targets_nest(profile):
    """Case study within 3a and 3b, both within 3c; Figure 4 is 3a and 3b together."""
    t = {name: keys(profiles.configs(name, profile)) for name in profiles.DNF_TARGETS}
    assert t["case_study"] <= t["fig3a"] & t["fig3b"]
    assert t["fig3a"] | t["fig3b"] <= t["fig3c"]
    assert t["fig4"] == t["fig3a"] | t["fig3b"]
    assert keys([profiles.case_study_config(profile, s) for s in (0, 1)]) <= t["case_study"]


@pytest.mark.parametrize("target", profiles.VISION_TARGETS)
def test_vision_profiles_are_the_embedding_grids(target):
    """quick and paper vision configs are `embedding_grids`' (the registered emb-*-<profile> grids)."""
    from fpe_empirical.embedding_grids import build_grid

    name = {"tableA3": "table_a3", "tableA4": "table_a4", "tableA5": "table_a5"}.get(target, target)
    for profile in profiles.PROFILES:
        assert keys(profiles.configs(target, profile)) == keys(build_grid(name, "digits", profile))


def test_theory_targets():
    cov = profiles.configs("theory_coverage", "quick")
    # the three random models on every panel; curves long enough that coverage is nearly certain
    assert {c.model for c in cov} == {"literal", "partition", "subset"}
    from fpe_theory import min_parents_for_coverage, prob_all_covered

    for c in cov:
        assert prob_all_covered(c.n_clauses, c.clause_size, c.alpha, c.n_parents, model=c.model) > 0.99
    col = profiles.configs("theory_collisions", "paper")
    assert all(c.trials == 20000 for c in col)
    assert {c.model for c in col} == {"literal", "partition", "subset"}
    # the model gap runs sit at the paper's sizing rule, every model at every size it allows
    gap = profiles.configs("theory_model_gap", "quick")
    assert {c.model for c in gap} == {"literal", "partition", "subset"}
    for c in gap:
        assert c.n_parents == min_parents_for_coverage(c.n_clauses, c.clause_size, c.alpha,
                                                       profiles.MODEL_GAP_DELTA, method="paper")


def test_theory_partition_keys_did_not_move():
    """Adding the literal model must not orphan the stored partition runs: their configs (and so
    their keys) are the ones the profiles asked for before."""
    cov = [c for c in profiles.configs("theory_coverage", "quick") if c.model == "partition"]
    assert [(c.n_clauses, c.alpha, c.n_parents) for c in cov] == [(8, 2, 85), (32, 2, 86), (8, 4, 1116), (32, 4, 778)]


def test_pinned_theory_key():
    """A refactor must not orphan stored theory runs."""
    assert config_key(profiles.TheorySimulation()) == config_key(profiles.TheorySimulation(n_clauses=8))
    assert config_key(profiles.TheorySimulation()) == "b5739a6ca3d4a9a7"


def test_bad_input():
    with pytest.raises(ValueError, match="target must be one of"):
        profiles.configs("fig9", "quick")
    with pytest.raises(ValueError, match="profile must be one of"):
        profiles.configs("fig3a", "huge")
    with pytest.raises(ValueError, match="dataset applies to vision targets only"):
        profiles.configs("fig3a", "quick", dataset="digits")
    with pytest.raises(ValueError, match="embeddings keys must be vision targets"):
        profiles.resolve_datasets({"fig3": "x.npz"})
    with pytest.raises(TypeError, match="embeddings must be a path"):
        profiles.resolve_datasets(3)
    with pytest.raises(ValueError, match="alpha"):
        profiles.TheorySimulation(alpha=3)
    assert profiles.TheorySimulation(alpha=3, model="literal").alpha == 3  # no balance rule for literal
    with pytest.raises(ValueError, match="model"):
        profiles.TheorySimulation(model="dense")
    with pytest.raises(ValueError, match="targets must be drawn from"):
        profiles.experiment_sets("quick", targets=["fig3", "nope"])


def test_resolve_datasets():
    assert profiles.resolve_datasets(None)["fig5"] == ("digits",)
    one = profiles.resolve_datasets("a.npz")
    assert all(v == ("a.npz",) for v in one.values())
    many = profiles.resolve_datasets(["a.npz", "b.npz"], imagenet1k="in1k.npz")
    assert many["fig5"] == ("a.npz", "b.npz")
    assert many["fig6a"] == ("a.npz",) and many["tableA3"] == ("a.npz",)
    assert many["tableA4"] == ("in1k.npz",)
    mapped = profiles.resolve_datasets({"default": "a.npz", "fig5": ["a.npz", "c.npz"]})
    assert mapped["fig5"] == ("a.npz", "c.npz") and mapped["dynamic"] == ("a.npz",)


def test_embedding_file_sets(tmp_path):
    """Vision sets on an embedding file: every config names the file and its content digest;
    Figure 5 holds the configs of every file given."""
    from fpe_empirical.embeddings import file_sha256, save_embeddings

    rng = np.random.default_rng(0)
    paths = []
    for name in ("a.npz", "b.npz"):
        p = tmp_path / name
        save_embeddings(p, rng.normal(size=(40, 6)).astype(np.float32), np.arange(40) % 3,
                        rng.normal(size=(12, 6)).astype(np.float32), np.arange(12) % 3)
        paths.append(str(p))
    sets = profiles.experiment_sets("tiny", embeddings=paths, targets=["fig5", "fig6a"])
    assert {c.dataset for c in sets["fig5"]} == set(paths)
    assert {c.dataset for c in sets["fig6a"]} == {paths[0]}
    assert all(c.dataset_sha256 == file_sha256(c.dataset) for c in sets["fig5"])


# --------------------------------------------------------------------------- running


def test_theory_runner_matches_simulate():
    """Equivalence: the stored curve's last point is `simulate`'s P(all covered) (same seed),
    every point is P(all covered) with the first m parents of each trial
    (``p_all_covered_at``, non-decreasing in m), and the collision estimate is simulate's."""
    from fpe_theory import simulate

    cfg = profiles.TheorySimulation(n_clauses=4, alpha=2, n_parents=12, trials=700, seed=3)
    (frame,) = profiles.run_theory([cfg])
    ref = simulate(4, 4, 2, 12, trials=700, seed=3)
    assert list(frame["n_parents"]) == list(range(1, 13))
    assert frame["p_all_covered"].iloc[-1] == ref.p_all_covered.value
    assert np.all(np.diff(frame["p_all_covered"]) >= 0)
    assert (frame["p_all_low"] <= frame["p_all_covered"]).all() and (frame["p_all_covered"] <= frame["p_all_high"]).all()
    assert frame["mean_collisions"].iloc[0] == ref.mean_collisions.value
    assert frame["p_all_covered"].iloc[4] == ref.p_all_covered_at(5).value


def test_ensure_runs_only_what_is_missing(tmp_path):
    store = ResultStore(tmp_path / "store")
    cfgs = profiles.configs("theory_collisions", "tiny")
    rep = profiles.ensure(cfgs[:2], store, progress=False)
    assert (rep.total, rep.ran, rep.stored_before) == (2, 2, 0)
    before = {p.name: p.stat().st_mtime_ns for p in store.root.glob("*.json")}
    rep = profiles.ensure(cfgs, store, progress=False)
    assert (rep.total, rep.ran, rep.stored_before) == (len(cfgs), len(cfgs) - 2, 2)
    after = {p.name: p.stat().st_mtime_ns for p in store.root.glob("*.json")}
    assert all(after[k] == v for k, v in before.items())  # stored results are never rewritten
    rep = profiles.ensure(cfgs, store, progress=False)
    assert rep.ran == 0 and not store.missing(cfgs)


def test_ensure_reports_failures(tmp_path, monkeypatch):
    import fpe_empirical.profiles as prof_mod

    def boom(configs):
        raise RuntimeError("simulated failure")

    import dataclasses

    from fpe_empirical.experiments.registry import KINDS

    monkeypatch.setitem(KINDS, "theory-sim", dataclasses.replace(KINDS["theory-sim"], runner=boom))
    store = ResultStore(tmp_path / "store")
    with pytest.raises(RuntimeError, match="failed"):
        prof_mod.ensure(profiles.configs("theory_collisions", "tiny")[:1], store, progress=False)
    assert store.failures()


def test_case_study_models_saved_and_reused(tmp_path, monkeypatch):
    """Trained once, saved as safetensors + JSON beside the store, their rows put in the store;
    a second call loads them (training would raise) with identical weights."""
    import torch

    from fpe_empirical import dnf_experiment

    store = ResultStore(tmp_path / "store")
    first = profiles.case_study_models("tiny", store)
    assert sorted(first) == [0, 1]
    for seed, res in first.items():
        d = profiles.models_dir(store) / config_key(res.config)
        assert (d / "models.safetensors").is_file() and (d / "result.json").is_file()
        stored = store.get(res.config).frame
        assert list(stored["test_accuracy"]) == list(res.frame["test_accuracy"])
    assert not [p for p in profiles.models_dir(store).iterdir() if p.name.startswith(".tmp")]
    assert not list(profiles.models_dir(store).rglob("*.pkl"))

    def no_training(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(dnf_experiment, "train_dnf_many", no_training)
    again = profiles.case_study_models("tiny", store)
    for seed in first:
        for s, m in first[seed].models.items():
            w0 = first[seed].models[s].layers[0].masked_weight()
            assert torch.equal(w0, again[seed].models[s].layers[0].masked_weight())
            assert torch.equal(first[seed].models[s].layers[0].mask, again[seed].models[s].layers[0].mask)


def test_case_study_models_retrain_a_damaged_folder(tmp_path, capsys):
    """A damaged saved folder is never read: it is reported and the networks retrained
    (same config, same batch: the same numbers)."""
    import json

    store = ResultStore(tmp_path / "store")
    res = profiles.case_study_models("tiny", store, seeds=[0])[0]
    d = profiles.models_dir(store) / config_key(res.config)
    (d / "result.json").write_text("{not json")
    again = profiles.case_study_models("tiny", store, seeds=[0])[0]
    assert "unreadable" in capsys.readouterr().err
    assert again.frame["test_accuracy"].tolist() == res.frame["test_accuracy"].tolist()
    assert json.loads((d / "result.json").read_text())["config_key"] == config_key(res.config)


def test_quick_profile_trains_dnf_at_the_papers_schedule():
    """Issue 15: the quick profile's DNF runs (case study included) use the paper's schedule
    (the DNFExperiment defaults: 1000 + 1000 epochs, 40,000 samples); only the grid is smaller."""
    from fpe_empirical.dnf_experiment import DNFExperiment
    from fpe_empirical.sweeps.catalogue import PAPER, QUICK
    from fpe_empirical.sweeps.targets import case_study_config

    paper = DNFExperiment()
    case = case_study_config("quick", seed=0)
    assert (case.pretrain_epochs, case.split_epochs, case.n_samples) == (paper.pretrain_epochs, paper.split_epochs,
                                                                         paper.n_samples) == (1000, 1000, 40_000)
    assert dict(QUICK.dnf.schedule) == dict(PAPER.dnf.schedule) == {}
    assert len(QUICK.dnf.seeds) < len(PAPER.dnf.seeds)
