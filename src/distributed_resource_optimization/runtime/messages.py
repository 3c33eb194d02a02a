"""The coordination protocol: plain dataclasses, so any carrier can serialise them.

A run: coordinator -> every participant ``JoinRequest``; participant -> ``JoinReply`` (its actors'
names and output sizes: no model data); then per iteration ``SolveRequest`` (exchange target,
price, rho) -> ``SolveReply`` (the outputs); finally ``FinishRequest`` -> ``FinishReply``.
Participants report failures in ``error`` instead of going silent.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np


@dataclass
class JoinRequest:
    session: str


@dataclass
class JoinReply:
    session: str
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    variables: tuple[tuple[Hashable, ...] | None, ...] | None = None
    rho_scale: tuple[np.ndarray | None, ...] | None = None
    error: str | None = None


@dataclass
class SolveRequest:
    session: str
    iteration: int
    target: np.ndarray
    price: np.ndarray
    rho: float | np.ndarray


@dataclass
class SolveReply:
    session: str
    iteration: int
    x: np.ndarray | None
    error: str | None = None


@dataclass
class FinishRequest:
    session: str
    x: np.ndarray
    converged: bool


@dataclass
class FinishReply:
    session: str
    objective: float | None = None
    error: str | None = None
