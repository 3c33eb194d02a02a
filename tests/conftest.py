"""Shared helpers: random flex instances and their centralized reference solves (cvxpy+Clarabel)."""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import pytest

import distributed_resource_optimization as dro


@dataclass
class FlexInstance:
    caps: np.ndarray
    etas: np.ndarray
    P: np.ndarray
    target: np.ndarray
    priorities: np.ndarray

    def actors(self) -> list[dro.ADMMFlexActor]:
        return [dro.create_admm_flex_actor_one_to_many(c, e, p)
                for c, e, p in zip(self.caps, self.etas, self.P)]

    def objective(self, X: np.ndarray, squared: bool = False) -> float:
        dev = X.sum(axis=0) - self.target
        g = self.priorities @ (dev**2 if squared else np.abs(dev))
        return float((self.P * X).sum() + g)

    def centralized(self, squared: bool = False) -> tuple[float, np.ndarray]:
        """Independent reference: the whole problem as one cvxpy model solved by Clarabel."""
        D = self.caps[:, None] * self.etas
        s = cp.Variable(len(self.caps))
        agg = D.T @ s
        dev = agg - self.target
        g = self.priorities @ (cp.square(dev) if squared else cp.abs(dev))
        prob = cp.Problem(cp.Minimize((self.P * D).sum(axis=1) @ s + g), [s >= 0, s <= 1])
        prob.solve(solver="CLARABEL")
        assert prob.status == cp.OPTIMAL
        return float(prob.value), s.value[:, None] * D


def random_flex_instance(n: int, m: int, seed: int, with_P: bool) -> FlexInstance:
    rng = np.random.default_rng(seed)
    caps = rng.uniform(1.0, 20.0, n)
    etas = rng.uniform(-1.0, 1.0, (n, m))
    P = rng.uniform(-0.5, 1.0, (n, m)) if with_P else np.zeros((n, m))
    target = rng.uniform(-5.0, 5.0, m) * np.sqrt(n)
    priorities = rng.uniform(0.5, 5.0, m)
    return FlexInstance(caps, etas, P, target, priorities)


def relative_gap(value: float, reference: float) -> float:
    """|f - f*| / max(1, |f*|): relative, and absolute near a zero optimum."""
    return abs(value - reference) / max(1.0, abs(reference))


@pytest.fixture
def run():
    """Run a coordinated optimisation synchronously."""
    return dro.run_coordinated_optimization
