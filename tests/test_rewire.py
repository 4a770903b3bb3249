"""Dynamic rewiring (rewire_, train_rewiring): fixed budget, prune-then-grow, seeding, equivalence."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from scipy import stats

from fpe_empirical import fpe_expand, rewire_
from fpe_empirical.models import MLP, count_nonzero
from fpe_empirical.rewire import parameter_budget, rewire_steps, split_layers, train_rewiring
from fpe_empirical.train import TrainSettings, make_optimizer, train


def split_mlp(in_features=16, hidden=4, out=3, alpha=2, depth=1, seed=0, layernorm=False):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dense = MLP(in_features, [hidden] * depth, out, layernorm=layernorm)
        for norm in dense.norms:  # trained-like norm parameters: none exactly zero
            if layernorm:
                norm.weight.data.uniform_(0.5, 1.5)
                norm.bias.data.uniform_(-0.5, 0.5)
    return fpe_expand(dense, alpha, seed=seed, layers="first" if depth == 1 else "alternate")


def toy_data(n=64, d=16, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return X, y


@settings(max_examples=examples(0.5), deadline=None)
@given(
    in_features=st.integers(8, 24),
    hidden=st.integers(2, 6),
    alpha=st.integers(2, 4),
    depth=st.integers(1, 4),
    fraction=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_budget_and_layer_counts_exact(in_features, hidden, alpha, depth, fraction, seed):
    """For any split MLP and fraction, one rewire keeps each layer's mask count and the
    parameter budget exactly, prunes k = min(floor(f * active), inactive) old active entries
    and grows k entries that were inactive before; grown weights start at exactly 0."""
    alpha = min(alpha, hidden)  # alternate expansion splits hidden layers of fan-in `hidden`
    model = split_mlp(in_features, hidden, 3, alpha, depth, seed=seed % 1000)
    budget = parameter_budget(model)
    assert budget == count_nonzero(model)  # right after fpe_expand the budget is the count
    before = {i: model.layers[i].mask.clone() for i in range(len(model.layers))}
    report = rewire_(model, fraction, seed=seed)
    assert report.budget == budget == parameter_budget(model)
    assert count_nonzero(model) <= budget
    assert report.layers == tuple(split_layers(model))
    for i, layer in enumerate(model.layers):
        m0, m1 = before[i].view(-1), layer.mask.view(-1)
        assert int(m0.sum()) == int(m1.sum())
        if i not in report.layers:
            assert torch.equal(m0, m1)
            continue
        pruned, grown = report.pruned[i], report.grown[i]
        k = min(math.floor(fraction * int(m0.sum())), int((~m0).sum()))
        assert pruned.size == grown.size == k
        assert m0[pruned].all() and not m1[pruned].any()
        assert not m0[grown].any() and m1[grown].all()
        assert (layer.weight.view(-1)[grown] == 0).all()
        assert (layer.weight.view(-1)[~m1] == 0).all()
        # exactly 2k entries changed
        assert int((m0 != m1).sum()) == 2 * k


def test_prunes_smallest_magnitudes_first_then_grows_elsewhere():
    """The pruned entries are the k smallest |w| of the old active set (stable by index), and
    a grown weight (at 0) is never the one pruned in the same call."""
    model = split_mlp(seed=3)
    layer = model.layers[0]
    with torch.no_grad():  # distinct magnitudes on the active entries
        flat = layer.weight.view(-1)
        active = torch.nonzero(layer.mask.view(-1)).view(-1)
        flat[active] = torch.linspace(1.0, 2.0, active.numel())[torch.randperm(active.numel(), generator=torch.Generator().manual_seed(0))]
    w0 = layer.weight.detach().clone().view(-1)
    report = rewire_(model, 0.25, seed=0)
    k = math.floor(0.25 * active.numel())
    expected = active[torch.argsort(w0[active].abs(), stable=True)[:k]].numpy()
    np.testing.assert_array_equal(np.sort(report.pruned[0]), np.sort(expected))
    assert not set(report.grown[0]) & set(report.pruned[0])


def test_ties_broken_by_index():
    model = split_mlp(seed=1)
    layer = model.layers[0]
    with torch.no_grad():
        layer.weight.view(-1)[layer.mask.view(-1)] = 0.5
    report = rewire_(model, 0.1, seed=0)
    active = torch.nonzero(split_mlp(seed=1).layers[0].mask.view(-1)).view(-1).numpy()
    np.testing.assert_array_equal(report.pruned[0], active[: report.pruned[0].size])


def test_optimizer_state_zeroed_at_changed_entries():
    """Adam moments of pruned and grown entries are exactly 0 after the rewire; others kept."""
    model = split_mlp(seed=2)
    X, y = toy_data()
    s = TrainSettings(epochs=3, batch_size=16, weight_decay=1e-3)
    opt, _ = train(model, X, y, s, seed=0)
    state = opt.state[model.layers[0].weight]
    m_before = state["exp_avg"].clone().view(-1)
    report = rewire_(model, 0.3, seed=5, optimizer=opt)
    changed = np.r_[report.pruned[0], report.grown[0]]
    for key in ("exp_avg", "exp_avg_sq"):
        assert (state[key].view(-1)[changed] == 0).all()
    keep = np.setdiff1d(np.arange(m_before.numel()), changed)
    assert torch.equal(state["exp_avg"].view(-1)[keep], m_before[keep])


def test_same_seed_same_rewire_different_seed_different():
    a, b, c = split_mlp(seed=4), split_mlp(seed=4), split_mlp(seed=4)
    ra, rb, rc = rewire_(a, 0.2, seed=11), rewire_(b, 0.2, seed=11), rewire_(c, 0.2, seed=12)
    np.testing.assert_array_equal(ra.grown[0], rb.grown[0])
    assert torch.equal(a.layers[0].mask, b.layers[0].mask)
    assert not np.array_equal(ra.grown[0], rc.grown[0])


def test_grow_is_uniform_chi_square():
    """Grown entries are uniform over the previously inactive entries.

    A 4 -> 2 (split into 4) -> 2 layer after fpe_expand has 12 inactive and 4 active entries;
    fraction 0.5 grows k = 2 of the 12 per call. Over 1500 seeds each inactive entry is
    expected 1500 * 2 / 12 = 250 times. Pearson chi-square with 11 degrees of freedom: a
    correct sampler exceeds chi2.isf(1e-6, 11) = 48.1 with probability 1e-6.
    """
    base = split_mlp(in_features=4, hidden=2, out=2, seed=0)
    mask = base.layers[0].mask.view(-1)
    inactive = torch.nonzero(~mask).view(-1).numpy()
    k = min(int(mask.sum()) // 2, inactive.size)
    assert (inactive.size, k) == (12, 2)
    counts = dict.fromkeys(inactive.tolist(), 0)
    trials = 1500
    for seed in range(trials):
        m = copy.deepcopy(base)
        r = rewire_(m, 0.5, seed=seed)
        for g in r.grown[0]:
            counts[int(g)] += 1
    obs = np.array(list(counts.values()))
    expected = trials * k / inactive.size
    chi2 = ((obs - expected) ** 2 / expected).sum()
    assert chi2 < stats.chi2.isf(1e-6, inactive.size - 1), obs


def test_scope_default_split_layers_and_explicit():
    model = split_mlp(depth=4, hidden=4, seed=0)
    assert split_layers(model) == [0, 2]
    r = rewire_(model, 0.1, seed=0)
    assert r.layers == (0, 2)
    r = rewire_(model, 0.1, seed=0, layers=[1])
    assert r.layers == (1,)
    with torch.random.fork_rng(devices=[]):
        dense = MLP(8, 4, 2)
    with pytest.raises(ValueError, match="no split layer"):
        rewire_(dense, 0.1, seed=0)
    # a fully dense layer has nothing inactive: nothing changes, the call is valid
    r = rewire_(dense, 0.5, seed=0, layers=[0])
    assert r.n_changed == 0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(fraction=1.5), ValueError, r"fraction must lie in \[0, 1\]"),
        (dict(fraction=float("nan")), ValueError, r"fraction must lie in \[0, 1\]"),
        (dict(fraction="x"), TypeError, "fraction must be a float"),
        (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
        (dict(layers=[7]), ValueError, r"layers must be indices in \[0, 2\)"),
        (dict(layers=[0, 0]), ValueError, "layers must not repeat"),
        (dict(layers="0"), TypeError, "layers must be a sequence"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    kw = {"fraction": 0.1, "seed": 0, **kwargs}
    fraction = kw.pop("fraction")
    with pytest.raises(exc, match=match):
        rewire_(split_mlp(), fraction, **kw)


def test_rewire_steps_schedule():
    assert rewire_steps(100, 10, 0.75) == [10, 20, 30, 40, 50, 60, 70]
    assert rewire_steps(100, 0, 0.75) == []
    assert rewire_steps(100, 30, 1.0) == [30, 60, 90]


def test_train_rewiring_without_rewires_equals_train():
    """Equivalence: with fraction 0 (or every 0) train_rewiring is train.train, bit for bit."""
    X, y = toy_data(n=50)
    s = TrainSettings(epochs=4, batch_size=16, l1=1e-3, weight_decay=1e-3)
    for kw in (dict(every=2, fraction=0.0), dict(every=0, fraction=0.3)):
        a, b = split_mlp(seed=6), split_mlp(seed=6)
        _, ha = train(a, X, y, s, seed=9)
        _, hb, reports = train_rewiring(b, X, y, s, seed=9, rewire_seed=0, **kw)
        assert reports == []
        assert ha.epoch_loss == hb.epoch_loss
        for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
            assert torch.equal(pa, pb)


def test_train_rewiring_keeps_budget_at_every_rewire():
    """Every rewire during training keeps the budget and mask counts; masked weights stay 0;
    the rewire count follows rewire_steps; training still reduces the loss."""
    X, y = toy_data(n=96, seed=1)
    model = split_mlp(depth=4, hidden=4, layernorm=True, seed=7)
    budget = count_nonzero(model)
    counts = [int(layer.mask.sum()) for layer in model.layers]
    s = TrainSettings(epochs=10, batch_size=16)
    _, hist, reports = train_rewiring(model, X, y, s, seed=0, every=5, fraction=0.2, rewire_seed=3)
    assert len(reports) == len(rewire_steps(10 * 6, 5, 0.75)) == 9
    for r in reports:
        assert r.budget == budget and r.n_changed > 0
    assert parameter_budget(model) == budget
    assert [int(layer.mask.sum()) for layer in model.layers] == counts
    assert count_nonzero(model) <= budget
    for layer in model.layers:
        assert (layer.weight[~layer.mask] == 0).all()
    assert hist.epoch_loss[-1] < hist.epoch_loss[0]


def test_grown_weight_on_dead_input_stays_zero():
    """A grown weight whose input is always 0 gets zero gradient: count_nonzero stays below
    the budget by exactly those entries (documented: budget, not count, is the invariant)."""
    X, y = toy_data(n=64)
    X[:, :8] = 0.0  # inputs 0..7 always zero
    model = split_mlp(seed=8)
    opt = make_optimizer(model, TrainSettings(epochs=1))
    budget = parameter_budget(model)
    r = rewire_(model, 0.5, seed=1, optimizer=opt)
    dead = [g for g in r.grown[0] if g % 16 < 8]
    assert dead  # the seed grows some weights on dead inputs
    s = TrainSettings(epochs=3, batch_size=16)
    train(model, X, y, s, seed=0, optimizer=opt)
    w = model.layers[0].weight.view(-1)
    assert (w[dead] == 0).all()
    assert parameter_budget(model) == budget
    assert count_nonzero(model) <= budget - len(dead)
