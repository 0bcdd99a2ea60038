"""The local server's REST API, through the official `pusher` library and raw signed requests."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pusher
import pytest
from support import eventually
from test_server_helpers import MASTER_KEY, RawClient, local_server

from pusher_nb import auth, crypto

ALICE = {"user_id": "alice", "user_info": {"name": "Alice"}}


@pytest.fixture
async def server():
    """A local server whose app id is numeric, as pusher-http-python insists."""
    async with local_server(app_id="4242") as local:
        yield local


def official(local, **options) -> pusher.Pusher:
    return pusher.Pusher(
        app_id=local.app_id,
        key=local.key,
        secret=local.secret,
        host=local.host,
        port=local.port,
        ssl=False,
        **options,
    )


async def call(function, *args, **kwargs):
    """The official library blocks; run it off the loop the server lives on."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def signed(
    local, method, path, params=None, body=None, timestamp=None, secret=None, tamper=None,
    clock_offset=None,
):
    """A raw REST request signed with auth.py; ``tamper`` edits the params after signing.

    ``clock_offset`` signs with a timestamp that many seconds off the clock at sending time.
    """
    if clock_offset is not None:
        timestamp = int(time.time()) + clock_offset
    raw = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    query = auth.signed_rest_params(
        local.key, secret or local.secret, method, path, params, raw, timestamp
    )
    if tamper:
        tamper(query)
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method,
            f"{local.url}{path}",
            params=query,
            data=raw,
            headers={"Content-Type": "application/json"},
        ) as response:
            return response.status, await response.json()


async def test_trigger_reaches_subscribers_of_every_channel(server):
    """pusher.trigger to a list of channels reaches each channel's subscribers."""
    first, second = await RawClient.connect(server), await RawClient.connect(server)
    await first.subscribe("alpha")
    await second.subscribe("beta")
    result = await call(official(server).trigger, ["alpha", "beta"], "news", {"n": 1})
    assert result == {}
    assert (await first.expect("news", "alpha"))["data"] == {"n": 1}
    assert (await second.expect("news", "beta"))["data"] == {"n": 1}


async def test_trigger_excludes_socket_id(server):
    """A trigger's socket_id is left out of the delivery."""
    first, second = await RawClient.connect(server), await RawClient.connect(server)
    await first.subscribe("gamma")
    await second.subscribe("gamma")
    await call(official(server).trigger, "gamma", "news", "plain text", first.socket_id)
    assert (await second.expect("news"))["data"] == "plain text"
    assert [m for m in await first.quiet(0.2) if m["event"] == "news"] == []


async def test_trigger_with_info_reports_channel_attributes(server):
    """info=user_count,subscription_count on a trigger answers with the channels' attributes."""
    client = await RawClient.connect(server)
    await client.subscribe("presence-lobby", ALICE)
    await client.subscribe("plain")
    body = {
        "name": "e",
        "data": "{}",
        "channels": ["presence-lobby", "plain"],
        "info": "user_count,subscription_count",
    }
    status, answer = await signed(server, "POST", f"/apps/{server.app_id}/events", body=body)
    assert status == 200
    assert answer == {
        "channels": {
            "presence-lobby": {"user_count": 1, "subscription_count": 1},
            "plain": {"subscription_count": 1},
        }
    }


async def test_trigger_batch(server):
    """trigger_batch delivers each event to its channel."""
    client = await RawClient.connect(server)
    await client.subscribe("b1")
    await client.subscribe("b2")
    await call(
        official(server).trigger_batch,
        [
            {"channel": "b1", "name": "one", "data": {"n": 1}},
            {"channel": "b2", "name": "two", "data": {"n": 2}},
        ],
    )
    assert (await client.expect("one", "b1"))["data"] == {"n": 1}
    assert (await client.expect("two", "b2"))["data"] == {"n": 2}


async def test_encrypted_trigger_from_official_library(server):
    """The official library encrypts for private-encrypted- channels; subscribers can open it."""
    client = await RawClient.connect(server)
    answer = client.auth_for("private-encrypted-box")
    await client.subscribe("private-encrypted-box")
    lib = official(server, encryption_master_key_base64=MASTER_KEY)
    await call(lib.trigger, "private-encrypted-box", "sealed", {"pin": 1234})
    got = await client.expect("sealed")
    key = crypto.decode_shared_secret(answer["shared_secret"])
    assert json.loads(crypto.decrypt(key, got["data"])) == {"pin": 1234}


async def test_channels_info_lists_occupied_channels(server):
    """channels_info lists occupied channels, filtered by prefix, with user_count for presence."""
    client = await RawClient.connect(server)
    await client.subscribe("presence-one", ALICE)
    await client.subscribe("public-one")
    lib = official(server)
    everything = await call(lib.channels_info)
    assert set(everything["channels"]) == {"presence-one", "public-one"}
    presence = await call(lib.channels_info, "presence-", ["user_count"])
    assert presence == {"channels": {"presence-one": {"user_count": 1}}}


async def test_channel_info_and_users(server):
    """channel_info and users_info describe one channel."""
    alice, bob = await RawClient.connect(server), await RawClient.connect(server)
    await alice.subscribe("presence-two", ALICE)
    await bob.subscribe("presence-two", {"user_id": "bob"})
    lib = official(server)
    info = await call(lib.channel_info, "presence-two", ["user_count", "subscription_count"])
    assert info == {"occupied": True, "user_count": 2, "subscription_count": 2}
    users = await call(lib.users_info, "presence-two")
    assert sorted(user["id"] for user in users["users"]) == ["alice", "bob"]
    assert await call(lib.channel_info, "nobody-here") == {"occupied": False}


async def test_channel_info_cache(server):
    """info=cache shows a cache channel's last event."""
    await server.trigger("cache-weather", "forecast", {"sky": "clear"})
    status, answer = await signed(
        server, "GET", f"/apps/{server.app_id}/channels/cache-weather", {"info": "cache"}
    )
    assert status == 200 and answer["occupied"] is False
    assert answer["cache"]["event"] == "forecast"
    assert json.loads(answer["cache"]["data"]) == {"sky": "clear"}


async def test_terminate_user_connections(server):
    """terminate_user_connections closes every socket the user signed in on."""
    client = await RawClient.connect(server)
    signin = auth.user_signin(server.key, server.secret, client.socket_id, {"id": "u-7"})
    await client.send({"event": "pusher:signin", "data": signin})
    await client.expect("pusher:signin_success")
    bystander = await RawClient.connect(server)
    await call(official(server).terminate_user_connections, "u-7")
    await eventually(lambda: client.socket_id not in server.states[0].connections)
    assert bystander.socket_id in server.states[0].connections


async def test_send_to_user(server):
    """send_to_user reaches the user's #server-to-user channel."""
    client = await RawClient.connect(server)
    signin = auth.user_signin(server.key, server.secret, client.socket_id, {"id": "42"})
    await client.send({"event": "pusher:signin", "data": signin})
    await client.expect("pusher:signin_success")
    await client.subscribe("#server-to-user-42", signed=False)
    await call(official(server).send_to_user, "42", "note", {"hello": "you"})
    assert (await client.expect("note"))["data"] == {"hello": "you"}


async def test_get_accepts_with_and_without_empty_body_md5(server):
    """A GET signs the same with or without body_md5 of the empty body."""
    path = f"/apps/{server.app_id}/channels"
    status, _ = await signed(server, "GET", path, body=b"")
    assert status == 200  # body_md5 of b"" included
    status, _ = await signed(server, "GET", path)
    assert status == 200


@pytest.mark.parametrize(
    ("kwargs", "status", "complaint"),
    [
        ({"clock_offset": -601}, 401, "auth_timestamp"),
        ({"clock_offset": +700}, 401, "auth_timestamp"),
        ({"secret": "wrong-secret"}, 401, "auth_signature"),
        ({"tamper": lambda q: q.update(body_md5="0" * 32)}, 401, "body_md5"),
        ({"tamper": lambda q: q.update(auth_key="other")}, 401, "auth_key"),
        ({"tamper": lambda q: q.pop("auth_signature")}, 401, "auth_signature"),
    ],
)
async def test_bad_signatures_get_401(server, kwargs, status, complaint):
    """Stale timestamps, wrong secrets and tampered params are refused with 401 and a reason."""
    body = {"name": "e", "data": "{}", "channel": "x"}
    got, answer = await signed(server, "POST", f"/apps/{server.app_id}/events", body=body, **kwargs)
    assert got == status and answer["code"] == status
    assert complaint in answer["error"]


@pytest.mark.parametrize(
    ("body", "status", "complaint"),
    [
        (b"not json", 400, "not JSON"),
        ({"name": "e", "data": "x"}, 400, "channels"),
        ({"name": "e", "channels": ["a"]}, 400, "data"),
        ({"data": "x", "channel": "a"}, 400, "event name"),
        ({"name": "e", "data": "x", "channels": [f"c{n}" for n in range(101)]}, 400, "100"),
        ({"name": "e", "data": "x", "channel": "bad channel"}, 400, "characters"),
        ({"name": "e", "data": "x", "channels": ["private-encrypted-a", "b"]}, 400, "encrypted"),
        ({"name": "e", "data": "x", "channel": "a", "socket_id": "nope"}, 400, "socket_id"),
        ({"name": "e", "data": "x" * (10 * 1024 + 1), "channel": "a"}, 413, "limit"),
    ],
)
async def test_bad_triggers(server, body, status, complaint):
    """Bad trigger bodies get 400 (or 413 for oversize data) with a JSON error naming the problem."""
    got, answer = await signed(server, "POST", f"/apps/{server.app_id}/events", body=body)
    assert (got, answer["code"]) == (status, status)
    assert complaint in answer["error"], answer


async def test_batch_limits(server):
    """A batch of more than 10 events is refused whole; nothing from it is delivered."""
    client = await RawClient.connect(server)
    await client.subscribe("batched")
    batch = [{"name": "e", "data": "{}", "channel": "batched"} for _ in range(11)]
    status, answer = await signed(
        server, "POST", f"/apps/{server.app_id}/batch_events", body={"batch": batch}
    )
    assert status == 400 and "10" in answer["error"]
    bad = batch[:2] + [{"name": "e", "data": "{}", "channel": "bad name"}]
    status, _ = await signed(
        server, "POST", f"/apps/{server.app_id}/batch_events", body={"batch": bad}
    )
    assert status == 400
    assert [m for m in await client.quiet(0.2) if m["event"] == "e"] == []


async def test_unknown_app_route_and_method(server):
    """Unknown apps and paths get 404, wrong methods 405, all as JSON."""
    status, answer = await signed(server, "GET", "/apps/no-such-app/channels")
    assert (status, answer["code"]) == (404, 404)
    status, answer = await signed(server, "GET", f"/apps/{server.app_id}/nothing")
    assert status == 404
    status, answer = await signed(server, "GET", f"/apps/{server.app_id}/events")
    assert (status, answer["code"]) == (405, 405)


async def test_channel_queries_validate(server):
    """user_count needs a presence channel or prefix; users needs a presence channel."""
    base = f"/apps/{server.app_id}"
    status, answer = await signed(server, "GET", f"{base}/channels", {"info": "user_count"})
    assert status == 400 and "presence-" in answer["error"]
    status, _ = await signed(server, "GET", f"{base}/channels/public-x", {"info": "user_count"})
    assert status == 400
    status, _ = await signed(server, "GET", f"{base}/channels/public-x/users")
    assert status == 400


async def test_huge_body_gets_json_413(server):
    """A body beyond the server's request limit is refused with a JSON 413."""
    body = b'{"name":"e","channel":"a","data":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    status, answer = await signed(server, "POST", f"/apps/{server.app_id}/events", body=body)
    assert (status, answer["code"]) == (413, 413)


async def test_terminate_connections_on_documented_path(server):
    """POST /apps/ID/users/USER/terminate_connections closes that user's sockets."""
    client = await RawClient.connect(server)
    signin = auth.user_signin(server.key, server.secret, client.socket_id, {"id": "u-8"})
    await client.send({"event": "pusher:signin", "data": signin})
    await client.expect("pusher:signin_success")
    status, answer = await signed(
        server, "POST", f"/apps/{server.app_id}/users/u-8/terminate_connections", body={}
    )
    assert (status, answer) == (200, {})
    assert (await client.expect("pusher:error"))["data"]["code"] == 4009
