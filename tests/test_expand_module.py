"""fpe_expand on any nn.Module: nn.Sequential stacks, BERT-style feed-forward blocks, named pairs."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from fpe_empirical.expand import fpe_expand
from fpe_empirical.models import MLP, MaskedLinear, count_nonzero
from fpe_empirical.nn.expand_module import expand_module, find_pairs


def seq(*dims, act=nn.ReLU, seed=0):
    """Linear/act stack ``dims[0] -> ... -> dims[-1]`` with a deterministic init."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mods = []
        for i in range(len(dims) - 1):
            mods.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                mods.append(act())
        return nn.Sequential(*mods)


def tiny_bert(seed=0, layers=2):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=layers, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=24)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transformers.BertModel(cfg).eval()


def assert_children_disjoint(parent_w: torch.Tensor, child: MaskedLinear, alpha: int):
    """Children p*alpha+a: pairwise disjoint masks inside the parent's support."""
    support = (parent_w != 0).cpu()
    mask = child.mask.cpu()
    assert child.out_features == alpha * parent_w.shape[0]
    assert torch.equal(child.parent_index, torch.arange(parent_w.shape[0]).repeat_interleave(alpha))
    for p in range(parent_w.shape[0]):
        kids = mask[p * alpha:(p + 1) * alpha].int()
        assert int(kids.sum(0).max()) <= 1  # disjoint
        assert not bool((kids.sum(0).bool() & ~support[p]).any())  # inside the parent's support
    # the effective weights are the parent's on the child's part
    parent_rows = parent_w.repeat_interleave(alpha, dim=0)
    live = child.mask
    assert torch.equal(child.weight[live], parent_rows[live])


def test_sequential_detects_every_pair_and_keeps_the_count():
    model = seq(12, 8, 6, 3, act=nn.GELU)
    assert find_pairs(model) == [("0", "2"), ("2", "4")]
    before = copy.deepcopy(model.state_dict())
    new = fpe_expand(model, 2, seed=3)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # input untouched
    assert count_nonzero(new) == count_nonzero(model)
    assert [type(m) for m in new] == [MaskedLinear, nn.GELU, MaskedLinear, nn.GELU, MaskedLinear]
    assert (new[0].out_features, new[2].in_features, new[2].out_features, new[4].in_features) == (16, 16, 12, 12)
    assert_children_disjoint(model[0].weight.detach(), new[0], 2)
    # layer 2 was widened (a column copy per child of layer 0), then split
    widened = (model[2].weight.detach().repeat_interleave(2, dim=1))
    for p in range(6):
        kids = new[2].mask[2 * p:2 * p + 2].int()
        assert int(kids.sum(0).max()) <= 1
    assert torch.equal(new[2].weight[new[2].mask], widened.repeat_interleave(2, dim=0)[new[2].mask])
    assert new(torch.randn(5, 12)).shape == (5, 3)
    keys = new.state_dict().keys()
    assert {"0.mask", "2.mask", "0.parent_index"} <= set(keys)


def test_same_seed_same_module_other_seed_differs():
    model = seq(20, 10, 4)
    a, b, c = (fpe_expand(model, 2, seed=s) for s in (1, 1, 2))
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not torch.equal(a[0].mask, c[0].mask)


@pytest.mark.parametrize("alpha", [2, 3, 4])
def test_budget_exact_for_alpha(alpha):
    model = seq(16, 12, 5, act=nn.Tanh, seed=alpha)
    new = fpe_expand(model, alpha, seed=0)
    assert count_nonzero(new) == count_nonzero(model)
    assert new[0].out_features == 12 * alpha
    # masks equal the supports of the effective weights: trainable entries == non-zeros
    for layer in (new[0], new[2]):
        assert torch.equal(layer.mask, layer.masked_weight() != 0)


@pytest.mark.parametrize("strategy", ["random", "gram", "two_four"])
def test_strategies_on_sequential(strategy):
    model = seq(16, 8, 3)
    new = fpe_expand(model, 2, strategy=strategy, seed=0)
    assert count_nonzero(new) == count_nonzero(model)
    assert_children_disjoint(model[0].weight.detach(), new[0], 2)
    if strategy == "two_four":  # before pruning each child holds 2 of every aligned 4: at most 2 after
        runs = new[0].mask.reshape(16, 4, 4).sum(-1)
        assert int(runs.max()) <= 2


def test_mlp_with_named_pairs_matches_the_mlp_path():
    """The generic path draws and prunes exactly as the MLP path on the same layers."""
    torch.manual_seed(0)
    mlp = MLP(20, 10, 3)
    for strategy in ("random", "gram"):
        ref = fpe_expand(mlp, 2, strategy=strategy, seed=5)
        gen = fpe_expand(mlp, 2, strategy=strategy, seed=5, pairs=[("layers.0", "layers.1")])
        assert ref.state_dict().keys() == gen.state_dict().keys()
        assert all(torch.equal(ref.state_dict()[k], gen.state_dict()[k]) for k in ref.state_dict())


def test_bert_feed_forward_blocks():
    bert = tiny_bert()
    pairs = find_pairs(bert)
    assert pairs == [(f"encoder.layer.{i}.intermediate.dense", f"encoder.layer.{i}.output.dense") for i in range(2)]
    new = fpe_expand(bert, 2, seed=0)
    assert count_nonzero(new) == count_nonzero(bert)
    for i in range(2):
        block = new.encoder.layer[i]
        assert isinstance(block.intermediate.dense, MaskedLinear) and block.intermediate.dense.out_features == 64
        assert isinstance(block.output.dense, MaskedLinear) and block.output.dense.in_features == 64
        assert_children_disjoint(bert.encoder.layer[i].intermediate.dense.weight.detach(),
                                 block.intermediate.dense, 2)
    # attention projections are untouched
    assert type(new.encoder.layer[0].attention.output.dense) is nn.Linear
    ids = torch.randint(0, 40, (3, 7))
    assert new(input_ids=ids).last_hidden_state.shape == (3, 7, 16)
    # masks survive state_dict: a second expansion (another seed) loads the first's state
    other = fpe_expand(bert, 2, seed=1)
    other.load_state_dict(new.state_dict())
    assert torch.equal(other.encoder.layer[1].intermediate.dense.mask, new.encoder.layer[1].intermediate.dense.mask)


def test_bert_last_block_only_keeps_the_others():
    bert = tiny_bert(layers=3)
    name = ("encoder.layer.2.intermediate.dense", "encoder.layer.2.output.dense")
    new = fpe_expand(bert, 2, pairs=[name], seed=0)
    assert count_nonzero(new) == count_nonzero(bert)
    assert type(new.encoder.layer[0].intermediate.dense) is nn.Linear
    assert new.encoder.layer[2].intermediate.dense.out_features == 64
    # the budget is restored within the expanded pair: the other blocks are bit-identical
    for k, v in bert.encoder.layer[0].state_dict().items():
        assert torch.equal(new.encoder.layer[0].state_dict()[k], v)


@pytest.mark.parametrize(("pairs", "match"), [
    ([("0", "9")], r"pair \('0', '9'\): no submodule named '9'"),
    ([("0", "1")], r"pair \('0', '1'\): '1' must be an nn.Linear"),
    ([("0", "4")], r"pair \('0', '4'\): shapes do not chain"),
    ([("2", "2")], r"in-layer and the out-layer must differ"),
    ([("0", "2"), ("0", "2")], r"'0' is the in-layer of more than one pair"),
    ([], r"at least one"),
    (["02"], r"\(in_name, out_name\) pairs"),
])
def test_bad_pairs_name_the_pair(pairs, match):
    with pytest.raises(ValueError, match=match):
        fpe_expand(seq(12, 8, 6, 3), 2, pairs=pairs)


def test_alpha_above_fan_in_names_the_pair():
    with pytest.raises(ValueError, match=r"alpha must be <= the fan-in of pair \('0', '2'\)"):
        fpe_expand(seq(3, 8, 2), 4)


def test_no_pair_found_and_other_refusals():
    with pytest.raises(ValueError, match="pairs: found no"):
        fpe_expand(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2)), 2)
    with pytest.raises(ValueError, match="pairs: found no"):
        fpe_expand(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)), 2)
    with pytest.raises(ValueError, match="layers applies to an fpe_empirical.MLP only"):
        fpe_expand(seq(8, 4, 2), 2, layers="alternate")
    with pytest.raises(ValueError, match="n_clusters is used only by strategy='gram'"):
        fpe_expand(seq(8, 4, 2), 2, n_clusters=2)
    with pytest.raises(ValueError, match="alpha must be 2 for strategy='two_four'"):
        fpe_expand(seq(8, 4, 2), 3, strategy="two_four")
    with pytest.raises(ValueError, match="multiple of 4"):
        fpe_expand(seq(6, 4, 2), 2, strategy="two_four")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        fpe_expand("net", 2)
    with pytest.raises(ValueError, match="layernorm=True"):
        fpe_expand(MLP(8, 4, 2, layernorm=True), 2, pairs=[("layers.0", "layers.1")])


def test_expand_module_accepts_masked_layers_and_dropout():
    """Already-masked layers are split on their effective weights; dropout is element-wise."""
    torch.manual_seed(1)
    model = nn.Sequential(MaskedLinear(10, 6), nn.ReLU(), nn.Dropout(0.1), MaskedLinear(6, 2))
    model[0].set_mask(torch.rand(6, 10) < 0.6)
    assert find_pairs(model) == [("0", "3")]
    new = expand_module(model, 3, seed=0)
    assert count_nonzero(new) == count_nonzero(model)
    assert_children_disjoint(model[0].masked_weight().detach(), new[0], 3)
    assert int(new[0].mask.sum()) <= int(model[0].mask.sum())  # a partition adds no weight
