"""Result files of the district market clearing: long-format CSV tables and ``summary.json``.

Tables are long format with the columns :data:`COLUMNS`: ``timestep`` (ISO 8601 start time of the
step), ``entity`` (``centralized``; the ADMM market clearing adds ``thermal_grid_operator``,
``electric_grid_operator``, ``aggregator``, ``building_<name>``), ``der`` (the flexible load's
name as in the data, e.g. ``22``), ``quantity`` (``thermal_power``, ``active_power``,
``reactive_power``) and ``value``. Dispatch values are demand drawn from the grid in kW / kvar,
positive = consumption; prices are S$/kWh (S$/kvarh for reactive power) at the DER's node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from distributed_resource_optimization.energy.centralized import CentralizedResult

COLUMNS: tuple[str, ...] = ("timestep", "entity", "der", "quantity", "value")
DISPATCH_FILE = "dispatch.csv"
PRICES_FILE = "prices.csv"
PRICE_COMPONENTS_FILE = "price_components.csv"
SUMMARY_FILE = "summary.json"


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


def centralized_summary(result: CentralizedResult, wall_time_s: float) -> dict:
    """JSON-ready summary: scenario, objective (S$ over the horizon), times (s), binding limits."""
    d = result.problem.district
    limits = result.problem.limits
    return {
        "scenario": result.scenario,
        "scenario_description": limits.description,
        "method": "centralized",
        "centralized_objective": result.objective,
        "objective_unit": "S$",
        "wall_time_s": float(wall_time_s),
        "solver_time_s": result.wall_time_s,
        "n_timesteps": d.n_timesteps,
        "resolution": d.resolution,
        "timestep_h": d.timestep_h,
        "n_der": d.n_der,
        "linearisation_reference": d.reference,
        "reference_timestep": None if d.reference_timestep is None
        else d.reference_timestep.isoformat(),
        "binding_constraints": result.binding_constraints(),
        "solver_status": result.message,
    }


def write_centralized(result: CentralizedResult, out_dir: Path | str, wall_time_s: float
                      ) -> dict[str, Path]:
    """Write ``summary.json``, ``dispatch.csv``, ``prices.csv`` and ``price_components.csv`` into
    ``out_dir`` (created if needed); returns the paths by short name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dispatch, prices, components = centralized_frames(result)
    paths = {"dispatch": out / DISPATCH_FILE, "prices": out / PRICES_FILE,
             "price_components": out / PRICE_COMPONENTS_FILE, "summary": out / SUMMARY_FILE}
    dispatch.to_csv(paths["dispatch"], index=False)
    prices.to_csv(paths["prices"], index=False)
    components.to_csv(paths["price_components"], index=False)
    paths["summary"].write_text(json.dumps(centralized_summary(result, wall_time_s), indent=2)
                                + "\n")
    return paths


# --------------------------------------------------------------------------------------------
# ADMM market clearing (entities next to ``centralized``)

RESIDUALS_FILE = "residuals.csv"
RESIDUAL_COLUMNS: tuple[str, ...] = ("iteration", "quantity", "primal", "dual", "rho",
                                     "lower_bound", "objective", "gap_certified")
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


def residual_frame(market) -> pd.DataFrame:
    """Residuals per iteration (columns :data:`RESIDUAL_COLUMNS`): ``primal`` is the seed's
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
            "rho": np.asarray(admm.rho_history[:n], dtype=float),
            **_bound_columns(admm, n)}))
    return pd.concat(parts, ignore_index=True)[list(RESIDUAL_COLUMNS)]


def _bound_columns(admm, n: int) -> dict[str, np.ndarray]:
    return {"lower_bound": admm.lower_bound_history[:n], "objective": admm.objective_history[:n],
            "gap_certified": admm.gap_history[:n]}


def engine_history_frame(admm) -> pd.DataFrame:
    """The engine's history of an :class:`~.admm.results.ADMMResult`, one row per iteration
    (columns :data:`ENGINE_HISTORY_COLUMNS`): Boyd et al.'s residuals and thresholds, rho,
    and the Lagrangian bound, objective and certified gap where evaluated (else empty)."""
    n = admm.iterations
    return pd.DataFrame({
        "iteration": np.arange(1, n + 1), "primal": admm.primal_residuals[:n],
        "dual": admm.dual_residuals[:n], "eps_primal": admm.eps_primal[:n],
        "eps_dual": admm.eps_dual[:n], "rho": admm.rho_history[:n],
        **_bound_columns(admm, n)})[list(ENGINE_HISTORY_COLUMNS)]


def bound_summary(admm) -> dict:
    """``lower_bound``, ``gap_certified`` and the objective they were compared with
    (``bound_objective``) of a run; ``None`` where the run has no bound."""
    return {"lower_bound": admm.lower_bound, "bound_objective": admm.bound_objective,
            "gap_certified": admm.gap_certified}


def market_summary(market, central: CentralizedResult | None, comparison: Mapping[str, float]
                   | None = None) -> dict:
    """Summary entries of an ADMM clearing (to merge into :func:`centralized_summary`)."""
    out = {
        "admm_objective": market.objective,
        "iterations": market.iterations,
        "converged": market.converged,
        "status": market.admm.status.value,
        "agents": market.agents,
        "rho": market.rho,
        "eps": market.eps,
        "primal_residual_final": market.primal_residual_final,
        "dual_residual_final": market.dual_residual_final,
        "entity_objectives": market.entity_objectives,
        "runtime": market.runtime,
        "agent_processes": market.agent_processes,
        "messages": market.messages,
        "bytes_sent": market.bytes_sent,
        "resent_requests": market.admm.resent_requests,
        "stale_replies": market.admm.stale_replies,
        "rejected_messages": market.admm.rejected_messages,
        **bound_summary(market.admm),
    }
    if comparison is not None:
        out.update({k: float(v) for k, v in comparison.items()})
    return out


# --------------------------------------------------------------------------------------------
# Writing files (the output folder itself: io_folders.OutputFolder)


def write_json(path: Path | str, data: Mapping) -> Path:
    """``data`` as indented JSON (non-finite numbers as ``null``)."""
    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return clean(v.item())
        return v

    path = Path(path)
    path.write_text(json.dumps(clean(dict(data)), indent=2) + "\n")
    return path


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


def flex_summary(result) -> dict:
    """``summary.json`` of ``dro flex-sharing``."""
    admm = result.admm
    return {
        "problem": "flex-sharing",
        "actors": result.instance.n_actors,
        "sectors": result.instance.n_sectors,
        "seed": result.seed,
        "objective": admm.objective,
        "centralized_objective": result.centralized_objective,
        "objective_gap_rel": result.objective_gap_rel,
        "objective_unit": "S$",
        "iterations": admm.iterations,
        "converged": admm.converged,
        "status": admm.status.value,
        "wall_time_s": result.wall_time_s,
        "centralized_wall_time_s": result.centralized_wall_time_s,
        "runtime": result.runtime,
        "agent_processes": result.agent_processes,
        "messages": result.messages,
        "bytes_sent": result.bytes_sent,
        "resent_requests": admm.resent_requests,
        "stale_replies": admm.stale_replies,
        "rejected_messages": admm.rejected_messages,
        **bound_summary(admm),
        "aggregate_kw": admm.z.tolist(),
        "target_kw": result.instance.target_kw.tolist(),
    }


# --------------------------------------------------------------------------------------------
# Warm starts across runs

#: The engine's last iterate, one row per actor entry: what ``--warm-start`` reads.
STATE_FILE = "admm_state.csv"
STATE_COLUMNS: tuple[str, ...] = ("actor", "entry", "output", "price", "rho")


def state_frame(admm) -> pd.DataFrame:
    """:data:`STATE_COLUMNS` of an :class:`~.admm.results.ADMMResult`'s last iterate: the
    actor, its entry (the global variable's name, or the position in its output vector), its
    output and the price it saw (the unit of the outputs' costs per unit of output) and the
    final penalty (the same on every row)."""
    from distributed_resource_optimization.admm.warm_start import WarmStart

    warm = WarmStart.from_result(admm)
    return pd.DataFrame({"actor": warm.actors, "entry": warm.entries, "output": warm.outputs,
                         "price": warm.prices,
                         "rho": np.nan if warm.rho is None else warm.rho})


def read_warm_start(path: Path | str):
    """The :class:`~.admm.warm_start.WarmStart` of a :data:`STATE_FILE` written by an earlier
    run; a malformed file raises ``ValueError`` naming the file, row and column (the checks of
    :func:`~.energy.tables.read_table`)."""
    from distributed_resource_optimization.admm.warm_start import WarmStart
    from distributed_resource_optimization.energy.tables import DataFileError, read_table

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--warm-start {path}: no such file (the {STATE_FILE} of an earlier run)")
    # rho may be empty (a run without a penalty to pass on: the coordinator's is used), so it
    # is read as optional, but the column itself must be there.
    frame = read_table(path.parent, path.name,
                       {"actor": str, "entry": str, "output": float, "price": float},
                       optional={"rho": float})
    if "rho" not in frame.columns:
        raise DataFileError(path, "required column is missing", column="rho")
    rho = frame["rho"].to_numpy(dtype=float)
    rho = rho[np.isfinite(rho)]
    if rho.size and (np.ptp(rho) > 0 or rho[0] <= 0):
        raise DataFileError(path, "one positive penalty on every row expected", column="rho")
    try:
        return WarmStart(tuple(frame["actor"]), tuple(frame["entry"]),
                         frame["output"].to_numpy(dtype=float),
                         frame["price"].to_numpy(dtype=float),
                         float(rho[0]) if rho.size else None)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
