"""Redraws and responsiveness while a paced stream flows in (one configuration per process).

``python -m benchmarks.redraws_run PORT RATE SECONDS MODE`` with MODE ``idle`` (no stream),
``frame`` (LiveFrame only) or ``chart`` (LiveFrame + LiveChart, fps=10, no browser attached).
A trivial coroutine sleeps 10 ms in a loop meanwhile; its oversleep is how late the notebook's
own code would run. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from .common import percentile

TICK = 0.010


async def ticker(delays: list[float], stop: asyncio.Event) -> None:
    clock = time.perf_counter
    while not stop.is_set():
        before = clock()
        await asyncio.sleep(TICK)
        delays.append(clock() - before - TICK)


async def run(port: int, rate: int, seconds: float, mode: str) -> dict:
    import pusher_nb
    from pusher_nb.live import LiveFrame

    if mode == "chart":
        from pusher_nb.widgets import LiveChart

        LiveChart(LiveFrame(None), x="received_at", y="price").close()  # warm plotly up first
    delays: list[float] = []
    stop = asyncio.Event()
    result: dict = {"mode": mode, "target_events_per_s": rate if mode != "idle" else 0}
    if mode == "idle":
        task = asyncio.create_task(ticker(delays, stop))
        await asyncio.sleep(seconds)
        stop.set()
        await task
        result.update(events_per_s=0.0, redraws_per_s=None)
    else:
        count = int(rate * seconds)
        key = f"n{count}-r{rate}"
        async with pusher_nb.Client(key, host="127.0.0.1", port=port, tls=False) as client:
            channel = await client.subscribe("crypto-trades")
            frame = LiveFrame(channel, events="trade", max_rows=100_000)
            chart = None
            if mode == "chart":
                chart = LiveChart(frame, x="received_at", y="price", window=500, fps=10)
            await frame.wait(rows=1, timeout=30)
            task = asyncio.create_task(ticker(delays, stop))
            started = time.perf_counter()
            first_total = frame.total
            first_redraws = chart.redraws if chart is not None else 0
            deadline = started + seconds * 3 + 10
            # polled, not frame.wait(): a pending wait() costs LiveFrame a check per event
            while frame.total < count and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            stop.set()
            await task
            result.update(
                events=frame.total,
                events_per_s=(frame.total - first_total) / elapsed,
                redraws_per_s=((chart.redraws - first_redraws) / elapsed) if chart is not None else None,
                errors=list(getattr(chart, "errors", [])) if chart is not None else [],
            )
            if chart is not None:
                chart.close()
            frame.close()
    ms = [d * 1000 for d in delays]
    result.update(ticks=len(ms), p50_ms=percentile(ms, 50), p99_ms=percentile(ms, 99), max_ms=max(ms) if ms else None)
    return result


if __name__ == "__main__":
    port, rate, seconds, mode = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    print(json.dumps(asyncio.run(run(port, rate, seconds, mode))), flush=True)
