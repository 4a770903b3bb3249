"""DNFExperiment, the staged runner, save/load and the CLI (tiny epochs)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from fpe_empirical import run, run_many
from fpe_empirical.config import config_key
from fpe_empirical.dnf_experiment import (
    DNFExperiment,
    derive_seed,
    load_result,
    main,
    save_result,
    train_dnf,
    train_dnf_many,
)
from fpe_empirical.models import count_nonzero

TINY = dict(pretrain_epochs=2, split_epochs=2, n_samples=1000, batch_size=250)


def tiny(**kw):
    return DNFExperiment(**{**TINY, **kw})


def test_config_keys_pinned():
    """Stored results are named by these keys: a refactor must not change them silently.
    (code_version 3: keys hash only non-default fields, and the default n_samples moved from
    10,000 (version 1) to 20,000 (version 2) to 40,000, so older keys of DNFExperiment()
    named results on fewer samples. code_version 4: the wide trainer, float rounding of
    stored numbers changed.)"""
    assert DNFExperiment.code_version == 4
    assert config_key(DNFExperiment()) == "cd7bd700112ddb8d"
    assert config_key(DNFExperiment(seed=3)) == "c6d98a643cd881cd"
    assert config_key(DNFExperiment(n_samples=10_000)) == "2282dbf5e10c01ed"


def test_derive_seed_distinct_and_stable():
    seeds = {derive_seed(s, r) for s in range(5) for r in ("data", "init", "pretrain_order", "split", "finetune_order")}
    assert len(seeds) == 25
    assert derive_seed(0, "data") == derive_seed(0, "data")
    with pytest.raises(ValueError, match="role must be one of"):
        derive_seed(0, "nope")


def test_frame_columns_and_invariants():
    """One row per strategy; every strategy has the dense model's non-zero count; split
    models have alpha x neurons; all share the pre-trained model (paired design)."""
    cfg = tiny(strategies=("dense", "clause", "random", "gram", "two_four"))
    res = train_dnf(cfg)
    f = res.frame
    assert list(f.strategy) == list(cfg.strategies)
    for col in ("strategy", "seed", "train_accuracy", "test_accuracy", "nonzero", "neurons",
                "feature_capacity", "mean_cosine", "relative_improvement", "pretrain_test_accuracy"):
        assert col in f.columns
    dense_nnz = count_nonzero(res.pretrained)
    assert (f.nonzero == dense_nnz).all()
    assert f.set_index("strategy").neurons.to_dict() == {"dense": 8, "clause": 16, "random": 16, "gram": 16, "two_four": 16}
    assert f.pretrain_test_accuracy.nunique() == 1
    assert f.loc[f.strategy == "dense", "relative_improvement"].iloc[0] == 0.0
    assert ((f.test_accuracy >= 0) & (f.test_accuracy <= 1)).all()
    for s, m in res.models.items():
        assert count_nonzero(m) == dense_nnz, s


def test_same_seed_same_frame_and_batching_changes_nothing():
    """run twice -> bitwise identical; run_many over two configs == each run alone (the
    runner batches configs into one train_many call per phase)."""
    a, b = tiny(seed=0), tiny(seed=1, strategies=("random", "dense"))
    f1 = run(a)
    f2 = run(a)
    pd.testing.assert_frame_equal(f1, f2, check_exact=True)
    both = run_many([a, b])
    pd.testing.assert_frame_equal(both[0], f1, check_exact=True)
    pd.testing.assert_frame_equal(both[1], run(b), check_exact=True)


@pytest.mark.parametrize("backend", ["loop", "auto"])
def test_same_seed_bitwise_identical_models(backend):
    """Two runs of one config give bitwise-equal data, pre-trained and final models (every
    parameter, mask and parent_index), for the reference and the batched backend; another
    seed gives different weights."""
    cfg = tiny(strategies=("dense", "clause", "random"))
    r1, r2 = (train_dnf(cfg, backend=backend) for _ in range(2))
    assert torch.equal(r1.dataset.X, r2.dataset.X) and torch.equal(r1.dataset.y, r2.dataset.y)
    pairs = [(r1.pretrained, r2.pretrained)] + [(r1.models[s], r2.models[s]) for s in cfg.strategies]
    for m1, m2 in pairs:
        s1, s2 = m1.state_dict(), m2.state_dict()
        assert s1.keys() == s2.keys()
        for k in s1:
            assert torch.equal(s1[k], s2[k]), k
    pd.testing.assert_frame_equal(r1.frame, r2.frame, check_exact=True)
    other = train_dnf(tiny(seed=1, strategies=("dense",)), backend=backend)
    assert not torch.equal(other.pretrained.layers[0].weight, r1.pretrained.layers[0].weight)


def test_save_load_roundtrip(tmp_path):
    res = train_dnf(tiny())
    save_result(res, tmp_path / "r")
    back = load_result(tmp_path / "r")
    assert back.config == res.config
    X = res.dataset.X_test
    assert torch.equal(back.dataset.X, res.dataset.X)
    for s, m in res.models.items():
        torch.testing.assert_close(back.models[s](X), m(X), rtol=0, atol=0)
        assert torch.equal(back.models[s].layers[0].mask, m.layers[0].mask)
    pd.testing.assert_frame_equal(back.frame, res.frame, check_dtype=False)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"strategies": ("dense", "block")}, ValueError, "strategies must be drawn from"),
        ({"strategies": ()}, ValueError, "at least one"),
        ({"strategies": ("dense", "dense")}, ValueError, "must not repeat"),
        ({"strategies": "dense"}, TypeError, "strategies must be a tuple"),
        ({"alpha": 1}, ValueError, "alpha must be an integer >= 2"),
        ({"hidden": 0}, ValueError, "hidden must be an integer >= 1"),
        ({"lr": 0.0}, ValueError, "lr must be a finite float > 0"),
        ({"l1": -1.0}, ValueError, "l1 must be a finite float >= 0"),
        ({"n_samples": 1001}, ValueError, "n_samples must be even"),
        ({"alpha": 4, "strategies": ("two_four",)}, ValueError, "two_four"),
        ({"n_clauses": 1, "alpha": 3, "strategies": ("clause",)}, ValueError, "clause_size <= ceil"),
        ({"true_range": (1.0, 0.5)}, ValueError, "true_range must satisfy"),
        ({"test_fraction": 0.0}, ValueError, "test_fraction must be in"),
    ],
)
def test_config_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        tiny(**kwargs)


def test_config_is_frozen_and_lists_become_tuples():
    cfg = tiny(strategies=["dense", "random"], true_range=[0.9, 1.0])
    assert cfg.strategies == ("dense", "random") and cfg.true_range == (0.9, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3  # type: ignore[misc]


def test_cli_runs_resumes_and_rejects_bad_input(tmp_path, capsys):
    args = ["--seeds", "0", "--pretrain-epochs", "1", "--split-epochs", "1", "--n-samples", "400",
            "--backend", "loop", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "clause" in out and "random" in out and "dense" in out
    files = list(tmp_path.glob("*.json"))  # --out is a result store: one file per run
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    assert main(args) == 0  # resumed: read back, not retrained
    assert files[0].stat().st_mtime_ns == stamp
    capsys.readouterr()
    assert main(["--alpha", "1", "--pretrain-epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "alpha must be an integer >= 2" in err[0]


def test_backends_agree_on_accuracy():
    """The batched ensemble backend follows the reference trajectories (up to float
    reassociation): after a few epochs the accuracies agree to within 1%."""
    cfg = tiny(pretrain_epochs=3, split_epochs=3)
    loop = train_dnf_many([cfg], backend="loop")[0].frame
    res = train_dnf_many([cfg], backend="auto")[0]
    ens = res.frame
    np.testing.assert_allclose(loop.test_accuracy, ens.test_accuracy, atol=0.01)
    # the batched trainer keeps the masks too: masked weights exactly zero, budget exact
    budget = count_nonzero(res.pretrained)
    for s, m in res.models.items():
        assert count_nonzero(m) == budget, s
        for layer in m.layers:
            assert (layer.weight[~layer.mask] == 0).all(), s
