"""Figures of the district: a quantity at one DER over the day, nodal prices as a heat map,
and a grid element against its limit over the day."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from distributed_resource_optimization.figures.style import line_style, new_figure, time_axis


def _steps(series: pd.Series) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Step edges and values, the last step closed so it is drawn as wide as the others."""
    times = pd.DatetimeIndex(series.index)
    values = np.asarray(series.to_numpy(), dtype=float)
    if len(times) > 1:
        times = times.append(pd.DatetimeIndex([times[-1] + (times[-1] - times[-2])]))
        values = np.append(values, values[-1])
    return times, values


def der_series(series: Mapping[str, pd.Series], *, title: str, ylabel: str,
               note: str | None = None):
    """One line per labelled series (label -> values indexed by the steps' start times), drawn
    as steps (each value holds for its step), in styles that differ in colour and dash; ``note``
    is written in the axes (e.g. why two lines may differ). Returns the figure."""
    if not series:
        raise ValueError("series: nothing to draw")
    fig, ax = new_figure()
    for i, (label, values) in enumerate(series.items()):
        times, y = _steps(values)
        ax.step(times, y, where="post", label=label, **line_style(i))
    first = next(iter(series.values()))
    time_axis(ax, pd.Timestamp(first.index[0]))
    ax.set_ylabel(ylabel)
    if note:  # above the axes, where it hides no line
        fig.suptitle(title)
        ax.set_title(note, fontsize="small", loc="left")
    else:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def price_heatmap(prices: pd.DataFrame, *, title: str, unit: str):
    """Nodal prices as a heat map: one row per DER (its node), one column per step
    (``prices``: rows the steps' start times, columns the DERs). The rows behind a congested
    element stand out as a band. Returns the figure."""
    # matplotlib is heavy: loaded with the figure already, this only binds the name
    import matplotlib.dates as mdates

    if prices.empty:
        raise ValueError("prices: nothing to draw")
    ders = [str(c) for c in prices.columns]
    order = sorted(range(len(ders)), key=lambda i: (not ders[i].isdigit(),
                                                     int(ders[i]) if ders[i].isdigit() else 0,
                                                     ders[i]))
    values = prices.to_numpy(dtype=float)[:, order].T
    times = pd.DatetimeIndex(prices.index)
    step = times[1] - times[0] if len(times) > 1 else pd.Timedelta(hours=1)
    edges = mdates.date2num(times.append(pd.DatetimeIndex([times[-1] + step])).to_pydatetime())
    fig, ax = new_figure(size=(9.0, 0.22 * len(ders) + 1.6))
    mesh = ax.pcolormesh(edges, np.arange(len(ders) + 1), values, cmap="viridis",
                         shading="flat")
    ax.set_yticks(np.arange(len(ders)) + 0.5, [f"FL {ders[i]}" for i in order],
                  fontsize="x-small")
    ax.invert_yaxis()
    ax.xaxis_date()
    time_axis(ax, times[0])
    ax.set_title(title)
    fig.colorbar(mesh, ax=ax, label=unit, pad=0.01)
    return fig


def limit_over_day(values: pd.Series, limit: float | pd.Series, *, title: str, ylabel: str,
                   upper: bool = True, rating: float | None = None,
                   rating_label: str | None = None, value_label: str = "nonlinear model"):
    """A grid element's value over the day (``values``, indexed by the steps' start times)
    against its limit (an upper limit if ``upper``, else a lower one), with the steps where the
    value reaches the limit (within 0.1 %) marked and, if given, the element's physical
    ``rating``. Returns the figure."""
    limit_series = (limit if isinstance(limit, pd.Series)
                    else pd.Series(float(limit), index=values.index))
    fig, ax = new_figure()
    times, y = _steps(values)
    ax.step(times, y, where="post", label=value_label, **line_style(0))
    lt, ly = _steps(limit_series)
    ax.step(lt, ly, where="post", label="limit of the scenario", **line_style(1))
    scale = np.maximum(np.abs(limit_series.to_numpy(dtype=float)), 1e-12)
    gap = (limit_series.to_numpy(dtype=float) - values.to_numpy(dtype=float)) / scale
    binding = (gap <= 1e-3) if upper else (-gap <= 1e-3)
    if binding.any():
        ax.plot(values.index[binding], values.to_numpy(dtype=float)[binding], "v" if upper
                else "^", color="tab:red", markersize=5, linestyle="none",
                label=f"at the limit ({int(binding.sum())} steps)")
    if rating is not None:
        ax.axhline(rating, label=rating_label or "rating", **line_style(2))
    time_axis(ax, pd.Timestamp(values.index[0]))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def grid_map(longitude: np.ndarray, latitude: np.ndarray, lines: list[tuple[int, int]],
             values: np.ndarray, *, labels: list[str], source: int, title: str, unit: str,
             marked: list[tuple[int, int, str]] = ()):
    """The grid drawn from its nodes' coordinates (degree), each node coloured by ``values``
    (NaN: a node without a value, drawn hollow), the source as a square, and the ``marked``
    lines (from, to, legend text: e.g. the scenario's limited element) drawn over the others.
    Returns the figure."""
    # matplotlib is heavy: loaded with the figure already, this only binds the name
    from matplotlib.lines import Line2D

    x, y = np.asarray(longitude, dtype=float), np.asarray(latitude, dtype=float)
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("every node needs a latitude and a longitude to be drawn on the map")
    fig, ax = new_figure(size=(7.5, 5.6))
    for a, b in lines:
        ax.plot([x[a], x[b]], [y[a], y[b]], color="0.6", linewidth=1.2, zorder=1)
    handles = []
    for i, (a, b, text) in enumerate(marked):
        # Each narrower than the one before: a pipe and a cable along the same way both show.
        style, width = line_style(i + 4), 7.0 - 3.0 * i
        ax.plot([x[a], x[b]], [y[a], y[b]], color=style["color"], linewidth=width,
                solid_capstyle="butt", zorder=2 + i)
        handles.append(Line2D([], [], color=style["color"], linewidth=width, label=text))
    v = np.asarray(values, dtype=float)
    has = ~np.isnan(v)
    points = ax.scatter(x[has], y[has], c=v[has], cmap="viridis", s=70, edgecolors="black",
                        linewidths=0.5, zorder=5)
    ax.scatter(x[~has], y[~has], facecolors="white", edgecolors="0.4", s=25, zorder=3)
    ax.scatter([x[source]], [y[source]], marker="s", s=110, facecolors="none",
               edgecolors="black", linewidths=1.5, zorder=4)
    handles.append(Line2D([], [], marker="s", color="black", markerfacecolor="none",
                          linestyle="none", label="substation / plant (source)"))
    for i in np.flatnonzero(has):
        ax.annotate(labels[i], (x[i], y[i]), textcoords="offset points", xytext=(4, 4),
                    fontsize="x-small")
    fig.colorbar(points, ax=ax, label=unit, shrink=0.7)
    # Degrees of longitude shrink with the cosine of the latitude.
    ax.set_aspect(1.0 / max(np.cos(np.radians(float(np.mean(y)))), 1e-6))
    ax.set_xlabel("longitude (degree)")
    ax.set_ylabel("latitude (degree)")
    ax.ticklabel_format(useOffset=False)
    ax.set_title(title)
    # Below the axes: inside, it would hide a node wherever it went.
    ax.legend(handles=handles, fontsize="small", loc="upper center", ncol=2,
              bbox_to_anchor=(0.5, -0.14))
    return fig
