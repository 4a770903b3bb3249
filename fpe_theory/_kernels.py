"""Numba kernels: Monte Carlo of the actual random split (sampled masks, not the formula).

One trial draws the split of every parent and counts what the closed forms predict:
clauses covered by no unit, collisions (unit, unordered clause pair) and the number of
parents after which every clause is covered. Models (codes: ``fpe_theory.models``):

- ``partition`` (code 1): each parent's n inputs get child labels by a Fisher–Yates shuffle
  of the label multiset {0^d, 1^d, ..., (alpha-1)^d} (a uniform balanced partition);
- ``subset`` (code 0, formerly ``independent``): alpha units per parent, each a uniform
  d-subset (partial Fisher–Yates of an index permutation, d swaps);
- ``two_four`` (code 2): alpha = 2, every aligned group of 4 inputs gives 2 to each child,
  one of the C(4,2) = 6 patterns uniformly;
- ``literal`` (code 3): each input gets an independent uniform label in [0, alpha) (any
  alpha >= 2; children have Binomial(n, 1/alpha) fan-in). Labels are Lemire draws of bound
  alpha on consecutive slices of the stream's outputs (16-bit slices, high first, for
  alpha <= 4096; else 32-bit halves); a rejected slice is skipped (the bound is fixed, so
  the accepted draws stay i.i.d.). The labels of a trial (parent 0 inputs 0..n-1, then
  parent 1, ...) start at a fresh output after the trial's layout shuffle, and the unused
  slices of the trial's last output are dropped. ``_reference`` replays this bit for bit.

Grouped split (``n_partitions`` G, issue 16; partition and literal models): parent p uses
partition ``p % G`` (round-robin deal: the same group sizes as any even deal), so only the
first G parents draw labels; a later parent adds no coverage and repeats its partition's
collisions, which are counted once with multiplicity ``m_g = #{p < N : p % G = g}``.
``n_partitions = 0`` (the default) means G = N: the classic split, the same stream.

Layout ``shuffled``: literal l sits at input ``pos[l]``, a uniform permutation drawn once per
trial (shared by all parents); ``contiguous``: ``pos[l] = l``.

Random numbers: xoshiro256** (Blackman & Vigna), one stream per chunk of ``CHUNK`` trials,
seeded by splitmix64 from (seed, chunk index). Bounded draws use Lemire's multiply-shift
with rejection (unbiased): bounds <= 4096 take 16-bit slices (four per 64-bit output, high
first), larger bounds 32-bit halves; see ``_fisher_yates``.
Chunks are independent of the thread count, so results depend only on ``seed``. Buffers are
allocated once per chunk; the label buffer is reset at the start of each chunk and then
reshuffled in place (Fisher–Yates from any arrangement gives a uniform permutation).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._prng import _U, _next64, seed_state  # noqa: F401  (seed_state: part of this module's API)

CHUNK = 64  # trials per random stream: part of the stream definition, never tuned per run

#: kernel code of each model (``TheoryModel.sim_code``; "independent" is the old name of "subset")
MODEL_CODES = {"subset": 0, "independent": 0, "partition": 1, "two_four": 2, "literal": 3}

_M32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)

# two_four: the 6 ways to give 2 of 4 positions to child 0 (label 0), the rest to child 1
_PATTERNS = np.array(
    [[0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0]],
    dtype=np.int8,
)


_M16 = np.uint64(0xFFFF)
_TWO16 = np.uint64(1 << 16)
SMALL_BOUND = 4096  # bounds <= this use 16-bit draws (4 per output, rejection <= 6.25%)


@njit(inline="always", cache=True)
def _fisher_yates(arr, n, s0, s1, s2, s3):
    """Shuffle arr[0:n] in place: i = n-1 .. 1 swaps arr[i] with arr[uniform(0..i)].

    Bounds above SMALL_BOUND take 32-bit draws (high then low half of one output), smaller
    ones 16-bit draws (four per output, high first). Draws use Lemire's multiply-shift with
    rejection; a rejected draw, or a bound that moves to the 16-bit phase, discards the rest
    of its 64-bit output.
    """
    i = n - 1
    while i >= SMALL_BOUND:
        x, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
        for q in range(2):
            if i < SMALL_BOUND:  # the bound entered the 16-bit phase: discard the rest
                break
            b = _U(i + 1)
            m = ((x >> _U(32 - 32 * q)) & _M32) * b
            low = m & _M32
            if low < b and low < (_TWO32 - b) % b:
                break
            j = m >> _U(32)
            tmp = arr[i]
            arr[i] = arr[j]
            arr[j] = tmp
            i -= 1
    while i > 0:
        x, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
        for q in range(4):
            b = _U(i + 1)
            m = ((x >> _U(48 - 16 * q)) & _M16) * b
            low = m & _M16
            if low < b and low < (_TWO16 - b) % b:
                break
            j = m >> _U(16)
            tmp = arr[i]
            arr[i] = arr[j]
            arr[j] = tmp
            i -= 1
            if i == 0:
                break
    return s0, s1, s2, s3


@njit(inline="always", cache=True)
def _partial_fisher_yates(arr, n, d, s0, s1, s2, s3):
    """Put a uniform d-subset of arr[0:n] into arr[0:d]: i = 0 .. d-1 swaps arr[i] with
    arr[i + uniform(0..n-i-1)]; draws as in ``_fisher_yates`` (bound n - i)."""
    i = 0
    while i < d and n - i > SMALL_BOUND:
        x, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
        for q in range(2):
            if n - i <= SMALL_BOUND:  # the bound entered the 16-bit phase: discard the rest
                break
            b = _U(n - i)
            m = ((x >> _U(32 - 32 * q)) & _M32) * b
            low = m & _M32
            if low < b and low < (_TWO32 - b) % b:
                break
            j = np.int64(m >> _U(32)) + i  # (uint64 + int64 would be float64 in numba)
            tmp = arr[i]
            arr[i] = arr[j]
            arr[j] = tmp
            i += 1
            if i == d:
                break
    while i < d:
        x, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
        for q in range(4):
            b = _U(n - i)
            m = ((x >> _U(48 - 16 * q)) & _M16) * b
            low = m & _M16
            if low < b and low < (_TWO16 - b) % b:
                break
            j = np.int64(m >> _U(16)) + i
            tmp = arr[i]
            arr[i] = arr[j]
            arr[j] = tmp
            i += 1
            if i == d:
                break
    return s0, s1, s2, s3


@njit(inline="always", cache=True)
def _two_four_labels(lab, n, s0, s1, s2, s3):
    """One of the 6 patterns per aligned group of 4 (16-bit draws of bound 6)."""
    g = 0
    groups = n // 4
    while g < groups:
        x, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
        for q in range(4):
            m = ((x >> _U(48 - 16 * q)) & _M16) * _U(6)
            low = m & _M16
            if low < _U(6) and low < (_TWO16 - _U(6)) % _U(6):
                break
            r = m >> _U(16)
            for t in range(4):
                lab[4 * g + t] = _PATTERNS[r, t]
            g += 1
            if g == groups:
                break
    return s0, s1, s2, s3


@njit(cache=True)  # not inlined: keeps the other models' trial loop as compiled before
def _literal_labels(lab, n, alpha, lit, s0, s1, s2, s3):
    """lab[0:n] = i.i.d. uniform labels in [0, alpha) (see the module docstring).

    ``lit`` (uint64[2]) holds the current 64-bit output and its unused slices, carried from
    parent to parent within a trial (``lit[1] = 0``: start at a fresh output). It lives in
    memory, not in the trial loop's registers, so the other models' loops are unchanged.
    """
    x = lit[0]
    left = np.int64(lit[1])
    b = _U(alpha)
    if alpha <= SMALL_BOUND:
        width = _U(16)
        mask = _M16
        per = 4
        thresh = (_TWO16 - b) % b
    else:
        width = _U(32)
        mask = _M32
        per = 2
        thresh = (_TWO32 - b) % b
    i = 0
    while i < n:
        if left == 0:
            x, s0, s1, s2, s3 = _next64(s0, s1, s2, s3)
            left = per
        left -= 1
        m = ((x >> (width * _U(left))) & mask) * b
        if (m & mask) < thresh:  # Lemire's rejection (thresh < b): skip this slice
            continue
        lab[i] = m >> width
        i += 1
    lit[0] = x
    lit[1] = _U(left)
    return s0, s1, s2, s3


@njit(cache=True)
def shuffle_(arr, st):
    """Fisher–Yates shuffle of ``arr`` in place with the stream in ``st``."""
    s0, s1, s2, s3 = _fisher_yates(arr, arr.shape[0], st[0], st[1], st[2], st[3])
    st[0], st[1], st[2], st[3] = s0, s1, s2, s3


@njit(cache=True)
def _reset_buffers(n, n_pad, d, model, lab, pos, idx):
    for i in range(n):
        pos[i] = i
        idx[i] = i
        lab[i] = i // d if model == 1 else 0
    for i in range(n, n_pad):  # padding: never shuffled, never read by the word compare
        lab[i] = 0


_REP8 = np.uint64(0x0101010101010101)
_ONE = np.uint64(1)
_B8 = np.uint64(0xFF)


@njit(inline="always", cache=True)
def _held_words(words, c, k, expect):
    """Clause c (bytes c·k .. c·k+k-1 of a byte array viewed as uint64 ``words``) held:
    all k bytes equal the first one (``expect`` < 0) or ``expect``. Needs k | 8 or 8 | k
    (a clause never straddles words) and little-endian byte order."""
    start = c * k
    if k >= 8:
        wi = start >> 3
        w0 = words[wi]
        a0 = w0 & _B8 if expect < 0 else _U(expect)
        full = a0 * _REP8
        held = 1
        for t in range(k >> 3):
            held &= 1 if words[wi + t] == full else 0
        return held, np.int64(a0)
    w = words[start >> 3] >> _U((start & 7) * 8)
    a0 = w & _B8 if expect < 0 else _U(expect)
    mask = (_ONE << _U(8 * k)) - _ONE
    held = 1 if (w & mask) == ((a0 * _REP8) & mask) else 0
    return held, np.int64(a0)


@njit(inline="always", cache=True)
def _popcount(x):
    x = x - ((x >> _U(1)) & _U(0x5555555555555555))
    x = (x & _U(0x3333333333333333)) + ((x >> _U(2)) & _U(0x3333333333333333))
    x = (x + (x >> _U(4))) & _U(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * _U(0x0101010101010101)) >> _U(56))


@njit(cache=True)
def _trial(n_clauses, k, alpha, n_parents, model, shuffled, words, st, lab, pos, idx, member,
           cov, cnt, rec, record, lit, n_partitions=0):
    """One trial; returns (missed clauses, collisions, parents until all covered or N+1,
    clause 0 covered). With ``record`` the masks are written to ``rec[parent, unit, input]``.

    Counting is branch-free: random labels would make an early-exit branch mispredict half
    the time. With ``words`` (contiguous layout, byte labels, k | 8 or 8 | k) a clause is
    compared as one masked 64-bit word; otherwise the OR of its labels' XORs with the first
    label is tested. Covered clauses are bits of ``cov`` (uint64 words).
    """
    n = n_clauses * k
    d = n // alpha
    n_words = cov.shape[0]
    tail = n_clauses - 64 * (n_words - 1)
    last_full = _U(-1) if tail == 64 else (_ONE << _U(tail)) - _ONE
    lab_w = lab.view(np.uint64)
    mem_w = member.view(np.uint64)
    s0, s1, s2, s3 = st[0], st[1], st[2], st[3]
    if shuffled:
        s0, s1, s2, s3 = _fisher_yates(pos, n, s0, s1, s2, s3)
    for w in range(n_words):
        cov[w] = _U(0)
    coll = 0
    first = n_parents + 1
    lit[1] = _U(0)  # literal: labels start at a fresh output in each trial
    n_draw = n_parents if n_partitions <= 0 or n_partitions >= n_parents else n_partitions
    for p in range(n_draw):
        mult = (n_parents - 1 - p) // n_draw + 1  # parents sharing partition p (1 when ungrouped)
        if model == 0:  # subset: alpha uniform d-subsets
            for u in range(alpha):
                s0, s1, s2, s3 = _partial_fisher_yates(idx, n, d, s0, s1, s2, s3)
                for i in range(d):
                    member[idx[i]] = 1
                cc = 0
                for w in range(n_words):
                    acc = _U(0)  # this word's covered bits, kept in a register
                    for c in range(64 * w, min(64 * w + 64, n_clauses)):
                        if words:
                            held, _ = _held_words(mem_w, c, k, 1)
                        else:
                            base = c * k
                            held = 1
                            if shuffled:
                                for t in range(k):
                                    held &= member[pos[base + t]]
                            else:
                                for t in range(k):
                                    held &= member[base + t]
                        cc += held
                        acc |= _U(held) << _U(c & 63)
                    cov[w] |= acc
                coll += cc * (cc - 1) // 2
                if record:
                    for i in range(n):
                        rec[p, u, i] = member[i]
                for i in range(d):
                    member[idx[i]] = 0
        else:
            if model == 1:  # partition: shuffle the label multiset
                s0, s1, s2, s3 = _fisher_yates(lab, n, s0, s1, s2, s3)
            elif model == 2:  # two_four
                s0, s1, s2, s3 = _two_four_labels(lab, n, s0, s1, s2, s3)
            else:  # literal: independent uniform labels
                s0, s1, s2, s3 = _literal_labels(lab, n, alpha, lit, s0, s1, s2, s3)
            for a in range(alpha):
                cnt[a] = 0
            held_total = 0
            held_one = 0  # alpha = 2: clauses held by child 1, counted in a register
            for w in range(n_words):
                acc = _U(0)  # this word's covered bits, kept in a register
                for c in range(64 * w, min(64 * w + 64, n_clauses)):
                    if words:
                        held, a0 = _held_words(lab_w, c, k, -1)
                    else:
                        base = c * k
                        diff = 0
                        if shuffled:
                            a0 = np.int64(lab[pos[base]])
                            for t in range(1, k):
                                diff |= lab[pos[base + t]] ^ a0
                        else:
                            a0 = np.int64(lab[base])
                            for t in range(1, k):
                                diff |= lab[base + t] ^ a0
                        held = 1 if diff == 0 else 0
                    if alpha == 2:
                        held_total += held
                        held_one += held & a0
                    else:
                        cnt[a0] += held
                    acc |= _U(held) << _U(c & 63)
                cov[w] |= acc
            if alpha == 2:
                cnt[0] = held_total - held_one
                cnt[1] = held_one
            for a in range(alpha):
                coll += mult * (cnt[a] * (cnt[a] - 1) // 2)
            if record:
                for a in range(alpha):
                    for i in range(n):
                        rec[p, a, i] = 1 if lab[i] == a else 0
        if first > n_parents:
            done = cov[n_words - 1] == last_full
            for w in range(n_words - 1):
                done = done and cov[w] == _U(-1)
            if done:
                first = p + 1
    if record:  # grouped: the parents after the first G repeat their group's masks
        for p in range(n_draw, n_parents):
            for a in range(rec.shape[1]):
                for i in range(n):
                    rec[p, a, i] = rec[p % n_draw, a, i]
    st[0], st[1], st[2], st[3] = s0, s1, s2, s3
    n_cov = 0
    for w in range(n_words):
        n_cov += _popcount(cov[w])
    return n_clauses - n_cov, coll, first, np.int64(cov[0] & _ONE)


def use_words(k: int, shuffled: bool, alpha: int) -> bool:
    """Whether the word-compare counting applies (see ``_trial``)."""
    import sys

    return (not shuffled and sys.byteorder == "little" and label_dtype(alpha) == np.int8
            and (k % 8 == 0 or 8 % k == 0))


def padded(n: int) -> int:
    """Buffer length: n rounded up to a multiple of 8 (for the uint64 views)."""
    return (n + 7) // 8 * 8


@njit(parallel=True, cache=True)
def simulate_batch(n_clauses, k, alpha, n_parents, model, shuffled, words, seed, first_chunk,
                   n_trials, labs, out_missed, out_coll, out_first, out_c0, n_partitions=0):
    """Trials [first_chunk·CHUNK, first_chunk·CHUNK + n_trials), parallel over chunks.

    ``labs`` (n_chunks, padded(n)): label buffers, int8 (alpha <= 127) or wider, one per chunk.
    """
    n = n_clauses * k
    d = n // alpha
    n_pad = labs.shape[1]
    n_chunks = (n_trials + CHUNK - 1) // CHUNK
    for ci in prange(n_chunks):
        st = np.empty(4, dtype=np.uint64)
        seed_state(seed, first_chunk + ci, st)
        lab = labs[ci]
        pos = np.empty(n, dtype=np.int32)
        idx = np.empty(n, dtype=np.int32)
        member = np.zeros(n_pad, dtype=np.int8)
        cov = np.zeros((n_clauses + 63) // 64, dtype=np.uint64)
        cnt = np.zeros(alpha, dtype=np.int64)
        rec = np.zeros((1, 1, 1), dtype=np.int8)
        lit = np.zeros(2, dtype=np.uint64)
        _reset_buffers(n, n_pad, d, model, lab, pos, idx)
        stop = min((ci + 1) * CHUNK, n_trials)
        for t in range(ci * CHUNK, stop):
            m, c, f, c0 = _trial(n_clauses, k, alpha, n_parents, model, shuffled, words, st, lab,
                                 pos, idx, member, cov, cnt, rec, False, lit, n_partitions)
            out_missed[t] = m
            out_coll[t] = c
            out_first[t] = f
            out_c0[t] = c0


@njit(cache=True)
def trace_trial(n_clauses, k, alpha, n_parents, model, shuffled, words, seed, trial, lab, n_partitions=0):
    """Replay trial ``trial``'s chunk and return its masks, layout and counts (for tests).

    Returns (masks[int8, (N, units per parent, n)], pos[int32, (n,)], missed, collisions, first).
    """
    n = n_clauses * k
    d = n // alpha
    n_pad = lab.shape[0]
    chunk = trial // CHUNK
    st = np.empty(4, dtype=np.uint64)
    seed_state(seed, chunk, st)
    pos = np.empty(n, dtype=np.int32)
    idx = np.empty(n, dtype=np.int32)
    member = np.zeros(n_pad, dtype=np.int8)
    cov = np.zeros((n_clauses + 63) // 64, dtype=np.uint64)
    cnt = np.zeros(alpha, dtype=np.int64)
    rec = np.zeros((n_parents, alpha, n), dtype=np.int8)
    lit = np.zeros(2, dtype=np.uint64)
    _reset_buffers(n, n_pad, d, model, lab, pos, idx)
    m, c, f = 0, 0, 0
    for t in range(chunk * CHUNK, trial + 1):
        m, c, f, c0 = _trial(n_clauses, k, alpha, n_parents, model, shuffled, words, st, lab, pos,
                             idx, member, cov, cnt, rec, t == trial, lit, n_partitions)
    return rec, pos.copy(), m, c, f


@njit(parallel=True, cache=True)
def raw_generator_throughput(n_streams, draws_per_stream, seed):
    """Sum of xoshiro256** outputs (the raw bound a simulator can reach), parallel over streams."""
    acc = np.zeros(n_streams, dtype=np.uint64)
    for s in prange(n_streams):
        st = np.empty(4, dtype=np.uint64)
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
