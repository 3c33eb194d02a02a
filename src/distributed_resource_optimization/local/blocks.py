"""Model groups: the participants of a run, each a single local model or a vectorised fleet of
models of one kind, solved as one (inputs and outputs flat over its models).

A group is a set of actors that answer the coordinator together (not an LP block, a piece of a
linear program, :class:`~distributed_resource_optimization.energy.lp.LPBlock`); :mod:`.grouping`
decides which models share a group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from distributed_resource_optimization.admm.polish import PolishOffer, concat_offers
from distributed_resource_optimization.local.base import LocalModel, LocalModelError, Published
from distributed_resource_optimization.local.interior_point import StackedBarrier, SummedBarrier

T = TypeVar("T")


class ModelGroup(ABC):
    """One participant of a run: a single model, or a vectorised fleet of models of one kind
    (grouped by :func:`~.grouping.make_blocks`).

    Inputs and outputs are flat over the group's models in order.
    """

    def __init__(self, models: Sequence[LocalModel], names: Sequence[str] | None = None) -> None:
        self.models = list(models)
        #: The actors' names in this run: their own names, or names given for the run only (so
        #: an unnamed model can take part in runs again and again).
        self.names = [m.label for m in self.models] if names is None else [str(n) for n in names]
        if len(self.names) != len(self.models):
            raise ValueError(f"names holds {len(self.names)} names for {len(self.models)} models")
        #: Whether the group's solve is closed-form (see :attr:`LocalModel.closed_form`).
        self.closed_form = all(m.closed_form for m in self.models)
        self.sizes = [m.size for m in self.models]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    @abstractmethod
    def solve(self, v: np.ndarray, rho: float | np.ndarray) -> np.ndarray:
        """Proximal step for all models of the group (flat ``v``, scalar or flat ``rho``)."""

    def describe(self) -> dict[str, object]:
        """Names, output sizes and global variables of the group's actors (known at join)."""
        return {
            "names": tuple(self.names),
            "sizes": tuple(self.sizes),
            "variables": None if all(m.variables is None for m in self.models)
            else tuple(m.variables for m in self.models),
            "subscriptions": subscribed([m.subscriptions for m in self.models]),
            "derives": tuple(dict.fromkeys(str(k) for m in self.models for k in m.derives)),
            "bound_at_support": tuple(n for m, n in zip(self.models, self.names)
                                      if m.bound_at_support),
        }

    def rho_scales(self) -> tuple[np.ndarray | None, ...] | None:
        """Per-entry penalty scale of each actor (``None`` if no actor sets one); after
        :meth:`configure`."""
        if all(m.rho_scale is None for m in self.models):
            return None
        return tuple(m.rho_scale for m in self.models)

    def publish(self) -> dict[str, tuple[list[Hashable], list[np.ndarray]]]:
        """What the group's actors publish: key -> (variable names, value arrays)."""
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

    def derived(self) -> dict[str, tuple[list[Hashable], list[np.ndarray]]]:
        """What the group's actors publish at setup (after :meth:`configure`): key ->
        (names, value arrays); a key an actor does not declare in its ``derives`` is a
        :class:`LocalModelError`."""
        out: dict[str, tuple[list[Hashable], list[np.ndarray]]] = {}
        for m, label in zip(self.models, self.names):
            derived = _guard(label, "derived publication", m.derived)
            for key, table in (derived or {}).items():
                if str(key) not in m.derives:
                    raise LocalModelError(f"actor {label!r}: derived() returns {key!r}, which "
                                          f"its derives {tuple(m.derives)} does not declare")
                names, arrays = out.setdefault(str(key), ([], []))
                names.extend(table)
                arrays.append(np.asarray(list(table.values()), dtype=float))
        return out

    def relinearise(self) -> None:
        """Each model re-linearises at its last assigned outputs (before :meth:`configure`)."""
        for m, label in zip(self.models, self.names):
            _guard(label, "re-linearisation", m.relinearise)

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

    def polish_offer(self, price: np.ndarray, tolerance: float) -> PolishOffer | None:
        """The actors' polish offers at the sector prices ``price``, as one (``None`` if any
        actor takes no part in a polish)."""
        offers = []
        for m, label in zip(self.models, self.names):
            offer = _guard(label, "polish offer", lambda m=m: m.polish_offer(price, tolerance))
            if offer is None:
                return None
            offers.append(offer)
        return concat_offers(offers, int(np.asarray(price).size))

    def barrier(self, summed: bool = False) -> StackedBarrier | SummedBarrier:
        """The group's actors as one participant of the interior-point method (after
        :meth:`configure`): each actor's :meth:`~.base.LocalModel.barrier`, stacked in order
        (general-form consensus: every actor names its variables), or with ``summed`` added up
        (sharing: every actor sees the one price of the sum); a :class:`LocalModelError`
        names an actor without an LP form."""
        parts = []
        for m, label in zip(self.models, self.names):
            if not summed and m.variables is None:
                raise LocalModelError(f"actor {label!r}: the interior-point method couples "
                                      "general-form models (variables=...)")
            part = _guard(label, "interior-point setup", m.barrier)
            if part is None:
                raise LocalModelError(f"actor {label!r}: {type(m).__name__} has no LP form for "
                                      "the interior-point method (an LPLocalModel has)")
            parts.append(part)
        return SummedBarrier(parts) if summed else StackedBarrier(parts)

    def objective(self, x: np.ndarray) -> float | None:
        """Sum of :meth:`objectives`, or ``None`` if any actor cannot say."""
        fs = self.objectives(x)
        return None if any(f is None for f in fs) else float(sum(fs))


#: The former name of :class:`ModelGroup` ("block" now means only an LP block).
LocalBlock = ModelGroup


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


def subscribed(subscriptions: Iterable[Sequence[str] | None]) -> tuple[str, ...] | None:
    """The keys a group of actors subscribes to: every key any of them names (first-named
    order), or ``None`` (every key published at join) if one of them says ``None``."""
    keys: dict[str, None] = {}
    for subs in subscriptions:
        if subs is None:
            return None
        keys.update(dict.fromkeys(str(k) for k in subs))
    return tuple(keys)


def setup_waves(subscriptions: Sequence[Sequence[str] | None], derives: Sequence[Sequence[str]],
                names: Sequence[str]) -> list[list[int]]:
    """The order in which a run configures its participants: lists of participant indices, each
    configured after the ones before it. A participant comes after every participant that
    derives a key it subscribes to (``subscriptions[i]``; ``None``: only keys published at join,
    so the first wave); ``derives[i]``: the keys participant ``i`` publishes at setup. A cycle
    (a participant waiting, through others, for itself) is a ``ValueError`` naming them."""
    n = len(names)
    if len(subscriptions) != n or len(derives) != n:
        raise ValueError("subscriptions, derives and names must have one entry per participant")
    derivers: dict[str, list[int]] = {}
    for i, keys in enumerate(derives):
        for key in keys:
            derivers.setdefault(str(key), []).append(i)
    providers = [list(dict.fromkeys(d for key in (subs or ()) for d in derivers.get(str(key), ())))
                 for subs in subscriptions]
    waves: list[list[int]] = []
    placed: set[int] = set()
    while len(placed) < n:
        wave = [i for i in range(n) if i not in placed and all(d in placed for d in providers[i])]
        if not wave:
            # Every participant left waits for another one left: follow them to a cycle.
            i, path = next(i for i in range(n) if i not in placed), []
            while i not in path:
                path.append(i)
                i = next(d for d in providers[i] if d not in placed)
            cycle = path[path.index(i):] + [i]
            raise ValueError("participants wait for each other's derived publications: "
                             + " -> ".join(repr(names[c]) for c in cycle))
        waves.append(wave)
        placed.update(wave)
    return waves


def received(published: Mapping[str, T], subscriptions: Sequence[str] | None,
             join_keys: Iterable[str]) -> dict[str, T]:
    """What a participant receives of ``published`` (key -> its values, in any form): the keys
    it subscribes to that someone published (``None``: every key of ``join_keys``, the ones
    published at join)."""
    keys = join_keys if subscriptions is None else subscriptions
    return {str(k): published[k] for k in keys if k in published}


def publish_and_configure(models: Sequence[LocalModel]) -> Published:
    """Do in this process what a run does before its first iteration: every model publishes,
    the publications are merged, and every model is configured with the keys it subscribes to,
    after the models whose derived publications it reads. Returns everything published."""
    groups = [SingleModelGroup(m) for m in models]
    items = [item for m, b in zip(models, groups) for item in _items(m.label, b.publish())]
    published = merge_published(items)
    join_keys = tuple(published)
    described = [b.describe() for b in groups]
    for wave in setup_waves([d["subscriptions"] for d in described],
                            [d["derives"] for d in described], [m.label for m in models]):
        for i in wave:
            groups[i].configure(received(published, described[i]["subscriptions"], join_keys))
        items += [item for i in wave for item in _items(models[i].label, groups[i].derived())]
        published = merge_published(items)
    return published


def _items(label: str, table: Mapping[str, tuple[list[Hashable], list[np.ndarray]]]
           ) -> list[tuple[str, str, list[Hashable], np.ndarray]]:
    """A group's publications (key -> (names, value arrays)) as :func:`merge_published` items."""
    return [(label, key, names, np.concatenate(values)) for key, (names, values) in table.items()]


def _guard(label: str, what: str, call):
    """Run a model hook; any failure becomes a :class:`LocalModelError` naming the actor."""
    try:
        return call()
    except LocalModelError:
        raise
    except Exception as exc:  # the actor's name is what users need to find the culprit
        raise LocalModelError(f"actor {label!r}: {what} failed: {exc}") from exc


class SingleModelGroup(ModelGroup):
    """A group of one model."""

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


#: The former name of :class:`SingleModelGroup`.
SingleModelBlock = SingleModelGroup
