"""Safeguarded Anderson acceleration of the ADMM fixed-point iteration.

ADMM is a fixed-point iteration ``w <- T(w)`` on the coordinator's state (the global variable and
the scaled duals; in the sharing form also the actors' last outputs). Type-II Anderson acceleration
extrapolates from the last few evaluations (Walker & Ni 2011; for ADMM/Douglas-Rachford with the
safeguard used here see Zhang, O'Donoghue & Boyd 2020 and SCS 3): the next point is
``T(w) - (dW + dF) gamma`` with ``gamma`` the least-squares fit of the residual ``f = T(w) - w``.
If the residual at an extrapolated point is larger than at the last plain point, the step is
rejected, the run continues from the plain iterate and the memory is cleared, so the iteration
never does worse than plain ADMM by more than the rejected evaluations. An extrapolation that
would move more than ``max_step`` times the plain step is not taken at all: where the map is
locally a translation (duals that drift while the actors sit at their bounds), the residuals'
differences vanish and the fit sends the point to 1e10 and beyond. The history holds at most
``max_bytes`` (default 256 MB): for a state of 3 million entries (sharing, a million actors with
three outputs) that is 5 pairs of differences instead of 10 (measured on a reachable target with
10^5 actors: memory 10, 5, 2 take 100, 60, 80 iterations).

After a rejected extrapolation the next ones wait: ``1, 2, 4, ...`` plain iterations (at most
``max_pause``, default 32; halved again by every accepted one). On the degenerate tails of LPs the
fit keeps proposing points the safeguard rejects, and each rejection costs an iteration and the
history; measured on the flex sharing family (N = 1000, 10 seeds, certified gap 1e-4): median
1235 -> 825 iterations, worst 6240 -> 1190; warm-started from a nearby instance, worst 10 000
(the limit) -> 1060; the market clearing's embedded day the same or fewer (electric-congestion
30 min 2282 -> 2181, voltage 948 -> 879), but 3 of 24 runs on perturbed days more
(docs/admm.md 5a). ``max_pause=0`` is the former behaviour.
"""

from __future__ import annotations

import numpy as np

#: Longest wait (plain iterations) after rejected extrapolations (module doc).
DEFAULT_MAX_PAUSE = 32


class AndersonAccelerator:
    """Type-II Anderson acceleration with memory ``memory`` and a residual safeguard."""

    def __init__(self, memory: int = 5, safeguard: float = 1.0, regularization: float = 1e-10,
                 max_step: float = 1e4, max_bytes: float = 256e6, max_pause: int = DEFAULT_MAX_PAUSE) -> None:
        if memory < 1:
            raise ValueError(f"memory must be at least 1, got {memory}")
        self.memory = int(memory)
        self.safeguard = float(safeguard)
        self.regularization = float(regularization)
        self.max_step = float(max_step)
        self.max_bytes = float(max_bytes)
        self.max_pause = int(max_pause)
        self.accepted = 0
        self.rejected = 0
        self._pause_len = 0
        self._pause_left = 0
        self.reset()

    def reset(self) -> None:
        """Forget the history (e.g. after rho changed, which changes the map ``T``)."""
        # Differences live in preallocated (memory, n) ring buffers, one contiguous row each,
        # with their Gram matrix kept up to date entry by entry: per step one new row's inner
        # products instead of re-stacking and re-multiplying the whole history (the
        # least-squares fit does not depend on the order of the rows).
        # Rows of dW + dF (what the step needs) and of dF (what the fit needs): keeping the sum
        # instead of dW saves a (memory x n) temporary per step, 120 MB at 10^6 flex actors.
        self._dS: np.ndarray | None = None
        self._dF: np.ndarray | None = None
        self._gram = np.zeros((self.memory, self.memory))
        self._count = 0
        self._next = 0
        self._w_prev: np.ndarray | None = None
        self._f_prev: np.ndarray | None = None
        self._last_extrapolated = False
        self._safe_Tw: np.ndarray | None = None
        self._safe_norm: float | None = None

    def next_point(self, w: np.ndarray, Tw: np.ndarray) -> np.ndarray:
        """Given the point ``w`` just evaluated and ``T(w)``, return the next point to evaluate.

        Both arrays are kept, not copied (three state-sized copies are 72 MB at 10^6 flex
        actors): the caller must not change them afterwards."""
        f = Tw - w
        f_norm = float(np.linalg.norm(f))
        if (self._last_extrapolated and self._safe_norm is not None
                and f_norm > self.safeguard * self._safe_norm):
            self.rejected += 1
            fallback = self._safe_Tw
            self.reset()
            if self.max_pause:
                self._pause_len = min(max(1, 2 * self._pause_len), self.max_pause)
                self._pause_left = self._pause_len
            return fallback
        if self._last_extrapolated:
            self.accepted += 1
            self._pause_len //= 2
        self._safe_Tw = Tw
        self._safe_norm = f_norm
        if self._w_prev is not None:
            if self._dF is None or self._dF.shape[1] != w.size:
                # Two float64 rows per remembered step.
                self.memory = min(self.memory, max(1, int(self.max_bytes // (16 * w.size))))
                self._dS = np.empty((self.memory, w.size))
                self._dF = np.empty((self.memory, w.size))
            j = self._next
            np.subtract(w, self._w_prev, out=self._dS[j])
            np.subtract(f, self._f_prev, out=self._dF[j])
            self._dS[j] += self._dF[j]
            self._count = min(self._count + 1, self.memory)
            self._next = (j + 1) % self.memory
            col = self._dF[:self._count] @ self._dF[j]
            self._gram[j, :self._count] = col
            self._gram[:self._count, j] = col
        self._w_prev = w
        self._f_prev = f
        k = self._count
        if self._pause_left > 0:
            self._pause_left -= 1
            self._last_extrapolated = False
            return Tw
        if k == 0:
            self._last_extrapolated = False
            return Tw
        dF, dS = self._dF[:k], self._dS[:k]
        gram = self._gram[:k, :k].copy()
        gram += self.regularization * (np.trace(gram) + 1e-30) * np.eye(k)
        try:
            gamma = np.linalg.solve(gram, dF @ f)
        except np.linalg.LinAlgError:
            self.reset()
            self._last_extrapolated = False
            return Tw
        # One product with the sum: dW @ gamma and dF @ gamma can be large and nearly opposite
        # (gamma is large when the fit is ill-conditioned), and subtracting them separately
        # loses the digits that matter (measured: flex sharing N = 1000 stalled).
        step = gamma @ dS
        if not np.linalg.norm(step) <= self.max_step * f_norm:  # also NaN
            self._last_extrapolated = False
            return Tw
        self._last_extrapolated = True
        return Tw - step
