"""Custom local models: a subclass, a QP on OSQP and a cvxpy model in one coordinated run.

Part 1 (sharing): three actors of different kinds jointly follow a net power profile over six
hours; the result is compared with one centralized cvxpy problem.
Part 2 (general-form consensus): a two-area dispatch where the actors share only the tie-line flow.

Run: python examples/custom_models.py
"""

from __future__ import annotations

import asyncio

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

import distributed_resource_optimization as dro
from distributed_resource_optimization.local.qp import CvxpyLocalModel, QPLocalModel

T = 6  # hours; every actor's output is a power profile in kW (positive = feed-in)


# --- (a) subclass LocalModel: the proximal step in closed form --------------------------------
class CurtailablePV(dro.LocalModel):
    """PV plant: feed-in x_t in [0, pv_t], cost c * sum_t (pv_t - x_t) for curtailed energy.

    argmin_x c * sum(pv - x) + sum_t rho_t/2 (x_t - v_t)^2 over the box is clip(v + c / rho, 0, pv);
    ``rho`` is a float (sharing) or one value per entry (consensus forms): numpy handles both.
    """

    def __init__(self, pv, c: float, name: str) -> None:
        super().__init__(len(pv), name=name)
        self.pv = np.asarray(pv, dtype=float)
        self.c = float(c)

    def solve(self, v, rho):
        return np.clip(v + self.c / rho, 0.0, self.pv)

    def objective(self, x):
        return float(self.c * np.sum(self.pv - x))


# --- (b) QPLocalModel: 1/2 x'Px + q'x, l <= Ax <= u, set up once in OSQP ----------------------
def battery_matrices(p_max: float, e_max: float, e0: float):
    """Battery output x_t (discharge > 0): |x_t| <= p_max, energy level e0 - cumsum(x) in
    [0, e_max], back to e0 after T hours (one equality row). Cost 0.05 * ||x||^2 (wear)."""
    L = np.tril(np.ones((T, T)))  # cumulative discharge
    A = sp.vstack([sp.eye(T), sp.csr_matrix(L), sp.csr_matrix(np.ones((1, T)))], format="csc")
    lo = np.concatenate([-p_max * np.ones(T), (e0 - e_max) * np.ones(T), [0.0]])
    hi = np.concatenate([p_max * np.ones(T), e0 * np.ones(T), [0.0]])
    return 0.1 * sp.eye(T, format="csc"), np.zeros(T), A, lo, hi


# --- (c) CvxpyLocalModel: any convex cvxpy model, with internal variables --------------------
HEAT_DEMAND = np.array([2.0, 2.0, 1.0, 1.0, 3.0, 3.0])  # kW thermal


def heat_pump_problem(x: cp.Variable):
    """Heat pump x_t = -p_t (consumption), COP 3, storage tank level s in [0, 6] kWh that must
    cover the heat demand; cost 0.3 * ||p||^2 (wear at high load). ``s`` stays private."""
    s = cp.Variable(T + 1)
    p = -x
    cons = [p >= 0, p <= 3.0, s >= 0, s <= 6.0, s[0] == 3.0, s[T] >= 3.0,
            s[1:] == s[:-1] + 3.0 * p - HEAT_DEMAND]
    return 0.3 * cp.sum_squares(p), cons


def part1_sharing() -> None:
    pv = np.array([0.0, 2.0, 5.0, 6.0, 3.0, 0.0])
    target = np.array([-3.0, -1.0, 2.0, 3.0, 0.0, -3.0])  # wanted net feed-in of the three
    weights = np.ones(T)

    pv_actor = CurtailablePV(pv, c=0.1, name="pv")
    P, q, A, lo, hi = battery_matrices(p_max=2.0, e_max=8.0, e0=4.0)
    battery = QPLocalModel(q, P, A, lo, hi, name="battery")
    x_hp = cp.Variable(T)
    heat_pump = CvxpyLocalModel(x_hp, *heat_pump_problem(x_hp), name="heat_pump")

    coordinator = dro.ADMMGenericCoordinator(
        dro.ADMMSharingGlobalActor(dro.ADMMTargetDistanceSquaredObjective()))
    start = dro.create_admm_start(dro.create_admm_sharing_data(target, weights))
    result = asyncio.run(dro.start_coordinated_optimization(
        [pv_actor, battery, heat_pump], coordinator, start))

    # Centralized reference: the same models on fresh variables, one cvxpy problem.
    xp, xb, xh = cp.Variable(T), cp.Variable(T), cp.Variable(T)
    hp_cost, hp_cons = heat_pump_problem(xh)
    cost = (0.1 * cp.sum(pv - xp) + 0.5 * cp.quad_form(xb, P) + q @ xb + hp_cost
            + weights @ cp.square(xp + xb + xh - target))
    cons = [xp >= 0, xp <= pv, A @ xb >= lo, A @ xb <= hi, *hp_cons]
    ref = cp.Problem(cp.Minimize(cost), cons)
    ref.solve(solver="CLARABEL")

    print("Part 1 - sharing,", result)
    for actor in (pv_actor, battery, heat_pump):
        print(f"  {actor.name:10s}", actor.x.round(3))
    print("  aggregate ", result.z.round(3))
    print("  target    ", target)
    print(f"  objective  distributed {result.objective:.5f}   centralized {ref.value:.5f}")
    dev = max(np.abs(pv_actor.x - xp.value).max(), np.abs(battery.x - xb.value).max(),
              np.abs(heat_pump.x - xh.value).max())
    print(f"  largest difference of an actor's output from the centralized one: {dev:.1e} kW")


# --- Part 2: general-form consensus, actors share only the variables they name ---------------
class TieLine(dro.LocalModel):
    """Tie-line flow f from area A to B, |f| <= f_max, no cost: the prox is a clip."""

    def __init__(self, f_max: float) -> None:
        super().__init__(1, name="tie_line", variables=("flow_AB",))
        self.f_max = f_max

    def solve(self, v, rho):
        return np.clip(v, -self.f_max, self.f_max)

    def objective(self, x):
        return 0.0


def part2_general_consensus() -> None:
    d_a, d_b = 2.0, 6.0  # demand per area (MW)
    line = TieLine(f_max=1.5)
    # Area A: entries (gen_A, flow_AB); cost 0.5 * gen^2 + 1 * gen; balance gen - flow = d_a.
    area_a = QPLocalModel([1.0, 0.0], P=sp.diags([1.0, 0.0]), A=[[1.0, -1.0], [1.0, 0.0]],
                          l=[d_a, 0.0], u=[d_a, 5.0], name="area_A", variables=("gen_A", "flow_AB"))
    # Area B in cvxpy: entries (gen_B, flow_AB); cost 1.0 * gen^2 + 2 * gen; balance gen + flow = d_b.
    xb = cp.Variable(2)
    area_b = CvxpyLocalModel(xb, cp.square(xb[0]) + 2.0 * xb[0],
                             [xb[0] + xb[1] == d_b, xb[0] >= 0, xb[0] <= 8.0],
                             name="area_B", variables=("gen_B", "flow_AB"))
    coordinator = dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor())
    result = dro.run_coordinated_optimization([line, area_a, area_b], coordinator,
                                              dro.create_admm_start())

    ga, gb, f = cp.Variable(), cp.Variable(), cp.Variable()
    ref = cp.Problem(cp.Minimize(0.5 * ga**2 + ga + gb**2 + 2 * gb),
                     [ga - f == d_a, gb + f == d_b, ga >= 0, ga <= 5, gb >= 0, gb <= 8,
                      cp.abs(f) <= 1.5])
    ref.solve(solver="CLARABEL")
    # z is ordered as the variables first appear among the actors: flow_AB, gen_A, gen_B.
    print("\nPart 2 - general-form consensus,", result)
    print("  z (flow_AB, gen_A, gen_B) distributed ", result.z.round(4))
    print("  z (flow_AB, gen_A, gen_B) centralized ",
          np.round([f.value, ga.value, gb.value], 4))
    print(f"  objective  distributed {result.objective:.5f}   centralized {ref.value:.5f}")


if __name__ == "__main__":
    part1_sharing()
    part2_general_consensus()
