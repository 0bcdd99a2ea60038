"""``crypto``: random-walk trades and best bid/ask for a few pairs, on a public channel.

Channel ``crypto-trades`` (public). Events:

- ``trade`` ``{"symbol", "price", "size", "side", "ts"}``, ``rate`` per second (default 5);
- ``quote`` ``{"symbol", "bid", "ask", "ts"}``, one after every fifth trade.

``ts`` is seconds since the Unix epoch. Prices start near recent real levels and move as a
geometric random walk, so a chart of them looks like a market.
"""

from __future__ import annotations

import math
import random
import time

from . import FeedContext, ticks

DEFAULT_CHANNEL = "crypto-trades"
DEFAULT_RATE = 5.0

# symbol: (starting price, decimals, typical trade size, volatility per trade)
MARKETS = {
    "BTC-USD": (97_000.0, 2, 0.05, 0.0004),
    "ETH-USD": (3_600.0, 2, 0.8, 0.0006),
    "SOL-USD": (230.0, 3, 12.0, 0.0009),
    "DOGE-USD": (0.38, 5, 5_000.0, 0.0012),
}


async def run(
    context: FeedContext,
    *,
    channel: str = DEFAULT_CHANNEL,
    rate: float = DEFAULT_RATE,
    symbols: tuple[str, ...] | None = None,
    seed: int | None = None,
) -> None:
    rng = random.Random(seed)
    chosen = list(symbols or MARKETS)
    unknown = [symbol for symbol in chosen if symbol not in MARKETS]
    if unknown:
        raise ValueError(f"unknown symbols {unknown}; choose from {list(MARKETS)}")
    prices = {symbol: MARKETS[symbol][0] for symbol in chosen}
    weights = [1.0 / (1 + index) for index in range(len(chosen))]  # BTC trades most often
    async for tick in ticks(rate):
        symbol = rng.choices(chosen, weights)[0]
        _, decimals, size, volatility = MARKETS[symbol]
        prices[symbol] *= math.exp(rng.gauss(0.0, volatility))
        price = prices[symbol]
        now = round(time.time(), 3)
        context.publish(
            channel,
            "trade",
            {
                "symbol": symbol,
                "price": round(price, decimals),
                "size": round(size * rng.lognormvariate(0.0, 0.9), 6),
                "side": rng.choice(("buy", "sell")),
                "ts": now,
            },
        )
        if tick % 5 == 4:
            half_spread = price * rng.uniform(0.00002, 0.0002)
            bid = round(price - half_spread, decimals)
            ask = max(round(price + half_spread, decimals), round(bid + 10**-decimals, decimals))
            context.publish(channel, "quote", {"symbol": symbol, "bid": bid, "ask": ask, "ts": now})
