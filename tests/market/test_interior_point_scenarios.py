"""The distributed interior-point clearing against the centralized solution of eq. (1) (HiGHS,
DLMPs from the LP's duals) on every scenario of the catalogue, at 60 min, three entities, in
process; unconstrained runs through the command with agent processes over TCP instead
(``test_interior_point_market.py``).

Tolerances: objective within 1e-7 (relative), prices within 1e-5 S$/kWh of the centralized
DLMPs at every DER, step and quantity (``benchmarks/market_clearings.py`` measured at most
1.8e-7 with these settings, at voltage); the certified gap at least the true gap less 2e-8 (the
bound's dual terms and the centralized optimum both come from HiGHS, each accurate to about
1e-8 of the objective: measured -4.4e-9 certified against 6.7e-9 true at electric-congestion)
and at most 1e-6.
"""

from __future__ import annotations

import pytest

from distributed_resource_optimization.energy.centralized import solve_district
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.scenarios import SCENARIOS
from distributed_resource_optimization.market.clearing import (
    compare_with_centralized,
    run_market_clearing,
)

#: Cleared through the command over TCP in ``test_interior_point_market.py``.
_OVER_TCP = "unconstrained"


@pytest.fixture(scope="module")
def district():
    return load_district(resolution="60min")


@pytest.mark.slow
@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != _OVER_TCP])
def test_clears_every_scenario_at_the_centralized_optimum_and_its_prices(district, scenario):
    central = solve_district(district, scenario)
    market = run_market_clearing(district, scenario, clearing="interior-point")
    assert market.converged and market.clearing == "interior-point"
    assert market.iterations == 3 * market.newton_iterations + 1  # rounds of messages
    cmp = compare_with_centralized(market, central)
    assert cmp["objective_gap_rel"] <= 1e-7
    assert cmp["max_price_deviation"] <= 1e-5
    gap = market.admm.gap_certified
    assert cmp["objective_gap_rel"] - 2e-8 <= gap <= 1e-6
    # The entities agree on what they exchange (kW / kvar summed over the day).
    for residual in market.residuals.values():
        assert residual[-1] <= 1e-3
