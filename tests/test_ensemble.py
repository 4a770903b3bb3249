"""The batched ensemble trainer equals single-model training, member by member, and keeps masks.

Equivalence is checked in float64, where the only difference between a stacked and a
single-model step is float reassociation (~1e-16 per step), so trajectories must agree to
tight tolerances after hundreds of steps; in float32 Adam amplifies rounding near L1's kink
at zero to steps of size ~lr, so there the losses are compared.
"""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples

from fpe_empirical.ensemble import (
    StackedMLP,
    _train_stack,
    ensemble_compatible,
    ensemble_groups,
    stack_shape,
    train_ensemble,
)
from fpe_empirical.models import MLP
from fpe_empirical.train import TrainSettings, train, train_many

TIGHT = 1e-9  # float64: max |difference| of any parameter or epoch loss after training


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # these tensors are tiny: a second intra-op thread only adds synchronisation, and on a
    # loaded 2-core machine 2-thread torch collapsed these tests from 7 s to 130 s
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(seed, in_features, hidden, out=1, *, layernorm=False, density=0.6, dtype=torch.float64):
    torch.manual_seed(seed)
    m = MLP(in_features, hidden, out, layernorm=layernorm).to(dtype)
    g = torch.Generator().manual_seed(seed + 1000)
    for layer in m.layers[:-1]:
        layer.set_mask(torch.rand(layer.weight.shape, generator=g) < density)
    return m


def _data(seed, n, in_features, out=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, in_features, generator=g, dtype=dtype)
    if out == 1:
        y = (X[:, : max(1, in_features // 3)].sum(1) > in_features / 6).long()
    else:
        y = (X[:, 0] * out).long().clamp(max=out - 1)
    return X, y


def _max_diff(a: MLP, b: MLP) -> float:
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def _check_equal_to_reference(models, data, settings_, seeds, tol=TIGHT):
    ref = [copy.deepcopy(m) for m in models]
    ref_hist = [train(m, X, y, s, seed=seed)[1] for m, (X, y), s, seed in zip(ref, data, settings_, seeds)]
    hist = train_ensemble(models, data, settings_, seeds)
    for i, (a, b, ha, hb) in enumerate(zip(ref, models, ref_hist, hist)):
        assert len(ha.epoch_loss) == len(hb.epoch_loss)
        assert max((abs(x - y) for x, y in zip(ha.epoch_loss, hb.epoch_loss)), default=0.0) < tol, i
        assert _max_diff(a, b) < tol, i
        for la, lb in zip(a.layers, b.layers):
            assert torch.equal(la.mask, lb.mask)
        assert not b.training


def test_heterogeneous_members_follow_their_own_trajectories():
    """Members of different input and hidden widths (zero-padded to their stack shapes;
    three share the padded stack shape 12-8-1), masks, datasets, seeds and L1 strengths:
    each equals ``train.train`` alone after 300 steps."""
    shapes = [(12, 4), (32, 8), (10, 7), (128, 8), (11, 5), (12, 4), (9, 8)]
    models = [_model(i, n, h) for i, (n, h) in enumerate(shapes)]
    data = [_data(100 + i, 240, n) for i, (n, _) in enumerate(shapes)]
    sets = [TrainSettings(epochs=60, batch_size=50, lr=3e-3, weight_decay=1e-3, l1=1e-3 * (i % 3)) for i in range(7)]
    assert sorted(map(sorted, ensemble_groups(models, data, sets))) == [[0, 5], [1], [2, 4, 6], [3]]
    _check_equal_to_reference(models, data, sets, seeds=[7, 7, 1, 2, 3, 4, 5])


@pytest.mark.parametrize("layernorm", [True, False])
def test_deep_multiclass_members(layernorm):
    """Deep MLPs, with LayerNorm (normalised over each member's real units only; autograd
    path) or without (hand-written gradients), softmax cross-entropy, padded widths."""
    shapes = [(10, [6, 6, 6]), (16, [8, 4, 8]), (10, [3, 9, 5]), (16, [8, 8, 8])]
    models = [_model(i, n, h, out=5, layernorm=layernorm) for i, (n, h) in enumerate(shapes)]
    data = [_data(200 + i, 150, n, out=5) for i, (n, _) in enumerate(shapes)]
    sets = [TrainSettings(epochs=25, batch_size=40, lr=5e-3, weight_decay=1e-4, l1=1e-4)] * 4
    _check_equal_to_reference(models, data, sets, seeds=[0, 1, 2, 3])


@settings(max_examples=examples(0.4))
@given(
    st.lists(
        st.tuples(
            st.integers(2, 24),  # in_features
            st.lists(st.integers(1, 10), min_size=1, max_size=3),  # hidden widths
            st.floats(0.1, 1.0),  # mask density
            st.sampled_from([0.0, 1e-3]),  # l1
        ),
        min_size=1,
        max_size=5,
    ),
    st.integers(0, 2**16),
    st.booleans(),
)
def test_any_stack_equals_single_training(members, seed, layernorm):
    """For random member shapes, depths, densities and L1, the stacked trainer reproduces
    each member's single-model training (few steps, float64, tight tolerance)."""
    depth = len(members[0][1])
    models, data, sets = [], [], []
    for i, (n, hidden, density, l1) in enumerate(members):
        hidden = (hidden * depth)[:depth]  # one depth per stack class is enough here
        models.append(_model(seed + i, n, hidden, layernorm=layernorm, density=density))
        data.append(_data(seed + 50 + i, 37, n))
        sets.append(TrainSettings(epochs=3, batch_size=10, lr=1e-2, weight_decay=1e-3, l1=l1))
    _check_equal_to_reference(models, data, sets, seeds=[seed + i for i in range(len(models))])


def test_float32_dnf_sized_members_track_reference():
    """float32, DNF-sized (32 -> 8 and a 50% masked 32 -> 16), 200 steps: epoch losses agree
    to 1e-4 and every member's masked weights are exactly zero."""
    models = [_model(i, 32, 8 * (1 + i % 2), density=1.0 if i % 2 == 0 else 0.5, dtype=torch.float32) for i in range(4)]
    X, y = _data(5, 1000, 32, dtype=torch.float32)
    s = TrainSettings(epochs=100, batch_size=500, lr=1e-3, weight_decay=1e-4, l1=1e-4)
    ref = [copy.deepcopy(m) for m in models]
    ref_hist = [train(m, X, y, s, seed=i)[1] for i, m in enumerate(ref)]
    hist = train_ensemble(models, [(X, y)] * 4, s, list(range(4)))
    for a, b, ha, hb in zip(ref, models, ref_hist, hist):
        assert max(abs(p - q) for p, q in zip(ha.epoch_loss, hb.epoch_loss)) < 1e-4
        assert ha.epoch_loss[-1] < ha.epoch_loss[0]
        for layer in b.layers:
            assert torch.all(layer.weight[~layer.mask] == 0)


@pytest.mark.parametrize("layernorm", [False, True])
def test_masks_and_adam_moments_stay_exactly_zero_for_every_member(layernorm, monkeypatch):
    """After many steps with weight decay and L1, every masked weight and both Adam moments
    at masked (and padded) positions are exactly zero, in the stack and after write-back,
    by the invariant alone: ``apply_masks_`` is disabled during training (the stack relies
    on masked gradients keeping masked entries at zero instead of re-masking every step)."""
    models = [_model(i, 9 + i % 4, [5 + i % 4, 4], density=0.3 + 0.1 * i, layernorm=layernorm) for i in range(5)]
    data = [_data(i, 64, 9 + i % 4) for i in range(5)]  # stack shape 12-8-4-1
    s = TrainSettings(epochs=40, batch_size=16, lr=1e-2, weight_decay=1e-2, l1=1e-2)
    monkeypatch.setattr(StackedMLP, "apply_masks_", lambda self, opt=None: None)
    _, net, opt = _train_stack(models, data, [s] * 5, list(range(5)), progress=False)
    monkeypatch.undo()
    state = opt.state[net.flat]
    assert [layer.mask is not None for layer in net.layers] == [True, True, False]  # head: 4 -> 1, dense
    for k, layer in enumerate(net.layers[:2]):
        off = layer.mask == 0
        assert torch.all(layer.weight[off] == 0), k
        avg, avg_sq = net.view(state["exp_avg"], "weight", k), net.view(state["exp_avg_sq"], "weight", k)
        assert torch.all(avg[off] == 0) and torch.all(avg_sq[off] == 0), k
        assert torch.count_nonzero(avg_sq[~off]) > 0  # the real entries did train
    for m in models:
        for layer in m.layers:
            assert torch.all(layer.weight[~layer.mask] == 0)
            assert torch.count_nonzero(layer.weight[layer.mask]) > 0


def test_stack_round_trip_and_padding_is_inert():
    models = [_model(0, 6, [4, 3], layernorm=True), _model(1, 7, [2, 4], layernorm=True)]
    net = StackedMLP(models)  # both pad to the stack shape 8-4-4-1
    assert [tuple(layer.weight.shape) for layer in net.layers] == [(2, 4, 8), (2, 4, 4), (2, 1, 4)]
    x = torch.rand(2, 7, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(177))
    x[0, :, 6:] = 0  # member 0 has 6 inputs
    x[1, :, 7:] = 0
    out = net.forward(x)
    for i, m in enumerate(models):
        assert torch.allclose(out[i], m(x[i, :, : m.in_features]), atol=1e-12)
    copies = [copy.deepcopy(m) for m in models]
    net.write_back(copies)
    for a, b in zip(models, copies):
        assert _max_diff(a, b) == 0


def test_groups_split_incompatible_members_and_balance_stack_sizes():
    a = [_model(i, 8, 4) for i in range(5)]
    data = [_data(0, 40, 8)] * 5
    s = TrainSettings(epochs=1, batch_size=8)
    for cap in (1, 2, 4, 5):
        groups = ensemble_groups(a, data, [s] * 5, max_members=cap)
        assert sorted(i for g in groups for i in g) == list(range(5))
        assert len(groups) == -(-5 // cap) and all(len(g) <= cap for g in groups)
    # stack shape: input to a multiple of 4, hidden to a power of two up to 64, then to x32
    ladder = [(w, stack_shape(_model(0, 6, w))[1]) for w in (1, 3, 5, 12, 16, 17, 24, 33, 64, 65, 100, 128)]
    assert ladder == [(1, 4), (3, 4), (5, 8), (12, 16), (16, 16), (17, 32), (24, 32), (33, 64), (64, 64),
                      (65, 96), (100, 128), (128, 128)]
    # members share a stack iff their stack shapes agree
    wide = [_model(0, 512, 4), _model(1, 512, 5), _model(2, 512, 256), _model(3, 512, 253), _model(4, 511, 8)]
    assert [stack_shape(m) for m in wide] == [(512, 4, 1), (512, 8, 1), (512, 256, 1), (512, 256, 1), (512, 8, 1)]
    wdata = [_data(0, 1000, m.in_features) for m in wide]
    groups = ensemble_groups(wide, wdata, [s] * 5)
    assert sorted(map(sorted, groups)) == [[0], [1, 4], [2, 3]]
    # stacks stay under STACK_CACHE_BYTES of activations per step: 10 float32 128-32-1
    # members at batch 500 (padded 512) need 512 * 161 * 4 B each, so 9 fit: 2 stacks of 5
    big = [_model(i, 128, 32, dtype=torch.float32) for i in range(10)]
    bdata = [_data(0, 1000, 128, dtype=torch.float32)] * 10
    assert [len(g) for g in ensemble_groups(big, bdata, [s.replace(batch_size=500)] * 10)] == [5, 5]
    with pytest.raises(ValueError, match="stack shape"):
        StackedMLP([wide[0], wide[1]])
    other = [s, s.replace(lr=2e-3), s, s.replace(l1=1e-3), s]
    assert sorted(map(sorted, ensemble_groups(a, data, other))) == [[0, 2, 3, 4], [1]]
    sizes = [_data(0, 40, 8), _data(0, 41, 8)] + data[2:]
    assert len(ensemble_groups(a, sizes, [s] * 5)) == 2
    with pytest.raises(ValueError, match="max_members"):
        ensemble_groups(a, data, [s] * 5, max_members=0)


class _Custom(MLP):
    def forward(self, x):  # not stackable: a different forward
        return super().forward(x) * 2


def test_train_many_backends_agree_and_dispatch():
    models = [_model(i, 10, 4) for i in range(3)]
    custom = _Custom(10, 4, 1).double()
    models.append(custom)
    data = [_data(i, 60, 10) for i in range(4)]
    s = TrainSettings(epochs=5, batch_size=16, lr=1e-2, l1=1e-3)
    loop = [copy.deepcopy(m) for m in models]
    h_loop = train_many(loop, data, s, [0, 1, 2, 3], backend="loop")
    auto = [copy.deepcopy(m) for m in models]
    h_auto = train_many(auto, data, s, [0, 1, 2, 3], backend="auto")
    for a, b, ha, hb in zip(loop, auto, h_loop, h_auto):
        assert _max_diff(a, b) < TIGHT
        assert max(abs(x - y) for x, y in zip(ha.epoch_loss, hb.epoch_loss)) < TIGHT
    assert ensemble_compatible(custom) is not None
    with pytest.raises(ValueError, match="cannot be trained in an ensemble"):
        train_many(models, data, s, [0, 1, 2, 3], backend="ensemble")
    with pytest.raises(ValueError, match="backend"):
        train_many(models, data, s, [0, 1, 2, 3], backend="gpu")


def test_zero_epochs_and_bad_input():
    m = _model(0, 5, 3)
    before = copy.deepcopy(m)
    X, y = _data(0, 20, 5)
    (h,) = train_ensemble([m], [(X, y)], TrainSettings(epochs=0), [0])
    assert h.epoch_loss == [] and _max_diff(m, before) == 0
    with pytest.raises(ValueError, match="equal lengths"):
        train_ensemble([m], [(X, y)], TrainSettings(epochs=1), [0, 1])
    with pytest.raises(ValueError, match="X must have shape"):
        train_ensemble([m], [(X[:, :4], y)], TrainSettings(epochs=1), [0])
    with pytest.raises(ValueError, match="y must have shape"):
        train_ensemble([m], [(X, y[:3])], TrainSettings(epochs=1), [0])
    with pytest.raises(ValueError, match="dtype"):
        train_ensemble([m], [(X.float(), y)], TrainSettings(epochs=1), [0])
    with pytest.raises(ValueError, match="at least one"):
        StackedMLP([])


# ------------------------------------------------------------ batch-composition invariance


def _params(model: MLP) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _split_like(seed, n, hidden, out, *, layernorm=False):
    """float32 member with a random 50% mask on every hidden layer (a split-like pattern)."""
    return _model(seed, n, hidden, out, layernorm=layernorm, density=0.5, dtype=torch.float32)


@pytest.mark.parametrize(
    "out, hidden, layernorm",
    [(1, [6], False), (10, [3], False), (10, [6, 5], True), (1, [7, 7], False)],
)
def test_member_result_is_bit_identical_in_any_stack(out, hidden, layernorm):
    """Regression test of the batch-composition bug (a run's result depended on which runs
    shared its stack: 77-82% alone vs 67% in a 20-run batch). One float32 member trained
    alone, beside one stack-mate, last of 21, in the middle of a mixed call (mates of its
    stack shape padded differently, mates of other shapes, a mate sharing its data) and
    with 2 torch threads: every parameter and every epoch loss is bit-identical. The data
    size (300, batch 128) leaves a partial last batch of 44, which is padded."""
    n_in = 30
    target = _split_like(0, n_in, hidden, out, layernorm=layernorm)
    tdata = _data(1, 300, n_in, out, dtype=torch.float32)
    s = TrainSettings(epochs=3, batch_size=128, lr=1e-2, weight_decay=1e-4, l1=1e-4)

    def train_in(mates, pos, threads=1):
        models = [m for m, _ in mates]
        data = [d for _, d in mates]
        model = copy.deepcopy(target)
        models.insert(pos, model)
        data.insert(pos, tdata)
        seeds = list(range(100, 100 + len(models)))
        seeds[pos] = 5
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            hist = train_ensemble(models, data, s, seeds)
        finally:
            torch.set_num_threads(before)
        return _params(model), hist[pos].epoch_loss

    def mate(i, n, h):
        return _split_like(i, n, h, out, layernorm=layernorm), _data(10 + i, 300, n, out, dtype=torch.float32)

    depth = len(hidden)
    same_shape = [mate(i, n_in + i % 3, [w - i % 2 for w in hidden]) for i in range(1, 21)]  # pads differently
    mixed = [mate(1, n_in, [2 * w for w in hidden]), same_shape[0], mate(2, 64, [4] * depth), same_shape[1],
             (same_shape[2][0], tdata), mate(3, n_in, [12] * depth)]
    ref_params, ref_loss = train_in([], 0)
    for mates, pos, threads in ((same_shape[:1], 1, 1), (same_shape, 20, 1), (mixed, 3, 1), (same_shape[:5], 2, 2), ([], 0, 2)):
        params, loss = train_in(mates, pos, threads)
        assert loss == ref_loss, (len(mates), pos, threads)
        for a, b in zip(params, ref_params):
            assert torch.equal(a, b), (len(mates), pos, threads)
