"""The exceptions pusher_nb raises, all rooted at :class:`PusherError`.

What the caller did wrong is a ``ValueError`` too, raised before anything is sent;
what the server or the network did is not::

    PusherError
    ├── InvalidInput (ValueError)         the caller's mistake, found before sending
    │   ├── InvalidChannelName
    │   ├── InvalidEventName
    │   ├── PayloadTooLarge
    │   ├── ClientEventError               a client event that breaks a rule
    │   └── ConfigurationError             missing key, secret, authorizer or master key
    ├── ConnectionRefused(code, reason)    the server closed with a code that forbids reconnecting
    ├── NotConnected                       an operation that needs a live connection
    ├── AuthError                          an authorizer failed or answered nonsense
    ├── SubscriptionError(channel, ...)    the server refused a subscription
    ├── DecryptionError                    an encrypted event could not be opened
    └── RestError(status, body)            the REST API answered with an HTTP error
"""

from __future__ import annotations


class PusherError(Exception):
    """The root of every exception raised by pusher_nb."""


class InvalidInput(PusherError, ValueError):
    """The caller passed something the protocol does not allow; nothing was sent."""


class InvalidChannelName(InvalidInput):
    """A channel name that is empty, too long, or has a character outside the allowed set."""


class InvalidEventName(InvalidInput):
    """An event name that is empty, too long, or not allowed where it was used."""


class PayloadTooLarge(InvalidInput):
    """Event data larger than the limit the server enforces."""


class ClientEventError(InvalidInput):
    """A client event that breaks one of the client-event rules."""


class ConfigurationError(InvalidInput):
    """A setting the requested operation needs is missing or malformed."""


class ConnectionRefused(PusherError):
    """The server closed the connection with a code that says not to reconnect."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"connection refused with close code {code}: {reason or 'no reason given'}")
        self.code = code
        self.reason = reason


class NotConnected(PusherError):
    """The operation needs a connected client."""


class AuthError(PusherError):
    """An authorizer failed, or answered without the fields the protocol needs."""


class SubscriptionError(PusherError):
    """The server (or the authorizer) refused a subscription."""

    def __init__(self, channel: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"subscription to {channel!r} failed: {reason}")
        self.channel = channel
        self.reason = reason
        self.status = status


class DecryptionError(PusherError):
    """An event on an encrypted channel could not be decrypted with the channel's key."""


class RestError(PusherError):
    """The REST API answered with an HTTP error status."""

    def __init__(self, status: int, body: str, url: str = "") -> None:
        super().__init__(f"HTTP {status} from {url or 'the REST API'}: {body.strip()[:500]}")
        self.status = status
        self.body = body
        self.url = url
