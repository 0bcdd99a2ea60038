"""The client's fault handling against a scripted Pusher server on a real socket.

The scripted server speaks just enough protocol 7 to put the client in the situation under
test: a malformed frame, a given close code, a socket that goes silent.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from support import eventually, timeout
from websockets.asyncio.server import serve

import pusher_nb
from pusher_nb.errors import ConnectionRefused, NotConnected


class ScriptedServer:
    """Accepts Pusher connections and runs ``script(ws, n)`` for the n-th one."""

    def __init__(self, script):
        self.script = script
        self.connections = 0
        self.connected_at: list[float] = []
        self.received: list[dict] = []

    async def __aenter__(self):
        self.server = await serve(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, ws):
        self.connections += 1
        self.connected_at.append(time.monotonic())
        number = self.connections
        await ws.send(json.dumps({
            "event": "pusher:connection_established",
            "data": json.dumps({"socket_id": f"{number}.{number}", "activity_timeout": 120}),
        }))
        await self.script(self, ws, number)

    async def answer_subscriptions(self, ws):
        async for text in ws:
            message = json.loads(text)
            self.received.append(message)
            if message["event"] == "pusher:subscribe":
                await ws.send(json.dumps({
                    "event": "pusher_internal:subscription_succeeded",
                    "channel": message["data"]["channel"], "data": "{}",
                }))
            elif message["event"] == "pusher:ping":
                await ws.send('{"event":"pusher:pong","data":{}}')

    def client(self, **options):
        return pusher_nb.Client("key", host="127.0.0.1", port=self.port, tls=False, **options)


async def test_malformed_frames_are_skipped_and_the_connection_stays():
    """Garbage, non-objects and nameless frames are reported and skipped; later events arrive."""
    async def script(server, ws, number):
        subscribe = json.loads(await ws.recv())
        await ws.send(json.dumps({"event": "pusher_internal:subscription_succeeded",
                                  "channel": subscribe["data"]["channel"], "data": "{}"}))
        for garbage in ["not json", "[1,2,3]", '{"data": 1}', '{"event": 5}', "\u0000\u0001"]:
            await ws.send(garbage)
        await ws.send(json.dumps({"event": "tick", "channel": "prices", "data": '{"p": 1}'}))
        await server.answer_subscriptions(ws)

    async with ScriptedServer(script) as server, server.client() as client:
        errors = []
        client.connection.bind("error", errors.append)
        channel = await client.subscribe("prices")
        ticks = []
        channel.bind("tick", ticks.append)
        await eventually(lambda: ticks)
        assert ticks[0].data == {"p": 1}
        assert len(errors) == 5 and all("malformed" in e.data["message"] for e in errors)
        assert client.state == "connected" and server.connections == 1


async def test_a_failing_handler_is_reported_and_others_still_run():
    """A handler that raises shows on the error event; the next handler and the client carry on."""
    async def script(server, ws, number):
        subscribe = json.loads(await ws.recv())
        await ws.send(json.dumps({"event": "pusher_internal:subscription_succeeded",
                                  "channel": subscribe["data"]["channel"], "data": "{}"}))
        for i in range(3):
            await ws.send(json.dumps({"event": "tick", "channel": "prices", "data": {"i": i}}))
        await server.answer_subscriptions(ws)

    async with ScriptedServer(script) as server, server.client() as client:
        errors, good, async_seen = [], [], []
        client.connection.bind("error", errors.append)

        async def async_handler(event):
            await asyncio.sleep(0)
            async_seen.append(event.data["i"])

        channel = await client.subscribe("prices")
        channel.bind("tick", lambda event: 1 / 0)
        channel.bind("tick", good.append)
        channel.bind("tick", async_handler)
        await eventually(lambda: len(good) == 3 and len(async_seen) == 3)
        assert len(errors) == 3 and "ZeroDivisionError" in errors[0].data["message"]
        assert "ZeroDivisionError" in client.stats.last_error
        assert client.state == "connected"


@pytest.mark.parametrize("code", [4001, 4009])
async def test_refusing_close_codes_stop_and_report(code):
    """4001 and 4009 end in state failed with ConnectionRefused, and no reconnect."""
    async def script(server, ws, number):
        await ws.close(code, "go away")

    async with ScriptedServer(script) as server:
        client = server.client(connect_timeout=timeout(5))
        with pytest.raises(ConnectionRefused) as caught:
            await client.connect()
        await asyncio.sleep(timeout(0.5))
        assert client.state == "failed"
        assert caught.value.code == code and str(code) in client.stats.last_error
        assert server.connections == 1
        await client.close()


async def test_4200_reconnects_at_once_and_resubscribes():
    """After 4200 the client reconnects without backing off and subscribes again."""
    async def script(server, ws, number):
        if number == 1:
            subscribe = json.loads(await ws.recv())
            await ws.send(json.dumps({"event": "pusher_internal:subscription_succeeded",
                                      "channel": subscribe["data"]["channel"], "data": "{}"}))
            await asyncio.sleep(1.5)
            await ws.close(4200, "restarting")
            return
        await server.answer_subscriptions(ws)

    async with ScriptedServer(script) as server, server.client() as client:
        channel = await client.subscribe("prices")
        await eventually(lambda: server.connections == 2 and channel.subscribed, seconds=5)
        assert client.socket_id == "2.2"
        subscribes = [m for m in server.received if m["event"] == "pusher:subscribe"]
        assert subscribes[-1]["data"]["channel"] == "prices"


async def test_4100_backs_off_at_least_a_second_and_grows():
    """Over capacity (4100): each retry waits at least 1 s, and the waits grow."""
    async def script(server, ws, number):
        if number <= 3:
            await ws.close(4100, "over capacity")
            return
        await server.answer_subscriptions(ws)

    async with ScriptedServer(script) as server:
        client = server.client(connect_timeout=timeout(15), max_backoff=8)
        await client.connect()
        await eventually(lambda: server.connections == 4 and client.state == "connected",
                         seconds=20)
        gaps = [b - a for a, b in zip(server.connected_at, server.connected_at[1:], strict=False)]
        assert min(gaps) >= 1.0 and gaps[2] > gaps[0]
        await client.close()


async def test_half_open_socket_is_detected_by_the_pong_timeout():
    """A socket that goes silent is pinged, then dropped after the pong timeout, then reconnected."""
    async def script(server, ws, number):
        if number == 1:
            async for text in ws:  # swallow everything, pings included, and never answer
                server.received.append(json.loads(text))
            return
        await server.answer_subscriptions(ws)

    async with ScriptedServer(script) as server:
        client = server.client(activity_timeout=0.3, pong_timeout=0.3)
        errors = []
        client.connection.bind("error", lambda event: errors.append(event.data["message"]))
        async with client:
            await eventually(lambda: server.connections == 2 and client.state == "connected",
                             seconds=10)
            assert any(m["event"] == "pusher:ping" for m in server.received)
            assert any("no answer to a ping" in message for message in errors)


async def test_server_ping_is_answered_with_pong():
    """A pusher:ping from the server gets a pusher:pong."""
    pongs = []

    async def script(server, ws, number):
        await ws.send('{"event":"pusher:ping","data":{}}')
        pongs.append(json.loads(await ws.recv()))
        await server.answer_subscriptions(ws)

    async with ScriptedServer(script) as server, server.client():
        await eventually(lambda: pongs)
        assert pongs[0]["event"] == "pusher:pong"


async def test_unreachable_server_raises_not_connected():
    """connect() to a port nobody listens on gives up after connect_timeout with the reason."""
    async with ScriptedServer(lambda *a: asyncio.sleep(0)) as server:
        port = server.port
    client = pusher_nb.Client("key", host="127.0.0.1", port=port, tls=False,
                              connect_timeout=timeout(1.5))
    with pytest.raises(NotConnected, match="could not connect"):
        await client.connect()
    assert client.state == "disconnected"
