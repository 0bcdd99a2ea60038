"""One websocket to a Pusher server: open, send, the receive loop, close.

It runs on aiohttp, whose frame reader is compiled: on the same feed it reads frames about
twice as fast as a pure-Python reader, which is what lets the client keep up with a busy
socket (benchmarks/ingest.py measures both).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from . import __version__

CLOSE_TIMEOUT = 1.0  # how long a closing socket waits for the server's close frame

#: what opening a socket raises when the server cannot be reached or refuses the handshake
OPEN_ERRORS = (OSError, TimeoutError, aiohttp.ClientError)


class Socket:
    """A connected websocket; ``last_received`` is when the latest frame arrived (monotonic)."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._session = session
        self._ws = ws
        self.last_received = time.monotonic()
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    async def open(cls, url: str, open_timeout: float, max_size: int = 2**22) -> Socket:
        session = aiohttp.ClientSession(headers={"User-Agent": f"pusher_nb/{__version__}"})
        try:
            async with asyncio.timeout(open_timeout):
                ws = await session.ws_connect(
                    url,
                    autoping=True,
                    compress=0,
                    max_msg_size=max_size,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT),
                )
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def send(self, text: str) -> None:
        await self._ws.send_str(text)

    @property
    def closed(self) -> bool:
        return self._ws.closed

    async def receive_all(self, on_text: Callable[[str], None]) -> tuple[int | None, str]:
        """Hand every text frame to ``on_text`` until the socket closes; the close code and reason."""
        receive = self._ws.receive
        monotonic = time.monotonic
        text_type = aiohttp.WSMsgType.TEXT
        while True:
            message = await receive()
            kind = message.type
            if kind is text_type:
                self.last_received = monotonic()
                on_text(message.data)
            elif kind is aiohttp.WSMsgType.BINARY:
                self.last_received = monotonic()
                on_text(message.data)
            elif kind is aiohttp.WSMsgType.CLOSE:
                self.close_code, self.close_reason = message.data, message.extra or ""
            else:  # CLOSING (we are closing), CLOSED, ERROR: the socket is done
                break
        if self.close_code is None and self._ws.close_code not in (None, 1006):
            self.close_code = self._ws.close_code
        return self.close_code, self.close_reason

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close (waiting at most CLOSE_TIMEOUT for the server's answer) and free the session."""
        try:
            await self._ws.close(code=code, message=reason.encode())
        finally:
            await self._session.close()
