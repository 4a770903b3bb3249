"""paper_figures: regenerate every figure and table of the paper (``python -m paper_figures``)."""
