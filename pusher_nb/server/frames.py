"""Server-side websocket frames, built once and written as they are to any number of sockets.

Server frames are never masked (RFC 6455 section 5.1), so one encoded event is the same bytes
for every subscriber; fan-out is then a loop of ``transport.write``.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

_HEADER_16 = struct.Struct("!BBH").pack
_HEADER_64 = struct.Struct("!BBQ").pack


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame holding ``payload`` (UTF-8 JSON)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return _HEADER_16(0x81, 126, size) + payload
    return _HEADER_64(0x81, 127, size) + payload


def message(event: str, data: Any = None, channel: str | None = None, **extra: Any) -> bytes:
    """The JSON payload of one Pusher message, with ``data`` as given (a string stays a string)."""
    body: dict[str, Any] = {"event": event}
    if channel is not None:
        body["channel"] = channel
    if data is not None:
        body["data"] = data
    if extra:
        body.update(extra)
    return orjson.dumps(body)


def event_frame(event: str, channel: str, data: Any, user_id: str | None = None) -> bytes:
    """The frame of an application event on ``channel``, ready to write to every subscriber."""
    if user_id is None:
        body = {"event": event, "channel": channel, "data": data}
    else:
        body = {"event": event, "channel": channel, "data": data, "user_id": user_id}
    return text_frame(orjson.dumps(body))
