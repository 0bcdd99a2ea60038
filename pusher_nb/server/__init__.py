"""A local Pusher-compatible server (protocol 7, REST API, demo feeds) for offline notebooks.

``await LocalServer.start(port=0, feeds=("crypto",))`` serves ``/app/KEY`` (websocket) and
``/apps/ID/...`` (REST) on one port of the running loop, like soketi but in-process.
"""

from .apps import App
from .feeds import FEEDS
from .server import LocalServer

__all__ = ["App", "FEEDS", "LocalServer"]
