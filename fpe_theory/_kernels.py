"""Numba kernels: Monte Carlo of the actual random split (sampled masks, not the formula).

One trial draws the split of every parent and counts what the closed forms predict:
clauses covered by no unit, collisions (unit, unordered clause pair) and the number of
parents after which every clause is covered. Models:

- ``partition`` (code 1): each parent's n inputs get child labels by a Fisher–Yates shuffle
  of the label multiset {0^d, 1^d, ..., (alpha-1)^d} (a uniform balanced partition);
- ``independent`` (code 0): alpha units per parent, each a uniform d-subset (partial
  Fisher–Yates of an index permutation, d swaps);
- ``two_four`` (code 2): alpha = 2, every aligned group of 4 inputs gives 2 to each child,
  one of the C(4,2) = 6 patterns uniformly.

Layout ``shuffled``: literal l sits at input ``pos[l]``, a uniform permutation drawn once per
trial (shared by all parents); ``contiguous``: ``pos[l] = l``.

Random numbers: xoshiro256** (Blackman & Vigna), one stream per chunk of ``CHUNK`` trials,
seeded by splitmix64 from (seed, chunk index). Each 64-bit output gives two 32-bit halves
(high half first); bounded draws use Lemire's multiply-shift with rejection (unbiased).
Chunks are independent of the thread count, so results depend only on ``seed``. Buffers are
allocated once per chunk; the label buffer is reset at the start of each chunk and then
reshuffled in place (Fisher–Yates from any arrangement gives a uniform permutation).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNK = 64  # trials per random stream: part of the stream definition, never tuned per run

MODEL_CODES = {"independent": 0, "partition": 1, "two_four": 2}

_U = np.uint64
_M32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SM1 = np.uint64(0xBF58476D1CE4E5B9)
_SM2 = np.uint64(0x94D049BB133111EB)
_CHUNK_MIX = np.uint64(0xD1B54A32D192ED03)

# two_four: the 6 ways to give 2 of 4 positions to child 0 (label 0), the rest to child 1
_PATTERNS = np.array(
    [[0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0]],
    dtype=np.int8,
)


@njit(inline="always", cache=True)
def _splitmix64(x):
    x = x + _GOLDEN
    z = x
    z = (z ^ (z >> _U(30))) * _SM1
    z = (z ^ (z >> _U(27))) * _SM2
    return x, z ^ (z >> _U(31))


@njit(cache=True)
def seed_state(seed, chunk, st):
    """Fill ``st`` (uint64[6]: s0..s3, cached half, has-half flag) for (seed, chunk)."""
    x, a = _splitmix64(_U(seed))
    x = a ^ (_U(chunk) * _CHUNK_MIX)
    for i in range(4):
        x, st[i] = _splitmix64(x)
    st[4] = _U(0)
    st[5] = _U(0)


@njit(inline="always", cache=True)
def _rotl(x, k):
    return (x << k) | (x >> (_U(64) - k))


@njit(inline="always", cache=True)
def _next64(s0, s1, s2, s3):
    result = _rotl(s1 * _U(5), _U(7)) * _U(9)
    t = s1 << _U(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _U(45))
    return result, s0, s1, s2, s3


@njit(inline="always", cache=True)
def _bounded(bound, s0, s1, s2, s3, half, has_half):
    """Uniform integer in [0, bound), bound <= 2^32 (Lemire 2019, with rejection)."""
    while True:
        if has_half:
            x = half
            has_half = _U(0)
        else:
            r, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
            x = r >> _U(32)
            half = r & _M32
            has_half = _U(1)
        m = x * bound
        low = m & _M32
        if low >= bound:
            break
        if low >= (_TWO32 - bound) % bound:
            break
    return m >> _U(32), s0, s1, s2, s3, half, has_half


@njit(cache=True)
def shuffle_(arr, st):
    """Fisher–Yates shuffle of ``arr`` in place with the stream in ``st``."""
    s0, s1, s2, s3, half, has_half = st[0], st[1], st[2], st[3], st[4], st[5]
    for i in range(arr.shape[0] - 1, 0, -1):
        j, s0, s1, s2, s3, half, has_half = _bounded(_U(i + 1), s0, s1, s2, s3, half, has_half)
        tmp = arr[i]
        arr[i] = arr[j]
        arr[j] = tmp
    st[0], st[1], st[2], st[3], st[4], st[5] = s0, s1, s2, s3, half, has_half


@njit(cache=True)
def next_uint32(st):
    """One 32-bit draw (for tests that replay the stream)."""
    s0, s1, s2, s3, half, has_half = st[0], st[1], st[2], st[3], st[4], st[5]
    if has_half:
        x = half
        has_half = _U(0)
    else:
        r, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
        x = r >> _U(32)
        half = r & _M32
        has_half = _U(1)
    st[0], st[1], st[2], st[3], st[4], st[5] = s0, s1, s2, s3, half, has_half
    return x


@njit(cache=True)
def _reset_buffers(n, d, model, lab, pos, idx):
    for i in range(n):
        pos[i] = i
        idx[i] = i
        if model == 1:
            lab[i] = i // d
        else:
            lab[i] = 0


@njit(cache=True)
def _trial(n_clauses, k, alpha, n_parents, model, shuffled, st, lab, pos, idx, member, covered,
           cnt, rec, record):
    """One trial; returns (missed clauses, collisions, parents until all covered or N+1).

    With ``record`` the masks are written to ``rec[parent, unit, input]``.
    """
    n = n_clauses * k
    d = n // alpha
    s0, s1, s2, s3, half, has_half = st[0], st[1], st[2], st[3], st[4], st[5]
    if shuffled:
        for i in range(n - 1, 0, -1):
            j, s0, s1, s2, s3, half, has_half = _bounded(_U(i + 1), s0, s1, s2, s3, half, has_half)
            tmp = pos[i]
            pos[i] = pos[j]
            pos[j] = tmp
    for c in range(n_clauses):
        covered[c] = 0
    n_cov = 0
    coll = 0
    first = n_parents + 1
    for p in range(n_parents):
        if model == 0:  # independent: alpha uniform d-subsets
            for u in range(alpha):
                for i in range(d):
                    jj, s0, s1, s2, s3, half, has_half = _bounded(
                        _U(n - i), s0, s1, s2, s3, half, has_half)
                    j = np.int64(jj) + i  # (uint64 + int64 would be float64 in numba)
                    tmp = idx[i]
                    idx[i] = idx[j]
                    idx[j] = tmp
                    member[idx[i]] = 1
                cc = 0
                for c in range(n_clauses):
                    base = c * k
                    ok = True
                    for t in range(k):
                        q = pos[base + t] if shuffled else base + t
                        if member[q] == 0:
                            ok = False
                            break
                    if ok:
                        cc += 1
                        if covered[c] == 0:
                            covered[c] = 1
                            n_cov += 1
                coll += cc * (cc - 1) // 2
                if record:
                    for i in range(n):
                        rec[p, u, i] = member[i]
                for i in range(d):
                    member[idx[i]] = 0
        else:
            if model == 1:  # partition: shuffle the label multiset
                for i in range(n - 1, 0, -1):
                    j, s0, s1, s2, s3, half, has_half = _bounded(
                        _U(i + 1), s0, s1, s2, s3, half, has_half)
                    tmp = lab[i]
                    lab[i] = lab[j]
                    lab[j] = tmp
            else:  # two_four: one of 6 patterns per aligned group of 4
                for g in range(n // 4):
                    r, s0, s1, s2, s3, half, has_half = _bounded(_U(6), s0, s1, s2, s3, half, has_half)
                    for t in range(4):
                        lab[4 * g + t] = _PATTERNS[r, t]
            for a in range(alpha):
                cnt[a] = 0
            for c in range(n_clauses):
                base = c * k
                a0 = lab[pos[base]] if shuffled else lab[base]
                ok = True
                for t in range(1, k):
                    q = pos[base + t] if shuffled else base + t
                    if lab[q] != a0:
                        ok = False
                        break
                if ok:
                    cnt[a0] += 1
                    if covered[c] == 0:
                        covered[c] = 1
                        n_cov += 1
            for a in range(alpha):
                coll += cnt[a] * (cnt[a] - 1) // 2
            if record:
                for a in range(alpha):
                    for i in range(n):
                        rec[p, a, i] = 1 if lab[i] == a else 0
        if n_cov == n_clauses and first > n_parents:
            first = p + 1
    st[0], st[1], st[2], st[3], st[4], st[5] = s0, s1, s2, s3, half, has_half
    return n_clauses - n_cov, coll, first, covered[0]


@njit(parallel=True, cache=True)
def simulate_batch(n_clauses, k, alpha, n_parents, model, shuffled, seed, first_chunk,
                   n_trials, labs, out_missed, out_coll, out_first, out_c0):
    """Trials [first_chunk·CHUNK, first_chunk·CHUNK + n_trials), parallel over chunks.

    ``labs`` (n_chunks, n): label buffers, int8 (alpha <= 127) or int16, one per chunk.
    """
    n = n_clauses * k
    d = n // alpha
    n_chunks = (n_trials + CHUNK - 1) // CHUNK
    for ci in prange(n_chunks):
        st = np.empty(6, dtype=np.uint64)
        seed_state(seed, first_chunk + ci, st)
        lab = labs[ci]
        pos = np.empty(n, dtype=np.int32)
        idx = np.empty(n, dtype=np.int32)
        member = np.zeros(n, dtype=np.int8)
        covered = np.zeros(n_clauses, dtype=np.int8)
        cnt = np.zeros(alpha, dtype=np.int64)
        rec = np.zeros((1, 1, 1), dtype=np.int8)
        _reset_buffers(n, d, model, lab, pos, idx)
        stop = min((ci + 1) * CHUNK, n_trials)
        for t in range(ci * CHUNK, stop):
            m, c, f, c0 = _trial(n_clauses, k, alpha, n_parents, model, shuffled, st, lab, pos,
                                 idx, member, covered, cnt, rec, False)
            out_missed[t] = m
            out_coll[t] = c
            out_first[t] = f
            out_c0[t] = c0


@njit(cache=True)
def trace_trial(n_clauses, k, alpha, n_parents, model, shuffled, seed, trial, lab):
    """Replay trial ``trial``'s chunk and return its masks, layout and counts (for tests).

    Returns (masks[int8, (N, units per parent, n)], pos[int32, (n,)], missed, collisions, first).
    """
    n = n_clauses * k
    d = n // alpha
    chunk = trial // CHUNK
    st = np.empty(6, dtype=np.uint64)
    seed_state(seed, chunk, st)
    pos = np.empty(n, dtype=np.int32)
    idx = np.empty(n, dtype=np.int32)
    member = np.zeros(n, dtype=np.int8)
    covered = np.zeros(n_clauses, dtype=np.int8)
    cnt = np.zeros(alpha, dtype=np.int64)
    rec = np.zeros((n_parents, alpha, n), dtype=np.int8)
    _reset_buffers(n, d, model, lab, pos, idx)
    m, c, f = 0, 0, 0
    for t in range(chunk * CHUNK, trial + 1):
        m, c, f, c0 = _trial(n_clauses, k, alpha, n_parents, model, shuffled, st, lab, pos, idx,
                             member, covered, cnt, rec, t == trial)
    return rec, pos.copy(), m, c, f


@njit(parallel=True, cache=True)
def raw_generator_throughput(n_streams, draws_per_stream, seed):
    """Sum of xoshiro256** outputs (the raw bound a simulator can reach), parallel over streams."""
    acc = np.zeros(n_streams, dtype=np.uint64)
    for s in prange(n_streams):
        st = np.empty(6, dtype=np.uint64)
        seed_state(seed, s, st)
        s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
        a = _U(0)
        for _ in range(draws_per_stream):
            r, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
            a ^= r
        acc[s] = a
    return acc


def label_dtype(alpha: int):
    """int8 labels while they fit (cache friendly), else int16 (alpha <= 32767)."""
    if alpha <= 127:
        return np.int8
    if alpha <= 32767:
        return np.int16
    return np.int32


def sample_masks(n_clauses, clause_size, alpha, n_parents, *, seed=0, trial=0,
                 model="partition", layout="contiguous"):
    """The masks ``simulate`` draws in trial ``trial`` (same seed, same stream).

    Returns ``(masks, positions)``: ``masks`` is a bool array (n_parents, units, n) with
    ``units = alpha`` (children, or independent units of a parent); ``positions[l]`` is the
    input that literal l (clause l // clause_size) sits at (identity for contiguous).
    """
    from ._validate import check_choice, check_config, check_int, SIM_MODELS, LAYOUTS

    cfg = check_config(n_clauses, clause_size, alpha)
    n_par = check_int("n_parents", n_parents, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed}")
    trial = check_int("trial", trial, minimum=0)
    model = check_choice("model", model, SIM_MODELS)
    layout = check_choice("layout", layout, LAYOUTS)
    if model == "two_four":
        from .closed_forms import _check_two_four

        _check_two_four(cfg)
    lab = np.empty(cfg.n, dtype=label_dtype(cfg.alpha))
    rec, pos, _, _, _ = trace_trial(cfg.n_clauses, cfg.clause_size, cfg.alpha, n_par,
                                    MODEL_CODES[model], layout == "shuffled", np.uint64(seed),
                                    trial, lab)
    return rec.astype(bool), pos.astype(np.int64)
