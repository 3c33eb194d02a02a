"""The market's names: entities, agent modes, exchanged groups, the publication key.

Kept apart from :mod:`.entities` (which loads the energy models) so that the command line and
the agent processes can use them without importing the models.
"""

from __future__ import annotations

from collections.abc import Sequence

#: Exchanged variable groups in output order.
GROUPS: tuple[str, ...] = ("p_th", "p", "q")
#: Separator of the parts of a global variable name ``<group>@<timestep>@<der>``.
NAME_SEPARATOR = "@"
#: Publication key of the buildings' baseline demand (one value per exchanged variable).
REFERENCE_DEMAND = "reference_demand"
#: Entity names of the grid operators (they supply the exchanged demands).
THERMAL_GRID_OPERATOR = "thermal_grid_operator"
ELECTRIC_GRID_OPERATOR = "electric_grid_operator"
GRID_OPERATORS: tuple[str, ...] = (THERMAL_GRID_OPERATOR, ELECTRIC_GRID_OPERATOR)
AGGREGATOR = "aggregator"
#: Prefix of a building agent's name, followed by the building's DER name (``building_22``).
BUILDING_PREFIX = "building_"
#: Agent modes of the market clearing.
AGENT_MODES: tuple[str, ...] = ("entities", "per-building")


def is_consumer(name: str) -> bool:
    """Whether ``name`` is a consumer entity: the aggregator or a building agent."""
    return name == AGGREGATOR or name.startswith(BUILDING_PREFIX)


def entity_names(der_names: Sequence[str], agents: str = "entities") -> list[str]:
    """The market's entity names in run order for ``agents`` mode."""
    if agents not in AGENT_MODES:
        raise ValueError(f"agents must be one of {', '.join(AGENT_MODES)}, got {agents!r}")
    consumers = [AGGREGATOR] if agents == "entities" else \
        [f"{BUILDING_PREFIX}{d}" for d in der_names]
    return [*GRID_OPERATORS, *consumers]
