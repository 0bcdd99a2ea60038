"""Signatures (channel, presence, user signin, REST request, webhook) and authorizers.

Every signature is lower-case hex HMAC-SHA256 with the app secret; every check compares in
constant time. An *authorizer* is what the client asks for a subscription's auth: a local
signer holding the secret, an HTTP endpoint in the pusher-js convention, or any async callable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from . import crypto
from .errors import AuthError, ConfigurationError
from .protocol import channel_kind

REST_TIMESTAMP_TOLERANCE = 600  # seconds a REST auth_timestamp may be off
EMPTY_BODY_MD5 = hashlib.md5(b"").hexdigest()


def sign(secret: str, message: str) -> str:
    """Hex HMAC-SHA256 of ``message`` keyed with ``secret``."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signatures_match(expected: str, given: Any) -> bool:
    """Constant-time comparison that is False, not an error, for a non-string ``given``."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def channel_string_to_sign(socket_id: str, channel: str, channel_data: str | None = None) -> str:
    if channel_data is None:
        return f"{socket_id}:{channel}"
    return f"{socket_id}:{channel}:{channel_data}"


def channel_auth(
    key: str,
    secret: str,
    socket_id: str,
    channel: str,
    user_data: Mapping[str, Any] | str | None = None,
    master_key: bytes | None = None,
) -> dict[str, str]:
    """The auth response for a private, presence or encrypted channel subscription.

    ``user_data`` (presence only) is ``{"user_id": ..., "user_info": {...}}`` or its exact JSON.
    """
    kind = channel_kind(channel)
    channel_data = None
    if kind.is_presence:
        if user_data is None:
            raise ConfigurationError(
                f"presence channel {channel!r} needs user_data with a user_id"
            )
        channel_data = user_data if isinstance(user_data, str) else presence_channel_data(user_data)
    response = {
        "auth": f"{key}:{sign(secret, channel_string_to_sign(socket_id, channel, channel_data))}"
    }
    if channel_data is not None:
        response["channel_data"] = channel_data
    if kind.is_encrypted:
        if master_key is None:
            raise ConfigurationError(
                f"encrypted channel {channel!r} needs an encryption master key to authorize"
            )
        response["shared_secret"] = base64.b64encode(
            crypto.shared_secret(channel, master_key)
        ).decode()
    return response


def presence_channel_data(user_data: Mapping[str, Any]) -> str:
    """The exact JSON string signed for a presence member, checking it has a user_id."""
    if not isinstance(user_data, Mapping) or user_data.get("user_id") in (None, ""):
        raise ConfigurationError("presence user_data must be a mapping with a non-empty user_id")
    return orjson.dumps(dict(user_data)).decode()


def verify_channel_auth(
    key: str, secret: str, socket_id: str, channel: str, auth: Any, channel_data: str | None = None
) -> bool:
    """True when ``auth`` is ``KEY:SIGNATURE`` for this socket and channel (constant time)."""
    if not isinstance(auth, str) or ":" not in auth:
        return False
    auth_key, _, signature = auth.partition(":")
    expected = sign(secret, channel_string_to_sign(socket_id, channel, channel_data))
    return signatures_match(key, auth_key) & signatures_match(expected, signature)


def user_signin(key: str, secret: str, socket_id: str, user_data: Mapping[str, Any] | str) -> dict:
    """The ``pusher:signin`` payload for a user: ``{"auth", "user_data"}``."""
    if isinstance(user_data, str):
        user_json = user_data
    else:
        if not isinstance(user_data, Mapping) or user_data.get("id") in (None, ""):
            raise ConfigurationError("signin user_data must be a mapping with a non-empty id")
        user_json = orjson.dumps(dict(user_data)).decode()
    signature = sign(secret, f"{socket_id}::user::{user_json}")
    return {"auth": f"{key}:{signature}", "user_data": user_json}


def verify_user_signin(key: str, secret: str, socket_id: str, auth: Any, user_data: Any) -> bool:
    if not isinstance(auth, str) or not isinstance(user_data, str):
        return False
    auth_key, _, signature = auth.partition(":")
    expected = sign(secret, f"{socket_id}::user::{user_data}")
    return signatures_match(key, auth_key) & signatures_match(expected, signature)


# --- REST requests --------------------------------------------------------------------------


def body_md5(body: bytes | str) -> str:
    return hashlib.md5(body.encode() if isinstance(body, str) else body).hexdigest()


def rest_string_to_sign(method: str, path: str, params: Mapping[str, Any]) -> str:
    """``METHOD\\nPATH\\nQUERY``: params sorted by lower-cased key, unescaped, no auth_signature."""
    query = "&".join(
        f"{name.lower()}={value}"
        for name, value in sorted(params.items(), key=lambda item: item[0].lower())
        if name.lower() != "auth_signature"
    )
    return f"{method.upper()}\n{path}\n{query}"


def signed_rest_params(
    key: str,
    secret: str,
    method: str,
    path: str,
    params: Mapping[str, Any] | None = None,
    body: bytes | str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The query parameters of a signed REST request, ``auth_signature`` last."""
    signed = {name: str(value) for name, value in (params or {}).items()}
    signed["auth_key"] = key
    signed["auth_timestamp"] = str(int(time.time()) if timestamp is None else timestamp)
    signed["auth_version"] = "1.0"
    if body is not None:
        signed["body_md5"] = body_md5(body)
    signed["auth_signature"] = sign(secret, rest_string_to_sign(method, path, signed))
    return signed


def signed_rest_query(*args: Any, **kwargs: Any) -> str:
    """``signed_rest_params`` as a URL query string."""
    return urlencode(signed_rest_params(*args, **kwargs))


def verify_rest_request(
    key: str,
    secret: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> str | None:
    """None when a REST request is signed correctly, else the reason it is not.

    A GET may carry the empty body's MD5 (pusher-http-python adds it) or none at all; both
    forms are accepted.
    """
    if params.get("auth_key") != key:
        return "unknown auth_key"
    if params.get("auth_version", "1.0") != "1.0":
        return "unsupported auth_version"
    try:
        timestamp = int(params.get("auth_timestamp", ""))
    except ValueError:
        return "auth_timestamp is missing or not an integer"
    now = time.time() if now is None else now
    if abs(now - timestamp) > REST_TIMESTAMP_TOLERANCE:
        return f"auth_timestamp is more than {REST_TIMESTAMP_TOLERANCE} s off the server's clock"
    given_md5 = params.get("body_md5")
    if body and not signatures_match(body_md5(body), given_md5 or ""):
        return "body_md5 does not match the body"
    if not body and given_md5 not in (None, EMPTY_BODY_MD5):
        return "body_md5 does not match the empty body"
    expected = sign(secret, rest_string_to_sign(method, path, params))
    if not signatures_match(expected, params.get("auth_signature", "")):
        return "invalid auth_signature"
    return None


# --- webhooks -------------------------------------------------------------------------------


def webhook_signature(secret: str, body: bytes | str) -> str:
    """The ``X-Pusher-Signature`` header of a webhook with this raw body."""
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify_webhook(
    key: str, secret: str, headers: Mapping[str, str], body: bytes | str
) -> bool:
    """True when the webhook's key header names this app and its signature matches the body."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return signatures_match(key, lowered.get("x-pusher-key", "")) & signatures_match(
        webhook_signature(secret, body), lowered.get("x-pusher-signature", "")
    )


# --- authorizers ----------------------------------------------------------------------------

AuthorizerCallable = Callable[[str, str], Awaitable[Mapping[str, Any]] | Mapping[str, Any]]


class LocalAuthorizer:
    """Signs subscriptions in-process with the app's key and secret (the secret stays in Python)."""

    def __init__(
        self,
        key: str,
        secret: str,
        user_data: Mapping[str, Any] | None = None,
        master_key: bytes | None = None,
    ) -> None:
        self.key = key
        self._secret = secret
        self.user_data = user_data
        self._master_key = master_key

    def __repr__(self) -> str:
        return f"LocalAuthorizer(key={self.key!r})"

    async def __call__(self, socket_id: str, channel: str) -> dict[str, str]:
        return channel_auth(
            self.key, self._secret, socket_id, channel, self.user_data, self._master_key
        )


class HttpAuthorizer:
    """Asks an HTTP endpoint, as pusher-js does: a form POST of socket_id and channel_name."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self._headers = dict(headers or {})
        self.params = dict(params or {})
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"HttpAuthorizer(endpoint={self.endpoint!r})"

    async def __call__(self, socket_id: str, channel: str) -> Mapping[str, Any]:
        import aiohttp

        form = {"socket_id": socket_id, "channel_name": channel, **self.params}
        try:
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as session:
                async with session.post(self.endpoint, data=form, headers=self._headers) as resp:
                    text = await resp.text()
                    if resp.status != 200:
                        raise AuthError(
                            f"auth endpoint {self.endpoint} answered HTTP {resp.status}: "
                            f"{text.strip()[:200]}"
                        )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AuthError(f"auth endpoint {self.endpoint} failed: {exc!r}") from None
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            raise AuthError(f"auth endpoint {self.endpoint} did not answer JSON") from None


def choose_authorizer(
    authorizer: Any,
    endpoint: str | None,
    headers: Mapping[str, str] | None,
    key: str,
    secret: str | None,
    user_data: Mapping[str, Any] | None,
    master_key: bytes | None,
) -> Any:
    """The client's authorizer: an explicit callable, else an HTTP endpoint, else local signing."""
    if authorizer is not None:
        if not callable(authorizer):
            raise ConfigurationError("authorizer must be callable(socket_id, channel_name)")
        return authorizer
    if endpoint is not None:
        return HttpAuthorizer(endpoint, headers)
    if secret is not None:
        return LocalAuthorizer(key, secret, user_data, master_key)
    return None


async def call_authorizer(
    authorizer: AuthorizerCallable, socket_id: str, channel: str
) -> Mapping[str, Any]:
    """Run an authorizer (plain or async) and check its answer has what the channel needs."""
    try:
        answer = authorizer(socket_id, channel)
        if inspect.isawaitable(answer):
            answer = await answer
    except AuthError:
        raise
    except ConfigurationError:
        raise
    except Exception as exc:
        raise AuthError(f"authorizer failed for {channel!r}: {exc!r}") from exc
    if not isinstance(answer, Mapping) or not isinstance(answer.get("auth"), str):
        raise AuthError(f"authorizer answered without an 'auth' string for {channel!r}")
    kind = channel_kind(channel)
    if kind.is_presence and not isinstance(answer.get("channel_data"), str):
        raise AuthError(f"authorizer answered without 'channel_data' for presence {channel!r}")
    if kind.is_encrypted and not isinstance(answer.get("shared_secret"), str):
        raise AuthError(f"authorizer answered without 'shared_secret' for encrypted {channel!r}")
    return answer
