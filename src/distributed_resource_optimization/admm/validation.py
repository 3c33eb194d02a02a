# TEMPORARY SHIM (issue 23 merge): the argument checks moved to distributed_resource_optimization.checks.
"""Re-exports :mod:`distributed_resource_optimization.checks` under its old path."""

from distributed_resource_optimization.checks import (  # noqa: F401
    as_finite_scalar,
    as_finite_vector,
    int_at_least,
    non_negative_int,
    non_negative_scalar,
    positive_int,
    positive_scalar,
    positive_seconds,
    scalar_in_range,
    tolerance,
)
