"""The literal model (the paper's A.5 model), the model registry and the deprecated alias.

Under the literal model each input weight of a parent goes to one of its alpha children
independently and uniformly: a child covers a clause with probability alpha^-k, a parent with
p_u = alpha^(1-k), clauses independently. The references below are written from that
definition with exact rationals (``fractions``), independently of fpe_theory's code.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fpe_theory as ft
from fpe_theory import _exact
from fpe_theory import _kernels as K
from fpe_theory._reference import simulate_reference
from fpe_theory.models import get_model, model_names


# ----------------------------------------------------------------------------- exact references
def p_all_literal(c: int, k: int, alpha: int, n: int) -> Fraction:
    """(1 - (1 - alpha^(1-k))^N)^C, exactly."""
    pu = Fraction(1, alpha ** (k - 1))
    return (1 - (1 - pu) ** n) ** c


def collision_moments_literal(c: int, k: int, alpha: int, n: int) -> tuple[Fraction, Fraction, int]:
    """Mean, variance and maximum of the collisions of one trial under the literal model.

    Per parent the clause counts (n_1..n_alpha) of the children are multinomial(C; q, ..., q)
    with q = alpha^-k (the rest of the clauses in no child); Y = sum_a C(n_a, 2). With factorial
    moments E[n↓j] = C↓j q^j and (n↓2)^2 = n↓4 + 4 n↓3 + 2 n↓2:
    E[C(n_a,2)^2] = (C↓4 q^4 + 4 C↓3 q^3 + 2 C↓2 q^2)/4, E[C(n_a,2) C(n_b,2)] = C↓4 q^4 / 4.
    Parents are independent, so the trial's mean and variance are N times a parent's.
    """
    q = Fraction(1, alpha ** k)
    f2, f3, f4 = (math.perm(c, j) * q ** j for j in (2, 3, 4))
    mean_y = alpha * f2 / 2
    e_y2 = alpha * (f4 + 4 * f3 + 2 * f2) / 4 + alpha * (alpha - 1) * f4 / 4
    return n * mean_y, n * (e_y2 - mean_y ** 2), n * math.comb(c, 2)


def bernstein_halfwidth(var: float, bound: float, trials: int, fail: float) -> float:
    """t with P(|mean of trials i.i.d. X - E X| >= t) <= fail for 0 <= X <= bound, Var X = var
    (Bernstein: 2 exp(-T t^2 / (2 var + 2 bound t / 3)) = fail, solved for t)."""
    lg = math.log(2 / fail)
    b = 2 * lg * bound / 3
    return (b + math.sqrt(b * b + 8 * trials * lg * var)) / (2 * trials)


@st.composite
def literal_configs(draw, max_n: int = 60, max_parents: int = 40):
    """(C, k, alpha, N) valid for the literal model, built directly: any alpha >= 2 (divisible
    or not, larger than n or not) and clauses larger than n/alpha allowed."""
    k = draw(st.integers(1, 5))
    c = draw(st.integers(1, max(1, max_n // k)))
    alpha = draw(st.integers(2, 9))
    n_par = draw(st.integers(1, max_parents))
    return c, k, alpha, n_par


# ----------------------------------------------------------------------------- (a) closed forms = Monte Carlo
MC_EXAMPLES = 10
MC_TRIALS = 20000
# Bonferroni over the 3 quantities of each of at most MC_EXAMPLES examples: a correct
# implementation fails this test with probability <= 3 * MC_EXAMPLES * MC_FAIL = 1e-6
MC_FAIL = 1e-6 / (3 * MC_EXAMPLES)


@settings(max_examples=MC_EXAMPLES, deadline=None)
@given(cfg=literal_configs())
def test_literal_closed_forms_match_monte_carlo(cfg):
    """The literal model's exact P(all covered), P(a clause covered) and expected collisions
    lie inside rigorous intervals of its Monte Carlo (random sizes, alpha not dividing n
    included): Clopper–Pearson (exact binomial) for P(all covered) and for P(clause 0
    covered) (clause 0's indicator is exactly Bernoulli), Bernstein with the exact variance for
    the mean collisions. False-failure probability <= 1e-6 (Bonferroni, see MC_FAIL)."""
    from fpe_theory._stats import clopper_pearson

    c, k, a, n = cfg
    res = ft.simulate(c, k, a, n, trials=MC_TRIALS, seed=11, model="literal")
    p_all = float(p_all_literal(c, k, a, n))
    lo, hi = clopper_pearson(int(res.p_all_covered.total), MC_TRIALS, 1 - MC_FAIL)
    assert lo - 1e-12 <= p_all <= hi + 1e-12
    assert ft.prob_all_covered(c, k, a, n, model="literal") == pytest.approx(p_all, rel=1e-12, abs=1e-300)
    p_clause = 1 - (1 - Fraction(1, a ** (k - 1))) ** n
    lo, hi = clopper_pearson(res.clause0_covered, MC_TRIALS, 1 - MC_FAIL)
    assert lo - 1e-12 <= float(p_clause) <= hi + 1e-12
    assert ft.prob_clause_covered(c, k, a, n, model="literal") == pytest.approx(float(p_clause), rel=1e-12)
    mean, var, bound = collision_moments_literal(c, k, a, n)
    half = bernstein_halfwidth(float(var), bound, MC_TRIALS, MC_FAIL)
    assert abs(res.mean_collisions.value - float(mean)) <= half + 1e-12
    assert ft.expected_collisions(c, k, a, n, model="literal") == pytest.approx(float(mean), rel=1e-12, abs=1e-300)


def test_the_monte_carlo_check_has_teeth():
    """The same intervals reject the balanced models' values at the case study (the test above
    could not pass a wrong model): the literal Monte Carlo excludes the partition P(all covered)
    and collisions at C=8, k=4, alpha=2, N=16."""
    from fpe_theory._stats import clopper_pearson

    res = ft.simulate(8, 4, 2, 16, trials=MC_TRIALS, seed=11, model="literal")
    lo, hi = clopper_pearson(int(res.p_all_covered.total), MC_TRIALS, 1 - MC_FAIL)
    assert not lo <= ft.prob_all_covered(8, 4, 2, 16, model="partition") <= hi
    mean, var, bound = collision_moments_literal(8, 4, 2, 16)
    half = bernstein_halfwidth(float(var), bound, MC_TRIALS, MC_FAIL)
    assert abs(res.mean_collisions.value - ft.expected_collisions(8, 4, 2, 16, model="partition")) > half


# ----------------------------------------------------------------------------- (b) balanced child <= literal child
@st.composite
def balanced_configs(draw):
    """(C, k, alpha) valid for the balanced models, built directly: alpha | C·k and k <= n/alpha.
    C must be a multiple of g = alpha / gcd(alpha, k) and at least alpha."""
    k = draw(st.integers(1, 64))
    alpha = draw(st.integers(2, 64))
    g = alpha // math.gcd(alpha, k)
    j = draw(st.integers(-(-alpha // g), -(-alpha // g) + 40))
    return g * j, k, alpha


@given(cfg=balanced_configs())
def test_balanced_child_covers_no_more_often_than_literal(cfg):
    """d↓k / n↓k <= alpha^-k (and d↓2k / n↓2k <= alpha^-2k) for every valid (C, k, alpha), in
    exact rationals: sampling without replacement makes a balanced child (subset or partition)
    hold a clause no more often than a literal one; equality only for k = 1. The library's
    doubles keep the order up to rounding, and so do the collision ratios."""
    c, k, alpha = cfg
    n = c * k
    d = n // alpha
    p_bal = Fraction(math.perm(d, k), math.perm(n, k))
    assert p_bal <= Fraction(1, alpha ** k)
    assert (p_bal == Fraction(1, alpha ** k)) == (k == 1)
    if 2 * k <= d:
        assert Fraction(math.perm(d, 2 * k), math.perm(n, 2 * k)) < Fraction(1, alpha ** (2 * k))
    for model in ("subset", "partition"):
        assert get_model(model).child_cover(get_model(model).check_config(c, k, alpha), 1) == p_bal
        assert ft.prob_child_covers(c, k, alpha, model=model) <= ft.prob_child_covers(c, k, alpha, model="literal") * (1 + 1e-14)
        if c >= 2:
            assert ft.collision_ratio(c, k, alpha, model=model) <= ft.collision_ratio(c, k, alpha, model="literal") * (1 + 1e-14)


# ----------------------------------------------------------------------------- (c) the paper's bounds hold under literal
@st.composite
def small_literal(draw):
    """(C, k, alpha, N) small enough for exact rationals of every quantity."""
    return (draw(st.integers(1, 40)), draw(st.integers(1, 5)), draw(st.integers(2, 6)), draw(st.integers(1, 300)))


@given(cfg=small_literal())
def test_union_bound_and_paper_bound_hold_under_literal(cfg):
    """Under the literal model 1 - C·exp(-N·alpha^(1-k)) <= 1 - C·(1 - alpha^(1-k))^N <= exact
    P(all covered) (Boole's inequality, then 1 - x <= e^-x): checked in exact rationals
    (the exponential bounded above by a certified mpmath value) and on the library's doubles."""
    import mpmath

    c, k, a, n = cfg
    pu = Fraction(1, a ** (k - 1))
    exact = p_all_literal(c, k, a, n)
    union = 1 - c * (1 - pu) ** n
    assert union <= exact
    with mpmath.workprec(200):
        e = mpmath.exp(-n * mpmath.mpf(pu.numerator) / pu.denominator)
        assert 1 - c * e <= mpmath.mpf(union.numerator) / union.denominator
    got = ft.prob_all_covered(c, k, a, n, model="literal")
    got_union = ft.prob_all_covered(c, k, a, n, model="literal", method="union_bound")
    got_paper = ft.prob_all_covered(c, k, a, n, model="literal", method="paper")
    assert got == pytest.approx(float(exact), rel=1e-12, abs=1e-300)
    assert got_union == pytest.approx(max(float(union), 0.0), rel=1e-11, abs=1e-14)
    assert got_paper <= got_union + 1e-14 <= got + 2e-14


@given(c=st.integers(1, 64), k=st.integers(1, 4), a=st.integers(2, 5),
       delta=st.sampled_from([0.2, 0.1, 0.05, 0.01, 0.001, 1e-6]))
def test_paper_sizing_rule_is_sufficient_under_literal(c, k, a, delta):
    """The paper's N = ceil(alpha^(k-1) ln(C/delta)) keeps the literal model's exact
    P(some clause missed) <= delta (exact rationals), and the library's exact smallest N under
    the literal model is the true smallest one (its P(miss) <= delta, N - 1's is not) and never
    exceeds the paper's."""
    rule = ft.min_parents_for_coverage(c, k, a, delta, model="literal", method="paper")
    assert 1 - p_all_literal(c, k, a, rule) <= Fraction(delta)
    n_min = ft.min_parents_for_coverage(c, k, a, delta, model="literal")
    assert 1 <= n_min <= rule
    assert 1 - p_all_literal(c, k, a, n_min) <= Fraction(delta)
    if n_min > 1:
        assert 1 - p_all_literal(c, k, a, n_min - 1) > Fraction(delta)


# ----------------------------------------------------------------------------- (d) reference == kernel, bit for bit
def _kernel(c, k, a, n_par, shuffled, seed, trials):
    n = c * k
    labs = np.empty(((trials + K.CHUNK - 1) // K.CHUNK, K.padded(n)), dtype=K.label_dtype(a))
    om, oc = np.empty(trials, np.int32), np.empty(trials, np.int64)
    of, o0 = np.empty(trials, np.int32), np.empty(trials, np.int8)
    K.simulate_batch(c, k, a, n_par, K.MODEL_CODES["literal"], shuffled, K.use_words(k, shuffled, a),
                     np.uint64(seed), 0, trials, labs, om, oc, of, o0)
    return om, oc, of, o0


@settings(max_examples=25, deadline=None)
@given(c=st.integers(1, 12), k=st.integers(1, 6), a=st.one_of(st.integers(2, 9), st.integers(120, 300)),
       n_par=st.integers(1, 9), shuffled=st.booleans(), seed=st.integers(0, 2**64 - 1),
       trials=st.integers(1, 150))
def test_reference_equals_kernel_bit_for_bit(c, k, a, n_par, shuffled, seed, trials):
    """The plain NumPy reference replays the kernels' literal-model stream: every per-trial
    output (missed clauses, collisions, first full cover, clause 0) is identical for any seed,
    across chunk boundaries (64 trials), both layouts, int8 and int16 labels."""
    ref = simulate_reference(c, k, a, n_par, trials=trials, seed=seed, model="literal",
                             layout="shuffled" if shuffled else "contiguous")
    ker = _kernel(c, k, a, n_par, shuffled, seed, trials)
    for r, x in zip(ref, ker):
        assert np.array_equal(np.asarray(r, dtype=np.int64), np.asarray(x, dtype=np.int64))


@pytest.mark.parametrize("c,k,a,n_par,shuffled,trials", [
    (3, 5, 5000, 2, False, 70),  # alpha > 4096: 32-bit label slices
    (2101, 2, 2, 1, True, 2),  # n > 4096: the layout shuffle's 32-bit phase
])
def test_reference_equals_kernel_wide_draws(c, k, a, n_par, shuffled, trials):
    """Bit-for-bit equality also where the draws take 32-bit slices."""
    ref = simulate_reference(c, k, a, n_par, trials=trials, seed=5, model="literal",
                             layout="shuffled" if shuffled else "contiguous")
    for r, x in zip(ref, _kernel(c, k, a, n_par, shuffled, 5, trials)):
        assert np.array_equal(np.asarray(r, dtype=np.int64), np.asarray(x, dtype=np.int64))


def test_literal_simulation_is_thread_invariant_and_masks_replay():
    """Same seed, same result for 1 and 2 threads; ``sample_masks`` replays a trial's masks:
    every input in exactly one child (Binomial fan-in, children may be empty), and the trial's
    counts follow from them."""
    one = ft.simulate(10, 3, 3, 7, trials=500, seed=4, model="literal", threads=1)
    two = ft.simulate(10, 3, 3, 7, trials=500, seed=4, model="literal", threads=2)
    assert one.to_dict() == two.to_dict()
    masks, pos = ft.sample_masks(10, 3, 3, 7, seed=4, trial=130, model="literal")
    assert masks.shape == (7, 3, 30) and (masks.sum(axis=1) == 1).all()
    held = masks[:, :, pos].reshape(7, 3, 10, 3).all(axis=3)  # (parent, child, clause)
    ref = simulate_reference(10, 3, 3, 7, trials=131, seed=4, model="literal")
    assert 10 - held.any(axis=(0, 1)).sum() == ref[0][130]
    per_child = held.sum(axis=2)
    assert (per_child * (per_child - 1) // 2).sum() == ref[1][130]


# ----------------------------------------------------------------------------- (e) the deprecated alias
ALIAS_CALLS = [
    lambda m: ft.prob_all_covered(8, 4, 2, [3, 8, 40], model=m),
    lambda m: ft.prob_all_covered(8, 4, 2, 8, model=m, method="union_bound"),
    lambda m: ft.prob_clause_covered(8, 4, 2, 8, model=m),
    lambda m: ft.expected_collisions(8, 4, 2, 8, model=m),
    lambda m: ft.collision_ratio(8, 4, 2, model=m),
    lambda m: ft.prob_child_covers(8, 4, 2, clauses=2, model=m),
    lambda m: ft.min_parents_for_coverage(8, 4, 2, 0.05, model=m),
    lambda m: ft.simulate(8, 4, 2, 8, trials=300, seed=2, model=m).to_dict(),
    lambda m: ft.sample_masks(8, 4, 2, 3, seed=1, model=m)[0],
    lambda m: simulate_reference(4, 2, 2, 3, trials=40, seed=1, model=m),
]


@pytest.mark.parametrize("call", ALIAS_CALLS)
def test_independent_is_a_deprecated_alias_of_subset(call):
    """model="independent" emits a DeprecationWarning naming "subset", attributed to the
    caller's line, and returns exactly what model="subset" returns."""
    with pytest.warns(DeprecationWarning, match="use model='subset'") as rec:
        old = call("independent")
    assert rec[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = call("subset")
    if isinstance(new, tuple):
        assert all(np.array_equal(x, y) for x, y in zip(old, new))
    else:
        np.testing.assert_array_equal(np.asarray(old, dtype=object), np.asarray(new, dtype=object)) \
            if isinstance(new, dict) else np.testing.assert_array_equal(old, new)


def test_cli_accepts_the_old_model_name_with_a_note(capsys):
    """`--model independent` runs the subset model and says so on stderr (no traceback)."""
    from fpe_theory.simulate import main

    argv = ["--clauses", "4", "--alphas", "2", "--parents", "3", "--clause-size", "2", "--trials", "300",
            "--no-progress"]
    assert main(argv + ["--model", "independent"]) == 0
    out_old, err = capsys.readouterr()
    assert "deprecated" in err and "subset" in err
    assert main(argv + ["--model", "subset"]) == 0
    out_new, _ = capsys.readouterr()
    strip = [ln for ln in out_old.splitlines() if " in " not in ln]  # timing line differs
    assert strip == [ln for ln in out_new.splitlines() if " in " not in ln]


# ----------------------------------------------------------------------------- (f) pins and rules
def test_worked_example_and_sizing_pins():
    """THEORY.md's worked example under the literal model and the paper's sizing rule."""
    assert ft.prob_all_covered(8, 4, 2, 8, model="literal") == float(p_all_literal(8, 4, 2, 8))
    assert round(ft.prob_all_covered(8, 4, 2, 8, model="literal"), 4) == 0.0345
    assert round(ft.prob_all_covered(8, 4, 2, 8, model="subset"), 5) == 0.00666
    assert round(ft.prob_all_covered(8, 4, 2, 8), 5) == 0.01367
    assert ft.min_parents_for_coverage(8, 4, 2, 0.05, model="literal") == 38
    assert ft.min_parents_for_coverage(8, 4, 2, 0.05, method="paper") == 41
    assert ft.min_parents_for_coverage(8, 4, 2, 0.01) == 63
    assert ft.min_parents_for_coverage(8, 4, 2, 0.01, method="paper") == 54
    assert ft.collision_ratio(8, 4, 2, model="literal") == 2.0 ** -7 == ft.collision_ratio(8, 4, 2, method="paper")
    assert ft.expected_collisions(8, 4, 2, 8, model="literal") == 1.75
    assert ft.prob_child_covers(8, 4, 2, model="literal") == 1 / 16 == ft.prob_child_covers(8, 4, 2, method="paper")
    assert ft.prob_clause_covered(8, 4, 2, 8, model="literal") == pytest.approx(1 - (7 / 8) ** 8, rel=1e-14)


def test_literal_has_no_balance_rule_and_errors_say_so():
    """Literal accepts any alpha >= 2 (not dividing n, larger than n) and clauses longer than
    n/alpha; the balanced models reject them pointing at the literal model; alpha < 2 is
    rejected for every model."""
    assert ft.prob_all_covered(2, 4, 3, 10, model="literal") == float(p_all_literal(2, 4, 3, 10))
    assert ft.prob_all_covered(1, 2, 50, 4, model="literal") == float(p_all_literal(1, 2, 50, 4))
    assert ft.simulate(2, 4, 3, 5, trials=100, model="literal").alpha == 3
    with pytest.raises(ValueError, match=r"alpha must be an integer >= 2 dividing n = 8, got 3 .*model='literal'"):
        ft.prob_all_covered(2, 4, 3, 10)
    with pytest.raises(ValueError, match=r"clause_size must be <= n / alpha = 2 .*model='literal' has no such limit"):
        ft.prob_all_covered(2, 4, 4, 10, model="partition")
    for model in model_names():
        with pytest.raises(ValueError, match=r"alpha must be an integer >= 2"):
            ft.prob_clause_covered(2, 4, 1, 10, model=model)
    with pytest.raises(ValueError, match=r"model must be one of \['literal', 'subset', 'partition'\]"):
        ft.min_parents_for_coverage(8, 4, 2, 0.1, model="two_four")
    with pytest.raises(ValueError, match="no closed form for 'two_four'"):
        ft.prob_child_covers(8, 4, 2, model="two_four")


def test_literal_exact_paths_agree():
    """The product form (rational and certified mpmath) equals the generic inclusion–exclusion
    fed the literal model's r_i = alpha^(i(1-k)), and huge N stay finite and certified."""
    import mpmath

    m = get_model("literal")
    cfg = m.check_config(6, 3, 3)
    us = [1, 5, 40, 200]
    rat = _exact.evaluate(cfg, m, us, force="rational")
    mp = _exact.evaluate(cfg, m, us, force="mpmath")
    ie = _exact.rational_eval(cfg, m, 6, us)
    for r, q, i, u in zip(rat, mp, ie, us):
        assert r.p_miss_exact == i.p_miss_exact == 1 - p_all_literal(6, 3, 3, u)
        assert q.method == "mpmath" and r.method == "rational"
        with mpmath.workprec(400):
            exact = mpmath.mpf(r.p_miss_exact.numerator) / r.p_miss_exact.denominator
            assert abs(q.p_miss_exact - exact) <= q.p_miss_err
        assert q.p_miss == pytest.approx(float(r.p_miss_exact), rel=1e-15)
    val, info = ft.prob_all_covered(8, 4, 2, 2**200, model="literal", complement=True, log=True, full_output=True)
    assert info.method_used == "mpmath" and np.isfinite(val) and val < -1e50


def test_the_three_models_in_the_cli_report_and_json(tmp_path, capsys):
    """`--model all` simulates every registered model; the literal rows pass the bound checks
    and the JSON records the sizing rule per model."""
    import json

    from fpe_theory.simulate import main

    js = tmp_path / "r.json"
    assert main(["--model", "all", "--clauses", "4", "--alphas", "2", "--parents", "8,32", "--trials", "2000",
                 "--no-progress", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "Literal-model bounds: all hold -> PASS" in out
    data = json.loads(js.read_text())
    assert {r["simulation"]["model"] for r in data["rows"]} == set(model_names())
    sizing = {s["model"]: s for s in data["sizing_rule"]}
    assert sizing["literal"]["sufficient"] and sizing["literal"]["exact"] <= sizing["literal"]["paper_rule"]
    assert not sizing["partition"]["sufficient"]  # C = 4: the balanced split needs more than the rule


def test_python_m_simulate_and_the_callable_name():
    """`python -m fpe_theory.simulate` still runs (as a script) and fpe_theory.simulate is
    callable and documented with the function's signature, whichever was imported first."""
    import inspect

    import importlib

    assert str(inspect.signature(ft.simulate)) == str(inspect.signature(importlib.import_module("fpe_theory.montecarlo").simulate))
    r = subprocess.run([sys.executable, "-W", "error", "-m", "fpe_theory.simulate", "--model", "literal",
                        "--clauses", "4", "--alphas", "3", "--clause-size", "2", "--parents", "6", "--trials", "500",
                        "--no-progress"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "literal" in r.stdout and "PASS" in r.stdout
