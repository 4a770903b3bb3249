"""The result store: exact round trips, atomic files, corrupt files detected and never read."""

from __future__ import annotations

import json
import math
import os
import socket
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpe_empirical.config import config_key, experiment_config
from fpe_empirical.store import (
    CorruptResultError,
    CorruptResultWarning,
    ResultStore,
    load_results,
    provenance,
)


@experiment_config("store-test", 1)
@dataclass(frozen=True)
class StoreToy:
    n_clauses: int = 8
    hidden: int = 8
    strategies: tuple = ("dense", "random")
    seed: int = 0


def _frame(cfg: StoreToy) -> pd.DataFrame:
    rows = len(cfg.strategies)
    return pd.DataFrame(
        {
            "strategy": list(cfg.strategies),
            "seed": [cfg.seed] * rows,
            "test_accuracy": [0.5 + 0.01 * i + cfg.seed / 1000 for i in range(rows)],
            "nonzero": np.arange(rows, dtype=np.int64) + cfg.hidden,
            "converged": [i % 2 == 0 for i in range(rows)],
        }
    )


def test_round_trip_keeps_values_dtypes_and_provenance(tmp_path):
    store = ResultStore(tmp_path / "s")
    cfg = StoreToy(n_clauses=6, seed=3)
    frame = _frame(cfg)
    frame["gap"] = [math.nan, -math.inf]
    frame["per_clause"] = [[0.25, 1.0], [0.5]]
    path = store.put(cfg, frame, provenance=provenance(seed=cfg.seed, duration_s=1.5, note="x"))
    assert path == tmp_path / "s" / f"{config_key(cfg)}.json"
    res = store.get(cfg)
    assert res.key == config_key(cfg) and res.kind == "store-test" and res.code_version == 1
    assert res.config == {"n_clauses": 6, "hidden": 8, "strategies": ["dense", "random"], "seed": 3}
    got = res.frame
    assert list(got.columns) == list(frame.columns)
    for col in ("seed", "nonzero", "test_accuracy", "converged", "gap"):
        assert got[col].dtype == frame[col].dtype, col
    assert got["test_accuracy"].tolist() == frame["test_accuracy"].tolist()  # bit-exact floats
    assert math.isnan(got["gap"][0]) and got["gap"][1] == -math.inf
    assert got["per_clause"].tolist() == [(0.25, 1.0), (0.5,)]
    prov = res.provenance
    assert prov["seed"] == 3 and prov["duration_s"] == 1.5 and prov["note"] == "x"
    assert prov["host"] == socket.gethostname()
    assert prov["packages"]["torch"] and prov["packages"]["numpy"] == np.__version__
    assert "git_commit" in prov and "finished_utc" in prov


def test_file_is_plain_checksummed_json(tmp_path):
    store = ResultStore(tmp_path)
    path = store.put(StoreToy(), _frame(StoreToy()))
    doc = json.loads(path.read_text())
    assert set(doc) == {"checksum", "payload"} and doc["checksum"].startswith("sha256:")
    assert doc["payload"]["config"]["n_clauses"] == 8
    assert not store.temp_files()


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=8))
def test_float_columns_round_trip_bit_exactly(tmp_path_factory, values):
    """Any float64 column (NaN, +-inf, subnormals, -0.0) comes back bit-identical: stored
    numbers must equal the computed ones, not a rounded decimal print."""
    store = ResultStore(tmp_path_factory.mktemp("s"))
    frame = pd.DataFrame({"strategy": ["dense"] * len(values), "v": np.array(values, dtype=np.float64)})
    store.put(StoreToy(), frame)
    got = store.get(StoreToy()).frame["v"].to_numpy()
    assert got.dtype == np.float64
    want = np.array(values, dtype=np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    finite_or_inf = ~np.isnan(want)
    assert got[finite_or_inf].view(np.int64).tolist() == want[finite_or_inf].view(np.int64).tolist()


def test_load_results_one_row_per_run_and_strategy(tmp_path):
    store = ResultStore(tmp_path)
    configs = [StoreToy(n_clauses=c, seed=s) for c in (3, 6) for s in (0, 1)]
    configs.append(StoreToy(strategies=("dense", "clause", "random")))
    for cfg in configs:
        store.put(cfg, _frame(cfg))
    df = load_results(tmp_path)
    assert len(df) == 4 * 2 + 3
    assert {"n_clauses", "hidden", "strategies", "strategy", "seed", "test_accuracy", "key", "kind"} <= set(df.columns)
    assert sorted(df["key"].unique()) == sorted(config_key(c) for c in configs)
    row = df[(df.n_clauses == 6) & (df.seed == 1) & (df.strategy == "random")]
    assert len(row) == 1 and row["test_accuracy"].item() == 0.5 + 0.01 + 1 / 1000
    assert df["strategies"].iloc[0] in (("dense", "random"), ("dense", "clause", "random"))
    # a metric column that disagrees with a config field is kept, the field renamed
    cfg = StoreToy(seed=7)
    frame = _frame(cfg)
    frame["seed"] = [70, 71]
    store.put(cfg, frame)
    df = load_results(tmp_path)
    sub = df[df.key == config_key(cfg)]
    assert sub["seed"].tolist() == [70, 71] and sub["config_seed"].tolist() == [7, 7]
    prov = load_results(tmp_path, with_provenance=True)
    assert "prov_host" in prov.columns and "prov_torch" in prov.columns
    assert load_results(tmp_path, kind="other").empty


def test_same_config_same_file_rewrite_replaces(tmp_path):
    store = ResultStore(tmp_path)
    store.put(StoreToy(), _frame(StoreToy()))
    frame = _frame(StoreToy())
    frame["test_accuracy"] = [0.9, 0.8]
    store.put(StoreToy(), frame)
    assert store.keys() == [config_key(StoreToy())]
    assert store.get(StoreToy()).frame["test_accuracy"].tolist() == [0.9, 0.8]


def _damage(path, how):
    raw = path.read_bytes()
    if how == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "flip":
        i = raw.index(b"test_accuracy") + 40
        path.write_bytes(raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :])
    elif how == "edit":  # valid JSON, changed number, stale checksum
        doc = json.loads(raw)
        doc["payload"]["metrics"]["data"]["test_accuracy"][0] = 0.99
        path.write_text(json.dumps(doc))
    elif how == "garbage":
        path.write_bytes(os.urandom(64))


@pytest.mark.parametrize("how", ["truncate", "empty", "flip", "edit", "garbage"])
def test_corrupt_file_is_detected_never_read(tmp_path, how):
    store = ResultStore(tmp_path)
    good, bad = StoreToy(seed=0), StoreToy(seed=1)
    store.put(good, _frame(good))
    path = store.put(bad, _frame(bad))
    _damage(path, how)
    with pytest.raises(CorruptResultError):
        store.get(bad)
    assert store.status(bad) == "corrupt" and store.status(good) == "ok"
    assert store.missing([good, bad]) == [bad]
    ok, corrupt = store.scan()
    assert ok == [config_key(good)] and corrupt == [path]
    with pytest.warns(CorruptResultWarning, match="1 corrupt"):
        df = load_results(tmp_path)
    assert set(df["key"]) == {config_key(good)}
    with pytest.raises(CorruptResultError):
        load_results(tmp_path, on_corrupt="raise")
    assert set(load_results(tmp_path, on_corrupt="ignore")["key"]) == {config_key(good)}
    moved = store.quarantine(bad)
    assert moved.parent.name == ".corrupt" and moved.exists() and not path.exists()
    assert store.status(bad) == "missing"


def test_file_under_another_key_is_corrupt(tmp_path):
    store = ResultStore(tmp_path)
    a, b = StoreToy(seed=0), StoreToy(seed=1)
    src = store.put(a, _frame(a))
    os.replace(src, store.path(b))
    assert store.status(b) == "corrupt"


def test_truncation_at_every_length_is_detected(tmp_path):
    """A kill mid-write cannot produce a readable prefix: every proper prefix of a result
    file is rejected (writes are atomic anyway; this guards copies and foreign writers)."""
    store = ResultStore(tmp_path)
    path = store.put(StoreToy(), _frame(StoreToy()))
    raw = path.read_bytes()
    for cut in range(0, len(raw) - 1, 7):
        path.write_bytes(raw[:cut])
        assert store.status(StoreToy()) == "corrupt", cut
    path.write_bytes(raw[:-1])  # only the trailing newline gone: still the complete document
    assert store.status(StoreToy()) == "ok"


def test_temp_files_are_ignored_and_cleaned(tmp_path):
    store = ResultStore(tmp_path)
    store.put(StoreToy(), _frame(StoreToy()))
    host = socket.gethostname()
    dead = tmp_path / f".tmp-{config_key(StoreToy(seed=1))}-{host}-999999999-abcd1234"
    dead.write_bytes(b'{"checksum":"sha256:')  # a write killed half-way
    alive = tmp_path / f".tmp-{config_key(StoreToy(seed=2))}-{host}-{os.getpid()}-abcd1234"
    alive.write_bytes(b"{")
    assert store.keys() == [config_key(StoreToy())]
    assert len(load_results(tmp_path)) == 2
    assert store.clean_temp() == 1
    assert not dead.exists() and alive.exists()


def test_failures_are_recorded_and_cleared_on_success(tmp_path):
    store = ResultStore(tmp_path)
    store.record_failure(StoreToy(), "RuntimeError: boom", attempts=3)
    (fail,) = store.failures()
    assert fail["key"] == config_key(StoreToy()) and fail["attempts"] == 3 and "boom" in fail["error"]
    store.put(StoreToy(), _frame(StoreToy()))
    assert store.failures() == []
    assert store.keys() == [config_key(StoreToy())]  # failure records are not results


def test_bad_input(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="directory"):
        ResultStore(tmp_path / "f")
    with pytest.raises(ValueError, match="does not exist"):
        load_results(tmp_path / "nope")
    with pytest.raises(TypeError, match="root"):
        ResultStore(3)
    store = ResultStore(tmp_path / "s")
    with pytest.raises(ValueError, match="16 lowercase hex"):
        store.get("../etc/passwd")
    with pytest.raises(TypeError, match="registered experiment config"):
        store.put({"n": 1}, pd.DataFrame())
    with pytest.raises(TypeError, match="DataFrame"):
        store.put(StoreToy(), {"a": [1]})
    with pytest.raises(TypeError, match="JSON-like"):
        store.put(StoreToy(), pd.DataFrame({"a": [object()]}))
    with pytest.raises(ValueError, match="on_corrupt"):
        load_results(tmp_path / "s", on_corrupt="maybe")
    with pytest.raises(KeyError):
        store.get(StoreToy())
    assert store.keys() == []  # nothing half-written by the failed puts
    assert store.temp_files() == []
