"""Ingest: the same fast feed into each client in turn, one process per client."""

from __future__ import annotations

import importlib.util

from .common import PYTHON, Feeder, Table, Unavailable, node, node_package, run_json

# (kind, label, events in a full run, events in a quick run)
CLIENTS = [
    ("pusher_nb_liveframe", "pusher_nb Client + LiveFrame (polled)", 300_000, 20_000),
    ("pusher_nb_liveframe_wait", "pusher_nb Client + LiveFrame, awaiting frame.wait(rows=N)", 300_000, 20_000),
    ("pusher_nb_livechart", "pusher_nb Client + LiveFrame + LiveChart (fps=10, no browser)", 300_000, 20_000),
    ("pusher_nb_handler", "pusher_nb Client, counting handler", 300_000, 20_000),
    ("pusherjs", "pusher-js 8 under Node", 300_000, 20_000),
    ("websockets_columns", "bare websockets loop + orjson + column lists", 300_000, 20_000),
    ("aiohttp_columns", "bare aiohttp websocket loop + orjson + column lists", 300_000, 20_000),
    ("pysher_list", "pysher, handler appends to a list", 100_000, 5_000),
    ("pysher_concat", "pysher, handler pd.concat-s each event onto a DataFrame", 3_000, 300),
]

VARIANTS = {"pusher_nb_liveframe_wait"}  # left out of --quick runs


def _available(kind: str) -> None:
    if kind == "pusher_nb_livechart":
        try:
            spec = importlib.util.find_spec("pusher_nb.widgets")
        except ImportError:
            spec = None
        if spec is None:
            raise Unavailable("pusher_nb.widgets is not there yet")
        from pusher_nb import widgets

        if not hasattr(widgets, "LiveChart"):
            raise Unavailable("pusher_nb.widgets.LiveChart is not there yet")
    if kind == "pusherjs":
        node()
        node_package("pusher-js")


def _run_one(kind: str, port: int, count: int) -> dict:
    if kind == "pusherjs":
        from .common import HERE

        return run_json([node(), str(HERE / "pusherjs_client.js"), str(port), str(count)], 300)
    return run_json([PYTHON, "-m", "benchmarks.ingest_client", kind, str(port), str(count)], 300)


def run(quick: bool = False, repeat: int | None = None) -> list[Table]:
    repeat = repeat or (1 if quick else 5)
    results: dict[str, list[dict]] = {kind: [] for kind, *_ in CLIENTS}
    errors: dict[str, str] = {}
    with Feeder() as feeder:
        for _ in range(repeat):  # round robin, so background noise spreads over every client
            for kind, _label, full, small in CLIENTS:
                if kind in errors or (quick and kind in VARIANTS):
                    continue
                try:
                    _available(kind)
                    results[kind].append(_run_one(kind, feeder.port, small if quick else full))
                except (Unavailable, RuntimeError) as exc:
                    errors[kind] = str(exc)
    best = {kind: max(runs, key=lambda r: r["events_per_s"]) for kind, runs in results.items() if runs}
    reference = best.get("pusherjs", {}).get("events_per_s")
    table = Table(
        "Ingest: one fast feeder, each client in turn",
        ["client", "events", "events/s", "vs pusher-js", "CPU µs/event", "peak RSS (MB)", "RSS growth (MB)"],
    )
    for kind, label, _full, _small in CLIENTS:
        result = best.get(kind)
        if result is None:
            if quick and kind in VARIANTS:
                continue
            table.add(label, None, None, None, None, None, None)
            table.notes.append(f"{label}: not measured ({errors.get(kind, 'no result')})")
            continue
        rate = result["events_per_s"]
        table.add(
            label,
            result["events"],
            rate,
            f"{rate / reference:.2f}x" if reference else None,
            result.get("cpu_per_event", float("nan")) * 1e6,
            result["rss_peak_mb"],
            result["rss_peak_mb"] - result["rss_start_mb"],
        )
    table.notes.append(
        "feeder: benchmarks/feeder.js (Node ws) writes pre-framed events "
        '(`{"event":"trade","channel":"crypto-trades","data":"{\\"symbol\\":\\"BTC-USD\\",...}"}`, '
        "about 150 bytes) as fast as the socket drains; each client runs in its own process"
    )
    table.notes.append(
        "events/s: from the first event's arrival to the handling of the last; "
        f"best of {repeat} round-robin run(s); CPU µs/event: the client process's CPU time over the same "
        "span (all its threads; steadier than events/s on a busy machine); RSS growth: peak minus the RSS "
        "before connecting"
    )
    table.notes.append(
        "pd.concat per event grows quadratically, so that row takes fewer events (its rate falls further with more)"
    )
    return [table]
