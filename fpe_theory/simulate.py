"""Monte Carlo of the random split, and ``python -m fpe_theory.simulate`` (bound checks).

``simulate`` samples the actual masks (``_kernels``: Numba, parallel over chunks of trials,
results independent of the thread count) and reports P(all clauses covered), P(a clause
covered) and the mean number of collisions, each with a 99.9% interval (``_stats``).

The CLI compares these with the closed forms on a grid around the paper (clause_size 4,
alpha in {2, 4}, n_clauses 4-32, n_parents 4-64). Its exit code is 1 if an exact value
falls outside its interval, where the intervals behind the exit code are Bonferroni-corrected
over every interval checked, so a correct implementation raises a false alarm with
probability at most ``--family-alpha`` (default 0.001); the 99.9% intervals are printed too.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ._stats import LEVEL, Estimate, make_estimate
from ._validate import (
    LAYOUTS,
    SIM_MODELS,
    check_choice,
    check_config,
    check_int,
)

__all__ = ["simulate", "SimulationResult", "main"]

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
    ``collisions_histogram[v]`` trials with v collisions.
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
        return {"n_clauses": self.n_clauses, "clause_size": self.clause_size, "alpha": self.alpha,
                "n_parents": self.n_parents, "model": self.model, "layout": self.layout,
                "trials": self.trials, "seed": self.seed}

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
        cfg = check_config(d["n_clauses"], d["clause_size"], d["alpha"])
        n_par = check_int("n_parents", d["n_parents"], minimum=1)
        trials = check_int("trials", d["trials"], minimum=1)
        model = check_choice("model", d["model"], SIM_MODELS)
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
        return _result_from_histograms(cfg.n_clauses, cfg.clause_size, cfg.alpha, n_par, model, layout,
                                       trials, seed, missed, first, coll, c0)


def _exchangeable(model: str, layout: str) -> bool:
    """Clauses are exchangeable (clause 0 is a fair sample) except two_four contiguous."""
    return not (model == "two_four" and layout == "contiguous")


def _result_from_histograms(c, k, a, n_par, model, layout, trials, seed, missed_h, first_h,
                            coll_h, c0) -> SimulationResult:
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
        make_estimate("count", trials, float(coll_total), float(coll_sq), ()),
        missed_h, first_h, coll_h, int(c0),
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


def check_seed(seed) -> int:
    s = check_int("seed", seed, minimum=0)
    if s >= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {s}")
    return s


def simulate(n_clauses, clause_size, alpha, n_parents, *, trials, seed=0, model="partition",
             layout="contiguous", threads=None, progress: bool = False) -> SimulationResult:
    """Monte Carlo of the random split: sample every parent's masks ``trials`` times.

    Models ``"partition"`` (uniform balanced split of each parent), ``"independent"``
    (alpha·N independent uniform d-subsets) and ``"two_four"`` (alpha = 2, each aligned
    group of 4 inputs split 2/2); ``layout`` ``"contiguous"`` or ``"shuffled"`` (literal
    positions uniformly permuted once per trial). Same ``seed`` -> identical result for any
    ``threads`` (None: numba's current setting; the global setting is restored afterwards).
    """
    cfg = check_config(n_clauses, clause_size, alpha)
    n_par = check_int("n_parents", n_parents, minimum=1)
    trials = check_int("trials", trials, minimum=1)
    if trials > MAX_TRIALS:  # int64 histograms (and any feasible run) stay far below this
        raise ValueError(f"trials must be an integer in [1, 2**62], got {trials}")
    seed = check_seed(seed)
    model = check_choice("model", model, SIM_MODELS)
    layout = check_choice("layout", layout, LAYOUTS)
    threads = _check_threads(threads)
    if model == "two_four":
        from .closed_forms import _check_two_four

        _check_two_four(cfg)
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
            K.simulate_batch(c, cfg.clause_size, cfg.alpha, n_par, K.MODEL_CODES[model], shuffled,
                             words, np.uint64(seed), start // K.CHUNK, t, labs, om, oc, of, o0)
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
                                   seed, missed_h, first_h, coll_h, c0)


# ============================================================================= CLI
DEFAULT_GRID = {"n_clauses": (4, 8, 16, 32), "alphas": (2, 4), "n_parents": (4, 8, 16, 32, 64)}
QUICK_GRID = {"n_clauses": (4, 8, 16, 32), "alphas": (2, 4), "n_parents": (4, 16, 64)}
DEFAULT_TRIALS = 20000
QUICK_TRIALS = 4000
PROG = "python -m fpe_theory.simulate"
STORE_VERSION = 1


def _int_list(text: str) -> tuple[int, ...]:
    import argparse

    # ArgumentTypeError: argparse then names the option ("argument --clauses: ...")
    try:
        vals = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {text!r}")
    return vals


def _parser():
    import argparse

    from .cli_errors import OneLineArgumentParser

    p = OneLineArgumentParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Check the closed forms of fpe_theory against a Monte Carlo of the actual random\n"
            "split, on a grid around the paper (clause_size 4, alpha in {2,4}, n_clauses 4-32,\n"
            "n_parents 4-64). For each config it prints the exact value, the paper's\n"
            "approximation and the simulated value with its 99.9% interval."),
        epilog=(
            "Verdict and exit code: with many configs, some 99.9% interval would miss a correct\n"
            "value by chance. The exit code therefore uses Bonferroni-corrected intervals: each\n"
            "of the m checked intervals at level 1 - FAMILY_ALPHA/m, so a correct implementation\n"
            "fails (exit 1) with probability <= FAMILY_ALPHA (default 0.001). Values outside a\n"
            "99.9% interval are marked '*' for information only. Exit 2: bad input.\n"
            "With --json FILE an interrupted run resumes: configs already in FILE (same seed,\n"
            "trials, model, layout) are not simulated again."),
    )
    p.add_argument("--quick", action="store_true",
                   help=f"smaller grid (n_parents {QUICK_GRID['n_parents']}) and {QUICK_TRIALS} trials; < 1 min")
    p.add_argument("--trials", type=int, default=None,
                   help=f"trials per config (default {DEFAULT_TRIALS}, --quick {QUICK_TRIALS})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same numbers")
    p.add_argument("--threads", type=int, default=None, help="numba threads (default: numba's setting)")
    p.add_argument("--model", choices=SIM_MODELS + ("all",), default="partition",
                   help="random model to simulate (default partition; two_four has no exact P(all))")
    p.add_argument("--layout", choices=LAYOUTS, default="contiguous",
                   help="clause layout (default contiguous; shuffled permutes literal positions per trial)")
    p.add_argument("--clause-size", type=int, default=4, help="literals per clause (default 4)")
    p.add_argument("--clauses", type=_int_list, default=None, metavar="LIST",
                   help="n_clauses grid, e.g. 4,8,16,32")
    p.add_argument("--alphas", type=_int_list, default=None, metavar="LIST", help="alpha grid, e.g. 2,4")
    p.add_argument("--parents", type=_int_list, default=None, metavar="LIST",
                   help="n_parents grid, e.g. 4,8,16,32,64")
    p.add_argument("--family-alpha", type=float, default=1e-3,
                   help="family-wise false-alarm rate of the exit code (default 0.001)")
    p.add_argument("--json", default=None, metavar="FILE", help="write all results as JSON (and resume from it)")
    p.add_argument("--csv", default=None, metavar="FILE", help="write one row per config as CSV")
    p.add_argument("--plot", default=None, metavar="DIR", help="write PNG figures to DIR")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="force the progress bar (default: only on a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


@dataclass
class Row:
    """One config: the simulation and the closed forms it is checked against."""

    result: SimulationResult
    exact_all: float | None
    paper_all: float | None
    union_all: float | None
    exact_clause: float | None
    paper_clause: float | None
    exact_coll: float | None
    paper_coll: float | None

    def checks(self):
        """(name, exact value, estimate) for every interval used by the verdict."""
        r = self.result
        out = []
        if self.exact_all is not None:
            out.append(("p_all_covered", self.exact_all, r.p_all_covered))
        if self.exact_clause is not None:
            out.append(("p_clause_covered", self.exact_clause, r.p_clause_covered))
        if self.exact_coll is not None:
            out.append(("mean_collisions", self.exact_coll, r.mean_collisions))
        return out


def _closed_forms_row(res: SimulationResult) -> Row:
    from . import closed_forms as cf

    c, k, a, n_par = res.n_clauses, res.clause_size, res.alpha, res.n_parents
    if res.model == "two_four":
        clause = cf.prob_clause_covered(c, k, a, n_par, model="two_four", layout=res.layout)
        coll = cf.expected_collisions(c, k, a, n_par, model="two_four", layout=res.layout)
        return Row(res, None, None, None, clause, None, coll, None)
    return Row(
        res,
        cf.prob_all_covered(c, k, a, n_par, model=res.model),
        cf.prob_all_covered(c, k, a, n_par, model=res.model, method="paper"),
        cf.prob_all_covered(c, k, a, n_par, model=res.model, method="union_bound"),
        cf.prob_clause_covered(c, k, a, n_par, model=res.model),
        cf.prob_clause_covered(c, k, a, n_par, model=res.model, method="paper"),
        cf.expected_collisions(c, k, a, n_par),
        cf.expected_collisions(c, k, a, n_par, method="paper"),
    )


def _grid(args) -> list[tuple]:
    base = QUICK_GRID if args.quick else DEFAULT_GRID
    clauses = args.clauses or base["n_clauses"]
    alphas = args.alphas or base["alphas"]
    parents = args.parents or base["n_parents"]
    models = SIM_MODELS if args.model == "all" else (args.model,)
    configs = []
    for model in models:
        for a in alphas:
            if model == "two_four" and a != 2:
                continue
            for c in clauses:
                cfg = check_config(c, args.clause_size, a)  # ValueError -> exit 2
                if model == "two_four" and cfg.n % 4:
                    raise ValueError(f"model two_four needs n = n_clauses*clause_size divisible by 4, got {cfg.n}")
                for n_par in parents:
                    check_int("n_parents", n_par, minimum=1)
                    configs.append((model, c, args.clause_size, a, n_par))
    if not configs:
        raise ValueError("the grid is empty (two_four needs alpha 2: pass --alphas 2)")
    return configs


def _fmt(x: float | None, width: int = 9) -> str:
    if x is None:
        return "-".center(width)
    if x == 0:
        return "0".rjust(width)
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:{width}.2e}"
    return f"{x:{width}.5f}"


def _fmt_est(e: Estimate) -> str:
    return f"{_fmt(e.value)} [{_fmt(e.low).strip()}, {_fmt(e.high).strip()}]"


def _load_previous(path: str, meta: dict) -> dict:
    """Results already stored for this run (same seed/trials/model/layout), by config key."""
    if not path or not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("version") != STORE_VERSION:
            return {}
        out = {}
        bad = 0
        for row in data.get("rows", []):
            try:
                sim = row["simulation"]
                if "sha256" in row and row["sha256"] != _row_digest(sim):
                    raise ValueError("checksum mismatch")
                key = (sim["model"], sim["layout"], sim["n_clauses"], sim["clause_size"], sim["alpha"],
                       sim["n_parents"], sim["trials"], sim["seed"])
                out[key] = SimulationResult.from_dict(sim)
            except (ValueError, KeyError, TypeError):
                bad += 1  # a damaged row is simulated again; the others are kept
        if bad:
            sys.stderr.write(f"{PROG}: note: ignoring {bad} damaged row(s) of previous results in {path!r}\n")
        return out
    except (ValueError, KeyError, TypeError, AttributeError):
        # a corrupt or foreign file is not trusted (and not overwritten until new rows exist)
        sys.stderr.write(f"{PROG}: note: ignoring unreadable previous results in {path!r}\n")
        return {}


def _row_digest(sim: dict) -> str:
    """sha256 of a stored simulation (canonical JSON): a damaged or edited row is not reused."""
    import hashlib

    return hashlib.sha256(json.dumps(sim, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _atomic_write(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _row_dict(row: Row, level_family: float | None) -> dict:
    sim = row.result.to_dict()
    d = {"simulation": sim, "sha256": _row_digest(sim),
         "exact": {"p_all_covered": row.exact_all, "p_clause_covered": row.exact_clause,
                   "mean_collisions": row.exact_coll},
         "paper": {"p_all_covered": row.paper_all, "p_clause_covered": row.paper_clause,
                   "mean_collisions": row.paper_coll},
         "union_bound": {"p_all_covered": row.union_all}}
    if level_family is not None:
        checks = {}
        for name, exact, est in row.checks():
            lo, hi = est.interval(level_family)
            checks[name] = {"exact": exact, "interval_99.9": [est.low, est.high],
                            "inside_99.9": est.contains(exact),
                            "interval_family": [lo, hi], "inside_family": est.contains(exact, level_family)}
        d["checks"] = checks
    return d


def _write_json(path, meta, rows, level_family):
    payload = {"version": STORE_VERSION, "meta": meta, "complete": True,
               "rows": [_row_dict(r, level_family) for r in rows]}
    _atomic_write(path, json.dumps(payload, indent=1, allow_nan=False) + "\n")


def _write_csv(path, rows, level_family):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["model", "layout", "n_clauses", "clause_size", "alpha", "n_parents", "trials", "seed",
                "quantity", "exact", "paper", "simulated", "low_99.9", "high_99.9",
                "low_family", "high_family", "inside_family"])
    for row in rows:
        r = row.result
        for name, exact, paper, est in (
                ("p_all_covered", row.exact_all, row.paper_all, r.p_all_covered),
                ("p_clause_covered", row.exact_clause, row.paper_clause, r.p_clause_covered),
                ("mean_collisions", row.exact_coll, row.paper_coll, r.mean_collisions)):
            lo_f, hi_f = est.interval(level_family)
            inside = "" if exact is None else est.contains(exact, level_family)
            w.writerow([r.model, r.layout, r.n_clauses, r.clause_size, r.alpha, r.n_parents, r.trials,
                        r.seed, name, "" if exact is None else repr(exact),
                        "" if paper is None else repr(paper), repr(est.value), repr(est.low),
                        repr(est.high), repr(lo_f), repr(hi_f), inside])
    _atomic_write(path, buf.getvalue())


def _main(argv: Sequence[str] | None) -> int:
    from .cli_errors import CLIError

    args = _parser().parse_args(argv)
    trials = args.trials if args.trials is not None else (QUICK_TRIALS if args.quick else DEFAULT_TRIALS)
    check_int("--trials", trials, minimum=1)
    if trials > MAX_TRIALS:
        raise ValueError(f"--trials must be an integer in [1, 2**62], got {trials}")
    check_seed(args.seed)
    _check_threads(args.threads)
    if not (0.0 < args.family_alpha < 1.0):
        raise CLIError(f"--family-alpha must satisfy 0 < value < 1, got {args.family_alpha}")
    if args.plot is not None:
        os.makedirs(args.plot, exist_ok=True)
        if not os.access(args.plot, os.W_OK):
            raise CLIError(f"--plot directory {args.plot!r} is not writable")
    configs = _grid(args)
    meta = {"seed": args.seed, "trials": trials, "model": args.model, "layout": args.layout,
            "family_alpha": args.family_alpha, "level_displayed": LEVEL}
    previous = _load_previous(args.json, meta)
    show = sys.stderr.isatty() if args.progress is None else args.progress

    t0 = time.perf_counter()
    rows: list[Row] = []
    iterator = configs
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(configs, desc="configs", unit="cfg", file=sys.stderr, leave=False)
        iterator = bar
    reused = 0
    stored = dict(previous)  # every simulation known so far, checkpointed after each config
    for model, c, k, a, n_par in iterator:
        key = (model, args.layout, c, k, a, n_par, trials, args.seed)
        if key in previous:
            res = previous[key]
            reused += 1
        else:
            res = simulate(c, k, a, n_par, trials=trials, seed=args.seed, model=model,
                           layout=args.layout, threads=args.threads)
            stored[key] = res
            if args.json:  # checkpoint: a killed run resumes from here
                _atomic_write(args.json, json.dumps(
                    {"version": STORE_VERSION, "meta": meta, "complete": False,
                     "rows": [{"simulation": s, "sha256": _row_digest(s)}
                              for s in (v.to_dict() for v in stored.values())]}) + "\n")
        rows.append(_closed_forms_row(res))
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - t0

    m = sum(len(r.checks()) for r in rows)
    level_family = 1.0 - args.family_alpha / max(m, 1)
    failures = _print_report(rows, args, trials, m, level_family, elapsed, reused)
    if args.json:
        _write_json(args.json, meta, rows, level_family)
    if args.csv:
        _write_csv(args.csv, rows, level_family)
    if args.plot is not None:
        from .plots import write_plots

        for path in write_plots(rows, args.plot, seed=args.seed, trials=trials, threads=args.threads):
            print(f"wrote {path}")
    return 1 if failures else 0


def _print_report(rows, args, trials, m, level_family, elapsed, reused) -> int:
    out = sys.stdout
    out.write(f"fpe_theory bound checks: model={args.model} layout={args.layout} "
              f"clause_size={args.clause_size} trials={trials} seed={args.seed}\n")
    out.write("exact = closed form; paper = the paper's approximation; sim = Monte Carlo "
              "[99.9% interval]; '*' = exact outside the 99.9% interval\n\n")
    head = (f"{'model':<11} {'C':>3} {'a':>2} {'N':>3} | {'P(all) exact':>12} {'paper':>9} {'sim [99.9%]':<31}"
            f"| {'P(cl) exact':>11} {'sim [99.9%]':<31}| {'E[coll] exact':>13} {'paper':>9} "
            f"{'sim [99.9%]':<31}| verdict")
    out.write(head + "\n" + "-" * len(head) + "\n")
    failures = 0
    for row in rows:
        r = row.result
        marks = []
        bad = False
        for name, exact, est in row.checks():
            if not est.contains(exact, level_family):
                bad = True
            if not est.contains(exact):
                marks.append(name)

        def star(name):
            return "*" if name in marks else " "

        failures += bad
        verdict = "FAIL" if bad else "ok"
        out.write(
            f"{r.model:<11} {r.n_clauses:>3} {r.alpha:>2} {r.n_parents:>3} | {_fmt(row.exact_all, 12)} "
            f"{_fmt(row.paper_all)} {_fmt_est(r.p_all_covered):<30}{star('p_all_covered')}"
            f"| {_fmt(row.exact_clause, 11)} {_fmt_est(r.p_clause_covered):<30}{star('p_clause_covered')}"
            f"| {_fmt(row.exact_coll, 13)} {_fmt(row.paper_coll)} {_fmt_est(r.mean_collisions):<30}"
            f"{star('mean_collisions')}| {verdict}\n")
    n_star = sum(1 for row in rows for name, exact, est in row.checks() if not est.contains(exact))
    out.write("\n")
    out.write(f"{len(rows)} configs ({reused} resumed from --json), {m} intervals checked in {elapsed:.1f} s.\n")
    out.write(f"Outside the 99.9% interval: {n_star} of {m} (about {m * (1 - LEVEL):.2f} expected by chance).\n")
    out.write(f"Verdict (exit code): Bonferroni, each interval at level 1 - {args.family_alpha:g}/{m} = "
              f"{level_family:.8f}, family-wise false-alarm rate <= {args.family_alpha:g}: ")
    out.write("all exact values inside -> PASS\n" if not failures else f"{failures} config(s) FAIL\n")
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m fpe_theory.simulate`` (exit 0 pass, 1 fail, 2 bad input)."""
    from .cli_errors import run_main

    return run_main(_main, argv, prog=PROG)


class _CallableModule(type(sys)):
    """``fpe_theory.simulate`` names both this module (``python -m fpe_theory.simulate``) and
    the function; once the module is imported explicitly, the package attribute is the
    module, so the module forwards calls to the function."""

    def __call__(self, *args, **kwargs):
        return simulate(*args, **kwargs)


if __name__ != "__main__":
    sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    # run through the package module so classes are not defined twice
    from fpe_theory.simulate import main as _entry

    sys.exit(_entry())
