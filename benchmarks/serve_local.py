"""pusher_nb's local server in a process of its own: ``python -m benchmarks.serve_local PORT``."""

from __future__ import annotations

import asyncio
import sys

from pusher_nb.server import LocalServer


async def main(port: int) -> None:
    server = await LocalServer.start(port=port, feeds=())
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


if __name__ == "__main__":
    try:
        asyncio.run(main(int(sys.argv[1])))
    except KeyboardInterrupt:
        pass
