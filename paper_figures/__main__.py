"""``python -m paper_figures``: run the missing experiments, then draw every figure and table.

    python -m paper_figures [--profile quick|paper] [--only NAME[,NAME...]] [--out DIR]
                            [--store DIR] [--embeddings PATH ...] [--imagenet1k PATH]
                            [--workers N] [--no-run] [--list] [--progress | --no-progress]

Defaults: ``--profile quick``, ``--out results/figures``, ``--store results/store`` (both
relative to the current directory). Figure by figure, the experiments it needs
(``fpe_empirical.profiles``) that the store lacks are trained first (batched, stored run by
run: killing the command loses at most the runs in flight and a rerun resumes), then the
figure is drawn from the store. ``--no-run`` draws from the store only.

Vision figures run on scikit-learn's digits offline (and say so in their titles) unless
``--embeddings`` gives embedding files (``python -m fpe_empirical.embed``): Figure 5 draws
one panel per file, the other vision figures use the first file (CIFAR-100's role in the
paper); ``--imagenet1k`` is Table A4's data (ImageNet-1k in the paper).

Exit codes: 0 every selected figure written; 1 a figure could not be drawn or an experiment
run failed (the others are still written); 2 bad input (one line on stderr); 130 interrupted.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import Sequence

from fpe_common.cli import CLIError, OneLineArgumentParser, run_main

from . import ALIASES, figures

PROG = "python -m paper_figures"
DEFAULT_OUT = "results/figures"
DEFAULT_STORE = "results/store"


def _parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(
        prog=PROG,
        description="Regenerate the paper's figures and tables from the result store, training the "
                    "missing experiment runs first (shared with `python -m validation`).",
    )
    p.add_argument("--profile", choices=("quick", "paper", "tiny"), default="quick",
                   help="quick: reduced epochs and grids, offline data, minutes on 2 cores (default); "
                        "paper: the paper's schedules and grids; tiny: seconds, for tests only (meaningless numbers)")
    p.add_argument("--only", action="append", default=None, metavar="NAME[,NAME...]",
                   help="draw only these figures (ids from --list; repeatable or comma-separated)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    p.add_argument("--store", default=DEFAULT_STORE, help=f"result store directory (default {DEFAULT_STORE})")
    p.add_argument("--embeddings", action="append", default=None, metavar="PATH",
                   help="embedding file (.npz/.safetensors) for the vision figures instead of digits; repeat for "
                        "more Figure 5 panels (the other vision figures use the first); 'digits' names the "
                        "offline stand-in")
    p.add_argument("--imagenet1k", default=None, metavar="PATH", help="embedding file for Table A4 (ImageNet-1k)")
    p.add_argument("--workers", type=int, default=None,
                   help="train on a local Dask cluster of N worker processes (default: in this process)")
    p.add_argument("--no-run", action="store_true", help="train nothing: draw from the stored results only")
    p.add_argument("--list", action="store_true", help="list the figure ids and exit")
    bar = p.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None,
                     help="always show progress bars (default: only on a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")
    return p


def figure_of_module(module_name: str) -> str:
    """Figure id of a script module (``paper_figures.fig3_sweeps`` -> ``fig3``)."""
    short = module_name.rsplit(".", 1)[-1]
    for name, mod in figures().items():
        if mod.__name__.rsplit(".", 1)[-1] == short:
            return name
    raise ValueError(f"{module_name} is not a figure script of paper_figures")


def _select(only: list[str] | None, known: dict) -> list[str]:
    if not only:
        return list(known)
    names = []
    for chunk in only:
        for raw in chunk.split(","):
            name = raw.strip()
            if not name:
                continue
            name = ALIASES.get(name, name)
            if name not in known:
                raise ValueError(f"--only must name figures from {sorted(known)} (see --list), got {raw.strip()!r}")
            if name not in names:
                names.append(name)
    if not names:
        raise ValueError("--only must name at least one figure (see --list)")
    # drawing order, whatever order they were given in
    return [n for n in known if n in names]


def _check_path_arg(flag: str, path: str) -> None:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{flag} must be a directory, got the file {path}")


def _check_embedding(flag: str, path: str) -> None:
    if path == "digits":  # the offline stand-in, e.g. beside a real data set in Figure 5
        return
    from fpe_empirical.data.embeddings import check_embedding_file

    check_embedding_file(flag, path, hint=" (make one with `python -m fpe_empirical.embed`)")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _write_index(ctx, out: Path, names: list[str], failed: dict[str, str], started: float) -> Path:
    """``index.md``: every figure and table present in ``out`` (drawn now or earlier), in
    drawing order, with its caption (the first line of its CSV), and what failed now."""
    order = [stem for mod in figures().values() for stem in mod.FIGURE.stems]

    def rank(stem: str) -> int:
        for i, name in enumerate(order):
            if stem == name or stem.startswith(name + "_"):
                return i
        return len(order)

    csvs = sorted(out.glob("*.csv"), key=lambda p: (rank(p.stem), p.stem))
    lines = [f"# Figures and tables ({ctx.profile} profile)", "",
             f"Last command: `{PROG} --profile {ctx.profile}` on the store `{ctx.store_label}` "
             f"({', '.join(names)}; {time.perf_counter() - started:.0f} s).", ""]
    for csv in csvs:
        with open(csv) as fh:
            caption = fh.readline().lstrip("# ").strip()
        png, md = csv.with_suffix(".png"), csv.with_suffix(".md")
        lines += [f"## {csv.stem}", ""]
        if png.is_file():
            lines += [f"![{csv.stem}]({png.name})", ""]
        if md.is_file():
            lines += [md.read_text().split("\n", 2)[-1].strip().rsplit("\n\n_", 1)[0], ""]
        lines += [f"_{caption}_ ([numbers]({csv.name})" + (f", [PDF]({csv.stem}.pdf)" if png.is_file() else "") + ")", ""]
    if failed:
        lines += ["## Not drawn by the last command", ""] + [f"- {k}: {v}" for k, v in failed.items()] + [""]
    path = out / "index.md"
    tmp = out / f".index.md.{os.getpid()}.tmp"
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)
    return path


def _run_missing(ctx, fig, args, store) -> None:
    """Train what ``fig`` needs and the store lacks (the case-study networks first)."""
    from fpe_empirical import profiles

    if fig.models:
        # first: trains the missing case-study networks, saves them and stores their rows, so
        # the store's rows and the drawn networks come from one training
        ctx.case_study(train=True)
    sets = profiles.experiment_sets(args.profile, embeddings=args.embeddings, imagenet1k=args.imagenet1k,
                                    targets=fig.targets)
    cfgs = [c for v in sets.values() for c in v]
    missing = store.missing(cfgs)
    if missing:
        _say(f"  running {len(missing)} of {len(cfgs)} experiment runs missing from {args.store} ({args.profile} profile)")
        rep = profiles.ensure(missing, store, progress=args.progress, workers=args.workers)
        _say(f"  {rep.summary()}")
        ctx._tables.clear()  # new results: reread the store


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # 2-thread torch on a shared box (PERFORMANCE.md)
    known = figures()
    if args.list:
        for name, mod in known.items():
            fig = mod.FIGURE
            print(f"{name:16s} {fig.kind:6s} {fig.title}")
        return 0
    names = _select(args.only, known)
    _check_path_arg("--out", args.out)
    _check_path_arg("--store", args.store)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {args.workers}")
    for path in args.embeddings or ():
        _check_embedding("--embeddings", path)
    if args.imagenet1k is not None:
        _check_embedding("--imagenet1k", args.imagenet1k)
    if args.no_run and not Path(args.store).is_dir():
        raise ValueError(f"--store directory {args.store} does not exist (run without --no-run to create it)")

    from fpe_empirical import profiles
    from fpe_empirical.store import CorruptResultError, ResultStore

    from .common import Context, MissingResults

    started = time.perf_counter()
    store = ResultStore(args.store)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    datasets = profiles.resolve_datasets(args.embeddings, imagenet1k=args.imagenet1k)
    ctx = Context(args.profile, store, out, datasets, store_label=args.store, progress=args.progress)
    failed: dict[str, str] = {}
    run_failed = False
    for i, name in enumerate(names, 1):
        mod = known[name]
        fig = mod.FIGURE
        t0 = time.perf_counter()
        _say(f"[{i}/{len(names)}] {name}: {fig.title}")
        try:
            if not args.no_run:
                try:
                    _run_missing(ctx, fig, args, store)
                except (ValueError, TypeError, OSError) as exc:  # e.g. the store is in use by another sweep
                    raise CLIError(f"{name}: {exc}") from None
            paths = mod.make(ctx)
        except MissingResults as exc:
            failed[name] = str(exc)
            _say(f"  {name} not drawn: {exc}")
            continue
        except CorruptResultError as exc:  # damaged store files (--no-run): data, not a bug: no traceback
            failed[name] = f"{exc} (run without --no-run to recompute them)"
            _say(f"  {name} not drawn: {' '.join(failed[name].split())}")
            continue
        except RuntimeError as exc:  # an experiment run failed (recorded in the store)
            failed[name] = str(exc)
            run_failed = True
            _say(f"  {name} not drawn: {exc}")
            continue
        except (KeyboardInterrupt, CLIError):
            raise
        except Exception as exc:  # noqa: BLE001 - one figure's bug must not hide the others
            failed[name] = f"{type(exc).__name__}: {exc}"
            _say(f"  {name} failed:\n{traceback.format_exc()}")
            continue
        for p in paths:
            _say(f"  wrote {p}")
        _say(f"  {name} done in {time.perf_counter() - t0:.1f} s")
    drawn = [n for n in names if n not in failed]
    index = _write_index(ctx, out, names, failed, started)
    print(f"{len(drawn)} of {len(names)} figures/tables written to {out} ({len(ctx.written)} files, index {index}) "
          f"in {time.perf_counter() - started:.0f} s" + (f"; not drawn: {', '.join(failed)}" if failed else ""))
    return 1 if failed or run_failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point (exit codes in the module docstring)."""
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
