"""EmbeddingExperiment: config rules and keys, the staged runner, grids, CLI (tiny schedules)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from fpe_empirical import EmbeddingExperiment, run, run_many
from fpe_empirical import embedding_experiment as EX
from fpe_empirical.config import config_from_dict, config_key, config_to_dict
from fpe_empirical.embeddings import file_sha256, load_digits_data, save_embeddings
from fpe_empirical.models import count_nonzero

TINY = dict(pretrain_epochs=2, split_epochs=3, batch_size=250)


def tiny(**kw):
    return EmbeddingExperiment(**{**TINY, **kw})


def digits_file(tmp_path, name="d.npz", n_train=None):
    d = load_digits_data()
    k = n_train or d.n_train
    return save_embeddings(tmp_path / name, d.X_train[:k].numpy(), d.y_train[:k].numpy(), d.X_test.numpy(), d.y_test.numpy())


# --------------------------------------------------------------------------- config


def test_config_keys_pinned():
    """Stored results are named by these keys: a refactor must not change them silently."""
    assert config_key(EmbeddingExperiment()) == "b8e0d966dcaa9e20"
    assert config_key(EmbeddingExperiment(hidden=4, seed=3)) == "66c112711a688f6f"


def test_defaults_and_depth_rules():
    c = EmbeddingExperiment()
    assert (c.dataset, c.hidden, c.depth, c.alpha, c.strategies) == ("digits", 8, 1, 2, ("dense", "random", "gram"))
    assert c.use_layernorm is False and c.split_layer_scheme == "first"
    deep = EmbeddingExperiment(depth=EX.paper_depth(5))
    assert deep.depth == 4 and deep.use_layernorm is True and deep.split_layer_scheme == "alternate"
    assert EmbeddingExperiment(depth=4, layernorm=False, layers="first").split_layer_scheme == "first"
    assert [EX.paper_depth(n) for n in (5, 7, 9)] == [4, 6, 8]
    assert EmbeddingExperiment(strategies=["dense", "random"]).strategies == ("dense", "random")


@pytest.mark.parametrize(
    "kw, exc, match",
    [
        (dict(hidden=0), ValueError, "hidden must be an integer >= 1"),
        (dict(depth=1.0), TypeError, "depth must be an int"),
        (dict(alpha=1), ValueError, "alpha must be an integer >= 2"),
        (dict(strategies=("dense", "clause")), ValueError, "strategies must be drawn from"),
        (dict(strategies=()), ValueError, "at least one strategy"),
        (dict(strategies="dense"), TypeError, "strategies must be a tuple"),
        (dict(strategies=("dense", "dense")), ValueError, "must not repeat"),
        (dict(strategies=("two_four",), alpha=4), ValueError, "alpha must be 2 for strategy='two_four'"),
        (dict(strategies=("two_four",), depth=4, hidden=6), ValueError, "hidden layer 3 to be a multiple of 4"),
        (dict(lr=0.0), ValueError, "lr must be a finite float > 0"),
        (dict(rewire_fraction=1.5), ValueError, r"rewire_fraction must be a finite float >= 0 and <= 1.0"),
        (dict(layers="odd"), ValueError, "layers must be 'first', 'alternate' or None"),
        (dict(layernorm=1), TypeError, "layernorm must be a bool or None"),
        (dict(dataset="cifar.csv"), ValueError, "path ending in .npz or .safetensors"),
        (dict(dataset="missing.npz"), ValueError, "does not exist"),
        (dict(dataset=""), TypeError, "dataset must be 'digits' or a path string"),
        (dict(dataset_sha256="ab"), ValueError, "dataset_sha256 must be empty for dataset='digits'"),
    ],
)
def test_bad_configs(kw, exc, match):
    with pytest.raises(exc, match=match):
        EmbeddingExperiment(**kw)


def test_dataset_path_key_tracks_content(tmp_path):
    """A path config records the file's sha256: same content, same key; new content, new
    key; a stale digest is refused while the file exists and trusted when it does not."""
    p = digits_file(tmp_path)
    a = EmbeddingExperiment(dataset=str(p))
    assert a.dataset_sha256 == file_sha256(p)
    assert config_key(a) == config_key(EmbeddingExperiment(dataset=str(p)))
    stored = config_to_dict(a, only_changed=True)
    assert stored["dataset"] == str(p) and stored["dataset_sha256"] == a.dataset_sha256
    assert config_key(config_from_dict("embedding", stored)) == config_key(a)
    digits_file(tmp_path, n_train=1000)  # new content, same path
    b = EmbeddingExperiment(dataset=str(p))
    assert config_key(b) != config_key(a)
    with pytest.raises(ValueError, match="changed: its sha256 is"):
        config_from_dict("embedding", stored)
    p.unlink()
    assert config_key(config_from_dict("embedding", stored)) == config_key(a)  # e.g. reading results elsewhere
    with pytest.raises(ValueError, match="does not exist"):
        EX.load_dataset(config_from_dict("embedding", stored))


# --------------------------------------------------------------------------- runner


def test_frame_columns_and_invariants():
    """One row per strategy; every strategy has the pre-trained dense model's non-zero count
    right after the split and a budget equal to it; split models have alpha x neurons; all
    share the pre-trained model (paired design)."""
    cfg = tiny(hidden=4, strategies=("dense", "random", "gram", "two_four", "random+rewire", "gram+rewire"), rewire_every=2, rewire_fraction=0.2)
    res = EX.train_embedding(cfg)
    f = res.frame
    assert list(f.strategy) == list(cfg.strategies)
    for col in ("strategy", "seed", "train_accuracy", "test_accuracy", "nonzero", "neurons", "budget",
                "mean_cosine", "mean_abs_cosine", "feature_capacity", "relative_improvement",
                "pretrain_test_accuracy", "split_test_accuracy", "split_nonzero", "n_rewires", "config_key"):
        assert col in f.columns, col
    dense_nnz = count_nonzero(res.pretrained)
    assert (f.split_nonzero == dense_nnz).all()
    assert (f.budget == dense_nnz).all()
    assert (f.nonzero <= f.budget).all()
    assert f.set_index("strategy").neurons.to_dict() == {s: (4 if s == "dense" else 8) for s in cfg.strategies}
    assert f.pretrain_test_accuracy.nunique() == 1
    assert f.loc[f.strategy == "dense", "relative_improvement"].iloc[0] == 0.0
    steps = 3 * 6  # 3 epochs x ceil(1438 / 250) steps
    assert (f.loc[f.strategy.str.endswith("+rewire"), "n_rewires"] == len(range(2, int(0.75 * steps) + 1, 2))).all()
    assert (f.loc[~f.strategy.str.endswith("+rewire"), "n_rewires"] == 0).all()
    for layer in res.models["random+rewire"].layers:
        assert (layer.weight[~layer.mask] == 0).all()


def test_deep_alternating_run_keeps_budget():
    """A paper '5-layer' net (depth 4): LayerNorm, layers 1 and 3 split, exact count."""
    cfg = tiny(depth=4, hidden=4, strategies=("dense", "random", "gram", "two_four", "random+rewire"), rewire_every=3)
    res = EX.train_embedding(cfg)
    f = res.frame.set_index("strategy")
    assert res.pretrained.layernorm and res.pretrained.hidden == [4, 4, 4, 4]
    assert res.models["random"].hidden == [8, 4, 8, 4]
    assert (f.split_nonzero == count_nonzero(res.pretrained)).all()
    assert f.loc["random", "neurons"] == 24 and f.loc["dense", "neurons"] == 16


def test_same_seed_same_result_and_runner_dispatch():
    cfg = tiny(hidden=3, seed=5)
    a = run(cfg)
    b = run(cfg)
    pd.testing.assert_frame_equal(a, b)
    c = run(dataclasses.replace(cfg, seed=6))
    assert not np.array_equal(a.test_accuracy.to_numpy(), c.test_accuracy.to_numpy()) or not np.array_equal(
        a.mean_cosine.to_numpy(), c.mean_cosine.to_numpy()
    )


def test_train_many_called_once_per_phase(monkeypatch):
    """The runner hands every model of a phase to one train_many call (so the batched
    ensemble can stack them); rewiring models train separately."""
    from fpe_empirical.experiments import pipeline

    calls = []
    real = pipeline.train_many

    def spy(models, data, settings, seeds, **kw):
        calls.append(len(models))
        return real(models, data, settings, seeds, **kw)

    monkeypatch.setattr(pipeline, "train_many", spy)
    configs = [tiny(hidden=h, seed=s, strategies=("dense", "random", "random+rewire")) for h in (2, 3) for s in (0, 1)]
    frames = run_many(configs)
    assert calls == [4, 8]
    assert [f.config_key.iloc[0] for f in frames] == [config_key(c) for c in configs]


def test_rewire_with_zero_fraction_equals_one_shot():
    """Paired design: '+rewire' shares the split and the phase-2 data order with the one-shot
    split, so with rewire_fraction 0 it is the same model, bit for bit (reference loop)."""
    cfg = tiny(hidden=3, strategies=("random", "random+rewire", "gram", "gram+rewire"), rewire_fraction=0.0, rewire_every=1)
    res = EX.train_embedding(cfg, backend="loop")
    for base in ("random", "gram"):
        a, b = res.models[base], res.models[f"{base}+rewire"]
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb), ka


def test_embedding_file_dataset(tmp_path):
    p = digits_file(tmp_path, "emb.safetensors")
    f = run(tiny(dataset=str(p), hidden=2, strategies=("dense", "random")))
    assert list(f.dataset) == [str(p)] * 2
    assert (f.nonzero <= f.budget).all()


def test_loop_and_auto_backends_agree():
    """The registered runner trains with backend='auto' (batched ensemble); it matches the
    reference loop up to float reassociation."""
    cfg = tiny(hidden=3, strategies=("dense", "random"))
    a = EX.train_embedding(cfg, backend="loop").frame
    b = EX.train_embedding(cfg, backend="auto").frame
    np.testing.assert_allclose(a.final_loss, b.final_loss, rtol=1e-4)
    assert (a.nonzero == b.nonzero).all()


# --------------------------------------------------------------------------- grids


def test_grid_builders_and_registry():
    from fpe_empirical import embedding_grids as G
    from fpe_empirical.grids import get_grid

    for name in G.BUILDERS:
        for profile in G.PROFILES:
            configs = G.build_grid(name, "digits", profile)
            assert configs and all(isinstance(c, EmbeddingExperiment) for c in configs)
            assert len({config_key(c) for c in configs}) == len(configs)  # no duplicates
            assert get_grid(f"emb-{name.replace('_', '-')}-{profile}").build() == configs
    a3 = G.table_a3()
    assert sorted({c.depth for c in a3}) == [4, 6, 8] and sorted({c.hidden for c in a3}) == [4, 8, 12, 16]
    assert all(c.use_layernorm and c.split_layer_scheme == "alternate" for c in a3)
    b = G.fig6b()
    assert len({c.pretrain_epochs + c.split_epochs for c in b}) == 1 and len({c.pretrain_epochs for c in b}) == 3
    assert {c.alpha for c in G.fig6cd()} == {2, 4}
    assert all("two_four" in c.strategies for c in G.table_a5())
    with pytest.raises(ValueError, match="profile must be one of"):
        G.fig5("digits", "huge")
    with pytest.raises(ValueError, match="grid must be one of"):
        G.build_grid("fig9")


def test_grid_file_round_trip_through_sweep_loader(tmp_path):
    from fpe_empirical import embedding_grids as G
    from fpe_empirical.grids import grid_configs

    p = digits_file(tmp_path)
    assert G.main(["table_a5", "--dataset", str(p), "--profile", "paper", "--out", str(tmp_path / "g.json")]) == 0
    doc = json.loads((tmp_path / "g.json").read_text())
    assert doc["kind"] == "embedding" and all(c["dataset_sha256"] == file_sha256(p) for c in doc["configs"])
    loaded = grid_configs(str(tmp_path / "g.json"))
    assert [config_key(c) for c in loaded] == [config_key(c) for c in G.table_a5(str(p), "paper")]
    assert G.main(["fig5", "--dataset", "nope.npz", "--out", str(tmp_path / "x.json")]) == 2


def test_dense_match_table():
    """Interpolation in non-zeros between the dense widths bracketing the split accuracy."""
    from fpe_empirical.embedding_grids import dense_match_table

    rows = [
        {"strategy": "dense", "hidden": 2, "test_accuracy": 0.5, "nonzero": 100},
        {"strategy": "dense", "hidden": 3, "test_accuracy": 0.7, "nonzero": 150},
        {"strategy": "dense", "hidden": 4, "test_accuracy": 0.9, "nonzero": 200},
        {"strategy": "random", "hidden": 2, "test_accuracy": 0.6, "nonzero": 100},
        {"strategy": "random", "hidden": 4, "test_accuracy": 0.95, "nonzero": 200},
    ]
    t = dense_match_table(pd.DataFrame(rows)).set_index("hidden")
    assert t.loc[2, "dense_nonzero_needed"] == pytest.approx(125.0)
    assert t.loc[2, "param_ratio"] == pytest.approx(1.25)
    assert t.loc[2, "dense_hidden_needed"] == 3
    assert np.isnan(t.loc[4, "dense_nonzero_needed"])


# --------------------------------------------------------------------------- CLI


def test_cli(capsys, tmp_path):
    out = tmp_path / "rows.csv"
    code = EX.main(["--hidden", "2", "--seeds", "0", "--strategies", "dense", "random",
                    "--pretrain-epochs", "1", "--split-epochs", "2", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "test_mean" in text and "random" in text
    assert len(pd.read_csv(out)) == 2
    assert EX.main(["--hidden", "0"]) == 2
    assert "hidden must be an integer >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_random_split_beats_dense_on_digits_small_widths():
    """The paper's Section 3.3 claim, offline on digits at the default schedule (10 + 1000
    epochs), 5 seeds: random-split FPE has higher mean test accuracy than dense at hidden 2
    and 4. Measured with the CLI (all 4 widths x 5 strategies in one batch): hidden 2:
    dense 65.0% +- 2.7, random 81.9% +- 2.4; hidden 4: dense 89.4% +- 1.4, random
    92.0% +- 2.3 (mean +- sample std). An empirical regression check of a trained-model
    claim, not a distributional test. Single runs are not stable to float reassociation: the
    batched ensemble sums in an order that depends on which runs share a stack, and a hidden-2
    split model can lose a neuron or not (seed 0: random 77-82% alone or in the CLI batch,
    67% in this test's batch, below dense's 69%), so only the means are asserted."""
    configs = [EmbeddingExperiment(hidden=h, seed=s, strategies=("dense", "random")) for h in (2, 4) for s in range(5)]
    f = pd.concat(run_many(configs))
    means = f.groupby(["hidden", "strategy"]).test_accuracy.mean()
    for h in (2, 4):
        assert means[(h, "random")] > means[(h, "dense")]
