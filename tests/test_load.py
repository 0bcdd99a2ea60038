"""Load and soak: the local server holding 2,000 sockets, dropping stuck ones, and memory over a stream.

The server runs as ``python -m pusher_nb.server`` so its memory and liveness are its own (the
heartbeat test runs it in-process, for a 1 s activity timeout); the many websocket peers run in
one Node process (tests/peers/many_clients.mjs, the ``ws`` package), which costs far less CPU per
socket than Python clients would. Everything is on 127.0.0.1, and every loop is bounded in count
and time. ``pytest -s`` prints the figures measured; PUSHER_NB_SOAK_SECONDS sets the soak's length.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pusher
import pytest
from support import (
    PEERS_DIR,
    ROOT,
    eventually,
    node_executable,
    require_node_package,
    timeout,
)

import pusher_nb
from pusher_nb.server import App, LocalServer

pytestmark = [pytest.mark.slow, pytest.mark.node]

KEY, APP_ID, SECRET = "load-key", "4242", "load-secret"
SOAK_SECONDS = float(os.environ.get("PUSHER_NB_SOAK_SECONDS", "60"))
MB = 1024 * 1024


def rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / MB, 1)


@pytest.fixture
def many_files():
    """Raise the soft open-file limit (inherited by the server and Node) for thousands of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 8192
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"the hard open-file limit ({hard}) is below {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class ServerProcess:
    """``python -m pusher_nb.server`` on a free port, its settings read from its --json line."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict, log_path: Path) -> None:
        self.process = process
        self.info = info
        self.log_path = log_path
        self.port = info["port"]
        self.host = info["host"]

    @classmethod
    async def start(cls, log_path: Path, feeds: str = "") -> ServerProcess:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # the child keeps a copy
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pusher_nb.server", "--port", "0", "--host", "127.0.0.1",
            "--app-id", APP_ID, "--key", KEY, "--secret", SECRET, "--feeds", feeds, "--json",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
        )
        os.close(log)
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout(30))
            info = json.loads(line)
        except BaseException:
            process.kill()
            await process.wait()
            raise
        return cls(process, info, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.returncode is None

    def client(self, **overrides) -> pusher_nb.Client:
        settings = {"host": self.host, "port": self.port, "tls": False, "app_id": APP_ID,
                    "secret": SECRET, **overrides}
        return pusher_nb.Client(KEY, **settings)

    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/app/{KEY}?protocol=7"

    async def stop(self) -> int:
        """SIGTERM, as a user's Ctrl-C would; the exit code (killed if it does not stop)."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout(20))
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
                return -9
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class ManyClients:
    """The Node process holding many raw websocket connections (tests/peers/many_clients.mjs)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str, groups: list[dict], event: str) -> ManyClients:
        node = node_executable()
        require_node_package("ws")
        config = {"url": url, "key": KEY, "secret": SECRET, "event": event,
                  "concurrency": 100, "groups": groups}
        process = await asyncio.create_subprocess_exec(
            node, str(PEERS_DIR / "many_clients.mjs"), json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def expect(self, kind: str, seconds: float) -> dict:
        """The next record of type ``kind`` (earlier records of other types are skipped)."""
        deadline = time.monotonic() + timeout(seconds)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} record from the Node clients in {seconds} s")
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), left)
            except TimeoutError:
                continue
            if not line:
                stderr = (await self.process.stderr.read()).decode(errors="replace")
                raise AssertionError(f"the Node clients exited before {kind!r}: {stderr[-2000:]}")
            record = json.loads(line)
            if record.get("type") == kind:
                return record

    async def command(self, text: str, reply: str, seconds: float = 20) -> dict:
        self.process.stdin.write(text.encode() + b"\n")
        await self.process.stdin.drain()
        return await self.expect(reply, seconds)

    async def report(self) -> dict:
        return await self.command("report", "report")

    async def close(self) -> dict:
        return await self.command("close", "closed", 30)

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


@pytest.fixture
async def processes(tmp_path, many_files):
    """Start servers and Node client processes; whatever is still running is ended afterwards."""
    started: list = []

    async def server(feeds: str = "") -> ServerProcess:
        proc = await ServerProcess.start(tmp_path / f"server-{len(started)}.log", feeds)
        started.append(proc)
        return proc

    async def clients(url: str, groups: list[dict], event: str) -> ManyClients:
        proc = await ManyClients.start(url, groups, event)
        started.append(proc)
        return proc

    yield server, clients
    for proc in reversed(started):
        await proc.stop()


def assert_clean_log(server: ServerProcess) -> None:
    """Nothing went wrong loudly enough for the server to log it (it logs warnings and up)."""
    log = server.log()
    for word in ("Traceback", "WARNING", "ERROR", "CRITICAL"):
        assert word not in log, log[-4000:]


# --- 2,000 sockets -------------------------------------------------------------------------

PUBLIC = [f"load-{n}" for n in range(9)]
PER_PUBLIC = 215
FEED_WATCHERS = 25  # on crypto-trades, which the server's own crypto feed publishes to
PRESENCE, PRESENCE_MEMBERS = "presence-load", 40
CONNECTIONS = len(PUBLIC) * PER_PUBLIC + FEED_WATCHERS + PRESENCE_MEMBERS
EVENTS = 100


async def probe(server: ServerProcess) -> dict:
    """A fresh notebook client connects, subscribes and receives one event; what it saw."""
    async with server.client() as client:
        channel = await client.subscribe("load-probe")
        received = []
        channel.bind("probe", received.append)
        await client.trigger("load-probe", "probe", {"hello": "load"})
        await eventually(lambda: received, 20)
        info = await client.channel_info(PUBLIC[0], info=["subscription_count"])
        return {"data": received[0].data, "state": client.state, "info": info}


async def test_two_thousand_connections_fed_together(processes):
    """2,000 sockets stay subscribed and each gets every event, while a new client is served."""
    start_server, start_clients = processes
    assert CONNECTIONS == 2000
    server = await start_server(feeds="crypto")
    rss_idle = rss_mb(server.pid)
    groups = [{"channel": name, "count": PER_PUBLIC} for name in PUBLIC]
    groups.append({"channel": "crypto-trades", "count": FEED_WATCHERS})
    groups.append({"channel": PRESENCE, "count": PRESENCE_MEMBERS})
    peers = await start_clients(server.url(), groups, "load")
    ready = await peers.expect("ready", 120)
    assert ready["connections"] == CONNECTIONS
    rss_held = rss_mb(server.pid)

    async with server.client() as publisher:
        info = await publisher.channel_info(PUBLIC[0], info=["subscription_count"])
        assert info == {"occupied": True, "subscription_count": PER_PUBLIC}
        assert len(await publisher.users(PRESENCE)) == PRESENCE_MEMBERS

        channels = [*PUBLIC, "crypto-trades", PRESENCE]

        feed_seconds = 0.0

        async def feed() -> None:
            nonlocal feed_seconds
            began = time.monotonic()
            for seq in range(EVENTS):
                await publisher.trigger(channels, "load", {"seq": seq, "pad": "x" * 64})
                await asyncio.sleep(0.02)
            feed_seconds = time.monotonic() - began

        feeding = asyncio.create_task(feed())
        try:
            await asyncio.sleep(0.3)  # part of the feed is out before the probe connects
            assert not feeding.done()  # 100 triggers 20 ms apart take 2 s at the very least
            probed = await asyncio.wait_for(probe(server), timeout(60))
            await asyncio.wait_for(feeding, timeout(120))
        finally:
            feeding.cancel()
        assert probed["data"] == {"hello": "load"} and probed["state"] == "connected"
        assert probed["info"]["subscription_count"] == PER_PUBLIC

        deadline = time.monotonic() + timeout(60)
        while True:
            report = await peers.report()
            if min(report["counts"]) >= EVENTS or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        rss_fed = rss_mb(server.pid)

        assert report["errors"] == [] and report["closed"] == 0
        assert report["subscribed"] == CONNECTIONS
        assert report["counts"] == [EVENTS] * CONNECTIONS, sorted(set(report["counts"]))
        assert report["gaps"] == [0] * CONNECTIONS  # every socket saw seq 0..99 in order
        presence = slice(CONNECTIONS - PRESENCE_MEMBERS, CONNECTIONS)
        assert report["members"][presence] == [PRESENCE_MEMBERS] * PRESENCE_MEMBERS
        watchers = slice(CONNECTIONS - PRESENCE_MEMBERS - FEED_WATCHERS,
                         CONNECTIONS - PRESENCE_MEMBERS)
        assert all(n > 0 for n in report["other"][watchers])  # the crypto feed reached them
        assert server.alive()

        closed = await peers.close()
        assert closed["closed"] == 0
        left = None
        deadline = time.monotonic() + timeout(20)
        while time.monotonic() < deadline:
            left = await publisher.channels()
            if not left:
                break
            await asyncio.sleep(0.2)
        assert left == {}, f"channels still occupied after every socket closed: {left}"
    rss_after = rss_mb(server.pid)
    assert server.alive()
    assert await server.stop() == 0
    assert_clean_log(server)
    print(
        f"\n{CONNECTIONS} connections held ({len(PUBLIC)}x{PER_PUBLIC} public, {FEED_WATCHERS} on "
        f"the crypto feed, {PRESENCE_MEMBERS} presence), subscribed in {ready['seconds']:.1f} s; "
        f"{EVENTS} events each ({CONNECTIONS * EVENTS:,} deliveries, triggered over "
        f"{feed_seconds:.1f} s), all in order; "
        f"a new client connected, subscribed and got its event during the feed\n"
        f"server RSS (MB): idle {rss_idle}, holding {rss_held}, after the feed {rss_fed}, "
        f"all closed {rss_after}; Node clients RSS {report['rss_mb']} MB"
    )


# --- stalled readers and vanished sockets -------------------------------------------------

HEAVY, STALLED, HEAVY_HEALTHY = "load-heavy", 5, 5
MAIN, MAIN_COUNT = "load-main", 400
CHURN, CHURN_COUNT = "presence-churn", 20
VANISH_MAIN, VANISH_CHURN = 100, 10
HEAVY_PAD = "z" * 9000  # close to the 10 KB event limit, so write buffers fill fast
MAX_HEAVY_BATCHES = 500  # 45 MB to each heavy subscriber at most


async def test_stalled_readers_are_dropped_and_vanished_sockets_forgotten(processes):
    """Sockets that stop reading are dropped, killed ones are forgotten; the rest get everything."""
    start_server, start_clients = processes
    server = await start_server()
    groups = [{"channel": HEAVY, "count": STALLED + HEAVY_HEALTHY},
              {"channel": MAIN, "count": MAIN_COUNT},
              {"channel": CHURN, "count": CHURN_COUNT}]
    peers = await start_clients(server.url(), groups, "load")
    await peers.expect("ready", 60)
    stalled = list(range(STALLED))
    healthy = list(range(STALLED, STALLED + HEAVY_HEALTHY))
    main = list(range(STALLED + HEAVY_HEALTHY, STALLED + HEAVY_HEALTHY + MAIN_COUNT))
    churn = list(range(main[-1] + 1, main[-1] + 1 + CHURN_COUNT))
    vanished = main[:VANISH_MAIN] + churn[:VANISH_CHURN]
    await peers.command(json.dumps({"op": "stall", "indices": stalled}), "done")

    heavy_sent = light_sent = 0
    dropped_after = None
    async with server.client() as publisher:
        for batch_number in range(MAX_HEAVY_BATCHES):
            await publisher.trigger_batch(
                [{"channel": HEAVY, "name": "load", "data": {"seq": heavy_sent + n, "pad": HEAVY_PAD}}
                 for n in range(10)]
            )
            heavy_sent += 10
            await publisher.trigger([MAIN, CHURN], "load", {"seq": light_sent})
            light_sent += 1
            if light_sent == 20:
                await peers.command(json.dumps({"op": "terminate", "indices": vanished}), "done")
            if dropped_after is None:
                info = await publisher.channel_info(HEAVY, info=["subscription_count"])
                if info["subscription_count"] == HEAVY_HEALTHY:
                    dropped_after = heavy_sent
            elif light_sent >= 50 and batch_number * 10 >= dropped_after + 100:
                break
        assert dropped_after is not None, f"{STALLED} stalled readers still subscribed"
        rss_dropped = rss_mb(server.pid)

        await eventually_equal(
            lambda: publisher.channel_info(MAIN, info=["subscription_count"]),
            {"occupied": True, "subscription_count": MAIN_COUNT - VANISH_MAIN},
        )
        await eventually_equal(
            lambda: publisher.users(CHURN),
            [f"u-{index}" for index in churn[VANISH_CHURN:]],
            key=sorted,
        )
        deadline = time.monotonic() + timeout(30)
        while True:
            report = await peers.report()
            counts = report["counts"]
            if (all(counts[i] == heavy_sent for i in healthy)
                    and all(counts[i] == light_sent for i in main[VANISH_MAIN:] + churn[VANISH_CHURN:])
                    and all(report["members"][i] == CHURN_COUNT - VANISH_CHURN
                            for i in churn[VANISH_CHURN:])) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        survivors = healthy + main[VANISH_MAIN:] + churn[VANISH_CHURN:]
        assert [counts[i] for i in healthy] == [heavy_sent] * HEAVY_HEALTHY
        assert {counts[i] for i in main[VANISH_MAIN:] + churn[VANISH_CHURN:]} == {light_sent}
        assert [report["gaps"][i] for i in survivors] == [0] * len(survivors)
        assert [report["members"][i] for i in churn[VANISH_CHURN:]] == (
            [CHURN_COUNT - VANISH_CHURN] * (CHURN_COUNT - VANISH_CHURN)
        )
        assert [report["codes"][i] for i in survivors] == [None] * len(survivors)
        assert all(counts[i] < heavy_sent for i in stalled)

        # the dropped readers learn it once they read again (the server gave up on them)
        await peers.command(json.dumps({"op": "resume", "indices": stalled}), "done")
        deadline = time.monotonic() + timeout(30)
        while True:
            report = await peers.report()
            if all(report["codes"][i] is not None for i in stalled) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        stalled_codes = [report["codes"][i] for i in stalled]
        assert all(code is not None for code in stalled_codes), stalled_codes
        assert report["closed"] == STALLED  # no one else was closed by the server
    assert server.alive()

    # stopping the server with hundreds of sockets open closes each one with 4200
    assert await server.stop() == 0
    deadline = time.monotonic() + timeout(20)
    while True:
        report = await peers.report()
        if all(report["codes"][i] is not None for i in survivors) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.3)
    assert {report["codes"][i] for i in survivors} == {4200}
    assert_clean_log(server)
    print(
        f"\n{STALLED} stalled readers dropped after {dropped_after:,} events of 9 KB "
        f"(close codes seen {stalled_codes}); {len(vanished)} sockets killed without a close "
        f"forgotten; {HEAVY_HEALTHY} healthy heavy readers got all {heavy_sent:,}, "
        f"{len(survivors) - HEAVY_HEALTHY} others all {light_sent}; server RSS after the drop "
        f"{rss_dropped} MB; stopping the server closed the {len(survivors)} left with 4200"
    )


async def eventually_equal(fetch, expected, key=lambda value: value, seconds: float = 20):
    """Await ``fetch()`` until ``key`` of its answer equals ``expected`` (bounded)."""
    deadline = time.monotonic() + timeout(seconds)
    while True:
        value = key(await fetch())
        if value == expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert value == expected


# --- heartbeats on many idle sockets -------------------------------------------------------

IDLE, IDLE_SILENT = 2000, 3


async def test_idle_sockets_answering_pings_are_kept_and_silent_ones_dropped(processes):
    """With a 1 s activity timeout, 2,000 idle sockets that answer pings all stay; mute ones go."""
    _, start_clients = processes
    server = await LocalServer.start(
        port=0, feeds=(), apps=[App(app_id=APP_ID, key=KEY, secret=SECRET)],
        activity_timeout=1, pong_timeout=1,
    )
    try:
        url = f"ws://{server.host}:{server.port}/app/{KEY}?protocol=7"
        peers = await start_clients(url, [{"channel": "idle", "count": IDLE - 10},
                                          {"channel": "presence-idle", "count": 10}], "load")
        await peers.expect("ready", 120)
        silent = list(range(IDLE_SILENT))
        await peers.command(json.dumps({"op": "stall", "indices": silent}), "done")
        state = server.state_for()
        # several rounds of pings: quiet 1 s, ping, 1 s for the pong
        await eventually(lambda: len(state.connections) == IDLE - IDLE_SILENT, 30)
        await asyncio.sleep(timeout(4))
        assert len(state.connections) == IDLE - IDLE_SILENT
        report = await peers.report()
        assert report["closed"] == 0 and report["errors"] == []
        await peers.command(json.dumps({"op": "resume", "indices": silent}), "done")
        deadline = time.monotonic() + timeout(20)
        while True:
            report = await peers.report()
            if all(report["codes"][i] is not None for i in silent) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert [report["codes"][i] for i in silent] == [4201] * IDLE_SILENT
        assert report["closed"] == IDLE_SILENT
        assert report["members"][IDLE - 10:] == [10] * 10
        await peers.close()
    finally:
        await server.stop()
    print(f"\n{IDLE - IDLE_SILENT} idle sockets kept through pings every second; "
          f"{IDLE_SILENT} that stopped reading closed with 4201")


# --- a notebook client that stops reading -------------------------------------------------


async def test_a_blocked_notebook_client_is_dropped_and_recovers(processes):
    """A client whose loop is blocked is dropped as a slow consumer, then reconnects by itself."""
    start_server, _ = processes
    server = await start_server()
    official = pusher.Pusher(APP_ID, KEY, SECRET, host=server.host, port=server.port, ssl=False)
    dropped = threading.Event()
    published = []

    def publish_until_dropped() -> None:
        """From a thread, as another process would: heavy events until the server gives up."""
        for batch_number in range(MAX_HEAVY_BATCHES):
            official.trigger_batch(
                [{"channel": "notebook-heavy", "name": "heavy",
                  "data": json.dumps({"seq": batch_number * 10 + n, "pad": HEAVY_PAD})}
                 for n in range(10)]
            )
            published.append(10)
            info = official.channel_info("notebook-heavy", ["subscription_count"])
            if not info.get("occupied"):
                break
        dropped.set()

    async with server.client() as client:
        channel = await client.subscribe("notebook-heavy")
        frame = pusher_nb.LiveFrame(channel, events="heavy", max_rows=100_000)
        first_socket = client.socket_id
        states = []
        client.connection.bind("state_change", lambda e: states.append(e.data["current"]))

        def blocking_cell(event) -> None:
            # a long computation in the kernel: nothing reads the socket meanwhile
            if event.data["seq"] == 0:
                dropped.wait(timeout(60))

        channel.bind("heavy", blocking_cell)
        publisher = threading.Thread(target=publish_until_dropped, daemon=True)
        publisher.start()
        await asyncio.to_thread(publisher.join, timeout(120))
        assert dropped.is_set() and sum(published) < MAX_HEAVY_BATCHES * 10

        await eventually(
            lambda: client.state == "connected" and channel.subscribed
            and client.socket_id != first_socket,
            30,
        )
        assert client.stats.reconnects >= 1
        assert states[:2] == ["connecting", "connected"]  # what a StatusBar shows meanwhile
        after = []
        channel.bind("after", after.append)
        await client.trigger("notebook-heavy", "after", {"ok": True})
        await eventually(lambda: after, 10)
        assert [e.data for e in after] == [{"ok": True}]
        seqs = list(frame.df["seq"])
        assert seqs == sorted(seqs) and 0 < len(seqs) < sum(published)  # a gap, never a reorder
        assert frame.df["epoch"].nunique() == 1  # what arrived came on the first connection
    assert server.alive()
    assert await server.stop() == 0
    assert_clean_log(server)
    print(
        f"\nblocked notebook client: dropped after {sum(published):,} events of 9 KB were "
        f"published, read {len(seqs):,} of them, then reconnected by itself (states {states})"
    )


# --- bounded soak --------------------------------------------------------------------------

SOAK_CHANNEL = "soak"
SOAK_PRESENCE = "presence-soak"
SOAK_SUBSCRIBERS = 290
SOAK_MEMBERS = 10
SOAK_MAX_ROWS = 2_000
BATCH = 10  # events per REST batch
BATCHES_PER_SECOND = 30
VISIT_EVERY = 0.5  # seconds between visitors: connect, join the presence channel, leave
SAMPLE_EVERY = 2.0
MAX_GROWTH_MB = 50


async def test_bounded_soak_keeps_memory_flat(processes):
    """A stream into a bounded LiveFrame and 300 sockets, visitors coming and going: RSS stays flat."""
    start_server, start_clients = processes
    duration = SOAK_SECONDS
    warm_up = min(max(10.0, duration / 4), duration / 2)
    server = await start_server(feeds="crypto")
    groups = [{"channel": SOAK_CHANNEL, "count": SOAK_SUBSCRIBERS},
              {"channel": SOAK_PRESENCE, "count": SOAK_MEMBERS}]
    peers = await start_clients(server.url(), groups, "tick")
    await peers.expect("ready", 60)
    me = psutil.Process()

    samples: list[tuple[float, float, float, int, int]] = []  # t, server MB, client MB, rows, total
    async with server.client() as client:
        channel = await client.subscribe(SOAK_CHANNEL)
        frame = pusher_nb.LiveFrame(channel, events="tick", max_rows=SOAK_MAX_ROWS)
        crypto = pusher_nb.LiveFrame(await client.subscribe("crypto-trades"), max_rows=500)
        sent = batches = 0
        started = time.monotonic()
        next_sample = due = started
        visitors = []  # how many members each visitor saw on joining

        async def visit() -> None:
            """Connection churn: a new client joins the presence channel, then disconnects."""
            for number in range(int(duration / VISIT_EVERY)):
                if time.monotonic() - started > duration - 2 * VISIT_EVERY:
                    break
                user_id = f"visitor-{number}"
                async with server.client(user_data={"user_id": user_id}) as visitor:
                    joined = await visitor.subscribe(SOAK_PRESENCE)
                    visitors.append(joined.members.count)
                await asyncio.sleep(VISIT_EVERY)

        visiting = asyncio.create_task(visit())
        for _ in range(int(duration * BATCHES_PER_SECOND)):
            elapsed = time.monotonic() - started
            if elapsed >= duration:
                break
            batch = [
                {"channel": SOAK_CHANNEL, "name": "tick",
                 "data": {"seq": sent + n, "price": 100.0 + (sent + n) % 500 / 10, "note": "y" * 100}}
                for n in range(BATCH - 1)
            ]
            batch.append({"channel": SOAK_PRESENCE, "name": "tick", "data": {"seq": batches}})
            await client.trigger_batch(batch)
            sent += BATCH - 1
            batches += 1
            if time.monotonic() >= next_sample:
                df = frame.df  # as a notebook cell or a chart would read it
                assert len(df) <= SOAK_MAX_ROWS
                samples.append((round(elapsed, 1), rss_mb(server.pid), rss_mb(me.pid),
                                len(df), frame.total))
                next_sample += SAMPLE_EVERY
            due += 1 / BATCHES_PER_SECOND
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await asyncio.wait_for(visiting, timeout(30))
        await eventually(lambda: frame.total >= sent, 30)

        deadline = time.monotonic() + timeout(60)
        while True:
            report = await peers.report()
            done = (
                report["counts"][:SOAK_SUBSCRIBERS] == [sent] * SOAK_SUBSCRIBERS
                and report["counts"][SOAK_SUBSCRIBERS:] == [batches] * SOAK_MEMBERS
                and report["members"][SOAK_SUBSCRIBERS:] == [SOAK_MEMBERS] * SOAK_MEMBERS
            )
            if done or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        samples.append((round(time.monotonic() - started, 1), rss_mb(server.pid),
                        rss_mb(me.pid), len(frame.df), frame.total))

        assert frame.total == sent and len(frame) == min(sent, SOAK_MAX_ROWS)
        assert frame.df["seq"].iloc[-1] == sent - 1
        assert list(frame.df["seq"]) == list(range(sent - len(frame), sent))
        assert crypto.total > 0 and len(crypto) <= 500
        assert report["errors"] == [] and report["closed"] == 0
        assert report["counts"][:SOAK_SUBSCRIBERS] == [sent] * SOAK_SUBSCRIBERS
        assert report["counts"][SOAK_SUBSCRIBERS:] == [batches] * SOAK_MEMBERS
        assert report["gaps"] == [0] * (SOAK_SUBSCRIBERS + SOAK_MEMBERS)
        assert visitors and set(visitors) == {SOAK_MEMBERS + 1}  # each saw the members and itself
        # every visitor's arrival and departure reached the members: back to just themselves
        assert report["members"][SOAK_SUBSCRIBERS:] == [SOAK_MEMBERS] * SOAK_MEMBERS
        assert client.state == "connected" and client.stats.reconnects == 0
    assert server.alive()
    await peers.close()
    assert await server.stop() == 0
    assert_clean_log(server)

    settled = [s for s in samples if s[0] >= warm_up]
    assert len(settled) >= 3, samples
    base_server, base_client = settled[0][1], settled[0][2]
    server_growth = max(s[1] for s in settled) - base_server
    client_growth = max(s[2] for s in settled) - base_client
    lines = "\n".join(
        f"  {t:6.1f} s  server {srv:7.1f} MB  client {cli:7.1f} MB  rows {rows:5d}  events {total:,}"
        for t, srv, cli, rows, total in samples
    )
    print(
        f"\nsoak: {duration:.0f} s, {sent:,} events to {SOAK_SUBSCRIBERS + 1} subscribers of "
        f"{SOAK_CHANNEL!r} ({sent * (SOAK_SUBSCRIBERS + 1):,} deliveries), {batches:,} to "
        f"{SOAK_MEMBERS} presence members, {len(visitors)} visitors came and went, "
        f"LiveFrame(max_rows={SOAK_MAX_ROWS:,}); Node clients "
        f"RSS {report['rss_mb']} MB\nRSS samples (warm-up until {warm_up:.0f} s):\n{lines}\n"
        f"growth after warm-up: server {server_growth:.1f} MB, client {client_growth:.1f} MB"
    )
    assert server_growth < MAX_GROWTH_MB, lines
    assert client_growth < MAX_GROWTH_MB, lines
