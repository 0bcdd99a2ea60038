"""The sans-I/O protocol core: channel kinds, name rules, frames and the close-code policy."""

from __future__ import annotations

import pytest

import pusher_nb
from pusher_nb.errors import InvalidChannelName, InvalidEventName, PayloadTooLarge
from pusher_nb.protocol import (
    ChannelKind,
    CloseAction,
    FrameError,
    channel_kind,
    check_data_size,
    close_action,
    decode_frame,
    encode_frame,
    parse_presence,
    validate_channel_name,
    validate_event_name,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("prices", ChannelKind.PUBLIC),
        ("cache-scores", ChannelKind.CACHE),
        ("private-orders", ChannelKind.PRIVATE),
        ("private-cache-orders", ChannelKind.PRIVATE_CACHE),
        ("presence-room", ChannelKind.PRESENCE),
        ("presence-cache-room", ChannelKind.PRESENCE_CACHE),
        ("private-encrypted-dm", ChannelKind.ENCRYPTED),
        ("private-encrypted-cache-dm", ChannelKind.ENCRYPTED_CACHE),
        ("privatex", ChannelKind.PUBLIC),
    ],
)
def test_channel_kind_by_longest_prefix(name, kind):
    """Each prefix maps to its kind, the longest prefix first."""
    assert channel_kind(name) is kind


def test_kind_properties():
    """Client events travel on private and presence channels only, never encrypted ones."""
    assert ChannelKind.PRIVATE.allows_client_events
    assert ChannelKind.PRESENCE_CACHE.allows_client_events
    assert not ChannelKind.ENCRYPTED.allows_client_events
    assert not ChannelKind.PUBLIC.allows_client_events
    assert ChannelKind.ENCRYPTED_CACHE.is_cache and ChannelKind.ENCRYPTED_CACHE.needs_auth


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("a" * 201, "limit is 200"),
        ("#server-to-user-1", "reserved"),
        ("bad name", "' '"),
        ("emoji-\N{GRINNING FACE}", "outside"),
        ("private-", "only a prefix"),
        (42, "string"),
    ],
)
def test_invalid_channel_names_say_why(name, problem):
    """A bad channel name raises InvalidChannelName naming what is wrong."""
    with pytest.raises(InvalidChannelName, match=problem):
        validate_channel_name(name)


def test_valid_channel_name_characters():
    """Every allowed punctuation character is accepted, up to 200 characters."""
    assert validate_channel_name("a-b_c=d@e,f.g;h") == "a-b_c=d@e,f.g;h"
    assert validate_channel_name("x" * 200)


def test_event_names_and_sizes():
    """Event names are non-empty and at most 200 characters; data at most 10 KB."""
    with pytest.raises(InvalidEventName):
        validate_event_name("")
    with pytest.raises(InvalidEventName, match="200"):
        validate_event_name("e" * 201)
    check_data_size("x" * 10240)
    with pytest.raises(PayloadTooLarge, match="10241 bytes"):
        check_data_size("x" * 10241)
    with pytest.raises(PayloadTooLarge):
        check_data_size("\N{EURO SIGN}" * 3414)  # 10242 bytes in UTF-8


def test_decode_double_encoded_data():
    """String data holding JSON is decoded again; a string that is not JSON stays raw."""
    event = decode_frame('{"event":"trade","channel":"c","data":"{\\"price\\":1.5}"}')
    assert (event.event, event.channel, event.data) == ("trade", "c", {"price": 1.5})
    assert decode_frame('{"event":"e","data":"hello"}').data == "hello"
    assert decode_frame('{"event":"e","data":"123"}').data == 123
    assert decode_frame('{"event":"e","data":{"a":1}}').data == {"a": 1}
    assert decode_frame('{"event":"e","data":"{broken"}').data == "{broken"
    assert decode_frame('{"event":"client-x","channel":"presence-r","data":{},"user_id":7}').user_id == "7"


@pytest.mark.parametrize(
    "frame", ["not json", "[1,2]", '{"data":1}', '{"event":""}', '{"event":"e","channel":5}', b"\xff\xfe"]
)
def test_malformed_frames_raise_frame_error(frame):
    """Anything that is not a Pusher message is a FrameError, never another exception."""
    with pytest.raises(FrameError):
        decode_frame(frame)


def test_encode_frame_round_trip():
    """An encoded frame decodes to the same event, channel and data."""
    text = encode_frame("client-typing", {"on": True}, "private-chat")
    event = decode_frame(text)
    assert (event.event, event.channel, event.data) == ("client-typing", "private-chat", {"on": True})


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (4000, CloseAction.RECONNECT_TLS),
        (4001, CloseAction.STOP),
        (4003, CloseAction.STOP),
        (4004, CloseAction.STOP),
        (4009, CloseAction.STOP),
        (4099, CloseAction.STOP),
        (4100, CloseAction.BACKOFF),
        (4199, CloseAction.BACKOFF),
        (4200, CloseAction.RECONNECT_NOW),
        (4201, CloseAction.RECONNECT_NOW),
        (4202, CloseAction.RECONNECT_NOW),
        (4301, CloseAction.REPORT),
        (4302, CloseAction.REPORT),
        (1000, CloseAction.RECONNECT_WITH_BACKOFF),
        (1006, CloseAction.RECONNECT_WITH_BACKOFF),
        (None, CloseAction.RECONNECT_WITH_BACKOFF),
    ],
)
def test_close_code_policy(code, action):
    """The close-code table of PROTOCOL.md section 1, row by row."""
    assert close_action(code) is action


def test_parse_presence():
    """Presence data gives members by string id, with ids lacking info kept."""
    members, count = parse_presence(
        {"presence": {"ids": ["1", 2], "hash": {"1": {"name": "a"}}, "count": 2}}
    )
    assert members == {"1": {"name": "a"}, "2": None}
    assert count == 2


def test_public_names_match_the_design():
    """__all__ lists exactly the documented public API, and each name exists."""
    documented = {
        "Client", "Event", "LocalServer", "LiveFrame", "StatusBar", "LiveChart",
        "PresenceTable", "EventLog", "Chat", "PusherWidget", "PusherError",
        "SubscriptionError", "AuthError", "ConnectionRefused",
    }
    assert documented <= set(pusher_nb.__all__)
    for name in pusher_nb.__all__:
        assert getattr(pusher_nb, name) is not None
