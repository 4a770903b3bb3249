"""The profile catalogue: every number that differs between the ``"tiny"``, ``"quick"`` and
``"paper"`` profiles, and nowhere else.

``paper_figures``, ``validation``, the registered sweep grids and the vision grid builders
all read their per-profile numbers here (``get_profile(name)``), so one profile means the
same experiments everywhere and a result trained for a figure is reused by a claim.

- ``"paper"``: the paper's schedules and grids. DNF: ``DNFExperiment`` defaults (Adam,
  batch 500, 1000 + 1000 epochs, 40,000 samples), n_clauses {3, 6, 8, 10, 15, 20, 25, 32} x
  hidden {4, 8, 12, 16} x seeds 0-4; vision: 10 + 1000 epochs, the paper's widths, A.7's
  rewiring grid; theory: 20,000 Monte Carlo trials per point; 200 coverage replicates.
- ``"quick"``: minutes on 2 CPU cores, offline data. DNF: the paper's schedule (1000 + 1000
  epochs, 40,000 samples: the wide trainer makes it affordable) on a reduced grid, n_clauses
  {3, 8, 15, 32} x hidden {4, 8, 16} x 3 seeds (the case study: 8 x 8, 3 seeds); vision: 10 + 300 epochs,
  small widths on digits (the paper's on embedding files); theory: 4,000 trials; 40
  coverage replicates.
- ``"tiny"``: seconds, for tests of the pipeline only (2 seeds, a few epochs): its numbers
  mean nothing. Not in ``PROFILES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Profile", "DNFProfile", "VisionProfile", "Shrink", "TheoryProfile", "CATALOGUE", "PROFILES",
           "ALL_PROFILES", "get_profile", "check_profile"]

#: the public profiles (``"tiny"`` exists for tests of the pipeline only)
PROFILES = ("quick", "paper")
ALL_PROFILES = ("tiny", "quick", "paper")


@dataclass(frozen=True)
class DNFProfile:
    """The DNF grid: clause counts x hidden widths x seeds, and the ``DNFExperiment`` fields
    that change its schedule (``{}``: the paper's defaults)."""

    n_clauses: tuple[int, ...]
    hidden: tuple[int, ...]
    seeds: tuple[int, ...]
    schedule: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Shrink:
    """A profile derived from another's vision grids: its ``seeds``, its ``n_widths``
    smallest widths, ``total_epochs`` split in the same proportion, rewiring every
    ``rewire_every`` steps."""

    seeds: tuple[int, ...]
    n_widths: int
    total_epochs: int
    rewire_every: int


@dataclass(frozen=True)
class VisionProfile:
    """The vision grids (``sweeps.vision_grids``): schedule ``(pretrain_epochs,
    split_epochs)``, seeds, hidden widths per grid on digits and on embedding files, and the
    A.7 rewiring grid (``rewire_every`` x ``rewire_fraction`` over ``dynamic_seeds``; None:
    the default rewiring only). ``shrink``: this profile is another one's grids, shrunk."""

    schedule: tuple[int, int] = (10, 300)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    widths: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    file_widths: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    dynamic_seeds: tuple[int, ...] | None = None
    rewire_every: tuple[int, ...] = ()
    rewire_fraction: tuple[float, ...] = ()
    shrink: tuple[str, Shrink] | None = None

    def widths_for(self, grid: str, dataset: str) -> tuple[int, ...]:
        """Hidden widths of ``grid`` on ``dataset`` (``"digits"`` saturates by hidden ~16;
        CLIP embeddings, 512-d with 100+ classes, need the paper's wider range)."""
        return (self.widths if dataset == "digits" else self.file_widths)[grid]


@dataclass(frozen=True)
class TheoryProfile:
    """Monte Carlo runs of the split: trials per point, the coverage panels
    ``(n_clauses, alpha)``, the clause counts of the collision runs and their parents."""

    trials: int
    coverage_panels: tuple[tuple[int, int], ...]
    collision_clauses: tuple[int, ...]
    collision_parents: int = 64
    #: clause counts of the model-gap runs (literal vs balanced models at the paper's sizing rule)
    model_gap_clauses: tuple[int, ...] = (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)


@dataclass(frozen=True)
class Profile:
    """Everything one profile sets."""

    name: str
    description: str
    dnf: DNFProfile
    vision: VisionProfile
    theory: TheoryProfile
    coverage_replicates: int  # split seeds per pre-trained network (validation's coverage claims)


#: the paper's vision widths (also the quick profile's on embedding files)
_PAPER_WIDTHS = {
    "fig5": (2, 4, 8, 16, 32, 64),
    "fig6a": (4, 8, 16, 32, 64),
    "fig6b": (8, 16, 32),
    "fig6cd": (4, 8, 16, 32, 64),
    "table_a3": (4, 8, 12, 16),
    "table_a4": (6, 8, 10, 12, 14, 16),
    "table_a5": (4, 8, 16, 32),
    "dynamic": (4, 8, 16),
}
_PANELS = ((8, 2), (32, 2), (8, 4), (32, 4))
_COLLISION_CLAUSES = (2, 3, 4, 6, 8, 12, 16, 24, 32)

PAPER = Profile(
    "paper",
    "the paper's schedules and grids (hours on 2 cores)",
    DNFProfile(n_clauses=(3, 6, 8, 10, 15, 20, 25, 32), hidden=(4, 8, 12, 16), seeds=(0, 1, 2, 3, 4)),
    VisionProfile(schedule=(10, 1000), widths=_PAPER_WIDTHS, file_widths=_PAPER_WIDTHS, dynamic_seeds=tuple(range(10)),
                  rewire_every=(50, 100, 200), rewire_fraction=(0.05, 0.1, 0.2)),
    TheoryProfile(trials=20000, coverage_panels=_PANELS, collision_clauses=_COLLISION_CLAUSES),
    coverage_replicates=200,
)

QUICK = Profile(
    "quick",
    "minutes on 2 CPU cores, offline data",
    # the paper's schedule (DNFExperiment defaults), fewer seeds than the paper's grid
    DNFProfile(n_clauses=(3, 8, 15, 32), hidden=(4, 8, 16), seeds=(0, 1, 2)),
    VisionProfile(schedule=(10, 300),
                  widths={**_PAPER_WIDTHS, "fig5": (2, 4, 8, 16), "fig6a": (2, 4, 8), "fig6b": (2, 4, 8),
                          "fig6cd": (2, 4, 8, 16), "table_a5": (2, 4, 8), "dynamic": (2, 4, 8)},
                  file_widths=_PAPER_WIDTHS),
    TheoryProfile(trials=4000, coverage_panels=_PANELS, collision_clauses=_COLLISION_CLAUSES),
    coverage_replicates=40,
)

TINY = Profile(
    "tiny",
    "seconds, for tests of the pipeline only: its numbers mean nothing",
    DNFProfile(n_clauses=(3, 8), hidden=(4, 8), seeds=(0, 1),
               schedule={"pretrain_epochs": 15, "split_epochs": 15, "n_samples": 400}),
    VisionProfile(shrink=("quick", Shrink(seeds=(0, 1), n_widths=2, total_epochs=12, rewire_every=2))),
    TheoryProfile(trials=500, coverage_panels=((8, 2),), collision_clauses=(4, 8), model_gap_clauses=(4, 8)),
    coverage_replicates=10,
)

CATALOGUE: dict[str, Profile] = {p.name: p for p in (TINY, QUICK, PAPER)}


def check_profile(name: str) -> str:
    """``name`` if it is a profile (``"tiny"`` included, for tests), else ``ValueError``."""
    if name not in CATALOGUE:
        raise ValueError(f"profile must be one of {list(PROFILES)} (or 'tiny' for tests), got {name!r}")
    return name


def get_profile(name: str) -> Profile:
    """The catalogue entry of profile ``name``."""
    return CATALOGUE[check_profile(name)]
