"""load_embeddings / save_embeddings validation and load_digits_data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fpe_empirical import EmbeddingData, load_digits_data, load_embeddings
from fpe_empirical.embeddings import file_sha256, save_embeddings


def arrays(n_train=12, n_test=5, dim=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "X_train": rng.normal(size=(n_train, dim)).astype(np.float32),
        "y_train": np.arange(n_train) % n_classes,
        "X_test": rng.normal(size=(n_test, dim)).astype(np.float32),
        "y_test": np.arange(n_test) % n_classes,
    }


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_round_trip(tmp_path, suffix):
    a = arrays()
    path = save_embeddings(tmp_path / f"e{suffix}", **a, class_names=["a", "b", "c"], meta={"model": "m"})
    d = load_embeddings(path)
    assert isinstance(d, EmbeddingData)
    assert d.X_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    np.testing.assert_array_equal(d.X_train.numpy(), a["X_train"])
    np.testing.assert_array_equal(d.y_test.numpy(), a["y_test"])
    assert (d.n_classes, d.n_features, d.n_train, d.n_test) == (3, 4, 12, 5)
    assert d.class_names == ("a", "b", "c")
    assert d.meta == {"model": "m"}
    assert d.name == f"e{suffix}"


def test_plain_npz_from_other_tools(tmp_path):
    """A bare np.savez with float64 X and int32/uint8 y loads (converted to float32/int64)."""
    a = arrays()
    a["X_train"] = a["X_train"].astype(np.float64)
    a["y_train"] = a["y_train"].astype(np.int32)
    a["y_test"] = a["y_test"].astype(np.uint8)
    np.savez(tmp_path / "plain.npz", **a)
    d = load_embeddings(tmp_path / "plain.npz")
    assert d.X_train.dtype == torch.float32 and d.y_test.dtype == torch.int64
    assert d.meta == {} and d.class_names is None


def test_plain_safetensors(tmp_path):
    from safetensors.numpy import save_file

    a = arrays()
    save_file({k: np.ascontiguousarray(v) for k, v in a.items()}, str(tmp_path / "p.safetensors"))
    assert load_embeddings(tmp_path / "p.safetensors").n_classes == 3


def _bad(tmp_path, **changes):
    a = arrays()
    a.update(changes)
    a = {k: v for k, v in a.items() if v is not None}
    np.savez(tmp_path / "bad.npz", **a)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize(
    "changes, match",
    [
        (dict(X_test=None), r"missing arrays \['X_test'\]"),
        (dict(X_train=np.zeros((12, 4, 1), np.float32)), "X_train must be 2-D"),
        (dict(X_train=np.zeros((12, 4), np.int64)), "X_train must be a floating-point array"),
        (dict(y_train=np.zeros((12, 1), np.int64)), "y_train must be 1-D"),
        (dict(y_train=np.zeros(12, np.float32)), "y_train must be an integer array"),
        (dict(y_test=np.zeros(5, bool)), "y_test must be an integer array"),
        (dict(y_train=np.zeros(11, np.int64)), "one label per row of X_train: 11 labels for 12 rows"),
        (dict(X_test=np.zeros((5, 3), np.float32)), "same feature dimension, got 4 and 3"),
        (dict(y_test=np.array([0, 1, 2, 3, -1])), r"labels must lie in 0..n_classes-1"),
        (dict(y_train=(np.arange(12) % 3) + 1), r"every class 0..3 must occur in y_train; 1 never do \(first: \[0\]\)"),
        (dict(y_train=np.zeros(12, np.int64), y_test=np.zeros(5, np.int64)), "n_classes >= 2"),
        (dict(X_test=np.zeros((0, 4), np.float32), y_test=np.zeros(0, np.int64)), "X_test must hold at least one sample"),
    ],
)
def test_bad_files_rejected(tmp_path, changes, match):
    with pytest.raises(ValueError, match=match):
        load_embeddings(_bad(tmp_path, **changes))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_inf_rejected_with_row(tmp_path, value):
    X = arrays()["X_train"].copy()
    X[7, 2] = value
    with pytest.raises(ValueError, match=r"X_train must be finite \(no NaN or inf\); row 7"):
        load_embeddings(_bad(tmp_path, X_train=X))


def test_n_classes_entry_and_class_names(tmp_path):
    a = arrays()
    np.savez(tmp_path / "k.npz", **a, n_classes=np.array(4))
    with pytest.raises(ValueError, match="every class 0..3 must occur"):
        load_embeddings(tmp_path / "k.npz")
    np.savez(tmp_path / "k.npz", **a, n_classes=np.array(3), class_names=np.array(["x", "y"]))
    with pytest.raises(ValueError, match="class_names must name each of the 3 classes, got 2"):
        load_embeddings(tmp_path / "k.npz")


def test_pickled_arrays_refused(tmp_path):
    """An object array needs pickle: load_embeddings refuses it (allow_pickle=False)."""
    a = arrays()
    a["y_train"] = np.array([0, 1, 2] * 4, dtype=object)
    np.savez(tmp_path / "obj.npz", **a)
    with pytest.raises(ValueError, match="cannot be read without pickle"):
        load_embeddings(tmp_path / "obj.npz")


def test_unreadable_and_wrong_paths(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_embeddings(tmp_path / "junk.npz")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(ValueError, match="not a readable .safetensors"):
        load_embeddings(tmp_path / "junk.safetensors")
    with pytest.raises(ValueError, match="does not exist"):
        load_embeddings(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="must end in .npz or .safetensors"):
        load_embeddings(tmp_path / "x.csv")
    with pytest.raises(TypeError, match="path must be a str"):
        load_embeddings(3)
    (tmp_path / "m.npz").write_bytes(b"")
    np.savez(tmp_path / "m.npz", **arrays(), meta=np.array("[1, 2]"))
    with pytest.raises(ValueError, match="meta must be a JSON object"):
        load_embeddings(tmp_path / "m.npz")


def test_save_validates_and_is_atomic(tmp_path):
    a = arrays()
    a["X_train"][0, 0] = np.nan
    with pytest.raises(ValueError, match="X_train must be finite"):
        save_embeddings(tmp_path / "s.npz", **a)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left


def test_file_sha256_tracks_content(tmp_path):
    p = save_embeddings(tmp_path / "h.npz", **arrays())
    h1 = file_sha256(p)
    assert len(h1) == 64 and h1 == file_sha256(p)
    save_embeddings(p, **arrays(seed=1))
    assert file_sha256(p) != h1


def test_digits_split_stratified_and_seeded():
    d = load_digits_data()
    assert (d.n_train + d.n_test, d.n_features, d.n_classes) == (1797, 64, 10)
    assert float(d.X_train.min()) == 0.0 and float(d.X_train.max()) == 1.0
    # per class, round(0.2 * n_class) test rows
    full = np.bincount(np.r_[d.y_train.numpy(), d.y_test.numpy()], minlength=10)
    np.testing.assert_array_equal(np.bincount(d.y_test.numpy(), minlength=10), np.round(0.2 * full))
    again = load_digits_data()
    assert torch.equal(d.X_test, again.X_test) and torch.equal(d.y_train, again.y_train)
    other = load_digits_data(seed=1)
    assert not torch.equal(d.y_test, other.y_test) or not torch.equal(d.X_test, other.X_test)
    # train and test are disjoint rows of the full set: together they are the whole data set
    from sklearn.datasets import load_digits

    allX = np.r_[d.X_train.numpy(), d.X_test.numpy()] * 16
    ref = load_digits().data
    assert sorted(map(bytes, allX.astype(np.uint8))) == sorted(map(bytes, ref.astype(np.uint8)))
    assert json.dumps(d.meta)


@pytest.mark.parametrize("kw, exc, match", [
    (dict(test_fraction=0.0), ValueError, r"test_fraction must lie in \(0, 1\)"),
    (dict(test_fraction="a"), TypeError, "test_fraction must be a float"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0"),
    (dict(seed=1.5), TypeError, "seed must be an int"),
])
def test_digits_bad_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        load_digits_data(**kw)
