"""Monte Carlo of the random split: ``simulate`` and its ``SimulationResult``.

``simulate`` samples the actual masks (``_kernels``: Numba, parallel over chunks of trials,
results independent of the thread count) under any model of ``fpe_theory.models`` and
reports P(all clauses covered), P(a clause covered) and the mean number of collisions, each
with a 99.9% interval (``_stats``). The bound-checking CLI is ``fpe_theory.bound_checks``
(run as ``python -m fpe_theory.simulate``).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from ._stats import LEVEL, Estimate, make_estimate
from ._validate import LAYOUTS, check_choice, check_int
from .models import DEPRECATED_ALIASES, get_model

__all__ = ["simulate", "SimulationResult", "check_seed", "simulation_frame", "sample_masks"]

BATCH = 1 << 16  # trials per kernel call; a multiple of _kernels.CHUNK
MAX_SEED = 2**64
MAX_TRIALS = 2**62


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Monte Carlo estimates for one configuration.

    ``p_all_covered``, ``p_clause_covered`` (mean covered fraction of clauses) and
    ``mean_collisions`` are ``Estimate``s with a 99.9% interval (``.low``, ``.high``;
    ``.interval(level)`` for other levels). Histograms (counts of trials):
    ``missed_histogram[m]`` trials with m clauses missed; ``first_cover_histogram[j]``
    trials whose clauses were all covered after exactly j parents (j = n_parents + 1: never),
    which gives P(all covered) for every smaller number of parents too (``p_all_covered_at``);
    ``collisions_histogram[v]`` trials with v collisions. ``n_partitions``: G of a grouped
    split (parent p uses partition p % G), None for the classic split; ``config()`` and
    ``to_dict()`` name it only when set.
    """

    n_clauses: int
    clause_size: int
    alpha: int
    n_parents: int
    model: str
    layout: str
    trials: int
    seed: int
    p_all_covered: Estimate
    p_clause_covered: Estimate
    mean_collisions: Estimate
    missed_histogram: np.ndarray = field(repr=False)
    first_cover_histogram: np.ndarray = field(repr=False)
    collisions_histogram: np.ndarray = field(repr=False)
    clause0_covered: int = 0
    n_partitions: int | None = None

    @property
    def collisions_variance(self) -> float:
        """Sample variance (divisor trials - 1) of the collisions per trial, from the histogram."""
        v = np.arange(self.collisions_histogram.size, dtype=np.float64)
        h = self.collisions_histogram.astype(np.float64)
        t = float(h.sum())
        mean = float(np.dot(v, h)) / t
        return float(np.dot((v - mean) ** 2, h)) / max(t - 1.0, 1.0)

    def collisions_variance_interval(self, level: float = LEVEL) -> tuple[float, float]:
        """Asymptotic (normal) interval for the collisions variance at ``level``: sample
        variance +- z·sqrt((m4 - s^4) / trials), m4 the sample fourth central moment."""
        from statistics import NormalDist

        v = np.arange(self.collisions_histogram.size, dtype=np.float64)
        h = self.collisions_histogram.astype(np.float64)
        t = float(h.sum())
        mean = float(np.dot(v, h)) / t
        s2 = self.collisions_variance
        m4 = float(np.dot((v - mean) ** 4, h)) / t
        z = NormalDist().inv_cdf(0.5 + level / 2)
        half = z * math.sqrt(max(m4 - s2 * s2, 0.0) / t)
        return s2 - half, s2 + half

    def p_all_covered_at(self, n_parents: int, level: float = LEVEL) -> Estimate:
        """P(all covered) with the first ``n_parents`` parents of each trial (<= n_parents)."""
        m = check_int("n_parents", n_parents, minimum=1)
        if m > self.n_parents:
            raise ValueError(f"n_parents must be <= {self.n_parents} (the simulated count), got {m}")
        hits = int(self.first_cover_histogram[: m + 1].sum())
        return make_estimate("proportion", self.trials, hits, hits, (), level)

    def coverage_curve(self, level: float = LEVEL) -> dict:
        """Arrays ``n_parents`` (1..N), ``p``, ``low``, ``high``: P(all covered) vs parents."""
        ns = np.arange(1, self.n_parents + 1)
        ests = [self.p_all_covered_at(int(m), level) for m in ns]
        return {"n_parents": ns, "p": np.array([e.value for e in ests]),
                "low": np.array([e.low for e in ests]), "high": np.array([e.high for e in ests])}

    def config(self) -> dict:
        d = {"n_clauses": self.n_clauses, "clause_size": self.clause_size, "alpha": self.alpha,
             "n_parents": self.n_parents, "model": self.model, "layout": self.layout,
             "trials": self.trials, "seed": self.seed}
        if self.n_partitions is not None:
            d["n_partitions"] = self.n_partitions
        return d

    def to_dict(self) -> dict:
        """JSON-ready dict (histograms as lists); ``from_dict`` inverts it."""
        d = self.config()
        d.update({
            "p_all_covered": self.p_all_covered.to_dict(),
            "p_clause_covered": self.p_clause_covered.to_dict(),
            "mean_collisions": self.mean_collisions.to_dict(),
            "missed_histogram": self.missed_histogram.tolist(),
            "first_cover_histogram": self.first_cover_histogram.tolist(),
            "collisions_histogram": self.collisions_histogram.tolist(),
            "clause0_covered": self.clause0_covered,
        })
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SimulationResult":
        """Inverse of ``to_dict``; a dict whose histograms do not fit its config and trial
        count (a damaged or edited file) is a ``ValueError``, never a silently wrong result."""
        if not isinstance(d, dict):
            raise TypeError(f"a stored simulation must be a dict, got {type(d).__name__}")
        name = d["model"]
        # stored data, not a call: the old name maps to its model silently
        m = get_model(DEPRECATED_ALIASES.get(name, name) if isinstance(name, str) else name)
        cfg = m.check_config(d["n_clauses"], d["clause_size"], d["alpha"])
        n_par = check_int("n_parents", d["n_parents"], minimum=1)
        trials = check_int("trials", d["trials"], minimum=1)
        model = m.name
        layout = check_choice("layout", d["layout"], LAYOUTS)
        seed = check_seed(d["seed"])

        def hist(name: str, size: int | None) -> np.ndarray:
            v = d[name]
            if not isinstance(v, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
                raise ValueError(f"{name} must be a list of integers")
            h = np.asarray(v, dtype=np.int64) if v else np.zeros(0, np.int64)
            if (size is not None and h.size != size) or h.size == 0 or (h < 0).any() or int(h.sum()) != trials:
                raise ValueError(f"{name} does not fit the config (size {h.size}, total {int(h.sum())} "
                                 f"for {trials} trials): damaged")
            return h

        missed = hist("missed_histogram", cfg.n_clauses + 1)
        first = hist("first_cover_histogram", n_par + 2)
        coll = hist("collisions_histogram", None)
        c0 = check_int("clause0_covered", d["clause0_covered"], minimum=0)
        if c0 > trials:
            raise ValueError(f"clause0_covered must be <= trials = {trials}, got {c0}")
        n_part = check_n_partitions(d.get("n_partitions"), n_par, model)
        return _result_from_histograms(cfg.n_clauses, cfg.clause_size, cfg.alpha, n_par, model, layout,
                                       trials, seed, missed, first, coll, c0, n_part)


def _exchangeable(model: str, layout: str) -> bool:
    """Clauses are exchangeable (clause 0 is a fair sample) unless the model depends on where
    literals sit and they sit contiguously (two_four)."""
    return not (get_model(model).layout_dependent and layout == "contiguous")


def _collisions_estimate(trials, total, total_sq, n_par, n_partitions) -> Estimate:
    if n_partitions is None or n_partitions == n_par:
        return make_estimate("count", trials, float(total), float(total_sq), ())
    q, r = divmod(n_par, n_partitions)  # group sizes q (and q + 1 when r > 0)
    return make_estimate("lumped_count", trials, float(total), float(total_sq),
                         (q, q + (r > 0), n_par / n_partitions))


def _result_from_histograms(c, k, a, n_par, model, layout, trials, seed, missed_h, first_h,
                            coll_h, c0, n_partitions=None) -> SimulationResult:
    trials = int(trials)
    m = np.arange(missed_h.size)
    frac = (c - m) / c
    frac_total = float(np.dot(frac, missed_h))
    frac_sq = float(np.dot(frac * frac, missed_h))
    aux = (c, trials - int(missed_h[0]), trials - int(missed_h[c]) if c < missed_h.size else trials,
           int(c0) if _exchangeable(model, layout) else -1)
    v = range(coll_h.size)
    coll_total = sum(int(x) * int(h) for x, h in zip(v, coll_h))  # exact ints: no overflow
    coll_sq = sum(int(x) * int(x) * int(h) for x, h in zip(v, coll_h))
    all_hits = int(missed_h[0])
    return SimulationResult(
        c, k, a, n_par, model, layout, trials, int(seed),
        make_estimate("proportion", trials, all_hits, all_hits, ()),
        make_estimate("fraction", trials, frac_total, frac_sq, aux),
        _collisions_estimate(trials, coll_total, coll_sq, n_par, n_partitions),
        missed_h, first_h, coll_h, int(c0), n_partitions,
    )


def _check_threads(threads):
    if threads is None:
        return None
    import numba

    t = check_int("threads", threads, minimum=1)
    if t > numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be an integer in [1, {numba.config.NUMBA_NUM_THREADS}] "
                         f"(NUMBA_NUM_THREADS), got {t}")
    return t


#: models with a grouped split (``n_partitions``): a unit is a parent holding one partition
GROUPED_MODELS = ("partition", "literal")


def check_n_partitions(n_partitions, n_parents: int, model: str) -> int | None:
    """``n_partitions`` checked: None, or an int in [1, n_parents] for a model in GROUPED_MODELS."""
    if n_partitions is None:
        return None
    g = check_int("n_partitions", n_partitions, minimum=1)
    if g > n_parents:
        raise ValueError(f"n_partitions must be <= n_parents = {n_parents}, got {g}")
    if model not in GROUPED_MODELS:
        raise ValueError(f"n_partitions needs model in {list(GROUPED_MODELS)} (a grouped split shares a "
                         f"partition of the inputs), got model={model!r}")
    return g


def check_seed(seed) -> int:
    s = check_int("seed", seed, minimum=0)
    if s >= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {s}")
    return s


def simulate(n_clauses, clause_size, alpha, n_parents, *, trials, seed=0, model="partition",
             layout="contiguous", threads=None, progress: bool = False,
             n_partitions=None) -> SimulationResult:
    """Monte Carlo of the random split: sample every parent's masks ``trials`` times.

    Models ``"partition"`` (uniform balanced split of each parent), ``"literal"`` (each
    input to an independent uniform child: the paper's model; any alpha >= 2), ``"subset"``
    (alpha·N independent uniform d-subsets; ``"independent"`` is its deprecated old name)
    and ``"two_four"`` (alpha = 2, each aligned group of 4 inputs split 2/2); ``layout``
    ``"contiguous"`` or ``"shuffled"`` (literal positions uniformly permuted once per trial;
    only two_four depends on it). Same ``seed`` -> identical result for any ``threads``
    (None: numba's current setting; the global setting is restored afterwards).
    ``n_partitions=G`` (partition and literal models, 1 <= G <= n_parents): the grouped split,
    parent p using partition p % G (so coverage is that of G parents and each partition's
    collisions count once per parent holding it); None: the classic split, the same stream.
    """
    m = get_model(model)
    cfg = m.check_config(n_clauses, clause_size, alpha)
    n_par = check_int("n_parents", n_parents, minimum=1)
    trials = check_int("trials", trials, minimum=1)
    if trials > MAX_TRIALS:  # int64 histograms (and any feasible run) stay far below this
        raise ValueError(f"trials must be an integer in [1, 2**62], got {trials}")
    seed = check_seed(seed)
    model = m.name
    layout = check_choice("layout", layout, LAYOUTS)
    threads = _check_threads(threads)
    n_part = check_n_partitions(n_partitions, n_par, model)
    m.check_simulation(cfg)
    if n_par * cfg.n > 2**31 - 1:
        raise ValueError(f"n_parents * n must be < 2**31 for simulation, got {n_par * cfg.n}")
    import numba

    from . import _kernels as K

    c, n = cfg.n_clauses, cfg.n
    missed_h = np.zeros(c + 1, dtype=np.int64)
    first_h = np.zeros(n_par + 2, dtype=np.int64)
    coll_h = np.zeros(1, dtype=np.int64)
    c0 = 0
    starts = list(range(0, trials, BATCH))
    bar = None
    if progress and len(starts) > 1:
        from tqdm import tqdm

        bar = tqdm(total=trials, unit="trial", file=sys.stderr, leave=False)
    shuffled = layout == "shuffled"
    words = K.use_words(cfg.clause_size, shuffled, cfg.alpha)
    previous = numba.get_num_threads()
    try:
        if threads is not None:
            numba.set_num_threads(threads)
        for start in starts:
            t = min(BATCH, trials - start)
            n_chunks = (t + K.CHUNK - 1) // K.CHUNK
            labs = np.empty((n_chunks, K.padded(n)), dtype=K.label_dtype(cfg.alpha))
            om = np.empty(t, dtype=np.int32)
            oc = np.empty(t, dtype=np.int64)
            of = np.empty(t, dtype=np.int32)
            o0 = np.empty(t, dtype=np.int8)
            K.simulate_batch(c, cfg.clause_size, cfg.alpha, n_par, m.sim_code, shuffled,
                             words, np.uint64(seed), start // K.CHUNK, t, labs, om, oc, of, o0,
                             0 if n_part is None else n_part)
            missed_h += np.bincount(om, minlength=c + 1)
            first_h += np.bincount(of, minlength=n_par + 2)
            hc = np.bincount(oc)
            if hc.size > coll_h.size:
                hc[: coll_h.size] += coll_h
                coll_h = hc
            else:
                coll_h[: hc.size] += hc
            c0 += int(o0.sum())
            if bar is not None:
                bar.update(t)
    finally:
        if threads is not None:
            numba.set_num_threads(previous)
        if bar is not None:
            bar.close()
    return _result_from_histograms(c, cfg.clause_size, cfg.alpha, n_par, model, layout, trials,
                                   seed, missed_h, first_h, coll_h, c0, n_part)


def sample_masks(n_clauses, clause_size, alpha, n_parents, *, seed=0, trial=0,
                 model="partition", layout="contiguous", n_partitions=None):
    """The masks ``simulate`` draws in trial ``trial`` (same seed, same stream).

    Returns ``(masks, positions)``: ``masks`` is a bool array (n_parents, units, n) with
    ``units = alpha`` (children, or the subset model's units of a parent; literal children
    may be empty or hold any number of inputs); ``positions[l]`` is the
    input that literal l (clause l // clause_size) sits at (identity for contiguous).
    ``n_partitions``: as for ``simulate`` (parent p repeats parent p % G's masks).
    """
    from . import _kernels as K

    m = get_model(model)
    cfg = m.check_config(n_clauses, clause_size, alpha)
    n_par = check_int("n_parents", n_parents, minimum=1)
    seed = check_seed(seed)
    trial = check_int("trial", trial, minimum=0)
    layout = check_choice("layout", layout, LAYOUTS)
    n_part = check_n_partitions(n_partitions, n_par, m.name)
    m.check_simulation(cfg)
    lab = np.empty(K.padded(cfg.n), dtype=K.label_dtype(cfg.alpha))
    shuffled = layout == "shuffled"
    rec, pos, _, _, _ = K.trace_trial(cfg.n_clauses, cfg.clause_size, cfg.alpha, n_par, m.sim_code, shuffled,
                                      K.use_words(cfg.clause_size, shuffled, cfg.alpha), np.uint64(seed), trial,
                                      lab, 0 if n_part is None else n_part)
    return rec.astype(bool), pos.astype(np.int64)


def simulation_frame(result: SimulationResult) -> "pandas.DataFrame":
    """One row per m = 1..n_parents: ``p_all_covered`` with its 99.9% interval
    (``p_all_low`` / ``p_all_high``) using the first m parents of every trial, plus on every
    row the full run's ``p_clause_covered`` / ``mean_collisions`` estimates and intervals at
    ``sim_n_parents`` (the format of the stored ``theory-sim`` runs the figures read)."""
    import pandas as pd

    r = result
    curve = r.coverage_curve()
    n = len(curve["n_parents"])
    frame = pd.DataFrame({
        "model": [r.model] * n,
        "layout": [r.layout] * n,
        "n_clauses": [r.n_clauses] * n,
        "clause_size": [r.clause_size] * n,
        "alpha": [r.alpha] * n,
        "seed": [r.seed] * n,
        "trials": [r.trials] * n,
        "n_parents": curve["n_parents"].astype(np.int64),
        "p_all_covered": curve["p"],
        "p_all_low": curve["low"],
        "p_all_high": curve["high"],
    })
    for name in ("p_clause_covered", "mean_collisions"):
        est = getattr(r, name)
        frame[name] = est.value
        frame[f"{name}_low"] = est.low
        frame[f"{name}_high"] = est.high
    frame["sim_n_parents"] = r.n_parents
    return frame
