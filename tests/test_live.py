"""LiveFrame: columns, dtypes, the bounded ring, waiting, resampling (no sockets)."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest
from support import timeout

from pusher_nb.live import LiveFrame
from pusher_nb.protocol import Event

T0 = 1_700_000_000.0


class FakeStats:
    def __init__(self) -> None:
        self.connection_epoch = 1
        self.events_received = 0
        self.reconnects = 0
        self.last_error = None


class FakeClient:
    """The part of Client a LiveFrame uses: global binding and stats."""

    def __init__(self) -> None:
        self.handlers: list = []
        self.stats = FakeStats()
        self.connection = object()
        self.channels = {}

    def bind_global(self, handler):
        self.handlers.append(handler)
        return handler

    def unbind_global(self, handler=None):
        self.handlers = [h for h in self.handlers if handler not in (None, h)]

    def emit(self, event: Event) -> None:
        self.stats.events_received += 1
        for handler in list(self.handlers):
            handler(event)


class FakeChannel(FakeClient):
    def __init__(self, name: str = "prices", client: FakeClient | None = None) -> None:
        super().__init__()
        self.name = name
        self.client = client or FakeClient()

    def send(self, event: str, data, t: float, user_id: str | None = None) -> None:
        self.emit(Event(event, self.name, data, user_id, t))


def test_flattens_payloads_into_typed_columns():
    """Nested keys become dotted columns with float64, int64 and string dtypes."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    channel.send(
        "trade", {"price": 1.5, "qty": 2, "side": "buy", "m": {"a": 1, "b": {"c": 2.5}}}, T0
    )
    channel.send(
        "trade", {"price": 2, "qty": 3, "side": "sell", "m": {"a": 4, "b": {"c": 1.0}}}, T0 + 1
    )
    df = frame.df
    assert list(df.columns) == [
        "received_at",
        "channel",
        "event",
        "user_id",
        "epoch",
        "price",
        "qty",
        "side",
        "m.a",
        "m.b.c",
    ]
    assert df["price"].dtype == np.float64 and df["price"].tolist() == [1.5, 2.0]
    assert df["qty"].dtype == np.int64 and df["qty"].tolist() == [2, 3]
    assert df["m.a"].dtype == np.int64 and df["m.b.c"].tolist() == [2.5, 1.0]
    assert df["side"].tolist() == ["buy", "sell"]
    assert df["epoch"].dtype == np.int64 and df["epoch"].tolist() == [1, 1]
    assert str(df["received_at"].dtype) == "datetime64[us, UTC]"
    assert df["received_at"].iloc[1] == pd.Timestamp(T0 + 1, unit="s", tz="UTC")


def test_missing_values_and_non_dict_payloads():
    """Absent keys are NaN (numbers) or None, and a non-dict payload goes to a data column."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    channel.send("a", {"x": 1}, T0)
    channel.send("b", "plain text", T0)
    channel.send("c", [1, 2], T0)
    channel.send("a", {"x": 3, "y": "new"}, T0)
    df = frame.df
    assert df["x"].dtype == np.float64
    assert df["x"].isna().tolist() == [False, True, True, False]
    assert df["data"].tolist()[1:3] == ["plain text", [1, 2]]
    assert df["y"].isna().tolist() == [True, True, True, False]


def test_flatten_false_keeps_payloads_whole():
    """flatten=False puts each payload, dict or not, in the data column."""
    channel = FakeChannel()
    frame = LiveFrame(channel, flatten=False)
    channel.send("a", {"x": {"y": 1}}, T0)
    channel.send("b", 5, T0)
    assert frame.columns[-1] == "data" and frame.df["data"].tolist() == [{"x": {"y": 1}}, 5]


def test_payload_keys_clashing_with_meta_columns_are_prefixed():
    """A payload key called "channel" does not overwrite the channel column."""
    channel = FakeChannel("room")
    frame = LiveFrame(channel)
    channel.send("msg", {"channel": "other", "user_id": 7}, T0)
    row = frame.df.iloc[0]
    assert row["channel"] == "room" and row["data.channel"] == "other" and row["data.user_id"] == 7


def test_internal_events_and_unselected_events_are_not_rows():
    """pusher: and pusher_internal: events never become rows; events= filters by name."""
    channel = FakeChannel()
    everything = LiveFrame(channel)
    trades = LiveFrame(channel, events="trade")
    several = LiveFrame(channel, events=["trade", "quote"])
    for name in (
        "pusher:subscription_succeeded",
        "pusher_internal:member_added",
        "trade",
        "quote",
        "news",
    ):
        channel.send(name, {"v": 1}, T0)
    assert everything.df["event"].tolist() == ["trade", "quote", "news"]
    assert trades.df["event"].tolist() == ["trade"]
    assert several.df["event"].tolist() == ["trade", "quote"]


def test_ring_is_bounded_and_keeps_newest_last():
    """Only max_rows rows stay, in arrival order, numbered by their arrival count."""
    channel = FakeChannel()
    frame = LiveFrame(channel, max_rows=10)
    for i in range(1000):
        channel.send("tick", {"i": i}, T0 + i)
    assert len(frame) == 10 and frame.total == 1000
    df = frame.df
    assert df["i"].tolist() == list(range(990, 1000))
    assert df.index.tolist() == list(range(990, 1000))
    assert frame.tail(3)["i"].tolist() == [997, 998, 999]
    assert all(len(col) < frame._trim_at for col in frame._cols.values())


def test_df_is_cached_until_the_next_event():
    """Reading .df twice builds one DataFrame; a new event invalidates it."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    channel.send("tick", {"p": 1.0}, T0)
    first = frame.df
    assert frame.df is first
    channel.send("tick", {"p": 2.0}, T0)
    assert frame.df is not first and len(frame.df) == 2


def test_dtypes_only_widen_between_snapshots():
    """A float column stays float64 even when its window later holds only integers."""
    channel = FakeChannel()
    frame = LiveFrame(channel, max_rows=2)
    channel.send("t", {"p": 1.5}, T0)
    assert frame.df["p"].dtype == np.float64
    channel.send("t", {"p": 2}, T0)
    channel.send("t", {"p": 3}, T0)
    assert frame.df["p"].dtype == np.float64 and frame.df["p"].tolist() == [2.0, 3.0]
    channel.send("t", {"p": "n/a"}, T0)
    assert frame.df["p"].dtype == object
    channel.send("t", {"p": 4}, T0)
    channel.send("t", {"p": 5}, T0)
    assert frame.df["p"].dtype == object


def test_window_returns_float64_without_a_dataframe():
    """window() gives the last n values as float64; non-numbers become NaN."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    for i in range(20):
        channel.send("t", {"p": i, "s": "x" if i % 2 else 1}, T0 + i)
    p = frame.window("p", 5)
    assert p.dtype == np.float64 and p.tolist() == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert frame.window("received_at", 2).tolist() == [T0 + 18, T0 + 19]
    s = frame.window("s", 2)
    assert np.isnan(s[1]) and s[0] == 1.0
    assert frame._df is None
    assert len(frame.window("p")) == 20 and len(frame.window("p", 0)) == 0


def test_epoch_column_follows_the_client_connection_epoch():
    """Rows carry the client's connection epoch at arrival, so a reconnect is visible."""
    client = FakeClient()
    channel = FakeChannel(client=client)
    frame = LiveFrame(channel)
    channel.send("t", {"p": 1}, T0)
    client.stats.connection_epoch = 2
    channel.send("t", {"p": 2}, T0)
    assert frame.df["epoch"].tolist() == [1, 2]


def test_sources_can_be_a_client_or_several_channels():
    """A client source gives every channel's events; a list binds to each channel."""
    client = FakeClient()
    a, b = FakeChannel("a", client), FakeChannel("b", client)
    from_client = LiveFrame(client)
    from_list = LiveFrame([a, b])
    a.send("t", {"p": 1}, T0)
    b.send("t", {"p": 2}, T0)
    client.emit(Event("t", "c", {"p": 3}, None, T0))
    assert from_client.df["channel"].tolist() == ["c"]
    assert from_list.df["channel"].tolist() == ["a", "b"]


async def test_wait_returns_once_enough_rows_arrived():
    """wait(rows=n) resolves when the nth row arrives."""
    channel = FakeChannel()
    frame = LiveFrame(channel)

    async def feed():
        for i in range(5):
            await asyncio.sleep(0)
            channel.send("t", {"i": i}, T0)

    task = asyncio.get_running_loop().create_task(feed())
    assert await frame.wait(rows=5, timeout=timeout(5)) is frame
    await task
    assert len(frame) == 5


async def test_wait_timeout_names_how_many_rows_arrived():
    """A wait that times out says how many of the wanted rows arrived."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    channel.send("t", {"i": 1}, T0)
    with pytest.raises(TimeoutError, match="only 1 of 3 rows"):
        await frame.wait(rows=3, timeout=0.01)


async def test_close_unbinds_and_fails_pending_waits():
    """close() unbinds from the source and ends a pending wait with an error."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    waiter = asyncio.ensure_future(frame.wait(rows=2, timeout=timeout(5)))
    await asyncio.sleep(0)
    frame.close()
    with pytest.raises(RuntimeError, match="closed"):
        await waiter
    assert channel.handlers == []
    channel.send("t", {"i": 1}, T0)
    assert len(frame) == 0


def test_on_update_callbacks_run_per_row_and_failures_are_contained(caplog):
    """Callbacks see each new row; a failing callback is logged and does not stop ingest."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    seen = []
    remove = frame.on_update(lambda f: seen.append(len(f)))
    frame.on_update(lambda f: 1 / 0)
    channel.send("t", {"i": 1}, T0)
    channel.send("t", {"i": 2}, T0)
    remove()
    channel.send("t", {"i": 3}, T0)
    assert seen == [1, 2] and len(frame) == 3
    assert "on_update callback" in caplog.text


def test_pause_resume_and_clear():
    """Paused frames skip events; clear() empties rows and columns."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    channel.send("t", {"i": 1}, T0)
    frame.pause()
    channel.send("t", {"i": 2}, T0)
    frame.resume()
    channel.send("t", {"i": 3}, T0)
    assert frame.df["i"].tolist() == [1, 3] and frame.skipped == 1
    frame.clear()
    assert len(frame) == 0 and frame.df.empty and "i" not in frame.columns
    channel.send("t", {"j": 1}, T0)
    assert frame.df["j"].tolist() == [1]


def test_resample_ohlc_and_mean_by_symbol():
    """resample() gives OHLC bars of a price, and other aggregations split by a column."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    prices = [10.0, 12.0, 9.0, 11.0, 20.0, 21.0]
    for i, p in enumerate(prices):
        channel.send("trade", {"sym": "A" if i % 2 == 0 else "B", "price": p}, T0 + i * 0.5)
    bars = frame.resample("1s")
    assert list(bars.columns) == ["open", "high", "low", "close"]
    assert bars.iloc[0].tolist() == [10.0, 12.0, 10.0, 12.0]
    assert bars.iloc[1].tolist() == [9.0, 11.0, 9.0, 11.0]
    assert bars.iloc[2].tolist() == [20.0, 21.0, 20.0, 21.0]
    means = frame.resample("10s", how="mean", by="sym")
    assert means.loc["A"].iloc[0].item() == pytest.approx((10 + 9 + 20) / 3)
    with pytest.raises(KeyError):
        frame.resample("1s", column="nope")


def test_to_events_rebuilds_the_payloads():
    """to_events() turns rows back into events with nested payloads."""
    channel = FakeChannel()
    frame = LiveFrame(channel)
    sent = [
        Event("trade", "prices", {"p": 1.5, "m": {"a": 1}}, None, T0),
        Event("note", "prices", "hello", "u1", T0 + 1),
    ]
    for event in sent:
        channel.emit(event)
    back = frame.to_events()
    assert [(e.event, e.channel, e.data, e.user_id, e.received_at) for e in back] == [
        (e.event, e.channel, e.data, e.user_id, e.received_at) for e in sent
    ]


def test_html_repr_shows_counts_and_newest_rows():
    """In a notebook a LiveFrame shows its counts and its newest rows."""
    frame = LiveFrame(max_rows=5)
    for i in range(12):
        frame.append(Event("t", "c", {"i": i}, None, T0 + i))
    html = frame._repr_html_()
    assert "5 rows held of 12 received" in html and "<table" in html and ">11<" in html


def test_rejects_bad_max_rows():
    """max_rows must be positive."""
    with pytest.raises(ValueError):
        LiveFrame(None, max_rows=0)


# -- against the local server ----------------------------------------------------------------


@pytest.fixture
async def local_server():
    """A local Pusher server on a free port, without demo feeds."""
    from pusher_nb.server import LocalServer

    server = await LocalServer.start(port=0, feeds=())
    yield server
    await server.stop()


async def test_frame_from_the_local_server_equals_what_was_sent(local_server):
    """Events triggered on the server arrive as rows: same values, dtypes, order, bounded length."""
    sent = [
        {
            "price": 100.0 + i / 4,
            "qty": i,
            "sym": "AB"[i % 2],
            "book": {"bid": 99.5 + i, "ask": 100.5 + i},
        }
        for i in range(120)
    ]
    async with local_server.client() as client:
        channel = await client.subscribe("prices")
        frame = LiveFrame(channel, events="trade", max_rows=50)
        for data in sent:
            await local_server.trigger("prices", "trade", data)
        await local_server.trigger("prices", "news", {"headline": "ignored"})
        await frame.wait(rows=len(sent), timeout=timeout(10))
        df = frame.df
        assert len(df) == 50 and frame.total == 120
        expected = sent[-50:]
        assert df["price"].tolist() == [d["price"] for d in expected]
        assert df["qty"].tolist() == [d["qty"] for d in expected]
        assert df["sym"].tolist() == [d["sym"] for d in expected]
        assert df["book.ask"].tolist() == [d["book"]["ask"] for d in expected]
        assert df["price"].dtype == np.float64 and df["qty"].dtype == np.int64
        assert df["book.bid"].dtype == np.float64
        assert set(df["event"]) == {"trade"} and set(df["channel"]) == {"prices"}
        assert df["received_at"].is_monotonic_increasing
        assert (
            df["epoch"] == client.stats.connection_epoch
        ).all() and client.stats.connection_epoch >= 1
        frame.close()


async def test_client_source_takes_every_channel_but_no_internal_events(local_server):
    """A frame on a client gets app events from all its channels and no pusher: events."""
    async with local_server.client() as client:
        frame = LiveFrame(client)
        await client.subscribe("a")
        await client.subscribe("b")
        await local_server.trigger("a", "x", {"v": 1})
        await local_server.trigger("b", "y", {"v": 2})
        await frame.wait(rows=2, timeout=timeout(10))
        assert frame.df[["channel", "event", "v"]].values.tolist() == [["a", "x", 1], ["b", "y", 2]]
        frame.close()


def _flat_reference(payload):
    if not isinstance(payload, dict):
        return {"data": payload}
    out = {}
    for key, value in payload.items():
        if isinstance(value, dict) and value:
            for inner, leaf in _flat_reference(value).items():
                out[f"{key}.{inner}"] = leaf
        else:
            out[key] = value
    return out


def test_mixed_layouts_keep_every_value_in_its_row():
    """Payload layouts that change, nest, add keys or are not dicts keep each value in its row."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    shapes = st.sampled_from([
        lambda i: {"price": float(i), "size": i},
        lambda i: {"size": i, "price": float(i)},
        lambda i: {"price": float(i), "side": "buy" if i % 2 else "sell"},
        lambda i: {"quote": {"bid": i, "ask": i + 1}},
        lambda i: {"extra": f"x{i}"},
        lambda i: i,
        lambda i: f"text {i}",
    ])

    @settings(max_examples=60, deadline=None)
    @given(st.lists(shapes, min_size=1, max_size=1500), st.integers(1, 2000))
    def check(makers, max_rows):
        channel = FakeChannel()
        frame = LiveFrame(channel, max_rows=max_rows)
        payloads = [make(i) for i, make in enumerate(makers)]
        for i, payload in enumerate(payloads):
            channel.send("tick", payload, T0 + i)
        kept = [_flat_reference(p) for p in payloads][-max_rows:]
        assert len(frame) == len(kept)
        for column in {key for row in kept for key in row}:
            assert frame.values(column) == [row.get(column) for row in kept], column
        assert frame.values("received_at") == [T0 + i for i in range(len(payloads))][-max_rows:]

    check()
