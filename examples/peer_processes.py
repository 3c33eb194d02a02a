"""A coordinator-free algorithm with every participant in an OS process of its own.

Economic dispatch by incremental-cost consensus (exact gradient tracking) among four generating
units on a ring. Each unit's process builds its participant from its own data only (the
factory :func:`dispatch_unit`, registered with ``@participant_factory`` as ``dro peer`` requires,
gets that unit's parameters and nothing else); the units talk over
mango-agents (TCP here; ``--runtime mqtt --broker HOST:PORT`` for a broker); the process that
starts the run sees nothing but the start message and, at the end, each unit's solution.

The same participants run in this process first (:func:`run_distributed_optimization`): the
two runs agree on the clearing price.

Run: ``python examples/peer_processes.py [--runtime tcp|mqtt] [--broker HOST:PORT]``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from distributed_resource_optimization import (
    LinearCostEconomicDispatchConsensusActor,
    create_averaging_consensus_participant,
    create_averaging_consensus_start,
    participant_factory,
    run_distributed_optimization,
)
from distributed_resource_optimization.runtime.factories import ParticipantFactory
from distributed_resource_optimization.runtime.processes import run_distributed_processes

#: Each unit's own data: linear cost (S$/MWh), quadratic cost (S$/MWh^2), capacity (MW).
UNITS = [
    {"cost": 20.0, "epsilon": 0.20, "p_max": 60.0},
    {"cost": 25.0, "epsilon": 0.10, "p_max": 80.0},
    {"cost": 18.0, "epsilon": 0.40, "p_max": 40.0},
    {"cost": 30.0, "epsilon": 0.05, "p_max": 100.0},
]
DEMAND_MW = 150.0


@participant_factory  # dro peer calls registered factories only
def dispatch_unit(cost: float, epsilon: float, p_max: float, units: int = len(UNITS)):
    """One unit's participant, from its own data (called in the unit's process)."""
    unit = LinearCostEconomicDispatchConsensusActor(cost=cost, p_max=p_max, rho=0.05,
                                                    epsilon=epsilon, n_guess=units)
    return create_averaging_consensus_participant(
        lambda *_: None, unit, initial_lam=20.0, alpha=0.5, max_iter=4000, tracking=True,
        tol=1e-9, patience=2 * units)


def main(runtime: str = "tcp", broker: str | None = None) -> tuple[float, float]:
    """Run in this process and in one process per unit; returns both clearing prices."""
    start = create_averaging_consensus_start(20.0, DEMAND_MW)
    here = run_distributed_optimization([dispatch_unit(**u) for u in UNITS], start,
                                        topology="ring")
    # The unit processes import this file as the module ``peer_processes``.
    folder = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (folder, os.environ.get("PYTHONPATH")) if p)
    apart = run_distributed_processes(
        [ParticipantFactory("peer_processes:dispatch_unit", u) for u in UNITS], start,
        topology="ring", runtime=runtime, broker=broker, timeout=120)
    for i, (a, b) in enumerate(zip(here.solutions, apart.solutions)):
        print(f"unit {i + 1}: {a['P'][0]:7.3f} MW here, {b['P'][0]:7.3f} MW in its own process")
    lam_here, lam_apart = float(here.solutions[0]["lam"][0]), float(apart.solutions[0]["lam"][0])
    print(f"clearing price {lam_here:.6f} S$/MWh here, {lam_apart:.6f} across processes "
          f"({apart.messages} messages, {apart.rounds} rounds, {apart.wall_time_s:.1f} s)")
    return lam_here, lam_apart


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="tcp", choices=["tcp", "mqtt"])
    parser.add_argument("--broker", default=None, help="MQTT broker HOST:PORT")
    args = parser.parse_args()
    main(args.runtime, args.broker)
