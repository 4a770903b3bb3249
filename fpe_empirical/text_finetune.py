"""Command of the MiniLM fine-tuning experiment (``python -m fpe_empirical.text_finetune``):
``fpe_empirical.experiments.text_finetune``."""

import sys

from .experiments.text_finetune import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
