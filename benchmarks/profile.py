"""Where the pusher_nb ingest path spends its time.

Two views: the socket path under cProfile (feeder -> websockets -> Client -> LiveFrame), and
the dispatch path alone without a socket (frames handed straight to the client's dispatcher),
timed with and without a LiveFrame, so each layer's share per event shows.
Run with ``python -m benchmarks --only profile``.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time

import orjson

from .common import Feeder, Table
from .memory_run import frames

TOP = 15


def _dispatch_only(count: int) -> list[tuple[str, float]]:
    """Events/s through Client._dispatcher.receive, without a socket, for growing paths."""
    import pusher_nb
    from pusher_nb.live import LiveFrame
    from pusher_nb.protocol import decode_frame

    pool = frames()
    n = len(pool)
    texts = [pool[i % n].decode() for i in range(count)]
    out = []

    def timed(label: str, step) -> None:
        best = float("inf")
        for _ in range(5):  # best of 5: the least disturbed pass on a shared machine
            started = time.perf_counter()
            for text in texts:
                step(text)
            best = min(best, time.perf_counter() - started)
        out.append((label, count / best))

    loads = orjson.loads
    timed("orjson.loads twice (the floor of any decoder)", lambda t: loads(loads(t)["data"]))
    timed("protocol.decode_frame", decode_frame)

    async def with_client(frame: bool) -> None:
        client = pusher_nb.Client("bench", host="127.0.0.1", port=1, tls=False)
        channel = pusher_nb.Channel("crypto-trades", client)
        client._channels["crypto-trades"] = channel
        if frame:
            LiveFrame(channel, events="trade", max_rows=100_000)
            timed("Client dispatch + LiveFrame.append", client._dispatcher.receive)
        else:
            channel.bind("trade", lambda event: None)
            timed("Client dispatch to a no-op handler", client._dispatcher.receive)

    asyncio.run(with_client(False))
    asyncio.run(with_client(True))
    return out


def run(quick: bool = False) -> list[Table]:
    from .ingest_client import pusher_nb_liveframe

    count = 20_000 if quick else 300_000
    dispatch = Table("Profile: the dispatch path without a socket", ["path", "events/s", "µs per event"])
    for label, rate in _dispatch_only(count // 3):
        dispatch.add(label, rate, 1e6 / rate)

    profiler = cProfile.Profile()
    with Feeder() as feeder:
        profiler.enable()
        asyncio.run(pusher_nb_liveframe(feeder.port, count))
        profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(row[2] for row in stats.stats.values())  # tottime over every function
    table = Table(
        f"Profile: Client + LiveFrame over a socket, {count:,} events (cProfile, by own time)",
        ["function", "calls", "own time (s)", "share", "cumulative (s)"],
    )
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:TOP]
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in rows:
        where = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        table.add(f"{name} ({where}:{line})", calls, own, f"{own / total:.0%}", cumulative)
    table.notes.append("cProfile adds its own overhead per call, so Python-heavy layers look bigger than they are")
    return [dispatch, table]
