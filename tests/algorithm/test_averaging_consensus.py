"""Averaging consensus and economic dispatch by incremental-cost consensus.

* The reference package's consensus tests (same scenarios, same assertions; run synchronously
  with ``asyncio.run`` as there is no pytest-asyncio), plus the numbers its scheduling gives.
* Economic dispatch against an independent reference: the centralised QP
  ``min sum c_i P_i + eps_i/2 P_i^2  s.t.  sum P_i = demand, p_min <= P <= p_max`` solved by
  Clarabel through cvxpy; its clearing price is the balance constraint's dual. The exact rule
  (``tracking=True``) must match the price within 1e-4 relative and the dispatch within 1e-4 of
  each unit's capacity (measured: about 1e-9). The reference's gradient rule balances supply and
  demand but is biased for unequal costs (measured 3-17 % of capacity at its defaults), which a
  test pins down.
"""

from __future__ import annotations

import asyncio

import cvxpy as cp
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributed_resource_optimization.algorithm.consensus import (
    AveragingConsensusAlgorithm,
    AveragingConsensusMessage,
    ConsensusActor,
    ConsensusFinishedMessage,
    LinearCostEconomicDispatchConsensusActor,
    NoConsensusActor,
    create_averaging_consensus_participant,
    create_averaging_consensus_start,
)
from distributed_resource_optimization.runtime.engine import ParticipantError
from distributed_resource_optimization.runtime.run import (
    run_distributed_optimization,
    start_distributed_optimization,
)

# Tolerances the issue asks for (price: relative; dispatch: fraction of each unit's p_max).
PRICE_RTOL = 1e-4
DISPATCH_TOL = 1e-4
# Exact-rule settings that reach them on every topology tested (measured in the doc page).
EXACT = {"alpha": 0.5, "tracking": True, "tol": 1e-9}
RHO = 0.05


# ---------------------------------------------------------------------------------------------
# Independent reference: the centralised economic dispatch QP
# ---------------------------------------------------------------------------------------------


def centralized_dispatch(cost, eps, p_min, p_max, demand) -> tuple[np.ndarray, float]:
    """Dispatch and clearing price of ``min sum c P + eps/2 P^2`` s.t. balance and bounds."""
    P = cp.Variable(len(cost))
    balance = cp.sum(P) == demand
    prob = cp.Problem(cp.Minimize(cost @ P + cp.sum(cp.multiply(eps / 2, cp.square(P)))),
                      [balance, P >= p_min, P <= p_max])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)
    assert prob.status == cp.OPTIMAL
    # cvxpy's dual of ``sum P == D`` is minus the price (d cost / d demand).
    return np.asarray(P.value), -float(balance.dual_value)


def random_units(seed: int, n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(5.0, 30.0, n)
    eps = rng.uniform(0.05, 0.5, n)
    p_max = rng.uniform(20.0, 100.0, n)
    p_min = rng.uniform(0.0, 0.2, n) * p_max
    demand = p_min.sum() + rng.uniform(0.2, 0.8) * (p_max.sum() - p_min.sum())
    return cost, eps, p_min, p_max, demand


def dispatch_participants(cost, eps, p_min, p_max, *, rho=RHO, max_iter=4000, patience=None,
                          finish=None, **kw) -> list[AveragingConsensusAlgorithm]:
    n = len(cost)
    return [create_averaging_consensus_participant(
        finish or (lambda *_: None),
        LinearCostEconomicDispatchConsensusActor(cost=float(cost[i]), p_max=float(p_max[i]),
                                                 rho=rho, epsilon=float(eps[i]),
                                                 p_min=float(p_min[i]), n_guess=n),
        initial_lam=20.0, max_iter=max_iter, patience=patience or 2 * n, **kw)
        for i in range(n)]


def assert_matches_centralized(actors, cost, eps, p_min, p_max, demand) -> None:
    P_star, lam_star = centralized_dispatch(cost, eps, p_min, p_max, demand)
    lam = np.array([a._lam[0] for a in actors])
    P = np.array([a.actor.P[0] for a in actors])
    assert np.all(np.abs(lam - lam_star) <= PRICE_RTOL * abs(lam_star)), (lam, lam_star)
    assert np.all(np.abs(P - P_star) <= DISPATCH_TOL * p_max), (P, P_star)


# ---------------------------------------------------------------------------------------------
# The reference's tests (tests/consensus/*.py), same scenarios and assertions
# ---------------------------------------------------------------------------------------------


def test_averaging_consensus_converges():
    """All participants should reach the same λ value after consensus."""
    results: list = []

    def finish(algo, carrier):
        results.append(algo._lam.copy())

    actors = [create_averaging_consensus_participant(finish, initial_lam=v, max_iter=30)
              for v in [1.0, 5.0, 10.0]]
    start = create_averaging_consensus_start(1.0, data=None)
    asyncio.run(start_distributed_optimization(actors, start))

    assert len(results) > 0
    for r in results[1:]:
        assert np.allclose(results[0], r, atol=0.5)
    # The reference's scheduling (the start message counts as a round-0 value) gives 4.8833.
    assert len(results) == 3
    assert np.allclose(results, 4.8833, atol=1e-4)


class TestGradientTerm:
    """Unit tests for the gradient_term method (the reference's, unchanged)."""

    def _actor(self, cost=10.0, p_max=30.0, rho=0.05, epsilon=0.1, p_min=0.0, n_guess=3):
        return LinearCostEconomicDispatchConsensusActor(
            cost=cost, p_max=p_max, rho=rho, epsilon=epsilon, p_min=p_min, n_guess=n_guess)

    def test_below_cost_clips_to_p_min(self):
        actor = self._actor(cost=10.0, p_max=30.0, rho=0.05, epsilon=0.1, n_guess=3)
        grad = actor.gradient_term(np.array([5.0]), np.array([30.0]))
        assert np.allclose(grad, [0.5])

    def test_above_max_clips_to_p_max(self):
        actor = self._actor(cost=10.0, p_max=5.0, rho=0.05, epsilon=0.1, n_guess=3)
        grad = actor.gradient_term(np.array([100.0]), np.array([30.0]))
        assert np.allclose(grad, [0.25])

    def test_at_clearing_price_zero_gradient(self):
        actor = self._actor(cost=10.0, p_max=30.0, rho=0.05, epsilon=0.1, n_guess=3)
        grad = actor.gradient_term(np.array([11.0]), np.array([30.0]))
        assert np.allclose(grad, [0.0], atol=1e-10)

    def test_updates_internal_p(self):
        actor = self._actor(cost=10.0, p_max=20.0, epsilon=0.1, n_guess=1)
        actor.gradient_term(np.array([11.0]), np.array([5.0]))
        assert np.allclose(actor.P, [10.0])

    def test_vectorised_lam(self):
        actor = self._actor(cost=10.0, p_max=30.0, rho=0.05, epsilon=0.1, n_guess=2)
        grad = actor.gradient_term(np.array([11.0, 12.0]), np.array([20.0, 40.0]))
        assert np.allclose(grad, [0.0, 0.0], atol=1e-10)

    def test_none_p_target_treated_as_zero(self):
        actor = self._actor(cost=10.0, p_max=30.0, rho=0.05, epsilon=0.1, n_guess=1)
        grad = actor.gradient_term(np.array([11.0]), None)
        assert np.allclose(grad, [-0.5])


def _sc_actors(on_finish):
    return [create_averaging_consensus_participant(
        f, LinearCostEconomicDispatchConsensusActor(cost=10, p_max=100, n_guess=3), max_iter=100)
        for f in (on_finish, lambda *_: None, lambda *_: None)]


def test_averaging_consensus_with_simple_carrier():
    """Equal-cost dispatch actors agree (reference test) on the clearing price
    cost + eps * p_target / 3, which they can reach without clipping."""
    finished = [False]

    def on_finish(algo, carrier):
        finished[0] = True

    actor_one, actor_two, actor_three = _sc_actors(on_finish)
    p_target = [10, 30, 40, 45, 60, 10]
    initial_message = AveragingConsensusMessage(lam=np.ones(len(p_target)) * 10, k=0,
                                                data=p_target)
    asyncio.run(start_distributed_optimization([actor_one, actor_two, actor_three],
                                               initial_message))

    assert finished[0]
    assert np.allclose(actor_one._lam, actor_two._lam, atol=1e-3)
    assert np.allclose(actor_one._lam, actor_three._lam, atol=1e-3)
    # The reference's numbers: λ = 10 + 0.1 * p_target / 3.
    assert np.allclose(actor_one._lam, 10 + 0.1 * np.array(p_target) / 3, atol=1e-3)


def test_docs_examples_run():
    """The reference docs' examples: plain averaging, a custom actor, dispatch (6 steps)."""
    results = {}

    def on_finish(algo, carrier):
        results[id(algo)] = algo._lam.copy()

    actors = [create_averaging_consensus_participant(on_finish, initial_lam=v, max_iter=50)
              for v in [1.0, 5.0, 10.0]]
    run_distributed_optimization(actors, create_averaging_consensus_start(1.0, data=None))
    assert len(results) == 3
    assert np.ptp([a._lam[0] for a in actors]) < 1e-6

    class PushToTarget(ConsensusActor):
        def __init__(self, target, step=0.05):
            self.target = np.asarray(target)
            self.step = step

        def gradient_term(self, lam, data):
            return self.step * (self.target - lam)

    pushed = [create_averaging_consensus_participant(lambda *_: None, PushToTarget(7.0),
                                                     max_iter=300) for _ in range(3)]
    run_distributed_optimization(pushed, create_averaging_consensus_start(1.0))
    assert np.allclose([a._lam[0] for a in pushed], 7.0, atol=1e-4)

    p_target = [10, 30, 40, 45, 60, 10]
    dispatch = [create_averaging_consensus_participant(
        lambda *_: None, LinearCostEconomicDispatchConsensusActor(cost=c, p_max=pm, n_guess=3),
        max_iter=100) for c, pm in [(10, 100), (12, 80), (15, 60)]]
    res = run_distributed_optimization(dispatch, AveragingConsensusMessage(
        lam=np.ones(len(p_target)) * 10, k=0, data=p_target))
    assert all(s["lam"].shape == (6,) and s["P"].shape == (6,) for s in res.solutions)


def test_finished_message_type_exists():
    msg = ConsensusFinishedMessage(lam=np.array([1.0]), k=3, actor=NoConsensusActor())
    assert msg.k == 3 and isinstance(msg.actor, ConsensusActor)


# ---------------------------------------------------------------------------------------------
# Economic dispatch against the centralised QP
# ---------------------------------------------------------------------------------------------


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 5))
def test_tracking_dispatch_matches_centralized_qp(seed, n):
    """Exact (gradient-tracking) consensus: price within 1e-4 relative, dispatch within
    1e-4 of capacity, for random units with unequal costs, curvatures and bounds."""
    cost, eps, p_min, p_max, demand = random_units(seed, n)
    actors = dispatch_participants(cost, eps, p_min, p_max, **EXACT)
    res = run_distributed_optimization(actors, create_averaging_consensus_start(20.0, demand))
    assert res.converged
    assert_matches_centralized(actors, cost, eps, p_min, p_max, demand)


def test_tracking_dispatch_multi_period():
    """A 6-step demand profile: every step matches its own centralised QP."""
    cost, eps, p_min, p_max, _ = random_units(11, 4)
    demand = np.array([60.0, 90.0, 120.0, 150.0, 110.0, 70.0])
    actors = dispatch_participants(cost, eps, p_min, p_max, **EXACT)
    run_distributed_optimization(actors, create_averaging_consensus_start(20.0, demand))
    for t, d in enumerate(demand):
        P_star, lam_star = centralized_dispatch(cost, eps, p_min, p_max, d)
        lam = np.array([a._lam[t] for a in actors])
        P = np.array([a.actor.P[t] for a in actors])
        assert np.all(np.abs(lam - lam_star) <= PRICE_RTOL * abs(lam_star))
        assert np.all(np.abs(P - P_star) <= DISPATCH_TOL * p_max)


def test_gradient_rule_balances_but_is_biased():
    """The reference's rule (tracking=False) ends balanced (sum P = demand) but away from the
    optimum for unequal costs: its constant step leaves lam_i apart (measured, defaults:
    dispatch 5-17 % of capacity off). Equal costs are exact (the reference's own test)."""
    cost, eps, p_min, p_max, demand = random_units(0, 5)
    actors = dispatch_participants(cost, eps, p_min, p_max, max_iter=5000, tol=1e-10)
    run_distributed_optimization(actors, create_averaging_consensus_start(20.0, demand))
    P = np.array([a.actor.P[0] for a in actors])
    P_star, _ = centralized_dispatch(cost, eps, p_min, p_max, demand)
    assert abs(P.sum() - demand) < 1e-6
    assert np.max(np.abs(P - P_star) / p_max) > 1e-2


def test_topologies_agree():
    """Complete graph, ring and a sparse networkx graph give the same dispatch (1e-6 MW)."""
    n = 6
    cost, eps, p_min, p_max, demand = random_units(5, n)
    graphs = [None, "ring", nx.path_graph(n),
              nx.connected_watts_strogatz_graph(n, 3, 0.5, seed=2)]
    outcomes = []
    for topology in graphs:
        actors = dispatch_participants(cost, eps, p_min, p_max, **EXACT)
        res = run_distributed_optimization(actors, create_averaging_consensus_start(20.0, demand),
                                           topology=topology)
        assert res.converged, topology
        assert_matches_centralized(actors, cost, eps, p_min, p_max, demand)
        outcomes.append(np.array([s["P"][0] for s in res.solutions]))
    for P in outcomes[1:]:
        assert np.allclose(P, outcomes[0], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Termination and reporting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tracking", [False, True])
@pytest.mark.parametrize("topology", ["ring", "path"])
def test_every_callback_fires_once(tracking, topology):
    n = 5
    calls: list[int] = []
    graph = nx.path_graph(n) if topology == "path" else topology
    actors = [create_averaging_consensus_participant(
        lambda algo, carrier: calls.append(carrier.get_address()), initial_lam=float(i),
        max_iter=40, tracking=tracking) for i in range(n)]
    run_distributed_optimization(actors, create_averaging_consensus_start(0.0), topology=graph)
    assert sorted(calls) == list(range(1, n + 1))
    # The exact rule runs synchronous rounds. The reference rule counts the start message as
    # a round-0 value and advances on a later round's message, so on a path its participants
    # may end a round or two apart (as the reference's would).
    rounds = [a._k for a in actors]
    assert rounds == [40] * n if tracking else 38 <= min(rounds) <= max(rounds) <= 40


def test_converged_flag_and_solution():
    cost, eps, p_min, p_max, demand = random_units(3, 3)
    short = dispatch_participants(cost, eps, p_min, p_max, max_iter=5, **EXACT)
    res = run_distributed_optimization(short, create_averaging_consensus_start(20.0, demand))
    assert not res.converged and all(a.converged is False for a in short)
    sol = res.solutions[0]
    assert set(sol) == {"lam", "P", "iterations", "residual", "converged"}
    assert sol["iterations"] == 5 and sol["residual"] > 1e-9

    # patience stops early, long before max_iter, and reports convergence.
    early = dispatch_participants(cost, eps, p_min, p_max, max_iter=4000, **EXACT)
    res = run_distributed_optimization(early, create_averaging_consensus_start(20.0, demand))
    assert res.converged and all(a.converged for a in early)
    assert max(a._k for a in early) < 4000


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors naming the parameter, before the run
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"p_max": -1.0}, "p_max must not be negative"),
    ({"p_min": 50.0, "p_max": 40.0}, "p_min must not exceed p_max"),
    ({"p_min": -1.0}, "p_min must not be negative"),
    ({"epsilon": 0.0}, "epsilon must be positive"),
    ({"rho": -0.1}, "rho must be positive"),
    ({"n_guess": 0}, "n_guess must be an integer >= 1"),
    ({"cost": float("nan")}, "cost must be finite"),
    ({"p_min": [0.0, 0.0], "p_max": [1.0, 2.0, 3.0]}, "p_min has 2 time steps but p_max has 3"),
])
def test_bad_actor_parameters(kwargs, match):
    args = {"cost": 10.0, "p_max": 40.0} | kwargs
    with pytest.raises(ValueError, match=match):
        LinearCostEconomicDispatchConsensusActor(**args)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"alpha": 0.0}, "alpha must be positive"),
    ({"alpha": 1.5}, "alpha must be at most 1"),
    ({"max_iter": 0}, "max_iter must be an integer >= 1"),
    ({"initial_lam": float("inf")}, "initial_lam must be finite"),
    ({"tol": -1.0}, "tol must be non-negative"),
    ({"patience": 0}, "patience must be an integer >= 1"),
])
def test_bad_participant_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_averaging_consensus_participant(lambda *_: None, **kwargs)
    with pytest.raises(TypeError, match="finish_callback must be callable"):
        create_averaging_consensus_participant(None)


def test_bad_start_and_horizon_mismatch():
    with pytest.raises(ValueError, match="data must be finite"):
        create_averaging_consensus_start(10.0, data=[1.0, float("nan")])
    # A start message built by hand with a lam of 4 steps and data of 6: the first
    # participant rejects it, and the run reports which one.
    actors = [create_averaging_consensus_participant(lambda *_: None) for _ in range(2)]
    bad = AveragingConsensusMessage(lam=np.ones(4), k=0, data=np.ones(6))
    with pytest.raises(ParticipantError, match="horizon mismatch"):
        run_distributed_optimization(actors, bad)
    # An actor planning 3 steps in a 6-step run.
    actors = [create_averaging_consensus_participant(
        lambda *_: None, LinearCostEconomicDispatchConsensusActor(cost=1.0, p_max=[1, 2, 3]))
        for _ in range(2)]
    with pytest.raises(ParticipantError, match="p_max shape"):
        run_distributed_optimization(actors, create_averaging_consensus_start(1.0, np.ones(6)))


def test_wrong_message_type_is_rejected():
    actors = [create_averaging_consensus_participant(lambda *_: None) for _ in range(2)]
    with pytest.raises(ParticipantError, match="expected an AveragingConsensusMessage"):
        run_distributed_optimization(actors, {"lam": [1.0]})


class _Mute:
    """A carrier stub with two neighbours that swallows what is sent."""

    def others(self, _):
        return [2, 3]

    def send_to_other(self, content, receiver, meta=None):
        pass


@pytest.mark.parametrize("tracking", [False, True])
def test_participants_can_be_reused_and_ignore_stragglers(tracking):
    cost, eps, p_min, p_max, demand = random_units(7, 3)
    actors = dispatch_participants(cost, eps, p_min, p_max, max_iter=300, tracking=tracking,
                                   alpha=0.5, tol=1e-9)
    first = run_distributed_optimization(actors, create_averaging_consensus_start(20.0, demand))
    again = run_distributed_optimization(actors, create_averaging_consensus_start(20.0, demand))
    for a, b in zip(first.solutions, again.solutions):
        assert np.array_equal(a["lam"], b["lam"]) and a["iterations"] == b["iterations"]

    # A straggler of the finished run does not restart a participant; a new start does.
    calls = []
    algo = AveragingConsensusAlgorithm(lambda a, c: calls.append(a._k), max_iter=1,
                                       tracking=tracking)
    carrier = _Mute()
    asyncio.run(algo.on_exchange_message(carrier, create_averaging_consensus_start(1.0), {}))
    run = algo._run
    end = AveragingConsensusMessage(lam=np.ones(1), k=1, data=None, final=True, run=run)
    asyncio.run(algo.on_exchange_message(carrier, end, {}))
    assert calls == [0] and algo.converged is not None
    late = AveragingConsensusMessage(lam=np.ones(1), k=0, data=None, tracker=np.zeros(1),
                                     degree=2, run=run)
    asyncio.run(algo.on_exchange_message(carrier, late, {}))
    assert algo._first_message and algo._run == run
    asyncio.run(algo.on_exchange_message(carrier, create_averaging_consensus_start(1.0), {}))
    assert not algo._first_message and algo._run != run
