"""Demo feeds: simulated live data the local server publishes with no internet and no account.

Each feed is a coroutine ``run(context, *, channel=..., rate=..., seed=None)`` that publishes
through the server's ordinary delivery path, so subscribers cannot tell it from a REST trigger.

========  ==========================================  ==============================  =========
feed      channels                                    events                          default
========  ==========================================  ==============================  =========
crypto    ``crypto-trades``                           ``trade``, ``quote``            5 trades/s
sports    ``sports-events``, ``cache-sports-scores``  ``match-event``, ``scores``     2 ticks/s
geo       ``private-deliveries``                      ``location``, ``delivered``     3 updates/s
chat      ``presence-chat``                           ``client-message`` + members    1 message/s
========  ==========================================  ==============================  =========
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..channels import AppState
    from ..server import LocalServer


class FeedContext:
    """What a feed may do: publish, and (for presence demos) act as virtual members."""

    def __init__(self, server: LocalServer, state: AppState) -> None:
        self.server = server
        self.state = state

    def __repr__(self) -> str:
        return f"FeedContext(app_id={self.state.app.app_id!r})"

    def publish(self, channel: str, event: str, data: Any) -> int:
        return self.server.publish(channel, event, data, app_id=self.state.app.app_id)

    def join(self, channel: str, user_id: str, user_info: Any) -> None:
        self.state.join_virtual(channel, user_id, user_info)

    def leave(self, channel: str, user_id: str) -> None:
        self.state.leave_virtual(channel, user_id)

    def client_event(self, channel: str, event: str, data: Any, user_id: str) -> int:
        return self.state.client_event_from(channel, event, data, user_id)


async def ticks(rate: float) -> AsyncIterator[int]:
    """Yield 0, 1, 2, ... ``rate`` times a second, without drifting."""
    if not rate > 0:
        raise ValueError(f"feed rate must be positive, not {rate!r}")
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    due = loop.time()
    count = 0
    while True:
        yield count
        count += 1
        due += period
        delay = due - loop.time()
        if delay < -1.0:  # fell far behind (a busy loop): start counting again from now
            due = loop.time()
            delay = 0.0
        await asyncio.sleep(max(0.0, delay))


from . import chat, crypto, geo, sports  # noqa: E402

Feed = Callable[..., Awaitable[None]]

FEEDS: dict[str, Feed] = {
    "crypto": crypto.run,
    "sports": sports.run,
    "geo": geo.run,
    "chat": chat.run,
}

# the channels each feed publishes on when left to its defaults
CHANNELS: dict[str, tuple[str, ...]] = {
    "crypto": (crypto.DEFAULT_CHANNEL,),
    "sports": (sports.DEFAULT_CHANNEL, sports.DEFAULT_CACHE_CHANNEL),
    "geo": (geo.DEFAULT_CHANNEL,),
    "chat": (chat.DEFAULT_CHANNEL,),
}

__all__ = ["CHANNELS", "FEEDS", "FeedContext", "ticks"]
