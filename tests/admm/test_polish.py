"""The polish of sharing among flex actors (on by default for sharing towards a target;
``polish=False`` turns it off, :mod:`...admm.polish`).

References: the centralized LP of the same instance (Clarabel, ``centralized_flex_sharing``) and
a hand-derived optimum of a three-actor instance.
"""

from __future__ import annotations

import numpy as np
import pytest

import distributed_resource_optimization as dro
from distributed_resource_optimization.admm.polish import clear_offers, flex_offer
from distributed_resource_optimization.admm.results import ROUND_TRIPS_OUTSIDE
from distributed_resource_optimization.admm.stopping import ResidualRule
from distributed_resource_optimization.flex_sharing import (
    centralized_flex_sharing,
    flex_sharing_coordinator,
    random_flex_sharing_instance,
    run_flex_sharing,
)
from distributed_resource_optimization.local.qp import QPLocalModel
from distributed_resource_optimization.runtime.codec import WireCodec
from distributed_resource_optimization.runtime.transport import Faults, InProcessTransport


def _seed_api_run(instance, carrier=None, **settings) -> dro.ADMMResult:
    """Through the tutorial's API: one flex actor per actor, the sharing coordinator."""
    actors = [dro.create_admm_flex_actor_one_to_many(c, e, p) for c, e, p in
              zip(instance.capacities_kw, instance.etas, instance.costs)]
    start = dro.create_admm_start(dro.create_admm_sharing_data(instance.target_kw,
                                                               instance.priorities))
    coordinator = dro.create_sharing_target_distance_admm_coordinator(**settings)
    kw = {} if carrier is None else {"carrier": carrier}
    return dro.run_coordinated_optimization(actors, coordinator, start, **kw)


def _relative(value: float, reference: float) -> float:
    return (value - reference) / max(1.0, abs(reference))


@pytest.mark.parametrize("n, seed", [(300, 1), (300, 2), (1000, 1000)])
def test_the_polished_run_ends_at_the_centralized_optimum_in_fewer_rounds(n, seed) -> None:
    instance = random_flex_sharing_instance(n, 3, seed)
    reference, _ = centralized_flex_sharing(instance)
    res = _seed_api_run(instance)  # the defaults polish
    assert res.converged and res.stopped_by.startswith("polish at iteration")
    # Accepted at the run's gap tolerance (1e-4), and the certificate bounds the true gap from
    # above, up to the reference's own accuracy (Clarabel, 1e-8 relative: an exact polish is
    # certified at 1e-16 and lies 1e-9 above it). Measured true gaps: -1.9e-9 to 8.3e-6.
    true_gap = _relative(res.objective, reference)
    assert -1e-8 <= true_gap <= res.gap_certified + 1e-8 and res.gap_certified <= 1e-4
    aggregate = sum(res.x[name] for name in res.x)
    np.testing.assert_allclose(res.z, aggregate, atol=1e-9)
    plain = _seed_api_run(instance, polish=False)
    # Rounds, not seconds: the polish rounds count too. Measured: 61 + 6, 91 + 9 and 11 + 1
    # against 560, 540 and 920 iterations.
    assert res.iterations + res.polish_rounds < plain.iterations
    assert res.polish_rounds == res.iterations // 10


def test_offers_cleared_at_the_optimal_prices_give_the_hand_derived_optimum() -> None:
    # Three actors of one output towards a target of 5 kW (priority 1): full outputs 4, 3, 2 kW
    # at costs 0.2, 0.5, 2 (per kW: 0.05, 0.167, 1). Optimum: the first two in full (7 kW would
    # overshoot: the second runs at 1/3, 1 kW), price -1/6 per kW.
    D = np.array([[4.0], [3.0], [2.0]])
    P = np.array([[0.05], [0.5 / 3.0], [1.0]])
    cost = (P * D).sum(axis=1)
    offer = flex_offer(D, P, cost, np.array([-0.5 / 3.0]), 0.05)
    assert offer.offered.tolist() == [0.0, 1.0, 0.0]  # only the marginal actor offers
    polished = clear_offers([offer], np.array([5.0]), np.array([1.0]))
    np.testing.assert_allclose(polished.x, [4.0, 1.0, 0.0], atol=1e-9)
    assert polished.objective == pytest.approx(0.2 + 0.5 / 3.0, abs=1e-9)
    assert polished.prices[0] == pytest.approx(-0.5 / 3.0, abs=1e-9)


def test_the_polish_travels_through_an_encoding_carrier_unchanged() -> None:
    instance = random_flex_sharing_instance(300, 3, 1)
    plain = _seed_api_run(instance, polish=True)
    carrier = InProcessTransport(codec=WireCodec("msgpack"))
    wired = _seed_api_run(instance, carrier=carrier, polish=True)
    assert (wired.iterations, wired.polish_rounds) == (plain.iterations, plain.polish_rounds)
    assert wired.objective == pytest.approx(plain.objective, rel=1e-12)
    np.testing.assert_allclose(wired.z, plain.z, rtol=0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.network
def test_the_polish_in_agent_processes_over_tcp_equals_the_in_process_run() -> None:
    coordinator = flex_sharing_coordinator(polish=True)
    ref = run_flex_sharing(1000, seed=0, processes=2, coordinator=coordinator)
    got = run_flex_sharing(1000, seed=0, processes=2, runtime="tcp",
                           coordinator=flex_sharing_coordinator(polish=True))
    assert got.agent_processes == 2 and got.admm.stopped_by.startswith("polish")
    # Measured: 21 iterations and 2 polish rounds (ADMM alone: 930 iterations).
    assert (got.admm.iterations, got.admm.polish_rounds) == (ref.admm.iterations,
                                                              ref.admm.polish_rounds)
    assert got.admm.objective == pytest.approx(ref.admm.objective, rel=1e-12)
    for name, x in ref.admm.x.items():
        np.testing.assert_allclose(got.admm.x[name], x, rtol=0, atol=1e-12)
    # Up to the reference's accuracy (Clarabel, 1e-8; measured 1.1e-9 against 1.3e-16).
    assert abs(got.objective_gap_rel) <= got.admm.gap_certified + 1e-8 <= 1e-4 + 1e-8


def test_a_participant_without_an_offer_ends_the_polishing_not_the_run() -> None:
    # A QP actor takes no part in a polish: the run goes on by ADMM alone, to the optimum.
    instance = random_flex_sharing_instance(20, 3, 4)
    actors = [dro.create_admm_flex_actor_one_to_many(c, e, p) for c, e, p in
              zip(instance.capacities_kw, instance.etas, instance.costs)]
    battery = QPLocalModel(np.zeros(3), A=np.eye(3), l=-np.ones(3), u=np.ones(3), name="qp")
    start = dro.create_admm_start(dro.create_admm_sharing_data(instance.target_kw,
                                                               instance.priorities))
    res = dro.run_coordinated_optimization(
        [*actors, battery], dro.create_sharing_target_distance_admm_coordinator(polish=True),
        start)
    assert res.converged and "polish" not in res.stopped_by
    assert res.polish_rounds == 1  # the first attempt found a participant without an offer


class _SilentFlexActor(dro.ADMMFlexActor):
    """A flex actor that offers its segment but cannot say its dual term (a user's model that
    implements the one and not the other)."""

    def dual_term(self, price):
        return None


def test_offers_without_a_bound_end_the_polishing_after_one_try() -> None:
    # Without every participant's dual term no polish can be certified: the first try ends the
    # polishing, and the run (by default, with the polish) is ADMM alone plus that one round.
    instance = random_flex_sharing_instance(30, 3, 4)
    args = list(zip(instance.capacities_kw, instance.etas, instance.costs))
    start = dro.create_admm_start(dro.create_admm_sharing_data(instance.target_kw,
                                                               instance.priorities))

    def run(**settings):
        actors = [dro.create_admm_flex_actor_one_to_many(c, e, p) for c, e, p in args[1:]]
        silent = _SilentFlexActor.one_to_many(*args[0])
        return dro.run_coordinated_optimization(
            [silent, *actors],
            dro.create_sharing_target_distance_admm_coordinator(stopping=ResidualRule(),
                                                                **settings), start)

    res, alone = run(), run(polish=False)
    assert res.polish_rounds == 1 and "polish" not in res.stopped_by and res.converged
    assert res.iterations == alone.iterations and alone.polish_rounds == 0
    np.testing.assert_allclose(res.z, alone.z, rtol=0, atol=1e-12)


def test_polish_is_for_sharing_towards_a_target_only() -> None:
    with pytest.raises(ValueError, match="polish"):
        dro.create_consensus_admm_coordinator(polish=True)
    with pytest.raises(TypeError, match="polish"):
        dro.ADMMGenericCoordinator(polish="yes")


def test_a_latency_delays_the_polish_rounds_too() -> None:
    # Every polish round is a round trip: the estimate at a latency counts it, and a run whose
    # messages really take that long lasts at least that many round trips.
    one_way = 0.004
    coordinator = flex_sharing_coordinator(polish=True)
    plain = run_flex_sharing(300, seed=1, coordinator=coordinator)
    delayed = run_flex_sharing(300, seed=1, coordinator=flex_sharing_coordinator(polish=True),
                               faults=Faults.latency(one_way))
    trips = plain.admm.iterations + plain.admm.polish_rounds + plain.admm.probe_rounds \
        + ROUND_TRIPS_OUTSIDE
    assert plain.admm.polish_rounds >= 1
    assert (delayed.admm.iterations, delayed.admm.polish_rounds) == \
        (plain.admm.iterations, plain.admm.polish_rounds)
    assert plain.admm.wall_time_at_latency(one_way) == pytest.approx(
        plain.admm.wall_time_s + 2 * one_way * trips)
    assert delayed.admm.wall_time_s >= 2 * one_way * (trips - ROUND_TRIPS_OUTSIDE)
