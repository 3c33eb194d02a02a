"""The figures a command writes, drawn by :mod:`~distributed_resource_optimization.figures`
(from the results' ``plot`` accessors) and saved as PNG: the study's figures 1-3 under their
file names, the nodal price maps, and each limit of the scenario over the day.

Figures are built without pyplot, so writing them neither needs nor changes the user's backend.
The functions on long-format tables (:func:`plot_thermal_fl22`, :func:`plot_der_series`,
:func:`plot_residuals`, :func:`plot_admm_residuals`) are kept for existing callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from distributed_resource_optimization.energy.district import DistrictData
from distributed_resource_optimization.energy.labels import has_coordinates
from distributed_resource_optimization.energy.verification import Verification
from distributed_resource_optimization.figures.convergence import (
    admm_convergence,
    market_convergence,
)
from distributed_resource_optimization.figures.district import der_series
from distributed_resource_optimization.figures.style import QUANTITY_LABELS, entity_label

#: Axis labels per quantity of the dispatch and price tables.
DISPATCH_LABELS: dict[str, str] = {
    "thermal_power": "Thermal power demand (kW)",
    "active_power": "Active power demand (kW)",
    "reactive_power": "Reactive power demand (kvar)",
}
PRICE_LABELS: dict[str, str] = {
    "thermal_power": "Thermal power price (S$/kWh)",
    "active_power": "Active power price (S$/kWh)",
    "reactive_power": "Reactive power price (S$/kvarh)",
}
#: Resolution of the written figures (dots per inch).
DPI = 110
#: The DER of the study's figures 1 and 2 (FL 22), drawn whenever the district has it.
STUDY_FIGURE_DER = "22"
#: The quantities whose nodal prices are drawn as maps (``price_map_<quantity>.png``).
PRICE_MAP_QUANTITIES: tuple[str, ...] = ("thermal_power", "active_power")


def save_figure(fig: Any, path: Path | str) -> Path:
    """Save a figure as PNG (:data:`DPI`)."""
    path = Path(path)
    fig.savefig(path, dpi=DPI)
    return path


def write_district_figures(out: Path, plots: Any, *, reference: Any = None,
                           district: DistrictData,
                           verification: Verification | None) -> dict[str, Path]:
    """The district figures of one run into ``out``: ``thermal_dispatch_fl22.png`` and
    ``thermal_price_fl22.png`` (the study's figures 1 and 2; ``plots`` is the result's ``plot``
    accessor, ``reference`` the centralized result they are compared with, if any),
    ``price_map_<quantity>.png`` for :data:`PRICE_MAP_QUANTITIES`, ``grid_map.png`` (the
    thermal prices on the grid's map where the prices differ most, the scenario's limited
    elements marked; where the nodes have coordinates), and per limit of the
    scenario ``limit_<kind>_<element>.png``: the element in the nonlinear model over the day
    against its limit (from ``verification``). A district without a DER 22 (e.g. a generated
    one) gets the first two for its last DER, ``..._fl<der>.png``."""
    der = figure_der(district.der_names)
    paths = {
        f"thermal_dispatch_fl{der}": save_figure(plots.dispatch(der, reference=reference),
                                                 out / f"thermal_dispatch_fl{der}.png"),
        f"thermal_price_fl{der}": save_figure(plots.prices(der, reference=reference),
                                              out / f"thermal_price_fl{der}.png"),
    }
    for quantity in PRICE_MAP_QUANTITIES:
        paths[f"price_map_{quantity}"] = save_figure(plots.price_heatmap(quantity),
                                                     out / f"price_map_{quantity}.png")
    if has_coordinates(district.electric_grid):
        paths["grid_map"] = save_figure(plots.grid_map(district=district),
                                        out / "grid_map.png")
    if verification is not None:
        paths.update(write_limit_figures(out, plots, district, verification))
    return paths


def figure_der(der_names) -> str:
    """The DER of the dispatch and price figures: :data:`STUDY_FIGURE_DER` if the district
    has it, else its last DER."""
    names = [str(d) for d in der_names]
    return STUDY_FIGURE_DER if STUDY_FIGURE_DER in names else names[-1]


def write_limit_figures(out: Path, plots: Any, district: DistrictData,
                        verification: Verification) -> dict[str, Path]:
    """Per tightened limit of the scenario: its element's nonlinear value over the day against
    the limit (``plots.limits``), as ``limit_<kind>_<element>.png``."""
    return {name: save_figure(fig, out / f"{name}.png")
            for name, fig in plots.limits(verification, district).items()}


# --------------------------------------------------------------------------------------------
# On long-format tables (kept for existing callers)


def plot_der_series(frame: pd.DataFrame, der: str, quantity: str, ylabel: str, title: str,
                    path: Path | str) -> Path:
    """Line plot of ``quantity`` at DER ``der`` over the day, one line per entity, saved as PNG.

    ``frame`` has the columns of :data:`.tables.COLUMNS`. Values are drawn as steps (each value
    holds for its timestep). ``ValueError`` if the frame has no such rows.
    """
    rows = frame[(frame["der"].astype(str) == str(der)) & (frame["quantity"] == quantity)]
    if rows.empty:
        raise ValueError(f"no rows for DER {der!r} and quantity {quantity!r}")
    series = {entity_label(str(entity)): pd.Series(
        group["value"].to_numpy(dtype=float),
        index=pd.DatetimeIndex(pd.to_datetime(group["timestep"])))
        for entity, group in rows.groupby("entity", sort=False)}
    return save_figure(der_series(series, title=title, ylabel=ylabel), path)


def plot_thermal_fl22(dispatch: pd.DataFrame, prices: pd.DataFrame, out_dir: Path | str,
                      scenario: str = "", der: str = "22") -> dict[str, Path]:
    """The study's figures 1 and 2 from long tables: thermal dispatch and thermal price at FL
    ``der`` (default 22), as ``thermal_dispatch_fl22.png`` and ``thermal_price_fl22.png``."""
    out = Path(out_dir)
    suffix = f" ({scenario})" if scenario else ""
    label = QUANTITY_LABELS["thermal_power"]
    return {
        "thermal_dispatch": plot_der_series(
            dispatch, der, "thermal_power", DISPATCH_LABELS["thermal_power"],
            f"{label} dispatch at FL {der}{suffix}", out / f"thermal_dispatch_fl{der}.png"),
        "thermal_price": plot_der_series(
            prices, der, "thermal_power", PRICE_LABELS["thermal_power"],
            f"{label} price at FL {der}{suffix}", out / f"thermal_price_fl{der}.png"),
    }


def plot_residuals(residuals: pd.DataFrame, path: Path | str, title: str = "Primal residuals",
                   eps: float | None = None) -> Path:
    """The study's figure 3 from ``residuals.csv``'s rows of one clearing (columns of
    :data:`.tables.RESIDUAL_COLUMNS`): primal residuals per quantity above, dual residuals and
    rho below, with the threshold ``eps``."""
    wide: dict[str, Any] = {}
    for quantity, group in residuals.groupby("quantity", sort=False):
        index = group["iteration"].to_numpy()
        wide[f"primal_{quantity}"] = pd.Series(group["primal"].to_numpy(float), index=index)
        wide[f"dual_{quantity}"] = pd.Series(group["dual"].to_numpy(float), index=index)
        wide["rho"] = pd.Series(group["rho"].to_numpy(float), index=index)
    history = pd.DataFrame(wide).rename_axis("iteration")
    return save_figure(market_convergence(history, eps=eps, title=title), path)


def plot_admm_residuals(result: Any, path: Path | str, title: str = "ADMM residuals",
                        gap_tol: float | None = None) -> Path:
    """The convergence of an :class:`~.admm.results.ADMMResult`: the certified gap where
    evaluated (``gap_tol`` if the run stopped on it), the residuals and their thresholds."""
    return save_figure(admm_convergence(result.history_frame, title=title, gap_tol=gap_tol),
                       path)


def figure_captions(paths: Mapping[str, Path]) -> list[tuple[Path, str]]:
    """Each written figure with a caption for the report, in the order written."""
    words = {"thermal_dispatch_fl22": "Thermal power dispatch at FL 22 (the study's figure 1)",
             "thermal_price_fl22": "Thermal power price at FL 22 (the study's figure 2)",
             "primal_residuals": "Residuals per iteration (the study's figure 3) and rho",
             "residuals": "Convergence: certified gap and residuals per iteration"}
    out = []
    for name, path in paths.items():
        if name in words:
            caption = words[name]
        elif name.startswith(("thermal_dispatch_fl", "thermal_price_fl")):
            kind = "dispatch" if "dispatch" in name else "price"
            caption = f"Thermal power {kind} at FL {name.rsplit('_fl', 1)[1]}"
        elif name.startswith("price_map_"):
            caption = (f"{QUANTITY_LABELS[name.removeprefix('price_map_')]} nodal prices, every "
                       "DER over the day")
        elif name == "grid_map":
            caption = ("The grid on its map: each building's thermal price at the step where "
                       "the prices differ most, the scenario's limited elements marked")
        elif name.startswith("limit_"):
            caption = "The scenario's limit over the day, in the nonlinear model"
        else:
            caption = name.replace("_", " ")
        out.append((path, caption))
    return out


__all__ = ["DISPATCH_LABELS", "DPI", "PRICE_LABELS", "PRICE_MAP_QUANTITIES", "figure_captions",
           "plot_admm_residuals", "plot_der_series", "plot_residuals", "plot_thermal_fl22",
           "save_figure", "write_district_figures", "write_limit_figures"]
