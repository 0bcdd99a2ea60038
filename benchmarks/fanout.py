"""Fan-out: one publisher, N subscribers, the local server and soketi on the same harness.

Subscribers are raw `ws` sockets in Node processes (benchmarks/fanout_subscribers.js), which
outrun any Python subscriber; the publisher is benchmarks/publisher.py sending REST batch
triggers as fast as it can. Deliveries/s counts every event written to every subscriber,
from the first delivery to the last.
"""

from __future__ import annotations

import json
import subprocess
import time

from .common import (
    HERE,
    PYTHON,
    LocalServerProcess,
    Soketi,
    Table,
    Unavailable,
    env,
    node,
    node_package,
    percentile_from_histogram,
    run_json,
    stop,
)

FULL = [(10, 300_000), (100, 300_000), (1000, 300_000)]  # (subscribers, deliveries)
QUICK = [(10, 5_000), (100, 10_000)]
PUBLISH_RATE = 20_000  # events/s asked of the publisher; it sends what it can
PACED = 20_000  # deliveries/s offered in the paced table, well below either server's ceiling
PACED_SECONDS = 3.0


def _subscribers(port: int, key: str, channel: str, n: int, expected: int) -> list[subprocess.Popen]:
    processes = 1 if n <= 100 else 2
    sizes = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
    started = [
        subprocess.Popen(
            [node(), str(HERE / "fanout_subscribers.js"), str(port), key, channel, str(size), str(expected)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env(),
        )
        for size in sizes
    ]
    for process in started:
        line = process.stdout.readline()
        if line.strip() != "ready":
            for p in started:
                stop(p)
            raise RuntimeError(f"subscribers did not get ready: {line!r}")
    return started


def _collect(processes: list[subprocess.Popen], seconds: float) -> list[dict]:
    results = []
    deadline = time.monotonic() + seconds
    for process in processes:
        try:
            out, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stop(process)
            raise RuntimeError("subscribers did not report in time") from None
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError("a subscriber process reported nothing")
        results.append(json.loads(lines[-1]))
    return results


def _measure(server, label: str, plan: list[tuple[int, int]], table: Table, paced: float | None = None,
             seconds: float = 3.0) -> None:
    """One row per subscriber count: as fast as the publisher can go, or at ``paced`` deliveries/s."""
    for n, deliveries in plan:
        if paced:
            rate = max(1.0, paced / n)
            events = max(10, int(rate * seconds))
        else:
            rate = PUBLISH_RATE
            events = max(10, deliveries // n)
        channel = f"bench-fanout-{n}-{int(time.time() * 1000)}"
        processes = _subscribers(server.port, server.key, channel, n, events)
        try:
            published = run_json(
                [PYTHON, "-m", "benchmarks.publisher", f"http://127.0.0.1:{server.port}", server.app_id,
                 server.key, server.secret, channel, str(rate), str(events / rate),
                 "batch", "16"],
                300,
            )
            results = _collect(processes, 120)
        finally:
            for process in processes:
                stop(process)
        delivered = sum(r["deliveries"] for r in results)
        first = min(r["first_ms"] for r in results if r["first_ms"]) if delivered else 0
        last = max(r["last_ms"] for r in results) if delivered else 0
        histogram: dict[float, int] = {}
        for r in results:
            for bucket, count in r["histogram"]:
                histogram[bucket] = histogram.get(bucket, 0) + count
        seconds = (last - first) / 1000
        table.add(
            label, n, events, published["events_per_s"], f"{delivered:,}/{published['sent'] * n:,}",
            delivered / seconds if seconds > 0 else None,
            percentile_from_histogram(histogram, 50), percentile_from_histogram(histogram, 99),
        )
        if published["errors"]:
            table.notes.append(f"{label}, {n} subscribers: {published['errors']} events failed to publish: "
                               f"{published['last_error']}")


def run(quick: bool = False) -> list[Table]:
    node()
    node_package("ws")
    plan = QUICK if quick else FULL
    table = Table(
        "Fan-out: one REST publisher, N subscribers",
        ["server", "subscribers", "events", "published events/s", "delivered", "deliveries/s",
         "p50 latency (ms)", "p99 latency (ms)"],
    )
    paced = Table(
        f"Fan-out at a steady {PACED:,} deliveries/s (latency without saturation)",
        list(table.columns),
    )
    for label, server_type in (("local server (own process)", LocalServerProcess), ("soketi 1.6", Soketi)):
        try:
            with server_type() as server:
                _measure(server, label, plan, table)
                _measure(server, label, plan, paced, paced=PACED, seconds=1.0 if quick else PACED_SECONDS)
        except (Unavailable, RuntimeError, OSError, TimeoutError) as exc:
            table.add(label, None, None, None, None, None, None, None)
            table.notes.append(f"{label}: not measured ({type(exc).__name__}: {exc})")
    table.notes.append(
        f"publisher: trigger_batch of 10 events, 16 requests in flight, asked for {PUBLISH_RATE:,} events/s; "
        "latency: trigger sent to event parsed by the subscriber (so it includes queueing when the server saturates); "
        "subscribers: Node ws sockets, one process up to 100 sockets, two above"
    )
    paced.notes.append(
        f"the same harness, the publisher paced to {PACED:,} / N events/s for {1.0 if quick else PACED_SECONDS:g} s "
        "(batches of 10, so events leave in bursts of 10)"
    )
    return [table, paced]
