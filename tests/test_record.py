"""Recording events to JSON lines and Parquet, and replaying them (no sockets)."""

from __future__ import annotations

import asyncio

import pytest
from support import eventually, timeout
from test_live import T0, FakeChannel

from pusher_nb.live import LiveFrame
from pusher_nb.protocol import Event
from pusher_nb.record import Recorder, load_events, replay, save_events

EVENTS = [
    Event("trade", "prices", {"price": 1.5, "qty": 2, "m": {"a": [1, 2]}}, None, T0),
    Event("client-message", "presence-room", {"text": "hi"}, "u1", T0 + 0.25),
    Event("note", "prices", "not json", None, T0 + 0.5),
    Event("trade", "prices", {"price": 2.5, "qty": None}, None, T0 + 1.0),
]


def as_tuples(events):
    return [(e.event, e.channel, e.data, e.user_id, e.received_at) for e in events]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_save_and_load_round_trip(tmp_path, suffix):
    """Events saved as JSON lines or Parquet load back unchanged."""
    path = tmp_path / f"rec{suffix}"
    save_events(EVENTS + [Event("pusher:ping", None, {}, None, T0)], path)
    assert as_tuples(load_events(path)) == as_tuples(EVENTS)


def test_recorder_streams_to_a_file_and_unbinds(tmp_path):
    """A Recorder keeps what a channel receives, streams JSON lines, and unbinds on close."""
    channel = FakeChannel()
    path = tmp_path / "stream.jsonl"
    with Recorder(channel, path=path) as recorder:
        for event in EVENTS:
            channel.emit(event)
        channel.emit(Event("pusher_internal:subscription_count", "prices", {}, None, T0))
        assert len(recorder) == len(EVENTS)
    assert channel.handlers == []
    assert as_tuples(load_events(path)) == as_tuples(EVENTS)
    recorder.save(tmp_path / "copy.parquet")
    assert as_tuples(load_events(tmp_path / "copy.parquet")) == as_tuples(EVENTS)


def test_recorder_filters_event_names_and_bounds_memory():
    """events= selects names; max_events keeps only the newest in memory."""
    channel = FakeChannel()
    recorder = Recorder(channel, events="trade", max_events=1)
    for event in EVENTS:
        channel.emit(event)
    assert [e.data["price"] for e in recorder.events] == [2.5]


def test_liveframe_save_writes_its_rows(tmp_path):
    """LiveFrame.save() writes the rows it holds, payloads rebuilt."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    channel.emit(EVENTS[0])
    channel.emit(EVENTS[2])
    path = frame.save(tmp_path / "frame.jsonl")
    assert as_tuples(load_events(path)) == as_tuples([EVENTS[0], EVENTS[2]])


async def test_replay_as_fast_as_possible_keeps_recorded_times(tmp_path):
    """speed=None feeds a LiveFrame every event with its recorded time."""
    path = save_events(EVENTS, tmp_path / "rec.jsonl")
    frame = LiveFrame()
    assert await replay(path, into=frame, speed=None) == len(EVENTS)
    assert as_tuples(frame.to_events()) == as_tuples(
        [
            Event(
                e.event,
                e.channel,
                {k: v for k, v in e.data.items() if v is not None}
                if isinstance(e.data, dict)
                else e.data,
                e.user_id,
                e.received_at,
            )
            for e in EVENTS
        ]
    )


async def test_paced_replay_restamps_with_the_recorded_gaps_scaled():
    """A paced replay spaces arrival times by the recorded gaps divided by speed."""
    frame = LiveFrame()
    await asyncio.wait_for(replay(EVENTS, into=frame, speed=100), timeout(5))
    times = frame.window("received_at")
    gaps = (times - times[0]).tolist()
    assert gaps == pytest.approx([0.0, 0.0025, 0.005, 0.01], abs=1e-6)


async def test_replay_through_a_trigger_callable():
    """Replay can send each event through an async trigger(channel, event, data)."""
    sent = []

    async def trigger(channel, event, data):
        sent.append((channel, event, data))

    count = await replay(EVENTS, trigger=trigger, speed=None)
    assert count == len(EVENTS)
    assert sent == [(e.channel, e.event, e.data) for e in EVENTS]


async def test_replay_needs_a_destination_and_a_positive_speed():
    """replay() refuses to run with nowhere to send, or a speed that is not positive."""
    with pytest.raises(ValueError):
        await replay(EVENTS)
    with pytest.raises(ValueError):
        await replay(EVENTS, into=LiveFrame(), speed=0)


@pytest.fixture
async def local_server():
    """A local Pusher server on a free port, without demo feeds."""
    from pusher_nb.server import LocalServer

    server = await LocalServer.start(port=0, feeds=())
    yield server
    await server.stop()


async def test_record_then_replay_through_the_local_server(local_server, tmp_path):
    """What a Recorder took from a channel replays through the server into a LiveFrame."""
    async with local_server.client() as client:
        live = await client.subscribe("prices")
        recorder = Recorder(live, path=tmp_path / "live.jsonl")
        for i in range(5):
            await local_server.trigger("prices", "trade", {"price": 1.0 + i, "sym": "A"})
        await eventually(lambda: len(recorder) == 5)
        recorder.close()

        replayed = await client.subscribe("replayed")
        target = LiveFrame(replayed)
        recording = [
            Event(e.event, "replayed", e.data, e.user_id, e.received_at)
            for e in load_events(tmp_path / "live.jsonl")
        ]
        assert await replay(recording, trigger=local_server.trigger, speed=50) == 5
        await target.wait(rows=5, timeout=timeout(10))
        assert target.df["price"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
        assert target.df["sym"].tolist() == ["A"] * 5
