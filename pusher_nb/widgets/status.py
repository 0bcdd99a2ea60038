"""StatusBar: one line that says whether the connection is healthy, and why not."""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets

from ._base import STATE_COLOURS, LiveView, esc, state_name


class StatusBar(LiveView, widgets.VBox):
    """Connection state (coloured), server, socket_id, events/s, events, reconnects, last error.

    Reads only the client's public counters; nothing secret reaches the front end.
    """

    fps = 2.0

    def __init__(self, client: Any, fps: float | None = None, **kwargs: Any) -> None:
        self.line = widgets.HTML()
        super().__init__(**kwargs)
        self.client = client
        self._last_error: str | None = None
        self._rate = 0.0
        self._count_at: tuple[float, int] | None = None
        self._init_view(fps)
        self.children = (self.line, self.error_line)
        connection = getattr(client, "connection", None)
        if connection is not None:
            self._bind(connection, "state_change", self._state_changed, "state_change handler")
            self._bind(connection, "error", self._errored, "error handler")
        self.refresh()

    def _state_changed(self, event: Any) -> None:
        self._dirty = True

    def _errored(self, event: Any) -> None:
        data = event.data if isinstance(event.data, dict) else {"message": event.data}
        where = data.get("where")
        message = str(data.get("message"))
        self._last_error = f"{where}: {message}" if where else message
        self._dirty = True

    def _needs_draw(self) -> bool:
        return True  # the counters move on their own; an unchanged value is not re-sent

    @property
    def events_per_second(self) -> float:
        return self._rate

    def _update_rate(self, total: int) -> None:
        now = time.monotonic()
        if self._count_at is not None:
            then, before = self._count_at
            if now > then:
                current = max(total - before, 0) / (now - then)
                self._rate = current if self._rate == 0 else 0.5 * self._rate + 0.5 * current
        self._count_at = (now, total)

    def _draw(self) -> None:
        client = self.client
        stats = getattr(client, "stats", None)
        total = int(getattr(stats, "events_received", 0) or 0)
        reconnects = int(getattr(stats, "reconnects", 0) or 0)
        last_error = self._last_error or getattr(stats, "last_error", None)
        self._update_rate(total)
        state = state_name(getattr(client, "state", "initialized"))
        colour = STATE_COLOURS.get(state, "#6e7781")
        parts = [
            f'<b style="color:{colour}">&#9679; {esc(state)}</b>',
            f"<code>{esc(getattr(client, 'server_url', ''))}</code>",
            f"socket_id <code>{esc(getattr(client, 'socket_id', None) or '-')}</code>",
            f"{self._rate:,.0f} events/s",
            f"{total:,} events",
            f"{reconnects} reconnects",
        ]
        if last_error:
            parts.append(f'<span style="color:#cf222e">last error: {esc(last_error)}</span>')
        self.line.value = " &middot; ".join(parts)
