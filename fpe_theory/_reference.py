"""Plain NumPy reference of the split Monte Carlo, to test the Numba kernels against and to
benchmark them.

Balanced models, written the obvious vectorised way with NumPy's generator (so compared
with the kernels distributionally: the random streams differ):

- partition: ``rank = argsort(keys)`` of n uniform keys per parent; input ``rank[r]`` goes
  to child ``r // d`` (a uniform balanced partition);
- subset: alpha·N units, the d inputs with the smallest keys (a uniform d-subset);
- two_four: per aligned group of 4 inputs, the 2 with the smallest keys go to child 0.
- layout ``shuffled``: literal l sits at input ``argsort(layout keys)[l]``, once per trial.
  Trials run in batches; batch b draws from ``Generator(PCG64(SeedSequence([seed, b])))``.

The literal model replays the kernels' own stream instead (``_kernels`` docstring), so the
two agree bit for bit given the seed: xoshiro256** per chunk of ``CHUNK`` trials, seeded by
splitmix64 from (seed, chunk), stepped for all chunks at once in NumPy uint64 arithmetic;
labels are Lemire draws on 16-bit (or 32-bit) slices with rejected slices skipped, which
vectorises as "accept, then keep the first N·n accepted slices of the trial"; the layout
shuffle (``shuffled``) is a plain Python Fisher–Yates on the same outputs.

Grouped split (``n_partitions`` G): only G partitions are drawn per trial (as if N = G) and
parent p takes partition p % G, as in the kernels (literal: the same stream, bit for bit).

Counting: a clause is held by a child when all its k literals carry that child's label.
"""

from __future__ import annotations

import numpy as np

from ._validate import LAYOUTS, check_choice, check_int
from .models import get_model


def simulate_reference(n_clauses, clause_size, alpha, n_parents, *, trials, seed=0,
                       model="partition", layout="contiguous", batch=256, key_dtype=np.float64,
                       n_partitions=None):
    """Per-trial (missed clauses, collisions, parents until all covered or N+1, clause 0 covered)."""
    from .montecarlo import check_n_partitions
    m = get_model(model)
    cfg = m.check_config(n_clauses, clause_size, alpha)
    n_par = check_int("n_parents", n_parents, minimum=1)
    trials = check_int("trials", trials, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if seed >= 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed}")
    model = m.name
    layout = check_choice("layout", layout, LAYOUTS)
    m.check_simulation(cfg)
    g = check_n_partitions(n_partitions, n_par, model)
    draw = n_par if g is None else g
    deal = np.arange(n_par) % draw  # parent p -> its partition
    c, k, a, n, d = cfg.n_clauses, cfg.clause_size, cfg.alpha, cfg.n, cfg.d
    if model == "literal":
        labels, pos = literal_stream(n, a, draw, trials, seed, layout == "shuffled")
        return _count_labels(labels[:, deal], pos, c, k, a)
    outs = []
    for b, start in enumerate(range(0, trials, batch)):
        t = min(batch, trials - start)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, b])))
        if layout == "shuffled":
            pos = np.argsort(rng.random((t, n), dtype=key_dtype), axis=1)  # (t, n) literal -> input
        else:
            pos = np.broadcast_to(np.arange(n), (t, n))
        if model == "subset":
            keys = rng.random((t, n_par * a, n), dtype=key_dtype)  # (t, units, n)
            order = np.argsort(keys, axis=2)
            member = np.zeros((t, n_par * a, n), dtype=bool)
            np.put_along_axis(member, order[:, :, :d], True, axis=2)
            lit = np.take_along_axis(member, np.broadcast_to(pos[:, None, :], member.shape), axis=2)
            held = lit.reshape(t, n_par * a, c, k).all(axis=3)  # (t, units, C)
            per_unit = held.sum(axis=2)
            coll = (per_unit * (per_unit - 1) // 2).sum(axis=1)
            by_parent = held.reshape(t, n_par, a, c).any(axis=2)  # (t, N, C)
        else:
            if model == "partition":
                keys = rng.random((t, draw, n), dtype=key_dtype)
                order = np.argsort(keys, axis=2)
                labels = np.empty((t, draw, n), dtype=np.int64)
                np.put_along_axis(labels, order, np.broadcast_to(np.arange(n) // d, order.shape), axis=2)
                labels = labels[:, deal]
            else:
                keys = rng.random((t, n_par, n // 4, 4), dtype=key_dtype)
                order = np.argsort(keys, axis=3)
                labels = np.empty((t, n_par, n // 4, 4), dtype=np.int64)
                np.put_along_axis(labels, order, np.broadcast_to(np.array([0, 0, 1, 1]), order.shape), axis=3)
                labels = labels.reshape(t, n_par, n)
            outs.append(_count_labels(labels, pos, c, k, a))
            continue
        outs.append(_summary(by_parent, coll))
    return tuple(np.concatenate([o[i] for o in outs]) for i in range(4))


def _count_labels(labels: np.ndarray, pos: np.ndarray, c: int, k: int, a: int):
    """Per-trial outputs from child labels (trials, N, n) and literal positions (trials, n)."""
    t, n_par, n = labels.shape
    lit = np.take_along_axis(labels, np.broadcast_to(pos[:, None, :], labels.shape), axis=2)
    lit = lit.reshape(t, n_par, c, k)
    held = (lit == lit[..., :1]).all(axis=3)  # (t, N, C): clause inside one child
    child = lit[..., 0]
    coll = np.zeros(t, dtype=np.int64)
    for ch in range(a):
        cnt = (held & (child == ch)).sum(axis=2)  # (t, N)
        coll += (cnt * (cnt - 1) // 2).sum(axis=1)
    return _summary(held, coll)


def _summary(by_parent: np.ndarray, coll: np.ndarray):
    """(missed, collisions, parents until all covered or N+1, clause 0 covered) per trial from
    the clauses each parent covers, (trials, N, C)."""
    _, n_par, c = by_parent.shape
    covered_after = np.logical_or.accumulate(by_parent, axis=1)  # (t, N, C)
    all_after = covered_after.all(axis=2)  # (t, N)
    first = np.where(all_after.any(axis=1), all_after.argmax(axis=1) + 1, n_par + 1)
    missed = c - covered_after[:, -1, :].sum(axis=1)
    return missed, coll, first, covered_after[:, -1, 0]


# ----------------------------------------------------------------------------- the kernels' stream
_M64 = (1 << 64) - 1


def _u64(x: int) -> np.uint64:
    return np.uint64(x & _M64)


def _splitmix64(x: np.ndarray):
    x = x + _u64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * _u64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * _u64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


def _rotl(x: np.ndarray, k: int) -> np.ndarray:
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


class _Streams:
    """xoshiro256** streams of chunks 0..n-1 for one seed, stepped together (uint64 arrays)."""

    def __init__(self, seed: int, n_chunks: int):
        from ._kernels import seed_state  # the kernels' seeding, one chunk at a time

        st = np.empty((n_chunks, 4), dtype=np.uint64)
        for ch in range(n_chunks):
            seed_state(np.uint64(seed), ch, st[ch])
        self.s = [st[:, i].copy() for i in range(4)]

    def outputs(self, m: int) -> np.ndarray:
        """The next ``m`` outputs of every stream, (n_chunks, m)."""
        s0, s1, s2, s3 = self.s
        out = np.empty((s0.size, m), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(m):
                out[:, j] = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
                t = s1 << np.uint64(17)
                s2 = s2 ^ s0
                s3 = s3 ^ s1
                s1 = s1 ^ s2
                s0 = s0 ^ s3
                s2 = s2 ^ t
                s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return out


def _draws_fy(buf: np.ndarray, ptr: int, arr: list):
    """Fisher–Yates of ``arr`` in place on the outputs ``buf[ptr:]`` exactly as
    ``_kernels._fisher_yates`` (bounds > 4096: 32-bit halves, else 16-bit slices, high first; a
    rejection or a phase change discards the rest of the output). Returns the next pointer."""
    from ._kernels import SMALL_BOUND

    n = len(arr)
    i = n - 1
    while i > 0:
        x = int(buf[ptr])
        ptr += 1
        width = 32 if i >= SMALL_BOUND else 16
        for q in range(64 // width):
            if (i >= SMALL_BOUND) != (width == 32) or i == 0:
                break
            b = i + 1
            mask = (1 << width) - 1
            mm = ((x >> (64 - width * (q + 1))) & mask) * b
            low = mm & mask
            if low < b and low < ((1 << width) - b) % b:
                break
            j = mm >> width
            arr[i], arr[j] = arr[j], arr[i]
            i -= 1
    return ptr


def literal_stream(n: int, alpha: int, n_parents: int, trials: int, seed: int, shuffled: bool):
    """The literal model's labels (trials, N, n) and positions (trials, n) that the kernels draw."""
    from ._kernels import CHUNK, SMALL_BOUND

    width, per = (16, 4) if alpha <= SMALL_BOUND else (32, 2)
    mask = np.uint64((1 << width) - 1)
    thresh = np.uint64(((1 << width) - alpha) % alpha)
    need = n_parents * n  # labels per trial
    n_chunks = (trials + CHUNK - 1) // CHUNK
    streams = _Streams(seed, n_chunks)
    # outputs per trial: FY (<= n) + labels (need/per, plus rejections, rare): grow on demand
    est = min(CHUNK, trials) * ((n + 2 if shuffled else 0) + need // per + 2)
    buf = streams.outputs(est + est // 64 + 64)
    labels = np.empty((trials, n_parents, n), dtype=np.int64)
    pos = np.broadcast_to(np.arange(n), (trials, n)).copy()
    shifts = np.array([width * (per - 1 - q) for q in range(per)], dtype=np.uint64)
    for ch in range(n_chunks):
        ptr = 0
        layout = list(range(n))  # the kernels reset positions per chunk and reshuffle them per trial
        for t in range(ch * CHUNK, min((ch + 1) * CHUNK, trials)):
            while True:
                try:
                    trial_layout = list(layout)
                    p2 = _draws_fy(buf[ch], ptr, trial_layout) if shuffled else ptr
                    got, p3 = _accepted_labels(buf[ch], p2, need, alpha, per, shifts, mask, thresh)
                    break
                except IndexError:  # ran out of generated outputs: extend every stream
                    buf = np.concatenate([buf, streams.outputs(buf.shape[1] // 2 + 64)], axis=1)
            layout = trial_layout
            pos[t] = layout
            labels[t] = got.reshape(n_parents, n)
            ptr = p3
    return labels, pos


def _accepted_labels(row: np.ndarray, ptr: int, need: int, alpha: int, per: int, shifts, mask, thresh):
    """The first ``need`` accepted Lemire draws from outputs ``row[ptr:]`` (a fresh output first)."""
    take = need // per + 1
    while True:
        if ptr + take > row.size:
            raise IndexError("stream exhausted")
        x = row[ptr:ptr + take]
        sl = (x[:, None] >> shifts[None, :]) & mask  # (outputs, slices), high first
        m = sl.ravel() * np.uint64(alpha)
        ok = (m & mask) >= thresh
        if int(ok.sum()) >= need:
            idx = np.flatnonzero(ok)[:need]
            used = int(idx[-1]) // per + 1  # outputs consumed, the last one partly (rest dropped)
            return (m[idx] >> np.uint64(64 // per)).astype(np.int64), ptr + used
        take += max(4, take // 8)
