"""Faults between a client and the local server, through a TCP proxy that cuts, stalls and refuses.

After each fault the client must be connected again with a new socket_id, re-authorized and
re-subscribed, with presence members rebuilt (no ghosts, no duplicates), and every row a
LiveFrame received before the fault still there, the reconnect visible in its epoch column.
"""

from __future__ import annotations

import time

import pytest
from proxy import FaultProxy
from support import eventually, timeout

import pusher_nb


@pytest.fixture
async def server():
    """The local server on a free port, with short activity timeouts so dead sockets go fast."""
    local = await pusher_nb.LocalServer.start(port=0, feeds=(), activity_timeout=1, pong_timeout=1)
    yield local
    await local.stop()


async def publish(server, count, start=0, channel="private-ticks"):
    for i in range(start, start + count):
        await server.trigger(channel, "tick", {"i": i})


async def connected_through(proxy, server, user_id, **options):
    client = pusher_nb.Client(
        server.key, host="127.0.0.1", port=proxy.port, tls=False, app_id=server.app_id,
        secret=server.secret, user_data={"user_id": user_id}, max_backoff=1.0, **options,
    )
    await client.connect()
    return client


async def assert_recovered(client, first_socket_id, ticks, room, members):
    await eventually(
        lambda: client.state == "connected" and client.socket_id != first_socket_id
        and ticks.subscribed and room.subscribed, seconds=20,
    )
    await eventually(lambda: set(room.members) == members, seconds=10)
    assert len(room.members) == len(members)


async def test_cut_connection_recovers_and_keeps_rows(server):
    """A cut socket: reconnect, re-authorize, resubscribe, rebuild presence, keep every row."""
    async with FaultProxy(server.port) as proxy:
        watcher = server.client(user_data={"user_id": "watcher"})
        await watcher.connect()
        watcher_room = await watcher.subscribe("presence-fault")
        client = await connected_through(proxy, server, "traveller")
        ticks = await client.subscribe("private-ticks")
        room = await client.subscribe("presence-fault")
        frame = pusher_nb.LiveFrame(ticks, events="tick")
        await publish(server, 5)
        await frame.wait(rows=5, timeout=timeout(5))
        first_socket = client.socket_id

        cut_at = time.monotonic()
        proxy.cut()
        await assert_recovered(client, first_socket, ticks, room, {"watcher", "traveller"})
        recovered_in = time.monotonic() - cut_at
        await publish(server, 5, start=5)
        await frame.wait(rows=10, timeout=timeout(5))
        df = frame.df
        assert df["i"].tolist() == list(range(10))
        assert df["epoch"].nunique() == 2
        await eventually(lambda: set(watcher_room.members) == {"watcher", "traveller"})
        print(f"cut: recovered in {recovered_in:.2f} s")
        await client.close()
        await watcher.close()


async def test_half_open_socket_is_dropped_after_the_pong_timeout(server):
    """A stalled (half-open) path: the ping goes unanswered, the client drops it and reconnects."""
    async with FaultProxy(server.port) as proxy:
        client = await connected_through(proxy, server, "stalled", activity_timeout=0.5,
                                         pong_timeout=0.5)
        ticks = await client.subscribe("private-ticks")
        room = await client.subscribe("presence-fault")
        frame = pusher_nb.LiveFrame(ticks, events="tick")
        await publish(server, 3)
        await frame.wait(rows=3, timeout=timeout(5))
        first_socket = client.socket_id
        errors = []
        client.connection.bind("error", lambda event: errors.append(event.data["message"]))

        proxy.stalled = True
        stalled_at = time.monotonic()
        await eventually(lambda: client.state != "connected", seconds=10)
        detected_in = time.monotonic() - stalled_at
        proxy.stalled = False
        proxy.cut()  # the stalled pipes carry the old socket; new connections flow again
        await assert_recovered(client, first_socket, ticks, room, {"stalled"})
        await publish(server, 3, start=3)
        await frame.wait(rows=6, timeout=timeout(5))
        assert frame.df["i"].tolist() == list(range(6))
        assert any("no answer to a ping" in message for message in errors)
        print(f"half-open: detected in {detected_in:.2f} s")
        await client.close()


async def test_refused_reconnects_back_off_then_recover(server):
    """While the path refuses connections the client is unavailable and backs off; then recovers."""
    async with FaultProxy(server.port) as proxy:
        client = await connected_through(proxy, server, "refused")
        ticks = await client.subscribe("private-ticks")
        room = await client.subscribe("presence-fault")
        states = []
        client.connection.bind("state_change", lambda e: states.append(e.data["current"]))
        first_socket = client.socket_id
        proxy.refusing = True
        proxy.cut()
        await eventually(lambda: proxy.accepted >= 3, seconds=15)
        attempts_while_refused = proxy.accepted - 1
        assert "unavailable" in states
        proxy.refusing = False
        await assert_recovered(client, first_socket, ticks, room, {"refused"})
        assert client.stats.reconnects >= 1
        print(f"refused: {attempts_while_refused} attempts while refused")
        await client.close()


async def test_delayed_path_keeps_order(server):
    """Added latency on the path delays events but loses and reorders none."""
    async with FaultProxy(server.port) as proxy:
        proxy.delay = 0.01
        client = await connected_through(proxy, server, "slow")
        ticks = await client.subscribe("private-ticks")
        frame = pusher_nb.LiveFrame(ticks, events="tick")
        await publish(server, 50)
        await frame.wait(rows=50, timeout=timeout(10))
        assert frame.df["i"].tolist() == list(range(50))
        await client.close()


async def test_server_killed_and_restarted_mid_stream():
    """The server stops mid-stream (4200) and comes back on its port: the stream resumes, rows kept."""
    server = await pusher_nb.LocalServer.start(port=0, feeds=())
    port = server.port
    client = server.client(user_data={"user_id": "survivor"}, max_backoff=1.0)
    await client.connect()
    try:
        ticks = await client.subscribe("private-ticks")
        room = await client.subscribe("presence-fault")
        frame = pusher_nb.LiveFrame(ticks, events="tick")
        await publish(server, 4)
        await frame.wait(rows=4, timeout=timeout(5))
        first_socket = client.socket_id
        stopped_at = time.monotonic()
        await server.stop()
        await eventually(lambda: client.state != "connected", seconds=5)
        server = await pusher_nb.LocalServer.start(port=port, feeds=())
        await assert_recovered(client, first_socket, ticks, room, {"survivor"})
        print(f"restart: recovered {time.monotonic() - stopped_at:.2f} s after the stop")
        await publish(server, 4, start=4)
        await frame.wait(rows=8, timeout=timeout(5))
        assert frame.df["i"].tolist() == list(range(8))
        assert frame.df["epoch"].tolist() == [1] * 4 + [2] * 4
    finally:
        await client.close()
        await server.stop()


async def test_stale_auth_is_never_reused_after_a_reconnect(server):
    """Each (re)connection is authorized for its own socket_id: the authorizer sees each new id."""
    async with FaultProxy(server.port) as proxy:
        seen_socket_ids = []
        signer = pusher_nb.auth.LocalAuthorizer(server.key, server.secret, {"user_id": "a"})

        async def authorizer(socket_id, channel_name):
            seen_socket_ids.append(socket_id)
            return await signer(socket_id, channel_name)

        client = pusher_nb.Client(server.key, host="127.0.0.1", port=proxy.port, tls=False,
                                  authorizer=authorizer, max_backoff=1.0)
        await client.connect()
        channel = await client.subscribe("private-reauth")
        first = client.socket_id
        proxy.cut()
        await eventually(lambda: client.socket_id not in (None, first) and channel.subscribed,
                         seconds=20)
        assert seen_socket_ids == [first, client.socket_id]
        await client.close()
