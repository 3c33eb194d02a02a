"""The consensus forms of ADMM (Boyd et al. 2011, sec. 7.1-7.2): consensus, all actors agree
on one ``z``; general-form consensus, each actor's ``x_i`` holds a named subset of the global
variables, ``x_i = z[G(i)]``, and ``z`` is the (rho-weighted) average over each variable's owners."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from distributed_resource_optimization.admm.objectives import GlobalObjective, TargetData
from distributed_resource_optimization.admm.state import (
    ADMMSettings,
    FormState,
    LocalRequest,
    ParticipantSpec,
    ProblemForm,
    equal_output_size,
)
from distributed_resource_optimization.admm.stopping import Residuals


class GeneralConsensusState(FormState):
    """General-form consensus ADMM (Boyd et al. 2011, sec. 7.2), rho per entry via ``rho_scale``.

    Plain consensus is the special case where every actor owns all ``m`` entries.
    """

    def __init__(self, specs: Sequence[ParticipantSpec], objective: GlobalObjective,
                 data: TargetData | None, settings: ADMMSettings, *, full: bool) -> None:
        super().__init__(specs, objective, data, settings)
        self.full = full
        keys: dict[Hashable, int] = {}
        gidx: list[int] = []
        scale: list[np.ndarray] = []
        anchored: list[np.ndarray] = []
        if full:
            m = equal_output_size(self.specs, None if data is None else data.dimension, "consensus")
        for spec in self.specs:
            vars_ = spec.variables or (None,) * len(spec.sizes)
            scales = spec.rho_scale or (None,) * len(spec.sizes)
            for name, size, v, sc in zip(spec.names, spec.sizes, vars_, scales):
                if full:
                    if v is not None:
                        raise ValueError(f"actor {name!r} declares `variables`: consensus means "
                                         "every actor holds all entries (use general-form "
                                         "consensus for subsets)")
                    v = tuple(range(m))
                elif v is None:
                    raise ValueError(
                        f"actor {name!r} declares no global variables: general-form consensus "
                        "needs each actor's `variables` (one name per output entry)")
                if len(v) != size:
                    raise ValueError(f"actor {name!r} names {len(v)} variables for {size} outputs")
                if len(set(v)) != len(v):
                    raise ValueError(f"actor {name!r} names a global variable twice")
                for key in v:
                    gidx.append(keys.setdefault(key, len(keys)))
                anchored.append(np.full(size, name in spec.bound_at_support))
                if sc is None:
                    scale.append(np.ones(size))
                else:
                    sc = np.asarray(sc, dtype=float).ravel()
                    if sc.shape != (size,) or not np.all(np.isfinite(sc)) or np.any(sc <= 0):
                        raise ValueError(f"actor {name!r}: rho_scale must be {size} positive "
                                         "finite numbers")
                    scale.append(sc)
        self.keys = list(keys)
        self.gidx = np.asarray(gidx, dtype=int)
        self.scale = np.concatenate(scale)
        #: Entries whose term of the bound is priced at their support prices.
        self._anchored = np.concatenate(anchored) if anchored else np.zeros(0, dtype=bool)
        self.G = len(self.keys)
        objective.check_data(data, self.G)
        self.weight = np.bincount(self.gidx, weights=self.scale, minlength=self.G)
        self.owners = np.bincount(self.gidx, minlength=self.G)
        self.z = np.zeros(self.G)
        self.u = np.zeros(self.x.size)
        #: Per actor entry the prices at which the actor's last output is its exact best
        #: response (:class:`~.stopping.PriceSupportRule` compares them with the prices).
        self.support_prices = np.zeros(self.x.size)
        self._sqrt_weight = np.sqrt(self.weight)
        self._sqrt_scale = np.sqrt(self.scale)

    def _requests(self) -> list[LocalRequest]:
        target = self.z[self.gidx]
        return [LocalRequest(t, p, self.rho) for t, p in zip(self._split(target),
                                                             self._split(self.prices()))]

    def _update(self, x_new: np.ndarray) -> Residuals:
        rho = self._entry_rho(self.rho)
        z_old = self.z[self.gidx]
        # Over-relaxation (Boyd et al. 2011, sec. 3.4.3); alpha = 1 is plain ADMM.
        xhat = self.settings.alpha * x_new + (1.0 - self.settings.alpha) * z_old
        w = np.bincount(self.gidx, weights=self.scale * (xhat + self.u),
                        minlength=self.G) / self.weight
        z_new = self.objective.prox(w, 1.0 / (self.rho * self.weight), self.data)
        z_rep = z_new[self.gidx]
        dz = z_rep - z_old
        # Each actor's output is exactly its best response to the prices
        # p + rho (x - target) of its request (the optimality condition of its proximal step).
        self.support_prices = rho * (self.u + x_new - z_old)
        self.u = self.u + xhat - z_rep
        self.x[:] = x_new
        self.z = z_new
        root = np.sqrt(self.x.size)
        x_norm = float(np.linalg.norm(x_new))
        z_norm = float(np.linalg.norm(z_rep))
        y_norm = float(np.linalg.norm(rho * self.u))
        return Residuals(
            primal=float(np.linalg.norm(x_new - z_rep)),
            dual=float(np.linalg.norm(rho * dz)),
            eps_primal=root * self.settings.abs_tol + self.settings.rel_tol * max(x_norm, z_norm),
            eps_dual=root * self.settings.abs_tol + self.settings.rel_tol * y_norm,
            primal_scale=max(x_norm, z_norm),
            dual_scale=y_norm,
        )

    def _rescale_duals(self, factor: float) -> None:
        self.u *= factor

    def _entry_rho(self, rho: float) -> np.ndarray:
        return rho * self.scale

    def _warm_state(self, x: np.ndarray, y: np.ndarray) -> None:
        # The z-update's average of the outputs; the scaled duals of the given prices.
        self.z = np.bincount(self.gidx, weights=self.scale * x, minlength=self.G) / self.weight
        self.u = y / (self.rho * self.scale)

    def _get_state(self) -> np.ndarray:
        # In the rho-weighted norm ADMM is firmly nonexpansive; Anderson's least-squares fit and
        # its safeguard then weigh entries of different units (kW vs kvar) alike.
        return np.concatenate([self._sqrt_weight * self.z, self._sqrt_scale * self.u])

    def _set_state(self, w: np.ndarray) -> None:
        self.z = w[:self.G] / self._sqrt_weight
        self.u = w[self.G:] / self._sqrt_scale

    def global_value(self) -> np.ndarray:
        return self.z.copy()

    def global_objective(self) -> float:
        return self.objective.value(self.z, self.data)

    def global_labels(self) -> list | None:
        return list(self.keys) if not self.full else None

    def entry_labels(self) -> list | None:
        return [self.keys[k] for k in self.gidx] if not self.full else None

    def _price_snapshot(self) -> np.ndarray:
        return self.rho * self.scale * self.u

    def _bound_point(self) -> tuple[np.ndarray, float] | None:
        y = self.prices()
        anchored = self._anchored if self.iteration else np.zeros_like(self._anchored)
        # An anchored actor (bound_at_support) is priced where its last outputs are its exact
        # best response, so its term is exact instead of loose by |price error| x its range:
        # measured on the market (thermal-congestion, 60 min), the certified gap at the
        # study's stop 4.9e-4 -> 9.5e-6 (true gap 7.2e-6).
        y = np.where(anchored, self.support_prices, y)
        c = np.bincount(self.gidx, weights=y, minlength=self.G)
        c_proj = self.objective.dual_project(c, self.data)
        if c_proj is None:
            return None
        # Move each variable's free owners' prices, in proportion to their penalty scale, so
        # that the owners' prices sum to the projected price (the z-update keeps that sum
        # already; acceleration, the first iterations and anchored owners may not). A
        # variable whose owners are all anchored moves them all.
        free_scale = np.where(anchored, 0.0, self.scale)
        free_weight = np.bincount(self.gidx, weights=free_scale, minlength=self.G)
        movable = np.where((free_weight > 0)[self.gidx], free_scale, self.scale)
        total = np.where(free_weight > 0, free_weight, self.weight)
        y = y + (movable * (c_proj - c)[self.gidx]) / total[self.gidx]
        return y, self.objective.conjugate_term(c_proj, self.data)


class ADMMConsensusGlobalActor(ProblemForm):
    """Consensus form: all actors agree on one ``z``; ``min sum_i f_i(z) + g(z)`` (default g = 0)."""

    def create_state(self, specs: Sequence[ParticipantSpec], data: TargetData | None,
                     settings: ADMMSettings) -> FormState:
        return GeneralConsensusState(specs, self.objective, data, settings, full=True)


class ADMMGeneralConsensusGlobalActor(ProblemForm):
    """General-form consensus: each actor owns the global variables its ``variables`` name.

    ``z`` of a variable is the rho-weighted average of its owners' values; with ``g`` (default 0)
    acting on the global vector ordered as the variables first appear among the actors.
    """

    def create_state(self, specs: Sequence[ParticipantSpec], data: TargetData | None,
                     settings: ADMMSettings) -> FormState:
        return GeneralConsensusState(specs, self.objective, data, settings, full=False)
