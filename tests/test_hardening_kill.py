"""Hardening (issue 9): long work killed with SIGKILL at random points of its work, again and again.

For each resumable command (a sweep of real DNF runs, ``fpe_theory.simulate --json``,
CLIP embedding extraction, figure generation) a real process is killed several times at
seeded random points of its work: ``tests/killpoint.py`` stops it at its N-th stored file
(N drawn per restart), either just after the file's rename or with the file complete under its
temporary name but not yet renamed (the moment a non-atomic writer would leave a half-written
file). The kill is driven by that event, never by the clock, so every kill lands however fast
or loaded the machine is, and the number of kills is exact. After every kill: every stored
file verifies (checksums / loads with the right shape) and every file stored before is
byte-identical; after the last run: every result is stored exactly once, nothing is left
half-written, and the numbers equal those of an uninterrupted run.

All slow (each kill costs a process start); ``KILLS`` counts the kills survived (printed in
the session's test statistics).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fpe_empirical.store import ResultStore, load_results
from killpoint import run_to_killpoint
from tally import Tally

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
KILLS = Tally("hardening kills survived")  # printed in the session summary (tests/tally.py)


def _env(**extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", HF_HUB_OFFLINE="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _kill(argv, rng: random.Random, directory: Path, match: str, *, max_at: int = 3, log: Path | None = None) -> bool:
    """Run ``python -m *argv`` and SIGKILL it at its N-th file stored in ``directory`` matching
    ``match`` (N uniform in 1..max_at; before or after the rename, equally likely); True if
    killed, False if it finished first."""
    stop = run_to_killpoint(argv, at=rng.randint(1, max_at), directory=directory, match=match,
                            when=rng.choice(["before", "after"]), env=_env(), cwd=ROOT, log=log)
    return stop.killed


def _record(snapshot: dict, files) -> None:
    """Remember every file's bytes; any file seen before must be byte-identical now."""
    for p in files:
        raw = p.read_bytes()
        if p.name in snapshot:
            assert snapshot[p.name] == raw, f"{p.name} changed after it was stored"
        snapshot[p.name] = raw


# ============================================================================= the sweep
def test_sweep_killed_repeatedly_resumes_exactly(tmp_path):
    """A sweep of 40 real DNF runs, SIGKILLed 8 times: no corrupt, lost or duplicated result;
    stored files never change; the final store equals an uninterrupted sweep's, bit for bit."""
    from fpe_empirical.grids import grid_configs
    from fpe_empirical.sweep import run_sweep

    rng = random.Random(20251009)
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"kind": "dnf", "fixed": {"n_clauses": 3, "clause_size": 2, "pretrain_epochs": 60,
                                                         "split_epochs": 60, "n_samples": 400, "batch_size": 50},
                                "vary": {"hidden": [3, 4, 5, 6, 7], "seed": list(range(8))}}))
    store_dir = tmp_path / "s"
    argv = ["fpe_empirical.sweep", str(grid), "--store", str(store_dir), "--chunk-size", "2", "--no-progress"]
    snapshot: dict[str, bytes] = {}
    for kill in range(8):  # at most 3 results per restart: 24 < 40, so every kill lands
        assert _kill(argv, rng, store_dir, "*.json", log=tmp_path / "stderr"), \
            f"restart {kill} finished before its kill point: {(tmp_path / 'stderr').read_text()[-2000:]}"
        ok, corrupt = ResultStore(store_dir).scan()
        assert corrupt == [] and len(ok) == len(list(store_dir.glob("*.json")))
        _record(snapshot, store_dir.glob("*.json"))
    kills = 8
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    store = ResultStore(store_dir)
    ok, corrupt = store.scan()
    configs = grid_configs(str(grid))
    assert len(ok) == len(configs) == 40 and corrupt == [] and store.temp_files() == [] and store.failures() == []
    _record(snapshot, store_dir.glob("*.json"))
    df = load_results(store_dir)
    assert df.groupby("key").size().eq(3).all() and df["key"].nunique() == 40  # each run once, 3 strategies
    fresh = run_sweep(configs, tmp_path / "fresh", chunk_size=2, progress=False)
    assert fresh.ok
    for key in ok:
        a, b = store.get(key), ResultStore(tmp_path / "fresh").get(key)
        assert a.config == b.config and a.frame.equals(b.frame), f"run {key} differs from the uninterrupted run"
    KILLS["sweep"] = kills


# ============================================================================= simulate --json
def test_simulate_json_killed_repeatedly_resumes_exactly(tmp_path):
    """`python -m fpe_theory.simulate --json`, SIGKILLed 6 times: the file is always complete
    JSON whose rows verify, rows once written never change, and the resumed table equals an
    uninterrupted run's."""
    import fpe_theory.bound_checks as sim  # the CLI behind `python -m fpe_theory.simulate`

    rng = random.Random(7)
    grid = ["--clauses", "8,16", "--alphas", "2,4", "--parents", "8,16,32", "--trials", "300000", "--seed", "3",
            "--no-progress"]
    js = tmp_path / "r.json"
    argv = ["fpe_theory.simulate", *grid, "--json", str(js)]

    def rows():
        try:
            return len(json.loads(js.read_text())["rows"])
        except (OSError, ValueError):
            return 0

    seen: dict[str, dict] = {}
    for kill in range(6):  # at most 2 new rows per restart: >= 2 of the 12 rows remain for the 6th kill
        assert _kill(argv, rng, tmp_path, js.name, max_at=2), f"restart {kill} finished before its kill point"
        if js.exists():
            doc = json.loads(js.read_text())  # never half-written
            for row in doc["rows"]:
                assert row["sha256"] == sim._row_digest(row["simulation"])
                s = row["simulation"]
                key = f"{s['model']}-{s['n_clauses']}-{s['alpha']}-{s['n_parents']}"
                assert seen.setdefault(key, s) == s
    assert rows() > 0  # progress was kept across the kills
    kills = 6
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=600)
    fresh = subprocess.run([sys.executable, "-m", "fpe_theory.simulate", *grid], cwd=ROOT, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert done.returncode == fresh.returncode == 0, done.stderr + fresh.stderr
    assert f"({len(seen)} resumed from --json)" in done.stdout
    table = [line for line in done.stdout.splitlines() if "|" in line]
    assert table == [line for line in fresh.stdout.splitlines() if "|" in line]
    final = json.loads(js.read_text())
    assert final["complete"] and len(final["rows"]) == 12
    assert len({json.dumps(r["simulation"]["n_parents"]) + r["simulation"]["model"] + str(r["simulation"]["n_clauses"])
                + str(r["simulation"]["alpha"]) for r in final["rows"]}) == 12
    KILLS["simulate --json"] = kills


# ============================================================================= embedding extraction
def _tiny_clip(path: Path) -> str:
    pytest.importorskip("transformers", reason="CLIP extraction needs the [clip] extra")
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    cfg = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=224, patch_size=32, projection_dim=16)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        CLIPVisionModelWithProjection(cfg).save_pretrained(path)
    return str(path)


def test_embedding_extraction_killed_repeatedly_resumes_exactly(tmp_path):
    """`python -m fpe_empirical.embed` on a CIFAR-100-format file (tiny CLIP, chunks of 2
    images), SIGKILLed 6 times: every cached chunk always loads with the right shape, chunks
    once cached never change, and the final file equals an uninterrupted extraction."""
    from sklearn.datasets import load_sample_images

    from fpe_empirical import embed as E
    from fpe_empirical import load_embeddings
    from test_embed import make_cifar

    photos = [np.asarray(im) for im in load_sample_images().images]
    data, _ = make_cifar(tmp_path, photos, n_train=60, n_test=20, n_classes=3)
    model = _tiny_clip(tmp_path / "clip")
    out = tmp_path / "o.npz"
    cache = tmp_path / "o.npz.cache"
    argv = ["fpe_empirical.embed", "cifar100", "--data", str(data), "--out", str(out), "--model", model,
            "--device", "cpu", "--offline", "--chunk-size", "2", "--keep-cache"]
    rng = random.Random(99)
    snapshot: dict[str, bytes] = {}
    for kill in range(6):  # at most 3 chunks per restart: 18 < 40, so every kill lands
        assert _kill(argv, rng, cache, "*.npy", log=tmp_path / "stderr"), \
            f"restart {kill} finished before its kill point: {(tmp_path / 'stderr').read_text()[-2000:]}"
        for chunk in cache.glob("*.npy"):
            arr = np.load(chunk, allow_pickle=False)
            assert arr.shape == (2, 16) and np.isfinite(arr).all(), chunk.name
        _record(snapshot, cache.glob("*.npy"))
    assert not out.exists()  # killed before the end every time
    kills = 6
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    _record(snapshot, cache.glob("*.npy"))
    assert len(list(cache.glob("*.npy"))) == 40  # 30 train + 10 test chunks, each once
    fresh = E.extract_embeddings("cifar100", data, tmp_path / "fresh.npz", model=model, chunk_size=2, device="cpu",
                                 offline=True)
    got, want = load_embeddings(out), load_embeddings(fresh)
    for k in ("X_train", "y_train", "X_test", "y_test"):
        assert torch.equal(getattr(got, k), getattr(want, k)), k
    KILLS["embed"] = kills


# ============================================================================= figure generation
def test_figure_generation_killed_repeatedly_resumes_exactly(tmp_path):
    """`python -m paper_figures --profile tiny` (training what is missing, then drawing),
    SIGKILLed 6 times (4 while training, 2 while drawing): stored runs verify and never change, every visible output file is
    complete, and the final figures' numbers equal an uninterrupted run's."""
    from PIL import Image

    rng = random.Random(31)
    store, out = tmp_path / "store", tmp_path / "out"
    base = ["paper_figures", "--profile", "tiny", "--only", "fig3,theory_collisions,tableA3", "--no-progress"]
    argv = [*base, "--store", str(store), "--out", str(out)]
    snapshot: dict[str, bytes] = {}
    for kill in range(6):
        # kills 0-3 while training (at most 3 results each: 12 < the 24 runs), 4-5 while drawing
        # (at an output file: every run redraws the figures it was asked for)
        directory, match = (store, "*.json") if kill < 4 else (out, "*")
        assert _kill(argv, rng, directory, match, max_at=3 if kill < 4 else 2, log=tmp_path / "stderr"), \
            f"restart {kill} finished before its kill point: {(tmp_path / 'stderr').read_text()[-2000:]}"
        if store.exists():
            ok, corrupt = ResultStore(store).scan()
            assert corrupt == []
            _record(snapshot, store.glob("*.json"))
        for p in out.glob("*") if out.exists() else ():
            if p.suffix == ".png":
                with Image.open(p) as im:
                    im.load()  # a truncated PNG fails here
            elif p.suffix in (".csv", ".md"):
                assert p.read_text().strip()
            elif p.suffix == ".pdf":
                assert p.read_bytes().rstrip().endswith(b"%%EOF")
    kills = 6
    done = subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=900)
    fresh = subprocess.run([sys.executable, "-m", *base, "--store", str(tmp_path / "s2"), "--out", str(tmp_path / "o2")],
                           cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == fresh.returncode == 0, done.stderr[-2000:] + fresh.stderr[-2000:]
    _record(snapshot, store.glob("*.json"))
    for name in ("fig3.csv", "theory_collisions.csv", "tableA3.csv"):
        strip = lambda t: [line for line in t.splitlines() if not line.startswith("#")]  # noqa: E731 (caption names the store)
        assert strip((out / name).read_text()) == strip((tmp_path / "o2" / name).read_text()), name
    assert sorted(p.name for p in store.glob("*.json")) == sorted(p.name for p in (tmp_path / "s2").glob("*.json"))
    KILLS["paper_figures"] = kills
