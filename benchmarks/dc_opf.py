"""Multi-area DC OPF on PGLib-OPF cases, written with the public API only (issue 26, part 7).

Each area is a :class:`QPLocalModel` whose private variables are its generators' outputs and its
interior bus angles; it shares (``exchange=``) the voltage angles of its boundary buses, its own
and the neighbours' ends of its tie lines, as in PowerModelsADA's DC formulation. The
general-form consensus coordinator agrees on those angles. The centralized reference is the same
problem over the whole network, built by the same row builder but solved in one piece by HiGHS
(``scipy.optimize.linprog``; Clarabel for the two cases with quadratic costs).

    python -m benchmarks.dc_opf                       # all cases (about 15 min on 2 cores)
    python -m benchmarks.dc_opf --cases 14_ieee,30_ieee

Every method is measured to the same accuracy (:class:`ReachedOptimum`: angles agree to 1e-4 rad,
PowerModelsADA's tolerance, and the cost is within 1e-4 of the optimum), whatever its own
stopping rule would say. Printed per case: rounds for (a) rho 1 without the probe round
(``probe_rho=False``, the defaults until session 20), (a') the library's defaults (no rho given:
rho 1 checked by a probe round, which the rounds include), (b) the defaults started at the
best initial rho of a decade sweep (a given rho: no probe; what a scale-aware initial rho could
reach), (c) plain ADMM (fixed rho, no acceleration, no over-relaxation) at the best
fixed rho of the sweep, the "tuned peer" baseline; then the rounds to the defaults' own
stopping rule and the relative objective gap there. The cases are PGLib-OPF v23.07 (CC BY 4.0,
``benchmarks/data/pglib/README.md``); the areas are the files' own where they define as many as
PowerModelsADA's comparison uses, else a modularity partition of the network (networkx,
deterministic).
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from pathlib import Path

import clarabel
import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

import distributed_resource_optimization as dro
from distributed_resource_optimization.admm.stopping import StoppingRule

DATA = Path(__file__).parent / "data" / "pglib"

#: Areas per case, PowerModelsADA's comparison table (docs/src/comparison.md).
AREAS = {"14_ieee": 2, "24_ieee_rts": 4, "30_ieee": 3, "39_epri": 3, "73_ieee_rts": 3,
         "118_ieee": 3, "300_ieee": 4}


@dataclass(frozen=True)
class Network:
    """A MATPOWER case's DC data in per unit (``base_mva``) and $/h; buses renumbered 0..n-1."""

    name: str
    base_mva: float
    bus_ids: np.ndarray       # MATPOWER bus numbers
    demand: np.ndarray        # Pd + Gs (shunt at 1 p.u. voltage), p.u.
    reference: int
    bus_area: np.ndarray      # the file's area column
    gen_bus: np.ndarray
    gen_min: np.ndarray
    gen_max: np.ndarray
    gen_cost: np.ndarray      # linear cost, $/h per p.u.
    gen_cost2: np.ndarray     # quadratic cost, $/h per p.u.^2
    from_bus: np.ndarray
    to_bus: np.ndarray
    susceptance: np.ndarray   # 1 / (x * tap), p.u.
    shift: np.ndarray         # rad
    rating: np.ndarray        # p.u., inf where rateA = 0
    angle_min: np.ndarray     # rad
    angle_max: np.ndarray


def _matrix(text: str, name: str) -> np.ndarray:
    block = re.search(rf"mpc\.{name}\s*=\s*\[(.*?)\];", text, re.S)
    if block is None:
        raise ValueError(f"no mpc.{name} matrix")
    rows = [re.sub(r"%.*", "", line).strip().rstrip(";").split()
            for line in block.group(1).splitlines()]
    return np.array([[float(v) for v in r] for r in rows if r])


def read_matpower(path: Path) -> Network:
    """The DC data of a MATPOWER version-2 case file (polynomial costs of degree <= 2)."""
    text = path.read_text()
    base = float(re.search(r"mpc\.baseMVA\s*=\s*([\d.eE+-]+)", text).group(1))
    bus, gen = _matrix(text, "bus"), _matrix(text, "gen")
    cost, branch = _matrix(text, "gencost"), _matrix(text, "branch")
    index = {int(b): k for k, b in enumerate(bus[:, 0])}
    on = gen[:, 7] > 0
    gen, cost = gen[on], cost[on]
    if np.any(cost[:, 0] != 2) or np.any(cost[:, 3] > 3):
        raise ValueError(f"{path.name}: only polynomial costs of degree <= 2 are read")
    ncoef = cost[:, 3].astype(int)
    c2 = np.where(ncoef == 3, cost[:, 4], 0.0)
    c1 = np.where(ncoef == 3, cost[:, 5], np.where(ncoef == 2, cost[:, 4], 0.0))
    branch = branch[branch[:, 10] > 0]
    tap = np.where(branch[:, 8] == 0.0, 1.0, branch[:, 8])
    rate = np.where(branch[:, 5] > 0, branch[:, 5] / base, np.inf)
    return Network(
        name=path.stem.removeprefix("pglib_opf_case"), base_mva=base,
        bus_ids=bus[:, 0].astype(int), demand=(bus[:, 2] + bus[:, 4]) / base,
        reference=int(np.flatnonzero(bus[:, 1] == 3)[0]), bus_area=bus[:, 6].astype(int),
        gen_bus=np.array([index[int(b)] for b in gen[:, 0]]),
        gen_min=gen[:, 9] / base, gen_max=gen[:, 8] / base,
        gen_cost=c1 * base, gen_cost2=2.0 * c2 * base**2,
        from_bus=np.array([index[int(b)] for b in branch[:, 0]]),
        to_bus=np.array([index[int(b)] for b in branch[:, 1]]),
        susceptance=1.0 / (branch[:, 3] * tap), shift=np.deg2rad(branch[:, 9]), rating=rate,
        angle_min=np.deg2rad(branch[:, 11]), angle_max=np.deg2rad(branch[:, 12]))


def partition(net: Network, areas: int) -> np.ndarray:
    """Area index (0..areas-1) per bus: the file's own areas if it has exactly ``areas``,
    else a modularity partition of the branch graph into ``areas`` parts."""
    own = np.unique(net.bus_area)
    if own.size == areas:
        return np.searchsorted(own, net.bus_area)
    graph = nx.Graph()
    graph.add_nodes_from(range(net.bus_ids.size))
    graph.add_edges_from(zip(net.from_bus.tolist(), net.to_bus.tolist()))
    parts = nx.community.greedy_modularity_communities(graph, cutoff=areas, best_n=areas)
    label = np.empty(net.bus_ids.size, dtype=int)
    for k, part in enumerate(sorted(parts, key=min)):
        label[list(part)] = k
    return label


def _rows(net: Network, buses: np.ndarray, col: dict[int, int], gens: np.ndarray,
          gen_col: dict[int, int], n: int):
    """Constraint rows (A, l, u) of the DC OPF on ``buses`` (balance), the branches touching
    them (flow and angle-difference limits) over the columns ``col`` (angles) and ``gen_col``."""
    rows: list[tuple[list[int], list[float], float, float]] = []
    own = set(buses.tolist())
    for b in buses:
        idx, val = [], []
        for g in gens[net.gen_bus[gens] == b]:
            idx.append(gen_col[int(g)])
            val.append(1.0)
        # Flow out of b on branch k: s_k (theta_f - theta_t - shift_k) with sign +1 at f.
        rhs = net.demand[b]
        for k in np.flatnonzero((net.from_bus == b) | (net.to_bus == b)):
            sign = 1.0 if net.from_bus[k] == b else -1.0
            s = net.susceptance[k]
            idx += [col[int(net.from_bus[k])], col[int(net.to_bus[k])]]
            val += [-sign * s, sign * s]
            rhs -= sign * s * net.shift[k]
        rows.append((idx, val, rhs, rhs))
    for k in np.flatnonzero(np.isin(net.from_bus, buses) | np.isin(net.to_bus, buses)):
        f, t = int(net.from_bus[k]), int(net.to_bus[k])
        if f not in own and t not in own:
            continue
        s, sh = net.susceptance[k], net.shift[k]
        if np.isfinite(net.rating[k]):
            rows.append(([col[f], col[t]], [s, -s], -net.rating[k] + s * sh,
                         net.rating[k] + s * sh))
        rows.append(([col[f], col[t]], [1.0, -1.0], net.angle_min[k], net.angle_max[k]))
    if net.reference in own:
        rows.append(([col[net.reference]], [1.0], 0.0, 0.0))
    A = sp.lil_matrix((len(rows), n))
    for r, (idx, val, _, _) in enumerate(rows):
        for i, v in zip(idx, val):
            A[r, i] += v
    return (A.tocsc(), np.array([r[2] for r in rows]), np.array([r[3] for r in rows]))


def area_models(net: Network, label: np.ndarray) -> list[dro.QPLocalModel]:
    """One QP per area: its generators and the angles of its buses and of the neighbours'
    buses at its tie lines; shared: every angle at a tie line (own and foreign end)."""
    models = []
    for a in np.unique(label):
        buses = np.flatnonzero(label == a)
        tie = (label[net.from_bus] != label[net.to_bus]) & (
            (label[net.from_bus] == a) | (label[net.to_bus] == a))
        boundary = np.unique(np.r_[net.from_bus[tie], net.to_bus[tie]])
        interior = np.setdiff1d(buses, boundary)
        gens = np.flatnonzero(np.isin(net.gen_bus, buses))
        n = gens.size + interior.size + boundary.size
        gen_col = {int(g): k for k, g in enumerate(gens)}
        col = {int(b): gens.size + k for k, b in enumerate(np.r_[interior, boundary])}
        A, lo, up = _rows(net, buses, col, gens, gen_col, n)
        bounds = sp.eye(n, gens.size, format="csc")
        A = sp.vstack([A, bounds.T], format="csc")
        lo, up = np.r_[lo, net.gen_min[gens]], np.r_[up, net.gen_max[gens]]
        q = np.r_[net.gen_cost[gens], np.zeros(n - gens.size)]
        P = sp.diags(np.r_[net.gen_cost2[gens], np.zeros(n - gens.size)])
        exchange = np.arange(n - boundary.size, n)
        models.append(dro.QPLocalModel(
            q, P=P, A=A, l=lo, u=up, exchange=exchange, name=f"area_{a}",
            variables=[f"theta_{net.bus_ids[b]}" for b in boundary]))
    return models


def centralized(net: Network) -> tuple[float, float]:
    """(objective $/h, seconds) of the whole-network DC OPF: HiGHS (``linprog``) for linear
    costs, Clarabel (interior point) where a case has quadratic ones."""
    nb, ng = net.bus_ids.size, net.gen_bus.size
    n = ng + nb
    A, lo, up = _rows(net, np.arange(nb), {b: ng + b for b in range(nb)},
                      np.arange(ng), {g: g for g in range(ng)}, n)
    c = np.r_[net.gen_cost, np.zeros(nb)]
    eq = lo == up
    has_up, has_lo = ~eq & np.isfinite(up), ~eq & np.isfinite(lo)
    t0 = time.perf_counter()
    if not np.any(net.gen_cost2):
        bounds = [(a, b) for a, b in zip(net.gen_min, net.gen_max)] + [(None, None)] * nb
        res = linprog(c, A_ub=sp.vstack([A[has_up], -A[has_lo]], format="csr"),
                      b_ub=np.r_[up[has_up], -lo[has_lo]], A_eq=A[eq], b_eq=lo[eq],
                      bounds=bounds, method="highs")
        if res.status != 0:
            raise RuntimeError(f"{net.name}: HiGHS: {res.message}")
        return float(res.fun), time.perf_counter() - t0
    gens = sp.eye(ng, n, format="csr")
    a = sp.vstack([A[eq], A[has_up], -A[has_lo], gens, -gens], format="csc")
    b = np.r_[lo[eq], up[has_up], -lo[has_lo], net.gen_max, -net.gen_min]
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-10
    P = sp.triu(sp.diags(np.r_[net.gen_cost2, np.zeros(nb)]), format="csc")
    sol = clarabel.DefaultSolver(P, c, a, b, [clarabel.ZeroConeT(int(eq.sum())),
                                              clarabel.NonnegativeConeT(b.size - int(eq.sum()))],
                                 settings).solve()
    if str(sol.status) != "Solved":
        raise RuntimeError(f"{net.name}: Clarabel: {sol.status}")
    return float(sol.obj_val), time.perf_counter() - t0


class ReachedOptimum(StoppingRule):
    """Measurement only (in process, reads the area models): stops the first time the areas'
    angles agree to ``mismatch`` rad (largest ``|x - z|``, PowerModelsADA's tolerance 1e-4) and
    their summed cost is within ``gap`` (relative) of the centralized optimum ``ref``; so every
    method is timed to the same accuracy, whatever its own stopping rule would say."""

    def __init__(self, models: list[dro.QPLocalModel], ref: float, gap: float = 1e-4,
                 mismatch: float = 1e-4) -> None:
        # A function, not the models: the coordinator deep-copies its rule, functions are kept.
        self.cost = lambda: sum(m.objective(None) for m in models)
        self.ref, self.gap, self.mismatch = ref, gap, mismatch

    def check(self, state, x_new: np.ndarray, residuals) -> bool:
        worst = float(np.max(np.abs(x_new - state.z[state.gidx])))
        return worst <= self.mismatch and abs(self.cost() - self.ref) <= self.gap * abs(self.ref)

    def __repr__(self) -> str:
        return f"ReachedOptimum(gap={self.gap}, mismatch={self.mismatch})"


def run_admm(models: list[dro.QPLocalModel], **kw) -> dro.ADMMResult:
    """One general-form consensus run of the area models (coordinator keywords ``kw``)."""
    coordinator = dro.ADMMGenericCoordinator(dro.ADMMGeneralConsensusGlobalActor(), **kw)
    return dro.run_coordinated_optimization(models, coordinator, dro.create_admm_start())


#: Plain ADMM: fixed penalty, no acceleration, no over-relaxation.
PLAIN = {"adaptive_rho": False, "acceleration": False, "alpha": 1.0}


def rounds_to_optimum(net: Network, label: np.ndarray, ref: float, max_iters: int,
                      **kw) -> int | None:
    """Rounds until :class:`ReachedOptimum` holds, a probe round included (``None``: not
    within ``max_iters``)."""
    models = area_models(net, label)
    res = run_admm(models, max_iters=max_iters, stopping=ReachedOptimum(models, ref), **kw)
    return res.iterations + res.probe_rounds if res.converged else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(AREAS))
    parser.add_argument("--max-iters", type=int, default=3000)
    parser.add_argument("--sweep", default="10,100,1000,10000,100000,1000000",
                        help="penalties tried as the initial rho of the defaults and as the "
                             "fixed rho of plain ADMM")
    args = parser.parse_args(argv)
    sweep = [float(v) for v in args.sweep.split(",")]

    def show(n: int | None) -> str:
        return f"{n}" if n is not None else f">{args.max_iters}"

    def best(runs: dict[float, int | None]) -> str:
        done = {r: n for r, n in runs.items() if n is not None}
        if not done:
            return "none"
        rho = min(done, key=done.get)
        return f"{done[rho]} (rho {rho:g})"

    print("rounds until the areas' angles agree to 1e-4 rad and their cost is within 1e-4 of "
          "the centralized optimum")
    print(f"{'case':12} {'areas':>5} {'shared':>6} {'rho 1':>8} {'defaults':>9} "
          f"{'defaults, best rho':>20} "
          f"{'plain ADMM, best rho':>21} | {'default stop: rounds, gap':>26}")
    for case in args.cases.split(","):
        net = read_matpower(DATA / f"pglib_opf_case{case}.m")
        label = partition(net, AREAS[case])
        ref, _ = centralized(net)
        shared = len({v for m in area_models(net, label) for v in m.variables})
        default = rounds_to_optimum(net, label, ref, args.max_iters, probe_rho=False)
        probed = rounds_to_optimum(net, label, ref, args.max_iters)
        started = {rho: rounds_to_optimum(net, label, ref, args.max_iters, rho=rho)
                   for rho in sweep}
        plain = {rho: rounds_to_optimum(net, label, ref, args.max_iters, rho=rho, **PLAIN)
                 for rho in sweep}
        res = run_admm(area_models(net, label), max_iters=10 * args.max_iters)
        stop = f"{res.iterations + res.probe_rounds} {abs(res.objective - ref) / abs(ref):.0e}"
        print(f"{case:12} {AREAS[case]:5d} {shared:6d} {show(default):>8} {show(probed):>9} "
              f"{best(started):>20} "
              f"{best(plain):>21} | {stop:>26}", flush=True)


if __name__ == "__main__":
    main()
