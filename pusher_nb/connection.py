"""Where a client connects (Pusher cloud by cluster, or a host and port) and how it is doing."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from . import __version__
from .errors import ConfigurationError
from .protocol import PROTOCOL_VERSION


@dataclass(frozen=True)
class ConnectionSettings:
    """Host, port and TLS for the websocket and the REST API (one host for self-hosted servers)."""

    host: str
    port: int
    tls: bool
    rest_host: str
    rest_port: int
    cluster: str | None = None

    @classmethod
    def build(
        cls, key: str, cluster: str | None, host: str | None, port: int | None, tls: bool | None
    ) -> ConnectionSettings:
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            raise ConfigurationError(f"port must be an integer from 1 to 65535, not {port!r}")
        if host:
            use_tls = (port == 443) if tls is None else bool(tls)
            chosen_port = port if port is not None else (443 if use_tls else 80)
            return cls(host, chosen_port, use_tls, host, chosen_port, None)
        if not cluster:
            raise ConfigurationError("pass cluster= for Pusher cloud, or host= for a self-hosted server")
        use_tls = True if tls is None else bool(tls)
        chosen_port = port if port is not None else (443 if use_tls else 80)
        return cls(
            f"ws-{cluster}.pusher.com", chosen_port, use_tls,
            f"api-{cluster}.pusher.com", 443 if use_tls else 80, cluster,
        )

    def ws_url(self, key: str) -> str:
        scheme = "wss" if self.tls else "ws"
        return (
            f"{scheme}://{self.host}:{self.port}/app/{key}"
            f"?protocol={PROTOCOL_VERSION}&client=python-pusher_nb&version={__version__}"
        )

    def rest_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.rest_host}:{self.rest_port}"

    def with_tls(self) -> ConnectionSettings:
        """The same server over TLS (after close code 4000)."""
        port = 443 if self.port == 80 else self.port
        rest_port = 443 if self.rest_port == 80 else self.rest_port
        return replace(self, tls=True, port=port, rest_port=rest_port)


class State(enum.StrEnum):
    """The connection states, with pusher-js's names."""

    INITIALIZED = "initialized"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    UNAVAILABLE = "unavailable"
    FAILED = "failed"
    DISCONNECTED = "disconnected"


class ClientStats:
    """Counters a status view shows; nothing here is secret."""

    __slots__ = ("events_received", "reconnects", "last_error", "connection_epoch", "connected_at")

    def __init__(self) -> None:
        self.events_received = 0
        self.reconnects = 0
        self.last_error: str | None = None
        self.connection_epoch = 0
        self.connected_at: float | None = None
