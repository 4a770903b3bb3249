"""Statistics that test modules report once, at the end of the session (not as tests).

A module keeps a ``Tally`` at module level and counts into it as its tests run::

    TRIED = Tally("hardening CLI inputs tried")
    TRIED["processes"] += 1                       # counts add up
    TRIED.maximum("max_rel_err", 3e-12, "what")   # maxima keep the largest (and what attained it)

``tests/conftest.py`` takes what each test added (also under pytest-xdist: the increments
travel to the controller on the test's report as a ``user_properties`` entry), prints one
line per tally in the terminal summary ("test statistics") and, when ``FPE_TEST_SUMMARY``
names a file, writes them there as JSON beside the number of tests run (``.ci/run``).
"""

from __future__ import annotations

import collections
from typing import Any

#: the ``user_properties`` name the conftest hooks use
PROPERTY = "fpe_tally"


class Tally(collections.Counter):
    """A ``Counter`` with a title, plus maxima; ``drain()`` hands over what changed since the last call.

    ``total``: print the sum of the counts too (when they count the same kind of thing)."""

    def __init__(self, title: str, *, total: bool = True):
        super().__init__()
        self.title, self.total = title, total
        self.maxima: dict[str, tuple[float, Any]] = {}
        self._seen: collections.Counter = collections.Counter()
        self._new_maxima: dict[str, tuple[float, Any]] = {}

    def maximum(self, key: str, value: float, what: Any = None) -> None:
        """Keep ``value`` under ``key`` if it is the largest so far (with ``what`` attained it)."""
        value = float(value)
        if key not in self.maxima or value > self.maxima[key][0]:
            self.maxima[key] = (value, None if what is None else str(what))
            self._new_maxima[key] = self.maxima[key]

    def drain(self) -> dict[str, Any] | None:
        """The counts added and the maxima raised since the last ``drain`` (None if nothing)."""
        counts = {k: v - self._seen.get(k, 0) for k, v in self.items() if v != self._seen.get(k, 0)}
        self._seen = collections.Counter(self)
        maxima, self._new_maxima = self._new_maxima, {}
        if not counts and not maxima:
            return None
        return {"title": self.title, "total": self.total, "counts": counts, "maxima": {k: list(v) for k, v in maxima.items()}}


class Totals:
    """What the session collected: per title, summed counts and the largest maxima."""

    def __init__(self) -> None:
        self.by_title: dict[str, dict[str, Any]] = {}

    def add(self, entry: dict[str, Any]) -> None:
        t = self.by_title.setdefault(entry["title"], {"counts": collections.Counter(), "maxima": {},
                                                      "total": entry.get("total", True)})
        t["counts"].update(entry["counts"])
        for k, (value, what) in entry["maxima"].items():
            if k not in t["maxima"] or value > t["maxima"][k][0]:
                t["maxima"][k] = (value, what)

    def lines(self) -> list[str]:
        out = []
        for title in sorted(self.by_title):
            t = self.by_title[title]
            parts = [f"total {sum(t['counts'].values())}"] if t["total"] else []
            parts += [f"{k}: {v}" for k, v in sorted(t["counts"].items())]
            parts += [f"{k}: {v:.3g}" + (f" ({what})" if what else "") for k, (v, what) in sorted(t["maxima"].items())]
            out.append(f"{title}: " + ", ".join(parts))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {title: {"counts": dict(t["counts"]), "maxima": {k: list(v) for k, v in t["maxima"].items()}}
                for title, t in self.by_title.items()}
