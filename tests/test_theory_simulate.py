"""simulate() against the exact closed forms, SimulationResult, intervals and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from scipy import stats

import fpe_theory as ft
from fpe_theory._stats import clopper_pearson, garwood, make_estimate

P_MIN = 1e-9  # per-test p-value threshold (see the bounds written next to each test)


@st.composite
def small_configs(draw):
    """Valid small (C, k, alpha, N): alpha | C·k and k <= C·k/alpha, built directly."""
    k = draw(st.integers(1, 4))
    alpha = draw(st.integers(2, 4))
    step = alpha // math.gcd(alpha, k)
    lo = max(1, -(-alpha // step))
    c = step * draw(st.integers(lo, max(lo, 16 // step)))
    n_par = draw(st.integers(1, 24))
    return c, k, alpha, n_par


@settings(max_examples=examples(0.5))
@given(cfg=small_configs(), model=st.sampled_from(["subset", "partition"]),
       layout=st.sampled_from(["contiguous", "shuffled"]), seed=st.integers(0, 2**32))
def test_simulation_agrees_with_exact_closed_forms(cfg, model, layout, seed):
    """Random small configs, 20000 trials: exact binomial tests on 'all covered' and on
    'clause 0 covered' (exactly Binomial(trials, p)), and a CLT z-test on the mean number of
    collisions when >= 200 are expected. Each p-value > 1e-9; at most 3 tests x 25 examples:
    false failure < 7.5e-8."""
    c, k, a, n_par = cfg
    trials = 20000
    res = ft.simulate(c, k, a, n_par, trials=trials, seed=seed, model=model, layout=layout)
    p_all = ft.prob_all_covered(c, k, a, n_par, model=model)
    p_cl = ft.prob_clause_covered(c, k, a, n_par, model=model)
    assert stats.binomtest(int(res.missed_histogram[0]), trials, p_all).pvalue > P_MIN
    assert stats.binomtest(res.clause0_covered, trials, p_cl).pvalue > P_MIN
    e = ft.expected_collisions(c, k, a, n_par)
    if e * trials >= 200:
        m = res.mean_collisions
        sd = math.sqrt(max(m.total_sq - trials * m.value**2, 0.0) / (trials - 1))
        if sd == 0:  # deterministic count (k = 1: every unit holds d whole clauses)
            assert m.value == pytest.approx(e, rel=1e-12)
        else:
            z = (m.value - e) / (sd / math.sqrt(trials))
            assert abs(z) < 6.1  # two-sided 1.1e-9 under the normal approximation


@pytest.mark.parametrize("model", ["subset", "partition"])
def test_worked_example_simulation(model):
    """THEORY.md worked example: 200000 trials; exact binomial (P(all)) and z (collisions)
    tests at p > 1e-9 (4 tests: false failure < 4e-9)."""
    trials = 200_000
    res = ft.simulate(8, 4, 2, 8, trials=trials, seed=2025, model=model)
    exact = ft.prob_all_covered(8, 4, 2, 8, model=model)
    assert stats.binomtest(int(res.missed_histogram[0]), trials, exact).pvalue > P_MIN
    m = res.mean_collisions
    sd = math.sqrt((m.total_sq - trials * m.value**2) / (trials - 1))
    assert abs(m.value - 0.5481646273637375) < 6.1 * sd / math.sqrt(trials)
    # the reported 99.9% intervals are consistent with the values they bracket
    for est in (res.p_all_covered, res.p_clause_covered, res.mean_collisions):
        assert est.low <= est.value <= est.high and est.level == 0.999


def test_coverage_curve_from_one_run_matches_exact():
    """P(all covered) after the first m parents of each trial, m = 1..N, from one run:
    exact binomial tests against prob_all_covered(m) for every m (32 tests at p > 1e-9:
    false failure < 3.2e-8), and the curve is non-decreasing."""
    trials = 40000
    res = ft.simulate(8, 4, 2, 32, trials=trials, seed=1)
    curve = res.coverage_curve()
    exact = ft.prob_all_covered(8, 4, 2, curve["n_parents"])
    for m, p_hat, p in zip(curve["n_parents"], curve["p"], exact):
        hits = int(round(p_hat * trials))
        assert stats.binomtest(hits, trials, p).pvalue > P_MIN, m
    assert np.all(np.diff(curve["p"]) >= 0)
    assert res.p_all_covered_at(32).value == res.p_all_covered.value
    with pytest.raises(ValueError, match="n_parents must be <= 32"):
        res.p_all_covered_at(33)


@pytest.mark.parametrize("layout", ["contiguous", "shuffled"])
def test_two_four_simulation_matches_its_closed_forms(layout):
    """2:4 split: exact binomial test on clause 0 (shuffled: clauses exchangeable) and z-test
    on collisions; contiguous aligned k=4 clauses are never covered (deterministic)."""
    trials = 40000
    res = ft.simulate(8, 4, 2, 16, trials=trials, seed=5, model="two_four", layout=layout)
    p_cl = ft.prob_clause_covered(8, 4, 2, 16, model="two_four", layout=layout)
    e = ft.expected_collisions(8, 4, 2, 16, model="two_four", layout=layout)
    if layout == "contiguous":
        assert p_cl == 0.0 and e == 0.0
        assert res.missed_histogram[8] == trials and res.collisions_histogram.sum() == trials
        assert res.collisions_histogram[0] == trials
        return
    assert stats.binomtest(res.clause0_covered, trials, p_cl).pvalue > P_MIN
    m = res.mean_collisions
    sd = math.sqrt((m.total_sq - trials * m.value**2) / (trials - 1))
    assert abs(m.value - e) < 6.1 * sd / math.sqrt(trials)


def test_two_four_contiguous_k2_is_not_exchangeable_but_mean_matches():
    """k = 2, contiguous: every clause sits in one group; P = 1 - (1 - 1/3)^N for all, so the
    mean covered fraction is tested with a CLT z-test (p > 1e-9)."""
    trials = 40000
    res = ft.simulate(6, 2, 2, 3, trials=trials, seed=8, model="two_four")
    p = ft.prob_clause_covered(6, 2, 2, 3, model="two_four")
    assert p == pytest.approx(1 - (2 / 3) ** 3, rel=1e-12)
    e = res.p_clause_covered
    sd = math.sqrt((e.total_sq - trials * e.value**2) / (trials - 1))
    assert abs(e.value - p) < 6.1 * sd / math.sqrt(trials)


def test_result_carries_config_and_round_trips():
    res = ft.simulate(8, 4, 2, 8, trials=500, seed=3, model="subset", layout="shuffled")
    assert res.config() == {"n_clauses": 8, "clause_size": 4, "alpha": 2, "n_parents": 8,
                            "model": "subset", "layout": "shuffled", "trials": 500, "seed": 3}
    back = type(res).from_dict(res.to_dict())
    assert back.to_dict() == res.to_dict()
    assert res.missed_histogram.sum() == 500 and res.first_cover_histogram.sum() == 500


# ----------------------------------------------------------------------------- intervals
def test_clopper_pearson_and_garwood_known_values():
    lo, hi = clopper_pearson(0, 10, 0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)
    lo, hi = clopper_pearson(10, 10, 0.95)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 10), rel=1e-12)
    lo, hi = garwood(0, 0.95)
    assert lo == 0.0 and hi == pytest.approx(-math.log(0.025), rel=1e-12)


def test_intervals_widen_with_level_and_switch_to_exact_when_events_are_rare():
    many = make_estimate("count", 10000, 5000.0, 9000.0, ())
    assert many.method == "t"
    few = make_estimate("count", 10000, 3.0, 3.0, ())
    assert few.method == "garwood" and few.low > 0
    frac = make_estimate("fraction", 1000, 1000.0, 1000.0, (8, 0, 1000, 1000))
    assert frac.method == "clopper-pearson(clause 0)" and frac.high == 1.0 and frac.low < 1.0
    frac2 = make_estimate("fraction", 1000, 1000.0, 1000.0, (8, 0, 1000, -1))
    assert frac2.method == "bracket" and frac2.high == 1.0 and frac2.low < 1.0
    for est in (many, few, frac, frac2, make_estimate("proportion", 100, 30, 30, ())):
        lo1, hi1 = est.interval(0.99)
        lo2, hi2 = est.interval(0.999999)
        assert lo2 <= lo1 <= est.value <= hi1 <= hi2


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw,exc,match", [
    ({"trials": 0}, ValueError, "trials must be an integer >= 1"),
    ({"trials": 10.0}, ValueError, "trials must be an integer"),
    ({"trials": 10, "seed": -1}, ValueError, "seed must be an integer >= 0"),
    ({"trials": 10, "seed": 2**64}, ValueError, r"seed must be an integer in \[0, 2\*\*64\)"),
    ({"trials": 10, "threads": 0}, ValueError, "threads must be an integer >= 1"),
    ({"trials": 10, "threads": 10**6}, ValueError, "threads must be an integer in"),
    ({"trials": 10, "model": "two_four", "alpha": 4}, ValueError, "alpha must be 2 for model='two_four'"),
    ({"trials": 10, "layout": "random"}, ValueError, "layout must be one of"),
    ({"trials": 10, "model": None}, TypeError, "model must be a string"),
    ({"trials": 10, "alpha": 3}, ValueError, "alpha must be an integer >= 2 dividing n = 32, got 3"),
])
def test_simulate_bad_input(kw, exc, match):
    args = {"n_clauses": 8, "clause_size": 4, "alpha": 2, "n_parents": 4}
    args.update({k: v for k, v in kw.items() if k in args})
    rest = {k: v for k, v in kw.items() if k not in args}
    with pytest.raises(exc, match=match):
        ft.simulate(args["n_clauses"], args["clause_size"], args["alpha"], args["n_parents"], **rest)


def test_simulate_requires_trials_keyword():
    with pytest.raises(TypeError):
        ft.simulate(8, 4, 2, 4)  # trials is keyword-only and required
