"""MaskedLinear / MLP / count_nonzero and the reference trainer: masks are structural."""

from __future__ import annotations

import copy

import pytest
import torch

from fpe_empirical.expand import fpe_expand
from fpe_empirical.models import MLP, MaskedLinear, apply_masks_, count_nonzero
from fpe_empirical.train import TrainSettings, train, train_many


def seeded_mlp(*args, seed=0, **kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP(*args, **kw)


def toy_data(n=256, d=12, seed=0, classes=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    if classes == 1:
        y = (X[:, 0] + X[:, 1] > 0).long()
    else:
        y = torch.randint(classes, (n,), generator=g)
    return X, y


def test_masked_weights_zero_in_forward_and_gradient():
    """Masked entries contribute nothing to the output and receive exactly zero gradient."""
    torch.manual_seed(0)
    layer = MaskedLinear(5, 3)
    mask = torch.rand(3, 5) < 0.5
    layer.set_mask(mask)
    with torch.no_grad():
        layer.weight.add_(~mask * 100.0)  # garbage under the mask must not leak
    x = torch.randn(7, 5)
    out = layer(x)
    torch.testing.assert_close(out, x @ (layer.weight * mask).T + layer.bias)
    out.sum().backward()
    assert (layer.weight.grad[~mask] == 0).all()


@pytest.mark.parametrize("layernorm", [False, True])
def test_masks_survive_many_adam_steps_with_weight_decay_and_l1(layernorm):
    """300 Adam steps with coupled L2 weight decay and L1 on a split model: every masked
    weight and every weight-shaped Adam moment stays exactly zero; the non-zero count never
    exceeds the budget."""
    # The budget is count_nonzero at split time, so a parameter that is exactly zero then and
    # trainable later (LayerNorm biases start at 0) would add to it: like a pre-trained
    # model, this one has non-zero norm biases when it is split.
    dense = seeded_mlp(12, [6, 4], 1, layernorm=layernorm)
    if layernorm:
        with torch.no_grad():
            for norm in dense.norms:
                norm.bias.fill_(0.1)
    model = fpe_expand(dense, 2, layers="alternate", seed=1)
    budget = count_nonzero(model)
    X, y = toy_data()
    opt, _ = train(model, X, y, TrainSettings(epochs=75, batch_size=64, lr=1e-2, weight_decay=1e-2, l1=1e-3), seed=0)
    for layer in model.layers:
        assert (layer.weight[~layer.mask] == 0).all()
        state = opt.state[layer.weight]
        assert (state["exp_avg"][~layer.mask] == 0).all()
        assert (state["exp_avg_sq"][~layer.mask] == 0).all()
    assert count_nonzero(model) <= budget


def test_apply_masks_zeroes_sgd_momentum():
    """300 SGD steps with momentum 0.9 and weight decay on a split model (apply_masks_ after
    each step, as the trainer does): masked weights and momentum buffers stay exactly zero."""
    torch.manual_seed(1)
    layer = MaskedLinear(4, 4)
    layer.set_mask(torch.eye(4, dtype=torch.bool))
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(5):
        opt.zero_grad()
        layer(torch.randn(3, 4)).pow(2).sum().backward()
        opt.step()
        apply_masks_(layer, opt)
    assert (layer.weight[~layer.mask] == 0).all()
    assert (opt.state[layer.weight]["momentum_buffer"][~layer.mask] == 0).all()
    model = fpe_expand(seeded_mlp(12, [6, 4], 1), 2, layers="alternate", seed=2)
    budget = count_nonzero(model)
    X, y = toy_data()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-2)
    for step in range(300):
        idx = torch.arange(step % 4 * 64, step % 4 * 64 + 64)
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(model(X[idx]).squeeze(-1), y[idx].float()).backward()
        opt.step()
        apply_masks_(model, opt)
    for layer in model.layers:
        assert (layer.weight[~layer.mask] == 0).all()
        assert (opt.state[layer.weight]["momentum_buffer"][~layer.mask] == 0).all()
    assert count_nonzero(model) <= budget


def test_count_nonzero_exact():
    """Hand count: 3x4 layer with 5 live weights + 3 biases, 1x3 head (3 + 1), LayerNorm(3)
    with one zeroed gain: 5 + 3 + 3 + 1 + (3 - 1) + 3 = 17."""
    model = seeded_mlp(4, 3, 1, layernorm=True)
    mask = torch.zeros(3, 4, dtype=torch.bool)
    mask[0, :3] = True
    mask[2, 1:3] = True
    model.layers[0].set_mask(mask)
    with torch.no_grad():
        model.norms[0].weight[1] = 0.0
        model.norms[0].bias.fill_(0.5)
    assert count_nonzero(model) == 17


def test_all_ones_mask_equals_dense_linear():
    """An unsplit MaskedLinear (all-ones mask) computes exactly what nn.Linear computes."""
    torch.manual_seed(2)
    layer = MaskedLinear(6, 4)
    lin = layer.to_linear()
    x = torch.randn(9, 6)
    torch.testing.assert_close(layer(x), lin(x), rtol=0, atol=0)


def test_state_dict_and_deepcopy_keep_masks_and_parents():
    model = fpe_expand(seeded_mlp(8, 4, 2), 2, seed=3)
    clone = copy.deepcopy(model)
    fresh = seeded_mlp(8, 8, 2, seed=9)
    fresh.load_state_dict(model.state_dict())
    for m in (clone, fresh):
        assert torch.equal(m.layers[0].mask, model.layers[0].mask)
        assert torch.equal(m.layers[0].parent_index, model.layers[0].parent_index)
        assert count_nonzero(m) == count_nonzero(model)


def test_train_same_seed_same_weights_and_train_many_matches_train():
    """The reference trainer is deterministic in its seed; train_many (loop backend) equals
    calling train one model at a time."""
    X, y = toy_data(classes=3)
    s = TrainSettings(epochs=3, batch_size=50, lr=1e-2, weight_decay=1e-4, l1=1e-4)
    a, b, c = (seeded_mlp(12, 5, 3, seed=4) for _ in range(3))
    train(a, X, y, s, seed=7)
    train(b, X, y, s, seed=7)
    train_many([c], [(X, y)], s, [7])
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q) and torch.equal(p, r)


def test_mlp_validation():
    with pytest.raises(TypeError, match=r"hidden\[0\] must be an int"):
        MLP(4, [2.5], 1)
    with pytest.raises(ValueError, match="hidden must name at least one"):
        MLP(4, [], 1)
    with pytest.raises(ValueError, match="mask must have the weight's shape"):
        MaskedLinear(3, 2).set_mask(torch.ones(3, 3, dtype=torch.bool))
