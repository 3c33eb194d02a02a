"""The sharing form of ADMM (Boyd et al. 2011, sec. 7.3): ``min sum_i f_i(x_i) + g(sum_i x_i)``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from distributed_resource_optimization.admm.objectives import (
    ADMMTargetDistanceObjective,
    GlobalObjective,
    TargetData,
)
from distributed_resource_optimization.admm.polish import Polished
from distributed_resource_optimization.admm.results import ADMMStatus
from distributed_resource_optimization.admm.state import (
    ADMMSettings,
    FormState,
    LocalRequest,
    ParticipantSpec,
    ProblemForm,
    equal_output_size,
)
from distributed_resource_optimization.admm.stopping import Residuals


class SharingState(FormState):
    """Sharing ADMM (Boyd et al. 2011, sec. 7.3) in scaled form with a single dual ``u``.

    The per-actor copies ``z_i`` of the reformulation ``min sum f_i(x_i) + g(sum z_i)``,
    ``x_i = z_i`` are kept explicitly, so over-relaxation follows sec. 3.4.3 exactly.
    """

    def __init__(self, specs: Sequence[ParticipantSpec], objective: GlobalObjective,
                 data: TargetData | None, settings: ADMMSettings) -> None:
        super().__init__(specs, objective, data, settings)
        self.m = equal_output_size(self.specs, None if data is None else data.dimension, "sharing")
        for spec in self.specs:
            if spec.variables is not None or spec.rho_scale is not None:
                raise ValueError(f"actor {spec.names[0]!r}: the sharing form takes neither "
                                 "`variables` nor `rho_scale` (use general-form consensus)")
        self.n_actors = len(self.names)
        objective.check_data(data, self.m)
        self.X = self.x.reshape(self.n_actors, self.m)
        self.Z = np.zeros((self.n_actors, self.m))
        self.u = np.zeros(self.m)

    def _requests(self) -> list[LocalRequest]:
        # Every actor sees the same price: sent once per participant, not tiled over its actors
        # (see LocalRequest; at 10^6 actors that saves 24 MB per round).
        prices = self._per_participant(self._price_snapshot())
        return [LocalRequest(t, p, self.rho) for t, p in zip(self._split(self.Z.ravel()), prices)]

    def _per_participant(self, prices: np.ndarray) -> list[np.ndarray]:
        return [prices] * len(self.specs)  # one price vector, the same for every actor

    def _update(self, x_new: np.ndarray) -> Residuals:
        N, m, a = self.n_actors, self.m, self.settings.alpha
        X_new = x_new.reshape(N, m)
        Z_old = self.Z
        # Over-relaxation (Boyd et al. 2011, sec. 3.4.3); alpha = 1 is plain ADMM.
        # In place where it changes no bit: at 10^6 actors every N x m temporary is 24 MB.
        Xhat = a * X_new
        Xhat += (1.0 - a) * Z_old
        xhat_bar = Xhat.mean(axis=0)
        # z-update: the aggregate s = N zbar minimises g(s) + rho/(2N) ||s - N (xhat_bar + u)||^2
        s = self.objective.prox(N * (xhat_bar + self.u), N / self.rho, self.data)
        zbar = s / N
        Xhat -= xhat_bar
        Xhat += zbar
        self.Z = Xhat
        self.u = self.u + xhat_bar - zbar
        self.x[:] = x_new
        # Primal residual on the aggregate (sum_i x_i - sum_i z_i): the quantity the global
        # objective sees, so the tolerance bounds the objective error whatever the number of actors.
        agg = X_new.sum(axis=0)
        agg_norm = float(np.linalg.norm(agg))
        s_norm = float(np.linalg.norm(s))
        y_norm = float(np.sqrt(N) * self.rho * np.linalg.norm(self.u))
        root_p = np.sqrt(m)
        root_d = np.sqrt(N * m)
        dual_floor = self.objective.dual_scale(self.data) * np.sqrt(N)
        return Residuals(
            primal=float(np.linalg.norm(agg - s)),
            dual=float(self.rho * np.linalg.norm(self.Z - Z_old)),
            eps_primal=root_p * self.settings.abs_tol + self.settings.rel_tol * max(agg_norm, s_norm),
            eps_dual=root_d * self.settings.abs_tol + self.settings.rel_tol * y_norm,
            primal_scale=max(agg_norm, s_norm),
            dual_scale=max(y_norm, dual_floor),
        )

    def _rescale_duals(self, factor: float) -> None:
        self.u *= factor

    def _warm_state(self, x: np.ndarray, y: np.ndarray) -> None:
        # At a fixed point every z_i equals x_i; the price is the same for every actor.
        self.Z = x.reshape(self.n_actors, self.m).copy()
        self.u = y.reshape(self.n_actors, self.m).mean(axis=0) / self.rho

    def _get_state(self) -> np.ndarray:
        return np.concatenate([self.Z.ravel(), self.u])

    def _set_state(self, w: np.ndarray) -> None:
        self.Z = w[:self.Z.size].reshape(self.Z.shape).copy()
        self.u = w[self.Z.size:].copy()

    def global_value(self) -> np.ndarray:
        return self.X.sum(axis=0)

    def _price_snapshot(self) -> np.ndarray:
        return self.rho * self.u  # one price per entry, the same for every actor

    def _expand_prices(self, snapshot: np.ndarray) -> np.ndarray:
        return np.tile(snapshot, self.n_actors)

    def _bound_point(self) -> tuple[np.ndarray, float] | None:
        return self._bound_point_at(self._price_snapshot())

    def _bound_point_at(self, prices: np.ndarray) -> tuple[np.ndarray, float] | None:
        y = self.objective.dual_project(prices, self.data)
        if y is None:
            return None
        return y, self.objective.conjugate_term(y, self.data)

    def global_objective(self) -> float:
        return self.objective.value(self.X.sum(axis=0), self.data)

    # -- the polish (admm.polish): sector prices out, a certified point back ------------------

    def polish_prices(self) -> np.ndarray:
        """The sector prices a polish is asked at (the current ones)."""
        return self._price_snapshot().copy()

    def bound_prices_at(self, prices: np.ndarray) -> list[np.ndarray] | None:
        """Like :meth:`bound_prices`, at ``prices`` (projected) instead of the current ones:
        the next round's participants evaluate the Lagrangian bound there."""
        return self._bound_prices_from(self._bound_point_at(np.asarray(prices, dtype=float)))

    def adopt(self, polished: Polished, gap: float) -> None:
        """End the run at a polished point with certified gap ``gap``: its outputs, its prices
        (the scaled duals at the current rho) and the status."""
        self.x[:] = polished.x
        self.last_x = self.x
        self.Z = self.X.copy()
        # A polish runs towards a target (weighted L1), whose prices always project.
        self.u = self.objective.dual_project(polished.prices, self.data) / self.rho
        self._last_y = self._price_snapshot()
        # The certificate is this iteration's bound against the polished objective: the
        # history's last row says so too (residuals.csv, the figures).
        self.bound.objective = float(polished.objective)
        if self.bound.objectives:
            self.bound.objectives[-1] = self.bound.objective
        self.status = ADMMStatus.CONVERGED
        self.stopped_by = (f"polish at iteration {self.iteration} (certified gap {gap:.1e} <= "
                           f"{self.settings.polish_gap_tol:g})")


class ADMMSharingGlobalActor(ProblemForm):
    """Sharing form: ``min sum_i f_i(x_i) + g(sum_i x_i)`` (default ``g``: weighted L1 to target)."""

    @staticmethod
    def _default_objective() -> GlobalObjective:
        return ADMMTargetDistanceObjective()

    def create_state(self, specs: Sequence[ParticipantSpec], data: TargetData | None,
                     settings: ADMMSettings) -> FormState:
        return SharingState(specs, self.objective, data, settings)
