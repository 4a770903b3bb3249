"""``python -m paper_figures.docs``: small PNG copies of the main figures for the README.

    python -m paper_figures.docs [--src results/figures] [--dest docs/figures] [--width 1100]

Copies ``MAIN`` figures from ``--src`` (what ``python -m paper_figures`` wrote) into
``--dest``, scaled to at most ``--width`` pixels wide and stored as 256-colour PNGs (a
fraction of the size; the figures use few colours). Exit 2 with one line on bad input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from fpe_common.atomic import atomic_path
from fpe_common.cli import OneLineArgumentParser, run_main
from fpe_common.paths import FIGURES_DIR

PROG = "python -m paper_figures.docs"
#: the figures the README shows
MAIN = ("fig2", "fig3", "fig4", "fig5", "fig6", "theory_coverage", "theory_collisions", "theory_model_gap")


def shrink(src: Path, dest: Path, width: int) -> Path:
    """``src`` scaled to at most ``width`` pixels wide, 256 colours, written atomically to ``dest``."""
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im = im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        with atomic_path(dest) as tmp:
            im.save(tmp, format="PNG", optimize=True)
    return dest


def _main(argv: Sequence[str] | None) -> int:
    p = OneLineArgumentParser(prog=PROG, description="Small PNG copies of the main figures for the README.")
    p.add_argument("--src", default=FIGURES_DIR, help=f"figures folder (default {FIGURES_DIR})")
    p.add_argument("--dest", default="docs/figures", help="destination folder (default docs/figures)")
    p.add_argument("--width", type=int, default=1100, help="maximum width in pixels (default 1100)")
    args = p.parse_args(argv)
    if args.width < 200:
        raise ValueError(f"--width must be an integer >= 200, got {args.width}")
    src = Path(args.src)
    missing = [f"{name}.png" for name in MAIN if not (src / f"{name}.png").is_file()]
    if missing:
        raise ValueError(f"--src {src} lacks {', '.join(missing)} (run `python -m paper_figures` first)")
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in MAIN:
        out = shrink(src / f"{name}.png", dest / f"{name}.png", args.width)
        print(f"{out} ({out.stat().st_size // 1024} KiB)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
