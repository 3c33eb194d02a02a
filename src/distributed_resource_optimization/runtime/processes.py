"""Agent processes: run one participant per OS process, and spawn and stop such processes.

:func:`serve_agent` is the body of ``dro agent``: it puts one participant on a mango transport (TCP
or MQTT), announces where it can be reached with one line on stdout and serves the
coordinator's runs. :class:`AgentProcesses` is the other side, used by the commands that spawn
their agents (``--runtime tcp|mqtt``): it starts the ``dro agent`` processes, waits until each has
announced its address, and ends them all when the run ends, also on error or Ctrl-C (and a
spawned agent ends by itself when its parent goes away: it watches its stdin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed_resource_optimization.algorithm.carrier import DistributedResult
from distributed_resource_optimization.algorithm.topology import neighbour_lists
from distributed_resource_optimization.checks import positive_seconds
from distributed_resource_optimization.runtime.engine import (
    CoordinationSession,
    CoordinatorAgent,
    ParticipantAgent,
)
from distributed_resource_optimization.runtime.factories import ParticipantFactory
from distributed_resource_optimization.runtime.forkserver import (
    ForkedProcess,
    ForkServer,
    start_method,
)
from distributed_resource_optimization.runtime.local_work import InlineWork
from distributed_resource_optimization.runtime.mango import DEFAULT_TOPIC_PREFIX, MangoTransport
from distributed_resource_optimization.runtime.peers import (
    CONTROLLER_NAME,
    DEFAULT_TIMEOUT_S,
    HANDSHAKE_TIMEOUT_S,
    PeerAgent,
    PeerRunController,
    peer_name,
)
from distributed_resource_optimization.runtime.sync import run_sync
from distributed_resource_optimization.runtime.transport import (
    CoordinationError,
    Mailbox,
    name_list,
)

#: Progress of starting agent processes: INFO when they start and when all are ready, DEBUG per
#: agent (the command line shows these as progress lines).
_log = logging.getLogger(__name__)

#: Prefix of the line on stdout with which an agent process announces its address (JSON follows).
READY_PREFIX = "DRO_AGENT_READY "
#: Runtimes whose agents run in processes of their own.
PROCESS_RUNTIMES: tuple[str, ...] = ("tcp", "mqtt")
#: Every runtime of the commands: all agents in this process, or one process per agent.
RUNTIMES: tuple[str, ...] = ("inproc", *PROCESS_RUNTIMES)
#: Default wait (s) for spawned agents' ready lines.
READY_TIMEOUT_S = 120.0
#: Default MQTT broker address.
DEFAULT_BROKER = "127.0.0.1:1883"


def make_transport(runtime: str, *, listen: str = "127.0.0.1:0", broker: str = DEFAULT_BROKER,
                   inbox: str | None = None, topic_prefix: str | None = None,
                   token: str | None = None, broker_access: Any = None) -> MangoTransport:
    """A mango-agents transport for ``runtime`` (``"tcp"``: listening on ``listen``; ``"mqtt"``: on
    ``broker``, inbox topic ``<topic_prefix>/<inbox>``, logged in with ``broker_access``, a
    :class:`~.mqtt_transport.BrokerAccess`); with a ``token`` every frame is authenticated
    (:mod:`.security`)."""
    check_broker_access(runtime, broker_access)
    if runtime == "tcp":
        return MangoTransport.tcp(listen, token=token)
    if runtime == "mqtt":
        access = broker_access
        return MangoTransport.mqtt(broker, inbox, topic_prefix=topic_prefix or DEFAULT_TOPIC_PREFIX,
                                   token=token, login=getattr(access, "login", None),
                                   tls=getattr(access, "tls", None))
    raise ValueError(f"runtime must be one of {', '.join(PROCESS_RUNTIMES)}, got {runtime!r}")


def check_broker_access(runtime: str, broker_access: Any) -> None:
    """``ValueError`` for a broker login or TLS given to a runtime without a broker (spawned
    agents would refuse the options)."""
    if broker_access is not None and runtime != "mqtt":
        raise ValueError(f"broker_access (a login or TLS at the MQTT broker) needs the mqtt "
                         f"runtime, got {runtime!r}")


def format_address(transport: MangoTransport) -> str:
    """The transport's address as text: ``HOST:PORT`` (TCP) or the inbox topic (MQTT)."""
    addr = transport.protocol_address
    return f"{addr[0]}:{addr[1]}" if transport.kind == "tcp" else str(addr)


#: Environment variable with the shared token (so that it is not on a command line).
TOKEN_ENV = "DRO_TOKEN"


async def serve(name: str | Sequence[str], build: Callable[..., Any], *, runtime: str = "tcp",
                listen: str = "127.0.0.1:0", broker: str | None = None,
                topic_prefix: str | None = None, runs: int | None = None,
                announce: Callable[[dict[str, Any]], None] | None = None,
                token: str | None = None, broker_access: Any = None) -> int:
    """The serve loop of ``dro agent`` and ``dro peer``: open a mango-agents transport for
    ``runtime`` (inbox ``name``), put the agent ``build(name, transport)`` on it (a
    :class:`~.engine.ParticipantAgent` or a :class:`~.peers.PeerAgent`), announce its address
    and serve ``runs`` runs (``None``: until the agent's idle timeout); returns the number of
    runs served. With a ``token`` only a coordinator or controller and peers that hold it reach
    the agent (every frame authenticated).

    Several agents in one process: ``name`` a list of names, each built by ``build``; they
    share the transport (one TCP port or MQTT inbox, each agent its own mango id), are served
    at once, and the announcement lists them (``names``; ``name`` is the first). The number of
    runs returned is the fewest any of them served; when one fails, the others are stopped and
    the error raised."""
    names = [name] if isinstance(name, str) else list(name)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"agents of one process need distinct names, got {names}")
    transport = make_transport(runtime, listen=listen, broker=broker or DEFAULT_BROKER,
                               inbox=names[0], topic_prefix=topic_prefix, token=token,
                               broker_access=broker_access)
    async with transport:
        agents = [build(n, transport) for n in names]
        if announce is not None:
            announce({"name": names[0], "names": names, "runtime": runtime,
                      "address": format_address(transport)})
        tasks = [asyncio.ensure_future(a.serve(runs)) for a in agents]
        try:
            # The first failure ends the process's serving: its other agents' runs cannot
            # finish without it (the coordinator would only time out on it).
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
            return min(task.result() for task in tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for n, agent in zip(names, agents):
                if agent.rejected:
                    print(f"dro: agent {n}: dropped {agent.rejected} message(s) that did not "
                          "come from its run", file=sys.stderr, flush=True)


async def serve_agent(name: str, participant: Any, *, idle_timeout: float = 600.0,
                      context: Mapping[str, str] | None = None, **kwargs: Any) -> int:
    """Serve ``participant`` as the ADMM agent ``name`` (the body of ``dro agent``; ``kwargs``
    as in :func:`serve`); ``runs=None`` serves until no coordinator message arrives for
    ``idle_timeout`` s; ``context``: what the agent was started for, reported at join."""
    # The only agent of this process: its loop is its own, the coordinator's timeouts run
    # elsewhere, so the local work runs on the loop without a thread hand-over.
    return await serve(name, lambda n, t: ParticipantAgent(
        n, participant, t, idle_timeout=idle_timeout, executor=InlineWork(), context=context),
        **kwargs)


async def serve_agents(participants: Mapping[str, tuple[Any, Mapping[str, str] | None]], *,
                       idle_timeout: float = 600.0, **kwargs: Any) -> int:
    """Serve several ADMM agents in this process (``dro agent`` with more than one
    ``--entity``): ``participants`` maps each name to ``(participant, context)``; one transport,
    one announcement (``kwargs`` as in :func:`serve`). Their local work runs on the process's
    one worker thread (:func:`~.local_work.default_local_work`), off the event loop they share,
    so one agent's solve never holds up another's messages or timeouts."""
    if len(participants) == 1:
        ((name, (participant, context)),) = participants.items()
        return await serve_agent(name, participant, idle_timeout=idle_timeout, context=context,
                                 **kwargs)
    return await serve(list(participants), lambda n, t: ParticipantAgent(
        n, participants[n][0], t, idle_timeout=idle_timeout, context=participants[n][1]),
        **kwargs)


async def serve_peer(name: str, participant: Any, *, idle_timeout: float = DEFAULT_TIMEOUT_S,
                     runs: int | None = 1, **kwargs: Any) -> int:
    """Serve the coordinator-free ``participant`` as peer ``name`` (the body of ``dro peer``;
    ``kwargs`` as in :func:`serve`); ``runs=None`` serves until no run starts for
    ``idle_timeout`` s."""
    return await serve(name, lambda n, t: PeerAgent(n, participant, t, idle_timeout=idle_timeout),
                       runs=runs, **kwargs)


def announce_on_stdout(info: dict[str, str]) -> None:
    """Print the ready line that :class:`AgentProcesses` waits for."""
    print(READY_PREFIX + json.dumps(info), flush=True)


def exit_when_stdin_closes(stop: Callable[[], None]) -> None:
    """Call ``stop`` (from another thread) once stdin reaches EOF: the spawning process is gone."""

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread blocked in the buffered reader holds its lock,
        # and the interpreter's shutdown then aborts with "could not acquire lock".
        try:
            fd = sys.stdin.fileno()
            while os.read(fd, 1024):
                pass
        except (OSError, ValueError):
            pass
        stop()

    threading.Thread(target=watch, name="dro-stdin-watch", daemon=True).start()


@dataclass
class SpawnedAgent:
    """One spawned process: ``name`` its label (the agent's name, or the label of a group),
    ``names`` the agents it announced (several with ``dro agent --entity A --entity B``)."""

    name: str
    process: asyncio.subprocess.Process | ForkedProcess
    log_path: Path
    address: str | None = None
    names: tuple[str, ...] = ()


#: The fork server's own log in ``log_dir`` (beside the agents' ``<name>.log``).
FORK_SERVER_LOG = "_forkserver.log"


class AgentProcesses:
    """Start ``dro agent`` processes (or another ``subcommand``: ``dro peer``) and stop them
    again (an async context manager).

    ``commands`` maps each agent's name to its ``dro agent`` arguments (without the program);
    ``log_dir`` receives each agent's stderr (``<name>.log``); ``ready_timeout`` (s) bounds the
    wait for all ready lines. ``addresses`` maps the names to the announced addresses.
    ``nice`` lowers the agents' CPU priority: on one machine the coordinator is the serial part
    of every round, and with many agents per core the scheduler would otherwise let each woken
    agent preempt it while it still sends the round's requests (measured: about 25 % shorter
    rounds with 24 agents on 2 cores). ``token`` and ``broker_access`` (a
    :class:`~.mqtt_transport.BrokerAccess`) are given to every agent: the secrets in its
    environment, not on its command line. Where it can, the agents are forked from one
    warmed-up process (:mod:`~.forkserver`: a fraction of the start-up CPU); ``start`` (or the
    ``DRO_AGENT_START`` environment variable) ``"exec"`` starts each as its own interpreter.
    """

    def __init__(self, commands: Mapping[str, Sequence[str]], log_dir: Path | str, *,
                 ready_timeout: float = READY_TIMEOUT_S, python: str | None = None,
                 nice: int = 10, token: str | None = None, subcommand: str = "agent",
                 broker_access: Any = None, start: str | None = None) -> None:
        self.start = start_method() if start is None else \
            start_method({"DRO_AGENT_START": start})
        self._server: ForkServer | None = None
        self.token = token
        self.environment = {} if broker_access is None else broker_access.environment()
        self.subcommand = subcommand
        extra = ([] if broker_access is None else broker_access.arguments()) \
            + (["--nice", str(nice)] if nice else [])
        self.commands = {name: list(args) + extra for name, args in commands.items()}
        self.log_dir = Path(log_dir)
        self.ready_timeout = float(ready_timeout)
        self.python = python or sys.executable
        self.agents: dict[str, SpawnedAgent] = {}

    @property
    def addresses(self) -> dict[str, str]:
        """Every announced agent's name -> the address of its process."""
        return {n: a.address for a in self.agents.values() if a.address is not None
                for n in (a.names or (a.name,))}

    async def __aenter__(self) -> AgentProcesses:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # Each agent is one process on a shared machine: no thread pools of its own.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        if self.token:
            env[TOKEN_ENV] = self.token  # in the environment, not on the command line
        env.update(self.environment)  # e.g. the broker password, for the same reason
        started = time.perf_counter()
        _log.info("starting %d %s processes...", len(self.commands), self.subcommand)
        try:
            if self.start == "forkserver":
                with open(self.log_dir / FORK_SERVER_LOG, "wb") as log:
                    server = ForkServer(self.python, env, stderr=log,
                                        ready_timeout=self.ready_timeout)
                    self._server = await server.__aenter__()
            for name, args in self.commands.items():
                log_path = self.log_dir / f"{name}.log"
                with open(log_path, "wb") as log:
                    proc = await self._spawn(args, log, env)
                self.agents[name] = SpawnedAgent(name, proc, log_path)
            await asyncio.wait_for(asyncio.gather(*(self._ready(a) for a in self.agents.values())),
                                   self.ready_timeout)
            _log.info("%d %s processes ready (%.1f s)", len(self.agents), self.subcommand,
                      time.perf_counter() - started)
        except asyncio.TimeoutError:
            missing = sorted(n for n, a in self.agents.items() if a.address is None)
            await self.stop()
            raise CoordinationError(f"agent processes not ready within {self.ready_timeout:g} s: "
                                    f"{', '.join(missing)}") from None
        except BaseException:
            await self.stop()
            raise
        return self

    async def _spawn(self, args: Sequence[str], log: Any, env: Mapping[str, str]
                     ) -> asyncio.subprocess.Process | ForkedProcess:
        if self._server is not None:
            return await self._server.spawn([self.subcommand, *args], log.fileno())
        return await asyncio.create_subprocess_exec(
            self.python, "-m", "distributed_resource_optimization", self.subcommand, *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log, env=env)

    async def _ready(self, agent: SpawnedAgent) -> None:
        assert agent.process.stdout is not None
        while True:
            line = await agent.process.stdout.readline()
            if not line:  # the process ended before announcing itself
                await agent.process.wait()
                raise CoordinationError(
                    f"agent process {agent.name!r} exited with code {agent.process.returncode} "
                    f"before it was ready: {self.log_tail(agent.name)}")
            text = line.decode("utf-8", "replace").strip()
            if text.startswith(READY_PREFIX):
                info = json.loads(text[len(READY_PREFIX):])
                names = info.get("names", [info.get("name", agent.name)])
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise CoordinationError(f"agent process {agent.name!r} announced invalid "
                                            f"names: {names!r}")
                agent.names = tuple(names)
                agent.address = info["address"]
                ready = sum(a.address is not None for a in self.agents.values())
                _log.debug("%s %s ready at %s (%d of %d)", self.subcommand, agent.name,
                           agent.address, ready, len(self.commands))
                return

    def log_tail(self, name: str, lines: int = 3) -> str:
        """The last lines an agent wrote to stderr, on one line (for error messages)."""
        try:
            text = self.agents[name].log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    def failed(self) -> list[str]:
        """Names of agents whose process has already ended with a non-zero code."""
        return [n for n, a in self.agents.items()
                if a.process.returncode not in (None, 0)]

    async def stop(self, grace: float = 5.0) -> None:
        """End every process: close its stdin (it then exits by itself), after ``grace`` seconds
        SIGTERM, two seconds later SIGKILL."""
        try:
            await self._stop_agents(grace)
        finally:
            if self._server is not None:
                server, self._server = self._server, None
                await server.close()

    async def _stop_agents(self, grace: float) -> None:
        alive = [a.process for a in self.agents.values() if a.process.returncode is None]
        for p in alive:
            if p.stdin is not None and not p.stdin.is_closing():
                p.stdin.close()
        for signal_name, timeout in (("terminate", grace), ("kill", 2.0), (None, 5.0)):
            if await _wait_all(alive, timeout):
                return
            alive = [p for p in alive if p.returncode is None]
            for p in alive:
                if signal_name is not None:
                    try:
                        getattr(p, signal_name)()
                    except ProcessLookupError:
                        pass

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def _wait_all(procs: Sequence[asyncio.subprocess.Process | ForkedProcess],
                    timeout: float) -> bool:
    """Whether all ``procs`` ended within ``timeout`` seconds."""
    if not procs:
        return True
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout)
    except asyncio.TimeoutError:
        return False
    return True


@contextlib.asynccontextmanager
async def agent_session(coordinator: Any, names: Sequence[str], runtime: str, *,
                        commands: Mapping[str, Sequence[str]] | None = None,
                        addresses: Mapping[str, str] | None = None,
                        broker: str = DEFAULT_BROKER, topic_prefix: str | None = None,
                        listen: str = "127.0.0.1:0", log_dir: Path | str | None = None,
                        progress: Callable[[Any], None] | None = None,
                        faults: Any = None, token: str | None = None,
                        expected_context: Mapping[str, Mapping[str, str]] | None = None,
                        broker_access: Any = None) -> AsyncIterator[CoordinationSession]:
    """The agents ``names`` over ``runtime`` (``tcp`` / ``mqtt``) with a coordinator in this
    process, for as many runs as the block makes (:class:`~.engine.CoordinationSession`).

    Either spawn them (``commands``: name -> ``dro agent`` arguments; stopped when the block
    ends, also on error or Ctrl-C; a process that hosts several agents is keyed by a label of
    its own and announces their names) or reach already running ones (``addresses``: name ->
    ``HOST:PORT`` for TCP or inbox topic for MQTT). The coordinator listens on ``listen`` (TCP)
    or has the inbox ``<topic_prefix>/coordinator`` (MQTT); ``faults`` (a
    :class:`~.transport.Faults`) loses, duplicates and delays the coordinator's messages, a
    testing aid; ``token`` is the shared secret (given to spawned agents in their environment);
    ``expected_context``: per agent the context its join must report
    (:class:`~.agents.ContextMismatchError` otherwise); ``broker_access``: the login and TLS at
    the MQTT broker (a :class:`~.mqtt_transport.BrokerAccess`, given to spawned agents too).
    """
    if (commands is None) == (addresses is None):
        raise ValueError("give either commands (to spawn the agents) or addresses")
    if addresses is not None:
        missing = [n for n in names if n not in addresses]
        if missing:
            raise ValueError(f"no address for agent(s) {name_list(missing)}")
    async with contextlib.AsyncExitStack() as stack:
        spawned = 0
        # The coordinator's own transport first: a --listen address that cannot be bound fails
        # before any agent process is spawned.
        transport = make_transport(runtime, listen=listen, broker=broker, inbox="coordinator",
                                   topic_prefix=topic_prefix, token=token,
                                   broker_access=broker_access)
        await stack.enter_async_context(transport)
        if commands is not None:
            folder = log_dir or stack.enter_context(tempfile.TemporaryDirectory(
                prefix="dro-agents-"))
            # Starting includes building the models (hundreds of buildings in one process:
            # minutes), bounded like the coordinator's setup round.
            ready = max(READY_TIMEOUT_S, getattr(coordinator, "setup_timeout", READY_TIMEOUT_S))
            procs = await stack.enter_async_context(AgentProcesses(
                commands, folder, token=token, broker_access=broker_access, ready_timeout=ready))
            addresses, spawned = procs.addresses, len(procs.agents)
            missing = [n for n in names if n not in addresses]
            if missing:
                raise CoordinationError(f"no spawned process announced agent(s) "
                                        f"{name_list(missing)}")
        for name in names:
            transport.connect(name, addresses[name])
        sender = transport if faults is None else faults.wrap(transport)
        coord = CoordinatorAgent("coordinator", coordinator, list(names), sender,
                                 progress=progress, expected_context=expected_context)
        yield CoordinationSession(coord, transport, spawned)


async def coordinate_agents(coordinator: Any, data: Any, names: Sequence[str], runtime: str, *,
                            warm_start: Any = None, **session: Any) -> tuple[Any, Any, int]:
    """One run of :func:`agent_session` (same keywords) from ``warm_start`` (an earlier run's
    state) if given; returns ``(ADMMResult, TrafficStats, number of spawned processes)``."""
    async with agent_session(coordinator, names, runtime, **session) as run:
        result = await run.run(data, warm_start)
        return result, run.stats, run.spawned


def new_topic_prefix() -> str:
    """A fresh MQTT topic prefix for one run (agents of other runs on the broker never mix in)."""
    return f"dro/{uuid.uuid4().hex[:10]}"


class PeerProcesses:
    """Participants of a coordinator-free algorithm in OS processes of their own, over
    mango-agents, for one or several runs (an async context manager; :meth:`run` starts a run).

    ``participants``: one :class:`ParticipantFactory` (or ``"module:function"``) per
    participant; each is spawned as ``dro peer`` on entering and stopped on leaving, also on
    error or Ctrl-C (their stderr goes to ``log_dir``, a temporary folder by default). Or give
    ``addresses`` instead: peers already running (``dro peer --listen ...`` on other hosts),
    ``HOST:PORT`` (TCP) or inbox topics (MQTT), in the participants' order. ``runtime``:
    ``"tcp"`` or ``"mqtt"`` (``broker``: ``HOST:PORT``); ``listen``: the controller's own TCP
    address; ``ready_timeout`` (s) bounds the processes' start; ``runs``: how many runs the
    spawned peers serve before they exit (``None``: until none starts for ``idle_timeout`` s).
    ``token``: the shared secret (spawned peers get it in their environment; peers started by
    hand need the same ``--token`` or ``DRO_TOKEN``): every frame between the controller and the
    peers, and among the peers, is authenticated, and a peer follows only a controller that holds
    it (:mod:`.security`); ``broker_access``: login and TLS at the MQTT broker
    (:class:`~.mqtt_transport.BrokerAccess`, given to spawned peers too). The participants keep
    their state from run to run, as participant objects in one process do.
    """

    def __init__(self, participants: Sequence[ParticipantFactory | str] | None = None, *,
                 runtime: str = "tcp", addresses: Sequence[str] | None = None,
                 broker: str | None = None, listen: str = "127.0.0.1:0",
                 log_dir: Path | str | None = None, ready_timeout: float = 120.0,
                 runs: int | None = None, idle_timeout: float = 3600.0,
                 token: str | None = None, broker_access: Any = None) -> None:
        if runtime not in PROCESS_RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(PROCESS_RUNTIMES)}, "
                             f"got {runtime!r}")
        if (participants is None) == (addresses is None):
            raise ValueError("give either participants (to spawn them) or addresses")
        n = len(participants) if addresses is None else len(addresses)
        if n == 0:
            raise ValueError("participants must not be empty")
        if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 1):
            raise ValueError(f"runs must be None or an int >= 1, got {runs!r}")
        positive_seconds(ready_timeout, "ready_timeout")
        positive_seconds(idle_timeout, "idle_timeout")
        check_broker_access(runtime, broker_access)  # before any peer is spawned
        self.factories = None if participants is None else [
            p if isinstance(p, ParticipantFactory) else ParticipantFactory(p)
            for p in participants]
        self.runtime, self.broker, self.listen = runtime, broker or DEFAULT_BROKER, listen
        self.addresses = None if addresses is None else [str(a) for a in addresses]
        self.log_dir, self.ready_timeout = log_dir, float(ready_timeout)
        self.runs, self.idle_timeout = runs, float(idle_timeout)
        self.token = token or None
        self.broker_access = broker_access
        self.names = [peer_name(i + 1) for i in range(n)]
        #: Processes spawned (0 for peers reached by their addresses).
        self.spawned = 0
        self._stack: contextlib.AsyncExitStack | None = None
        self._carrier: Any = None
        self._box: Mailbox | None = None

    async def __aenter__(self) -> PeerProcesses:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            spawn = self.factories is not None
            prefix = new_topic_prefix() if self.runtime == "mqtt" and spawn else None
            if spawn:
                folder = self.log_dir or stack.enter_context(tempfile.TemporaryDirectory(
                    prefix="dro-peers-"))
                extra = ["--runtime", self.runtime, "--exit-with-stdin", "--idle-timeout",
                         f"{self.idle_timeout:g}", "--runs", str(self.runs or 0)]
                extra += ["--broker", self.broker, "--topic-prefix", prefix] \
                    if self.runtime == "mqtt" else ["--listen", "127.0.0.1:0"]
                commands = {name: f.command(name) + extra
                            for name, f in zip(self.names, self.factories)}
                procs = await stack.enter_async_context(AgentProcesses(
                    commands, folder, ready_timeout=self.ready_timeout, subcommand="peer",
                    token=self.token, broker_access=self.broker_access))
                self.addresses = [procs.addresses[name] for name in self.names]
                self.spawned = len(procs.agents)
            transport = make_transport(self.runtime, listen=self.listen, broker=self.broker,
                                   inbox=CONTROLLER_NAME, topic_prefix=prefix, token=self.token,
                                   broker_access=self.broker_access)
            await stack.enter_async_context(transport)
            for name, address in zip(self.names, self.addresses):
                transport.connect(name, address)
            self._box = transport.register(CONTROLLER_NAME)
            self._carrier = transport
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(self, *exc: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def run(self, start_message: Any, *, topology: Any = None,
                  timeout: float = DEFAULT_TIMEOUT_S) -> DistributedResult:
        """One run from ``start_message``; ``topology`` as in
        :func:`~..runtime.inproc.start_distributed_optimization`, ``timeout`` (s) bounds it.
        The solutions come back over the network (``actors`` of the result is empty);
        ``extra["traffic"]`` counts the controller's messages and bytes so far."""
        if self._stack is None:
            raise RuntimeError("PeerProcesses.run needs `async with PeerProcesses(...)` first")
        positive_seconds(timeout, "timeout")
        controller = PeerRunController(self._carrier, self.names,
                                       neighbour_lists(topology, len(self.names)),
                                       addresses=self.addresses, timeout=timeout, box=self._box)
        result = await controller.run(start_message)
        result.extra["traffic"] = self._carrier.stats
        return result


async def start_distributed_processes(participants: Sequence[ParticipantFactory | str] | None,
                                      start_message: Any, *, topology: Any = None,
                                      timeout: float = DEFAULT_TIMEOUT_S,
                                      **kwargs: Any) -> DistributedResult:
    """One run of a coordinator-free algorithm with one OS process per participant over
    mango-agents: :class:`PeerProcesses` (``participants`` or ``addresses``, ``runtime``,
    ``broker``, ``listen``, ``log_dir``, ``ready_timeout``, ``token``, ``broker_access``: see
    there) for a single
    :meth:`~PeerProcesses.run` (``topology``, ``timeout``). Spawned peers serve this run only;
    for several runs with the same processes use :class:`PeerProcesses` itself."""
    positive_seconds(timeout, "timeout")
    kwargs.setdefault("runs", 1)
    kwargs.setdefault("idle_timeout", max(timeout, kwargs.get("ready_timeout", 120.0))
                      + HANDSHAKE_TIMEOUT_S)
    procs = PeerProcesses(participants, **kwargs)  # checks its arguments, spawns nothing yet
    neighbour_lists(topology, len(procs.names))  # a bad topology is refused before any spawn
    async with procs:
        return await procs.run(start_message, topology=topology, timeout=timeout)


def run_distributed_processes(participants: Sequence[ParticipantFactory | str] | None,
                              start_message: Any, **kwargs: Any) -> DistributedResult:
    """Synchronous twin of :func:`start_distributed_processes` (also inside a running event
    loop, e.g. Jupyter)."""
    return run_sync(lambda: start_distributed_processes(participants, start_message, **kwargs))
