"""Shared test plumbing: the timeout scale, free ports, and real peer processes (soketi, Node)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

# One constant scales every timeout in the suite (slow machines: PUSHER_NB_TIMEOUT_SCALE=3).
TIMEOUT_SCALE = float(os.environ.get("PUSHER_NB_TIMEOUT_SCALE", "1"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

ROOT = Path(__file__).resolve().parent.parent
PEERS_DIR = ROOT / "tests" / "peers"
NODE_MODULES = PEERS_DIR / "node_modules"


def timeout(seconds: float) -> float:
    """A timeout scaled by PUSHER_NB_TIMEOUT_SCALE."""
    return seconds * TIMEOUT_SCALE


def unavailable(what: str) -> None:
    """Fail under CI (a missing peer is a broken setup there); skip on a developer's machine."""
    if IN_CI:
        pytest.fail(f"{what} is not available; `make test` installs it", pytrace=False)
    pytest.skip(f"{what} is not available; run `make test` to install it")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        unavailable("node")
    return node


def require_node_package(name: str) -> Path:
    path = NODE_MODULES / name
    if not path.exists():
        unavailable(f"the npm package {name} (tests/peers)")
    return path


def wait_for_port(port: int, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout(seconds)
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {seconds} s")


class Soketi:
    """A real soketi process on a free port, client messages enabled, restartable on that port."""

    app_id = "app-id"
    key = "app-key"
    secret = "app-secret"
    host = "127.0.0.1"

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        node_executable()
        self.bin = require_node_package("@soketi/soketi") / "bin" / "server.js"
        self.port = free_port()
        self.metrics_port = free_port()
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None
        self.log_path = ROOT / "tests" / ".logs" / f"soketi-{self.port}.log"

    def start(self) -> Soketi:
        env = {
            **os.environ,
            "SOKETI_PORT": str(self.port),
            "SOKETI_HOST": self.host,
            "SOKETI_METRICS_SERVER_PORT": str(self.metrics_port),
            "SOKETI_DEFAULT_APP_ID": self.app_id,
            "SOKETI_DEFAULT_APP_KEY": self.key,
            "SOKETI_DEFAULT_APP_SECRET": self.secret,
            "SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES": "true",
            **self.extra_env,
        }
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [node_executable(), str(self.bin), "start"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_for_port(self.port, 30, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout(10))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def connection(self) -> dict:
        """Keyword arguments for pusher_nb.Client that point at this soketi."""
        return {
            "host": self.host,
            "port": self.port,
            "tls": False,
            "app_id": self.app_id,
            "secret": self.secret,
        }


async def eventually(predicate, seconds: float = 5.0, interval: float = 0.01):
    """Await until ``predicate()`` is truthy, failing after the scaled timeout."""
    deadline = time.monotonic() + timeout(seconds)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds} s: {predicate}")
        await asyncio.sleep(interval)


def collect(channel, event_name=None) -> list:
    """A list that fills with the events ``channel`` receives (all of them, or one name)."""
    received = []
    if event_name is None:
        channel.bind_global(received.append)
    else:
        channel.bind(event_name, received.append)
    return received
