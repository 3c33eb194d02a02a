"""How the figures look: one figure factory (no pyplot), line styles that differ in colour and
dash, and entity names in words."""

from __future__ import annotations

from typing import Any

#: Legend text per entity of the district's results (others are shown as they are named).
ENTITY_LABELS: dict[str, str] = {
    "centralized": "centralized optimum",
    "thermal_grid_operator": "thermal grid operator (ADMM)",
    "electric_grid_operator": "electric grid operator (ADMM)",
    "aggregator": "aggregator (ADMM)",
}
#: Axis text per quantity.
QUANTITY_LABELS: dict[str, str] = {
    "thermal_power": "Thermal power",
    "active_power": "Active power",
    "reactive_power": "Reactive power",
}
#: Line styles in the order lines are drawn: colour and dash both change, so lines stay apart
#: in grey print and for colour-blind readers; a line drawn under another stays visible.
LINE_STYLES: tuple[dict[str, Any], ...] = (
    {"color": "black", "linestyle": "-", "linewidth": 2.4},
    {"color": "tab:orange", "linestyle": "--", "linewidth": 1.6},
    {"color": "tab:blue", "linestyle": ":", "linewidth": 1.8},
    {"color": "tab:green", "linestyle": "-.", "linewidth": 1.4},
    {"color": "tab:red", "linestyle": (0, (5, 1, 1, 1)), "linewidth": 1.4},
    {"color": "tab:purple", "linestyle": (0, (1, 1)), "linewidth": 1.4},
)


def entity_label(entity: str) -> str:
    """The legend text of an entity: ``"aggregator (ADMM)"``, ``"building 22 (ADMM)"``."""
    if entity in ENTITY_LABELS:
        return ENTITY_LABELS[entity]
    if entity.startswith("building_"):
        return f"building {entity.removeprefix('building_')} (ADMM)"
    return entity.replace("_", " ")


def line_style(i: int) -> dict[str, Any]:
    """The ``i``-th line's style (cycling)."""
    return dict(LINE_STYLES[i % len(LINE_STYLES)])


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (8.0, 4.0),
               **kwargs: Any):
    """A matplotlib ``Figure`` and its axes, without pyplot."""
    # matplotlib is heavy and agents never draw: loaded when a figure is drawn
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots(rows, cols, **kwargs)


def time_axis(ax: Any, start: Any) -> None:
    """Hours of the day on the x axis, the date in its label."""
    # matplotlib is heavy: loaded with the figure already, this only binds the name
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    ax.set_xlabel(f"Time ({start:%Y-%m-%d})")
