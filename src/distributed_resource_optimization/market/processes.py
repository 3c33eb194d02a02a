"""The market's entities as agent processes: spawned from a data split, or running elsewhere
and listed in an agents file (TOML: entity name -> address)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pandas as pd

from distributed_resource_optimization.checks import positive_int
from distributed_resource_optimization.energy import DEFAULT_COMFORT
from distributed_resource_optimization.market.names import (
    AGGREGATOR,
    BUILDING_PREFIX,
    GRID_OPERATORS,
    entity_names,
    is_consumer,
)
from distributed_resource_optimization.market.split import (
    building_models,
    data_fingerprints,
    split_data,
)
from distributed_resource_optimization.runtime.engine import CoordinationSession
from distributed_resource_optimization.runtime.processes import (
    DEFAULT_BROKER,
    agent_session,
    new_topic_prefix,
)
from distributed_resource_optimization.runtime.transport import parse_host_port

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def read_agents_file(path: str, runtime: str = "tcp") -> dict[str, str]:
    """Entity name -> address of a TOML agents file (``thermal_grid_operator =
    "10.0.0.5:7001"``; for ``runtime="mqtt"`` inbox topics); ``ValueError`` naming the file and
    the entry for anything else."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as exc:
        raise ValueError(f"--agents-file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"--agents-file {path}: not valid TOML ({exc})") from None
    bad = [k for k, v in table.items() if not isinstance(v, str)]
    if bad:
        raise ValueError(f"--agents-file {path}: {bad[0]!r} must map to an address string "
                         "\"HOST:PORT\"")
    if runtime == "tcp":
        for name, address in table.items():
            where = f"--agents-file {path}: the address of {name!r}"
            if parse_host_port(address, where)[1] == 0:
                raise ValueError(f"{where} needs the agent's port (1-65535), got {address!r}")
    return dict(table)


def horizon_label(timesteps: Sequence[pd.Timestamp]) -> str:
    """A run's horizon as text: first and last step start and the number of steps."""
    stamps = pd.DatetimeIndex(timesteps)
    if len(stamps) == 0:
        return "empty"
    return f"{stamps[0]:%Y-%m-%dT%H:%M}/{stamps[-1]:%Y-%m-%dT%H:%M}/{len(stamps)}"


def entity_context(scenario: str, resolution: str, timesteps: Sequence[pd.Timestamp],
                   fingerprint: str, comfort: str = DEFAULT_COMFORT) -> dict[str, str]:
    """What a market agent reports at join (and the coordinator expects): the scenario,
    resolution and comfort model it was started for, its horizon and the fingerprint of its
    data (:func:`~.split.data_fingerprints`)."""
    return {"scenario": scenario, "resolution": resolution, "comfort": comfort,
            "horizon": horizon_label(timesteps), "data": fingerprint}


def expected_contexts(names: Sequence[str], scenario: str, resolution: str,
                      timesteps: Sequence[pd.Timestamp], src: Path | str,
                      comfort: str = DEFAULT_COMFORT) -> dict[str, dict[str, str]]:
    """Per entity the context its agent must report for a run over ``timesteps`` of
    ``scenario`` on the data of ``src`` (the coordinator's own copy of the district)."""
    prints = data_fingerprints(src, names)
    return {name: entity_context(scenario, resolution, timesteps, prints[name], comfort)
            for name in names}


def agents_of(names: Sequence[str]) -> str:
    """The agent mode a list of entity names implies (``ValueError`` if it is not a market)."""
    missing = [g for g in GRID_OPERATORS if g not in names]
    consumers = [n for n in names if n not in GRID_OPERATORS]
    buildings = [n for n in consumers if n.startswith(BUILDING_PREFIX)]
    if missing or not consumers or (AGGREGATOR in consumers and buildings) or \
            not all(is_consumer(n) for n in consumers):
        raise ValueError(f"the agents {list(names)} are not a market: both grid operators "
                         f"({', '.join(GRID_OPERATORS)}) and either {AGGREGATOR} or "
                         f"{BUILDING_PREFIX}<der> agents are needed")
    return "entities" if AGGREGATOR in consumers else "per-building"


def run_order(names: Sequence[str]) -> list[str]:
    """Entity names in the order of a run: the grid operators, then the consumers in DER order
    (numeric DER names numerically), the order :func:`~.entities.entity_names` gives."""
    def rank(name: str) -> tuple:
        if name in GRID_OPERATORS:
            return (0, GRID_OPERATORS.index(name), "")
        der = name.removeprefix(BUILDING_PREFIX)
        return (1, int(der) if der.isdigit() else float("inf"), der)

    return sorted(names, key=rank)


def process_groups(names: Sequence[str], agents_per_process: int = 1) -> dict[str, list[str]]:
    """The spawned processes of a market run: label -> the entities it hosts. Each grid
    operator alone (another organisation's process); the consumers in run order,
    ``agents_per_process`` to a process (the last one takes the rest), labelled by their
    first and last name (``building_1..building_25``)."""
    k = positive_int(agents_per_process, "agents_per_process")
    groups: dict[str, list[str]] = {n: [n] for n in names if n in GRID_OPERATORS}
    consumers = [n for n in names if n not in GRID_OPERATORS]
    for start in range(0, len(consumers), k):
        group = consumers[start:start + k]
        groups[group[0] if len(group) == 1 else f"{group[0]}..{group[-1]}"] = group
    return groups


@contextlib.asynccontextmanager
async def entity_session(district, scenario, agents, runtime, resolution, data, agents_file,
                         broker, listen, log_dir, coordinator, holder, solver_tol, faults=None,
                         token=None, broker_access=None, runs: int | None = 1,
                         agents_per_process: int = 1) -> AsyncIterator[CoordinationSession]:
    """Spawn one ``dro agent`` per entity from a data split of ``data`` (or of the folder
    ``district`` was loaded from), or reach the running agents of ``agents_file``, for ``runs``
    runs (``None``: as many as the block makes; spawned agents then serve until it ends)
    (:class:`~.runtime.engine.CoordinationSession`). Every agent must report at join the
    scenario, resolution and horizon of this run and the fingerprint of its share of this
    district's data (:func:`expected_contexts`), or the run is refused before the first round
    (:class:`~.runtime.engine.ContextMismatchError`, naming the agent and the field).
    ``agents_per_process``: consumers (the aggregator, or the buildings) share spawned processes
    this many at a time (:func:`process_groups`); each grid operator has one of its own."""
    broker = broker or DEFAULT_BROKER
    src = data or (district.folder if district is not None else None)
    if agents_file is not None:
        addresses = read_agents_file(agents_file, runtime)
        # The order of a run: grid operators, then the consumers in DER order (numeric names
        # numerically), as when the agents are spawned, so both give the same iterates.
        names = run_order(addresses)
        mode = agents_of(names)
        if mode != agents:
            raise ValueError(f"--agents-file {agents_file} lists {mode} agents, but --agents is "
                             f"{agents}")
    elif src is None:
        raise ValueError("the tcp/mqtt runtimes need the data folder to split per entity")
    else:
        names = entity_names(list(building_models(src)), agents)
    comfort = district.comfort if district is not None else DEFAULT_COMFORT
    expected = None if src is None or district is None else expected_contexts(
        names, scenario, resolution, district.timesteps, src, comfort)
    common = dict(broker=broker, listen=listen, progress=holder, faults=faults, token=token,
                  expected_context=expected, broker_access=broker_access)
    if agents_file is not None:
        # Running agents chose their own inboxes and answer whichever coordinator writes; a
        # fresh inbox topic keeps two coordinators on one broker apart.
        async with agent_session(coordinator, names, runtime, addresses=addresses,
                                 topic_prefix=new_topic_prefix(), **common) as session:
            yield session
        return
    topic_prefix = new_topic_prefix()
    with tempfile.TemporaryDirectory(prefix="dro-market-") as tmp:
        folders = split_data(Path(tmp) / "data", src, agents=agents)
        once = ["--once"] if runs == 1 else []
        common_args = ["--scenario", scenario, "--resolution", resolution, "--comfort", comfort,
                       "--runtime", runtime, "--broker", broker, "--topic-prefix", topic_prefix,
                       "--solver-eps", repr(solver_tol), *once, "--exit-with-stdin",
                       "--idle-timeout", str(max(600.0, coordinator.reply_timeout))]
        commands = {label: [arg for name in group
                            for arg in ("--entity", name, "--data", str(folders[name]))]
                    + common_args
                    for label, group in process_groups(names, agents_per_process).items()}
        async with agent_session(coordinator, names, runtime, commands=commands,
                                 topic_prefix=topic_prefix,
                                 log_dir=log_dir or Path(tmp) / "logs", **common) as session:
            yield session

