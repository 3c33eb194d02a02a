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


@contextmanager
def mosquitto(tmp: Path) -> Iterator[str]:
    """Run a broker on 127.0.0.1:<free port>; yields ``"127.0.0.1:<port>"``."""
    binary = mosquitto_binary()
    if binary is None:
        if os.environ.get("DRO_REQUIRE_MQTT") == "1":
            pytest.fail("mosquitto is required (DRO_REQUIRE_MQTT=1) but not installed")
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto)")
    port = free_port()
    conf = tmp / "mosquitto.conf"
    # set_tcp_nodelay: small messages are sent at once instead of waiting for a delayed ACK.
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
                    "persistence false\n")
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
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5.0)
