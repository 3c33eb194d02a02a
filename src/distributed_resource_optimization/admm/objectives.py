"""Global objectives ``g`` of the coordinator's z-update, given by their proximal operators.

Every objective acts on a vector ``s`` of the global coupling quantity (the aggregate output in the
sharing form, the agreed value in the consensus forms) and offers
``prox(w, t) = argmin_s g(s) + sum_k (s_k - w_k)**2 / (2 t_k)`` in closed form, so the z-update
costs a few vector operations whatever the number of actors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from distributed_resource_optimization.checks import as_finite_vector


class GlobalObjective(ABC):
    """A convex, separable objective ``g(s)`` with a closed-form proximal operator."""

    @abstractmethod
    def prox(self, w: np.ndarray, t: np.ndarray | float, data: TargetData | None) -> np.ndarray:
        """``argmin_s g(s) + ||s - w||^2 / (2 t)`` (``t`` > 0, scalar or per component)."""

    @abstractmethod
    def value(self, s: np.ndarray, data: TargetData | None) -> float:
        """``g(s)``."""

    def dual_project(self, y: np.ndarray, data: TargetData | None) -> np.ndarray | None:
        """The prices nearest ``y`` at which :meth:`conjugate_term` is finite, or ``None`` if
        this objective offers no Lagrangian bound (the default for user objectives)."""
        return None

    def conjugate_term(self, y: np.ndarray, data: TargetData | None) -> float:
        """``min_s g(s) - y's`` for prices ``y`` from :meth:`dual_project` (the global
        objective's share of the Lagrangian dual function)."""
        raise NotImplementedError(f"{type(self).__name__} offers no Lagrangian bound")

    def dual_scale(self, data: TargetData | None) -> float:
        """Typical size of the objective's (sub)gradient: a floor for residual balancing."""
        return 0.0 if data is None else float(np.linalg.norm(data.priorities))

    def check_data(self, data: TargetData | None, dimension: int) -> None:
        """Raise ``ValueError`` if ``data`` does not fit a global vector of length ``dimension``."""
        if data is not None and data.dimension != dimension:
            raise ValueError(
                f"target has length {data.dimension} but the actors' outputs have length {dimension}"
            )


#: Largest magnitude of a target entry or a priority (the run squares both). Squares then stay
#: below 1e300, and sums of them over up to 10^8 entries below float64's 1.8e308.
MAX_MAGNITUDE = 1e150


class TargetData:
    """Target vector and per-component priority weights of a target-distance objective.

    ``target`` in the unit of the actors' outputs (e.g. kW); ``priorities`` are non-negative weights,
    default ones. Entries beyond :data:`MAX_MAGNITUDE` (or with ``priorities[k] * target[k]**2``,
    the squared distance at a zero aggregate, beyond its square) are refused: the run's norms and
    objectives would overflow float64 and its stopping test would pass on ``inf`` thresholds.
    """

    def __init__(self, target: object, priorities: object = None) -> None:
        self.target = as_finite_vector(target, "target")
        self.priorities = np.ones_like(self.target) if priorities is None else \
            as_finite_vector(priorities, "priorities")
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the parameter and the entry if the data cannot be used
        (also called when a run starts: the arrays may have been changed since)."""
        target = as_finite_vector(self.target, "target")
        priorities = as_finite_vector(self.priorities, "priorities")
        if target.size == 0:
            raise ValueError("target must not be empty")
        if priorities.shape != target.shape:
            raise ValueError(f"priorities has length {priorities.size} but target has length "
                             f"{target.size}")
        if np.any(priorities < 0):
            k = int(np.flatnonzero(priorities < 0)[0])
            raise ValueError(f"priorities must be non-negative (priorities[{k}] = {priorities[k]:g})")
        for name, values, hint in (
                ("target", target, "express the data in larger units (e.g. MW instead of W)"),
                ("priorities", priorities, "scale the priorities and the actors' costs down")):
            big = np.flatnonzero(np.abs(values) > MAX_MAGNITUDE)
            if big.size:
                k = int(big[0])
                raise ValueError(f"{name}[{k}] = {values[k]:g} is too large: entries beyond "
                                 f"{MAX_MAGNITUDE:g} overflow float64 when the run squares them; "
                                 f"{hint}")
        with np.errstate(over="ignore"):  # an overflow to inf is what this test looks for
            squared = priorities * target**2
        big = np.flatnonzero(squared > MAX_MAGNITUDE**2)
        if big.size:
            k = int(big[0])
            raise ValueError(f"target[{k}] = {target[k]:g} with priorities[{k}] = {priorities[k]:g} "
                             f"is too large: the squared distance priorities[{k}] * target[{k}]**2 "
                             f"exceeds {MAX_MAGNITUDE**2:g} and overflows float64 in the run; "
                             "express the data in larger units or lower the priority")
        self.target, self.priorities = target, priorities

    @property
    def dimension(self) -> int:
        return int(self.target.size)

    def __repr__(self) -> str:
        return f"TargetData(target={self.target.tolist()}, priorities={self.priorities.tolist()})"


def _require(data: TargetData | None, who: str) -> TargetData:
    if data is None:
        raise ValueError(f"{who} needs problem data with a target (create_admm_sharing_data)")
    return data


class ADMMTargetDistanceObjective(GlobalObjective):
    """Weighted L1 distance to the target: ``g(s) = sum_k w_k |s_k - target_k|``."""

    def prox(self, w: np.ndarray, t: np.ndarray | float, data: TargetData | None) -> np.ndarray:
        d = _require(data, "ADMMTargetDistanceObjective")
        diff = w - d.target
        step = d.priorities * t
        # Soft thresholding around the target, as ``w`` moved towards it by ``step``, not as
        # ``target + soft(diff)``: with a target far above the outputs (1e20 kW against 10),
        # ``target + (w - target)`` rounds ``w`` away and every iterate would sit at 0.
        return np.where(np.abs(diff) > step, w - np.sign(diff) * step, d.target)

    def value(self, s: np.ndarray, data: TargetData | None) -> float:
        d = _require(data, "ADMMTargetDistanceObjective")
        return float(d.priorities @ np.abs(s - d.target))

    def dual_project(self, y: np.ndarray, data: TargetData | None) -> np.ndarray:
        d = _require(data, "ADMMTargetDistanceObjective")
        return np.clip(y, -d.priorities, d.priorities)  # |y_k| <= w_k: the conjugate's domain

    def conjugate_term(self, y: np.ndarray, data: TargetData | None) -> float:
        return float(-y @ _require(data, "ADMMTargetDistanceObjective").target)


class ADMMTargetDistanceSquaredObjective(GlobalObjective):
    """Weighted squared distance to the target: ``g(s) = sum_k w_k (s_k - target_k)**2``."""

    def prox(self, w: np.ndarray, t: np.ndarray | float, data: TargetData | None) -> np.ndarray:
        d = _require(data, "ADMMTargetDistanceSquaredObjective")
        a = 2.0 * d.priorities * t
        return (a * d.target + w) / (a + 1.0)

    def value(self, s: np.ndarray, data: TargetData | None) -> float:
        d = _require(data, "ADMMTargetDistanceSquaredObjective")
        return float(d.priorities @ (s - d.target) ** 2)

    def dual_project(self, y: np.ndarray, data: TargetData | None) -> np.ndarray:
        d = _require(data, "ADMMTargetDistanceSquaredObjective")
        return np.where(d.priorities > 0, y, 0.0)  # an unweighted entry has no finite price

    def conjugate_term(self, y: np.ndarray, data: TargetData | None) -> float:
        # min_s w (s - t)^2 - y s at s = t + y / (2 w): -y t - y^2 / (4 w).
        d = _require(data, "ADMMTargetDistanceSquaredObjective")
        w = d.priorities
        with np.errstate(divide="ignore", invalid="ignore"):
            quad = np.where(w > 0, y * y / (4.0 * np.where(w > 0, w, 1.0)), 0.0)
        return float(-y @ d.target - quad.sum())


class ZeroObjective(GlobalObjective):
    """``g = 0``: pure agreement (consensus) or pure sharing without a global cost."""

    def prox(self, w: np.ndarray, t: np.ndarray | float, data: TargetData | None) -> np.ndarray:
        return np.array(w, dtype=float, copy=True)

    def value(self, s: np.ndarray, data: TargetData | None) -> float:
        return 0.0

    def dual_project(self, y: np.ndarray, data: TargetData | None) -> np.ndarray:
        return np.zeros_like(y)  # min_s -y's is finite only at y = 0

    def conjugate_term(self, y: np.ndarray, data: TargetData | None) -> float:
        return 0.0

    def check_data(self, data: TargetData | None, dimension: int) -> None:
        return None
