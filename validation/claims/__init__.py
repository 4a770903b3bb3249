"""The ledger's claims, one module per part of the paper (importing registers them in order)."""

from . import theory  # noqa: F401  A.5 / 2.5
