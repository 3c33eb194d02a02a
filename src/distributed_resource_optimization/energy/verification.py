"""Verification of a dispatch against the nonlinear grids it was planned on.

The district's LPs (centralized and market) use the grids' linear models (tangents at one
reference demand). :func:`verify_dispatch` takes the demand a run decided (cooling, active and
reactive power per step and building), solves the nonlinear models at every step (the
Newton-Raphson AC power flow, the Darcy-Weisbach hydraulics) and compares:

* every grid limit of the scenario (voltage band, branch apparent power, pipe flow, node head):
  the worst value in the nonlinear model, the limit, by how much it is exceeded (absolute and
  relative to the limit) and where (element, timestep); a limit *holds* if it is exceeded by at
  most ``tolerance_rel`` of its value (``voltage_tolerance_pu`` for voltages);
* what the linear model predicts at the same demand against the nonlinear value, per step
  (source powers, electric losses, pump power) and over the horizon (kWh);
* the buildings' comfort band at every minute: each building's controls follow from its demand
  (:func:`~.buildings.controls_from_demand`), its model runs from its initial state and is
  followed inside every step with the weather moving linearly
  (:func:`~.buildings.simulate_within_steps`); the zone temperature holds if it leaves the band
  of its step by at most ``comfort_tolerance_k``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..checks import non_negative_scalar
from .buildings import BuildingModel, controls_from_demand, simulate_within_steps
from .centralized import CentralizedResult
from .district import DistrictData
from .electric_grid import LinearElectricGridModel, solve_power_flow
from .lp import check_step_models
from .scenarios import ScenarioLimits
from .thermal_grid import LinearThermalGridModel, solve_thermal_grid

#: Relative tolerance of a limit in the nonlinear model (0.1 % of the limit's value).
DEFAULT_TOLERANCE_REL: float = 1e-3
#: Tolerance of a voltage limit (p.u.).
DEFAULT_VOLTAGE_TOLERANCE_PU: float = 1e-4
#: Tolerance of the comfort band (K), and the spacing of the points it is checked at (min).
DEFAULT_COMFORT_TOLERANCE_K: float = 0.05
COMFORT_CHECK_MINUTES: float = 1.0

#: Status of a verification: every limit holds within its tolerance, or at least one does not.
HOLDS = "holds"
VIOLATED = "violated"

#: Per-step columns of :attr:`Verification.per_step` (name -> unit).
PER_STEP_COLUMNS: dict[str, str] = {
    "electric_source_kw_linear": "kW",
    "electric_source_kw_ac": "kW",
    "electric_losses_kw_linear": "kW",
    "electric_losses_kw_ac": "kW",
    "pump_power_kw_linear": "kW",
    "pump_power_kw_nonlinear": "kW",
    "thermal_source_kw_linear": "kW",
    "thermal_source_kw_nonlinear": "kW",
    "voltage_min_pu_ac": "p.u.",
    "branch_power_max_kva_ac": "kVA",
    "node_head_min_m_nonlinear": "m",
    "comfort_excursion_max_k": "K",
}


@dataclass(frozen=True)
class LimitCheck:
    """The worst point of one kind of limit in the nonlinear model.

    ``value`` is the nonlinear value there and ``limit`` the limit it is held to (both in
    ``unit``); ``violation`` how far beyond the limit it lies (0 if within; in ``unit``),
    ``violation_rel`` the same relative to ``|limit|``; ``element`` and ``timestep`` say where.
    Where no limit is exceeded, the worst point is the one closest to its limit.
    """

    kind: str
    unit: str
    value: float
    limit: float
    violation: float
    violation_rel: float
    element: str
    timestep: pd.Timestamp
    tolerance: float
    holds: bool

    def as_dict(self) -> dict:
        return {"value": self.value, "limit": self.limit, "unit": self.unit,
                "violation": self.violation, "violation_rel": self.violation_rel,
                "element": self.element, "timestep": self.timestep.isoformat(),
                "tolerance": self.tolerance, "holds": self.holds}


@dataclass
class Verification:
    """Outcome of :func:`verify_dispatch`: one :class:`LimitCheck` per kind of limit
    (``checks``), the per-step comparison of the linear and the nonlinear models (``per_step``,
    a DataFrame indexed by timestep, columns of :data:`PER_STEP_COLUMNS`) and its sums over the
    horizon (``energy_kwh``: name -> kWh)."""

    checks: dict[str, LimitCheck]
    per_step: pd.DataFrame
    energy_kwh: dict[str, float] = field(default_factory=dict)
    #: Per grid check kind (``voltage_min``, ``branch_power``, ``pipe_flow``, ``node_head``) the
    #: nonlinear value of every element at every step (rows timestep, columns the element names;
    #: p.u., kVA, m3/s, m) and the limit each element is held to (a Series by element name).
    grid_values: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    grid_limits: dict[str, pd.Series] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str:
        """:data:`HOLDS` if every limit holds within its tolerance, else :data:`VIOLATED`."""
        return HOLDS if all(c.holds for c in self.checks.values()) else VIOLATED

    @property
    def worst(self) -> LimitCheck:
        """The check with the largest violation (or the least margin if none), measured in
        multiples of each limit's tolerance."""
        return max(self.checks.values(), key=_severity)

    def as_dict(self) -> dict:
        """JSON-ready: ``status``, ``worst`` (its kind), ``limits`` (kind -> check) and
        ``energy_kwh`` (linear and nonlinear sums over the horizon)."""
        return {"status": self.status, "worst": self.worst.kind,
                "limits": {k: c.as_dict() for k, c in self.checks.items()},
                "energy_kwh": dict(self.energy_kwh)}

    def describe(self) -> str:
        """One line: the worst violation, or that every limit holds and the closest one."""
        w = self.worst
        where = f"{w.element} at {w.timestep:%Y-%m-%d %H:%M}"
        if w.holds and w.violation == 0.0:
            return (f"every limit holds in the nonlinear models (closest: {w.kind} "
                    f"{where}, {w.value:.6g} against {w.limit:.6g} {w.unit})")
        verdict = "within" if w.holds else "beyond"
        return (f"{w.kind} {where}: {w.value:.6g} {w.unit} against the limit {w.limit:.6g}, "
                f"{describe_excess(w.unit, w.violation, w.violation_rel)} over, {verdict} the "
                f"tolerance {_tol(w)}")

    def __repr__(self) -> str:
        return f"Verification(status={self.status!r}, {self.describe()})"


def describe_excess(unit: str, violation: float, violation_rel: float) -> str:
    """How far beyond its limit a check lies, in words: absolute (``unit``) and relative to the
    limit; a temperature in K only (a share of 23 degC would mean nothing)."""
    if unit == "degC":
        return f"{violation:.3g} K"
    rel = f"{violation_rel:.2%}" if violation_rel >= 1e-4 else f"{violation_rel:.1e}"
    return f"{violation:.3g} {unit} ({rel})"


def _tol(check: LimitCheck) -> str:
    if check.unit in _ABSOLUTE_TOLERANCE_UNITS:
        return f"{check.tolerance:g} {_ABSOLUTE_TOLERANCE_UNITS[check.unit]}"
    return f"{check.tolerance:.1%}"


#: Units of the limits whose tolerance is absolute, and the tolerance's unit.
_ABSOLUTE_TOLERANCE_UNITS = {"p.u.": "p.u.", "degC": "K"}


def _severity(check: LimitCheck) -> tuple[float, float]:
    # Beyond the limit first, then the least margin, both as multiples of the limit's tolerance:
    # unit-free across kinds (a comfort excursion relative to 23 degC would mean nothing).
    allowed = check.tolerance if check.unit in _ABSOLUTE_TOLERANCE_UNITS \
        else check.tolerance * abs(check.limit)
    allowed = max(allowed, 1e-300)
    if check.violation > 0.0:
        return (1.0, check.violation / allowed)
    return (0.0, -abs(check.limit - check.value) / allowed)


def _check(kind: str, unit: str, values: np.ndarray, limits: np.ndarray, upper: bool,
           elements: np.ndarray, timesteps: pd.DatetimeIndex, tolerance_abs: np.ndarray,
           tolerance_report: float) -> LimitCheck:
    """Worst point of ``values`` (T, n) against ``limits`` (n,): ``upper`` for ``<=`` limits.
    Elements whose limit is infinite are skipped, and so is a lower limit of exactly 0 (the
    source's head, 0 by definition)."""
    finite = np.isfinite(limits) & (upper | (limits != 0.0))
    excess = (values - limits) if upper else (limits - values)
    excess = np.where(finite[None, :], excess, -np.inf)
    scale = np.where(finite & (limits != 0.0), np.abs(limits), 1.0)
    rel = excess / scale[None, :]
    t, e = np.unravel_index(int(np.argmax(rel)), rel.shape)
    violation = max(0.0, float(excess[t, e]))
    return LimitCheck(kind=kind, unit=unit, value=float(values[t, e]), limit=float(limits[e]),
                      violation=violation, violation_rel=violation / float(scale[e]),
                      element=str(elements[e]), timestep=timesteps[t],
                      tolerance=tolerance_report,
                      holds=violation <= float(tolerance_abs[e]) * (1.0 + 1e-12))


def comfort_excursions(buildings: Sequence[BuildingModel], thermal_kw: np.ndarray,
                       active_kw: np.ndarray, minutes: float = COMFORT_CHECK_MINUTES
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How far each building's zone leaves the band of its step, at points ``minutes`` apart
    inside every step, for the demand ``(T, n_der)`` (kW, buildings in column order).

    Returns the excursion ``(T, K+1, n_der)`` in K (positive outside the band, negative: margin
    to the nearer bound), the zone temperature there (degC) and the points' offsets from the
    step start (min, ``(K+1,)``)."""
    excursions, temperatures = [], []
    fractions = np.zeros(1)
    for k, model in enumerate(buildings):
        controls = controls_from_demand(model, thermal_kw[:, k], active_kw[:, k])
        fractions, states = simulate_within_steps(model, controls, minutes)
        zone = states[:, :, 0]  # the first state is the zone air (STATE_NAMES)
        j = model.output_index("zone_air_temperature")
        upper, lower = model.y_max[:, j, None], model.y_min[:, j, None]
        excursions.append(np.maximum(zone - upper, lower - zone))
        temperatures.append(zone)
    step_min = float(buildings[0].timestep_h * 60.0) if buildings else 0.0
    return (np.stack(excursions, axis=-1), np.stack(temperatures, axis=-1),
            fractions * step_min)


def _comfort_check(buildings: Sequence[BuildingModel], timesteps: pd.DatetimeIndex,
                   thermal_kw: np.ndarray, active_kw: np.ndarray, tolerance_k: float
                   ) -> tuple[LimitCheck, np.ndarray]:
    """The worst point of the comfort band, and the largest excursion per step (K, ``(T,)``)."""
    excursion, zone, offsets = comfort_excursions(buildings, thermal_kw, active_kw)
    t, j, k = np.unravel_index(int(np.argmax(excursion)), excursion.shape)
    model = buildings[k]
    row = model.output_index("zone_air_temperature")
    upper = zone[t, j, k] - model.y_max[t, row] >= model.y_min[t, row] - zone[t, j, k]
    limit = float(model.y_max[t, row] if upper else model.y_min[t, row])
    violation = max(0.0, float(excursion[t, j, k]))
    check = LimitCheck(kind="comfort", unit="degC", value=float(zone[t, j, k]), limit=limit,
                       violation=violation, violation_rel=violation / max(abs(limit), 1e-300),
                       element=model.name,
                       timestep=timesteps[t] + pd.Timedelta(minutes=float(offsets[j])),
                       tolerance=tolerance_k, holds=violation <= tolerance_k * (1.0 + 1e-12))
    return check, np.maximum(excursion.max(axis=(1, 2)), 0.0)


def verify_dispatch(district: DistrictData, limits: ScenarioLimits, thermal_kw: np.ndarray,
                    active_kw: np.ndarray, reactive_kvar: np.ndarray, *,
                    tolerance_rel: float = DEFAULT_TOLERANCE_REL,
                    voltage_tolerance_pu: float = DEFAULT_VOLTAGE_TOLERANCE_PU,
                    comfort_tolerance_k: float = DEFAULT_COMFORT_TOLERANCE_K,
                    thermal_step_models: Sequence[LinearThermalGridModel] | None = None,
                    electric_step_models: Sequence[LinearElectricGridModel] | None = None
                    ) -> Verification:
    """Solve the nonlinear grids at the dispatch (``(T, n_der)`` arrays: cooling kW, active kW,
    reactive kvar, demand positive) and hold it against ``limits`` (the scenario's; the linear
    models' loose defaults where it sets none). See the module doc. The "linear" columns are the
    district's linear models' values, or those of the per-step models the dispatch was planned
    on (``*_step_models``, :mod:`.successive`)."""
    shape = (district.n_timesteps, district.n_der)
    arrays = {"thermal_kw": thermal_kw, "active_kw": active_kw, "reactive_kvar": reactive_kvar}
    for name, arr in arrays.items():
        if np.shape(arr) != shape or not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be a finite (timesteps, ders) = {shape} array, got "
                             f"shape {np.shape(arr)}")
    tolerance_rel = non_negative_scalar(tolerance_rel, "tolerance_rel")
    voltage_tolerance_pu = non_negative_scalar(voltage_tolerance_pu, "voltage_tolerance_pu")
    comfort_tolerance_k = non_negative_scalar(comfort_tolerance_k, "comfort_tolerance_k")
    p_th = np.asarray(thermal_kw, dtype=float)
    p = np.asarray(active_kw, dtype=float)
    q = np.asarray(reactive_kvar, dtype=float)
    em, tm = district.electric_model, district.thermal_model
    eg, tg = district.electric_grid, district.thermal_grid
    n_t = district.n_timesteps
    electric_models = check_step_models(em, electric_step_models, n_t)
    thermal_models = check_step_models(tm, thermal_step_models, n_t)

    voltage = np.empty((n_t, eg.n_node))
    branch = np.empty((n_t, eg.n_line))
    flow = np.empty((n_t, tg.n_line))
    head = np.empty((n_t, tg.n_node))
    rows = []
    for t in range(n_t):
        ac = solve_power_flow(eg, p[t], q[t])
        hyd = solve_thermal_grid(tg, p_th[t])
        voltage[t] = ac.voltage_magnitude_pu
        branch[t] = np.maximum(np.abs(ac.branch_power_from_kva), np.abs(ac.branch_power_to_kva))
        flow[t] = hyd.branch_flow_m3_s
        head[t] = hyd.node_head_m
        loss_lin, _ = electric_models[t].predict_losses(p[t], q[t])
        pump_lin = thermal_models[t].predict_pump_power_kw(p_th[t])
        cooling = float(p_th[t].sum())
        rows.append({
            "electric_source_kw_linear": float(p[t].sum()) + loss_lin,
            "electric_source_kw_ac": float(ac.source_power_kva.real),
            "electric_losses_kw_linear": loss_lin,
            "electric_losses_kw_ac": float(ac.loss_active_kw),
            "pump_power_kw_linear": pump_lin,
            "pump_power_kw_nonlinear": hyd.pump_power_kw,
            # The plant supplies the cooling and the pump's power in cooling terms (eta_ch).
            "thermal_source_kw_linear": cooling + district.eta_ch * pump_lin,
            "thermal_source_kw_nonlinear": cooling + district.eta_ch * hyd.pump_power_kw,
            "voltage_min_pu_ac": float(voltage[t].min()),
            "branch_power_max_kva_ac": float(branch[t].max()),
            "node_head_min_m_nonlinear": float(head[t].min()),
        })
    steps = district.timesteps
    comfort, comfort_per_step = _comfort_check(district.buildings, steps, p_th, p,
                                               comfort_tolerance_k)
    for t, row in enumerate(rows):
        row["comfort_excursion_max_k"] = float(comfort_per_step[t])
    per_step = pd.DataFrame(rows, index=pd.DatetimeIndex(steps, name="timestep"))

    resolved = limits.resolved(tm, em)
    v_min = resolved["electric_voltage_min_pu"]
    s_max = resolved["electric_branch_power_max_kva"]
    f_max = resolved["thermal_branch_flow_max_m3_s"]
    h_min = resolved["thermal_node_head_min_m"]
    v_tol = np.full(eg.n_node, voltage_tolerance_pu)
    checks = {
        "voltage_min": _check("voltage_min", "p.u.", voltage, v_min, False,
                              eg.node_names, steps, v_tol, voltage_tolerance_pu),
        "voltage_max": _check("voltage_max", "p.u.", voltage,
                              np.asarray(em.voltage_max_pu, float), True, eg.node_names, steps,
                              v_tol, voltage_tolerance_pu),
        "branch_power": _check("branch_power", "kVA", branch, s_max, True,
                               eg.line_names, steps, tolerance_rel * np.abs(s_max),
                               tolerance_rel),
        "pipe_flow": _check("pipe_flow", "m3/s", flow, f_max, True,
                            tg.line_names, steps, tolerance_rel * np.abs(f_max), tolerance_rel),
        "node_head": _check("node_head", "m", head, h_min, False,
                            tg.node_names, steps, tolerance_rel * np.abs(h_min), tolerance_rel),
        "comfort": comfort,
    }
    energy = {f"{name.replace('_kw_', '_')}_kwh": float(per_step[name].sum() * district.timestep_h)
              for name in ("electric_losses_kw_linear", "electric_losses_kw_ac",
                           "pump_power_kw_linear", "pump_power_kw_nonlinear")}
    index = pd.DatetimeIndex(steps, name="timestep")
    grid = {"voltage_min": (voltage, v_min, eg.node_names),
            "branch_power": (branch, s_max, eg.line_names),
            "pipe_flow": (flow, f_max, tg.line_names),
            "node_head": (head, h_min, tg.node_names)}
    names = {kind: [str(n) for n in elements] for kind, (_, _, elements) in grid.items()}
    values = {kind: pd.DataFrame(v, index=index, columns=names[kind])
              for kind, (v, _, _) in grid.items()}
    limits_of = {kind: pd.Series(np.asarray(lim, dtype=float), index=names[kind])
                 for kind, (_, lim, _) in grid.items()}
    return Verification(checks, per_step, energy, values, limits_of)


def verify_centralized(result: CentralizedResult, **tolerances: float) -> Verification:
    """:func:`verify_dispatch` of a centralized solution, against its own scenario's limits
    (``tolerances``: ``tolerance_rel``, ``voltage_tolerance_pu``)."""
    d, problem = result.dispatch, result.problem
    return verify_dispatch(problem.district, problem.limits, d["thermal_power"],
                           d["active_power"], d["reactive_power"],
                           thermal_step_models=problem.thermal_step_models,
                           electric_step_models=problem.electric_step_models, **tolerances)


def verification_status(verifications: Mapping[str, Verification]) -> str:
    """:data:`VIOLATED` if any of ``verifications`` is, else :data:`HOLDS`."""
    return VIOLATED if any(v.status == VIOLATED for v in verifications.values()) else HOLDS


def describe_verifications(verifications: Mapping[str, Verification]) -> str:
    """One line for several verified dispatches (name -> verification): the overall status and
    the worst check among them, naming its dispatch."""
    name, worst = max(verifications.items(), key=lambda item: _severity(item[1].worst))
    return f"{verification_status(verifications)}; worst: {name} dispatch, {worst.describe()}"
