"""No secret (app secret, master key, shared secret, auth token) in a repr or any log line."""

from __future__ import annotations

import base64
import hashlib
import logging

import pusher_nb
from pusher_nb import auth, crypto
from pusher_nb.server import App
from support import eventually

APP_SECRET = "s3cr3t-app-secret-Zq9"
MASTER_KEY = base64.b64encode(b"M" * 32).decode()
AUTH_HEADER = "Bearer token-Qx81"
USER = {"user_id": "logger"}


def secrets_for(socket_ids, channels):
    """Every secret string that must never appear, including each auth signature issued."""
    master = crypto.decode_master_key(MASTER_KEY)
    found = {APP_SECRET, MASTER_KEY, AUTH_HEADER}
    for channel in channels:
        found.add(base64.b64encode(hashlib.sha256(channel.encode() + master).digest()).decode())
    for socket_id in socket_ids:
        for channel in channels:
            answer = auth.channel_auth("key", APP_SECRET, socket_id, channel, USER, master)
            signature = answer["auth"].split(":", 1)[1]
            found.update((signature, signature[:12], signature[-12:]))
    return found


async def test_reprs_hold_no_secret():
    """repr() of the server, its app, a client, its REST client and authorizers holds no secret."""
    server = await pusher_nb.LocalServer.start(port=0, feeds=(), apps=[App("1", "key", APP_SECRET)])
    try:
        client = server.client(encryption_master_key_base64=MASTER_KEY, auth_headers={"X": AUTH_HEADER})
        http_client = pusher_nb.Client("key", host="127.0.0.1", port=server.port, tls=False,
                                       auth_endpoint="http://127.0.0.1:1/auth",
                                       auth_headers={"Authorization": AUTH_HEADER})
        texts = [repr(server), repr(server.app), repr(client), repr(client.rest),
                 repr(client._authorizer), repr(http_client), repr(http_client._authorizer),
                 str(vars(client.stats) if hasattr(client.stats, "__dict__") else "")]
        for text in texts:
            for secret in (APP_SECRET, MASTER_KEY, AUTH_HEADER):
                assert secret not in text, text
    finally:
        await server.stop()


async def test_no_secret_in_any_log_line_at_debug(caplog):
    """A whole session at DEBUG for every logger, a refused signature included, logs no secret."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    server = await pusher_nb.LocalServer.start(
        port=0, feeds=(), apps=[App("1", "key", APP_SECRET, encryption_master_key_base64=MASTER_KEY)]
    )
    channels = ["private-logs", "presence-logs", "private-encrypted-logs"]
    socket_ids = []
    try:
        async with server.client(user_data=USER,
                                 encryption_master_key_base64=MASTER_KEY) as client:
            socket_ids.append(client.socket_id)
            subscribed = [await client.subscribe(name) for name in channels]
            received = []
            subscribed[2].bind("note", received.append)
            await client.trigger("private-encrypted-logs", "note", {"n": 1})
            await eventually(lambda: received)
            await client.signin()
            forged = pusher_nb.Client("key", host="127.0.0.1", port=server.port, tls=False,
                                      authorizer=lambda s, c: {"auth": "key:" + "f" * 64})
            async with forged:
                try:
                    await forged.subscribe("private-logs")
                except pusher_nb.SubscriptionError:
                    pass
    finally:
        await server.stop()
        logging.getLogger().setLevel(logging.WARNING)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "connecting -> connected" in logged and "Invalid signature" in logged  # it did log
    for secret in secrets_for(socket_ids, channels):
        assert secret not in logged, f"a secret ({secret[:6]}...) reached the log"
