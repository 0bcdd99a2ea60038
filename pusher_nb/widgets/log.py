"""EventLog: the newest events of a channel, channels or a client, newest first."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import ipywidgets as widgets
import orjson

from ..live import _sources, is_internal
from ._base import LiveView, esc

_MAX_DATA_CHARS = 300


def format_event(event: Any) -> str:
    """One log line: time, channel, event name, sender and the payload as compact JSON."""
    stamp = time.strftime("%H:%M:%S", time.gmtime(event.received_at))
    millis = int((event.received_at % 1) * 1000)
    try:
        data = orjson.dumps(event.data, default=str).decode()
    except TypeError:
        data = repr(event.data)
    if len(data) > _MAX_DATA_CHARS:
        data = data[:_MAX_DATA_CHARS] + "..."
    sender = f" from {event.user_id}" if event.user_id else ""
    return f"{stamp}.{millis:03d} {event.channel or '-'} {event.event}{sender} {data}"


class EventLog(LiveView, widgets.VBox):
    """The last ``max_lines`` events as text, newest first; internal events only if asked."""

    fps = 4.0

    def __init__(
        self,
        source: Any,
        max_lines: int = 50,
        show_internal: bool = False,
        fps: float | None = None,
        **kwargs: Any,
    ) -> None:
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        super().__init__(**kwargs)
        self.show_internal = show_internal
        self.events: deque = deque(maxlen=max_lines)
        self.total = 0
        self.header = widgets.HTML()
        self.output = widgets.HTML(
            layout=widgets.Layout(max_height="320px", overflow="auto", border="1px solid #d0d7de")
        )
        self._init_view(fps)
        self.children = (self.header, self.output, self.error_line)
        for src in _sources(source):
            self._bind(src, None, self._received, "event handler")
        self.refresh()

    def _received(self, event: Any) -> None:
        if not self.show_internal and is_internal(event.event):
            return
        self.events.append(event)  # formatted at redraw time, only the lines shown
        self.total += 1
        self._dirty = True

    @property
    def lines(self) -> list[str]:
        """The log's lines, newest first."""
        return [format_event(event) for event in reversed(self.events)]

    def _draw(self) -> None:
        self.header.value = f"<b>{self.total:,} events</b> (newest first)"
        body = "\n".join(esc(line) for line in self.lines)
        self.output.value = (
            f'<pre style="margin:0;font-size:12px;white-space:pre-wrap">{body}</pre>'
        )
