"""What the client does with each frame it receives: the per-event hot path.

Protocol events (``pusher:`` and ``pusher_internal:``) update the client and its channels and
reach handlers under pusher-js's names; application events go to the channel's handlers, then
to the client's. A frame that is not a Pusher message is logged and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .crypto import decrypt
from .errors import DecryptionError, SubscriptionError
from .protocol import ChannelKind, Event, FrameError, decode_data, decode_frame, error_message

if TYPE_CHECKING:
    from .channels import Channel, EncryptedChannel
    from .client import Client

log = logging.getLogger("pusher_nb")

# Compared by identity on every event: ChannelKind.is_encrypted is a property call per event.
_ENCRYPTED, _ENCRYPTED_CACHE = (kind for kind in ChannelKind if kind.is_encrypted)


class IncomingDispatcher:
    """Routes decoded frames for one client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._internal = {
            "pusher:connection_established": self._connection_established,
            "pusher:error": self._error,
            "pusher:ping": self._ping,
            "pusher:pong": _ignore,
            "pusher:signin_success": self._signin_success,
            "pusher:subscription_error": self._subscription_error,
            "pusher_internal:subscription_succeeded": self._subscription_succeeded,
            "pusher_internal:member_added": self._member_added,
            "pusher_internal:member_removed": self._member_removed,
            "pusher_internal:subscription_count": self._subscription_count,
        }
        self._reauthorizing: dict[str, list[Event]] = {}

    def receive(self, text: str | bytes) -> None:
        client = self.client
        try:
            event = decode_frame(text)
        except FrameError as exc:
            client._note_error(f"skipped a malformed frame ({exc}): {str(text)[:120]!r}")
            return
        name = event.event
        if name.startswith("pusher"):
            internal = self._internal.get(name)
            if internal is not None:
                internal(event)
                return
            if name.startswith("pusher_internal:"):
                log.debug("ignored unknown internal event %s", name)
                return
        channel = client._channels.get(event.channel) if event.channel is not None else None
        if channel is not None:
            kind = channel.kind
            if (kind is _ENCRYPTED or kind is _ENCRYPTED_CACHE) and not name.startswith("pusher:"):
                event = self._decrypted(channel, event)
                if event is None:
                    return
            client.stats.events_received += 1
            if channel._held is not None:
                channel._held.append(event)
                return
            channel.emit(event)
        elif event.channel is None and name.startswith("pusher:"):
            client.connection.emit(event)
            return
        else:
            client.stats.events_received += 1
        if client._events.has_handlers:  # most notebooks bind channels, not the client
            client._events.emit(event)

    # -- connection --

    def _connection_established(self, event: Event) -> None:
        self.client._connection_established(event.data)

    def _error(self, event: Event) -> None:
        message, code = error_message(event.data)
        client = self.client
        pending = [
            channel
            for channel in client._channels.values()
            if not channel.subscribed and f":{channel.name}" in message
        ]
        for channel in pending:
            channel._subscription_failed(SubscriptionError(channel.name, message, code), event.data)
        client._note_error(f"pusher:error {code if code is not None else ''} {message}".strip())

    def _ping(self, event: Event) -> None:
        self.client._spawn(self.client._send_raw('{"event":"pusher:pong","data":{}}'), "pong")

    def _signin_success(self, event: Event) -> None:
        future = self.client._signin_future
        data = event.data if isinstance(event.data, dict) else {}
        user = decode_data(data.get("user_data"))
        if future is not None and not future.done():
            future.set_result(user)
        self.client.connection.emit(Event("pusher:signin_success", None, user))

    # -- channels --

    def _channel(self, event: Event) -> Channel | None:
        channel = self.client._channels.get(event.channel)
        if channel is None:
            log.debug("%s for unknown channel %r", event.event, event.channel)
        return channel

    def _subscription_succeeded(self, event: Event) -> None:
        channel = self._channel(event)
        if channel is not None:
            channel._subscription_succeeded(event.data)

    def _subscription_error(self, event: Event) -> None:
        channel = self._channel(event)
        message, status = error_message(event.data)
        if channel is not None:
            channel._subscription_failed(SubscriptionError(channel.name, message, status), event.data)
        self.client._note_error(f"subscription to {event.channel!r} refused: {message}")

    def _member_added(self, event: Event) -> None:
        channel = self._channel(event)
        data = event.data if isinstance(event.data, dict) else {}
        if channel is not None and hasattr(channel, "_member_added") and "user_id" in data:
            channel._member_added(str(data["user_id"]), data.get("user_info"))

    def _member_removed(self, event: Event) -> None:
        channel = self._channel(event)
        data = event.data if isinstance(event.data, dict) else {}
        if channel is not None and hasattr(channel, "_member_removed") and "user_id" in data:
            channel._member_removed(str(data["user_id"]))

    def _subscription_count(self, event: Event) -> None:
        channel = self._channel(event)
        data = event.data if isinstance(event.data, dict) else {}
        if channel is not None:
            channel.subscription_count = data.get("subscription_count")
            channel.emit(Event("pusher:subscription_count", channel.name, data, None, event.received_at))

    # -- encrypted channels --

    def _decrypted(self, channel: EncryptedChannel, event: Event) -> Event | None:
        """The event with its plaintext, or None when a re-authorization has to come first."""
        if channel.name in self._reauthorizing:
            self._reauthorizing[channel.name].append(event)
            return None
        try:
            return _open(channel, event)
        except DecryptionError:
            self._reauthorizing[channel.name] = [event]
            self.client._spawn(self._reauthorize(channel), f"re-authorize {channel.name}")
            return None

    async def _reauthorize(self, channel: EncryptedChannel) -> None:
        """pusher-js's rule: fetch a fresh key once, retry; then report what still fails."""
        try:
            await self.client._authorize(self.client.socket_id, channel)
        except Exception as exc:  # noqa: BLE001 - reported below with the events it affects
            reason = f"re-authorization failed: {exc!r}"
        else:
            reason = "the event does not decrypt with the channel's current key"
        await asyncio.sleep(0)
        for event in self._reauthorizing.pop(channel.name, []):
            try:
                opened = _open(channel, event)
            except DecryptionError as exc:
                self._report_decryption_failure(channel, event, f"{exc}; {reason}")
                continue
            self.client.stats.events_received += 1
            channel.emit(opened)
            self.client._events.emit(opened)

    def _report_decryption_failure(self, channel: Channel, event: Event, reason: str) -> None:
        failure = Event(
            "pusher:decryption_error",
            channel.name,
            {"event": event.event, "error": reason, "data": event.data},
            event.user_id,
            event.received_at,
        )
        channel.emit(failure)
        self.client._events.emit(failure)
        self.client._note_error(
            f"could not decrypt {event.event!r} on {channel.name!r}: {reason}",
            where=f"decrypting {channel.name}",
        )


def _open(channel: EncryptedChannel, event: Event) -> Event:
    if channel.shared_secret is None:
        raise DecryptionError("no shared secret for this channel yet")
    plaintext = decrypt(channel.shared_secret, event.data)
    return Event(event.event, event.channel, decode_data(plaintext), event.user_id, event.received_at)


def _ignore(event: Event) -> None:
    return None

