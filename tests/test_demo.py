"""The README's main job: the local server with every feed, and JupyterLab on the tutorials."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request

import pusher_nb
import pusher_nb.notebook
from support import free_port, timeout, wait_for_port


async def test_demo_serves_feeds_and_jupyterlab_and_stops_both():
    """`python -m pusher_nb.demo` serves every feed and JupyterLab; Ctrl-C stops both cleanly."""
    port, lab_port = free_port(), free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "pusher_nb.demo", "--port", str(port), "--lab-port", str(lab_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        await asyncio.to_thread(wait_for_port, port, 30, demo)
        await asyncio.to_thread(wait_for_port, lab_port, 60, demo)
        status = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{lab_port}/api", timeout=10).read()
        )
        assert "version" in json.loads(status)
        async with pusher_nb.Client("app-key", host="127.0.0.1", port=port, tls=False,
                                    app_id=pusher_nb.notebook.LOCAL_APP_ID, secret="app-secret",
                                    user_data={"user_id": "visitor"}) as client:
            frames = {name: pusher_nb.LiveFrame(await client.subscribe(name))
                      for name in ("crypto-trades", "sports-events", "private-deliveries")}
            for frame in frames.values():
                await frame.wait(rows=1, timeout=timeout(20))
            room = await client.subscribe("presence-chat")
            assert any(user_id.startswith("bot-") for user_id in room.members)
    finally:
        demo.send_signal(signal.SIGINT)
        output, _ = demo.communicate(timeout=timeout(30))
    assert demo.returncode == 0, output
    assert "stopped JupyterLab and the local server" in output
