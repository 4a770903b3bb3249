"""MiniLM fine-tuning experiment on a tiny BERT and a tiny corpus: budget kept, resumable, summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpe_empirical.data.docstrings import Corpus, save_corpus
from fpe_empirical.data.minilm import data_dir

from tiny_bert import WORDS, tiny_bert_dir

pytest.importorskip("transformers")


def tiny_corpus() -> Corpus:
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for c in range(3):
        words = WORDS[c * 10:(c + 1) * 10]  # each class its own vocabulary: learnable
        for k in range(20):
            texts.append(" ".join(rng.choice(words, 8)) + f" {k}")
            labels.append(c)
    split = ["test" if k % 4 == 0 else "train" for k in range(len(texts))]
    return Corpus(texts, labels, ["a", "b", "c"], split, [f"x{k}" for k in range(len(texts))], {"fx": "0"})


def test_finetune_runs_keep_the_budget_and_resume(tmp_path):
    from fpe_empirical.experiments.text_finetune import FinetuneSettings, run_finetune, summarize, plot_finetune

    model = tiny_bert_dir(tmp_path / "bert", layers=3)
    store = tmp_path / "store"
    data_dir(store).mkdir(parents=True)
    save_corpus(tiny_corpus(), data_dir(store) / "corpus.json")
    settings = FinetuneSettings(seeds=(0, 1), max_length=8, batch_size=4, steps=3, n_eval=10)
    runs = run_finetune(store, settings, model_dir=model)
    assert sorted((r["variant"], r["seed"]) for r in runs) == sorted(
        (v, s) for v in ("dense", "fpe-all", "fpe-last2") for s in (0, 1))
    for r in runs:
        assert sum(r["nnz_blocks_expanded"]) == sum(r["nnz_blocks_before"])
        assert all(a <= b for a, b in zip(r["nnz_blocks_trained"], r["nnz_blocks_expanded"]))
        assert 0.0 <= r["accuracy"] <= 1.0 and r["n_eval"] == 10
    widths = {r["variant"]: r["intermediate_widths"] for r in runs}
    assert widths == {"dense": [32, 32, 32], "fpe-all": [64, 64, 64], "fpe-last2": [32, 64, 64]}
    dense0 = next(r for r in runs if r["variant"] == "dense" and r["seed"] == 0)
    assert dense0["nnz_blocks_trained"] == dense0["nnz_blocks_before"]
    # resumable: a second call trains nothing and returns the same records
    files = sorted((p.name, p.stat().st_mtime_ns) for p in (data_dir(store) / "finetune").rglob("*-seed*.json"))
    again = run_finetune(store, settings, model_dir=model)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (data_dir(store) / "finetune").rglob("*-seed*.json")) == files
    assert json.dumps(again, sort_keys=True) == json.dumps(runs, sort_keys=True)
    s = summarize(runs)
    assert set(s) == {"dense", "fpe-all", "fpe-last2"} and s["fpe-all"]["paired_seeds"] == 2
    assert s["dense"]["low"] <= s["dense"]["accuracy"] <= s["dense"]["high"]
    assert plot_finetune(s, tmp_path / "f.png").stat().st_size > 0


def test_settings_are_checked():
    from fpe_empirical.experiments.text_finetune import FinetuneSettings

    with pytest.raises(ValueError, match="variants must be drawn from"):
        FinetuneSettings(variants=("sparse",))
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        FinetuneSettings(steps=0)
    assert FinetuneSettings().tag() == FinetuneSettings(seeds=(0,)).tag() != FinetuneSettings(steps=7).tag()
