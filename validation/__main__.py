"""``python -m validation``: the paper's claims as executable checks; writes report.md and report.json.

    python -m validation [--profile quick|paper] [--out DIR] [--store DIR] [--embeddings PATH]
                         [--imagenet1k PATH] [--fashionmnist PATH] [--imagenet100 PATH]
                         [--only ID ...] [--no-run] [--list]
    python -m validation --readme [--report docs/validation/report.json] [--readme-file README.md]

Exit codes: 0 report written (whatever the verdicts), 1 a claim's evaluation crashed or an
experiment run failed, 2 bad input (one line on stderr), 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from fpe_common.cli import OneLineArgumentParser, run_main

PROG = "python -m validation"


def _parser() -> OneLineArgumentParser:
    p = OneLineArgumentParser(
        prog=PROG,
        description="Evaluate the paper's claims (theory, DNF, vision) against the result store and the "
                    "closed forms; write report.md and report.json. Missing experiment runs of the "
                    "profile are trained first (shared with paper_figures through the same store).",
    )
    p.add_argument("--profile", choices=("quick", "paper", "tiny"), default="quick",
                   help="quick: short schedules, offline data, minutes on 2 cores; paper: the paper's schedules; "
                        "tiny: seconds, for tests only (meaningless numbers)")
    p.add_argument("--out", default=None, help="output directory (default results/validation/<profile>)")
    p.add_argument("--store", default="results/store", help="result store directory (default results/store)")
    p.add_argument("--embeddings", default=None, metavar="PATH",
                   help="CLIP embeddings of CIFAR-100 (.npz/.safetensors): runs the claims that need real data")
    p.add_argument("--imagenet1k", default=None, metavar="PATH", help="CLIP embeddings of ImageNet-1k (Table A4)")
    p.add_argument("--fashionmnist", default=None, metavar="PATH",
                   help="FashionMNIST as raw flattened pixels (.npz/.safetensors): the Figure 5 rows on FashionMNIST")
    p.add_argument("--imagenet100", default=None, metavar="PATH",
                   help="CLIP embeddings of ImageNet-100 (.npz/.safetensors): the Figure 5 rows on ImageNet-100")
    p.add_argument("--only", nargs="+", default=None, metavar="ID",
                   help="evaluate only these claim ids (a trailing * matches a prefix)")
    p.add_argument("--no-run", action="store_true",
                   help="train nothing: claims whose results are missing are reported as not run")
    p.add_argument("--list", action="store_true", help="list the claim ids with their category and exit")
    p.add_argument("--readme", action="store_true",
                   help="regenerate the claims block of README.md (--readme-file) from a report.json (--report) "
                        "and exit; nothing is evaluated")
    p.add_argument("--report", default=None, metavar="PATH",
                   help="report.json that --readme reads (default docs/validation/report.json, the published ledger)")
    p.add_argument("--readme-file", default="README.md", metavar="PATH", help="README that --readme rewrites (default README.md)")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="progress bar for experiment runs (default: only on a terminal)")
    p.add_argument("--quiet", action="store_true", help="no per-claim log lines on stderr")
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # 2-thread torch on a shared box (PERFORMANCE.md)
    from .catalogue import get_claims
    from .ledger import NOT_REPRODUCED, summary_line, verdict_label

    if args.readme:
        from .readme import DEFAULT_REPORT, update_readme

        path = update_readme(args.readme_file, args.report or DEFAULT_REPORT)
        print(f"rewrote the validation block of {path} from {args.report or DEFAULT_REPORT}")
        return 0
    if args.list:
        for c in get_claims(args.only):
            print(f"{c.id:55s} {c.category:17s} {c.section:12s} {c.data}")
        return 0
    from .report import write_report
    from .run import validate

    out = args.out or os.path.join("results", "validation", args.profile)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out must be a directory, got the file {out}")
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    try:
        report = validate(profile=args.profile, store=args.store, embeddings=args.embeddings,
                          imagenet1k=args.imagenet1k, fashionmnist=args.fashionmnist, imagenet100=args.imagenet100,
                          only=args.only, run_missing=not args.no_run,
                          progress=args.progress, log=log)
    except RuntimeError as exc:  # an experiment run failed (recorded in the store's .failures/)
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    md, js = write_report(report, out)
    print(f"{summary_line(report.counts)}; wrote {md} and {js}")
    for r in report.rows:
        if r.outcome.verdict == NOT_REPRODUCED:
            print(f"  {verdict_label(r.claim.category, r.outcome.verdict)} ({r.claim.category}): "
                  f"{r.claim.id}: {r.outcome.our_value}")
    return 1 if report.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
