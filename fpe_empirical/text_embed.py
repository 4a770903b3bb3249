"""Command of the text task (``python -m fpe_empirical.text_embed --store results/store``):
the docstring corpus and its all-MiniLM-L6-v2 embeddings, offline (``fpe_empirical.data.minilm``)."""

import sys

from .data.minilm import build_text_data, main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
