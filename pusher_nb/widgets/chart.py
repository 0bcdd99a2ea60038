"""LiveChart: a Plotly FigureWidget that follows a LiveFrame's newest rows.

The figure is made once. A render task redraws at most ``fps`` times a second, and only when
the frame changed; each redraw is one ``batch_update`` assigning float64 arrays, which reach
the browser as binary buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._base import LiveView

KINDS = ("line", "scatter", "candlestick", "bar")
_TIME_COLUMN = "received_at"


class _LiveFigure(go.FigureWidget):
    """A FigureWidget whose data updates keep a date x axis a date axis.

    plotly.js resets an axis type whenever a restyle changes the axis data, unless the same
    update names the type (plotly.js#2144); and plotly.py leaves an unchanged layout value out
    of the update. So a redraw of float64 milliseconds would turn the time axis linear. This
    hook adds the axis type to each update that carries x data.
    """

    def _send_update_msg(self, restyle_data, relayout_data, trace_indexes=None, source_view_id=None):
        if "x" in (restyle_data or {}) and self.layout.xaxis.type == "date":
            relayout_data = {**(relayout_data or {}), "xaxis.type": "date"}
        return super()._send_update_msg(restyle_data, relayout_data, trace_indexes, source_view_id)


def _as_list(y: str | Sequence[str]) -> list[str]:
    return [y] if isinstance(y, str) else list(y)


class LiveChart(LiveView, widgets.VBox):
    """A live line, scatter, candlestick or bar chart of a LiveFrame.

    ``y`` is a column or several; ``group_by`` draws one trace per value of a column (a
    symbol, a team). ``window`` is how many of the newest rows to show. ``kind="candlestick"``
    draws OHLC bars of ``y`` per ``rule`` (a pandas offset, "1s" by default); ``kind="bar"``
    with ``group_by`` shows the latest ``y`` of each group.
    """

    fps = 10.0

    def __init__(
        self,
        frame: Any,
        x: str | None = _TIME_COLUMN,
        y: str | Sequence[str] = "price",
        group_by: str | None = None,
        kind: str = "line",
        window: int = 500,
        fps: float | None = None,
        rule: str = "1s",
        title: str | None = None,
        height: int = 360,
        **kwargs: Any,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        if window < 1:
            raise ValueError("window must be at least 1")
        ys = _as_list(y)
        if kind == "candlestick" and (len(ys) != 1 or group_by):
            raise ValueError("a candlestick chart takes one y column and no group_by")
        super().__init__(**kwargs)
        self.frame = frame
        self.x, self.y, self.group_by, self.kind = x, ys, group_by, kind
        self.window, self.rule = int(window), rule
        self._drawn_version: int | None = None
        self._groups: dict[Any, int] = {}
        time_axis = kind == "candlestick" or x == _TIME_COLUMN
        layout = go.Layout(
            title=title,
            height=height,
            margin={"l": 50, "r": 20, "t": 40 if title else 20, "b": 40},
            xaxis={"type": "date"} if time_axis and not (kind == "bar" and group_by) else {},
            xaxis_rangeslider_visible=False,
            showlegend=len(ys) > 1 or group_by is not None,
            uirevision="live",  # keep the user's zoom and legend clicks across redraws
        )
        self.figure = _LiveFigure(layout=layout)
        if kind == "candlestick":
            self.figure.add_trace(
                go.Candlestick(x=[], open=[], high=[], low=[], close=[], name=ys[0])
            )
        elif kind == "bar" and group_by:
            self.figure.add_trace(go.Bar(x=[], y=[], name=ys[0]))
        elif not group_by:
            for column in ys:
                self.figure.add_trace(self._trace(column))
        self._init_view(fps)
        self.children = (self.figure, self.error_line)

    def _trace(self, name: str) -> go.BaseTraceType:
        if self.kind == "bar":
            return go.Bar(x=[], y=[], name=name)
        mode = "lines" if self.kind == "line" else "markers"
        return go.Scatter(x=[], y=[], mode=mode, name=name)

    # -- drawing --

    def _needs_draw(self) -> bool:
        return self.frame.version != self._drawn_version

    def _x_values(self) -> np.ndarray:
        n = self.window
        if self.x is None:
            count = min(len(self.frame), n)
            return np.arange(self.frame.total - count, self.frame.total, dtype=np.float64)
        values = self.frame.window(self.x, n)
        if self.x == _TIME_COLUMN:
            values = values * 1000.0  # a date axis reads numbers as milliseconds since 1970 UTC
        return values

    def _column(self, name: str) -> np.ndarray:
        if name not in self.frame.columns:
            return np.full(min(len(self.frame), self.window), np.nan)
        return self.frame.window(name, self.window)

    def _draw(self) -> None:
        self._drawn_version = self.frame.version
        if self.kind == "candlestick":
            self._draw_candles()
        elif self.kind == "bar" and self.group_by:
            self._draw_latest_per_group()
        elif self.group_by:
            self._draw_groups()
        else:
            xs = self._x_values()
            gaps = self._reconnect_gaps() if self.kind == "line" else None
            with self.figure.batch_update():
                for trace, column in zip(self.figure.data, self.y, strict=True):
                    ys = self._column(column)
                    if gaps is not None:
                        trace.x, trace.y = _break_at(xs, gaps), _break_at(ys, gaps)
                    else:
                        trace.x, trace.y = xs, ys

    def _reconnect_gaps(self) -> np.ndarray | None:
        """Where the connection epoch changes in the window, so a line does not bridge the gap."""
        if "epoch" not in self.frame.columns or len(self.frame) < 2:
            return None
        epochs = self.frame.window("epoch", self.window)
        gaps = np.flatnonzero(np.diff(epochs)) + 1
        return gaps if gaps.size else None

    def _draw_groups(self) -> None:
        if self.group_by not in self.frame.columns:
            return
        keys = np.array(self.frame.values(self.group_by, self.window), dtype=object)
        xs = self._x_values()
        ys = self._column(self.y[0])
        for key in pd.unique(keys):
            if key is not None and key not in self._groups:
                self._groups[key] = len(self.figure.data)
                self.figure.add_trace(self._trace(str(key)))
        with self.figure.batch_update():
            for key, index in self._groups.items():
                mask = keys == key
                trace = self.figure.data[index]
                trace.x = xs[mask]
                trace.y = ys[mask]

    def _draw_latest_per_group(self) -> None:
        if self.group_by not in self.frame.columns:
            return
        keys = self.frame.values(self.group_by, self.window)
        ys = self._column(self.y[0])
        latest: dict[Any, float] = {}
        for key, value in zip(keys, ys.tolist(), strict=True):
            if key is not None:
                latest[key] = value
        with self.figure.batch_update():
            trace = self.figure.data[0]
            trace.x = [str(key) for key in latest]
            trace.y = np.array(list(latest.values()), dtype=np.float64)

    def _draw_candles(self) -> None:
        if self.y[0] not in self.frame.columns or len(self.frame) == 0:
            return
        bars = self.frame.resample(self.rule, column=self.y[0], how="ohlc", last=self.window)
        index = pd.DatetimeIndex(bars.index)
        millis = (index.as_unit("us").asi8 / 1000.0).astype(np.float64)
        with self.figure.batch_update():
            trace = self.figure.data[0]
            trace.x = millis
            for field in ("open", "high", "low", "close"):
                setattr(trace, field, bars[field].to_numpy(dtype=np.float64, na_value=np.nan))


def _break_at(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.insert(values, positions, np.nan)
