"""Sweeps: run only what is missing, store atomically, survive SIGKILL, retry and report failures.

A trivial experiment kind (``sweep-test``) is registered here, so the machinery is tested
without the cost of real training; the ``smoke`` grid exercises the real DNF runner.
Subprocesses and Dask workers import this module (``--import test_sweep`` with ``tests/``
on ``PYTHONPATH``) to know the kind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

from fpe_empirical.config import config_key, experiment_config
from fpe_empirical.grids import GRIDS, expand_block, grid_configs, load_grid_file, register_grid
from fpe_empirical.runner import register_runner
from fpe_empirical.store import ResultStore, load_results
from fpe_empirical.sweep import main, plan_chunks, run_sweep

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@experiment_config("sweep-test", 1)
@dataclass(frozen=True)
class SweepToy:
    """``value = n * 1000 + seed``; ``fail_until`` > 0 makes the first attempts fail
    (attempts counted in the file ``counter``); ``fail_until = -1`` always fails;
    ``steps`` trains a tiny MLP that many epochs (real work for the kill test)."""

    n: int = 1
    seed: int = 0
    strategies: tuple = ("dense", "random")
    fail_until: int = 0
    counter: str = ""
    steps: int = 0
    bad_result: bool = False  # return something that is not a DataFrame


def _attempt(cfg: SweepToy) -> int:
    path = Path(cfg.counter)
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


@register_runner("sweep-test")
def run_toy(configs) -> list[pd.DataFrame]:
    frames = []
    for cfg in configs:
        if cfg.fail_until == -1 or (cfg.fail_until > 0 and _attempt(cfg) <= cfg.fail_until):
            raise RuntimeError(f"injected failure n={cfg.n} seed={cfg.seed}")
        acc = 0.0
        if cfg.steps:
            from fpe_empirical.models import MLP
            from fpe_empirical.train import TrainSettings, train_many

            g = torch.Generator().manual_seed(cfg.seed)
            X = torch.rand(400, 8, generator=g)
            y = (X[:, 0] > 0.5).long()
            torch.manual_seed(cfg.seed)
            model = MLP(8, 4, 1)
            train_many([model], [(X, y)], TrainSettings(epochs=cfg.steps, batch_size=50), [cfg.seed], backend="auto")
            acc = model.accuracy(X, y)
        if cfg.bad_result:
            frames.append({"strategy": "dense"})
            continue
        frames.append(
            pd.DataFrame(
                {
                    "strategy": list(cfg.strategies),
                    "seed": cfg.seed,
                    "value": [cfg.n * 1000 + cfg.seed + i / 10 for i in range(len(cfg.strategies))],
                    "train_accuracy": acc,
                    "test_accuracy": acc,
                    "nonzero": 10,
                    "neurons": 4,
                }
            )
        )
    return frames


@register_grid("sweep-test-grid", "test grid (tests/test_sweep.py)")
def _toy_grid():
    return [SweepToy(n=n, seed=s) for n in range(3) for s in range(2)]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "fpe_empirical.sweep", *args, "--import", "test_sweep", "--no-progress"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=timeout,
    )


def _grid_file(tmp_path, block, name="grid.json"):
    path = tmp_path / name
    path.write_text(json.dumps(block))
    return path


# ------------------------------------------------------------------ in-process


def test_runs_missing_then_skips_everything_stored(tmp_path):
    configs = _toy_grid()
    report = run_sweep(configs, tmp_path / "s", chunk_size=4, progress=False)
    assert (report.total, report.stored_before, report.ran, report.failed) == (6, 0, 6, [])
    df = load_results(tmp_path / "s")
    assert len(df) == 12 and set(df["key"]) == {config_key(c) for c in configs}
    assert sorted(df.loc[df.strategy == "dense", "value"]) == sorted(c.n * 1000 + c.seed for c in configs)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "s").glob("*.json")}
    again = run_sweep(configs + [SweepToy(n=9)], tmp_path / "s", progress=False)
    assert (again.stored_before, again.ran) == (6, 1)
    assert all((tmp_path / "s" / name).stat().st_mtime_ns == t for name, t in mtimes.items())
    prov = ResultStore(tmp_path / "s").get(SweepToy(n=9)).provenance
    assert prov["backend"] == "in-process" and prov["batch_runs"] == 1 and prov["seed"] == 0


def test_corrupt_file_is_reported_moved_and_recomputed(tmp_path, capsys):
    store = ResultStore(tmp_path)
    run_sweep(_toy_grid(), store, progress=False)
    victim = store.path(SweepToy(n=1, seed=1))
    victim.write_bytes(victim.read_bytes()[:100])
    report = run_sweep(_toy_grid(), store, progress=False)
    assert report.ran == 1 and report.stored_before == 5 and len(report.corrupt) == 1
    assert "corrupt" in capsys.readouterr().err
    assert Path(report.corrupt[0]).parent.name == ".corrupt"
    assert store.status(SweepToy(n=1, seed=1)) == "ok"


def test_failures_are_retried_then_reported_not_lost(tmp_path):
    flaky = SweepToy(n=5, fail_until=2, counter=str(tmp_path / "flaky"))
    broken = SweepToy(n=6, fail_until=-1)
    good = [SweepToy(n=7, seed=s) for s in range(3)]
    store = ResultStore(tmp_path / "s")
    report = run_sweep([flaky, broken, *good], store, retries=2, chunk_size=8, progress=False)
    # the chunk failed, was split into single runs; flaky succeeded on its 3rd attempt
    assert [f["key"] for f in report.failed] == [config_key(broken)]
    assert "injected failure" in report.failed[0]["error"]
    assert report.ran == 4 and store.status(flaky) == "ok" and store.status(broken) == "missing"
    assert int((tmp_path / "flaky").read_text()) == 3
    (rec,) = store.failures()
    assert rec["key"] == config_key(broken) and rec["attempts"] == 3
    # too few retries: flaky is reported as failed, not dropped
    flaky2 = SweepToy(n=8, fail_until=5, counter=str(tmp_path / "flaky2"))
    report = run_sweep([flaky2], store, retries=1, progress=False)
    assert [f["key"] for f in report.failed] == [config_key(flaky2)]


def test_unstorable_result_fails_that_run_only(tmp_path):
    store = ResultStore(tmp_path)
    bad = SweepToy(n=3, bad_result=True)
    report = run_sweep([SweepToy(n=1), bad, SweepToy(n=2)], store, chunk_size=3, progress=False)
    assert report.ran == 2 and [f["key"] for f in report.failed] == [config_key(bad)]
    assert "DataFrame" in report.failed[0]["error"]
    assert store.status(bad) == "missing" and len(store.keys()) == 2


def test_plan_chunks_groups_similar_configs():
    configs = [SweepToy(n=n, seed=s) for s in range(5) for n in (3, 1, 2)]
    chunks = plan_chunks(configs, 5)
    assert [len(c) for c in chunks] == [5, 5, 5]
    assert [{c.n for c in chunk} for chunk in chunks] == [{1}, {2}, {3}]
    assert [len(c) for c in plan_chunks(configs, 4)] == [4, 4, 4, 3]
    with pytest.raises(ValueError, match="chunk_size"):
        plan_chunks(configs, 0)


# ------------------------------------------------------------------ grids


def test_grid_files_json_toml_yaml_agree(tmp_path):
    block = {"kind": "sweep-test", "fixed": {"steps": 0}, "vary": {"n": [1, 2], "seed": [0, 1, 2]},
             "configs": [{"n": 9, "strategies": ["dense"]}]}
    j = load_grid_file(_grid_file(tmp_path, block))
    toml = tmp_path / "g.toml"
    toml.write_text('kind = "sweep-test"\n[fixed]\nsteps = 0\n[vary]\nn = [1, 2]\nseed = [0, 1, 2]\n'
                    '[[configs]]\nn = 9\nstrategies = ["dense"]\n')
    yaml = tmp_path / "g.yaml"
    yaml.write_text("kind: sweep-test\nfixed: {steps: 0}\nvary:\n  n: [1, 2]\n  seed: [0, 1, 2]\n"
                    "configs:\n  - {n: 9, strategies: [dense]}\n")
    assert j == load_grid_file(toml) == load_grid_file(yaml)
    assert len(j) == 7 and j[-1] == SweepToy(n=9, strategies=("dense",))
    assert [(c.n, c.seed) for c in j[:6]] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    multi = {"grids": [block, {"kind": "sweep-test", "vary": {"n": [1]}}]}
    assert len(grid_configs(str(_grid_file(tmp_path, multi, "m.json")))) == 7  # (1, 0) twice: deduplicated


@pytest.mark.parametrize(
    "block, match",
    [
        ({"vary": {"n": [1]}}, "kind"),
        ({"kind": "nope"}, "registered experiment kind"),
        ({"kind": "sweep-test", "vary": {"bogus": [1]}}, "unknown fields"),
        ({"kind": "sweep-test", "vary": {"n": []}}, "non-empty list"),
        ({"kind": "sweep-test", "fixed": {"n": 1}, "vary": {"n": [2]}}, "both fixed and varied"),
        ({"kind": "sweep-test", "extra": 1}, "unknown keys"),
    ],
)
def test_bad_grid_blocks(block, match):
    with pytest.raises(ValueError, match=match):
        expand_block(block)


def test_registry_and_bad_names(tmp_path):
    assert "sweep-test-grid" in GRIDS and "smoke" in GRIDS and "dnf-paper" in GRIDS
    with pytest.raises(ValueError, match="known"):
        grid_configs("no-such-grid")
    with pytest.raises(ValueError, match="does not exist"):
        grid_configs(str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="already registered"):
        register_grid("sweep-test-grid")(lambda: [])


def test_paper_grid_is_the_issue_grid():
    configs = grid_configs("dnf-paper")
    assert len(configs) == 8 * 4 * 5
    assert {c.n_clauses for c in configs} == {3, 6, 8, 10, 15, 20, 25, 32}
    assert {c.hidden for c in configs} == {4, 8, 12, 16} and {c.seed for c in configs} == set(range(5))
    c = configs[0]
    assert (c.clause_size, c.alpha, c.pretrain_epochs, c.split_epochs, c.batch_size) == (4, 2, 1000, 1000, 500)
    assert set(c.strategies) == {"dense", "clause", "random"}
    keys = {config_key(c) for c in configs}
    for sub in ("dnf-fig3a", "dnf-fig3b", "dnf-fig4", "dnf-case-study"):
        assert {config_key(c) for c in grid_configs(sub)} <= keys, sub
    assert len(grid_configs("dnf-fig4")) == 20 + 40 - 5


# ------------------------------------------------------------------ CLI


def test_cli_bad_input_exits_2_with_one_line(tmp_path):
    cases = [
        ["no-such-grid", "--store", str(tmp_path)],
        ["sweep-test-grid"],
        ["sweep-test-grid", "--store", str(tmp_path), "--workers", "0"],
        ["sweep-test-grid", "--store", str(tmp_path), "--chunk-size", "0"],
        ["sweep-test-grid", "--store", str(tmp_path), "--workers", "2", "--scheduler", "tcp://x:1"],
        [str(tmp_path / "nope.toml"), "--store", str(tmp_path)],
    ]
    for args in cases:
        with pytest.raises(SystemExit) as exc:
            sys.exit(main([*args, "--no-progress"]))
        assert exc.value.code == 2, args
    (tmp_path / "file").write_text("x")
    assert main(["sweep-test-grid", "--store", str(tmp_path / "file"), "--no-progress"]) == 2


def test_cli_runs_lists_and_dry_runs(tmp_path, capsys):
    assert main(["--list"]) == 0
    assert "dnf-paper" in capsys.readouterr().out
    assert main(["sweep-test-grid", "--store", str(tmp_path), "--dry-run"]) == 0
    assert "6 to run" in capsys.readouterr().out
    assert main(["sweep-test-grid", "--store", str(tmp_path), "--no-progress"]) == 0
    assert "6 ran, 0 failed" in capsys.readouterr().out
    assert main(["sweep-test-grid", "--store", str(tmp_path), "--dry-run"]) == 0
    assert "0 to run" in capsys.readouterr().out
    bad = _grid_file(tmp_path, {"kind": "sweep-test", "vary": {"n": [50], "fail_until": [-1]}}, "bad.json")
    assert main([str(bad), "--store", str(tmp_path), "--no-progress", "--retries", "0"]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_second_sweep_on_same_store_is_refused(tmp_path):
    from fpe_empirical.sweep import _store_lock

    store = ResultStore(tmp_path)
    with _store_lock(store):
        proc = _cli("sweep-test-grid", "--store", str(tmp_path))
    assert proc.returncode == 2 and "in use by another running sweep" in proc.stderr
    assert proc.stderr.count("\n") == 1


# ------------------------------------------------------------------ SIGKILL and resume


@pytest.mark.parametrize("when", ["after", "before"])
def test_sigkill_mid_sweep_then_resume_loses_and_repeats_nothing(tmp_path, when):
    """Kill a real sweep process at its 3rd stored result (``when``: just after the rename, or with
    the result written to its temporary file but not yet renamed), restart it: every run stored
    exactly once, every file verifies, files written before the kill are byte-identical after.

    The kill is driven by the event (``tests/killpoint.py`` stops the process at that
    ``os.replace``), not by time: the same kill on any machine, however loaded."""
    from killpoint import run_to_killpoint

    grid = _grid_file(tmp_path, {"kind": "sweep-test", "fixed": {"steps": 2}, "vary": {"n": [1, 2, 3, 4], "seed": [0, 1, 2]}})
    store_dir = tmp_path / "s"
    stop = run_to_killpoint(["fpe_empirical.sweep", str(grid), "--store", str(store_dir), "--import", "test_sweep",
                             "--chunk-size", "1", "--no-progress"], at=3, directory=store_dir, match="*.json",
                            when=when, env=_env(), cwd=ROOT, log=tmp_path / "stderr")
    assert stop.killed, f"the sweep exited ({stop.returncode}) before its 3rd result: {stop.stderr[-2000:]}"
    stored = 3 if when == "after" else 2
    store = ResultStore(store_dir)
    before = {p.name: p.read_bytes() for p in store_dir.glob("*.json")}
    ok, corrupt = store.scan()
    assert len(ok) == len(before) == stored and corrupt == []
    assert len(store.temp_files()) == (when == "before")  # the complete temp file that was never renamed
    done = _cli(str(grid), "--store", str(store_dir), "--chunk-size", "1")
    assert done.returncode == 0, done.stderr
    assert f"{stored} already stored, {12 - stored} ran, 0 failed" in done.stdout
    ok, corrupt = store.scan()
    assert len(ok) == 12 and corrupt == [] and store.temp_files() == []
    for name, raw in before.items():
        assert (store_dir / name).read_bytes() == raw, "a result stored before the kill was recomputed"
    df = load_results(store_dir)
    assert len(df) == 24 and df.groupby("key").size().eq(2).all()
    pids = {store.get(k).provenance["pid"] for k in ok}
    assert len(pids) == 2  # the killed process and the resumed one


@pytest.mark.slow
def test_sigkill_at_many_random_moments(tmp_path):
    """Kill the sweep 8 times at seeded random points of its work (the 1st or 2nd result of each
    restart, before or after its rename: half the kills leave a complete temporary file);
    after every kill the store verifies and earlier files are unchanged; after the last
    restart all runs are stored once. Every kill lands (event-driven, ``tests/killpoint.py``)."""
    import random

    from killpoint import run_to_killpoint

    rng = random.Random(1234)
    grid = _grid_file(tmp_path, {"kind": "sweep-test", "fixed": {"steps": 5}, "vary": {"n": list(range(8)), "seed": [0, 1, 2]}})
    store_dir = tmp_path / "s"
    argv = ["fpe_empirical.sweep", str(grid), "--store", str(store_dir), "--import", "test_sweep", "--chunk-size", "1",
            "--no-progress"]
    seen: dict[str, bytes] = {}
    for i in range(8):  # at most 2 results per restart: 16 < 24, so work always remains
        stop = run_to_killpoint(argv, at=rng.randint(1, 2), directory=store_dir, match="*.json",
                                when=rng.choice(["before", "after"]), env=_env(), cwd=ROOT, log=tmp_path / "stderr")
        assert stop.killed, f"restart {i} exited ({stop.returncode}) before its kill point: {stop.stderr[-2000:]}"
        ok, corrupt = ResultStore(store_dir).scan()
        assert corrupt == [] and ok
        for p in store_dir.glob("*.json"):
            assert seen.setdefault(p.name, p.read_bytes()) == p.read_bytes(), f"{p.name} changed after it was stored"
    done = _cli(str(grid), "--store", str(store_dir), "--chunk-size", "1")
    assert done.returncode == 0, done.stderr
    ok, corrupt = ResultStore(store_dir).scan()
    assert len(ok) == 24 and corrupt == [] and ResultStore(store_dir).temp_files() == []
    assert f"{len(seen)} already stored, {24 - len(seen)} ran" in done.stdout


# ------------------------------------------------------------------ Dask


def test_dask_local_cluster_runs_retries_and_reports(tmp_path):
    """``--workers 2``: a real local cluster of 2 processes runs the grid; a flaky run is
    retried by Dask and stored, a broken one is reported (exit 1) and nothing is lost."""
    grid = _grid_file(
        tmp_path,
        {"grids": [
            {"kind": "sweep-test", "vary": {"n": [1, 2, 3], "seed": [0, 1]}},
            {"kind": "sweep-test", "fixed": {"n": 20, "fail_until": 1, "counter": str(tmp_path / "flaky")}},
            {"kind": "sweep-test", "fixed": {"n": 21, "fail_until": -1}},
        ]},
    )
    proc = _cli(str(grid), "--store", str(tmp_path / "s"), "--workers", "2", "--retries", "1", timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert "7 ran, 1 failed" in proc.stdout and "(dask," in proc.stdout
    assert "injected failure n=21" in proc.stderr
    store = ResultStore(tmp_path / "s")
    ok, corrupt = store.scan()
    assert len(ok) == 7 and corrupt == []
    workers = {store.get(k).provenance["worker"] for k in ok}
    assert all(w and w.startswith("tcp://") for w in workers)
    assert {store.get(k).provenance["torch_threads"] for k in ok} == {max(1, len(os.sched_getaffinity(0)) // 2)}
    assert [f["key"] for f in store.failures()] == [config_key(SweepToy(n=21, fail_until=-1))]


def test_dask_existing_scheduler_address(tmp_path):
    """``--scheduler ADDRESS`` runs the grid on a cluster that already exists (here a
    1-worker cluster inside this test process; the CLI is a separate process)."""
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0") as cluster:
        proc = _cli("sweep-test-grid", "--store", str(tmp_path), "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    assert "6 ran, 0 failed (dask," in proc.stdout
    ok, corrupt = ResultStore(tmp_path).scan()
    assert len(ok) == 6 and corrupt == []
    assert {ResultStore(tmp_path).get(k).provenance["backend"] for k in ok} == {"dask"}


def _assert_same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.sort_values("strategy").reset_index(drop=True)
    b = b.sort_values("strategy").reset_index(drop=True)
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        # exact equality (NaN == NaN), not a tolerance: same seed, same result
        assert a[col].tolist() == b[col].tolist() or a[col].equals(b[col]), col


def test_run_alone_equals_the_same_config_inside_a_sweep_chunk(tmp_path):
    """Regression test of the batch-composition bug: ``run(config)`` alone and the same
    config trained in sweep chunks with other configs (other hidden widths that pad to its
    stack shape or not, other seeds; in-process, chunk sizes 9 and 4 so the chunking
    differs) store bit-identical metrics, for a DNF config and a digits config (the
    reported case: hidden 2, random split, several seeds batched)."""
    from fpe_empirical.dnf_experiment import DNFExperiment
    from fpe_empirical.embedding_experiment import EmbeddingExperiment
    from fpe_empirical.runner import run

    dnf = dict(n_clauses=3, pretrain_epochs=3, split_epochs=3, n_samples=600)
    dnf_grid = [DNFExperiment(hidden=h, seed=s, **dnf) for h in (3, 4, 8) for s in (0, 1, 2)]
    emb = dict(pretrain_epochs=2, split_epochs=3, strategies=("dense", "random"))
    emb_grid = [EmbeddingExperiment(hidden=h, seed=s, **emb) for h in (2, 3, 8) for s in (0, 1)]
    targets = [DNFExperiment(hidden=4, seed=1, **dnf), EmbeddingExperiment(hidden=2, seed=0, **emb)]
    alone = [run(c) for c in targets]
    for chunk_size in (9, 4):
        store = ResultStore(tmp_path / f"s{chunk_size}")
        report = run_sweep(dnf_grid + emb_grid, store, chunk_size=chunk_size, progress=False)
        assert report.ok and report.ran == len(dnf_grid) + len(emb_grid)
        for cfg, frame in zip(targets, alone):
            _assert_same_frame(store.get(cfg).frame, frame)
