"""Input checks shared by all layers: clear errors naming the parameter, before any work starts.

The lowest layer of the package (numpy and the standard library only): every argument check has
its one home here, and the layers above call these instead of re-checking.
"""

from __future__ import annotations

import numbers
from typing import TypeVar

import numpy as np

_T = TypeVar("_T")


def as_finite_vector(value: object, name: str, *, allow_scalar: bool = False) -> np.ndarray:
    """Return ``value`` as a 1-D float array, or raise naming ``name`` (TypeError/ValueError)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a sequence of numbers ({exc})") from None
    if arr.ndim == 0 and allow_scalar:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{name} contains NaN or infinite values ({name}[{k}] = {arr[k]})")
    return arr


def as_finite_scalar(value: object, name: str) -> float:
    """Return ``value`` as a finite float, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def positive_scalar(value: object, name: str) -> float:
    v = as_finite_scalar(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {v}")
    return v


def tolerance(value: object, name: str) -> float:
    """A solver's stopping tolerance: a finite float in (0, 1), or ``ValueError`` naming ``name``
    (0 can never be met, 1 and above accept any answer)."""
    v = positive_scalar(value, name)
    if v >= 1:
        raise ValueError(f"{name} must be below 1 (a solver tolerance), got {v:g}")
    return v


def flag(value: object, name: str) -> bool:
    """A switch: ``True`` or ``False`` (also numpy's), or ``TypeError`` naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def renamed_keyword(new: _T | None, new_name: str, old: _T | None, old_name: str
                    ) -> tuple[_T | None, str]:
    """The value of a keyword that was renamed from ``old_name`` to ``new_name``, with the name
    the caller used (so an error names what they wrote): ``(new, new_name)``, or ``(old,
    old_name)`` if only the old keyword was given; both given is a ``TypeError``."""
    if old is None:
        return new, new_name
    if new is not None:
        raise TypeError(f"give {new_name} only ({old_name} is its old name)")
    return old, old_name


def positive_seconds(value: object, name: str) -> float:
    """A duration: an int or float > 0 seconds (``inf``: no limit), or ``ValueError`` naming
    ``name``."""
    if not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def non_negative_scalar(value: object, name: str) -> float:
    v = as_finite_scalar(value, name)
    if v < 0:
        raise ValueError(f"{name} must be non-negative, got {v}")
    return v


def _integer_at_least(value: object, name: str, minimum: int, words: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be {words}, got {value}")
    return int(value)


def positive_int(value: object, name: str) -> int:
    return _integer_at_least(value, name, 1, "at least 1")


def non_negative_int(value: object, name: str) -> int:
    return _integer_at_least(value, name, 0, "non-negative")


def scalar_in_range(value: object, name: str, low: float | None = None,
                    high: float | None = None) -> float:
    """A finite float within ``[low, high]`` (either bound optional), or raise naming ``name``."""
    v = as_finite_scalar(value, name)
    if low is not None and v < low:
        raise ValueError(f"{name} must be at least {low:g}, got {v}")
    if high is not None and v > high:
        raise ValueError(f"{name} must be at most {high:g}, got {v}")
    return v


def int_at_least(value: object, name: str, low: int) -> int:
    """An integer ``>= low``, or raise naming ``name``."""
    return _integer_at_least(value, name, low, f"an integer >= {low}")
