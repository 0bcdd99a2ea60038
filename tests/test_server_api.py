"""The LocalServer API: apps, reprs without secrets, heartbeats, limits, and its own Client."""

from __future__ import annotations

import asyncio
import logging

import pytest
import websockets
from support import eventually, timeout
from test_server_helpers import MASTER_KEY, RawClient

from pusher_nb import auth
from pusher_nb.errors import ConfigurationError
from pusher_nb.server import App, LocalServer

SECRET = "s3cret-value-never-shown"


def test_reprs_hide_secrets():
    """Neither an App's nor a server's repr shows the secret or the master key."""
    app = App(app_id="1", key="k", secret=SECRET, encryption_master_key_base64=MASTER_KEY)
    server = LocalServer([app])
    for text in (repr(app), repr(server), str(app)):
        assert SECRET not in text and MASTER_KEY not in text


def test_app_validation():
    """Malformed apps and duplicate ids are refused with a clear error."""
    with pytest.raises(ConfigurationError, match="secret"):
        App(secret="")
    with pytest.raises(ConfigurationError, match="master key"):
        App(encryption_master_key_base64="not base64!")
    with pytest.raises(ConfigurationError, match="app_id"):
        LocalServer([App(key="a"), App(key="b")])


async def test_no_secret_in_logs_at_any_level(caplog):
    """A busy session logged at DEBUG never mentions the secret."""
    caplog.set_level(logging.DEBUG)
    app = App(secret=SECRET, encryption_master_key_base64=MASTER_KEY)
    async with LocalServer.start(feeds=("chat",), apps=[app]) as local:
        client = await RawClient.connect(local)
        await client.subscribe("private-x")
        await client.send(
            {"event": "pusher:subscribe", "data": {"channel": "private-y", "auth": "app-key:bad"}}
        )
        signin = auth.user_signin(local.key, local.secret, client.socket_id, {"id": "1"})
        await client.send({"event": "pusher:signin", "data": signin})
        await client.expect("pusher:signin_success")
        await client.close()
    assert caplog.records
    assert not [
        r for r in caplog.records if SECRET in r.getMessage() or MASTER_KEY in r.getMessage()
    ]


async def test_apps_are_isolated():
    """Two apps on one server share a port but not channels, keys or secrets."""
    apps = [
        App(app_id="1", key="key-one", secret="one"),
        App(app_id="2", key="key-two", secret="two"),
    ]
    async with LocalServer.start(feeds=(), apps=apps) as local:
        one = await RawClient.connect(local)
        url = f"ws://{local.host}:{local.port}/app/key-two?protocol=7"
        async with websockets.connect(url) as ws:
            two = RawClient(ws, local)
            hello = await two.recv()
            two.socket_id = hello["data"]["socket_id"]
            await one.subscribe("shared-name")
            await two.subscribe("shared-name")
            await local.trigger("shared-name", "for-one", {"app": 1})
            await local.trigger("shared-name", "for-two", {"app": 2}, app_id="2")
            assert (await one.expect("for-one"))["data"] == {"app": 1}
            assert (await two.expect("for-two"))["data"] == {"app": 2}
            assert not [m for m in one.skipped + await one.quiet(0.2) if m["event"] == "for-two"]
            signed_with_app_one = auth.channel_auth("key-two", "one", two.socket_id, "private-z")
            await two.send(
                {
                    "event": "pusher:subscribe",
                    "data": {"channel": "private-z", **signed_with_app_one},
                }
            )
            assert (await two.expect("pusher:subscription_error"))["data"]["status"] == 401


async def test_presence_member_limit():
    """A presence channel refuses members beyond the app's max_presence_members."""
    async with LocalServer.start(feeds=(), apps=[App(max_presence_members=2)]) as local:
        clients = [await RawClient.connect(local) for _ in range(3)]
        await clients[0].subscribe("presence-small", {"user_id": "a"})
        await clients[1].subscribe("presence-small", {"user_id": "b"})
        await clients[2].send(
            {
                "event": "pusher:subscribe",
                "data": {
                    "channel": "presence-small",
                    **clients[2].auth_for("presence-small", {"user_id": "c"}),
                },
            }
        )
        refused = await clients[2].expect("pusher:subscription_error")
        assert refused["data"]["type"] == "LimitReached"
        ok = await clients[2].subscribe("presence-small", {"user_id": "a"})  # an existing member
        assert ok["data"]["presence"]["count"] == 2


async def test_repeated_subscribe_is_confirmed_without_side_effects():
    """Subscribing twice confirms twice and announces nothing new to others."""
    async with LocalServer.start(feeds=()) as local:
        watcher, client = await RawClient.connect(local), await RawClient.connect(local)
        await watcher.subscribe("presence-twice", {"user_id": "w"})
        await client.subscribe("presence-twice", {"user_id": "c"})
        await watcher.expect("pusher_internal:member_added")
        again = await client.subscribe("presence-twice", {"user_id": "c"})
        assert again["data"]["presence"]["count"] == 2
        assert [m for m in await watcher.quiet(0.2) if "member" in m["event"]] == []


async def test_quiet_socket_is_pinged_then_closed_with_4201():
    """A socket that says nothing gets pusher:ping, then is closed with 4201; a talker stays."""
    async with LocalServer.start(feeds=(), activity_timeout=1, pong_timeout=0.3) as local:
        quiet, talker = await RawClient.connect(local), await RawClient.connect(local)

        async def keep_talking():
            while True:
                await talker.send({"event": "pusher:ping"})
                await asyncio.sleep(0.2)

        chatter = asyncio.get_running_loop().create_task(keep_talking())
        try:
            assert (await quiet.expect("pusher:ping", seconds=5))["event"] == "pusher:ping"
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await quiet.recv(5)
            assert quiet.close_code == 4201
            assert talker.socket_id in local.states[0].connections
        finally:
            chatter.cancel()


async def test_pong_reply_keeps_a_quiet_socket():
    """Answering the server's pusher:ping with pusher:pong keeps the socket open."""
    async with LocalServer.start(feeds=(), activity_timeout=1, pong_timeout=0.3) as local:
        client = await RawClient.connect(local)
        for _ in range(2):
            await client.expect("pusher:ping", seconds=5)
            await client.send({"event": "pusher:pong", "data": {}})
        assert client.socket_id in local.states[0].connections


async def test_trigger_validates_like_rest():
    """server.trigger refuses what REST would refuse, with the same message."""
    async with LocalServer.start(feeds=()) as local:
        with pytest.raises(ConfigurationError, match="characters"):
            await local.trigger("bad channel", "e", {})
        with pytest.raises(ConfigurationError, match="limit"):
            await local.trigger("ok", "e", "x" * 20_000)
        with pytest.raises(ConfigurationError, match="master key"):
            await local.trigger("private-encrypted-x", "e", {})


async def test_server_client_round_trip():
    """server.client() is a pusher_nb.Client wired to the server: subscribe, receive, REST."""
    async with LocalServer.start(feeds=()) as local:
        client = local.client()
        got = asyncio.get_running_loop().create_future()
        async with client:
            channel = await client.subscribe("private-wired")
            channel.bind("ping", lambda event: got.done() or got.set_result(event))
            await client.trigger("private-wired", "ping", {"n": 1})
            event = await asyncio.wait_for(got, timeout(5))
            assert event.data == {"n": 1}
            await eventually(lambda: local.states[0].channels.get("private-wired"))


async def test_disabled_app_refuses_sockets_and_rest():
    """A disabled app closes sockets with 4003 and answers REST with 403."""
    import json

    import aiohttp

    app = App(app_id="7", enabled=False)
    async with LocalServer.start(feeds=(), apps=[app]) as local:
        url = f"ws://{local.host}:{local.port}/app/{local.key}?protocol=7"
        async with websockets.connect(url) as ws:
            error = json.loads(await asyncio.wait_for(ws.recv(), timeout(5)))
            assert error["data"]["code"] == 4003
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        assert ws.close_code == 4003
        path = "/apps/7/channels"
        params = auth.signed_rest_params(local.key, local.secret, "GET", path)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{local.url}{path}", params=params) as response:
                assert response.status == 403
                assert (await response.json())["code"] == 403
