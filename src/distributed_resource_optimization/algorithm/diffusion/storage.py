"""A reservoir storage (battery, pumped hydro) as a :class:`~.diffusion.DiffusionActor`.

Its best response to the prices ``lam`` over the horizon is the exact solution of its local
problem, a small QP solved by an active-set method (DAQP; Clarabel if DAQP fails). Per step
``t`` (length 1: energy = power x steps), with discharge ``d_t`` and charge ``c_t`` (MW) and net
power ``P_t = d_t - c_t`` (positive = discharge)::

    min  sum_t  epsilon/2 * P_t**2 + charge_cost * P_t + discharge_cost * d_t - lam_t * P_t
    s.t. 0 <= d_t <= p_discharge_max,  0 <= c_t <= p_charge_max
         E_{t+1} = E_t - d_t / eta_discharge + eta_charge * c_t,   E_0 = e_initial * e_max
         soc_min * e_max <= E_t <= soc_max * e_max      (every step, t = 1..T)
         E_T = e_final * e_max      (or the reachable energy nearest to it)

Without the energy constraints the response is the reference's per-step rule: discharge
``(lam - charge_cost - discharge_cost) / epsilon`` above ``charge_cost + discharge_cost``,
charge ``(lam - charge_cost) / epsilon`` below ``charge_cost``, idle between. The energy
constraints are met exactly instead of by the reference's forward clipping and bisection on a
power bias. The split into ``d`` and ``c`` keeps the problem convex; charging and discharging in
the same step pays only at (shifted) prices below ``-discharge_cost * eta**2 / (1 - eta**2)``
(energy is then burnt), the usual relaxation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import clarabel
import daqp
import numpy as np
import scipy.sparse as sp

from distributed_resource_optimization.algorithm.diffusion.diffusion import DiffusionActor
from distributed_resource_optimization.algorithm.gossip import (
    check_int,
    check_real,
    float_array,
)

# DAQP's constraint types.
_INEQUALITY, _EQUALITY = 0, 5
# DAQP's feasibility tolerance (MW, MWh): far below any use, while a much tighter one (1e-10)
# makes its active-set iterations cycle on some instances.
_PRIMAL_TOL = 1e-8


class StorageSolveError(RuntimeError):
    """The storage's local QP could not be solved (neither DAQP nor Clarabel)."""


@dataclass(eq=False)
class ReservoirStorageDiffusionActor(DiffusionActor):
    """A storage in diffusion dispatch. ``e_max`` (MWh, > 0); ``p_charge_max`` /
    ``p_discharge_max`` (MW, >= 0); efficiencies ``eta_charge`` / ``eta_discharge`` in (0, 1];
    ``e_initial`` / ``e_final`` / ``soc_min`` / ``soc_max`` as fractions of ``e_max``
    (``soc_min <= e_initial, e_final <= soc_max``); ``charge_cost`` (currency/MWh: the price
    below which it charges), ``discharge_cost`` (>= 0, currency/MWh of discharge: the extra
    spread it needs to discharge); ``epsilon`` (> 0) the quadratic coefficient; ``n_guess`` the
    number of participants sharing the demand.

    After each call: ``P`` net power (MW, + discharge), ``E`` energy at the start of each step
    (MWh), ``e_end`` energy after the last step, ``P_charge`` / ``P_discharge`` the two parts.
    """

    e_max: float
    p_charge_max: float
    p_discharge_max: float
    eta_charge: float = 0.95
    eta_discharge: float = 0.95
    e_initial: float = 0.5
    e_final: float = 0.5
    soc_min: float = 0.0
    soc_max: float = 1.0
    charge_cost: float = 0.0
    discharge_cost: float = 0.0
    epsilon: float = 0.1
    n_guess: int = 10
    P: np.ndarray = field(default_factory=lambda: np.array([0.0]))
    E: np.ndarray = field(default_factory=lambda: np.array([0.0]))
    e_end: float = field(default=0.0, init=False)
    P_charge: np.ndarray = field(default_factory=lambda: np.array([0.0]), init=False)
    P_discharge: np.ndarray = field(default_factory=lambda: np.array([0.0]), init=False)
    _qp: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        check_real("e_max", self.e_max, positive=True)
        check_real("p_charge_max", self.p_charge_max, nonnegative=True)
        check_real("p_discharge_max", self.p_discharge_max, nonnegative=True)
        for name in ("eta_charge", "eta_discharge"):
            check_real(name, getattr(self, name), positive=True, high=1.0)
        check_real("soc_min", self.soc_min, low=0.0, high=1.0)
        check_real("soc_max", self.soc_max, low=0.0, high=1.0)
        if self.soc_min > self.soc_max:
            raise ValueError(f"soc_min must not exceed soc_max, got soc_min={self.soc_min!r} > "
                             f"soc_max={self.soc_max!r}")
        for name in ("e_initial", "e_final"):
            check_real(name, getattr(self, name), low=self.soc_min, high=self.soc_max)
        check_real("charge_cost", self.charge_cost)
        check_real("discharge_cost", self.discharge_cost, nonnegative=True)
        check_real("epsilon", self.epsilon, positive=True)
        check_int("n_guess", self.n_guess, low=1)

    # -- the local problem --------------------------------------------------------------------

    def reachable_final_energy(self, horizon: int) -> tuple[float, float]:
        """Lowest and highest energy (MWh) reachable after ``horizon`` steps: discharging,
        resp. charging, as fast as the power and energy limits allow."""
        e_lo, e_hi = self.soc_min * self.e_max, self.soc_max * self.e_max
        e0 = self.e_initial * self.e_max
        low = high = e0
        for _ in range(horizon):
            low -= min(self.p_discharge_max, (low - e_lo) * self.eta_discharge) \
                / self.eta_discharge
            high += self.eta_charge * min(self.p_charge_max, (e_hi - high) / self.eta_charge)
        return low, high

    def _problem(self, horizon: int) -> dict[str, Any]:
        """The QP's fixed parts for ``horizon`` (cached; rebuilt if a parameter changed)."""
        key = (horizon, self.e_max, self.p_charge_max, self.p_discharge_max, self.eta_charge,
               self.eta_discharge, self.e_initial, self.e_final, self.soc_min, self.soc_max,
               self.epsilon)
        if self._qp is not None and self._qp["key"] == key:
            return self._qp
        T = horizon
        eye = np.eye(T)
        H = self.epsilon * np.block([[eye, -eye], [-eye, eye]])
        lower = np.tril(np.ones((T, T)))
        # Row t: E_{t+1} - E_0 as a function of x = [d, c].
        A = np.hstack([-lower / self.eta_discharge, self.eta_charge * lower])
        e0 = self.e_initial * self.e_max
        row_lo = np.full(T, self.soc_min * self.e_max - e0)
        row_hi = np.full(T, self.soc_max * self.e_max - e0)
        sense = np.full(3 * T, _INEQUALITY, dtype=np.int32)
        low, high = self.reachable_final_energy(T)
        # Keep the terminal equality strictly inside the reachable interval: at its edge the
        # feasible set is a single face and round-off could make it look empty.
        margin = 1e-9 * self.e_max
        target = self.e_final * self.e_max
        if high - low > 2 * margin:
            target = min(max(target, low + margin), high - margin)
            row_lo[-1] = row_hi[-1] = target - e0
            sense[-1] = _EQUALITY
        bupper = np.concatenate([np.full(T, float(self.p_discharge_max)),
                                 np.full(T, float(self.p_charge_max)), row_hi])
        blower = np.concatenate([np.zeros(2 * T), row_lo])
        self._qp = {"key": key, "H": H, "A": np.ascontiguousarray(A), "bupper": bupper,
                    "blower": blower, "sense": sense, "target": target}
        return self._qp

    def _solve(self, lam: np.ndarray) -> np.ndarray:
        qp = self._problem(lam.size)
        thr = self.charge_cost + self.discharge_cost
        f = np.concatenate([thr - lam, lam - self.charge_cost])
        # A persistent model warm-starts from the last active set: the prices change little
        # between rounds, so this is several times faster than a cold solve.
        model = qp.get("model")
        if model is None:
            model = daqp.Model()
            model.settings = {"primal_tol": _PRIMAL_TOL}
            flag, _ = model.setup(qp["H"], f, qp["A"], qp["bupper"], qp["blower"], qp["sense"])
            qp["model"] = model if flag >= 0 else None
        elif model.update(f=f) < 0:
            qp["model"] = None
        if qp["model"] is not None:
            x, _, flag, _ = model.solve()
            if flag >= 1:
                return np.asarray(x, dtype=float)
            qp["model"] = None  # start afresh next time
        # Cold, then with DAQP's default (looser) feasibility tolerance, then Clarabel.
        for settings in ({"primal_tol": _PRIMAL_TOL}, {}):
            x, _, flag, _ = daqp.solve(qp["H"], f, qp["A"], qp["bupper"], qp["blower"],
                                       qp["sense"], **settings)
            if flag >= 1:
                return np.asarray(x, dtype=float)
        return self._solve_clarabel(qp, f, flag)

    def _solve_clarabel(self, qp: dict[str, Any], f: np.ndarray, daqp_flag: int) -> np.ndarray:
        n = f.size
        A, lo, hi = qp["A"], qp["blower"], qp["bupper"]
        eq = qp["sense"][n:] == _EQUALITY
        ineq = ~eq
        # Clarabel: A x + s = b, s in cones (zero cone first, then s >= 0).
        rows = [A[eq], A[ineq], -A[ineq], np.eye(n), -np.eye(n)]
        rhs = [hi[n:][eq], hi[n:][ineq], -lo[n:][ineq], hi[:n], -lo[:n]]
        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-10
        m_eq = int(eq.sum())
        cones = ([clarabel.ZeroConeT(m_eq)] if m_eq else []) + \
            [clarabel.NonnegativeConeT(sum(r.shape[0] for r in rows[1:]))]
        solver = clarabel.DefaultSolver(sp.triu(sp.csc_matrix(qp["H"]), format="csc"), f,
                                        sp.csc_matrix(np.vstack(rows)), np.concatenate(rhs),
                                        cones, settings)
        sol = solver.solve()
        if str(sol.status) not in ("Solved", "AlmostSolved"):
            raise StorageSolveError(f"storage schedule: DAQP (exit flag {daqp_flag}) and "
                                    f"Clarabel ({sol.status}) failed")
        return np.asarray(sol.x, dtype=float)

    def project_power(self, lam: np.ndarray, data: Any = None) -> np.ndarray:
        """Optimal schedule at the prices ``lam`` (see the module docstring); sets ``P``, ``E``,
        ``e_end``, ``P_charge``, ``P_discharge`` and returns ``P`` (MW)."""
        lam = float_array("lam", lam).reshape(-1)
        T = lam.size
        x = self._solve(lam)
        d = np.clip(x[:T], 0.0, self.p_discharge_max)
        c = np.clip(x[T:], 0.0, self.p_charge_max)
        # Round-off of the solver at an active bound (an idle step must read exactly 0).
        snap = 1e-12 * max(self.p_charge_max, self.p_discharge_max, 1.0)
        d[d <= snap] = 0.0
        c[c <= snap] = 0.0
        path = self.e_initial * self.e_max + np.concatenate(
            [[0.0], np.cumsum(self.eta_charge * c - d / self.eta_discharge)])
        self.P_discharge, self.P_charge = d, c
        self.P = d - c
        self.E = path[:-1]
        self.e_end = float(path[-1])
        return self.P

    def gradient_term(self, lam: np.ndarray, p_target: Any) -> np.ndarray:
        """``P(lam) - p_target / n_guess`` (MW; ``p_target`` ``None`` is 0)."""
        P = self.project_power(lam)
        target = np.asarray(p_target if p_target is not None else 0.0, dtype=float)
        return P - target / self.n_guess
