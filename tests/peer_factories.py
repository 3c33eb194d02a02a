"""Participant factories for the tests' peer processes (``dro peer --factory peer_factories:...``;
the tests put this folder on the spawned processes' PYTHONPATH). ``dro peer`` calls only
registered factories: each is decorated with ``@participant_factory``; ``unregistered`` is not."""

from __future__ import annotations

from distributed_resource_optimization import (
    DistributedAlgorithm,
    create_cohda_participant,
    participant_factory,
)


@participant_factory
def cohda(participant_id: int, schedules: list[list[float]]):
    """A COHDA participant with its own schedule set."""
    return create_cohda_participant(participant_id, schedules)


class Boom(DistributedAlgorithm):
    """Fails on the first message, as a broken local model would."""

    async def on_exchange_message(self, carrier, message_data, meta):
        raise RuntimeError("local model failed")


@participant_factory
def boom():
    return Boom()


class AskNeighbours(DistributedAlgorithm):
    """On the start, asks every neighbour for its value (``send_awaitable``) and keeps the sum;
    answers such questions with ``reply_to_other``."""

    def __init__(self, value: float) -> None:
        self.value = value
        self.total: float | None = None

    async def on_exchange_message(self, carrier, message_data, meta):
        if message_data == "value?":
            carrier.reply_to_other(self.value, meta)
            return
        import asyncio

        answers = await asyncio.gather(*(carrier.send_awaitable("value?", n)
                                         for n in carrier.others("ask")))
        self.total = self.value + sum(answers)

    def solution(self):
        return self.total


@participant_factory
def ask_neighbours(value: float):
    return AskNeighbours(value)


class PingPong(DistributedAlgorithm):
    """Plays the ball back forever (a run that never ends by itself); with ``playing`` (a file
    path) it creates that file when it first gets the ball, so a test knows the game is on."""

    def __init__(self, playing: str | None = None) -> None:
        self.playing = playing

    async def on_exchange_message(self, carrier, message_data, meta):
        import asyncio
        from pathlib import Path

        if self.playing is not None:
            Path(self.playing).touch()
            self.playing = None
        await asyncio.sleep(0.01)
        carrier.send_to_other(message_data, meta["sender"])


@participant_factory
def ping_pong(playing: str | None = None):
    return PingPong(playing)


# -- factories that fail: what `dro peer` must report in one line --------------------------------

@participant_factory
def failing(message: str = "no data file for this unit"):
    """Raises, as a factory whose organisation's data is missing would."""
    raise FileNotFoundError(message)


@participant_factory
def ctrl_c():
    """Ctrl-C while the factory runs: an interrupt, never reported as the factory's error."""
    raise KeyboardInterrupt


@participant_factory
def not_a_participant():
    """Returns something that is not a participant."""
    return {"value": 1.0}


def unregistered():
    """Not registered: ``dro peer`` must refuse it without calling it (a call fails the test)."""
    raise AssertionError("an unregistered factory was called")
