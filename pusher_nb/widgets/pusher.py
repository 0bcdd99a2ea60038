"""PusherWidget: the one-call view of a client: status, channels, event log, a subscribe box."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ._base import LiveView, esc, subscriptions_of
from .log import EventLog
from .status import StatusBar


class PusherWidget(LiveView, widgets.VBox):
    """Status bar, subscribed channels and an event log for ``client``; type a name to subscribe."""

    fps = 2.0

    def __init__(
        self, client: Any, max_lines: int = 50, fps: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.status = StatusBar(client)
        self.event_log = EventLog(client, max_lines=max_lines)
        self.channels_view = widgets.HTML()
        self.channel_name = widgets.Text(placeholder="channel name", continuous_update=False)
        self.subscribe_button = widgets.Button(description="Subscribe")
        self._shown: tuple | None = None
        self._init_view(fps)
        self.children = (
            self.status,
            self.channels_view,
            widgets.HBox([self.channel_name, self.subscribe_button]),
            self.event_log,
            self.error_line,
        )
        self.subscribe_button.on_click(lambda _button: self._on_loop(self._subscribe_from_box))
        self.channel_name.observe(
            lambda _change: self._on_loop(self._subscribe_from_box), names="value"
        )
        self.refresh()

    def _subscribe_from_box(self) -> None:
        name = self.channel_name.value.strip()
        if not name:
            return
        self.channel_name.value = ""
        self._spawn(self.subscribe(name), f"subscribe {name}")

    async def subscribe(self, name: str) -> Any:
        """Subscribe the client to ``name``; a refusal shows on this widget."""
        channel = await self.client.subscribe(name)
        self._dirty = True
        return channel

    def _needs_draw(self) -> bool:
        return True  # the channel list is small; an unchanged value is not re-sent

    def _draw(self) -> None:
        items = []
        for name, channel in sorted(subscriptions_of(self.client).items()):
            mark = "&#10003;" if getattr(channel, "subscribed", True) else "&hellip;"
            members = getattr(channel, "members", None)
            extra = f" ({members.count} online)" if members is not None else ""
            items.append(f"<code>{esc(name)}</code> {mark}{esc(extra)}")
        self.channels_view.value = "<b>Channels:</b> " + (", ".join(items) if items else "none yet")
