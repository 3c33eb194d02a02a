"""Warm starts across runs: the engine's last iterate as :data:`STATE_FILE`, written by one run
and read by the next one's ``--warm-start``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from distributed_resource_optimization.admm.warm_start import WarmStart
from distributed_resource_optimization.energy.tables import DataFileError, read_table

#: The engine's last iterate, one row per actor entry: what ``--warm-start`` reads.
STATE_FILE = "admm_state.csv"
STATE_COLUMNS: tuple[str, ...] = ("actor", "entry", "output", "price", "rho")


def state_frame(admm) -> pd.DataFrame:
    """:data:`STATE_COLUMNS` of an :class:`~.admm.results.ADMMResult`'s last iterate: the
    actor, its entry (the global variable's name, or the position in its output vector), its
    output and the price it saw (the unit of the outputs' costs per unit of output) and the
    final penalty (the same on every row)."""
    warm = WarmStart.from_result(admm)
    return pd.DataFrame({"actor": warm.actors, "entry": warm.entries, "output": warm.outputs,
                         "price": warm.prices,
                         "rho": np.nan if warm.rho is None else warm.rho})


def read_warm_start(path: Path | str) -> WarmStart:
    """The :class:`~.admm.warm_start.WarmStart` of a :data:`STATE_FILE` written by an earlier
    run; a malformed file raises ``ValueError`` naming the file, row and column (the checks of
    :func:`~.energy.tables.read_table`)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"--warm-start {path}: no such file (the {STATE_FILE} of an earlier run)")
    # rho may be empty (a run without a penalty to pass on: the coordinator's is used), so it
    # is read as optional, but the column itself must be there.
    frame = read_table(path.parent, path.name,
                       {"actor": str, "entry": str, "output": float, "price": float},
                       optional={"rho": float})
    if "rho" not in frame.columns:
        raise DataFileError(path, "required column is missing", column="rho")
    rho = frame["rho"].to_numpy(dtype=float)
    rho = rho[np.isfinite(rho)]
    if rho.size and (np.ptp(rho) > 0 or rho[0] <= 0):
        raise DataFileError(path, "one positive penalty on every row expected", column="rho")
    try:
        return WarmStart(tuple(frame["actor"]), tuple(frame["entry"]),
                         frame["output"].to_numpy(dtype=float),
                         frame["price"].to_numpy(dtype=float),
                         float(rho[0]) if rho.size else None)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
