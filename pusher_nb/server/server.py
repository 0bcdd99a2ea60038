"""LocalServer: a Pusher-protocol-7 server (websocket and REST on one port) on the running loop."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from ..errors import ConfigurationError
from ..protocol import DEFAULT_ACTIVITY_TIMEOUT, PONG_TIMEOUT, encode_data
from ..tasks import TaskSet
from .apps import App, make_apps
from .channels import AppState
from .connection import websocket_handler
from .rest import json_errors, routes

logger = logging.getLogger("pusher_nb.server")

DEFAULT_MAX_WRITE_BUFFER = 4 * 1024 * 1024  # bytes queued for one socket before it is dropped


class LocalServer:
    """A Pusher-compatible server for notebooks, demos and tests: no account, no internet.

    Start it with ``await LocalServer.start(...)`` (or ``async with LocalServer.start(...)``);
    it serves ``/app/KEY`` (websocket) and ``/apps/ID/...`` (REST) on one port, as soketi does.

    Options: ``activity_timeout`` (seconds announced to clients; a socket quiet for that plus
    ``pong_timeout`` is pinged, and closed with 4201 if still quiet), ``max_write_buffer``
    (bytes a socket may have unsent before it is dropped as a slow consumer with 4100),
    ``subscription_count_interval`` (how often changed subscription counts are announced) and
    ``close_timeout`` (seconds to wait for a peer's close handshake).
    """

    def __init__(
        self,
        apps: Iterable[App | Mapping[str, Any]] | App | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        activity_timeout: float = DEFAULT_ACTIVITY_TIMEOUT,
        max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER,
        subscription_count_interval: float = 0.05,
        close_timeout: float = 3.0,
        pong_timeout: float = PONG_TIMEOUT,
    ) -> None:
        self.apps = make_apps(apps)
        self.bind_host = host
        self.host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
        self.port = port
        self.activity_timeout = activity_timeout
        self.close_timeout = close_timeout
        self.pong_timeout = pong_timeout
        self.states = [
            AppState(
                app,
                max_write_buffer=max_write_buffer,
                subscription_count_interval=subscription_count_interval,
            )
            for app in self.apps
        ]
        self.states_by_key = {state.app.key: state for state in self.states}
        self.states_by_id = {state.app.app_id: state for state in self.states}
        largest = max(app.max_event_payload_bytes for app in self.apps)
        self.max_frame_chars = 2 * largest + 8192
        self.max_msg_size = max(1024 * 1024, 4 * self.max_frame_chars)
        self.closing = False
        self.feeds: dict[str, asyncio.Task] = {}
        self._tasks = TaskSet(_log_task_failure)
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task | None = None
        self._stopped: asyncio.Event | None = None

    def __repr__(self) -> str:
        state = "stopped" if self._runner is None else f"{self.host}:{self.port}"
        return f"LocalServer({state}, apps={[app.app_id for app in self.apps]!r})"

    # --- the default app ------------------------------------------------------------------

    @property
    def app(self) -> App:
        return self.apps[0]

    @property
    def app_id(self) -> str:
        return self.apps[0].app_id

    @property
    def key(self) -> str:
        return self.apps[0].key

    @property
    def secret(self) -> str:
        return self.apps[0].secret

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- life cycle -----------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        port: int = 0,
        host: str = "127.0.0.1",
        feeds: Iterable[str] | Mapping[str, Mapping[str, Any]] | str | None = ("crypto",),
        apps: Iterable[App | Mapping[str, Any]] | App | None = None,
        **options: Any,
    ) -> _Starting:
        """Listen on ``host:port`` (0 picks a free port) and run ``feeds`` on the default app."""
        return _Starting(cls(apps, host=host, port=port, **options), feeds)

    async def _start(self, feeds: Any = ()) -> LocalServer:
        feed_plan = _feed_plan(feeds)  # unknown feed names fail before anything listens
        app = web.Application(middlewares=[json_errors], client_max_size=self.max_msg_size)
        app.router.add_get("/app/{key}", functools.partial(websocket_handler, self))
        app.router.add_get("/", _ok)
        app.router.add_get("/ready", _ok)
        app.router.add_routes(routes(self))
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=self.close_timeout
        )
        await runner.setup()
        site = web.TCPSite(runner, self.bind_host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        self._stopped = asyncio.Event()
        self._sweeper = self.spawn(self._sweep())
        for name, options in feed_plan.items():
            self.start_feed(name, **options)
        logger.info("local Pusher server listening on %s:%d", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Close every socket with 4200 and stop the feeds; calling it again does nothing."""
        if self._runner is None or self.closing:
            if self._stopped is not None:
                await self._stopped.wait()
            return
        self.closing = True
        for task in self.feeds.values():
            task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for state in self.states:
            for conn in list(state.connections.values()):
                conn.close(4200, "Server is shutting down; reconnect shortly")
            state.close()
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=self.close_timeout * 3)
        runner, self._runner = self._runner, None
        await runner.cleanup()
        self.feeds.clear()
        assert self._stopped is not None
        self._stopped.set()
        logger.info("local Pusher server on port %d stopped", self.port)

    async def __aenter__(self) -> LocalServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def spawn(self, coro, name: str = "pusher_nb server task") -> asyncio.Task:
        """Run ``coro`` as a task the server keeps a strong reference to until it ends."""
        return self._tasks.spawn(coro, name)

    async def _sweep(self) -> None:
        """Ping sockets that went quiet, and drop the ones that stay quiet (4201)."""
        quiet = self.activity_timeout + self.pong_timeout
        interval = max(0.1, min(10.0, self.activity_timeout / 4, self.pong_timeout / 4))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for state in self.states:
                for conn in list(state.connections.values()):
                    idle = now - conn.last_seen
                    if idle > quiet + self.pong_timeout:
                        conn.close(4201, "Pong reply not received")
                    elif idle > quiet and not conn.pinged:
                        conn.pinged = True
                        conn.send(b'{"event":"pusher:ping","data":{}}')
                state.drop_idle_channels()

    # --- publishing -----------------------------------------------------------------------

    def state_for(self, app_id: str | None = None) -> AppState:
        if app_id is None:
            return self.states[0]
        try:
            return self.states_by_id[app_id]
        except KeyError:
            raise ConfigurationError(f"this server has no app {app_id!r}") from None

    async def trigger(
        self,
        channels: str | Iterable[str],
        event: str,
        data: Any,
        socket_id: str | None = None,
        *,
        app_id: str | None = None,
    ) -> int:
        """Publish as a REST trigger would, without HTTP; returns how many sockets got it.

        Data for an encrypted channel is encrypted here with the app's master key.
        """
        return self.publish(channels, event, data, socket_id, app_id=app_id)

    def publish(
        self,
        channels: str | Iterable[str],
        event: str,
        data: Any,
        socket_id: str | None = None,
        *,
        app_id: str | None = None,
    ) -> int:
        """The synchronous form of :meth:`trigger`, for feeds and callbacks on the loop."""
        from .rest import RestFailure, Trigger

        state = self.state_for(app_id)
        names = [channels] if isinstance(channels, str) else list(channels)
        item = {"name": event, "channels": names, "data": encode_data(data)}
        if socket_id is not None:
            item["socket_id"] = socket_id
        try:
            trigger = Trigger(state, item)
        except RestFailure as exc:
            raise ConfigurationError(exc.message) from None
        if len(names) == 1 and names[0].startswith("private-encrypted-"):
            trigger.data = state.encrypt_for(names[0], trigger.data)
        sent = 0
        for name in trigger.channels:
            sent += state.publish(name, trigger.name, trigger.data, socket_id)
        return sent

    # --- feeds and clients ----------------------------------------------------------------

    def start_feed(self, name: str, **options: Any) -> asyncio.Task:
        """Run the demo feed ``name`` (see :data:`pusher_nb.server.feeds.FEEDS`)."""
        from .feeds import FEEDS, FeedContext

        if name not in FEEDS:
            raise ConfigurationError(f"unknown feed {name!r}; choose from {', '.join(FEEDS)}")
        if name in self.feeds and not self.feeds[name].done():
            raise ConfigurationError(f"feed {name!r} is already running")
        app_id = options.pop("app_id", None)
        context = FeedContext(self, self.state_for(app_id))
        task = self.spawn(FEEDS[name](context, **options))
        self.feeds[name] = task
        return task

    def client(self, **overrides: Any):
        """A :class:`pusher_nb.Client` wired to this server's default app."""
        from ..client import Client

        settings: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "tls": False,
            "app_id": self.app_id,
            "secret": self.secret,
        }
        if self.app.encryption_master_key_base64 is not None:
            settings["encryption_master_key_base64"] = self.app.encryption_master_key_base64
        settings.update(overrides)
        return Client(self.key, **settings)


class _Starting:
    """What ``LocalServer.start`` returns: await it, or use it with ``async with``."""

    def __init__(self, server: LocalServer, feeds: Any) -> None:
        self._server = server
        self._feeds = feeds

    def __await__(self):
        return self._server._start(self._feeds).__await__()

    async def __aenter__(self) -> LocalServer:
        return await self._server._start(self._feeds)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._server.stop()


def _feed_plan(feeds: Any) -> dict[str, dict[str, Any]]:
    """``feeds`` as {name: options}: from a comma string, a list of names, or a mapping."""
    from .feeds import FEEDS

    if not feeds:
        return {}
    if isinstance(feeds, str):
        feeds = [part.strip() for part in feeds.split(",") if part.strip()]
    if isinstance(feeds, Mapping):
        plan = {name: dict(options or {}) for name, options in feeds.items()}
    else:
        plan = {name: {} for name in feeds}
    unknown = [name for name in plan if name not in FEEDS]
    if unknown:
        raise ConfigurationError(
            f"unknown feed {', '.join(map(repr, unknown))}; choose from {', '.join(FEEDS)}"
        )
    return plan


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="OK")


def _log_task_failure(name: str, exc: BaseException) -> None:
    logger.error("server task %s failed", name, exc_info=exc)
