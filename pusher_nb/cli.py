"""``pusher-nb serve | listen | trigger | channels``: JSON lines on stdout, errors on stderr."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from .client import Client
from .errors import PusherError


def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (defaults from PUSHER_* environment variables)")
    env = os.environ.get
    group.add_argument("--key", default=env("PUSHER_KEY"), help="app key (PUSHER_KEY)")
    group.add_argument("--app-id", default=env("PUSHER_APP_ID"), help="app id (PUSHER_APP_ID)")
    group.add_argument("--secret", default=env("PUSHER_SECRET"), help="app secret (PUSHER_SECRET)")
    group.add_argument("--cluster", default=env("PUSHER_CLUSTER") or "mt1", help="Pusher cloud cluster")
    group.add_argument("--host", default=env("PUSHER_HOST"), help="self-hosted server host")
    group.add_argument(
        "--port", type=int, default=int(env("PUSHER_PORT")) if env("PUSHER_PORT") else None
    )
    group.add_argument("--tls", action=argparse.BooleanOptionalAction, default=None)
    group.add_argument("--auth-endpoint", default=None, help="HTTP authorizer URL (pusher-js style)")
    group.add_argument(
        "--master-key",
        default=env("PUSHER_ENCRYPTION_MASTER_KEY_BASE64"),
        help="base64 encryption master key (PUSHER_ENCRYPTION_MASTER_KEY_BASE64)",
    )


def _client(args: argparse.Namespace, user_data: dict | None = None) -> Client:
    if not args.key:
        raise SystemExit("error: an app key is required (--key or PUSHER_KEY)")
    return Client(
        args.key,
        cluster=args.cluster,
        host=args.host,
        port=args.port,
        tls=args.tls,
        app_id=args.app_id,
        secret=args.secret,
        auth_endpoint=args.auth_endpoint,
        encryption_master_key_base64=args.master_key,
        user_data=user_data,
    )


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, default=str).decode() + "\n")
    sys.stdout.flush()


async def _listen(args: argparse.Namespace) -> int:
    user_data = {"user_id": args.user_id} if args.user_id else None
    done = asyncio.Event()
    printed = 0

    def on_event(event: Any) -> None:
        nonlocal printed
        if args.count and printed >= args.count:
            return  # events already on their way when the count was reached
        if event.event.startswith(("pusher:", "pusher_internal:")) and not args.internal:
            return
        _print_json(event.to_dict())
        printed += 1
        if args.count and printed >= args.count:
            done.set()

    async with _client(args, user_data) as client:
        client.bind_global(on_event)
        for name in args.channels:
            await client.subscribe(name)
        try:
            await asyncio.wait_for(done.wait(), args.timeout)
        except TimeoutError:
            if args.count:
                print(
                    f"error: {printed} of {args.count} events arrived within {args.timeout} s",
                    file=sys.stderr,
                )
                return 1
    return 0


async def _trigger(args: argparse.Namespace) -> int:
    try:
        data = orjson.loads(args.data)
    except orjson.JSONDecodeError:
        data = args.data
    client = _client(args)
    try:
        _print_json(await client.trigger(args.channel, args.event, data))
    finally:
        await client.close()
    return 0


async def _channels(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        info = ["user_count"] if args.prefix and args.prefix.startswith("presence-") else None
        for name, attributes in sorted((await client.channels(args.prefix, info)).items()):
            _print_json({"channel": name, **attributes})
    finally:
        await client.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pusher-nb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from .server.cli import add_serve_parser

    add_serve_parser(commands)

    listen = commands.add_parser("listen", help="print events as JSON lines")
    listen.add_argument("channels", nargs="+", metavar="CHANNEL")
    listen.add_argument("--user-id", help="presence identity")
    listen.add_argument("--count", type=int, default=0, help="stop after N events")
    listen.add_argument("--timeout", type=float, default=None, help="stop after S seconds")
    listen.add_argument("--internal", action="store_true", help="also print pusher: events")
    _connection_options(listen)
    listen.set_defaults(run=_listen)

    trigger = commands.add_parser("trigger", help="publish one event through the REST API")
    trigger.add_argument("channel")
    trigger.add_argument("event")
    trigger.add_argument("data", help="JSON (or a plain string)")
    _connection_options(trigger)
    trigger.set_defaults(run=_trigger)

    channels = commands.add_parser("channels", help="list occupied channels")
    channels.add_argument("--prefix", default=None)
    _connection_options(channels)
    channels.set_defaults(run=_channels)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return args.func(args)
    try:
        return asyncio.run(args.run(args))
    except PusherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
