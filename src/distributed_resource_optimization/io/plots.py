"""Figures of the market clearing, drawn on matplotlib ``Figure`` objects and saved as PNG.

Figures are built without pyplot, so drawing them neither needs nor changes the user's backend.

The functions read the long-format tables of :mod:`.tables`, so the ADMM entities (added by the
market clearing) appear as extra lines next to ``centralized`` without changes here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

#: Axis labels per quantity of the dispatch and price tables.
DISPATCH_LABELS: dict[str, str] = {
    "thermal_power": "Thermal power demand (kW)",
    "active_power": "Active power demand (kW)",
    "reactive_power": "Reactive power demand (kvar)",
}
PRICE_LABELS: dict[str, str] = {
    "thermal_power": "Thermal power price (S$/kWh)",
    "active_power": "Active power price (S$/kWh)",
    "reactive_power": "Reactive power price (S$/kvarh)",
}


def plot_der_series(frame: pd.DataFrame, der: str, quantity: str, ylabel: str, title: str,
                    path: Path | str) -> Path:
    """Line plot of ``quantity`` at DER ``der`` over the day, one line per entity, saved as PNG.

    ``frame`` has the columns of :data:`.tables.COLUMNS`. Values are drawn as steps (each value
    holds for its timestep). ``ValueError`` if the frame has no such rows.
    """
    # matplotlib is heavy: loaded only when a figure is drawn, not by the table writers
    import matplotlib.dates as mdates

    rows = frame[(frame["der"].astype(str) == str(der)) & (frame["quantity"] == quantity)]
    if rows.empty:
        raise ValueError(f"no rows for DER {der!r} and quantity {quantity!r}")
    fig, ax = _new_figure()
    for entity, group in rows.groupby("entity", sort=False):
        times = pd.DatetimeIndex(pd.to_datetime(group["timestep"]))
        values = group["value"].to_numpy()
        if len(times) > 1:  # close the last step so it is drawn as wide as the others
            times = times.append(pd.DatetimeIndex([times[-1] + (times[-1] - times[-2])]))
            values = np.append(values, values[-1])
        ax.step(times, values, where="post", label=str(entity))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.grid(True, alpha=0.3)
    xlabel = f"Time ({pd.to_datetime(rows['timestep'].iloc[0]):%Y-%m-%d})"
    return _save(fig, ax, xlabel, ylabel, title, path)


def _new_figure():
    # matplotlib is heavy: loaded only when a figure is drawn
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    return fig, fig.subplots()


def _save(fig, ax, xlabel: str, ylabel: str, title: str, path: Path | str) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path


def plot_thermal_fl22(dispatch: pd.DataFrame, prices: pd.DataFrame, out_dir: Path | str,
                      scenario: str = "", der: str = "22") -> dict[str, Path]:
    """The study's figures 1 and 2: thermal dispatch and thermal price at FL ``der`` (default 22),
    as ``thermal_dispatch_fl22.png`` and ``thermal_price_fl22.png`` in ``out_dir``."""
    out = Path(out_dir)
    suffix = f" ({scenario})" if scenario else ""
    return {
        "thermal_dispatch": plot_der_series(
            dispatch, der, "thermal_power", DISPATCH_LABELS["thermal_power"],
            f"Thermal power dispatch at FL {der}{suffix}", out / f"thermal_dispatch_fl{der}.png"),
        "thermal_price": plot_der_series(
            prices, der, "thermal_power", PRICE_LABELS["thermal_power"],
            f"Thermal power price at FL {der}{suffix}", out / f"thermal_price_fl{der}.png"),
    }


def plot_residuals(residuals: pd.DataFrame, path: Path | str, title: str = "Primal residuals",
                   eps: float | None = None) -> Path:
    """The study's figure 3: primal residual ``r(a, b)`` per iteration and quantity (log y).

    ``residuals`` has the columns of :data:`.tables.RESIDUAL_COLUMNS`.
    """
    fig, ax = _new_figure()
    for quantity, group in residuals.groupby("quantity", sort=False):
        values = np.maximum(group["primal"].to_numpy(dtype=float), 1e-12)
        ax.plot(group["iteration"].to_numpy(), values, label=str(quantity))
    if eps is not None:
        ax.axhline(eps, color="k", linestyle="--", linewidth=0.8, label=f"eps = {eps:g}")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3, which="both")
    return _save(fig, ax, "Iteration", "Primal residual r(a, b) (kW / kvar)", title, path)


def plot_admm_residuals(result, path: Path | str, title: str = "ADMM residuals") -> Path:
    """Primal and dual residual norms of an :class:`~.admm.results.ADMMResult` per iteration,
    with their stopping thresholds (log y)."""
    fig, ax = _new_figure()
    it = np.arange(1, result.iterations + 1)
    for label, values, eps, color in (("primal", result.primal_residuals, result.eps_primal, "C0"),
                                      ("dual", result.dual_residuals, result.eps_dual, "C1")):
        ax.plot(it, np.maximum(values, 1e-16), color=color, label=f"{label} residual")
        ax.plot(it, np.maximum(eps, 1e-16), color=color, linestyle="--", linewidth=0.8,
                label=f"{label} threshold")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3, which="both")
    return _save(fig, ax, "Iteration", "Residual norm", title, path)
