"""End-to-end encrypted channels (``private-encrypted-``): per-channel keys and NaCl secretbox.

The master key stays with whoever signs subscriptions; subscribers only ever receive the
per-channel shared secret, and the server only ever carries ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from .errors import ConfigurationError, DecryptionError

KEY_BYTES = SecretBox.KEY_SIZE  # 32
NONCE_BYTES = SecretBox.NONCE_SIZE  # 24


def decode_master_key(master_key_base64: str) -> bytes:
    """The raw 32-byte master key from its base64 form, with a clear error when it is not one."""
    try:
        key = base64.b64decode(master_key_base64, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ConfigurationError("encryption master key is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"encryption master key must decode to {KEY_BYTES} bytes, not {len(key)}"
        )
    return key


def shared_secret(channel: str, master_key: bytes) -> bytes:
    """The channel's secretbox key: SHA256(channel name + master key)."""
    return hashlib.sha256(channel.encode() + master_key).digest()


def decode_shared_secret(shared_secret_base64: str) -> bytes:
    """The raw key from the ``shared_secret`` field of an auth response."""
    try:
        key = base64.b64decode(shared_secret_base64, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise DecryptionError("shared_secret in the auth response is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise DecryptionError(f"shared_secret must be {KEY_BYTES} bytes, not {len(key)}")
    return key


def encrypt(key: bytes, plaintext: str | bytes, nonce: bytes | None = None) -> str:
    """The wire ``data`` of an encrypted event: ``{"nonce": b64, "ciphertext": b64}`` as JSON."""
    if isinstance(plaintext, str):
        plaintext = plaintext.encode()
    nonce = random_bytes(NONCE_BYTES) if nonce is None else nonce
    ciphertext = SecretBox(key).encrypt(plaintext, nonce).ciphertext
    return orjson.dumps(
        {
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(ciphertext).decode(),
        }
    ).decode()


def decrypt(key: bytes, data: Any) -> str:
    """The plaintext of an encrypted event's ``data`` (a dict or its JSON string)."""
    if isinstance(data, str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise DecryptionError("encrypted event data is not JSON") from None
    if not isinstance(data, dict) or "nonce" not in data or "ciphertext" not in data:
        raise DecryptionError("encrypted event data lacks nonce or ciphertext")
    try:
        nonce = base64.b64decode(data["nonce"], validate=True)
        ciphertext = base64.b64decode(data["ciphertext"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise DecryptionError("nonce or ciphertext is not valid base64") from None
    if len(nonce) != NONCE_BYTES:
        raise DecryptionError(f"nonce must be {NONCE_BYTES} bytes, not {len(nonce)}")
    try:
        plaintext = SecretBox(key).decrypt(ciphertext, nonce)
    except CryptoError:
        raise DecryptionError("ciphertext does not open with this channel's key") from None
    try:
        return plaintext.decode()
    except UnicodeDecodeError:
        raise DecryptionError("decrypted data is not UTF-8") from None
