"""The scenarios' limits against the physical ratings in the data (energy/ratings.py).
Reference: the data files read independently with pandas (line types: maximum velocity of the
pipes, maximum current of the cables) and hand-derived ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distributed_resource_optimization.energy.ratings import limit_ratings
from distributed_resource_optimization.energy.scenarios import PIPE_REPAIR, LimitRule
from distributed_resource_optimization.energy.tables import DEFAULT_DATA_DIR


def _line_type(kind: str, line: str) -> pd.Series:
    lines = pd.read_csv(DEFAULT_DATA_DIR / f"grid/{kind}_grid_lines.csv", dtype=str)
    types = pd.read_csv(DEFAULT_DATA_DIR / f"grid/{kind}_grid_line_types.csv")
    line_type = lines.loc[lines["line_name"] == line, "line_type"].iloc[0]
    return types.loc[types["line_type"] == line_type].iloc[0]


def test_every_constrained_scenario_states_its_limit_against_the_data(district):
    """The study's stress limits are far below the ratings: pipe 4 at 4.5 % of its maximum
    velocity, cable 4 at 32 % of its current rating; head and voltage have no limit in the data."""
    assert limit_ratings(district, "unconstrained") == []
    (pipe,) = limit_ratings(district, "stress-thermal-congestion")
    row = _line_type("thermal", "4")
    velocity_max = float(row["maximum_velocity"])
    assert pipe["rating"]["value"] == velocity_max and pipe["unit"] == "m3/s"
    assert "thermal_grid_line_types.csv" in pipe["rating"]["source"]
    diameter = float(row["diameter"])
    assert pipe["velocity_m_s"] == pytest.approx(pipe["value"] / (np.pi * diameter**2 / 4))
    assert pipe["share_of_rating"] == pytest.approx(pipe["velocity_m_s"] / velocity_max)
    assert 0.04 < pipe["share_of_rating"] < 0.05
    _, cable = limit_ratings(district, "electric-congestion")
    current = float(_line_type("electric", "4")["maximum_current"])
    rating = np.sqrt(3) * 22_000 * current / 1000  # kVA at the 22 kV nominal voltage
    assert cable["rating"]["value"] == pytest.approx(rating)
    assert cable["share_of_rating"] == pytest.approx(cable["value"] / rating)
    assert 0.3 < cable["share_of_rating"] < 0.35
    (head,) = limit_ratings(district, "thermal-head")
    assert head["rating"] is None and "no head" in head["note"]
    _, voltage = limit_ratings(district, "voltage")
    assert voltage["rating"] is None and voltage["share_of_rating"] < 0.02
    assert all("stress test" in entry["origin"] for entry in (pipe, cable, head, voltage))
    assert not any(entry["physical"] for entry in (pipe, cable, head, voltage))


def test_thermal_congestion_is_the_pipe_velocity_rating_through_its_bypass(district):
    """thermal-congestion: pipe 4 under repair, its flow through a 0.7 m bypass at the line
    type's maximum velocity: 2 m/s x pi/4 x 0.7^2 = 0.76969 m3/s (from the CSV and the stated
    diameter), 86 % of the pipe's flow at the cooling peak; stated as physical, with its cause."""
    (pipe,) = limit_ratings(district, "thermal-congestion")
    velocity_max = float(_line_type("thermal", "4")["maximum_velocity"])
    assert velocity_max == 2.0
    assert pipe["physical"] is True and pipe["bypass_diameter_m"] == 0.7
    assert pipe["value"] == pytest.approx(velocity_max * np.pi / 4 * 0.7 ** 2, rel=1e-12)
    assert pipe["value"] == pytest.approx(0.76969, abs=1e-5)
    assert pipe["velocity_m_s"] == pytest.approx(velocity_max) and pipe["share_of_rating"] == 1.0
    assert "under repair" in pipe["origin"] and "stress" not in pipe["origin"]
    e = list(district.thermal_grid.line_names.astype(str)).index("4")
    share = pipe["value"] / district.thermal_model.branch_flow_ref_m3_s[e]
    assert 0.85 < share < 0.88
    with pytest.raises(ValueError, match="a pipe bypass rates a pipe's flow"):
        LimitRule("thermal_node_head_min", "15", rating=PIPE_REPAIR)
