"""Plain NumPy reference of the split Monte Carlo: argsort of random keys per parent.

The same sampling as ``_kernels`` written the obvious vectorised way, to test the Numba
kernels against (distributionally: the random streams differ) and to benchmark them:

- partition: ``rank = argsort(keys)`` of n uniform keys per parent; input ``rank[r]`` goes
  to child ``r // d`` (a uniform balanced partition);
- independent: alpha·N units, the d inputs with the smallest keys (a uniform d-subset);
- two_four: per aligned group of 4 inputs, the 2 with the smallest keys go to child 0.
- layout ``shuffled``: literal l sits at input ``argsort(layout keys)[l]``, once per trial.

Counting: a clause is held by a child when all its k literals carry that child's label.
Trials run in batches; batch b draws from ``Generator(PCG64(SeedSequence([seed, b])))``.
"""

from __future__ import annotations

import numpy as np

from ._validate import SIM_MODELS, LAYOUTS, check_choice, check_config, check_int


def simulate_reference(n_clauses, clause_size, alpha, n_parents, *, trials, seed=0,
                       model="partition", layout="contiguous", batch=256, key_dtype=np.float64):
    """Per-trial (missed clauses, collisions, parents until all covered or N+1, clause 0 covered)."""
    cfg = check_config(n_clauses, clause_size, alpha)
    n_par = check_int("n_parents", n_parents, minimum=1)
    trials = check_int("trials", trials, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    model = check_choice("model", model, SIM_MODELS)
    layout = check_choice("layout", layout, LAYOUTS)
    c, k, a, n, d = cfg.n_clauses, cfg.clause_size, cfg.alpha, cfg.n, cfg.d
    if model == "two_four" and (a != 2 or n % 4):
        raise ValueError("model='two_four' needs alpha = 2 and n a multiple of 4")
    outs = []
    for b, start in enumerate(range(0, trials, batch)):
        t = min(batch, trials - start)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, b])))
        if layout == "shuffled":
            pos = np.argsort(rng.random((t, n), dtype=key_dtype), axis=1)  # (t, n) literal -> input
        else:
            pos = np.broadcast_to(np.arange(n), (t, n))
        if model == "independent":
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
                keys = rng.random((t, n_par, n), dtype=key_dtype)
                order = np.argsort(keys, axis=2)
                labels = np.empty((t, n_par, n), dtype=np.int64)
                np.put_along_axis(labels, order, np.broadcast_to(np.arange(n) // d, order.shape), axis=2)
            else:
                keys = rng.random((t, n_par, n // 4, 4), dtype=key_dtype)
                order = np.argsort(keys, axis=3)
                labels = np.empty((t, n_par, n // 4, 4), dtype=np.int64)
                np.put_along_axis(labels, order, np.broadcast_to(np.array([0, 0, 1, 1]), order.shape), axis=3)
                labels = labels.reshape(t, n_par, n)
            lit = np.take_along_axis(labels, np.broadcast_to(pos[:, None, :], labels.shape), axis=2)
            lit = lit.reshape(t, n_par, c, k)
            held = (lit == lit[..., :1]).all(axis=3)  # (t, N, C): clause inside one child
            child = lit[..., 0]
            coll = np.zeros(t, dtype=np.int64)
            for ch in range(a):
                cnt = (held & (child == ch)).sum(axis=2)  # (t, N)
                coll += (cnt * (cnt - 1) // 2).sum(axis=1)
            by_parent = held
        covered_after = np.logical_or.accumulate(by_parent, axis=1)  # (t, N, C)
        all_after = covered_after.all(axis=2)  # (t, N)
        first = np.where(all_after.any(axis=1), all_after.argmax(axis=1) + 1, n_par + 1)
        missed = c - covered_after[:, -1, :].sum(axis=1)
        c0 = covered_after[:, -1, 0]
        outs.append((missed, coll, first, c0))
    return tuple(np.concatenate([o[i] for o in outs]) for i in range(4))
