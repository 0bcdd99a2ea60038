"""Client behaviour that soketi 1.6 does not exercise, against the local server."""

from __future__ import annotations

import asyncio

import pytest

import pusher_nb
from support import eventually, timeout


@pytest.fixture
async def server():
    local = await pusher_nb.LocalServer.start(port=0, feeds=())
    yield local
    await local.stop()


async def test_subscription_count_events(server):
    """pusher:subscription_count reaches handlers and channel.subscription_count follows it."""
    async with server.client() as first, server.client() as second:
        channel = await first.subscribe("counted")
        counts = []
        channel.bind("pusher:subscription_count", lambda e: counts.append(e.data["subscription_count"]))
        await second.subscribe("counted")
        await eventually(lambda: counts and counts[-1] == 2)
        assert channel.subscription_count == 2
        await second.unsubscribe("counted")
        await eventually(lambda: counts[-1] == 1)


async def test_unsubscribe_stops_delivery(server):
    """After unsubscribe() no more events arrive and the server no longer lists the channel."""
    async with server.client() as client:
        channel = await client.subscribe("leaving")
        received = []
        channel.bind("e", received.append)
        await client.trigger("leaving", "e", {"n": 1})
        await eventually(lambda: received)
        await channel.unsubscribe()
        assert "leaving" not in client.subscriptions and not channel.subscribed
        await client.trigger("leaving", "e", {"n": 2})
        await asyncio.sleep(timeout(0.2))
        assert [e.data for e in received] == [{"n": 1}]
        assert "leaving" not in await client.channels()


async def test_subscribe_before_connect_is_a_clear_error(server):
    """subscribe() on a client that was never connected names the fix."""
    client = server.client()
    with pytest.raises(pusher_nb.NotConnected, match="connect"):
        await client.subscribe("anything")


async def test_same_channel_twice_returns_the_same_object(server):
    """Subscribing again to a subscribed channel returns the channel without a new round trip."""
    async with server.client() as client:
        first = await client.subscribe("twice")
        assert await client.subscribe("twice") is first


async def test_state_changes_in_order(server):
    """connect() then close() walks initialized -> connecting -> connected -> disconnected."""
    client = server.client()
    states = []
    client.connection.bind("state_change", lambda e: states.append((e.data["previous"], e.data["current"])))
    await client.connect()
    await client.close()
    assert states == [
        ("initialized", "connecting"), ("connecting", "connected"), ("connected", "disconnected"),
    ]
    assert client.socket_id is None
