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

# The server, LiveFrame and the widgets load on first use: a script that only needs the
# client does not pay for aiohttp.web, pandas, ipywidgets and plotly at import time.
_LAZY = {
    "LocalServer": ".server",
    "LiveFrame": ".live",
    "StatusBar": ".widgets",
    "LiveChart": ".widgets",
    "PresenceTable": ".widgets",
    "EventLog": ".widgets",
    "Chat": ".widgets",
    "PusherWidget": ".widgets",
    "Recorder": ".record",
    "replay": ".record",
    "save_events": ".record",
    "load_events": ".record",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pusher_nb' has no attribute {name!r}")

__all__ = [
    "AuthError",
    "Channel",
    "Chat",
    "Client",
    "ClientEventError",
    "ConfigurationError",
    "ConnectionRefused",
    "DecryptionError",
    "EncryptedChannel",
    "Event",
    "EventLog",
    "InvalidChannelName",
    "InvalidEventName",
    "InvalidInput",
    "LiveChart",
    "LiveFrame",
    "LocalServer",
    "Members",
    "NotConnected",
    "PayloadTooLarge",
    "PresenceChannel",
    "PresenceTable",
    "PrivateChannel",
    "PusherError",
    "PusherWidget",
    "Recorder",
    "RestError",
    "State",
    "StatusBar",
    "SubscriptionError",
    "load_events",
    "replay",
    "save_events",
]
