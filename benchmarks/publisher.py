"""A paced REST publisher, in a process of its own so that it does not slow the receiver.

``python -m benchmarks.publisher URL APP_ID KEY SECRET CHANNEL RATE SECONDS MODE CONCURRENCY``
publishes RATE events/s for SECONDS to CHANNEL, as one ``trigger`` per event (MODE "trigger") or
``trigger_batch`` requests of 10 (MODE "batch"), with at most CONCURRENCY requests in flight.
Each event's data carries ``seq`` and ``sent`` (Unix seconds, taken just before its request
goes out). Prints one JSON line: sent, errors, seconds, events_per_s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from pusher_nb.protocol import MAX_BATCH_EVENTS
from pusher_nb.rest import RestClient


async def publish(
    url: str, app_id: str, key: str, secret: str, channel: str, rate: float, seconds: float,
    mode: str, concurrency: int, event: str = "tick",
) -> dict:
    rest = RestClient(url, app_id, key, secret)
    per_request = MAX_BATCH_EVENTS if mode == "batch" else 1
    total = max(1, int(rate * seconds))
    requests = -(-total // per_request)
    interval = per_request / rate
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task] = set()
    sent = errors = 0
    last_error = None

    async def one(first: int, n: int) -> None:
        nonlocal sent, errors, last_error
        try:
            now = time.time()
            if mode == "batch":
                await rest.trigger_batch(
                    [{"channel": channel, "name": event, "data": {"seq": first + i, "sent": now, "price": 64000.5}}
                     for i in range(n)]
                )
            else:
                await rest.trigger(channel, event, {"seq": first, "sent": now, "price": 64000.5})
            sent += n
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors += n
            last_error = repr(exc)
        finally:
            slots.release()

    started = time.perf_counter()
    try:
        for index in range(requests):
            due = started + index * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            first = index * per_request
            task = asyncio.get_running_loop().create_task(one(first, min(per_request, total - first)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    finally:
        await rest.close()
    elapsed = time.perf_counter() - started
    return {
        "sent": sent, "errors": errors, "last_error": last_error, "seconds": elapsed,
        "events_per_s": sent / elapsed if elapsed else 0.0,
    }


if __name__ == "__main__":
    url, app_id, key, secret, channel, rate, seconds, mode, concurrency = sys.argv[1:10]
    result = asyncio.run(
        publish(url, app_id, key, secret, channel, float(rate), float(seconds), mode, int(concurrency))
    )
    print(json.dumps(result), flush=True)
