"""Helpers imported by cases_good.py / cases_bad.py (fixtures of tests/test_assertion_guard.py)."""

import numpy as np


def check_positive(x):
    assert x > 0


def check_through_numpy(a, b):
    np.testing.assert_allclose(a, b)


def reexported_check(x):
    return check_positive(x)  # asserts through another helper


def only_computes(x):
    return x + 1
