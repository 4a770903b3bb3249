"""Contracts of the core files that the rest of the suite left untested (found by the mutation
check, CONTRIBUTING.md "Mutation check"): each test states a documented property.

- closed forms: ``full_output`` bounds certify the value (the exact value lies inside them,
  the slack is the documented one), every method and output mode; shapes of scalar/array
  ``n_parents``; the degenerate inputs (one clause, zero collisions).
- ``split_masks``: hidden layer 1's child masks before pruning, drawn as ``fpe_expand`` draws
  them; ``partition_inputs``: one parent's disjoint child masks.
- ``MLP.loss``, ``MLP.features``, ``MaskedLinear`` without bias, ``extra_repr``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fpe_theory as ft
from fpe_empirical.expand import fpe_expand, partition_inputs, split_masks
from fpe_empirical.models import MLP, MaskedLinear, count_nonzero

FLOAT_REL_BOUND = 1e-12  # fpe_theory.closed_forms.FLOAT_REL_BOUND (the documented slack)
TINY = np.nextafter(0.0, 1.0)
C, K, ALPHA = 8, 4, 2  # the paper's worked example


def falling(x: int, m: int) -> int:
    return math.prod(range(x - m + 1, x + 1))


P = Fraction(falling(16, 4), falling(32, 4))
Q2 = Fraction(falling(16, 8), falling(32, 8))


def seeded_mlp(*args, seed=0, **kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(*args, **kw)


# --------------------------------------------------------------------------- closed forms: full_output
def exact_references(n: int) -> dict:
    """Exact (Fraction or 60-digit mpmath) values at the worked example, N = n parents."""
    with mpmath.workdps(60):
        miss = (1 - 2 * P) ** n
        paper_a = n * mpmath.mpf(ALPHA) ** (1 - K)
        return {
            ("clause", "exact"): 1 - miss,
            ("clause", "paper"): 1 - mpmath.exp(-paper_a),
            ("all", "union_bound"): max(1 - C * miss, 0),
            ("all", "paper"): max(1 - C * mpmath.exp(-paper_a), 0),
            ("collisions", "exact"): ALPHA * n * math.comb(C, 2) * Q2,
            ("collisions", "paper"): Fraction(ALPHA * n * math.comb(C, 2), ALPHA ** (2 * K)),
        }


FNS = {"clause": ft.prob_clause_covered, "all": ft.prob_all_covered, "collisions": ft.expected_collisions}


def as_mpf(x) -> mpmath.mpf:
    return mpmath.mpf(x.numerator) / x.denominator if isinstance(x, Fraction) else mpmath.mpf(x)


@pytest.mark.parametrize("what, method", [("clause", "exact"), ("clause", "paper"), ("all", "union_bound"),
                                          ("all", "paper"), ("collisions", "exact"), ("collisions", "paper")])
@pytest.mark.parametrize("log", [False, True])
def test_float_closed_forms_certify_their_value(what, method, log):
    """full_output: the same value as without it, the method named, the exact value inside
    [lower, upper], and the slack the documented relative bound (1e-12, times |log value|
    for a value computed in log space)."""
    parents = np.array([1, 8, 63, 400])
    fn = FNS[what]
    val, info = fn(C, K, ALPHA, parents, method=method, log=log, full_output=True)
    assert np.array_equal(val, fn(C, K, ALPHA, parents, method=method, log=log))
    assert isinstance(val, np.ndarray) and val.shape == parents.shape
    assert info.method_requested == method
    assert info.method_used == ("closed-form" if method == "exact" else method)
    assert not info.fell_back
    lo, hi = np.asarray(info.lower), np.asarray(info.upper)
    assert lo.shape == hi.shape == parents.shape
    for i, n in enumerate(parents):
        ref = as_mpf(exact_references(int(n))[(what, method)])
        with mpmath.workdps(60):
            ref = mpmath.log(ref) if log else ref
        assert lo[i] <= ref <= hi[i], (n, float(ref), lo[i], hi[i])
        assert lo[i] <= val[i] <= hi[i]
        v = float(val[i])
        if not math.isfinite(v):  # log of a probability clipped at 0: no slack at -inf
            assert lo[i] == hi[i] == v == -math.inf
            continue
        if log:
            slack = FLOAT_REL_BOUND * max(abs(v), 1.0)
            width = 2 * slack
        else:  # the lower bound is clipped at 0 (every value here is >= 0)
            slack = FLOAT_REL_BOUND * abs(v) * max(abs(math.log(v)), 1.0) if v > 0 else 0.0
            slack += 4 * TINY
            width = slack + min(slack, v)
        ulps = 4 * np.spacing(max(abs(v), abs(float(hi[i]))))  # rounding of lower/upper themselves
        assert abs((hi[i] - lo[i]) - width) <= ulps, (n, hi[i] - lo[i], width)
    if not log:
        assert (lo >= 0).all()


def test_scalar_n_parents_gives_floats_and_scalar_bounds():
    for fn in (ft.prob_clause_covered, ft.expected_collisions):
        val, info = fn(C, K, ALPHA, 8, full_output=True)
        assert isinstance(val, float) and isinstance(info.lower, float) and isinstance(info.upper, float)
        assert info.lower < val < info.upper
    val, info = ft.prob_all_covered(C, K, ALPHA, 63, method="union_bound", full_output=True)
    assert isinstance(val, float) and info.lower < val < info.upper


def test_zero_value_has_non_negative_bounds():
    """One clause has no pairs: zero collisions, bounds [0, a few subnormals] (never below 0)."""
    val, info = ft.expected_collisions(1, K, ALPHA, 8, full_output=True, model="literal")
    assert val == 0.0 and info.lower == 0.0 and 0.0 <= info.upper <= 4 * TINY
    assert ft.expected_collisions(1, K, ALPHA, 8, log=True, model="literal") == -math.inf
    assert ft.dense_collisions(1, 8) == 0.0 and ft.dense_collisions(8, [1, 8]).tolist() == [28.0, 224.0]


def test_collision_ratio_full_output_certifies():
    """alpha·q2 exact (partition) and alpha^(1-2k) = 1/128 (paper), as value and as log."""
    for method, ref in (("exact", 2 * Q2), ("paper", Fraction(1, 128))):
        for log in (False, True):
            val, info = ft.collision_ratio(C, K, ALPHA, method=method, log=log, full_output=True)
            assert val == ft.collision_ratio(C, K, ALPHA, method=method, log=log)
            exact = math.log(ref) if log else float(ref)
            assert val == pytest.approx(exact, rel=1e-15)
            assert info.lower <= val <= info.upper and info.upper - info.lower <= 4e-12 * max(abs(val), 1)
            assert isinstance(info.lower, float) and isinstance(info.upper, float)  # a scalar: scalar bounds
            assert info.method_requested == method and not info.fell_back


def test_two_four_full_output_is_rational_and_exact():
    """two_four: exact rational sums; full_output's bounds are the value itself; log mode."""
    val, info = ft.expected_collisions(C, K, 2, [4, 8], model="two_four", layout="shuffled", full_output=True)
    assert info.method_requested == "exact" and info.method_used == "rational" and not info.fell_back
    assert np.array_equal(info.lower, val) and np.array_equal(info.upper, val)
    one, info = ft.expected_collisions(C, K, 2, 4, model="two_four", layout="shuffled", full_output=True)
    assert one == val[0] and info.lower == info.upper == one and isinstance(info.lower, float)
    assert val[1] == pytest.approx(2 * val[0], rel=1e-15)  # linear in N
    lg = ft.expected_collisions(C, K, 2, [4, 8], model="two_four", layout="shuffled", log=True)
    assert np.allclose(np.exp(lg), val, rtol=1e-14)
    # contiguous layout, clauses aligned with the groups of 4: no pair ever collides
    assert ft.expected_collisions(C, K, 2, 8, model="two_four", log=True) == -math.inf
    ratio = ft.collision_ratio(C, K, 2, model="two_four", layout="shuffled")
    assert ratio == pytest.approx(val[0] / (4 * math.comb(C, 2)), rel=1e-14)
    with pytest.raises(ValueError, match="method must be 'exact' for model='two_four'"):
        ft.expected_collisions(C, K, 2, 8, model="two_four", method="paper")


def test_two_four_collision_ratio_modes():
    """two_four collision ratio: one parent's expected collisions over C(C,2), exactly (the
    bounds are the value); its log; 0 (log -inf) for clauses aligned with the groups of 4."""
    per_parent = ft.expected_collisions(C, K, 2, 1, model="two_four", layout="shuffled")
    val, info = ft.collision_ratio(C, K, 2, model="two_four", layout="shuffled", full_output=True)
    assert val == pytest.approx(per_parent / math.comb(C, 2), rel=1e-14)
    assert info.method_used == "rational" and info.lower == info.upper == val and not info.fell_back
    lg, info = ft.collision_ratio(C, K, 2, model="two_four", layout="shuffled", log=True, full_output=True)
    assert lg == pytest.approx(math.log(val), rel=1e-14) and info.lower == info.upper == lg
    assert ft.collision_ratio(C, K, 2, model="two_four") == 0.0
    assert ft.collision_ratio(C, K, 2, model="two_four", log=True) == -math.inf
    with pytest.raises(ValueError, match="method must be 'exact' for model='two_four'"):
        ft.collision_ratio(C, K, 2, model="two_four", method="paper")
    with pytest.raises(ValueError, match="layout must be one of"):
        ft.collision_ratio(C, K, 2, layout="diagonal")
    with pytest.raises(ValueError, match="n_clauses must be >= 2"):
        ft.collision_ratio(1, K, 2, model="literal")


def test_log_outputs_follow_the_fallback_values():
    """Where the exact evaluation falls back (huge C, few parents), log=True is still the log of
    the returned value and of its complement (0 -> -inf)."""
    parents = [10, 100]
    for complement in (False, True):
        plain = ft.prob_all_covered(1000, 4, 2, parents, complement=complement)
        lg = ft.prob_all_covered(1000, 4, 2, parents, complement=complement, log=True)
        for p, g in zip(plain, lg):
            if p == 0:
                assert g == -math.inf
            else:
                assert g == pytest.approx(math.log(p), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("complement", [False, True])
def test_exact_log_outputs_and_their_bounds(complement):
    """prob_all_covered exact, log=True: the log of the exact rational (to 1e-14), inside its
    bounds; the logs of the value and of its complement add up (as probabilities) to 1."""
    parents = [1, 4, 8, 63]
    lg, info = ft.prob_all_covered(C, K, ALPHA, parents, log=True, complement=complement, full_output=True)
    plain = ft.prob_all_covered(C, K, ALPHA, parents, complement=complement)
    for i, n in enumerate(parents):
        if plain[i] == 0:
            assert lg[i] == info.lower[i] == info.upper[i] == -math.inf
        else:
            assert lg[i] == pytest.approx(math.log(plain[i]), rel=1e-14, abs=1e-15)
            assert info.lower[i] <= lg[i] <= info.upper[i]
    other = ft.prob_all_covered(C, K, ALPHA, parents, log=True, complement=not complement)
    assert np.allclose(np.exp(lg) + np.exp(other), 1.0, rtol=0, atol=1e-15)


def test_mpmath_log_outputs_bound_the_value():
    """Past the rational range (certified mpmath), log outputs still bracket the value."""
    parents = [2000, 4000]
    for complement in (False, True):
        plain, pinfo = ft.prob_all_covered(200, 4, 2, parents, model="subset", complement=complement,
                                           full_output=True)
        lg, info = ft.prob_all_covered(200, 4, 2, parents, model="subset", log=True, complement=complement,
                                       full_output=True)
        assert pinfo.method_used == info.method_used
        for i in range(len(parents)):
            assert info.lower[i] <= lg[i] <= info.upper[i] <= 0.0
            assert lg[i] == pytest.approx(math.log(plain[i]), rel=1e-12)


def test_method_used_collapses_to_one_name_and_terms():
    """One method for every entry: ``method_used`` and ``terms`` are single values; methods
    that differ between entries: one per entry (a tuple)."""
    _, info = ft.prob_all_covered(C, K, ALPHA, [8, 16, 63], full_output=True)
    assert info.method_used == "rational" and info.terms == C and info.precision_bits is None
    _, info = ft.prob_all_covered(1000, 4, 2, [10, 100], full_output=True)
    assert info.method_used == ("approximation", "bonferroni")
    assert isinstance(info.terms, tuple) and len(info.terms) == 2
    assert isinstance(info.precision_bits, tuple) and info.precision_bits[0] is None


def test_min_parents_full_output():
    for method, used in (("exact", None), ("union_bound", "union_bound"), ("paper", "paper")):
        n, info = ft.min_parents_for_coverage(C, K, ALPHA, 0.01, method=method, full_output=True)
        assert n == ft.min_parents_for_coverage(C, K, ALPHA, 0.01, method=method)
        assert info.lower == info.upper == n and info.method_requested == method
        if used is not None:
            assert info.method_used == used
    # one clause: the union bound is exact (reported as a closed form): 1 - (1 - alpha·p)^N >= 0.99
    n, info = ft.min_parents_for_coverage(1, 4, 2, 0.01, model="literal", full_output=True)
    assert info.method_used == "closed-form" and n == math.ceil(math.log(0.01) / math.log(1 - 2 ** -3))


# --------------------------------------------------------------------------- split_masks / partition_inputs
@pytest.mark.parametrize("strategy, alpha", [("random", 2), ("random", 3), ("two_four", 2), ("gram", 2)])
def test_split_masks_are_the_unpruned_split_of_fpe_expand(strategy, alpha):
    """Children of each parent: disjoint, covering the parent's live inputs exactly; the masks of
    fpe_expand (same seed) are subsets of them; a different seed draws different masks."""
    model = seeded_mlp(16, 5, 2, seed=1)
    with torch.no_grad():
        model.layers[0].weight[1, :6] = 0.0  # a parent with fewer live inputs
    masks = split_masks(model, alpha, strategy=strategy, seed=3)
    assert masks.dtype == bool and masks.shape == (5 * alpha, 16)
    live = (model.layers[0].masked_weight() != 0).numpy()
    blocks = masks.reshape(5, alpha, 16)
    assert (blocks.sum(1) <= 1).all()  # disjoint
    assert np.array_equal(blocks.any(1), live)  # covering the parent's live inputs, nothing else
    sizes = blocks.sum(2)
    assert (sizes.max(1) - sizes.min(1) <= 1).all() or strategy == "gram"
    pruned = fpe_expand(model, alpha, strategy=strategy, seed=3).layers[0].mask.numpy()
    assert not (pruned & ~masks).any()
    assert np.array_equal(masks, split_masks(model, alpha, strategy=strategy, seed=3))
    if strategy == "random":
        assert not np.array_equal(masks, split_masks(model, alpha, strategy=strategy, seed=4))


def test_split_masks_clause_groups_and_checks():
    model = seeded_mlp(16, 4, 1, seed=2)
    groups = [list(range(c * 4, c * 4 + 4)) for c in range(4)]
    masks = split_masks(model, 2, strategy="clause", groups=groups, seed=0)
    for child in masks:
        for g in groups:  # each clause whole in one child
            assert child[g].all() or not child[g].any()
    with pytest.raises(ValueError, match="alpha"):
        split_masks(model, 1)
    with pytest.raises(ValueError, match="groups is used only by strategy='clause'"):
        split_masks(model, 2, strategy="random", groups=groups)
    with pytest.raises(ValueError, match="seed"):
        split_masks(model, 2, seed=-1)


@pytest.mark.parametrize("strategy", ["random", "two_four", "clause", "gram"])
def test_partition_inputs_one_parent(strategy):
    """Disjoint child masks (alpha, in_features) whose union is exactly the support."""
    rng = np.random.default_rng(0)
    support = np.array([0, 1, 2, 3, 5, 6, 8, 9, 10, 11])
    # the groups a group-keeping strategy balances ("gram": its clusters, given here)
    groups = [np.array([0, 1, 2, 3]), np.array([8, 9, 10, 11])] if strategy in ("clause", "gram") else None
    masks = partition_inputs(support, 12, 2, strategy, rng, groups)
    assert masks.shape == (2, 12) and masks.dtype == bool
    assert (masks.sum(0) <= 1).all()
    assert np.array_equal(np.flatnonzero(masks.any(0)), support)
    if groups is not None:
        for g in groups:
            assert masks[0, g].all() or masks[1, g].all()
    if strategy == "random":
        assert abs(int(masks[0].sum()) - int(masks[1].sum())) <= 1


# --------------------------------------------------------------------------- models
def test_mlp_loss_binary_and_multiclass():
    """out_features == 1: mean BCE with logits on the single logit; else cross-entropy."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(9, 6, generator=g)
    binary = seeded_mlp(6, 4, 1, seed=1)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 1])
    logits = binary(x)
    expected = F.binary_cross_entropy_with_logits(logits.squeeze(-1), y.float())
    assert torch.allclose(binary.loss(logits, y), expected, rtol=0, atol=0)
    manual = -(y * F.logsigmoid(logits.squeeze(-1)) + (1 - y) * F.logsigmoid(-logits.squeeze(-1))).mean()
    assert torch.allclose(binary.loss(logits, y), manual, rtol=1e-6, atol=1e-7)
    multi = seeded_mlp(6, [5, 4], 3, seed=2)
    yc = torch.tensor([0, 2, 1, 2, 0, 1, 1, 2, 0])
    logits = multi(x)
    manual = -torch.log_softmax(logits, -1)[torch.arange(9), yc].mean()
    assert torch.allclose(multi.loss(logits, yc), manual, rtol=1e-6, atol=1e-7)
    assert multi.loss(logits, yc.float()).item() == pytest.approx(manual.item(), rel=1e-6)


@pytest.mark.parametrize("layernorm", [False, True])
def test_mlp_features_are_the_hidden_activations(layernorm):
    """features(x): one (batch, width) tensor per hidden layer, non-negative (ReLU), and the
    head applied to the last one is forward(x)."""
    model = seeded_mlp(6, [5, 4, 3], 2, layernorm=layernorm, seed=3)
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(6))
    feats = model.features(x)
    assert [tuple(f.shape) for f in feats] == [(7, 5), (7, 4), (7, 3)]
    assert all((f >= 0).all() for f in feats)
    h = x
    for layer, norm, f in zip(model.layers[:-1], model.norms, feats):
        h = torch.relu(norm(layer(h)))
        assert torch.equal(h, f)
    assert torch.equal(model.layers[-1](feats[-1]), model(x))
    assert (feats[0] > 0).any() and (feats[0] == 0).any()  # the ReLU is on, not the identity


def test_mlp_hidden_widths_and_split_widths():
    model = seeded_mlp(8, [6, 4], 1)
    assert model.hidden == [6, 4] and model.in_features == 8 and model.out_features == 1
    assert fpe_expand(model, 2, layers="alternate").hidden == [12, 4]
    assert MLP(8, 3, 2).hidden == [3] and MLP(8, range(2, 4), 2).hidden == [2, 3]
    assert not MLP(8, 3, 2).layernorm and MLP(8, 3, 2, layernorm=True).layernorm
    assert isinstance(MLP(8, [3], 2, layernorm=True).norms[0], torch.nn.LayerNorm)
    assert MLP(8, [3], 2, bias=False).layers[0].bias is None


def test_mlp_predict_and_accuracy():
    model = seeded_mlp(4, 3, 1, seed=4)
    x = torch.randn(20, 4, generator=torch.Generator().manual_seed(7))
    pred = model.predict(x)
    assert torch.equal(pred, (model(x).squeeze(-1) > 0).long())
    assert model.accuracy(x, pred) == 1.0 and model.accuracy(x, 1 - pred) == 0.0
    multi = seeded_mlp(4, 3, 3, seed=4)
    assert torch.equal(multi.predict(x), multi(x).argmax(-1))


def test_masked_linear_without_bias_and_repr():
    torch.manual_seed(0)
    layer = MaskedLinear(4, 3, bias=False)
    assert layer.bias is None and layer.in_features == 4 and layer.out_features == 3
    assert layer.parent_index.tolist() == [0, 1, 2] and layer.mask.all()
    mask = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    layer.set_mask(mask)
    assert (layer.weight[~mask] == 0).all()
    lin = layer.to_linear()
    assert lin.bias is None and torch.equal(lin.weight, layer.masked_weight())
    x = torch.randn(5, 4)
    assert torch.allclose(lin(x), layer(x), rtol=0, atol=0)
    assert count_nonzero(layer) == 7
    text = repr(layer)
    assert "in_features=4" in text and "out_features=3" in text and "bias=False" in text
    assert "density=0.583" in text  # 7 of 12


def test_masked_linear_init_is_nn_linear_and_respects_mask():
    """reset_parameters: nn.Linear's initialisation (same draws from the same seed)."""
    torch.manual_seed(11)
    layer = MaskedLinear(5, 3)
    torch.manual_seed(11)
    ref = torch.nn.Linear(5, 3)
    assert torch.equal(layer.weight, ref.weight) and torch.equal(layer.bias, ref.bias)
    layer.set_mask(torch.eye(3, 5, dtype=torch.bool))
    layer.reset_parameters()
    assert (layer.weight[~layer.mask] == 0).all() and (layer.weight[layer.mask] != 0).all()
    with pytest.raises(ValueError, match="in_features"):
        MaskedLinear(0, 3)
    with pytest.raises(ValueError, match="out_features"):
        MaskedLinear(3, 0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_nonzero("not a model")


# --------------------------------------------------------------------------- bad input names the parameter
# The project's rule (GUIDE/CONTRIBUTING): a bad argument raises ValueError/TypeError whose
# message names the parameter and what it must be. Anchored regexes: the whole message.
@pytest.mark.parametrize("call, exc, message", [
    (lambda: MLP(4, "x", 1), TypeError, r"hidden must be an int or a list of ints, got str 'x'"),
    (lambda: MLP(4, [], 1), ValueError, r"hidden must name at least one hidden layer width"),
    (lambda: MLP(4, [3, 0], 1), ValueError, r"hidden\[1\] must be an integer >= 1, got 0"),
    (lambda: MLP(0, 3, 1), ValueError, r"in_features must be an integer >= 1, got 0"),
    (lambda: MLP(4, 3, 0), ValueError, r"out_features must be an integer >= 1, got 0"),
    (lambda: MLP(4, 3, 1, bias="y"), TypeError, r"bias must be a bool, got str 'y'"),
    (lambda: MLP(4, 3, 1, layernorm=1), TypeError, r"layernorm must be a bool, got int 1"),
    (lambda: MaskedLinear(2, 2, bias=3), TypeError, r"bias must be a bool, got int 3"),
    (lambda: MaskedLinear(0, 2), ValueError, r"in_features must be an integer >= 1, got 0"),
    (lambda: MaskedLinear(2, 0), ValueError, r"out_features must be an integer >= 1, got 0"),
    (lambda: count_nonzero("x"), TypeError, r"model must be a torch.nn.Module \(e.g. an fpe_empirical.MLP\), got str"),
    (lambda: fpe_expand("x", 2), TypeError, r"model must be a torch.nn.Module \(e.g. an fpe_empirical.MLP\), got str"),
    (lambda: fpe_expand(MLP(6, 3, 1), 2, strategy="two_four"), ValueError,
     r"strategy='two_four' needs in_features of hidden layer 1 to be a multiple of 4, got 6"),
    (lambda: fpe_expand(MLP(8, [4, 4, 4], 1), 2, strategy="clause", groups=[[0, 1]], layers="alternate"), ValueError,
     r"strategy='clause' groups name input features of layer 1 only; with layers='alternate' this model splits "
     r"2 layers: use strategy='random' or 'gram' or 'two_four'"),
    (lambda: ft.prob_child_covers(8, 4, 2, clauses=-1), ValueError, r"clauses must be an integer >= 0, got -1"),
    (lambda: ft.prob_child_covers(8, 4, 2, clauses=9), ValueError, r"clauses must be <= n_clauses = 8, got 9"),
])
def test_bad_input_message_names_the_parameter(call, exc, message):
    with pytest.raises(exc, match=f"^{message}$"):
        call()


def test_split_layer_indices_default_and_bad_scheme():
    from fpe_empirical.expand import split_layer_indices

    assert split_layer_indices(5) == [0]  # default "first": hidden layer 1 only
    assert split_layer_indices(5, "alternate") == [0, 2, 4] and split_layer_indices(4, "alternate") == [0, 2]
    with pytest.raises(ValueError, match=r"^layers must be one of \['first', 'alternate'\], got 'every'$"):
        split_layer_indices(3, "every")


def test_fpe_expand_default_seed_is_zero():
    """The documented default ``seed=0``: omitting it draws the same masks as seed=0."""
    model = seeded_mlp(12, 5, 1, seed=3)
    a, b, c = fpe_expand(model, 2), fpe_expand(model, 2, seed=0), fpe_expand(model, 2, seed=1)
    assert torch.equal(a.layers[0].mask, b.layers[0].mask)
    assert not torch.equal(a.layers[0].mask, c.layers[0].mask)


def test_min_parents_exact_names_one_method():
    """The exact search reports the one method it used (a name, not a tuple of one)."""
    for model in ("partition", "literal", "subset"):
        _, info = ft.min_parents_for_coverage(C, K, ALPHA, 0.01, model=model, full_output=True)
        assert isinstance(info.method_used, str) and info.method_used in ("rational", "mpmath", "bonferroni")


FLAG_FUNCTIONS = {
    "prob_clause_covered": (ft.prob_clause_covered, (C, K, ALPHA, 8), ("complement", "log", "full_output")),
    "prob_all_covered": (ft.prob_all_covered, (C, K, ALPHA, 8), ("complement", "log", "full_output")),
    "expected_collisions": (ft.expected_collisions, (C, K, ALPHA, 8), ("log", "full_output")),
    "collision_ratio": (ft.collision_ratio, (C, K, ALPHA), ("log", "full_output")),
    "min_parents_for_coverage": (ft.min_parents_for_coverage, (C, K, ALPHA, 0.01), ("full_output",)),
}


@pytest.mark.parametrize("name", sorted(FLAG_FUNCTIONS))
def test_closed_form_flags_and_choices_name_the_parameter(name):
    """Every bool flag, ``layout``, ``method`` and ``model`` of each closed form: a bad value is
    an error naming that parameter (the whole message, anchored)."""
    fn, args, flags = FLAG_FUNCTIONS[name]
    for flag in flags:
        with pytest.raises(TypeError, match=f"^{flag} must be a bool, got 'y'$"):
            fn(*args, **{flag: "y"})
    methods = "'exact', 'paper'" if name in ("expected_collisions", "collision_ratio") else "'exact', 'union_bound', 'paper'"
    with pytest.raises(ValueError, match=rf"^method must be one of \[{methods}\], got 'x'$"):
        fn(*args, method="x")
    with pytest.raises(ValueError, match=r"^model must be one of \['literal', 'subset', 'partition'"):
        fn(*args, model="x")
    if name in ("prob_clause_covered", "expected_collisions", "collision_ratio"):
        with pytest.raises(ValueError, match=r"^layout must be one of \['contiguous', 'shuffled'\], got 'x'$"):
            fn(*args, layout="x")
        with pytest.raises(ValueError, match=r"^method must be 'exact' for model='two_four', got 'paper'$"):
            fn(*args, model="two_four", method="paper")
    else:
        with pytest.raises(ValueError, match=rf"^model must be one of \['literal', 'subset', 'partition'\] for "
                                             rf"{name}, got 'two_four' \(no closed form for 'two_four'; "
                                             r"estimate it with simulate\(\)\)$"):
            fn(*args, model="two_four")


@pytest.mark.parametrize("log", [False, True])
def test_two_four_clause_coverage_full_output(log):
    """two_four clause coverage (shuffled layout): exact, reported as rational with bounds
    around the value; log=True is its log; complement=True is 1 - value."""
    parents = [1, 4]
    val, info = ft.prob_clause_covered(C, K, 2, parents, model="two_four", layout="shuffled", log=log,
                                       full_output=True)
    assert info.method_requested == "exact" and info.method_used == "rational" and not info.fell_back
    assert np.all(info.lower <= val) and np.all(val <= info.upper)
    plain = ft.prob_clause_covered(C, K, 2, parents, model="two_four", layout="shuffled")
    assert np.allclose(np.exp(val) if log else val, plain, rtol=1e-14, atol=0)
    one, info = ft.prob_clause_covered(C, K, 2, 4, model="two_four", layout="shuffled", log=log, full_output=True)
    assert one == val[1] and isinstance(one, float) and isinstance(info.lower, float) and isinstance(info.upper, float)
    miss = ft.prob_clause_covered(C, K, 2, parents, model="two_four", layout="shuffled", complement=True)
    assert np.allclose(plain + miss, 1.0, rtol=0, atol=1e-15) and (np.diff(plain) > 0).all()


def test_split_masks_defaults_and_gram_clusters():
    """split_masks: default seed 0 (as fpe_expand); ``n_clusters`` reaches the "gram" strategy:
    fpe_expand's pruned masks with the same n_clusters are subsets of its masks."""
    model = seeded_mlp(16, 5, 2, seed=6)
    assert np.array_equal(split_masks(model, 2), split_masks(model, 2, seed=0))
    for k in (2, 3):
        masks = split_masks(model, 2, strategy="gram", n_clusters=k, seed=1)
        pruned = fpe_expand(model, 2, strategy="gram", n_clusters=k, seed=1).layers[0].mask.numpy()
        assert masks.shape == (10, 16) and not (pruned & ~masks).any()


def test_full_output_reason_says_how():
    """ExactInfo.reason is a non-empty explanation for every method and model."""
    infos = [
        ft.prob_clause_covered(C, K, ALPHA, 8, full_output=True)[1],
        ft.prob_clause_covered(C, K, 2, 8, model="two_four", full_output=True)[1],
        ft.prob_all_covered(C, K, ALPHA, 8, full_output=True)[1],
        ft.prob_all_covered(C, K, ALPHA, 8, method="union_bound", full_output=True)[1],
        ft.prob_all_covered(C, K, ALPHA, 8, method="paper", full_output=True)[1],
        ft.expected_collisions(C, K, ALPHA, 8, full_output=True)[1],
        ft.expected_collisions(C, K, 2, 8, model="two_four", full_output=True)[1],
        ft.collision_ratio(C, K, ALPHA, full_output=True)[1],
        ft.min_parents_for_coverage(C, K, ALPHA, 0.01, full_output=True)[1],
    ]
    for info in infos:
        assert isinstance(info.reason, str) and len(info.reason) > 10, info


def test_mlp_init_draws_as_torch_linear_layers():
    """A seeded MLP holds exactly the weights (and biases) of torch's nn.Linear layers built in
    the same order from the same seed, with and without bias."""
    for bias in (True, False):
        model = seeded_mlp(4, [3, 5], 2, bias=bias, seed=21)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(21)
            ref = [torch.nn.Linear(a, b, bias=bias) for a, b in ((4, 3), (3, 5), (5, 2))]
        for layer, lin in zip(model.layers, ref):
            assert torch.equal(layer.weight, lin.weight)
            assert (layer.bias is None) == (not bias)
            if bias:
                assert torch.equal(layer.bias, lin.bias)
