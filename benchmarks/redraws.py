"""Redraws and responsiveness: a LiveChart at fps=10 while 50k events/s stream in."""

from __future__ import annotations

from .common import PYTHON, Feeder, Table, run_json

RATE = 50_000
LABELS = {
    "idle": "no stream (the loop alone)",
    "frame": "50k/s into a LiveFrame",
    "chart": "50k/s into a LiveFrame + LiveChart(fps=10)",
}


def run(quick: bool = False) -> list[Table]:
    seconds = 1.0 if quick else 5.0
    table = Table(
        "Redraws and responsiveness: a coroutine sleeping 10 ms in a loop, while events stream in",
        ["configuration", "events/s in", "redraws/s out", "sleep overshoot p50 (ms)", "p99 (ms)", "max (ms)"],
    )
    with Feeder() as feeder:
        for mode, label in LABELS.items():
            try:
                result = run_json(
                    [PYTHON, "-m", "benchmarks.redraws_run", str(feeder.port), str(RATE), str(seconds), mode],
                    seconds * 4 + 90,
                )
            except RuntimeError as exc:
                table.add(label, None, None, None, None, None)
                table.notes.append(f"{label}: not measured ({exc})")
                continue
            table.add(label, result["events_per_s"], result["redraws_per_s"], result["p50_ms"],
                      result["p99_ms"], result["max_ms"])
            for error in result.get("errors") or []:
                table.notes.append(f"{label}: the chart reported {error}")
    table.notes.append(
        f"the feeder paces {RATE:,} events/s over {seconds:g} s through a real socket into a pusher_nb Client; "
        "no browser is attached, so a redraw is the Python side of one batch_update"
    )
    return [table]
