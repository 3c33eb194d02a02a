"""Helpers shared by the commands: progress lines and option checks made before any work."""

from __future__ import annotations

import sys

PROG = "dro"


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def check_positive(value: float | None, flag: str) -> None:
    """``ValueError`` naming ``flag`` unless ``value`` is None or a finite positive number."""
    import math

    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{flag} must be a finite positive number, got {value}")


def check_at_least_one(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be at least 1, got {value}")


def engine_settings(args) -> dict[str, float | int]:
    """The coordinator settings of ``--round-timeout`` and ``--stale-rounds`` that were given
    (the defaults live with the coordinator); ``ValueError`` naming the option when out of range."""
    check_positive(args.round_timeout, "--round-timeout")
    if args.stale_rounds is not None and args.stale_rounds < 0:
        raise ValueError(f"--stale-rounds must be 0 or more, got {args.stale_rounds}")
    settings: dict[str, float | int] = {}
    if args.round_timeout is not None:
        settings["reply_timeout"] = args.round_timeout
    if args.stale_rounds is not None:
        settings["stale_rounds"] = args.stale_rounds
    return settings


def faults_of(args) -> object | None:
    """The :class:`~..runtime.carrier.Faults` of ``--drop-messages`` / ``--fault-seed``, or
    ``None``; ``ValueError`` naming the option for a fraction outside [0, 1)."""
    import math

    drop = args.drop_messages
    if not (math.isfinite(drop) and 0.0 <= drop < 1.0):
        raise ValueError(f"--drop-messages must be a fraction in [0, 1), got {drop}")
    if drop == 0.0:
        return None
    from distributed_resource_optimization.runtime.carrier import Faults

    return Faults(drop=drop, seed=args.fault_seed)


def token_of(args) -> str | None:
    """``--token``, or the ``DRO_TOKEN`` environment variable, or ``None``."""
    import os

    from distributed_resource_optimization.runtime.processes import TOKEN_ENV

    return args.token or os.environ.get(TOKEN_ENV) or None
