"""Memory: many events through one bounded LiveFrame, resident memory sampled along the way.

``python -m benchmarks.memory_run COUNT MAX_ROWS`` decodes pre-encoded frames with the
client's own decoder (so every event brings fresh objects, as from a socket) and appends each
to a LiveFrame, sampling RSS every 1% of the run. Prints one JSON line.
"""

from __future__ import annotations

import gc
import json
import sys
import time

import psutil

from pusher_nb.live import LiveFrame
from pusher_nb.protocol import decode_frame


def frames(pool: int = 4096) -> list[bytes]:
    out = []
    for i in range(pool):
        data = (
            f'{{"symbol":"BTC-USD","price":{64000 + (i % 1000) / 2},"size":0.01,'
            f'"side":"{"sell" if i % 2 else "buy"}","ts":{1767225600000 + i}}}'
        )
        out.append(json.dumps({"event": "trade", "channel": "crypto-trades", "data": data}).encode())
    return out


def run(count: int, max_rows: int) -> dict:
    process = psutil.Process()
    pool = frames()
    n = len(pool)
    frame = LiveFrame(None, events="trade", max_rows=max_rows)
    gc.collect()
    start = process.memory_info().rss
    samples = [(0, start)]
    step = max(1, count // 100)
    append = frame.append
    began = time.perf_counter()
    done = 0
    while done < count:
        upto = min(count, done + step)
        for i in range(done, upto):
            append(decode_frame(pool[i % n]))
        done = upto
        if done % (step * 10) == 0 or done == count:
            _ = frame.df  # a snapshot now and then, as a notebook cell would ask for
        samples.append((done, process.memory_info().rss))
    elapsed = time.perf_counter() - began
    rss = [value for _, value in samples]
    # Settled: the ring has filled and trimmed a few times and a DataFrame snapshot is held.
    settle = max(3 * (max_rows + 65536), count // 5)
    full_at = next((i for i, (seen, _) in enumerate(samples) if seen >= settle), len(samples) - 1)
    settled = samples[full_at][1]
    mb = 2**20
    return {
        "events": count,
        "max_rows": max_rows,
        "rows_held": len(frame),
        "seconds": elapsed,
        "events_per_s": count / elapsed,
        "rss_start_mb": start / mb,
        "rss_settled_mb": settled / mb,
        "settled_after": samples[full_at][0],
        "rss_peak_mb": max(rss) / mb,
        "rss_end_mb": rss[-1] / mb,
        "growth_after_settled_mb": (rss[-1] - settled) / mb,
        "samples": [(seen, round(value / mb, 1)) for seen, value in samples[:: max(1, len(samples) // 20)]],
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2]))), flush=True)
