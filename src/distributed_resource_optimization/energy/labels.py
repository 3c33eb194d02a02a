"""Labelled results of the district: ``(timestep, der)`` arrays per quantity as pandas frames and
xarray datasets with units.

One owner of how a district result is labelled, for the centralized result (:mod:`.centralized`)
and the market clearing's (:mod:`~distributed_resource_optimization.market.clearing`): a frame
is indexed by the steps' start times (``timestep``, a ``DatetimeIndex``) with columns
``(quantity, der)`` (or ``(entity, quantity, der)``), one unit per column, the units in
``frame.attrs["units"]`` (quantity -> unit); a dataset has one variable per quantity over
``(timestep, der)`` (and ``entity``), each with a ``units`` attribute (:data:`DISPATCH_UNITS`,
:data:`PRICE_UNITS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from distributed_resource_optimization.figures.district import (
    der_series,
    grid_map,
    limit_over_day,
    price_heatmap,
)
from distributed_resource_optimization.figures.style import QUANTITY_LABELS

from . import DISPATCH_UNITS, PRICE_UNITS
from .scenarios import CHECK_OF_LIMIT, LIMITS, rule_element, scenario_rules

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["DISPATCH_UNITS", "PRICE_UNITS", "DistrictPlots", "has_coordinates",
           "quantity_frame", "quantity_variables", "entity_frame", "entity_variables", "units_of"]


def units_of(kind: str) -> dict[str, str]:
    """The units per quantity of ``kind``: ``"dispatch"`` or ``"prices"``."""
    if kind not in ("dispatch", "prices"):
        raise ValueError(f"kind must be 'dispatch' or 'prices', got {kind!r}")
    return dict(DISPATCH_UNITS if kind == "dispatch" else PRICE_UNITS)


def _index(timesteps: Sequence) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(timesteps, name="timestep")


def quantity_frame(values: Mapping[str, np.ndarray], timesteps: Sequence,
                   der_names: Sequence[str], kind: str) -> pd.DataFrame:
    """``values[quantity]`` (``(T, n_der)`` arrays) as one frame: rows ``timestep``, columns
    ``(quantity, der)``; ``attrs["units"]`` per quantity (``kind``: ``"dispatch"`` or
    ``"prices"``)."""
    units = units_of(kind)
    index = _index(timesteps)
    ders = [str(n) for n in der_names]
    parts = {}
    for quantity, array in values.items():
        array = np.asarray(array, dtype=float)
        if array.shape != (len(index), len(ders)):
            raise ValueError(f"{quantity}: expected shape {(len(index), len(ders))}, got "
                             f"{array.shape}")
        # + 0.0 turns -0.0 (an LP's zero demand) into 0.0
        parts[quantity] = pd.DataFrame(array + 0.0, index=index,
                                       columns=pd.Index(ders, name="der"))
    frame = pd.concat(parts, axis=1, names=["quantity"])
    frame.attrs["units"] = {q: units[q] for q in values}
    return frame


def quantity_variables(values: Mapping[str, np.ndarray], timesteps: Sequence,
                       der_names: Sequence[str], kind: str, prefix: str = ""
                       ) -> dict[str, xr.DataArray]:
    """One ``(timestep, der)`` data array per quantity, named ``prefix + quantity``, with its
    ``units``."""
    # xarray is heavy and the agents never label results: loaded when a dataset is asked for
    import xarray as xr

    units = units_of(kind)
    coords = {"timestep": _index(timesteps), "der": [str(n) for n in der_names]}
    return {prefix + q: xr.DataArray(np.asarray(a, dtype=float) + 0.0, coords=coords,
                                     dims=("timestep", "der"), attrs={"units": units[q]})
            for q, a in values.items()}


def _entity_ders(entity: str, der_names: Sequence[str], building_prefix: str) -> list[str]:
    """A building agent holds its own DER only; the other entities hold them all."""
    if entity.startswith(building_prefix):
        return [entity.removeprefix(building_prefix)]
    return [str(n) for n in der_names]


def entity_frame(values: Mapping[str, Mapping[str, np.ndarray]], timesteps: Sequence,
                 der_names: Sequence[str], kind: str, building_prefix: str) -> pd.DataFrame:
    """Per entity ``values[entity][quantity]`` as one frame: rows ``timestep``, columns
    ``(entity, quantity, der)``; ``attrs["units"]`` per quantity."""
    parts = {entity: quantity_frame(q, timesteps,
                                    _entity_ders(entity, der_names, building_prefix), kind)
             for entity, q in values.items()}
    frame = pd.concat(parts, axis=1, names=["entity"])
    frame.attrs["units"] = {q: u for part in parts.values() for q, u in part.attrs["units"].items()}
    return frame


def entity_variables(values: Mapping[str, Mapping[str, np.ndarray]], timesteps: Sequence,
                     der_names: Sequence[str], kind: str, building_prefix: str,
                     prefix: str = "") -> dict[str, xr.DataArray]:
    """One ``(entity, timestep, der)`` data array per quantity, NaN where an entity does not
    hold the quantity or the DER (a grid operator holds its own quantities, a building its own
    DER)."""
    # xarray is heavy and the agents never label results: loaded when a dataset is asked for
    import xarray as xr

    units = units_of(kind)
    ders = [str(n) for n in der_names]
    entities = list(values)
    quantities = [q for q in units if any(q in v for v in values.values())]
    out = {}
    for q in quantities:
        array = np.full((len(entities), len(timesteps), len(ders)), np.nan)
        for i, entity in enumerate(entities):
            if q in values[entity]:
                cols = [ders.index(n) for n in _entity_ders(entity, ders, building_prefix)]
                array[i][:, cols] = np.asarray(values[entity][q], dtype=float)
        out[prefix + q] = xr.DataArray(
            array, coords={"entity": entities, "timestep": _index(timesteps), "der": ders},
            dims=("entity", "timestep", "der"), attrs={"units": units[q]})
    return out


class DistrictPlots:
    """Figures of a district result (the ``plot`` accessor of the results): each method returns
    a matplotlib figure (:mod:`~distributed_resource_optimization.figures`).

    ``dispatch`` and ``prices`` map a legend label to a frame with ``(quantity, der)`` columns
    (:func:`quantity_frame`); ``objective`` (S$) is the result's, compared with a
    ``reference``'s (anything with ``dispatch_frame``, ``prices_frame`` and ``objective``, e.g. a
    centralized result) where one is passed.
    """

    def __init__(self, dispatch: Mapping[str, pd.DataFrame], prices: Mapping[str, pd.DataFrame],
                 objective: float, title: str, scenario: str | None = None,
                 district=None) -> None:
        self._dispatch = dict(dispatch)
        self._prices = dict(prices)
        self._objective = objective
        self._title = title
        self._scenario = scenario
        self._district = district

    def _lines(self, frames: Mapping[str, pd.DataFrame], reference_frame: pd.DataFrame | None,
               der: str, quantity: str) -> dict[str, pd.Series]:
        lines = {} if reference_frame is None else \
            {"centralized optimum": reference_frame[quantity][str(der)]}
        for label, frame in frames.items():
            if quantity in frame.columns.get_level_values(0):
                lines[label] = frame[quantity][str(der)]
        if not lines:
            raise ValueError(f"no {quantity} at DER {der!r} in this result")
        return lines

    def _holder(self, quantity: str) -> str:
        """The first entity (legend label) whose prices hold ``quantity``."""
        for label, frame in self._prices.items():
            if quantity in frame.columns.get_level_values(0):
                return label
        raise ValueError(f"no {quantity} prices in this result")

    def dispatch(self, der: str = "22", quantity: str = "thermal_power", reference=None):
        """``quantity``'s dispatch at DER ``der`` over the day, one line per entity (and the
        ``reference``'s). Where the lines differ while the objectives agree, the figure says so:
        the optimal dispatch is not unique, and a converged run is not shown as unconverged."""
        lines = self._lines(self._dispatch, None if reference is None
                            else reference.dispatch_frame, der, quantity)
        note = None
        if reference is not None:
            spread = max(float((s - lines["centralized optimum"]).abs().max())
                         for s in lines.values())
            gap = abs(self._objective - reference.objective) / max(abs(reference.objective), 1)
            if spread > 1e-6 * max(1.0, float(lines["centralized optimum"].abs().max())):
                note = (f"The lines differ by up to {spread:.3g} {DISPATCH_UNITS[quantity]} "
                        f"while the objectives agree to {gap:.1e} (relative):\n"
                        "the optimal dispatch is not unique here: both cost the same to that "
                        "accuracy.")
        return der_series(
            lines, title=f"{QUANTITY_LABELS[quantity]} dispatch at FL {der} "
            f"({self._title})", ylabel=f"demand ({DISPATCH_UNITS[quantity]})", note=note)

    def prices(self, der: str = "22", quantity: str = "thermal_power", reference=None):
        """``quantity``'s nodal price at DER ``der`` over the day, one line per entity (and the
        ``reference``'s)."""
        lines = self._lines(self._prices, None if reference is None
                            else reference.prices_frame, der, quantity)
        return der_series(
            lines, title=f"{QUANTITY_LABELS[quantity]} price at FL {der} "
            f"({self._title})", ylabel=f"price ({PRICE_UNITS[quantity]})")

    def price_heatmap(self, quantity: str = "thermal_power", entity: str | None = None):
        """``quantity``'s nodal prices of every DER over the day as a heat map (``entity``:
        whose prices, by legend label; default the first)."""
        label = entity if entity is not None else self._holder(quantity)
        return price_heatmap(
            self._prices[label][quantity], unit=PRICE_UNITS[quantity],
            title=f"{QUANTITY_LABELS[quantity]} nodal prices ({self._title}, "
            f"{label})")

    def grid_map(self, time: str | int | None = None, quantity: str = "thermal_power",
                 entity: str | None = None, district=None):
        """The grid on its map (the nodes' coordinates in the electric grid's nodes file), each
        building's node coloured by its ``quantity`` price at step ``time`` (``"14:00"``, a
        step index, or by default the step where the prices differ most across the nodes),
        the scenario's limited elements marked. ``district``: the
        :class:`~.district.DistrictData` the result belongs to (a centralized result knows
        its own)."""
        district = district if district is not None else self._district
        if district is None:
            raise ValueError("district: pass the DistrictData this result was cleared on")
        if not has_coordinates(district.electric_grid):
            raise ValueError("the electric grid's nodes file gives no latitude and longitude "
                             "for every node: no map to draw")
        label = entity if entity is not None else self._holder(quantity)
        prices = self._prices[label][quantity]
        step = _step_index(prices, time)
        eg = district.electric_grid
        values = np.full(eg.n_node, np.nan)
        for der, node in zip(eg.der_names, eg.der_node_index):
            values[node] = prices.iloc[step][str(der)]
        # The map is drawn on the electric grid's nodes; the thermal grid's coincide by name.
        position = {str(name): i for i, name in enumerate(eg.node_names)}
        marked = []
        for rule in scenario_rules(self._scenario) if self._scenario else []:
            kind = LIMITS[rule.limit]
            grid = district.thermal_grid if kind.grid == "thermal" else eg
            if kind.element_kind == "line":
                e = rule_element(grid, rule)
                a, b = (position[str(grid.node_names[i])]
                        for i in (grid.line_from[e], grid.line_to[e]))
                what = "pipe" if kind.grid == "thermal" else "cable"
            else:  # a node's limit: the line that feeds it
                node = position[str(rule.element)]
                ends = eg.line_to if (eg.line_to == node).any() else eg.line_from
                feeder = int(np.flatnonzero(ends == node)[0])
                a, b = int(eg.line_from[feeder]), int(eg.line_to[feeder])
                what = "node"
            marked.append((a, b, f"{what} {rule.element}: limited in {self._scenario}"))
        when = pd.Timestamp(prices.index[step])
        return grid_map(eg.node_longitude, eg.node_latitude,
                        list(zip(eg.line_from.tolist(), eg.line_to.tolist())), values,
                        labels=[f"FL {n}" if not np.isnan(values[i]) else str(n)
                                for i, n in enumerate(eg.node_names)],
                        source=int(eg.source_index), marked=marked,
                        unit=PRICE_UNITS[quantity],
                        title=f"{QUANTITY_LABELS[quantity]} prices at {when:%H:%M}\n"
                        f"({self._title}, {label})")

    def limits(self, verification, district=None) -> dict:
        """Per limit of the scenario, its element's value in the nonlinear model over the day
        against the limit (``verification``: the dispatch's
        :class:`~.verification.Verification`), the steps at the limit marked, and a cable's
        rating in the data where it lies near. Returns ``limit_<kind>_<element>`` -> figure."""
        district = district if district is not None else self._district
        figures = {}
        for rule in scenario_rules(self._scenario) if self._scenario else []:
            kind, unit, upper = CHECK_OF_LIMIT[rule.limit]
            values = verification.grid_values[kind][rule.element]
            limit = float(verification.grid_limits[kind][rule.element])
            rating = None
            if kind == "branch_power" and district is not None:
                candidate = float(district.electric_grid.line_rating_kva[
                    rule_element(district.electric_grid, rule)])
                rating = candidate if candidate <= 3.0 * max(limit, float(values.max())) else None
            words = _LIMIT_WORDS[kind]
            figures[f"limit_{kind}_{rule.element}"] = limit_over_day(
                values, limit, upper=upper, rating=rating, rating_label="rating in the data",
                ylabel=f"{words} ({unit})", title=f"{words[0].upper()}{words[1:]} "
                f"{rule.element} over the day ({self._title})")
        return figures


#: Words for each check kind in a limit figure's title and axis.
_LIMIT_WORDS: dict[str, str] = {"pipe_flow": "flow of pipe", "node_head": "head at thermal node",
                                "branch_power": "apparent power of cable",
                                "voltage_min": "voltage at node"}


def has_coordinates(grid) -> bool:
    """Whether every node of the electric ``grid`` has a latitude and a longitude (the map)."""
    lat, lon = grid.node_latitude, grid.node_longitude
    return (lat is not None and lon is not None and not np.isnan(lat).any()
            and not np.isnan(lon).any())


def _step_index(prices: pd.DataFrame, time: str | int | None) -> int:
    """The row of ``prices`` at ``time``: a step index, ``"HH:MM"`` of the day, or (``None``)
    the step where the prices differ most across the nodes."""
    index = prices.index
    if time is None:
        spread = prices.max(axis=1) - prices.min(axis=1)
        return int(np.argmax(spread.to_numpy()))
    if isinstance(time, (int, np.integer)):
        if not -len(index) <= time < len(index):
            raise ValueError(f"time: step {time} is outside the {len(index)} steps")
        return int(time) % len(index)
    stamps = pd.DatetimeIndex(index)
    matches = np.flatnonzero(stamps.strftime("%H:%M") == str(time))
    if matches.size == 0:
        raise ValueError(f"time: no step starts at {time!r} (steps: "
                         f"{stamps[0]:%H:%M}, {stamps[1]:%H:%M}, ...)")
    return int(matches[0])
