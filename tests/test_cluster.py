"""A soketi cluster: two nodes sharing one Redis, used through the same Client a notebook uses.

Each node only knows its own sockets; the Redis adapter carries triggers, client events and
presence between them. Redis and soketi run as real processes on free loopback ports.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time

import pytest
from support import (
    ROOT,
    Soketi,
    collect,
    eventually,
    free_port,
    timeout,
    unavailable,
    wait_for_port,
)

import pusher_nb

pytestmark = pytest.mark.soketi

MASTER_KEY = "OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk="
ADAPTER_CHANNEL = "redis-adapter#comms#req"  # each node subscribes to it once its adapter is up


def redis_command(port: int, *args: str) -> bytes:
    """One command in RESP, the reply's raw bytes (enough for PING and PUBSUB NUMSUB)."""
    request = f"*{len(args)}\r\n".encode()
    for arg in args:
        encoded = arg.encode()
        request += b"$%d\r\n%s\r\n" % (len(encoded), encoded)
    with socket.create_connection(("127.0.0.1", port), timeout(5)) as sock:
        sock.sendall(request)
        return sock.recv(65536)


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    """A throwaway redis-server on a free port: no snapshots, no append-only file."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, 10, process)
        assert redis_command(port, "PING").startswith(b"+PONG")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout(10))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(redis_port):
    """Two soketi nodes on one Redis, both subscribed to the adapter's channels."""
    env = {
        "SOKETI_ADAPTER_DRIVER": "redis",
        "SOKETI_DB_REDIS_HOST": "127.0.0.1",
        "SOKETI_DB_REDIS_PORT": str(redis_port),
        "SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT": "3000",
        "SOKETI_SHUTDOWN_GRACE_PERIOD": "200",  # ms between closing the sockets and exiting
    }
    nodes = []
    try:
        for _ in range(2):
            nodes.append(Soketi(extra_env=env).start())
        wait_until_subscribed(redis_port, len(nodes))
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def wait_until_subscribed(port: int, count: int) -> None:
    """Block until ``count`` nodes listen on Redis, so nothing published is lost to a late one."""
    wanted = b":%d\r\n" % count
    deadline = time.monotonic() + timeout(20)
    while time.monotonic() < deadline:
        if redis_command(port, "PUBSUB", "NUMSUB", ADAPTER_CHANNEL).endswith(wanted):
            return
        time.sleep(0.05)
    log = ROOT / "tests" / ".logs"
    raise AssertionError(f"the soketi nodes did not subscribe to Redis (logs in {log})")


class Nodes:
    """Notebook clients on node 0 (A) or node 1 (B), each closed when the test ends."""

    def __init__(self, nodes: list[Soketi]) -> None:
        self.nodes = nodes
        self.clients: list[pusher_nb.Client] = []

    def settings(self, node: int) -> dict:
        return {**self.nodes[node].connection(), "encryption_master_key_base64": MASTER_KEY}

    def rest(self, node: int) -> pusher_nb.Client:
        """A client for node's REST API only (it never opens a socket)."""
        client = pusher_nb.Client(Soketi.key, **self.settings(node))
        self.clients.append(client)
        return client

    async def connect(self, node: int, user_id: str | None = None) -> pusher_nb.Client:
        user_data = None if user_id is None else {"user_id": user_id,
                                                  "user_info": {"name": user_id.title()}}
        client = pusher_nb.Client(Soketi.key, **self.settings(node), user_data=user_data)
        self.clients.append(client)
        await client.connect()
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


@pytest.fixture
async def nodes(cluster, redis_port):
    """The cluster's nodes and the clients a test opens on them; a stopped node is restarted."""
    helper = Nodes(cluster)
    yield helper
    await helper.close()
    stopped = [node for node in cluster if node.process is None]
    for node in stopped:
        await asyncio.to_thread(node.start)
    if stopped:
        await asyncio.to_thread(wait_until_subscribed, redis_port, len(cluster))


@pytest.mark.parametrize(
    "channel_name",
    ["cluster-public", "private-cluster", "presence-cluster-feed", "private-encrypted-cluster"],
)
async def test_trigger_through_one_node_reaches_the_other(nodes, channel_name):
    """A subscriber on node A receives what node B's REST API was asked to publish."""
    reader = await nodes.connect(0, "reader")
    channel = await reader.subscribe(channel_name)
    received = collect(channel, "update")
    await nodes.rest(1).trigger(channel_name, "update", {"n": 1, "via": "B"})
    await eventually(lambda: received, 10)
    assert [(e.channel, e.data) for e in received] == [(channel_name, {"n": 1, "via": "B"})]


async def test_triggers_reach_subscribers_on_both_nodes_once(nodes):
    """One trigger reaches a subscriber on each node exactly once, in the order published."""
    on_a, on_b = await nodes.connect(0), await nodes.connect(1)
    seen_a = collect(await on_a.subscribe("cluster-both"), "tick")
    seen_b = collect(await on_b.subscribe("cluster-both"), "tick")
    rest_a, rest_b = nodes.rest(0), nodes.rest(1)
    for n in range(20):
        await (rest_a if n % 2 else rest_b).trigger("cluster-both", "tick", {"n": n})
    await eventually(lambda: len(seen_a) >= 20 and len(seen_b) >= 20, 10)
    await asyncio.sleep(timeout(0.3))  # a duplicate would arrive by now
    assert sorted(e.data["n"] for e in seen_a) == list(range(20))
    assert sorted(e.data["n"] for e in seen_b) == list(range(20))


async def test_presence_spans_both_nodes(nodes):
    """Members on A and B see each other; a member leaving on B is seen gone on A."""
    name = "presence-cluster-room"
    alice = await nodes.connect(0, "alice")
    a_channel = await alice.subscribe(name)
    added, removed = collect(a_channel, "pusher:member_added"), collect(
        a_channel, "pusher:member_removed"
    )
    assert dict(a_channel.members) == {"alice": {"name": "Alice"}}

    bob = await nodes.connect(1, "bob")
    b_channel = await bob.subscribe(name)
    # B's subscription_succeeded lists the member A holds, fetched across the cluster
    assert dict(b_channel.members) == {"alice": {"name": "Alice"}, "bob": {"name": "Bob"}}
    assert b_channel.members.me == ("bob", {"name": "Bob"})
    await eventually(lambda: "bob" in a_channel.members, 10)
    assert [e.data for e in added] == [{"user_id": "bob", "user_info": {"name": "Bob"}}]
    assert a_channel.members.count == 2

    for node in (0, 1):
        assert sorted(await nodes.rest(node).users(name)) == ["alice", "bob"]
        info = await nodes.rest(node).channel_info(name, info=["user_count"])
        assert info["user_count"] == 2

    await bob.unsubscribe(name)
    await eventually(lambda: "bob" not in a_channel.members, 10)
    assert [e.data for e in removed] == [{"user_id": "bob"}]
    assert dict(a_channel.members) == {"alice": {"name": "Alice"}}
    await eventually_users(nodes, name, ["alice"])

    # and a member whose socket closes on B (no unsubscribe) is gone from A as well
    carol = await nodes.connect(1, "carol")
    await carol.subscribe(name)
    await eventually(lambda: "carol" in a_channel.members, 10)
    await carol.close()
    await eventually(lambda: "carol" not in a_channel.members, 10)
    assert [e.data["user_id"] for e in removed] == ["bob", "carol"]


async def test_one_user_on_both_nodes_is_one_member(nodes):
    """A user with a socket on each node counts once, and leaves only when both sockets have."""
    name = "presence-cluster-tabs"
    watcher = await nodes.connect(0, "watcher")
    w_channel = await watcher.subscribe(name)
    added, removed = collect(w_channel, "pusher:member_added"), collect(
        w_channel, "pusher:member_removed"
    )
    tab_a, tab_b = await nodes.connect(0, "dana"), await nodes.connect(1, "dana")
    await tab_a.subscribe(name)
    await eventually(lambda: "dana" in w_channel.members, 10)
    b_channel = await tab_b.subscribe(name)
    assert sorted(b_channel.members) == ["dana", "watcher"]
    await eventually_users(nodes, name, ["dana", "watcher"])

    await tab_b.close()
    await asyncio.sleep(timeout(0.5))  # a wrong member_removed would arrive by now
    assert "dana" in w_channel.members and removed == []
    await tab_a.close()
    await eventually(lambda: "dana" not in w_channel.members, 10)
    assert [e.data["user_id"] for e in added] == ["dana"]
    assert [e.data["user_id"] for e in removed] == ["dana"]


async def eventually_users(nodes: Nodes, name: str, expected: list[str]) -> None:
    for node in (0, 1):
        deadline = asyncio.get_running_loop().time() + timeout(10)
        while True:
            users = sorted(await nodes.rest(node).users(name))
            if users == expected or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert users == expected, f"node {node} lists {users}"


async def test_client_events_cross_nodes(nodes):
    """A client event sent on A reaches B (and back), never echoed to its sender."""
    alice, bob = await nodes.connect(0, "alice"), await nodes.connect(1, "bob")
    for name in ("private-cluster-chat", "presence-cluster-chat"):
        a_channel, b_channel = await alice.subscribe(name), await bob.subscribe(name)
        if name.startswith("presence-"):
            await eventually(lambda c=a_channel: c.members.count == 2, 10)
        a_seen, b_seen = collect(a_channel, "client-typing"), collect(b_channel, "client-typing")
        await a_channel.trigger("client-typing", {"from": "alice"})
        await eventually(lambda s=b_seen: s, 10)
        await b_channel.trigger("client-typing", {"from": "bob"})
        await eventually(lambda s=a_seen: s, 10)
        await asyncio.sleep(timeout(0.3))  # an echo would arrive by now
        assert [e.data for e in b_seen] == [{"from": "alice"}]
        assert [e.data for e in a_seen] == [{"from": "bob"}]
        if name.startswith("presence-"):
            assert (b_seen[0].user_id, a_seen[0].user_id) == ("alice", "bob")


async def test_a_restarted_node_rejoins_the_cluster(nodes, redis_port):
    """A notebook client on a node that restarts reconnects; presence and triggers cross again."""
    name = "presence-cluster-restart"
    alice, bob = await nodes.connect(0, "alice"), await nodes.connect(1, "bob")
    a_channel = await alice.subscribe(name)
    b_channel = await bob.subscribe(name)
    await eventually(lambda: a_channel.members.count == 2, 10)
    ticks = collect(b_channel, "tick")
    first_socket = bob.socket_id

    await asyncio.to_thread(nodes.nodes[1].stop)  # SIGTERM: soketi closes its sockets first
    await eventually(lambda: bob.state != "connected", 10)
    await eventually(lambda: "bob" not in a_channel.members, 10)
    await asyncio.to_thread(nodes.nodes[1].start)
    await asyncio.to_thread(wait_until_subscribed, redis_port, 2)
    await eventually(lambda: bob.state == "connected" and b_channel.subscribed, 30)
    assert bob.socket_id != first_socket and bob.stats.reconnects >= 1
    await eventually(lambda: "bob" in a_channel.members, 10)
    assert sorted(b_channel.members) == ["alice", "bob"]

    await nodes.rest(0).trigger(name, "tick", {"after": "restart"})
    await eventually(lambda: ticks, 10)
    assert [e.data for e in ticks] == [{"after": "restart"}]
