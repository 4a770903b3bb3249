"""Experiments: what one run is, how it runs, one registry of kinds.

- ``registry``: the experiment-kind table (``experiment_kind``: config class, code version,
  runner, cost) and ``config_from_dict``; ``runner``: ``run`` / ``run_many`` by kind;
- ``pipeline``: the staged pipeline every network experiment shares (data -> dense model ->
  phase 1 -> split -> phase 2 -> rows) and the seed roles;
- kinds, each registering itself: ``dnf`` (``DNFExperiment``, Sections 3.1-3.2),
  ``embedding`` (``EmbeddingExperiment``, Sections 3.3-3.5, A.7), ``coverage``
  (``CoverageExperiment``: clause coverage of networks as built vs fpe_theory),
  ``theory_sim`` (``TheorySimulation``: Monte Carlo of the split), ``sensitivity``
  (``SensitivityRun``: the DNF defaults sweep), ``grouped`` (``dnf-grouped`` and
  ``embedding-grouped``: grouped FPE, issue 16).

Importing this package registers the built-in kinds (in this order).
"""

from . import dnf, embedding, coverage, theory_sim, sensitivity, grouped  # noqa: F401  (register the built-in kinds)
