"""One app's live state: its connections, channels, presence members and cached events.

Every delivery, whatever its source (REST, an in-process trigger, a feed, a client event),
ends in :meth:`AppState.deliver`: the frame is encoded once and queued for each subscriber,
and each socket's queue is written with one call at the end of the loop's pass; a subscriber
whose write buffer is over the limit is closed instead of waited for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from .. import crypto
from ..errors import ConfigurationError
from ..protocol import channel_kind
from .apps import App
from .frames import event_frame, message

if TYPE_CHECKING:
    from .connection import Connection

logger = logging.getLogger("pusher_nb.server")

CACHE_TTL = 30 * 60.0  # seconds a cache channel keeps its last event
SLOW_CONSUMER_CODE = 4100


class Member:
    """A presence member: one user_id, however many sockets (or virtual bots) it joined with."""

    __slots__ = ("user_id", "info", "sockets")

    def __init__(self, user_id: str, info: Any) -> None:
        self.user_id = user_id
        self.info = info
        self.sockets: set[object] = set()


class Channel:
    """A channel with at least one subscriber, member or cached event."""

    __slots__ = ("name", "kind", "subscribers", "members", "cached", "count_sent")

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind = channel_kind(name)
        self.subscribers: dict[Connection, None] = {}
        self.members: dict[str, Member] = {}
        self.cached: tuple[str, Any, float] | None = None  # event, data, monotonic expiry
        self.count_sent = 0

    def cache_entry(self) -> tuple[str, Any] | None:
        if self.cached is None:
            return None
        if self.cached[2] < time.monotonic():
            self.cached = None
            return None
        return self.cached[0], self.cached[1]

    def presence_data(self) -> str:
        members = self.members
        return orjson.dumps(
            {
                "presence": {
                    "ids": list(members),
                    "hash": {user_id: member.info for user_id, member in members.items()},
                    "count": len(members),
                }
            }
        ).decode()

    @property
    def idle(self) -> bool:
        return not self.subscribers and not self.members and self.cache_entry() is None


class AppState:
    """Connections and channels of one app on one server."""

    def __init__(
        self,
        app: App,
        *,
        max_write_buffer: int,
        subscription_count_interval: float,
    ) -> None:
        self.app = app
        self.max_write_buffer = max_write_buffer
        self.subscription_count_interval = subscription_count_interval
        self.connections: dict[str, Connection] = {}
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, set[Connection]] = {}
        self._counts_dirty: set[str] = set()
        self._counts_timer: asyncio.TimerHandle | None = None
        self._dirty: list[Connection] = []
        self._flush_handle: asyncio.Handle | None = None

    def __repr__(self) -> str:
        return f"AppState({self.app!r}, connections={len(self.connections)})"

    # --- delivery -------------------------------------------------------------------------

    def deliver(self, channel: Channel, frame: bytes, exclude: Connection | None = None) -> int:
        """Queue ``frame`` for every subscriber of ``channel`` but ``exclude``; return how many.

        Frames queued during one pass of the event loop go out as one write per socket at the
        end of it (:meth:`flush`): a batch of events costs one system call per subscriber.
        """
        dirty = self._dirty
        sent = 0
        for conn in channel.subscribers:
            if conn is exclude:
                continue
            pending = conn.pending
            if pending is None:
                conn.pending = [frame]
                dirty.append(conn)
            else:
                pending.append(frame)
            sent += 1
        if sent and self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)
        return sent

    def queue(self, conn: Connection, frame: bytes) -> None:
        """Queue one frame for one socket, behind what is already queued for it."""
        pending = conn.pending
        if pending is None:
            conn.pending = [frame]
            self._dirty.append(conn)
            if self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)
        else:
            pending.append(frame)

    def flush(self) -> None:
        """Write each socket's queued frames at once; close sockets that stopped reading."""
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        limit = self.max_write_buffer
        for conn in dirty:
            pending = conn.pending
            if pending is None:
                continue
            conn.pending = None
            transport = conn.transport
            if conn.closed or transport.is_closing():
                continue  # the peer is gone; its handler has not forgotten it yet
            if transport.get_write_buffer_size() > limit:
                conn.close(SLOW_CONSUMER_CODE, "Slow consumer: the socket's write buffer is full")
                continue
            transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def publish(
        self, channel_name: str, event: str, data: Any, socket_id: str | None = None
    ) -> int:
        """Deliver a server-side event (REST, in-process trigger, feed) and cache it if asked."""
        channel = self.channels.get(channel_name)
        if channel is None:
            if not channel_kind(channel_name).is_cache:
                return 0
            channel = self.channels[channel_name] = Channel(channel_name)
        if channel.kind.is_cache:
            channel.cached = (event, data, time.monotonic() + CACHE_TTL)
        if not channel.subscribers:
            return 0
        exclude = self.connections.get(socket_id) if socket_id else None
        return self.deliver(channel, event_frame(event, channel_name, data), exclude)

    def encrypt_for(self, channel_name: str, data: str) -> str:
        """Encrypt server-side data for an encrypted channel with the app's master key."""
        master_key = self.app.master_key
        if master_key is None:
            raise ConfigurationError(
                f"app {self.app.app_id!r} has no encryption master key for {channel_name!r}"
            )
        return crypto.encrypt(crypto.shared_secret(channel_name, master_key), data)

    # --- subscriptions --------------------------------------------------------------------

    def subscribe(self, conn: Connection, name: str, member: tuple[str, Any] | None) -> None:
        """Add ``conn`` to ``name`` and tell it (and, for presence, the others) so."""
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = Channel(name)
        channel.subscribers[conn] = None
        conn.channels.add(name)
        if member is None:
            conn.send(message("pusher_internal:subscription_succeeded", "{}", name))
            self._count_changed(channel)
        else:
            user_id, info = member
            conn.presence[name] = user_id
            self._add_member(channel, user_id, info, conn, notify_exclude=conn)
            conn.send(
                message("pusher_internal:subscription_succeeded", channel.presence_data(), name)
            )
        if channel.kind.is_cache:
            cached = channel.cache_entry()
            if cached is None:
                conn.send(message("pusher:cache_miss", channel=name))
            else:
                conn.send(message(cached[0], cached[1], name))

    def resubscribed(self, conn: Connection, name: str) -> None:
        """A repeated subscribe: confirm it again without announcing anything to others."""
        channel = self.channels[name]
        data = channel.presence_data() if name in conn.presence else "{}"
        conn.send(message("pusher_internal:subscription_succeeded", data, name))

    def unsubscribe(self, conn: Connection, name: str) -> None:
        channel = self.channels.get(name)
        conn.channels.discard(name)
        if channel is None or conn not in channel.subscribers:
            return
        del channel.subscribers[conn]
        user_id = conn.presence.pop(name, None)
        if user_id is not None:
            self._remove_member(channel, user_id, conn)
        else:
            self._count_changed(channel)
        self._drop_if_idle(channel)

    def drop_idle_channels(self) -> None:
        """Forget channels left with nothing but an expired cached event."""
        for channel in [c for c in self.channels.values() if c.idle]:
            self._drop_if_idle(channel)

    def _drop_if_idle(self, channel: Channel) -> None:
        # a nested close (a slow consumer dropped while we announced) may have dropped it already
        if channel.idle and self.channels.get(channel.name) is channel:
            del self.channels[channel.name]

    def member_count(self, name: str) -> int:
        channel = self.channels.get(name)
        return 0 if channel is None else len(channel.members)

    def _add_member(
        self, channel: Channel, user_id: str, info: Any, token: object, notify_exclude=None
    ) -> None:
        member = channel.members.get(user_id)
        if member is None:
            member = channel.members[user_id] = Member(user_id, info)
            added = orjson.dumps({"user_id": user_id, "user_info": info}).decode()
            self.deliver(
                channel,
                event_frame("pusher_internal:member_added", channel.name, added),
                notify_exclude,
            )
        member.sockets.add(token)

    def _remove_member(self, channel: Channel, user_id: str, token: object) -> None:
        member = channel.members.get(user_id)
        if member is None:
            return
        member.sockets.discard(token)
        if member.sockets:
            return
        del channel.members[user_id]
        removed = orjson.dumps({"user_id": user_id}).decode()
        self.deliver(channel, event_frame("pusher_internal:member_removed", channel.name, removed))

    # --- virtual members (demo bots) ------------------------------------------------------

    def join_virtual(self, name: str, user_id: str, info: Any) -> None:
        """A member with no socket: counted, listed and announced like any other."""
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = Channel(name)
        self._add_member(channel, user_id, info, ("virtual", user_id))

    def leave_virtual(self, name: str, user_id: str) -> None:
        channel = self.channels.get(name)
        if channel is not None:
            self._remove_member(channel, user_id, ("virtual", user_id))
            self._drop_if_idle(channel)

    def client_event_from(self, name: str, event: str, data: Any, user_id: str) -> int:
        """Deliver a client event on behalf of a virtual member (it has no socket to exclude)."""
        channel = self.channels.get(name)
        if channel is None or not channel.subscribers:
            return 0
        return self.deliver(channel, event_frame(event, name, data, user_id))

    # --- connections ----------------------------------------------------------------------

    def add_connection(self, conn: Connection) -> None:
        self.connections[conn.socket_id] = conn

    def forget(self, conn: Connection) -> None:
        """Drop every trace of a closed connection, announcing departures (idempotent)."""
        for name in list(conn.channels):
            self.unsubscribe(conn, name)
        self.connections.pop(conn.socket_id, None)
        if conn.user_id is not None:
            sockets = self.users.get(conn.user_id)
            if sockets is not None:
                sockets.discard(conn)
                if not sockets:
                    del self.users[conn.user_id]

    def sign_in(self, conn: Connection, user_id: str) -> None:
        if conn.user_id is not None and conn.user_id != user_id:
            sockets = self.users.get(conn.user_id)
            if sockets:
                sockets.discard(conn)
                if not sockets:
                    del self.users[conn.user_id]
        conn.user_id = user_id
        self.users.setdefault(user_id, set()).add(conn)

    # --- subscription counts --------------------------------------------------------------

    def _count_changed(self, channel: Channel) -> None:
        if not self.app.enable_subscription_count:
            return
        self._counts_dirty.add(channel.name)
        if self._counts_timer is None:
            loop = asyncio.get_running_loop()
            self._counts_timer = loop.call_later(
                self.subscription_count_interval, self._flush_counts
            )

    def _flush_counts(self) -> None:
        """Send ``pusher_internal:subscription_count`` where it changed, at most once a tick."""
        self._counts_timer = None
        dirty, self._counts_dirty = self._counts_dirty, set()
        for name in dirty:
            channel = self.channels.get(name)
            if channel is None or not channel.subscribers:
                continue
            count = len(channel.subscribers)
            if count == channel.count_sent:
                continue
            channel.count_sent = count
            data = orjson.dumps({"subscription_count": count}).decode()
            self.deliver(channel, event_frame("pusher_internal:subscription_count", name, data))

    def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self.flush()
        if self._counts_timer is not None:
            self._counts_timer.cancel()
            self._counts_timer = None
