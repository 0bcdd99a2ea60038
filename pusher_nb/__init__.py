"""Pusher Channels in Jupyter: an asyncio client, a local server, live DataFrames and widgets."""

__version__ = "0.1.0"

from .channels import Channel, EncryptedChannel, Members, PresenceChannel, PrivateChannel  # noqa: E402
from .client import Client, State  # noqa: E402
from .errors import (  # noqa: E402
    AuthError,
    ClientEventError,
    ConfigurationError,
    ConnectionRefused,
    DecryptionError,
    InvalidChannelName,
    InvalidEventName,
    InvalidInput,
    NotConnected,
    PayloadTooLarge,
    PusherError,
    RestError,
    SubscriptionError,
)
from .protocol import Event  # noqa: E402

__all__ = [
    "AuthError",
    "Channel",
    "Client",
    "ClientEventError",
    "ConfigurationError",
    "ConnectionRefused",
    "DecryptionError",
    "EncryptedChannel",
    "Event",
    "InvalidChannelName",
    "InvalidEventName",
    "InvalidInput",
    "Members",
    "NotConnected",
    "PayloadTooLarge",
    "PresenceChannel",
    "PrivateChannel",
    "PusherError",
    "RestError",
    "State",
    "SubscriptionError",
]
