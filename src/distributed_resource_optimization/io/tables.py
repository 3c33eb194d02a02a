"""Result tables of the runs: long-format CSV frames of the district market clearing, its
residuals, and the flex sharing actors.

Tables are long format with the columns :data:`COLUMNS`: ``timestep`` (ISO 8601 start time of the
step), ``entity`` (``centralized``; the ADMM market clearing adds ``thermal_grid_operator``,
``electric_grid_operator``, ``aggregator``, ``building_<name>``), ``der`` (the flexible load's
name as in the data, e.g. ``22``), ``quantity`` (``thermal_power``, ``active_power``,
``reactive_power``) and ``value``. Dispatch values are demand drawn from the grid in kW / kvar,
positive = consumption; prices are S$/kWh (S$/kvarh for reactive power) at the DER's node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from distributed_resource_optimization.energy.centralized import CentralizedResult
    from distributed_resource_optimization.energy.verification import Verification

COLUMNS: tuple[str, ...] = ("timestep", "entity", "der", "quantity", "value")
DISPATCH_FILE = "dispatch.csv"
PRICES_FILE = "prices.csv"
PRICE_COMPONENTS_FILE = "price_components.csv"


def long_frame(timesteps: pd.DatetimeIndex, der_names: Sequence[str],
               values: Mapping[str, np.ndarray], entity: str) -> pd.DataFrame:
    """Long table of ``values[quantity]`` arrays shaped ``(T, n_der)`` for one entity."""
    stamps = np.asarray(pd.DatetimeIndex(timesteps).strftime("%Y-%m-%dT%H:%M:%S"))
    frames = []
    for quantity, array in values.items():
        array = np.asarray(array, dtype=float)
        if array.shape != (len(stamps), len(der_names)):
            raise ValueError(f"{quantity}: expected shape {(len(stamps), len(der_names))}, "
                             f"got {array.shape}")
        frames.append(pd.DataFrame({
            "timestep": np.repeat(stamps, len(der_names)),
            "entity": entity,
            "der": np.tile(np.asarray(der_names, dtype=str), len(stamps)),
            "quantity": quantity,
            "value": array.ravel() + 0.0,  # time-major as the LP groups; + 0.0 turns -0.0 into 0.0
        }))
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def centralized_frames(result: CentralizedResult) -> tuple[pd.DataFrame, pd.DataFrame,
                                                           pd.DataFrame]:
    """Dispatch, price and price-component tables of a centralized solution (entity
    ``centralized``). The component table has an extra ``component`` column."""
    d = result.problem.district
    dispatch = long_frame(d.timesteps, d.der_names, result.dispatch, "centralized")
    prices = long_frame(d.timesteps, d.der_names, result.prices, "centralized")
    parts = []
    for quantity, comps in result.price_components.items():
        for name, array in comps.items():
            frame = long_frame(d.timesteps, d.der_names, {quantity: array}, "centralized")
            frame.insert(4, "component", name)
            parts.append(frame)
    return dispatch, prices, pd.concat(parts, ignore_index=True)


#: Per-step comparison of the linear and the nonlinear grids for each verified dispatch.
VERIFICATION_FILE = "verification.csv"


def verification_frame(verifications: Mapping[str, Verification]) -> pd.DataFrame:
    """One row per verified dispatch (``dispatch``: ``centralized`` / ``market``) and timestep:
    source powers, electric losses and pump power, each linear and nonlinear (kW), and the
    lowest AC voltage (p.u.), the largest AC branch power (kVA) and the lowest head (m)."""
    frames = []
    for name, v in verifications.items():
        frame = v.per_step.copy()
        frame.insert(0, "dispatch", name)
        frame.index = frame.index.strftime("%Y-%m-%dT%H:%M:%S")
        frames.append(frame.rename_axis("timestep").reset_index())
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# ADMM market clearing (entities next to ``centralized``)

RESIDUALS_FILE = "residuals.csv"
RESIDUAL_COLUMNS: tuple[str, ...] = ("iteration", "quantity", "primal", "dual", "rho",
                                     "lower_bound", "objective", "gap_certified", "round")
#: Columns of the engine's per-iteration history (``dro flex-sharing``'s ``residuals.csv``).
ENGINE_HISTORY_COLUMNS: tuple[str, ...] = ("iteration", "primal", "dual", "eps_primal",
                                           "eps_dual", "rho", "lower_bound", "objective",
                                           "gap_certified")


def market_frames(market, timesteps: pd.DatetimeIndex, der_names: Sequence[str]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dispatch and price tables of an ADMM :class:`~.market.clearing.MarketResult`, one entity
    per row group (``thermal_grid_operator``, ``electric_grid_operator``, ``aggregator``,
    ``building_<name>`` in per-building mode)."""
    names = [str(n) for n in der_names]
    tables = []
    for source in (market.dispatch, market.prices):
        parts = []
        for entity, values in source.items():
            ders = [entity.removeprefix("building_")] if entity.startswith("building_") else names
            parts.append(long_frame(timesteps, ders, values, entity))
        tables.append(pd.concat(parts, ignore_index=True))
    return tables[0], tables[1]


def residual_frame(market, round: int = 1) -> pd.DataFrame:
    """Residuals per iteration (columns :data:`RESIDUAL_COLUMNS`; ``round``: which clearing of
    a successive linearisation, 1 for the only one): ``primal`` is the study's
    ``r(a, b)`` per quantity (``thermal``, ``active``, ``reactive``; kW / kvar), ``dual`` the
    dual residual of that quantity (S$/kWh, :func:`market.rule.study_rule`), ``rho``
    the engine's penalty of that iteration (same for all three); ``lower_bound``,
    ``objective`` (S$) and ``gap_certified`` where the run evaluated the Lagrangian bound
    (empty elsewhere; see :class:`~.admm.stopping.CertifiedGapRule`)."""
    admm = market.admm
    n = min(len(v) for v in market.residuals.values())
    parts = []
    for quantity, values in market.residuals.items():
        dual = market.dual_residuals.get(quantity)
        parts.append(pd.DataFrame({
            "iteration": np.arange(1, n + 1), "quantity": quantity,
            "primal": np.asarray(values[:n], dtype=float),
            "dual": (np.asarray(dual[:n], dtype=float) if dual is not None
                     else np.asarray(admm.dual_residuals[:n], dtype=float)),
            # No penalty where the clearing had none (the interior-point method): empty.
            "rho": np.concatenate([np.asarray(admm.rho_history[:n], dtype=float),
                                   np.full(max(n - len(admm.rho_history), 0), np.nan)]),
            **_bound_columns(admm, n)}))
    frame = pd.concat(parts, ignore_index=True)
    frame["round"] = int(round)
    return frame[list(RESIDUAL_COLUMNS)]


def _bound_columns(admm, n: int) -> dict[str, np.ndarray]:
    return {"lower_bound": admm.lower_bound_history[:n], "objective": admm.objective_history[:n],
            "gap_certified": admm.gap_history[:n]}


def engine_history_frame(admm) -> pd.DataFrame:
    """The engine's history of an :class:`~.admm.results.ADMMResult`, one row per iteration
    (columns :data:`ENGINE_HISTORY_COLUMNS`): Boyd et al.'s residuals and thresholds, rho,
    and the Lagrangian bound, objective and certified gap where evaluated (else empty). A run
    of the interior-point method has one row per Newton iteration (its residuals: the
    coupling's violation and the largest stationarity residual, both relative; no rho)."""
    n = min(admm.iterations, len(admm.primal_residuals))
    rho = np.asarray(admm.rho_history[:n], dtype=float)
    return pd.DataFrame({
        "iteration": np.arange(1, n + 1), "primal": admm.primal_residuals[:n],
        "dual": admm.dual_residuals[:n], "eps_primal": admm.eps_primal[:n],
        "eps_dual": admm.eps_dual[:n],
        "rho": np.concatenate([rho, np.full(n - rho.size, np.nan)]),
        **_bound_columns(admm, n)})[list(ENGINE_HISTORY_COLUMNS)]


# --------------------------------------------------------------------------------------------
# Flex sharing

ACTORS_FILE = "actors.csv"


def flex_actor_frame(result) -> pd.DataFrame:
    """One row per actor of a :class:`~.flex_sharing.FlexSharingResult`: ``name``,
    ``utilisation`` (0-1) and ``output_<k>_kw`` for sectors ``k = 1..M``."""
    n, m = result.instance.n_actors, result.instance.n_sectors
    names = [f"actor_{i}" for i in range(n)]
    X = result.outputs() + 0.0
    frame = pd.DataFrame({"name": names, "utilisation": result.utilisation()})
    for k in range(m):
        frame[f"output_{k + 1}_kw"] = X[:, k]
    return frame
