"""What each grid limit of a scenario is, held against the physical rating in the data.

Most of the study's scenarios tighten one element of a grid to a multiple of its value at the
linearisation reference (:mod:`.scenarios`): tests of the price mechanics, not physical limits.
``thermal-congestion`` limits a pipe at a physical rating with a stated cause (a section under
repair, its flow through a bypass at the line type's maximum velocity). :func:`limit_ratings`
says which for every limit of a scenario (``physical``): its value and unit, the rating of the
same element in the data where the data has one (a cable's current, a pipe's maximum velocity)
and which share of it the limit is, or that the data has no such limit.
"""

from __future__ import annotations

import numpy as np

from .district import DistrictData
from .radial_grid import grid_file
from .scenarios import LIMITS, rule_element, scenario_limits, scenario_rules

#: The voltage band the voltage limit is compared with (p.u.): a usual planning band of
#: distribution grids; the data states none.
PLANNING_VOLTAGE_MIN_PU = 0.95


def limit_ratings(district: DistrictData, scenario: str) -> list[dict]:
    """One entry per tightened limit of ``scenario`` (JSON-ready): ``limit``, ``element``,
    ``value`` and ``unit``, ``origin`` (how the scenario sets it), and ``rating`` (``value``,
    ``unit``, ``source``; ``None`` where the data has no such limit) with ``share_of_rating``
    (the limit as a share of the rating; for a voltage limit the share of the planning band's
    allowed drop), plus the flow's velocity for a pipe."""
    limits = scenario_limits(district, scenario).resolved(district.thermal_model,
                                                          district.electric_model)
    tg, eg = district.thermal_grid, district.electric_grid
    out = []
    for rule in scenario_rules(scenario):
        e = rule_element(tg if LIMITS[rule.limit].grid == "thermal" else eg, rule)
        what = "voltage drop" if rule.limit == "electric_voltage_min" else "value"
        entry = {"limit": rule.limit, "element": rule.element, "physical": rule.rating is not None,
                 "origin": f"{rule.factor:g} x its {what} at the linearisation reference (a "
                 "stress test of the price mechanics, not a physical limit)"}
        if rule.rating is not None:
            entry["origin"] = f"{rule.rating.cause} (a physical rating)"
            entry["bypass_diameter_m"] = rule.rating.diameter_m
        if rule.limit == "thermal_branch_flow_max":
            value = float(limits["thermal_branch_flow_max_m3_s"][e])
            diameter = tg.line_diameter_m[e] if rule.rating is None else rule.rating.diameter_m
            velocity = value / (np.pi * diameter ** 2 / 4.0)
            rating = float(tg.line_max_velocity_m_s[e])
            entry.update(value=value, unit="m3/s", velocity_m_s=velocity,
                         rating={"value": rating, "unit": "m/s",
                                 "source": f"{grid_file('thermal', 'line_types')}, column "
                                 "maximum_velocity"} if np.isfinite(rating) else None,
                         share_of_rating=velocity / rating if np.isfinite(rating) else None)
        elif rule.limit == "electric_branch_power_max":
            value = float(limits["electric_branch_power_max_kva"][e])
            rating = float(eg.line_rating_kva[e])
            entry.update(value=value, unit="kVA",
                         rating={"value": rating, "unit": "kVA",
                                 "source": f"{grid_file('electric', 'line_types')}, column "
                                 "maximum_current (sqrt(3) x nominal voltage x current)"},
                         share_of_rating=value / rating)
        elif rule.limit == "electric_voltage_min":
            value = float(limits["electric_voltage_min_pu"][e])
            entry.update(value=value, unit="p.u.", rating=None,
                         share_of_rating=(1.0 - value) / (1.0 - PLANNING_VOLTAGE_MIN_PU),
                         note=f"the data has no voltage band; share of a "
                         f"{PLANNING_VOLTAGE_MIN_PU:g} p.u. planning band's allowed drop")
        else:  # thermal_node_head_min
            value = float(limits["thermal_node_head_min_m"][e])
            entry.update(value=value, unit="m", rating=None, share_of_rating=None,
                         note="the data has no head or differential-pressure limit")
        out.append(entry)
    return out
