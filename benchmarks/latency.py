"""Latency: REST trigger to LiveFrame row, at several rates, against the local server and soketi.

The receiver is a pusher_nb Client with a LiveFrame, on this process's loop; the publisher is a
separate process (benchmarks/publisher.py). Latency is the row's ``received_at`` minus the
``sent`` time the publisher wrote into the event just before its request went out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from contextlib import AsyncExitStack

from .common import PYTHON, ROOT, Soketi, Table, Unavailable, env, summarize

# (events/s, seconds in a full run, seconds in a quick run, trigger mode, requests in flight)
RATES = [
    (100, 3.0, 0.5, "trigger", 4),
    (1_000, 3.0, 0.5, "trigger", 16),
    (10_000, 3.0, 0.3, "batch", 16),
]


async def _publisher(url: str, app_id: str, key: str, secret: str, channel: str, rate: int,
                     seconds: float, mode: str, concurrency: int) -> dict:
    process = await asyncio.create_subprocess_exec(
        PYTHON, "-m", "benchmarks.publisher", url, app_id, key, secret, channel, str(rate),
        str(seconds), mode, str(concurrency),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env(), cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(), seconds * 10 + 60)
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"publisher failed: {err.decode().strip().splitlines()[-1:]}")
    return json.loads(lines[-1])


async def _measure(client_kwargs: dict, key: str, rest_url: str, quick: bool, label: str,
                   table: Table) -> None:
    import pusher_nb
    from pusher_nb.live import LiveFrame

    async with pusher_nb.Client(key, **client_kwargs) as client:
        for rate, full, small, mode, concurrency in RATES:
            seconds = small if quick else full
            channel_name = f"bench-latency-{rate}-{int(time.time() * 1000)}"
            channel = await client.subscribe(channel_name)
            frame = LiveFrame(channel, events="tick", max_rows=int(rate * seconds) + 1000)
            published = await _publisher(
                rest_url, client_kwargs["app_id"], key, client_kwargs["secret"], channel_name,
                rate, seconds, mode, concurrency,
            )
            with contextlib.suppress(TimeoutError):  # what is missing shows in rows/sent
                await frame.wait(rows=published["sent"], timeout=5)
            frame.close()
            received_at = frame.values("received_at")
            sent = frame.values("sent")
            stats = summarize([(r - s) * 1000 for r, s in zip(received_at, sent, strict=True) if s is not None])
            path = "1 trigger per event" if mode == "trigger" else "trigger_batch of 10"
            table.add(
                label, rate, f"{path}, {concurrency} in flight", published["events_per_s"],
                f"{frame.total}/{published['sent']}", stats["p50"], stats["p99"], stats["max"],
            )
            if published["errors"]:
                table.notes.append(f"{label} at {rate}/s: {published['errors']} events failed to publish: "
                                   f"{published['last_error']}")
            await channel.unsubscribe()


async def _local(quick: bool, table: Table) -> None:
    try:
        from pusher_nb.server import LocalServer
    except ImportError as exc:
        raise Unavailable(f"pusher_nb.server.LocalServer: {exc}") from None
    async with AsyncExitStack() as stack:
        server = await LocalServer.start(port=0, feeds=())
        stack.push_async_callback(server.stop)
        kwargs = {"host": server.host, "port": server.port, "tls": False, "app_id": server.app_id,
                  "secret": server.secret}
        await _measure(kwargs, server.key, server.url, quick, "local server (same loop as the client)", table)


async def _soketi(quick: bool, table: Table) -> None:
    with Soketi() as soketi:
        kwargs = soketi.connection()
        await _measure(kwargs, soketi.key, f"http://127.0.0.1:{soketi.port}", quick, "soketi 1.6", table)


def run(quick: bool = False) -> list[Table]:
    table = Table(
        "Latency: REST trigger to LiveFrame row",
        ["server", "target events/s", "trigger path", "published events/s", "rows/sent",
         "p50 (ms)", "p99 (ms)", "max (ms)"],
    )
    for label, runner in (("local server", _local), ("soketi", _soketi)):
        try:
            asyncio.run(runner(quick, table))
        except (Unavailable, RuntimeError, OSError, TimeoutError) as exc:
            table.add(label, None, None, None, None, None, None, None)
            table.notes.append(f"{label}: not measured ({type(exc).__name__}: {exc})")
    table.notes.append(
        "publisher: benchmarks/publisher.py in its own process (pusher_nb.rest.RestClient on aiohttp), "
        "paced; the local server runs on the receiver's loop, as it does in a notebook"
    )
    return [table]


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv)[0].markdown())
