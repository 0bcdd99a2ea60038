"""One ingest client, run in a process of its own so that its peak memory is its own.

``python -m benchmarks.ingest_client KIND PORT COUNT`` connects to the feeder on 127.0.0.1:PORT,
takes COUNT events and prints one JSON line. Every client is timed the same way: from the
arrival of the first event to the handling of the COUNT-th (the feeder waits 100 ms after the
subscription before it starts, so each client binds its handlers first, through its public API).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading
import time

import psutil

CHANNEL = "crypto-trades"
MAX_SECONDS = 600


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (VmHWM: unlike ru_maxrss, not inherited
    from the parent across fork and exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def feeder_key(count: int, rate: int = 0) -> str:
    return f"n{count}" + (f"-r{rate}" if rate else "")


async def pusher_nb_liveframe(port: int, count: int, chart: bool = False, wait: bool = False) -> dict:
    """pusher_nb Client -> channel -> LiveFrame (optionally with a LiveChart drawing from it)."""
    import pusher_nb
    from pusher_nb.live import LiveFrame

    if chart:
        from pusher_nb.widgets import LiveChart

        # The first figure of a process takes seconds (plotly loads its validators); make one
        # before connecting so that this one-off cost does not land in the measurement.
        LiveChart(LiveFrame(None), x="received_at", y="price").close()
    rss_start = rss_mb()
    async with pusher_nb.Client(feeder_key(count), host="127.0.0.1", port=port, tls=False) as client:
        channel = await client.subscribe(CHANNEL)
        frame = LiveFrame(channel, events="trade", max_rows=100_000)
        chart_widget = None
        if chart:
            chart_widget = LiveChart(frame, x="received_at", y="price", window=500, fps=10)
        await frame.wait(rows=1, timeout=MAX_SECONDS)
        first = frame.values("received_at")[0]
        cpu_start, rows_start = time.process_time(), frame.total
        if wait:
            await frame.wait(rows=count, timeout=MAX_SECONDS)
        else:
            # Polled: a pending frame.wait() makes LiveFrame check its waiters on every event,
            # which measures wait() rather than ingest (the "... waiting" row shows that cost).
            deadline = time.monotonic() + MAX_SECONDS
            while frame.total < count and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.002)
        last = time.time()
        cpu = (time.process_time() - cpu_start) / max(1, frame.total - rows_start)
        if frame.total < count:
            raise TimeoutError(f"only {frame.total} of {count} events arrived")
        result = {"events": frame.total, "seconds": last - first, "rss_start_mb": rss_start, "cpu_per_event": cpu}
        if chart_widget is not None:
            result["redraws"] = getattr(chart_widget, "redraws", None)
            close = getattr(chart_widget, "close", None)
            if close is not None:
                close()
        frame.close()
    return result


async def pusher_nb_handler(port: int, count: int) -> dict:
    """pusher_nb Client -> channel -> a plain handler that counts (the client's own cost)."""
    import pusher_nb

    rss_start = rss_mb()
    received = 0
    first = cpu_start = 0.0
    done = asyncio.get_running_loop().create_future()

    def handler(event):
        nonlocal received, first, cpu_start
        received += 1
        if received == 1:
            first = event.received_at
            cpu_start = time.process_time()
        elif received == count:
            done.set_result(time.time())

    async with pusher_nb.Client(feeder_key(count), host="127.0.0.1", port=port, tls=False) as client:
        channel = await client.subscribe(CHANNEL)
        channel.bind("trade", handler)
        last = await asyncio.wait_for(done, MAX_SECONDS)
        cpu = (time.process_time() - cpu_start) / (count - 1)
    return {"events": received, "seconds": last - first, "rss_start_mb": rss_start, "cpu_per_event": cpu}


async def websockets_columns(port: int, count: int) -> dict:
    """The floor for a Python client: websockets, orjson and one list per column, nothing else."""
    import orjson
    from websockets.asyncio.client import connect

    rss_start = rss_mb()
    columns: dict[str, list] = {}
    received_at: list[float] = []
    cpu_start = 0.0
    url = f"ws://127.0.0.1:{port}/app/{feeder_key(count)}?protocol=7&client=bench&version=0"
    async with connect(url, compression=None, ping_interval=None, max_size=2**22) as ws:
        async for text in ws:
            message = orjson.loads(text)
            if message["event"] == "pusher:connection_established":
                await ws.send(orjson.dumps({"event": "pusher:subscribe", "data": {"channel": CHANNEL}}).decode())
            elif message["event"] == "trade":
                received_at.append(time.time())
                if len(received_at) == 1:
                    cpu_start = time.process_time()
                data = orjson.loads(message["data"])
                for key, value in data.items():
                    column = columns.get(key)
                    if column is None:
                        column = columns[key] = []
                    column.append(value)
                if len(received_at) == count:
                    break
    return {"events": len(received_at), "seconds": received_at[-1] - received_at[0], "rss_start_mb": rss_start,
            "cpu_per_event": (time.process_time() - cpu_start) / (count - 1)}


async def aiohttp_columns(port: int, count: int) -> dict:
    """The same floor on aiohttp's websocket client, whose frame reader is compiled."""
    import aiohttp
    import orjson

    rss_start = rss_mb()
    columns: dict[str, list] = {}
    received_at: list[float] = []
    cpu_start = 0.0
    url = f"ws://127.0.0.1:{port}/app/{feeder_key(count)}?protocol=7&client=bench&version=0"
    async with aiohttp.ClientSession() as session, session.ws_connect(
        url, autoping=False, max_msg_size=2**22
    ) as ws:
        async for message in ws:
            message = orjson.loads(message.data)
            if message["event"] == "pusher:connection_established":
                await ws.send_str(orjson.dumps({"event": "pusher:subscribe", "data": {"channel": CHANNEL}}).decode())
            elif message["event"] == "trade":
                received_at.append(time.time())
                if len(received_at) == 1:
                    cpu_start = time.process_time()
                data = orjson.loads(message["data"])
                for key, value in data.items():
                    column = columns.get(key)
                    if column is None:
                        column = columns[key] = []
                    column.append(value)
                if len(received_at) == count:
                    break
    return {"events": len(received_at), "seconds": received_at[-1] - received_at[0], "rss_start_mb": rss_start,
            "cpu_per_event": (time.process_time() - cpu_start) / (count - 1)}


def pysher_client(port: int, count: int, concat: bool = False) -> dict:
    """pysher (threaded): a handler that decodes each event and keeps it in a list, or grows a
    DataFrame with pd.concat per event (the common notebook pattern this toolkit replaces)."""
    import logging

    import pysher

    if concat:
        import pandas as pd
    rss_start = rss_mb()
    done = threading.Event()
    rows: list = []
    times: list[float] = []
    frame = None

    cpu = [0.0, 0.0]

    def on_trade(data):
        nonlocal frame
        times.append(time.time())
        if len(times) == 1:
            cpu[0] = time.process_time()
        row = json.loads(data)
        if concat:
            new = pd.DataFrame([row])
            frame = new if frame is None else pd.concat([frame, new], ignore_index=True)
        else:
            rows.append(row)
        if len(times) == count:
            cpu[1] = time.process_time()
            done.set()

    client = pysher.Pusher(
        feeder_key(count), secure=False, custom_host="127.0.0.1", port=port, log_level=logging.WARNING
    )

    def on_connected(_data):
        client.subscribe(CHANNEL).bind("trade", on_trade)

    client.connection.bind("pusher:connection_established", on_connected)
    client.connect()
    if not done.wait(MAX_SECONDS):
        raise TimeoutError(f"pysher took only {len(times)} of {count} events")
    # No disconnect(): pysher's runs on daemon threads and its disconnect can block for long;
    # the process ends right after reporting.
    return {"events": len(times), "seconds": times[-1] - times[0], "rss_start_mb": rss_start,
            "cpu_per_event": (cpu[1] - cpu[0]) / (count - 1)}


def run(kind: str, port: int, count: int) -> dict:
    if kind == "pusher_nb_liveframe":
        result = asyncio.run(pusher_nb_liveframe(port, count))
    elif kind == "pusher_nb_liveframe_wait":
        result = asyncio.run(pusher_nb_liveframe(port, count, wait=True))
    elif kind == "pusher_nb_livechart":
        result = asyncio.run(pusher_nb_liveframe(port, count, chart=True))
    elif kind == "pusher_nb_handler":
        result = asyncio.run(pusher_nb_handler(port, count))
    elif kind == "websockets_columns":
        result = asyncio.run(websockets_columns(port, count))
    elif kind == "aiohttp_columns":
        result = asyncio.run(aiohttp_columns(port, count))
    elif kind == "pysher_list":
        result = pysher_client(port, count)
    elif kind == "pysher_concat":
        result = pysher_client(port, count, concat=True)
    else:
        raise SystemExit(f"unknown client {kind!r}")
    result["events_per_s"] = (result["events"] - 1) / result["seconds"] if result["seconds"] > 0 else 0.0
    result["rss_peak_mb"] = peak_rss_mb()
    return result


KINDS = (
    "pusher_nb_liveframe",
    "pusher_nb_liveframe_wait",
    "pusher_nb_livechart",
    "pusher_nb_handler",
    "websockets_columns",
    "aiohttp_columns",
    "pysher_list",
    "pysher_concat",
)

if __name__ == "__main__":
    kind, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(run(kind, port, count)), flush=True)
