"""One websocket connection: the handshake, the protocol-7 messages it sends, and how it ends.

Handling a message never awaits, so a connection's replies and the events fanned out to it
reach the socket in the order they happened; closing is the only thing done in a task.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from ..auth import verify_channel_auth, verify_user_signin
from ..errors import InvalidChannelName, PayloadTooLarge
from ..protocol import (
    MAX_CLIENT_EVENTS_PER_SECOND,
    MAX_EVENT_NAME_LENGTH,
    MAX_USER_ID_LENGTH,
    channel_kind,
    check_data_size,
    decode_data,
    validate_channel_name,
)
from .channels import AppState
from .frames import event_frame, message, text_frame

if TYPE_CHECKING:
    from .server import LocalServer

logger = logging.getLogger("pusher_nb.server")

SUPPORTED_PROTOCOLS = frozenset({5, 6, 7})
USER_CHANNEL_PREFIX = "#server-to-user-"


def new_socket_id(taken: dict[str, Any]) -> str:
    while True:
        socket_id = f"{random.randrange(1, 10**9)}.{random.randrange(1, 10**9)}"
        if socket_id not in taken:
            return socket_id


def protocol_refusal(version: str | None) -> tuple[int, str] | None:
    """The close code and reason for an unusable ``protocol`` query parameter, else None."""
    if version is None:
        return 4008, "No protocol version supplied; connect with ?protocol=7"
    if not version.isdigit():
        return 4006, f"Invalid protocol version {version[:20]!r}; connect with ?protocol=7"
    if int(version) not in SUPPORTED_PROTOCOLS:
        return 4007, f"Unsupported protocol version {version}; this server speaks 5 to 7"
    return None


class Connection:
    """The server side of one client socket."""

    __slots__ = (
        "server",
        "state",
        "ws",
        "transport",
        "socket_id",
        "channels",
        "presence",
        "user_id",
        "closed",
        "last_seen",
        "pinged",
        "closing",
        "pending",
        "_tokens",
        "_stamp",
    )

    def __init__(
        self, server: LocalServer, state: AppState, ws: web.WebSocketResponse, transport, socket_id
    ) -> None:
        self.server = server
        self.state = state
        self.ws = ws
        self.transport = transport
        self.socket_id = socket_id
        self.channels: set[str] = set()
        self.presence: dict[str, str] = {}  # presence channel -> this socket's user_id there
        self.user_id: str | None = None  # set by pusher:signin
        self.closed = False
        self.last_seen = time.monotonic()
        self.pinged = False
        self.closing: asyncio.Task | None = None
        self.pending: list[bytes] | None = None  # frames queued in this pass of the loop
        self._tokens = float(MAX_CLIENT_EVENTS_PER_SECOND)
        self._stamp = self.last_seen

    def __repr__(self) -> str:
        return f"Connection(socket_id={self.socket_id!r}, app_id={self.state.app.app_id!r})"

    # --- sending --------------------------------------------------------------------------

    def send(self, payload: bytes) -> None:
        if not self.closed:
            self.state.queue(self, text_frame(payload))

    def write_pending(self) -> None:
        """Write what is queued for this socket now (before a close frame overtakes it)."""
        pending, self.pending = self.pending, None
        if pending and not self.transport.is_closing():
            self.transport.write(b"".join(pending))

    def error(self, text: str, code: int | None = None, channel: str | None = None) -> None:
        self.send(message("pusher:error", {"message": text, "code": code}, channel))

    def refuse(self, channel: Any, kind: str, text: str, status: int) -> None:
        """A refused subscription, told both ways: soketi's subscription_error and pusher:error."""
        name = channel if isinstance(channel, str) else None
        self.send(
            message(
                "pusher:subscription_error", {"type": kind, "error": text, "status": status}, name
            )
        )
        self.error(text, None, name)

    # --- receiving ------------------------------------------------------------------------

    def receive(self, text: str) -> None:
        """Handle one text frame from the client."""
        now = time.monotonic()
        self.last_seen = now
        self.pinged = False
        if len(text) > self.server.max_frame_chars:
            self.error(
                f"Frame of {len(text)} characters refused; the limit is "
                f"{self.server.max_frame_chars}"
            )
            return
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            self.error("Frame is not JSON")
            return
        if type(msg) is not dict:
            self.error(f"Frame is a JSON {type(msg).__name__}, not an object")
            return
        event = msg.get("event")
        if type(event) is not str or not event:
            self.error("Frame has no event name")
            return
        handler = _HANDLERS.get(event)
        if handler is not None:
            handler(self, msg)
        elif event.startswith("client-"):
            self._client_event(msg, event, now)
        else:
            self.error(f"Unknown event {event[:100]!r}")

    def _ping(self, msg: dict) -> None:
        self.send(b'{"event":"pusher:pong","data":{}}')

    def _pong(self, msg: dict) -> None:
        pass  # receive() already noted the activity

    def _subscribe(self, msg: dict) -> None:
        data = decode_data(msg.get("data"))
        if type(data) is not dict:
            self.error("pusher:subscribe needs data with a channel")
            return
        name = data.get("channel")
        try:
            if isinstance(name, str) and name.startswith(USER_CHANNEL_PREFIX):
                self._subscribe_user_channel(name)
                return
            validate_channel_name(name)
        except InvalidChannelName as exc:
            self.refuse(name, "InvalidChannel", str(exc), 400)
            return
        state = self.state
        if name in self.channels:
            state.resubscribed(self, name)
            return
        kind = channel_kind(name)
        member = None
        if kind.needs_auth:
            channel_data = data.get("channel_data") if kind.is_presence else None
            if kind.is_presence and not isinstance(channel_data, str):
                self.refuse(name, "AuthError", f"Presence channel {name} needs channel_data", 401)
                return
            app = state.app
            if not verify_channel_auth(
                app.key, app.secret, self.socket_id, name, data.get("auth"), channel_data
            ):
                signed = (
                    "SOCKET_ID:CHANNEL:CHANNEL_DATA" if kind.is_presence else "SOCKET_ID:CHANNEL"
                )
                self.refuse(
                    name,
                    "AuthError",
                    f"Invalid signature for {name}: expected KEY:HMAC-SHA256 hex of {signed} "
                    f"for socket {self.socket_id}",
                    401,
                )
                return
            if kind.is_presence:
                member = self._presence_member(name, channel_data)
                if member is None:
                    return
        state.subscribe(self, name, member)

    def _presence_member(self, name: str, channel_data: str) -> tuple[str, Any] | None:
        try:
            parsed = orjson.loads(channel_data)
        except orjson.JSONDecodeError:
            parsed = None
        user_id = parsed.get("user_id") if type(parsed) is dict else None
        if type(user_id) not in (str, int) or user_id == "":
            self.refuse(name, "InvalidChannelData", "channel_data needs a user_id", 400)
            return None
        user_id = str(user_id)
        if len(user_id) > MAX_USER_ID_LENGTH:
            self.refuse(
                name,
                "LimitReached",
                f"user_id is {len(user_id)} characters; the limit is {MAX_USER_ID_LENGTH}",
                400,
            )
            return None
        info = parsed.get("user_info")
        app = self.state.app
        size = len(orjson.dumps(info))
        if size > app.max_presence_member_bytes:
            self.refuse(
                name,
                "LimitReached",
                f"user_info is {size} bytes; the limit is {app.max_presence_member_bytes}",
                4301,
            )
            return None
        channel = self.state.channels.get(name)
        if (
            channel is not None
            and user_id not in channel.members
            and len(channel.members) >= app.max_presence_members
        ):
            self.refuse(
                name,
                "LimitReached",
                f"Presence channel {name} is full ({app.max_presence_members} members)",
                4100,
            )
            return None
        return user_id, info

    def _subscribe_user_channel(self, name: str) -> None:
        if self.user_id is None or name != USER_CHANNEL_PREFIX + self.user_id:
            self.refuse(name, "AuthError", f"{name} is only for the signed-in user it names", 403)
            return
        if name in self.channels:
            self.state.resubscribed(self, name)
        else:
            self.state.subscribe(self, name, None)

    def _unsubscribe(self, msg: dict) -> None:
        data = decode_data(msg.get("data"))
        name = data.get("channel") if type(data) is dict else None
        if not isinstance(name, str):
            self.error("pusher:unsubscribe needs data with a channel")
            return
        self.state.unsubscribe(self, name)

    def _signin(self, msg: dict) -> None:
        data = decode_data(msg.get("data"))
        if type(data) is not dict:
            self.error("pusher:signin needs data with auth and user_data", 4009)
            return
        app = self.state.app
        user_data = data.get("user_data")
        if not verify_user_signin(app.key, app.secret, self.socket_id, data.get("auth"), user_data):
            self.close(4009, "Sign-in refused: invalid signature for SOCKET_ID::user::USER_DATA")
            return
        try:
            user = orjson.loads(user_data)
        except orjson.JSONDecodeError:
            user = None
        user_id = user.get("id") if type(user) is dict else None
        if type(user_id) not in (str, int) or user_id == "":
            self.close(4009, "Sign-in refused: user_data needs an id")
            return
        self.state.sign_in(self, str(user_id))
        self.send(message("pusher:signin_success", {"user_data": user_data}))

    def _client_event(self, msg: dict, event: str, now: float) -> None:
        channel = msg.get("channel")
        app = self.state.app
        name = channel if isinstance(channel, str) else None
        if not app.enable_client_messages:
            self.error("Client events are not enabled for this app", 4301, name)
            return
        if len(event) > MAX_EVENT_NAME_LENGTH:
            self.error(f"Event name is longer than {MAX_EVENT_NAME_LENGTH} characters", 4301, name)
            return
        if name is None or name not in self.channels:
            self.error(f"Client event {event} refused: not subscribed to {name}", 4301, name)
            return
        if not channel_kind(name).allows_client_events:
            self.error(
                f"Client event {event} refused: client events travel only on private and "
                f"presence channels, not on {name}",
                4301,
                name,
            )
            return
        data = msg.get("data")
        try:
            check_data_size(
                data if isinstance(data, str) else orjson.dumps(data).decode(),
                app.max_event_payload_bytes,
            )
        except PayloadTooLarge as exc:
            self.error(f"Client event {event} refused: {exc}", 4301, name)
            return
        tokens = min(
            float(MAX_CLIENT_EVENTS_PER_SECOND),
            self._tokens + (now - self._stamp) * MAX_CLIENT_EVENTS_PER_SECOND,
        )
        self._stamp = now
        if tokens < 1.0:
            self.close(
                4301,
                f"Client event rate limit exceeded ({MAX_CLIENT_EVENTS_PER_SECOND} per second)",
            )
            return
        self._tokens = tokens - 1.0
        channel_state = self.state.channels[name]
        self.state.deliver(
            channel_state, event_frame(event, name, data, self.presence.get(name)), self
        )

    # --- closing --------------------------------------------------------------------------

    def close(self, code: int, reason: str, *, notify: bool = True) -> None:
        """Leave every channel now and close the socket with ``code`` in the background."""
        if self.closed:
            return
        if notify:
            self.error(reason, code)
        self.write_pending()
        self.closed = True
        self.state.forget(self)
        logger.debug("closing socket %s with %d: %s", self.socket_id, code, reason)
        self.closing = self.server.spawn(self._close_socket(code, reason))

    async def _close_socket(self, code: int, reason: str) -> None:
        transport = self.transport
        try:
            await asyncio.wait_for(
                self.ws.close(code=code, message=reason.encode()[:123], drain=False),
                self.server.close_timeout * 2,
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        finally:
            if transport.get_write_buffer_size():
                transport.abort()  # a peer that reads nothing would keep the socket forever


_HANDLERS = {
    "pusher:ping": Connection._ping,
    "pusher:pong": Connection._pong,
    "pusher:subscribe": Connection._subscribe,
    "pusher:unsubscribe": Connection._unsubscribe,
    "pusher:signin": Connection._signin,
}


async def websocket_handler(server: LocalServer, request: web.Request) -> web.StreamResponse:
    """The ``/app/KEY`` endpoint: refuse with a close code, or serve one connection."""
    ws = web.WebSocketResponse(
        compress=False,
        max_msg_size=server.max_msg_size,
        timeout=server.close_timeout,
        autoping=True,
    )
    await ws.prepare(request)
    key = request.match_info["key"]
    state = server.states_by_key.get(key)
    refusal = None
    if server.closing:
        refusal = 4200, "Server is shutting down; reconnect shortly"
    elif state is None:
        refusal = 4001, f"App key {key[:60]} does not exist"
    elif not state.app.enabled:
        refusal = 4003, f"App {state.app.app_id} is disabled"
    else:
        refusal = protocol_refusal(request.query.get("protocol"))
        limit = state.app.max_connections
        if refusal is None and limit is not None and len(state.connections) >= limit:
            refusal = 4004, f"Over connection quota ({limit} connections)"
    if refusal is not None:
        code, reason = refusal
        await ws.send_str(message("pusher:error", {"message": reason, "code": code}).decode())
        await ws.close(code=code, message=reason.encode()[:123])
        return ws

    transport = request.transport
    conn = Connection(server, state, ws, transport, new_socket_id(state.connections))
    state.add_connection(conn)
    established = orjson.dumps(
        {"socket_id": conn.socket_id, "activity_timeout": max(1, round(server.activity_timeout))}
    ).decode()
    conn.send(message("pusher:connection_established", established))
    logger.debug("socket %s connected to app %s", conn.socket_id, state.app.app_id)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                text = msg.data
            elif msg.type is WSMsgType.BINARY:
                try:
                    text = msg.data.decode()
                except UnicodeDecodeError:
                    conn.error("Binary frame is not UTF-8 text")
                    continue
            else:
                continue
            try:
                conn.receive(text)
            except Exception:  # a bug for one message must not end the server for anyone
                logger.exception("error handling a message from socket %s", conn.socket_id)
                conn.error("Internal server error handling this message")
    finally:
        if not conn.closed:
            conn.closed = True
            state.forget(conn)
        logger.debug("socket %s disconnected", conn.socket_id)
    if conn.closing is not None:
        await asyncio.shield(conn.closing)
    return ws
