"""Background tasks that are kept alive until they finish and never fail silently.

asyncio holds only a weak reference to a task, and an exception in a task nobody awaits is
seen by no one; every background task in pusher_nb goes through a ``TaskSet`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

FailureReporter = Callable[[str, BaseException], None]


class TaskSet:
    """Strong references to running tasks; a task's exception goes to ``report(name, exc)``."""

    def __init__(self, report: FailureReporter) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._report = report

    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str, loop: asyncio.AbstractEventLoop | None = None
    ) -> asyncio.Task:
        """Run ``coro`` as a task on ``loop`` (by default the running one)."""
        task = (loop or asyncio.get_running_loop()).create_task(coro, name=name)
        return self.keep(task)

    def keep(self, awaitable: Any) -> asyncio.Future:
        """Hold a future (a handler's coroutine, say) until it is done, and report its failure."""
        future = asyncio.ensure_future(awaitable)
        self._tasks.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
            self._report(name, task.exception())

    def __iter__(self) -> Iterator[asyncio.Future]:
        return iter(list(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)

    def cancel_all(self) -> list[asyncio.Future]:
        """Cancel every task; returns them, to be awaited by whoever waits for the shutdown."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks
