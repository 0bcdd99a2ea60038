"""The asyncio Pusher client: connection state machine, heartbeat, reconnect, subscriptions.

Everything runs as tasks on the caller's running loop (in a notebook, the kernel's own), so
handlers are called on that loop and the notebook stays responsive between events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Mapping
from typing import Any

import orjson

from .auth import LocalAuthorizer, call_authorizer, choose_authorizer, user_signin
from .channels import Channel, EncryptedChannel, EventEmitter, PresenceChannel, channel_class
from .connection import ClientStats, ConnectionSettings, State
from .crypto import decode_master_key, decode_shared_secret
from .errors import (
    AuthError,
    ConfigurationError,
    ConnectionRefused,
    NotConnected,
    SubscriptionError,
)
from .incoming import IncomingDispatcher
from .protocol import (
    DEFAULT_ACTIVITY_TIMEOUT,
    MAX_EVENT_DATA_BYTES,
    PONG_TIMEOUT,
    CloseAction,
    Event,
    channel_kind,
    close_action,
    encode_frame,
    validate_channel_name,
)
from .rest import RestMethods
from .tasks import TaskSet
from .transport import OPEN_ERRORS, Socket

log = logging.getLogger("pusher_nb")




class Client(RestMethods):
    """A Pusher Channels connection; ``async with Client(...) as client`` connects and closes."""

    def __init__(
        self,
        key: str,
        cluster: str | None = "mt1",
        host: str | None = None,
        port: int | None = None,
        tls: bool | None = None,
        app_id: str | None = None,
        secret: str | None = None,
        auth_endpoint: str | None = None,
        auth_headers: Mapping[str, str] | None = None,
        authorizer: Any = None,
        encryption_master_key_base64: str | None = None,
        user_data: Mapping[str, Any] | None = None,
        *,
        activity_timeout: float = DEFAULT_ACTIVITY_TIMEOUT,
        pong_timeout: float = PONG_TIMEOUT,
        connect_timeout: float = 15.0,
        subscribe_timeout: float = 15.0,
        max_backoff: float = 30.0,
        max_event_data_bytes: int = MAX_EVENT_DATA_BYTES,
    ) -> None:
        if not key or not isinstance(key, str):
            raise ConfigurationError("an app key is required")
        self.settings = ConnectionSettings.build(key, cluster, host, port, tls)
        self.key = key
        self.app_id = None if app_id is None else str(app_id)
        self._secret = secret
        self._master_key = (
            None
            if encryption_master_key_base64 is None
            else decode_master_key(encryption_master_key_base64)
        )
        self.user_data = dict(user_data) if user_data is not None else None
        if self.user_data is not None and self.user_data.get("user_id") in (None, ""):
            raise ConfigurationError("user_data needs a non-empty user_id")
        self._authorizer = choose_authorizer(
            authorizer, auth_endpoint, auth_headers, key, secret, self.user_data, self._master_key
        )
        self.activity_timeout = activity_timeout
        self.pong_timeout = pong_timeout
        self.connect_timeout = connect_timeout
        self.subscribe_timeout = subscribe_timeout
        self.max_backoff = max_backoff
        self.max_event_data_bytes = max_event_data_bytes

        self.state = State.INITIALIZED
        self.socket_id: str | None = None
        self.user: dict | None = None
        self.stats = ClientStats()
        self.connection = EventEmitter(self._report_error)
        self._events = EventEmitter(self._report_error)
        self._channels: dict[str, Channel] = {}
        self._dispatcher = IncomingDispatcher(self)
        self._ws: Socket | None = None
        self._dropped_by_heartbeat = False
        self._runner: asyncio.Task | None = None
        self._tasks = TaskSet(self._report_error)
        self._connected_event: asyncio.Event | None = None
        self._closing = False
        self._rest = None
        self._signin_future: asyncio.Future | None = None
        self._server_activity_timeout: float | None = None
        self.refusal: ConnectionRefused | None = None  # why the server refused us, if it did

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Client:
        """A client configured from PUSHER_* environment variables."""
        env = os.environ if environ is None else environ
        if not env.get("PUSHER_KEY"):
            raise ConfigurationError("PUSHER_KEY is not set in the environment")
        settings: dict[str, Any] = {
            "key": env["PUSHER_KEY"],
            "app_id": env.get("PUSHER_APP_ID"),
            "secret": env.get("PUSHER_SECRET"),
            "cluster": env.get("PUSHER_CLUSTER") or "mt1",
            "host": env.get("PUSHER_HOST"),
            "encryption_master_key_base64": env.get("PUSHER_ENCRYPTION_MASTER_KEY_BASE64"),
        }
        if env.get("PUSHER_PORT"):
            settings["port"] = int(env["PUSHER_PORT"])
        if env.get("PUSHER_TLS"):
            settings["tls"] = env["PUSHER_TLS"].lower() in ("1", "true", "yes")
        settings.update(overrides)
        return cls(**settings)

    def __repr__(self) -> str:
        return (
            f"<Client {self.server_url} key={self.key!r} state={self.state.value} "
            f"socket_id={self.socket_id!r} channels={sorted(self._channels)}>"
        )

    @property
    def server_url(self) -> str:
        """Where the socket goes (no secrets in it)."""
        return self.settings.ws_url(self.key)

    @property
    def subscriptions(self) -> dict[str, Channel]:
        """The channels this client has subscribed to (or is subscribing to), by name."""
        return dict(self._channels)

    def channel(self, name: str) -> Channel | None:
        return self._channels.get(name)

    # -- binding (events from every channel) --

    def bind(self, event_name: str, handler: Any) -> Any:
        """Call ``handler(event)`` for every event called ``event_name`` on any channel."""
        return self._events.bind(event_name, handler)

    def unbind(self, event_name: str | None = None, handler: Any = None) -> None:
        self._events.unbind(event_name, handler)

    def bind_global(self, handler: Any) -> Any:
        """Call ``handler(event)`` for every event on every channel."""
        return self._events.bind_global(handler)

    def unbind_global(self, handler: Any = None) -> None:
        self._events.unbind_global(handler)

    # -- lifecycle --

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def connect(self) -> Client:
        """Connect (and keep reconnecting in the background); returns once connected."""
        if self._runner is None or self._runner.done():
            self._closing = False
            self.refusal = None
            self._connected_event = asyncio.Event()
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name=f"pusher_nb connection {self.settings.host}"
            )
        waiter = asyncio.ensure_future(self._connected_event.wait())
        try:
            await asyncio.wait({waiter, self._runner}, timeout=self.connect_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self.state is State.CONNECTED:
            return self
        if self.refusal is not None:
            raise self.refusal
        error = self.stats.last_error or "no answer"
        await self.close()
        raise NotConnected(
            f"could not connect to {self.server_url} within {self.connect_timeout} s: {error}"
        )

    async def close(self) -> None:
        """Close the socket and stop reconnecting; channels stay bound for a later connect()."""
        self._closing = True
        socket = self._ws
        if socket is not None:
            await socket.close(1000, "client closed")
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        await asyncio.gather(*self._tasks.cancel_all(), return_exceptions=True)
        if self._rest is not None:
            await self._rest.close()
            self._rest = None
        if self.state not in (State.FAILED, State.INITIALIZED):
            self._set_state(State.DISCONNECTED)

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            self._set_state(State.CONNECTING)
            started = time.monotonic()
            try:
                socket = await Socket.open(self.server_url, self.connect_timeout)
            except OPEN_ERRORS as exc:
                self._note_error(f"cannot reach {self.settings.host}:{self.settings.port}: {exc!r}")
                self._set_state(State.UNAVAILABLE)
                attempt += 1
                await asyncio.sleep(self._backoff(attempt))
                continue
            self._ws = socket
            self._dropped_by_heartbeat = False
            try:
                code, reason = await self._session(socket)
            except Exception as exc:  # a bug must not end the connection for good: report, retry
                log.exception("connection task failed")
                self._note_error(f"internal error, reconnecting: {exc!r}")
                code, reason = None, "internal error"
            finally:
                self._ws = None
                self._on_disconnected()
                await socket.close()
            if self._closing:
                return
            action = close_action(code)
            log.debug("socket closed with %s %r: %s", code, reason, action.value)
            lasted = time.monotonic() - started
            attempt = 1 if lasted > 5 else attempt + 1
            if action is CloseAction.STOP:
                self.refusal = ConnectionRefused(code, reason)
                self._note_error(str(self.refusal))
                self._set_state(State.FAILED)
                return
            if action is CloseAction.REPORT:
                self._note_error(f"server closed the connection ({code}): {reason}")
                self._set_state(State.DISCONNECTED)
                return
            if not self._dropped_by_heartbeat:
                self._note_error(
                    f"connection closed ({code if code is not None else 'no close frame'}"
                    f"{': ' + reason if reason else ''}); reconnecting"
                )
            if action is CloseAction.RECONNECT_TLS:
                self.settings = self.settings.with_tls()
                delay = 0.0
            elif action is CloseAction.RECONNECT_NOW:
                delay = 0.0 if lasted > 1 else self._backoff(attempt)
            elif action is CloseAction.BACKOFF:
                delay = max(1.0, self._backoff(attempt))
            else:
                delay = self._backoff(attempt)
            self.stats.reconnects += 1
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: up to 1, 2, 4 ... seconds, capped."""
        ceiling = min(self.max_backoff, 2 ** max(0, attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def _session(self, socket: Socket) -> tuple[int | None, str]:
        """Serve one socket until it closes; returns the close code and reason."""
        heartbeat = self._spawn(self._heartbeat(socket), "heartbeat")
        try:
            return await socket.receive_all(self._dispatcher.receive)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, socket: Socket) -> None:
        """Ping after a quiet activity_timeout; drop the socket when no answer comes in time."""
        while True:
            timeout = min(self.activity_timeout, self._server_activity_timeout or self.activity_timeout)
            quiet = time.monotonic() - socket.last_received
            if quiet < timeout:
                await asyncio.sleep(timeout - quiet)
                continue
            pinged_at = time.monotonic()
            await socket.send(encode_frame("pusher:ping", {}))
            await asyncio.sleep(self.pong_timeout)
            if socket.last_received < pinged_at:
                self._note_error(f"no answer to a ping within {self.pong_timeout} s; reconnecting")
                self._dropped_by_heartbeat = True
                await socket.close(1000, "pong timeout")
                return

    # -- called by the dispatcher --

    def _connection_established(self, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("socket_id"), str):
            self._note_error("connection_established without a socket_id")
            return
        self.socket_id = data["socket_id"]
        server_timeout = data.get("activity_timeout")
        self._server_activity_timeout = (
            float(server_timeout) if isinstance(server_timeout, int | float) else None
        )
        self.stats.connection_epoch += 1
        self.stats.connected_at = time.time()
        self._set_state(State.CONNECTED)
        self._connected_event.set()
        for channel in list(self._channels.values()):
            self._spawn(self._send_subscription(channel), f"subscribe {channel.name}")

    def _on_disconnected(self) -> None:
        self.socket_id = None
        if self._connected_event is not None:
            self._connected_event.clear()
        for channel in self._channels.values():
            channel._disconnected()

    def _set_state(self, new: State) -> None:
        previous = self.state
        if new is previous:
            return
        self.state = new
        log.debug("state %s -> %s", previous.value, new.value)
        self.connection.emit(
            Event("state_change", None, {"previous": previous.value, "current": new.value})
        )
        self.connection.emit(Event(new.value, None, None))

    def _note_error(self, message: str, where: str = "connection") -> None:
        """Record an error where a user sees it: stats, the connection's error event, the log."""
        self.stats.last_error = message
        log.warning("%s: %s", where, message)
        self.connection.emit(Event("error", None, {"message": message, "where": where}))

    def _report_error(self, where: str, exc: BaseException) -> None:
        log.error("%s raised %r", where, exc, exc_info=exc)
        self.stats.last_error = f"{where}: {exc!r}"
        if where.startswith("handler") and "'error'" in where:
            return  # an error handler that fails must not loop
        self.connection.emit(
            Event("error", None, {"message": f"{exc!r}", "where": where})
        )

    def _spawn(self, coro: Any, what: str) -> asyncio.Task:
        return self._tasks.spawn(coro, f"pusher_nb {what}")

    # -- subscriptions --

    async def subscribe(self, channel_name: str) -> Channel:
        """Subscribe and wait for the server's answer; raises SubscriptionError when refused."""
        validate_channel_name(channel_name)
        channel_type = channel_class(channel_kind(channel_name))
        self._check_can_authorize(channel_name, channel_type)
        if self._runner is None or self._runner.done():
            raise NotConnected(
                f"the client is {self.state.value}: connect() first (or use `async with Client(...)`)"
            )
        channel = self._channels.get(channel_name)
        if channel is None:
            channel = channel_type(channel_name, self)
            self._channels[channel_name] = channel
        if channel.subscribed:
            return channel
        future = channel._subscription_started()
        if self.state is State.CONNECTED:
            await self._send_subscription(channel)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.subscribe_timeout)
        except SubscriptionError:
            self._channels.pop(channel_name, None)
            raise
        except TimeoutError:
            self._channels.pop(channel_name, None)
            raise SubscriptionError(
                channel_name, f"no answer from the server within {self.subscribe_timeout} s"
            ) from None
        finally:
            # runs after the caller's own code up to its next await: handlers it binds
            # right after subscribe() see every event from the first one on
            asyncio.get_running_loop().call_soon(channel._release_held)

    async def unsubscribe(self, channel_name: str) -> None:
        channel = self._channels.pop(channel_name, None)
        if channel is None:
            return
        channel._disconnected()
        if self.state is State.CONNECTED and self._ws is not None:
            await self._send(encode_frame("pusher:unsubscribe", {"channel": channel_name}))

    def _check_can_authorize(self, channel_name: str, channel_type: type[Channel]) -> None:
        """Raise before anything is sent when a channel cannot possibly be authorized."""
        if channel_type is Channel:
            return
        if self._authorizer is None:
            raise ConfigurationError(
                f"{channel_name!r} needs authorization: pass secret=, auth_endpoint= or "
                "authorizer= to the Client"
            )
        if isinstance(self._authorizer, LocalAuthorizer):
            if channel_type is PresenceChannel and self.user_data is None:
                raise ConfigurationError(
                    f"presence channel {channel_name!r} needs user_data={{'user_id': ...}}"
                )
            if channel_type is EncryptedChannel and self._master_key is None:
                raise ConfigurationError(
                    f"encrypted channel {channel_name!r} needs encryption_master_key_base64"
                )

    async def _send_subscription(self, channel: Channel) -> None:
        socket_id = self.socket_id
        payload: dict[str, Any] = {"channel": channel.name}
        if channel.kind.needs_auth:
            try:
                answer = await self._authorize(socket_id, channel)
            except (AuthError, ConfigurationError) as exc:
                channel._subscription_failed(SubscriptionError(channel.name, str(exc)))
                self._note_error(str(exc), where=f"authorizing {channel.name}")
                return
            if socket_id != self.socket_id:
                return  # reconnected meanwhile; the new connection subscribes again
            payload["auth"] = answer["auth"]
            if "channel_data" in answer:
                payload["channel_data"] = answer["channel_data"]
        await self._send(encode_frame("pusher:subscribe", payload))

    async def _authorize(self, socket_id: str | None, channel: Channel) -> Mapping[str, Any]:
        answer = await call_authorizer(self._authorizer, socket_id, channel.name)
        if isinstance(channel, EncryptedChannel):
            channel.shared_secret = decode_shared_secret(answer["shared_secret"])
        if isinstance(channel, PresenceChannel):
            channel.members.my_id = _presence_user_id(answer.get("channel_data"))
        return answer

    # -- sending --

    async def _send(self, frame: str) -> None:
        ws = self._ws
        if ws is None or self.state is not State.CONNECTED:
            raise NotConnected(f"not connected (state {self.state.value})")
        await ws.send(frame)

    async def _send_raw(self, frame: str) -> None:
        """Send on the current socket whatever the state (protocol replies such as pong)."""
        if self._ws is not None:
            await self._ws.send(frame)

    async def _send_client_event(self, channel: str, event_name: str, data: Any) -> None:
        await self._send(encode_frame(event_name, data, channel))

    async def signin(self, user_data: Mapping[str, Any] | None = None) -> dict:
        """Sign the connection in as a user (``pusher:signin``); returns the server's user_data."""
        if self._secret is None:
            raise ConfigurationError("signin needs the app secret to sign user data")
        if user_data is None:
            if self.user_data is None:
                raise ConfigurationError("signin needs user_data={'id': ...}")
            user_data = {"id": str(self.user_data["user_id"])}
            if self.user_data.get("user_info") is not None:
                user_data["user_info"] = self.user_data["user_info"]
        payload = user_signin(self.key, self._secret, self.socket_id or "", user_data)
        self._signin_future = asyncio.get_running_loop().create_future()
        await self._send(encode_frame("pusher:signin", payload))
        self.user = await asyncio.wait_for(self._signin_future, self.subscribe_timeout)
        return self.user


def _presence_user_id(channel_data: Any) -> str | None:
    try:
        return str(orjson.loads(channel_data)["user_id"])
    except (TypeError, KeyError, ValueError):
        return None
