"""Test functions that assert nothing (fixture of tests/test_assertion_guard.py; never collected).

Each ``test_bad_*`` must be reported, each ``test_ok_*`` must not."""

import pytest

from cases_helpers import only_computes

COUNTS = {}


def test_bad_prints_a_statistic():
    print("tried:", sum(COUNTS.values()))


def test_bad_calls_a_helper_that_does_not_assert():
    only_computes(1)


def test_bad_nested_check_never_called():
    def check(v):
        assert v

    only_computes(2)


def test_bad_approx_without_assert():
    pytest.approx(1.0) == 1.0


def test_bad_recursion_without_assert():
    _recurse(3)


def _recurse(n):
    return n if n <= 0 else _recurse(n - 1)


class TestBad:
    def _helper(self):
        return 1

    def test_bad_method(self):
        self._helper()


def test_ok_really_asserts():
    assert only_computes(1) == 2
