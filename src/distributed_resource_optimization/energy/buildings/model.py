"""Buildings, step 2: each building's state-space model, derived from its tables and the weather.

:func:`load_buildings` reads the tables (:mod:`.data`), the horizon and the weather and derives,
per building, the two-node RC model of eq. (1b)-(1f), discretised exactly at the step length;
:func:`simulate` runs it, :func:`simulate_within_steps` follows it inside every step. The
derivation (envelope, ventilation coil load, outputs) is documented in
``docs/energy_buildings.md``.

Comfort (``comfort=``): the study holds the temperature band at step starts only, with the
weather held constant over each step (``"step-start"``); then a zone can leave the band between
two step starts (all buildings stop cooling for the last occupied half hour and reach 26.5 degC
by 19:00). ``"whole-step"`` (default) lets the weather vary linearly inside each step, as the
hourly file is interpolated (first-order hold, exact for that weather), and holds the band at
points spaced ``comfort_spacing_min`` apart inside every step, with the band of the step
(:attr:`BuildingModel.comfort_fractions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import COMFORT_MODES, COMFORT_STEP_START, DEFAULT_COMFORT
from ..ders import DerTable
from ..tables import DEFAULT_DATA_DIR, WEATHER_FILE, WEATHER_HUMIDITY_COLUMN, DataFileError
from ..timeseries import load_timesteps, load_weather, timestep_hours
from .data import (
    BuildingTables,
    lookup_row,
    read_building_ders,
    read_building_tables,
    sample_schedules,
    single_zone,
)
from .kept import KeptByContent, content_key

# Physical constants. Air at 20 degC and 101.325 kPa; rho * cp = 1211 J/(m3 K) as CoBMo's
# heat_capacity_air.
AIR_DENSITY = 1.204  # kg/m3
AIR_SPECIFIC_HEAT = 1006.0  # J/(kg K), dry air
VAPOUR_SPECIFIC_HEAT = 1860.0  # J/(kg K)
VAPORISATION_ENTHALPY = 2.501e6  # J/kg at 0 degC
ATMOSPHERIC_PRESSURE = 101325.0  # Pa
STEFAN_BOLTZMANN = 5.670374419e-8  # W/(m2 K4)

# Film coefficients of CoBMo's parameter set (ISO 6946), W/(m2 K). The surface conduction
# coefficients in surface_types.csv / window_types.csv are CoBMo's layer coefficients, which CoBMo
# puts in series with these films; they are not overall U-values.
EXTERIOR_CONVECTION = 12.0
INTERIOR_CONVECTION = 4.0

# Air-to-mass coupling of EN ISO 13790:2008 (5R1C, sec. 7.2.2), per m2 of floor area: air to
# internal surfaces h_is * A_t with h_is = 3.45 W/(m2 K), A_t = 4.5 A_f, in series with surfaces to
# mass h_ms * A_m with h_ms = 9.1 W/(m2 K), A_m = 2.5 A_f (medium construction class).
AIR_MASS_COUPLING_PER_FLOOR_AREA = 1.0 / (1.0 / (3.45 * 4.5) + 1.0 / (9.1 * 2.5))  # W/(m2 K)

# EN ISO 13790: half of the internal gains is convective (to the air node); the radiative half
# and the solar radiation transmitted through windows reach the construction mass.
INTERNAL_GAIN_CONVECTIVE_FRACTION = 0.5

DIRECTIONS: tuple[str, ...] = ("horizontal", "east", "south", "west", "north")

STATE_NAMES: tuple[str, ...] = ("zone_air_temperature", "construction_mass_temperature")
DISTURBANCE_NAMES: tuple[str, ...] = (
    "ambient_air_temperature",
    "sky_temperature",
    *(f"irradiation_{d}" for d in DIRECTIONS),
    "internal_gain_occupancy",
    "internal_gain_appliances",
    "ventilation_coil_load",
    "fresh_air_flow",
)

#: Disturbances that vary linearly inside a step with ``comfort="whole-step"`` (the weather, as
#: the hourly file is interpolated); the schedules hold their value over the step.
WEATHER_DISTURBANCES: tuple[str, ...] = (
    "ambient_air_temperature", "sky_temperature", *(f"irradiation_{d}" for d in DIRECTIONS))

#: Largest spacing of the in-step comfort points (min). The zone air follows its cooling with a
#: time constant of 5-7 min: held at step ends only (30 min apart) the zone leaves the band by up
#: to 0.24 K inside a step; with points 10 min apart by at most 0.038 K (5 min: 0.01 K, at 60 %
#: more LP time), every scenario, 30- and 60-min steps, simulated every minute
#: (tests/energy/test_comfort.py; the verification's tolerance is 0.05 K).
DEFAULT_COMFORT_SPACING_MIN = 10.0



@dataclass
class BuildingModel:
    """Discrete-time state-space model of one flexible building, eq. (1b)-(1f).

    ``x[t+1] = A x[t] + B_c c[t] + B_d d[t]``, ``y[t] = C x[t] + D_c c[t] + D_d d[t]``,
    ``y_min[t] <= y[t] <= y_max[t]`` and ``p_th = M_pth_y y``, ``p = M_p_y y``, ``q = M_q_y y``.
    Units: temperatures degC, thermal and active power kW, reactive power kvar, all demand
    positive. ``d`` is ``(T, n_d)``, ``y_min`` / ``y_max`` are ``(T, n_y)`` (infinite allowed).
    The ``*_continuous`` matrices are the model before discretisation (per second), kept so that
    results can be checked against an independent ODE integration.

    Inside step ``t`` the disturbances named in ``interpolated_disturbances`` move linearly from
    ``d[t]`` to ``d[t+1]`` (``d_end`` after the last step); then
    ``x[t+1] = A x[t] + B_c c[t] + B_d d[t] + B_d_next d[t+1]`` (``B_d_next`` is zero when none
    is interpolated, the study's zero-order hold). ``comfort_fractions`` are the points of every
    step, as fractions of it in ``(0, 1]``, at which the zone band of the step holds besides the
    step start (none: at step starts only); :meth:`within_step` gives the state there.
    """

    name: str
    node_name: str
    thermal_node_name: str
    timestep_h: float
    A: np.ndarray
    B_c: np.ndarray
    B_d: np.ndarray
    C: np.ndarray
    D_c: np.ndarray
    D_d: np.ndarray
    x0: np.ndarray
    d: np.ndarray
    y_min: np.ndarray
    y_max: np.ndarray
    M_pth_y: np.ndarray
    M_p_y: np.ndarray
    M_q_y: np.ndarray
    state_names: tuple[str, ...]
    control_names: tuple[str, ...]
    disturbance_names: tuple[str, ...]
    output_names: tuple[str, ...]
    A_continuous: np.ndarray
    B_c_continuous: np.ndarray
    B_d_continuous: np.ndarray
    thermal_power_nominal_kw: float = float("nan")
    active_power_nominal_kw: float = float("nan")
    reactive_power_nominal_kvar: float = float("nan")
    building_name: str = ""
    parameters: dict[str, float] = field(default_factory=dict)
    B_d_next: np.ndarray | None = None
    d_end: np.ndarray | None = None
    interpolated_disturbances: tuple[str, ...] = ()
    comfort_fractions: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        n_x, n_c = len(self.state_names), len(self.control_names)
        n_d, n_y = len(self.disturbance_names), len(self.output_names)
        if not (np.isfinite(self.timestep_h) and self.timestep_h > 0):
            raise ValueError(f"timestep_h must be a positive number, got {self.timestep_h}")
        if np.ndim(self.d) != 2 or np.shape(self.d)[0] < 1:
            raise ValueError(f"BuildingModel {self.name!r}: d must be a (T, n_d) array with "
                             f"T >= 1, got shape {np.shape(self.d)}")
        n_t = np.shape(self.d)[0]
        if self.B_d_next is None:
            self.B_d_next = np.zeros((n_x, n_d))
        if self.d_end is None:
            self.d_end = np.asarray(self.d, dtype=float)[-1].copy()
        shapes = {
            "A": (n_x, n_x), "B_c": (n_x, n_c), "B_d": (n_x, n_d), "C": (n_y, n_x),
            "D_c": (n_y, n_c), "D_d": (n_y, n_d), "x0": (n_x,), "d": (n_t, n_d),
            "y_min": (n_t, n_y), "y_max": (n_t, n_y), "M_pth_y": (1, n_y), "M_p_y": (1, n_y),
            "M_q_y": (1, n_y), "A_continuous": (n_x, n_x), "B_c_continuous": (n_x, n_c),
            "B_d_continuous": (n_x, n_d), "B_d_next": (n_x, n_d), "d_end": (n_d,),
        }
        for label, shape in shapes.items():
            value = np.asarray(getattr(self, label), dtype=float)
            if value.shape != shape:
                raise ValueError(f"BuildingModel {self.name!r}: {label} has shape {value.shape}, "
                                 f"expected {shape}")
            if np.isnan(value).any():
                raise ValueError(f"BuildingModel {self.name!r}: {label} contains NaN")
            if label not in ("y_min", "y_max") and not np.isfinite(value).all():
                raise ValueError(f"BuildingModel {self.name!r}: {label} must be finite")
            setattr(self, label, value)
        if (self.y_min > self.y_max).any():
            raise ValueError(f"BuildingModel {self.name!r}: y_min exceeds y_max")
        unknown = [n for n in self.interpolated_disturbances if n not in self.disturbance_names]
        if unknown:
            raise ValueError(f"BuildingModel {self.name!r}: interpolated_disturbances names "
                             f"{unknown[0]!r}, not a disturbance ({list(self.disturbance_names)})")
        fractions = np.asarray(self.comfort_fractions, dtype=float)
        if not ((fractions > 0) & (fractions <= 1)).all():
            raise ValueError(f"BuildingModel {self.name!r}: comfort_fractions must lie in "
                             f"(0, 1], got {list(self.comfort_fractions)}")
        self.comfort_fractions = tuple(float(f) for f in fractions)

    @property
    def n_timesteps(self) -> int:
        """Number of steps T of the horizon."""
        return self.d.shape[0]

    def output_index(self, name: str) -> int:
        """Position of the output ``name`` in ``y``."""
        return self.output_names.index(name)

    @property
    def d_next(self) -> np.ndarray:
        """Disturbances at every step's end, ``(T, n_d)``: ``d[1:]`` and then ``d_end``."""
        return np.vstack([self.d[1:], self.d_end[None, :]])

    def within_step(self, fraction: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Matrices of the state a ``fraction`` (0..1] into a step from its start:
        ``x(t + fraction * step) = A_f x[t] + B_c_f c[t] + B_d_f d[t] + B_d_next_f d[t+1]``,
        exact for controls held and the ``interpolated_disturbances`` linear over the step."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
        step_s = self.timestep_h * 3600.0
        interpolated = np.isin(self.disturbance_names, self.interpolated_disturbances)
        return _discretise_interpolated(self.A_continuous, self.B_c_continuous,
                                        self.B_d_continuous, interpolated, step_s,
                                        fraction * step_s)

    def output_within_step(self, name: str, fraction: float
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Row vectors of output ``name`` a ``fraction`` into a step:
        ``y(t + fraction * step) = a @ x[t] + b_c @ c[t] + b_d @ d[t] + b_d_next @ d[t+1]``."""
        j = self.output_index(name)
        a, b_c, b_d, b_d_next = self.within_step(fraction)
        interpolated = np.isin(self.disturbance_names, self.interpolated_disturbances)
        # The output's own disturbance term at that instant: linear for the interpolated ones.
        d_now = np.where(interpolated, 1.0 - fraction, 1.0) * self.D_d[j]
        d_after = np.where(interpolated, fraction, 0.0) * self.D_d[j]
        return (self.C[j] @ a, self.C[j] @ b_c + self.D_c[j], self.C[j] @ b_d + d_now,
                self.C[j] @ b_d_next + d_after)



def load_buildings(folder: Path | str = DEFAULT_DATA_DIR, resolution: str = "30min", *,
                   local_chiller: bool = True, zone_linearization_temperature: float = 24.0,
                   ders: Sequence[str] | None = None, comfort: str = DEFAULT_COMFORT,
                   comfort_spacing_min: float = DEFAULT_COMFORT_SPACING_MIN
                   ) -> list[BuildingModel]:
    """Build the models of all in-service flexible buildings, in DER order of the grid data.

    ``ders``: build only these buildings (DER names; all when ``None``), e.g. one building's
    agent, which needs its own model only; an unknown name is a ``ValueError`` listing the DERs.

    ``local_chiller`` adds a control for the share of the AHU coil load served by the building's
    own chiller (cooling efficiency from plant_cooling_types.csv), which moves demand from the
    thermal to the electric grid. ``zone_linearization_temperature`` (degC) is the zone state at
    which the fresh-air coil load and the supply-air flow are linearised (default: middle of the
    occupied comfort band 23-25 degC).

    ``comfort`` (:data:`COMFORT_MODES`): ``"whole-step"`` (default) holds the zone band at points
    at most ``comfort_spacing_min`` minutes apart inside every step, with the weather linear
    inside the step; ``"step-start"`` at step starts only, weather held (the study's model).
    """
    if not np.isfinite(zone_linearization_temperature):
        raise ValueError("zone_linearization_temperature must be a finite number")
    check_comfort(comfort)
    if not (np.isfinite(comfort_spacing_min) and comfort_spacing_min > 0):
        raise ValueError(f"comfort_spacing_min must be a positive number of minutes, got "
                         f"{comfort_spacing_min}")
    folder = Path(folder)
    timesteps = load_timesteps(folder, resolution)
    step_s = timestep_hours(resolution) * 3600.0
    data = read_building_tables(folder)
    table = read_building_ders(folder)
    selected = range(table.n_der) if ders is None else _der_positions(table, ders, folder)
    weather_cache: dict[str, pd.DataFrame] = {}
    models = []
    for k in selected:
        building = lookup_row(data, "buildings", "building_name", str(table.model_names[k]),
                              table.electric_path, int(table.electric_rows[k]), "der_model_name")
        weather_type = building["weather_type"]
        if weather_type not in weather_cache:
            weather = load_weather(folder, resolution, weather_type=weather_type,
                                   include_end=True)
            if WEATHER_HUMIDITY_COLUMN not in weather.columns:
                raise DataFileError(folder / WEATHER_FILE, "the building model needs the "
                                    "ambient humidity for the ventilation coil load",
                                    column=WEATHER_HUMIDITY_COLUMN)
            weather_cache[weather_type] = weather
        models.append(_build_model(data, table, k, building, weather_cache[weather_type],
                                   timesteps, step_s, local_chiller,
                                   zone_linearization_temperature, comfort,
                                   comfort_spacing_min))
    return models


def check_comfort(comfort: str) -> str:
    """``comfort`` if it is one of :data:`COMFORT_MODES`, else a ``ValueError`` naming them."""
    if comfort not in COMFORT_MODES:
        raise ValueError(f"comfort must be one of {list(COMFORT_MODES)}, got {comfort!r}")
    return comfort


def _der_positions(table: DerTable, names: Sequence[str], folder: Path) -> list[int]:
    """Positions of the DERs ``names`` in ``table``, in the table's order."""
    known = [str(name) for name in table.der_names]
    unknown = [str(name) for name in names if str(name) not in known]
    if unknown:
        raise ValueError(f"{folder}: no building {unknown[0]!r} among the flexible buildings "
                         f"(found {', '.join(known)})")
    wanted = {str(name) for name in names}
    return [k for k, name in enumerate(known) if name in wanted]


def simulate(model: BuildingModel, controls: np.ndarray, x0: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Run the discrete model for controls ``(T, n_c)``; returns states ``(T, n_x)`` and outputs
    ``(T, n_y)`` (degC, kW). ``x0`` defaults to the model's initial state."""
    n_t, n_c = model.n_timesteps, len(model.control_names)
    controls = np.asarray(controls, dtype=float)
    if controls.shape != (n_t, n_c):
        raise ValueError(f"controls must have shape {(n_t, n_c)}, got {controls.shape}")
    if not np.isfinite(controls).all():
        raise ValueError("controls must be finite")
    x_start = model.x0 if x0 is None else np.asarray(x0, dtype=float)
    if x_start.shape != model.x0.shape or not np.isfinite(x_start).all():
        raise ValueError(f"x0 must be finite with shape {model.x0.shape}")
    states = np.empty((n_t, model.x0.size))
    states[0] = x_start
    d_next = model.d_next
    for t in range(n_t - 1):
        states[t + 1] = (model.A @ states[t] + model.B_c @ controls[t] + model.B_d @ model.d[t]
                         + model.B_d_next @ d_next[t])
    outputs = states @ model.C.T + controls @ model.D_c.T + model.d @ model.D_d.T
    return states, outputs



def controls_from_demand(model: BuildingModel, thermal_kw: np.ndarray, active_kw: np.ndarray
                         ) -> np.ndarray:
    """The controls ``(T, n_c)`` behind a building's demand: cooling ``thermal_kw`` and active
    power ``active_kw`` (``(T,)``, kW, demand positive) are outputs fixed by the controls and
    the disturbances alone (eq. 1d), so a dispatch that says only what a building draws
    determines how it ran (least squares where the demands over-determine the controls)."""
    rows = [model.output_index("thermal_power_demand"), model.output_index("active_power_demand")]
    demand = np.column_stack([np.asarray(thermal_kw, dtype=float),
                              np.asarray(active_kw, dtype=float)])
    if demand.shape != (model.n_timesteps, 2) or not np.isfinite(demand).all():
        raise ValueError(f"thermal_kw and active_kw must be finite ({model.n_timesteps},) "
                         f"arrays for building {model.name!r}")
    if np.abs(model.C[rows]).max() > 0:
        raise ValueError(f"building {model.name!r}: its demands depend on the state, so they do "
                         "not determine the controls")
    rhs = demand - model.d @ model.D_d[rows].T
    controls, *_ = np.linalg.lstsq(model.D_c[rows], rhs.T, rcond=None)
    return controls.T


def simulate_within_steps(model: BuildingModel, controls: np.ndarray, minutes: float = 1.0,
                          x0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Follow the model inside every step, at points ``minutes`` apart (and the step's end).

    Returns the points as fractions of the step ``(K+1,)``, from 0 to 1, and the states there
    ``(T, K+1, n_x)`` (degC): step ``t``'s row starts at :func:`simulate`'s state ``x[t]``, holds
    the controls ``c[t]`` and moves the model's interpolated disturbances linearly to
    ``d[t+1]`` (exact, not a finer discretisation).
    """
    if not (np.isfinite(minutes) and minutes > 0):
        raise ValueError(f"minutes must be a positive number, got {minutes}")
    states, _ = simulate(model, controls, x0)
    controls = np.asarray(controls, dtype=float)
    n_points = max(1, int(np.ceil(model.timestep_h * 60.0 / minutes - 1e-9)))
    fractions = np.linspace(0.0, 1.0, n_points + 1)
    inside = np.empty((model.n_timesteps, n_points + 1, model.x0.size))
    inside[:, 0] = states
    d_next = model.d_next
    for j, fraction in enumerate(fractions[1:], start=1):
        a, b_c, b_d, b_d_next = model.within_step(float(fraction))
        inside[:, j] = states @ a.T + controls @ b_c.T + model.d @ b_d.T + d_next @ b_d_next.T
    return fractions, inside


# --- model derivation -------------------------------------------------------------------------

def _build_model(data: BuildingTables, ders: DerTable, k: int, building: pd.Series,
                 weather_with_end: pd.DataFrame, timesteps: pd.DatetimeIndex, step_s: float,
                 local_chiller: bool, t_lin: float, comfort: str,
                 comfort_spacing_min: float) -> BuildingModel:
    """Model of DER ``k`` of ``ders``, the building of table row ``building``; the weather has
    one row per step and one at the horizon's end."""
    weather, weather_end = weather_with_end.iloc[:-1], weather_with_end.iloc[-1]
    building_name = building["building_name"]
    zone = single_zone(data, building_name)
    zone_type = lookup_row(data, "zone_types", "zone_type", zone["zone_type"], data["zones"].path,
                           zone["_row"], "zone_type")
    gain_type = lookup_row(data, "internal_gain_types", "internal_gain_type",
                           zone_type["internal_gain_type"], data["zone_types"].path,
                           zone_type["_row"], "internal_gain_type")
    ahu = lookup_row(data, "hvac_ahu_types", "hvac_ahu_type", zone_type["hvac_ahu_type"],
                     data["zone_types"].path, zone_type["_row"], "hvac_ahu_type")
    plant = lookup_row(data, "plant_cooling_types", "plant_cooling_type",
                       building["plant_cooling_type"], data["buildings"].path, building["_row"],
                       "plant_cooling_type")
    scenario = lookup_row(data, "scenarios", "building_name", building_name,
                          data["buildings"].path, building["_row"], "building_name")
    initial = lookup_row(data, "initial_state_types", "initial_state_type",
                         scenario["initial_state_type"], data["scenarios"].path, scenario["_row"],
                         "initial_state_type")

    area = zone["zone_area"]  # m2 floor
    volume = zone["zone_height"] * area  # m3
    rho_cp = AIR_DENSITY * AIR_SPECIFIC_HEAT  # J/(m3 K)
    capacity_total = zone_type["heat_capacity"] * volume  # J/K, CoBMo lumps air + construction
    capacity_air = rho_cp * volume
    if capacity_total <= capacity_air:
        raise DataFileError(data["zone_types"].path, "zone heat capacity must exceed the air's "
                            f"{rho_cp:.0f} J/(m3 K) (it includes the construction mass)",
                            row=zone_type["_row"], column="heat_capacity")
    capacity_mass = capacity_total - capacity_air
    h_infiltration = zone_type["infiltration_rate"] * volume * rho_cp  # W/K
    h_air_mass = AIR_MASS_COUPLING_PER_FLOOR_AREA * area  # W/K

    # Linearisation of the long-wave radiation: mean temperatures of the horizon.
    t_amb_lin = float(weather["ambient_air_temperature"].mean())
    t_sky_lin = float(weather["sky_temperature"].mean())
    envelope = _envelope(data, building_name, zone, t_amb_lin, t_sky_lin)
    capacity_mass += envelope["capacity"]

    idx = {name: i for i, name in enumerate(DISTURBANCE_NAMES)}
    n_d = len(DISTURBANCE_NAMES)
    # Continuous-time heat balance, W per node.
    a_air = np.zeros(2)
    a_mass = np.zeros(2)
    bd_air = np.zeros(n_d)
    bd_mass = np.zeros(n_d)
    a_air[0] = -(envelope["ua"] + h_infiltration + h_air_mass)
    a_air[1] = h_air_mass
    a_mass[0] = h_air_mass
    a_mass[1] = -h_air_mass
    bd_air[idx["ambient_air_temperature"]] = envelope["ambient"] + h_infiltration
    bd_air[idx["sky_temperature"]] = envelope["sky"]
    for direction in DIRECTIONS:
        bd_air[idx[f"irradiation_{direction}"]] = envelope["absorbed"][direction]
        bd_mass[idx[f"irradiation_{direction}"]] = envelope["transmitted"][direction]
    gain_occupancy = gain_type["occupancy_density"] * gain_type["occupancy_heat_gain"] * area
    gain_appliances = gain_type["appliances_heat_gain"] * area  # W at schedule 1
    for label, gain in (("internal_gain_occupancy", gain_occupancy),
                        ("internal_gain_appliances", gain_appliances)):
        bd_air[idx[label]] = INTERNAL_GAIN_CONVECTIVE_FRACTION * gain
        bd_mass[idx[label]] = (1.0 - INTERNAL_GAIN_CONVECTIVE_FRACTION) * gain

    control_names = ["zone_cooling_thermal_power"]
    if local_chiller:
        control_names.append("local_chiller_thermal_power")
    n_c = len(control_names)
    bc_air = np.zeros(n_c)
    bc_air[0] = -1000.0  # kW of sensible cooling leaves the zone air

    capacities = np.array([capacity_air, capacity_mass])
    A_cont = np.vstack([a_air, a_mass]) / capacities[:, None]
    B_c_cont = np.vstack([bc_air, np.zeros(n_c)]) / capacities[:, None]
    B_d_cont = np.vstack([bd_air, bd_mass]) / capacities[:, None]
    if comfort == COMFORT_STEP_START:
        # The study's zero-order hold, as before the weather moved inside a step: the same
        # matrices bit for bit (the augmented exponential below equals it only to round-off).
        A, B_c, B_d = _discretise(A_cont, B_c_cont, B_d_cont, step_s)
        B_d_next = np.zeros_like(B_d)
        interpolated: tuple[str, ...] = ()
        fractions: tuple[float, ...] = ()
    else:
        interpolated = WEATHER_DISTURBANCES
        A, B_c, B_d, B_d_next = _discretise_interpolated(
            A_cont, B_c_cont, B_d_cont, np.isin(DISTURBANCE_NAMES, interpolated), step_s, step_s)
        n_points = int(np.ceil(step_s / 60.0 / comfort_spacing_min - 1e-9))
        fractions = tuple((j + 1) / n_points for j in range(n_points))

    # Disturbance timeseries.
    schedules = sample_schedules(data, gain_type["internal_gain_type"],
                                  zone_type["constraint_type"], timesteps)
    fresh_air_flow = schedules["minimum_fresh_air_flow"] * area / 1000.0  # l/s/m2 -> m3/s
    t_supply = ahu["ahu_supply_air_temperature_setpoint"]
    if not t_lin > t_supply:
        raise ValueError(f"zone_linearization_temperature ({t_lin} degC) must exceed the AHU "
                         f"supply air temperature ({t_supply} degC)")
    coil_load = _ventilation_coil_load(
        fresh_air_flow, weather["ambient_air_temperature"].to_numpy(),
        weather[WEATHER_HUMIDITY_COLUMN].to_numpy(), t_lin, t_supply,
        ahu["ahu_supply_air_relative_humidity_setpoint"],
        ahu["ahu_return_air_heat_recovery_efficiency"])
    d = np.zeros((len(timesteps), n_d))
    d[:, idx["ambient_air_temperature"]] = weather["ambient_air_temperature"].to_numpy()
    d[:, idx["sky_temperature"]] = weather["sky_temperature"].to_numpy()
    for direction in DIRECTIONS:
        d[:, idx[f"irradiation_{direction}"]] = weather[f"irradiation_{direction}"].to_numpy()
    d[:, idx["internal_gain_occupancy"]] = schedules["internal_gain_occupancy"]
    d[:, idx["internal_gain_appliances"]] = schedules["internal_gain_appliances"]
    d[:, idx["ventilation_coil_load"]] = coil_load
    d[:, idx["fresh_air_flow"]] = fresh_air_flow
    # At the horizon's end the weather moves on; the schedules hold their last step's value.
    d_end = d[-1].copy()
    for name in WEATHER_DISTURBANCES:
        d_end[idx[name]] = weather_end[name]

    # Outputs.
    output_names = [*STATE_NAMES, *control_names, "thermal_power_demand", "active_power_demand"]
    out = {name: i for i, name in enumerate(output_names)}
    n_y = len(output_names)
    C = np.zeros((n_y, 2))
    D_c = np.zeros((n_y, n_c))
    D_d = np.zeros((n_y, n_d))
    C[out["zone_air_temperature"], 0] = 1.0
    C[out["construction_mass_temperature"], 1] = 1.0
    for j, name in enumerate(control_names):
        D_c[out[name], j] = 1.0
    eta_ahu = ahu["ahu_cooling_efficiency"]
    # The AHU coil load (zone sensible cooling + fresh-air conditioning) is drawn from the
    # district cooling grid unless the local chiller serves part of it.
    D_c[out["thermal_power_demand"], 0] = 1.0 / eta_ahu
    D_d[out["thermal_power_demand"], idx["ventilation_coil_load"]] = 1.0 / eta_ahu
    if local_chiller:
        D_c[out["thermal_power_demand"], 1] = -1.0
    # Electric use: appliances, AHU fans (specific fan energy J/kg times supply air mass flow),
    # and the local chiller's compressor.
    fan = ahu["ahu_fan_efficiency"]  # J per kg of supply air
    active = out["active_power_demand"]
    D_d[active, idx["internal_gain_appliances"]] = gain_appliances / 1000.0
    D_d[active, idx["fresh_air_flow"]] = fan * AIR_DENSITY / 1000.0
    D_c[active, 0] = fan / (AIR_SPECIFIC_HEAT * (t_lin - t_supply))
    if local_chiller:
        D_c[active, 1] = 1.0 / plant["plant_cooling_efficiency"]

    n_t = len(timesteps)
    y_min = np.full((n_t, n_y), -np.inf)
    y_max = np.full((n_t, n_y), np.inf)
    y_min[:, out["zone_air_temperature"]] = schedules["minimum_air_temperature"]
    y_max[:, out["zone_air_temperature"]] = schedules["maximum_air_temperature"]
    for name in (*control_names, "thermal_power_demand"):
        y_min[:, out[name]] = 0.0

    M_pth = np.zeros((1, n_y))
    M_pth[0, out["thermal_power_demand"]] = 1.0
    M_p = np.zeros((1, n_y))
    M_p[0, active] = 1.0
    M_q = float(ders.reactive_to_active[k]) * M_p

    return BuildingModel(
        name=str(ders.der_names[k]), node_name=str(ders.electric_node_names[k]),
        thermal_node_name=str(ders.thermal_node_names[k]), timestep_h=step_s / 3600.0,
        A=A, B_c=B_c, B_d=B_d, C=C, D_c=D_c, D_d=D_d,
        x0=np.array([initial["initial_zone_temperature"],
                     initial["initial_surface_temperature"]]),
        d=d, y_min=y_min, y_max=y_max, M_pth_y=M_pth, M_p_y=M_p, M_q_y=M_q,
        state_names=STATE_NAMES, control_names=tuple(control_names),
        disturbance_names=DISTURBANCE_NAMES, output_names=tuple(output_names),
        A_continuous=A_cont, B_c_continuous=B_c_cont, B_d_continuous=B_d_cont,
        thermal_power_nominal_kw=float(ders.thermal_power_nominal_kw[k]),
        active_power_nominal_kw=float(ders.active_power_nominal_kw[k]),
        reactive_power_nominal_kvar=float(ders.reactive_power_nominal_kvar[k]),
        building_name=building_name, B_d_next=B_d_next, d_end=d_end,
        interpolated_disturbances=interpolated, comfort_fractions=fractions,
        parameters={key: float(value) for key, value in {
            "zone_area_m2": area, "zone_volume_m3": volume,
            "capacity_air_j_per_k": capacity_air, "capacity_mass_j_per_k": capacity_mass,
            "ua_envelope_w_per_k": envelope["ua"], "ua_infiltration_w_per_k": h_infiltration,
            "h_air_mass_w_per_k": h_air_mass,
            "u_value_wall_w_per_m2k": envelope["u_values"].get("wall", float("nan")),
            "u_value_window_w_per_m2k": envelope["u_values"].get("window", float("nan")),
            "u_value_roof_w_per_m2k": envelope["u_values"].get("roof", float("nan")),
            "internal_gain_occupancy_w": gain_occupancy,
            "internal_gain_appliances_w": gain_appliances,
            "plant_cooling_efficiency": plant["plant_cooling_efficiency"],
        }.items()},
    )


def _envelope(data: BuildingTables, building_name: str, zone: pd.Series, t_amb_lin: float,
              t_sky_lin: float) -> dict:
    """Conductances (W/K) and solar factors (W per W/m2) of the exterior surfaces.

    A surface without heat capacity is a node in steady state between the exterior films
    (convection + linearised long-wave exchange with sky and ground) and the series of layer
    conduction and interior convection, as in CoBMo; solving that node gives the flows below.
    """
    table = data["surfaces_exterior"]
    rows = table.rows_where("building_name", building_name)
    if rows.empty:
        raise DataFileError(table.path, f"no exterior surfaces for building {building_name!r}",
                            column="building_name")
    result = {"ua": 0.0, "ambient": 0.0, "sky": 0.0, "capacity": 0.0,
              "absorbed": dict.fromkeys(DIRECTIONS, 0.0),
              "transmitted": dict.fromkeys(DIRECTIONS, 0.0), "u_values": {}}
    for _, surface in rows.iterrows():
        if surface["zone_name"] != zone["zone_name"]:
            raise DataFileError(table.path, f"unknown zone {surface['zone_name']!r} of building "
                                f"{building_name!r}", row=surface["_row"], column="zone_name")
        direction = surface["direction_name"]
        if direction not in DIRECTIONS:
            raise DataFileError(table.path, f"direction must be one of {list(DIRECTIONS)}, got "
                                f"{direction!r}", row=surface["_row"], column="direction_name")
        kind = lookup_row(data, "surface_types", "surface_type", surface["surface_type"],
                          table.path, surface["_row"], "surface_type")
        area = surface["surface_area"]
        wwr = kind["window_wall_ratio"]
        layers = [("wall" if direction != "horizontal" else "roof", area * (1.0 - wwr),
                   kind["heat_transfer_coefficient_conduction_surface"],
                   kind["absorptivity_surface"], kind["emissivity_surface"], None)]
        result["capacity"] += kind["heat_capacity"] * area * (1.0 - wwr)
        if wwr > 0.0:
            if kind["window_type"] == "":
                raise DataFileError(data["surface_types"].path, "a surface with windows needs "
                                    "a window_type", row=kind["_row"], column="window_type")
            window = lookup_row(data, "window_types", "window_type", kind["window_type"],
                                data["surface_types"].path, kind["_row"], "window_type")
            layers.append(("window", area * wwr,
                           window["heat_transfer_coefficient_conduction_window"],
                           window["absorptivity_window"], window["emissivity_window"],
                           1.0 - window["absorptivity_window"]))
        for label, part_area, k_cond, absorptivity, emissivity, transmittance in layers:
            h_sky = _radiative_coefficient(emissivity * kind["sky_view_factor"],
                                           0.5 * (t_amb_lin + t_sky_lin))
            h_ground = _radiative_coefficient(emissivity * (1.0 - kind["sky_view_factor"]),
                                              t_amb_lin)
            h_ext = EXTERIOR_CONVECTION + h_sky + h_ground
            k_in = 1.0 / (1.0 / k_cond + 1.0 / INTERIOR_CONVECTION)
            u_value = 1.0 / (1.0 / h_ext + 1.0 / k_in)
            result["u_values"][label] = u_value
            result["ua"] += u_value * part_area
            result["ambient"] += u_value * part_area * (EXTERIOR_CONVECTION + h_ground) / h_ext
            result["sky"] += u_value * part_area * h_sky / h_ext
            result["absorbed"][direction] += u_value * part_area * absorptivity / h_ext
            if transmittance is not None:
                result["transmitted"][direction] += transmittance * part_area
    return result


def _radiative_coefficient(emissivity_view: float, temperature_c: float) -> float:
    """Linearised long-wave coefficient 4 sigma eps F T^3, W/(m2 K)."""
    return 4.0 * STEFAN_BOLTZMANN * emissivity_view * (temperature_c + 273.15) ** 3


def _discretise(A: np.ndarray, B_c: np.ndarray, B_d: np.ndarray, step_s: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact zero-order-hold discretisation via the matrix exponential of the augmented system."""
    n_x, n_c = B_c.shape
    n_u = n_c + B_d.shape[1]
    augmented = np.zeros((n_x + n_u, n_x + n_u))
    augmented[:n_x, :n_x] = A
    augmented[:n_x, n_x:] = np.hstack([B_c, B_d])
    # scipy.linalg is heavy (0.1 s): loaded by the processes that discretize a building only
    import scipy.linalg

    phi = scipy.linalg.expm(augmented * step_s)
    return phi[:n_x, :n_x], phi[:n_x, n_x:n_x + n_c], phi[:n_x, n_x + n_c:]


#: Within-step matrices already computed in this process, by their inputs' content (at most
#: this many, LRU; callers get copies). Every verification follows every building minute by
#: minute inside every step, the same 30-60 fractions of the step each time: 80 us per matrix
#: exponential, 1300 of them per verification of the district (measured).
WITHIN_STEP_CACHE_SIZE = 8192
_WITHIN_STEP: KeptByContent[tuple[np.ndarray, ...]] = KeptByContent(WITHIN_STEP_CACHE_SIZE)


def _discretise_interpolated(A: np.ndarray, B_c: np.ndarray, B_d: np.ndarray,
                             interpolated: np.ndarray, step_s: float, tau_s: float
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact state ``tau_s`` into a step of ``step_s``: controls held, the disturbances marked in
    ``interpolated`` linear from ``d[t]`` to ``d[t+1]`` over the step, the others held
    (first-order hold): ``(A_tau, B_c_tau, B_d_tau, B_d_next_tau)``.

    The augmented state ``(x, c, d, s)`` with ``d' = s`` on the interpolated columns and
    ``s = (d[t+1] - d[t]) / step_s`` is linear time-invariant; one matrix exponential gives it.
    """
    arrays = [np.asarray(a, dtype=float) for a in (A, B_c, B_d)]
    flags = np.asarray(interpolated, dtype=bool)
    key = content_key(*arrays, flags, float(step_s), float(tau_s))
    kept = _WITHIN_STEP.get(key, lambda: _discretise_interpolated_now(*arrays, flags, step_s,
                                                                      tau_s))
    return tuple(a.copy() for a in kept)


def _discretise_interpolated_now(A: np.ndarray, B_c: np.ndarray, B_d: np.ndarray,
                                 interpolated: np.ndarray, step_s: float, tau_s: float
                                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_x, n_c = B_c.shape
    n_d = B_d.shape[1]
    n = n_x + n_c + 2 * n_d
    augmented = np.zeros((n, n))
    c0, d0, s0 = n_x, n_x + n_c, n_x + n_c + n_d
    augmented[:n_x, :n_x] = A
    augmented[:n_x, c0:d0] = B_c
    augmented[:n_x, d0:s0] = B_d
    augmented[d0:s0, s0:] = np.diag(np.asarray(interpolated, dtype=float))
    import scipy.linalg  # heavy, see _discretise

    phi = scipy.linalg.expm(augmented * tau_s)
    gamma_s = phi[:n_x, s0:] / step_s
    return phi[:n_x, :n_x], phi[:n_x, c0:d0], phi[:n_x, d0:s0] - gamma_s, gamma_s


def _saturation_pressure(temperature_c: np.ndarray | float) -> np.ndarray:
    """Saturation vapour pressure over water (Tetens), Pa."""
    t = np.asarray(temperature_c, dtype=float)
    return 610.78 * np.exp(17.27 * t / (t + 237.3))


def _enthalpy(temperature_c: np.ndarray | float, humidity: np.ndarray | float) -> np.ndarray:
    """Specific enthalpy of humid air, J per kg of dry air."""
    t = np.asarray(temperature_c, dtype=float)
    return AIR_SPECIFIC_HEAT * t + np.asarray(humidity) * (
        VAPORISATION_ENTHALPY + VAPOUR_SPECIFIC_HEAT * t)


def _ventilation_coil_load(flow_m3s: np.ndarray, t_amb: np.ndarray, w_amb: np.ndarray,
                           t_zone: float, t_supply: float, rh_supply_percent: float,
                           recovery: float) -> np.ndarray:
    """Coil load (kW) to bring the scheduled fresh air to the zone state.

    Return-air heat recovery pre-cools the fresh air sensibly towards the zone temperature; the
    coil then cools and dehumidifies it to the zone temperature at the AHU supply humidity (the
    supply air leaves the coil saturated at ``rh_supply_percent``; the zone is assumed to hold that
    humidity). Sensible cooling below the zone temperature is the control, not part of this load.
    """
    p_vapour = rh_supply_percent / 100.0 * _saturation_pressure(t_supply)
    w_supply = 0.622 * p_vapour / (ATMOSPHERIC_PRESSURE - p_vapour)
    t_in = t_amb - recovery * np.maximum(t_amb - t_zone, 0.0)
    w_out = np.minimum(w_amb, w_supply)
    delta_h = _enthalpy(t_in, w_amb) - _enthalpy(t_zone, w_out)  # J/kg
    return AIR_DENSITY * flow_m3s * delta_h / 1000.0

