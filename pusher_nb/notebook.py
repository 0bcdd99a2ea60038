"""The first cell of a tutorial: your own Pusher app from the environment, or the local server.

``new_client, server = await connect_or_start_local(feeds=("crypto",))`` gives a factory of
unconnected clients and the local server it started (None when ``PUSHER_KEY`` is set, in which
case every client comes from :meth:`pusher_nb.Client.from_env`).

Without ``PUSHER_KEY`` the local server hosts one app: id ``LOCAL_APP_ID`` (numeric, as
Pusher's own server libraries require) and soketi's default key, ``app-key``. Its secret is ``PUSHER_NB_LOCAL_SECRET`` when set (else ``app-secret``), and its encryption master
key ``PUSHER_NB_LOCAL_MASTER_KEY_BASE64`` when set (else a fresh random key on each start).
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .client import Client

if TYPE_CHECKING:
    from .server import LocalServer

__all__ = [
    "LOCAL_APP_ID",
    "LOCAL_MASTER_KEY_VAR",
    "LOCAL_SECRET_VAR",
    "connect_or_start_local",
    "wait_until",
]

LOCAL_APP_ID = "1000001"
LOCAL_SECRET_VAR = "PUSHER_NB_LOCAL_SECRET"
LOCAL_MASTER_KEY_VAR = "PUSHER_NB_LOCAL_MASTER_KEY_BASE64"


async def connect_or_start_local(
    feeds: Iterable[str] | Mapping[str, Mapping[str, Any]] | str | None = (),
    *,
    environ: Mapping[str, str] | None = None,
    **server_options: Any,
) -> tuple[Callable[..., Client], LocalServer | None]:
    """``(new_client, server)``: ``new_client(**overrides)`` makes an unconnected Client.

    With ``PUSHER_KEY`` in the environment the clients use it (and the other ``PUSHER_*``
    variables) and ``server`` is None; otherwise a local server starts on the running loop,
    on a free port, running the demo ``feeds``.
    """
    env = os.environ if environ is None else environ
    if env.get("PUSHER_KEY"):

        def from_env(**overrides: Any) -> Client:
            return Client.from_env(env, **overrides)

        return from_env, None

    from .server import App, LocalServer
    from .server.apps import DEFAULT_SECRET

    app = App(
        app_id=LOCAL_APP_ID,
        secret=env.get(LOCAL_SECRET_VAR) or DEFAULT_SECRET,
        encryption_master_key_base64=(
            env.get(LOCAL_MASTER_KEY_VAR) or base64.b64encode(secrets.token_bytes(32)).decode()
        ),
    )
    server = await LocalServer.start(port=0, feeds=feeds, apps=[app], **server_options)
    return server.client, server


async def wait_until(
    condition: Callable[[], Any],
    timeout: float = 10.0,  # noqa: ASYNC109 - the same shape as LiveFrame.wait
    interval: float = 0.05,
) -> Any:
    """Wait until ``condition()`` is truthy and return its value; TimeoutError after ``timeout`` s.

    A tutorial cell awaits this instead of sleeping a guessed time, and never waits forever.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() >= deadline:
            raise TimeoutError(f"condition still false after {timeout} s")
        await asyncio.sleep(interval)
