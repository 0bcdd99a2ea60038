"""Channels as the client sees them: event binding, presence members, client events.

A channel never touches the socket itself; it asks its client (``channel.client``) to send.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ClientEventError
from .protocol import (
    MAX_CLIENT_EVENTS_PER_SECOND,
    ChannelKind,
    Event,
    channel_kind,
    check_data_size,
    encode_data,
    parse_presence,
    validate_event_name,
)
from .tasks import TaskSet

if TYPE_CHECKING:
    from .client import Client

log = logging.getLogger("pusher_nb")

Handler = Callable[[Event], Any]
ErrorReporter = Callable[[str, BaseException], None]


def _report_to_log(where: str, exc: BaseException) -> None:
    log.error("%s raised %r", where, exc, exc_info=exc)


class EventEmitter:
    """Named and global handlers; a failing handler is reported and never stops the others.

    A handler may be a plain function or a coroutine function; coroutines run as tasks on the
    running loop, referenced until they finish.
    """

    def __init__(self, report_error: ErrorReporter = _report_to_log) -> None:
        self._named: dict[str, list[tuple[Handler, bool]]] = {}
        self._global: list[tuple[Handler, bool]] = []
        self._report_error = report_error
        self._tasks = TaskSet(lambda name, exc: report_error(f"async handler {name}", exc))

    def bind(self, event_name: str, handler: Handler) -> Handler:
        """Call ``handler(event)`` for every event called ``event_name``; returns the handler."""
        _check_handler(handler)
        self._named.setdefault(event_name, []).append((handler, _is_async(handler)))
        return handler

    def unbind(self, event_name: str | None = None, handler: Handler | None = None) -> None:
        """Remove handlers: one, all of one event, or (with no arguments) every named one."""
        names = list(self._named) if event_name is None else [event_name]
        for name in names:
            kept = [pair for pair in self._named.get(name, ()) if handler not in (None, pair[0])]
            if kept:
                self._named[name] = kept
            else:
                self._named.pop(name, None)

    def bind_global(self, handler: Handler) -> Handler:
        """Call ``handler(event)`` for every event, whatever its name."""
        _check_handler(handler)
        self._global.append((handler, _is_async(handler)))
        return handler

    def unbind_global(self, handler: Handler | None = None) -> None:
        self._global = [pair for pair in self._global if handler not in (None, pair[0])]

    def unbind_all(self) -> None:
        self._named.clear()
        self._global.clear()

    def emit(self, event: Event) -> None:
        named = self._named.get(event.event)
        if named:
            for handler, is_async in named:
                self._call(handler, is_async, event)
        for handler, is_async in self._global:
            self._call(handler, is_async, event)

    @property
    def has_handlers(self) -> bool:
        return bool(self._named or self._global)

    def _call(self, handler: Handler, is_async: bool, event: Event) -> None:
        try:
            result = handler(event)
            # Most handlers return None: skip inspect.isawaitable's Python-level call for them.
            if is_async or (result is not None and inspect.isawaitable(result)):
                self._tasks.keep(result)
        except Exception as exc:
            self._report_error(f"handler {_name_of(handler)} for {event.event!r}", exc)


def _check_handler(handler: Any) -> None:
    if not callable(handler):
        raise TypeError(f"handler must be callable, not {type(handler).__name__}")


def _is_async(handler: Handler) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - an async __call__ counts too
    )


def _name_of(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


class Channel(EventEmitter):
    """A subscribed (or subscribing) channel; ``bind`` its events, ``unsubscribe`` when done."""

    def __init__(self, name: str, client: Client) -> None:
        super().__init__(client._report_error)
        self.name = name
        self.kind: ChannelKind = channel_kind(name)
        self.client = client
        self.subscribed = False
        self.subscription_count: int | None = None
        self._subscribed_future: asyncio.Future | None = None
        # Events that arrive between subscription_succeeded and the moment the awaiting
        # subscribe() caller has bound its handlers (a cache replay, a busy feed) wait here.
        self._held: list[Event] | None = None

    def __repr__(self) -> str:
        state = "subscribed" if self.subscribed else "not subscribed"
        return f"<{type(self).__name__} {self.name!r} {state}>"

    async def unsubscribe(self) -> None:
        await self.client.unsubscribe(self.name)

    async def trigger(self, event_name: str, data: Any = None) -> None:
        """Send a client event (``client-`` prefix) to the channel's other subscribers."""
        raise ClientEventError(
            f"client events are only allowed on private and presence channels, not on "
            f"{self.kind.name.lower().replace('_', ' ')} channel {self.name!r}"
        )

    # -- called by the client --

    def _subscription_started(self) -> asyncio.Future:
        if self._subscribed_future is None or self._subscribed_future.done():
            self._subscribed_future = asyncio.get_running_loop().create_future()
        return self._subscribed_future

    def _subscription_succeeded(self, data: Any) -> None:
        self.subscribed = True
        if self._subscribed_future is not None and not self._subscribed_future.done():
            self._held = []
            self._subscribed_future.set_result(self)
        self.emit(Event("pusher:subscription_succeeded", self.name, data))

    def _release_held(self) -> None:
        """Deliver the events held while subscribe() was returning to its caller."""
        held, self._held = self._held, None
        for event in held or ():
            self.emit(event)
            self.client._events.emit(event)

    def _subscription_failed(self, error: Exception, data: Any = None) -> None:
        self.subscribed = False
        if self._subscribed_future is not None and not self._subscribed_future.done():
            self._subscribed_future.set_exception(error)
            self._subscribed_future.exception()  # retrieved: a later await still raises it
        self.emit(Event("pusher:subscription_error", self.name, data or {"error": str(error)}))

    def _disconnected(self) -> None:
        self.subscribed = False

    def _decode(self, event: Event) -> Event:
        """The event as handlers should see it (encrypted channels decrypt here)."""
        return event


class PrivateChannel(Channel):
    """A channel that needs a signature to join, and carries client events."""

    def __init__(self, name: str, client: Client) -> None:
        super().__init__(name, client)
        self._client_event_times: deque[float] = deque(maxlen=MAX_CLIENT_EVENTS_PER_SECOND)

    async def trigger(self, event_name: str, data: Any = None) -> None:
        """Send a client event after checking every rule the server would enforce."""
        validate_event_name(event_name)
        if not event_name.startswith("client-"):
            raise ClientEventError(
                f"client event names must start with 'client-'; got {event_name!r}"
            )
        if not self.subscribed:
            raise ClientEventError(
                f"channel {self.name!r} is not subscribed yet; client events need a "
                "successful subscription"
            )
        check_data_size(encode_data(data), self.client.max_event_data_bytes)
        now = time.monotonic()
        times = self._client_event_times
        if len(times) == times.maxlen and now - times[0] < 1.0:
            raise ClientEventError(
                f"client events are limited to {MAX_CLIENT_EVENTS_PER_SECOND} per second per "
                "connection; this one was not sent"
            )
        await self.client._send_client_event(self.name, event_name, data)
        times.append(now)


class EncryptedChannel(Channel):
    """``private-encrypted-``: events are opened with the channel's shared secret on arrival."""

    def __init__(self, name: str, client: Client) -> None:
        super().__init__(name, client)
        self.shared_secret: bytes | None = None

    async def trigger(self, event_name: str, data: Any = None) -> None:
        raise ClientEventError(
            f"client events are not allowed on encrypted channel {self.name!r}; trigger "
            "through the REST API, which encrypts"
        )


class Members(Mapping):
    """Presence members: a mapping of user_id to user_info, plus ``me`` and ``count``."""

    def __init__(self) -> None:
        self._members: dict[str, Any] = {}
        self.my_id: str | None = None

    def __getitem__(self, user_id: str) -> Any:
        return self._members[user_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"Members({self._members!r}, me={self.my_id!r})"

    @property
    def count(self) -> int:
        return len(self._members)

    @property
    def me(self) -> tuple[str, Any] | None:
        """``(user_id, user_info)`` of this connection's member, once subscribed."""
        if self.my_id is None or self.my_id not in self._members:
            return None
        return self.my_id, self._members[self.my_id]

    def _reset(self, members: dict[str, Any]) -> None:
        self._members = dict(members)

    def _add(self, user_id: str, user_info: Any) -> bool:
        is_new = user_id not in self._members
        self._members[user_id] = user_info
        return is_new

    def _remove(self, user_id: str) -> bool:
        return self._members.pop(user_id, _MISSING) is not _MISSING

    def _clear(self) -> None:
        self._members = {}


_MISSING = object()


class PresenceChannel(PrivateChannel):
    """``presence-``: who is subscribed, kept current from member_added / member_removed."""

    def __init__(self, name: str, client: Client) -> None:
        super().__init__(name, client)
        self.members = Members()

    def _subscription_succeeded(self, data: Any) -> None:
        members, _count = parse_presence(data)
        self.members._reset(members)
        super()._subscription_succeeded(data)

    def _member_added(self, user_id: str, user_info: Any) -> None:
        self.members._add(user_id, user_info)
        self.emit(
            Event("pusher:member_added", self.name, {"user_id": user_id, "user_info": user_info})
        )

    def _member_removed(self, user_id: str) -> None:
        if self.members._remove(user_id):
            self.emit(Event("pusher:member_removed", self.name, {"user_id": user_id}))

    def _disconnected(self) -> None:
        super()._disconnected()
        self.members._clear()


def channel_class(kind: ChannelKind) -> type[Channel]:
    if kind.is_presence:
        return PresenceChannel
    if kind.is_encrypted:
        return EncryptedChannel
    if kind.needs_auth:
        return PrivateChannel
    return Channel
