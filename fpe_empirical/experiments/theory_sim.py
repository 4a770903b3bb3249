"""The theory-simulation kind (``"theory-sim"``): a Monte Carlo run of the random split,
stored like any experiment so that the theory figures only read the store."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fpe_common.checks import check_choice, check_int

from .registry import experiment_kind

__all__ = ["TheorySimulation", "run_theory", "LAYOUTS"]

#: literal layouts ``fpe_theory.simulate`` draws from
LAYOUTS = ("contiguous", "shuffled")


@experiment_kind("theory-sim", 1)
@dataclass(frozen=True)
class TheorySimulation:
    """One Monte Carlo run of the random split (``fpe_theory.simulate``).

    The runner returns one row per ``m = 1..n_parents``: ``p_all_covered`` (with its 99.9%
    interval ``p_all_low`` / ``p_all_high``) using the first ``m`` parents of every trial
    (``SimulationResult.p_all_covered_at``), plus, on every row, the full run's
    ``mean_collisions`` / ``p_clause_covered`` estimates and intervals at ``n_parents``.
    """

    n_clauses: int = 8
    clause_size: int = 4
    alpha: int = 2
    n_parents: int = 8
    model: str = "partition"
    layout: str = "contiguous"
    trials: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        from fpe_theory import get_model, model_names

        check_choice("model", self.model, tuple(model_names()) + ("independent",))
        for name, minimum in (("n_clauses", 1), ("clause_size", 1), ("alpha", 2), ("n_parents", 1), ("trials", 1),
                              ("seed", 0)):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum))
        # the size rules are the model's own (balanced models: alpha divides n and a child can
        # hold a clause; literal: any alpha >= 2); fpe_theory raises ValueError naming the rule
        model = get_model(self.model)
        model.check_simulation(model.check_config(self.n_clauses, self.clause_size, self.alpha))
        check_choice("layout", self.layout, LAYOUTS)

    def cost(self) -> float:
        """Draws per run ~ trials x parents x literals, scaled to sit near a small DNF run."""
        return self.trials * self.n_parents * self.n_clauses * self.clause_size / 50.0

    @staticmethod
    def run_batch(configs) -> list[pd.DataFrame]:
        """The kind's runner: ``run_theory``."""
        return run_theory(configs)


def run_theory(configs) -> list[pd.DataFrame]:
    """Runner of kind ``"theory-sim"``: ``fpe_theory.simulate`` per config (numba threads as
    set; results do not depend on them)."""
    from fpe_theory.montecarlo import simulate, simulation_frame  # the API module (not the CLI behind the name)

    out = []
    for c in configs:
        if not isinstance(c, TheorySimulation):
            raise TypeError(f"configs must be TheorySimulation instances, got {type(c).__name__}")
        res = simulate(c.n_clauses, c.clause_size, c.alpha, c.n_parents, trials=c.trials, seed=c.seed,
                       model=c.model, layout=c.layout)
        frame = simulation_frame(res)
        frame["model"] = c.model  # as configured (a stored config may use an old model name)
        out.append(frame)
    return out
