"""Active-set polish for sharing among flex actors (issue 26, part 2; docs/admm.md 8c).

A flex actor's output is ``s d`` with ``s`` in [0, 1] at the linear cost ``s c`` (``c = P'd``). At
prices ``y`` (per sector, the same for every actor) its reduced cost is ``c + y'd``: clearly
positive, it stays at ``s = 0``; clearly negative, at ``s = 1``. Only the actors near zero are
undecided. In a *polish* each actor that is undecided within ``tolerance`` (relative to the size
of its terms, ``|P|'|d| + |y|'|d|``) offers its segment (its full output ``d`` and cost ``c``);
the others send their fixed outputs and cost. The coordinator clears the offered segments against the target
(weighted L1 distance: a small LP over the offering actors, HiGHS) and gets the outputs of every
actor and the prices that support them. The run accepts the polished point when its certified
gap (its objective against the Lagrangian bound the participants evaluate at those prices, one
scalar each) is within the run's gap tolerance; otherwise ADMM goes on.

What travels: from an offering actor its full output and cost (a bid: its whole segment); from
the others their outputs, which ADMM's replies carry anyway, and one summed cost per
participant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

#: Default relative band of the reduced cost within which an actor offers its segment (measured
#: on the flex family at N = 1000: 60-90 of 1000 actors offer; 0.01 left too few to clear).
DEFAULT_POLISH_TOLERANCE = 0.05
#: Default: a polish is tried every this many iterations.
DEFAULT_POLISH_EVERY = 10


@dataclass
class PolishOffer:
    """One participant's answer to a polish request, over its ``n`` actors of ``m`` outputs.

    ``fixed``: flat outputs (``n * m``), zero for the offering actors; ``offered``: per actor 1.0
    if it offers its segment, else 0.0; ``directions`` (``k x m``) and ``costs`` (``k``): the
    offering actors' full outputs (kW) and their costs at full output, in the actors' order;
    ``fixed_cost``: the summed cost of the fixed outputs."""

    fixed: np.ndarray
    offered: np.ndarray
    directions: np.ndarray
    costs: np.ndarray
    fixed_cost: float

    def check(self, n_actors: int, m: int) -> None:
        """``ValueError`` unless the arrays fit ``n_actors`` actors of ``m`` outputs."""
        k = int(np.count_nonzero(self.offered))
        if self.fixed.shape != (n_actors * m,) or self.offered.shape != (n_actors,):
            raise ValueError(f"a polish offer for {n_actors} actors of {m} outputs holds "
                             f"{self.fixed.size} fixed outputs and {self.offered.size} flags")
        if not np.isin(self.offered, (0.0, 1.0)).all():
            raise ValueError("a polish offer's flags must be 0 or 1")
        if self.directions.shape != (k, m) or self.costs.shape != (k,):
            raise ValueError(f"a polish offer flags {k} actors but holds {self.costs.size} costs "
                             f"and {self.directions.size} direction entries")
        if not (np.isfinite(self.fixed).all() and np.isfinite(self.directions).all()
                and np.isfinite(self.costs).all() and np.isfinite(self.fixed_cost)):
            raise ValueError("a polish offer must be finite")


def flex_offer(directions: np.ndarray, unit_costs: np.ndarray, costs: np.ndarray,
               price: np.ndarray, tolerance: float) -> PolishOffer:
    """The polish offer of flex actors with full outputs ``directions`` (``n x m``), costs per
    unit output ``unit_costs`` (``n x m``) and costs at full output ``costs`` (``n``) at the
    sector prices ``price`` (``m``)."""
    D = np.asarray(directions, dtype=float)
    c = np.asarray(costs, dtype=float)
    y = np.asarray(price, dtype=float)
    reduced = c + D @ y
    absD = np.abs(D)
    size = np.einsum("ij,ij->i", np.abs(np.asarray(unit_costs, dtype=float)), absD) \
        + absD @ np.abs(y)
    has_output = absD.sum(axis=1) > 0
    offered = has_output & (np.abs(reduced) <= tolerance * size)
    s = np.where(offered | (reduced >= 0), 0.0, 1.0)
    fixed = s[:, None] * D
    return PolishOffer(fixed.ravel() + 0.0, offered.astype(float), D[offered].copy(),
                       c[offered].copy(), float(s @ c))


def concat_offers(offers: Sequence[PolishOffer], m: int) -> PolishOffer:
    """One offer of several groups of actors, in order."""
    return PolishOffer(np.concatenate([o.fixed for o in offers]),
                       np.concatenate([o.offered for o in offers]),
                       np.concatenate([o.directions.reshape(-1, m) for o in offers]),
                       np.concatenate([o.costs for o in offers]),
                       float(sum(o.fixed_cost for o in offers)))


@dataclass
class Polished:
    """A cleared polish: every actor's outputs (flat, the run's order), the sector prices that
    support them, and the objective there (actors' costs plus the target distance)."""

    x: np.ndarray
    prices: np.ndarray
    objective: float


def clear_offers(offers: Sequence[PolishOffer], target: np.ndarray,
                 priorities: np.ndarray) -> Polished | None:
    """Clear the offered segments against ``target`` (``m``, weighted L1 with ``priorities``)
    given the fixed outputs: ``min sum c_j s_j + sum_k w_k |a_k + sum_j s_j d_jk - T_k|`` over
    ``s`` in [0, 1]^k (``a``: the fixed outputs' sum). ``None`` if HiGHS finds no solution."""
    T = np.asarray(target, dtype=float)
    w = np.asarray(priorities, dtype=float)
    m = T.size
    every = concat_offers(offers, m)  # all participants' actors, in the run's order
    X = every.fixed.reshape(-1, m).copy()
    a = X.sum(axis=0)
    D, c = every.directions, every.costs
    k = c.size
    # Variables s (k) and t (m) with t_k >= |a_k + D's - T_k|.
    Dt = sp.csr_matrix(D.T)
    eye = sp.identity(m, format="csr")
    A = sp.vstack([sp.hstack([Dt, -eye]), sp.hstack([-Dt, -eye])], format="csr")
    b = np.concatenate([T - a, a - T])
    res = linprog(np.concatenate([c, w]), A_ub=A, b_ub=b,
                  bounds=[(0.0, 1.0)] * k + [(0.0, None)] * m, method="highs")
    if res.status != 0 or res.x is None:
        return None
    s = np.clip(res.x[:k], 0.0, 1.0)
    marginals = res.ineqlin.marginals  # d objective / d b_ub (<= 0 for binding rows)
    prices = marginals[m:] - marginals[:m]  # the price of one more unit of the sum
    X[np.flatnonzero(every.offered)] = s[:, None] * D
    objective = float(every.fixed_cost + c @ s + w @ np.abs(X.sum(axis=0) - T))
    return Polished(X.ravel(), prices, objective)
