"""`python -m fpe_theory.simulate`: verdict, outputs, resume, bad input (exit 2, one line)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import importlib

import pytest

sim = importlib.import_module("fpe_theory.simulate")
checks = importlib.import_module("fpe_theory.bound_checks")  # the CLI implementation behind it

SMALL = ["--clauses", "4,8", "--alphas", "2", "--parents", "4,16", "--trials", "2000", "--no-progress"]


def run(argv, capsys):
    rc = sim.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_small_grid_passes_and_writes_json_csv(tmp_path, capsys):
    js, cs = tmp_path / "r.json", tmp_path / "r.csv"
    rc, out, err = run(SMALL + ["--json", str(js), "--csv", str(cs)], capsys)
    assert rc == 0, out + err
    assert "PASS" in out and "Bonferroni" in out and "99.9%" in out
    data = json.loads(js.read_text())
    assert data["complete"] and len(data["rows"]) == 4
    row = data["rows"][0]
    assert set(row["checks"]) == {"p_all_covered", "p_clause_covered", "mean_collisions"}
    assert all(c["inside_family"] for r in data["rows"] for c in r["checks"].values())
    with cs.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and {r["quantity"] for r in rows} == {
        "p_all_covered", "p_clause_covered", "mean_collisions"}


def test_resume_from_json_skips_done_configs(tmp_path, capsys):
    js = tmp_path / "r.json"
    rc1, out1, _ = run(SMALL + ["--json", str(js)], capsys)
    rc2, out2, _ = run(SMALL + ["--json", str(js)], capsys)
    assert rc1 == rc2 == 0
    assert "(4 resumed from --json)" in out2
    # identical table: the resumed numbers are the stored ones
    strip = [line for line in out1.splitlines() if "|" in line]
    assert strip == [line for line in out2.splitlines() if "|" in line]


def test_corrupt_previous_json_is_ignored_with_a_note(tmp_path, capsys):
    js = tmp_path / "r.json"
    js.write_text("{not json")
    rc, out, err = run(SMALL + ["--json", str(js)], capsys)
    assert rc == 0 and "ignoring unreadable previous results" in err
    assert json.loads(js.read_text())["complete"]


def test_a_wrong_closed_form_fails_the_verdict(monkeypatch, capsys):
    """The verdict can fail: shift the exact P(clause covered) by 0.05."""
    real = checks._closed_forms_row

    def wrong(res):
        row = real(res)
        row.exact_clause = min(1.0, row.exact_clause + 0.05)
        return row

    monkeypatch.setattr(checks, "_closed_forms_row", wrong)
    rc, out, _ = run(SMALL, capsys)
    assert rc == 1 and "FAIL" in out


def test_plot_writes_pngs(tmp_path, capsys):
    rc, out, _ = run(SMALL + ["--plot", str(tmp_path / "fig")], capsys)
    assert rc == 0
    for name in ("coverage_vs_parents.png", "collision_ratio.png"):
        data = (tmp_path / "fig" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000


@pytest.mark.parametrize("argv,match", [
    (["--trials", "0"], "trials must be an integer >= 1"),
    (["--seed", "-1"], "seed must be an integer >= 0"),
    (["--alphas", "3", "--clauses", "4"], "alpha must be an integer >= 2 dividing n = 16, got 3"),
    (["--clause-size", "40", "--clauses", "4", "--alphas", "8"], "clause_size must be <= n / alpha"),
    (["--family-alpha", "2"], "--family-alpha must satisfy 0 < value < 1"),
    (["--threads", "0"], "threads must be an integer >= 1"),
    (["--model", "dense"], "invalid choice"),
    (["--clauses", "4,x"], "comma-separated list of integers"),
    (["--trials", "many"], "invalid int value"),
    (["--model", "two_four", "--alphas", "4"], "grid is empty"),
])
def test_bad_input_exits_2_with_one_line(argv, match, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse errors exit from inside parse_args
        rc = sim.main(argv + ["--no-progress"])
        raise SystemExit(rc)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and match in err and "Traceback" not in err


def test_unwritable_output_exits_2(tmp_path, capsys):
    target = tmp_path / "dir"
    target.mkdir()
    rc, out, err = run(SMALL + ["--csv", str(target)], capsys)  # a directory, not a file
    assert rc == 2 and err.count("\n") == 1


def test_module_entry_point_help_and_tiny_run():
    """The real `python -m` entry: --help documents the Bonferroni verdict; a tiny run exits 0
    with nothing but the progress-free report (no warnings) on stderr."""
    env = dict(os.environ, PYTHONWARNINGS="error")
    h = subprocess.run([sys.executable, "-m", "fpe_theory.simulate", "--help"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert h.returncode == 0 and "Bonferroni" in h.stdout and "FAMILY_ALPHA" in h.stdout
    r = subprocess.run([sys.executable, "-m", "fpe_theory.simulate", "--clauses", "8", "--alphas", "2",
                        "--parents", "8", "--trials", "1000"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and "PASS" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "fpe_theory.simulate", "--trials", "-3"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


@pytest.mark.slow
def test_quick_run_passes():
    """`make run`'s command (its time is measured by the benchmark notes, not asserted here)."""
    r = subprocess.run([sys.executable, "-m", "fpe_theory.simulate", "--quick"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path):
    """Kill the CLI (SIGKILL) right after its 2nd checkpoint (an event: tests/killpoint.py), rerun:
    the finished configs are reused, none is lost or duplicated, and the table equals an
    uninterrupted run."""
    from killpoint import run_to_killpoint

    grid = ["--clauses", "8,16", "--alphas", "2", "--parents", "8,16,32", "--trials", "150000",
            "--no-progress"]
    js = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "fpe_theory.simulate", *grid, "--json", str(js)]
    stop = run_to_killpoint(cmd[2:], at=2, directory=tmp_path, match=js.name, log=tmp_path / "err")
    assert stop.killed, stop.stderr[-2000:]
    partial = json.loads(js.read_text())  # atomic writes: never a half-written file
    done = len(partial["rows"])
    assert done == 2
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0 and f"({done} resumed from --json)" in resumed.stdout
    fresh = subprocess.run([sys.executable, "-m", "fpe_theory.simulate", *grid], capture_output=True,
                           text=True, timeout=600)
    table = [line for line in resumed.stdout.splitlines() if "|" in line]
    assert table == [line for line in fresh.stdout.splitlines() if "|" in line]
    final = json.loads(js.read_text())
    keys = [tuple(r["simulation"][f] for f in ("n_clauses", "alpha", "n_parents")) for r in final["rows"]]
    assert final["complete"] and len(keys) == len(set(keys)) == 6
