"""``python -m pusher_nb.demo``: the local server with every demo feed, and JupyterLab on the tutorials.

The notebooks find the server through the PUSHER_* variables this sets for JupyterLab; stopping
the demo (Ctrl-C) stops JupyterLab and then the server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import secrets
import signal
import sys
from pathlib import Path

from .notebook import LOCAL_APP_ID
from .server import FEEDS, App, LocalServer

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


async def run(args: argparse.Namespace) -> int:
    master_key = base64.b64encode(secrets.token_bytes(32)).decode()
    app = App(app_id=LOCAL_APP_ID, encryption_master_key_base64=master_key)
    server = await LocalServer.start(
        host=args.host, port=args.port, feeds=tuple(FEEDS), apps=[app]
    )
    print(f"pusher_nb local server on ws://{server.host}:{server.port} "
          f"(app id {server.app_id}, key {server.key}); feeds: {', '.join(FEEDS)}", flush=True)
    env = {
        **os.environ,
        "PUSHER_APP_ID": server.app_id,
        "PUSHER_KEY": server.key,
        "PUSHER_SECRET": server.secret,
        "PUSHER_HOST": server.host,
        "PUSHER_PORT": str(server.port),
        "PUSHER_TLS": "false",
        "PUSHER_ENCRYPTION_MASTER_KEY_BASE64": master_key,
    }
    lab = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jupyter", "lab",
        f"--notebook-dir={args.notebooks}", f"--ip={args.host}", f"--port={args.lab_port}",
        *([] if args.open_browser else ["--no-browser"]),
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        env=env,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    waiter = asyncio.ensure_future(lab.wait())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if lab.returncode is None:
        lab.terminate()
        try:
            await asyncio.wait_for(lab.wait(), 15)
        except TimeoutError:
            lab.kill()
            await lab.wait()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter
    await server.stop()
    print("stopped JupyterLab and the local server", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pusher_nb.demo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6001, help="the Pusher server's port")
    parser.add_argument("--lab-port", type=int, default=8888)
    parser.add_argument("--notebooks", default=str(NOTEBOOKS))
    parser.add_argument("--open-browser", action="store_true")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
