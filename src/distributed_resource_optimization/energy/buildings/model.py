"""Buildings, step 2: each building's state-space model, derived from its tables and the weather.

:func:`load_buildings` reads the tables (:mod:`.data`), the horizon and the weather and derives,
per building, the two-node RC model of eq. (1b)-(1f), discretised exactly at the step length;
:func:`simulate` runs it. The derivation (envelope, ventilation coil load, outputs) is documented
in ``docs/energy_buildings.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

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
                   local_chiller: bool = True, zone_linearization_temperature: float = 24.0,
                   ders: Sequence[str] | None = None) -> list[BuildingModel]:
    """Build the models of all in-service flexible buildings, in DER order of the grid data.

    ``ders``: build only these buildings (DER names; all when ``None``), e.g. one building's
    agent, which needs its own model only; an unknown name is a ``ValueError`` listing the DERs.

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
            weather = load_weather(folder, resolution, weather_type=weather_type)
            if WEATHER_HUMIDITY_COLUMN not in weather.columns:
                raise DataFileError(folder / WEATHER_FILE, "the building model needs the "
                                    "ambient humidity for the ventilation coil load",
                                    column=WEATHER_HUMIDITY_COLUMN)
            weather_cache[weather_type] = weather
        models.append(_build_model(data, table, k, building, weather_cache[weather_type],
                                   timesteps, step_s, local_chiller,
                                   zone_linearization_temperature))
    return models


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
    for t in range(n_t - 1):
        states[t + 1] = model.A @ states[t] + model.B_c @ controls[t] + model.B_d @ model.d[t]
    outputs = states @ model.C.T + controls @ model.D_c.T + model.d @ model.D_d.T
    return states, outputs



# --- model derivation -------------------------------------------------------------------------

def _build_model(data: BuildingTables, ders: DerTable, k: int, building: pd.Series,
                 weather: pd.DataFrame, timesteps: pd.DatetimeIndex, step_s: float,
                 local_chiller: bool, t_lin: float) -> BuildingModel:
    """Model of DER ``k`` of ``ders``, the building of table row ``building``."""
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
    A, B_c, B_d = _discretise(A_cont, B_c_cont, B_d_cont, step_s)

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


def _envelope(data: BuildingTables, building_name: str, zone: pd.Series, t_amb_lin: float,
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

