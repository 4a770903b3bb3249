"""``python -m fpe_theory.simulate``: check every closed form against the Monte Carlo.

For each config of a grid around the paper (clause_size 4, alpha in {2, 4}, n_clauses 4-32,
n_parents 4-64) it simulates the split (``fpe_theory.montecarlo.simulate``) under the chosen
model(s) and prints the exact value, the paper's approximation and the simulated value with
its 99.9% interval. The exit code is 1 if an exact value falls outside its interval, where
the intervals behind the exit code are Bonferroni-corrected over every interval checked, so
a correct implementation raises a false alarm with probability at most ``--family-alpha``
(default 0.001); the 99.9% intervals are printed too.

With ``--n-partitions LIST`` (partition and literal models) every config is simulated as a
grouped split with each G <= N of the list (issue 16): P(all covered) and P(clause covered)
are checked against their closed forms at N = G, the mean collisions against the unchanged
expectation; the collisions variance (sum_g m_g^2 · Var of one parent) is printed beside an
asymptotic normal interval of the sample variance (fourth moment from the histogram), for
information only: the sample variance of these skewed counts converges too slowly for its
interval to carry the exit code (the variance formula is checked exactly, by enumeration,
in tests/test_theory_grouped.py).

Deterministic bound checks come with it: under the literal model (the paper's) the union
bound 1 - C(1 - alpha^(1-k))^N and the paper's 1 - C·exp(-N·alpha^(1-k)) must not exceed the
exact P(all covered) and the paper's sizing rule N >= alpha^(k-1)·ln(C/delta) must be
sufficient (a failure is exit 1); for the balanced models the same comparisons are printed
as findings (the paper does not claim them there).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Sequence

from ._bound_rows import Row, SizingCheck, _closed_forms_row, _sizing_checks, _VarianceEstimate  # noqa: F401
from ._stats import LEVEL, MIN_EVENTS, Estimate
from ._validate import LAYOUTS, check_int
from .models import DEPRECATED_ALIASES, get_model, model_names
from .montecarlo import MAX_TRIALS, SimulationResult, _check_threads, check_seed, simulate

__all__ = ["main"]

DEFAULT_GRID = {"n_clauses": (4, 8, 16, 32), "alphas": (2, 4), "n_parents": (4, 8, 16, 32, 64)}
QUICK_GRID = {"n_clauses": (4, 8, 16, 32), "alphas": (2, 4), "n_parents": (4, 16, 64)}
DEFAULT_TRIALS = 20000
QUICK_TRIALS = 4000
PROG = "python -m fpe_theory.simulate"
STORE_VERSION = 1
SIM_MODELS = model_names()  # literal, subset, partition, two_four


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
    p.add_argument("--model", choices=SIM_MODELS + tuple(DEPRECATED_ALIASES) + ("all",), default="partition",
                   help="random model to simulate: literal (the paper's A.5 model), subset, partition "
                        "(what random FPE does; default), two_four (no exact P(all)), or all of them; "
                        "'independent' is the deprecated old name of subset")
    p.add_argument("--delta", type=float, default=0.01,
                   help="failure probability of the sizing-rule check (default 0.01)")
    p.add_argument("--layout", choices=LAYOUTS, default="contiguous",
                   help="clause layout (default contiguous; shuffled permutes literal positions per trial)")
    p.add_argument("--clause-size", type=int, default=4, help="literals per clause (default 4)")
    p.add_argument("--clauses", type=_int_list, default=None, metavar="LIST",
                   help="n_clauses grid, e.g. 4,8,16,32")
    p.add_argument("--alphas", type=_int_list, default=None, metavar="LIST", help="alpha grid, e.g. 2,4")
    p.add_argument("--parents", type=_int_list, default=None, metavar="LIST",
                   help="n_parents grid, e.g. 4,8,16,32,64")
    p.add_argument("--n-partitions", type=_int_list, default=None, metavar="LIST",
                   help="grouped split: simulate each config with every G <= N of LIST partitions "
                        "(partition and literal models), e.g. 1,2,4,8")
    p.add_argument("--family-alpha", type=float, default=1e-3,
                   help="family-wise false-alarm rate of the exit code (default 0.001)")
    p.add_argument("--json", default=None, metavar="FILE", help="write all results as JSON (and resume from it)")
    p.add_argument("--csv", default=None, metavar="FILE", help="write one row per config as CSV")
    p.add_argument("--plot", default=None, metavar="DIR", help="write PNG figures to DIR")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="force the progress bar (default: only on a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def _grid(args) -> list[tuple]:
    base = QUICK_GRID if args.quick else DEFAULT_GRID
    clauses = args.clauses or base["n_clauses"]
    alphas = args.alphas or base["alphas"]
    parents = args.parents or base["n_parents"]
    models = SIM_MODELS if args.model == "all" else (DEPRECATED_ALIASES.get(args.model, args.model),)
    grouped = args.n_partitions
    if grouped is not None:
        from .montecarlo import GROUPED_MODELS

        for g in grouped:
            check_int("--n-partitions", g, minimum=1)
        if args.model != "all" and models[0] not in GROUPED_MODELS:
            raise ValueError(f"--n-partitions needs --model in {list(GROUPED_MODELS)} (or all), got {models[0]!r}")
        models = tuple(m for m in models if m in GROUPED_MODELS)
    configs = []
    for model in models:
        m = get_model(model)
        for a in alphas:
            if model == "two_four" and a != 2:
                continue
            for c in clauses:
                cfg = m.check_config(c, args.clause_size, a)  # ValueError -> exit 2
                m.check_simulation(cfg)
                for n_par in parents:
                    check_int("n_parents", n_par, minimum=1)
                    if grouped is None:
                        configs.append((model, c, args.clause_size, a, n_par, None))
                    else:
                        configs += [(model, c, args.clause_size, a, n_par, g) for g in grouped if g <= n_par]
    if not configs:
        raise ValueError("the grid is empty (two_four needs alpha 2: pass --alphas 2; --n-partitions "
                         "needs some G <= a value of --parents)")
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
                       sim["n_parents"], sim["trials"], sim["seed"], sim.get("n_partitions"))
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
                   "mean_collisions": row.exact_coll,
                   **({} if row.exact_var is None else {"collisions_variance": row.exact_var})},
         "paper": {"p_all_covered": row.paper_all, "p_clause_covered": row.paper_clause,
                   "mean_collisions": row.paper_coll},
         "union_bound": {"p_all_covered": row.union_all},
         "bounds_above_exact": row.bound_violations()}
    if level_family is not None:
        checks = {}
        for name, exact, est in row.checks():
            lo, hi = est.interval(level_family)
            checks[name] = {"exact": exact, "interval_99.9": [est.low, est.high],
                            "inside_99.9": est.contains(exact),
                            "interval_family": [lo, hi], "inside_family": est.contains(exact, level_family)}
        d["checks"] = checks
    return d


def _write_json(path, meta, rows, level_family, sizing=()):
    payload = {"version": STORE_VERSION, "meta": meta, "complete": True,
               "rows": [_row_dict(r, level_family) for r in rows],
               "sizing_rule": [{"model": s.model, "n_clauses": s.n_clauses, "clause_size": s.clause_size,
                                "alpha": s.alpha, "delta": s.delta, "paper_rule": s.rule, "exact": s.exact,
                                "sufficient": s.sufficient} for s in sizing]}
    _atomic_write(path, json.dumps(payload, indent=1, allow_nan=False) + "\n")


def _write_csv(path, rows, level_family):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["model", "layout", "n_clauses", "clause_size", "alpha", "n_parents", "n_partitions", "trials", "seed",
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
            w.writerow([r.model, r.layout, r.n_clauses, r.clause_size, r.alpha, r.n_parents,
                        "" if r.n_partitions is None else r.n_partitions, r.trials,
                        r.seed, name, "" if exact is None else repr(exact),
                        "" if paper is None else repr(paper), repr(est.value), repr(est.low),
                        repr(est.high), repr(lo_f), repr(hi_f), inside])
        if row.exact_var is not None:  # grouped: information only (module docstring), no family check
            est = _VarianceEstimate(r)
            w.writerow([r.model, r.layout, r.n_clauses, r.clause_size, r.alpha, r.n_parents, r.n_partitions,
                        r.trials, r.seed, "collisions_variance", repr(row.exact_var), "", repr(est.value),
                        repr(est.low), repr(est.high), "", "", ""])
    _atomic_write(path, buf.getvalue())


def _main(argv: Sequence[str] | None) -> int:
    from .cli_errors import CLIError

    args = _parser().parse_args(argv)
    if args.model in DEPRECATED_ALIASES:
        sys.stderr.write(f"{PROG}: note: --model {args.model} is deprecated, it is the "
                         f"{DEPRECATED_ALIASES[args.model]} model (use --model {DEPRECATED_ALIASES[args.model]})\n")
        args.model = DEPRECATED_ALIASES[args.model]
    trials = args.trials if args.trials is not None else (QUICK_TRIALS if args.quick else DEFAULT_TRIALS)
    check_int("--trials", trials, minimum=1)
    if trials > MAX_TRIALS:
        raise ValueError(f"--trials must be an integer in [1, 2**62], got {trials}")
    check_seed(args.seed)
    _check_threads(args.threads)
    if not (0.0 < args.family_alpha < 1.0):
        raise CLIError(f"--family-alpha must satisfy 0 < value < 1, got {args.family_alpha}")
    if not (0.0 < args.delta < 1.0):
        raise CLIError(f"--delta must satisfy 0 < value < 1, got {args.delta}")
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
    for model, c, k, a, n_par, g in iterator:
        key = (model, args.layout, c, k, a, n_par, trials, args.seed, g)
        if key in previous:
            res = previous[key]
            reused += 1
        else:
            res = simulate(c, k, a, n_par, trials=trials, seed=args.seed, model=model,
                           layout=args.layout, threads=args.threads, n_partitions=g)
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
    sizing = _sizing_checks(rows, args.delta)
    failures = _print_report(rows, args, trials, m, level_family, elapsed, reused)
    failures += _print_bounds(rows, sizing, args.delta)
    if args.json:
        _write_json(args.json, meta, rows, level_family, sizing)
    if args.csv:
        _write_csv(args.csv, rows, level_family)
    if args.plot is not None:
        # drawn by paper_figures (the one plotting pipeline), from these results
        from paper_figures.theory_plots import write_cli_plots

        for path in write_cli_plots([r.result for r in rows], args.plot, seed=args.seed, trials=trials):
            print(f"wrote {path}")
    return 1 if failures else 0


def _print_bounds(rows, sizing, delta) -> int:
    """The deterministic bound checks; returns the failures (literal model only)."""
    if not sizing:
        return 0
    out = sys.stdout
    out.write("\nBounds (deterministic). The paper derives its coverage bound 1 - C exp(-N a^(1-k)) and its\n"
              f"sizing rule N >= a^(k-1) ln(C/delta) (delta = {delta:g}) under the literal model: there a violation\n"
              "is a FAIL; under the balanced models (subset, partition) it is a finding, printed only.\n")
    head = f"{'model':<10} {'C':>3} {'a':>2} | {'rule N':>6} {'exact N':>7} {'rule sufficient':>15} | bounds above exact"
    out.write(head + "\n" + "-" * len(head) + "\n")
    failures = 0
    for s in sizing:
        viol = [(row.result.n_parents, v) for row in rows
                if (row.result.model, row.result.n_clauses, row.result.clause_size, row.result.alpha)
                == (s.model, s.n_clauses, s.clause_size, s.alpha) for v in row.bound_violations()]
        bad = s.claimed and (not s.sufficient or viol)
        failures += bool(bad)
        text = ", ".join(f"{v} at N={n}" for n, v in viol) or "none"
        if s.claimed:
            verdict = "FAIL" if bad else "ok"
        else:  # not claimed by the paper for this model: reported, never a failure
            verdict = "finding: holds" if s.sufficient and not viol else "finding: fails"
        out.write(f"{s.model:<10} {s.n_clauses:>3} {s.alpha:>2} | {s.rule:>6} {s.exact:>7} "
                  f"{'yes' if s.sufficient else 'NO':>15} | {text} [{verdict}]\n")
    out.write("Literal-model bounds: " + ("all hold -> PASS\n" if not failures else f"{failures} FAIL\n"))
    return failures


def _print_report(rows, args, trials, m, level_family, elapsed, reused) -> int:
    out = sys.stdout
    out.write(f"fpe_theory bound checks: model={args.model} layout={args.layout} "
              f"clause_size={args.clause_size} trials={trials} seed={args.seed}\n")
    out.write("exact = closed form; paper = the paper's approximation; sim = Monte Carlo "
              "[99.9% interval]; '*' = exact outside the 99.9% interval\n\n")
    head = (f"{'model':<11} {'C':>3} {'a':>2} {'N':>3} {'G':>3} | {'P(all) exact':>12} {'paper':>9} {'sim [99.9%]':<31}"
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
            f"{r.model:<11} {r.n_clauses:>3} {r.alpha:>2} {r.n_parents:>3} "
            f"{'-' if r.n_partitions is None else r.n_partitions:>3} | {_fmt(row.exact_all, 12)} "
            f"{_fmt(row.paper_all)} {_fmt_est(r.p_all_covered):<30}{star('p_all_covered')}"
            f"| {_fmt(row.exact_clause, 11)} {_fmt_est(r.p_clause_covered):<30}{star('p_clause_covered')}"
            f"| {_fmt(row.exact_coll, 13)} {_fmt(row.paper_coll)} {_fmt_est(r.mean_collisions):<30}"
            f"{star('mean_collisions')}| {verdict}\n")
    n_star = sum(1 for row in rows for name, exact, est in row.checks() if not est.contains(exact))
    var_rows = [row for row in rows if row.exact_var is not None]
    if var_rows:
        out.write("\nCollisions variance (grouped split: sum_g m_g^2 · Var of one parent) vs the sample variance "
                  "[asymptotic 99.9% interval]; information only, not in the exit code\n")
        for row in var_rows:
            r, est = row.result, _VarianceEstimate(row.result)
            checked = r.trials - int(r.collisions_histogram[0]) >= MIN_EVENTS
            mark = (" " if est.contains(row.exact_var) else "*") if checked else " (too few events)"
            out.write(f"{r.model:<11} {r.n_clauses:>3} {r.alpha:>2} {r.n_parents:>3} {r.n_partitions:>3} | "
                      f"exact {_fmt(row.exact_var, 11)} | sim {_fmt_est(est)}{mark}\n")
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
