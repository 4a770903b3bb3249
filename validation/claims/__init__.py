"""The ledger's claims, one module per part of the paper (importing registers them in order)."""

from . import theory  # noqa: F401  A.5 / 2.5
from . import dnf  # noqa: F401  3.1 / 3.2 and theory vs trained networks
from . import vision  # noqa: F401  3.3 / 3.4 / A.7
from . import minilm  # noqa: F401  the MiniLM docstring task (issue 18): vision rows + a finding
from . import grouped  # noqa: F401  grouped FPE (issue 16): findings beyond the paper
