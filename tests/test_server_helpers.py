"""Plumbing for the local server tests: a raw protocol-7 client and Node peers (no tests here)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import websockets
from support import PEERS_DIR, node_executable, require_node_package, timeout

from pusher_nb import auth
from pusher_nb.protocol import decode_data
from pusher_nb.server import App, LocalServer

MASTER_KEY = "OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk="


def local_server(**app_options):
    """A local server with no feeds and an encryption master key, for ``async with``."""
    app = App(encryption_master_key_base64=MASTER_KEY, **app_options)
    return LocalServer.start(port=0, feeds=(), apps=[app])


class RawClient:
    """A bare websocket speaking protocol 7 by hand, to see exactly what the server sends."""

    def __init__(self, ws, server: LocalServer) -> None:
        self.ws = ws
        self.server = server
        self.socket_id: str | None = None
        self.skipped: list[dict] = []

    @classmethod
    async def connect(
        cls, server: LocalServer, key: str | None = None, query: str = "?protocol=7"
    ) -> RawClient:
        url = f"ws://{server.host}:{server.port}/app/{key or server.key}{query}"
        ws = await websockets.connect(url, open_timeout=timeout(5), compression=None, max_size=None)
        client = cls(ws, server)
        if key is None and query == "?protocol=7":
            hello = await client.recv()
            assert hello["event"] == "pusher:connection_established", hello
            client.socket_id = hello["data"]["socket_id"]
        return client

    async def recv(self, seconds: float = 5.0) -> dict[str, Any]:
        """The next message, with string data decoded as the client library would."""
        text = await asyncio.wait_for(self.ws.recv(), timeout(seconds))
        message = json.loads(text)
        if "data" in message:
            message["data"] = decode_data(message["data"])
        return message

    async def expect(self, event: str, channel: str | None = None, seconds: float = 5.0) -> dict:
        """Read until a message named ``event`` (on ``channel``) arrives; keep what was skipped."""
        async with asyncio.timeout(timeout(seconds)):
            while True:
                message = await self.recv(seconds)
                if message["event"] == event and (
                    channel is None or message.get("channel") == channel
                ):
                    return message
                self.skipped.append(message)

    async def quiet(self, seconds: float = 0.3, ignore=("pusher_internal:subscription_count",)):
        """Everything that arrives within ``seconds`` (ignoring subscription counts)."""
        got = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    message = await self.recv(seconds + 1)
                    if message["event"] not in ignore:
                        got.append(message)
        return got

    async def send(self, message: dict | str) -> None:
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def auth_for(self, channel: str, user: dict | None = None) -> dict:
        return auth.channel_auth(
            self.server.key,
            self.server.secret,
            self.socket_id,
            channel,
            user,
            self.server.app.master_key,
        )

    async def subscribe(self, channel: str, user: dict | None = None, signed: bool = True) -> dict:
        """Subscribe (signing when the channel needs it) and return subscription_succeeded."""
        data: dict[str, Any] = {"channel": channel}
        if signed and channel.startswith(("private-", "presence-")):
            data.update(self.auth_for(channel, user))
        await self.send({"event": "pusher:subscribe", "data": data})
        return await self.expect("pusher_internal:subscription_succeeded", channel)

    async def close(self) -> None:
        await self.ws.close()

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code


class NodeProcess:
    """A Node script under tests/peers talking JSON lines on stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, script: str, config: dict) -> NodeProcess:
        node = node_executable()
        require_node_package("pusher-js")
        require_node_package("pusher")
        process = await asyncio.create_subprocess_exec(
            node,
            str(PEERS_DIR / script),
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=str(PEERS_DIR),
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            if line.strip():
                self.lines.append(json.loads(line))
                self._changed.set()

    async def wait_for(self, predicate, seconds: float = 10.0) -> dict:
        """The first reported line matching ``predicate``, waiting for it if need be."""
        async with asyncio.timeout(timeout(seconds)):
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                self._changed.clear()
                await self._changed.wait()

    async def command(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, BrokenPipeError, ConnectionResetError):
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), timeout(5))
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()


class PusherJs(NodeProcess):
    """A pusher-js 8 client under Node."""

    @classmethod
    async def connect(
        cls, host, port, key, auth_endpoint, user_id=None, user_auth_endpoint=None
    ) -> PusherJs:
        peer = await cls.start(
            "pusher_js_client.mjs",
            {
                "key": key,
                "host": host,
                "port": port,
                "authEndpoint": auth_endpoint,
                "userAuthEndpoint": user_auth_endpoint,
                "userId": user_id,
                "userName": user_id and user_id.title(),
            },
        )
        connected = await peer.wait_for(lambda line: line["type"] == "connected")
        peer.socket_id = connected["socket_id"]
        return peer

    async def subscribe(self, channel: str) -> dict:
        await self.command(op="subscribe", channel=channel)
        return await self.event(channel, "pusher:subscription_succeeded")

    async def event(self, channel: str, event: str, seconds: float = 10.0, **match) -> dict:
        return await self.wait_for(
            lambda line: (
                line["type"] == "event"
                and line["channel"] == channel
                and line["event"] == event
                and all(line.get(k) == v for k, v in match.items())
            ),
            seconds,
        )

    def events(self, exclude=("pusher:subscription_count",)) -> list[dict]:
        return [
            line for line in self.lines if line["type"] == "event" and line["event"] not in exclude
        ]


async def node_auth_server(app_id: str, key: str, secret: str, master_key: str | None = None):
    """The official `pusher` Node library behind an HTTP auth endpoint; returns (process, url)."""
    process = await NodeProcess.start(
        "auth_server.mjs", {"appId": app_id, "key": key, "secret": secret, "masterKey": master_key}
    )
    ready = await process.wait_for(lambda line: "port" in line)
    return process, f"http://127.0.0.1:{ready['port']}/auth"
