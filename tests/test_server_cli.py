"""`pusher-nb serve` / `python -m pusher_nb.server`: settings printed, serving, clean stops."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import types

from support import timeout
from test_server_helpers import RawClient


def test_python_m_server_serves_and_stops_on_sigterm():
    """python -m pusher_nb.server prints its settings, serves, and exits 0 on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pusher_nb.server", "--port", "0", "--json", "--feeds", "crypto"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(process.stdout.readline())
        assert info["key"] == "app-key" and info["app_id"] == "app-id"
        assert info["secret"] == "app-secret" and info["port"] > 0

        async def listen():
            client = await RawClient.connect(types.SimpleNamespace(**info))
            await client.subscribe("crypto-trades")
            return await client.expect("trade")

        assert asyncio.run(listen())["data"]["symbol"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout(10)) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_hides_a_given_secret_and_reports_a_busy_port():
    """A secret passed on the command line is not printed; a busy port is a clear error."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "pusher_nb.server", "--port", str(port), "--feeds", ""],
            capture_output=True,
            text=True,
            timeout=timeout(20),
        )
    assert result.returncode == 1 and "cannot listen" in result.stderr
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pusher_nb.server",
            "--port",
            "0",
            "--json",
            "--feeds",
            "",
            "--secret",
            "hush-hush",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "hush-hush" not in line and "secret" not in json.loads(line)
    finally:
        process.terminate()
        assert process.wait(timeout(10)) == 0


def test_cli_refuses_unknown_feeds_and_bad_master_keys():
    """An unknown feed or a malformed master key exits 2 with a message naming the problem."""
    for extra, complaint in (
        (["--feeds", "nope"], "unknown feed 'nope'"),
        (["--feeds", "", "--master-key", "abc"], "master key"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "pusher_nb.server", "--port", "0", *extra],
            capture_output=True,
            text=True,
            timeout=timeout(20),
        )
        assert result.returncode == 2 and complaint in result.stderr
