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
