"""mango's MQTT container that logs in to the broker: user name and password, and TLS.

mango-agents 2.4 makes its paho client inside ``MQTTContainer.start`` and passes TLS options to
it but no user name or password, so a broker that requires a login (mosquitto with
``password_file``, most hosted brokers) cannot be reached. :class:`BrokerMQTTContainer` is
mango's container whose start makes the paho client itself, with paho's public API
(``username_pw_set``, ``tls_set``, ``connect``, ``subscribe``), and then hands it to mango's own
callbacks (routing, reconnects and sending are mango's, unchanged).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from mango.container.core import Container
from mango.container.mqtt import MQTTContainer
from mango.util.clock import AsyncioClock

#: Seconds to wait for the broker's answer to the login and to the subscription.
BROKER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class BrokerTLS:
    """TLS to the MQTT broker: the CA certificate that signs the broker's, and optionally this
    client's certificate and key (client-certificate login, e.g. mosquitto's
    ``require_certificate``). Paths to PEM files, checked to exist when built."""

    ca_certs: str
    certfile: str | None = None
    keyfile: str | None = None

    def __post_init__(self) -> None:
        for flag, path in (("--broker-tls-ca", self.ca_certs), ("--broker-tls-cert", self.certfile),
                           ("--broker-tls-key", self.keyfile)):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{flag} {path}: no such file")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("--broker-tls-cert and --broker-tls-key go together")

    def arguments(self) -> list[str]:
        """The command-line options that give a spawned process the same TLS."""
        args = ["--broker-tls-ca", str(self.ca_certs)]
        if self.certfile is not None:
            args += ["--broker-tls-cert", str(self.certfile), "--broker-tls-key",
                     str(self.keyfile)]
        return args


@dataclass(frozen=True)
class BrokerLogin:
    """User name and password at the MQTT broker (the password never on a command line: a
    spawned process gets it in its environment, :data:`PASSWORD_ENV`)."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.username:
            raise ValueError("--broker-username must not be empty")


#: Environment variable that gives a spawned process the broker password.
PASSWORD_ENV = "DRO_BROKER_PASSWORD"


def login_from_environment(username: str | None) -> BrokerLogin | None:
    """The login of a spawned process: ``username`` and the password of :data:`PASSWORD_ENV`."""
    if username is None:
        return None
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise ValueError(f"--broker-username {username} needs a password: "
                         f"--broker-password-file, or the {PASSWORD_ENV} environment variable")
    return BrokerLogin(username, password)


@dataclass(frozen=True)
class BrokerAccess:
    """How to get into the MQTT broker: a ``login`` and ``tls``, either may be ``None``."""

    login: BrokerLogin | None = None
    tls: BrokerTLS | None = None

    def arguments(self) -> list[str]:
        """The ``dro agent`` / ``dro peer`` options that give a spawned process the same access
        (the password goes by :meth:`environment`)."""
        args = [] if self.login is None else ["--broker-username", self.login.username]
        return args + ([] if self.tls is None else self.tls.arguments())

    def environment(self) -> dict[str, str]:
        """What a spawned process gets in its environment: the password."""
        return {} if self.login is None else {PASSWORD_ENV: self.login.password}


class BrokerMQTTContainer(MQTTContainer):
    """mango's MQTT container with a broker ``login`` and ``tls`` (either may be ``None``)."""

    def __init__(self, *, broker_addr: tuple[str, int], client_id: str, codec: Any,
                 inbox_topic: str, login: BrokerLogin | None = None,
                 tls: BrokerTLS | None = None, **kwargs: Any) -> None:
        super().__init__(client_id=client_id, broker_addr=broker_addr, clock=AsyncioClock(),
                         codec=codec, inbox_topic=inbox_topic, **kwargs)
        self.login = login
        self.tls = tls

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if self.tls is not None:
            client.tls_set(ca_certs=self.tls.ca_certs, certfile=self.tls.certfile,
                           keyfile=self.tls.keyfile)
        if self.login is not None:
            client.username_pw_set(self.login.username, self.login.password)
        connected: asyncio.Future = self._loop.create_future()
        subscribed: asyncio.Future = self._loop.create_future()
        client.on_connect = lambda _c, _u, _f, reason, _p: self._loop.call_soon_threadsafe(
            _settle, connected, reason)
        client.on_subscribe = lambda _c, _u, _m, reasons, _p: self._loop.call_soon_threadsafe(
            _settle, subscribed, reasons[0] if reasons else None)
        host, port = self.broker_addr[0], int(self.broker_addr[1])
        await asyncio.to_thread(client.connect, host, port)  # TCP (and TLS) handshake
        client.loop_start()  # paho's network thread from here on
        try:
            reason = await _within(connected, f"no answer of the MQTT broker at {host}:{port}")
            if reason.is_failure:
                raise ConnectionError(f"the MQTT broker at {host}:{port} refused the connection: "
                                      f"{reason}")
            client.subscribe(self.inbox_topic, qos=2)
            reason = await _within(subscribed, f"the MQTT broker at {host}:{port} did not "
                                               f"confirm the subscription to {self.inbox_topic}")
            if reason is None or reason.is_failure:
                raise ConnectionError(f"the MQTT broker at {host}:{port} refused the "
                                      f"subscription to {self.inbox_topic}: {reason}")
        except BaseException:
            client.loop_stop()
            client.disconnect()
            raise
        client.on_connect = client.on_subscribe = None
        self.mqtt_client = client
        self._set_mqtt_callbacks()  # mango's: messages into the inbox, resubscribe on reconnect
        await Container.start(self)


def _settle(future: asyncio.Future, value: Any) -> None:
    if not future.done():
        future.set_result(value)


async def _within(future: asyncio.Future, what: str) -> Any:
    loop = asyncio.get_running_loop()
    timer = loop.call_later(BROKER_TIMEOUT_S, _settle, future, TimeoutError)
    try:
        value = await future
    finally:
        timer.cancel()
    if value is TimeoutError:
        raise ConnectionError(f"{what} within {BROKER_TIMEOUT_S:g} s")
    return value
