"""``pusher-nb serve``: run the local server (and its demo feeds) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from ..errors import PusherError
from .apps import DEFAULT_APP_ID, DEFAULT_KEY, DEFAULT_SECRET, App
from .feeds import CHANNELS, FEEDS
from .server import LocalServer

DEFAULT_PORT = 6001


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument("--app-id", default=None, help=f"app id (default {DEFAULT_APP_ID})")
    parser.add_argument("--key", default=None, help=f"app key (default {DEFAULT_KEY})")
    parser.add_argument("--secret", default=None, help="app secret (default: soketi's, printed)")
    parser.add_argument(
        "--master-key",
        default=None,
        help="base64 32-byte encryption master key, for private-encrypted- channels",
    )
    parser.add_argument(
        "--feeds",
        default="crypto,sports,geo,chat",
        help=f"comma-separated demo feeds from {','.join(FEEDS)}; '' for none (default %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print the settings as one JSON line")
    parser.add_argument(
        "--log-level", default="WARNING", help="logging level (default %(default)s)"
    )
    return parser


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``serve`` to a ``pusher-nb`` command line's subparsers."""
    parser = subparsers.add_parser(
        "serve",
        help="run a local Pusher-compatible server with demo feeds",
        description="Run a local Pusher-protocol server (websocket and REST on one port).",
    )
    add_serve_arguments(parser)
    parser.set_defaults(func=run_serve)
    return parser


def settings(server: LocalServer, secret_shown: bool, feeds: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "app_id": server.app_id,
        "key": server.key,
        "ws_url": f"ws://{server.host}:{server.port}/app/{server.key}?protocol=7",
        "rest_url": f"{server.url}/apps/{server.app_id}",
        "feeds": feeds,
        "channels": {name: list(CHANNELS[name]) for name in feeds if name in CHANNELS},
    }
    if secret_shown:
        result["secret"] = server.secret
    return result


def describe(info: dict[str, Any], secret_shown: bool) -> str:
    lines = [
        f"Local Pusher server listening on {info['host']}:{info['port']}",
        f"  host:    {info['host']}",
        f"  port:    {info['port']}",
        f"  key:     {info['key']}",
        f"  app id:  {info['app_id']}",
    ]
    if secret_shown:
        lines.append(
            f"  secret:  {info['secret']}  (the default; pass --secret to choose your own)"
        )
    else:
        lines.append("  secret:  the one you passed with --secret (not shown)")
    if info["feeds"]:
        lines.append("  feeds:")
        for name, channels in info["channels"].items():
            lines.append(f"    {name:<7} on {', '.join(channels)}")
    else:
        lines.append("  feeds:   none")
    lines.append(
        f"  connect: pusher_nb.Client({info['key']!r}, host={info['host']!r}, "
        f"port={info['port']}, tls=False, app_id={info['app_id']!r}, secret=...)"
    )
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM; 0 on a clean stop."""
    feeds = [name.strip() for name in (args.feeds or "").split(",") if name.strip()]
    secret_shown = args.secret is None
    app = App(
        app_id=args.app_id or DEFAULT_APP_ID,
        key=args.key or DEFAULT_KEY,
        secret=args.secret or DEFAULT_SECRET,
        encryption_master_key_base64=args.master_key,
    )
    server = await LocalServer.start(port=args.port, host=args.host, feeds=feeds, apps=[app])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
    try:
        info = settings(server, secret_shown, feeds)
        print(json.dumps(info) if args.json else describe(info, secret_shown), flush=True)
        await stop.wait()
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
        await server.stop()
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """The blocking entry point: configure logging, serve, report errors on stderr."""
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return asyncio.run(serve(args))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"pusher-nb serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except (PusherError, ValueError) as exc:
        print(f"pusher-nb serve: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = add_serve_arguments(
        argparse.ArgumentParser(
            prog="python -m pusher_nb.server",
            description="Run a local Pusher-protocol server (websocket and REST on one port).",
        )
    )
    return run_serve(parser.parse_args(argv))
