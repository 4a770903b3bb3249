"""Monotone read-once DNF data (paper Sections 2.2.1, A.2.1).

The formula has ``n_clauses`` clauses of ``clause_size`` positive literals each, every
literal used once; clause ``c`` owns literals ``c*clause_size ... c*clause_size +
clause_size - 1`` (THEORY.md). A sample's label is ``y = OR_c AND_{i in c} bits[i]``.

Generation (all vectorised, one ``numpy.random.default_rng(seed)``, a fixed draw order):

- **Positives** (exactly ``n_samples // 2``): pick a clause uniformly, turn on all its
  literals, then turn on uniformly chosen extra literals until the number of active bits
  equals ``m ~ Uniform{lo, ..., hi}`` (``active_range = (lo, hi)``; positives use
  ``max(lo, clause_size)``).
- **Negatives** (the other half), in two equal shares (the first share gets the odd one):
  *flipped* - build a candidate as for a positive, then set one uniformly chosen literal of
  every clause to 0, so every clause is violated (the active count drops by at most
  ``n_clauses``); *random* - draw ``m ~ Uniform{lo, ..., hi}`` and a uniform random
  ``m``-subset of active literals, and reject any that satisfies a clause (redrawn in
  vectorised rounds).
- **Continuous inputs**: a true bit becomes ``Uniform(true_range)``, a false bit
  ``Uniform(false_range)`` (float32).
- **Split**: samples are shuffled; the test set takes ``round(test_fraction * n_samples)``
  samples, half of them positives (stratified), the rest is the training set.

Defaults (chosen a priori, checked by the sensitivity sweep in ``docs/dnf_defaults.md``):
``true_range = (0.8, 1.0)``, ``false_range = (0.0, 0.2)`` (the paper's "small continuous
variability" with a clear margin between the two), ``active_range = (clause_size,
n_literals // 2)`` (a positive can be exactly one clause; at most half the literals are on,
which keeps the rejection rate of random negatives low), ``test_fraction = 0.2``.

Types: ``X`` is a float32 ``torch.Tensor`` (training consumes torch; ``X.numpy()`` is a
zero-copy view), ``y`` an int64 tensor in ``{0, 1}``, ``bits`` a bool tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from fpe_common.checks import check_int

__all__ = ["DNFDataset", "make_dnf_dataset", "dnf_labels", "SOURCE_NAMES"]

#: ``DNFDataset.source`` codes
SOURCE_NAMES = ("positive", "flipped_negative", "random_negative")
_CHUNK = 1 << 16  # rows per vectorised block: bounds memory, independent of the result


@dataclass(frozen=True, eq=False)
class DNFDataset:
    """A DNF classification data set with its train/test split.

    X: (n_samples, n_literals) float32; y: (n_samples,) int64; bits: (n_samples, n_literals)
    bool; source: (n_samples,) int8 codes into ``SOURCE_NAMES``; train_index / test_index:
    int64 row indices; clauses: literal indices per clause.
    """

    X: torch.Tensor
    y: torch.Tensor
    bits: torch.Tensor
    source: torch.Tensor
    clauses: tuple[tuple[int, ...], ...]
    train_index: torch.Tensor
    test_index: torch.Tensor
    n_clauses: int
    clause_size: int
    seed: int
    true_range: tuple[float, float]
    false_range: tuple[float, float]
    active_range: tuple[int, int]

    @property
    def n_literals(self) -> int:
        return self.n_clauses * self.clause_size

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def X_train(self) -> torch.Tensor:
        return self.X[self.train_index]

    @property
    def y_train(self) -> torch.Tensor:
        return self.y[self.train_index]

    @property
    def X_test(self) -> torch.Tensor:
        return self.X[self.test_index]

    @property
    def y_test(self) -> torch.Tensor:
        return self.y[self.test_index]


def dnf_labels(bits: np.ndarray | torch.Tensor, n_clauses: int, clause_size: int) -> np.ndarray:
    """``y[s] = any_c all(bits[s, c*k : c*k + k])`` for contiguous clauses (bool array)."""
    b = bits.numpy() if torch.is_tensor(bits) else np.asarray(bits)
    return b.reshape(b.shape[0], n_clauses, clause_size).all(axis=2).any(axis=1)


def _subsets(rng: np.random.Generator, m: np.ndarray, n: int, forced: np.ndarray | None) -> np.ndarray:
    """(rows, n) bool: row r has exactly ``m[r]`` true entries, uniformly chosen, always
    including the ``forced[r]`` literals (forced: (rows, k) indices or None)."""
    rows = m.shape[0]
    out = np.empty((rows, n), dtype=bool)
    ar = np.arange(n, dtype=np.int32)
    for s in range(0, rows, _CHUNK):
        e = min(s + _CHUNK, rows)
        keys = rng.random((e - s, n), dtype=np.float32)
        if forced is not None:
            np.put_along_axis(keys, forced[s:e], -1.0, axis=1)  # forced literals rank first
        order = np.argsort(keys, axis=1, kind="stable")
        rank = np.empty_like(order, dtype=np.int32)
        np.put_along_axis(rank, order, np.broadcast_to(ar, order.shape), axis=1)
        out[s:e] = rank < m[s:e, None]
    return out


def _check_range(name: str, value, *, integer: bool) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {value!r}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer) if integer else (int, float, np.number)):
            kind = "ints" if integer else "numbers"
            raise TypeError(f"{name} must hold two {kind}, got {value!r}")
        if not integer and not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite, got {value!r}")
    lo, hi = (int(v) for v in value) if integer else (float(v) for v in value)
    if lo > hi:
        raise ValueError(f"{name} must satisfy low <= high, got {value!r}")
    return lo, hi


def make_dnf_dataset(
    n_clauses: int,
    clause_size: int = 4,
    n_samples: int = 10_000,
    *,
    seed: int = 0,
    true_range: tuple[float, float] = (0.8, 1.0),
    false_range: tuple[float, float] = (0.0, 0.2),
    active_range: tuple[int, int] | None = None,
    test_fraction: float = 0.2,
) -> DNFDataset:
    """Generate a balanced monotone read-once DNF data set (see the module docstring).

    ``active_range=None`` means ``(clause_size, n_clauses * clause_size // 2)``. Invariants:
    exactly ``n_samples // 2`` positives; ``y == any_c all(bits[clause_c])`` for every row.
    """
    n_clauses = check_int("n_clauses", n_clauses, 1)
    clause_size = check_int("clause_size", clause_size, 2)
    n_samples = check_int("n_samples", n_samples, 4)
    if n_samples % 2:
        raise ValueError(f"n_samples must be even (exactly half positives), got {n_samples}")
    seed = check_int("seed", seed, 0)
    n = n_clauses * clause_size
    true_range = _check_range("true_range", true_range, integer=False)
    false_range = _check_range("false_range", false_range, integer=False)
    if active_range is None:
        active_range = (clause_size, max(clause_size, n // 2))
    lo, hi = _check_range("active_range", active_range, integer=True)
    max_negative = n - n_clauses  # a negative leaves at least one literal per clause off
    if lo < 0 or hi > n:
        raise ValueError(f"active_range must lie in [0, {n}], got {active_range!r}")
    if hi < clause_size:
        raise ValueError(f"active_range high must be >= clause_size = {clause_size}, got {active_range!r}")
    if lo > max_negative:
        raise ValueError(
            f"active_range low must be <= n_literals - n_clauses = {max_negative} "
            f"(random negatives need one false literal per clause), got {active_range!r}"
        )
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)):
        raise TypeError(f"test_fraction must be a float, got {type(test_fraction).__name__}")
    if not 0.0 < float(test_fraction) < 1.0:  # also NaN and inf, before round() meets them
        raise ValueError(
            f"test_fraction must be in (0, 1) leaving >= 2 samples on each side, got {test_fraction}"
        )
    n_test = round(float(test_fraction) * n_samples)
    if not (0.0 < test_fraction < 1.0) or n_test < 2 or n_test > n_samples - 2:
        raise ValueError(
            f"test_fraction must be in (0, 1) leaving >= 2 samples on each side, got {test_fraction}"
        )

    rng = np.random.default_rng(seed)
    n_pos = n_samples // 2
    n_neg = n_samples - n_pos
    n_flip = n_neg - n_neg // 2
    n_rand = n_neg // 2
    literals = np.arange(n).reshape(n_clauses, clause_size)
    pos_lo = max(lo, clause_size)

    def satisfying(rows: int) -> np.ndarray:
        clause = rng.integers(n_clauses, size=rows)
        m = rng.integers(pos_lo, hi + 1, size=rows)
        return _subsets(rng, m, n, literals[clause])

    positives = satisfying(n_pos)
    flipped = satisfying(n_flip)
    off = rng.integers(clause_size, size=(n_flip, n_clauses)) + literals[:, 0]
    np.put_along_axis(flipped, off, False, axis=1)

    rand_lo, rand_hi = lo, min(hi, max_negative)
    chunks, have, rate = [], 0, 0.5
    for _ in range(10_000):
        if have >= n_rand:
            break
        need = n_rand - have
        draw = int(need / max(rate, 1e-3) * 1.2) + 64
        m = rng.integers(rand_lo, rand_hi + 1, size=draw)
        cand = _subsets(rng, m, n, None)
        ok = ~dnf_labels(cand, n_clauses, clause_size)
        rate = max(ok.mean(), 1e-3)
        cand = cand[ok][:need]
        chunks.append(cand)
        have += cand.shape[0]
    else:  # pragma: no cover - only for absurd ranges
        raise RuntimeError("could not draw enough random negatives; lower active_range")
    randoms = np.concatenate(chunks) if chunks else np.zeros((0, n), dtype=bool)

    bits = np.concatenate([positives, flipped, randoms])
    source = np.repeat(np.arange(3, dtype=np.int8), [n_pos, n_flip, n_rand])
    y = np.concatenate([np.ones(n_pos, np.int64), np.zeros(n_neg, np.int64)])
    perm = rng.permutation(n_samples)
    bits, source, y = bits[perm], source[perm], y[perm]

    u = rng.random(bits.shape, dtype=np.float32)
    t0, t1 = true_range
    f0, f1 = false_range
    X = np.where(bits, t0 + (t1 - t0) * u, f0 + (f1 - f0) * u).astype(np.float32)

    # stratified split: rows are already in random order
    pos_rows, neg_rows = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_test_pos = n_test // 2
    test = np.sort(np.concatenate([pos_rows[:n_test_pos], neg_rows[: n_test - n_test_pos]]))
    train_mask = np.ones(n_samples, dtype=bool)
    train_mask[test] = False
    train = np.flatnonzero(train_mask)

    return DNFDataset(
        X=torch.from_numpy(X),
        y=torch.from_numpy(y),
        bits=torch.from_numpy(bits),
        source=torch.from_numpy(source),
        clauses=tuple(tuple(int(i) for i in row) for row in literals),
        train_index=torch.from_numpy(train.astype(np.int64)),
        test_index=torch.from_numpy(test.astype(np.int64)),
        n_clauses=n_clauses,
        clause_size=clause_size,
        seed=seed,
        true_range=true_range,
        false_range=false_range,
        active_range=(lo, hi),
    )
