"""PresenceTable and Chat: who is on a presence channel, and talking to them."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import ipywidgets as widgets

from ._base import LiveView, esc

_MEMBER_EVENTS = ("pusher:subscription_succeeded", "pusher:member_added", "pusher:member_removed")


def display_name(user_id: Any, info: Any) -> str:
    """A member's name from its user_info (``name``), else its user_id."""
    if isinstance(info, dict):
        for key in ("name", "username", "display_name"):
            if info.get(key):
                return str(info[key])
    elif isinstance(info, str) and info:
        return info
    return str(user_id)


class PresenceTable(LiveView, widgets.VBox):
    """The members of a presence channel with their info, ``me`` marked, and recent changes."""

    fps = 4.0

    def __init__(
        self, channel: Any, max_changes: int = 20, fps: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.channel = channel
        self.changes: deque[tuple[float, str, str, str]] = deque(maxlen=max_changes)
        self._names: dict[str, str] = {}
        self.header = widgets.HTML()
        self.table = widgets.HTML()
        self.changes_view = widgets.HTML()
        self._init_view(fps)
        self.children = (self.header, self.table, self.changes_view, self.error_line)
        for name in _MEMBER_EVENTS:
            self._bind(channel, name, self._member_event, "member handler")
        self.refresh()

    def _member_event(self, event: Any) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        user_id = str(data.get("user_id"))
        if event.event == "pusher:member_added":
            name = display_name(user_id, data.get("user_info"))
            self._names[user_id] = name
            self.changes.appendleft((event.received_at, "joined", user_id, name))
        elif event.event == "pusher:member_removed":
            name = self._names.get(user_id, user_id)
            self.changes.appendleft((event.received_at, "left", user_id, name))
        self._dirty = True

    def _draw(self) -> None:
        members = getattr(self.channel, "members", {}) or {}
        my_id = getattr(members, "my_id", None)
        keys: list[str] = []
        for info in members.values():
            if isinstance(info, dict):
                keys.extend(k for k in info if k not in keys)
        keys = keys[:8]
        head = "".join(f"<th>{esc(k)}</th>" for k in ["user_id", *keys])
        rows = []
        for user_id, info in members.items():
            self._names[str(user_id)] = display_name(user_id, info)
            me = " <b>(me)</b>" if user_id == my_id else ""
            if isinstance(info, dict):
                cells = "".join(f"<td>{esc(info.get(k, ''))}</td>" for k in keys)
            else:
                cells = f'<td colspan="{max(len(keys), 1)}">{esc(info if info is not None else "")}</td>'
            rows.append(f"<tr><td>{esc(user_id)}{me}</td>{cells}</tr>")
        count = getattr(members, "count", len(members))
        self.header.value = f"<b>{esc(getattr(self.channel, 'name', ''))}</b>: {count} online"
        self.table.value = (
            f'<table style="border-collapse:collapse"><tr>{head}</tr>{"".join(rows)}</table>'
        )
        self.changes_view.value = "<br>".join(
            f"{time.strftime('%H:%M:%S', time.gmtime(t))} {esc(name)} {what}"
            for t, what, _, name in self.changes
        )


class Chat(LiveView, widgets.VBox):
    """A chat over a presence channel: who is online, messages, and a box to send your own.

    Messages travel as ``client-message`` client events ``{"text", "name"}``; the server does
    not echo them to the sender, so sent messages are shown locally.
    """

    fps = 4.0
    EVENT = "client-message"

    def __init__(
        self,
        channel: Any,
        name: str | None = None,
        max_messages: int = 200,
        fps: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channel = channel
        self._name = name
        self.messages: deque[tuple[float, str | None, str, str, bool]] = deque(maxlen=max_messages)
        self.online = widgets.HTML()
        self.messages_view = widgets.HTML(
            layout=widgets.Layout(height="220px", overflow="auto", border="1px solid #d0d7de")
        )
        self.text = widgets.Text(placeholder="Say something", continuous_update=False)
        self.send_button = widgets.Button(description="Send", button_style="primary")
        self._init_view(fps)
        self.children = (
            self.online,
            self.messages_view,
            widgets.HBox([self.text, self.send_button]),
            self.error_line,
        )
        self._bind(channel, self.EVENT, self._received, "message handler")
        for event_name in _MEMBER_EVENTS:
            self._bind(channel, event_name, self._members_changed, "member handler")
        # front-end callbacks may arrive off the loop's thread
        self.send_button.on_click(lambda _button: self._on_loop(self._send_from_box))
        self.text.observe(lambda _change: self._on_loop(self._send_from_box), names="value")
        self.refresh()

    @property
    def my_name(self) -> str:
        if self._name:
            return self._name
        members = getattr(self.channel, "members", None)
        me = getattr(members, "me", None)
        if me:
            return display_name(*me)
        user_data = getattr(getattr(self.channel, "client", None), "user_data", None) or {}
        if user_data.get("user_id") is not None:
            return display_name(user_data["user_id"], user_data.get("user_info"))
        return "me"

    def _name_of(self, user_id: str | None, data: dict) -> str:
        """The sender's member name: the user_id is stamped by the server, a payload name is not."""
        members = getattr(self.channel, "members", {}) or {}
        if user_id is not None and user_id in members:
            return display_name(user_id, members[user_id])
        if user_id is not None:
            return str(user_id)
        return str(data.get("name") or "someone")

    def _received(self, event: Any) -> None:
        data = event.data if isinstance(event.data, dict) else {"text": event.data}
        text = str(data.get("text", ""))
        self.messages.append(
            (event.received_at, event.user_id, self._name_of(event.user_id, data), text, False)
        )
        self._dirty = True

    def _members_changed(self, event: Any) -> None:
        self._dirty = True

    def _send_from_box(self) -> None:
        text = self.text.value.strip()
        if not text:
            return
        self.text.value = ""
        self._spawn(self.send(text), "send")

    async def send(self, text: str) -> None:
        """Send ``text`` to the others and show it here."""
        name = self.my_name
        await self.channel.trigger(self.EVENT, {"text": text, "name": name})
        my_id = getattr(getattr(self.channel, "members", None), "my_id", None)
        self.messages.append((time.time(), my_id, name, text, True))
        self._dirty = True

    def _draw(self) -> None:
        members = getattr(self.channel, "members", {}) or {}
        my_id = getattr(members, "my_id", None)
        names = [
            esc(display_name(uid, info)) + (" (me)" if uid == my_id else "")
            for uid, info in members.items()
        ]
        self.online.value = f"<b>{len(names)} online:</b> " + ", ".join(names)
        lines = []
        for t, _uid, name, text, mine in self.messages:
            stamp = time.strftime("%H:%M", time.gmtime(t))
            style = "color:#0969da" if mine else ""
            lines.append(
                f'<div><span style="color:#6e7781">{stamp}</span> '
                f'<b style="{style}">{esc(name)}</b>: {esc(text)}</div>'
            )
        self.messages_view.value = "".join(lines)
