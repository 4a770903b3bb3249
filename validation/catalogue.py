"""Which claims there are: loads every claim module and selects claims by id.

``validation.ledger`` is the registry (``Claim``, the ``@claim`` decorator, ``LEDGER``, the rule
helpers) and imports no claim; ``validation.claims`` registers the claims with it when
imported. This module sits above both, so loading the claims is a downward import and the
registry never imports what registers into it.
"""

from __future__ import annotations

from . import claims  # noqa: F401  (importing registers every claim, in ledger order)
from .ledger import LEDGER, Claim

__all__ = ["get_claims"]


def get_claims(only: list[str] | None = None) -> list[Claim]:
    """Claims in ledger order; ``only``: ids or prefixes ending in ``*`` (ValueError if one matches nothing)."""
    items = list(LEDGER.values())
    if not only:
        return items
    out: list[Claim] = []
    for pat in only:
        if pat.endswith("*"):
            hit = [c for c in items if c.id.startswith(pat[:-1])]
        else:
            hit = [c for c in items if c.id == pat]
        if not hit:
            raise ValueError(f"--only must name claim ids (or prefixes ending in '*'), got {pat!r}; see --list")
        out.extend(c for c in hit if c not in out)
    return [c for c in items if c in out]
