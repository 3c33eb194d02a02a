"""``dro peer --factory``: only registered participant factories are called, and every way a
factory can fail is one line ``dro: error: ...`` with exit code 2.

The CLI runs in this process (``cli.main``); the factories are ``tests/peer_factories.py`` (on
``sys.path`` here), and an installed package with an entry point of the group
``distributed_resource_optimization.participants`` is a ``.dist-info`` folder on ``sys.path``.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from distributed_resource_optimization import cli, participant_factory
from distributed_resource_optimization.runtime.factories import (
    ENTRY_POINT_GROUP,
    ParticipantFactory,
)
from distributed_resource_optimization.runtime.factories import (
    ParticipantFactory as ParticipantFactoryOfPeers,
)


def _peer(factory: str, kwargs: object = None, *extra: str) -> list[str]:
    args = ["peer", "--factory", factory, "--name", "participant-1", "--runtime", "tcp"]
    if kwargs is not None:
        args += ["--kwargs", kwargs if isinstance(kwargs, str) else json.dumps(kwargs)]
    return args + list(extra)


def _refused(capsys, args: list[str]) -> str:
    """Run ``dro`` with ``args``: exit 2 and exactly one line on stderr, returned."""
    code = cli.main(args)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("dro: error: "), captured.err
    assert "Traceback" not in captured.err and "DRO_AGENT_READY" not in captured.out
    return lines[0]


def test_an_unregistered_callable_is_refused_without_being_called(capsys, tmp_path):
    pwned = tmp_path / "pwned"
    line = _refused(capsys, _peer("os:system", {"command": f"touch {pwned}"}))
    assert line == ("dro: error: os:system is not a registered participant factory; register it "
                    f"with @participant_factory or the entry point group {ENTRY_POINT_GROUP}")
    assert not pwned.exists()
    # A function of the tests' own factory module that is not decorated (calling it would fail
    # with an AssertionError, not this refusal).
    line = _refused(capsys, _peer("peer_factories:unregistered"))
    assert "peer_factories:unregistered is not a registered participant factory" in line
    # A name without a colon is an entry point's name; no such entry point is installed.
    line = _refused(capsys, _peer("no-such-entry-point"))
    assert line == ("dro: error: factory must be 'package.module:function' or the name of an "
                    f"entry point of {ENTRY_POINT_GROUP}, got 'no-such-entry-point'")


@pytest.mark.parametrize("factory, kwargs, expected", [
    ("no_such_module_xyz:make", None,
     "factory no_such_module_xyz:make: cannot import no_such_module_xyz: ModuleNotFoundError: "
     "No module named 'no_such_module_xyz'"),
    ("peer_factories:no_such_function", None,
     "factory peer_factories:no_such_function: peer_factories has no function "
     "'no_such_function'"),
    ("peer_factories:failing", None,
     "factory peer_factories:failing raised FileNotFoundError: no data file for this unit"),
    ("peer_factories:failing", {"message": "two\nlines"},
     "factory peer_factories:failing raised FileNotFoundError: two lines"),
    ("peer_factories:ask_neighbours", {"valeu": 1.0},
     "--kwargs do not fit factory peer_factories:ask_neighbours(value): missing a "
     "required argument: 'value'; got unexpected 'valeu'"),
    ("peer_factories:ask_neighbours", {"value": 1.0, "extra": 2},
     "--kwargs do not fit factory peer_factories:ask_neighbours(value): got an "
     "unexpected keyword argument 'extra'"),
    ("peer_factories:not_a_participant", None,
     "factory peer_factories:not_a_participant returned a dict, not a distributed algorithm "
     "participant (it needs on_exchange_message)"),
    ("peer_factories:ask_neighbours", "{value: 1}", "--kwargs is not JSON: "),
    ("peer_factories:ask_neighbours", "[1]", "--kwargs must be a JSON object, got '[1]'"),
    ("peer_factories.ask_neighbours", None,
     "factory must be 'package.module:function' or the name of an entry point of "
     f"{ENTRY_POINT_GROUP}, got 'peer_factories.ask_neighbours'"),
])
def test_every_failure_of_a_factory_is_one_line_naming_it(capsys, factory, kwargs, expected):
    line = _refused(capsys, _peer(factory, kwargs))
    assert line.startswith(f"dro: error: {expected}"), line


def test_ctrl_c_in_a_factory_is_an_interrupt_not_the_factorys_error(capsys):
    assert cli.main(_peer("peer_factories:ctrl_c")) == 130
    err = capsys.readouterr().err
    assert err.strip() == "dro: interrupted (Ctrl-C); stopped serving"


def test_the_decorator_returns_the_function_and_peers_exports_the_same_factory_class():
    def make() -> None:
        return None

    assert participant_factory(make) is make
    assert ParticipantFactoryOfPeers is ParticipantFactory
    with pytest.raises(TypeError, match="must be callable"):
        participant_factory(42)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """An installed package ``ep_units`` with the entry point ``ep-unit = ep_units:make_unit``
    (not decorated: the entry point registers it) and an unregistered ``ep_units:other``."""
    (tmp_path / "ep_units.py").write_text(textwrap.dedent('''
        from peer_factories import AskNeighbours

        def make_unit(value):
            return AskNeighbours(value)

        def other(value):
            raise AssertionError("an unregistered factory was called")
    '''))
    dist = tmp_path / "ep_units-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-units\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nep-unit = ep_units:make_unit\nbroken = ep_units_missing:make\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_entry_points_register_factories_by_name_and_by_target(installed, capsys):
    for spec in ("ep-unit", "ep_units:make_unit"):
        participant = ParticipantFactory(spec, {"value": 2.0}).build()
        assert type(participant).__name__ == "AskNeighbours" and participant.value == 2.0
    line = _refused(capsys, _peer("ep_units:other", {"value": 2.0}))
    assert "ep_units:other is not a registered participant factory" in line
    line = _refused(capsys, _peer("broken"))
    assert line.startswith("dro: error: participant factory broken (ep_units_missing:make) "
                           "cannot be loaded: ModuleNotFoundError")
    # Checked where the peers are spawned, before any spawn.
    with pytest.raises(ValueError, match="or the name of an entry point"):
        ParticipantFactory("ep-unit-typo")
    assert ParticipantFactory("ep-unit").command("participant-1")[:2] == ["--factory", "ep-unit"]


@pytest.mark.network
def test_dro_peer_serves_a_participant_of_an_entry_point(installed, capsys):
    """The whole command with an entry point's name: it announces itself, no run starts within
    the idle timeout, it exits 0."""
    code = cli.main(_peer("ep-unit", {"value": 2.0}, "--listen", "127.0.0.1:0", "--runs", "0",
                          "--idle-timeout", "0.5"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("DRO_AGENT_READY ")
    assert "peer participant-1: served 0 run(s), exiting" in captured.err


@pytest.mark.slow
@pytest.mark.processes
def test_the_factories_module_imports_no_network_runtime():
    """A factory module imports ``participant_factory``; that must not pull in mango-agents."""
    import subprocess
    import sys

    code = ("import sys\nfrom distributed_resource_optimization import participant_factory\n"
            "assert not [m for m in sys.modules if m.startswith('mango')], 'mango imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
