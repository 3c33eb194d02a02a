"""Typed results of an ADMM run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from distributed_resource_optimization.figures.convergence import admm_convergence

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr


class ActorValues(Mapping):
    """Read-only mapping actor name -> its part of one flat array, in the actors' order.

    Holds one array and the names, not an object per actor, so a run of a million actors
    returns its outputs in one array. With ``scalar=True`` each actor has one value, a float or
    ``None`` where the array holds NaN (a cost the model could not say).
    """

    def __init__(self, names: Sequence[str], offsets: np.ndarray | None, flat: np.ndarray,
                 scalar: bool = False) -> None:
        self._names = list(names)
        self._offsets = offsets
        self.values_array = flat
        self._scalar = scalar
        self._index: dict[str, int] | None = None

    def __getitem__(self, name: str):
        if self._index is None:
            self._index = {n: i for i, n in enumerate(self._names)}
        i = self._index[name]
        if self._scalar:
            v = float(self.values_array[i])
            return None if np.isnan(v) else v
        return self.values_array[self._offsets[i]:self._offsets[i + 1]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def at(self, i: int):
        """The value of the ``i``-th actor (negative counts from the end)."""
        return self[self._names[i]]

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        shown = ", ".join(f"{n!r}: {self[n]!r}" for n in self._names[:3])
        more = ", ..." if len(self._names) > 3 else ""
        return f"ActorValues({{{shown}{more}}}, {len(self)} actors)"


#: Round trips of a coordinated run besides its iterations: the start (participants join and
#: receive the problem) and the finish (final outputs and prices).
ROUND_TRIPS_OUTSIDE = 2

#: Below this |objective| (in the objective's unit) the certified gap is absolute, not relative.
GAP_FLOOR = 1.0


def certified_gap(objective, lower_bound, floor: float = GAP_FLOOR):
    """``(objective - lower_bound) / max(|objective|, floor)``, for numbers or arrays."""
    return (objective - lower_bound) / np.maximum(np.abs(objective), floor)


class ADMMStatus(str, Enum):
    """How a run ended."""

    CONVERGED = "converged"
    MAX_ITERATIONS = "max_iterations"


@dataclass(repr=False)
class ADMMResult:
    """Outcome of a coordinated optimisation.

    ``x`` maps each actor's name to its final output vector; ``z`` is the global variable (the
    aggregate output for sharing, the agreed values for consensus forms; in general-form consensus
    ``z_labels`` names its entries); residual histories hold
    one entry per iteration; ``objective`` is ``sum_i f_i(x_i) + g`` at the final outputs when every
    actor can evaluate its local cost, else ``None``; ``actor_objectives`` holds the ``f_i(x_i)``
    it sums; ``wall_time_s`` in seconds.
    """

    status: ADMMStatus
    iterations: int
    x: Mapping[str, np.ndarray]
    z: np.ndarray
    objective: float | None
    primal_residuals: np.ndarray
    dual_residuals: np.ndarray
    eps_primal: np.ndarray
    eps_dual: np.ndarray
    rho_history: np.ndarray
    wall_time_s: float
    z_labels: list | None = None
    #: Each actor's own cost ``f_i(x_i)`` at its final output (``None`` where unknown).
    actor_objectives: Mapping[str, float | None] = field(default_factory=dict)
    #: Per iteration, as the coordinator's runtime measured it: wall time (s, requests out to
    #: the z-update done), messages and encoded bytes moved (empty where not measured).
    iteration_wall_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    iteration_messages: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    iteration_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    #: Requests the coordinator sent again because no reply had come in time (lost or slow
    #: messages; 0 on a reliable, prompt carrier).
    resent_requests: int = 0
    #: Polish rounds of the run (``polish``, :mod:`.polish`): rounds of messages besides the
    #: iterations (each iteration's measured wall time and messages include its polish).
    polish_rounds: int = 0
    #: Probe rounds of the run (``probe_rho``: one before the first iteration).
    probe_rounds: int = 0
    #: Per participant (carrier address) the rounds it missed and was carried with its last
    #: outputs (``stale_rounds`` of the coordinator; only participants that missed any).
    stale_replies: dict[str, int] = field(default_factory=dict)
    #: Messages dropped unread during the run, by the agents (not from their coordinator) and by
    #: the carriers (undecodable, oversized, not of the protocol).
    rejected_messages: int = 0
    #: The best Lagrangian lower bound on the optimum the run found and the objective at the
    #: final outputs it is compared with; ``None`` where the run evaluated none (see
    #: :mod:`.stopping`).
    lower_bound: float | None = None
    bound_objective: float | None = None
    #: :func:`certified_gap` of ``bound_objective`` and ``lower_bound``, or ``None``.
    gap_certified: float | None = None
    #: Per iteration the lower bound evaluated there and the objective (NaN where not
    #: evaluated).
    lower_bound_history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    objective_history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Per iteration what the stopping rule measured (name -> values; e.g. the seed's
    #: residuals per quantity).
    stopping_history: dict[str, np.ndarray] = field(default_factory=dict)
    #: The actors' outputs and prices (unscaled duals) of the last iteration, flat in the
    #: order of ``x`` (``x`` is the best iterate when the run stopped at ``max_iters``); see
    #: :meth:`per_actor`.
    last_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prices: np.ndarray = field(default_factory=lambda: np.zeros(0))

    #: General-form consensus: the global variable of each entry of ``last_x`` / ``prices``.
    entry_labels: list | None = None
    #: In words, the rule that ended the run: the stopping rule that held (e.g.
    #: ``"CertifiedGapRule(gap_tol=0.0001, ...)"``) or ``"max_iters (5000)"``.
    stopped_by: str = ""
    #: The method of the run: ``"admm"``, or ``"interior-point"`` (then ``iterations`` counts
    #: rounds of messages, and the histories have one entry per Newton iteration: the
    #: coupling's violation as ``primal``, the largest stationarity residual as ``dual``, both
    #: relative, without thresholds or rho).
    method: str = "admm"

    def per_actor(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """A flat array in the order of ``x`` (``last_x``, ``prices``) split per actor."""
        out, start = {}, 0
        for name, xi in self.x.items():
            out[name] = flat[start:start + xi.size]
            start += xi.size
        return out

    @property
    def gap_history(self) -> np.ndarray:
        """Certified relative gap per iteration, against the best bound up to it (NaN where
        not evaluated)."""
        lb = self.lower_bound_history
        return certified_gap(self.objective_history, np.fmax.accumulate(lb) if lb.size else lb)

    @property
    def converged(self) -> bool:
        return self.status is ADMMStatus.CONVERGED

    # The reference package returns the actors' outputs as a list: a result reads as one too
    # (``len``, ``result[i]``, iteration; ``result["name"]`` by actor name).
    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, key: int | str) -> np.ndarray:
        if isinstance(key, str):
            return self.x[key]
        if isinstance(self.x, ActorValues):
            return self.x.at(key)
        return list(self.x.values())[key]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.x.values())

    @property
    def history_frame(self) -> pd.DataFrame:
        """Per iteration (rows ``iteration`` from 1): the engine's ``primal`` and ``dual``
        residuals and their thresholds ``eps_primal``, ``eps_dual``, the penalty ``rho``, and
        where evaluated the ``lower_bound``, ``objective`` and certified ``gap`` (NaN
        elsewhere); in the problem's own units."""
        # pandas is heavy and an agent process never labels results: loaded when asked for
        import pandas as pd

        n = len(self.primal_residuals)

        def column(values: np.ndarray) -> np.ndarray:
            out = np.full(n, np.nan)
            values = np.asarray(values, dtype=float)[:n]
            out[:values.size] = values
            return out

        frame = pd.DataFrame({
            "primal": column(self.primal_residuals), "dual": column(self.dual_residuals),
            "eps_primal": column(self.eps_primal), "eps_dual": column(self.eps_dual),
            "rho": column(self.rho_history), "lower_bound": column(self.lower_bound_history),
            "objective": column(self.objective_history), "gap": column(self.gap_history)},
            index=pd.RangeIndex(1, n + 1, name="iteration"))
        return frame

    def wall_time_at_latency(self, one_way_s: float) -> float:
        """The run's wall time (s) had every message taken ``one_way_s`` seconds more: one round
        trip per iteration, polish and probe round, and one each to start and to finish the run, on
        top of the time measured (what the participants and the coordinator spent)."""
        return self.wall_time_s + 2.0 * float(one_way_s) * self.round_trips

    @property
    def round_trips(self) -> int:
        """Round trips between the coordinator and the participants: every iteration, polish
        and probe round, and the start and the finish."""
        return self.iterations + self.polish_rounds + self.probe_rounds + ROUND_TRIPS_OUTSIDE

    @property
    def plot(self) -> ADMMPlots:
        """Figures of the run: ``plot.convergence(gap_tol=None)`` (a matplotlib figure)."""
        return ADMMPlots(self)

    def to_xarray(self) -> xr.Dataset:
        """The run as a dataset: the per-iteration history (:attr:`history_frame`) over
        ``iteration``, the actors' final outputs ``x`` over ``entry`` (coordinate ``actor``
        names each entry's actor), with the last iteration's ``prices`` where recorded; status,
        iterations, objective, certified gap and wall time as attributes."""
        # xarray is heavy and an agent process never labels results: loaded when asked for
        import xarray as xr

        history = self.history_frame
        variables = {name: ("iteration", history[name].to_numpy()) for name in history.columns}
        sizes = [np.size(v) for v in self.x.values()]
        flat = (np.asarray(self.x.values_array, dtype=float) if isinstance(self.x, ActorValues)
                else np.concatenate([np.ravel(v) for v in self.x.values()]) if sizes
                else np.zeros(0))
        variables["x"] = ("entry", flat)
        if self.prices.size == flat.size and flat.size:
            variables["prices"] = ("entry", np.asarray(self.prices, dtype=float))
        coords = {"iteration": history.index.to_numpy(),
                  "actor": ("entry", np.repeat(np.array(list(self.x), dtype=str), sizes))}
        attrs = {"status": self.status.value, "iterations": self.iterations,
                 "stopped_by": self.stopped_by, "wall_time_s": self.wall_time_s}
        for name in ("objective", "lower_bound", "gap_certified"):
            if getattr(self, name) is not None:
                attrs[name] = float(getattr(self, name))
        return xr.Dataset(variables, coords=coords, attrs=attrs)

    def __repr__(self) -> str:
        obj = "n/a" if self.objective is None else f"{self.objective:.6g}"
        gap = "" if self.gap_certified is None else f", gap_certified={self.gap_certified:.2g}"
        return (f"ADMMResult(status={self.status.value}, iterations={self.iterations}, "
                f"objective={obj}{gap}, actors={len(self.x)}, "
                f"wall_time_s={self.wall_time_s:.3g},\n  stopped_by={self.stopped_by!r})")


class ADMMPlots:
    """Figures of an :class:`ADMMResult` (its ``plot`` accessor)."""

    def __init__(self, result: ADMMResult) -> None:
        self._result = result

    def convergence(self, gap_tol: float | None = None, title: str | None = None):
        """The certified gap (where evaluated; with ``gap_tol`` if the run stopped on it) and
        the residuals with their thresholds per iteration."""
        r = self._result
        if r.method == "interior-point":
            newton = len(r.primal_residuals) - 1
            return admm_convergence(r.history_frame, gap_tol=gap_tol, newton=True,
                                    title=title or (
                f"Interior-point convergence ({r.iterations} rounds, {newton} Newton "
                f"iterations, {r.status.value})"))
        return admm_convergence(r.history_frame, gap_tol=gap_tol, title=title or (
            f"ADMM convergence ({r.iterations} iterations, {r.status.value})"))
