"""The command line: listen, trigger and channels as JSON lines, errors on stderr, against soketi."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from support import timeout


def run_cli(*args: str, soketi=None, secret: bool = True, wait: bool = True):
    connection = []
    if soketi is not None:
        connection = ["--host", soketi.host, "--port", str(soketi.port), "--no-tls", "--key", soketi.key]
        if secret:
            connection += ["--app-id", soketi.app_id, "--secret", soketi.secret]
    command = [sys.executable, "-m", "pusher_nb.cli", *args, *connection]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout(60))


def test_listen_prints_triggered_events_as_json_lines(soketi):
    """listen --count 2 prints the two events a trigger sends, one JSON object per line."""
    listener = run_cli("listen", "cli-prices", "--count", "2", "--timeout", str(timeout(20)),
                       soketi=soketi, secret=False, wait=False)
    deadline = time.monotonic() + timeout(15)
    while time.monotonic() < deadline:
        channels = run_cli("channels", soketi=soketi)
        if "cli-prices" in channels.stdout:
            break
        time.sleep(0.2)
    for price in (1.5, 2.5):
        result = run_cli("trigger", "cli-prices", "tick", json.dumps({"price": price}), soketi=soketi)
        assert result.returncode == 0, result.stderr
    out, err = listener.communicate(timeout=timeout(30))
    assert listener.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(e["event"], e["channel"], e["data"]) for e in lines] == [
        ("tick", "cli-prices", {"price": 1.5}),
        ("tick", "cli-prices", {"price": 2.5}),
    ]


def test_channels_lists_occupied_channels(soketi):
    """channels prints one JSON line per occupied channel."""
    listener = run_cli("listen", "cli-occupied", "--timeout", str(timeout(8)),
                       soketi=soketi, secret=False, wait=False)
    try:
        deadline = time.monotonic() + timeout(15)
        names = []
        while time.monotonic() < deadline and "cli-occupied" not in names:
            result = run_cli("channels", "--prefix", "cli-occ", soketi=soketi)
            assert result.returncode == 0, result.stderr
            names = [json.loads(line)["channel"] for line in result.stdout.splitlines()]
            time.sleep(0.2)
        assert names == ["cli-occupied"]
    finally:
        listener.kill()
        listener.communicate()


def test_errors_go_to_stderr_with_a_nonzero_exit(soketi):
    """A bad channel name and a missing secret fail with a message on stderr and nothing on stdout."""
    bad_name = run_cli("trigger", "no spaces allowed", "e", "{}", soketi=soketi)
    assert bad_name.returncode != 0 and "outside" in bad_name.stderr and bad_name.stdout == ""
    no_secret = run_cli("trigger", "ok", "e", "{}", soketi=soketi, secret=False)
    assert no_secret.returncode != 0 and "secret" in no_secret.stderr
    no_key = run_cli("channels")
    assert no_key.returncode != 0 and "key" in no_key.stderr


def test_serve_then_listen_to_its_feed():
    """`pusher-nb serve` runs the local server with a feed; `pusher-nb listen` prints its trades."""
    from support import free_port, wait_for_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pusher_nb.cli", "serve", "--port", str(port), "--feeds", "crypto"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for_port(port, 20, server)
        listen = subprocess.run(
            [sys.executable, "-m", "pusher_nb.cli", "listen", "crypto-trades", "--count", "3",
             "--timeout", str(timeout(20)), "--host", "127.0.0.1", "--port", str(port),
             "--no-tls", "--key", "app-key"],
            capture_output=True, text=True, timeout=timeout(40),
        )
        assert listen.returncode == 0, listen.stderr
        trades = [json.loads(line) for line in listen.stdout.splitlines()]
        assert len(trades) == 3
        assert all(t["channel"] == "crypto-trades" and t["data"]["symbol"].endswith("-USD") for t in trades)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=timeout(20))
    assert server.returncode == 0 and f"port:    {port}" in output
