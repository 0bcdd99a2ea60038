"""The notebook views: what they show, how often they redraw, what they send, what they hide."""

from __future__ import annotations

import asyncio
import json
import logging

import numpy as np
import pytest
from support import eventually, timeout

from pusher_nb.channels import Channel, EventEmitter, PresenceChannel
from pusher_nb.client import ClientStats
from pusher_nb.live import LiveFrame
from pusher_nb.protocol import Event
from pusher_nb.widgets import Chat, EventLog, LiveChart, PresenceTable, PusherWidget, StatusBar

T0 = 1_700_000_000.0


class FakeClient:
    """A client with real emitters and channels, and no socket: sends are recorded."""

    def __init__(self) -> None:
        self.connection = EventEmitter(self._report_error)
        self._events = EventEmitter(self._report_error)
        self.stats = ClientStats()
        self.state = "connected"
        self.socket_id = "123.456"
        self.server_url = "ws://127.0.0.1:6001/app/app-key?protocol=7"
        self.user_data = {"user_id": "u1", "user_info": {"name": "Ada"}}
        self.max_event_data_bytes = 10240
        self.subscriptions: dict[str, Channel] = {}
        self.sent: list[tuple[str, str, object]] = []
        self.refuse: set[str] = set()

    def _report_error(self, where, exc):
        raise exc

    def bind_global(self, handler):
        return self._events.bind_global(handler)

    def unbind_global(self, handler=None):
        self._events.unbind_global(handler)

    async def _send_client_event(self, channel, event, data):
        self.sent.append((channel, event, data))

    async def subscribe(self, name: str) -> Channel:
        if name in self.refuse:
            raise RuntimeError(f"refused {name}")
        channel = Channel(name, self)
        channel.subscribed = True
        self.subscriptions[name] = channel
        return channel

    def deliver(self, channel: Channel, event: Event) -> None:
        self.stats.events_received += 1
        channel.emit(event)
        self._events.emit(event)


def presence_channel(client: FakeClient) -> PresenceChannel:
    channel = PresenceChannel("presence-room", client)
    client.subscriptions[channel.name] = channel
    channel.members.my_id = "u1"
    channel._subscription_succeeded(
        {
            "presence": {
                "ids": ["u1", "u2"],
                "hash": {"u1": {"name": "Ada"}, "u2": {"name": "Bob"}},
                "count": 2,
            }
        }
    )
    return channel


def state_text(widget) -> str:
    """Every synced trait of ``widget`` and its descendants, serialized."""
    states = []

    def walk(w):
        states.append(w.get_state())
        for child in getattr(w, "children", ()):
            walk(child)

    walk(widget)
    return json.dumps(states, default=repr)


def prices(frame: LiveFrame, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        frame.append(
            Event("trade", "prices", {"price": 100.0 + i, "sym": "AB"[i % 2]}, None, T0 + i), 1
        )


def test_status_bar_shows_state_counters_and_errors():
    """StatusBar shows the coloured state, server, socket_id, counts and the last error (escaped)."""
    client = FakeClient()
    client.stats.events_received = 42
    client.stats.reconnects = 3
    bar = StatusBar(client)
    text = bar.line.value
    for expected in (
        "connected",
        "#1a7f37",
        "ws://127.0.0.1:6001",
        "123.456",
        "42 events",
        "3 reconnects",
    ):
        assert expected in text
    client.state = "failed"
    client.connection.emit(
        Event("state_change", None, {"previous": "connected", "current": "failed"})
    )
    client.connection.emit(Event("error", None, {"message": "<boom>", "where": "socket"}))
    bar.refresh()
    assert "failed" in bar.line.value and "#cf222e" in bar.line.value
    assert "socket: &lt;boom&gt;" in bar.line.value
    bar.close()
    assert client.connection._named == {}


def test_line_chart_traces_hold_the_frame_window_as_float64():
    """A line chart's traces hold the newest window of x (date milliseconds) and y, as float64."""
    frame = LiveFrame()
    chart = LiveChart(frame, y=["price", "qty"], window=5)
    for i in range(20):
        frame.append(Event("trade", "p", {"price": 1.0 + i, "qty": i}, None, T0 + i))
    assert chart.refresh() and not chart.refresh()
    price, qty = chart.figure.data
    assert isinstance(price.y, np.ndarray) and price.y.dtype == np.float64
    assert price.y.tolist() == frame.window("price", 5).tolist()
    assert qty.y.tolist() == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert price.x.tolist() == (frame.window("received_at", 5) * 1000).tolist()
    assert chart.figure.layout.xaxis.type == "date"
    assert chart.redraws == 1


def test_line_breaks_where_the_connection_epoch_changes():
    """A reconnect (new connection epoch) shows as a break in a line, not a bridge."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price")
    for i, epoch in enumerate([1, 1, 2, 2]):
        frame.append(Event("trade", "p", {"price": float(i)}, None, T0 + i), epoch)
    chart.refresh()
    y = chart.figure.data[0].y
    assert y.dtype == np.float64 and len(y) == 5 and np.isnan(y[2])
    assert y[~np.isnan(y)].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_each_redraw_is_one_batched_update():
    """Every redraw reaches the front end as exactly one update message."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price", window=10)
    messages = []
    chart.figure.observe(
        lambda change: change["new"] and messages.append(change["new"]), names="_py2js_update"
    )
    for burst in range(3):
        prices(frame, 7, start=burst * 7)
        chart.refresh()
    assert chart.redraws == 3 and len(messages) == 3
    assert messages[-1]["style_data"]["y"][0].dtype == np.float64


def test_group_by_draws_one_trace_per_group():
    """group_by adds a trace for each value seen, each holding that group's rows."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price", group_by="sym", kind="scatter", window=6)
    prices(frame, 10)
    frame.append(Event("news", "prices", {"headline": "no symbol"}, None, T0 + 20))
    chart.refresh()
    traces = {t.name: t for t in chart.figure.data}
    assert set(traces) == {"A", "B"} and traces["A"].mode == "markers"
    assert traces["A"].y.tolist() == [106.0, 108.0]
    assert traces["B"].y.tolist() == [105.0, 107.0, 109.0]


def test_candlestick_chart_draws_frame_ohlc():
    """A candlestick chart draws the frame's OHLC bars over its window."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price", kind="candlestick", rule="2s", window=100)
    prices(frame, 6)
    chart.refresh()
    bars = frame.resample("2s", column="price", how="ohlc")
    trace = chart.figure.data[0]
    assert trace.open.tolist() == bars["open"].tolist()
    assert trace.close.tolist() == bars["close"].tolist()
    assert trace.x.dtype == np.float64 and len(trace.x) == 3


def test_bar_chart_by_group_shows_latest_values():
    """kind="bar" with group_by shows each group's latest value."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price", kind="bar", group_by="sym")
    prices(frame, 5)
    chart.refresh()
    assert list(chart.figure.data[0].x) == ["A", "B"]
    assert chart.figure.data[0].y.tolist() == [104.0, 103.0]


def test_chart_rejects_unknown_kinds():
    """An unknown kind, or a candlestick of several columns, is refused up front."""
    with pytest.raises(ValueError):
        LiveChart(LiveFrame(), kind="pie")
    with pytest.raises(ValueError):
        LiveChart(LiveFrame(), y=["a", "b"], kind="candlestick")


async def test_redraws_stay_within_fps_over_a_burst():
    """During a burst of events the render task redraws at most fps per second (plus one)."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price", fps=20)
    loop = asyncio.get_running_loop()
    start = loop.time()
    i = 0
    while loop.time() - start < 0.5:
        prices(frame, 50, start=i)
        i += 50
        await asyncio.sleep(0)
    await asyncio.sleep(0.1)
    chart.close()
    elapsed_total = loop.time() - start
    assert 1 <= chart.redraws <= 20 * elapsed_total + 1
    await asyncio.sleep(0)
    assert chart._render_task.done()


async def test_chart_redraws_only_when_the_frame_changed():
    """With no new rows the render task does not redraw."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price", fps=50)
    prices(frame, 3)
    await eventually(lambda: chart.redraws == 1)
    await asyncio.sleep(0.1)
    assert chart.redraws == 1
    chart.close()


def test_presence_table_lists_members_and_changes():
    """PresenceTable shows members with info, marks me, counts, and logs joins and leaves."""
    client = FakeClient()
    channel = presence_channel(client)
    table = PresenceTable(channel)
    assert "2 online" in table.header.value
    assert "u1 <b>(me)</b>" in table.table.value and "Bob" in table.table.value
    channel._member_added("u3", {"name": "<Cy>"})
    channel._member_removed("u2")
    table.refresh()
    assert "2 online" in table.header.value and "&lt;Cy&gt;" in table.table.value
    assert "Bob" not in table.table.value
    changes = table.changes_view.value
    assert changes.index("Bob left") < changes.index("&lt;Cy&gt; joined")
    table.close()
    assert channel._named == {}


def test_event_log_is_newest_first_bounded_and_hides_internal_events():
    """EventLog keeps max_lines events, newest first, without pusher: events by default."""
    client = FakeClient()
    channel = Channel("news", client)
    log = EventLog(client, max_lines=3)
    for i in range(5):
        client.deliver(channel, Event("story", "news", {"n": i}, None, T0 + i))
    client.deliver(channel, Event("pusher:subscription_count", "news", {}, None, T0))
    log.refresh()
    assert [line.split()[-1] for line in log.lines] == ['{"n":4}', '{"n":3}', '{"n":2}']
    assert "pusher:" not in log.output.value and "5 events" in log.header.value


def test_handler_failures_show_on_the_view_and_the_log(caplog):
    """An exception inside a view's handler is shown on the view and logged, not raised."""
    client = FakeClient()
    channel = presence_channel(client)
    table = PresenceTable(channel)
    table.changes = None  # break the handler
    with caplog.at_level(logging.ERROR):
        channel._member_added("u9", {})
    assert "member handler" in table.error_line.value and table.error_line.layout.display is None
    assert "member handler" in caplog.text


async def test_chat_shows_messages_and_sends_from_the_box():
    """Chat shows incoming messages by sender name and sends its own as client-message."""
    client = FakeClient()
    channel = presence_channel(client)
    chat = Chat(channel)
    channel.emit(Event("client-message", channel.name, {"text": "hi <all>"}, "u2", T0))
    chat.text.value = "hello Bob"
    await eventually(lambda: client.sent)
    assert client.sent == [
        ("presence-room", "client-message", {"text": "hello Bob", "name": "Ada"})
    ]
    assert chat.text.value == ""
    await eventually(lambda: len(chat.messages) == 2)
    chat.refresh()
    view = chat.messages_view.value
    assert view.index("Bob</b>: hi &lt;all&gt;") < view.index("Ada</b>: hello Bob")
    assert "2 online" in chat.online.value and "Ada (me)" in chat.online.value
    chat.close()


async def test_chat_names_a_sender_by_membership_not_by_payload():
    """A message that claims another name is shown under the sender's member name."""
    client = FakeClient()
    channel = presence_channel(client)
    chat = Chat(channel)
    channel.emit(Event("client-message", channel.name, {"text": "trust me", "name": "Ada"}, "u2", T0))
    chat.refresh()
    assert "Bob</b>: trust me" in chat.messages_view.value
    chat.close()


async def test_chat_button_clicked_off_the_loop_thread_sends_on_the_loop():
    """A click arriving on another thread is handed to the loop, which sends the message."""
    client = FakeClient()
    channel = presence_channel(client)
    chat = Chat(channel, name="Ada L.")
    chat.text.continuous_update = True  # typing alone must not send
    chat.text.value = "from a thread"
    await asyncio.to_thread(chat.send_button.click)
    await eventually(lambda: client.sent)
    assert client.sent[0][2] == {"text": "from a thread", "name": "Ada L."}
    chat.close()


async def test_chat_send_failure_is_shown():
    """A refused client event shows on the chat's error line."""
    client = FakeClient()
    channel = presence_channel(client)
    channel.subscribed = False
    chat = Chat(channel)
    chat.text.value = "nobody hears this"
    await eventually(lambda: chat.errors)
    assert "send" in chat.error_line.value and not client.sent
    chat.close()


async def test_pusher_widget_subscribes_from_its_box_and_lists_channels():
    """PusherWidget subscribes to a typed channel name and lists it; a refusal is shown."""
    client = FakeClient()
    widget = PusherWidget(client)
    widget.channel_name.value = "prices"
    await eventually(lambda: "prices" in client.subscriptions)
    widget.refresh()
    assert "<code>prices</code>" in widget.channels_view.value
    client.refuse.add("private-nope")
    widget.channel_name.value = "private-nope"
    await eventually(lambda: widget.errors)
    assert "refused private-nope" in widget.error_line.value
    client.deliver(client.subscriptions["prices"], Event("tick", "prices", {"p": 1}, None, T0))
    widget.event_log.refresh()
    assert "tick" in widget.event_log.output.value
    widget.close()
    assert widget.status._closed and widget.event_log._closed
    assert client._events._global == [] and client.connection._named == {}


async def test_close_stops_every_render_task():
    """close() cancels the render task of a view and of the views inside it."""
    client = FakeClient()
    widget = PusherWidget(client)
    tasks = [widget._render_task, widget.status._render_task, widget.event_log._render_task]
    widget.close()
    await asyncio.sleep(0)
    assert all(task.done() for task in tasks)


async def test_no_secret_reaches_any_widget_state():
    """No app secret, master key or auth header appears in any widget's synced state."""
    import base64

    from pusher_nb.client import Client

    secret = "SeCrEt-7f3a9c-never-sync"
    master = base64.b64encode(b"MaStErKeY-0123456789abcdef-xyz!!").decode()
    token = "Bearer ToKeN-5d1e-never-sync"
    client = Client(
        "app-key",
        host="127.0.0.1",
        port=6001,
        tls=False,
        app_id="1",
        secret=secret,
        encryption_master_key_base64=master,
        auth_endpoint="http://127.0.0.1:1/auth",
        auth_headers={"Authorization": token},
        user_data={"user_id": "u1", "user_info": {"name": "Ada"}},
    )
    channel = PresenceChannel("presence-room", client)
    channel.members.my_id = "u1"
    channel._subscription_succeeded({"presence": {"ids": ["u1"], "hash": {"u1": {"name": "Ada"}}}})
    frame = LiveFrame(channel)
    frame.append(Event("trade", channel.name, {"price": 1.0}, None, T0))
    views = [
        StatusBar(client),
        LiveChart(frame),
        PresenceTable(channel),
        EventLog(client),
        Chat(channel),
        PusherWidget(client),
    ]
    for view in views:
        view.refresh()
        text = state_text(view)
        for needle in (secret, master, token, "ToKeN-5d1e", "MaStErKeY"):
            assert needle not in text, f"{type(view).__name__} leaks {needle}"
        view.close()
    await asyncio.sleep(0)


async def test_views_work_without_waiting_forever():
    """A LiveFrame wait used with a chart completes once rows arrive (bounded, no hang)."""
    frame = LiveFrame()
    chart = LiveChart(frame, y="price", fps=50)

    async def feed():
        await asyncio.sleep(0.01)
        prices(frame, 10)

    feeder = asyncio.get_running_loop().create_task(feed())
    await frame.wait(rows=10, timeout=timeout(5))
    await feeder
    await eventually(
        lambda: chart.figure.data[0].y is not None and len(chart.figure.data[0].y) == 10
    )
    chart.close()


# -- against the local server ----------------------------------------------------------------


@pytest.fixture
async def local_server():
    """A local Pusher server on a free port, without demo feeds."""
    from pusher_nb.server import LocalServer

    server = await LocalServer.start(port=0, feeds=())
    yield server
    await server.stop()


async def test_chart_follows_a_live_burst_within_fps(local_server):
    """During a burst from the server the chart redraws at most fps per second and ends on the window."""
    async with local_server.client() as client:
        channel = await client.subscribe("prices")
        frame = LiveFrame(channel, events="trade")
        chart = LiveChart(frame, y="price", window=100, fps=10)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(600):
            await local_server.trigger("prices", "trade", {"price": 10.0 + i})
            if i % 50 == 0:
                await asyncio.sleep(0.05)
        await frame.wait(rows=600, timeout=timeout(10))
        await eventually(
            lambda: chart.figure.data[0].y is not None and chart.figure.data[0].y[-1] == 609.0
        )
        chart.close()
        elapsed = loop.time() - start
        assert 1 <= chart.redraws <= 10 * elapsed + 1
        assert chart.figure.data[0].y.tolist() == frame.window("price", 100).tolist()
        assert chart.figure.data[0].x.tolist() == (frame.window("received_at", 100) * 1000).tolist()
        frame.close()


async def test_views_of_a_connected_client_hold_no_secret():
    """Views of a connected client show its state and members, and hold none of its secrets."""
    import base64

    from pusher_nb.server import LocalServer

    secret = "SeCrEt-live-4b8e-never-sync"
    master = base64.b64encode(b"LiVeMaStEr-0123456789abcdef-xyz!").decode()
    app = {
        "app_id": "77",
        "key": "key-77",
        "secret": secret,
        "encryption_master_key_base64": master,
    }
    async with LocalServer.start(port=0, feeds=(), apps=[app]) as server:
        async with server.client(
            user_data={"user_id": "u1", "user_info": {"name": "Ada"}}
        ) as client:
            room = await client.subscribe("presence-room")
            vault = await client.subscribe("private-encrypted-vault")
            await server.trigger("private-encrypted-vault", "note", {"text": "sealed"})
            log = EventLog(vault)
            await eventually(lambda: log.total == 1)
            shared = base64.b64encode(vault.shared_secret).decode()
            views = [StatusBar(client), PresenceTable(room), Chat(room), PusherWidget(client), log]
            for view in views:
                view.refresh()
            assert "connected" in views[0].line.value and client.socket_id in views[0].line.value
            assert "1 online" in views[1].header.value and "(me)" in views[1].table.value
            assert "sealed" in log.output.value
            for view in views:
                text = state_text(view)
                for needle in (secret, master, shared, "LiVeMaStEr"):
                    assert needle not in text, f"{type(view).__name__} leaks {needle}"
                view.close()


def test_time_axis_updates_name_the_date_type(monkeypatch):
    """Every redraw that moves x on a time axis also says the axis is a date axis (plotly.js#2144)."""
    import plotly.basewidget

    from pusher_nb.live import LiveFrame
    from pusher_nb.protocol import Event
    from pusher_nb.widgets import LiveChart

    sent = []
    original = plotly.basewidget.BaseFigureWidget._send_update_msg

    def spy(figure, restyle_data, relayout_data, *args, **kwargs):
        sent.append(relayout_data)
        return original(figure, restyle_data, relayout_data, *args, **kwargs)

    monkeypatch.setattr(plotly.basewidget.BaseFigureWidget, "_send_update_msg", spy)
    frame = LiveFrame()
    chart = LiveChart(frame, y="price")
    for i in range(3):
        frame.append(Event("trade", "c", {"price": float(i)}, received_at=1_700_000_000.0 + i))
        chart.refresh()
    assert len(sent) == 3 and all(update.get("xaxis.type") == "date" for update in sent)
    assert chart.figure.data[0].x.dtype == np.float64
