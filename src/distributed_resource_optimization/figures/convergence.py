"""Figures of a run's convergence: what the run measured per iteration, and the rule it
stopped on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from distributed_resource_optimization.figures.style import line_style, new_figure

if TYPE_CHECKING:  # frames come in; pandas itself is not needed to draw them
    import pandas as pd

_FLOOR = 1e-16  # a residual of 0 on a log axis


def market_convergence(history: pd.DataFrame, *, eps: float | None, title: str):
    """The market clearing's residuals per iteration (``history``: rows ``iteration``,
    columns ``primal_<q>`` in kW / kvar, ``dual_<q>`` in S$/kWh and ``rho``, as
    :attr:`MarketResult.residuals_frame`): primal residuals (the study's figure 3) above, dual
    residuals and the penalty below, each with the threshold ``eps`` the run stopped on."""
    fig, (top, bottom) = new_figure(2, 1, size=(8.0, 6.0), sharex=True)
    for ax, kind, unit in ((top, "primal", "kW / kvar"), (bottom, "dual", "S$/kWh")):
        columns = [c for c in history.columns if c.startswith(kind + "_")]
        for i, column in enumerate(columns):
            ax.plot(history.index, np.maximum(history[column].to_numpy(float), _FLOOR),
                    label=column.removeprefix(kind + "_"), **line_style(i + 1))
        if eps is not None:
            ax.axhline(eps, label=f"stop: every {kind} residual <= {eps:g}", **line_style(0))
        ax.set_yscale("log")
        ax.set_ylabel(f"{kind} residual ({unit})")
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize="small", loc="upper right")
    if "rho" in history:
        twin = bottom.twinx()
        twin.plot(history.index, history["rho"], color="grey", linewidth=1.0, label="rho")
        twin.set_ylabel("penalty rho (S$ per (p.u.)^2)", color="grey")
    bottom.set_xlabel("Iteration")
    top.set_title(title)
    return fig


def admm_convergence(history: pd.DataFrame, *, title: str, gap_tol: float | None = None,
                     newton: bool = False):
    """An ADMM run per iteration (``history``: :attr:`ADMMResult.history_frame`): the certified
    gap where the run evaluated it, with ``gap_tol`` if the run stopped on it; and the primal and
    dual residuals with their thresholds, drawn as the rule only where the residuals reached
    them at the end (else marked as not the rule the run stopped on). ``newton``: a run of the
    interior-point method, one row per Newton iteration (its coupling and stationarity
    residuals, relative; no thresholds)."""
    gap = history["gap"].dropna() if "gap" in history else None
    if gap is not None and gap.empty:
        gap = None
    panels = 1 if gap is None else 2
    fig, axes = new_figure(panels, 1, size=(8.0, 3.2 * panels + 0.6), sharex=True,
                           squeeze=False)
    axes = axes[:, 0]
    last = history.iloc[-1]
    by_residuals = bool(last["primal"] <= last["eps_primal"] and last["dual"] <= last["eps_dual"])
    ax = axes[0]
    if gap is not None:
        ax.plot(gap.index, np.maximum(gap.to_numpy(float), _FLOOR), marker=".",
                label="certified gap (at the end)" if newton else
                "certified gap (evaluated every few iterations)", **line_style(0))
        if gap_tol is not None:
            # Evaluated at the last iteration and within the tolerance: the gap ended the run.
            stopped = gap.index[-1] == history.index[-1] and gap.iloc[-1] <= gap_tol
            ax.axhline(gap_tol, label=f"gap tolerance {gap_tol:g}"
                       + (" (the run stopped here)" if stopped else ""), **line_style(1))
        ax.set_yscale("log")
        ax.set_ylabel("certified relative gap")
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize="small")
        ax = axes[1]
    names = {"primal": "coupling residual (relative)", "dual": "stationarity residual "
             "(relative)"} if newton else {"primal": "primal residual", "dual": "dual residual"}
    for i, kind in enumerate(("primal", "dual")):
        style = line_style(i + 2)
        ax.plot(history.index, np.maximum(history[kind].to_numpy(float), _FLOOR),
                label=names[kind], **style)
        if newton:
            continue  # the method stops on all its residuals at once (result.stopped_by)
        threshold = dict(style, linewidth=0.8, linestyle="--")
        ax.plot(history.index, np.maximum(history[f"eps_{kind}"].to_numpy(float), _FLOOR),
                label=f"{kind} threshold" + ("" if by_residuals else " (not the stopping rule)"),
                **threshold)
    ax.set_yscale("log")
    ax.set_ylabel("residual")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize="small")
    axes[-1].set_xlabel("Newton iteration (three rounds of messages each)" if newton
                        else "Iteration")
    axes[0].set_title(title)
    return fig
