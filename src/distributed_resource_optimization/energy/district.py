"""The district loaded: grids, their linear models, buildings and prices (:func:`load_district`).

The centralized problem over the loaded district is :mod:`.centralized`; the market's entities
take their own parts of it (:func:`~distributed_resource_optimization.market.entities.market_entities`).

Linearisation reference point: the grid data's nominal DER powers are about 10x (thermal) and
20-30x (electric) the loads the building models produce (``docs/energy_buildings.md``), so tangent
models at nominal power misjudge losses and pump power at the real operating point (they even
predict negative losses). :func:`load_district` therefore linearises the grids at the buildings'
own cost-optimal demand (no grid, wholesale price) at the timestep of the district's peak cooling
demand (``reference="peak"``, default). Each building computes that demand alone from its own
model and the price (its :class:`~.buildings.Baseline`, :func:`~.buildings.building_baseline`,
what a building would publish about itself); the grid operators take the linearisation point
from those published baselines only (:func:`reference_point`), never from a building's model.
``reference="nominal"`` restores the study's reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .buildings import (
    DEFAULT_COMFORT,
    Baseline,
    BuildingModel,
    building_baseline,
    check_comfort,
    load_buildings,
)
from .electric_grid import (
    ElectricGridData,
    LinearElectricGridModel,
    linear_electric_grid_model,
    load_electric_grid,
)
from .tables import DEFAULT_DATA_DIR
from .thermal_grid import (
    DEFAULT_PLANT_EFFICIENCY,
    LinearThermalGridModel,
    ThermalGridData,
    linear_thermal_grid_model,
    load_thermal_grid,
)
from .timeseries import load_price, load_timesteps, timestep_hours


@dataclass
class DistrictData:
    """Everything the district problems need: grids, their linear models, buildings and prices.

    ``price`` is the wholesale electricity price per step (S$/kWh), ``timestep_h`` the step length
    (h). ``p_th_ref_kw``, ``p_ref_kw``, ``q_ref_kvar`` (n_der) are the linearisation reference
    demand, taken at ``reference_timestep`` (``None`` for the nominal reference).
    """

    electric_grid: ElectricGridData
    thermal_grid: ThermalGridData
    electric_model: LinearElectricGridModel
    thermal_model: LinearThermalGridModel
    buildings: list[BuildingModel]
    price: np.ndarray
    timesteps: pd.DatetimeIndex
    timestep_h: float
    resolution: str
    eta_ch: float
    reference: str
    p_th_ref_kw: np.ndarray
    p_ref_kw: np.ndarray
    q_ref_kvar: np.ndarray
    reference_timestep: pd.Timestamp | None = None
    #: Each building's published :class:`~.buildings.Baseline` (``(T,)`` arrays), by DER name
    #: (:func:`~.buildings.building_baseline`); ``None`` for the nominal reference.
    baselines: dict[str, Baseline] | None = None
    #: The data folder it was loaded from (the market's agent processes split it per entity).
    folder: Path | None = None
    #: How the buildings hold their comfort band (:data:`~.buildings.COMFORT_MODES`).
    comfort: str = DEFAULT_COMFORT

    @property
    def der_names(self) -> list[str]:
        """Flexible-load (DER) names in DER order, as in the data (e.g. ``"22"``)."""
        return [str(n) for n in self.electric_grid.der_names]

    @property
    def n_der(self) -> int:
        return len(self.buildings)

    @property
    def n_timesteps(self) -> int:
        return len(self.timesteps)

    def der_index(self, name: str) -> int:
        """Position of DER ``name`` (ValueError listing the names if unknown)."""
        names = self.der_names
        if name not in names:
            raise ValueError(f"unknown DER {name!r}; valid: {', '.join(names)}")
        return names.index(name)


def district_baseline(buildings: list[BuildingModel], price: np.ndarray, timestep_h: float,
                      eta_ch: float = DEFAULT_PLANT_EFFICIENCY) -> Baseline:
    """Cost-optimal demand of the buildings without grid constraints: a
    :class:`~.buildings.Baseline` of ``(T, n_der)`` arrays (kW / kW / kvar; unpacks as
    ``p_th, p, q``).

    Thermal power costs ``price / eta_ch``, active power ``price`` (S$/kWh): the unconstrained
    district problem without losses and pump power, which separates into one problem per
    building. Column ``k`` is building ``k``'s :func:`~.buildings.building_baseline`.
    """
    baselines = [building_baseline(m, price, timestep_h, eta_ch) for m in buildings]
    return Baseline(*(np.column_stack([b[i] for b in baselines]) for i in range(3)))


#: Former name of :func:`district_baseline` (kept for existing callers).
building_reference_demand = district_baseline


@dataclass(frozen=True)
class ReferencePoint:
    """Linearisation point of the grids: step ``timestep_index`` of the horizon and the DER demand
    there, ``p_th_kw`` (kW), ``p_kw`` (kW), ``q_kvar`` (kvar), each ``(n_der,)`` in DER order."""

    timestep_index: int
    p_th_kw: np.ndarray
    p_kw: np.ndarray
    q_kvar: np.ndarray


def reference_point(baselines: Mapping[str, Baseline | Sequence[np.ndarray]],
                    der_names: Sequence[str]) -> ReferencePoint:
    """The grids' linearisation point from the buildings' published baselines.

    ``baselines`` maps a DER name to that building's :class:`~.buildings.Baseline` (or a
    ``(p_th, p, q)`` sequence; each ``(T,)``, kW / kW / kvar;
    :func:`~.buildings.building_baseline`); ``der_names`` gives the DER order of
    the result. The point is the step of the largest summed thermal baseline (the district's
    cooling peak), with every building's values at that step. Raises ``ValueError`` if a DER has
    no baseline or the baselines' shapes differ.
    """
    names = [str(n) for n in der_names]
    missing = [n for n in names if n not in baselines]
    if missing:
        raise ValueError(f"baselines: no baseline for DER(s) {missing}")
    if not names:
        raise ValueError("der_names must name at least one DER")
    stacked = []
    for i, label in enumerate(("p_th", "p", "q")):
        columns = [np.asarray(Baseline.of(baselines[n])[i], dtype=float) for n in names]
        shape = columns[0].shape
        for n, column in zip(names, columns, strict=True):
            if column.ndim != 1 or column.shape != shape or not np.isfinite(column).all():
                raise ValueError(f"baselines: {label} of DER {n!r} must be finite with shape "
                                 f"{shape}, got {column.shape}")
        stacked.append(np.column_stack(columns))
    p_th, p, q = stacked
    t_peak = int(np.argmax(p_th.sum(axis=1)))
    return ReferencePoint(t_peak, p_th[t_peak].copy(), p[t_peak].copy(), q[t_peak].copy())


def load_district(folder: Path | str = DEFAULT_DATA_DIR, resolution: str = "30min", *,
                  local_chiller: bool = True, eta_ch: float = DEFAULT_PLANT_EFFICIENCY,
                  reference: str = "peak", comfort: str = DEFAULT_COMFORT) -> DistrictData:
    """Load grids, buildings and prices and linearise the grids.

    ``reference="peak"`` (default) linearises at the buildings' cost-optimal demand, each
    building's :func:`~.buildings.building_baseline`, at the step of the largest total cooling
    demand (:func:`reference_point`);
    ``"nominal"`` at the grid data's nominal DER powers (the study's choice, about 10x too large
    for these building models). ``comfort`` (``"whole-step"``, or ``"step-start"``: the study's)
    is how the buildings hold their band (:func:`~.buildings.load_buildings`). Raises
    ``ValueError`` (``DataFileError``) on bad data or arguments.
    """
    check_comfort(comfort)
    if reference not in ("peak", "nominal"):
        raise ValueError(f"reference must be 'peak' or 'nominal', got {reference!r}")
    folder = Path(folder)
    electric = load_electric_grid(folder)
    thermal = load_thermal_grid(folder)
    buildings = load_buildings(folder, resolution, local_chiller=local_chiller, comfort=comfort)
    timesteps = load_timesteps(folder, resolution)
    price = load_price(folder, resolution).to_numpy(dtype=float)
    dt = timestep_hours(resolution)
    names = [m.name for m in buildings]
    for label, grid_names in (("electric", electric.der_names), ("thermal", thermal.der_names)):
        if [str(n) for n in grid_names] != names:
            raise ValueError(f"the {label} grid's DERs {list(grid_names)} do not match the "
                             f"buildings {names} (same names in the same order expected)")

    ref_step = baselines = None
    if reference == "peak":
        # What each building publishes about itself; the grids see only these profiles.
        baselines = {m.name: building_baseline(m, price, dt, eta_ch) for m in buildings}
        point = reference_point(baselines, names)
        ref_step = timesteps[point.timestep_index]
        p_th_ref, p_ref, q_ref = point.p_th_kw, point.p_kw, point.q_kvar
    else:
        p_th_ref = thermal.der_p_th_nominal_kw.copy()
        p_ref, q_ref = electric.der_p_nominal_kw.copy(), electric.der_q_nominal_kvar.copy()
    return DistrictData(
        electric_grid=electric, thermal_grid=thermal,
        electric_model=linear_electric_grid_model(electric, p_ref, q_ref),
        thermal_model=linear_thermal_grid_model(thermal, p_th_ref),
        buildings=buildings, price=price, timesteps=timesteps, timestep_h=dt,
        resolution=resolution, eta_ch=eta_ch, reference=reference, p_th_ref_kw=p_th_ref,
        p_ref_kw=p_ref, q_ref_kvar=q_ref, reference_timestep=ref_step, baselines=baselines,
        folder=folder, comfort=comfort,
    )
