"""Grouped FPE (issue 16): ``fpe_expand(..., strategy="random", n_partitions=G)``.

Structure (hypothesis properties), the stored partition, validation, bit-identity of
``n_partitions=None`` with the classic split, and two distribution tests (chi-square, fixed
seeds; false-failure probability written beside each).
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from budget import examples
from fpe_empirical import MLP, count_nonzero, fpe_expand
from fpe_empirical.nn.expand import split_masks


def make_mlp(n_in, hidden, n_out=2, *, seed=0, layernorm=False, density=1.0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = MLP(n_in, hidden, n_out, layernorm=layernorm)
        if density < 1.0:
            for layer in m.layers:
                layer.set_mask(torch.rand(layer.weight.shape) < density)
    return m


def allowed(layer) -> torch.Tensor:
    """Bool (N*alpha, in): the block structure the stored partition allows."""
    groups, parts = layer.partition
    alpha = layer.out_features // groups.numel()
    child = torch.arange(layer.out_features)
    return parts[groups[child // alpha]] == (child % alpha)[:, None]


@settings(max_examples=examples(1))
@given(n_in=st.integers(4, 20), n_parents=st.integers(1, 12), alpha=st.integers(2, 4), data=st.data(),
       seed=st.integers(0, 2**32), density=st.sampled_from([1.0, 0.6]))
def test_parents_of_one_group_have_identical_child_supports(n_in, n_parents, alpha, data, seed, density):
    if alpha > n_in:
        alpha = n_in
    g = data.draw(st.integers(1, n_parents))
    model = make_mlp(n_in, n_parents, seed=seed % 1000, density=density)
    masks = split_masks(model, alpha, seed=seed, n_partitions=g).reshape(n_parents, alpha, n_in)
    try:
        new = fpe_expand(model, alpha, seed=seed, n_partitions=g)
    except ValueError as e:  # tiny sparse layers: the budget can be unreachable (a documented refusal)
        assume("cannot keep the non-zero count" not in str(e))
        raise
    groups, parts = (t.numpy() for t in new.layers[0].partition)
    support = (model.layers[0].masked_weight() != 0).numpy()
    sizes = np.bincount(groups, minlength=g)
    assert sizes.max() - sizes.min() <= 1 and sizes.min() >= 1  # dealt as evenly as possible
    for p in range(n_parents):
        # child a = the group's part a, restricted to the parent's live inputs
        expect = (parts[groups[p]][None, :] == np.arange(alpha)[:, None]) & support[p][None, :]
        assert np.array_equal(masks[p], expect)
    for a in range(alpha):  # every part is balanced over all inputs
        counts = (parts == a).sum(axis=1)
        assert np.all(np.abs(counts - n_in / alpha) < 1)
    # after pruning: a subset of the blocks, exact budget, split layer mask = support of weight
    lay = new.layers[0]
    assert not (lay.mask & ~allowed(lay)).any()
    assert torch.equal(lay.mask, lay.masked_weight() != 0)
    assert count_nonzero(new) == count_nonzero(model)


def test_same_seed_same_grouped_split_and_alternate_layers_store_partitions():
    model = make_mlp(12, [10, 8, 6], layernorm=True, seed=3)
    a = fpe_expand(model, 3, seed=7, n_partitions=4, layers="alternate")
    b = fpe_expand(model, 3, seed=7, n_partitions=4, layers="alternate")
    for la, lb in zip(a.layers, b.layers):
        assert torch.equal(la.mask, lb.mask) and torch.equal(la.weight, lb.weight)
    assert a.layers[0].partition is not None and a.layers[2].partition is not None
    assert a.layers[1].partition is None and a.layers[3].partition is None
    assert a.layers[2].partition[1].shape == (4, 8)  # a partition of hidden layer 3's 8 inputs
    assert count_nonzero(a) == count_nonzero(model)


def test_partition_survives_state_dict_round_trip_and_old_state_dicts_load():
    model = make_mlp(10, 6, seed=1)
    g = fpe_expand(model, 2, seed=0, n_partitions=3)
    fresh = MLP(10, 12, 2)
    fresh.load_state_dict(g.state_dict())  # strict
    assert all(torch.equal(x, y) for x, y in zip(fresh.layers[0].partition, g.layers[0].partition))
    classic = fpe_expand(model, 2, seed=0)
    assert not any("partition" in k for k in classic.state_dict())
    fresh.load_state_dict(classic.state_dict())  # a state dict without partitions clears it
    assert fresh.layers[0].partition is None
    bad = dict(g.state_dict())
    del bad["layers.0.partition_parts"]
    with pytest.raises(RuntimeError, match="together"):
        MLP(10, 12, 2).load_state_dict(bad)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_partitions=0), "n_partitions must be an integer >= 1"),
    (dict(n_partitions=7), r"n_partitions must be <= the number of parents of the split layer \(6\)"),
    (dict(n_partitions=2.5), "n_partitions"),
    (dict(n_partitions=True), "n_partitions"),
    (dict(n_partitions=2, strategy="gram"), "n_partitions is used only by strategy='random'"),
])
def test_bad_n_partitions_is_a_value_error(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fpe_expand(make_mlp(8, 6), 2, **kwargs)


def _digest() -> str:
    h = hashlib.sha256()
    for seed, alpha, layers, ln in [(0, 2, "first", False), (5, 4, "alternate", True), (11, 3, "first", False)]:
        torch.manual_seed(seed)
        m = MLP(24, [12, 10, 6], 3, layernorm=ln)
        e = fpe_expand(m, alpha, seed=seed, layers=layers, n_partitions=None)
        for k, v in e.state_dict().items():
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_n_partitions_none_is_bit_identical_to_the_classic_split():
    # digest computed with the code before grouped FPE existed (commit 308ba12, same script)
    assert _digest() == "a29e14449eaa94fb44b5c8367e6f4186ca58deb66a5daab33d98d49526bc5d5d"
    m = make_mlp(16, 8, seed=2)
    a, b = fpe_expand(m, 4, seed=9), fpe_expand(m, 4, seed=9, n_partitions=None)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _partition_id(labels: np.ndarray, index: dict) -> int:
    return index[tuple(labels)]


def _all_balanced(n: int, alpha: int) -> dict:
    labs = [t for t in itertools.product(range(alpha), repeat=n)
            if max(np.bincount(t, minlength=alpha)) - min(np.bincount(t, minlength=alpha)) <= 1]
    return {t: i for i, t in enumerate(labs)}


def test_g_equals_n_has_the_distribution_of_the_classic_split():
    # parent 0's labelled partition of 6 inputs into 2 children: 20 equally likely outcomes
    # under both splits. Chi-square (19 df) against uniform, 3000 seeds each; a test fails
    # when p < 5e-8: false-failure probability <= 1e-7 for the two together.
    n, alpha, trials = 6, 2, 3000
    index = _all_balanced(n, alpha)
    model = make_mlp(n, 3, seed=0)
    for g in (None, 3):
        counts = np.zeros(len(index))
        for seed in range(trials):
            masks = split_masks(model, alpha, seed=seed, n_partitions=g)
            counts[_partition_id(masks[:alpha].argmax(axis=0), index)] += 1
        assert stats.chisquare(counts).pvalue > 5e-8, (g, counts)


def test_different_groups_are_independent_draws():
    # parents 0..3 dealt into 2 groups; the pair (partition of group 0, partition of group 1)
    # of 4 inputs into 2 parts is uniform on 6 x 6 = 36 outcomes when the draws are
    # independent. Chi-square (35 df), 4000 seeds, fail when p < 1e-7 (false failure <= 1e-7).
    n, alpha, trials = 4, 2, 4000
    index = _all_balanced(n, alpha)
    model = make_mlp(n, 4, seed=0)
    counts = np.zeros(len(index) ** 2)
    same_group = 0
    for seed in range(trials):
        new = fpe_expand(model, alpha, seed=seed, n_partitions=2)
        _, parts = (t.numpy() for t in new.layers[0].partition)
        counts[_partition_id(parts[0], index) * len(index) + _partition_id(parts[1], index)] += 1
        masks = split_masks(model, alpha, seed=seed, n_partitions=2).reshape(4, alpha, n)
        groups = new.layers[0].partition[0].numpy()
        p, q = np.flatnonzero(groups == groups[0])[:2]
        same_group += np.array_equal(masks[p], masks[q])
    assert same_group == trials  # the two parents of parent 0's group always agree
    assert stats.chisquare(counts).pvalue > 1e-7, counts
