"""Diffusion (adapt-then-combine), exact diffusion, and dispatch of generators and storages.

* The reference package's diffusion tests (``tests/diffusion/test_diffusion.py``: same
  scenarios and assertions, run with ``asyncio.run``) plus the numbers its scheduling gives.
* Multi-period dispatch (24 steps) of quadratic-cost generators and reservoir storages against
  an independent reference: the whole problem as one cvxpy QP solved by Clarabel; prices are the
  balance constraints' duals. Stated tolerances: prices within 1e-6 relative, dispatch within
  1e-6 of each unit's power rating (measured: 2e-9 and 1e-7); storage energy within its bounds
  at every step (1e-7 MWh) and at its terminal target.
* Each storage's local schedule against its own cvxpy QP.
* Topologies: diffusion on a complete graph and exact diffusion on complete, ring and sparse
  networkx graphs give the same answer; plain diffusion on a ring is biased (pinned down).
"""

from __future__ import annotations

import asyncio

import cvxpy as cp
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distributed_resource_optimization.algorithm.diffusion import (
    DiffusionActor,
    DiffusionMessage,
    ExactDiffusionAlgorithm,
    LinearCostEconomicDispatchDiffusionActor,
    NoDiffusionActor,
    ReservoirStorageDiffusionActor,
    create_diffusion_participant,
    create_diffusion_start,
    create_exact_diffusion_participant,
    create_exact_diffusion_start,
)
from distributed_resource_optimization.runtime.engine import ParticipantError
from distributed_resource_optimization.runtime.run import (
    run_distributed_optimization,
    start_distributed_optimization,
)

PRICE_RTOL = 1e-6
DISPATCH_TOL = 1e-6
ENERGY_TOL = 1e-7
HORIZON = 24
# Clarabel's 1e-10 default-ish tolerances left 2e-5 errors in the centralised dispatch (found
# against a polished OSQP solve); 1e-12 agrees with that to 1e-9.
REFERENCE_SOLVER = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12, "max_iter": 500}


# ---------------------------------------------------------------------------------------------
# Independent reference: the centralised multi-period dispatch
# ---------------------------------------------------------------------------------------------


def random_system(seed: int, n_gen: int = 4, n_storage: int = 2, horizon: int = HORIZON):
    """Generators (cost c P + eps/2 P^2, 0 <= P <= p_max), storages and a daily demand."""
    rng = np.random.default_rng(seed)
    gens = [{"cost": rng.uniform(5, 30), "epsilon": rng.uniform(0.05, 0.3),
             "p_max": rng.uniform(20, 60)} for _ in range(n_gen)]
    storages = [{"e_max": rng.uniform(20, 60), "p_charge_max": rng.uniform(5, 15),
                 "p_discharge_max": rng.uniform(5, 15), "eta_charge": rng.uniform(0.85, 1.0),
                 "eta_discharge": rng.uniform(0.85, 1.0), "e_initial": rng.uniform(0.3, 0.7),
                 "e_final": rng.uniform(0.3, 0.7), "soc_min": 0.1, "soc_max": 0.9,
                 "discharge_cost": rng.uniform(0, 2), "epsilon": rng.uniform(0.05, 0.3)}
                for _ in range(n_storage)]
    for s in storages:  # keep the terminal energy reachable, so the reference QP is feasible
        reach = 0.8 * horizon * min(s["p_charge_max"], s["p_discharge_max"]) / s["e_max"]
        s["e_final"] = float(np.clip(s["e_final"], s["e_initial"] - reach,
                                     s["e_initial"] + reach))
    capacity = sum(g["p_max"] for g in gens)
    t = np.arange(horizon)
    demand = capacity * (0.45 + 0.25 * np.sin(2 * np.pi * (t - 8) / horizon))
    return gens, storages, demand


def centralized(gens, storages, demand):
    """Dispatch (rows: generators then storages) and prices of the whole system as one QP."""
    T = len(demand)
    Pg = cp.Variable((len(gens), T))
    d = cp.Variable((len(storages), T))
    c = cp.Variable((len(storages), T))
    cost, cons = 0, []
    for i, g in enumerate(gens):
        cost += g["cost"] * cp.sum(Pg[i]) + g["epsilon"] / 2 * cp.sum_squares(Pg[i])
        cons += [Pg[i] >= 0, Pg[i] <= g["p_max"]]
    for j, s in enumerate(storages):
        P = d[j] - c[j]
        cost += s["epsilon"] / 2 * cp.sum_squares(P) + s.get("charge_cost", 0.0) * cp.sum(P) \
            + s["discharge_cost"] * cp.sum(d[j])
        energy = s["e_initial"] * s["e_max"] + cp.cumsum(
            s["eta_charge"] * c[j] - d[j] / s["eta_discharge"])
        cons += [d[j] >= 0, c[j] >= 0, d[j] <= s["p_discharge_max"],
                 c[j] <= s["p_charge_max"], energy >= s["soc_min"] * s["e_max"],
                 energy <= s["soc_max"] * s["e_max"], energy[T - 1] == s["e_final"] * s["e_max"]]
    balance = cp.sum(Pg, axis=0) + cp.sum(d - c, axis=0) == demand
    prob = cp.Problem(cp.Minimize(cost), [*cons, balance])
    prob.solve(solver="CLARABEL", **REFERENCE_SOLVER)
    assert prob.status == cp.OPTIMAL
    return np.vstack([Pg.value, d.value - c.value]), -np.asarray(balance.dual_value)


def system_participants(gens, storages, *, exact: bool, step: float | None = None,
                        max_iter: int = 3000, horizon: int = HORIZON):
    n = len(gens) + len(storages)
    # Stable step: at most 1 / the steepest participant's slope, i.e. the smallest epsilon.
    step = step or min(u["epsilon"] for u in [*gens, *storages])
    make = create_exact_diffusion_participant if exact else create_diffusion_participant
    common = {"epsilon": step, "max_iter": max_iter, "horizon": horizon, "tol": 1e-9,
              "patience": 2 * n}
    actors = [make(lambda *_: None, LinearCostEconomicDispatchDiffusionActor(n_guess=n, **g),
                   **common) for g in gens]
    actors += [make(lambda *_: None, ReservoirStorageDiffusionActor(n_guess=n, **s), **common)
               for s in storages]
    return actors


def ratings(gens, storages) -> np.ndarray:
    return np.array([g["p_max"] for g in gens]
                    + [max(s["p_charge_max"], s["p_discharge_max"]) for s in storages])


def assert_storage_feasible(actor: ReservoirStorageDiffusionActor) -> None:
    path = np.append(actor.E, actor.e_end)
    assert np.all(path >= actor.soc_min * actor.e_max - ENERGY_TOL), path
    assert np.all(path <= actor.soc_max * actor.e_max + ENERGY_TOL), path
    assert np.all(actor.P <= actor.p_discharge_max + 1e-9)
    assert np.all(actor.P >= -actor.p_charge_max - 1e-9)
    # E follows the schedule: E_{t+1} = E_t - d/eta_d + eta_c c.
    step = actor.eta_charge * actor.P_charge - actor.P_discharge / actor.eta_discharge
    assert np.allclose(np.diff(path), step, atol=1e-12)


def assert_matches(actors, P_star, lam_star, rating) -> None:
    lam = np.array([a._lam for a in actors])
    P = np.array([a.actor.P for a in actors])
    assert np.all(np.abs(lam - lam_star) <= PRICE_RTOL * np.abs(lam_star)), \
        np.max(np.abs(lam - lam_star) / np.abs(lam_star))
    assert np.all(np.abs(P - P_star) <= DISPATCH_TOL * rating[:, None]), \
        np.max(np.abs(P - P_star) / rating[:, None])


# ---------------------------------------------------------------------------------------------
# The reference's tests (tests/diffusion/test_diffusion.py), same scenarios and assertions
# ---------------------------------------------------------------------------------------------


def _finishers(results, key):
    def make_finish(idx: int):
        def finish(algo, carrier):
            results[idx] = (algo._lam if key == "lam" else algo.actor.P).copy()

        return finish

    return make_finish


def test_diffusion_all_callbacks_fire():
    n, horizon, results = 3, 4, {}
    make_finish = _finishers(results, "lam")
    actors = [create_diffusion_participant(make_finish(i), max_iter=50, horizon=horizon)
              for i in range(n)]
    asyncio.run(start_distributed_optimization(
        actors, create_diffusion_start(initial_lam=5.0, horizon=horizon)))
    assert len(results) == n, f"Expected {n} callbacks, got {len(results)}"


def test_diffusion_no_actor_converges_to_consensus():
    n, horizon, results = 3, 1, {}
    make_finish = _finishers(results, "lam")
    actors = [create_diffusion_participant(make_finish(i), diffusion_actor=NoDiffusionActor(),
                                           initial_lam=float((i + 1) * 5), max_iter=100,
                                           horizon=horizon) for i in range(n)]
    asyncio.run(start_distributed_optimization(
        actors, create_diffusion_start(initial_lam=5.0, horizon=horizon)))
    assert len(results) == n
    for i in range(1, n):
        assert np.allclose(results[0], results[i], atol=0.5)
    # The reference's scheduling: the mean of 5, 10 and 15.
    assert np.allclose([results[i] for i in range(n)], 10.0, atol=1e-9)


def _two_gen(results, costs, horizon, max_iter=300):
    make_finish = _finishers(results, "P")
    return [create_diffusion_participant(
        make_finish(i), diffusion_actor=LinearCostEconomicDispatchDiffusionActor(
            cost=c, p_max=20.0, epsilon=0.1, n_guess=2),
        max_iter=max_iter, horizon=horizon, epsilon=0.2) for i, c in enumerate(costs)]


def test_diffusion_merit_order():
    results = {}
    actors = _two_gen(results, [2.0, 8.0], horizon=2)
    start = create_diffusion_start(initial_lam=10.0, data=np.array([20.0, 20.0]), horizon=2)
    asyncio.run(start_distributed_optimization(actors, start))
    assert 0 in results and 1 in results, "Not all finish callbacks fired"
    assert np.all(results[0] >= results[1] - 0.5)
    # The reference's numbers: the cheap unit carries all of it.
    assert np.allclose(results[0], [20, 20]) and np.allclose(results[1], [0, 0])


def test_diffusion_equal_cost_equal_dispatch():
    n, horizon, results = 3, 3, {}
    make_finish = _finishers(results, "P")
    actors = [create_diffusion_participant(
        make_finish(i), diffusion_actor=LinearCostEconomicDispatchDiffusionActor(
            cost=5.0, p_max=30.0, epsilon=0.1, n_guess=n),
        max_iter=300, horizon=horizon, epsilon=0.2) for i in range(n)]
    asyncio.run(start_distributed_optimization(
        actors, create_diffusion_start(initial_lam=10.0, data=np.full(3, 30.0), horizon=horizon)))
    assert len(results) == n, "Not all finish callbacks fired"
    for i in range(1, n):
        assert np.allclose(results[0], results[i], atol=1.0)


def test_diffusion_with_storage_respects_box_constraints():
    horizon, p_charge_max, p_discharge_max, results = 4, 5.0, 8.0, {}
    make_finish = _finishers(results, "P")
    storage = ReservoirStorageDiffusionActor(
        e_max=20.0, p_charge_max=p_charge_max, p_discharge_max=p_discharge_max,
        charge_cost=0.0, discharge_cost=1.0, epsilon=0.1, n_guess=2)
    actors = [
        create_diffusion_participant(make_finish(0), LinearCostEconomicDispatchDiffusionActor(
            cost=5.0, p_max=15.0, epsilon=0.1, n_guess=2), max_iter=300, horizon=horizon,
            epsilon=0.2),
        create_diffusion_participant(make_finish(1), storage, max_iter=300, horizon=horizon,
                                     epsilon=0.2),
    ]
    asyncio.run(start_distributed_optimization(
        actors, create_diffusion_start(initial_lam=10.0, data=np.full(horizon, 10.0),
                                       horizon=horizon)))
    assert 0 in results and 1 in results, "Not all finish callbacks fired"
    assert np.all(results[1] >= -p_charge_max - 1e-9)
    assert np.all(results[1] <= p_discharge_max + 1e-9)
    assert_storage_feasible(storage)


def test_diffusion_horizon_larger_than_one():
    horizon, n, results = 6, 2, {}
    make_finish = _finishers(results, "P")
    actors = [create_diffusion_participant(
        make_finish(i), diffusion_actor=LinearCostEconomicDispatchDiffusionActor(
            cost=5.0, p_max=20.0, epsilon=0.1, n_guess=n),
        max_iter=100, horizon=horizon, epsilon=0.2) for i in range(n)]
    asyncio.run(start_distributed_optimization(
        actors, create_diffusion_start(initial_lam=10.0, data=np.full(horizon, 20.0),
                                       horizon=horizon)))
    assert len(results) == n
    for idx, P in results.items():
        assert P.shape == (horizon,), f"Wrong shape for agent {idx}: {P.shape}"


def test_docs_example_total_matches_demand():
    """The reference docs' doctest (three equal generators, 90 MW; default horizon)."""
    actors = [create_diffusion_participant(
        lambda algo, carrier: None,
        LinearCostEconomicDispatchDiffusionActor(cost=1.0, p_max=100.0, n_guess=3), horizon=1)
        for _ in range(3)]
    asyncio.run(start_distributed_optimization(actors, create_diffusion_start(10.0, data=90.0,
                                                                              horizon=1)))
    total = sum(a.actor.P for a in actors)
    assert bool(np.allclose(total, 90.0, atol=1.0))
    assert np.allclose(total, 90.0, atol=1e-9)  # the reference's scheduling: exactly 90


def test_message_type_is_exported():
    msg = DiffusionMessage(phi=np.ones(2), k=0, data=None)
    assert msg.initial is False and msg.final is False


class TestLinearCostEconomicDispatchDiffusionActor:
    def test_below_cost_clips_to_p_min(self):
        actor = LinearCostEconomicDispatchDiffusionActor(cost=10.0, p_max=30.0, epsilon=0.1,
                                                         n_guess=3)
        grad = actor.gradient_term(np.array([5.0]), np.array([30.0]))
        assert np.allclose(grad, [-10.0])
        assert np.allclose(actor.P, [0.0])

    def test_above_cost_clips_to_p_max(self):
        actor = LinearCostEconomicDispatchDiffusionActor(cost=0.0, p_max=5.0, epsilon=0.1,
                                                         n_guess=1)
        grad = actor.gradient_term(np.array([100.0]), np.array([10.0]))
        assert np.allclose(grad, [-5.0])
        assert np.allclose(actor.P, [5.0])

    def test_at_clearing_price_zero_residual(self):
        actor = LinearCostEconomicDispatchDiffusionActor(cost=0.0, p_max=30.0, epsilon=0.1,
                                                         n_guess=3)
        grad = actor.gradient_term(np.array([1.0]), np.array([30.0]))
        assert np.allclose(grad, [0.0], atol=1e-10)

    def test_vectorised_lam_and_p_max(self):
        actor = LinearCostEconomicDispatchDiffusionActor(
            cost=5.0, p_max=np.array([10.0, 20.0, 30.0]), epsilon=0.1, n_guess=1)
        actor.gradient_term(np.array([1000.0, 1000.0, 1000.0]), np.array([0.0, 0.0, 0.0]))
        assert np.allclose(actor.P, [10.0, 20.0, 30.0])

    def test_none_p_target_treated_as_zero(self):
        actor = LinearCostEconomicDispatchDiffusionActor(cost=0.0, p_max=50.0, epsilon=0.1,
                                                         n_guess=1)
        grad = actor.gradient_term(np.array([1.0]), None)
        assert np.allclose(grad, [10.0])

    def test_p_max_shape_mismatch_raises(self):
        actor = LinearCostEconomicDispatchDiffusionActor(cost=0.0, p_max=np.array([10.0, 20.0]),
                                                         epsilon=0.1, n_guess=1)
        with pytest.raises(ValueError, match="p_max shape"):
            actor.gradient_term(np.array([1.0, 2.0, 3.0]), None)

    def test_updates_p_in_place(self):
        actor = LinearCostEconomicDispatchDiffusionActor(cost=10.0, p_max=20.0, epsilon=0.1,
                                                         n_guess=1)
        actor.gradient_term(np.array([11.0]), None)
        assert np.allclose(actor.P, [10.0])


class TestReservoirStorageDiffusionActor:
    def _actor(self, **kw) -> ReservoirStorageDiffusionActor:
        defaults = dict(e_max=10.0, p_charge_max=5.0, p_discharge_max=8.0, charge_cost=1.0,
                        discharge_cost=2.0, epsilon=0.1, n_guess=1)
        defaults.update(kw)
        return ReservoirStorageDiffusionActor(**defaults)

    def test_high_price_leads_to_discharge(self):
        actor = self._actor(charge_cost=1.0, discharge_cost=2.0, e_initial=0.8, e_final=0.2)
        actor.gradient_term(np.array([100.0]), None)
        assert actor.P[0] > 0.0, "Should discharge when price is high"

    def test_low_price_leads_to_charge(self):
        actor = self._actor(charge_cost=5.0, discharge_cost=0.0, e_initial=0.2, e_final=0.8)
        actor.gradient_term(np.array([0.0]), None)
        assert actor.P[0] < 0.0, "Should charge when price is low"
        # The target (8 MWh) is out of reach in one step: the nearest reachable energy.
        assert actor.e_end == pytest.approx(2.0 + 5.0 * 0.95, abs=1e-6)

    def test_neutral_price_near_zero_power(self):
        actor = self._actor(charge_cost=1.0, discharge_cost=2.0, epsilon=0.1)
        actor.gradient_term(np.array([2.0]), None)
        assert actor.P[0] == 0.0, "Should be idle in the dead-band"

    def test_box_constraints_respected(self):
        actor = self._actor(p_charge_max=3.0, p_discharge_max=6.0)
        actor.gradient_term(np.array([1000.0, 1000.0, 1000.0]), None)
        assert np.all(actor.P >= -3.0 - 1e-9)
        assert np.all(actor.P <= 6.0 + 1e-9)

    def test_p_and_e_arrays_have_correct_horizon(self):
        actor = self._actor()
        actor.gradient_term(np.zeros(5), None)
        assert actor.P.shape == (5,) and actor.E.shape == (5,)

    def test_terminal_energy_target_approx_met(self):
        actor = ReservoirStorageDiffusionActor(
            e_max=10.0, p_charge_max=5.0, p_discharge_max=5.0, e_initial=0.5, e_final=0.5,
            charge_cost=0.0, discharge_cost=0.0, epsilon=0.1, n_guess=1)
        actor.gradient_term(np.zeros(10), None)
        e = actor.e_initial * actor.e_max
        for p in actor.P:
            e -= p / actor.eta_discharge if p >= 0.0 else p * actor.eta_charge
        e_target = actor.e_final * actor.e_max
        assert abs(e - e_target) < 0.5 * actor.e_max * 0.05
        assert abs(actor.e_end - e_target) < 1e-6  # solved exactly here

    def test_gradient_returns_p_minus_target_over_n(self):
        actor = self._actor(n_guess=2)
        grad = actor.gradient_term(np.array([0.0]), np.array([10.0]))
        assert np.allclose(grad, [-5.0])


# ---------------------------------------------------------------------------------------------
# The storage's local schedule is the exact optimum of its QP
# ---------------------------------------------------------------------------------------------


def local_storage_qp(s: ReservoirStorageDiffusionActor, lam: np.ndarray) -> float:
    """Optimal value of the storage's local problem (cvxpy + Clarabel), with the terminal
    energy at the reachable value nearest to ``e_final``."""
    T = lam.size
    d, c = cp.Variable(T), cp.Variable(T)
    P = d - c
    energy = s.e_initial * s.e_max + cp.cumsum(s.eta_charge * c - d / s.eta_discharge)
    low, high = s.reachable_final_energy(T)
    target = min(max(s.e_final * s.e_max, low), high)
    obj = cp.Minimize(s.epsilon / 2 * cp.sum_squares(P) + s.charge_cost * cp.sum(P)
                      + s.discharge_cost * cp.sum(d) - lam @ P)
    prob = cp.Problem(obj, [d >= 0, c >= 0, d <= s.p_discharge_max, c <= s.p_charge_max,
                            energy >= s.soc_min * s.e_max, energy <= s.soc_max * s.e_max,
                            energy[T - 1] == target])
    prob.solve(solver="CLARABEL", **REFERENCE_SOLVER)
    assert prob.status == cp.OPTIMAL
    return float(prob.value)


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**16), horizon=st.integers(1, 24),
       e_final=st.sampled_from([0.1, 0.5, 0.9]))
def test_storage_schedule_is_optimal(seed, horizon, e_final):
    rng = np.random.default_rng(seed)
    s = ReservoirStorageDiffusionActor(
        e_max=rng.uniform(5, 50), p_charge_max=rng.uniform(1, 10),
        p_discharge_max=rng.uniform(1, 10), eta_charge=rng.uniform(0.8, 1.0),
        eta_discharge=rng.uniform(0.8, 1.0), e_initial=rng.uniform(0.1, 0.9), e_final=e_final,
        soc_min=0.1, soc_max=0.9, charge_cost=rng.uniform(-2, 2),
        discharge_cost=rng.uniform(0, 2), epsilon=rng.uniform(0.05, 1.0))
    lam = rng.uniform(-5, 30, horizon)
    s.project_power(lam)
    assert_storage_feasible(s)
    value = (s.epsilon / 2 * s.P @ s.P + s.charge_cost * s.P.sum()
             + s.discharge_cost * s.P_discharge.sum() - lam @ s.P)
    assert value == pytest.approx(local_storage_qp(s, lam), abs=1e-6 * (1 + abs(value)))


# ---------------------------------------------------------------------------------------------
# Multi-period dispatch against the centralised QP
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_multi_period_dispatch_matches_centralized(seed):
    """24 steps, 4 generators and 2 storages, diffusion on a complete graph."""
    gens, storages, demand = random_system(seed)
    P_star, lam_star = centralized(gens, storages, demand)
    actors = system_participants(gens, storages, exact=False)
    res = run_distributed_optimization(actors, create_diffusion_start(20.0, demand, HORIZON))
    assert res.converged
    assert_matches(actors, P_star, lam_star, ratings(gens, storages))
    for a in actors[len(gens):]:
        assert_storage_feasible(a.actor)
        assert a.actor.e_end == pytest.approx(a.actor.e_final * a.actor.e_max, abs=1e-6)


@settings(max_examples=4, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**16), n_gen=st.integers(1, 3), n_storage=st.integers(1, 2))
def test_random_small_systems_match_centralized(seed, n_gen, n_storage):
    """Exact diffusion on a ring over random small systems (6 steps)."""
    gens, storages, demand = random_system(seed, n_gen, n_storage, horizon=6)
    P_star, lam_star = centralized(gens, storages, demand)
    actors = system_participants(gens, storages, exact=True, horizon=6)
    res = run_distributed_optimization(actors, create_exact_diffusion_start(20.0, demand, 6),
                                       topology="ring")
    assert res.converged
    assert_matches(actors, P_star, lam_star, ratings(gens, storages))
    for a in actors[n_gen:]:
        assert_storage_feasible(a.actor)


@pytest.mark.slow
def test_topologies_agree():
    """Exact diffusion on complete, ring and sparse graphs and diffusion on the complete graph
    reach the centralised optimum; plain diffusion on a ring does not (constant-step bias)."""
    gens, storages, demand = random_system(2)
    n = len(gens) + len(storages)
    P_star, lam_star = centralized(gens, storages, demand)
    rating = ratings(gens, storages)
    runs = [(False, None), (True, None), (True, "ring"), (True, nx.path_graph(n)),
            (True, nx.star_graph(n - 1))]
    dispatch = []
    for exact, topology in runs:
        actors = system_participants(gens, storages, exact=exact)
        res = run_distributed_optimization(actors, create_diffusion_start(20.0, demand, HORIZON),
                                           topology=topology)
        assert res.converged, (exact, topology)
        assert_matches(actors, P_star, lam_star, rating)
        dispatch.append(np.array([s["P"] for s in res.solutions]))
    for P in dispatch[1:]:
        assert np.allclose(P, dispatch[0], atol=1e-6)

    biased = system_participants(gens, storages, exact=False)
    run_distributed_optimization(biased, create_diffusion_start(20.0, demand, HORIZON),
                                 topology="ring")
    P = np.array([a.actor.P for a in biased])
    assert np.max(np.abs(P - P_star) / rating[:, None]) > 1e-2


# ---------------------------------------------------------------------------------------------
# Exact diffusion specifics, termination and reporting
# ---------------------------------------------------------------------------------------------


def test_exact_diffusion_first_round_has_no_correction():
    """phi(0) = psi(0): the first message carries the plain adapted value."""
    sent = []

    class Recording:
        def others(self, _):
            return ["neighbour"]

        def send_to_other(self, content, receiver, meta=None):
            sent.append(content.phi.copy())

    algo = ExactDiffusionAlgorithm(lambda a, c: None, NoDiffusionActor(), initial_lam=7.0,
                                   horizon=1)
    asyncio.run(algo.on_exchange_message(Recording(), create_exact_diffusion_start(7.0), {}))
    assert np.allclose(sent, [[7.0]])


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("topology", ["ring", "path"])
def test_every_callback_fires_once_on_sparse_graphs(exact, topology):
    make = create_exact_diffusion_participant if exact else create_diffusion_participant
    calls: list[int] = []
    actors = [make(lambda algo, carrier: calls.append(carrier.get_address()),
                   initial_lam=float(i), max_iter=30, horizon=2) for i in range(5)]
    run_distributed_optimization(actors, create_diffusion_start(0.0, horizon=2),
                                 topology=nx.path_graph(5) if topology == "path" else topology)
    assert sorted(calls) == [1, 2, 3, 4, 5]
    assert all(a._k == 30 for a in actors)


def test_converged_flag_solution_and_early_stop():
    gens, storages, demand = random_system(4, 2, 1, horizon=6)
    short = system_participants(gens, storages, exact=False, max_iter=3, horizon=6)
    res = run_distributed_optimization(short, create_diffusion_start(20.0, demand, 6))
    assert not res.converged and all(a.converged is False for a in short)
    assert set(res.solutions[-1]) == {"lam", "P", "E", "iterations", "residual", "converged"}
    assert res.solutions[-1]["iterations"] == 3

    full = system_participants(gens, storages, exact=False, max_iter=3000, horizon=6)
    res = run_distributed_optimization(full, create_diffusion_start(20.0, demand, 6))
    assert res.converged and max(s["iterations"] for s in res.solutions) < 3000


def test_too_large_step_reports_divergence():
    class Steep(DiffusionActor):
        def gradient_term(self, lam, data):
            return 100.0 * (lam - 1.0)

    actors = [create_exact_diffusion_participant(lambda *_: None, Steep(), epsilon=5.0,
                                                 max_iter=2000, horizon=1) for _ in range(3)]
    with np.errstate(all="ignore"), pytest.raises(ParticipantError, match="diverged"):
        run_distributed_optimization(actors, create_exact_diffusion_start(1.5),
                                     topology="ring")


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors naming the parameter, before the run
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"p_max": -5.0}, "p_max must not be negative"),
    ({"p_max": [10.0, -1.0]}, "p_max must not be negative"),
    ({"p_min": 30.0, "p_max": 20.0}, "p_min must not exceed p_max"),
    ({"epsilon": -0.1}, "epsilon must be positive"),
    ({"n_guess": 1.5}, "n_guess must be an integer"),
])
def test_bad_generator_parameters(kwargs, match):
    # A wrong kind of value is a TypeError (e.g. n_guess = 1.5), a wrong value a ValueError.
    with pytest.raises((TypeError, ValueError), match=match):
        LinearCostEconomicDispatchDiffusionActor(**({"cost": 1.0, "p_max": 20.0} | kwargs))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"e_max": 0.0}, "e_max must be positive"),
    ({"p_charge_max": -1.0}, "p_charge_max must be non-negative"),
    ({"eta_discharge": 1.2}, "eta_discharge must be at most 1"),
    ({"soc_min": 0.8, "soc_max": 0.2}, "soc_min must not exceed soc_max"),
    ({"e_initial": 0.95, "soc_max": 0.9}, "e_initial must be at most 0.9"),
    ({"e_final": 0.05, "soc_min": 0.1}, "e_final must be at least 0.1"),
    ({"discharge_cost": -1.0}, "discharge_cost must be non-negative"),
])
def test_bad_storage_parameters(kwargs, match):
    args = {"e_max": 10.0, "p_charge_max": 5.0, "p_discharge_max": 5.0} | kwargs
    with pytest.raises(ValueError, match=match):
        ReservoirStorageDiffusionActor(**args)


def test_horizon_mismatches():
    with pytest.raises(ValueError, match="data has 6 time steps but horizon is 4"):
        create_diffusion_start(10.0, data=np.ones(6), horizon=4)
    gen = LinearCostEconomicDispatchDiffusionActor(cost=1.0, p_max=np.ones(6))
    with pytest.raises(ValueError, match=r"p_max shape \(6,\) does not match"):
        create_diffusion_participant(lambda *_: None, gen, horizon=4)
    with pytest.raises(ValueError, match="horizon must be an integer >= 1"):
        create_exact_diffusion_participant(lambda *_: None, horizon=0)
    # A participant planning 4 steps in a 6-step run: refused before the run (check_start).
    actors = [create_diffusion_participant(lambda *_: None, horizon=4) for _ in range(2)]
    with pytest.raises(ValueError, match="horizon mismatch"):
        run_distributed_optimization(actors, create_diffusion_start(10.0, np.ones(6), 6))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"epsilon": 0.0}, "epsilon must be positive"),
    ({"max_iter": -1}, "max_iter must be an integer >= 1"),
    ({"patience": 0}, "patience must be an integer >= 1"),
])
def test_bad_participant_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_diffusion_participant(lambda *_: None, **kwargs)
    with pytest.raises(TypeError, match="diffusion_actor must provide gradient_term"):
        create_diffusion_participant(lambda *_: None, diffusion_actor=object())


class _Mute:
    """A carrier stub with two neighbours that swallows what is sent."""

    def others(self, _):
        return ["a", "b"]

    def send_to_other(self, content, receiver, meta=None):
        pass


@pytest.mark.slow
@pytest.mark.parametrize("exact", [False, True])
def test_participants_can_be_reused_and_ignore_stragglers(exact):
    gens, storages, demand = random_system(5, 2, 1, horizon=6)
    actors = system_participants(gens, storages, exact=exact, horizon=6)
    first = run_distributed_optimization(actors, create_diffusion_start(20.0, demand, 6))
    again = run_distributed_optimization(actors, create_diffusion_start(20.0, demand, 6))
    # The storage's solver warm-starts from its last active set: equal up to round-off.
    for a, b in zip(first.solutions, again.solutions):
        assert np.allclose(a["lam"], b["lam"], rtol=1e-7) and b["converged"]

    algo_type = ExactDiffusionAlgorithm if exact else create_diffusion_participant
    calls = []
    algo = algo_type(lambda a, c: calls.append(a._k), max_iter=1, horizon=1)
    carrier = _Mute()
    asyncio.run(algo.on_exchange_message(carrier, create_diffusion_start(1.0), {}))
    run = algo._run
    asyncio.run(algo.on_exchange_message(
        carrier, DiffusionMessage(phi=np.ones(1), k=1, data=None, final=True, run=run), {}))
    assert calls == [0]
    # A late round-0 message of that run: ignored (the 40bfc01 reference would restart).
    asyncio.run(algo.on_exchange_message(
        carrier, DiffusionMessage(phi=np.ones(1), k=0, data=None, degree=2, run=run), {}))
    assert algo._first_message and algo._run == run
