"""Your own distributed algorithm: message handlers plus a start message.

Two examples on the same carrier interface:

1. coordinator-free: each participant floods the largest value it has seen to its neighbours
   (on a ring here); the run ends when nobody sends any more;
2. coordinated: a coordinator asks the participants for their best response to a price and
   adjusts the price until supply meets a demand (a tatonnement: dual ascent on the balance).

Run: ``python examples/custom_algorithm.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np

from distributed_resource_optimization import (
    Coordinator,
    DistributedAlgorithm,
    OptimizationMessage,
    run_distributed_optimization,
    start_coordinated_optimization,
)


# -- 1. coordinator-free -------------------------------------------------------------------
class MaxGossip(DistributedAlgorithm):
    """Tell the neighbours whenever the largest value known grows."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.started = False

    async def on_exchange_message(self, carrier, message_data, meta):
        grew = message_data is not None and message_data > self.value
        if grew:
            self.value = message_data
        if grew or not self.started:  # the start message (None) starts the first one
            self.started = True
            for neighbour in carrier.others("gossip"):
                carrier.send_to_other(self.value, neighbour)

    def solution(self):
        return self.value


# -- 2. coordinated ------------------------------------------------------------------------
@dataclass
class PriceSignal(OptimizationMessage):
    price: float  # S$/kWh


@dataclass
class Offer(OptimizationMessage):
    power_kw: float


class Generator(DistributedAlgorithm):
    """Produces where its marginal cost ``c + 2 e P`` meets the price, within ``[0, p_max]``."""

    def __init__(self, c: float, e: float, p_max: float) -> None:
        self.c, self.e, self.p_max = c, e, p_max
        self.P = 0.0

    async def on_exchange_message(self, carrier, message_data, meta):
        if isinstance(message_data, PriceSignal):
            self.P = float(np.clip((message_data.price - self.c) / (2 * self.e), 0, self.p_max))
            carrier.reply_to_other(Offer(self.P), meta)


class PriceCoordinator(Coordinator):
    """Raise the price while supply falls short of ``demand_kw``, lower it otherwise."""

    def __init__(self, demand_kw: float, step: float = 1e-3, iterations: int = 2000) -> None:
        self.demand_kw, self.step, self.iterations = demand_kw, step, iterations

    async def start_optimization(self, carrier, message_data, meta):
        price = float(message_data)
        for _ in range(self.iterations):
            offers = await asyncio.gather(*[carrier.send_awaitable(PriceSignal(price), p)
                                            for p in carrier.others("coordinator")])
            supply = sum(o.power_kw for o in offers)
            price += self.step * (self.demand_kw - supply)
        return price


if __name__ == "__main__":
    result = run_distributed_optimization([MaxGossip(v) for v in [3.0, 9.0, 1.0, 4.0]], None,
                                          topology="ring")
    print("gossip:", result.solutions, f"({result.messages} messages, {result.rounds} rounds)")

    generators = [Generator(0.05, 0.001, 50.0), Generator(0.08, 0.0005, 80.0)]
    price = asyncio.run(start_coordinated_optimization(generators, PriceCoordinator(100.0), 0.1))
    print(f"price {price:.4f} S$/kWh, dispatch {[round(g.P, 2) for g in generators]} kW")
