"""The docstring corpus and its MiniLM embeddings: rules, determinism, resumable extraction.

A tiny fixture package stands in for the pinned packages and a randomly initialised tiny BERT
for all-MiniLM-L6-v2: nothing downloads."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
import torch

from fpe_empirical.data.docstrings import build_corpus, load_corpus, save_corpus, stratified_split
from fpe_empirical.data.embeddings import load_embeddings

from tiny_bert import WORDS, tiny_bert_dir

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def fixture_package(tmp_path_factory):
    """``fxdocs`` with modules ``alpha`` (40 documented functions), ``beta`` (35 documented
    methods of one class), ``gamma`` (5: too few), ``_private`` (ignored), one docstring shared
    by alpha and beta (dropped) and one too short."""
    root = tmp_path_factory.mktemp("pkg")
    pkg = root / "fxdocs"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("__version__ = '1.2.3'\n")
    rng = np.random.default_rng(0)

    def sentence(k):
        return " ".join(rng.choice(WORDS, 20)) + f" number {k}."

    alpha = [f"def f{k}():\n    '''{sentence(k)}'''\n" for k in range(40)]
    alpha.append("def shared():\n    '''the same text in two modules, long enough to be kept as a docstring here.'''\n")
    alpha.append("def short():\n    '''too short'''\n")
    (pkg / "alpha.py").write_text("\n".join(alpha))
    beta = ["class Thing:\n    '''" + sentence(99) + "'''\n"]
    beta += [f"    def m{k}(self):\n        '''{sentence(100 + k)}'''\n" for k in range(34)]
    beta.append("\ndef shared():\n    '''the same text in two modules, long enough to be kept as a docstring here.'''\n")
    (pkg / "beta.py").write_text("\n".join(beta))
    (pkg / "gamma.py").write_text("\n".join(f"def g{k}():\n    '''{sentence(200 + k)}'''\n" for k in range(5)))
    (pkg / "_private.py").write_text("\n".join(f"def p{k}():\n    '''{sentence(300 + k)}'''\n" for k in range(40)))
    sys.path.insert(0, str(root))
    yield "fxdocs"
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m == "fxdocs" or m.startswith("fxdocs.")]:
        del sys.modules[name]


def test_corpus_rules(fixture_package):
    c = build_corpus((fixture_package,), min_chars=40, min_per_class=30, max_per_class=None, seed=0)
    assert c.class_names == ["fxdocs.alpha", "fxdocs.beta"]
    counts = np.bincount(c.labels)
    assert counts.tolist() == [40, 35]  # shared and short texts dropped, gamma too small, _private unwalked
    assert not any("same text in two modules" in t for t in c.texts)
    assert c.versions == {"fxdocs": "1.2.3"}
    test = np.asarray(c.split) == "test"
    assert [int(test[np.asarray(c.labels) == k].sum()) for k in range(2)] == [8, 7]  # round(0.2 * n)
    again = build_corpus((fixture_package,), min_chars=40, min_per_class=30, max_per_class=None, seed=0)
    assert (again.texts, again.labels, again.split) == (c.texts, c.labels, c.split)
    other = build_corpus((fixture_package,), min_chars=40, min_per_class=30, max_per_class=None, seed=1)
    assert other.split != c.split and sorted(other.texts) == sorted(c.texts)


def test_corpus_cap_and_round_trip(fixture_package, tmp_path):
    c = build_corpus((fixture_package,), min_chars=40, min_per_class=30, max_per_class=30, seed=0)
    assert np.bincount(c.labels).tolist() == [30, 30]
    path = save_corpus(c, tmp_path / "corpus.json")
    back = load_corpus(path)
    assert (back.texts, back.labels, back.split, back.class_names) == (c.texts, c.labels, c.split, c.class_names)
    with pytest.raises(ValueError, match="min_per_class"):
        build_corpus((fixture_package,), min_per_class=1)
    with pytest.raises(ValueError, match="test_fraction"):
        build_corpus((fixture_package,), test_fraction=1.0)
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(ValueError, match="not a docstring corpus"):
        load_corpus(tmp_path / "bad.json")


def test_stratified_split_counts():
    labels = np.repeat(np.arange(3), [10, 31, 5])
    is_test = stratified_split(labels, 0.2, seed=4)
    assert [int(is_test[labels == k].sum()) for k in range(3)] == [2, 6, 1]
    assert np.array_equal(is_test, stratified_split(labels, 0.2, seed=4))


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert_dir(tmp_path_factory.mktemp("bert"))


def test_embeddings_mean_pooled_normalised(bert_dir):
    from fpe_empirical.data.minilm import embed_texts, load_minilm

    tok, net = load_minilm(bert_dir)
    texts = ["the array of data", "plot the figure axis and return the value", "tensor"]
    e = embed_texts(texts, tok, net, max_length=8, batch_size=2)
    assert e.shape == (3, 16) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    enc = tok(texts[1], truncation=True, max_length=8, return_tensors="pt")
    with torch.no_grad():
        h = net(**enc).last_hidden_state[0]
    ref = h.mean(0) / h.mean(0).norm()
    np.testing.assert_allclose(e[1], ref.numpy(), rtol=1e-4, atol=1e-5)


def test_extraction_resumes_and_writes_an_embedding_file(fixture_package, bert_dir, tmp_path):
    from fpe_empirical.data.minilm import extract_text_embeddings

    c = build_corpus((fixture_package,), min_chars=40, min_per_class=30, max_per_class=None, seed=0)
    out = tmp_path / "emb.safetensors"
    assert extract_text_embeddings(c, out, model_dir=bert_dir, max_length=16, chunk_size=20, max_chunks=2) is None
    assert sorted(p.name for p in (tmp_path / "emb.safetensors.cache").glob("chunk-*")) == ["chunk-000000.npy",
                                                                                          "chunk-000001.npy"]
    assert extract_text_embeddings(c, out, model_dir=bert_dir, max_length=16, chunk_size=20) == out
    data = load_embeddings(out)
    assert data.X_train.shape[0] + data.X_test.shape[0] == len(c.texts)
    assert data.n_classes == 2 and list(data.class_names) == c.class_names
    full = tmp_path / "full.safetensors"
    extract_text_embeddings(c, full, model_dir=bert_dir, max_length=16, chunk_size=1000)
    np.testing.assert_allclose(load_embeddings(full).X_train, data.X_train, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "emb.safetensors.cache").exists()
    # a cache made with other settings is refused
    extract_text_embeddings(c, tmp_path / "x.safetensors", model_dir=bert_dir, max_length=16, chunk_size=20,
                            max_chunks=1, keep_cache=True)
    with pytest.raises(ValueError, match="other settings"):
        extract_text_embeddings(c, tmp_path / "x.safetensors", model_dir=bert_dir, max_length=12, chunk_size=20)


def test_cli_missing_model_dir_exits_2(tmp_path, capsys):
    from fpe_empirical.data.minilm import main

    code = main(["--store", str(tmp_path), "--model-dir", str(tmp_path / "nope"), "--max-chunks", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (2,) and len(err) == 1 and "model_dir" in err[0]
