"""Local models: what each actor optimises privately (grouped for solving in :mod:`.blocks`).

A local model answers one question per ADMM iteration, the proximal step

    x = argmin_x f(x) + price' (x - target) + (rho/2) ||x - target||^2
      = argmin_x f(x) + (rho/2) ||x - v||^2,    v = target - price / rho,

where ``rho`` is a scalar or one value per entry. Subclasses implement :meth:`LocalModel.solve`
for ``v`` and ``rho``; the engine never rebuilds a model between iterations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from distributed_resource_optimization.admm.polish import PolishOffer
from distributed_resource_optimization.checks import positive_int

#: What participants published at join, as the local models see it at :meth:`LocalModel.configure`:
#: publication key (e.g. ``"reference_demand"``) -> global variable name -> value.
Published = Mapping[str, Mapping[Hashable, float]]


class LocalModelError(RuntimeError):
    """A local model failed (infeasible, solver failure); the message names the actor."""


@runtime_checkable
class LocalUpdateRequest(Protocol):
    """A request for one proximal step in the reference package's message protocol (its
    ``ADMMMessage``, defined with the protocol's messages above this layer): the correction ``v``
    (outputs' unit) and the penalty ``rho``; :meth:`answer` wraps the new outputs ``x`` into the
    reply (its ``ADMMAnswer``)."""

    v: np.ndarray
    rho: float

    def answer(self, x: np.ndarray) -> Any:
        """The reply carrying the participant's new outputs ``x``."""


class LocalModel(ABC):
    """Base class of an actor's private model; subclass it for a custom local model.

    Attributes: ``name`` (unique among the actors of a run; assigned ``actor_<i>`` if ``None``),
    ``x`` (latest output, numpy array), ``variables`` (names of the global variables of each entry,
    general-form consensus only) and ``rho_scale`` (optional per-entry scaling of rho).
    """

    name: str | None = None
    variables: tuple[Hashable, ...] | None = None
    rho_scale: np.ndarray | None = None
    #: ``True`` for a model whose proximal step is a closed-form array expression (no solver
    #: iterations, time bounded by its size): agents run it on the event loop, saving the hand-over
    #: to the local-work thread. Everything else runs off the loop.
    closed_form: bool = False
    #: Publication keys this actor's :meth:`configure` reads; ``None`` (default): every key
    #: published at join. A run sends each participant only the keys its actors subscribe to,
    #: so an actor that needs little of a large publication says so (a building needs three
    #: reference powers, not a city's baselines).
    subscriptions: tuple[str, ...] | None = None
    #: Keys this actor publishes at setup (:meth:`derived`): values it computes in
    #: :meth:`configure` from what it received. Actors subscribing to them are configured after it.
    derives: tuple[str, ...] = ()
    #: General-form consensus, certified bound: ``True`` prices this actor's term of the
    #: Lagrangian bound at the prices its own last outputs support (where its term is exact),
    #: and the other owners of each of its variables take the balancing prices. For an actor
    #: whose feasible set is wide (a grid operator whose demands are bounded only by ratings far
    #: above any dispatch), whose term is loose at any other price.
    bound_at_support: bool = False

    def __init__(self, size: int, name: str | None = None,
                 variables: Sequence[Hashable] | None = None,
                 rho_scale: Sequence[float] | np.ndarray | None = None) -> None:
        self._size = positive_int(size, "size")
        self.name = name
        self.x = np.zeros(self._size)
        if variables is not None:
            variables = tuple(variables)
            if len(variables) != self._size:
                raise ValueError(f"variables names {len(variables)} entries, expected {self._size}")
        self.variables = variables
        if rho_scale is not None:
            rho_scale = np.asarray(rho_scale, dtype=float)
            if rho_scale.shape != (self._size,) or not np.all(np.isfinite(rho_scale)) \
                    or np.any(rho_scale <= 0):
                raise ValueError(f"rho_scale must be {self._size} positive finite numbers")
        self.rho_scale = rho_scale

    @property
    def size(self) -> int:
        """Length of the output vector ``x``."""
        return self._size

    @abstractmethod
    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        """Return ``argmin_x f(x) + (rho/2) ||x - v||^2`` (``rho`` scalar or per entry)."""

    def objective(self, x: np.ndarray) -> float | None:
        """Local cost ``f(x)`` without constraints, or ``None`` if the model does not say."""
        return None

    def dual_term(self, price: np.ndarray) -> float | None:
        """``min_x f(x) + price'x`` over the actor's feasible set: its share of the Lagrangian
        dual function, a term of the run's certified lower bound (``-inf`` if unbounded).
        ``None`` (the default) if the model cannot say; the run then reports no bound."""
        return None

    def polish_offer(self, price: np.ndarray, tolerance: float) -> PolishOffer | None:
        """This actor's answer to a polish of sharing at the sector prices ``price``
        (:mod:`~distributed_resource_optimization.admm.polish`), or ``None`` (the default) if
        it takes no part in one; a flex actor offers its segment when it is undecided there."""
        return None

    def barrier(self):
        """This model's participant in the interior-point method
        (:class:`~distributed_resource_optimization.local.interior_point.LPBarrier` for an LP),
        or ``None`` (the default) if it has no LP form."""
        return None

    def prepare(self) -> None:  # noqa: B027  (optional hook, most models need no setup)
        """Called once before the first iteration: set up solvers, check feasibility."""

    def publish(self) -> Mapping[str, np.ndarray] | None:
        """Public values this actor announces when it joins a run, or ``None`` (default).

        Maps a key (e.g. ``"reference_demand"``) to one value per entry of :attr:`variables`
        (general-form consensus only). Every participant receives what was published under the
        keys it subscribes to (:attr:`subscriptions`), merged per key, in :meth:`configure`.
        Publish only what the organisation would make public.
        """
        return None

    def configure(self, published: Published) -> None:  # noqa: B027  (optional hook)
        """Called once per run before :meth:`prepare` with what all actors published (only
        the keys in :attr:`subscriptions` if it names them).

        A model that needs others' public data to build itself (e.g. a grid operator that
        linearises at the buildings' published reference demand) does so here; it may also set
        :attr:`rho_scale`.
        """

    def derived(self) -> Mapping[str, Mapping[Hashable, float]] | None:
        """After :meth:`configure`: the values of the keys in :attr:`derives` (key -> name ->
        value, names of the actor's choosing), or ``None`` (default). They reach the actors
        that subscribe to these keys, which are configured after this one."""
        return None

    def relinearise(self) -> None:  # noqa: B027  (optional hook)
        """Called before :meth:`configure` when the coordinator asks for successive
        linearisation: a model linearised around an operating point (a grid operator) moves
        that point to its outputs of the last run, :attr:`x` (its own cleared values); others
        need do nothing."""

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"<unnamed {type(self).__name__}>"

    async def on_exchange_message(self, carrier, message_data, meta: dict) -> None:
        """Take part in a coordinator written as message handlers (the reference package's
        protocol): answer a :class:`LocalUpdateRequest` (its ``ADMMMessage(v, rho)``) with the
        request's answer for ``x = argmin f(x) + rho/2 ||x + v||^2`` (its ``ADMMAnswer(x)``);
        other messages are not for this model and are ignored."""
        if not isinstance(message_data, LocalUpdateRequest):
            return
        if not getattr(self, "_prepared_for_messages", False):
            self.prepare()
            self._prepared_for_messages = True
        self.x = np.asarray(self.solve(-np.asarray(message_data.v, dtype=float),
                                       message_data.rho), dtype=float)
        carrier.reply_to_other(message_data.answer(self.x.copy()), meta)
