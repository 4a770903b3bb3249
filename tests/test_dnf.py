"""DNF data: label invariant, exact balance, construction rules, split, determinism, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fpe_empirical.dnf import SOURCE_NAMES, dnf_labels, make_dnf_dataset


@st.composite
def dnf_args(draw):
    """Valid generator arguments: shapes, even sizes, value ranges and active ranges."""
    n_clauses = draw(st.integers(1, 12))
    k = draw(st.integers(2, 5))
    n = n_clauses * k
    n_samples = 2 * draw(st.integers(20, 300))
    hi = draw(st.integers(k, n))
    lo = draw(st.integers(0, min(hi, n - n_clauses)))
    t0 = draw(st.floats(0.5, 1.0))
    f1 = draw(st.floats(0.0, 0.5))
    return dict(
        n_clauses=n_clauses,
        clause_size=k,
        n_samples=n_samples,
        seed=draw(st.integers(0, 2**31)),
        true_range=(t0, t0 + draw(st.floats(0.0, 0.5))),
        false_range=(f1 - draw(st.floats(0.0, 0.5)), f1),
        active_range=(lo, hi),
        test_fraction=draw(st.sampled_from([0.1, 0.2, 0.5])),
    )


@given(dnf_args())
def test_dataset_invariants(kw):
    """For any valid arguments: y == any_c all(bits[c]) on every row; exactly half positive;
    negatives split evenly into flipped and random ones; every construction respects its
    active-bit rule; X lies in the true/false ranges by bit; the split is a stratified
    partition of the rows."""
    d = make_dnf_dataset(**kw)
    n, C, k = d.n_literals, kw["n_clauses"], kw["clause_size"]
    bits, y, src = d.bits.numpy(), d.y.numpy(), d.source.numpy()
    assert d.X.dtype == torch.float32 and d.X.shape == (kw["n_samples"], n)
    np.testing.assert_array_equal(dnf_labels(bits, C, k).astype(np.int64), y)
    ns = kw["n_samples"]
    assert y.sum() == ns // 2
    assert np.bincount(src, minlength=3).tolist() == [ns // 2, ns // 4 + (ns // 2) % 2, ns // 4]
    assert (y[src == 0] == 1).all() and (y[src > 0] == 0).all()
    lo, hi = kw["active_range"]
    active = bits.sum(axis=1)
    pos = active[src == 0]
    assert (pos >= max(lo, k)).all() and (pos <= hi).all()
    rnd = active[src == 2]
    assert (rnd >= lo).all() and (rnd <= min(hi, n - C)).all()
    flipped = bits[src == 1].reshape(-1, C, k)
    assert (~flipped.all(axis=2)).all()  # every clause violated
    assert (flipped.sum(axis=(1, 2)) <= hi).all()
    X = d.X.numpy()
    (t0, t1), (f0, f1) = kw["true_range"], kw["false_range"]
    assert (X[bits] >= np.float32(t0) - 1e-6).all() and (X[bits] <= np.float32(t1) + 1e-6).all()
    assert (X[~bits] >= np.float32(f0) - 1e-6).all() and (X[~bits] <= np.float32(f1) + 1e-6).all()
    tr, te = d.train_index.numpy(), d.test_index.numpy()
    assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == ns
    assert te.size == round(kw["test_fraction"] * ns)
    assert y[te].sum() == te.size // 2
    assert d.clauses == tuple(tuple(range(c * k, c * k + k)) for c in range(C))


def test_same_seed_same_data_other_seed_differs():
    a = make_dnf_dataset(8, 4, 2000, seed=3)
    b = make_dnf_dataset(8, 4, 2000, seed=3)
    c = make_dnf_dataset(8, 4, 2000, seed=4)
    for f in ("X", "y", "bits", "source", "train_index", "test_index"):
        assert torch.equal(getattr(a, f), getattr(b, f)), f
    assert not torch.equal(a.bits, c.bits)


def test_properties_and_defaults():
    d = make_dnf_dataset(8)
    assert d.n_samples == 10_000 and d.n_literals == 32
    assert d.active_range == (4, 16)
    assert d.true_range == (0.8, 1.0) and d.false_range == (0.0, 0.2)
    assert torch.equal(d.X_train, d.X[d.train_index]) and torch.equal(d.y_test, d.y[d.test_index])
    assert SOURCE_NAMES[0] == "positive"


def test_positive_active_count_uniform_chi_square():
    """Positives draw their active count uniformly from {4, ..., 16}: Pearson chi-square over
    20000 positives with 12 d.o.f.; threshold 55 has false-failure probability < 1e-6."""
    from scipy.stats import chi2

    d = make_dnf_dataset(8, 4, 40_000, seed=11)
    act = d.bits.numpy()[d.source.numpy() == 0].sum(axis=1)
    counts = np.bincount(act, minlength=17)[4:17].astype(float)
    exp = counts.sum() / 13
    stat = ((counts - exp) ** 2 / exp).sum()
    assert chi2.sf(55, 12) < 1e-6
    assert stat < 55


def test_literal_frequencies_symmetric_binomial():
    """Clauses are exchangeable: among positives each literal is on with the same probability.
    Binomial z-test of literal 0 against the mean over all literals (n = 20000 positives):
    |z| < 5.5 fails with probability < 4e-8 for a correct generator."""
    d = make_dnf_dataset(8, 4, 40_000, seed=12)
    on = d.bits.numpy()[d.source.numpy() == 0]
    p = on.mean()
    z = (on[:, 0].mean() - p) / np.sqrt(p * (1 - p) / on.shape[0])
    assert abs(z) < 5.5


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n_clauses": 0}, ValueError, "n_clauses must be an integer >= 1"),
        ({"n_clauses": 2.0}, TypeError, "n_clauses must be an int"),
        ({"clause_size": 1}, ValueError, "clause_size must be an integer >= 2"),
        ({"n_samples": 101}, ValueError, "n_samples must be even"),
        ({"true_range": (1.0, 0.8)}, ValueError, "true_range must satisfy low <= high"),
        ({"false_range": (0.0,)}, TypeError, "false_range must be a pair"),
        ({"true_range": (0.0, float("nan"))}, ValueError, "true_range must be finite"),
        ({"active_range": (2, 3)}, ValueError, "active_range high must be >= clause_size"),
        ({"active_range": (30, 32)}, ValueError, "n_literals - n_clauses = 24"),
        ({"active_range": (4, 40)}, ValueError, r"active_range must lie in \[0, 32\]"),
        ({"active_range": (4.0, 8)}, TypeError, "active_range must hold two ints"),
        ({"test_fraction": 1.0}, ValueError, "test_fraction must be in"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    kw = {"n_clauses": 8, "clause_size": 4, "n_samples": 100, **kwargs}
    with pytest.raises(exc, match=match):
        make_dnf_dataset(**kw)


def test_large_dataset_many_clauses():
    """32 clauses (128 literals), random negatives rejected at a high rate: still exact."""
    d = make_dnf_dataset(32, 4, 20_000, seed=1)
    assert int(d.y.sum()) == 10_000
    np.testing.assert_array_equal(dnf_labels(d.bits, 32, 4), d.y.numpy().astype(bool))
