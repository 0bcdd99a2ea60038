"""``chat``: bot members who chat on a presence channel, leave and come back.

Channel ``presence-chat``. The bots are virtual members inside the server: they appear in the
member list, their comings and goings are ``pusher:member_added`` / ``pusher:member_removed``,
and they talk with ``client-message`` ``{"text", "name"}`` events carrying their ``user_id``,
exactly as a pusher-js client's client events would arrive. ``rate`` messages per second
(default 1); now and then a bot leaves for a few seconds instead of talking.
"""

from __future__ import annotations

import random
from typing import Any

from . import FeedContext, ticks

DEFAULT_CHANNEL = "presence-chat"
DEFAULT_RATE = 1.0
DEFAULT_EVENT = "client-message"

BOTS = [
    {"user_id": "bot-ada", "user_info": {"name": "Ada", "bot": True, "color": "#1f77b4"}},
    {"user_id": "bot-grace", "user_info": {"name": "Grace", "bot": True, "color": "#ff7f0e"}},
    {"user_id": "bot-linus", "user_info": {"name": "Linus", "bot": True, "color": "#2ca02c"}},
    {"user_id": "bot-guido", "user_info": {"name": "Guido", "bot": True, "color": "#d62728"}},
]

LINES = [
    "Morning all!",
    "Has anyone tried the new cache channels?",
    "The BTC chart is wild today.",
    "Presence channels are great for this kind of thing.",
    "I'm typing from a notebook, believe it or not.",
    "Who else is watching the match?",
    "Brb, coffee.",
    "Did the van on route 3 arrive yet?",
    "Client events skip the server round trip, neat.",
    "Encrypted channels: the server only ever sees ciphertext.",
    "What's everyone building?",
    "That reconnect was seamless.",
    "Late subscribers get the last score from the cache, nice.",
    "Anyone else running this on Binder?",
]


async def run(
    context: FeedContext,
    *,
    channel: str = DEFAULT_CHANNEL,
    rate: float = DEFAULT_RATE,
    event: str = DEFAULT_EVENT,
    bots: list[dict[str, Any]] | None = None,
    away_chance: float = 0.08,
    seed: int | None = None,
) -> None:
    rng = random.Random(seed)
    roster = bots or BOTS
    present: dict[str, dict[str, Any]] = {}
    away: dict[str, int] = {}  # user_id -> ticks until the bot comes back
    try:
        for bot in roster:
            context.join(channel, bot["user_id"], bot["user_info"])
            present[bot["user_id"]] = bot
        async for _ in ticks(rate):
            for user_id in list(away):
                away[user_id] -= 1
                if away[user_id] <= 0:
                    del away[user_id]
                    bot = next(b for b in roster if b["user_id"] == user_id)
                    context.join(channel, user_id, bot["user_info"])
                    present[user_id] = bot
            if not present:
                continue
            user_id = rng.choice(list(present))
            bot = present[user_id]
            if len(present) > 1 and rng.random() < away_chance:
                context.leave(channel, user_id)
                del present[user_id]
                away[user_id] = rng.randint(3, 8)
                continue
            name = bot["user_info"].get("name", user_id)
            context.client_event(channel, event, {"text": rng.choice(LINES), "name": name}, user_id)
    finally:
        for user_id in present:
            context.leave(channel, user_id)
