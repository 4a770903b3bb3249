"""The guard against tests that cannot fail (issue 17): every test function asserts.

``assertion_guard`` reads the test modules' syntax trees: a test must contain an ``assert``,
a ``pytest.raises`` / ``warns`` / ``fail``, an ``assert*`` call, or refer to a helper that
does (transitively, across test modules). A printed statistic is not a test: counts go to a
``tally.Tally`` and the session summary instead (``tests/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

from assertion_guard import Checker, collected_files, main
from tally import Tally, Totals

TESTS = Path(__file__).resolve().parent
#: the guard's fixtures: Python source kept as ``.pysrc`` data files, because the ``cases_bad``
#: functions assert nothing on purpose and must never look like tests to pytest or to any
#: other scanner of test functions (the guard reads any path it is given)
CASES = TESTS / "assertion_guard_cases"


def test_every_test_function_in_the_suite_asserts():
    """The real suite: no test function without an assertion (run ``python tests/assertion_guard.py``
    to list offenders)."""
    files = collected_files(TESTS)
    assert len(files) >= 30 and Path(__file__) in files
    assert not any(CASES in f.parents for f in files)  # the fixtures below are not collected
    offenders = Checker([TESTS]).offenders(files)
    assert offenders == [], "\n".join(map(str, offenders))


def test_guard_reports_each_bad_test_and_no_good_one():
    """The fixture files: every ``test_bad_*`` is reported (print-only, a helper that only computes,
    a nested check never called, a bare comparison, recursion, a method), no ``test_ok_*`` and none
    of the good file (plain assert, raises/warns/fail in every spelling, assert_* calls, helpers
    local, nested, imported, imported through another helper, as a callback, via self)."""
    checker = Checker([CASES])
    bad = checker.offenders([CASES / "cases_bad.pysrc", CASES / "cases_good.pysrc"])
    names = sorted(o.name for o in bad)
    assert names == ["TestBad.test_bad_method", "test_bad_approx_without_assert",
                     "test_bad_calls_a_helper_that_does_not_assert", "test_bad_nested_check_never_called",
                     "test_bad_prints_a_statistic", "test_bad_recursion_without_assert"]
    assert all(o.path == CASES / "cases_bad.pysrc" for o in bad)
    first = next(o for o in bad if o.name == "test_bad_prints_a_statistic")
    assert first.line == 12 and "asserts nothing" in str(first) and "cases_bad.pysrc:12" in str(first)


def test_guard_cli_exit_codes(capsys):
    """``python tests/assertion_guard.py FILE``: exit 1 listing offenders, exit 0 when clean."""
    assert main([str(CASES / "cases_bad.pysrc")]) == 1
    out = capsys.readouterr().out
    assert out.count("asserts nothing") == 6
    assert main([str(CASES / "cases_good.pysrc")]) == 0
    assert capsys.readouterr().out == ""


def test_a_new_assertion_free_test_is_caught(tmp_path):
    """Adding a print-only test to an otherwise good module makes the guard fail."""
    src = (CASES / "cases_good.pysrc").read_text() + "\n\ndef test_new_counts():\n    print('3 inputs tried')\n"
    (tmp_path / "test_new.py").write_text(src)
    (tmp_path / "cases_helpers.py").write_text((CASES / "cases_helpers.py").read_text())
    (bad,) = Checker([tmp_path]).offenders([tmp_path / "test_new.py"])
    assert bad.name == "test_new_counts"


def test_tally_drains_increments_and_maxima():
    """The session statistics that replaced the print-only tests: each drain hands over only what is
    new; totals add counts and keep the largest maximum with what attained it."""
    t = Tally("demo")
    assert t.drain() is None
    t["a"] += 2
    t.maximum("err", 1e-12, "x")
    t.maximum("err", 1e-13, "y")  # smaller: ignored
    first = t.drain()
    assert first == {"title": "demo", "total": True, "counts": {"a": 2}, "maxima": {"err": [1e-12, "x"]}}
    t["a"] += 1
    t["b"] += 4
    second = t.drain()
    assert second["counts"] == {"a": 1, "b": 4} and second["maxima"] == {}
    totals = Totals()
    totals.add(first)
    totals.add(second)
    totals.add({"title": "demo", "counts": {}, "maxima": {"err": [5e-12, "z"]}})
    (line,) = totals.lines()
    assert line == "demo: total 7, a: 3, b: 4, err: 5e-12 (z)"
    assert totals.as_dict() == {"demo": {"counts": {"a": 3, "b": 4}, "maxima": {"err": [5e-12, "z"]}}}

