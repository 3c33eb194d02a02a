"""The coordination protocol: plain dataclasses with a fixed wire schema (see :mod:`.codec`).

A run (``session`` is a fresh uuid4 hex string per run):

1. coordinator -> every participant ``JoinRequest`` (with the protocol version);
   participant -> ``JoinReply``: its actors' names, output sizes, global variable names (strings,
   general-form consensus only) and what it *publishes* (named vectors aligned with its variables,
   e.g. a building's reference demand). No model data.
2. coordinator -> every participant ``SetupRequest`` with what was published under the keys it
   subscribes to (all keys published at join unless its ``JoinReply`` names them); the participant
   configures its models from it (e.g. a grid operator linearises its grid at the published
   reference demand), sets up its solvers and replies ``SetupReply`` with the per-entry penalty
   scale of its actors (declared once; later only the scalar rho travels) and what it derived
   for others (e.g. the district's reference powers). Participants that subscribe to derived
   keys get their ``SetupRequest`` after the participants that derive them (in waves).
3. per iteration: ``SolveRequest`` (exchange target, price, scalar rho) -> ``SolveReply`` (outputs);
   in sharing every actor sees the same price, which is then sent once (shorter than the
   target) and repeated per actor by the participant;
   every few iterations the request also carries ``dual_price`` and the reply one scalar each
   for the Lagrangian lower bound and the objective (certified gap, :mod:`..admm.stopping`).
4. ``FinishRequest`` (final outputs, status, final prices) -> ``FinishReply`` (each actor's own
   cost, the dual term at the final prices, what the agent dropped).

Participants report failures in ``error`` instead of going silent. Arrays are flat over the
participant's actors, in the participant's order.

Version 5 added the messages of coordinator-free runs (``PeerRunStart`` ... ``PeerReport``,
below); version 6 the link handshake of runs with a shared token (``LinkHello``,
``LinkWelcome``: :mod:`.security`), which replaced the join proof, and the participants'
``context`` (what they were started for, checked by the coordinator before the first round);
version 8 the subscriptions and derived publications of the setup, so that a participant receives
what it reads and not everything everyone published (a setup of N buildings was O(N^2) bytes),
and ``JoinReply.bound_at_support``; version 9 the rounds of the distributed interior-point
method (``FactorRequest`` ... ``CorrectReply``, below); version 10 the polish round of sharing
(``PolishRequest``, ``PolishReply``, below).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distributed_resource_optimization.interior_point.consensus import (
    Factored,
    Predicted,
    StepLimits,
)

#: Version of this protocol; a participant refuses a coordinator that speaks another one.
PROTOCOL_VERSION = 10

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
    #: What the participant was started for, as ``(field, value)`` pairs (e.g. the market's
    #: ``scenario``, ``resolution``, ``horizon`` and ``data`` fingerprint); the coordinator
    #: refuses a run whose participants do not report what it expects.
    context: tuple[tuple[str, str], ...] = ()
    #: The publication keys its actors read at setup, or ``None``: every key published at join.
    subscriptions: tuple[str, ...] | None = None
    #: The keys it publishes at setup (in its ``SetupReply``), for others that subscribe to them.
    derives: tuple[str, ...] = ()
    #: Its actors whose term of the certified bound is priced at their own support prices.
    bound_at_support: tuple[str, ...] = ()


@dataclass
class SetupRequest:
    session: str
    #: What was published under the keys the participant subscribes to, merged per key.
    publications: tuple[Publication, ...] = ()
    #: Re-linearise at the solution the last run assigned before configuring (successive
    #: linearisation: a grid operator at its own cleared copy of the demand).
    relinearise: bool = False


@dataclass
class SetupReply:
    session: str
    #: Per actor the per-entry penalty scale, or ``None`` for all actors (scale 1).
    rho_scale: tuple[np.ndarray | None, ...] | None = None
    error: str | None = None
    #: What it derived in configuring its models, under the keys it declared in ``derives``.
    publications: tuple[Publication, ...] = ()


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
    #: Frames the agent's transport dropped undecoded so far (undecodable, oversized, not of the
    #: protocol), and which transport counted them (agents sharing a container share the count).
    carrier_rejected: int = 0
    carrier_id: str = ""
    #: The actors' summed dual term at ``dual_price`` (``None``: not asked, or not known).
    dual_term: float | None = None
    #: The actors' final outputs, flat, where the coordinator does not know them (the
    #: interior-point method for sharing, whose rounds carry sums); else ``None``.
    outputs: np.ndarray | None = None


# -- the polish of sharing (admm.polish), between two solve rounds --------------------------
# ``PolishRequest`` (the sector prices, the tolerance) -> ``PolishReply``: the actors' outputs at
# their decided utilisation (flat, zero for the offering actors), a 0/1 flag per actor that
# offers its segment, the offering actors' full outputs (flat, ``k * m``) and costs (``k``), and
# the summed cost of the fixed outputs. The certificate rides on the next ``SolveRequest``'s
# ``dual_price`` (the polish prices); an accepted polish's outputs reach the actors with
# ``FinishRequest``.


@dataclass
class PolishRequest:
    session: str
    iteration: int
    price: np.ndarray
    tolerance: float


@dataclass
class PolishReply:
    session: str
    iteration: int
    fixed: np.ndarray | None = None
    offered: np.ndarray | None = None
    directions: np.ndarray | None = None
    costs: np.ndarray | None = None
    fixed_cost: float | None = None
    error: str | None = None


# -- the distributed interior-point method (interior_point.consensus), after join and setup --
# Per Newton iteration three rounds: ``FactorRequest`` (the common step lengths of the last
# iteration; at iteration 0 the participant first finds its own interior point) ->
# ``FactorReply`` (exchanged values, condensed sensitivity blocks, affine right-hand side and
# scalars); ``PredictRequest`` (affine price steps) -> ``PredictReply``; ``CorrectRequest``
# (corrected price steps, centring target) -> ``CorrectReply`` (step limits). The run ends with
# ``FinishRequest`` as above (the final exchanged values and balanced prices). Arrays are flat
# over the participant's exchanged entries, in its actors' order; in sharing (``summed``) they
# are its actors' sums, and its ``FinishReply`` carries the actors' own ``outputs``.


@dataclass
class FactorRequest:
    session: str
    iteration: int
    primal_step: float
    dual_step: float
    #: Sharing: answer with the sum over your actors (their outputs add up, one price for all).
    summed: bool = False


@dataclass
class FactorReply:
    session: str
    iteration: int
    factored: Factored | None
    error: str | None = None


@dataclass
class PredictRequest:
    session: str
    iteration: int
    price_step: np.ndarray


@dataclass
class PredictReply:
    session: str
    iteration: int
    predicted: Predicted | None
    error: str | None = None


@dataclass
class CorrectRequest:
    session: str
    iteration: int
    price_step: np.ndarray
    #: The centring target ``sigma * mu`` (cost unit per inequality).
    sigma_mu: float


@dataclass
class CorrectReply:
    session: str
    iteration: int
    limits: StepLimits | None
    error: str | None = None


# -- coordinator-free runs across processes (runtime.peers) -----------------------------------
# 1. controller -> every peer ``PeerRunStart`` (names, addresses, neighbours, the start message);
#    peer -> ``PeerReady`` after the participant's check_start.
# 2. the algorithm's own messages travel as ``PeerMessage`` between peers, each with a share of
#    the run's termination credit (Mattern's credit recovery: exact dyadic fractions); a peer
#    with nothing left to do returns what it holds in ``CreditReturn``.
# 3. all credit back: the run has ended; controller -> ``PeerStop`` ("finished") -> ``PeerReport``
#    (the participant's solution). A handler's error is reported at once in a ``PeerReport``
#    with ``error``; the controller then stops every peer with ``PeerStop`` ("aborted").


@dataclass
class PeerRunStart:
    session: str
    #: The receiver's address in the run (1-based position) and every peer's agent name.
    index: int
    names: tuple[str, ...]
    #: Where each peer is reached (``HOST:PORT`` or an MQTT inbox topic; ``""``: on the same
    #: transport as the receiver).
    addresses: tuple[str, ...]
    #: The receiver's neighbours (addresses 1..N).
    neighbours: tuple[int, ...]
    #: The run's start message (an algorithm value).
    start: object
    #: Seconds the run may take (every wait of the peer is bounded by it).
    timeout: float
    protocol_version: int = PROTOCOL_VERSION


@dataclass
class PeerReady:
    session: str
    index: int
    error: str | None = None


@dataclass
class PeerMessage:
    """One algorithm message from peer ``sender`` to peer ``receiver`` (addresses 1..N)."""

    session: str
    sender: int
    receiver: int
    message_id: str
    #: An answer to the request ``message_id`` (``reply_to_other``).
    reply: bool
    #: Causal depth: the message handled when this one was sent, plus one.
    hop: int
    #: The share of the termination credit it carries: ``"<numerator hex>/<exponent>"``, the
    #: value ``numerator / 2**exponent``.
    credit: str
    content: object


@dataclass
class CreditReturn:
    session: str
    index: int
    credit: str


@dataclass
class PeerStop:
    session: str
    #: ``"finished"`` (report the solution) or ``"aborted"`` (stop, report nothing).
    reason: str


@dataclass
class PeerReport:
    session: str
    index: int
    #: The participant's ``solution()`` (an algorithm value).
    solution: object = None
    #: Its ``converged`` attribute (``None``: it has none).
    converged: bool | None = None
    #: Algorithm messages it received and the deepest hop among them.
    received: int = 0
    rounds: int = 0
    error: str | None = None


@dataclass
class AlgorithmValue:
    """Any other content a mango container with :func:`~.codec.mango_codec` sends (an
    algorithm's own message between mango roles, :mod:`..runtime.roles`): the codec wraps it on
    the way out and unwraps it on the way in."""

    content: object


# -- the link handshake of runs with a shared token (runtime.security) --------------------------
# Both travel in handshake frames authenticated with the token's key; every other message of such
# a run travels in a frame sealed with the keys the handshake derived from both nonces.


@dataclass
class LinkHello:
    """``sender`` asks ``receiver`` for a link: ``nonce`` is 16 random bytes (hex)."""

    sender: str
    receiver: str
    nonce: str


@dataclass
class LinkWelcome:
    """``sender`` (the receiver of the hello) answers the hello ``hello_nonce`` with its own
    ``nonce``; both nonces and both names give the link's keys."""

    sender: str
    receiver: str
    hello_nonce: str
    nonce: str


#: The messages of the link handshake.
HANDSHAKE_TYPES: tuple[type, ...] = (LinkHello, LinkWelcome)

#: Every message type of the protocol (the codec gives each a fixed type id).
MESSAGE_TYPES: tuple[type, ...] = (JoinRequest, JoinReply, SetupRequest, SetupReply, SolveRequest,
                                   SolveReply, FinishRequest, FinishReply, PeerRunStart, PeerReady,
                                   PeerMessage, CreditReturn, PeerStop, PeerReport, AlgorithmValue,
                                   FactorRequest, FactorReply, PredictRequest, PredictReply,
                                   CorrectRequest, CorrectReply, PolishRequest, PolishReply)

