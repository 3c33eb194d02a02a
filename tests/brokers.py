"""A private MQTT broker for the tests: mosquitto on a free loopback port, stopped afterwards.

Where mosquitto is not installed the MQTT tests are skipped, unless ``DRO_REQUIRE_MQTT=1`` (set by
``.ci/run``, which installs it) turns the missing broker into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()),
        None)


def _binary() -> str:
    binary = mosquitto_binary()
    if binary is None:
        if os.environ.get("DRO_REQUIRE_MQTT") == "1":
            pytest.fail("mosquitto is required (DRO_REQUIRE_MQTT=1) but not installed")
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto)")
    return binary


@dataclass(frozen=True)
class SecuredBroker:
    """A broker that takes only TLS (CA ``ca``) and a login (``username`` / ``password``)."""

    address: str
    ca: Path
    username: str
    password: str


@contextmanager
def mosquitto(tmp: Path) -> Iterator[str]:
    """Run a broker on 127.0.0.1:<free port>; yields ``"127.0.0.1:<port>"``."""
    port = free_port()
    with _running(tmp, _binary(), port, f"listener {port} 127.0.0.1\nallow_anonymous true\n"):
        yield f"127.0.0.1:{port}"


@contextmanager
def secured_mosquitto(tmp: Path) -> Iterator[SecuredBroker]:
    """Run a broker that needs TLS and a user name and password (a CA and the broker's
    certificate made here with openssl, the password file with mosquitto_passwd)."""
    binary = _binary()
    tools = {name: shutil.which(name) for name in ("openssl", "mosquitto_passwd")}
    if not all(tools.values()):
        pytest.skip(f"needs {', '.join(n for n, t in tools.items() if not t)}")
    ca_key, ca, key, csr, cert = (tmp / n for n in ("ca.key", "ca.pem", "broker.key",
                                                      "broker.csr", "broker.pem"))
    run = lambda *args: subprocess.run(args, check=True, capture_output=True)  # noqa: E731
    run(tools["openssl"], "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=dro test CA", "-keyout", str(ca_key), "-out", str(ca))
    run(tools["openssl"], "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", str(key), "-out", str(csr))
    ext = tmp / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run(tools["openssl"], "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey",
        str(ca_key), "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))
    passwords = tmp / "passwords"
    run(tools["mosquitto_passwd"], "-c", "-b", str(passwords), "operator", "grid-secret")
    port = free_port()
    # As root mosquitto would drop to its own user, who cannot read pytest's private folders.
    conf = (f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
            f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
            + ("user root\n" if os.geteuid() == 0 else ""))
    with _running(tmp, binary, port, conf):
        yield SecuredBroker(f"127.0.0.1:{port}", ca, "operator", "grid-secret")


@contextmanager
def _running(tmp: Path, binary: str, port: int, listener: str) -> Iterator[None]:
    conf = tmp / "mosquitto.conf"
    # set_tcp_nodelay: small messages are sent at once instead of waiting for a delayed ACK.
    conf.write_text(listener + "set_tcp_nodelay true\npersistence false\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "mosquitto.log", "wb"))
    try:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start: "
                                       + (tmp / "mosquitto.log").read_text()) from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)
