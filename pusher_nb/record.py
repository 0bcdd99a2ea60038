"""Record events to JSON lines or Parquet, and replay them later, so a lesson needs no live feed.

A recording holds one row per application event: received_at (Unix seconds), event, channel,
user_id and data (the decoded payload). Replay feeds a LiveFrame (or anything with ``append``)
directly, or goes through a server with an async ``trigger(channel, event, data)`` callable,
at the recorded pace, faster (``speed=10``) or as fast as possible (``speed=None``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from .live import _sources, is_internal
from .protocol import Event

__all__ = ["Recorder", "load_events", "replay", "save_events"]

logger = logging.getLogger(__name__)

_PARQUET_SUFFIXES = (".parquet", ".pq")
_FIELDS = ("received_at", "event", "channel", "user_id", "data")


def _format_of(path: str | os.PathLike, format: str | None) -> str:
    if format is not None:
        if format not in ("jsonl", "parquet"):
            raise ValueError(f"format must be 'jsonl' or 'parquet', not {format!r}")
        return format
    return "parquet" if Path(path).suffix.lower() in _PARQUET_SUFFIXES else "jsonl"


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY)


def _record_line(event: Event) -> bytes:
    return (
        _dumps(
            {
                "received_at": event.received_at,
                "event": event.event,
                "channel": event.channel,
                "user_id": event.user_id,
                "data": event.data,
            }
        )
        + b"\n"
    )


def save_events(events: Iterable[Event], path: str | os.PathLike, format: str | None = None) -> str:
    """Write ``events`` to ``path`` (Parquet for a .parquet suffix, else JSON lines)."""
    fmt = _format_of(path, format)
    events = [e for e in events if not is_internal(e.event)]
    if fmt == "jsonl":
        with open(path, "wb") as out:
            out.writelines(_record_line(e) for e in events)
        return str(path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "received_at": pa.array([e.received_at for e in events], pa.float64()),
            "event": pa.array([e.event for e in events], pa.string()),
            "channel": pa.array([e.channel for e in events], pa.string()),
            "user_id": pa.array([e.user_id for e in events], pa.string()),
            # payload shapes vary from event to event, so the payload is kept as JSON text
            "data": pa.array([_dumps(e.data).decode() for e in events], pa.string()),
        }
    )
    pq.write_table(table, path)
    return str(path)


def load_events(path: str | os.PathLike, format: str | None = None) -> list[Event]:
    """Read a recording written by :func:`save_events` or :class:`Recorder`."""
    fmt = _format_of(path, format)
    if fmt == "jsonl":
        events = []
        with open(path, "rb") as src:
            for number, line in enumerate(src, 1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
                events.append(_event_of(row))
        return events
    import pyarrow.parquet as pq

    columns = pq.read_table(path).to_pydict()
    rows = zip(*(columns[name] for name in _FIELDS), strict=True)
    return [
        Event(event, channel, orjson.loads(data) if data is not None else None, user_id, t)
        for t, event, channel, user_id, data in rows
    ]


def _event_of(row: dict) -> Event:
    return Event(
        row["event"],
        row.get("channel"),
        row.get("data"),
        row.get("user_id"),
        row.get("received_at"),
    )


class Recorder:
    """Keep what a channel, channels or a client receive; optionally stream it to a JSON lines file.

    ``max_events`` bounds the copy kept in memory (the oldest go first); the file keeps all.
    """

    def __init__(
        self,
        source: Any,
        events: str | Iterable[str] | None = None,
        path: str | os.PathLike | None = None,
        max_events: int | None = 1_000_000,
    ) -> None:
        if isinstance(events, str):
            events = (events,)
        self.names = None if events is None else frozenset(events)
        self.events: deque[Event] = deque(maxlen=max_events)
        self.path = None if path is None else str(path)
        self._file: IO[bytes] | None = None
        if path is not None:
            if _format_of(path, None) != "jsonl":
                raise ValueError("a Recorder streams JSON lines; save() writes Parquet")
            self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._sources = _sources(source)
        for src in self._sources:
            src.bind_global(self.append)

    def append(self, event: Event) -> None:
        """Record one event (internal protocol events are skipped)."""
        if is_internal(event.event):
            return
        if self.names is not None and event.event not in self.names:
            return
        self.events.append(event)
        if self._file is not None:
            self._file.write(_record_line(event))

    def __len__(self) -> int:
        return len(self.events)

    def save(self, path: str | os.PathLike, format: str | None = None) -> str:
        """Write the events held in memory to ``path``."""
        return save_events(list(self.events), path, format)

    def close(self) -> None:
        """Stop recording: unbind from the sources and close the stream file."""
        for src in self._sources:
            try:
                src.unbind_global(self.append)
            except Exception:
                logger.exception("unbinding Recorder from %r failed", src)
        self._sources = []
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _events_from(recording: Any) -> list[Event]:
    if isinstance(recording, (str, os.PathLike)):
        return load_events(recording)
    if hasattr(recording, "to_events"):
        return recording.to_events()
    if isinstance(recording, Recorder):
        return list(recording.events)
    return list(recording)


async def replay(
    recording: Any,
    into: Any = None,
    trigger: Callable[[str, str, Any], Awaitable[Any]] | None = None,
    speed: float | None = 1.0,
) -> int:
    """Play a recording back; returns how many events were played.

    ``recording`` is a path, a list of Events, a Recorder or a LiveFrame. ``into`` takes each
    event through its ``append`` (a LiveFrame, or a list of them); ``trigger`` sends each one
    through a server instead. ``speed=1`` keeps the recorded pace, ``speed=10`` is ten times
    faster, ``speed=None`` goes as fast as possible. Paced events get new arrival times, as if
    live; unpaced ones keep the recorded times.
    """
    if into is None and trigger is None:
        raise ValueError("pass into= (a LiveFrame) or trigger= (an async callable), or both")
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive, or None for as fast as possible")
    targets = [] if into is None else (list(into) if isinstance(into, (list, tuple)) else [into])
    events = [e for e in _events_from(recording) if not is_internal(e.event)]
    if not events:
        return 0
    loop = asyncio.get_running_loop()
    start_loop, start_wall = loop.time(), time.time()
    first = events[0].received_at
    played = 0
    for event in events:
        if speed is not None:
            offset = max(event.received_at - first, 0.0) / speed
            delay = start_loop + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            event = Event(
                event.event, event.channel, event.data, event.user_id, start_wall + offset
            )
        if trigger is not None:
            await trigger(event.channel, event.event, event.data)
        for target in targets:
            target.append(event)
        played += 1
        if speed is None and trigger is None and played % 2000 == 0:
            await asyncio.sleep(0)  # let the notebook's other tasks (and views) run
    return played
