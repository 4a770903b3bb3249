"""The DNF defaults sensitivity sweep: settings, diagnostics, resumable CLI (tiny epochs)."""

from __future__ import annotations

import numpy as np
import pytest

from fpe_empirical.dnf_experiment import DNFExperiment
from fpe_empirical.sensitivity import dense_diagnostics, main, sweep_settings


def test_settings_one_at_a_time():
    s = sweep_settings(DNFExperiment(), ["lr", "ranges"])
    assert s[0] == ("default", "default", {})
    assert [o for p, _, o in s if p == "lr"] == [{"lr": 3e-4}, {"lr": 3e-3}, {"lr": 1e-2}]
    assert {"true_range": (1.0, 1.0), "false_range": (0.0, 0.0)} in [o for p, _, o in s if p == "ranges"]
    with pytest.raises(ValueError, match="params must be drawn from"):
        sweep_settings(DNFExperiment(), ["momentum"])


def test_dense_diagnostics_hand_example():
    """Loss 2 for epochs 0..99, 1.0 for 100..149, 0.99 for 150..199: tail change
    (0.99 - 1.0) / 0.99; spike = max of the second half (1.0) / min (0.99)."""
    L = [2.0] * 100 + [1.0] * 50 + [0.99] * 50
    d = dense_diagnostics(L)
    assert d["tail_change"] == pytest.approx(-0.01 / 0.99)
    assert d["spike"] == pytest.approx(1.0 / 0.99)
    assert np.isnan(dense_diagnostics([1.0] * 10)["spike"])


def test_cli_tiny_sweep_resumes(tmp_path, capsys):
    args = ["--seeds", "0", "--params", "lr", "--pretrain-epochs", "1", "--split-epochs", "1",
            "--n-samples", "400", "--backend", "loop", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + 4  # header, default, 3 lr values
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")}  # a result store: one file per run
    assert len(stamps) == 4
    assert main(args) == 0
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.json")} == stamps
    capsys.readouterr()
    assert main(["--params", "nope"]) == 2
    assert "params must be drawn from" in capsys.readouterr().err
