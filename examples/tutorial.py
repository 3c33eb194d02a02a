import asyncio
from distributed_resource_optimization import (
    create_admm_flex_actor_one_to_many,
    create_sharing_target_distance_admm_coordinator,
    create_admm_sharing_data, create_admm_start,
    start_coordinated_optimization,
)

async def main():
    resource1 = create_admm_flex_actor_one_to_many(10.0, [0.1,  0.5, -1.0])
    resource2 = create_admm_flex_actor_one_to_many(15.0, [0.1,  0.5, -1.0])
    resource3 = create_admm_flex_actor_one_to_many(10.0, [-1.0, 0.0,  1.0])

    coordinator  = create_sharing_target_distance_admm_coordinator()
    problem_data = create_admm_sharing_data([-4.0, 0.0, 6.0], [5, 1, 1])
    start_msg    = create_admm_start(problem_data)

    await start_coordinated_optimization(
        [resource1, resource2, resource3], coordinator, start_msg
    )

    print("Resource 1:", resource1.x.round(3))
    print("Resource 2:", resource2.x.round(3))
    print("Resource 3:", resource3.x.round(3))
    print("Aggregate: ", (resource1.x + resource2.x + resource3.x).round(3))

asyncio.run(main())

