"""Sparse linear-program blocks: the common currency of the district models.

Each entity (thermal grid, electric grid, one building) contributes an :class:`LPBlock`. The centralized
problem stacks blocks and adds coupling equalities between the entities' copies of the exchanged
quantities; ADMM sub-problems use one block each plus augmented-Lagrangian terms. Both are assembled
from the same pieces, so the two can never disagree about a constraint.

Conventions: exchanged powers are demand drawn from the grid, positive = consumption, in kW (thermal
and active) and kvar (reactive); a variable group over time is stored timestep-major, i.e. index
``t * n + k`` for timestep ``t`` and DER ``k``; costs are in S$ for the whole horizon.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class LPBlock:
    """``min c @ x`` s.t. ``A_eq x = b_eq``, ``A_ub x <= b_ub``, ``lb <= x <= ub``.

    ``variables`` maps a group name (e.g. ``"p_th"``) to the index array of its entries in ``x``;
    ``eq_rows`` / ``ub_rows`` map a constraint family name (e.g. ``"branch_flow_max"``) to its row
    indices, so duals and binding constraints can be found by name. ``constant`` is a cost term that
    does not depend on ``x`` (S$).
    """

    n: int
    c: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    A_eq: sp.csr_matrix
    b_eq: np.ndarray
    A_ub: sp.csr_matrix
    b_ub: np.ndarray
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    eq_rows: dict[str, np.ndarray] = field(default_factory=dict)
    ub_rows: dict[str, np.ndarray] = field(default_factory=dict)
    constant: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        self.c = np.asarray(self.c, dtype=float)
        self.lb = np.asarray(self.lb, dtype=float)
        self.ub = np.asarray(self.ub, dtype=float)
        self.b_eq = np.asarray(self.b_eq, dtype=float)
        self.b_ub = np.asarray(self.b_ub, dtype=float)
        self.A_eq = sp.csr_matrix(self.A_eq)
        self.A_ub = sp.csr_matrix(self.A_ub)
        for label, arr, size in (("c", self.c, self.n), ("lb", self.lb, self.n),
                                 ("ub", self.ub, self.n)):
            if arr.shape != (size,):
                raise ValueError(f"LPBlock {self.name!r}: {label} has shape {arr.shape}, "
                                 f"expected ({size},)")
        if self.A_eq.shape != (self.b_eq.size, self.n):
            raise ValueError(f"LPBlock {self.name!r}: A_eq shape {self.A_eq.shape} does not match "
                             f"b_eq ({self.b_eq.size}) and n ({self.n})")
        if self.A_ub.shape != (self.b_ub.size, self.n):
            raise ValueError(f"LPBlock {self.name!r}: A_ub shape {self.A_ub.shape} does not match "
                             f"b_ub ({self.b_ub.size}) and n ({self.n})")
        self.variables = {k: np.asarray(v, dtype=int) for k, v in self.variables.items()}

    def objective(self, x: np.ndarray) -> float:
        """Cost of ``x`` in S$ (linear part plus constant)."""
        return float(self.c @ x + self.constant)


def check_step_models(model: Any, step_models: Sequence[Any] | None, n_t: int) -> list[Any]:
    """The linear model of each of ``n_t`` steps: ``step_models`` (one per step, each of the
    grid of ``model``) or ``model`` at every step."""
    if step_models is None:
        return [model] * n_t
    models = list(step_models)
    if len(models) != n_t:
        raise ValueError(f"step_models must hold one linear model per step ({n_t}), got "
                         f"{len(models)}")
    if any(m.grid is not model.grid for m in models):
        raise ValueError("step_models must be linear models of the same grid as model")
    return models


def per_step(models: Sequence[Any], matrix: Callable[[Any], np.ndarray]) -> sp.spmatrix:
    """Block-diagonal over time: step ``t``'s ``matrix(models[t])`` acts on step ``t``'s
    variables (one Kronecker product when every step has the same model, as before per-step
    models existed: the LP then stays the same, stored zeros included)."""
    if all(m is models[0] for m in models):
        return sp.kron(sp.identity(len(models), format="csr"), sp.csr_matrix(matrix(models[0])))
    return sp.block_diag([sp.csr_matrix(matrix(m)) for m in models], format="csr")
