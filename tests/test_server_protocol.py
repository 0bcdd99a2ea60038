"""The local server's websocket protocol, seen through raw websockets."""

from __future__ import annotations

import asyncio
import json
import random
import re

import pytest
import websockets
from support import eventually, timeout
from test_server_helpers import RawClient, local_server

from pusher_nb import auth, crypto
from pusher_nb.server import App, LocalServer

ALICE = {"user_id": "alice", "user_info": {"name": "Alice"}}


@pytest.fixture
async def server():
    """A local server with no feeds, on a free port."""
    async with local_server() as local:
        yield local


BOB = {"user_id": "bob", "user_info": {"name": "Bob"}}


async def test_handshake_sends_socket_id_and_activity_timeout(server):
    """connection_established carries a '123.456' socket_id and the activity timeout."""
    client = await RawClient.connect(server)
    assert re.fullmatch(r"\d+\.\d+", client.socket_id)
    other = await RawClient.connect(server)
    assert other.socket_id != client.socket_id
    await client.close()
    await other.close()


async def test_ping_is_answered_with_pong(server):
    """pusher:ping gets pusher:pong."""
    client = await RawClient.connect(server)
    await client.send({"event": "pusher:ping", "data": {}})
    assert (await client.recv())["event"] == "pusher:pong"


@pytest.mark.parametrize(
    "channel",
    [
        "prices",
        "cache-prices",
        "private-orders",
        "private-cache-orders",
        "private-encrypted-secrets",
        "presence-room",
        "presence-cache-room",
    ],
)
async def test_subscribe_each_kind(server, channel):
    """Every channel kind accepts a correctly signed subscription."""
    client = await RawClient.connect(server)
    ok = await client.subscribe(channel, ALICE if channel.startswith("presence-") else None)
    if channel.startswith("presence-"):
        assert ok["data"]["presence"] == {
            "ids": ["alice"],
            "hash": {"alice": {"name": "Alice"}},
            "count": 1,
        }
    else:
        assert ok["data"] == {}
    if "cache-" in channel:
        assert (await client.expect("pusher:cache_miss", channel))["channel"] == channel


@pytest.mark.parametrize("channel", ["private-orders", "private-encrypted-x", "presence-room"])
async def test_bad_signature_is_refused_and_connection_lives_on(server, channel):
    """A wrong signature gets subscription_error (401) and pusher:error; the socket stays usable."""
    client = await RawClient.connect(server)
    data = {"channel": channel, "auth": f"{server.key}:{'0' * 64}"}
    if channel.startswith("presence-"):
        data["channel_data"] = json.dumps(ALICE)
    await client.send({"event": "pusher:subscribe", "data": data})
    error = await client.recv()
    assert error["event"] == "pusher:subscription_error"
    assert error["channel"] == channel and error["data"]["status"] == 401
    follow = await client.recv()
    assert follow["event"] == "pusher:error" and "Invalid signature" in follow["data"]["message"]
    await client.subscribe("still-fine")


async def test_presence_signature_covers_channel_data(server):
    """Changing channel_data after signing (claiming another user_id) is refused."""
    client = await RawClient.connect(server)
    signed = client.auth_for("presence-room", ALICE)
    await client.send(
        {
            "event": "pusher:subscribe",
            "data": {
                "channel": "presence-room",
                "auth": signed["auth"],
                "channel_data": json.dumps(BOB),
            },
        }
    )
    assert (await client.recv())["event"] == "pusher:subscription_error"


async def test_signature_for_another_socket_is_refused(server):
    """An auth signed for one socket_id does not open a channel for another socket."""
    first = await RawClient.connect(server)
    second = await RawClient.connect(server)
    await second.send(
        {
            "event": "pusher:subscribe",
            "data": {"channel": "private-a", **first.auth_for("private-a")},
        }
    )
    assert (await second.recv())["event"] == "pusher:subscription_error"


async def test_client_event_reaches_others_but_not_sender(server):
    """A client event goes to the other subscribers, never back to the sender."""
    alice, bob = await RawClient.connect(server), await RawClient.connect(server)
    await alice.subscribe("private-chat")
    await bob.subscribe("private-chat")
    await alice.send({"event": "client-typing", "channel": "private-chat", "data": {"on": True}})
    got = await bob.expect("client-typing", "private-chat")
    assert got["data"] == {"on": True} and "user_id" not in got
    assert await alice.quiet(0.3) == []


async def test_client_event_on_presence_carries_user_id(server):
    """On a presence channel the server adds the sender's user_id."""
    alice, bob = await RawClient.connect(server), await RawClient.connect(server)
    await alice.subscribe("presence-chat", ALICE)
    await bob.subscribe("presence-chat", BOB)
    await bob.send({"event": "client-msg", "channel": "presence-chat", "data": {"text": "hi"}})
    got = await alice.expect("client-msg", "presence-chat")
    assert got["user_id"] == "bob" and got["data"] == {"text": "hi"}


@pytest.mark.parametrize(
    ("channel", "subscribe", "reason"),
    [
        ("public-room", True, "only on private and presence"),
        ("private-encrypted-room", True, "only on private and presence"),
        ("private-elsewhere", False, "not subscribed"),
    ],
)
async def test_client_event_rules(server, channel, subscribe, reason):
    """Client events on public or encrypted channels, or unsubscribed ones, get pusher:error."""
    sender, watcher = await RawClient.connect(server), await RawClient.connect(server)
    if subscribe:
        await sender.subscribe(channel)
        await watcher.subscribe(channel)
    await sender.send({"event": "client-x", "channel": channel, "data": {}})
    error = await sender.expect("pusher:error")
    assert reason in error["data"]["message"]
    assert await watcher.quiet(0.2) == []
    await sender.subscribe("after-error")


async def test_client_event_too_large_is_refused(server):
    """Client event data over the app's payload limit is answered with pusher:error."""
    sender = await RawClient.connect(server)
    await sender.subscribe("private-big")
    big = "x" * (server.app.max_event_payload_bytes + 1)
    await sender.send({"event": "client-big", "channel": "private-big", "data": big})
    assert "limit" in (await sender.expect("pusher:error"))["data"]["message"]


async def test_client_event_rate_limit_closes_with_4301(server):
    """More than 10 client events a second closes the socket with 4301; others are unaffected."""
    sender, watcher = await RawClient.connect(server), await RawClient.connect(server)
    await sender.subscribe("private-flood")
    await watcher.subscribe("private-flood")
    for n in range(30):
        await sender.send({"event": "client-n", "channel": "private-flood", "data": {"n": n}})
    error = await sender.expect("pusher:error")
    assert error["data"]["code"] == 4301
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await sender.recv()
    assert sender.close_code == 4301
    assert len([m for m in await watcher.quiet(0.3) if m["event"] == "client-n"]) >= 0
    await watcher.send({"event": "pusher:ping"})
    assert (await watcher.expect("pusher:pong"))["event"] == "pusher:pong"


async def test_client_events_disabled_for_app():
    """An app without client messages answers client events with pusher:error."""
    async with LocalServer.start(feeds=(), apps=[App(enable_client_messages=False)]) as local:
        client = await RawClient.connect(local)
        await client.subscribe("private-x")
        await client.send({"event": "client-x", "channel": "private-x", "data": {}})
        assert "not enabled" in (await client.expect("pusher:error"))["data"]["message"]


async def test_presence_one_member_per_user_across_sockets(server):
    """Two sockets of one user are one member; it is removed when its last socket leaves."""
    watcher = await RawClient.connect(server)
    await watcher.subscribe("presence-team", BOB)
    first, second = await RawClient.connect(server), await RawClient.connect(server)
    await first.subscribe("presence-team", ALICE)
    added = await watcher.expect("pusher_internal:member_added", "presence-team")
    assert added["data"] == {"user_id": "alice", "user_info": {"name": "Alice"}}
    ok = await second.subscribe("presence-team", ALICE)
    assert ok["data"]["presence"]["count"] == 2
    await first.close()
    await eventually(lambda: len(server.states[0].connections) == 2)
    await second.send({"event": "pusher:unsubscribe", "data": {"channel": "presence-team"}})
    removed = await watcher.expect("pusher_internal:member_removed", "presence-team")
    assert removed["data"] == {"user_id": "alice"}
    assert not [m for m in watcher.skipped if m["event"].startswith("pusher_internal:member")]


async def test_presence_joiner_sees_existing_members_and_others_see_it(server):
    """The joiner gets the full member list; the others get member_added, not the joiner."""
    alice, bob = await RawClient.connect(server), await RawClient.connect(server)
    await alice.subscribe("presence-x", ALICE)
    ok = await bob.subscribe("presence-x", BOB)
    assert sorted(ok["data"]["presence"]["ids"]) == ["alice", "bob"]
    assert (await alice.expect("pusher_internal:member_added"))["data"]["user_id"] == "bob"
    assert [
        m for m in await bob.quiet(0.2) if m["event"].startswith("pusher_internal:member")
    ] == []


async def test_presence_member_limits(server):
    """A user_info over 1 KB, or a missing user_id, is refused with subscription_error."""
    client = await RawClient.connect(server)
    big = {"user_id": "u", "user_info": {"bio": "x" * 2000}}
    await client.send(
        {
            "event": "pusher:subscribe",
            "data": {"channel": "presence-big", **client.auth_for("presence-big", big)},
        }
    )
    assert (await client.recv())["data"]["type"] == "LimitReached"
    bad = json.dumps({"user_info": {}})
    signature = auth.sign(server.secret, f"{client.socket_id}:presence-big:{bad}")
    await client.send(
        {
            "event": "pusher:subscribe",
            "data": {
                "channel": "presence-big",
                "auth": f"{server.key}:{signature}",
                "channel_data": bad,
            },
        }
    )
    assert "user_id" in (await client.expect("pusher:subscription_error"))["data"]["error"]


async def test_cache_channel_replays_last_event(server):
    """A new subscriber to a cache channel gets the last event at once."""
    await server.trigger("cache-score", "score", {"home": 1, "away": 0})
    await server.trigger("cache-score", "score", {"home": 2, "away": 0})
    client = await RawClient.connect(server)
    await client.subscribe("cache-score")
    replay = await client.recv()
    assert replay == {"event": "score", "channel": "cache-score", "data": {"home": 2, "away": 0}}


async def test_subscription_count_follows_subscribers(server):
    """Non-presence channels get pusher_internal:subscription_count as subscribers come and go."""
    first, second = await RawClient.connect(server), await RawClient.connect(server)
    await first.subscribe("counted")
    count = await first.expect("pusher_internal:subscription_count", "counted")
    assert count["data"] == {"subscription_count": 1}
    await second.subscribe("counted")
    count = await first.expect("pusher_internal:subscription_count", "counted")
    assert count["data"] == {"subscription_count": 2}
    await second.close()
    count = await first.expect("pusher_internal:subscription_count", "counted")
    assert count["data"] == {"subscription_count": 1}


async def test_no_subscription_count_on_presence(server):
    """Presence channels report members, not subscription counts."""
    client = await RawClient.connect(server)
    await client.subscribe("presence-nocount", ALICE)
    got = await client.quiet(0.3, ignore=())
    assert [m for m in got if m["event"] == "pusher_internal:subscription_count"] == []


async def test_signin_success_and_user_channel(server):
    """A signed pusher:signin gets signin_success, and the user's own #server-to-user channel."""
    client = await RawClient.connect(server)
    signin = auth.user_signin(server.key, server.secret, client.socket_id, {"id": "12345"})
    await client.send({"event": "pusher:signin", "data": signin})
    ok = await client.expect("pusher:signin_success")
    assert json.loads(ok["data"]["user_data"]) == {"id": "12345"}
    await client.subscribe("#server-to-user-12345", signed=False)
    await client.send({"event": "pusher:subscribe", "data": {"channel": "#server-to-user-999"}})
    assert (await client.expect("pusher:subscription_error"))["data"]["status"] == 403


async def test_bad_signin_closes_with_4009(server):
    """A pusher:signin with a wrong signature closes the socket with 4009."""
    client = await RawClient.connect(server)
    await client.send(
        {
            "event": "pusher:signin",
            "data": {"auth": f"{server.key}:{'0' * 64}", "user_data": '{"id":"1"}'},
        }
    )
    assert (await client.expect("pusher:error"))["data"]["code"] == 4009
    with pytest.raises(websockets.ConnectionClosed):
        await client.recv()
    assert client.close_code == 4009


@pytest.mark.parametrize(
    ("key", "query", "code"),
    [
        ("no-such-key", "?protocol=7", 4001),
        (None, "", 4008),
        (None, "?protocol=seven", 4006),
        (None, "?protocol=2", 4007),
    ],
)
async def test_refused_connections_close_with_pusher_codes(server, key, query, code):
    """Unknown keys and missing or bad protocol versions get pusher:error and the Pusher close code."""
    url = f"ws://{server.host}:{server.port}/app/{key or server.key}{query}"
    async with websockets.connect(url, open_timeout=timeout(5)) as ws:
        error = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
        assert error["event"] == "pusher:error" and error["data"]["code"] == code
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout(5))
    assert ws.close_code == code


async def test_connection_quota_closes_with_4004():
    """Connections beyond an app's max_connections are refused with 4004."""
    async with LocalServer.start(feeds=(), apps=[App(max_connections=1)]) as local:
        first = await RawClient.connect(local)
        url = f"ws://{local.host}:{local.port}/app/{local.key}?protocol=7"
        async with websockets.connect(url) as ws:
            error = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
            assert error["data"]["code"] == 4004
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        assert ws.close_code == 4004
        await first.send({"event": "pusher:ping"})
        assert (await first.recv())["event"] == "pusher:pong"


BAD_FRAMES = [
    ("not json at all", "not JSON"),
    ("[1, 2, 3]", "not an object"),
    ('{"data": {}}', "no event name"),
    ('{"event": "pusher:teleport"}', "Unknown event"),
    ('{"event": "pusher:subscribe", "data": 5}', "needs data"),
    ('{"event": "pusher:subscribe", "data": {"channel": "bad channel!"}}', "characters outside"),
    ('{"event": "pusher:subscribe", "data": {"channel": "' + "a" * 201 + '"}}', "limit is 200"),
    ('{"event": "pusher:subscribe", "data": {"channel": ""}}', "empty"),
    ('{"event": "pusher:unsubscribe", "data": {}}', "needs data"),
    (
        '{"event": "client-x", "channel": "private-x", "data": ' + '"' + "y" * 40_000 + '"}',
        "Frame of",
    ),
]


@pytest.mark.parametrize(("frame", "complaint"), BAD_FRAMES)
async def test_bad_frames_get_pusher_error_and_nothing_else_breaks(server, frame, complaint):
    """Malformed, unknown, oversize and badly named frames get pusher:error; nothing else breaks."""
    bystander = await RawClient.connect(server)
    await bystander.subscribe("news")
    client = await RawClient.connect(server)
    await client.send(frame)
    error = await client.expect("pusher:error")
    assert complaint in error["data"]["message"], error
    await client.subscribe("news")
    await server.trigger("news", "headline", {"n": 1})
    assert (await client.expect("headline", "news"))["data"] == {"n": 1}
    assert (await bystander.expect("headline", "news"))["data"] == {"n": 1}


async def test_binary_frames_are_read_as_text(server):
    """A UTF-8 binary frame is handled like a text frame; other bytes get pusher:error."""
    client = await RawClient.connect(server)
    await client.ws.send(b'{"event":"pusher:ping","data":{}}')
    assert (await client.recv())["event"] == "pusher:pong"
    await client.ws.send(b"\xff\xfe\x00")
    assert "UTF-8" in (await client.expect("pusher:error"))["data"]["message"]


async def test_garbage_never_takes_the_server_down(server):
    """Hundreds of random frames leave the connection, and everyone else, working."""
    rng = random.Random(1234)
    pieces = [
        "{",
        "}",
        '"event"',
        '"pusher:subscribe"',
        '"client-x"',
        '"channel"',
        '"data"',
        ":",
        ",",
        "[",
        "]",
        "null",
        "1e999",
        '"private-x"',
        '"presence-y"',
        '"\\u0000"',
        '{"channel":"private-x","auth":"a:b"}',
        '"channel_data"',
        '"#server-to-user-1"',
    ]
    bystander = await RawClient.connect(server)
    await bystander.subscribe("private-x")
    client = await RawClient.connect(server)
    for _ in range(300):
        if rng.random() < 0.2:
            frame = "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(1, 50)))
        else:
            frame = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        await client.send(frame)
    await client.send({"event": "pusher:ping"})
    await client.expect("pusher:pong", seconds=10)
    assert all(m["event"].startswith("pusher") for m in client.skipped)
    await server.trigger("private-x", "still-here", {"ok": True})
    assert (await bystander.expect("still-here"))["data"] == {"ok": True}


async def test_encrypted_channel_carries_ciphertext(server):
    """server.trigger encrypts for private-encrypted- channels with the app's master key."""
    client = await RawClient.connect(server)
    answer = client.auth_for("private-encrypted-vault")
    await client.subscribe("private-encrypted-vault")
    await server.trigger("private-encrypted-vault", "secret", {"gold": 42})
    got = await client.expect("secret")
    assert set(got["data"]) == {"nonce", "ciphertext"}
    key = crypto.decode_shared_secret(answer["shared_secret"])
    assert json.loads(crypto.decrypt(key, got["data"])) == {"gold": 42}


async def test_socket_id_exclusion_on_trigger(server):
    """A trigger with socket_id skips that socket."""
    first, second = await RawClient.connect(server), await RawClient.connect(server)
    await first.subscribe("feed")
    await second.subscribe("feed")
    await server.trigger("feed", "tick", {"n": 1}, socket_id=first.socket_id)
    assert (await second.expect("tick"))["data"] == {"n": 1}
    assert [m for m in await first.quiet(0.2) if m["event"] == "tick"] == []


async def test_stop_closes_every_socket_with_4200():
    """Stopping the server closes sockets with 4200, and stopping again is harmless."""
    local = await LocalServer.start(feeds=())
    client = await RawClient.connect(local)
    await local.stop()
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await client.recv()
    assert client.close_code == 4200
    await local.stop()


async def test_slow_consumer_is_dropped_without_delaying_others():
    """A socket that stops reading is closed (4100 range); a reading one gets every event."""
    async with LocalServer.start(feeds=(), max_write_buffer=64 * 1024) as local:
        fast = await RawClient.connect(local)
        await fast.subscribe("firehose")
        url = f"ws://{local.host}:{local.port}/app/{local.key}?protocol=7"
        slow = await websockets.connect(
            url, max_queue=1, compression=None, close_timeout=timeout(0.5)
        )
        hello = json.loads(await slow.recv())
        assert hello["event"] == "pusher:connection_established"
        await slow.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "firehose"}}))
        await eventually(lambda: len(local.states[0].channels["firehose"].subscribers) == 2)
        payload = {"blob": "z" * 8000}
        connections = local.states[0].connections
        sent = received = 0
        while len(connections) == 2 and sent < 20_000:  # until kernel buffers are full too
            await local.trigger("firehose", "chunk", payload)
            sent += 1
            while (await fast.recv())["event"] != "chunk":
                pass
            received += 1
        assert received == sent
        assert len(connections) == 1 and fast.socket_id in connections
        await slow.close()


async def test_events_published_together_arrive_in_order(server):
    """Events queued in one pass of the loop reach each subscriber complete and in order."""
    first, second = await RawClient.connect(server), await RawClient.connect(server)
    await first.subscribe("ordered")
    await second.subscribe("ordered")
    for n in range(200):
        server.publish("ordered", "n", {"n": n})
    for client in (first, second):
        got = [(await client.expect("n"))["data"]["n"] for _ in range(200)]
        assert got == list(range(200))
