"""Sparse export of grouped FPE layers (issue 16): recognised from the stored partition, run as
dense blocks, equal to the masked model, saved and loaded like every sparse model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from budget import examples
from fpe_empirical import MLP, count_nonzero, fpe_expand, to_sparse
from fpe_empirical.sparse import SparseMLP
from fpe_empirical.sparse.grouped import ROWS_MAX_BATCH


def make(n_in, hidden, n_out, *, seed=0, layernorm=False):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = MLP(n_in, hidden, n_out, layernorm=layernorm)
        if layernorm:
            for norm in m.norms:
                norm.weight.data.uniform_(0.5, 1.5)
                norm.bias.data.uniform_(-0.5, 0.5)
    return m.eval()


@settings(max_examples=examples(0.4))
@given(n_in=st.integers(4, 40), hidden=st.lists(st.integers(2, 24), min_size=1, max_size=3),
       n_out=st.integers(1, 6), alpha=st.integers(2, 4), layernorm=st.booleans(),
       layers=st.sampled_from(["first", "alternate"]), data=st.data(), seed=st.integers(0, 1000))
def test_grouped_export_equals_the_masked_model(n_in, hidden, n_out, alpha, layernorm, layers, data, seed):
    model = make(n_in, hidden, n_out, seed=seed, layernorm=layernorm)
    g = data.draw(st.integers(1, hidden[0]))
    try:
        new = fpe_expand(model, alpha, seed=seed, layers=layers, n_partitions=g).eval()
    except ValueError:  # tiny layers: budget unreachable, or G > parents of a later split layer
        return
    sp = to_sparse(new)
    sp_torch = to_sparse(new, grouped_runtime="torch")
    split = [i for i, lay in enumerate(new.layers) if lay.partition is not None]
    assert [i for i, lay in enumerate(sp.layers) if lay.kind == "grouped"] == split
    assert sp.count_nonzero() == count_nonzero(new)
    for i in split:  # the stored blocks hold exactly the effective weight
        assert np.array_equal(sp.layers[i].dense_weight(), new.layers[i].masked_weight().detach().numpy())
    for batch in (1, 3, ROWS_MAX_BATCH + 5):
        x = torch.randn(batch, n_in, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            ref = new(x)
        np.testing.assert_allclose(sp(x).numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sp_torch(x).numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sp(x[0]).numpy(), ref[0].numpy(), rtol=1e-4, atol=1e-5)
    sp.threads = 2  # the work split over threads gives the same numbers
    np.testing.assert_allclose(sp(x).numpy(), ref.numpy(), rtol=1e-4, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    new = fpe_expand(make(48, [32, 16, 12], 5, layernorm=True), 4, seed=2, n_partitions=3,
                     layers="alternate").eval()
    sp = to_sparse(new)
    path = tmp_path / "g.safetensors"
    sp.save(path)
    back = SparseMLP.load(path)
    kinds = [lay.kind for lay in back.layers]
    assert kinds == [lay.kind for lay in sp.layers] and kinds[0] == kinds[2] == "grouped"
    x = torch.randn(33, 48)
    assert torch.equal(back(x), sp(x))
    assert back.nbytes == sp.nbytes and back.count_nonzero() == count_nonzero(new)
    with torch.no_grad():  # the torch module (dense weights from the blocks) agrees too
        np.testing.assert_allclose(back.to_torch("cpu")(x).numpy(), new(x).numpy(), rtol=1e-4, atol=1e-5)


def test_bad_grouped_runtime_is_refused():
    with pytest.raises(ValueError, match="grouped_runtime must be one of"):
        to_sparse(make(8, 4, 2), grouped_runtime="blas")


def test_damaged_grouped_file_is_refused(tmp_path):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    new = fpe_expand(make(16, 8, 3), 2, seed=0, n_partitions=2).eval()
    path = tmp_path / "g.safetensors"
    to_sparse(new).save(path)
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    rows = tensors["layers.0.rows"].copy()
    rows[0, 0] = rows[1, 0]  # an output row twice, another never
    tensors["layers.0.rows"] = rows
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(ValueError, match="every output row"):
        SparseMLP.load(bad)


def test_recognised_from_the_stored_partition_not_guessed():
    model = make(32, 16, 4)
    classic = fpe_expand(model, 4, seed=0).eval()
    assert to_sparse(classic).layers[0].kind != "grouped"
    one = fpe_expand(model, 4, seed=0, n_partitions=1).eval()
    assert to_sparse(one).layers[0].kind == "grouped"
    assert to_sparse(one, layout="ell").layers[0].kind == "ell"  # a forced layout wins
    blind = fpe_expand(model, 4, seed=0, n_partitions=1).eval()
    blind.layers[0].partition = None  # same structure, no record of it: not guessed
    assert to_sparse(blind).layers[0].kind != "grouped"
    # a weight outside the blocks (e.g. after rewiring): the partition no longer describes the
    # layer, so the export falls back to the general sparse form, still exact
    moved = fpe_expand(model, 4, seed=0, n_partitions=2).eval()
    lay = moved.layers[0]
    outside = (~lay.mask).nonzero()[0]
    with torch.no_grad():
        lay.mask[outside[0], outside[1]] = True
        lay.weight[outside[0], outside[1]] = 0.5
    sp = to_sparse(moved)
    assert sp.layers[0].kind != "grouped"
    x = torch.randn(20, 32)
    np.testing.assert_allclose(sp(x).numpy(), moved(x).detach().numpy(), rtol=1e-4, atol=1e-5)
