"""Plumbing shared by the benchmark sections: peer processes, tables, statistics."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NODE_MODULES = Path(os.environ.get("PUSHER_NB_NODE_MODULES", ROOT / "tests" / "peers" / "node_modules"))
RESULTS = HERE / ".results"
PYTHON = sys.executable


class Unavailable(RuntimeError):
    """A peer or a part of the toolkit that a row needs is not installed or not written yet."""


@dataclass
class Table:
    """One Markdown table: a title, column names, rows of cells, and notes printed under it."""

    title: str
    columns: Sequence[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join(" --- " for _ in self.columns) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(fmt(cell) for cell in row) + " |")
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        return {"title": self.title, "columns": list(self.columns), "rows": self.rows, "notes": self.notes}


def fmt(cell: Any) -> str:
    if cell is None:
        return "n/a"
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, int):
        return f"{cell:,}"
    if isinstance(cell, float):
        if math.isnan(cell):
            return "n/a"
        if abs(cell) >= 1000:
            return f"{cell:,.0f}"
        if abs(cell) >= 100:
            return f"{cell:.0f}"
        if abs(cell) >= 10:
            return f"{cell:.1f}"
        return f"{cell:.2f}"
    return str(cell)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node() -> str:
    path = shutil.which("node")
    if path is None:
        raise Unavailable("node is not on PATH")
    return path


def node_package(name: str) -> Path:
    path = NODE_MODULES / name
    if not path.exists():
        raise Unavailable(f"npm package {name} is not installed in {NODE_MODULES}")
    return path


def wait_for_port(port: int, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {seconds} s")


def stop(process: subprocess.Popen | None, grace: float = 5.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def env() -> dict[str, str]:
    """The environment for child processes: this package importable, Node modules found."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH")]))
    out["PUSHER_NB_NODE_MODULES"] = str(NODE_MODULES)
    return out


def run_json(args: Sequence[str], seconds: float) -> dict:
    """Run a child that prints one JSON line last; its result, or RuntimeError with its stderr."""
    try:
        done = subprocess.run(
            list(args), capture_output=True, text=True, timeout=seconds, env=env(), cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{' '.join(map(str, args[:3]))} took longer than {seconds} s") from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(map(str, args[:3]))} failed ({done.returncode}): {' / '.join(tail)}")
    return json.loads(lines[-1])


class Feeder:
    """The Node feeder (benchmarks/feeder.js) on a free port."""

    def __init__(self) -> None:
        node_package("ws")
        self.process = subprocess.Popen(
            [node(), str(HERE / "feeder.js"), "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            text=True, env=env(),
        )
        line = self.process.stdout.readline()
        if not line.startswith("listening"):
            stop(self.process)
            raise RuntimeError(f"the feeder did not start: {line!r}")
        self.port = int(line.split()[1])

    def __enter__(self) -> Feeder:
        return self

    def __exit__(self, *exc: Any) -> None:
        stop(self.process)


class Soketi:
    """soketi on a free port (the same configuration as the integration tests use)."""

    app_id = "app-id"
    key = "app-key"
    secret = "app-secret"

    def __init__(self) -> None:
        self.bin = node_package("@soketi/soketi") / "bin" / "server.js"
        self.port = free_port()
        env_vars = {
            **env(),
            "SOKETI_PORT": str(self.port),
            "SOKETI_HOST": "127.0.0.1",
            "SOKETI_METRICS_SERVER_PORT": str(free_port()),
            "SOKETI_DEFAULT_APP_ID": self.app_id,
            "SOKETI_DEFAULT_APP_KEY": self.key,
            "SOKETI_DEFAULT_APP_SECRET": self.secret,
            "SOKETI_DEFAULT_APP_MAX_CONNECTIONS": "-1",
            "SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC": "-1",
            "SOKETI_HTTP_MAX_REQUEST_SIZE": "1000",
        }
        self.process = subprocess.Popen(
            [node(), str(self.bin), "start"], env=env_vars, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 30, self.process)

    def connection(self) -> dict:
        return {"host": "127.0.0.1", "port": self.port, "tls": False, "app_id": self.app_id, "secret": self.secret}

    def __enter__(self) -> Soketi:
        return self

    def __exit__(self, *exc: Any) -> None:
        stop(self.process)


class LocalServerProcess:
    """pusher_nb's local server in a process of its own (benchmarks/serve_local.py), with its
    default app, whose credentials are soketi's defaults."""

    app_id = "app-id"
    key = "app-key"
    secret = "app-secret"

    def __init__(self) -> None:
        try:
            from pusher_nb.server import LocalServer  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"pusher_nb.server.LocalServer is not importable: {exc}") from None
        self.port = free_port()
        self.process = subprocess.Popen(
            [PYTHON, "-m", "benchmarks.serve_local", str(self.port)],
            env=env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, 30, self.process)
        except Exception:
            stop(self.process)
            raise

    def connection(self) -> dict:
        return {"host": "127.0.0.1", "port": self.port, "tls": False, "app_id": self.app_id, "secret": self.secret}

    def __enter__(self) -> LocalServerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        stop(self.process)


def summarize(values: Iterable[float]) -> dict:
    values = list(values)
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def percentile_from_histogram(histogram: dict[float, int], q: float) -> float:
    """The q-th percentile of values kept as {bucket lower bound: count}; NaN when empty."""
    total = sum(histogram.values())
    if not total:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return max(histogram)
