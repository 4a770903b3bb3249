"""Hardening (issue 9): determinism — runs compared months apart must agree bit for bit.

- Monte Carlo: the same seed gives bit-identical histograms (hence estimates) with 1 and 2
  numba threads, for random configurations, models and layouts, across batch boundaries,
  and in separate processes with NUMBA_NUM_THREADS=1 and 2 (slow).
- Training: the same configs give bit-identical stored metrics on a rerun in this process
  (whatever the global RNG state before), and in a fresh process with another hash seed
  (slow).
- Keys: the stored result keys of the paper's configs are pinned; a config has the same key
  whether built in Python, read from a JSON / TOML / YAML grid file, rebuilt from a stored
  result, or computed in another process.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples

import fpe_theory as ft
from tally import Tally
from fpe_empirical.config import config_from_dict, config_key
from fpe_empirical.results.codec import canonical_bytes as _canonical_bytes
from fpe_empirical.store import ResultStore

ROOT = Path(__file__).resolve().parent.parent
COUNTS = Tally("hardening determinism", total=False)  # printed in the session summary (tests/tally.py)


# ----------------------------------------------------------------------------- Monte Carlo
@st.composite
def sim_cases(draw):
    model = draw(st.sampled_from(["literal", "subset", "partition", "two_four"]))
    layout = draw(st.sampled_from(["contiguous", "shuffled"]))
    if model == "two_four":
        alpha, k = 2, draw(st.sampled_from([2, 4]))
        c = draw(st.integers(2, 12)) * (4 // k)  # n a multiple of 4, and d = n/2 >= k
    elif model == "literal":  # no balance rule: any alpha >= 2, any sizes
        alpha, k, c = draw(st.integers(2, 200)), draw(st.integers(1, 5)), draw(st.integers(1, 12))
    else:
        alpha = draw(st.sampled_from([2, 3, 4, 8]))
        k = draw(st.integers(1, 5))
        c = alpha * draw(st.integers(1, 6))  # alpha | C, and C >= alpha so k <= n/alpha
    n_par = draw(st.integers(1, 40))
    trials = draw(st.sampled_from([1, 7, 1000, 4099]))
    seed = draw(st.one_of(st.integers(0, 2**16), st.just(2**64 - 1)))
    return c, k, alpha, n_par, model, layout, trials, seed


def _same_simulation(a, b):
    return (a.to_dict() == b.to_dict() and np.array_equal(a.missed_histogram, b.missed_histogram)
            and np.array_equal(a.first_cover_histogram, b.first_cover_histogram)
            and np.array_equal(a.collisions_histogram, b.collisions_histogram))


@settings(max_examples=examples(0.5), deadline=None)
@given(case=sim_cases())
def test_simulation_bit_identical_for_1_and_2_threads(case):
    """Random configurations, models, layouts, trial counts and seeds (up to 2**64 - 1): 1 thread, 2
    threads and the default give the same histograms; sample_masks is reproducible."""
    import numba

    c, k, alpha, n_par, model, layout, trials, seed = case
    kw = dict(trials=trials, seed=seed, model=model, layout=layout)
    one = ft.simulate(c, k, alpha, n_par, threads=1, **kw)
    two = ft.simulate(c, k, alpha, n_par, threads=min(2, numba.config.NUMBA_NUM_THREADS), **kw)
    again = ft.simulate(c, k, alpha, n_par, **kw)
    assert _same_simulation(one, two) and _same_simulation(one, again)
    m1, p1 = ft.sample_masks(c, k, alpha, n_par, seed=seed, trial=trials - 1, model=model, layout=layout)
    m2, p2 = ft.sample_masks(c, k, alpha, n_par, seed=seed, trial=trials - 1, model=model, layout=layout)
    assert np.array_equal(m1, m2) and np.array_equal(p1, p2)
    COUNTS["simulations compared"] += 3


def test_simulation_bit_identical_across_batches_and_threads():
    """More trials than one kernel batch (65,536): batch boundaries do not depend on threads."""
    one = ft.simulate(8, 4, 2, 8, trials=70_001, seed=11, threads=1)
    two = ft.simulate(8, 4, 2, 8, trials=70_001, seed=11, threads=2)
    assert _same_simulation(one, two)
    COUNTS["simulations compared"] += 2


@pytest.mark.slow
def test_simulate_cli_bit_identical_in_processes_with_1_and_2_threads(tmp_path):
    """`python -m fpe_theory.simulate` in two processes, NUMBA_NUM_THREADS=1 and 2: the
    stored simulations (histograms and estimates) are identical."""
    rows = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.json"
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), PYTHONHASHSEED=str(threads))
        r = subprocess.run([sys.executable, "-m", "fpe_theory.simulate", "--model", "all", "--clauses", "4,8",
                            "--alphas", "2", "--parents", "4,16", "--trials", "5000", "--seed", "5", "--json",
                            str(out), "--no-progress"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
        assert r.returncode in (0, 1), r.stderr
        rows.append([row["simulation"] for row in json.loads(out.read_text())["rows"]])
    assert rows[0] == rows[1] and len(rows[0]) == 12
    COUNTS["simulations compared"] += 24


# ----------------------------------------------------------------------------- training
def _tiny_configs(small: bool = False):
    from fpe_empirical.coverage import CoverageExperiment
    from fpe_empirical.dnf_experiment import DNFExperiment
    from fpe_empirical.embedding_experiment import EmbeddingExperiment
    from fpe_empirical.profiles import TheorySimulation

    dnf = dict(n_clauses=3, clause_size=2, pretrain_epochs=3, split_epochs=3, n_samples=200, batch_size=50)
    if small:  # one config of every kind and strategy family, for the default suite
        return [DNFExperiment(hidden=3, strategies=("dense", "clause", "random", "gram"), **dnf),
                DNFExperiment(hidden=4, seed=1, strategies=("dense", "two_four"), **{**dnf, "n_clauses": 4}),
                EmbeddingExperiment(hidden=2, pretrain_epochs=1, split_epochs=2, batch_size=300,
                                    strategies=("dense", "random", "random+rewire"), rewire_every=2),
                CoverageExperiment(n_clauses=3, clause_size=2, hidden=4, pretrain_epochs=2, n_samples=200,
                                   batch_size=50, replicates=2),
                TheorySimulation(n_clauses=4, clause_size=2, n_parents=5, trials=500)]
    return [
        *(DNFExperiment(hidden=h, seed=s, strategies=("dense", "clause", "random", "gram"), **dnf)
          for h in (3, 4) for s in (0, 1)),
        DNFExperiment(hidden=4, alpha=2, strategies=("dense", "two_four"), **{**dnf, "n_clauses": 4}),
        *(EmbeddingExperiment(hidden=h, seed=s, pretrain_epochs=2, split_epochs=3, batch_size=200,
                              strategies=("dense", "random", "random+rewire"), rewire_every=2)
          for h in (2, 4) for s in (0, 1)),
        EmbeddingExperiment(hidden=4, depth=3, pretrain_epochs=1, split_epochs=2, batch_size=300),
        CoverageExperiment(n_clauses=3, clause_size=2, hidden=4, pretrain_epochs=2, n_samples=200, batch_size=50,
                           replicates=3),
        TheorySimulation(n_clauses=4, clause_size=2, n_parents=5, trials=500),
    ]


def _stored_metrics(store: ResultStore) -> dict:
    """key -> canonical bytes of (config, metrics): what must not change between reruns."""
    out = {}
    for key in store.keys():
        raw = json.loads((store.root / f"{key}.json").read_bytes())["payload"]
        out[key] = _canonical_bytes({k: raw[k] for k in ("kind", "code_version", "config", "metrics")})
    return out


def test_training_rerun_bit_identical_whatever_the_global_rng(tmp_path):
    """The same sweep twice (DNF, vision, coverage, theory kinds; batched as the sweep does)
    stores byte-identical configs and metrics, even with the global torch / NumPy / random
    state moved in between (no global seeding anywhere)."""
    from fpe_empirical.sweep import run_sweep

    configs = _tiny_configs(small=True)
    first = run_sweep(configs, tmp_path / "a", chunk_size=4, progress=False)
    torch.manual_seed(12345)
    np.random.seed(54321)
    random.seed(7)
    torch.rand(3)
    second = run_sweep(list(reversed(configs)), tmp_path / "b", chunk_size=3, progress=False)
    assert first.ok and second.ok and first.ran == second.ran == len(configs)
    a, b = _stored_metrics(ResultStore(tmp_path / "a")), _stored_metrics(ResultStore(tmp_path / "b"))
    assert a.keys() == b.keys() == {config_key(c) for c in configs}
    for key in a:
        assert a[key] == b[key], f"run {key} differs between reruns"
    COUNTS["training runs compared"] += len(configs)


@pytest.mark.slow
def test_training_rerun_in_a_fresh_process_is_bit_identical(tmp_path):
    """The same configs in a new process (another PYTHONHASHSEED, the CLI path): the
    stored metrics equal those of this process."""
    from fpe_empirical.sweep import run_sweep

    configs = _tiny_configs()
    run_sweep(configs, tmp_path / "here", chunk_size=4, progress=False)
    grid = {"grids": []}
    for c in configs:
        from fpe_empirical.config import config_to_dict

        grid["grids"].append({"kind": type(c).kind, "fixed": config_to_dict(c, only_changed=True)})
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid))
    env = dict(os.environ, PYTHONHASHSEED="12345", OMP_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-m", "fpe_empirical.sweep", str(path), "--store", str(tmp_path / "there"),
                        "--chunk-size", "4", "--no-progress", "--import", "fpe_empirical.profiles"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert r.returncode == 0, r.stderr
    assert _stored_metrics(ResultStore(tmp_path / "here")) == _stored_metrics(ResultStore(tmp_path / "there"))
    COUNTS["training runs compared"] += len(configs)


# ----------------------------------------------------------------------------- keys
def _digest(keys) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16]


PINNED = {
    # grid name -> (number of configs, sha256 of the sorted keys); a change here orphans
    # every stored result of the grid: only with a code_version bump (CONTRIBUTING.md)
    "dnf-paper": (160, "c79ef302ebb288b0"),
    "dnf-case-study": (5, "5fa784671b650326"),
}


@pytest.mark.parametrize("grid", sorted(PINNED))
def test_paper_grid_keys_pinned(grid):
    from fpe_empirical.grids import grid_configs

    keys = [config_key(c) for c in grid_configs(grid)]
    assert (len(keys), _digest(keys)) == PINNED[grid]
    COUNTS["keys checked"] += len(keys)


def test_same_key_from_python_grid_files_store_and_other_processes(tmp_path):
    """One config, many routes to it: Python (tuples or lists), JSON, TOML and YAML grid
    files, the config stored in a result and rebuilt, and a fresh process with another
    hash seed: one key."""
    import yaml

    from fpe_empirical.dnf_experiment import DNFExperiment
    from fpe_empirical.grids import load_grid_file

    fields = dict(n_clauses=6, hidden=12, seed=3, strategies=["dense", "random"], true_range=[0.9, 1.0], lr=0.003)
    ref = DNFExperiment(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    routes = {"lists": DNFExperiment(**fields)}
    (tmp_path / "g.json").write_text(json.dumps({"kind": "dnf", "fixed": fields}))
    (tmp_path / "g.yaml").write_text(yaml.safe_dump({"kind": "dnf", "fixed": fields}))
    (tmp_path / "g.toml").write_text('kind = "dnf"\n[fixed]\nn_clauses = 6\nhidden = 12\nseed = 3\n'
                                     'strategies = ["dense", "random"]\ntrue_range = [0.9, 1.0]\nlr = 0.003\n')
    for fmt in ("json", "yaml", "toml"):
        (routes[fmt],) = load_grid_file(tmp_path / f"g.{fmt}")
    store = ResultStore(tmp_path / "s")
    import pandas as pd

    store.put(ref, pd.DataFrame({"strategy": ["dense"], "seed": [3]}))
    routes["stored"] = config_from_dict("dnf", store.get(ref).config)
    for name, cfg in routes.items():
        assert cfg == ref and config_key(cfg) == config_key(ref), name
    code = ("from fpe_empirical.dnf_experiment import DNFExperiment; from fpe_empirical.config import config_key; "
            f"print(config_key(DNFExperiment(**{fields!r})))")
    for hash_seed in ("4242",):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                           env=dict(os.environ, PYTHONHASHSEED=hash_seed))
        assert r.stdout.strip() == config_key(ref), r.stderr
    COUNTS["keys checked"] += len(routes) + 1


def test_int_and_float_spellings_of_a_float_field_share_a_key():
    """``lr=1`` (e.g. ``lr = 1`` in a TOML grid) and ``lr=1.0`` are one experiment: one key,
    so a sweep never runs it twice; int-valued fields stay ints (2 != 2.0 for ``hidden``)."""
    from fpe_empirical.dnf_experiment import DNFExperiment
    from fpe_empirical.embedding_experiment import EmbeddingExperiment

    assert config_key(DNFExperiment(l1=0)) == config_key(DNFExperiment(l1=0.0))
    assert config_key(DNFExperiment(lr=1)) == config_key(DNFExperiment(lr=1.0)) != config_key(DNFExperiment())
    assert config_key(DNFExperiment(true_range=(1, 1), false_range=(0, 0))) == config_key(
        DNFExperiment(true_range=(1.0, 1.0), false_range=(0.0, 0.0)))
    assert config_key(EmbeddingExperiment(weight_decay=0)) == config_key(EmbeddingExperiment(weight_decay=0.0))
    assert config_key(DNFExperiment()) == "cd7bd700112ddb8d"  # float defaults: keys unchanged (code_version 4)
