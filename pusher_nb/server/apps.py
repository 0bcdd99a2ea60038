"""The apps a local server hosts: credentials and per-app limits, with secrets kept out of reprs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from .. import crypto
from ..errors import ConfigurationError
from ..protocol import MAX_EVENT_DATA_BYTES, MAX_PRESENCE_MEMBERS

DEFAULT_APP_ID = "app-id"
DEFAULT_KEY = "app-key"
DEFAULT_SECRET = "app-secret"


@dataclasses.dataclass(frozen=True, repr=False)
class App:
    """One Pusher app: its id, key and secret, and the limits its connections live by.

    The defaults match soketi's default app, so the same client settings work against both.
    """

    app_id: str = DEFAULT_APP_ID
    key: str = DEFAULT_KEY
    secret: str = DEFAULT_SECRET
    enable_client_messages: bool = True
    max_connections: int | None = None
    max_event_payload_bytes: int = MAX_EVENT_DATA_BYTES
    encryption_master_key_base64: str | None = None
    max_presence_members: int = MAX_PRESENCE_MEMBERS
    max_presence_member_bytes: int = 1024
    enable_subscription_count: bool = True
    enabled: bool = True  # a disabled app refuses connections (4003) and REST calls (403)

    def __post_init__(self) -> None:
        for name in ("app_id", "key", "secret"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"app {name} must be a non-empty string")
        if "/" in self.app_id or "/" in self.key:
            raise ConfigurationError("app id and key must not contain '/'")
        if self.encryption_master_key_base64 is not None:
            crypto.decode_master_key(self.encryption_master_key_base64)  # fail early if malformed

    def __repr__(self) -> str:
        return f"App(app_id={self.app_id!r}, key={self.key!r})"

    @cached_property
    def master_key(self) -> bytes | None:
        """The raw encryption master key, or None when the app has none."""
        if self.encryption_master_key_base64 is None:
            return None
        return crypto.decode_master_key(self.encryption_master_key_base64)


def make_apps(apps: Iterable[App | Mapping[str, Any]] | App | None) -> list[App]:
    """The server's apps from ``App`` objects or keyword mappings; one default app if none."""
    if apps is None:
        return [App()]
    if isinstance(apps, App):
        apps = [apps]
    result = [app if isinstance(app, App) else App(**app) for app in apps]
    if not result:
        raise ConfigurationError("a server needs at least one app")
    for attribute in ("app_id", "key"):
        values = [getattr(app, attribute) for app in result]
        if len(set(values)) != len(values):
            raise ConfigurationError(f"two apps share the same {attribute}")
    return result
