"""A local Pusher-compatible server (protocol 7, REST API, demo feeds) for offline notebooks.

``await LocalServer.start(port=0, feeds=("crypto",))`` serves ``/app/KEY`` (websocket) and
``/apps/ID/...`` (REST) on one port of the running loop, like soketi but in-process. The
default app is soketi's (``app-id`` / ``app-key`` / ``app-secret``); pass ``apps=[App(...)]``
for others. ``server.client()`` is a :class:`pusher_nb.Client` wired to it, and
``pusher-nb serve`` (or ``python -m pusher_nb.server``) runs one from the command line.
The demo feeds and their channels are listed in :mod:`pusher_nb.server.feeds`.
"""

from .apps import App
from .feeds import FEEDS
from .server import LocalServer

__all__ = ["App", "FEEDS", "LocalServer"]
