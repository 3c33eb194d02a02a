"""Local models: what each actor optimises privately, and how actors are grouped for solving.

A local model answers one question per ADMM iteration, the proximal step

    x = argmin_x f(x) + price' (x - target) + (rho/2) ||x - target||^2
      = argmin_x f(x) + (rho/2) ||x - v||^2,    v = target - price / rho,

where ``rho`` is a scalar or one value per entry. Subclasses implement :meth:`LocalModel.solve`
for ``v`` and ``rho``; the engine never rebuilds a model between iterations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np

from distributed_resource_optimization.admm.validation import positive_int

#: What participants published at join, as the local models see it at :meth:`LocalModel.configure`:
#: publication key (e.g. ``"reference_demand"``) -> global variable name -> value.
Published = Mapping[str, Mapping[Hashable, float]]


class LocalModelError(RuntimeError):
    """A local model failed (infeasible, solver failure); the message names the actor."""


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

    def prepare(self) -> None:  # noqa: B027  (optional hook, most models need no setup)
        """Called once before the first iteration: set up solvers, check feasibility."""

    def publish(self) -> Mapping[str, np.ndarray] | None:
        """Public values this actor announces when it joins a run, or ``None`` (default).

        Maps a key (e.g. ``"reference_demand"``) to one value per entry of :attr:`variables`
        (general-form consensus only). Every participant receives everything published, merged
        per key, in :meth:`configure`. Publish only what the organisation would make public.
        """
        return None

    def configure(self, published: Published) -> None:  # noqa: B027  (optional hook)
        """Called once per run before :meth:`prepare` with what all actors published.

        A model that needs others' public data to build itself (e.g. a grid operator that
        linearises at the buildings' published reference demand) does so here; it may also set
        :attr:`rho_scale`.
        """

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"<unnamed {type(self).__name__}>"

    async def on_exchange_message(self, carrier, message_data, meta: dict) -> None:
        """Take part in a coordinator written as message handlers (the reference package's
        protocol): answer ``ADMMMessage(v, rho)`` with ``ADMMAnswer(x)``, ``x = argmin f(x) +
        rho/2 ||x + v||^2``; other messages are not for this model and are ignored."""
        from distributed_resource_optimization.algorithm.admm.core import ADMMAnswer, ADMMMessage

        if not isinstance(message_data, ADMMMessage):
            return
        if not getattr(self, "_prepared_for_messages", False):
            self.prepare()
            self._prepared_for_messages = True
        self.x = np.asarray(self.solve(-np.asarray(message_data.v, dtype=float),
                                       message_data.rho), dtype=float)
        carrier.reply_to_other(ADMMAnswer(x=self.x.copy()), meta)


class LocalBlock(ABC):
    """One participant of a run: a single model, or a vectorised fleet of models of one kind.

    Inputs and outputs are flat over the block's models in order.
    """

    def __init__(self, models: Sequence[LocalModel], names: Sequence[str] | None = None) -> None:
        self.models = list(models)
        #: The actors' names in this run: their own names, or names given for the run only (so
        #: an unnamed model can take part in runs again and again).
        self.names = [m.label for m in self.models] if names is None else [str(n) for n in names]
        if len(self.names) != len(self.models):
            raise ValueError(f"names holds {len(self.names)} names for {len(self.models)} models")
        #: Whether the block's solve is closed-form (see :attr:`LocalModel.closed_form`).
        self.closed_form = all(m.closed_form for m in self.models)
        self.sizes = [m.size for m in self.models]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    @abstractmethod
    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        """Proximal step for all models of the block (flat ``v``, scalar or flat ``rho``)."""

    def describe(self) -> dict[str, object]:
        """Names, output sizes and global variables of the block's actors (known at join)."""
        return {
            "names": tuple(self.names),
            "sizes": tuple(self.sizes),
            "variables": None if all(m.variables is None for m in self.models)
            else tuple(m.variables for m in self.models),
        }

    def rho_scales(self) -> tuple[np.ndarray | None, ...] | None:
        """Per-entry penalty scale of each actor (``None`` if no actor sets one); after
        :meth:`configure`."""
        if all(m.rho_scale is None for m in self.models):
            return None
        return tuple(m.rho_scale for m in self.models)

    def publish(self) -> dict[str, tuple[list[Hashable], list[np.ndarray]]]:
        """What the block's actors publish: key -> (variable names, value arrays)."""
        out: dict[str, tuple[list[Hashable], list[np.ndarray]]] = {}
        for m, label in zip(self.models, self.names):
            published = _guard(label, "publish", m.publish)
            for key, values in (published or {}).items():
                values = np.asarray(values, dtype=float).ravel()
                if m.variables is None or values.shape != (m.size,):
                    raise LocalModelError(
                        f"actor {label!r}: publication {key!r} must hold one value per "
                        f"global variable ({m.size}), got {values.size}"
                        + ("" if m.variables is not None else " and the actor names none"))
                names, arrays = out.setdefault(str(key), ([], []))
                names.extend(m.variables)
                arrays.append(values)
        return out

    def configure(self, published: Published) -> None:
        for m, label in zip(self.models, self.names):
            _guard(label, "configuration", lambda m=m: m.configure(published))

    def prepare(self) -> None:
        for m, label in zip(self.models, self.names):
            _guard(label, "setup", m.prepare)

    def assign(self, x: np.ndarray) -> None:
        """Store the final outputs in each model's ``x``."""
        for m, a, b in zip(self.models, self.offsets[:-1], self.offsets[1:]):
            m.x = np.array(x[a:b], dtype=float)

    def objectives(self, x: np.ndarray) -> list[float | None]:
        """Each actor's own cost ``f_i(x_i)`` at the flat outputs ``x`` (``None`` if unknown);
        a non-finite cost is a :class:`LocalModelError` naming the actor."""
        out: list[float | None] = []
        for m, label, a, b in zip(self.models, self.names, self.offsets[:-1], self.offsets[1:]):
            f = _guard(label, "objective", lambda m=m, a=a, b=b: m.objective(x[a:b]))
            out.append(None if f is None else _finite_cost(label, f))
        return out

    def dual_term(self, price: np.ndarray) -> float | None:
        """Sum of the actors' :meth:`LocalModel.dual_term` at their slices of ``price``
        (``None`` if any actor cannot say)."""
        total = 0.0
        for i, m in enumerate(self.models):
            d = m.dual_term(np.asarray(price[self.offsets[i]:self.offsets[i + 1]], dtype=float))
            if d is None:
                return None
            total += float(d)
        return total

    def objective(self, x: np.ndarray) -> float | None:
        """Sum of :meth:`objectives`, or ``None`` if any actor cannot say."""
        fs = self.objectives(x)
        return None if any(f is None for f in fs) else float(sum(fs))


def _finite_cost(label: str, value: object) -> float:
    f = float(value)
    if not np.isfinite(f):
        raise LocalModelError(f"actor {label!r}: objective() returned {f}, not a finite cost")
    return f


def merge_published(items: Iterable[tuple[str, str, Sequence[Hashable], Sequence[float]]]
                    ) -> dict[str, dict[Hashable, float]]:
    """Merge publications ``(publisher, key, variable names, values)`` per key.

    Two publishers giving different values for the same variable under the same key is a
    ``ValueError`` naming both.
    """
    merged: dict[str, dict[Hashable, float]] = {}
    by: dict[tuple[str, Hashable], str] = {}
    for publisher, key, names, values in items:
        table = merged.setdefault(key, {})
        for name, value in zip(names, np.asarray(values, dtype=float).tolist()):
            if name in table and table[name] != value:
                raise ValueError(f"{by[key, name]!r} and {publisher!r} publish different "
                                 f"{key!r} for {name!r}")
            if name not in table:
                table[name] = value
                by[key, name] = publisher
    return merged


def publish_and_configure(models: Sequence[LocalModel]) -> Published:
    """Do in this process what a run does before its first iteration: every model publishes,
    everything is merged and every model is configured with it. Returns the merged values."""
    blocks = [SingleModelBlock(m) for m in models]
    published = merge_published(
        (m.label, key, names, np.concatenate(values))
        for m, b in zip(models, blocks) for key, (names, values) in b.publish().items())
    for b in blocks:
        b.configure(published)
    return published


def _guard(label: str, what: str, call):
    """Run a model hook; any failure becomes a :class:`LocalModelError` naming the actor."""
    try:
        return call()
    except LocalModelError:
        raise
    except Exception as exc:  # the actor's name is what users need to find the culprit
        raise LocalModelError(f"actor {label!r}: {what} failed: {exc}") from exc


class SingleModelBlock(LocalBlock):
    """A block of one model."""

    def __init__(self, model: LocalModel, name: str | None = None) -> None:
        super().__init__([model], None if name is None else [name])

    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        model, label = self.models[0], self.names[0]
        try:
            x = np.asarray(model.solve(v, rho), dtype=float).ravel()
        except LocalModelError:
            raise
        except Exception as exc:
            raise LocalModelError(f"actor {label!r}: local solve failed: {exc}") from exc
        if x.shape != (model.size,):
            raise LocalModelError(f"actor {label!r} returned {x.size} values, expected "
                                  f"{model.size}")
        return x


def make_blocks(models: Sequence[LocalModel], vectorize: bool = True,
                names: Sequence[str | None] | None = None) -> list[LocalBlock]:
    """Group models into participants: models of a vectorisable kind share one block; a
    :class:`~.flex.FlexFleet` (many actors as arrays) is a block of its own.

    ``names`` gives the actors' names for this run (default: their own). Vectorising changes
    nothing in the mathematics, only how many local solves are batched into one array operation
    (and so how many messages a run exchanges in one process).
    """
    from distributed_resource_optimization.local.flex import (
        ADMMFlexActor,
        FlexFleet,
        FlexFleetBlock,
    )

    names = [getattr(m, "label", None) for m in models] if names is None else list(names)
    blocks: list[LocalBlock] = []
    fleets: dict[int, list[tuple[ADMMFlexActor, str]]] = {}
    fleet_pos: dict[int, int] = {}
    for m, name in zip(models, names):
        if isinstance(m, FlexFleet):
            blocks.append(m)  # type: ignore[arg-type]  # arrays of many actors: its own block
        elif vectorize and type(m) is ADMMFlexActor and m.direction is not None:
            key = m.size
            if key not in fleets:
                fleets[key] = []
                fleet_pos[key] = len(blocks)
                blocks.append(None)  # type: ignore[arg-type]  # the fleet takes its first member's place
            fleets[key].append((m, name))
        else:
            blocks.append(SingleModelBlock(m, name))
    for key, members in fleets.items():
        blocks[fleet_pos[key]] = FlexFleetBlock([m for m, _ in members],
                                                [n for _, n in members])
    return blocks
