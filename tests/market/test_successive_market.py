"""The market clearing with successive linearisation (market/clearing.py
``clear_market_successively``): each grid operator re-linearises its own model at its own
cleared copy of the demand between clearings. Reference: the centralized solve with successive
linearisation (energy/successive.py) and the nonlinear grids (the verification)."""

from __future__ import annotations

import numpy as np
import pytest

from distributed_resource_optimization.energy.centralized import (
    build_centralized,
    solve_centralized,
)
from distributed_resource_optimization.energy.district import load_district
from distributed_resource_optimization.energy.successive import solve_successively, step_models
from distributed_resource_optimization.energy.verification import HOLDS
from distributed_resource_optimization.market.clearing import (
    clear_market_successively,
    compare_with_centralized,
)
from distributed_resource_optimization.market.names import (
    ELECTRIC_GRID_OPERATOR as ELECTRIC,
)
from distributed_resource_optimization.market.names import (
    THERMAL_GRID_OPERATOR as THERMAL,
)


@pytest.fixture(scope="module")
def district():
    return load_district(resolution="60min")


@pytest.mark.slow
def test_the_market_meets_the_head_limit_and_equals_the_centralized_solve(district):
    """thermal-head at 60 min: the first clearing is the study's (13 % beyond the head limit);
    after the grid operators re-linearise, the cleared dispatch holds the limit in the
    hydraulics and the market equals the centralized solve of the linearisation it ended with in
    the objective (1e-4, the issue's tolerance; measured 7e-6), and the successively linearised
    centralized solve too. Prices: the issue asks 1e-4 S$/kWh; the default stop (the study's
    residual rule) leaves the thermal prices of one step up to 4.4e-4 S$/kWh from the LP's (17:00;
    the LP's price is unique there: the same slope for +-1 kW at FL 4), all others within 1e-4:
    stopping on the prices is issue 26's part 4."""
    market = clear_market_successively(district, "thermal-head")
    central = solve_successively(district, "thermal-head")
    assert market.converged and 3 <= len(market.rounds) <= 6
    assert market.rounds[0].status == "violated" and market.rounds[0].worst_violation_rel > 0.12
    assert market.verification.status == HOLDS
    assert all(r.iterations >= 1 for r in market.rounds)
    # Warm-started from the clearing before, the later clearings are short.
    assert market.rounds[-1].iterations < market.rounds[0].iterations
    assert compare_with_centralized(market.market, central.result)["objective_gap_rel"] < 1e-4
    # The last clearing's LP: each grid at the demand its operator cleared in the clearing
    # before (what the operators re-linearised at), solved centralized.
    before = market.clearings[-2].dispatch
    thermal, electric = step_models(district, before[THERMAL]["thermal_power"],
                                    before[ELECTRIC]["active_power"],
                                    before[ELECTRIC]["reactive_power"])
    same = solve_centralized(build_centralized(district, "thermal-head",
                                               thermal_step_models=thermal,
                                               electric_step_models=electric))
    comparison = compare_with_centralized(market.market, same)
    assert comparison["objective_gap_rel"] < 1e-4
    assert comparison["max_price_deviation"] < 1e-3
    for q, price in same.prices.items():
        apart = np.abs(market.market.prices["aggregator"][q] - price) > 1e-4
        assert apart.any(axis=1).sum() <= 1, (q, np.argwhere(apart))  # at most one step
    head = market.verification.checks["node_head"]
    assert head.element == "15" and head.violation_rel < 1e-3
    np.testing.assert_allclose(market.rounds[-1].objective, market.market.objective)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_grid_operators_in_agent_processes_re_linearise_their_own_models(district):
    """The same successive clearing with every entity in an agent process of its own (one
    process per entity, serving every clearing; each grid operator re-linearises at its own
    cleared demand when the coordinator's setup asks): the same rounds and result as in
    process. Two clearings show it (thermal-congestion: the second one moved by the operators'
    new losses, so a re-linearisation that did not happen would show); the rounds to the end are
    the in-process tests'."""
    inproc = clear_market_successively(district, "thermal-congestion", max_rounds=2)
    tcp = clear_market_successively(district, "thermal-congestion", runtime="tcp", max_rounds=2)
    assert [r.iterations for r in tcp.rounds] == [r.iterations for r in inproc.rounds]
    assert tcp.verification.status == HOLDS and len(tcp.rounds) == 2
    assert tcp.rounds[1].objective > tcp.rounds[0].objective + 1.0  # the AC losses, priced
    assert tcp.market.agent_processes == 3
    np.testing.assert_allclose([r.objective for r in tcp.rounds],
                               [r.objective for r in inproc.rounds], rtol=1e-9)
    for q, arr in inproc.market.prices["aggregator"].items():
        np.testing.assert_allclose(tcp.market.prices["aggregator"][q], arr, rtol=1e-9,
                                   atol=1e-12)


def test_bad_round_limit_is_refused_and_an_unfinished_clearing_ends_the_rounds(district):
    with pytest.raises(ValueError, match="max_rounds"):
        clear_market_successively(district, "thermal-head", max_rounds=0)
    cut = clear_market_successively(district, "thermal-head", max_iters=5)
    assert len(cut.rounds) == 1 and not cut.converged and not cut.market.converged
    assert cut.rounds[0].iterations == 5
