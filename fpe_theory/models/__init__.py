"""Theory models of the random split, one class per file, found by name.

==============  =====================================================================
``literal``     each input weight goes to one of the alpha children independently
                (Binomial fan-in): the model under which the paper's A.5 formulas are exact
``subset``      alpha·N independent uniform d-subsets (formerly ``"independent"``)
``partition``   each parent split by a uniform balanced partition (what random FPE does)
``two_four``    alpha = 2, every aligned group of 4 inputs split 2/2
==============  =====================================================================

Adding a model: write ``fpe_theory/models/<name>.py`` with one ``TheoryModel`` subclass
decorated with ``@register`` (see ``base.py`` for what it must define), and import it below.
"""

from __future__ import annotations

from .base import DEPRECATED_ALIASES, BalancedModel, TheoryModel, get_model, model_names, register
from . import literal, subset, partition, two_four  # noqa: E402,F401  (registration)

__all__ = ["TheoryModel", "BalancedModel", "register", "get_model", "model_names", "DEPRECATED_ALIASES"]
