"""Signatures and encrypted-channel keys against the vectors in PROTOCOL.md sections 3 and 4."""

from __future__ import annotations

import base64

import pusher as pusher_http  # the official Python SDK, as a cross-check
import pytest

from pusher_nb import auth, crypto
from pusher_nb.errors import AuthError, ConfigurationError, DecryptionError

DOCS_KEY, DOCS_SECRET, DOCS_SOCKET = "278d425bdf160c739803", "7ad3773142a6692b25b8", "1234.1234"
MASTER_KEY_B64 = "OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk="


def test_private_channel_docs_vector():
    """The private-channel vector from Pusher's docs."""
    answer = auth.channel_auth(DOCS_KEY, DOCS_SECRET, DOCS_SOCKET, "private-foobar")
    assert answer == {
        "auth": "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
    }


def test_presence_channel_docs_vector():
    """The presence vector signs the exact channel_data JSON (the corrected signature)."""
    channel_data = '{"user_id":10,"user_info":{"name":"Mr. Channels"}}'
    answer = auth.channel_auth(DOCS_KEY, DOCS_SECRET, DOCS_SOCKET, "presence-foobar", channel_data)
    assert answer["auth"].split(":")[1] == (
        "31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"
    )
    assert answer["channel_data"] == channel_data


def test_presence_channel_data_from_a_mapping_is_compact_json():
    """A user_data mapping is serialised to the same compact JSON the vector signs."""
    answer = auth.channel_auth(
        DOCS_KEY, DOCS_SECRET, DOCS_SOCKET, "presence-foobar",
        {"user_id": 10, "user_info": {"name": "Mr. Channels"}},
    )
    assert answer["channel_data"] == '{"user_id":10,"user_info":{"name":"Mr. Channels"}}'


def test_user_signin_docs_vector():
    """The user signin vector signs SOCKET::user::USER_DATA."""
    answer = auth.user_signin(DOCS_KEY, DOCS_SECRET, DOCS_SOCKET, {"id": "12345"})
    assert answer == {
        "auth": f"{DOCS_KEY}:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba",
        "user_data": '{"id":"12345"}',
    }


def test_rest_trigger_docs_vector():
    """The REST vector: body_md5 and auth_signature of a POST to /apps/3/events."""
    body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}'
    params = auth.signed_rest_params(
        DOCS_KEY, DOCS_SECRET, "POST", "/apps/3/events", body=body, timestamp=1353088179
    )
    assert params["body_md5"] == "ec365a775a4cd0599faeb73354201b6f"
    assert params["auth_signature"] == (
        "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
    )


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        ("", "5c49f04a95eedc9028b1e0e8de7c2c7ad63504a0e3b5c145d2accaef6c14dbac"),
        (None, "6d6a7b00aa3d2b7bbbbe19ddca36cc373aac6da85271286d8ae6e74f0302d58b"),
    ],
)
def test_rest_get_vector_with_and_without_empty_body_md5(body, signature):
    """GET /some/obscure/api?foo=bar signs both with and without the empty body's MD5."""
    params = auth.signed_rest_params(
        "key", "secret", "GET", "/some/obscure/api", {"foo": "bar"}, body=body, timestamp=1000
    )
    assert params["auth_signature"] == signature
    assert auth.verify_rest_request(
        "key", "secret", "GET", "/some/obscure/api", params, b"", now=1000
    ) is None


def test_foo_bar_vectors():
    """The key foo / secret bar vectors for a private and a presence channel."""
    assert auth.channel_auth("foo", "bar", "345.23", "private-channel")["auth"] == (
        "foo:89955e77e1b40e33df6d515a5ecbba86a01dc816a5b720da18a06fd26f7d92ff"
    )
    presence = auth.channel_auth(
        "foo", "bar", "345.43245", "presence-channel",
        '{"user_id":"fred","user_info":{"key":"value"}}',
    )
    assert presence["auth"] == (
        "foo:e80ba6439492c2113022c39297a87a948de14061cc67b5788e045645a68b8ccd"
    )


def test_encrypted_channel_vector():
    """The encrypted-channel vector: auth as private, plus the derived shared secret."""
    master = crypto.decode_master_key(MASTER_KEY_B64)
    answer = auth.channel_auth("foo", "bar", "345.23", "private-encrypted-channel", master_key=master)
    assert answer == {
        "auth": "foo:fff0503dfe4929f5162efe4d1dacbce524b0d8e7e1331117a8651c0e74d369e3",
        "shared_secret": "VmIsNZtCSteh8kazd2toc+ofhohBtUouQRSDtRvuyVI=",
    }


def test_official_sdk_agrees_on_channel_signatures():
    """pusher-http-python signs private, presence and encrypted channels exactly as we do."""
    sdk = pusher_http.Pusher(
        app_id="3", key="foo", secret="bar", encryption_master_key_base64=MASTER_KEY_B64
    )
    master = crypto.decode_master_key(MASTER_KEY_B64)
    for channel, custom in [
        ("private-channel", None),
        ("presence-channel", {"user_id": "fred", "user_info": {"key": "value"}}),
        ("private-encrypted-channel", None),
    ]:
        theirs = sdk.authenticate(channel=channel, socket_id="345.23", custom_data=custom)
        if isinstance(theirs.get("shared_secret"), bytes):  # the SDK returns bytes here
            theirs["shared_secret"] = theirs["shared_secret"].decode()
        ours = auth.channel_auth("foo", "bar", "345.23", channel, theirs.get("channel_data"), master)
        assert ours == theirs


def test_rest_verification_rejects_tampering_and_stale_timestamps():
    """A changed body, a wrong signature or a timestamp 601 s off is refused with a reason."""
    body = b'{"name":"e","channels":["c"],"data":"{}"}'
    params = auth.signed_rest_params("key", "secret", "POST", "/apps/1/events", body=body, timestamp=5000)
    assert auth.verify_rest_request("key", "secret", "POST", "/apps/1/events", params, body, now=5000) is None
    assert "body_md5" in auth.verify_rest_request(
        "key", "secret", "POST", "/apps/1/events", params, body + b" ", now=5000
    )
    assert "auth_timestamp" in auth.verify_rest_request(
        "key", "secret", "POST", "/apps/1/events", params, body, now=5601
    )
    forged = {**params, "auth_signature": "0" * 64}
    assert "signature" in auth.verify_rest_request(
        "key", "secret", "POST", "/apps/1/events", forged, body, now=5000
    )


def test_channel_auth_verification():
    """verify_channel_auth accepts the right signature and refuses another socket's."""
    answer = auth.channel_auth("foo", "bar", "345.23", "private-channel")
    assert auth.verify_channel_auth("foo", "bar", "345.23", "private-channel", answer["auth"])
    assert not auth.verify_channel_auth("foo", "bar", "345.24", "private-channel", answer["auth"])
    assert not auth.verify_channel_auth("foo", "bar", "345.23", "private-channel", None)


def test_webhook_signature_round_trip():
    """A webhook verifies with its key and signature headers and fails on a changed body."""
    body = b'{"time_ms":1,"events":[{"name":"channel_occupied","channel":"c"}]}'
    headers = {"X-Pusher-Key": "key", "X-Pusher-Signature": auth.webhook_signature("secret", body)}
    assert auth.verify_webhook("key", "secret", headers, body)
    assert not auth.verify_webhook("key", "secret", headers, body[:-1])


def test_presence_without_user_id_is_a_configuration_error():
    """Presence auth without a user_id names the problem instead of signing nonsense."""
    with pytest.raises(ConfigurationError, match="user_id"):
        auth.channel_auth("k", "s", "1.1", "presence-room", {"user_info": {}})


async def test_call_authorizer_checks_the_answer():
    """An authorizer answer missing shared_secret for an encrypted channel is an AuthError."""
    with pytest.raises(AuthError, match="shared_secret"):
        await auth.call_authorizer(lambda s, c: {"auth": "k:sig"}, "1.1", "private-encrypted-x")
    with pytest.raises(AuthError, match="failed"):
        await auth.call_authorizer(lambda s, c: 1 / 0, "1.1", "private-x")


def test_secretbox_round_trip_and_wrong_key():
    """Encrypt then decrypt gives the plaintext; another channel's key is a DecryptionError."""
    master = crypto.decode_master_key(MASTER_KEY_B64)
    key = crypto.shared_secret("private-encrypted-a", master)
    wire = crypto.encrypt(key, '{"x":1}')
    assert crypto.decrypt(key, wire) == '{"x":1}'
    with pytest.raises(DecryptionError):
        crypto.decrypt(crypto.shared_secret("private-encrypted-b", master), wire)


def test_our_ciphertext_opens_with_the_official_sdk():
    """The official SDK's encrypted payload decrypts with our derived key."""
    from pusher.crypto import encrypt as sdk_encrypt
    from pusher.crypto import parse_master_key

    master = crypto.decode_master_key(MASTER_KEY_B64)
    payload = sdk_encrypt("private-encrypted-a", '{"hello":"world"}', parse_master_key(None, MASTER_KEY_B64))
    assert crypto.decrypt(crypto.shared_secret("private-encrypted-a", master), payload) == '{"hello":"world"}'


@pytest.mark.parametrize(
    ("value", "problem"),
    [("not base64!", "base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_bad_master_key_is_named(value, problem):
    """A malformed master key is a ConfigurationError that says what is wrong."""
    with pytest.raises(ConfigurationError, match=problem):
        crypto.decode_master_key(value)
