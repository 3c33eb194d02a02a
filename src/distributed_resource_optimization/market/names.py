"""The market's names and defaults, one owner: entities, agent modes, the exchanged quantities and
their global variable names, the publication key of the buildings' baseline, the stopping rules
and the clearing's default settings.

Kept apart from :mod:`.entities` and :mod:`.clearing` (which load the energy models) and free of
pandas and scipy, so that the command line can list and print them without importing the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from distributed_resource_optimization.energy import GROUPS as _ENERGY_GROUPS
from distributed_resource_optimization.energy import QUANTITIES as _ENERGY_QUANTITIES

# -- exchanged quantities ----------------------------------------------------------------------

#: Exchanged variable groups in output order (the energy models' LP groups: thermal ``p_th`` kW,
#: active ``p`` kW, reactive ``q`` kvar).
GROUPS: tuple[str, ...] = _ENERGY_GROUPS
#: Result quantity name per exchanged group (the energy models' names, as in the centralized
#: result and the output tables).
QUANTITY_OF: dict[str, str] = {group: quantity for quantity, group in _ENERGY_QUANTITIES.items()}
#: Name of the study's residuals per group (``thermal_primal``, ``thermal_dual``, ...).
RESIDUAL_OF: dict[str, str] = {"p_th": "thermal", "p": "active", "q": "reactive"}
#: Separator of the parts of a global variable name ``<group>@<timestep>@<der>``.
NAME_SEPARATOR = "@"
#: Publication key of the buildings' baseline demand (one value per exchanged variable). The text
#: is the one agents have always sent, so agents of earlier versions still understand it.
BASELINE_KEY = "reference_demand"
#: Former name of :data:`BASELINE_KEY`.
REFERENCE_DEMAND = BASELINE_KEY
#: Key of the district's reference powers (kW / kvar per exchanged group ``p_th``, ``p``, ``q``:
#: the mean absolute baseline at the cooling peak), which the grid operators derive at setup from
#: the baselines and the consumers read for their penalty scale: three numbers instead of every
#: building's baseline.
REFERENCE_POWERS_KEY = "reference_powers"

# -- entities ----------------------------------------------------------------------------------

#: Entity names of the grid operators (they supply the exchanged demands).
THERMAL_GRID_OPERATOR = "thermal_grid_operator"
ELECTRIC_GRID_OPERATOR = "electric_grid_operator"
GRID_OPERATORS: tuple[str, ...] = (THERMAL_GRID_OPERATOR, ELECTRIC_GRID_OPERATOR)
AGGREGATOR = "aggregator"
#: Prefix of a building agent's name, followed by the building's DER name (``building_22``).
BUILDING_PREFIX = "building_"
#: Agent modes of the market clearing.
AGENT_MODES: tuple[str, ...] = ("entities", "per-building")

# -- stopping rules and defaults of the clearing -----------------------------------------------

#: Stopping rules: ``"certified"`` (the study's rule, prices that support every entity's
#: dispatch to ``price_tol`` and a certified gap of at most ``gap_tol``:
#: :func:`.rule.certified_rule`), ``"study"`` (the study's Algorithm 1 rule alone,
#: :func:`.rule.study_rule`) or ``"engine"`` (the engine's Boyd et al. rule).
STOP_RULES: tuple[str, ...] = ("certified", "study", "engine")
#: Former names of the stopping rules, still accepted (``"seed"``: the study, the seed paper).
STOP_ALIASES: dict[str, str] = {"seed": "study"}
DEFAULT_STOP = "certified"
#: The certified stop: prices support every entity's own dispatch to this (S$/kWh) ...
DEFAULT_PRICE_TOL = 1e-4
#: ... and the objective is certified within this relative gap of the optimum.
DEFAULT_GAP_TOL = 1e-4
#: Initial penalty, S$ per (per-unit)^2.
DEFAULT_RHO = 20.0
#: The study's threshold on the primal (kW / kvar) and dual (S$/kWh) residuals.
DEFAULT_EPS = 0.1
DEFAULT_MAX_ITERS = 5000
#: Over-relaxation and Anderson memory of the engine for the market (its own defaults differ).
DEFAULT_ALPHA = 1.8
DEFAULT_ANDERSON_MEMORY = 20
#: Gap and feasibility tolerance of the entities' Clarabel solver (``solver="clarabel"``).
DEFAULT_SOLVER_TOL = 1e-8
#: Successive linearisation of the market: the objective may move by at most this much
#: (relative) between the last two clearings (ADMM clears to about 1e-5 of the optimum).
DEFAULT_MARKET_OBJECTIVE_TOL_REL = 1e-5
#: The old name of :data:`DEFAULT_SOLVER_TOL` (until 0.2).
DEFAULT_SOLVER_EPS = DEFAULT_SOLVER_TOL


#: How the market clears (``clearing=``, ``dro market-clearing --clearing``): ``"admm"`` (the
#: study's Algorithm 1 on the ADMM engine, any runtime) or ``"interior-point"`` (second-order
#: coordination: the distributed primal-dual interior-point method of
#: :mod:`~distributed_resource_optimization.interior_point`; in process).
CLEARINGS: tuple[str, ...] = ("admm", "interior-point")
DEFAULT_CLEARING = "admm"


def check_clearing(clearing: str) -> str:
    """``clearing`` if it is one of :data:`CLEARINGS`, else ``ValueError`` naming them."""
    if clearing not in CLEARINGS:
        raise ValueError(f"clearing must be one of {', '.join(CLEARINGS)}, got {clearing!r}")
    return clearing


def stop_rule(stop: str) -> str:
    """The stopping rule ``stop`` names (an alias resolved), ``ValueError`` if none."""
    rule = STOP_ALIASES.get(stop, stop)
    if rule not in STOP_RULES:
        raise ValueError(f"stop must be 'certified', 'study' (alias 'seed') or 'engine', "
                         f"got {stop!r}")
    return rule


def is_consumer(name: str) -> bool:
    """Whether ``name`` is a consumer entity: the aggregator or a building agent."""
    return name == AGGREGATOR or name.startswith(BUILDING_PREFIX)


def entity_names(der_names: Sequence[str], agents: str = "entities") -> list[str]:
    """The market's entity names in run order for ``agents`` mode."""
    check_agents(agents)
    consumers = [AGGREGATOR] if agents == "entities" else \
        [f"{BUILDING_PREFIX}{d}" for d in der_names]
    return [*GRID_OPERATORS, *consumers]


def check_agents(agents: str) -> str:
    """``agents`` if it is an agent mode of :data:`AGENT_MODES`, else ``ValueError``."""
    if agents not in AGENT_MODES:
        raise ValueError(f"agents must be one of {', '.join(AGENT_MODES)}, got {agents!r}")
    return agents


# -- global variable names ---------------------------------------------------------------------


def timestep_label(timestep: datetime) -> str:
    """A time step as it appears in global variable names, e.g. ``"2017-01-02T14:00"``."""
    return f"{timestep:%Y-%m-%dT%H:%M}"


def variable_name(group: str, timestep: datetime, der: str) -> str:
    """Global variable name of an exchanged demand, e.g. ``"p_th@2017-01-02T14:00@22"``."""
    return NAME_SEPARATOR.join((group, timestep_label(timestep), der))


def variable_group(name: str) -> str:
    """The group (``p_th``, ``p``, ``q``) of a global variable name."""
    return name.split(NAME_SEPARATOR, 1)[0]


def parse_variable(name: str) -> tuple[str, str, str]:
    """``(group, timestep, der)`` of a global variable name (``ValueError`` if malformed)."""
    parts = str(name).split(NAME_SEPARATOR)
    if len(parts) != 3 or parts[0] not in GROUPS:
        raise ValueError(f"{name!r} is not an exchanged-demand variable "
                         f"<group>{NAME_SEPARATOR}<timestep>{NAME_SEPARATOR}<der>")
    return parts[0], parts[1], parts[2]
