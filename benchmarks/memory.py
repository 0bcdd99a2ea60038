"""Memory: 10 million events through a bounded LiveFrame (benchmarks/memory_run.py)."""

from __future__ import annotations

from .common import PYTHON, Table, run_json

FULL = 10_000_000
QUICK = 300_000
MAX_ROWS = 100_000


def run(quick: bool = False) -> list[Table]:
    count = QUICK if quick else FULL
    result = run_json([PYTHON, "-m", "benchmarks.memory_run", str(count), str(MAX_ROWS)], 600)
    table = Table(
        f"Memory: {count:,} events through LiveFrame(max_rows={MAX_ROWS:,})",
        ["events", "events/s", "RSS start (MB)", f"RSS at {result['settled_after']:,} events (MB)",
         "RSS peak (MB)", "RSS end (MB)", "growth since then (MB)", "growth start to end (MB)"],
    )
    table.add(
        result["events"], result["events_per_s"], result["rss_start_mb"], result["rss_settled_mb"],
        result["rss_peak_mb"], result["rss_end_mb"], result["growth_after_settled_mb"],
        result["rss_end_mb"] - result["rss_start_mb"],
    )
    table.notes.append(
        "each event is decoded from a pre-encoded frame by pusher_nb.protocol.decode_frame (fresh objects, "
        "as from a socket) and appended with LiveFrame.append; a DataFrame snapshot (frame.df) every 10% of the run"
    )
    table.notes.append(
        "RSS samples (events, MB): " + ", ".join(f"{seen:,}: {mb}" for seen, mb in result["samples"][::2])
    )
    return [table]
