"""Gossip messages (bounded msgpack codec) and request signatures (transport.auth)."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from trustnet.identity import Identity
from trustnet.protocol import messages as m
from trustnet.transport.auth import (
    HEADER_NODE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    AuthError,
    RequestVerifier,
    request_message,
    sign_request,
)
from trustnet.transport.base import error_body, error_from_reply

A, B, C = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32

SAMPLES: list[m.Message] = [
    m.Digest(A),
    m.InSync(),
    m.HeadsRequest(None),
    m.HeadsRequest(A),
    m.Heads(((A, 1, B), (B, 7, C)), more=True, after=None, forks=((C, 2),)),
    m.Fetch(((A, 0, 10), (B, 3, 1)), forks=((C, 4),)),
    m.Entries((b"x", b"yy"), (b"proof",), more=True),
    m.Push((b"entry",), (b"fork",)),
    m.PushAck(3, 1, 0, ((A, 4),)),
    m.PeersRequest("http://me.test", ("http://a.test", "https://b.test")),
    m.PeersRequest(None),
    m.PeersReply(("http://a.test",)),
    m.HeadRequest(A),
    m.HeadReply(A, 0, None),
    m.HeadReply(A, 9, B),
    # Range reconciliation (issue 15).
    m.Digest(A, recon=True),
    m.Digest(A, recon=True, recent=((A, 1, B), (B, 2, C))),
    m.Reconcile(nodes=(("", bytes(16), 5), ("0a", B[:16], 0))),
    m.Reconcile(splits=(("", bytes(256), (1,) * 16),), items=(("01", ((A, 3, B),)),),
                forks=((C, 2),)),
    m.Reconcile(fp=(bytes(16), 40), recent=((A, 1, B),)),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda x: type(x).__name__)
def test_round_trip(message: m.Message) -> None:
    assert m.decode(m.encode(message)) == message


def test_endpoints_check_the_message_kind() -> None:
    for path, kinds in m.REQUESTS.items():
        for message in SAMPLES:
            data = m.encode(message)
            if isinstance(message, kinds):
                assert m.decode_request(path, data) == message
            else:
                with pytest.raises(m.MessageError) as err:
                    m.decode_request(path, data)
                assert err.value.code == "bad_message"
    assert isinstance(m.decode_reply(m.DIGEST, m.encode(m.InSync())), m.InSync)
    with pytest.raises(m.MessageError) as err:
        m.decode_reply(m.DIGEST, m.encode(m.PushAck()))
    assert err.value.code == "bad_message"
    with pytest.raises(m.MessageError) as err:
        m.decode_request("/gossip/nope", m.encode(m.InSync()))
    assert err.value.code == "unknown_path"


def test_in_sync_exchange_has_constant_size() -> None:
    sizes = {len(m.encode(m.Digest(hashlib.sha256(bytes([i])).digest()))) for i in range(50)}
    assert len(sizes) == 1
    assert len(m.encode(m.InSync())) < 16


def _packed(obj: object) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"\xc1", "bad_message", "msgpack"),
        (_packed([1, 2]), "bad_message", "a map"),
        (_packed({"t": "nope"}), "bad_message", "unknown message type"),
        (_packed({"t": 5}), "bad_message", "unknown message type"),
        (_packed({"t": "digest", "digest": A[:31]}), "bad_message", "digest"),
        (_packed({"t": "digest", "digest": "aa" * 32}), "bad_message", "digest"),
        (_packed({"t": "digest", "digest": A}) + b"\x00", "bad_message", "trailing"),
        (_packed({"t": "heads", "heads": [[B, 1, A], [A, 1, B]], "more": False, "after": None,
                  "forks": []}), "bad_message", "ascending"),
        (_packed({"t": "heads", "heads": [[A, 0, B]], "more": False, "after": None,
                  "forks": []}), "bad_message", "seq"),
        (_packed({"t": "fetch", "ranges": [[A, -1, 5]], "forks": []}), "bad_message", "seq"),
        (_packed({"t": "fetch", "ranges": [[A, 0, 0]], "forks": []}), "bad_message", "limit"),
        # Issue 11: integers beyond 2**53-1 overflowed the store (HTTP 500) once decoded.
        (_packed({"t": "fetch", "ranges": [[A, 2**64 - 1, 5]], "forks": []}), "bad_message",
         "ranges[0].seq"),
        (_packed({"t": "fetch", "ranges": [], "forks": [[A, 2**63]]}), "bad_message",
         "forks[0].seq"),
        (_packed({"t": "heads", "heads": [[A, 2**53, B]], "more": False, "after": None,
                  "forks": []}), "bad_message", "heads[0].seq"),
        (_packed({"t": "head", "author": A, "seq": 2**63 - 1, "id": B}), "bad_message", "seq"),
        (_packed({"t": "push_ack", "accepted": 0, "duplicates": 0, "rejected": 0,
                  "wants": [[A, 2**64 - 1]]}), "bad_message", "wants[0].seq"),
        (_packed({"t": "push", "entries": "x", "forks": []}), "bad_message", "entries"),
        (_packed({"t": "push", "entries": [1], "forks": []}), "bad_message", "entries[0]"),
        (_packed({"t": "push", "entries": [b"x", b"y", "z"], "forks": []}), "bad_message",
         "entries[2]"),
        (_packed({"t": "push", "entries": [b"x"], "forks": [b"p", None]}), "bad_message",
         "forks[1]"),
        (_packed({"t": "push_ack", "accepted": True, "duplicates": 0, "rejected": 0,
                  "wants": []}), "bad_message", "accepted"),
        (_packed({"t": "peers", "urls": ["ftp://x"]}), "bad_message", "urls[0]"),
        (_packed({"t": "peers", "urls": ["http://x"] * 65}), "bad_message", "urls"),
        (_packed({"t": "head", "author": A, "seq": 3, "id": None}), "bad_message", "id"),
        (_packed({"t": "push", "entries": [msgpack.ExtType(1, b"x")], "forks": []}),
         "bad_message", "ext"),
        (_packed({1: 2}), "bad_message", "msgpack"),
    ],
)
def test_malformed_messages_have_codes(data: bytes, code: str, words: str) -> None:
    with pytest.raises(m.MessageError) as err:
        m.decode(data)
    assert err.value.code == code
    assert words in str(err.value)


def test_size_bounds() -> None:
    big = m.Push((bytes(600_000), bytes(600_000)))
    with pytest.raises(m.MessageError) as err:
        m.encode(big)
    assert err.value.code == "too_large"
    data = m.encode(m.Push((bytes(1000),)))
    with pytest.raises(m.MessageError) as err:
        m.decode(data, max_bytes=500)
    assert err.value.code == "too_large"
    many = _packed({"t": "push", "entries": [b""] * (m.MAX_LIST + 1), "forks": []})
    with pytest.raises(m.MessageError):
        m.decode(many)
    deep = b"\x91" * 100_000 + b"\xc0"
    with pytest.raises(m.MessageError):
        m.decode(deep)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzzed_bytes_raise_only_message_error(data: bytes) -> None:
    try:
        m.decode(data)
    except m.MessageError as exc:
        assert exc.code in ("bad_message", "too_large")


@settings(max_examples=100, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=40)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
), st.sampled_from([s.T for s in SAMPLES]))
def test_fuzzed_fields_raise_only_message_error(value: object, tag: str) -> None:
    data = _packed({"t": tag, "digest": value, "heads": value, "entries": value, "forks": value,
                    "ranges": value, "urls": value, "url": value, "author": value, "seq": value,
                    "id": value, "more": value, "after": value, "wants": value})
    try:
        m.decode(data)
    except m.MessageError as exc:
        assert exc.code == "bad_message"


# -- request signatures -----------------------------------------------------------------------

ME = Identity.from_seed(bytes(range(32)))
NOW = 1_767_225_600_000


def test_signed_request_verifies_once() -> None:
    v = RequestVerifier(window_ms=60_000)
    body = b"\x81\xa1t\xa7in_sync"
    headers = sign_request(ME, "POST", "/gossip/digest", body, NOW)
    assert set(headers) == {HEADER_NODE, HEADER_TIME, HEADER_SIGNATURE}
    assert v.verify("POST", "/gossip/digest", headers, body, NOW + 5_000) == ME.party_id
    with pytest.raises(AuthError) as err:
        v.verify("POST", "/gossip/digest", headers, body, NOW + 5_000)
    assert err.value.code == "replayed" and err.value.status == 401
    lower = {k.lower(): val for k, val in sign_request(ME, "POST", "/gossip/x", b"", NOW).items()}
    assert v.verify("POST", "/gossip/x", lower, b"", NOW) == ME.party_id  # header case


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"body": b"other"}, "bad_signature"),
        ({"path": "/gossip/push"}, "bad_signature"),
        ({"method": "PUT"}, "bad_signature"),
        ({"now": NOW + 60_001}, "stale"),
        ({"now": NOW - 60_001}, "stale"),
        ({"drop": HEADER_SIGNATURE}, "unsigned"),
        ({"drop": HEADER_NODE}, "unsigned"),
        ({"set": (HEADER_TIME, "12ab")}, "unsigned"),
        ({"set": (HEADER_SIGNATURE, "zz" * 64)}, "unsigned"),
        ({"set": (HEADER_NODE, Identity.from_seed(bytes(32)).party_id)}, "bad_signature"),
        ({"set": (HEADER_TIME, str(NOW + 1))}, "bad_signature"),
    ],
)
def test_bad_requests_are_refused_with_codes(change: dict[str, object], code: str) -> None:
    body = b"payload"
    headers = sign_request(ME, "POST", "/gossip/digest", body, NOW)
    if "drop" in change:
        del headers[str(change["drop"])]
    if "set" in change:
        pair = change["set"]
        assert isinstance(pair, tuple)
        headers[str(pair[0])] = str(pair[1])
    with pytest.raises(AuthError) as err:
        RequestVerifier().verify(
            str(change.get("method", "POST")), str(change.get("path", "/gossip/digest")), headers,
            change.get("body", body), int(change.get("now", NOW)),  # type: ignore[arg-type, call-overload]
        )
    assert err.value.code == code


def test_signature_covers_the_documented_bytes() -> None:
    body = b"abc"
    headers = sign_request(ME, "POST", "/gossip/push", body, NOW)
    expected = (b"trustnet/v1/request" + b"POST" + b"/gossip/push" + hashlib.sha256(body).digest()
                + str(NOW).encode())
    assert request_message("POST", "/gossip/push", body, str(NOW)) == expected
    assert bytes.fromhex(headers[HEADER_SIGNATURE]) == ME.sign(expected)


def test_replay_cache_is_bounded_and_never_forgets_a_fresh_signature() -> None:
    # Issue 11: the cache used to evict the oldest signature beyond its size, so a replay
    # was accepted after 65,536 other requests inside the window. Now it refuses when full.
    v = RequestVerifier(replay_cache=10)
    first = sign_request(ME, "POST", "/p", b"first", NOW)
    v.verify("POST", "/p", first, b"first", NOW)
    for i in range(9):
        body = bytes([i])
        v.verify("POST", "/p", sign_request(ME, "POST", "/p", body, NOW + i), body, NOW + i)
    assert len(v) == 10
    with pytest.raises(AuthError) as err:
        v.verify("POST", "/p", sign_request(ME, "POST", "/p", b"x", NOW + 10), b"x", NOW + 10)
    assert (err.value.code, err.value.status) == ("busy", 503)
    with pytest.raises(AuthError) as err:  # the replay: refused, whatever came in between
        v.verify("POST", "/p", first, b"first", NOW + 10)
    assert err.value.code == "replayed"
    # Once the first requests leave the window they are forgotten and stale: room again.
    later = NOW + 60_001 + 5
    v.verify("POST", "/p", sign_request(ME, "POST", "/p", b"y", later), b"y", later)
    assert len(v) == 4  # `first` and requests 0..5 left the window; 6..8 and the new one remain
    with pytest.raises(AuthError) as err:
        v.verify("POST", "/p", first, b"first", later)
    assert err.value.code == "stale"
    with pytest.raises(AuthError) as err:  # the clock steps back: still stale, never replayed
        v.verify("POST", "/p", first, b"first", NOW + 30_000)
    assert err.value.code == "stale"


def test_error_bodies_round_trip_to_transport_errors() -> None:
    err = error_from_reply(429, error_body("rate_limited", "slow down"))
    assert (err.code, err.status, err.message) == ("rate_limited", 429, "slow down")
    assert error_from_reply(502, b"<html>").code == "http_502"
