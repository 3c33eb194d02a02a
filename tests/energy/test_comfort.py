"""Comfort over the whole step: the band holds at every minute, not only at step starts.

The reference is independent of the model's discretisation: the continuous two-node model
integrated by ``solve_ivp`` (Radau) minute by minute, with the weather interpolated here from the
raw hourly file and the schedules held over each step. The default model (weather linear inside
a step, band held at points 10 min apart) is held to it; the study's model (weather held, band at
step starts) is shown to leave the band, as the verification reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import linprog

from distributed_resource_optimization.energy.buildings import (
    WEATHER_DISTURBANCES,
    BuildingModel,
    building_block,
    controls_from_demand,
    load_buildings,
    simulate_within_steps,
)
from distributed_resource_optimization.energy.centralized import (
    build_centralized,
    solve_centralized,
)
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIO_NAMES
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR, WEATHER_FILE
from distributed_resource_optimization.energy.timeseries import load_price
from distributed_resource_optimization.energy.verification import (
    DEFAULT_COMFORT_TOLERANCE_K,
    HOLDS,
    VIOLATED,
    comfort_excursions,
    verify_centralized,
)

TOLERANCE_K = 0.05  # the bound on any excursion, at 1-minute resolution
ZONE = 0


def raw_weather() -> tuple[np.ndarray, np.ndarray]:
    """The weather file: seconds after 2017-01-02 00:00 and the columns of
    ``WEATHER_DISTURBANCES`` ``(n_records, 7)``, read here with pandas."""
    table = pd.read_csv(DEFAULT_DATA_DIR / WEATHER_FILE)
    seconds = (pd.to_datetime(table["time"]) - pd.Timestamp("2017-01-02")).dt.total_seconds()
    return seconds.to_numpy(), table[list(WEATHER_DISTURBANCES)].to_numpy(float)


def integrate_every_minute(model: BuildingModel, controls: np.ndarray) -> np.ndarray:
    """Zone and mass temperature at every minute of the horizon ``(T * step_min + 1, 2)``: the
    continuous model, controls and schedules held per step, weather from the raw file."""
    step_min = int(round(model.timestep_h * 60))
    columns = [model.disturbance_names.index(n) for n in WEATHER_DISTURBANCES]
    seconds, records = raw_weather()

    def rate(t_s: float, x: np.ndarray, step: int) -> np.ndarray:
        d = model.d[step].copy()
        d[columns] = [np.interp(t_s, seconds, records[:, i]) for i in range(len(columns))]
        return (model.A_continuous @ x + model.B_c_continuous @ controls[step]
                + model.B_d_continuous @ d)

    states = [model.x0.copy()]
    x = model.x0.copy()
    for t in range(model.n_timesteps):
        grid = t * step_min * 60.0 + 60.0 * np.arange(step_min + 1)
        sol = solve_ivp(rate, (grid[0], grid[-1]), x, t_eval=grid, method="Radau", args=(t,),
                        rtol=1e-10, atol=1e-8, jac=lambda *_: model.A_continuous)
        states.extend(sol.y.T[1:])
        x = sol.y[:, -1]
    return np.array(states)


def band_every_minute(model: BuildingModel) -> tuple[np.ndarray, np.ndarray]:
    """The band of each minute's step; a step's end belongs to the step (its band holds there)."""
    step_min = int(round(model.timestep_h * 60))
    j = model.output_index("zone_air_temperature")
    steps = np.r_[0, np.repeat(np.arange(model.n_timesteps), step_min)]
    return model.y_min[steps, j], model.y_max[steps, j]


def min_cost(model: BuildingModel, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The building's own cheapest operation (district cooling at price / 10): controls and
    states ``(T, n)`` of its LP block, inequality rows included."""
    block = building_block(model, model.timestep_h)
    cost = np.zeros(block.n)
    cost[block.variables["p_th"]] = price * model.timestep_h / 10.0
    cost[block.variables["p"]] = price * model.timestep_h
    res = linprog(cost, A_ub=block.A_ub, b_ub=block.b_ub, A_eq=block.A_eq, b_eq=block.b_eq,
                  bounds=np.c_[block.lb, block.ub], method="highs")
    assert res.status == 0, res.message
    n_t = model.n_timesteps
    return (res.x[block.variables["c"]].reshape(n_t, -1),
            res.x[block.variables["x"]].reshape(n_t, -1))


@pytest.mark.slow
@pytest.mark.parametrize("resolution", ["30min", "60min"])
def test_band_holds_every_minute_against_the_raw_weather(resolution: str) -> None:
    """Two buildings' cheapest operation, integrated every minute from the raw weather file:
    the LP's states at the step starts match (the weather-linear discretisation is exact) and
    the zone never leaves the band by more than 0.05 K; the model's own in-step solution
    (:func:`simulate_within_steps`) is the same trajectory."""
    models = load_buildings(resolution=resolution, ders=["1", "12"])
    price = load_price(resolution=resolution).to_numpy()
    step_min = int(round(models[0].timestep_h * 60))
    for model in models:
        assert model.interpolated_disturbances == WEATHER_DISTURBANCES
        assert len(model.comfort_fractions) == step_min // 10
        controls, states = min_cost(model, price)
        reference = integrate_every_minute(model, controls)
        np.testing.assert_allclose(reference[::step_min][:-1], states, atol=1e-5)
        low, high = band_every_minute(model)
        zone = reference[:, ZONE]
        excursion = np.maximum(zone - high, low - zone)
        assert excursion.max() <= TOLERANCE_K, (model.name, excursion.max())
        # The band is active: the zone sits within 0.05 K of its upper bound for over an hour.
        assert (np.abs(zone - high) < TOLERANCE_K).sum() > 60
        fractions, inside = simulate_within_steps(model, controls, minutes=1.0)
        assert fractions.size == step_min + 1
        ours = np.r_[inside[0, 0, ZONE], inside[:, 1:, ZONE].ravel()]
        np.testing.assert_allclose(ours, zone, atol=1e-5)


@pytest.mark.slow
def test_study_model_leaves_the_band_inside_steps() -> None:
    """The study's model (weather held, band at step starts) is cheaper because the zone warms
    between two step starts: stopping the cooling for the last occupied half hour, building 12
    reaches 26.5 degC or more by 19:00, which the raw-weather integration and the verification's
    comfort check both see."""
    (model,) = load_buildings(ders=["12"], comfort="step-start")
    assert model.comfort_fractions == () and model.interpolated_disturbances == ()
    controls, _ = min_cost(model, load_price().to_numpy())
    zone = integrate_every_minute(model, controls)[:, ZONE]
    low, high = band_every_minute(model)
    excursion = np.maximum(zone - high, low - zone)
    assert excursion.max() > 1.0
    assert 19 * 60 - 30 <= int(np.argmax(excursion)) <= 19 * 60


def test_controls_follow_from_the_demand() -> None:
    """A dispatch says what a building draws; the two demands fix its two controls."""
    (model,) = load_buildings(ders=["5"])
    controls, _ = min_cost(model, load_price().to_numpy())
    d = model.d
    th = model.output_index("thermal_power_demand")
    ac = model.output_index("active_power_demand")
    p_th = controls @ model.D_c[th] + d @ model.D_d[th]
    p = controls @ model.D_c[ac] + d @ model.D_d[ac]
    np.testing.assert_allclose(controls_from_demand(model, p_th, p), controls, atol=1e-9)
    with pytest.raises(ValueError, match="thermal_kw and active_kw"):
        controls_from_demand(model, p_th[:-1], p[:-1])


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_every_scenario_holds_comfort_every_minute(district, scenario: str) -> None:
    """Every scenario's centralized dispatch (60-min steps) keeps each of the 22 zones within
    0.05 K of its band at every minute, and the verification says so."""
    result = solve_centralized(build_centralized(district, scenario))
    excursion, _, offsets = comfort_excursions(
        district.buildings, result.dispatch["thermal_power"], result.dispatch["active_power"])
    assert offsets.size == 61 and excursion.max() <= TOLERANCE_K
    verification = verify_centralized(result)
    check = verification.checks["comfort"]
    assert check.holds and check.violation == pytest.approx(max(excursion.max(), 0.0))
    # Everything holds, but thermal-head's head limit under the single linearisation
    assert verification.status == HOLDS or scenario == "thermal-head"
    assert check.tolerance == DEFAULT_COMFORT_TOLERANCE_K


@pytest.mark.slow
def test_verification_flags_the_study_model() -> None:
    """The same check on the study's model: the dispatch leaves the band, the run is violated."""
    district = load_district(resolution="60min", comfort="step-start")
    result = solve_centralized(build_centralized(district, "unconstrained"))
    verification = verify_centralized(result)
    check = verification.checks["comfort"]
    assert not check.holds and check.violation > 1.0
    assert verification.status == VIOLATED and verification.worst.kind == "comfort"
    assert "comfort" in verification.describe() and "K" in verification.describe()
