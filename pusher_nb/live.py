"""LiveFrame: events from channels -> a bounded ring of columns -> pandas DataFrames on demand.

Ingesting an event only appends to Python lists (one per column, the payload flattened with a
key layout cached per payload shape), so a LiveFrame keeps up with the socket; the DataFrame is
built when asked for and cached until the next event. Memory stays bounded by ``max_rows``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from .protocol import Event

__all__ = ["LiveFrame", "META_COLUMNS", "is_internal"]

logger = logging.getLogger(__name__)

META_COLUMNS = ("received_at", "channel", "event", "user_id", "epoch")
_INTERNAL_PREFIXES = ("pusher:", "pusher_internal:")
_DATA_KEYS = ("data",)
_FLAT = object()  # marks a cached layout of an already flattened payload
_MAX_PLANS = 4096
_NEVER = float("inf")
_LAYOUT = itemgetter(5)  # a waiting row: (*META_COLUMNS values, payload keys, payload values)
_VALUES = itemgetter(6)
_META_STAGE = 512
_PROMOTE = {("int64", "float64"): "float64", ("float64", "int64"): "float64"}


def is_internal(event_name: str) -> bool:
    """Protocol events (``pusher:...``, ``pusher_internal:...``) are not application data."""
    return event_name.startswith(_INTERNAL_PREFIXES)


def _flatten_into(out: dict[str, Any], prefix: str, data: dict) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if type(value) is dict and value:
            _flatten_into(out, name + ".", value)
        else:
            out[name] = value


def _flattened(data: dict) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    _flatten_into(flat, "", data)
    return flat


def _is_nested(data: dict) -> bool:
    for value in data.values():
        if type(value) is dict and value:
            return True
    return False


def _sources(source: Any) -> list[Any]:
    if source is None:
        return []
    if isinstance(source, (list, tuple, set, frozenset)):
        return list(source)
    return [source]


def _client_of(sources: list[Any]) -> Any:
    for source in sources:
        client = getattr(source, "client", None)
        if client is not None:
            return client
        if hasattr(source, "connection") and hasattr(source, "channels"):
            return source
    return None


class LiveFrame:
    """A bounded, columnar buffer of the events a channel (or channels, or a client) receives.

    ``events`` selects event names (a name or several; None keeps every application event).
    Dict payloads become columns (nested keys joined with "."); any other payload goes to a
    ``data`` column; a payload key that clashes with a meta column is prefixed with ``data.``.
    Columns: received_at (datetime64 UTC), channel, event, user_id, epoch (the client's
    connection epoch at arrival, so reconnect gaps show), then the payload columns.
    """

    def __init__(
        self,
        source: Any = None,
        events: str | Iterable[str] | None = None,
        max_rows: int = 100_000,
        flatten: bool = True,
    ) -> None:
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        self.max_rows = int(max_rows)
        self.flatten = flatten
        if isinstance(events, str):
            events = (events,)
        self.events: frozenset[str] | None = (
            None if events is None else frozenset(e for e in events if not is_internal(e))
        )
        # trimming happens once per chunk of rows, not per row
        self._trim_at = self.max_rows + max(1, min(self.max_rows, 65536))
        self._callbacks: list[Callable[[LiveFrame], Any]] = []
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self._wake_at = _NEVER  # the smallest row count a pending wait() needs
        self._paused = False
        self._closed = False
        self._taking = True  # neither paused nor closed: one check per event
        self.skipped = 0
        self._sources = _sources(source)
        self._client = _client_of(self._sources)
        self._reset()
        for src in self._sources:
            src.bind_global(self.append)

    # -- ingest -------------------------------------------------------------------------

    def _reset(self) -> None:
        self._cols: dict[str, list] = {name: [] for name in META_COLUMNS}
        self._times = self._cols["received_at"]
        self._names: dict[str, str] = {}  # payload key (flattened) -> column name
        self._plans: dict[tuple, tuple] = {}
        self._dtypes: dict[str, str] = {}
        self._version_base = self.version + 1 if hasattr(self, "total") else 0
        self.total = 0
        self._df: pd.DataFrame | None = None
        self._stats = getattr(self._client, "stats", None)
        # the meta values of the newest rows wait here as one tuple a row, and join their
        # columns in bulk (one C-level transpose) before any read, or every _META_STAGE rows
        self._meta: list[tuple] = []
        self._meta_columns = tuple(self._cols[name] for name in META_COLUMNS)

    @property
    def version(self) -> int:
        """Grows with every change; a view redraws when it differs from what it drew."""
        return self._version_base + self.total

    def append(self, event: Event, epoch: int | None = None) -> None:
        """Add one event (sources call this; replay and tests may too)."""
        name = event.event
        events = self.events
        if events is None:
            if name.startswith(_INTERNAL_PREFIXES):
                return
        elif name not in events:  # holds no internal names (see __init__)
            return
        if not self._taking:
            self.skipped += 1
            return
        if epoch is None:
            stats = self._stats
            epoch = 0 if stats is None else stats.connection_epoch
        data = event.data
        if type(data) is dict and self.flatten:
            keys = tuple(data)
            plan = self._plans.get(keys)
            if plan is None:
                self._sync()  # a layout may add columns: nothing may be waiting then
                plan = self._plan(keys, _is_nested(data))
            if plan[2]:
                self._add_now(_flattened(data))
                keys = values = None
            else:
                values = tuple(data.values())
        else:
            self._add_now({"data": data}, _DATA_KEYS)
            keys = values = None
        meta = self._meta
        meta.append((event.received_at, event.channel, name, event.user_id, epoch, keys, values))
        self.total += 1
        self._df = None
        if len(meta) >= _META_STAGE:
            self._sync()
        if self._callbacks:
            self._notify()
        if self.total >= self._wake_at:
            self._wake()

    def extend(self, events: Iterable[Event]) -> None:
        """Add many events in order."""
        for event in events:
            self.append(event)

    def _plan(self, keys: tuple, nested: bool) -> tuple:
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        if nested:
            plan = ((), (), True)
        else:
            names = keys[1:] if keys and keys[0] is _FLAT else keys
            used = []
            for key in names:
                column = self._names.get(key)
                if column is None:
                    column = self._add_column(key)
                used.append(column)
            seen = set(used)
            missing = tuple(
                lst for c, lst in self._cols.items() if c not in META_COLUMNS and c not in seen
            )
            plan = (tuple(self._cols[c] for c in used), missing, False)
        self._plans[keys] = plan
        return plan

    def _add_column(self, key: Any) -> str:
        column = str(key)
        if column in META_COLUMNS:
            column = f"data.{column}"
        while column in self._cols:  # e.g. both 1 and "1" as keys
            column += "_"
        self._cols[column] = [None] * (len(self._times) + len(self._meta))  # rows before it
        self._names[key] = column
        self._plans.clear()  # every cached layout now misses this column
        return column

    def _sync(self) -> None:
        """Move waiting rows into their columns (runs of one layout transposed at once), then trim."""
        rows = self._meta
        if rows:
            self._meta = []
            for keys, run in groupby(rows, _LAYOUT):
                if keys is not None:
                    columns, missing, _ = self._plans.get(keys) or self._plan(keys, False)
                    values = list(map(_VALUES, run))
                    for column, column_values in zip(columns, zip(*values, strict=True), strict=True):
                        column.extend(column_values)
                    if missing:
                        padding = [None] * len(values)
                        for column in missing:
                            column.extend(padding)
            for column, values in zip(self._meta_columns, zip(*rows, strict=True), strict=False):
                column.extend(values)
        if len(self._times) >= self._trim_at:
            self._trim()

    def _add_now(self, data: dict, keys: tuple | None = None) -> None:
        """Add one payload straight to its columns, after whatever is waiting."""
        self._sync()
        if keys is None:
            keys = (_FLAT, *data)
        columns, missing, _ = self._plans.get(keys) or self._plan(keys, False)
        for column, value in zip(columns, data.values(), strict=True):
            column.append(value)
        for column in missing:
            column.append(None)

    def _trim(self) -> None:
        excess = len(self._times) - self.max_rows
        for lst in self._cols.values():
            del lst[:excess]

    def _notify(self) -> None:
        for callback in list(self._callbacks):
            try:
                callback(self)
            except Exception:
                logger.exception("LiveFrame on_update callback %r failed", callback)

    def _wake(self) -> None:
        total = self.total
        pending = []
        for rows, future in self._waiters:
            if future.done():
                continue
            if total >= rows:
                future.set_result(total)
            else:
                pending.append((rows, future))
        self._waiters = pending
        self._wake_at = min((rows for rows, _ in pending), default=_NEVER)

    # -- control ------------------------------------------------------------------------

    def on_update(self, callback: Callable[[LiveFrame], Any]) -> Callable[[], None]:
        """Call ``callback(frame)`` after each new row (keep it cheap); returns an unsubscriber."""
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def pause(self) -> None:
        """Stop taking rows (events arriving meanwhile are counted in ``skipped``)."""
        self._paused = True
        self._taking = False

    def resume(self) -> None:
        self._paused = False
        self._taking = not self._closed

    @property
    def paused(self) -> bool:
        return self._paused

    def clear(self) -> None:
        """Drop every row and column; the next events define the columns again."""
        self._reset()

    def close(self) -> None:
        """Unbind from the sources and fail pending waits; the rows stay readable."""
        if self._closed:
            return
        self._closed = True
        self._taking = False
        for src in self._sources:
            try:
                src.unbind_global(self.append)
            except Exception:
                logger.exception("unbinding LiveFrame from %r failed", src)
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(RuntimeError("LiveFrame closed while waiting"))
        self._waiters = []
        self._wake_at = _NEVER

    async def wait(self, rows: int = 1, timeout: float | None = 30.0) -> LiveFrame:  # noqa: ASYNC109
        """Wait until ``rows`` rows have arrived since creation (or clear); TimeoutError otherwise."""
        if self.total >= rows:
            return self
        if self._closed:
            raise RuntimeError("LiveFrame is closed")
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((rows, future))
        self._wake_at = min(self._wake_at, rows)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"only {self.total} of {rows} rows arrived within {timeout} s"
            ) from None
        finally:
            if not future.done():
                future.cancel()
        return self

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return min(len(self._times) + len(self._meta), self.max_rows)

    def __repr__(self) -> str:
        return f"<LiveFrame {len(self)} rows x {len(self._cols)} columns, max_rows={self.max_rows}>"

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>LiveFrame</b>: {len(self):,} rows held of {self.total:,} received "
            f"(max_rows={self.max_rows:,}){' &middot; paused' if self._paused else ''}; "
            "the newest 10:</p>"
        )
        return head + self.tail(10)._repr_html_()

    @property
    def columns(self) -> list[str]:
        return list(self._cols)

    def _slice(self, column: str, n: int | None) -> list:
        self._sync()
        lst = self._cols[column]
        rows = len(self)
        if n is not None:
            rows = min(rows, max(int(n), 0))
        return lst[len(lst) - rows :] if rows else []

    def window(self, column: str, n: int | None = None) -> np.ndarray:
        """The last ``n`` values of ``column`` as float64 (received_at in Unix seconds)."""
        values = self._slice(column, n)
        try:
            return np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            numeric = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            return numeric.to_numpy(dtype=np.float64, na_value=np.nan)

    def values(self, column: str, n: int | None = None) -> list:
        """The last ``n`` raw values of ``column`` (any type), oldest first."""
        return self._slice(column, n)

    def _series(self, column: str, values: list) -> pd.Series | pd.DatetimeIndex:
        if column == "received_at":
            micros = np.round(np.array(values, dtype=np.float64) * 1e6).astype(np.int64)
            return pd.to_datetime(micros, unit="us", utc=True)
        if column == "epoch":
            return pd.Series(values, dtype=np.int64)
        if column in META_COLUMNS:
            return pd.Series(values, dtype=object)
        # A column's dtype only widens (int64 -> float64 -> object), so it stays the same from
        # one snapshot to the next even when the window happens to hold only whole numbers.
        series = pd.Series(values)
        kind = "object" if series.dtype == object else str(series.dtype)
        previous = self._dtypes.get(column)
        if not series.notna().any():
            target = "float64" if previous in ("int64", "float64") else previous or "object"
        else:
            target = kind
            if previous is not None and previous != kind:
                target = _PROMOTE.get((previous, kind), "object")
            self._dtypes[column] = target
        if target == kind:
            return series
        if target == "object":
            return pd.Series(values, dtype=object)
        return series.astype(target)

    def snapshot(
        self, columns: Iterable[str] | None = None, last: int | None = None
    ) -> pd.DataFrame:
        """A new DataFrame of ``columns`` (default all) over the last ``last`` rows."""
        names = list(self._cols) if columns is None else list(columns)
        data = {}
        for name in names:
            data[name] = self._series(name, self._slice(name, last))
        frame = pd.DataFrame(data, columns=names)
        frame.index = pd.RangeIndex(self.total - len(frame), self.total)
        return frame

    @property
    def df(self) -> pd.DataFrame:
        """A DataFrame of every row held, newest last (cached until the next event)."""
        if self._df is None:
            self._df = self.snapshot()
        return self._df

    def tail(self, n: int = 5) -> pd.DataFrame:
        """The last ``n`` rows, built without the full DataFrame."""
        return self.snapshot(last=n)

    def resample(
        self,
        rule: str,
        column: str = "price",
        how: str = "ohlc",
        by: str | None = None,
        last: int | None = None,
    ) -> pd.DataFrame:
        """Bucket ``column`` by arrival time: OHLC bars for prices, or any pandas aggregation.

        ``by`` splits by another column (e.g. a symbol) first; ``last`` limits to recent rows.
        """
        if column not in self._cols:
            raise KeyError(f"no column {column!r}; columns are {self.columns}")
        wanted = ["received_at", column] + ([by] if by else [])
        frame = self.snapshot(wanted, last=last).set_index("received_at")
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
        grouped = frame.groupby(by)[column] if by else frame[column]
        resampled = grouped.resample(rule)
        result = resampled.ohlc() if how == "ohlc" else resampled.agg(how)
        if isinstance(result, pd.Series):
            result = result.to_frame(column if how != "count" else "count")
        return result

    # -- recording ----------------------------------------------------------------------

    def to_events(self, last: int | None = None) -> list[Event]:
        """The held rows as Events again, nested payloads rebuilt from the dotted columns.

        Missing (None) values are left out, and a row holding only ``data`` gives that value
        as the payload, as it came from a payload that was not a dict.
        """
        names = [c for c in self._cols if c not in META_COLUMNS]
        keys = {col: str(key) for key, col in self._names.items()}
        meta = [self._slice(c, last) for c in META_COLUMNS]
        payload = [(keys.get(c, c), self._slice(c, last)) for c in names]
        out = []
        for i in range(len(meta[0])):
            values = {key: col[i] for key, col in payload if col[i] is not None}
            data = values["data"] if values.keys() == {"data"} else _unflatten(values)
            out.append(Event(meta[2][i], meta[1][i], data, meta[3][i], meta[0][i]))
        return out

    def save(self, path: str, format: str | None = None) -> str:
        """Write the held rows as JSON lines or Parquet (see pusher_nb.record)."""
        from .record import save_events

        return save_events(self.to_events(), path, format=format)


def _unflatten(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if "." not in key:
            out[key] = value
            continue
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out
