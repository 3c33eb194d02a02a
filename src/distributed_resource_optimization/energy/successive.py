"""Successive linearisation: re-linearise the grids at the dispatch, per step, until the
nonlinear limits hold.

The district's linear models are tangents at one reference demand (the buildings' peak). Far from
it they err: the thermal-head dispatch goes 13 % beyond its head limit in the nonlinear hydraulics,
and the linear losses are 38 % low over the day and negative at night
(:mod:`.verification`). :func:`solve_successively` solves the centralized problem with the
reference linearisation (round 1), then linearises each grid at each step's own dispatch (the
AC power flow and the hydraulics at that step's demand, :func:`step_models`) and solves again,
until every limit holds in the nonlinear models within the verification's tolerance and the
objective moved by at most ``objective_tol_rel`` from the round before (or ``max_rounds``).
The scenario's limits stay what they are (physical values from the reference model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import non_negative_scalar, positive_int
from .centralized import CentralizedResult, build_centralized, solve_centralized
from .district import DistrictData
from .electric_grid import LinearElectricGridModel, linear_electric_grid_model
from .thermal_grid import LinearThermalGridModel, linear_thermal_grid_model
from .verification import (
    DEFAULT_TOLERANCE_REL,
    DEFAULT_VOLTAGE_TOLERANCE_PU,
    HOLDS,
    Verification,
    describe_excess,
    verify_centralized,
)

#: ``--linearisation``: the study's one linearisation, or successive linearisation.
LINEARISATIONS: tuple[str, ...] = ("once", "iterate")
#: Default of the command line: re-linearise until the dispatch holds in the nonlinear grids
#: (``once`` reproduces the study's single linearisation, for comparison).
DEFAULT_LINEARISATION = "iterate"
#: Largest number of LPs of :func:`solve_successively` (the first one included).
DEFAULT_MAX_ROUNDS = 10
#: The objective may move by at most this much (relative) between the last two rounds.
DEFAULT_OBJECTIVE_TOL_REL = 1e-6


def check_linearisation(name: str) -> str:
    """``name`` if it is one of :data:`LINEARISATIONS`, else ``ValueError`` listing them."""
    if name not in LINEARISATIONS:
        raise ValueError(f"unknown linearisation {name!r}; valid: {', '.join(LINEARISATIONS)}")
    return name


@dataclass(frozen=True)
class LinearisationRound:
    """One round of the successive linearisation (an LP, or a market clearing): its
    ``objective`` (S$), the verification's ``status`` and worst check (``worst_kind``,
    ``worst_violation_rel``), and the electric losses over the horizon, linear and AC (kWh)."""

    round: int
    objective: float
    status: str
    worst_kind: str
    worst_violation_rel: float
    losses_linear_kwh: float
    losses_ac_kwh: float
    #: ADMM iterations of a market clearing round (``None`` for a centralized LP).
    iterations: int | None = None
    #: The worst check's violation in its unit (``worst_unit``; K for the comfort band).
    worst_violation: float = 0.0
    worst_unit: str = ""

    def as_dict(self) -> dict:
        return dict(vars(self))

    def describe(self) -> str:
        """One line: iterations (a market clearing), objective and the worst check."""
        its = "" if self.iterations is None else f"{self.iterations} iterations, "
        worst = describe_excess(self.worst_unit, self.worst_violation, self.worst_violation_rel)
        return (f"{its}objective {self.objective:.2f} S$, {self.status} (worst "
                f"{self.worst_kind} {worst} over)")


def check_rounds(max_rounds: int, objective_tol_rel: float) -> int:
    """``max_rounds`` as an int, or an error naming the setting that is out of range."""
    non_negative_scalar(objective_tol_rel, "objective_tol_rel")
    return positive_int(max_rounds, "max_rounds")


def settled(rounds: list[LinearisationRound], objective_tol_rel: float) -> bool:
    """Whether the last round ends the successive linearisation: its dispatch holds every limit
    in the nonlinear grids and its objective moved by at most ``objective_tol_rel`` (relative)
    from the round before."""
    if len(rounds) < 2 or rounds[-1].status != HOLDS:
        return False
    last, before = rounds[-1].objective, rounds[-2].objective
    return abs(last - before) / abs(last) <= objective_tol_rel


@dataclass
class SuccessiveResult:
    """Outcome of :func:`solve_successively`: the last round's ``result`` and ``verification``,
    every round's summary (``rounds``) and whether it ``converged`` (limits hold and the
    objective settled) within the round limit."""

    result: CentralizedResult
    verification: Verification
    rounds: list[LinearisationRound]
    converged: bool

    def __repr__(self) -> str:
        last = self.rounds[-1]
        return (f"SuccessiveResult({'converged' if self.converged else 'not converged'} in "
                f"{len(self.rounds)} rounds, objective {last.objective:.2f} S$, "
                f"verification {last.status})")


def step_models(district: DistrictData, thermal_kw: np.ndarray, active_kw: np.ndarray,
                reactive_kvar: np.ndarray
                ) -> tuple[list[LinearThermalGridModel], list[LinearElectricGridModel]]:
    """Both grids linearised at each step's demand (``(T, n_der)`` arrays, kW / kvar)."""
    thermal = [linear_thermal_grid_model(district.thermal_grid, p_th) for p_th in thermal_kw]
    electric = [linear_electric_grid_model(district.electric_grid, p, q)
                for p, q in zip(active_kw, reactive_kvar)]
    return thermal, electric


def linearisation_round(k: int, objective: float, v: Verification,
                        iterations: int | None = None) -> LinearisationRound:
    """Round ``k``'s summary from its objective (S$) and the verification of its dispatch
    (``iterations``: a market clearing's)."""
    worst = v.worst
    return LinearisationRound(round=k, objective=objective, status=v.status, iterations=iterations,
                              worst_kind=worst.kind, worst_violation_rel=worst.violation_rel,
                              worst_violation=worst.violation, worst_unit=worst.unit,
                              losses_linear_kwh=v.energy_kwh["electric_losses_linear_kwh"],
                              losses_ac_kwh=v.energy_kwh["electric_losses_ac_kwh"])


def solve_successively(district: DistrictData, scenario: str, *,
                       max_rounds: int = DEFAULT_MAX_ROUNDS,
                       objective_tol_rel: float = DEFAULT_OBJECTIVE_TOL_REL,
                       tolerance_rel: float = DEFAULT_TOLERANCE_REL,
                       voltage_tolerance_pu: float = DEFAULT_VOLTAGE_TOLERANCE_PU
                       ) -> SuccessiveResult:
    """The centralized problem of ``scenario`` by successive linearisation (module doc)."""
    max_rounds = check_rounds(max_rounds, objective_tol_rel)
    tolerances = {"tolerance_rel": tolerance_rel, "voltage_tolerance_pu": voltage_tolerance_pu}
    result = solve_centralized(build_centralized(district, scenario))
    verification = verify_centralized(result, **tolerances)
    rounds = [linearisation_round(1, result.objective, verification)]
    converged = False
    while len(rounds) < max_rounds:
        d = result.dispatch
        thermal, electric = step_models(district, d["thermal_power"], d["active_power"],
                                        d["reactive_power"])
        result = solve_centralized(build_centralized(
            district, scenario, thermal_step_models=thermal, electric_step_models=electric))
        verification = verify_centralized(result, **tolerances)
        rounds.append(linearisation_round(len(rounds) + 1, result.objective, verification))
        if settled(rounds, objective_tol_rel):
            converged = True
            break
    return SuccessiveResult(result, verification, rounds, converged)
