"""Hardening (issue 9): bad input to every public function, fuzzed with hypothesis.

Each test breaks exactly one parameter of an otherwise valid call and requires a
``ValueError`` or ``TypeError`` whose message names that parameter (CONTRIBUTING.md). Any
other exception type, a warning (warnings are errors) or a silently accepted value fails.
Invalid values are built directly per parameter (below the minimum, zero, negative,
non-integral floats, integral floats, bools, NaN, inf, strings, None, containers, other
objects), so no example is filtered away.

``TRIED`` counts the inputs tried per area; the session summary prints them ("test statistics").
"""

from __future__ import annotations


import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from tally import Tally

import fpe_empirical as fe
import fpe_theory as ft
from fpe_empirical.train import TrainSettings

TRIED = Tally("hardening inputs tried")  # printed in the session summary (tests/tally.py)
MANY = settings(max_examples=examples(3))  # cheap calls: more examples
FEW = settings(max_examples=examples(0.8))  # calls that build a model or a data set first


def rejects(area: str, names, fn, *args, **kwargs) -> Exception:
    """Call ``fn``; it must raise ValueError/TypeError naming one of ``names``."""
    TRIED[area] += 1
    names = (names,) if isinstance(names, str) else tuple(names)
    try:
        fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        assert any(n in msg for n in names), f"{getattr(fn, '__qualname__', fn)}: message names none of {names}: {msg!r}"
        return exc
    pytest.fail(f"{getattr(fn, '__qualname__', fn)} accepted a bad {names[0]}: args={args!r} kwargs={kwargs!r}")


# ----------------------------------------------------------------------------- invalid values
OTHER_SCALARS = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.binary(max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.complex_numbers(max_magnitude=10, allow_nan=False),
    st.just(object()),
)
OTHER = st.one_of(  # OTHER_SCALARS and containers
    OTHER_SCALARS,
    st.lists(st.integers(-3, 9), max_size=3),
    st.tuples(st.integers(1, 9)),
    st.just(np.array([1, 2])),
)
NON_INT_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),  # includes integral floats such as 2.0
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 2.0, 0.5, 1e300]),
    st.fractions(max_denominator=7).filter(lambda f: f.denominator != 1),
    st.booleans(),
)


def not_int():
    """Anything but an integer (floats even when integral, bools, strings, None, ...)."""
    return st.one_of(NON_INT_NUMBERS, OTHER)


def bad_count(minimum: int, maximum: int | None = None):
    """An integer outside ``[minimum, maximum]`` or a non-integer."""
    out = [st.integers(max_value=minimum - 1), st.sampled_from([minimum - 1, -1, -(2**70)]), not_int()]
    if maximum is not None:
        out.append(st.integers(min_value=maximum + 1))
    return st.one_of(*out)


def bad_name(choices):
    """A string not in ``choices``, or not a string at all."""
    return st.one_of(
        st.text(max_size=12).filter(lambda s: s not in choices),
        st.sampled_from([c.upper() + "x" for c in choices] + [" " + c for c in choices] + [""]),
        st.none(), st.integers(), st.booleans(), st.lists(st.sampled_from(list(choices)), min_size=1, max_size=2),
    )


def bad_bool():
    return st.one_of(st.integers(0, 1), st.text(max_size=3), st.none(), st.floats(0, 1), st.lists(st.booleans(), max_size=1))


def bad_open_unit(positive_ok=False):
    """A value outside (0, 1) (or [0, 1)), NaN, inf, or not a real number."""
    return st.one_of(
        st.floats(max_value=0.0, exclude_max=positive_ok),
        st.floats(min_value=1.0),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), 1.0, -0.0 if not positive_ok else -1e-9]),
        st.text(max_size=3), st.none(), st.booleans(), st.lists(st.floats(0.1, 0.9), max_size=1),
    )


def bad_nonneg_float(positive=False, upper=None):
    """Negative (or zero when positive), NaN, inf, above ``upper``, or not a number."""
    out = [
        st.floats(max_value=0.0, exclude_max=not positive).filter(lambda x: x != 0.0 or positive),
        st.sampled_from([float("nan"), float("inf"), -float("inf"), -1e-12]),
        st.text(max_size=3), st.none(), st.booleans(), st.lists(st.floats(0, 1), max_size=1),
    ]
    if upper is not None:
        out.append(st.floats(min_value=upper, exclude_min=True, allow_infinity=False))
    return st.one_of(*out)


# ============================================================================= fpe_theory
BASE = (8, 4, 2)  # n_clauses, clause_size, alpha: the paper's case study
ALL_COVER_MODELS = ("literal", "subset", "independent", "partition")  # "independent": deprecated alias
ALL_MODELS = ALL_COVER_MODELS + ("two_four",)
THEORY_FUNCS = {
    "prob_all_covered": (ft.prob_all_covered, True, dict(model=ALL_COVER_MODELS,
                                                           method=("exact", "union_bound", "paper"),
                                                           complement="bool", log="bool", full_output="bool")),
    "prob_clause_covered": (ft.prob_clause_covered, True, dict(model=ALL_MODELS,
                                                                 method=("exact", "union_bound", "paper"),
                                                                 layout=("contiguous", "shuffled"),
                                                                 complement="bool", log="bool", full_output="bool")),
    "expected_collisions": (ft.expected_collisions, True, dict(method=("exact", "paper"),
                                                                 model=ALL_MODELS,
                                                                 layout=("contiguous", "shuffled"),
                                                                 log="bool", full_output="bool")),
    "collision_ratio": (ft.collision_ratio, False, dict(method=("exact", "paper"), log="bool", full_output="bool",
                                                        model=ALL_MODELS, layout=("contiguous", "shuffled"))),
    "prob_child_covers": (ft.prob_child_covers, False, dict(method=("exact", "paper"), clauses="count0",
                                                            model=ALL_COVER_MODELS)),
}


def bad_n_parents():
    """Not an integer >= 1 nor a 1-d array of them (containers of bad entries included)."""
    return st.one_of(
        st.integers(max_value=0), NON_INT_NUMBERS, OTHER_SCALARS,
        st.lists(st.integers(1, 50), min_size=1, max_size=3).flatmap(
            lambda xs: st.integers(0, len(xs) - 1).flatmap(
                lambda i: bad_count(1).map(lambda b: xs[:i] + [b] + xs[i + 1:])).filter(
                lambda v: not (isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)))),
        st.just([]), st.just([[1, 2]]), st.just(np.array([1.0, 2.0])), st.just(np.array([0, 3])),
        st.just(np.array(["a"])), st.just(np.zeros((2, 2), dtype=int)), st.just(np.array([True])),
    )


@st.composite
def theory_bad_call(draw, name):
    fn, has_parents, kws = THEORY_FUNCS[name]
    params = ["n_clauses", "clause_size", "alpha"] + (["n_parents"] if has_parents else []) + list(kws)
    param = draw(st.sampled_from(params))
    args = list(BASE) + ([8] if has_parents else [])
    kwargs = {}
    if param == "n_clauses":
        args[0] = draw(bad_count(1))
    elif param == "clause_size":
        args[1] = draw(bad_count(1))
    elif param == "alpha":
        args[2] = draw(bad_count(2))
    elif param == "n_parents":
        args[3] = draw(bad_n_parents())
    else:
        rule = kws[param]
        kwargs[param] = draw(bad_bool() if rule == "bool" else bad_count(0) if rule == "count0" else bad_name(rule))
    return fn, param, args, kwargs


@pytest.mark.parametrize("name", sorted(THEORY_FUNCS))
def test_theory_closed_forms_reject_bad_parameters(name):
    """Every closed form names the one broken parameter (sizes, counts, names, flags)."""

    @MANY
    @given(call=theory_bad_call(name))
    def check(call):
        fn, param, args, kwargs = call
        # alpha = 0/1/negative is reported as alpha; a bad n_clauses/clause_size may make
        # "n = C*k" meaningless, so it is reported before alpha
        rejects("fpe_theory", param, fn, *args, **kwargs)

    check()


@MANY
@given(param=st.sampled_from(["n_clauses", "clause_size", "alpha", "delta", "model", "method", "full_output"]),
       data=st.data())
def test_min_parents_rejects_bad_parameters(param, data):
    """min_parents_for_coverage: delta outside (0, 1) (NaN, inf, 0, 1, negative), bad sizes and names."""
    args, kwargs = [8, 4, 2, 0.01], {}
    strat = {"n_clauses": bad_count(1), "clause_size": bad_count(1), "alpha": bad_count(2), "delta": bad_open_unit(),
             "model": bad_name(ALL_COVER_MODELS), "method": bad_name(("exact", "union_bound", "paper")),
             "full_output": bad_bool()}[param]
    value = data.draw(strat)
    if param in ("n_clauses", "clause_size", "alpha", "delta"):
        args[["n_clauses", "clause_size", "alpha", "delta"].index(param)] = value
    else:
        kwargs[param] = value
    rejects("fpe_theory", param, ft.min_parents_for_coverage, *args, **kwargs)


@MANY
@given(param=st.sampled_from(["n_clauses", "n_parents"]), data=st.data())
def test_dense_collisions_rejects_bad_parameters(param, data):
    """dense_collisions: n_clauses and n_parents broken one at a time."""
    args = [8, 8]
    args[0 if param == "n_clauses" else 1] = data.draw(bad_count(1) if param == "n_clauses" else bad_n_parents())
    rejects("fpe_theory", param, ft.dense_collisions, *args)


@st.composite
def alpha_not_dividing(draw):
    """(C, k, alpha) with alpha >= 2 prime not dividing n = C*k (built directly)."""
    p = draw(st.sampled_from([2, 3, 5, 7, 11, 13, 1021]))
    c = p * draw(st.integers(0, 50)) + draw(st.integers(1, p - 1))
    k = p * draw(st.integers(0, 10)) + draw(st.integers(1, p - 1))
    return c, k, p


@st.composite
def clause_larger_than_child(draw):
    """(C, k, alpha): alpha divides n but the child fan-in d = n/alpha is < k."""
    k = draw(st.integers(2, 64))
    d = draw(st.integers(1, k - 1))
    m = draw(st.integers(1, 40))
    return d * m, k, m * k  # n = d*m*k, alpha = m*k, n / alpha = d < k


CONFIG_TAKERS = [
    lambda c, k, a: ft.prob_all_covered(c, k, a, 4),
    lambda c, k, a: ft.prob_clause_covered(c, k, a, 4),
    lambda c, k, a: ft.expected_collisions(c, k, a, 4),
    lambda c, k, a: ft.collision_ratio(c, k, a),
    lambda c, k, a: ft.prob_child_covers(c, k, a),
    lambda c, k, a: ft.min_parents_for_coverage(c, k, a, 0.1),
    lambda c, k, a: ft.simulate(c, k, a, 2, trials=5),
    lambda c, k, a: ft.sample_masks(c, k, a, 2),
]


@MANY
@given(cfg=alpha_not_dividing(), which=st.integers(0, len(CONFIG_TAKERS) - 1))
def test_alpha_must_divide_n(cfg, which):
    """alpha not dividing n = C*k: 'alpha must be an integer >= 2 dividing n = ...'."""
    exc = rejects("fpe_theory", "alpha", CONFIG_TAKERS[which], *cfg)
    assert f"dividing n = {cfg[0] * cfg[1]}" in str(exc)


@MANY
@given(cfg=clause_larger_than_child(), which=st.integers(0, len(CONFIG_TAKERS) - 1))
def test_clause_size_at_most_child_fan_in(cfg, which):
    """A clause larger than a child's fan-in n/alpha: 'clause_size must be <= n / alpha'."""
    exc = rejects("fpe_theory", "clause_size", CONFIG_TAKERS[which], *cfg)
    assert "clause_size must be <= n / alpha" in str(exc)


@MANY
@given(param=st.sampled_from(["trials", "seed", "model", "layout", "threads", "n_parents"]), data=st.data())
def test_simulate_rejects_bad_parameters(param, data):
    """simulate: trials >= 1 (and small enough to count), seed in [0, 2**64), threads in
    [1, NUMBA_NUM_THREADS], names; a valid call with trials=5 would return quickly."""
    import numba

    strat = {
        "trials": st.one_of(bad_count(1), st.integers(min_value=2**62 + 1)),
        "seed": st.one_of(bad_count(0), st.integers(min_value=2**64)),
        "model": bad_name(ALL_MODELS),
        "layout": bad_name(("contiguous", "shuffled")),
        "threads": st.one_of(bad_count(1).filter(lambda v: v is not None),
                             st.integers(min_value=numba.config.NUMBA_NUM_THREADS + 1)),
        "n_parents": bad_count(1),
    }[param]
    kwargs = dict(trials=5, seed=0)
    args = [4, 2, 2, 3]
    value = data.draw(strat)
    if param == "n_parents":
        args[3] = value
    else:
        kwargs[param] = value
    rejects("fpe_theory", param, ft.simulate, *args, **kwargs)


@MANY
@given(param=st.sampled_from(["n_parents", "seed", "trial", "model", "layout"]), data=st.data())
def test_sample_masks_rejects_bad_parameters(param, data):
    """sample_masks: n_parents, seed (incl. >= 2**64), trial and names broken one at a time."""
    strat = {"n_parents": bad_count(1), "seed": st.one_of(bad_count(0), st.integers(min_value=2**64)),
             "trial": bad_count(0), "model": bad_name(ALL_MODELS),
             "layout": bad_name(("contiguous", "shuffled"))}[param]
    args, kwargs = [4, 2, 2, 3], {}
    value = data.draw(strat)
    if param == "n_parents":
        args[3] = value
    else:
        kwargs[param] = value
    rejects("fpe_theory", param, ft.sample_masks, *args, **kwargs)


@pytest.fixture(scope="module")
def sim_result():
    return ft.simulate(4, 2, 2, 6, trials=200, seed=1)


@MANY
@given(level=bad_open_unit(), n_parents=st.one_of(bad_count(1), st.integers(min_value=7)))
def test_simulation_result_methods_reject_bad_input(sim_result, level, n_parents):
    """SimulationResult.p_all_covered_at / coverage_curve and Estimate.interval/contains."""
    rejects("fpe_theory", "n_parents", sim_result.p_all_covered_at, n_parents)
    rejects("fpe_theory", "level", sim_result.p_all_covered_at, 3, level)
    rejects("fpe_theory", "level", sim_result.p_all_covered.interval, level)
    if level is not None:  # contains(x, None) means the stored 99.9% interval
        rejects("fpe_theory", "level", sim_result.mean_collisions.contains, 0.5, level)


# ============================================================================= fpe_empirical: data
DNF_BASE = dict(n_clauses=3, clause_size=2, n_samples=40)


def bad_pair(integer: bool):
    """Not a (low, high) pair of finite numbers with low <= high."""
    num = st.integers(0, 5) if integer else st.floats(0, 1)
    elem_bad = (st.one_of(NON_INT_NUMBERS.filter(lambda v: not isinstance(v, bool) and not (isinstance(v, float) and v.is_integer())), OTHER)
                if integer else st.one_of(st.sampled_from([float("nan"), float("inf"), -float("inf")]), OTHER, st.booleans()))
    return st.one_of(
        st.tuples(num, num).filter(lambda t: t[0] > t[1]),
        st.tuples(elem_bad, num), st.tuples(num, elem_bad),
        st.lists(num, min_size=0, max_size=1), st.lists(num, min_size=3, max_size=4),
        st.none(), st.text(max_size=2), num,
    )


@FEW
@given(param=st.sampled_from(["n_clauses", "clause_size", "n_samples", "seed", "true_range", "false_range",
                              "active_range", "test_fraction"]), data=st.data())
def test_make_dnf_dataset_rejects_bad_parameters(param, data):
    """make_dnf_dataset: counts, even n_samples, finite ordered ranges, an active range the
    generator can meet, test_fraction in (0, 1) leaving 2 samples on each side."""
    strat = {
        "n_clauses": bad_count(1), "clause_size": bad_count(2),
        "n_samples": st.one_of(bad_count(4), st.integers(2, 500).map(lambda n: 2 * n + 1)),
        "seed": bad_count(0),
        "true_range": bad_pair(False), "false_range": bad_pair(False),
        "active_range": st.one_of(bad_pair(True).filter(lambda v: v is not None), st.tuples(st.integers(-5, -1), st.integers(2, 3)),
                                  st.tuples(st.integers(0, 2), st.integers(7, 50)),  # high > n = 6
                                  st.just((0, 1)),  # high < clause_size
                                  st.just((4, 5))),  # low > n - n_clauses = 3
        "test_fraction": st.one_of(bad_open_unit(), st.floats(1e-9, 0.02), st.floats(0.98, 1 - 1e-9)),
    }[param]
    kwargs = dict(DNF_BASE)
    kwargs[param] = data.draw(strat)
    rejects("fpe_empirical.data", param, fe.make_dnf_dataset, **kwargs)


@MANY
@given(param=st.sampled_from(["test_fraction", "seed"]), data=st.data())
def test_load_digits_data_rejects_bad_parameters(param, data):
    """load_digits_data: test_fraction outside (0, 1) or not a number; seed not an integer >= 0."""
    value = data.draw(bad_open_unit() if param == "test_fraction" else bad_count(0))
    rejects("fpe_empirical.data", param, fe.load_digits_data, **{param: value})


# ============================================================================= models
@MANY
@given(param=st.sampled_from(["in_features", "out_features", "bias"]), data=st.data())
def test_masked_linear_rejects_bad_parameters(param, data):
    """MaskedLinear: sizes not integers >= 1, bias not a bool."""
    kwargs = dict(in_features=3, out_features=2)
    kwargs[param] = data.draw(bad_bool() if param == "bias" else bad_count(1))
    rejects("fpe_empirical.models", param, fe.MaskedLinear, **kwargs)


def bad_hidden():
    return st.one_of(
        bad_count(1).filter(lambda v: not (isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v))
                            and not isinstance(v, (tuple, np.ndarray))),
        st.just([]), st.just(()),
        st.lists(st.integers(1, 4), max_size=2).flatmap(lambda xs: bad_count(1).map(lambda b: xs + [b])),
    )


@MANY
@given(param=st.sampled_from(["in_features", "hidden", "out_features", "layernorm", "bias"]), data=st.data())
def test_mlp_rejects_bad_parameters(param, data):
    """MLP: sizes not integers >= 1, hidden not an int or a list of them (bytes, None, floats, empty lists,
    bad entries), layernorm/bias not bools."""
    kwargs = dict(in_features=3, hidden=[2], out_features=2)
    kwargs[param] = data.draw({"hidden": bad_hidden(), "layernorm": bad_bool(), "bias": bad_bool()}.get(param, bad_count(1)))
    rejects("fpe_empirical.models", param, fe.MLP, **kwargs)


@MANY
@given(value=OTHER)
def test_model_functions_reject_non_models(value):
    """count_nonzero / apply_masks_ / fpe_expand / to_sparse / rewire_ need a model."""
    rejects("fpe_empirical.models", "model", fe.count_nonzero, value)
    rejects("fpe_empirical.models", "model", fe.apply_masks_, value)
    rejects("fpe_empirical.models", "model", fe.fpe_expand, value, 2)
    rejects("fpe_empirical.models", "model", fe.to_sparse, value)
    rejects("fpe_empirical.models", "model", fe.rewire_, value, 0.1, seed=0)


@pytest.fixture(scope="module")
def mlp8():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return fe.MLP(8, 4, 1)


def bad_groups(n_in=8, alpha=2):
    idx = st.integers(0, n_in - 1)
    return st.one_of(
        st.none(), st.text(max_size=3), st.integers(), st.just([[]]), st.just([None]), st.just([[0.5, 1]]),
        st.just([[True, False]]), st.just([[[0, 1]]]), st.just([["a"]]),
        st.lists(st.integers(n_in, 100), min_size=1, max_size=2).map(lambda g: [g]),  # out of range
        st.lists(st.integers(-100, -1), min_size=1, max_size=2).map(lambda g: [g]),
        idx.map(lambda i: [[i], [i]]),  # overlapping
        idx.map(lambda i: [[i, i]]),  # repeated
        st.just([list(range(n_in // alpha + 1))]),  # larger than a child
    )


@FEW
@given(param=st.sampled_from(["alpha", "strategy", "seed", "layers", "groups", "n_clusters"]), data=st.data())
def test_fpe_expand_rejects_bad_parameters(mlp8, param, data):
    """fpe_expand: alpha an integer in [2, fan-in]; known strategy/layers; seed >= 0;
    groups only for 'clause' (disjoint, in range, each fitting a child); n_clusters only
    for 'gram', in [1, fan-in]."""
    kwargs = dict(alpha=2, strategy="random", seed=0)
    if param == "alpha":
        kwargs["alpha"] = data.draw(st.one_of(bad_count(2), st.integers(9, 10**6)))
    elif param == "strategy":
        kwargs["strategy"] = data.draw(bad_name(("random", "clause", "gram", "two_four")))
    elif param == "seed":
        kwargs["seed"] = data.draw(bad_count(0))
    elif param == "layers":
        kwargs["layers"] = data.draw(bad_name(("first", "alternate")))
    elif param == "groups":
        kwargs.update(strategy="clause", groups=data.draw(bad_groups()))
        if data.draw(st.booleans()):  # or valid groups with a strategy that takes none
            kwargs.update(strategy=data.draw(st.sampled_from(["random", "gram"])), groups=[[0, 1]])
    else:
        kwargs.update(strategy="gram", n_clusters=data.draw(st.one_of(bad_count(1).filter(lambda v: v is not None),
                                                                      st.integers(9, 100))))
        if data.draw(st.booleans()):
            kwargs.update(strategy="random", n_clusters=2)
    rejects("fpe_empirical.expand", param, fe.fpe_expand, mlp8, **kwargs)


@FEW
@given(param=st.sampled_from(["alpha", "strategy", "seed", "groups"]), data=st.data())
def test_split_support_rejects_bad_parameters(mlp8, param, data):
    """split_support follows fpe_expand's rules (it draws the same masks)."""
    kwargs = dict(alpha=2, strategy="random", seed=0)
    if param == "alpha":
        kwargs["alpha"] = data.draw(st.one_of(bad_count(2), st.integers(9, 10**6)))
        if data.draw(st.booleans()):
            kwargs.update(alpha=data.draw(st.integers(3, 8)), strategy="two_four")  # 2:4 needs alpha 2
    elif param == "strategy":
        kwargs["strategy"] = data.draw(bad_name(("random", "clause", "gram", "two_four")))
    elif param == "seed":
        kwargs["seed"] = data.draw(bad_count(0))
    else:
        kwargs.update(strategy="clause", groups=data.draw(bad_groups()))
    rejects("fpe_empirical.coverage", param, fe.split_support, mlp8, **kwargs)


@MANY
@given(which=st.sampled_from(["clauses", "support", "layer", "use"]), data=st.data())
def test_measure_coverage_rejects_bad_parameters(mlp8, which, data):
    """measure_coverage: ragged/float/out-of-range clauses, non-bool or non-2-D supports, bad layer indices
    and use names."""
    clauses = [[0, 1], [2, 3], [4, 5], [6, 7]]
    if which == "clauses":
        bad = data.draw(st.one_of(st.none(), st.text(max_size=3), st.just([]), st.just([[0, 1], [2]]),
                                  st.just([[0.5, 1]]), st.just([[0, 99]]), st.just([[-1, 0]]), st.just([[True, False]]),
                                  st.integers()))
        rejects("fpe_empirical.coverage", "clauses", fe.measure_coverage, mlp8, bad)
    elif which == "support":
        bad = data.draw(st.one_of(st.just(np.zeros((2, 8))), st.just(np.zeros(8, bool)), st.just(np.zeros((2, 2, 8), bool)),
                                  st.text(max_size=2), st.none()))
        rejects("fpe_empirical.coverage", "support", fe.measure_coverage, bad, clauses)
    elif which == "layer":
        rejects("fpe_empirical.coverage", "layer", fe.measure_coverage, mlp8, clauses,
                layer=data.draw(st.one_of(bad_count(0), st.integers(min_value=2))))
    else:
        rejects("fpe_empirical.coverage", "use", fe.measure_coverage, mlp8, clauses,
                use=data.draw(bad_name(("mask", "weights"))))


# ============================================================================= metrics
def bad_weight():
    finite = st.floats(-3, 3)
    return st.one_of(
        st.lists(st.lists(finite, min_size=3, max_size=3), min_size=2, max_size=3).flatmap(
            lambda rows: st.sampled_from([float("nan"), float("inf"), -float("inf")]).map(
                lambda v: np.array([[v] + r[1:] for r in rows[:1]] + rows[1:]))),
        st.just(np.zeros(3)), st.just(np.zeros((2, 2, 2))), st.just(np.float64(1.0)),
        st.text(min_size=1, max_size=3), st.none(), st.just([[1, 2], [3]]), st.just([["a", "b"]]),
        st.just(torch.full((2, 3), float("nan"))), st.just(object()),
    )


@MANY
@given(weight=bad_weight(), fn=st.sampled_from(["gram_matrix", "feature_capacity", "mean_cosine_similarity"]))
def test_metrics_reject_bad_weights(weight, fn):
    """Metrics refuse NaN/inf weights, non-matrices and non-numbers, naming 'weight'."""
    rejects("fpe_empirical.metrics", "weight", getattr(fe, fn), weight)


@MANY
@given(groups=st.one_of(st.integers(), st.none().map(lambda _: 5.5), st.just([None]), st.just([[]]), st.just([[0.5]]),
                        st.just([[0, 3]]), st.just([[-1]]), st.just([["a"]]), st.just([[[0]]]), st.just(object())))
def test_feature_capacity_rejects_bad_groups(groups):
    """feature_capacity: groups that are not sequences of in-range integer index lists."""
    rejects("fpe_empirical.metrics", "groups", fe.feature_capacity, np.ones((2, 3)), groups)


@MANY
@given(absolute=bad_bool())
def test_mean_cosine_absolute_must_be_bool(absolute):
    """mean_cosine_similarity: absolute must be a bool (a truthy string silently switched it on)."""
    rejects("fpe_empirical.metrics", "absolute", fe.mean_cosine_similarity, np.eye(3), absolute=absolute)


@MANY
@given(which=st.sampled_from(["accuracy", "dense_accuracy"]),
       bad=st.one_of(st.sampled_from([float("nan"), float("inf"), -float("inf")]), st.text(min_size=1, max_size=3),
                     st.none(), st.just([0.5, float("nan")]), st.just(object())))
def test_relative_improvement_rejects_non_finite(which, bad):
    """RI = (acc - dense) / dense with a NaN/inf/non-number anywhere is refused, not NaN."""
    args = {"accuracy": 0.8, "dense_accuracy": 0.75}
    args[which] = bad
    rejects("fpe_empirical.metrics", which, fe.relative_improvement, **args)


@MANY
@given(dense=st.one_of(st.floats(max_value=0.0), st.just([0.5, 0.0])))
def test_relative_improvement_rejects_non_positive_dense(dense):
    """relative_improvement: a dense accuracy <= 0 anywhere in an array."""
    rejects("fpe_empirical.metrics", "dense_accuracy", fe.relative_improvement, 0.5, dense)


# ============================================================================= training
@MANY
@given(param=st.sampled_from(["epochs", "batch_size", "lr", "weight_decay", "l1"]), data=st.data())
def test_train_settings_reject_bad_fields(param, data):
    """TrainSettings: epochs/batch_size not integers in range; lr/weight_decay/l1 negative, NaN, inf or not
    numbers (lr also 0)."""
    strat = {"epochs": bad_count(0), "batch_size": bad_count(1), "lr": bad_nonneg_float(positive=True),
             "weight_decay": bad_nonneg_float(), "l1": bad_nonneg_float()}[param]
    kwargs = dict(epochs=1)
    kwargs[param] = data.draw(strat)
    rejects("fpe_empirical.train", param, TrainSettings, **kwargs)


def _xy(n=12, d=8, classes=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=g), torch.randint(0, classes, (n,), generator=g)


@FEW
@given(param=st.sampled_from(["model", "X", "y", "settings", "seed"]), data=st.data())
def test_train_rejects_bad_parameters(param, data):
    """train: an MLP; X a finite (n, in_features) float tensor; y (n,) labels the head can
    take ({0, 1} for one logit, 0..out-1 otherwise); a TrainSettings; seed in [0, 2**64)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = fe.MLP(8, 4, 1)
    X, y = _xy()
    kwargs = dict(model=model, X=X, y=y, settings=TrainSettings(epochs=1, batch_size=4), seed=0)
    if param == "model":
        kwargs["model"] = data.draw(OTHER)
    elif param == "X":
        bad_x = X.clone()
        bad_x[data.draw(st.integers(0, 11)), data.draw(st.integers(0, 7))] = data.draw(
            st.sampled_from([float("nan"), float("inf"), -float("inf")]))
        kwargs["X"] = data.draw(st.sampled_from([bad_x, X[:, :5], X[0], X.numpy(), None, X.unsqueeze(0)]))
    elif param == "y":
        kwargs["y"] = data.draw(st.sampled_from([y[:5], y.unsqueeze(1), y.numpy(), None, y + 2, y - 1,
                                                 y.double() + 0.5, torch.full((12,), float("nan"))]))
    elif param == "settings":
        kwargs["settings"] = data.draw(st.one_of(st.none(), st.integers(), st.just({"epochs": 1})))
    else:
        kwargs["seed"] = data.draw(st.one_of(bad_count(0), st.integers(min_value=2**64)))
    rejects("fpe_empirical.train", param, fe.train, **kwargs)


@FEW
@given(param=st.sampled_from(["fraction", "seed", "layers"]), data=st.data())
def test_rewire_rejects_bad_parameters(mlp8, param, data):
    """rewire_: fraction outside [0, 1] or not a number, bad seeds, layer lists that are not distinct in-
    range ints."""
    model = fe.fpe_expand(mlp8, 2, seed=1)
    kwargs = dict(fraction=0.1, seed=0)
    if param == "fraction":
        kwargs["fraction"] = data.draw(st.one_of(st.floats(max_value=0.0, exclude_max=True), st.floats(min_value=1.0, exclude_min=True),
                                                 st.sampled_from([float("nan"), float("inf")]), st.text(max_size=2), st.none()))
    elif param == "seed":
        kwargs["seed"] = data.draw(bad_count(0))
    else:
        kwargs["layers"] = data.draw(st.one_of(st.text(min_size=1, max_size=2), st.integers(), st.just([9]), st.just([-1]),
                                               st.just([0, 0]), st.just([0.5]), st.just([None])))
    rejects("fpe_empirical.rewire", param, fe.rewire_, model, **kwargs)


# ============================================================================= experiment configs
DNF_FIELDS = {
    "n_clauses": bad_count(1), "clause_size": bad_count(2), "hidden": bad_count(1), "alpha": bad_count(2),
    "seed": bad_count(0), "pretrain_epochs": bad_count(0), "split_epochs": bad_count(0), "batch_size": bad_count(1),
    "n_samples": st.one_of(bad_count(4), st.just(401)),
    "lr": bad_nonneg_float(positive=True), "l1": bad_nonneg_float(), "weight_decay": bad_nonneg_float(),
    "test_fraction": bad_open_unit(),
    "true_range": bad_pair(False), "false_range": bad_pair(False),
    "active_range": st.one_of(bad_pair(True).filter(lambda v: v is not None), st.just((0, 99))),
    "strategies": st.one_of(st.text(max_size=4), st.none(), st.just(()), st.just(("dense", "dense")),
                            st.lists(st.text(max_size=5).filter(lambda t: t not in ("dense", "random", "clause", "gram", "two_four")),
                                     min_size=1, max_size=2).map(tuple),
                            st.just(("dense", 3)), st.just((["random"],))),
}


@FEW
@given(param=st.sampled_from(sorted(DNF_FIELDS)), data=st.data())
def test_dnf_experiment_rejects_bad_fields(param, data):
    """DNFExperiment: every field broken one at a time (the config validates what the run would only find
    later)."""
    rejects("fpe_empirical.configs", param, fe.DNFExperiment, **{param: data.draw(DNF_FIELDS[param])})


def test_dnf_experiment_rejects_alpha_larger_than_literals_and_bad_two_four():
    rejects("fpe_empirical.configs", "alpha", fe.DNFExperiment, n_clauses=2, clause_size=2, alpha=5)
    rejects("fpe_empirical.configs", "two_four", fe.DNFExperiment, alpha=4, strategies=("dense", "two_four"))
    rejects("fpe_empirical.configs", "clause_size", fe.DNFExperiment, n_clauses=2, clause_size=4, alpha=4,
            strategies=("clause",))


EMB_FIELDS = {
    "hidden": bad_count(1), "depth": bad_count(1), "alpha": bad_count(2), "seed": bad_count(0),
    "pretrain_epochs": bad_count(0), "split_epochs": bad_count(0), "batch_size": bad_count(1),
    "rewire_every": bad_count(0), "data_seed": bad_count(0),
    "lr": bad_nonneg_float(positive=True), "l1": bad_nonneg_float(), "weight_decay": bad_nonneg_float(),
    "rewire_fraction": bad_nonneg_float(upper=1.0).filter(lambda v: v is not None),
    "rewire_stop": bad_nonneg_float(upper=1.0).filter(lambda v: v is not None),
    "test_fraction": bad_open_unit(positive_ok=True).filter(lambda v: v is not None and v != 1.0),
    "layernorm": st.one_of(st.integers(0, 1), st.text(max_size=2), st.floats(0, 1)),
    "layers": bad_name(("first", "alternate")).filter(lambda v: v is not None),
    "n_clusters": bad_count(1).filter(lambda v: v is not None),
    "dataset": st.one_of(st.just(""), st.none(), st.integers(), st.just("x.csv"), st.just("/nonexistent/e.npz")),
    "dataset_sha256": st.one_of(st.integers(), st.just("abc")),
    "strategies": st.one_of(st.text(max_size=4), st.none(), st.just(()), st.just(("dense", "dense")),
                            st.just(("clause",)), st.just(("dense", 3))),
}


@FEW
@given(param=st.sampled_from(sorted(EMB_FIELDS)), data=st.data())
def test_embedding_experiment_rejects_bad_fields(param, data):
    """EmbeddingExperiment: every field broken one at a time, including datasets that do not exist or are
    not embedding files."""
    rejects("fpe_empirical.configs", param, fe.EmbeddingExperiment, **{param: data.draw(EMB_FIELDS[param])})


@FEW
@given(param=st.sampled_from(["strategy", "replicates", "n_clauses", "hidden", "seed", "lr", "test_fraction"]),
       data=st.data())
def test_coverage_experiment_rejects_bad_fields(param, data):
    """CoverageExperiment: its own fields and the DNF fields it shares."""
    strat = {"strategy": bad_name(("random", "clause", "gram", "two_four")), "replicates": bad_count(1),
             "lr": bad_nonneg_float(positive=True), "test_fraction": bad_open_unit(),
             "n_clauses": bad_count(1), "hidden": bad_count(1), "seed": bad_count(0)}[param]
    rejects("fpe_empirical.configs", param, fe.CoverageExperiment, **{param: data.draw(strat)})


@MANY
@given(value=OTHER)
def test_run_and_config_key_reject_non_configs(value):
    """run / config_key / run_many refuse anything that is not a registered experiment config."""
    rejects("fpe_empirical.configs", "config", fe.run, value)
    rejects("fpe_empirical.configs", "config", fe.config_key, value)
    rejects("fpe_empirical.configs", ("config",), fe.run_many, [value])


@MANY
@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.just(object())))
def test_run_many_needs_a_sequence(value):
    """run_many refuses non-iterables with a message naming configs."""
    rejects("fpe_empirical.configs", "configs", fe.run_many, value)


# ============================================================================= store
@MANY
@given(param=st.sampled_from(["root", "kind", "on_corrupt"]), data=st.data())
def test_load_results_rejects_bad_parameters(tmp_path_factory, param, data):
    """load_results: an existing store directory; kind a name (str) or None; on_corrupt
    warn/raise/ignore."""
    root = tmp_path_factory.getbasetemp() / "empty-store"
    root.mkdir(exist_ok=True)
    kwargs = dict(root=root)
    if param == "root":
        kwargs["root"] = data.draw(st.one_of(st.none(), st.integers(), st.just(root / "missing"),
                                             st.just(root.parent / "not-a-dir.txt")))
        (root.parent / "not-a-dir.txt").write_text("x")
        names = ("root", "store")
    elif param == "kind":
        # (an unknown kind name gives an empty table: pinned by tests/test_store.py)
        kwargs["kind"] = data.draw(st.one_of(st.integers(), st.just(["dnf"]), st.binary(max_size=3), st.just(object())))
        names = ("kind",)
    else:
        kwargs["on_corrupt"] = data.draw(bad_name(("warn", "raise", "ignore")))
        names = ("on_corrupt",)
    rejects("fpe_empirical.store", names, fe.load_results, **kwargs)


@MANY
@given(key=st.one_of(st.text(max_size=20), st.integers(), st.none(), st.just("0123456789ABCDEF"),
                     st.just("../../etc/passwd"), st.just("0123456789abcde")))
def test_store_key_rejects_bad_keys(tmp_path_factory, key):
    """A key is 16 lowercase hex digits (no path can be smuggled into the store)."""
    store = fe.ResultStore(tmp_path_factory.getbasetemp() / "key-store")
    rejects("fpe_empirical.store", ("key", "config"), store.get, key)


@MANY
@given(param=st.sampled_from(["threads", "layout"]), data=st.data())
def test_to_sparse_rejects_bad_parameters(mlp8, param, data):
    """to_sparse: threads not an integer >= 1, unknown layouts."""
    value = data.draw(bad_count(1) if param == "threads" else bad_name(("auto", "ell", "csr", "dense")))
    rejects("fpe_empirical.sparse", param, fe.to_sparse, mlp8, **{param: value})


@MANY
@given(path=st.one_of(st.none(), st.integers(), st.just(object())), threads=bad_count(1))
def test_sparse_load_rejects_bad_parameters(tmp_path_factory, mlp8, path, threads):
    """SparseMLP.load: a path that is not a path, threads not an integer >= 1 (checked before reading)."""
    good = tmp_path_factory.getbasetemp() / "sparse-ok.safetensors"
    if not good.exists():
        fe.to_sparse(mlp8).save(good)
    rejects("fpe_empirical.sparse", "path", fe.SparseMLP.load, path)
    rejects("fpe_empirical.sparse", "threads", fe.SparseMLP.load, good, threads=threads)



def test_public_names_that_are_also_submodules():
    """``fpe_theory.simulate`` and ``fpe_empirical.train`` name a function and a module: the
    package attribute is the callable module whatever was imported first, so both
    ``ft.simulate(...)`` and ``import fpe_theory.simulate as sim; sim.main`` work (the cached
    function used to shadow the module: AttributeError, or 'module' object is not callable)."""
    import importlib

    for pkg, name, attr in ((ft, "simulate", "main"), (fe, "train", "TrainSettings")):
        value = getattr(pkg, name)
        assert callable(value) and hasattr(value, attr)
        assert value is importlib.import_module(f"{pkg.__name__}.{name}")
    assert ft.simulate(4, 2, 2, 3, trials=5).trials == 5
