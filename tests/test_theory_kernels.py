"""Numba kernels of fpe_theory: exact stream replay, sampled masks, determinism, and the
plain NumPy reference compared with the kernels distributionally (their streams differ)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

import fpe_theory as ft
from fpe_theory import _kernels as K
from fpe_theory._reference import simulate_reference

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


# ----------------------------------------------------------------------------- pure-Python port
def _splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class PyStream:
    """xoshiro256** seeded by splitmix64 from (seed, chunk); Lemire bounded draws taken as
    16-bit slices (4 per output, bound <= 4096) or 32-bit halves, a rejection discarding the
    rest of its output (the documented stream of fpe_theory._kernels)."""

    def __init__(self, seed, chunk):
        x, a = _splitmix(seed)
        x = a ^ ((chunk * 0xD1B54A32D192ED03) & M64)
        self.s = []
        for _ in range(4):
            x, v = _splitmix(x)
            self.s.append(v)

    def next64(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & M64, 7) * 9) & M64
        t = (s1 << 17) & M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def draws(self, bounds):
        """Yield one uniform draw per bound in the iterable ``bounds`` (consumed lazily)."""
        bounds = iter(bounds)
        b = next(bounds, None)
        while b is not None:
            x = self.next64()
            width = 16 if b <= K.SMALL_BOUND else 32
            for q in range(64 // width):
                if (b <= K.SMALL_BOUND) != (width == 16):
                    break  # the phase changed: the rest of this output is discarded
                mask = (1 << width) - 1
                m = ((x >> (64 - width * (q + 1))) & mask) * b
                low = m & mask
                if low < b and low < ((1 << width) - b) % b:
                    break
                yield m >> width
                b = next(bounds, None)
                if b is None:
                    return


def fisher_yates(rng, arr):
    n = len(arr)
    i = n - 1
    for j in rng.draws(range(n, 1, -1)):  # bounds i + 1 = n .. 2
        arr[i], arr[j] = arr[j], arr[i]
        i -= 1


PATTERNS = [[0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0]]


def py_simulate(C, k, alpha, N, model, shuffled, seed, trials):
    """Line-by-line port of _kernels._trial / simulate_batch (readable, slow)."""
    n = C * k
    d = n // alpha
    out = []
    for chunk in range((trials + K.CHUNK - 1) // K.CHUNK):
        rng = PyStream(seed, chunk)
        lab = [i // d for i in range(n)]
        pos = list(range(n))
        idx = list(range(n))
        for _t in range(chunk * K.CHUNK, min((chunk + 1) * K.CHUNK, trials)):
            if shuffled:
                fisher_yates(rng, pos)
            covered = [False] * C
            coll, first = 0, N + 1
            for p in range(N):
                if model == "subset":
                    for _u in range(alpha):
                        for i, j in enumerate(rng.draws(range(n, n - d, -1))):
                            idx[i], idx[i + j] = idx[i + j], idx[i]
                        member = set(idx[:d])
                        held = [c for c in range(C) if all(pos[c * k + t] in member for t in range(k))]
                        coll += len(held) * (len(held) - 1) // 2
                        for c in held:
                            covered[c] = True
                else:
                    if model == "partition":
                        fisher_yates(rng, lab)
                    else:
                        for g, r in enumerate(rng.draws([6] * (n // 4))):
                            lab[4 * g: 4 * g + 4] = PATTERNS[r]
                    cnt = [0] * alpha
                    for c in range(C):
                        labels = {lab[pos[c * k + t]] for t in range(k)}
                        if len(labels) == 1:
                            cnt[labels.pop()] += 1
                            covered[c] = True
                    coll += sum(x * (x - 1) // 2 for x in cnt)
                if all(covered) and first > N:
                    first = p + 1
            out.append((C - sum(covered), coll, first, int(covered[0])))
    return out


def kernel_trials(C, k, alpha, N, model, shuffled, seed, trials, words=None):
    n = C * k
    labs = np.empty(((trials + K.CHUNK - 1) // K.CHUNK, K.padded(n)), dtype=K.label_dtype(alpha))
    om = np.empty(trials, np.int32)
    oc = np.empty(trials, np.int64)
    of = np.empty(trials, np.int32)
    o0 = np.empty(trials, np.int8)
    K.simulate_batch(C, k, alpha, N, K.MODEL_CODES[model], shuffled,
                     K.use_words(k, shuffled, alpha) if words is None else words,
                     np.uint64(seed), 0, trials, labs, om, oc, of, o0)
    return list(zip(om.tolist(), oc.tolist(), of.tolist(), o0.tolist()))


@pytest.mark.parametrize("model,C,k,alpha,N", [
    ("partition", 4, 2, 2, 3), ("partition", 6, 2, 3, 2), ("subset", 4, 2, 2, 3),
    ("subset", 6, 1, 3, 2), ("two_four", 4, 2, 2, 3), ("two_four", 2, 4, 2, 5),
    ("subset", 2101, 2, 2, 1), ("partition", 2101, 2, 2, 1),  # n > 4096: 32-bit draws
])
@pytest.mark.parametrize("shuffled", [False, True])
def test_kernel_replays_the_documented_stream_exactly(model, C, k, alpha, N, shuffled):
    """Per-trial outputs equal a pure-Python port of the stream and sampling, bit for bit,
    across a chunk boundary (trials 0..69, CHUNK = 64)."""
    seed = 12345678901234567890  # > 2^63: exercises the uint64 seed path
    trials = 70 if C * k < 1000 else 2
    assert kernel_trials(C, k, alpha, N, model, shuffled, seed, trials) == py_simulate(
        C, k, alpha, N, model, shuffled, seed, trials)


@pytest.mark.parametrize("n", [5000, 5001, 4097, 40])
def test_fisher_yates_large_bounds_match_the_port(n):
    """Arrays longer than SMALL_BOUND take 32-bit draws first: the kernel's shuffle equals the
    port's (both phases; n odd/even puts the phase change mid-output or not), twice."""
    st = np.empty(4, dtype=np.uint64)
    K.seed_state(np.uint64(99), 3, st)
    arr = np.arange(n, dtype=np.int64)
    rng = PyStream(99, 3)
    ref = list(range(n))
    for _ in range(2):
        K.shuffle_(arr, st)
        fisher_yates(rng, ref)
        assert arr.tolist() == ref


def test_bounded_draws_are_uniform():
    """Chi-square on 10^6 draws of bound 7 (p > 1e-7: false failure < 1e-7)."""
    st = np.empty(4, dtype=np.uint64)
    K.seed_state(np.uint64(5), 0, st)
    arr = np.arange(7, dtype=np.int64)
    counts = np.zeros((7, 7))
    for _ in range(20000):  # Fisher–Yates of 7: every position uniform over 7 values
        K.shuffle_(arr, st)
        counts[np.arange(7), arr] += 1
    chi2 = stats.chisquare(counts.ravel(), np.full(49, 20000 / 7)).pvalue
    assert chi2 > 1e-7


# ----------------------------------------------------------------------------- masks
@pytest.mark.parametrize("model,alpha", [("partition", 2), ("partition", 4), ("subset", 4),
                                         ("two_four", 2)])
@pytest.mark.parametrize("layout", ["contiguous", "shuffled"])
def test_sampled_masks_are_valid_and_counted_right(model, alpha, layout):
    """Partition masks are disjoint and cover every input with d each; independent units hold
    d inputs; two_four splits each group of 4 as 2/2; and the coverage/collision counts
    recomputed from the masks equal the kernel's outputs for that trial."""
    C, k, N, seed = 8, 4, 5, 7
    n, d = C * k, C * k // alpha
    per_trial = kernel_trials(C, k, alpha, N, model, layout == "shuffled", seed, 130)
    for trial in (0, 1, 63, 64, 129):
        masks, pos = ft.sample_masks(C, k, alpha, N, seed=seed, trial=trial, model=model, layout=layout)
        assert masks.shape == (N, alpha, n) and masks.dtype == bool
        assert (masks.sum(axis=2) == d).all()
        if model != "subset":
            assert (masks.sum(axis=1) == 1).all()  # disjoint and covering
        if model == "two_four":
            assert (masks.reshape(N, 2, n // 4, 4).sum(axis=3) == 2).all()
        assert sorted(pos.tolist()) == list(range(n))
        if layout == "contiguous":
            assert (pos == np.arange(n)).all()
        lit = masks[:, :, pos].reshape(N, alpha, C, k).all(axis=3)  # (N, units, C) unit holds clause
        coll = int((lit.sum(axis=2) * (lit.sum(axis=2) - 1) // 2).sum())
        cov_after = np.logical_or.accumulate(lit.any(axis=1), axis=0)
        missed = int(C - cov_after[-1].sum())
        full = cov_after.all(axis=1)
        first = int(full.argmax() + 1) if full.any() else N + 1
        assert per_trial[trial][:3] == (missed, coll, first)


# ----------------------------------------------------------------------------- determinism
def test_identical_for_any_thread_count_and_threads_restored():
    before = numba.get_num_threads()
    r1 = ft.simulate(16, 4, 2, 16, trials=3000, seed=3, threads=1)
    assert numba.get_num_threads() == before
    r2 = ft.simulate(16, 4, 2, 16, trials=3000, seed=3, threads=numba.config.NUMBA_NUM_THREADS)
    assert numba.get_num_threads() == before
    r3 = ft.simulate(16, 4, 2, 16, trials=3000, seed=3)
    for r in (r2, r3):
        assert (r.missed_histogram == r1.missed_histogram).all()
        assert (r.first_cover_histogram == r1.first_cover_histogram).all()
        assert (r.collisions_histogram == r1.collisions_histogram).all()
        assert r.p_all_covered.value == r1.p_all_covered.value
    r4 = ft.simulate(16, 4, 2, 16, trials=3000, seed=4)
    assert not (r4.collisions_histogram.shape == r1.collisions_histogram.shape
                and (r4.collisions_histogram == r1.collisions_histogram).all())


def test_batches_do_not_change_the_stream(monkeypatch):
    """Trials split into several kernel calls give the same result as one call."""
    import importlib

    sim_mod = importlib.import_module("fpe_theory.montecarlo")

    one = ft.simulate(8, 4, 2, 8, trials=1000, seed=9)
    monkeypatch.setattr(sim_mod, "BATCH", 128)
    many = ft.simulate(8, 4, 2, 8, trials=1000, seed=9)
    assert (one.missed_histogram == many.missed_histogram).all()
    assert (one.collisions_histogram == many.collisions_histogram).all()


# ----------------------------------------------------------------------------- NumPy reference
def _merged_chi2(h1, h2, min_expected=5.0):
    """Two-sample chi-square homogeneity test on histograms, sparse bins merged."""
    h1 = np.asarray(h1, float)
    h2 = np.asarray(h2, float)
    size = max(h1.size, h2.size)
    h1 = np.pad(h1, (0, size - h1.size))
    h2 = np.pad(h2, (0, size - h2.size))
    bins1, bins2, acc1, acc2 = [], [], 0.0, 0.0
    tot = h1.sum() + h2.sum()
    for a, b in zip(h1, h2):
        acc1 += a
        acc2 += b
        if (acc1 + acc2) * min(h1.sum(), h2.sum()) / tot >= min_expected:
            bins1.append(acc1)
            bins2.append(acc2)
            acc1 = acc2 = 0.0
    if acc1 + acc2 and bins1:
        bins1[-1] += acc1
        bins2[-1] += acc2
    if len(bins1) < 2:
        return 1.0
    return stats.chi2_contingency(np.array([bins1, bins2])).pvalue


@pytest.mark.parametrize("model,layout,C,k,alpha,N", [
    ("partition", "contiguous", 8, 4, 2, 8), ("partition", "shuffled", 6, 3, 3, 6),
    ("subset", "contiguous", 8, 4, 2, 8), ("subset", "shuffled", 6, 2, 3, 4),
    ("two_four", "contiguous", 4, 2, 2, 6), ("two_four", "shuffled", 8, 4, 2, 8),
])
def test_numpy_reference_and_kernel_agree_distributionally(model, layout, C, k, alpha, N):
    """Different streams, same distribution: chi-square homogeneity on the histograms of
    missed clauses, collisions and parents-until-covered (each p > 1e-8), and both agree
    with the exact P(clause covered) by an exact binomial test on clause 0 (p > 1e-8).
    At most six p-values per config, 6 configs: false failure < 36e-8 < 1e-6."""
    trials = 20000
    numba_res = ft.simulate(C, k, alpha, N, trials=trials, seed=11, model=model, layout=layout)
    missed, coll, first, c0 = simulate_reference(C, k, alpha, N, trials=trials, seed=11, model=model,
                                                 layout=layout)
    assert _merged_chi2(numba_res.missed_histogram, np.bincount(missed, minlength=C + 1)) > 1e-8
    assert _merged_chi2(numba_res.collisions_histogram, np.bincount(coll)) > 1e-8
    assert _merged_chi2(numba_res.first_cover_histogram, np.bincount(first, minlength=N + 2)) > 1e-8
    exact = ft.prob_clause_covered(C, k, alpha, N, model=model, layout=layout)
    if model == "two_four" and layout == "contiguous":
        return  # clause 0 differs from the mean over clauses there; histograms checked above
    assert stats.binomtest(numba_res.clause0_covered, trials, exact).pvalue > 1e-8
    assert stats.binomtest(int(c0.sum()), trials, exact).pvalue > 1e-8
    if model != "two_four":  # no exact P(all) for two_four; its histograms are compared above
        p_all = ft.prob_all_covered(C, k, alpha, N, model=model)
        assert stats.binomtest(int((missed == 0).sum()), trials, p_all).pvalue > 1e-8
