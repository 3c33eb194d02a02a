"""The ``dro`` command line: :func:`main` (dispatch, exit codes, signals) in :mod:`.main`, one
module per command owning its options and its run (:mod:`.market_clearing`,
:mod:`.flex_sharing`, :mod:`.agent`, :mod:`.peer`, :mod:`.data`), shared option groups in
:mod:`.common`."""

from distributed_resource_optimization.cli.common import (
    DEFAULT_OUT,
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_NOT_CONVERGED,
    EXIT_OK,
    EXIT_PARTICIPANT,
    EXIT_TERMINATED,
)
from distributed_resource_optimization.cli.main import main

__all__ = ["DEFAULT_OUT", "EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "EXIT_NOT_CONVERGED", "EXIT_OK",
           "EXIT_PARTICIPANT", "EXIT_TERMINATED", "main"]
