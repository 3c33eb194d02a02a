"""Flexible loads: reduced-order thermal models of the district's air-conditioned buildings.

Each building is one zone (as in the CoBMo data) modelled as a two-node RC network, eq. (1b)-(1f)
of the seed study:

- states ``x``: zone air temperature and construction (thermal mass) temperature, degC;
- controls ``c``: sensible cooling delivered to the zone air by the AHU (kW thermal) and,
  optionally, the part of the AHU coil load served by the building's own chiller (kW thermal);
- disturbances ``d``: ambient and sky temperature (degC), irradiation on the roof and the four
  facades (W/m2), occupancy and appliance schedules (per unit), the ventilation coil load of the
  scheduled fresh air (kW) and the fresh-air flow (m3/s);
- outputs ``y``: both temperatures, both controls, the thermal power drawn from the district
  cooling grid (kW) and the active power drawn from the electric grid (kW).

All exchanged powers are demand, positive = consumption (kW / kvar), as in :mod:`.lp`. The
continuous-time model is discretised exactly (zero-order hold, matrix exponential) at the step
length. Derivation, parameters and simplifications are documented in ``docs/energy_buildings.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

from distributed_resource_optimization.energy.io import (
    DEFAULT_DATA_DIR,
    DataFileError,
    parse_number,
    read_table,
)
from distributed_resource_optimization.energy.lp import LPBlock
from distributed_resource_optimization.energy.timeseries import (
    WEATHER_FILE,
    WEATHER_HUMIDITY_COLUMN,
    load_timesteps,
    load_weather,
    timestep_hours,
)

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

_TIME_PERIOD = re.compile(r"^(\d{2})T(\d{2}):(\d{2})$")


@dataclass
class BuildingModel:
    """Discrete-time state-space model of one flexible building, eq. (1b)-(1f).

    ``x[t+1] = A x[t] + B_c c[t] + B_d d[t]``, ``y[t] = C x[t] + D_c c[t] + D_d d[t]``,
    ``y_min[t] <= y[t] <= y_max[t]`` and ``p_th = M_pth_y y``, ``p = M_p_y y``, ``q = M_q_y y``.
    Units: temperatures degC, thermal and active power kW, reactive power kvar, all demand
    positive. ``d`` is ``(T, n_d)``, ``y_min`` / ``y_max`` are ``(T, n_y)`` (infinite allowed).
    The ``*_continuous`` matrices are the model before discretisation (per second), kept so that
    results can be checked against an independent ODE integration.
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

    def __post_init__(self) -> None:
        n_x, n_c = len(self.state_names), len(self.control_names)
        n_d, n_y = len(self.disturbance_names), len(self.output_names)
        if not (np.isfinite(self.timestep_h) and self.timestep_h > 0):
            raise ValueError(f"timestep_h must be a positive number, got {self.timestep_h}")
        if np.ndim(self.d) != 2 or np.shape(self.d)[0] < 1:
            raise ValueError(f"BuildingModel {self.name!r}: d must be a (T, n_d) array with "
                             f"T >= 1, got shape {np.shape(self.d)}")
        n_t = np.shape(self.d)[0]
        shapes = {
            "A": (n_x, n_x), "B_c": (n_x, n_c), "B_d": (n_x, n_d), "C": (n_y, n_x),
            "D_c": (n_y, n_c), "D_d": (n_y, n_d), "x0": (n_x,), "d": (n_t, n_d),
            "y_min": (n_t, n_y), "y_max": (n_t, n_y), "M_pth_y": (1, n_y), "M_p_y": (1, n_y),
            "M_q_y": (1, n_y), "A_continuous": (n_x, n_x), "B_c_continuous": (n_x, n_c),
            "B_d_continuous": (n_x, n_d),
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

    @property
    def n_timesteps(self) -> int:
        """Number of steps T of the horizon."""
        return self.d.shape[0]

    def output_index(self, name: str) -> int:
        """Position of the output ``name`` in ``y``."""
        return self.output_names.index(name)


def load_buildings(folder: Path | str = DEFAULT_DATA_DIR, resolution: str = "30min", *,
                   local_chiller: bool = True, zone_linearization_temperature: float = 24.0
                   ) -> list[BuildingModel]:
    """Build the models of all in-service flexible buildings, in DER order of the grid data.

    ``local_chiller`` adds a control for the share of the AHU coil load served by the building's
    own chiller (cooling efficiency from plant_cooling_types.csv), which moves demand from the
    thermal to the electric grid. ``zone_linearization_temperature`` (degC) is the zone state at
    which the fresh-air coil load and the supply-air flow are linearised (default: middle of the
    occupied comfort band 23-25 degC).
    """
    if not np.isfinite(zone_linearization_temperature):
        raise ValueError("zone_linearization_temperature must be a finite number")
    folder = Path(folder)
    timesteps = load_timesteps(folder, resolution)
    step_s = timestep_hours(resolution) * 3600.0
    data = _read_building_tables(folder)
    ders = _read_ders(folder)
    weather_cache: dict[str, pd.DataFrame] = {}
    models = []
    for der in ders:
        building = _lookup(data, "buildings", "building_name", der["der_model_name"],
                           _ders_path(folder), der["row"], "der_model_name")
        weather_type = building["weather_type"]
        if weather_type not in weather_cache:
            weather = load_weather(folder, resolution, weather_type=weather_type)
            if WEATHER_HUMIDITY_COLUMN not in weather.columns:
                raise DataFileError(folder / WEATHER_FILE, "the building model needs the "
                                    "ambient humidity for the ventilation coil load",
                                    column=WEATHER_HUMIDITY_COLUMN)
            weather_cache[weather_type] = weather
        models.append(_build_model(data, der, building, weather_cache[weather_type], timesteps,
                                   step_s, local_chiller, zone_linearization_temperature))
    return models


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
    for t in range(n_t - 1):
        states[t + 1] = model.A @ states[t] + model.B_c @ controls[t] + model.B_d @ model.d[t]
    outputs = states @ model.C.T + controls @ model.D_c.T + model.d @ model.D_d.T
    return states, outputs


def building_block(model: BuildingModel, timestep_h: float) -> LPBlock:
    """Sparse LP block of one building, eq. (1b)-(1f), with zero cost.

    Variable groups (time-major): ``p_th``, ``p``, ``q`` (length T, demand kW / kvar), ``x``
    (T*n_x), ``c`` (T*n_c), ``y`` (T*n_y). Equality families: ``initial_state`` (1b),
    ``dynamics`` (1c, T-1 steps), ``outputs`` (1d), ``power_mapping`` (1f; also split into
    ``power_mapping_thermal`` / ``_active`` / ``_reactive``). The comfort band and the other
    output limits (1e) are variable bounds on ``y``. ``timestep_h`` must equal the step the model
    was discretised at.
    """
    _check_timestep(model, timestep_h)
    n_t = model.n_timesteps
    n_x, n_c, n_y = model.x0.size, len(model.control_names), len(model.output_names)
    sizes = {"p_th": n_t, "p": n_t, "q": n_t, "x": n_t * n_x, "c": n_t * n_c, "y": n_t * n_y}
    variables: dict[str, np.ndarray] = {}
    offset = 0
    for label, size in sizes.items():
        variables[label] = np.arange(offset, offset + size)
        offset += size
    n = offset

    eye_t = sp.identity(n_t, format="csr")
    lead = sp.eye(n_t - 1, n_t, k=1, format="csr")  # picks x[t+1]
    lag = sp.eye(n_t - 1, n_t, k=0, format="csr")  # picks x[t]

    def assemble(rows: int, parts: dict[str, sp.spmatrix]) -> sp.csr_matrix:
        blocks = [parts.get(label, sp.csr_matrix((rows, size))) for label, size in sizes.items()]
        return sp.hstack(blocks, format="csr")

    first = sp.eye(n_x, n_t * n_x, format="csr")
    rows_initial = assemble(n_x, {"x": first})
    rhs_initial = model.x0.copy()

    rows_dynamics = assemble((n_t - 1) * n_x, {
        "x": sp.kron(lead, sp.identity(n_x)) - sp.kron(lag, sp.csr_matrix(model.A)),
        "c": -sp.kron(lag, sp.csr_matrix(model.B_c)),
    })
    rhs_dynamics = (model.d[:-1] @ model.B_d.T).ravel()

    rows_outputs = assemble(n_t * n_y, {
        "x": -sp.kron(eye_t, sp.csr_matrix(model.C)),
        "c": -sp.kron(eye_t, sp.csr_matrix(model.D_c)),
        "y": sp.identity(n_t * n_y),
    })
    rhs_outputs = (model.d @ model.D_d.T).ravel()

    mapping = []
    for label, matrix in (("p_th", model.M_pth_y), ("p", model.M_p_y), ("q", model.M_q_y)):
        mapping.append(assemble(n_t, {label: eye_t,
                                      "y": -sp.kron(eye_t, sp.csr_matrix(matrix))}))
    rows_mapping = sp.vstack(mapping, format="csr")

    families = [("initial_state", rows_initial, rhs_initial),
                ("dynamics", rows_dynamics, rhs_dynamics),
                ("outputs", rows_outputs, rhs_outputs),
                ("power_mapping", rows_mapping, np.zeros(3 * n_t))]
    eq_rows: dict[str, np.ndarray] = {}
    start = 0
    for label, rows, _ in families:
        eq_rows[label] = np.arange(start, start + rows.shape[0])
        start += rows.shape[0]
    mapping_rows = eq_rows["power_mapping"]
    eq_rows["power_mapping_thermal"] = mapping_rows[:n_t]
    eq_rows["power_mapping_active"] = mapping_rows[n_t:2 * n_t]
    eq_rows["power_mapping_reactive"] = mapping_rows[2 * n_t:]

    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)
    lb[variables["y"]] = model.y_min.ravel()
    ub[variables["y"]] = model.y_max.ravel()
    return LPBlock(
        n=n, c=np.zeros(n), lb=lb, ub=ub,
        A_eq=sp.vstack([rows for _, rows, _ in families], format="csr"),
        b_eq=np.concatenate([rhs for _, _, rhs in families]),
        A_ub=sp.csr_matrix((0, n)), b_ub=np.zeros(0),
        variables=variables, eq_rows=eq_rows, name=f"building_{model.name}",
    )


def aggregator_block(models: list[BuildingModel], timestep_h: float) -> LPBlock:
    """All buildings in one LP block (the flexible load aggregator's constraints, eq. (4)).

    Groups ``p_th``, ``p``, ``q`` have length T*n_der in time-major order (index ``t*n_der + k``
    for DER ``k`` in the order of ``models``), as the grid blocks. Each building's internal
    variables follow as groups ``"<name>/x"``, ``"<name>/c"``, ``"<name>/y"``. Equality families
    are the buildings' families stacked (``initial_state``, ``dynamics``, ``outputs``,
    ``power_mapping``) and, per building, ``"<name>/<family>"``. Zero cost.
    """
    if len(models) == 0:
        raise ValueError("models must hold at least one BuildingModel")
    n_t = models[0].n_timesteps
    for model in models:
        if model.n_timesteps != n_t:
            raise ValueError(f"models: building {model.name!r} has {model.n_timesteps} steps, "
                             f"expected {n_t}")
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError("models: building names must be unique")
    blocks = [building_block(m, timestep_h) for m in models]
    n_der = len(models)
    exchanged = ("p_th", "p", "q")
    variables = {label: np.arange(i * n_t * n_der, (i + 1) * n_t * n_der)
                 for i, label in enumerate(exchanged)}
    offset = 3 * n_t * n_der
    column_maps = []
    for k, (model, block) in enumerate(zip(models, blocks, strict=True)):
        column_map = np.empty(block.n, dtype=int)
        for i, label in enumerate(exchanged):
            column_map[block.variables[label]] = i * n_t * n_der + np.arange(n_t) * n_der + k
        for label in ("x", "c", "y"):
            local = block.variables[label]
            column_map[local] = offset + np.arange(local.size)
            variables[f"{model.name}/{label}"] = offset + np.arange(local.size)
            offset += local.size
        column_maps.append(column_map)
    n = offset

    lb = np.full(n, -np.inf)
    ub = np.full(n, np.inf)
    rows, cols, vals, rhs = [], [], [], []
    eq_rows: dict[str, list[np.ndarray]] = {}
    row_offset = 0
    for model, block, column_map in zip(models, blocks, column_maps, strict=True):
        lb[column_map] = block.lb
        ub[column_map] = block.ub
        coo = block.A_eq.tocoo()
        rows.append(coo.row + row_offset)
        cols.append(column_map[coo.col])
        vals.append(coo.data)
        rhs.append(block.b_eq)
        for family, local_rows in block.eq_rows.items():
            eq_rows.setdefault(family, []).append(local_rows + row_offset)
            eq_rows[f"{model.name}/{family}"] = [local_rows + row_offset]
        row_offset += block.b_eq.size
    A_eq = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(row_offset, n))
    return LPBlock(
        n=n, c=np.zeros(n), lb=lb, ub=ub, A_eq=A_eq, b_eq=np.concatenate(rhs),
        A_ub=sp.csr_matrix((0, n)), b_ub=np.zeros(0), variables=variables,
        eq_rows={k: np.concatenate(v) for k, v in eq_rows.items()},
        name="flexible_load_aggregator",
    )


# --- model derivation -------------------------------------------------------------------------

def _build_model(data: dict[str, _Table], der: dict, building: pd.Series, weather: pd.DataFrame,
                 timesteps: pd.DatetimeIndex, step_s: float, local_chiller: bool,
                 t_lin: float) -> BuildingModel:
    building_name = building["building_name"]
    zone = _single_zone(data, building_name)
    zone_type = _lookup(data, "zone_types", "zone_type", zone["zone_type"], data["zones"].path,
                        zone["_row"], "zone_type")
    gain_type = _lookup(data, "internal_gain_types", "internal_gain_type",
                        zone_type["internal_gain_type"], data["zone_types"].path,
                        zone_type["_row"], "internal_gain_type")
    ahu = _lookup(data, "hvac_ahu_types", "hvac_ahu_type", zone_type["hvac_ahu_type"],
                  data["zone_types"].path, zone_type["_row"], "hvac_ahu_type")
    plant = _lookup(data, "plant_cooling_types", "plant_cooling_type",
                    building["plant_cooling_type"], data["buildings"].path, building["_row"],
                    "plant_cooling_type")
    scenario = _lookup(data, "scenarios", "building_name", building_name,
                       data["buildings"].path, building["_row"], "building_name")
    initial = _lookup(data, "initial_state_types", "initial_state_type",
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
    A, B_c, B_d = _discretise(A_cont, B_c_cont, B_d_cont, step_s)

    # Disturbance timeseries.
    schedules = _sample_schedules(data, gain_type["internal_gain_type"],
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
    M_q = der["reactive_to_active"] * M_p

    return BuildingModel(
        name=der["der_name"], node_name=der["node_name"],
        thermal_node_name=der["thermal_node_name"], timestep_h=step_s / 3600.0,
        A=A, B_c=B_c, B_d=B_d, C=C, D_c=D_c, D_d=D_d,
        x0=np.array([initial["initial_zone_temperature"],
                     initial["initial_surface_temperature"]]),
        d=d, y_min=y_min, y_max=y_max, M_pth_y=M_pth, M_p_y=M_p, M_q_y=M_q,
        state_names=STATE_NAMES, control_names=tuple(control_names),
        disturbance_names=DISTURBANCE_NAMES, output_names=tuple(output_names),
        A_continuous=A_cont, B_c_continuous=B_c_cont, B_d_continuous=B_d_cont,
        thermal_power_nominal_kw=der["thermal_power_nominal_kw"],
        active_power_nominal_kw=der["active_power_nominal_kw"],
        reactive_power_nominal_kvar=der["reactive_power_nominal_kvar"],
        building_name=building_name,
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


def _envelope(data: dict[str, _Table], building_name: str, zone: pd.Series, t_amb_lin: float,
              t_sky_lin: float) -> dict:
    """Conductances (W/K) and solar factors (W per W/m2) of the exterior surfaces.

    A surface without heat capacity is a node in steady state between the exterior films
    (convection + linearised long-wave exchange with sky and ground) and the series of layer
    conduction and interior convection, as in CoBMo; solving that node gives the flows below.
    """
    table = data["surfaces_exterior"]
    rows = table.frame[(table.frame["building_name"] == building_name)]
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
        kind = _lookup(data, "surface_types", "surface_type", surface["surface_type"],
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
            window = _lookup(data, "window_types", "window_type", kind["window_type"],
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
    phi = scipy.linalg.expm(augmented * step_s)
    return phi[:n_x, :n_x], phi[:n_x, n_x:n_x + n_c], phi[:n_x, n_x + n_c:]


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


def _check_timestep(model: BuildingModel, timestep_h: float) -> None:
    if not (np.isfinite(timestep_h) and timestep_h > 0):
        raise ValueError(f"timestep_h must be a positive number, got {timestep_h}")
    if abs(timestep_h - model.timestep_h) > 1e-9:
        raise ValueError(f"timestep_h={timestep_h} differs from the step the model of building "
                         f"{model.name!r} was discretised at ({model.timestep_h} h)")


# --- data tables -----------------------------------------------------------------------------

@dataclass
class _Table:
    path: Path
    frame: pd.DataFrame  # column "_row" holds the 1-based data row in the file


_TABLES: dict[str, tuple[str, dict[str, type], dict[str, type]]] = {
    "buildings": ("buildings/buildings.csv",
                  {"building_name": str, "weather_type": str, "plant_cooling_type": str}, {}),
    "zones": ("buildings/zones.csv",
              {"building_name": str, "zone_name": str, "zone_type": str, "zone_height": float,
               "zone_area": float}, {}),
    "zone_types": ("buildings/zone_types.csv",
                   {"zone_type": str, "heat_capacity": float, "infiltration_rate": float,
                    "internal_gain_type": str, "hvac_ahu_type": str, "constraint_type": str}, {}),
    "surfaces_exterior": ("buildings/surfaces_exterior.csv",
                          {"building_name": str, "zone_name": str, "direction_name": str,
                           "surface_name": str, "surface_type": str, "surface_area": float}, {}),
    "surface_types": ("buildings/surface_types.csv",
                      {"surface_type": str, "heat_capacity": float,
                       "heat_transfer_coefficient_conduction_surface": float,
                       "absorptivity_surface": float, "emissivity_surface": float,
                       "window_wall_ratio": float, "sky_view_factor": float},
                      {"window_type": str}),
    "window_types": ("buildings/window_types.csv",
                     {"window_type": str, "heat_transfer_coefficient_conduction_window": float,
                      "absorptivity_window": float, "emissivity_window": float}, {}),
    "internal_gain_types": ("buildings/internal_gain_types.csv",
                            {"internal_gain_type": str, "occupancy_density": float,
                             "occupancy_heat_gain": float, "appliances_heat_gain": float},
                            {"internal_gain_definition_type": str}),
    "internal_gain_schedules": ("buildings/internal_gain_schedules.csv",
                                {"internal_gain_type": str, "time_period": str,
                                 "internal_gain_occupancy": float,
                                 "internal_gain_appliances": float}, {}),
    "constraint_schedules": ("buildings/constraint_schedules.csv",
                             {"constraint_type": str, "time_period": str,
                              "minimum_air_temperature": float, "maximum_air_temperature": float,
                              "minimum_fresh_air_flow": float}, {}),
    "hvac_ahu_types": ("buildings/hvac_ahu_types.csv",
                       {"hvac_ahu_type": str, "ahu_supply_air_temperature_setpoint": float,
                        "ahu_supply_air_relative_humidity_setpoint": float,
                        "ahu_fan_efficiency": float, "ahu_cooling_efficiency": float,
                        "ahu_return_air_heat_recovery_efficiency": float}, {}),
    "plant_cooling_types": ("buildings/plant_cooling_types.csv",
                            {"plant_cooling_type": str, "plant_cooling_efficiency": float}, {}),
    "initial_state_types": ("buildings/initial_state_types.csv",
                            {"initial_state_type": str, "initial_zone_temperature": float,
                             "initial_surface_temperature": float}, {}),
    "scenarios": ("buildings/scenarios.csv",
                  {"building_name": str, "initial_state_type": str}, {}),
}

# Admissible ranges (low, high, low inclusive, high inclusive) of numeric columns.
_RANGES: dict[str, dict[str, tuple[float, float, bool, bool]]] = {
    "zones": {"zone_height": (0, np.inf, False, False), "zone_area": (0, np.inf, False, False)},
    "zone_types": {"heat_capacity": (0, np.inf, False, False),
                   "infiltration_rate": (0, np.inf, True, False)},
    "surfaces_exterior": {"surface_area": (0, np.inf, True, False)},
    "surface_types": {"heat_capacity": (0, np.inf, True, False),
                      "heat_transfer_coefficient_conduction_surface": (0, np.inf, False, False),
                      "absorptivity_surface": (0, 1, True, True),
                      "emissivity_surface": (0, 1, True, True),
                      "window_wall_ratio": (0, 1, True, False),
                      "sky_view_factor": (0, 1, True, True)},
    "window_types": {"heat_transfer_coefficient_conduction_window": (0, np.inf, False, False),
                     "absorptivity_window": (0, 1, True, True),
                     "emissivity_window": (0, 1, True, True)},
    "internal_gain_types": {"occupancy_density": (0, np.inf, True, False),
                            "occupancy_heat_gain": (0, np.inf, True, False),
                            "appliances_heat_gain": (0, np.inf, True, False)},
    "internal_gain_schedules": {"internal_gain_occupancy": (0, np.inf, True, False),
                                "internal_gain_appliances": (0, np.inf, True, False)},
    "constraint_schedules": {"minimum_fresh_air_flow": (0, np.inf, True, False)},
    "hvac_ahu_types": {"ahu_supply_air_relative_humidity_setpoint": (0, 100, False, True),
                       "ahu_fan_efficiency": (0, np.inf, True, False),
                       "ahu_cooling_efficiency": (0, np.inf, False, False),
                       "ahu_return_air_heat_recovery_efficiency": (0, 1, True, True)},
    "plant_cooling_types": {"plant_cooling_efficiency": (0, np.inf, False, False)},
}


def _ders_path(folder: Path) -> Path:
    """Path of the electric grid's DER table (the DER order of the district)."""
    return Path(folder) / "grid" / "electric_grid_ders.csv"


def _read_building_tables(folder: Path) -> dict[str, _Table]:
    tables = {}
    for key, (relative, columns, optional) in _TABLES.items():
        frame = read_table(folder, relative, columns=columns, optional=optional)
        frame["_row"] = np.arange(1, len(frame) + 1)
        table = _Table(folder / relative, frame)
        for column, (low, high, low_in, high_in) in _RANGES.get(key, {}).items():
            values = frame[column].to_numpy(dtype=float)
            bad = (values < low) | (values > high)
            bad |= (values == low) & (not low_in)
            bad |= (values == high) & (not high_in)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                lo_br, hi_br = ("[" if low_in else "("), ("]" if high_in else ")")
                raise DataFileError(table.path, f"{values[i]} is outside {lo_br}{low}, {high}"
                                    f"{hi_br}", row=i + 1, column=column)
        tables[key] = table
    constraints = tables["constraint_schedules"]
    frame = constraints.frame
    bad = frame["minimum_air_temperature"] > frame["maximum_air_temperature"]
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(constraints.path, "minimum_air_temperature exceeds "
                            "maximum_air_temperature", row=i + 1,
                            column="minimum_air_temperature")
    gains = tables["internal_gain_types"]
    if "internal_gain_definition_type" in gains.frame.columns:
        for _, row in gains.frame.iterrows():
            if row["internal_gain_definition_type"] not in ("", "schedule"):
                raise DataFileError(gains.path, "only 'schedule' internal gains are supported",
                                    row=row["_row"], column="internal_gain_definition_type")
    return tables


def _read_ders(folder: Path) -> list[dict]:
    """In-service flexible buildings of the electric grid with their thermal grid connection."""
    electric_path = _ders_path(folder)
    thermal_path = Path(folder) / "grid" / "thermal_grid_ders.csv"
    electric = read_table(folder, "grid/electric_grid_ders.csv",
                          columns={"der_name": str, "der_type": str, "der_model_name": str,
                                   "node_name": str, "active_power_nominal": str,
                                   "reactive_power_nominal": str, "in_service": str})
    thermal = read_table(folder, "grid/thermal_grid_ders.csv",
                         columns={"der_name": str, "node_name": str, "der_type": str,
                                  "der_model_name": str, "thermal_power_nominal": str,
                                  "in_service": str})
    thermal_rows = {name: i for i, name in enumerate(thermal["der_name"].tolist())}
    ders = []
    for i, row in electric.iterrows():
        if row["der_type"] != "flexible_building":
            continue
        if parse_number(electric_path, row["in_service"], i + 1, "in_service") == 0:
            continue
        p_nom = parse_number(electric_path, row["active_power_nominal"], i + 1,
                        "active_power_nominal")
        q_nom = parse_number(electric_path, row["reactive_power_nominal"], i + 1,
                        "reactive_power_nominal")
        if p_nom == 0:
            raise DataFileError(electric_path, "nominal active power of a building must be "
                                "non-zero (it fixes the power factor)", row=i + 1,
                                column="active_power_nominal")
        if row["der_name"] not in thermal_rows:
            raise DataFileError(thermal_path, f"building DER {row['der_name']!r} of "
                                f"{electric_path.name} is missing", column="der_name")
        j = thermal_rows[row["der_name"]]
        if thermal.at[j, "der_model_name"] != row["der_model_name"]:
            raise DataFileError(thermal_path, f"der_model_name differs from {electric_path.name}"
                                f" row {i + 1}", row=j + 1, column="der_model_name")
        p_th_nom = parse_number(thermal_path, thermal.at[j, "thermal_power_nominal"], j + 1,
                           "thermal_power_nominal")
        ders.append({
            "row": i + 1, "der_name": row["der_name"], "der_model_name": row["der_model_name"],
            "node_name": row["node_name"], "thermal_node_name": thermal.at[j, "node_name"],
            # Files list loads as negative W / var; the models use demand-positive kW / kvar.
            "active_power_nominal_kw": -p_nom / 1000.0,
            "reactive_power_nominal_kvar": -q_nom / 1000.0,
            "thermal_power_nominal_kw": -p_th_nom / 1000.0,
            "reactive_to_active": q_nom / p_nom,
        })
    if not ders:
        raise DataFileError(electric_path, "no in-service flexible_building DERs",
                            column="der_type")
    if all(der["der_name"].isdigit() for der in ders):
        ders.sort(key=lambda der: int(der["der_name"]))
    return ders


def _lookup(data: dict[str, _Table], table_key: str, column: str, key: str, ref_path: Path,
            ref_row: int, ref_column: str) -> pd.Series:
    """The unique row of ``table_key`` whose ``column`` is ``key``; errors name the referrer."""
    table = data[table_key]
    hits = table.frame[table.frame[column] == key]
    if hits.empty:
        raise DataFileError(ref_path, f"{key!r} is not listed in {table.path.name}",
                            row=ref_row, column=ref_column)
    if len(hits) > 1:
        raise DataFileError(table.path, f"{column} {key!r} is listed more than once",
                            row=int(hits["_row"].iloc[1]), column=column)
    return hits.iloc[0]


def _single_zone(data: dict[str, _Table], building_name: str) -> pd.Series:
    zones = data["zones"]
    hits = zones.frame[zones.frame["building_name"] == building_name]
    if len(hits) != 1:
        raise DataFileError(zones.path, f"building {building_name!r} must have exactly one zone "
                            f"(found {len(hits)}); multi-zone buildings are not supported",
                            column="building_name")
    return hits.iloc[0]


def _sample_schedules(data: dict[str, _Table], gain_type: str, constraint_type: str,
                      timesteps: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Schedule values at each step start; a value holds until the next listed period."""
    result = {}
    for key, type_column, type_name, value_columns in (
        ("internal_gain_schedules", "internal_gain_type", gain_type,
         ("internal_gain_occupancy", "internal_gain_appliances")),
        ("constraint_schedules", "constraint_type", constraint_type,
         ("minimum_air_temperature", "maximum_air_temperature", "minimum_fresh_air_flow")),
    ):
        table = data[key]
        rows = table.frame[table.frame[type_column] == type_name]
        if rows.empty:
            raise DataFileError(table.path, f"no schedule rows for {type_column} {type_name!r}",
                                column=type_column)
        minutes = np.array([_minute_of_week(table.path, text, row) for text, row in
                            zip(rows["time_period"], rows["_row"], strict=True)])
        order = np.argsort(minutes, kind="stable")
        minutes = minutes[order]
        duplicate = np.flatnonzero(np.diff(minutes) == 0)
        if duplicate.size:
            raise DataFileError(table.path, "time_period listed twice for this type",
                                row=int(rows["_row"].to_numpy()[order][duplicate[0] + 1]),
                                column="time_period")
        step_minutes = (timesteps.day_of_week * 1440 + timesteps.hour * 60
                        + timesteps.minute).to_numpy()
        # Before the first listed period of the week the last period of the week still holds.
        position = np.searchsorted(minutes, step_minutes, side="right") - 1
        position[position < 0] = minutes.size - 1
        for column in value_columns:
            result[column] = rows[column].to_numpy(dtype=float)[order][position]
    return result


def _minute_of_week(path: Path, text: str, row: int) -> int:
    match = _TIME_PERIOD.match(text)
    if match is not None:
        day, hour, minute = (int(g) for g in match.groups())
        if 1 <= day <= 7 and hour < 24 and minute < 60:
            return (day - 1) * 1440 + hour * 60 + minute
    raise DataFileError(path, f"'{text}' is not a time period ddTHH:MM (dd 01=Monday..07)",
                        row=row, column="time_period")
