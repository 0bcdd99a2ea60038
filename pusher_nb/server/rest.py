"""The REST API (``/apps/ID/...``): triggers, batch triggers, channel and user queries.

Every request is checked with :func:`pusher_nb.auth.verify_rest_request` before its body is
looked at; every failure is a JSON body ``{"error": ..., "code": status}``.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from ..auth import verify_rest_request
from ..errors import InvalidChannelName, InvalidEventName, InvalidInput, PayloadTooLarge
from ..protocol import (
    MAX_BATCH_EVENTS,
    MAX_CHANNELS_PER_TRIGGER,
    channel_kind,
    check_data_size,
    encode_data,
    validate_channel_name,
    validate_event_name,
)
from .channels import AppState
from .connection import USER_CHANNEL_PREFIX

if TYPE_CHECKING:
    from .server import LocalServer

logger = logging.getLogger("pusher_nb.server")

_SOCKET_ID = re.compile(r"\d+\.\d+")
_CHANNEL_INFO = frozenset({"user_count", "subscription_count"})


class RestFailure(Exception):
    """An HTTP error answered as ``{"error": message, "code": status}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Turn every HTTP error, ours or aiohttp's (404, 405, 413), into a JSON body."""
    try:
        return await handler(request)
    except RestFailure as exc:
        return json_response({"error": exc.message, "code": exc.status}, exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_response({"error": exc.reason, "code": exc.status}, exc.status)
    except Exception:
        logger.exception("REST request %s %s failed", request.method, request.path)
        return json_response({"error": "Internal server error", "code": 500}, 500)


async def authenticate(server: LocalServer, request: web.Request) -> tuple[AppState, bytes]:
    """The app a request is for and its body, once the signature checks out."""
    app_id = request.match_info.get("app_id")
    if app_id is None:  # pusher-http-python 3.3 leaves /apps/ID out of terminate_connections
        state = server.states_by_key.get(request.query.get("auth_key", ""))
        if state is None:
            raise RestFailure(401, "unknown auth_key")
    else:
        state = server.states_by_id.get(app_id)
        if state is None:
            raise RestFailure(404, f"Unknown app id {app_id[:60]!r}")
    body = await request.read()
    params = dict(request.query)
    app = state.app
    reason = verify_rest_request(app.key, app.secret, request.method, request.path, params, body)
    if reason is not None:
        raw_path = request.raw_path.partition("?")[0]
        if raw_path != request.path and reason == "invalid auth_signature":
            reason = verify_rest_request(
                app.key, app.secret, request.method, raw_path, params, body
            )
    if reason is not None:
        raise RestFailure(401, reason)
    if not app.enabled:
        raise RestFailure(403, f"App {app.app_id} is disabled")
    return state, body


def parse_body(body: bytes) -> dict:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RestFailure(400, "Request body is not JSON") from None
    if type(payload) is not dict:
        raise RestFailure(400, "Request body must be a JSON object")
    return payload


def parse_info(info: Any) -> set[str]:
    if info is None or info == "":
        return set()
    if not isinstance(info, str):
        raise RestFailure(400, "info must be a comma-separated string")
    return {part.strip() for part in info.split(",") if part.strip()}


class Trigger:
    """One validated trigger: nothing is delivered until every trigger of a request is valid."""

    __slots__ = ("name", "data", "channels", "socket_id", "info")

    def __init__(self, state: AppState, item: Any, *, single_channel: bool = False) -> None:
        if type(item) is not dict:
            raise RestFailure(400, "Each event must be a JSON object")
        try:
            self.name = validate_event_name(item.get("name"))
            channels = item.get("channels")
            if channels is None and "channel" in item:
                channels = [item["channel"]]
            elif single_channel and channels is not None:
                raise RestFailure(400, "A batch event names one channel, with 'channel'")
            if not isinstance(channels, list) or not channels:
                raise RestFailure(400, "An event needs 'channels' (a list) or 'channel'")
            if len(channels) > MAX_CHANNELS_PER_TRIGGER:
                raise RestFailure(
                    400, f"{len(channels)} channels; the limit is {MAX_CHANNELS_PER_TRIGGER}"
                )
            for channel in channels:
                validate_trigger_channel(channel)
            if len(channels) > 1 and any(channel_kind(c).is_encrypted for c in channels):
                raise RestFailure(400, "An event for an encrypted channel goes to that one only")
            self.channels = channels
            if "data" not in item:
                raise RestFailure(400, "An event needs 'data'")
            self.data = encode_data(item["data"])
            check_data_size(self.data, state.app.max_event_payload_bytes)
        except PayloadTooLarge as exc:
            raise RestFailure(413, str(exc)) from None
        except (InvalidChannelName, InvalidEventName, InvalidInput) as exc:
            raise RestFailure(400, str(exc)) from None
        socket_id = item.get("socket_id")
        if socket_id is not None and (
            not isinstance(socket_id, str) or not _SOCKET_ID.fullmatch(socket_id)
        ):
            raise RestFailure(400, "socket_id must look like '123.456'")
        self.socket_id = socket_id
        self.info = parse_info(item.get("info"))
        unknown = self.info - _CHANNEL_INFO
        if unknown:
            raise RestFailure(400, f"Unknown info attributes: {', '.join(sorted(unknown))}")

    def publish(self, state: AppState) -> None:
        for channel in self.channels:
            state.publish(channel, self.name, self.data, self.socket_id)

    def channel_info(self, state: AppState) -> dict[str, dict[str, int]]:
        return {name: attributes(state, name, self.info) for name in self.channels}


def attributes(state: AppState, name: str, info: set[str]) -> dict[str, Any]:
    channel = state.channels.get(name)
    result: dict[str, Any] = {}
    if "user_count" in info and channel_kind(name).is_presence:
        result["user_count"] = 0 if channel is None else len(channel.members)
    if "subscription_count" in info:
        result["subscription_count"] = 0 if channel is None else len(channel.subscribers)
    return result


def routes(server: LocalServer) -> list[web.RouteDef]:
    """The REST routes, bound to ``server``."""

    async def events(request: web.Request) -> web.Response:
        state, body = await authenticate(server, request)
        trigger = Trigger(state, parse_body(body))
        trigger.publish(state)
        if trigger.info:
            return json_response({"channels": trigger.channel_info(state)})
        return json_response({})

    async def batch_events(request: web.Request) -> web.Response:
        state, body = await authenticate(server, request)
        batch = parse_body(body).get("batch")
        if not isinstance(batch, list):
            raise RestFailure(400, "Body needs 'batch', a list of events")
        if len(batch) > MAX_BATCH_EVENTS:
            raise RestFailure(400, f"{len(batch)} events; a batch holds {MAX_BATCH_EVENTS}")
        triggers = [Trigger(state, item, single_channel=True) for item in batch]
        for trigger in triggers:
            trigger.publish(state)
        if any(trigger.info for trigger in triggers):
            return json_response(
                {"batch": [attributes(state, t.channels[0], t.info) for t in triggers]}
            )
        return json_response({})

    async def channels(request: web.Request) -> web.Response:
        state, _ = await authenticate(server, request)
        prefix = request.query.get("filter_by_prefix", "")
        info = parse_info(request.query.get("info"))
        if info - _CHANNEL_INFO:
            raise RestFailure(
                400, f"Unknown info attributes: {', '.join(sorted(info - _CHANNEL_INFO))}"
            )
        if "user_count" in info and not prefix.startswith("presence-"):
            raise RestFailure(400, "info=user_count needs filter_by_prefix=presence-")
        found = {
            name: attributes(state, name, info)
            for name, channel in state.channels.items()
            if name.startswith(prefix)
            and not name.startswith("#")
            and (channel.subscribers or channel.members)
        }
        return json_response({"channels": found})

    async def channel(request: web.Request) -> web.Response:
        state, _ = await authenticate(server, request)
        name = channel_name(request)
        info = parse_info(request.query.get("info"))
        unknown = info - _CHANNEL_INFO - {"cache"}
        if unknown:
            raise RestFailure(400, f"Unknown info attributes: {', '.join(sorted(unknown))}")
        kind = channel_kind(name)
        if "user_count" in info and not kind.is_presence:
            raise RestFailure(400, "info=user_count is only for presence channels")
        found = state.channels.get(name)
        result: dict[str, Any] = {
            "occupied": bool(found is not None and (found.subscribers or found.members))
        }
        result.update(attributes(state, name, info))
        if "cache" in info and found is not None:
            cached = found.cache_entry()
            if cached is not None:
                ttl = max(0, round(found.cached[2] - time.monotonic()))
                result["cache"] = {"event": cached[0], "data": cached[1], "ttl": ttl}
        return json_response(result)

    async def users(request: web.Request) -> web.Response:
        state, _ = await authenticate(server, request)
        name = channel_name(request)
        if not channel_kind(name).is_presence:
            raise RestFailure(400, f"{name} is not a presence channel")
        found = state.channels.get(name)
        members = () if found is None else found.members
        return json_response({"users": [{"id": user_id} for user_id in members]})

    async def terminate(request: web.Request) -> web.Response:
        state, _ = await authenticate(server, request)
        user_id = request.match_info["user_id"]
        for conn in list(state.users.get(user_id, ())):
            conn.close(4009, "Connection terminated by the app")
        return json_response({})

    return [
        web.post("/apps/{app_id}/events", events),
        web.post("/apps/{app_id}/batch_events", batch_events),
        web.get("/apps/{app_id}/channels", channels),
        web.get("/apps/{app_id}/channels/{channel}", channel),
        web.get("/apps/{app_id}/channels/{channel}/users", users),
        web.post("/apps/{app_id}/users/{user_id}/terminate_connections", terminate),
        web.post("/users/{user_id}/terminate_connections", terminate),
    ]


def validate_trigger_channel(name: Any) -> str:
    """A channel a server may publish to: any valid name, or a user's ``#server-to-user-ID``."""
    if isinstance(name, str) and name.startswith(USER_CHANNEL_PREFIX):
        validate_channel_name(name[len(USER_CHANNEL_PREFIX) :])
        return name
    return validate_channel_name(name)


def channel_name(request: web.Request) -> str:
    name = request.match_info["channel"]
    try:
        return validate_channel_name(name)
    except InvalidChannelName as exc:
        raise RestFailure(400, str(exc)) from None
