"""The Pusher HTTP API: trigger, batch trigger, channel and user queries, connection termination.

Requests are signed with auth.py and sent with aiohttp, so they never block the event loop.
A payload for an encrypted channel is encrypted here; the server only ever sees ciphertext.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from . import crypto
from .auth import signed_rest_params
from .errors import ConfigurationError, InvalidInput, RestError
from .protocol import (
    MAX_BATCH_EVENTS,
    MAX_CHANNELS_PER_TRIGGER,
    MAX_EVENT_DATA_BYTES,
    channel_kind,
    check_data_size,
    encode_data,
    validate_channel_name,
    validate_event_name,
)


class RestClient:
    """Signed requests to one app's REST API; one aiohttp session, opened on first use."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        key: str,
        secret: str,
        master_key: bytes | None = None,
        max_event_data_bytes: int = MAX_EVENT_DATA_BYTES,
        timeout: float = 30.0,
    ) -> None:
        if not app_id or not key or not secret:
            raise ConfigurationError("the REST API needs app_id, key and secret")
        self.base_url = base_url.rstrip("/")
        self.app_id = str(app_id)
        self.key = key
        self._secret = secret
        self._master_key = master_key
        self.max_event_data_bytes = max_event_data_bytes
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"RestClient({self.base_url!r}, app_id={self.app_id!r}, key={self.key!r})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def trigger(
        self,
        channels: str | Iterable[str],
        event_name: str,
        data: Any,
        socket_id: str | None = None,
        info: Iterable[str] | None = None,
    ) -> dict:
        """Publish one event to up to 100 channels (exactly one if it is encrypted)."""
        names = [channels] if isinstance(channels, str) else list(channels)
        if not names:
            raise InvalidInput("trigger needs at least one channel")
        if len(names) > MAX_CHANNELS_PER_TRIGGER:
            raise InvalidInput(
                f"trigger names {len(names)} channels; the limit is {MAX_CHANNELS_PER_TRIGGER}"
            )
        for name in names:
            validate_channel_name(name)
        encrypted = [name for name in names if channel_kind(name).is_encrypted]
        if encrypted and len(names) > 1:
            raise InvalidInput(
                f"an event for encrypted channel {encrypted[0]!r} must go to that channel alone"
            )
        body: dict[str, Any] = {
            "name": validate_event_name(event_name),
            "channels": names,
            "data": self._payload(names[0], data),
        }
        if socket_id is not None:
            body["socket_id"] = socket_id
        if info:
            body["info"] = ",".join(info)
        return await self._request("POST", f"/apps/{self.app_id}/events", body=body)

    async def trigger_batch(self, events: Iterable[Mapping[str, Any]]) -> dict:
        """Publish up to 10 events, each ``{"channel", "name", "data", "socket_id"?, "info"?}``."""
        batch = []
        for item in events:
            channel = validate_channel_name(item.get("channel"))
            entry: dict[str, Any] = {
                "channel": channel,
                "name": validate_event_name(item.get("name")),
                "data": self._payload(channel, item.get("data")),
            }
            for optional in ("socket_id", "info"):
                if item.get(optional) is not None:
                    entry[optional] = item[optional]
            batch.append(entry)
        if not batch:
            raise InvalidInput("trigger_batch needs at least one event")
        if len(batch) > MAX_BATCH_EVENTS:
            raise InvalidInput(
                f"a batch holds {len(batch)} events; the limit is {MAX_BATCH_EVENTS}"
            )
        return await self._request(
            "POST", f"/apps/{self.app_id}/batch_events", body={"batch": batch}
        )

    async def channels(
        self, prefix: str | None = None, info: Iterable[str] | None = None
    ) -> dict[str, dict]:
        """Occupied channels, optionally those whose names start with ``prefix``."""
        params = {}
        if prefix:
            params["filter_by_prefix"] = prefix
        if info:
            params["info"] = ",".join(info)
        answer = await self._request("GET", f"/apps/{self.app_id}/channels", params=params)
        return answer.get("channels", {})

    async def channel_info(self, channel: str, info: Iterable[str] | None = None) -> dict:
        """``occupied`` and the requested attributes (user_count, subscription_count, cache)."""
        validate_channel_name(channel)
        params = {"info": ",".join(info)} if info else {}
        return await self._request(
            "GET", f"/apps/{self.app_id}/channels/{quote(channel, safe='')}", params=params
        )

    async def users(self, channel: str) -> list[str]:
        """The user ids on a presence channel."""
        validate_channel_name(channel)
        if not channel_kind(channel).is_presence:
            raise InvalidInput(f"users() needs a presence channel, not {channel!r}")
        answer = await self._request(
            "GET", f"/apps/{self.app_id}/channels/{quote(channel, safe='')}/users"
        )
        return [str(user["id"]) for user in answer.get("users", [])]

    async def terminate_connections(self, user_id: str) -> dict:
        """Close every connection of a signed-in user."""
        if not user_id:
            raise InvalidInput("terminate_connections needs a user_id")
        path = f"/apps/{self.app_id}/users/{quote(str(user_id), safe='')}/terminate_connections"
        return await self._request("POST", path, body={})

    def _payload(self, channel: str, data: Any) -> str:
        encoded = check_data_size(encode_data(data), self.max_event_data_bytes)
        if channel_kind(channel).is_encrypted:
            if self._master_key is None:
                raise ConfigurationError(
                    f"triggering on encrypted channel {channel!r} needs "
                    "encryption_master_key_base64"
                )
            return crypto.encrypt(crypto.shared_secret(channel, self._master_key), encoded)
        return encoded

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> dict:
        raw_body = orjson.dumps(body) if body is not None else None
        query = signed_rest_params(
            self.key, self._secret, method, path, params, body=raw_body
        )
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        url = self.base_url + path
        headers = {"Content-Type": "application/json"} if raw_body is not None else {}
        async with self._session.request(
            method, url, params=query, data=raw_body, headers=headers
        ) as response:
            text = await response.text()
        if response.status >= 400:
            raise RestError(response.status, text, url)
        if not text.strip():
            return {}
        try:
            answer = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise RestError(response.status, f"answer is not JSON: {text[:200]}", url) from None
        if not isinstance(answer, dict):
            return {"result": answer}
        code = answer.get("code")
        if "error" in answer and isinstance(code, int) and code >= 400:
            raise RestError(code, text, url)  # soketi reports some errors with HTTP 200
        return answer


class RestMethods:
    """The REST calls as methods of the Client, which supplies the settings and the secret."""

    @property
    def rest(self) -> RestClient:
        """The REST client for this app (needs app_id and secret)."""
        if self._rest is None:
            if not self.app_id or not self._secret:
                raise ConfigurationError("the REST API needs app_id= and secret= on the Client")
            self._rest = RestClient(
                self.settings.rest_url(), self.app_id, self.key, self._secret,
                self._master_key, self.max_event_data_bytes,
            )
        return self._rest

    async def trigger(
        self,
        channels: str | Iterable[str],
        event_name: str,
        data: Any,
        socket_id: str | None = None,
        info: Iterable[str] | None = None,
    ) -> dict:
        """Publish through the REST API (encrypting for an encrypted channel)."""
        return await self.rest.trigger(channels, event_name, data, socket_id, info)

    async def trigger_batch(self, events: Iterable[Mapping[str, Any]]) -> dict:
        return await self.rest.trigger_batch(events)

    async def channels(
        self, prefix: str | None = None, info: Iterable[str] | None = None
    ) -> dict[str, dict]:
        """Occupied channels on the server (REST), optionally only those starting with prefix."""
        return await self.rest.channels(prefix, info)

    async def channel_info(self, channel: str, info: Iterable[str] | None = None) -> dict:
        return await self.rest.channel_info(channel, info)

    async def users(self, channel: str) -> list[str]:
        return await self.rest.users(channel)

    async def terminate_connections(self, user_id: str) -> dict:
        return await self.rest.terminate_connections(user_id)
