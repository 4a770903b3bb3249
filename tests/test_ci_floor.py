"""CI's floor on the number of tests (``.ci/run``, ``.ci/check_test_floor.py``) and the run
summary it reads (``tests/conftest.py``: FPE_TEST_SUMMARY, the session's test statistics)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CI = ROOT / ".ci"


def _floor_module():
    spec = importlib.util.spec_from_file_location("check_test_floor", CI / "check_test_floor.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_floor_rule_tolerates_10_percent_and_never_trips_on_more_tests():
    f = _floor_module()
    assert f.check(1000, 1000, 0.10) == (True, 900)
    assert f.check(900, 1000, 0.10) == (True, 900)
    assert f.check(899, 1000, 0.10) == (False, 900)
    assert f.check(5000, 1000, 0.10)[0]  # adding tests never breaks it
    assert f.check(0, 0, 0.10) == (True, 0)
    assert f.read_floor(CI / "test-floor") > 0  # the recorded floor of the default run


def test_floor_cli_checks_and_records(tmp_path, capsys):
    f = _floor_module()
    floor = tmp_path / "floor"
    floor.write_text("# a comment that survives recording\n100\n")
    summary = tmp_path / "s.json"
    summary.write_text(json.dumps({"ran": 95}))
    assert f.main([str(summary), "--floor-file", str(floor)]) == 0
    summary.write_text(json.dumps({"ran": 89}))
    assert f.main([str(summary), "--floor-file", str(floor)]) == 1
    err = capsys.readouterr().err
    assert "only 89 tests ran, fewer than 90" in err and "--record-floor" in err
    assert f.main([str(summary), "--floor-file", str(floor), "--record"]) == 0
    assert floor.read_text() == "# a comment that survives recording\n89\n"
    assert f.main([str(tmp_path / "missing.json"), "--floor-file", str(floor)]) == 1
    assert "no usable test summary" in capsys.readouterr().err
    assert f.main([str(summary), "--floor-file", str(floor), "--tolerance", "1.5"]) == 2


def _fake_make(tmp_path: Path, ran: int, rc: int) -> dict:
    """A `make` on PATH that writes a summary of `ran` tests and exits with `rc` (no real suite)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make = bin_dir / "make"
    make.write_text(f"#!/bin/sh\nprintf '{{\"ran\": {ran}}}' > \"$FPE_TEST_SUMMARY\"\nexit {rc}\n")
    make.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("ran_fraction,rc,expect", [(1.0, 0, 0), (2.0, 0, 0), (0.5, 0, 1), (1.0, 1, 1), (0.0, 5, 1),
                                                    (1.0, 2, 2)])
def test_ci_run_maps_exit_codes_and_applies_the_floor(tmp_path, ran_fraction, rc, expect):
    """.ci/run: a failing run keeps its exit code; pytest's 5 (nothing collected) is no failure by
    itself, but then 0 tests ran, below the floor; a run at or above the floor passes."""
    if shutil.which("bash") is None or shutil.which("python3") is None:
        pytest.skip("needs bash and python3 on PATH")
    floor = _floor_module().read_floor(CI / "test-floor")
    env = _fake_make(tmp_path, int(floor * ran_fraction), rc)
    r = subprocess.run(["bash", str(CI / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == expect, r.stdout + r.stderr
    if expect == 1 and rc == 0:
        assert "fewer than" in r.stderr


SAMPLE_TESTS = '''
import pytest
from tally import Tally

TRIED = Tally("sample inputs tried")
ERRS = Tally("sample errors", total=False)


@pytest.mark.parametrize("i", range(4))
def test_counts(i):
    TRIED["a"] += 1
    TRIED["b"] += i
    ERRS.maximum("worst", i / 10, f"case {i}")
    assert i >= 0


def test_skipped():
    pytest.skip("not here")


@pytest.mark.xfail(strict=True)
def test_known_failure():
    assert False
'''


@pytest.mark.parametrize("workers", [None, 2])
def test_summary_file_and_statistics_across_xdist_workers(tmp_path, workers):
    """The conftest hooks in a separate pytest run (in-process, and with 2 xdist workers): the
    statistics of every test add up on the controller and are printed once; the summary counts
    the tests run (passed + xfailed here), not the skipped one."""
    for name in ("conftest.py", "tally.py", "budget.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "test_sample.py").write_text(SAMPLE_TESTS)
    summary = tmp_path / "summary.json"
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    if workers:
        args += ["-n", str(workers)]
    env = dict(os.environ, FPE_TEST_SUMMARY=str(summary), PYTHONPATH=str(tmp_path))
    env.pop("PYTEST_ADDOPTS", None)
    r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(summary.read_text())
    assert (doc["ran"], doc["passed"], doc["xfailed"], doc["skipped"], doc["exitstatus"]) == (5, 4, 1, 1, 0)
    assert doc["statistics"] == {"sample inputs tried": {"counts": {"a": 4, "b": 6}, "maxima": {}},
                                 "sample errors": {"counts": {}, "maxima": {"worst": [0.3, "case 3"]}}}
    assert r.stdout.count("test statistics") == 1
    assert "sample inputs tried: total 10, a: 4, b: 6" in r.stdout and "worst: 0.3 (case 3)" in r.stdout


def test_unknown_hypothesis_profile_is_refused(tmp_path):
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    shutil.copy(TESTS / "tally.py", tmp_path / "tally.py")
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    env = dict(os.environ, HYPOTHESIS_PROFILE="nightly", PYTHONPATH=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "HYPOTHESIS_PROFILE must be one of ['ci', 'dev', 'thorough']" in r.stdout + r.stderr
