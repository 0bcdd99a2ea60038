"""The asyncio Client against a real soketi: every channel type, client events, presence, REST."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import websockets
from aiohttp import web
from support import Soketi, collect, eventually, timeout

import pusher_nb
from pusher_nb import auth
from pusher_nb.errors import (
    ClientEventError,
    ConfigurationError,
    InvalidChannelName,
    PayloadTooLarge,
    RestError,
    SubscriptionError,
)

MASTER_KEY = "OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk="


@pytest.fixture
async def connect(soketi):
    """Open clients against the session's soketi; all are closed after the test."""
    clients = []

    async def open_client(**overrides):
        settings = {**soketi.connection(), "encryption_master_key_base64": MASTER_KEY, **overrides}
        client = pusher_nb.Client(soketi.key, **settings)
        clients.append(client)
        await client.connect()
        return client

    yield open_client
    for client in clients:
        await client.close()


@pytest.mark.parametrize(
    "channel_name",
    ["soketi-public", "private-soketi", "presence-soketi", "private-encrypted-soketi"],
)
async def test_every_channel_type_receives_a_rest_trigger(connect, channel_name):
    """A REST trigger reaches a subscriber on public, private, presence and encrypted channels."""
    client = await connect(user_data={"user_id": "alice", "user_info": {"name": "Alice"}})
    channel = await client.subscribe(channel_name)
    assert channel.subscribed and client.state == "connected"
    received = collect(channel, "update")
    await client.trigger(channel_name, "update", {"n": 1, "text": "hé"})
    await eventually(lambda: received)
    event = received[0]
    assert (event.event, event.channel, event.data) == ("update", channel_name, {"n": 1, "text": "hé"})


async def test_client_events_between_two_clients(connect):
    """A client event reaches the other subscriber and is not echoed to the sender."""
    alice = await connect()
    bob = await connect()
    a_channel = await alice.subscribe("private-chat-soketi")
    b_channel = await bob.subscribe("private-chat-soketi")
    a_seen, b_seen = collect(a_channel), collect(b_channel)
    await a_channel.trigger("client-typing", {"on": True})
    await eventually(lambda: [e for e in b_seen if e.event == "client-typing"])
    assert [e.data for e in b_seen if e.event == "client-typing"] == [{"on": True}]
    await asyncio.sleep(timeout(0.2))
    assert not [e for e in a_seen if e.event == "client-typing"]


async def test_presence_join_and_leave_seen_by_a_third_client(connect):
    """A watcher sees two members join and one leave, with user_info, and the count follows."""
    watcher = await connect(user_data={"user_id": "watcher"})
    room = await watcher.subscribe("presence-lobby-soketi")
    assert room.members.me == ("watcher", None)
    joined, left = collect(room, "pusher:member_added"), collect(room, "pusher:member_removed")
    ann = await connect(user_data={"user_id": "ann", "user_info": {"name": "Ann"}})
    bob = await connect(user_data={"user_id": "bob", "user_info": {"name": "Bob"}})
    ann_room = await ann.subscribe("presence-lobby-soketi")
    await bob.subscribe("presence-lobby-soketi")
    await eventually(lambda: len(joined) == 2)
    assert room.members == {"watcher": None, "ann": {"name": "Ann"}, "bob": {"name": "Bob"}}
    assert ann_room.members.count == 2 or ann_room.members.count == 3
    await bob.close()
    await eventually(lambda: left)
    assert left[0].data == {"user_id": "bob"}
    assert set(room.members) == {"watcher", "ann"}
    presence_client_event = collect(ann_room, "client-wave")
    await room.trigger("client-wave", {"hi": 1})
    await eventually(lambda: presence_client_event)
    assert presence_client_event[0].user_id == "watcher"


async def test_encrypted_round_trip_carries_only_ciphertext(connect, soketi):
    """The notebook sees plaintext while a raw subscriber on soketi sees only nonce and ciphertext."""
    client = await connect()
    channel = await client.subscribe("private-encrypted-secret-soketi")
    received = collect(channel, "note")
    url = f"ws://{soketi.host}:{soketi.port}/app/{soketi.key}?protocol=7"
    async with websockets.connect(url) as raw:
        socket_id = json.loads(json.loads(await raw.recv())["data"])["socket_id"]
        signed = auth.channel_auth(soketi.key, soketi.secret, socket_id,
                                   "private-encrypted-secret-soketi", master_key=b"k" * 32)
        await raw.send(json.dumps({"event": "pusher:subscribe", "data": {
            "channel": "private-encrypted-secret-soketi", "auth": signed["auth"]}}))
        while json.loads(await raw.recv())["event"] != "pusher_internal:subscription_succeeded":
            pass
        await client.trigger("private-encrypted-secret-soketi", "note", {"plain": "text-42"})
        wire = json.loads(await asyncio.wait_for(raw.recv(), timeout(5)))
    assert "text-42" not in json.dumps(wire)
    assert set(json.loads(wire["data"])) == {"nonce", "ciphertext"}
    await eventually(lambda: received)
    assert received[0].data == {"plain": "text-42"}


async def test_wrong_master_key_surfaces_a_decryption_error(connect):
    """An event encrypted with another master key becomes a visible decryption_error, not a drop."""
    reader = await connect(encryption_master_key_base64="QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    channel = await reader.subscribe("private-encrypted-mismatch-soketi")
    seen = collect(channel)
    errors = []
    reader.connection.bind("error", errors.append)
    writer = await connect()
    await writer.trigger("private-encrypted-mismatch-soketi", "note", {"x": 1})
    await eventually(lambda: [e for e in seen if e.event == "pusher:decryption_error"])
    failure = next(e for e in seen if e.event == "pusher:decryption_error")
    assert failure.data["event"] == "note"
    assert errors and "decrypt" in errors[-1].data["message"]


async def test_rest_queries(connect):
    """trigger, trigger_batch, channels, channel_info and users answer as soketi knows them."""
    client = await connect(user_data={"user_id": "rest-user"})
    room = await client.subscribe("presence-rest-soketi")
    ticker = await client.subscribe("rest-public-soketi")
    received = collect(ticker, "tick")
    await client.trigger_batch(
        [{"channel": "rest-public-soketi", "name": "tick", "data": {"i": i}} for i in range(3)]
    )
    await eventually(lambda: len(received) == 3)
    assert [e.data["i"] for e in received] == [0, 1, 2]
    channels = await client.channels(prefix="presence-rest")
    assert "presence-rest-soketi" in channels
    info = await client.channel_info("presence-rest-soketi", ["user_count", "subscription_count"])
    assert info["occupied"] is True and info["user_count"] == 1
    assert await client.users("presence-rest-soketi") == ["rest-user"]
    assert room.members.count == 1


async def test_socket_id_exclusion(connect):
    """A trigger with the subscriber's own socket_id is not delivered back to it."""
    client = await connect()
    channel = await client.subscribe("exclusion-soketi")
    received = collect(channel, "e")
    await client.trigger("exclusion-soketi", "e", {"skip": True}, socket_id=client.socket_id)
    await client.trigger("exclusion-soketi", "e", {"skip": False})
    await eventually(lambda: received)
    await asyncio.sleep(timeout(0.2))
    assert [e.data for e in received] == [{"skip": False}]


async def test_refused_auth_raises_subscription_error(connect):
    """A forged signature is refused by soketi and raises SubscriptionError with its reason."""
    client = await connect(authorizer=lambda socket_id, channel: {"auth": "app-key:" + "0" * 64})
    with pytest.raises(SubscriptionError) as caught:
        await client.subscribe("private-refused-soketi")
    assert caught.value.channel == "private-refused-soketi"
    assert "private-refused-soketi" not in client.subscriptions
    assert client.state == "connected"


async def test_http_auth_endpoint_with_headers(connect, soketi, unused_tcp_port):
    """An HTTP authorizer posts socket_id and channel_name with custom headers, as pusher-js does."""
    seen = []

    async def authorize(request):
        form = await request.post()
        seen.append((request.headers.get("X-Token"), form["channel_name"]))
        return web.json_response(auth.channel_auth(
            soketi.key, soketi.secret, form["socket_id"], form["channel_name"]))

    app = web.Application()
    app.router.add_post("/pusher/auth", authorize)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    try:
        client = await connect(
            secret=None, app_id=None,
            auth_endpoint=f"http://127.0.0.1:{unused_tcp_port}/pusher/auth",
            auth_headers={"X-Token": "t-1"},
        )
        channel = await client.subscribe("private-http-auth-soketi")
        assert channel.subscribed
        assert seen == [("t-1", "private-http-auth-soketi")]
    finally:
        await runner.cleanup()


async def test_async_callable_authorizer(connect, soketi):
    """Any async callable can authorize."""
    async def authorizer(socket_id, channel_name):
        await asyncio.sleep(0)
        return auth.channel_auth(soketi.key, soketi.secret, socket_id, channel_name)

    client = await connect(secret=None, authorizer=authorizer)
    assert (await client.subscribe("private-callable-soketi")).subscribed


async def test_bad_input_raises_before_sending(connect, soketi):
    """Bad names, oversize data, misplaced client events and missing auth fail before sending."""
    client = await connect()
    public = await client.subscribe("bad-input-public-soketi")
    private = await client.subscribe("private-bad-input-soketi")
    with pytest.raises(InvalidChannelName, match="outside"):
        await client.subscribe("no spaces")
    with pytest.raises(ClientEventError, match="private and presence"):
        await public.trigger("client-x", {})
    with pytest.raises(ClientEventError, match="client-"):
        await private.trigger("typing", {})
    with pytest.raises(PayloadTooLarge, match="limit is 10240"):
        await private.trigger("client-big", "x" * 20000)
    with pytest.raises(PayloadTooLarge):
        await client.trigger("bad-input-public-soketi", "big", "x" * 20000)
    listen_only = await connect(secret=None, app_id=None)
    with pytest.raises(ConfigurationError, match="needs authorization"):
        await listen_only.subscribe("private-needs-auth")
    with pytest.raises(ConfigurationError, match="app_id"):
        await listen_only.trigger("x", "y", {})
    with pytest.raises(ConfigurationError, match="user_data"):
        await client.subscribe("presence-without-user")
    assert client.state == "connected" and private.subscribed


async def test_client_event_rate_limit(connect):
    """The eleventh client event within a second is refused locally, not sent."""
    client = await connect()
    channel = await client.subscribe("private-rate-soketi")
    for i in range(10):
        await channel.trigger("client-n", {"i": i})
    with pytest.raises(ClientEventError, match="10 per second"):
        await channel.trigger("client-n", {"i": 10})
    assert client.state == "connected"


async def test_rest_error_carries_status_and_body(connect):
    """A REST call with the wrong secret raises RestError with soketi's status and body."""
    client = await connect(secret="wrong-secret")
    with pytest.raises(RestError) as caught:
        await client.trigger("anything", "e", {})
    assert caught.value.status == 401 and "auth" in caught.value.body.lower()


async def test_user_signin():
    """pusher:signin with a locally signed user answers with the user's data."""
    signing_soketi = Soketi({"SOKETI_DEFAULT_APP_USER_AUTHENTICATION": "true"}).start()
    try:
        async with pusher_nb.Client(
            signing_soketi.key, **signing_soketi.connection(),
            user_data={"user_id": "signed-user", "user_info": {"role": "ops"}},
        ) as client:
            user = await client.signin()
            assert user["id"] == "signed-user" and user["user_info"] == {"role": "ops"}
            assert client.user == user
    finally:
        await asyncio.to_thread(signing_soketi.stop)


async def test_cache_channel_miss_then_replay(connect):
    """An empty cache channel answers cache_miss; a later subscriber gets the last event replayed."""
    first = await connect()
    misses = []
    first.bind("pusher:cache_miss", misses.append)
    await first.subscribe("cache-score-soketi")
    await eventually(lambda: misses)
    assert misses[0].channel == "cache-score-soketi"
    await first.trigger("cache-score-soketi", "score", {"home": 2, "away": 1})
    second = await connect()
    replayed = []
    late = await second.subscribe("cache-score-soketi")
    late.bind("score", replayed.append)  # bound after subscribe(): the replay still reaches it
    await eventually(lambda: replayed)
    assert replayed[0].data == {"home": 2, "away": 1}


async def test_reconnects_and_resubscribes_after_soketi_restarts(fresh_soketi):
    """soketi stopped and started on the same port: the client reconnects, resubscribes, receives."""
    client = pusher_nb.Client(fresh_soketi.key, **fresh_soketi.connection(),
                              user_data={"user_id": "phoenix"}, max_backoff=1.0)
    states = []
    client.connection.bind("state_change", lambda e: states.append(e.data["current"]))
    async with client:
        public = await client.subscribe("restart-public")
        private = await client.subscribe("private-restart")
        room = await client.subscribe("presence-restart")
        received = collect(public, "after")
        first_socket, first_epoch = client.socket_id, client.stats.connection_epoch
        await asyncio.to_thread(fresh_soketi.stop)
        await eventually(lambda: client.state != "connected", seconds=10)
        await asyncio.to_thread(fresh_soketi.start)
        await eventually(lambda: client.state == "connected" and public.subscribed
                         and private.subscribed and room.subscribed, seconds=30)
        assert client.socket_id != first_socket
        assert client.stats.connection_epoch == first_epoch + 1
        assert room.members == {"phoenix": None}
        await client.trigger("restart-public", "after", {"ok": True})
        await eventually(lambda: received)
    assert "connecting" in states and states[-1] == "disconnected"
    assert client.stats.reconnects >= 1


async def test_http_session_closed_after_close(connect):
    """close() releases the REST session, so no aiohttp warnings leak."""
    client = await connect()
    await client.channels()
    session = client.rest._session
    await client.close()
    assert isinstance(session, aiohttp.ClientSession) and session.closed
