"""The demo feeds: well-formed events at about their rate, through the ordinary delivery path."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_server_helpers import RawClient

from pusher_nb.errors import ConfigurationError
from pusher_nb.server import FEEDS, LocalServer


async def collect(client: RawClient, event: str, count: int, seconds: float = 10.0) -> list:
    return [await client.expect(event, seconds=seconds) for _ in range(count)]


def test_registry_names_every_feed():
    """FEEDS names the four demo feeds."""
    assert set(FEEDS) == {"crypto", "sports", "geo", "chat"}


async def test_unknown_feed_is_refused_before_listening():
    """An unknown feed name is a ConfigurationError naming the choices."""
    with pytest.raises(ConfigurationError, match="crypto"):
        await LocalServer.start(feeds=("nope",))


async def test_crypto_trades_and_quotes():
    """crypto publishes trades (and quotes) for real-looking pairs, no faster than its rate."""
    async with LocalServer.start(feeds={"crypto": {"rate": 40, "seed": 1}}) as local:
        client = await RawClient.connect(local)
        await client.subscribe("crypto-trades")
        started = time.monotonic()
        trades = [m["data"] for m in await collect(client, "trade", 20)]
        elapsed = time.monotonic() - started
        quote = (await client.expect("quote"))["data"]
    assert elapsed >= 19 / 40 * 0.5  # paced by its rate, not a burst
    for trade in trades:
        assert set(trade) == {"symbol", "price", "size", "side", "ts"}
        assert trade["symbol"] in {"BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD"}
        assert trade["price"] > 0 and trade["size"] > 0 and trade["side"] in ("buy", "sell")
    btc = [t["price"] for t in trades if t["symbol"] == "BTC-USD"]
    assert all(10_000 < price < 1_000_000 for price in btc)
    assert set(quote) == {"symbol", "bid", "ask", "ts"} and quote["bid"] < quote["ask"]


async def test_sports_events_and_late_subscriber_gets_the_score():
    """sports publishes match events, and a late cache subscriber gets the current scoreboard."""
    options = {"rate": 40, "minutes": 5, "seed": 3}
    async with LocalServer.start(feeds={"sports": options}) as local:
        client = await RawClient.connect(local)
        await client.subscribe("sports-events")
        events = [m["data"] for m in await collect(client, "match-event", 10)]
        late = await RawClient.connect(local)
        await late.subscribe("cache-sports-scores")
        first = await late.recv()
    for event in events:
        assert {"match_id", "minute", "period", "type", "home", "away"} <= set(event)
        assert event["period"] in ("1H", "HT", "2H", "FT")
        assert 0 <= event["minute"] <= 90
    assert first["event"] == "scores" and first["channel"] == "cache-sports-scores"
    matches = first["data"]["matches"]
    assert len(matches) == 3
    assert all(isinstance(m["home_score"], int) and m["home"] != m["away"] for m in matches)


async def test_geo_vehicles_on_a_private_channel():
    """geo publishes consistent van positions on a private channel."""
    async with LocalServer.start(feeds={"geo": {"rate": 40, "seed": 5}}) as local:
        client = await RawClient.connect(local)
        await client.send({"event": "pusher:subscribe", "data": {"channel": "private-deliveries"}})
        assert (await client.recv())["event"] == "pusher:subscription_error"
        await client.subscribe("private-deliveries")
        locations = [m["data"] for m in await collect(client, "location", 12)]
    for location in locations:
        assert location["vehicle_id"].startswith("van-")
        assert abs(location["lat"] - 52.52) < 0.1 and abs(location["lon"] - 13.405) < 0.15
        assert 0 <= location["heading"] < 360 and 0 <= location["speed_kmh"] <= 60
        assert location["status"] in ("driving", "at_stop")


async def test_chat_bots_are_members_and_talk():
    """chat bots are presence members that send client-message events with their user_id."""
    options = {"rate": 30, "away_chance": 0.5, "seed": 9}
    async with LocalServer.start(feeds={"chat": options}) as local:
        client = await RawClient.connect(local)
        ok = await client.subscribe("presence-chat", {"user_id": "me", "user_info": {"name": "Me"}})
        members = ok["data"]["presence"]
        bots = {user_id for user_id in members["ids"] if user_id.startswith("bot-")}
        assert bots and "me" in members["ids"]
        message = await client.expect("client-message")
        assert message["user_id"].startswith("bot-")
        assert set(message["data"]) == {"text", "name"}
        await client.expect("pusher_internal:member_removed", seconds=10)
        await client.expect("pusher_internal:member_added", seconds=10)


async def test_feeds_stop_with_the_server():
    """Stopping the server stops its feed tasks."""
    local = await LocalServer.start(feeds=("crypto", "sports", "geo", "chat"))
    tasks = list(local.feeds.values())
    await asyncio.sleep(0.2)
    assert not any(task.done() for task in tasks)
    await local.stop()
    assert all(task.done() for task in tasks)


async def test_feed_on_an_encrypted_channel_is_encrypted():
    """A feed pointed at a private-encrypted- channel publishes ciphertext the subscriber opens."""
    import json

    from test_server_helpers import MASTER_KEY

    from pusher_nb import crypto
    from pusher_nb.server import App

    feeds = {"geo": {"channel": "private-encrypted-deliveries", "rate": 40}}
    app = App(encryption_master_key_base64=MASTER_KEY)
    async with LocalServer.start(feeds=feeds, apps=[app]) as local:
        client = await RawClient.connect(local)
        key = crypto.decode_shared_secret(
            client.auth_for("private-encrypted-deliveries")["shared_secret"]
        )
        await client.subscribe("private-encrypted-deliveries")
        sealed = (await client.expect("location"))["data"]
    assert set(sealed) == {"nonce", "ciphertext"}
    assert json.loads(crypto.decrypt(key, sealed))["vehicle_id"].startswith("van-")


def test_no_team_plays_two_matches_at_once():
    """Every fixture of a new season pairs teams that are not already playing, for many seeds."""
    import random

    from pusher_nb.server.feeds.sports import Season

    for seed in range(200):
        season = Season(random.Random(seed), matches=3)
        teams = [team for match in season.matches for team in (match.home, match.away)]
        assert len(teams) == len(set(teams)), f"seed {seed}: {teams}"


def test_a_van_is_never_driving_at_zero_speed():
    """Leaving a stop, a van reports driving with a real speed, never driving at 0 km/h."""
    import random

    from pusher_nb.server.feeds.geo import Vehicle, make_route

    rng = random.Random(3)
    for number in range(5):
        van = Vehicle(f"van-{number}", "driver", make_route(rng, (51.5, -0.12), 4))
        for _ in range(2000):
            van.move(1.0, rng)
            if van.dwell <= 0:
                assert van.speed_kmh > 0
