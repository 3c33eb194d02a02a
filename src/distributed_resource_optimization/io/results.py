"""Results to and from folders: :func:`save_results` writes a result as the commands do,
:func:`read_results` reads any command's output folder back as labelled data.

The live results (:class:`~..energy.centralized.CentralizedResult`,
:class:`~..market.clearing.MarketResult`, :class:`~..flex_sharing.FlexSharingResult`) hold what
files do not (the LP, the agents' runtime); a folder reads back as a :class:`SavedRun` with the
same labelled accessors: ``dispatch_frame``, ``prices_frame``, ``residuals_frame``,
``to_xarray()`` and ``status``, and the ``summary`` as written. Saving lives here, not on the
result classes, because the writers sit above them (``io`` imports the models, never the
reverse).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from distributed_resource_optimization.admm.results import ADMMStatus
from distributed_resource_optimization.energy.centralized import CentralizedResult, SolverStatus
from distributed_resource_optimization.energy.labels import (
    DistrictPlots,
    entity_variables,
    units_of,
)
from distributed_resource_optimization.energy.verification import verify_centralized
from distributed_resource_optimization.figures.convergence import admm_convergence
from distributed_resource_optimization.figures.style import entity_label
from distributed_resource_optimization.flex_sharing import FlexSharingResult
from distributed_resource_optimization.io.output import OutputFolder
from distributed_resource_optimization.io.summary import SUMMARY_FILE
from distributed_resource_optimization.io.tables import (
    ACTORS_FILE,
    DISPATCH_FILE,
    PRICE_COMPONENTS_FILE,
    PRICES_FILE,
    RESIDUALS_FILE,
    VERIFICATION_FILE,
)
from distributed_resource_optimization.io.writers import (
    write_centralized_run,
    write_flex_sharing,
    write_market_clearing,
)
from distributed_resource_optimization.market.clearing import (
    MarketResult,
    compare_with_centralized,
    verify_market,
)
from distributed_resource_optimization.market.names import BUILDING_PREFIX

__all__ = ["SavedRun", "SavedRunPlots", "read_results", "save_results"]


def save_results(result: CentralizedResult | MarketResult | FlexSharingResult,
                 folder: Path | str, *, centralized: CentralizedResult | None = None,
                 overwrite: bool = False, figures: bool = True) -> Path:
    """Write ``result`` into ``folder`` as the command that makes it does (the same files,
    ``summary.json`` keys and figures; the dispatch verified in the nonlinear grids as the
    command does), atomically and only into a folder that is new, empty or an earlier output
    of this function (``overwrite`` as ``--overwrite``). A :class:`MarketResult` needs the
    ``centralized`` result of the same scenario its files compare with (``dro market-clearing
    --method both``). ``figures=False`` writes no figures (as ``--figures none``). Returns the
    folder."""
    if isinstance(result, MarketResult) and centralized is None:
        raise ValueError("centralized: saving a MarketResult needs the CentralizedResult of the "
                         "same scenario (the files compare the market with it)")
    if not isinstance(result, (CentralizedResult, MarketResult, FlexSharingResult)):
        raise TypeError(f"result must be a CentralizedResult, MarketResult or "
                        f"FlexSharingResult, got {type(result).__name__}")
    output = OutputFolder(folder, "save_results", overwrite=overwrite)
    output.check()
    with output as tmp:
        if isinstance(result, FlexSharingResult):
            write_flex_sharing(tmp, result, title=f"Flex sharing, {result.instance.n_actors} "
                               "actors", figures=figures)
        elif isinstance(result, MarketResult):
            district = centralized.problem.district
            verifications = {"centralized": verify_centralized(centralized),
                             "market": verify_market(result, district)}
            comparison = compare_with_centralized(result, centralized, price_ranges=True)
            write_market_clearing(tmp, district, result, centralized, comparison,
                                  method="both", scenario=result.scenario,
                                  wall_central_s=centralized.wall_time_s,
                                  wall_admm_s=result.wall_time_s, verifications=verifications,
                                  figures=figures)
        else:
            write_centralized_run(tmp, result, result.wall_time_s, result.scenario,
                                  verifications={"centralized": verify_centralized(result)},
                                  figures=figures)
    return Path(folder)


def _read_csv(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / name
    return pd.read_csv(path, dtype={"der": str}) if path.exists() else None


def _wide(long: pd.DataFrame | None, kind: str) -> pd.DataFrame | None:
    """A long result table (``timestep, entity, der, quantity, value``) as a frame: rows
    ``timestep``, columns ``(entity, quantity, der)`` in the table's order."""
    if long is None:
        return None
    frame = long.pivot_table(index="timestep", columns=["entity", "quantity", "der"],
                             values="value", aggfunc="first", sort=False)
    order = list(dict.fromkeys(zip(long["entity"], long["quantity"], long["der"])))
    frame = frame.reindex(columns=pd.MultiIndex.from_tuples(
        order, names=["entity", "quantity", "der"]))
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index), name="timestep")
    frame.attrs["units"] = {q: u for q, u in units_of(kind).items()
                            if q in set(long["quantity"])}
    return frame


@dataclass(repr=False)
class SavedRun:
    """A command's output folder read back (:func:`read_results`): the ``summary`` as written
    and each table as written (``None`` where the command writes none)."""

    folder: Path
    summary: dict
    dispatch: pd.DataFrame | None = None
    prices: pd.DataFrame | None = None
    price_components: pd.DataFrame | None = None
    residuals: pd.DataFrame | None = None
    verification: pd.DataFrame | None = None
    actors: pd.DataFrame | None = None

    @property
    def kind(self) -> str:
        """``"flex-sharing"``, ``"market-clearing"`` (ADMM, with or without the centralized
        rows) or ``"centralized"``."""
        if self.summary.get("problem") == "flex-sharing":
            return "flex-sharing"
        return "market-clearing" if "iterations" in self.summary else "centralized"

    @property
    def status(self) -> ADMMStatus | SolverStatus:
        """How the run ended: the ADMM run's status, or for a centralized run the solver's
        (a centralized run writes results only when it is optimal)."""
        if self.kind == "centralized":
            return SolverStatus.OPTIMAL
        return ADMMStatus(self.summary["status"])

    @property
    def dispatch_frame(self) -> pd.DataFrame | None:
        """``dispatch.csv`` as a frame: rows ``timestep``, columns ``(entity, quantity, der)``
        (entity ``centralized`` and, after ADMM, the market's entities), kW / kvar."""
        return _wide(self.dispatch, "dispatch")

    @property
    def prices_frame(self) -> pd.DataFrame | None:
        """``prices.csv`` as a frame like :attr:`dispatch_frame`, S$/kWh (S$/kvarh)."""
        return _wide(self.prices, "prices")

    @property
    def residuals_frame(self) -> pd.DataFrame | None:
        """``residuals.csv`` indexed by iteration (and ``round``, ``quantity`` after a market
        clearing)."""
        if self.residuals is None:
            return None
        keys = [k for k in ("round", "quantity") if k in self.residuals.columns]
        return self.residuals.set_index(keys + ["iteration"]).sort_index()

    @property
    def plot(self) -> SavedRunPlots:
        """Figures of the saved run, drawn again from its tables: for a district run
        ``dispatch``, ``prices``, ``price_heatmap``, ``grid_map(..., district=...)`` (one line
        per entity; the ADMM entities' prices first where the run has them), for every run with
        ``residuals.csv`` of the engine ``convergence()``."""
        return SavedRunPlots(self)

    def to_xarray(self) -> xr.Dataset:
        """The folder as a dataset: per quantity the dispatch and its price
        (``price_<quantity>``) over ``(entity, timestep, der)`` with ``units``; for flex sharing
        the actors' outputs over ``(actor, sector)``; the summary's scalars as attributes."""
        variables: dict[str, xr.DataArray] = {}
        for prefix, frame, kind in (("", self.dispatch_frame, "dispatch"),
                                    ("price_", self.prices_frame, "prices")):
            if frame is None:
                continue
            entities = list(dict.fromkeys(frame.columns.get_level_values("entity")))
            ders = list(dict.fromkeys(
                frame[next(e for e in entities if not e.startswith(BUILDING_PREFIX))]
                .columns.get_level_values("der")))
            values = {e: {q: frame[e][q].to_numpy()
                          for q in dict.fromkeys(frame[e].columns.get_level_values("quantity"))}
                      for e in entities}
            variables.update(entity_variables(values, frame.index, ders, kind, BUILDING_PREFIX,
                                              prefix=prefix))
        if self.actors is not None:
            outputs = self.actors.filter(regex=r"^output_\d+_kw$")
            variables["output"] = xr.DataArray(
                outputs.to_numpy(), dims=("actor", "sector"),
                coords={"actor": self.actors["name"].astype(str).to_numpy(),
                        "sector": np.arange(outputs.shape[1])}, attrs={"units": "kW"})
            variables["utilisation"] = xr.DataArray(
                self.actors["utilisation"].to_numpy(), dims="actor", attrs={"units": "1"})
        # Scalars only (netCDF attributes hold no nested values; a bool is stored as 0 / 1).
        attrs = {k: int(v) if isinstance(v, bool) else v for k, v in self.summary.items()
                 if isinstance(v, (str, int, float))}
        return xr.Dataset(variables, attrs=attrs)

    def __repr__(self) -> str:
        s = self.summary
        objective = s.get("admm_objective", s.get("centralized_objective", s.get("objective")))
        objective = "n/a" if objective is None else f"{objective:.6g}"
        tables = [name for name in ("dispatch", "prices", "price_components", "residuals",
                                    "verification", "actors") if getattr(self, name) is not None]
        iterations = f", iterations={s['iterations']}" if "iterations" in s else ""
        verification = s.get("verification", {}).get("status")
        checked = f", verification={verification}" if verification else ""
        if s.get("max_price_deviation") is not None:
            checked += (f", price deviation from centralized <= "
                        f"{s['max_price_deviation']:.2g} S$/kWh")
        return (f"SavedRun({self.kind}, status={self.status.name}{iterations}, "
                f"objective={objective}{checked},\n  folder={str(self.folder)!r}, "
                f"tables: {', '.join(tables)})")


@dataclass(frozen=True)
class _Reference:
    """The centralized rows of a saved run, as a reference for its figures."""

    dispatch_frame: pd.DataFrame
    prices_frame: pd.DataFrame
    objective: float


class SavedRunPlots(DistrictPlots):
    """The ``plot`` accessor of a :class:`SavedRun` (:class:`~..energy.labels.DistrictPlots`
    on its frames, and :meth:`convergence`)."""

    def __init__(self, run: SavedRun) -> None:
        self._run = run
        dispatch, prices = run.dispatch_frame, run.prices_frame
        entities = [] if prices is None else [
            e for e in dict.fromkeys(prices.columns.get_level_values("entity"))
            if not str(e).startswith(BUILDING_PREFIX)]
        s = run.summary
        # After ADMM the centralized rows are the reference the market is drawn against (a
        # note says where the dispatch differs at equal cost); alone, they are the lines.
        self._reference = None
        if "centralized" in entities and len(entities) > 1:
            entities.remove("centralized")
            self._reference = _Reference(dispatch["centralized"], prices["centralized"],
                                         s.get("centralized_objective", math.nan))
        objective = s.get("admm_objective", s.get("centralized_objective", math.nan))
        super().__init__({entity_label(e): dispatch[e] for e in entities},
                         {entity_label(e): prices[e] for e in entities},
                         objective if objective is not None else math.nan,
                         f"{s.get('scenario', '?')}, saved", scenario=s.get("scenario"))

    def dispatch(self, der: str = "22", quantity: str = "thermal_power", reference=None):
        return super().dispatch(der, quantity, reference or self._reference)

    def prices(self, der: str = "22", quantity: str = "thermal_power", reference=None):
        return super().prices(der, quantity, reference or self._reference)

    def convergence(self, gap_tol: float | None = None):
        """The engine's residuals and certified gap per iteration (a flex sharing folder's
        ``residuals.csv``)."""
        history = self._run.residuals
        if history is None or "eps_primal" not in history.columns:
            raise ValueError(f"{self._run.folder}: no engine history (residuals.csv with "
                             "eps_primal) to draw")
        frame = history.set_index("iteration").rename(columns={"gap_certified": "gap"})
        s = self._run.summary
        return admm_convergence(frame, gap_tol=gap_tol, title=f"Convergence "
                                f"({s.get('iterations', '?')} iterations, {s.get('status')})")


def read_results(folder: Path | str) -> SavedRun:
    """Read what ``dro market-clearing``, ``dro flex-sharing`` or :func:`save_results` wrote into
    ``folder`` (``ValueError`` naming the folder if it holds no ``summary.json``)."""
    folder = Path(folder)
    path = folder / SUMMARY_FILE
    if not path.is_file():
        raise ValueError(f"{folder}: no {SUMMARY_FILE}; not an output folder of dro")
    summary = json.loads(path.read_text())
    return SavedRun(folder, summary, dispatch=_read_csv(folder, DISPATCH_FILE),
                    prices=_read_csv(folder, PRICES_FILE),
                    price_components=_read_csv(folder, PRICE_COMPONENTS_FILE),
                    residuals=_read_csv(folder, RESIDUALS_FILE),
                    verification=_read_csv(folder, VERIFICATION_FILE),
                    actors=_read_csv(folder, ACTORS_FILE))
