"""``geo``: delivery vans driving round their routes, on a private channel.

Channel ``private-deliveries`` (private: subscribers need a signature; the server publishes
freely). Events:

- ``location`` ``{"vehicle_id", "driver", "lat", "lon", "speed_kmh", "heading", "status",
  "stop", "ts"}``, ``rate`` per second in all (default 3), vehicles taking turns;
- ``delivered`` ``{"vehicle_id", "driver", "stop", "lat", "lon", "ts"}`` at each stop.

Routes are loops of stops around a depot (default: central Berlin); vans move at a varying
city speed, so positions, speeds and headings stay consistent between updates.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from . import FeedContext, ticks

DEFAULT_CHANNEL = "private-deliveries"
DEFAULT_RATE = 3.0
DEFAULT_DEPOT = (52.5200, 13.4050)
DRIVERS = ["Alex", "Sam", "Kim", "Jo", "Robin", "Max", "Luca", "Noa"]
EARTH_RADIUS_M = 6_371_000.0
CRUISE_KMH = 32.0


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return (math.degrees(math.atan2(y, x)) + 360.0) % 360.0


class Vehicle:
    """A van on a looping route of stops."""

    def __init__(self, vehicle_id: str, driver: str, route: list[tuple[float, float]]) -> None:
        self.vehicle_id = vehicle_id
        self.driver = driver
        self.route = route
        self.position = route[0]
        self.target = 1
        self.speed_kmh = 0.0
        self.heading = bearing_deg(route[0], route[1])
        self.dwell = 0.0  # seconds left at the current stop

    def move(self, seconds: float, rng: random.Random) -> dict[str, Any] | None:
        """Drive for ``seconds``; return a ``delivered`` record when a stop is reached."""
        if self.dwell > 0:
            self.dwell -= seconds
            if self.dwell > 0:
                self.speed_kmh = 0.0
                return None  # still at the stop; once the wait is over it drives this same tick
        # city traffic: speed wanders around a cruising speed instead of drifting off
        wander = 0.3 * (CRUISE_KMH - self.speed_kmh) + rng.gauss(0.0, 5.0)
        self.speed_kmh = max(5.0, min(60.0, self.speed_kmh + wander))
        travel = self.speed_kmh / 3.6 * seconds
        target = self.route[self.target]
        left = distance_m(self.position, target)
        self.heading = bearing_deg(self.position, target)
        if travel < left:
            fraction = travel / left
            self.position = (
                self.position[0] + (target[0] - self.position[0]) * fraction,
                self.position[1] + (target[1] - self.position[1]) * fraction,
            )
            return None
        self.position = target
        stop = self.target
        self.target = (self.target + 1) % len(self.route)
        self.dwell = rng.uniform(5.0, 20.0)
        self.speed_kmh = 0.0
        return {"vehicle_id": self.vehicle_id, "driver": self.driver, "stop": stop}


def make_route(rng: random.Random, depot: tuple[float, float], stops: int) -> list:
    """A loop from the depot through ``stops`` points within about 4 km of it."""
    route = [depot]
    for _ in range(stops):
        bearing = rng.uniform(0, 2 * math.pi)
        radius = rng.uniform(500.0, 4000.0)
        lat = depot[0] + math.degrees(radius * math.cos(bearing) / EARTH_RADIUS_M)
        lon = depot[1] + math.degrees(
            radius * math.sin(bearing) / (EARTH_RADIUS_M * math.cos(math.radians(depot[0])))
        )
        route.append((lat, lon))
    return route


async def run(
    context: FeedContext,
    *,
    channel: str = DEFAULT_CHANNEL,
    rate: float = DEFAULT_RATE,
    vehicles: int = 4,
    depot: tuple[float, float] = DEFAULT_DEPOT,
    stops: int = 5,
    speedup: float = 10.0,
    seed: int | None = None,
) -> None:
    """``speedup`` makes the vans cover ground faster than real time, so maps visibly move."""
    rng = random.Random(seed)
    fleet = [
        Vehicle(f"van-{index + 1}", DRIVERS[index % len(DRIVERS)], make_route(rng, depot, stops))
        for index in range(vehicles)
    ]
    step = len(fleet) / rate * speedup  # simulated seconds between two updates of one van
    async for tick in ticks(rate):
        vehicle = fleet[tick % len(fleet)]
        delivered = vehicle.move(step, rng)
        now = round(time.time(), 3)
        lat, lon = round(vehicle.position[0], 6), round(vehicle.position[1], 6)
        if delivered is not None:
            context.publish(channel, "delivered", {**delivered, "lat": lat, "lon": lon, "ts": now})
        context.publish(
            channel,
            "location",
            {
                "vehicle_id": vehicle.vehicle_id,
                "driver": vehicle.driver,
                "lat": lat,
                "lon": lon,
                "speed_kmh": round(vehicle.speed_kmh, 1),
                "heading": round(vehicle.heading, 1),
                "status": "at_stop" if vehicle.dwell > 0 else "driving",
                "stop": vehicle.target,
                "ts": now,
            },
        )
