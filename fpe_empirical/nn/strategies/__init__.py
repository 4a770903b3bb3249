"""Split strategies of ``fpe_expand``: one registered function per file.

``registry`` holds the table (``register_strategy``, ``get_strategy``, ``STRATEGIES``); the
built-in strategies register themselves when imported here, in this order (the order of
``STRATEGIES`` and of every strategy list derived from it):

- ``random``: a uniformly random balanced partition of each parent's live inputs;
- ``clause``: given groups (the DNF clauses) kept whole inside one child;
- ``gram``: clusters of the layer's input Gram matrix kept whole, balanced;
- ``two_four``: the 2:4 pattern (alpha 2).

A new strategy: a file here with one ``@register_strategy("name")`` function, imported below
(or registered from any module imported before ``fpe_expand`` runs).
"""

from . import random, clause, gram, two_four  # noqa: F401  (registers the built-ins, in this order)
from .registry import STRATEGIES, LayerSplit, SplitStrategy, get_strategy, register_strategy, strategy_names

__all__ = ["STRATEGIES", "LayerSplit", "SplitStrategy", "get_strategy", "register_strategy", "strategy_names"]
