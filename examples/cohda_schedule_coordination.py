schedules_A = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
]

schedules_B = [
    [2.0, 0.0, 0.0, 0.0],
    [0.0, 2.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 2.0],
]

from distributed_resource_optimization import create_cohda_participant

actors = [
    create_cohda_participant(1, schedules_A),
    create_cohda_participant(2, schedules_B),
    create_cohda_participant(3, schedules_A),
    create_cohda_participant(4, schedules_B),
]

import asyncio
from distributed_resource_optimization import (
    create_cohda_start_message,
    start_distributed_optimization,
)

async def main():
    start = create_cohda_start_message([3.0, 3.0, 1.0, 2.0])
    await start_distributed_optimization(actors, start)

    candidate = actors[0].memory.solution_candidate
    print("Performance:", candidate.perf)
    print("Combined:  ", candidate.schedules.sum(axis=0))

asyncio.run(main())

for i, actor in enumerate(actors, 1):
    sc = actor.memory.solution_candidate
    print(f"Actor {i} chose: {sc.schedules[i-1].tolist()}")

import numpy as np
from distributed_resource_optimization import create_cohda_participant

def l2_performance(cluster_schedule, target_params):
    diff = target_params.schedule - cluster_schedule.sum(axis=0)
    return -float(np.sqrt((diff ** 2).sum()))

actor = create_cohda_participant(1, schedules_A, l2_performance)
