"""Market entities of the ADMM market clearing (seed sec. 2.2, sub-problems (2), (3), (4)).

Each entity is a :class:`~distributed_resource_optimization.local.base.LocalModel` built once from
its :class:`~distributed_resource_optimization.energy.lp.LPBlock`. Its ADMM output ``x`` is the
vector of *exchanged* demands only (thermal ``p_th``, active ``p``, reactive ``q``; kW / kvar,
time-major ``t * n_der + k``); the block's other variables (source powers, building states,
controls, outputs) stay private. The proximal step

    min  c' w + sum_j rho_j / 2 (x_j - v_j)^2    s.t. block constraints,   x = w[exchanged]

is a QP whose structure never changes. By default (``solver="auto"`` with the ``free`` groups
named) it is reduced once to the free variables (the grids' nodal demands, the buildings' controls)
and split into independent parts (per timestep, per building), each kept in a DAQP dual
active-set workspace (:class:`~distributed_resource_optimization.local.reduced.ReducedProxQP`):
per iteration only the linear term changes, and the Hessian when rho changes; every solve starts
from the previous active set. ``solver="clarabel"`` keeps the whole block in one Clarabel
interior-point solver instead (set up once; about 30-200x slower per solve and accurate to about
1 kW, see ``docs/market_clearing.md``).

Global variable names are strings ``<group>@<timestep>@<der>`` (:func:`variable_name`, e.g.
``"p_th@2017-01-02T14:00@22"``) with ``group`` in ``p_th``, ``p``, ``q``, the timestep's start time
and the DER name, so they mean the same in every process. ``rho_scale`` is ``1 / ref**2`` per entry
with ``ref`` a per-quantity reference power (mean reference demand of the buildings), so rho is in
S$ per (per-unit)^2 and thermal and electric quantities converge alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from distributed_resource_optimization.energy.lp import LPBlock
from distributed_resource_optimization.local.base import LocalModelError
from distributed_resource_optimization.local.lp import LPLocalModel

#: Exchanged variable groups in output order.
GROUPS: tuple[str, ...] = ("p_th", "p", "q")
#: Separator of the parts of a global variable name ``<group>@<timestep>@<der>``.
NAME_SEPARATOR = "@"


def variable_name(group: str, timestep: pd.Timestamp, der: str) -> str:
    """Global variable name of an exchanged demand, e.g. ``"p_th@2017-01-02T14:00@22"``."""
    return f"{group}{NAME_SEPARATOR}{timestep:%Y-%m-%dT%H:%M}{NAME_SEPARATOR}{der}"


def variable_group(name: str) -> str:
    """The group (``p_th``, ``p``, ``q``) of a global variable name."""
    return name.split(NAME_SEPARATOR, 1)[0]


def reference_powers(district) -> dict[str, float]:
    """Per-quantity reference power (kW / kvar): mean linearisation reference demand."""
    return {"p_th": float(np.mean(np.abs(district.p_th_ref_kw))),
            "p": float(np.mean(np.abs(district.p_ref_kw))),
            "q": float(np.mean(np.abs(district.q_ref_kvar)))}


class LPBlockEntity(LPLocalModel):
    """An ADMM actor whose private model is an :class:`LPBlock` (cost S$, linear constraints).

    ``groups`` names the exchanged variable groups of the block (in output order), ``ders`` the
    DER names of the columns of each group (the block's groups are time-major ``t*len(ders)+k``);
    ``ref`` maps a group to its reference power for ``rho_scale``. ``free`` names the groups
    that determine all others through the equalities (enables the reduced DAQP solve of
    :class:`LPLocalModel`); ``solver`` is ``"auto"`` (DAQP if ``free`` is given, else Clarabel),
    ``"daqp"`` or ``"clarabel"``. ``eps`` is the Clarabel gap and feasibility tolerance.
    """

    def __init__(self, block: LPBlock, groups: Sequence[str], ders: Sequence[str],
                 ref: dict[str, float], timesteps: pd.DatetimeIndex, *, name: str,
                 eps: float = 1e-8, free: Sequence[str] | None = None,
                 solver: str = "auto") -> None:
        self.block = block
        if solver not in ("auto", "daqp", "clarabel"):
            raise ValueError(f"solver must be 'auto', 'daqp' or 'clarabel', got {solver!r}")
        if solver == "daqp" and free is None:
            raise ValueError(f"{name}: solver 'daqp' needs the free variable groups (free=...)")
        self.solver = "clarabel" if solver == "clarabel" or free is None else "daqp"
        self.free = None if free is None else tuple(free)
        for g in self.free or ():
            if g not in block.variables:
                raise ValueError(f"{name}: free group {g!r} is not a variable group of the block "
                                 f"(groups: {sorted(block.variables)})")
        self.groups = tuple(groups)
        self.ders = [str(d) for d in ders]
        n_der = len(self.ders)
        idx, variables, scale = [], [], []
        for g in self.groups:
            cols = np.asarray(block.variables[g], dtype=int)
            if cols.size % n_der:
                raise ValueError(f"{name}: group {g!r} has {cols.size} entries, not a multiple "
                                 f"of {n_der} DERs")
            idx.append(cols)
            if cols.size != len(timesteps) * n_der:
                raise ValueError(f"{name}: group {g!r} has {cols.size} entries, expected "
                                 f"{len(timesteps)} timesteps x {n_der} DERs")
            variables.extend(variable_name(g, t, d) for t in timesteps for d in self.ders)
            scale.append(np.full(cols.size, 1.0 / ref[g] ** 2))
        exchange = np.concatenate(idx)
        self.n_timesteps = idx[0].size // n_der
        free_cols = (np.concatenate([block.variables[g] for g in self.free]) if self.free
                     else np.zeros(0, dtype=int))
        super().__init__(block.c, block.A_eq, block.b_eq, block.A_ub, block.b_ub, block.lb,
                         block.ub, exchange, free_cols, name=name, variables=variables,
                         rho_scale=np.concatenate(scale))
        self.eps = float(eps)
        self._solver = None
        self._rho: np.ndarray | None = None

    # -- setup -------------------------------------------------------------------------------
    def prepare(self) -> None:
        if self.solver == "daqp":
            super().prepare()
        else:
            self._prepare_clarabel()

    def _prepare_clarabel(self) -> None:
        import clarabel

        b = self.block
        n = b.n
        fl, fu = np.isfinite(b.lb), np.isfinite(b.ub)
        eye = sp.identity(n, format="csr")
        a = sp.vstack([b.A_eq, b.A_ub, eye[fu], -eye[fl]], format="csr")
        rhs = np.concatenate([b.b_eq, b.b_ub, b.ub[fu], -b.lb[fl]])
        # Row scaling: the thermal rows have coefficients of 1e-8..1e-5 per kW.
        big = np.asarray(abs(a).max(axis=1).todense()).ravel()
        s = np.where(big > 0, 1.0 / np.where(big > 0, big, 1.0), 1.0)
        a = (sp.diags(s) @ a).tocsc()
        rhs = rhs * s
        cones = [clarabel.ZeroConeT(b.b_eq.size),
                 clarabel.NonnegativeConeT(b.b_ub.size + int(fu.sum()) + int(fl.sum()))]
        # Diagonal Hessian on the exchanged columns only; the pattern never changes, so later
        # rho changes update the values in place (stored in increasing column order).
        self._order = np.argsort(self.exchange_index)
        diag = np.zeros(n)
        diag[self.exchange_index] = 1.0
        p = sp.csc_matrix(sp.diags(diag))
        p.eliminate_zeros()
        p.sort_indices()
        self._data = (a, rhs, cones)
        self._pattern = p
        self._rho = np.ones(self.size)
        self._setup()
        self._run(b.c.copy())

    def _setup(self, robust: bool = False) -> None:
        import clarabel

        settings = clarabel.DefaultSettings()
        settings.verbose = False
        settings.presolve_enable = False  # keep the problem data layout fixed for updates
        settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = self.eps
        if robust:  # after a failed solve: more equilibration, stricter infeasibility test
            settings.equilibrate_max_iter = 50
            settings.tol_infeas_abs = settings.tol_infeas_rel = 1e-12
            settings.max_iter = 500
        p = self._pattern.copy()
        p.data = np.ascontiguousarray(self._rho[self._order], dtype=float)
        a, rhs, cones = self._data
        self._solver = clarabel.DefaultSolver(p, self.block.c.copy(), a, rhs, cones, settings)

    def _run(self, q: np.ndarray) -> np.ndarray:
        self._solver.update(q=q)
        sol = self._solver.solve()
        if str(sol.status) not in ("Solved", "AlmostSolved"):
            # Interior-point misdiagnoses (e.g. "DualInfeasible" at a large rho): the proximal
            # problem is feasible and bounded, so retry once from a fresh, more robust setup.
            self._setup(robust=True)
            self._solver.update(q=q)
            sol = self._solver.solve()
        status = str(sol.status)
        if "Infeasible" in status:
            raise LocalModelError(f"actor {self.label!r}: local model is infeasible ({status})")
        if status not in ("Solved", "AlmostSolved"):
            raise LocalModelError(f"actor {self.label!r}: local QP not solved ({status})")
        self._w = np.asarray(sol.x, dtype=float)
        return self._w[self.exchange_index]

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        if self.solver == "daqp":
            return super().solve(v, rho)
        if self._solver is None:
            self._prepare_clarabel()
        r = np.broadcast_to(np.asarray(rho, dtype=float), (self.size,)).copy()
        if not np.array_equal(r, self._rho):
            self._solver.update(P=np.ascontiguousarray(r[self._order]))
            self._rho = r
        q = self.block.c.copy()
        q[self.exchange_index] -= r * np.asarray(v, dtype=float)
        return self._run(q)

    # -- results -----------------------------------------------------------------------------
    def group_values(self, group: str, x: np.ndarray | None = None) -> np.ndarray:
        """``(T, n_der)`` values of exchanged group ``group`` from output ``x`` (default own)."""
        x = self.x if x is None else x
        pos = self.groups.index(group)
        m = self.n_timesteps * len(self.ders)
        return np.asarray(x[pos * m:(pos + 1) * m]).reshape(self.n_timesteps, len(self.ders))


def thermal_grid_operator(district, limits, ref: dict[str, float] | None = None,
                          **kwargs) -> LPBlockEntity:
    """Sub-problem (2): thermal grid block with the scenario's limits; exchanges ``p_th``."""
    from distributed_resource_optimization.energy.thermal_grid import thermal_grid_operator_block

    block = thermal_grid_operator_block(district.thermal_model, district.price,
                                        district.timestep_h, district.eta_ch, limits.thermal)
    return LPBlockEntity(block, ("p_th",), district.der_names, ref or reference_powers(district),
                         district.timesteps, name="thermal_grid_operator", free=("p_th",), **kwargs)


def electric_grid_operator(district, limits, ref: dict[str, float] | None = None,
                           **kwargs) -> LPBlockEntity:
    """Sub-problem (3): electric grid block with the scenario's limits; exchanges ``p``, ``q``."""
    from distributed_resource_optimization.energy.electric_grid import (
        electric_grid_operator_block,
    )

    block = electric_grid_operator_block(district.electric_model, district.price,
                                         district.timestep_h, limits.electric)
    return LPBlockEntity(block, ("p", "q"), district.der_names, ref or reference_powers(district),
                         district.timesteps, name="electric_grid_operator", free=("p", "q"),
                         **kwargs)


def flexible_load_aggregator(district, ref: dict[str, float] | None = None,
                             **kwargs) -> LPBlockEntity:
    """Sub-problem (4): all buildings in one block; exchanges ``p_th``, ``p``, ``q``."""
    from distributed_resource_optimization.energy.buildings import aggregator_block

    block = aggregator_block(district.buildings, district.timestep_h)
    return LPBlockEntity(block, GROUPS, district.der_names, ref or reference_powers(district),
                         district.timesteps, name="aggregator",
                         free=[f"{m.name}/c" for m in district.buildings], **kwargs)


def building_agents(district, ref: dict[str, float] | None = None,
                    **kwargs) -> list[LPBlockEntity]:
    """Per-building mode: one agent per building (``building_<name>``), exchanging its own
    ``p_th``, ``p``, ``q`` columns."""
    from distributed_resource_optimization.energy.buildings import building_block

    ref = ref or reference_powers(district)
    return [LPBlockEntity(building_block(m, district.timestep_h), GROUPS, [str(m.name)], ref,
                          district.timesteps, name=f"building_{m.name}", free=("c",), **kwargs)
            for m in district.buildings]


def market_entities(district, scenario: str, *, agents: str = "entities",
                    **kwargs) -> list[LPBlockEntity]:
    """The actors of the market clearing of ``scenario``: thermal grid operator, electric grid
    operator and either the aggregator (``agents="entities"``) or one agent per building
    (``"per-building"``). Keyword arguments (``eps``) go to :class:`LPBlockEntity`."""
    from distributed_resource_optimization.energy.scenarios import scenario_limits

    if agents not in ("entities", "per-building"):
        raise ValueError(f"agents must be 'entities' or 'per-building', got {agents!r}")
    limits = scenario_limits(district, scenario)
    ref = reference_powers(district)
    actors = [thermal_grid_operator(district, limits, ref, **kwargs),
              electric_grid_operator(district, limits, ref, **kwargs)]
    if agents == "entities":
        actors.append(flexible_load_aggregator(district, ref, **kwargs))
    else:
        actors.extend(building_agents(district, ref, **kwargs))
    return actors
