"""The coordination protocol: plain dataclasses with a fixed wire schema (see :mod:`.codec`).

A run (``session`` is a fresh uuid4 hex string per run):

1. coordinator -> every participant ``JoinRequest`` (with the protocol version);
   participant -> ``JoinReply``: its actors' names, output sizes, global variable names (strings,
   general-form consensus only) and what it *publishes* (named vectors aligned with its variables,
   e.g. a building's reference demand). No model data.
2. coordinator -> every participant ``SetupRequest`` with everything that was published;
   the participant configures its models from it (e.g. a grid operator linearises its grid at the
   published reference demand), sets up its solvers and replies ``SetupReply`` with the per-entry
   penalty scale of its actors (declared once; later only the scalar rho travels).
3. per iteration: ``SolveRequest`` (exchange target, price, scalar rho) -> ``SolveReply`` (outputs);
   in sharing every actor sees the same price, which is then sent once (shorter than the
   target) and repeated per actor by the participant;
   every few iterations the request also carries ``dual_price`` and the reply one scalar each
   for the Lagrangian lower bound and the objective (certified gap, :mod:`..admm.stopping`).
4. ``FinishRequest`` (final outputs, status, final prices) -> ``FinishReply`` (each actor's own
   cost, the dual term at the final prices, what the agent dropped).

Participants report failures in ``error`` instead of going silent. Arrays are flat over the
participant's actors, in the participant's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Version of this protocol; a participant refuses a coordinator that speaks another one.
PROTOCOL_VERSION = 4

#: A global variable's name on the wire: a string (e.g. ``"p_th@2017-01-02T14:00@22"``) or an int.
VariableName = str | int


@dataclass
class Publication:
    """Public values of one kind (``key``, e.g. ``"reference_demand"``), one per named variable."""

    key: str
    variables: tuple[VariableName, ...]
    values: np.ndarray


@dataclass
class JoinRequest:
    session: str
    protocol_version: int = PROTOCOL_VERSION
    #: ``join_proof(token, session)`` when the coordinator has a shared token, else ``""``.
    proof: str = ""


@dataclass
class JoinReply:
    session: str
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    #: Per actor its global variable names, or ``None`` for all actors (sharing / consensus).
    variables: tuple[tuple[VariableName, ...] | None, ...] | None = None
    publications: tuple[Publication, ...] = ()
    protocol_version: int = PROTOCOL_VERSION
    error: str | None = None


@dataclass
class SetupRequest:
    session: str
    #: Everything the participants published, merged per key.
    publications: tuple[Publication, ...] = ()


@dataclass
class SetupReply:
    session: str
    #: Per actor the per-entry penalty scale, or ``None`` for all actors (scale 1).
    rho_scale: tuple[np.ndarray | None, ...] | None = None
    error: str | None = None


@dataclass
class SolveRequest:
    session: str
    iteration: int
    target: np.ndarray
    price: np.ndarray
    #: Scalar penalty; the participant multiplies it by its declared per-entry scale.
    rho: float
    #: When set: also evaluate the actors' share of the Lagrangian dual function
    #: ``min_x f(x) + dual_price'x`` (a lower bound's term) and their objective at ``x``.
    dual_price: np.ndarray | None = None


@dataclass
class SolveReply:
    session: str
    iteration: int
    x: np.ndarray | None
    error: str | None = None
    #: Asked by ``dual_price``: the dual term (``None`` if the models cannot evaluate it or it
    #: is unbounded) and the actors' summed objective at ``x`` (``None`` if unknown).
    dual_term: float | None = None
    objective: float | None = None


@dataclass
class FinishRequest:
    session: str
    x: np.ndarray
    #: How the run ended: ``"converged"`` or ``"max_iterations"`` (:class:`ADMMStatus` values).
    status: str
    #: The final prices at which the actors evaluate their dual terms (the run's final lower
    #: bound), or ``None``.
    dual_price: np.ndarray | None = None


@dataclass
class FinishReply:
    session: str
    #: Each actor's own cost at its final output; NaN where the model does not say.
    objectives: np.ndarray = field(default_factory=lambda: np.zeros(0))
    error: str | None = None
    #: Messages this agent dropped unanswered during the run (not from its coordinator).
    rejected: int = 0
    #: Frames the agent's carrier dropped undecoded so far (undecodable, oversized, not of the
    #: protocol), and which carrier counted them (agents sharing a container share the count).
    carrier_rejected: int = 0
    carrier_id: str = ""
    #: The actors' summed dual term at ``dual_price`` (``None``: not asked, or not known).
    dual_term: float | None = None


#: Every message type of the protocol (the codec gives each a fixed type id).
MESSAGE_TYPES: tuple[type, ...] = (JoinRequest, JoinReply, SetupRequest, SetupReply, SolveRequest,
                                   SolveReply, FinishRequest, FinishReply)


def join_proof(token: str | None, session: str) -> str:
    """Proof that the sender of a join request knows the shared ``token``: HMAC-SHA256 of the
    session id (the token itself never travels). ``""`` without a token."""
    if not token:
        return ""
    import hashlib
    import hmac

    return hmac.new(token.encode("utf-8"), session.encode("utf-8"), hashlib.sha256).hexdigest()
