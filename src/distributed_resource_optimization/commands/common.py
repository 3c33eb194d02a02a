"""Helpers shared by the commands: progress lines and option checks made before any work."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

PROG = "dro"


def progress(message: str) -> None:
    """One progress line on stderr."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def check_positive(value: float | None, flag: str) -> None:
    """``ValueError`` naming ``flag`` unless ``value`` is None or a finite positive number."""
    import math

    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{flag} must be a finite positive number, got {value}")


def check_at_least_one(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be at least 1, got {value}")


def engine_settings(args) -> dict[str, float | int]:
    """The coordinator settings of ``--round-timeout`` and ``--stale-rounds`` that were given
    (the defaults live with the coordinator); ``ValueError`` naming the option when out of range."""
    check_positive(args.round_timeout, "--round-timeout")
    if args.stale_rounds is not None and args.stale_rounds < 0:
        raise ValueError(f"--stale-rounds must be 0 or more, got {args.stale_rounds}")
    settings: dict[str, float | int] = {}
    if args.round_timeout is not None:
        settings["reply_timeout"] = args.round_timeout
    if args.stale_rounds is not None:
        settings["stale_rounds"] = args.stale_rounds
    return settings


def faults_of(args) -> object | None:
    """The :class:`~..runtime.transport.Faults` of ``--drop-messages`` / ``--fault-seed``, or
    ``None``; ``ValueError`` naming the option for a fraction outside [0, 1)."""
    import math

    drop = args.drop_messages
    if not (math.isfinite(drop) and 0.0 <= drop < 1.0):
        raise ValueError(f"--drop-messages must be a fraction in [0, 1), got {drop}")
    if drop == 0.0:
        return None
    from distributed_resource_optimization.runtime.transport import Faults

    return Faults(drop=drop, seed=args.fault_seed)


def token_of(args) -> str | None:
    """The shared token: ``--token``, the first line of ``--token-file``, or the ``DRO_TOKEN``
    environment variable, or ``None``; ``ValueError`` naming ``--token-file`` if it cannot be
    read or is empty."""
    import os

    from distributed_resource_optimization.runtime.processes import TOKEN_ENV

    path = getattr(args, "token_file", None)
    if path is not None:
        return secret_from_file(path, "--token-file")
    return args.token or os.environ.get(TOKEN_ENV) or None


def secret_from_file(path: str | Path, flag: str) -> str:
    """The first line of ``path`` without surrounding whitespace (a secret kept off the command
    line); ``ValueError`` naming ``flag`` if the file cannot be read or the line is empty."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{flag} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ValueError(f"{flag} {path}: the first line is empty")
    return secret


async def serve_until_stdin_closes(serving: Coroutine[Any, Any, int],
                                   exit_with_stdin: bool) -> int | None:
    """Await ``serving`` (``dro agent`` / ``dro peer``: the number of runs served); ``None`` when
    ``exit_with_stdin`` is set and stdin closed first: the spawning process went away, a normal
    end. Ctrl-C and SIGTERM cancel it as they cancel every run: the cancellation goes on, so
    ``asyncio.run`` raises ``KeyboardInterrupt`` and the CLI exits 130 / 143."""
    from distributed_resource_optimization.runtime.processes import exit_when_stdin_closes

    task = asyncio.ensure_future(serving)
    stdin_closed = threading.Event()
    if exit_with_stdin:
        loop = asyncio.get_running_loop()

        def stop() -> None:  # in the thread that watches stdin
            stdin_closed.set()
            loop.call_soon_threadsafe(task.cancel)

        exit_when_stdin_closes(stop)
    try:
        return await task
    except asyncio.CancelledError:
        if stdin_closed.is_set():
            return None
        raise


def broker_access_of(args) -> object | None:
    """The :class:`~..runtime.mqtt_transport.BrokerAccess` of ``--broker-username``,
    ``--broker-password-file`` (or ``DRO_BROKER_PASSWORD``) and ``--broker-tls-*``, or ``None``;
    ``ValueError`` naming the option for a missing password or file, before any work."""
    from distributed_resource_optimization.runtime.mqtt_transport import (
        BrokerAccess,
        BrokerLogin,
        BrokerTLS,
        login_from_environment,
    )

    login = None
    if args.broker_password_file is not None:
        if args.broker_username is None:
            raise ValueError("--broker-password-file needs --broker-username")
        login = BrokerLogin(args.broker_username,
                            secret_from_file(args.broker_password_file, "--broker-password-file"))
    elif args.broker_username is not None:
        login = login_from_environment(args.broker_username)
    tls = None
    if args.broker_tls_ca is not None:
        tls = BrokerTLS(args.broker_tls_ca, args.broker_tls_cert, args.broker_tls_key)
    elif args.broker_tls_cert is not None or args.broker_tls_key is not None:
        raise ValueError("--broker-tls-cert and --broker-tls-key need --broker-tls-ca")
    if login is None and tls is None:
        return None
    if args.runtime != "mqtt":
        raise ValueError("--broker-username and --broker-tls-* are for --runtime mqtt")
    return BrokerAccess(login, tls)
