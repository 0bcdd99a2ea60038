"""``sports``: live football matches with a clock, periods, scores and match events.

Channels and events:

- ``sports-events`` (public): ``match-event`` ``{"match_id", "minute", "period", "type",
  "team", "player", "home", "away", "home_score", "away_score", "ts"}`` with ``type`` one of
  kick_off, goal, shot, corner, foul, yellow_card, substitution, half_time, second_half, full_time;
- ``cache-sports-scores`` (a cache channel): ``scores`` ``{"matches": [{"match_id", "home",
  "away", "home_score", "away_score", "minute", "period", "status"}], "ts"}`` after every tick,
  so a subscriber who arrives late is sent the current scoreboard at once.

``rate`` ticks per second (default 2); each tick advances every match's clock by ``minutes``
(default 1) and usually produces one match event. A finished match is replaced by a new one.
"""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

from . import FeedContext, ticks

DEFAULT_CHANNEL = "sports-events"
DEFAULT_CACHE_CHANNEL = "cache-sports-scores"
DEFAULT_RATE = 2.0

TEAMS = {
    "Arsenal": ["Saka", "Ødegaard", "Rice", "Havertz", "Saliba"],
    "Barcelona": ["Yamal", "Pedri", "Lewandowski", "Raphinha", "Kounde"],
    "Bayern": ["Kane", "Musiala", "Kimmich", "Sané", "Upamecano"],
    "Inter": ["Lautaro", "Thuram", "Barella", "Çalhanoğlu", "Bastoni"],
    "Liverpool": ["Salah", "Díaz", "Szoboszlai", "Mac Allister", "van Dijk"],
    "Madrid": ["Vinícius", "Mbappé", "Bellingham", "Valverde", "Rüdiger"],
    "Paris": ["Dembélé", "Hakimi", "Vitinha", "Kvaratskhelia", "Marquinhos"],
    "Leverkusen": ["Wirtz", "Frimpong", "Xhaka", "Schick", "Tah"],
}

# event type: relative weight per tick
EVENT_WEIGHTS = {
    "shot": 30,
    "corner": 18,
    "foul": 25,
    "yellow_card": 7,
    "goal": 8,
    "substitution": 6,
    None: 20,
}


class Match:
    """One simulated match and its clock."""

    def __init__(self, match_id: str, home: str, away: str) -> None:
        self.match_id = match_id
        self.home = home
        self.away = away
        self.home_score = 0
        self.away_score = 0
        self.minute = 0
        self.period = "1H"
        self.status = "live"
        self.break_ticks = 0

    def summary(self) -> dict[str, Any]:
        return {
            "match_id": self.match_id,
            "home": self.home,
            "away": self.away,
            "home_score": self.home_score,
            "away_score": self.away_score,
            "minute": self.minute,
            "period": self.period,
            "status": self.status,
        }


class Season:
    """A rolling set of matches; each finished one makes way for a fresh fixture."""

    def __init__(self, rng: random.Random, matches: int) -> None:
        self.rng = rng
        self.ids = itertools.count(1)
        self.matches: list[Match] = []
        for _ in range(matches):
            self.matches.append(self.new_match())

    def new_match(self) -> Match:
        """A fixture between two teams not already playing (when enough teams are free)."""
        playing = {team for match in self.matches for team in (match.home, match.away)}
        free = [team for team in TEAMS if team not in playing]
        home, away = self.rng.sample(free if len(free) >= 2 else list(TEAMS), 2)
        return Match(f"m{next(self.ids)}", home, away)

    def advance(self, match: Match, minutes: int, eventful: bool) -> list[dict[str, Any]]:
        """Move ``match`` on by ``minutes``; what happened (only an ``eventful`` one has play)."""
        rng = self.rng
        if match.status == "finished":
            return []
        if match.minute == 0 and match.period == "1H" and match.status == "live":
            match.minute = 1
            return [self.event(match, "kick_off", None, None)]
        if match.period == "HT":
            match.break_ticks -= 1
            if match.break_ticks > 0:
                return []
            match.period = "2H"
            match.minute = 46
            return [self.event(match, "second_half", None, None)]
        match.minute += minutes
        if match.period == "1H" and match.minute >= 45:
            match.minute = 45
            match.period = "HT"
            match.break_ticks = 3
            return [self.event(match, "half_time", None, None)]
        if match.period == "2H" and match.minute >= 90:
            match.minute = 90
            match.period = "FT"
            match.status = "finished"
            return [self.event(match, "full_time", None, None)]
        kind = rng.choices(list(EVENT_WEIGHTS), list(EVENT_WEIGHTS.values()))[0]
        if kind is None or not eventful:
            return []
        team = rng.choice((match.home, match.away))
        player = rng.choice(TEAMS[team])
        if kind == "goal":
            if team == match.home:
                match.home_score += 1
            else:
                match.away_score += 1
        return [self.event(match, kind, team, player)]

    def event(self, match: Match, kind: str, team: str | None, player: str | None) -> dict:
        return {
            "match_id": match.match_id,
            "minute": match.minute,
            "period": match.period,
            "type": kind,
            "team": team,
            "player": player,
            "home": match.home,
            "away": match.away,
            "home_score": match.home_score,
            "away_score": match.away_score,
            "ts": round(time.time(), 3),
        }


async def run(
    context: FeedContext,
    *,
    channel: str = DEFAULT_CHANNEL,
    cache_channel: str = DEFAULT_CACHE_CHANNEL,
    rate: float = DEFAULT_RATE,
    matches: int = 3,
    minutes: int = 1,
    seed: int | None = None,
) -> None:
    rng = random.Random(seed)
    season = Season(rng, matches)
    finished_for: dict[str, int] = {}
    async for _ in ticks(rate):
        lucky = rng.choice(season.matches)  # one match a tick has play, so the rate holds
        for match in season.matches:
            for event in season.advance(match, minutes, match is lucky):
                context.publish(channel, "match-event", event)
        for index, match in enumerate(season.matches):
            if match.status == "finished":
                finished_for[match.match_id] = finished_for.get(match.match_id, 0) + 1
                if finished_for[match.match_id] > 6:  # show the final score a while
                    del finished_for[match.match_id]
                    season.matches[index] = season.new_match()
        context.publish(
            cache_channel,
            "scores",
            {"matches": [m.summary() for m in season.matches], "ts": round(time.time(), 3)},
        )
