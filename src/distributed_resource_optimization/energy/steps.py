"""The step lengths of the models' time axis (a module of its own, so the command line can list
them without importing pandas)."""

from __future__ import annotations

#: Supported resolutions and their step length in minutes (:data:`.timeseries.RESOLUTIONS`).
STEP_MINUTES: dict[str, int] = {"30min": 30, "60min": 60}
