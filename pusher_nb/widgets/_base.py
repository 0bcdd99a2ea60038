"""What every live view shares: a throttled render task on the kernel's loop, safe handlers,
hand-off of front-end callbacks to the loop, and an error line that is never silent."""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import ipywidgets as widgets

from ..tasks import TaskSet

logger = logging.getLogger("pusher_nb.widgets")

STATE_COLOURS = {
    "connected": "#1a7f37",
    "connecting": "#b35900",
    "unavailable": "#b35900",
    "failed": "#cf222e",
    "disconnected": "#6e7781",
    "initialized": "#6e7781",
}


def esc(value: Any) -> str:
    """Text from the network, made safe to put into HTML."""
    return html.escape(str(value), quote=True)


def state_name(state: Any) -> str:
    return str(getattr(state, "value", state))


def subscriptions_of(client: Any) -> dict:
    """The client's subscribed channels by name (``subscriptions``, else a ``channels`` dict)."""
    subs = getattr(client, "subscriptions", None)
    if subs is None:
        subs = getattr(client, "channels", None)
    return dict(subs) if isinstance(subs, dict) else {}


class LiveView:
    """Mixed into an ipywidgets box: redraws at most ``fps`` times a second when dirty.

    The render task runs on the loop that was running when the view was made (in a notebook,
    the kernel's). Without a running loop the view draws only when ``refresh()`` is called.
    """

    fps: float = 4.0

    def _init_view(self, fps: float | None = None) -> None:
        if fps is not None:
            if fps <= 0:
                raise ValueError("fps must be positive")
            self.fps = float(fps)
        self.redraws = 0
        self.errors: list[str] = []
        self._dirty = True
        self._closed = False
        self._unbinders: list[Callable[[], None]] = []
        self._tasks = TaskSet(self.report_error)
        self.error_line = widgets.HTML(layout=widgets.Layout(display="none"))
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._render_task: asyncio.Task | None = None
        if self._loop is not None:
            self._render_task = self._loop.create_task(
                self._render_forever(), name=f"pusher_nb {type(self).__name__} render"
            )
            self._render_task.add_done_callback(self._render_done)

    # -- rendering --

    def _needs_draw(self) -> bool:
        return self._dirty

    def _draw(self) -> None:
        raise NotImplementedError

    def refresh(self) -> bool:
        """Redraw now if anything changed; returns whether it drew."""
        if self._closed or not self._needs_draw():
            return False
        self._dirty = False
        try:
            self._draw()
        except Exception as exc:
            self.report_error("redraw", exc)
            return False
        self.redraws += 1
        return True

    async def _render_forever(self) -> None:
        interval = 1.0 / self.fps
        while not self._closed:
            await asyncio.sleep(interval)
            self.refresh()

    def _render_done(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.report_error("render task", task.exception())

    # -- errors --

    def report_error(self, where: str, exc: BaseException | str) -> None:
        """Show an error on the view and log it."""
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, BaseException):
            logger.error("%s %s failed: %s", type(self).__name__, where, text, exc_info=exc)
        else:
            logger.error("%s %s: %s", type(self).__name__, where, text)
        self.errors.append(f"{where}: {text}")
        del self.errors[:-20]
        stamp = time.strftime("%H:%M:%S")
        self.error_line.value = (
            f'<span style="color:#cf222e">&#9888; {stamp} {esc(where)}: {esc(text)}</span>'
        )
        self.error_line.layout.display = None

    # -- binding and hand-off --

    def _guard(self, where: str, handler: Callable[..., Any]) -> Callable[..., None]:
        """``handler`` wrapped so that an exception lands on the view instead of the caller."""

        def guarded(*args: Any) -> None:
            try:
                handler(*args)
            except Exception as exc:
                self.report_error(where, exc)

        guarded.__qualname__ = f"{type(self).__name__}.{where}"
        return guarded

    def _bind(self, source: Any, event_name: str | None, handler: Callable, where: str) -> None:
        """Bind a guarded handler (globally when ``event_name`` is None) and remember to unbind."""
        guarded = self._guard(where, handler)
        if event_name is None:
            source.bind_global(guarded)
            self._unbinders.append(lambda: source.unbind_global(guarded))
        else:
            source.bind(event_name, guarded)
            self._unbinders.append(lambda: source.unbind(event_name, guarded))

    def _on_loop(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` on the view's loop; front-end callbacks may arrive on other threads."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback)
        else:
            callback()

    def _spawn(self, coro: Coroutine, where: str) -> asyncio.Task | None:
        """Run ``coro`` as a task held by the view, its failure shown on the view."""
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                coro.close()
                self.report_error(where, "no running event loop to send from")
                return None
        return self._tasks.spawn(coro, where, loop=loop)

    def close(self) -> None:
        """Stop redrawing, unbind every handler, and close the widgets."""
        if getattr(self, "_closed", True):  # closed, or its construction failed early
            if not hasattr(self, "_closed"):
                super().close()  # type: ignore[misc]
            return
        self._closed = True
        if self._render_task is not None:
            self._render_task.cancel()
        for unbind in self._unbinders:
            try:
                unbind()
            except Exception:
                logger.exception("unbinding %s failed", type(self).__name__)
        self._unbinders.clear()
        for child in _walk(self):
            if child is not self:
                child.close()
        super().close()  # type: ignore[misc]


def _walk(widget: Any) -> list:
    found = [widget]
    for child in getattr(widget, "children", ()) or ():
        found.extend(_walk(child))
    return found
