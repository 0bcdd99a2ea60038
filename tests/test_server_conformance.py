"""One pusher-js scenario against soketi and against the local server: the clients must agree."""

from __future__ import annotations

import json

import aiohttp
import pytest
from test_server_helpers import MASTER_KEY, PusherJs, node_auth_server

from pusher_nb import auth
from pusher_nb.server import LocalServer

pytestmark = [pytest.mark.node, pytest.mark.soketi]


async def rest_trigger(host, port, app_id, key, secret, channel, event, data) -> None:
    path = f"/apps/{app_id}/events"
    body = json.dumps({"name": event, "channel": channel, "data": json.dumps(data)}).encode()
    params = auth.signed_rest_params(key, secret, "POST", path, body=body)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"http://{host}:{port}{path}",
            params=params,
            data=body,
            headers={"Content-Type": "application/json"},
        ) as response:
            assert response.status == 200, await response.text()


async def scenario(host, port, app_id, key, secret) -> dict[str, list]:
    """Subscribe, trigger over REST, exchange client events, join and leave presence."""
    auth_process, endpoint = await node_auth_server(app_id, key, secret, MASTER_KEY)
    peers = []
    try:
        alice = await PusherJs.connect(host, port, key, endpoint, "alice")
        peers.append(alice)
        for channel in ("conf-public", "private-conf", "presence-conf", "cache-conf"):
            await alice.subscribe(channel)
        await alice.event("cache-conf", "pusher:cache_miss")

        bob = await PusherJs.connect(host, port, key, endpoint, "bob")
        peers.append(bob)
        await bob.subscribe("private-conf")
        await bob.subscribe("presence-conf")
        await alice.event("presence-conf", "pusher:member_added")

        trigger = (host, port, app_id, key, secret)
        await rest_trigger(*trigger, "conf-public", "greet", {"n": 1})
        await alice.event("conf-public", "greet")
        await rest_trigger(*trigger, "private-conf", "greet", {"n": 2})
        await alice.event("private-conf", "greet")
        await bob.event("private-conf", "greet")
        await rest_trigger(*trigger, "cache-conf", "score", {"home": 1, "away": 0})
        await alice.event("cache-conf", "score")

        await bob.command(
            op="client_event", channel="private-conf", event="client-hi", data={"from": "bob"}
        )
        await alice.event("private-conf", "client-hi")
        await bob.command(
            op="client_event", channel="presence-conf", event="client-wave", data={"from": "bob"}
        )
        await alice.event("presence-conf", "client-wave")

        carol = await PusherJs.connect(host, port, key, endpoint, "carol")
        peers.append(carol)
        await carol.subscribe("cache-conf")
        await carol.event("cache-conf", "score")

        await bob.command(op="disconnect")
        await alice.event("presence-conf", "pusher:member_removed")
        return {"alice": normalize(alice), "bob": normalize(bob), "carol": normalize(carol)}
    finally:
        for peer in peers:
            await peer.stop()
        await auth_process.stop()


def normalize(peer: PusherJs) -> list:
    """What a client saw, minus what legitimately differs between servers.

    soketi sends no subscription counts, and no data with a non-presence subscription_succeeded
    (the local server sends "{}", as Pusher does).
    """
    seen = []
    for line in peer.events():
        data = line.get("data")
        if line["event"] == "pusher:subscription_succeeded" and data in (None, {}):
            data = {}
        seen.append((line["channel"], line["event"], data, line["user_id"]))
    return seen


async def test_local_server_matches_soketi(soketi):
    """pusher-js clients see the same events, in the same order, from soketi and the local server."""
    from_soketi = await scenario(soketi.host, soketi.port, soketi.app_id, soketi.key, soketi.secret)
    async with LocalServer.start(feeds=()) as local:
        from_local = await scenario(local.host, local.port, local.app_id, local.key, local.secret)
    assert from_local == from_soketi
    assert ("presence-conf", "client-wave", {"from": "bob"}, "bob") in from_local["alice"]
