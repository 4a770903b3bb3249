"""Shared test settings: Hypothesis profiles, the session's test statistics, the run summary.

Hypothesis profiles (select with ``HYPOTHESIS_PROFILE=NAME``; each sets the example budget,
tests scale it with ``budget.examples(factor)`` instead of fixing their own):

- ``ci`` (default): derandomized, so a CI run is reproducible; 50 examples per test.
- ``dev``: random examples (a new draw each run), 200 per test: explore while developing.
- ``thorough``: random, 500 per test, for nightly-style runs (``make test-all`` uses it).

Test statistics: a module's ``tally.Tally`` counts (inputs tried, kills survived, worst
errors) are collected from every test, also under pytest-xdist, and printed once in the
terminal summary; ``FPE_TEST_SUMMARY=FILE`` also writes them, with the number of tests run,
as JSON (``.ci/run`` uses it for its floor on the number of tests).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tally import PROPERTY, Tally, Totals

PROFILES = {
    "ci": dict(derandomize=True, max_examples=50),
    "dev": dict(max_examples=200),
    "thorough": dict(max_examples=500),
}
for _name, _opts in PROFILES.items():
    settings.register_profile(_name, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow],
                              **_opts)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if _PROFILE not in PROFILES:
    raise pytest.UsageError(f"HYPOTHESIS_PROFILE must be one of {sorted(PROFILES)}, got {_PROFILE!r}")
settings.load_profile(_PROFILE)


def pytest_report_header(config):
    return f"hypothesis profile: {_PROFILE} ({settings.default.max_examples} examples per test before scaling)"


# --------------------------------------------------------------------------- test statistics
_TOTALS = Totals()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield
    module = getattr(item, "module", None)
    for value in list(vars(module).values()) if module is not None else ():
        if isinstance(value, Tally):
            entry = value.drain()
            if entry:
                item.user_properties.append((PROPERTY, entry))


def pytest_runtest_logreport(report):
    if report.when == "call":
        for name, entry in report.user_properties:
            if name == PROPERTY:
                _TOTALS.add(entry)


def _count(stats, key) -> int:
    return len({r.nodeid for r in stats.get(key, []) if hasattr(r, "nodeid")})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
        return
    lines = _TOTALS.lines()
    if lines:
        terminalreporter.write_sep("-", "test statistics")
        for line in lines:
            terminalreporter.write_line(line)
    path = os.environ.get("FPE_TEST_SUMMARY")
    if path:
        stats = terminalreporter.stats
        counts = {k: _count(stats, k) for k in ("passed", "failed", "xfailed", "xpassed", "skipped", "error")}
        doc = {"exitstatus": int(exitstatus), "ran": sum(counts[k] for k in ("passed", "failed", "xfailed", "xpassed")),
               **counts, "hypothesis_profile": _PROFILE,
               "statistics": _TOTALS.as_dict()}
        Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
