"""Flex sharing at scale: random flex-actor fleets solved by sharing ADMM and centrally.

The instance family of ``benchmarks/flex_sharing.py``: ``N`` flex actors with capacities
``U(1, 20)`` kW and efficiencies ``U(-1, 1)`` on ``M`` sectors, linear costs ``P ~ U(-0.5, 1)``
S$/kW, a target ``U(-5, 5) sqrt(N)`` kW per sector with priorities ``U(0.5, 5)``, drawn from one
seeded generator (:func:`random_flex_sharing_instance`). The actors are split into ``K`` contiguous
shares; each share is one participant, a vectorised fleet, and in the ``tcp`` / ``mqtt`` runtimes
one ``dro agent`` process that draws the same instance from the seed and keeps only its share
(:func:`fleet_share`): nothing but the seed and the share's bounds is given to it.

:func:`centralized_flex_sharing` solves the same problem as one LP (Clarabel) for reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import clarabel
import numpy as np
import scipy.sparse as sp

from distributed_resource_optimization.admm.coordinator import (
    DEFAULT_SHARING_GAP_TOL,
    ADMMGenericCoordinator,
    as_warm_start,
    create_admm_sharing_data,
    create_sharing_target_distance_admm_coordinator,
)
from distributed_resource_optimization.admm.results import ADMMResult, ADMMStatus
from distributed_resource_optimization.checks import positive_int
from distributed_resource_optimization.interior_point.sharing import InteriorPointCoordinator
from distributed_resource_optimization.local.flex import FlexFleet
from distributed_resource_optimization.runtime.engine import coordinate_in_process
from distributed_resource_optimization.runtime.processes import (
    DEFAULT_BROKER,
    RUNTIMES,
    coordinate_agents,
    new_topic_prefix,
)
from distributed_resource_optimization.runtime.sync import run_sync
from distributed_resource_optimization.runtime.transport import (
    InProcessTransport,
    Transport,
    transport_argument,
)

if TYPE_CHECKING:
    import xarray as xr


@dataclass(frozen=True)
class FlexSharingInstance:
    """Capacities (kW, ``(N,)``), efficiencies ``(N, M)``, costs ``P`` (S$/kW, ``(N, M)``), target
    (kW, ``(M,)``) and priorities (S$/kW, ``(M,)``) of a flex sharing problem."""

    capacities_kw: np.ndarray
    etas: np.ndarray
    costs: np.ndarray
    target_kw: np.ndarray
    priorities: np.ndarray

    @property
    def n_actors(self) -> int:
        return int(self.capacities_kw.size)

    @property
    def n_sectors(self) -> int:
        return int(self.target_kw.size)

    @property
    def directions(self) -> np.ndarray:
        """Output per unit utilisation, ``capacity * eta`` (kW, ``(N, M)``)."""
        return self.capacities_kw[:, None] * self.etas


def random_flex_sharing_instance(n_actors: int, n_sectors: int = 3, seed: int = 0
                                 ) -> FlexSharingInstance:
    """The benchmark family (module doc), drawn from ``numpy.random.default_rng(seed)``."""
    n = positive_int(n_actors, "n_actors")
    m = positive_int(n_sectors, "n_sectors")
    rng = np.random.default_rng(int(seed))
    caps = rng.uniform(1.0, 20.0, n)
    etas = rng.uniform(-1.0, 1.0, (n, m))
    P = rng.uniform(-0.5, 1.0, (n, m))
    target = rng.uniform(-5.0, 5.0, m) * np.sqrt(n)
    prio = rng.uniform(0.5, 5.0, m)
    return FlexSharingInstance(caps, etas, P, target, prio)


def share_bounds(n_actors: int, shares: int, index: int) -> tuple[int, int]:
    """Actors ``[lo, hi)`` of share ``index`` of ``shares`` contiguous, near-equal shares."""
    shares = positive_int(shares, "processes")
    if shares > n_actors:
        raise ValueError(f"processes ({shares}) must not exceed the number of actors "
                         f"({n_actors})")
    if not 0 <= index < shares:
        raise ValueError(f"share index must lie in 0..{shares - 1}, got {index}")
    edges = np.linspace(0, n_actors, shares + 1).round().astype(int)
    return int(edges[index]), int(edges[index + 1])


def fleet_share(instance: FlexSharingInstance, shares: int = 1, index: int = 0) -> FlexFleet:
    """Share ``index`` of ``shares`` as one array fleet (a participant); actors ``actor_<i>``."""
    lo, hi = share_bounds(instance.n_actors, shares, index)
    return FlexFleet(instance.capacities_kw[lo:hi], instance.etas[lo:hi], instance.costs[lo:hi],
                     names=[f"actor_{i}" for i in range(lo, hi)])


#: Certified relative gap at which flex sharing stops by default (see
#: :class:`~.admm.stopping.CertifiedGapRule`): on these nearly degenerate LPs the residual test
#: fires late, while the gap says how far from the optimum the run is.
DEFAULT_GAP_TOL = DEFAULT_SHARING_GAP_TOL


def flex_sharing_coordinator(gap_tol: float = DEFAULT_GAP_TOL, **settings: Any
                             ) -> ADMMGenericCoordinator:
    """The sharing coordinator of flex sharing: weighted L1 distance to the target, stopping
    at a certified relative gap of ``gap_tol``; ``settings`` go to
    :class:`~.admm.coordinator.ADMMGenericCoordinator` (``max_iters``, ``reply_timeout``, ...)."""
    return create_sharing_target_distance_admm_coordinator(gap_tol=gap_tol, **settings)


def fleet_context(n_actors: int, sectors: int, seed: int, index: int, shares: int
                  ) -> dict[str, str]:
    """What a fleet agent reports at join (and the coordinator expects): its instance and its
    share of it."""
    return {"instance": f"{n_actors} actors, {sectors} sectors, seed {seed}",
            "share": f"{index}/{shares}"}


def fleet_name(index: int) -> str:
    """Agent name of share ``index``."""
    return f"fleet_{index}"


def centralized_flex_sharing(instance: FlexSharingInstance) -> tuple[float, float]:
    """Optimum (S$) of the instance as one LP and Clarabel's solve time (s, build excluded).

    ``min sum_i s_i (P_i . d_i) + w . t`` s.t. ``-t <= D's - target <= t``, ``0 <= s <= 1``.
    """
    n, m = instance.etas.shape
    D = instance.directions
    q = np.concatenate([(instance.costs * D).sum(axis=1), instance.priorities])
    Dt = sp.csc_matrix(D.T)
    I_m = sp.identity(m, format="csc")
    I_n = sp.identity(n, format="csc")
    A = sp.vstack([
        sp.hstack([Dt, -I_m]), sp.hstack([-Dt, -I_m]),
        sp.hstack([I_n, sp.csc_matrix((n, m))]), sp.hstack([-I_n, sp.csc_matrix((n, m))]),
    ], format="csc")
    b = np.concatenate([instance.target_kw, -instance.target_kw, np.ones(n), np.zeros(n)])
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    t0 = time.perf_counter()
    solver = clarabel.DefaultSolver(sp.csc_matrix((n + m, n + m)), q, A, b,
                                    [clarabel.NonnegativeConeT(A.shape[0])], settings)
    sol = solver.solve()
    elapsed = time.perf_counter() - t0
    if str(sol.status) != "Solved":
        raise RuntimeError(f"centralized flex sharing LP not solved: {sol.status}")
    return float(sol.obj_val), elapsed


@dataclass(repr=False)
class FlexSharingResult:
    """ADMM run (``admm``) next to the centralized optimum, with the runtime's traffic."""

    instance: FlexSharingInstance
    admm: ADMMResult
    centralized_objective: float
    centralized_wall_time_s: float
    runtime: str
    agent_processes: int
    wall_time_s: float
    messages: int = 0
    bytes_sent: int = 0
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: How the fleets coordinated: ``"admm"`` or ``"interior-point"`` (``admm`` then holds the
    #: interior-point run, ``iterations`` its rounds of messages).
    method: str = "admm"

    @property
    def objective_gap_rel(self) -> float:
        """``|f - f*| / max(1, |f*|)``."""
        f = self.admm.objective if self.admm.objective is not None else float("nan")
        return abs(f - self.centralized_objective) / max(1.0, abs(self.centralized_objective))

    def outputs(self) -> np.ndarray:
        """The actors' final outputs ``(N, M)`` (kW), ``actor_0`` first."""
        return np.asarray(self.admm.x.values_array).reshape(self.instance.directions.shape)

    def utilisation(self) -> np.ndarray:
        """Each actor's utilisation ``s`` in [0, 1] at its final output."""
        D = self.instance.directions
        X = self.outputs()
        dd = np.einsum("ij,ij->i", D, D)
        return np.where(dd > 0, np.einsum("ij,ij->i", D, X) / np.where(dd > 0, dd, 1.0), 0.0)

    @property
    def status(self) -> ADMMStatus:
        """How the ADMM run ended (:attr:`ADMMResult.status`)."""
        return self.admm.status

    @property
    def plot(self):
        """Figures of the run: ``plot.convergence(gap_tol=None)`` (the ADMM run's)."""
        return self.admm.plot

    def to_xarray(self) -> xr.Dataset:
        """The run as a dataset: each actor's final output (``output``, kW) over ``(actor,
        sector)``, its ``utilisation`` (1) and the ``target`` (kW) over ``sector``; the ADMM
        history over ``iteration`` (:attr:`ADMMResult.history_frame`); status, iterations,
        objective, the centralized objective, their gap and the certified gap as attributes."""
        # xarray is heavy and the agents never label results: loaded when a dataset is asked for
        import xarray as xr

        actors = np.array(list(self.admm.x), dtype=str)
        outputs = self.outputs()
        sectors = np.arange(outputs.shape[1])
        history = self.admm.history_frame
        ds = xr.Dataset(
            {"output": (("actor", "sector"), outputs, {"units": "kW"}),
             "utilisation": ("actor", self.utilisation(), {"units": "1"}),
             "target": ("sector", np.asarray(self.instance.target_kw, dtype=float),
                        {"units": "kW"}),
             **{name: ("iteration", history[name].to_numpy()) for name in history.columns}},
            coords={"actor": actors, "sector": sectors, "iteration": history.index.to_numpy()})
        ds.attrs = {"status": self.status.value, "iterations": self.admm.iterations,
                    "objective": float(np.nan if self.admm.objective is None
                                       else self.admm.objective),
                    "centralized_objective": self.centralized_objective,
                    "objective_gap_rel": self.objective_gap_rel, "runtime": self.runtime,
                    "agent_processes": self.agent_processes, "wall_time_s": self.wall_time_s,
                    "seed": self.seed}
        if self.admm.gap_certified is not None:
            ds.attrs["gap_certified"] = float(self.admm.gap_certified)
        return ds

    def __repr__(self) -> str:
        gap = ("" if self.admm.gap_certified is None
               else f", gap_certified={self.admm.gap_certified:.2g}")
        return (f"FlexSharingResult(status={self.status.value}, "
                f"iterations={self.admm.iterations}, actors={len(self.admm.x)}, "
                f"objective_gap_rel={self.objective_gap_rel:.2g}{gap},\n"
                f"  runtime={self.runtime!r}, agent_processes={self.agent_processes}, "
                f"wall_time_s={self.wall_time_s:.3g}, messages={self.messages})")


async def start_flex_sharing(n_actors: int, *, seed: int = 0, sectors: int = 3,
                             runtime: str = "inproc", processes: int = 1,
                             broker: str | None = None,
                             coordinator: ADMMGenericCoordinator | InteriorPointCoordinator
                             | None = None,
                             log_dir: str | None = None,
                             progress: Callable[[Any], None] | None = None,
                             transport: Transport | None = None, faults: Any = None,
                             warm_start: Any = None, broker_access: Any = None,
                             token: str | None = None,
                             carrier: Transport | None = None) -> FlexSharingResult:
    """Solve the random instance ``(n_actors, sectors, seed)`` by sharing ADMM with its actors
    split into ``processes`` fleets, and centrally; awaitable (see :func:`run_flex_sharing`).
    ``coordinator``: ADMM's (default :func:`flex_sharing_coordinator`) or an
    :class:`~.interior_point.sharing.InteriorPointCoordinator` (the distributed interior-point
    method, tens of rounds; no ``warm_start``).

    ``runtime``: ``"inproc"`` (all fleets in this process), ``"tcp"`` / ``"mqtt"`` (one
    ``dro agent`` process per fleet, coordinator here; ``broker`` ``HOST:PORT`` for MQTT).
    ``log_dir`` keeps the agents' stderr (default: a temporary folder); ``transport`` replaces
    the in-process transport of ``"inproc"`` (e.g. one with a codec; ``carrier=`` is its old
    name); ``faults`` (a :class:`~.runtime.transport.Faults`) loses, duplicates and delays the
    coordinator's messages (in process: every message), a testing aid. ``warm_start``: an
    earlier run's result or :class:`~.admm.warm_start.WarmStart` to start from (matched by
    actor name);
    ``broker_access``: login and TLS at the MQTT broker
    (:class:`~.runtime.mqtt_transport.BrokerAccess`); ``token``: the shared secret of a run with
    agent processes (every message authenticated, :mod:`~.runtime.security`).
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    transport = transport_argument(transport, carrier)
    instance = random_flex_sharing_instance(n_actors, sectors, seed)
    share_bounds(instance.n_actors, processes, 0)  # checks processes before any work
    coordinator = coordinator or flex_sharing_coordinator()
    warm_start = as_warm_start(warm_start)
    data = create_admm_sharing_data(instance.target_kw, instance.priorities)
    names = [fleet_name(k) for k in range(processes)]
    start = time.perf_counter()
    if runtime == "inproc":
        transport = transport or InProcessTransport()
        if faults is not None:
            transport = faults.wrap(transport)
        participants = {name: fleet_share(instance, processes, k) for k, name in enumerate(names)}
        admm = await coordinate_in_process(participants, coordinator, data, transport, progress,
                                           warm_start)
        stats = transport.stats
    else:
        broker = broker or DEFAULT_BROKER
        topic_prefix = new_topic_prefix()
        commands = {name: ["--flex-share", f"{k}/{processes}", "--actors", str(n_actors),
                           "--seed", str(seed), "--sectors", str(sectors), "--runtime", runtime,
                           "--broker", broker, "--topic-prefix", topic_prefix, "--once",
                           "--idle-timeout", str(max(600.0, coordinator.reply_timeout)),
                           "--exit-with-stdin"]
                    for k, name in enumerate(names)}
        expected = {name: fleet_context(n_actors, sectors, seed, k, processes)
                    for k, name in enumerate(names)}
        admm, stats, _ = await coordinate_agents(
            coordinator, data, names, runtime, commands=commands, broker=broker,
            topic_prefix=topic_prefix, log_dir=log_dir, progress=progress, faults=faults,
            warm_start=warm_start, expected_context=expected, broker_access=broker_access,
            token=token)
    wall = time.perf_counter() - start
    ref, central_s = centralized_flex_sharing(instance)
    return FlexSharingResult(instance, admm, ref, central_s, runtime, processes if runtime !=
                             "inproc" else 0, wall, stats.messages, stats.bytes_sent, seed,
                             method="interior-point" if isinstance(
                                 coordinator, InteriorPointCoordinator) else "admm")


def run_flex_sharing(n_actors: int, **kwargs: Any) -> FlexSharingResult:
    """Synchronous twin of :func:`start_flex_sharing` (also inside a running event loop)."""
    return run_sync(lambda: start_flex_sharing(n_actors, **kwargs))
