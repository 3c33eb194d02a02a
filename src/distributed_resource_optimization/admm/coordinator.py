"""The generic ADMM coordinator (configuration, no I/O).

``ADMMGenericCoordinator`` holds the algorithm settings; a problem form (:class:`~.state.ProblemForm`,
the reference's *global actor*: sharing in :mod:`.sharing`, consensus and general-form consensus in
:mod:`.general`) decides the form and the global objective. The runtime layer runs the
coordinator as an agent that exchanges messages with the local actors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from distributed_resource_optimization.admm.acceleration import DEFAULT_MAX_PAUSE
from distributed_resource_optimization.admm.general import (  # noqa: F401  (re-exported as before)
    ADMMConsensusGlobalActor,
    ADMMGeneralConsensusGlobalActor,
)
from distributed_resource_optimization.admm.objectives import (
    ADMMTargetDistanceObjective,
    ADMMTargetDistanceSquaredObjective,
    GlobalObjective,
    TargetData,
)
from distributed_resource_optimization.admm.results import ADMMResult
from distributed_resource_optimization.admm.sharing import ADMMSharingGlobalActor
from distributed_resource_optimization.admm.state import (  # noqa: F401  (GlobalActor: as before)
    DEFAULT_SHARING_GAP_TOL,
    ADMMSettings,
    FormState,
    GlobalActor,
    ParticipantSpec,
    ProblemForm,
)
from distributed_resource_optimization.admm.stopping import (
    AllOf,
    AnyOf,
    CertifiedGapRule,
    ResidualRule,
    StoppingRule,
    as_stopping_rule,
)
from distributed_resource_optimization.admm.warm_start import WarmStart, as_warm_start
from distributed_resource_optimization.checks import (
    non_negative_int,
    non_negative_scalar,
    positive_int,
    positive_scalar,
)


class ADMMGenericCoordinator:
    """ADMM coordinator: global actor plus algorithm settings.

    ``rho`` is the initial penalty (> 0, in cost per (unit of output)^2; not given: 1, checked by
    a probe round, see ``probe_rho``); with ``adaptive_rho``
    (default) it is rebalanced from the residuals so users need not tune it, and ``acceleration``
    (default) applies safeguarded Anderson acceleration to the iteration. Finer settings of the
    rho adaptation live in ``coordinator.settings`` (:class:`ADMMSettings`).
    Stops when the ``stopping`` rule says so (default :class:`~.stopping.ResidualRule`: primal
    and dual residuals below ``abs_tol``/``rel_tol`` thresholds, Boyd et al. 2011, sec. 3.3; or
    a :class:`~.stopping.CertifiedGapRule`, or rules combined, see :mod:`.stopping`) or after
    ``max_iters`` iterations. ``gap_tol`` is the short form of a certified stop: the run stops
    once the certified relative gap is at most ``gap_tol`` (sharing: that rule alone, unless
    ``stopping`` is given too; consensus forms: together with the residual rule, since their
    outputs agree only up to it). ``alpha`` in (0, 2) is the over-relaxation
    factor (1 = plain ADMM). ``anderson_memory`` is the number of past iterates Anderson
    acceleration fits (more helps on LP-structured problems with many slow modes, e.g. the
    market clearing uses 20; 10 suits the flex sharing benchmark best); after a rejected
    extrapolation it waits up to ``anderson_max_pause`` plain iterations (docs/admm.md 5a; 0:
    never). ``reply_timeout``
    (s, default 30) bounds every round's wait for the actors' replies; a request without a reply
    is sent again before that. ``setup_timeout`` (s, default 600) bounds the setup round instead,
    in which every participant builds its model from what the others published (an aggregator of
    a thousand buildings takes most of a minute), and the start of spawned agent processes.
    ``stale_rounds`` (default 0) lets a round go on without a participant that has not answered
    in time (after a resend, at about ten times the recent
    rounds' duration): its last outputs are carried for up to that many consecutive rounds, and
    no round with a carried output counts as converged. With 0 every round waits for everyone.
    ``probe_rho`` (default: on when no ``rho`` is given, which then starts at 1) checks the
    initial rho against the problem's own scale, for problems whose units nobody tuned rho
    for: a probe round before the first iteration prices
    the start at ``rho_max`` (each entry's marginal cost there); after the first iteration rho
    is moved into [``PROBE_RHO_FACTOR``, 1] times that price scale over the outputs' moves (a
    rho within the band stays, docs/admm.md 8b). The probe round is a round of messages of its
    own (``ADMMResult.probe_rounds``), not an iteration.
    ``polish`` (default: on for sharing towards a target, the form of the flex actors; ``True``
    elsewhere is refused): every ``settings.polish_every`` (10) iterations the actors undecided
    at the current prices offer their segments, the coordinator clears them against the target
    (a small LP) and the run ends there once the certified gap of that point is at most
    ``gap_tol`` (default 1e-4). A polish costs one round of messages; an offering actor reveals
    its full output and its cost (what its ADMM outputs at those prices already tell, docs/admm.md
    8c); a participant without an offer (not a one-to-many flex actor) ends the polishing at the
    first attempt, and the run goes on by ADMM. ``polish=False``: ADMM alone.
    """

    def __init__(
        self,
        global_actor: ProblemForm | None = None,
        rho: float | None = None,
        max_iters: int = 10000,
        abs_tol: float = 1e-6,
        rel_tol: float = 1e-6,
        *,
        adaptive_rho: bool = True,
        acceleration: bool = True,
        alpha: float = 1.6,
        anderson_memory: int = 10,
        anderson_max_pause: int = DEFAULT_MAX_PAUSE,
        reply_timeout: float = 30.0,
        setup_timeout: float = 600.0,
        stale_rounds: int = 0,
        stopping: StoppingRule | None = None,
        gap_tol: float | None = None,
        probe_rho: bool | None = None,
        polish: bool | None = None,
    ) -> None:
        if global_actor is None:
            global_actor = ADMMSharingGlobalActor()
        if not isinstance(global_actor, ProblemForm):
            raise TypeError(
                f"global_actor must be an ADMM global actor, got {type(global_actor).__name__}")
        self.global_actor = global_actor
        # ADMMSettings checks every field (and again when a run starts).
        self.settings = ADMMSettings(
            # No rho given: the settings' default, checked by a probe round (probe_rho).
            rho=ADMMSettings.rho if rho is None else rho,
            max_iters=max_iters,
            abs_tol=abs_tol,
            rel_tol=rel_tol,
            adaptive_rho=bool(adaptive_rho),
            acceleration=bool(acceleration),
            alpha=alpha,
            anderson_memory=anderson_memory,
            anderson_max_pause=anderson_max_pause,
            stopping=_with_gap(global_actor, stopping, gap_tol),
            probe_rho=rho is None if probe_rho is None else probe_rho,
            polish=_polishes(global_actor) if polish is None else polish,
            polish_gap_tol=DEFAULT_SHARING_GAP_TOL if gap_tol is None else gap_tol,
        )
        if self.settings.polish and not _polishes(global_actor):
            raise ValueError("polish: for sharing towards a target (the weighted L1 distance of "
                             "create_sharing_target_distance_admm_coordinator) only")
        self.reply_timeout = positive_scalar(reply_timeout, "reply_timeout")
        self.setup_timeout = positive_scalar(setup_timeout, "setup_timeout")
        self.stale_rounds = non_negative_int(stale_rounds, "stale_rounds")

    @property
    def rho(self) -> float:
        return self.settings.rho

    @property
    def max_iters(self) -> int:
        return self.settings.max_iters

    def create_state(self, specs: Sequence[ParticipantSpec], data: TargetData | None) -> FormState:
        return self.global_actor.create_state(specs, data, self.settings)

    def __repr__(self) -> str:
        s = self.settings
        return (f"ADMMGenericCoordinator({self.global_actor!r}, rho={s.rho}, "
                f"max_iters={s.max_iters}, abs_tol={s.abs_tol}, rel_tol={s.rel_tol}, "
                f"adaptive_rho={s.adaptive_rho})")


def _polishes(global_actor: ProblemForm) -> bool:
    """Whether a polish applies to the form: sharing towards a target (weighted L1)."""
    return (isinstance(global_actor, ADMMSharingGlobalActor)
            and type(global_actor.objective) is ADMMTargetDistanceObjective)


def _with_gap(global_actor: ProblemForm, stopping: StoppingRule | None,
              gap_tol: float | None) -> StoppingRule:
    if gap_tol is None:
        if stopping is None and isinstance(global_actor, ADMMSharingGlobalActor):
            return AnyOf(ResidualRule(), CertifiedGapRule(DEFAULT_SHARING_GAP_TOL))
        return as_stopping_rule(stopping)
    gap = CertifiedGapRule(non_negative_scalar(gap_tol, "gap_tol"))
    if stopping is None and isinstance(global_actor, ADMMSharingGlobalActor):
        return gap  # the actors' own outputs are a feasible point: the gap alone certifies
    return AllOf(as_stopping_rule(stopping), gap)


@dataclass(frozen=True)
class ADMMStart:
    """The message that starts a coordinated optimisation: carries the problem data and, for a
    warm start, an earlier run's state (:class:`~.warm_start.WarmStart`)."""

    data: TargetData | None = None
    warm_start: WarmStart | None = None
    length: int | None = None

    @property
    def solution_length(self) -> int | None:
        """Outputs per actor: the target's length, or the length given (``None``: the actors
        say)."""
        return self.data.dimension if self.data is not None else self.length


def create_admm_sharing_data(target: Sequence[float], priorities: Sequence[float] | None = None
                             ) -> TargetData:
    """Target (unit of the actors' outputs, e.g. kW per sector) and priority weights (default 1)."""
    return TargetData(target, priorities)


def create_admm_start(data: TargetData | None = None, length: int | None = None, *,
                      warm_start: WarmStart | ADMMResult | None = None) -> ADMMStart:
    """Wrap problem data into the start message of :func:`start_coordinated_optimization`.

    ``length``: outputs per actor, checked against the target's length (and against the
    actors' when the run starts); ``warm_start``: an earlier run's result (or
    :class:`~.warm_start.WarmStart`) to start from, e.g. yesterday's prices for today's run."""
    if data is not None and not isinstance(data, TargetData):
        raise TypeError(f"data must come from create_admm_sharing_data, got {type(data).__name__}")
    if length is not None:
        length = positive_int(length, "length")
        if data is not None and data.dimension != length:
            raise ValueError(f"length is {length} but the target has {data.dimension} entries")
    return ADMMStart(data, as_warm_start(warm_start), length)


def create_sharing_target_distance_admm_coordinator(**settings: float) -> ADMMGenericCoordinator:
    """Sharing coordinator minimising the weighted L1 distance of the aggregate to the target.

    Keyword arguments (``rho``, ``max_iters``, ``abs_tol``, ``rel_tol``, ...) go to
    :class:`ADMMGenericCoordinator`.
    """
    return ADMMGenericCoordinator(ADMMSharingGlobalActor(ADMMTargetDistanceObjective()),
                                  **settings)


def create_sharing_admm_coordinator(objective: GlobalObjective | None = None,
                                    **settings: float) -> ADMMGenericCoordinator:
    """Sharing coordinator with the global objective ``objective`` (default: the weighted L1
    distance to the target); settings as for :class:`ADMMGenericCoordinator`."""
    return ADMMGenericCoordinator(ADMMSharingGlobalActor(objective), **settings)


def create_consensus_target_reach_admm_coordinator(**settings: float) -> ADMMGenericCoordinator:
    """The reference package's "consensus target reach": the actors' outputs sum towards the
    target of :func:`create_admm_start_consensus` under the squared distance
    ``sum_k w_k (sum_i x_ik - target_k)^2`` (its code's behaviour; its docs describe a consensus
    on one vector, docs/reference_names.md). Solved to the optimum by sharing ADMM."""
    return ADMMGenericCoordinator(ADMMSharingGlobalActor(ADMMTargetDistanceSquaredObjective()),
                                  **settings)


def create_admm_start_consensus(target: Sequence[float], priorities: Sequence[float] | None = None
                                ) -> ADMMStart:
    """The start of :func:`create_consensus_target_reach_admm_coordinator`: ``target`` (the
    outputs' unit) and weights ``w`` (default ones)."""
    return create_admm_start(TargetData(target, priorities))


def create_consensus_admm_coordinator(objective: GlobalObjective | None = None,
                                      **settings: float) -> ADMMGenericCoordinator:
    """Consensus coordinator (all actors agree on one vector), optional global objective."""
    return ADMMGenericCoordinator(ADMMConsensusGlobalActor(objective), **settings)
