"""Pusher protocol 7 without I/O: frames in, events out; channel kinds, name rules, close codes.

Nothing here touches a socket or an event loop, so the client, the local server, the tests and
the benchmarks all share one definition of the wire format.
"""

from __future__ import annotations

import enum
import re
import time
from typing import Any

import orjson

from .errors import InvalidChannelName, InvalidEventName, InvalidInput, PayloadTooLarge

PROTOCOL_VERSION = 7

MAX_CHANNEL_NAME_LENGTH = 200  # pusher-http-python and soketi; Pusher's docs state 164
MAX_EVENT_NAME_LENGTH = 200
MAX_EVENT_DATA_BYTES = 10 * 1024  # Pusher cloud; a self-hosted server may allow more
MAX_CHANNELS_PER_TRIGGER = 100
MAX_BATCH_EVENTS = 10
MAX_PRESENCE_MEMBERS = 100
MAX_USER_ID_LENGTH = 128
MAX_CLIENT_EVENTS_PER_SECOND = 10
DEFAULT_ACTIVITY_TIMEOUT = 120.0
PONG_TIMEOUT = 30.0

_CHANNEL_NAME = re.compile(r"[-a-zA-Z0-9_=@,.;]+")


class ChannelKind(enum.Enum):
    """A channel's kind, decided by its name prefix (the longest matching prefix wins)."""

    PUBLIC = ""
    CACHE = "cache-"
    PRIVATE = "private-"
    PRIVATE_CACHE = "private-cache-"
    PRESENCE = "presence-"
    PRESENCE_CACHE = "presence-cache-"
    ENCRYPTED = "private-encrypted-"
    ENCRYPTED_CACHE = "private-encrypted-cache-"

    @property
    def needs_auth(self) -> bool:
        """Private, presence and encrypted channels need a signature to subscribe."""
        return self.value.startswith(("private-", "presence-"))

    @property
    def is_presence(self) -> bool:
        return self.value.startswith("presence-")

    @property
    def is_encrypted(self) -> bool:
        return self.value.startswith("private-encrypted-")

    @property
    def is_cache(self) -> bool:
        return "cache-" in self.value

    @property
    def allows_client_events(self) -> bool:
        """Client events travel on private and presence channels, never on encrypted ones."""
        return self.needs_auth and not self.is_encrypted


_KINDS_LONGEST_PREFIX_FIRST = sorted(
    (kind for kind in ChannelKind if kind.value), key=lambda kind: -len(kind.value)
)


def channel_kind(name: str) -> ChannelKind:
    """The kind of the channel called ``name``."""
    for kind in _KINDS_LONGEST_PREFIX_FIRST:
        if name.startswith(kind.value):
            return kind
    return ChannelKind.PUBLIC


def validate_channel_name(name: Any) -> str:
    """Return ``name`` if a client may subscribe or publish to it, else raise InvalidChannelName."""
    if not isinstance(name, str):
        raise InvalidChannelName(f"channel name must be a string, not {type(name).__name__}")
    if not name:
        raise InvalidChannelName("channel name is empty")
    if len(name) > MAX_CHANNEL_NAME_LENGTH:
        raise InvalidChannelName(
            f"channel name is {len(name)} characters long; the limit is {MAX_CHANNEL_NAME_LENGTH}"
        )
    if name.startswith("#"):
        raise InvalidChannelName(f"channel name {name!r} starts with '#', which is reserved")
    if not _CHANNEL_NAME.fullmatch(name):
        bad = sorted({ch for ch in name if not _CHANNEL_NAME.fullmatch(ch)})
        raise InvalidChannelName(
            f"channel name {name!r} has characters outside [-a-zA-Z0-9_=@,.;]: {''.join(bad)!r}"
        )
    kind = channel_kind(name)
    if kind is not ChannelKind.PUBLIC and len(name) == len(kind.value):
        raise InvalidChannelName(f"channel name {name!r} is only a prefix")
    return name


def validate_event_name(name: Any) -> str:
    """Return ``name`` if it is a usable event name, else raise InvalidEventName."""
    if not isinstance(name, str):
        raise InvalidEventName(f"event name must be a string, not {type(name).__name__}")
    if not name:
        raise InvalidEventName("event name is empty")
    if len(name) > MAX_EVENT_NAME_LENGTH:
        raise InvalidEventName(
            f"event name is {len(name)} characters long; the limit is {MAX_EVENT_NAME_LENGTH}"
        )
    return name


def encode_data(data: Any) -> str:
    """The wire form of event data: strings go as they are, anything else as compact JSON."""
    if isinstance(data, str):
        return data
    try:
        return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError as exc:
        raise InvalidInput(f"event data is not JSON-serializable: {exc}") from None


def check_data_size(encoded: str, limit: int = MAX_EVENT_DATA_BYTES) -> str:
    """Raise PayloadTooLarge when the encoded data exceeds ``limit`` bytes."""
    size = len(encoded) if encoded.isascii() else len(encoded.encode())
    if size > limit:
        raise PayloadTooLarge(f"event data is {size} bytes; the limit is {limit} bytes")
    return encoded


class Event:
    """One event as received: its name, channel, data (decoded JSON when it is JSON), sender, time.

    ``received_at`` is the arrival time in seconds since the Unix epoch (UTC).
    """

    __slots__ = ("event", "channel", "data", "user_id", "received_at")

    def __init__(
        self,
        event: str,
        channel: str | None = None,
        data: Any = None,
        user_id: str | None = None,
        received_at: float | None = None,
    ) -> None:
        self.event = event
        self.channel = channel
        self.data = data
        self.user_id = user_id
        self.received_at = time.time() if received_at is None else received_at

    def __repr__(self) -> str:
        return (
            f"Event(event={self.event!r}, channel={self.channel!r}, data={self.data!r}, "
            f"user_id={self.user_id!r}, received_at={self.received_at!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.event, self.channel, self.data, self.user_id, self.received_at) == (
            other.event,
            other.channel,
            other.data,
            other.user_id,
            other.received_at,
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "channel": self.channel,
            "data": self.data,
            "user_id": self.user_id,
            "received_at": self.received_at,
        }


class FrameError(ValueError):
    """A frame that is not a Pusher message: not JSON, not an object, or without an event name."""


_JSON_STARTS = frozenset('{["-0123456789tfn')


def decode_data(data: Any) -> Any:
    """Decode double-encoded event data; a string that is not JSON stays as it is."""
    if type(data) is str and data and data[0] in _JSON_STARTS:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
    return data


_SHARED_NAMES: dict[str, str] = {}
_MAX_SHARED_NAMES = 4096


def _share(name: str) -> str:
    if len(_SHARED_NAMES) >= _MAX_SHARED_NAMES:
        _SHARED_NAMES.clear()
    _SHARED_NAMES[name] = name
    return name


def decode_frame(text: str | bytes, received_at: float | None = None) -> Event:
    """Turn one websocket text frame into an Event, raising FrameError when it is not a message."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"frame is not JSON: {exc}") from None
    if type(message) is not dict:
        raise FrameError(f"frame is a JSON {type(message).__name__}, not an object")
    event = message.get("event")
    if type(event) is not str or not event:
        raise FrameError("frame has no event name")
    channel = message.get("channel")
    if channel is not None and type(channel) is not str:
        raise FrameError("frame's channel is not a string")
    # one shared copy of each event and channel name: rows a LiveFrame keeps point at it
    names = _SHARED_NAMES
    event = names.get(event) or _share(event)
    if channel is not None:
        channel = names.get(channel) or _share(channel)
    user_id = message.get("user_id")
    if user_id is not None:
        user_id = str(user_id)
    data = message.get("data")
    if type(data) is str and data and data[0] in _JSON_STARTS:  # decode_data, inlined: per event
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return Event(event, channel, data, user_id, received_at)


def encode_frame(event: str, data: Any = None, channel: str | None = None, **extra: Any) -> str:
    """One outgoing frame; ``data`` is sent as given (pass a string to send a string)."""
    message: dict[str, Any] = {"event": event}
    if channel is not None:
        message["channel"] = channel
    if data is not None:
        message["data"] = data
    message.update(extra)
    return orjson.dumps(message).decode()


class CloseAction(enum.Enum):
    """What a client does after the server closes the socket with a given code."""

    RECONNECT_TLS = "reconnect with TLS"
    STOP = "do not reconnect"
    BACKOFF = "reconnect after backing off"
    RECONNECT_NOW = "reconnect at once"
    REPORT = "report; do not reconnect"
    RECONNECT_WITH_BACKOFF = "reconnect with exponential backoff"


def close_action(code: int | None) -> CloseAction:
    """The client's response to close code ``code`` (PROTOCOL.md section 1)."""
    if code is None or code < 4000 or code > 4999:
        return CloseAction.RECONNECT_WITH_BACKOFF
    if code == 4000:
        return CloseAction.RECONNECT_TLS
    if code < 4100:
        return CloseAction.STOP
    if code < 4200:
        return CloseAction.BACKOFF
    if code < 4300:
        return CloseAction.RECONNECT_NOW
    return CloseAction.REPORT


def parse_presence(data: Any) -> tuple[dict[str, Any], int]:
    """The members and count carried by a presence subscription_succeeded."""
    if not isinstance(data, dict):
        return {}, 0
    presence = data.get("presence") or {}
    members = {str(user_id): info for user_id, info in (presence.get("hash") or {}).items()}
    for user_id in presence.get("ids") or ():
        members.setdefault(str(user_id), None)
    return members, int(presence.get("count", len(members)))


def error_message(data: Any) -> tuple[str, int | None]:
    """The (message, code) of a pusher:error or pusher:subscription_error payload."""
    if isinstance(data, dict):
        message = data.get("message") or data.get("error") or data.get("type") or str(data)
        code = data.get("code", data.get("status"))
        return str(message), code if isinstance(code, int) else None
    return str(data), None
