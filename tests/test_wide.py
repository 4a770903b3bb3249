"""The wide trainer (``training.wide``): equal to the reference trainer up to float
reassociation, and bit-identical for a model whatever family, chunk, thread count or
worker count it is trained in."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from fpe_empirical.data.dnf import make_dnf_dataset
from fpe_empirical.experiments.dnf import DNFExperiment, run_dnf
from fpe_empirical.nn.expand import fpe_expand
from fpe_empirical.nn.models import MLP
from fpe_empirical.results.store import ResultStore
from fpe_empirical.sweeps.chunks import plan_chunks
from fpe_empirical.sweeps.sweep import run_sweep
from fpe_empirical.training.backends import train_many
from fpe_empirical.training.settings import TrainSettings
from fpe_empirical.training.trainer import train
from fpe_empirical.training.wide import train_wide, wide_compatible

SETTINGS = TrainSettings(epochs=4, batch_size=256, lr=3e-3, weight_decay=1e-4, l1=1e-4)


def _data(n_clauses=5, n_samples=1500, seed=1):
    ds = make_dnf_dataset(n_clauses=n_clauses, clause_size=4, n_samples=n_samples, seed=seed)
    return ds.X_train, ds.y_train


def _models(n_in, seed=0):
    torch.manual_seed(seed)
    base = [MLP(n_in, h, 1) for h in (3, 4, 9)]
    return base + [fpe_expand(base[1], 2, strategy="random", seed=5), fpe_expand(base[2], 3, strategy="random", seed=6)]


def _same(a: MLP, b: MLP) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_wide_equals_reference_up_to_rounding():
    """Every model of a mixed family (widths 3-18, split models with masks, a partial last
    batch: 1200 rows in batches of 256) ends within 1e-4 of ``train`` (float32
    reassociation over 20 steps), with the same epoch losses to 1e-5."""
    X, y = _data()
    models = _models(X.shape[1])
    ref = [copy.deepcopy(m) for m in models]
    wide = [copy.deepcopy(m) for m in models]
    h_ref = [train(m, X, y, SETTINGS, seed=7)[1] for m in ref]
    h_wide = train_wide(wide, [(X, y)] * len(wide), [SETTINGS] * len(wide), [7] * len(wide))
    for a, b, ha, hb in zip(ref, wide, h_ref, h_wide):
        for p, q in zip(a.state_dict().values(), b.state_dict().values()):
            assert torch.allclose(p.float(), q.float(), atol=1e-4, rtol=0)
        assert np.allclose(ha.epoch_loss, hb.epoch_loss, atol=1e-5, rtol=0)
        # masked weights stay exactly zero
        assert torch.equal(b.layers[0].weight * ~b.layers[0].mask, torch.zeros_like(b.layers[0].weight))


def test_wide_bit_identical_whatever_the_family():
    """A model trained alone, in a family of 5, in another order, beside other data sets
    and seeds (several families on 2 threads): the same bits."""
    X, y = _data()
    X2, y2 = _data(n_clauses=5, seed=2)
    models = _models(X.shape[1])
    alone = [copy.deepcopy(m) for m in models]
    for m in alone:
        train_wide([m], [(X, y)], [SETTINGS], [7])
    family = [copy.deepcopy(m) for m in models]
    train_wide(family, [(X, y)] * 5, [SETTINGS] * 5, [7] * 5)
    rev = [copy.deepcopy(m) for m in models[::-1]]
    others = [copy.deepcopy(m) for m in _models(X.shape[1], seed=3)]
    mixed = rev + others
    data = [(X, y)] * 5 + [(X2, y2)] * 5
    torch.set_num_threads(2)
    train_wide(mixed, data, [SETTINGS] * 10, [7] * 5 + [8] * 5)
    for a, b, c in zip(alone, family, rev[::-1]):
        assert _same(a, b) and _same(a, c)


def test_wide_backend_and_incompatible_models():
    """``train_many(backend="wide")`` trains a two-hidden-layer model by the stacked
    trainer beside the wide family; ``train_wide`` refuses it with a ValueError."""
    X, y = _data()
    deep = MLP(X.shape[1], [4, 4], 1)
    assert wide_compatible(deep) is not None and wide_compatible(MLP(3, 2, 1)) is None
    with pytest.raises(ValueError, match="models\\[0\\] cannot be trained by the wide trainer"):
        train_wide([deep], [(X, y)], [SETTINGS], [1])
    models = [deep, MLP(X.shape[1], 4, 1)]
    hist = train_many(models, [(X, y)] * 2, SETTINGS, [1, 1], backend="wide")
    assert len(hist) == 2 and all(len(h.epoch_loss) == SETTINGS.epochs for h in hist)


def _grid():
    tiny = dict(pretrain_epochs=3, split_epochs=3, n_samples=600, batch_size=100)
    return [DNFExperiment(n_clauses=c, hidden=h, seed=s, **tiny) for c in (3, 6) for h in (4, 8) for s in (0, 1)]


def test_plan_chunks_keeps_families_whole():
    """A DNF family (same data and seed, all widths) is never spread over chunks it could
    share; most expensive chunk first."""
    grid = _grid()
    for size in (1, 2, 3, 5, 8):
        chunks = plan_chunks(grid, size)
        assert sum(len(c) for c in chunks) == len(grid)
        for chunk in chunks:
            assert len(chunk) <= size
        owner = {}
        for i, chunk in enumerate(chunks):
            for c in chunk:
                owner.setdefault(c.family(), set()).add(i)
        if size >= 2:  # families have 2 members here
            assert all(len(v) == 1 for v in owner.values())


def _metrics(store: ResultStore, configs) -> dict:
    return {c.seed * 100 + c.n_clauses * 10 + c.hidden: store.get(c).frame.drop(columns=["config_key"]).to_dict("list")
            for c in configs}


def test_same_numbers_any_chunking_and_threads(tmp_path):
    """The sweep's stored numbers are the same for chunk sizes 1, 3 and 8 and 1 or 2
    threads, and equal to each config run alone."""
    grid = _grid()
    runs = []
    for size, threads in ((1, 1), (3, 2), (8, 2)):
        store = ResultStore(tmp_path / f"s{size}")
        report = run_sweep(grid, store, chunk_size=size, threads=threads, progress=False)
        assert report.ok and report.ran == len(grid)
        runs.append(_metrics(store, grid))
    assert runs[0] == runs[1] == runs[2]
    alone = run_dnf([grid[3]])[0].drop(columns=["config_key"]).to_dict("list")
    c = grid[3]
    assert alone == runs[0][c.seed * 100 + c.n_clauses * 10 + c.hidden]


@pytest.mark.slow
def test_same_numbers_on_two_dask_workers(tmp_path):
    """Two Dask worker processes store the numbers one in-process sweep stores."""
    pytest.importorskip("dask.distributed")
    grid = _grid()
    here, there = ResultStore(tmp_path / "here"), ResultStore(tmp_path / "there")
    assert run_sweep(grid, here, progress=False).ok
    assert run_sweep(grid, there, workers=2, progress=False).ok
    assert _metrics(here, grid) == _metrics(there, grid)


def test_family_keys_by_contents():
    """Equal contents (different tensor objects) share a family; other data of the same
    shape, another seed or other settings do not."""
    from fpe_empirical.training.wide import family_keys

    X, y = _data()
    X2, y2 = _data(seed=2)
    keys = family_keys([(X, y), (X.clone(), y.clone()), (X2, y2), (X, y), (X, y)],
                       [SETTINGS] * 4 + [SETTINGS.replace(lr=1e-2)], [7, 7, 7, 8, 7])
    assert keys[0] == keys[1]
    assert len({keys[0], keys[2], keys[3], keys[4]}) == 4
