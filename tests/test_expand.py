"""fpe_expand: partitions, the 2:4 pattern, exact non-zero count, determinism, validation."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fpe_empirical.expand import (
    fpe_expand,
    gram_groups,
    partition_inputs,
    prune_to,
    split_layer,
    split_layer_indices,
)
from fpe_empirical.models import MLP, count_nonzero


def make_mlp(in_features, hidden, out_features=1, *, layernorm=False, seed=0, density=1.0):
    """A deterministic MLP; ``density < 1`` masks a random share of every layer's weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(in_features, hidden, out_features, layernorm=layernorm)
        if layernorm:  # non-trivial norm parameters so copying them is visible
            for norm in model.norms:
                norm.weight.data.uniform_(0.5, 1.5)
                norm.bias.data.uniform_(-0.5, 0.5)
        if density < 1.0:
            for layer in model.layers:
                layer.set_mask(torch.rand(layer.weight.shape) < density)
    return model


def clauses(n_clauses, k=4):
    return [list(range(c * k, c * k + k)) for c in range(n_clauses)]


def split_only(model, alpha, strategy, seed=0, groups=None, layers="first"):
    """The split before re-sparsification (private helpers), for coverage checks."""
    new = copy.deepcopy(model)
    rng = np.random.default_rng(seed)
    g = [np.asarray(x) for x in groups] if groups is not None else None
    for i in split_layer_indices(len(model.layers) - 1, layers):
        split_layer(new, i, alpha, strategy, rng, g, None)
    return new


def sibling_blocks(layer, alpha):
    """(N, alpha, in) bool: the masks of each parent's children."""
    return layer.mask.reshape(-1, alpha, layer.in_features).numpy()


# --------------------------------------------------------------------------- hypothesis: random shapes


@st.composite
def expansion_cases(draw):
    """A random MLP (shape, depth, LayerNorm, pre-existing sparsity) plus valid split arguments."""
    strategy = draw(st.sampled_from(["random", "clause", "gram", "two_four"]))
    layers = draw(st.sampled_from(["first", "alternate"]))
    if strategy == "clause":
        layers = "first"
    mult = 4 if strategy == "two_four" else 1
    in_features = draw(st.integers(1, 10)) * 4 if mult == 4 else draw(st.integers(4, 40))
    depth = draw(st.integers(1, 4))
    hidden = [mult * draw(st.integers(1, 10 // mult + 1)) for _ in range(depth)]
    out = draw(st.integers(1, 3))
    alpha = 2 if strategy == "two_four" else draw(st.integers(2, 4))
    # alpha must not exceed any split layer's fan-in
    fan_ins = [in_features] + hidden[:-1]
    split = split_layer_indices(depth, layers)
    alpha = min(alpha, *[fan_ins[i] for i in split])
    if alpha < 2:
        hidden = [max(h, 2) for h in hidden]
        alpha = 2
    groups = None
    if strategy == "clause":
        cap = math.ceil(in_features / alpha)
        perm = draw(st.permutations(range(in_features)))
        n_used = draw(st.integers(0, in_features))
        groups, pos = [], 0
        while pos < n_used:
            size = draw(st.integers(1, cap))
            groups.append(sorted(perm[pos : pos + size]))
            pos += size
    model = make_mlp(
        in_features,
        hidden,
        out,
        layernorm=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
        density=draw(st.sampled_from([1.0, 1.0, 0.7])),
    )
    seed = draw(st.integers(0, 2**16))
    return model, alpha, strategy, groups, seed, layers


@given(expansion_cases())
def test_exact_nonzero_count_and_structure(case):
    """For random shapes, depths, alphas, strategies and layer schemes: the non-zero count is
    preserved exactly, widths grow by alpha on split layers only, children are contiguous
    (parent_index = j // alpha), sibling masks stay disjoint and inside the parent's support,
    and the input model is untouched."""
    model, alpha, strategy, groups, seed, layers = case
    before = copy.deepcopy(model.state_dict())
    try:
        new = fpe_expand(model, alpha, strategy=strategy, groups=groups, seed=seed, layers=layers)
    except ValueError as err:
        # only justified when the copies outnumber the prunable weights
        assert "cannot keep the non-zero count" in str(err)
        pre = split_only(model, alpha, strategy, seed, groups, layers)
        touched = {j for i in split_layer_indices(len(model.layers) - 1, layers) for j in (i, i + 1)}
        pool = sum(int((pre.layers[j].masked_weight() != 0).sum()) for j in touched)
        assert count_nonzero(pre) - count_nonzero(model) >= pool
        return
    assert count_nonzero(new) == count_nonzero(model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    split = split_layer_indices(len(model.layers) - 1, layers)
    for i, (old_w, new_w) in enumerate(zip(model.hidden, new.hidden)):
        assert new_w == old_w * (alpha if i in split else 1)
    for i in split:
        layer = new.layers[i]
        N = model.layers[i].out_features
        assert torch.equal(layer.parent_index, torch.arange(N).repeat_interleave(alpha))
        blocks = sibling_blocks(layer, alpha)
        assert (blocks.sum(axis=1) <= 1).all(), "sibling masks overlap"
        parent_support = (model.layers[i].masked_weight() != 0).numpy()
        assert not (blocks.any(axis=1) & ~parent_support).any(), "child outside the parent's support"
        # every touched layer: mask == support of the effective weight
        for li in (i, i + 1):
            lay = new.layers[li]
            assert torch.equal(lay.mask, lay.masked_weight() != 0)


@given(expansion_cases())
def test_split_before_pruning_covers_parent(case):
    """Before re-sparsification the children's masks partition each parent's live inputs
    exactly, children copy the parent's weights on their part (so their pre-activations sum
    to the parent's plus (alpha-1) bias copies), and 'random' part sizes differ by <= 1."""
    model, alpha, strategy, groups, seed, layers = case
    new = split_only(model, alpha, strategy, seed, groups, layers)
    for i in split_layer_indices(len(model.layers) - 1, layers):
        W = model.layers[i].masked_weight()
        blocks = sibling_blocks(new.layers[i], alpha)
        np.testing.assert_array_equal(blocks.sum(axis=1), (W != 0).numpy().astype(int))
        Wc = new.layers[i].masked_weight().reshape(-1, alpha, W.shape[1])
        assert torch.equal(Wc.sum(dim=1), W)
        if strategy == "random":
            sizes = blocks.sum(axis=2)
            assert (sizes.max(axis=1) - sizes.min(axis=1) <= 1).all()
        nxt_old, nxt_new = model.layers[i + 1].masked_weight(), new.layers[i + 1].masked_weight()
        assert torch.equal(nxt_new, nxt_old.repeat_interleave(alpha, dim=1))


def test_random_split_of_dense_layer_sizes_balanced():
    """alpha = 3 does not divide 32: parts have sizes 10 or 11, and all 32 inputs are used."""
    model = make_mlp(32, 8, seed=1)
    blocks = sibling_blocks(split_only(model, 3, "random", seed=5).layers[0], 3)
    sizes = blocks.sum(axis=2)
    assert set(np.unique(sizes)) <= {10, 11}
    assert (sizes.sum(axis=1) == 32).all()


# --------------------------------------------------------------------------- clause / gram / 2:4


@pytest.mark.parametrize("alpha", [2, 4])
def test_clause_split_keeps_clauses_whole_and_balanced(alpha):
    """Every clause lies inside one child (before and after pruning) and each parent's
    clauses are spread over its children with counts differing by at most one."""
    model = make_mlp(32, 8, seed=2)
    groups = clauses(8)
    for pruned, new in (
        (False, split_only(model, alpha, "clause", seed=3, groups=groups)),
        (True, fpe_expand(model, alpha, strategy="clause", groups=groups, seed=3)),
    ):
        blocks = sibling_blocks(new.layers[0], alpha)  # (N, alpha, in)
        for p in range(8):
            per_child = np.zeros(alpha, dtype=int)
            for g in groups:
                holders = np.flatnonzero(blocks[p][:, g].any(axis=1))
                assert holders.size <= 1, f"clause {g} split across children of parent {p}"
                if holders.size:
                    per_child[holders[0]] += 1
            if not pruned:  # every clause placed whole; counts per child differ by <= 1
                assert (blocks[p].sum(axis=1) % 4 == 0).all()
                assert per_child.sum() == 8 and per_child.max() - per_child.min() <= 1


def test_clause_split_ungrouped_inputs_balance_fan_in():
    """Inputs in no group fill the smaller children first: 2 clauses of 4 + 8 free inputs,
    alpha 2 -> every child gets one clause and 4 free inputs (8 each)."""
    model = make_mlp(16, 5, seed=4)
    blocks = sibling_blocks(split_only(model, 2, "clause", seed=0, groups=clauses(2)).layers[0], 2)
    assert (blocks.sum(axis=2) == 8).all()


def test_two_four_pattern():
    """Each aligned run of 4 inputs gives exactly 2 to each child before pruning and at most 2
    after; the choice varies between runs (not a fixed pattern)."""
    model = make_mlp(32, 8, seed=5)
    pre = sibling_blocks(split_only(model, 2, "two_four", seed=7).layers[0], 2)
    runs = pre.reshape(8, 2, 8, 4).sum(axis=3)  # (parent, child, run)
    assert (runs == 2).all()
    patterns = {tuple(pre[p, 0, 4 * r : 4 * r + 4]) for p in range(8) for r in range(8)}
    assert len(patterns) > 1
    post = sibling_blocks(fpe_expand(model, 2, strategy="two_four", seed=7).layers[0], 2)
    assert (post.reshape(8, 2, 8, 4).sum(axis=3) <= 2).all()


def test_two_four_pattern_frequencies_chi_square():
    """The 2:4 choice is uniform over the 6 ways to pick 2 of 4. Pearson chi-square with 5 d.o.f.
    over 8*8*200 = 12800 runs: P(chi2_5 > 40) < 1e-7 for a correct implementation."""
    from scipy.stats import chi2

    counts: dict[tuple, int] = {}
    model = make_mlp(32, 8, seed=5)
    rng = np.random.default_rng(0)
    for _ in range(200):
        for p in range(8):
            m = partition_inputs(np.arange(32), 32, 2, "two_four", rng)
            for r in range(8):
                key = tuple(m[0, 4 * r : 4 * r + 4])
                counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6
    obs = np.array(list(counts.values()), dtype=float)
    exp = obs.sum() / 6
    stat = ((obs - exp) ** 2 / exp).sum()
    assert stat < 40 and chi2.sf(40, 5) < 1e-6
    del model


def test_random_split_membership_binomial():
    """Uniform random partition: each input lands in child 0 of a parent with probability 1/2.
    Over 4000 parents (32 inputs each), input 0 in child 0 ~ Binomial(4000, 1/2);
    |z| < 5.5 fails with probability < 4e-8 for a correct implementation (binomial z-test)."""
    rng = np.random.default_rng(123)
    hits = sum(partition_inputs(np.arange(32), 32, 2, "random", rng)[0, 0] for _ in range(4000))
    z = (hits - 2000) / math.sqrt(4000 * 0.25)
    assert abs(z) < 5.5


def test_gram_groups_recover_planted_blocks():
    """Columns of W built from 4 orthogonal codes (8 inputs each, small noise): the Gram
    clustering with the silhouette-chosen count recovers exactly the 4 blocks."""
    rng = np.random.default_rng(0)
    codes = np.eye(8)[:4] * 3.0  # (4 codes, 8 neurons)
    W = np.concatenate([np.repeat(codes[c][:, None], 8, axis=1) for c in range(4)], axis=1)
    W = W + 0.05 * rng.standard_normal(W.shape)  # (8 neurons, 32 inputs)
    groups = gram_groups(torch.tensor(W), alpha=2)
    assert [g.tolist() for g in groups] == [list(range(8 * c, 8 * c + 8)) for c in range(4)]
    # a fixed cluster count is honoured; clusters over the child fan-in (32/4 = 8) are cut
    assert len(gram_groups(torch.tensor(W), alpha=4, n_clusters=2)) == 4


def test_gram_split_on_clause_coded_layer_keeps_codes_whole():
    """A first layer whose columns are clause codes: the gram split never splits a clause."""
    rng = np.random.default_rng(1)
    model = make_mlp(32, 8, seed=6)
    with torch.no_grad():
        codes = rng.standard_normal((8, 8))
        W = np.repeat(codes, 4, axis=1) + 0.01 * rng.standard_normal((8, 32))
        model.layers[0].weight.copy_(torch.tensor(W, dtype=torch.float32))
    blocks = sibling_blocks(fpe_expand(model, 2, strategy="gram", seed=0).layers[0], 2)
    for p in range(8):
        for g in clauses(8):
            assert blocks[p][:, g].any(axis=1).sum() <= 1


# --------------------------------------------------------------------------- re-sparsification


def test_pruning_removes_the_smallest_magnitudes():
    """The pruned entries of the touched layers are the smallest-magnitude live weights of the
    unpruned split: max |pruned| <= min |kept|."""
    model = make_mlp(24, [6, 5], 2, seed=8)
    pre = split_only(model, 2, "random", seed=1)
    post = fpe_expand(model, 2, strategy="random", seed=1)
    pruned, kept = [], []
    for li in (0, 1):
        w_pre = pre.layers[li].masked_weight().abs()
        live_post = post.layers[li].mask
        pruned.append(w_pre[(w_pre != 0) & ~live_post])
        kept.append(w_pre[live_post])
        assert torch.equal(post.layers[li].masked_weight()[live_post], pre.layers[li].masked_weight()[live_post])
    pruned, kept = torch.cat(pruned), torch.cat(kept)
    assert pruned.numel() == count_nonzero(pre) - count_nonzero(model)
    assert pruned.max() <= kept.min()
    # layer 3 (not touched) is unchanged
    assert torch.equal(post.layers[2].weight, model.layers[2].weight)


def test_pruning_tie_break_by_position():
    """Equal magnitudes: the stable sort prunes the lowest layer, then the lowest row-major
    positions first."""
    model = make_mlp(8, 4, 1, seed=0)
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.fill_(0.5)
            layer.bias.fill_(0.1)
    before = count_nonzero(model)
    pre = split_only(model, 2, "random", seed=0)
    excess = count_nonzero(pre) - before  # 4 bias copies + 4 output copies = 8
    assert excess == 8
    post = copy.deepcopy(pre)
    prune_to(post, [0, 1], before)
    live = pre.layers[0].mask.reshape(-1).nonzero().reshape(-1)[:excess]
    lost = (pre.layers[0].mask & ~post.layers[0].mask).reshape(-1).nonzero().reshape(-1)
    assert torch.equal(lost, live)
    assert torch.equal(post.layers[1].mask, pre.layers[1].mask)


def test_layernorm_widened_children_copy_gain_and_bias():
    """layers='alternate' on a LayerNorm MLP: split layers' norms have alpha copies of each
    parent's gain and bias; unsplit layers' norms are unchanged; the head is never split."""
    model = make_mlp(12, [4, 3, 5, 2], 4, layernorm=True, seed=9)
    new = fpe_expand(model, 3, strategy="random", layers="alternate", seed=2)
    assert new.hidden == [12, 3, 15, 2] and new.out_features == 4
    for i, (old_n, new_n) in enumerate(zip(model.norms, new.norms)):
        factor = 3 if i in (0, 2) else 1
        assert torch.equal(new_n.weight, old_n.weight.repeat_interleave(factor))
        assert torch.equal(new_n.bias, old_n.bias.repeat_interleave(factor))
    assert count_nonzero(new) == count_nonzero(model)
    assert new.layers[-1].out_features == 4
    assert new(torch.randn(5, 12, generator=torch.Generator().manual_seed(332))).shape == (5, 4)


def test_first_only_on_deep_model():
    model = make_mlp(12, [4, 3, 5], 2, seed=10)
    new = fpe_expand(model, 2, layers="first")
    assert new.hidden == [8, 3, 5]
    assert count_nonzero(new) == count_nonzero(model)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("strategy", ["random", "clause", "gram", "two_four"])
def test_same_seed_same_masks(strategy):
    """Same seed -> identical model; another seed -> different masks (random strategies)."""
    model = make_mlp(32, 8, seed=11)
    kw = {"groups": clauses(8)} if strategy == "clause" else {}
    a = fpe_expand(model, 2, strategy=strategy, seed=4, **kw)
    b = fpe_expand(model, 2, strategy=strategy, seed=4, **kw)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    c = fpe_expand(model, 2, strategy=strategy, seed=5, **kw)
    # 8 parents' random partitions coincide with probability far below 1e-6
    assert not torch.equal(a.layers[0].mask, c.layers[0].mask)


def test_global_torch_rng_untouched():
    """fpe_expand draws only from its own seeded generator: torch's global RNG does not move."""
    model = make_mlp(16, [4, 4], 1, layernorm=True)
    state = torch.get_rng_state()
    fpe_expand(model, 2, layers="alternate", strategy="gram")
    assert torch.equal(state, torch.get_rng_state())


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"alpha": 1}, ValueError, "alpha must be an integer >= 2"),
        ({"alpha": 2.0}, TypeError, "alpha must be an int"),
        ({"alpha": True}, TypeError, "alpha must be an int"),
        ({"alpha": 33}, ValueError, "alpha must be <= the fan-in"),
        ({"strategy": "block"}, ValueError, "strategy must be one of"),
        ({"strategy": 3}, TypeError, "strategy must be a str"),
        ({"layers": "all"}, ValueError, "layers must be one of"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"strategy": "clause"}, ValueError, "groups must be given"),
        ({"strategy": "clause", "groups": [[0, 1], [1, 2]]}, ValueError, "disjoint"),
        ({"strategy": "clause", "groups": [[0, 40]]}, ValueError, r"input indices in \[0, 32\)"),
        ({"strategy": "clause", "groups": [[]]}, ValueError, "non-empty"),
        ({"strategy": "clause", "groups": [[0.5]]}, TypeError, "must contain ints"),
        ({"strategy": "clause", "groups": 3}, TypeError, "groups must be a sequence"),
        ({"strategy": "clause", "groups": [list(range(17))]}, ValueError, "more than a child's fan-in"),
        ({"strategy": "random", "groups": [[0]]}, ValueError, "groups is used only by strategy='clause'"),
        ({"strategy": "two_four", "alpha": 4}, ValueError, "alpha must be 2 for strategy='two_four'"),
        ({"strategy": "random", "n_clusters": 3}, ValueError, "n_clusters is used only"),
        ({"strategy": "gram", "n_clusters": 0}, ValueError, "n_clusters must be an integer >= 1"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    model = make_mlp(32, 8)
    kwargs = {"alpha": 2, **kwargs}
    alpha = kwargs.pop("alpha")
    with pytest.raises(exc, match=match):
        fpe_expand(model, alpha, **kwargs)


def test_bad_model_and_layer_shapes():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fpe_expand("mlp", 2)
    with pytest.raises(ValueError, match="pairs: found no"):  # any module: pairs detected or named
        fpe_expand(torch.nn.Linear(3, 3), 2)
    with pytest.raises(ValueError, match="multiple of 4"):
        fpe_expand(make_mlp(30, 8), 2, strategy="two_four")
    with pytest.raises(ValueError, match="multiple of 4"):  # hidden layer 3's input is 5 wide
        fpe_expand(make_mlp(32, [8, 5, 4]), 2, strategy="two_four", layers="alternate")
    with pytest.raises(ValueError, match="layer 1 only"):
        fpe_expand(make_mlp(32, [8, 5, 4]), 2, strategy="clause", groups=clauses(8), layers="alternate")
    with pytest.raises(ValueError, match="alpha must be <= the fan-in of hidden layer 3"):
        fpe_expand(make_mlp(32, [8, 2, 4]), 3, layers="alternate")


def test_budget_unreachable_on_tiny_layernorm_model():
    """4-1-1 with LayerNorm, alpha 3: the split adds 8 counted parameters (2 bias, 4 norm and 2
    output copies) but only 7 weights are prunable, so the count cannot be kept."""
    with pytest.raises(ValueError, match="cannot keep the non-zero count"):
        fpe_expand(make_mlp(4, 1, 1, layernorm=True), 3)


def test_silhouette_matches_sklearn():
    """Our O(n^2) silhouette equals sklearn's silhouette_score(metric='precomputed')."""
    from sklearn.metrics import silhouette_score

    from fpe_empirical.expand import silhouette

    rng = np.random.default_rng(0)
    for n, k in [(10, 3), (50, 7), (200, 40), (30, 29)]:
        X = rng.standard_normal((n, 4))
        D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
        lab = np.arange(n) % k  # every cluster non-empty, singletons included when k is large
        rng.shuffle(lab)
        assert silhouette(D, lab) == pytest.approx(silhouette_score(D, lab, metric="precomputed"), abs=1e-12)
