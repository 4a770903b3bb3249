"""Test functions that each assert (fixture of tests/test_assertion_guard.py; never collected)."""

import pytest
from pytest import raises as expect_raises

import cases_helpers
from cases_helpers import check_positive, reexported_check


def _local_check(x):
    assert x == 1


def _calls_local(x):
    _local_check(x)


def test_plain_assert():
    assert 1 + 1 == 2


def test_raises():
    with pytest.raises(ValueError):
        int("x")


def test_raises_imported_from_pytest():
    with expect_raises(ValueError):
        int("x")


def test_warns():
    with pytest.warns(UserWarning):
        pass


def test_fail_in_branch():
    if 1 + 1 != 2:
        pytest.fail("arithmetic")


def test_assert_call():
    import numpy as np

    np.testing.assert_array_equal([1], [1])


def test_helper_transitive():
    _calls_local(1)


def test_imported_helper():
    check_positive(3)


def test_imported_helper_through_another():
    reexported_check(3)


def test_module_attribute_helper():
    cases_helpers.check_through_numpy(1.0, 1.0)


def test_helper_as_callback():
    for check in (check_positive,):
        check(2)


def test_nested_helper():
    def inner(v):
        assert v

    inner(True)


class TestMethods:
    def _check(self, x):
        assert x

    def test_self_helper(self):
        self._check(1)

    def test_unittest_style(self):
        self.assertEqual(1, 1)  # only read, never run: the name is what counts
