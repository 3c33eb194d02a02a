"""Safeguarded Anderson acceleration of the ADMM fixed-point iteration.

ADMM is a fixed-point iteration ``w <- T(w)`` on the coordinator's state (the global variable and
the scaled duals; in the sharing form also the actors' last outputs). Type-II Anderson acceleration
extrapolates from the last few evaluations (Walker & Ni 2011; for ADMM/Douglas-Rachford with the
safeguard used here see Zhang, O'Donoghue & Boyd 2020 and SCS 3): the next point is
``T(w) - (dW + dF) gamma`` with ``gamma`` the least-squares fit of the residual ``f = T(w) - w``.
If the residual at an extrapolated point is larger than at the last plain point, the step is
rejected, the run continues from the plain iterate and the memory is cleared, so the iteration
never does worse than plain ADMM by more than the rejected evaluations.
"""

from __future__ import annotations

import numpy as np


class AndersonAccelerator:
    """Type-II Anderson acceleration with memory ``memory`` and a residual safeguard."""

    def __init__(self, memory: int = 5, safeguard: float = 1.0, regularization: float = 1e-10
                 ) -> None:
        if memory < 1:
            raise ValueError(f"memory must be at least 1, got {memory}")
        self.memory = int(memory)
        self.safeguard = float(safeguard)
        self.regularization = float(regularization)
        self.accepted = 0
        self.rejected = 0
        self.reset()

    def reset(self) -> None:
        """Forget the history (e.g. after rho changed, which changes the map ``T``)."""
        self._dW: list[np.ndarray] = []
        self._dF: list[np.ndarray] = []
        self._w_prev: np.ndarray | None = None
        self._f_prev: np.ndarray | None = None
        self._last_extrapolated = False
        self._safe_Tw: np.ndarray | None = None
        self._safe_norm: float | None = None

    def next_point(self, w: np.ndarray, Tw: np.ndarray) -> np.ndarray:
        """Given the point ``w`` just evaluated and ``T(w)``, return the next point to evaluate."""
        f = Tw - w
        f_norm = float(np.linalg.norm(f))
        if (self._last_extrapolated and self._safe_norm is not None
                and f_norm > self.safeguard * self._safe_norm):
            self.rejected += 1
            fallback = self._safe_Tw
            self.reset()
            return fallback
        if self._last_extrapolated:
            self.accepted += 1
        self._safe_Tw = Tw.copy()
        self._safe_norm = f_norm
        if self._w_prev is not None:
            self._dW.append(w - self._w_prev)
            self._dF.append(f - self._f_prev)
            if len(self._dW) > self.memory:
                self._dW.pop(0)
                self._dF.pop(0)
        self._w_prev = w.copy()
        self._f_prev = f.copy()
        if not self._dF:
            self._last_extrapolated = False
            return Tw
        dF = np.stack(self._dF, axis=1)
        dW = np.stack(self._dW, axis=1)
        gram = dF.T @ dF
        gram += self.regularization * (np.trace(gram) + 1e-30) * np.eye(gram.shape[0])
        try:
            gamma = np.linalg.solve(gram, dF.T @ f)
        except np.linalg.LinAlgError:
            self.reset()
            self._last_extrapolated = False
            return Tw
        self._last_extrapolated = True
        return Tw - (dW + dF) @ gamma
