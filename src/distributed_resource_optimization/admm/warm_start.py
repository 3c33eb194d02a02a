"""Warm starts across runs: start ADMM from an earlier run's outputs, prices and penalty.

A :class:`WarmStart` names every entry by its actor and, in general-form consensus, its global
variable, so that it applies to a run whose actors come in another order, or to another day's
clearing once its labels are mapped (:meth:`WarmStart.relabel`). Entries the warm start does not
know start cold (output and price 0); a warm start that knows none of the run's entries is an
error, since it is then almost certainly the wrong file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from distributed_resource_optimization.admm.results import ADMMResult


@dataclass(frozen=True)
class WarmStart:
    """Per entry: ``actors[k]`` (actor name), ``entries[k]`` (the global variable's name in
    general-form consensus, else the position in the actor's output vector, as a string),
    ``outputs[k]`` (the actor's output, its own unit) and ``prices[k]`` (the price it saw, cost
    per unit of output); ``rho`` the penalty to go on with (``None``: the coordinator's)."""

    actors: tuple[str, ...]
    entries: tuple[str, ...]
    outputs: np.ndarray
    prices: np.ndarray
    rho: float | None = None

    def __post_init__(self) -> None:
        n = len(self.actors)
        outputs = np.asarray(self.outputs, dtype=float).ravel()
        prices = np.asarray(self.prices, dtype=float).ravel()
        if len(self.entries) != n or outputs.size != n or prices.size != n:
            raise ValueError(f"warm start: {n} actors, {len(self.entries)} entries, "
                             f"{outputs.size} outputs and {prices.size} prices must agree")
        for name, values in (("outputs", outputs), ("prices", prices)):
            if not np.all(np.isfinite(values)):
                k = int(np.flatnonzero(~np.isfinite(values))[0])
                raise ValueError(f"warm start: {name} of actor {self.actors[k]!r} entry "
                                 f"{self.entries[k]!r} is not finite")
        if self.rho is not None and not (np.isfinite(self.rho) and self.rho > 0):
            raise ValueError(f"warm start: rho must be a positive number, got {self.rho}")
        keys = list(zip(self.actors, self.entries))
        if len(set(keys)) != n:
            dup = next(k for i, k in enumerate(keys) if k in keys[:i])
            raise ValueError(f"warm start: actor {dup[0]!r} entry {dup[1]!r} appears twice")
        object.__setattr__(self, "actors", tuple(map(str, self.actors)))
        object.__setattr__(self, "entries", tuple(map(str, self.entries)))
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "prices", prices)

    @classmethod
    def from_result(cls, result: ADMMResult) -> WarmStart:
        """The last iterate of ``result``: its outputs with the prices they were solved at and
        its final penalty."""
        names = [n for n, xi in result.x.items() for _ in range(xi.size)]
        if result.entry_labels is not None:
            entries = [str(label) for label in result.entry_labels]
        else:
            entries = [str(k) for xi in result.x.values() for k in range(xi.size)]
        rho = float(result.rho_history[-1]) if result.rho_history.size else None
        return cls(tuple(names), tuple(entries), result.last_x, result.prices, rho)

    def relabel(self, entry: Callable[[str], str | None]) -> WarmStart:
        """The same warm start with every entry name mapped by ``entry``; entries it maps to
        ``None`` are left out (e.g. yesterday's time steps onto today's)."""
        keep = [(a, e2, x, y) for a, e, x, y in zip(self.actors, self.entries, self.outputs,
                                                   self.prices)
                if (e2 := entry(e)) is not None]
        if not keep:
            return WarmStart((), (), np.zeros(0), np.zeros(0), self.rho)
        actors, entries, xs, ys = zip(*keep)
        return WarmStart(actors, entries, np.array(xs), np.array(ys), self.rho)

    def match(self, actors: Sequence[str], entries: Sequence[str]
              ) -> tuple[np.ndarray, np.ndarray]:
        """Outputs and prices for a run's entries (``actors[k]``, ``entries[k]``); unknown
        entries get 0. Raises ``ValueError`` if none is known."""
        index = {key: k for k, key in enumerate(zip(self.actors, self.entries))}
        pos = np.array([index.get((str(a), str(e)), -1) for a, e in zip(actors, entries)],
                       dtype=int)
        known = pos >= 0
        if not known.any():
            sample = ", ".join(f"{a}/{e}" for a, e in list(zip(actors, entries))[:3])
            raise ValueError(f"warm start: none of this run's {len(pos)} entries (e.g. {sample}) "
                             f"is among its {len(self.actors)} entries; is it from another run "
                             "setup?")
        x = np.where(known, self.outputs[np.maximum(pos, 0)], 0.0)
        y = np.where(known, self.prices[np.maximum(pos, 0)], 0.0)
        return x, y


def as_warm_start(warm_start: WarmStart | ADMMResult | None) -> WarmStart | None:
    """``warm_start`` as a :class:`WarmStart` (from a result's last iterate)."""
    if warm_start is None or isinstance(warm_start, WarmStart):
        return warm_start
    if isinstance(warm_start, ADMMResult):
        return WarmStart.from_result(warm_start)
    raise TypeError(f"warm_start must be an ADMMResult or a WarmStart, got "
                    f"{type(warm_start).__name__}")
