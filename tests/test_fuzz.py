"""Random and mutated input, with hypothesis: nothing crashes, nothing hangs, others are served.

The client's frame handling is fed directly (it needs no socket); the local server is fed over
real sockets and the REST API over real HTTP, with a bystander connection that must keep working.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import eventually, timeout

import pusher_nb
from pusher_nb import auth
from pusher_nb.incoming import IncomingDispatcher
from pusher_nb.protocol import FrameError, decode_frame

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
event_names = st.sampled_from([
    "pusher:connection_established", "pusher:error", "pusher:ping", "pusher:pong",
    "pusher:signin_success", "pusher:subscription_error", "pusher:cache_miss",
    "pusher_internal:subscription_succeeded", "pusher_internal:member_added",
    "pusher_internal:member_removed", "pusher_internal:subscription_count",
    "trade", "client-x", "",
]) | st.text(max_size=30)
frames = st.fixed_dictionaries(
    {"event": event_names},
    optional={
        "channel": st.sampled_from(["prices", "presence-room", "private-encrypted-x"]) | json_values,
        "data": json_values | json_values.map(json.dumps),
        "user_id": json_values,
    },
).map(json.dumps)


def mutate(text: str, data: st.DataObject) -> str:
    position = data.draw(st.integers(0, max(0, len(text) - 1)))
    replacement = data.draw(st.text(max_size=3))
    return text[:position] + replacement + text[position + 1:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_decode_frame_only_ever_raises_frame_error(text):
    """Arbitrary text or bytes either decode to an Event or raise FrameError."""
    try:
        event = decode_frame(text)
    except FrameError:
        return
    assert isinstance(event.event, str) and event.event


class Harness:
    """A client that is never connected, whose dispatcher is fed frames directly."""

    def __init__(self):
        self.client = pusher_nb.Client(
            "key", host="127.0.0.1", port=1, tls=False, secret="s",
            user_data={"user_id": "me"},
            encryption_master_key_base64="OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk=",
        )
        self.client._connected_event = asyncio.Event()
        for name in ("prices", "presence-room", "private-encrypted-x"):
            channel = pusher_nb.client.channel_class(pusher_nb.protocol.channel_kind(name))(name, self.client)
            channel.subscribed = True
            self.client._channels[name] = channel
        self.seen = []
        self.client.bind_global(self.seen.append)
        self.dispatcher = IncomingDispatcher(self.client)


async def test_client_survives_random_and_mutated_frames():
    """Random protocol-shaped and mutated frames never raise out of the client's frame handling."""
    harness = Harness()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(frames, st.data())
    def feed(frame, data):
        harness.dispatcher.receive(frame)
        harness.dispatcher.receive(mutate(frame, data))

    feed()  # runs inside the test's loop, so tasks the frames spawn (a pong) are real tasks
    await asyncio.sleep(0.05)
    for task in list(harness.client._tasks):
        task.cancel()
    await asyncio.gather(*harness.client._tasks, return_exceptions=True)
    assert all(isinstance(event, pusher_nb.Event) for event in harness.seen)
    members = harness.client._channels["presence-room"].members
    assert all(isinstance(user_id, str) for user_id in members)


@pytest.fixture
async def local_server():
    server = await pusher_nb.LocalServer.start(port=0, feeds=())
    yield server
    await server.stop()


async def test_local_server_survives_garbage_frames(local_server):
    """Random and mutated frames from one socket never disturb a bystander's stream."""
    bystander = local_server.client()
    await bystander.connect()
    channel = await bystander.subscribe("fuzz-bystander")
    received = []
    channel.bind("tick", received.append)
    url = f"ws://127.0.0.1:{local_server.port}/app/{local_server.key}?protocol=7"
    samples = []

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(frames, st.data())
    def draw(frame, data):
        samples.append(frame)
        samples.append(mutate(frame, data))

    draw()
    samples += ["\udcff".encode("utf-8", "surrogatepass").decode("latin-1"), "{" * 5000, "[" * 100000]
    sent = 0
    for start in range(0, len(samples), 50):
        try:
            async with websockets.connect(url, max_size=None) as attacker:
                await attacker.recv()
                for text in samples[start:start + 50]:
                    await attacker.send(text)
                    sent += 1
                await attacker.send(b"\xff\xfe binary garbage")
                await attacker.send(json.dumps({"event": "pusher:ping", "data": {}}))
                with pytest.raises((TimeoutError, websockets.ConnectionClosed)):
                    while True:  # drain until the server is quiet or closes us: it must not hang
                        await asyncio.wait_for(attacker.recv(), timeout(0.3))
        except websockets.ConnectionClosed:
            pass
        await local_server.trigger("fuzz-bystander", "tick", {"after": start})
    await eventually(lambda: len(received) == len(range(0, len(samples), 50)), seconds=10)
    assert sent > 0 and bystander.state == "connected"
    await bystander.close()


async def test_local_server_rest_rejects_random_bodies_and_signatures(local_server):
    """Random REST bodies and forged signatures get 4xx answers with a JSON error, never a 5xx."""
    base = f"http://127.0.0.1:{local_server.port}"
    path = f"/apps/{local_server.app_id}/events"
    bodies = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.one_of(json_values.map(json.dumps), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))),
           st.booleans())
    def draw(body, sign_it):
        bodies.append((body, sign_it))

    draw()
    statuses = set()
    async with aiohttp.ClientSession() as session:
        for body, sign_it in bodies:
            raw = body.encode("utf-8", "surrogatepass")
            if sign_it:
                params = auth.signed_rest_params(local_server.key, local_server.secret, "POST", path, body=raw)
            else:
                params = auth.signed_rest_params(local_server.key, "forged", "POST", path, body=raw)
            async with session.post(base + path, params=params, data=raw) as response:
                statuses.add(response.status)
                assert response.status < 500, await response.text()
                if response.status >= 400:
                    assert "error" in json.loads(await response.text())
        async with session.get(f"{base}/apps/{local_server.app_id}/channels") as response:
            assert response.status == 401
    assert 401 in statuses and 400 in statuses
