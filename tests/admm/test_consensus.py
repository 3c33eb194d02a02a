"""Consensus and general-form consensus ADMM, and custom local models, against centralized solves."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from conftest import relative_gap

import distributed_resource_optimization as dro
from distributed_resource_optimization.local.qp import CvxpyLocalModel, QPLocalModel

TOL = 1e-3


def _random_qp(rng: np.random.Generator, n: int, name: str, **kw) -> tuple[QPLocalModel, tuple]:
    h = rng.uniform(0.5, 3.0, n)
    q = rng.uniform(-5.0, 5.0, n)
    lo, hi = -rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 2.0, n)
    A = np.eye(n)
    model = QPLocalModel(q, P=np.diag(h), A=A, l=lo, u=hi, name=name, **kw)
    return model, (h, q, lo, hi)


def _qp_cost(expr, h, q):
    return 0.5 * cp.sum(cp.multiply(h, cp.square(expr))) + q @ expr


@pytest.mark.parametrize("n_actors", [2, 5, 20])
def test_consensus_qp_actors_match_centralized(n_actors: int, run) -> None:
    rng = np.random.default_rng(n_actors)
    m = 4
    models, data = zip(*[_random_qp(rng, m, f"qp{i}") for i in range(n_actors)])
    z = cp.Variable(m)
    cons = [c for (_, _, lo, hi) in data for c in (z >= lo, z <= hi)]
    # Boxes of different actors may not intersect; widen them so the consensus problem is feasible.
    if cp.Problem(cp.Minimize(0), cons).solve(solver="CLARABEL") == np.inf:
        pytest.skip("random boxes do not intersect")
    ref = cp.Problem(cp.Minimize(sum(_qp_cost(z, h, q) for (h, q, _, _) in data)), cons)
    ref.solve(solver="CLARABEL")
    res = run(list(models), dro.create_consensus_admm_coordinator(), dro.create_admm_start())
    assert res.converged
    np.testing.assert_allclose(res.z, z.value, atol=1e-3)
    assert relative_gap(res.objective, ref.value) <= TOL
    for mdl in models:
        np.testing.assert_allclose(mdl.x, z.value, atol=1e-3)


def test_consensus_with_target_objective(run) -> None:
    rng = np.random.default_rng(3)
    models, data = zip(*[_random_qp(rng, 3, f"a{i}") for i in range(4)])
    for mdl in models:  # wide boxes: only the costs and the target compete
        mdl.l[:] = -10.0
        mdl.u[:] = 10.0
    target, w = np.array([1.0, -2.0, 0.5]), np.array([3.0, 1.0, 2.0])
    z = cp.Variable(3)
    cost = sum(_qp_cost(z, h, q) for (h, q, _, _) in data) + w @ cp.abs(z - target)
    ref = cp.Problem(cp.Minimize(cost), [z >= -10, z <= 10])
    ref.solve(solver="CLARABEL")
    coord = dro.create_consensus_admm_coordinator(dro.ADMMTargetDistanceObjective())
    res = run(list(models), coord, dro.create_admm_start(dro.create_admm_sharing_data(target, w)))
    np.testing.assert_allclose(res.z, z.value, atol=1e-3)
    assert relative_gap(res.objective, ref.value) <= TOL


def test_general_form_consensus_matches_centralized(run) -> None:
    rng = np.random.default_rng(42)
    owners = {"tso": ("a", "b"), "dso": ("b", "c"), "agg": ("c", "d", "a"), "x": ("d",)}
    keys = ["a", "b", "c", "d"]
    models, data = [], []
    for name, vars_ in owners.items():
        mdl, d = _random_qp(rng, len(vars_), name, variables=vars_)
        mdl.l[:] = -3.0
        mdl.u[:] = 3.0
        models.append(mdl)
        data.append((vars_, d))
    z = cp.Variable(len(keys))
    pick = {k: i for i, k in enumerate(keys)}
    cost = sum(_qp_cost(cp.hstack([z[pick[v]] for v in vars_]), h, q)
               for vars_, (h, q, _, _) in data)
    ref = cp.Problem(cp.Minimize(cost), [z >= -3, z <= 3])
    ref.solve(solver="CLARABEL")
    coord = dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor())
    res = run(models, coord, dro.create_admm_start())
    assert res.converged
    # Global variables are ordered as they first appear among the actors: a, b, c, d.
    np.testing.assert_allclose(res.z, z.value, atol=1e-3)
    assert relative_gap(res.objective, ref.value) <= TOL
    np.testing.assert_allclose(models[1].x, z.value[[1, 2]], atol=1e-3)


def test_general_form_with_rho_scale_same_optimum(run) -> None:
    # Quantities of very different size (kW vs MW) converge alike with rho scaled per entry.
    rng = np.random.default_rng(5)
    scale = np.array([1.0, 1000.0])
    h = rng.uniform(1, 2, 2)
    m1 = QPLocalModel(-h * np.array([1.0, 2000.0]), P=np.diag(h), variables=("p", "q"),
                      rho_scale=1 / scale**2, name="one")
    m2 = QPLocalModel(-h * np.array([3.0, 1000.0]), P=np.diag(h), variables=("p", "q"),
                      rho_scale=1 / scale**2, name="two")
    res = run([m1, m2], dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor()),
              dro.create_admm_start())
    np.testing.assert_allclose(res.z, [2.0, 1500.0], rtol=1e-4)


class SoftThresholdActor(dro.LocalModel):
    """Custom model by subclassing: f(x) = c * ||x - a||_1, prox in closed form."""

    def __init__(self, a, c: float, name: str) -> None:
        super().__init__(len(a), name=name)
        self.a = np.asarray(a, dtype=float)
        self.c = c

    def solve(self, v, rho):
        d = v - self.a
        return self.a + np.sign(d) * np.maximum(np.abs(d) - self.c / rho, 0.0)

    def objective(self, x):
        return float(self.c * np.abs(x - self.a).sum())


def test_custom_subclass_and_qp_in_consensus(run) -> None:
    custom = SoftThresholdActor([1.0, -1.0, 2.0], c=1.5, name="custom")
    qp = QPLocalModel([-1.0, 0.0, 0.0], P=np.eye(3), name="qp")
    z = cp.Variable(3)
    ref = cp.Problem(cp.Minimize(1.5 * cp.norm1(z - custom.a) + 0.5 * cp.sum_squares(z)
                                 - z[0]))
    ref.solve(solver="CLARABEL")
    res = run([custom, qp], dro.create_consensus_admm_coordinator(), dro.create_admm_start())
    np.testing.assert_allclose(res.z, z.value, atol=1e-3)
    assert relative_gap(res.objective, ref.value) <= TOL


def test_cvxpy_local_model_in_sharing(run) -> None:
    # Two cvxpy batteries (power limits, a daily energy budget) and a flex actor share a target.
    rng = np.random.default_rng(9)
    T = 4
    target = rng.uniform(-3, 3, T)
    batteries, refs = [], []
    for i in range(2):
        x = cp.Variable(T)
        cons = [x >= -2.0, x <= 2.0, cp.sum(x) == 0.0]
        cost = 0.1 * cp.sum_squares(x)
        batteries.append(CvxpyLocalModel(x, cost, cons, name=f"battery{i}"))
        refs.append((cons, cost, x))
    flex = dro.create_admm_flex_actor_one_to_many(3.0, rng.uniform(-1, 1, T), name="flex")
    coord = dro.ADMMGenericCoordinator(dro.ADMMSharingGlobalActor(
        dro.ADMMTargetDistanceSquaredObjective()))
    res = run([*batteries, flex], coord,
              dro.create_admm_start(dro.create_admm_sharing_data(target)))
    # Centralized: the same cvxpy pieces on fresh variables.
    xs = [cp.Variable(T) for _ in range(2)]
    s = cp.Variable()
    cons = [c for x in xs for c in (x >= -2.0, x <= 2.0, cp.sum(x) == 0.0)] + [s >= 0, s <= 1]
    agg = xs[0] + xs[1] + s * flex.direction
    ref = cp.Problem(cp.Minimize(sum(0.1 * cp.sum_squares(x) for x in xs)
                                 + cp.sum_squares(agg - target)), cons)
    ref.solve(solver="CLARABEL")
    assert res.converged
    assert relative_gap(res.objective, ref.value) <= TOL
    assert abs(batteries[0].x.sum()) < 1e-6


def test_infeasible_qp_model_names_actor(run) -> None:
    bad = QPLocalModel([0.0], A=np.array([[1.0], [1.0]]), l=[1.0, -np.inf], u=[np.inf, 0.0],
                       name="broken-heat-pump")
    good = QPLocalModel([0.0], P=np.eye(1), name="fine")
    with pytest.raises(dro.CoordinationError, match="broken-heat-pump.*infeasible"):
        run([good, bad], dro.create_consensus_admm_coordinator(), dro.create_admm_start())


def test_infeasible_cvxpy_model_names_actor(run) -> None:
    x = cp.Variable(2)
    bad = CvxpyLocalModel(x, None, [x >= 1, x <= 0], name="impossible")
    with pytest.raises(dro.CoordinationError, match="impossible.*infeasible"):
        run([bad, QPLocalModel([0.0, 0.0], P=np.eye(2))], dro.create_consensus_admm_coordinator(),
            dro.create_admm_start())


def test_best_iterate_keeps_prices_consistent_with_rho() -> None:
    # Stopped at the iteration limit, the state returns its best iterate; its scaled duals must
    # come back with the rho they were computed with, or the prices y = rho * u are wrong.
    from distributed_resource_optimization.admm.state import ParticipantSpec

    coord = dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor(), rho=1.0,
                                       max_iters=30, acceleration=False, alpha=1.0)
    coord.settings.adapt_interval = 2
    specs = [ParticipantSpec(("a",), (1,), (("z",),)), ParticipantSpec(("b",), (1,), (("z",),))]
    state = coord.create_state(specs, None)
    # Replies chosen by the test: near agreement first, then two actors pulling far apart.
    k = 0
    while True:
        state.requests()
        k += 1
        xs = [np.array([2.0]), np.array([2.0 + 1e-3])] if k <= 3 else \
            [np.array([50.0 * k]), np.array([-50.0 * k])]
        if state.step(xs):
            break
    h = state.history
    scores = np.maximum(np.array(h.primal) / np.array(h.eps_primal),
                        np.array(h.dual) / np.array(h.eps_dual))
    best = int(np.argmin(scores))
    assert state.status is dro.ADMMStatus.MAX_ITERATIONS
    assert h.rho[best] != h.rho[-1]  # rho changed after the best iterate
    assert state.rho == h.rho[best]
    np.testing.assert_allclose(state.x, [2.0, 2.0 + 1e-3])


@pytest.mark.parametrize("flow_max", [100.0, 10.0])
def test_qp_models_with_private_variables_two_area_dispatch(flow_max: float, run) -> None:
    """Two areas share only the tie-line flow f (exchange=); their generators stay private.
    Area A: cost a_A g_A^2 + b_A g_A, balance g_A - f = d_A; area B: g_B + f = d_B; |f| <=
    flow_max in both. Hand-derived optimum: f* = (2 a_B d_B + b_B - 2 a_A d_A - b_A) /
    (2 (a_A + a_B)), clipped to the limit."""
    a_a, b_a, d_a, a_b, b_b, d_b = 0.01, 2.0, 50.0, 0.02, 5.0, 80.0
    f_free = (2 * a_b * d_b + b_b - 2 * a_a * d_a - b_a) / (2 * (a_a + a_b))
    f_star = float(np.clip(f_free, -flow_max, flow_max))
    cost = (a_a * (d_a + f_star) ** 2 + b_a * (d_a + f_star)
            + a_b * (d_b - f_star) ** 2 + b_b * (d_b - f_star))
    # Variables (g, f); rows: the balance (equality) and the flow limit.
    area_a = QPLocalModel([b_a, 0.0], P=np.diag([2 * a_a, 0.0]),
                          A=np.array([[1.0, -1.0], [0.0, 1.0]]), l=[d_a, -flow_max],
                          u=[d_a, flow_max], exchange=[1], name="area_a")
    area_b = QPLocalModel([b_b, 0.0], P=np.diag([2 * a_b, 0.0]),
                          A=np.array([[1.0, 1.0], [0.0, 1.0]]), l=[d_b, -flow_max],
                          u=[d_b, flow_max], exchange=[1], name="area_b")
    assert area_a.size == 1
    res = run([area_a, area_b], dro.create_consensus_admm_coordinator(max_iters=5000),
              dro.create_admm_start())
    assert res.converged
    assert res.z[0] == pytest.approx(f_star, abs=1e-3)
    assert area_a.w[0] == pytest.approx(d_a + f_star, abs=1e-3)  # the private generator
    assert area_b.w[0] == pytest.approx(d_b - f_star, abs=1e-3)
    assert res.objective == pytest.approx(cost, rel=1e-5)


def test_qp_exchange_is_checked() -> None:
    with pytest.raises(ValueError, match="exchange"):
        QPLocalModel([1.0, 2.0], exchange=[2])
    with pytest.raises(ValueError, match="exchange"):
        QPLocalModel([1.0, 2.0], exchange=[0, 0])


def test_a_cvxpy_model_falls_back_when_its_solver_fails(run) -> None:
    """A solver that fails (here: one cvxpy does not have) does not end the run: the next of
    ``fallback_solvers`` solves the proximal problem, and the result is the same."""
    x1, x2 = cp.Variable(2), cp.Variable(2)
    good = CvxpyLocalModel(x1, cp.sum_squares(x1 - np.array([1.0, 3.0])), name="good")
    flaky = CvxpyLocalModel(x2, cp.sum_squares(x2 - np.array([3.0, 1.0])), name="flaky",
                            solver="NO_SUCH_SOLVER", fallback_solvers=("CLARABEL",))
    res = run([good, flaky], dro.create_consensus_admm_coordinator(), dro.create_admm_start())
    assert res.converged
    np.testing.assert_allclose(res.z, [2.0, 2.0], atol=1e-4)
    assert flaky.fallbacks_used > 0 and good.fallbacks_used == 0
    none = CvxpyLocalModel(cp.Variable(1), name="none", solver="NO_SUCH_SOLVER",
                           fallback_solvers=())
    with pytest.raises(dro.LocalModelError, match="NO_SUCH_SOLVER"):
        none.solve(np.zeros(1), 1.0)


def test_a_qp_model_hands_a_stalled_step_to_clarabel(monkeypatch, run) -> None:
    """OSQP stopped after a handful of iterations (its iteration limit lowered to 3, so it
    stalls on every step of this LP-like area model) does not end the run: Clarabel solves
    the same proximal QP, and the two-area dispatch reaches its hand-derived optimum
    (see the test above: f* = (2 a_B d_B + b_B - 2 a_A d_A - b_A) / (2 (a_A + a_B)))."""
    from distributed_resource_optimization.local import qp

    monkeypatch.setattr(qp, "OSQP_MAX_ITER", 3)
    a_a, b_a, d_a, a_b, b_b, d_b = 0.01, 2.0, 50.0, 0.02, 5.0, 80.0
    f_star = (2 * a_b * d_b + b_b - 2 * a_a * d_a - b_a) / (2 * (a_a + a_b))
    area_a = QPLocalModel([b_a, 0.0], P=np.diag([2 * a_a, 0.0]),
                          A=np.array([[1.0, -1.0], [0.0, 1.0]]), l=[d_a, -100.0],
                          u=[d_a, 100.0], exchange=[1], name="area_a")
    area_b = QPLocalModel([b_b, 0.0], P=np.diag([2 * a_b, 0.0]),
                          A=np.array([[1.0, 1.0], [0.0, 1.0]]), l=[d_b, -100.0],
                          u=[d_b, 100.0], exchange=[1], name="area_b")
    res = run([area_a, area_b], dro.create_consensus_admm_coordinator(max_iters=5000),
              dro.create_admm_start())
    assert res.converged
    assert res.z[0] == pytest.approx(f_star, abs=1e-3)
    assert area_a.w[0] == pytest.approx(d_a + f_star, abs=1e-3)
    assert area_a.fallbacks_used > 0 and area_b.fallbacks_used > 0


def test_a_qp_model_fails_naming_both_solvers_when_both_fail(monkeypatch) -> None:
    """An infeasible model OSQP cannot diagnose within its (lowered) iteration limit is
    diagnosed by Clarabel, and the error names each solver's outcome."""
    from distributed_resource_optimization.local import qp

    monkeypatch.setattr(qp, "OSQP_MAX_ITER", 1)
    model = QPLocalModel([1.0, 1.0], A=np.array([[1.0, 1.0], [1.0, 1.0]]), l=[1.0, -np.inf],
                         u=[1.0, 0.0], name="contradictory")
    with pytest.raises(dro.LocalModelError, match=r"infeasible \(OSQP: .*; Clarabel: .*Infeasible"):
        model.prepare()


def test_a_price_support_stop_leaves_every_actor_at_its_best_response(run) -> None:
    """Stopped by PriceSupportRule(tol): every actor's output is its best response to the
    reported prices up to tol per unit; for f = h/2 x^2 + q x on a box the best response to
    price y is clip(-(q + y) / h), so each output lies within tol / h of it."""
    from distributed_resource_optimization.admm.stopping import (
        AllOf,
        PriceSupportRule,
        ResidualRule,
    )

    rng = np.random.default_rng(7)
    owners = {"tso": ("a", "b"), "dso": ("b", "c"), "agg": ("c", "d", "a"), "x": ("d",)}
    models, data = [], []
    for name, vars_ in owners.items():
        mdl, d = _random_qp(rng, len(vars_), name, variables=vars_)
        models.append(mdl)
        data.append(d)
    tol = 1e-3
    rule = PriceSupportRule(tol)
    # Residual thresholds so loose that the support rule decides the stop.
    coord = dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor(), abs_tol=0.05,
                                       rel_tol=0.05, stopping=AllOf(ResidualRule(), rule))
    res = run(models, coord, dro.create_admm_start())
    assert res.converged and "PriceSupportRule" in res.stopped_by
    assert res.stopping_history["price_support"][-1] <= tol
    lo = 0
    for mdl, (h, q, low, high) in zip(models, data):
        y = res.prices[lo:lo + mdl.size]
        x = res.last_x[lo:lo + mdl.size]
        lo += mdl.size
        best = np.clip(-(q + y) / h, low, high)
        assert np.all(np.abs(x - best) <= tol / h + 1e-6), (mdl.name, x - best)
