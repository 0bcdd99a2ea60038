"""pusher-js 8 under Node against the local server, authorized by the official `pusher` Node library."""

from __future__ import annotations

import pytest
from support import eventually
from test_server_helpers import MASTER_KEY, NodeProcess, PusherJs, RawClient, node_auth_server

from pusher_nb.server import App, LocalServer

pytestmark = pytest.mark.node


@pytest.fixture
async def setup():
    """A local server with a master key, plus a Node auth endpoint for its app."""
    local = await LocalServer.start(
        port=0, feeds=(), apps=[App(encryption_master_key_base64=MASTER_KEY)]
    )
    auth_process, endpoint = await node_auth_server(
        local.app_id, local.key, local.secret, MASTER_KEY
    )
    peers: list[PusherJs] = []

    async def connect(user_id=None) -> PusherJs:
        user_endpoint = endpoint.replace("/auth", "/user-auth")
        peer = await PusherJs.connect(
            local.host, local.port, local.key, endpoint, user_id, user_endpoint
        )
        peers.append(peer)
        return peer

    yield local, connect
    for peer in peers:
        await peer.stop()
    await auth_process.stop()
    await local.stop()


async def test_public_channel(setup):
    """pusher-js subscribes to a public channel and receives a trigger's data."""
    local, connect = setup
    js = await connect()
    await js.subscribe("js-public")
    await local.trigger("js-public", "tick", {"n": 1})
    assert (await js.event("js-public", "tick"))["data"] == {"n": 1}


async def test_private_channel(setup):
    """pusher-js authorizes a private channel through the Node endpoint and receives events."""
    local, connect = setup
    js = await connect()
    await js.subscribe("private-js")
    await local.trigger("private-js", "secret-ish", {"n": 2})
    assert (await js.event("private-js", "secret-ish"))["data"] == {"n": 2}


async def test_encrypted_channel(setup):
    """pusher-js decrypts what the server encrypted with the shared master key."""
    local, connect = setup
    js = await connect()
    await js.subscribe("private-encrypted-js")
    await local.trigger("private-encrypted-js", "sealed", {"gold": 7})
    assert (await js.event("private-encrypted-js", "sealed"))["data"] == {"gold": 7}


async def test_cache_channel(setup):
    """pusher-js sees pusher:cache_miss on an empty cache channel and the replay on a full one."""
    local, connect = setup
    js = await connect()
    await js.subscribe("cache-js")
    await js.event("cache-js", "pusher:cache_miss")
    await local.trigger("cache-js-full", "score", {"home": 3})
    await js.subscribe("cache-js-full")
    assert (await js.event("cache-js-full", "score"))["data"] == {"home": 3}


async def test_subscription_count(setup):
    """pusher-js reports pusher:subscription_count from the server."""
    _, connect = setup
    js = await connect()
    await js.subscribe("js-counted")
    got = await js.event("js-counted", "pusher:subscription_count")
    assert got["data"] == {"subscription_count": 1}


async def test_two_clients_presence_and_client_events(setup):
    """Two pusher-js clients see each other in presence and exchange client events."""
    _, connect = setup
    alice = await connect("alice")
    ok = await alice.subscribe("presence-js")
    assert ok["data"] == {"count": 1, "me": "alice", "ids": ["alice"]}
    bob = await connect("bob")
    ok = await bob.subscribe("presence-js")
    assert ok["data"] == {"count": 2, "me": "bob", "ids": ["alice", "bob"]}
    added = await alice.event("presence-js", "pusher:member_added")
    assert added["data"] == {"id": "bob", "info": {"name": "Bob"}}

    await bob.command(
        op="client_event", channel="presence-js", event="client-wave", data={"text": "hi"}
    )
    wave = await alice.event("presence-js", "client-wave")
    assert wave["data"] == {"text": "hi"} and wave["user_id"] == "bob"

    await alice.subscribe("private-js-room")
    await bob.subscribe("private-js-room")
    await alice.command(
        op="client_event", channel="private-js-room", event="client-ping", data={"n": 1}
    )
    assert (await bob.event("private-js-room", "client-ping"))["data"] == {"n": 1}
    assert not [e for e in alice.events() if e["event"] == "client-ping"]

    await bob.command(op="disconnect")
    removed = await alice.event("presence-js", "pusher:member_removed")
    assert removed["data"] == {"id": "bob", "info": {"name": "Bob"}}


async def test_signin_and_server_to_user_events(setup):
    """pusher-js signs in through the Node library's authenticateUser and gets events sent to it."""
    local, connect = setup
    js = await connect("dana")
    await js.command(op="signin")
    await js.wait_for(lambda line: line["type"] == "signed_in")
    channel = "#server-to-user-dana"
    await eventually(lambda: channel in local.states[0].channels)
    await local.trigger(channel, "notify", {"hello": "dana"})
    got = await js.wait_for(lambda line: line["type"] == "user_event" and line["event"] == "notify")
    assert got["data"] == {"hello": "dana"}


async def test_official_node_library_rest(setup):
    """The official `pusher` Node library triggers, batches and queries the local server."""
    local, _ = setup
    client = await RawClient.connect(local)
    await client.subscribe("node-rest")
    process = await NodeProcess.start(
        "node_rest.mjs",
        {
            "appId": local.app_id,
            "key": local.key,
            "secret": local.secret,
            "host": local.host,
            "port": local.port,
            "channel": "node-rest",
        },
    )
    try:
        result = await process.wait_for(lambda line: True)
    finally:
        await process.stop()
    assert "error" not in result, result
    assert (result["trigger"], result["batch"]) == (200, 200)
    assert result["channels"] == {"channels": {"node-rest": {}}}
    assert result["channel"] == {"occupied": True, "subscription_count": 1}
    got = [(await client.expect("from-node"))["data"]["n"] for _ in range(3)]
    assert got == [1, 2, 3]
