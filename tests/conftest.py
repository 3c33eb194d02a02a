"""Shared helpers: random flex instances and their centralized reference solves (cvxpy+Clarabel)."""

from __future__ import annotations

import os
import resource
import time

# One thread per BLAS / OpenMP pool in this process, its test workers and every process a test
# starts itself (as AgentProcesses does for the agents it spawns): on 2 cores shared by two
# workers and many agent processes, each pool spinning up its threads costs CPU and helps none
# of these small problems (a building agent starts in 0.9 s of CPU instead of 1.2 s). Set
# before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from dataclasses import dataclass  # noqa: E402

from hypothesis import settings as _hypothesis_settings  # noqa: E402

# The suite draws the same examples on every run (a failure on CI is one anyone can reproduce,
# and a run that passed does not fail on the next for an unlucky draw); HYPOTHESIS_PROFILE=explore
# draws new ones, for looking for failures by hand.
_hypothesis_settings.register_profile("default", derandomize=True)
_hypothesis_settings.register_profile("explore", derandomize=False)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

import cvxpy as cp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import distributed_resource_optimization as dro  # noqa: E402


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first: the tests that spawn processes, then the other slow ones, then the rest
    (stable within each group). Run in parallel (``-n 2``, see pyproject.toml) the long ones
    then start at once and the short ones fill the gaps, instead of one worker finishing a
    30 s test alone at the end. Each module's tests run on one worker (``--dist loadfile``),
    so the results a module shares (a district, a reference market run, a broker, module
    fixtures and caches) are computed once."""
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("processes") is not None:
            return 0
        return 1 if item.get_closest_marker("slow") is not None else 2

    items.sort(key=rank)


#: With this variable set to a file name, each test appends a line to that file: the CPU time
#: of the test's process and of the child processes it waited for, its wall time (s) and its
#: node id, tab-separated (setup and teardown included). How the suite's time was found.
CPU_LOG_ENV = "DRO_TEST_CPU_LOG"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    log = os.environ.get(CPU_LOG_ENV)
    if not log:
        yield
        return

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    own, waited, wall = time.process_time(), children(), time.perf_counter()
    yield
    with open(log, "a") as fh:
        fh.write(f"{time.process_time() - own:.3f}\t{children() - waited:.3f}\t"
                 f"{time.perf_counter() - wall:.3f}\t{item.nodeid}\n")
