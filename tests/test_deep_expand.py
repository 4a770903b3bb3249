"""Deep alternating expansion (paper A.7): exact non-zero count, structure, and which
function equivalences of the split actually hold.

What is exactly true of a split *before* re-sparsification (``split_only`` below):

- children's rows partition the parent's row, so their pre-activations (without bias) sum to
  the parent's: ``sum_c W_c x = W_p x``; every child also copies the bias ``b_p``;
- the next layer holds one copy of the parent's column per child, so it sees
  ``sum_c W2[:, p] relu(W_c x + b_p)``.

Hence the unpruned split computes the same function as the parent network exactly when, for
every parent and input, ``sum_c relu(W_c x + b_p) = relu(W_p x + b_p)``: with zero hidden
biases this holds iff the children's pre-activations are sign-consistent (all >= 0 or all
<= 0), e.g. in the linear regime (non-negative inputs and weights), through any depth of
alternating expansion; with a bias each active child adds ``b_p`` once more (in the linear
regime the output moves by exactly ``W2 (alpha - 1) b``); with LayerNorm after a split layer
the function changes even then (the norm's statistics run over children, not parents). So
FPE is *not* function-preserving in general: it is a re-initialisation that keeps the
parent's weights, and training continues from there.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples

from fpe_empirical import fpe_expand
from fpe_empirical.expand import split_layer, split_layer_indices
from fpe_empirical.models import MLP, count_nonzero

torch.set_default_dtype(torch.float32)


def deep_mlp(in_features, hidden, depth, out, *, layernorm=True, seed=0, dtype=torch.float32):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(in_features, [hidden] * depth, out, layernorm=layernorm)
        for norm in model.norms:  # trained-like LayerNorm parameters (none exactly zero)
            if layernorm:
                norm.weight.data.uniform_(0.5, 1.5)
                norm.bias.data.uniform_(-0.5, 0.5)
    return model.to(dtype)


def split_only(model, alpha, strategy="random", seed=0, layers="alternate"):
    """The split with all pruning disabled (expand.py's private split step, no re-sparsify)."""
    new = copy.deepcopy(model)
    rng = np.random.default_rng(seed)
    for i in split_layer_indices(len(model.layers) - 1, layers):
        split_layer(new, i, alpha, strategy, rng, None, None)
    return new


@settings(max_examples=examples(0.8), deadline=None)
@given(
    depth=st.integers(1, 9),
    hidden=st.integers(4, 12),
    alpha=st.integers(2, 4),
    strategy=st.sampled_from(["random", "gram", "two_four"]),
    seed=st.integers(0, 10_000),
)
def test_alternating_expansion_keeps_exact_nonzero_count(depth, hidden, alpha, strategy, seed):
    """Depths 1..9 with LayerNorm: the count is exact; hidden layers 1, 3, 5, ... are split
    (alpha x wider, LayerNorm widened with them), 2, 4, ... only get a wider input, the head
    keeps its outputs and is never split; every split layer's children descend from their
    parent (parent_index) and their masks are disjoint."""
    if strategy == "two_four":
        alpha, hidden = 2, 4 * max(1, hidden // 4)
    model = deep_mlp(16, hidden, depth, 5, seed=seed)
    new = fpe_expand(model, alpha, strategy=strategy, seed=seed, layers="alternate")
    assert count_nonzero(new) == count_nonzero(model)
    split = split_layer_indices(depth, "alternate")
    assert split == list(range(0, depth, 2))
    expected = [hidden * alpha if i in split else hidden for i in range(depth)]
    assert new.hidden == expected
    assert [n.normalized_shape[0] for n in new.norms] == expected
    head = new.layers[-1]
    assert head.out_features == 5 and torch.equal(head.parent_index, torch.arange(5))
    for i in split:
        layer = new.layers[i]
        assert torch.equal(layer.parent_index, torch.arange(hidden).repeat_interleave(alpha))
        blocks = layer.mask.reshape(hidden, alpha, -1)
        assert int(blocks.sum(1).max()) <= 1  # siblings disjoint
        # the widened next layer: its inputs are the children (alpha per parent)
        assert new.layers[i + 1].in_features == hidden * alpha
    for layer in new.layers:
        assert (layer.weight[~layer.mask] == 0).all()


@pytest.mark.parametrize("depth", range(1, 10))
def test_exact_count_every_depth_trained_like(depth):
    """Each depth 1..9 at the paper's smallest width (hidden 4) with LayerNorm, alpha 2."""
    model = deep_mlp(32, 4, depth, 10, seed=depth)
    for strategy in ("random", "gram", "two_four"):
        new = fpe_expand(model, 2, strategy=strategy, seed=depth, layers="alternate")
        assert count_nonzero(new) == count_nonzero(model)


def test_children_keep_parent_weights_on_their_part():
    """After re-sparsification: sibling rows are disjoint, inside the parent's support, and
    equal the parent's weights where kept; widened columns are copies of the parent's
    column where kept; LayerNorm gain/bias copied to children."""
    model = deep_mlp(12, 6, 5, 4, seed=3)
    new = fpe_expand(model, 3, seed=1, layers="alternate")
    for i in (0, 2, 4):
        W, Wn = model.layers[i].masked_weight(), new.layers[i].masked_weight()
        for p in range(6):
            kids = Wn[p * 3 : p * 3 + 3]
            support = kids != 0
            assert int(support.sum(0).max()) <= 1
            total = kids.sum(0)
            kept = total != 0
            assert torch.equal(total[kept], W[p][kept])
        assert torch.equal(new.norms[i].weight, model.norms[i].weight.repeat_interleave(3))
        nxt, nxt_new = model.layers[i + 1].masked_weight(), new.layers[i + 1].masked_weight()
        copies = nxt.repeat_interleave(3, dim=1)
        kept = nxt_new != 0
        assert torch.equal(nxt_new[kept], copies[kept])


# --------------------------------------------------------------------------- function equivalences


def linear_regime(model):
    """Non-negative weights, zero hidden biases, no LayerNorm: with x >= 0 every
    pre-activation is >= 0, so each ReLU is the identity."""
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.abs_()
        for layer in model.layers[:-1]:
            layer.bias.zero_()
    return model


@pytest.mark.parametrize("depth", range(1, 10))
@pytest.mark.parametrize("alpha", [2, 3])
def test_unpruned_split_preserves_function_in_linear_regime(depth, alpha):
    """Exact equivalence (float64, up to summation order): without pruning, zero hidden
    biases and sign-consistent children, alternating expansion of any depth computes the
    same function: sum_c W2[:, p] (W_c x) = W2[:, p] (W_p x)."""
    model = linear_regime(deep_mlp(10, 6, depth, 4, layernorm=False, seed=depth, dtype=torch.float64))
    x = torch.rand(64, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(149))
    split = split_only(model, alpha, seed=depth)
    assert split.hidden != model.hidden
    torch.testing.assert_close(split(x), model(x), rtol=1e-12, atol=1e-12)


def test_bias_copies_shift_output_by_exact_amount():
    """Linear regime with non-zero biases b >= 0, one hidden layer: every child adds its copy
    of b_p, so the unpruned split's output is f(x) + W2 @ ((alpha - 1) b), exactly."""
    model = linear_regime(deep_mlp(10, 6, 1, 4, layernorm=False, seed=1, dtype=torch.float64))
    with torch.no_grad():
        model.layers[0].bias.uniform_(0.1, 1.0)
    x = torch.rand(32, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(161))
    for alpha in (2, 3, 4):
        split = split_only(model, alpha, seed=alpha)
        shift = model.layers[1].weight @ ((alpha - 1) * model.layers[0].bias)
        torch.testing.assert_close(split(x), model(x) + shift, rtol=1e-12, atol=1e-12)


def test_relu_split_exact_iff_children_sign_consistent():
    """Signed weights, zero hidden biases, one hidden layer: per sample, the unpruned split
    equals the parent network when every parent's children are sign-consistent on that
    sample, and (for this seed) differs on the samples where some parent's are not."""
    alpha = 2
    model = deep_mlp(8, 5, 1, 3, layernorm=False, seed=4, dtype=torch.float64)
    with torch.no_grad():
        model.layers[0].bias.zero_()
    x = torch.randn(400, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(176))
    split = split_only(model, alpha, seed=0)
    pre = x @ split.layers[0].masked_weight().T  # (samples, N * alpha) child pre-activations
    kids = pre.view(400, 5, alpha)
    consistent = ((kids >= 0).all(-1) | (kids <= 0).all(-1)).all(-1)  # (samples,)
    assert 0 < int(consistent.sum()) < 400
    diff = (split(x) - model(x)).abs().amax(-1)
    assert (diff[consistent] < 1e-12).all()
    assert (diff[~consistent] > 1e-9).all()


def test_layernorm_breaks_equivalence_even_in_linear_regime():
    """With LayerNorm after the split layer the unpruned split is not the same function, even
    in the linear regime: the norm's mean and variance run over the alpha*N children."""
    model = linear_regime(deep_mlp(10, 6, 2, 4, layernorm=True, seed=2, dtype=torch.float64))
    x = torch.rand(32, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(191))
    split = split_only(model, 2, seed=0)
    assert (split(x) - model(x)).abs().max() > 1e-3


def test_pruned_weights_on_dead_inputs_keep_function_exact():
    """The full fpe_expand (with re-sparsification) is exactly function-preserving on inputs
    for which the pruned weights carry no signal: here every pruned weight is one of the tiny
    weights on an input that is 0 in the test batch (linear regime, zero hidden biases)."""
    model = linear_regime(deep_mlp(12, 4, 1, 3, layernorm=False, seed=5, dtype=torch.float64))
    dead = torch.arange(6, 12)  # inputs 6..11 are always 0 below
    with torch.no_grad():
        model.layers[0].weight[:, dead] = 1e-9 * (1 + torch.arange(6, dtype=torch.float64))
        model.layers[0].weight[:, :6] += 0.1  # live weights far larger than the tiny ones
        model.layers[1].weight += 0.1
    new = fpe_expand(model, 2, seed=0)
    pruned_live = (new.layers[0].masked_weight() == 0) & (
        model.layers[0].masked_weight().repeat_interleave(2, 0) != 0
    )
    # every pruned first-layer entry sits on a dead input or belongs to the sibling
    assert count_nonzero(new) == count_nonzero(model)
    x = torch.rand(50, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(212))
    x[:, dead] = 0
    head_pruned = int((new.layers[1].masked_weight() == 0).sum())
    assert head_pruned == 0  # the copies in the head were kept: pruning hit only tiny weights
    assert pruned_live.any()
    torch.testing.assert_close(new(x), model(x), rtol=1e-12, atol=1e-12)
