"""The store writer's cheap look at a raw entry (`trustnet._canonical.head`,
`log.entry.peek_entry`, `store.workers.peek`; issue 15 item 2): the envelope and header fields
read without unpacking the body, the body unpacked when first read.

What must hold: for every entry that decodes (what an ingest worker passes), the header read
is the decoded one, and the entry, once its body is read, is the decoded entry. For bytes that
do not decode it may say anything but crash: the worker refuses them before the writer keeps
or reads them."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import random
import sys
from typing import Any
from unittest import mock

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from tests.harness.mutation import Edit, edits, mutated
from trustnet.errors import EntryError
from trustnet.identity import Identity
from trustnet.log import entry as entry_module
from trustnet.log.entry import (
    Entry,
    author_hint,
    decode_entry,
    decode_fields,
    peek_entry,
    sign_entry,
)
from trustnet.log.keys import KEY_KINDS
from trustnet.store.workers import peek

_canonical = pytest.importorskip(
    "trustnet._canonical", reason="not compiled here: `peek` decodes the whole entry")
head = _canonical.head
author = _canonical.author

WHO = Identity.from_seed(b"\x07" * 32)
bodies = st.dictionaries(
    st.text(max_size=8),
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=50),
              st.binary(max_size=400), st.lists(st.integers(0, 9), max_size=5)),
    max_size=12)


def _decoded_head(raw: bytes) -> tuple[Any, ...] | None:
    """The header `decode_fields` gives without the compiled header read (its checks in
    Python), or None when the entry does not decode."""
    try:
        with mock.patch.object(entry_module, "_head", None):
            payload, sig, (_, author, seq, prev, ts, kind, _) = decode_fields(raw)
    except EntryError:
        return None
    return payload, sig, author, seq, prev, ts, kind


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 2**53 - 1), st.integers(0, 2**53 - 1), st.text(min_size=1, max_size=40),
       bodies)
def test_every_entry_that_decodes_is_read_the_same(seq: int, ts: int, kind: str,
                                                   body: dict[str, Any]) -> None:
    prev = None if seq == 1 else bytes(range(32))
    raw = sign_entry(WHO, seq=seq, prev=prev, ts=ts, kind=kind, body=body).raw
    assert head(raw) == _decoded_head(raw)
    entry, decoded = peek_entry(raw), decode_entry(raw, verify=False)
    assert entry is not None and type(entry) is not Entry  # its body not read yet
    assert entry == decoded and decoded == entry
    assert type(entry) is Entry and entry.body == body


def test_both_envelope_forms_and_the_size_bound() -> None:
    small = sign_entry(WHO, seq=1, prev=None, ts=5, kind="note", body={"t": "x"})
    large = sign_entry(WHO, seq=1, prev=None, ts=5, kind="note", body={"t": "x" * 60_000})
    assert small.raw[1] == 0xC4 and large.raw[1] == 0xC5
    for e in (small, large):
        peeked = peek_entry(e.raw)
        assert peeked == e and peeked is not None and peeked.id == e.id
    # Over the entry bound it says nothing (the in-process decode names it `too_large`).
    huge = msgpack.packb([b"\x97" + b"\x00" * 70_000, bytes(64)], use_bin_type=True)
    assert peek_entry(huge) is None and peek(huge) is None
    with pytest.raises(TypeError):
        head(bytearray(small.raw))
    assert peek_entry(bytearray(small.raw)) is None  # type: ignore[arg-type]


@settings(max_examples=1500, deadline=None)
@given(bodies, edits(3))
def test_mutated_entries_read_as_they_decode_or_not_at_all(
        body: dict[str, Any], changes: list[Edit]) -> None:
    raw = sign_entry(WHO, seq=2, prev=b"\x01" * 32, ts=9, kind="trust", body=body).raw
    _agrees(mutated(raw, changes))


def _outcome(raw: bytes) -> object:
    try:
        return decode_fields(raw)
    except EntryError as exc:
        return exc.code, exc.message


def _agrees(raw: bytes) -> None:
    read, decoded = head(raw), _decoded_head(raw)
    with mock.patch.object(entry_module, "_head", None), \
            mock.patch.object(entry_module, "_author", None):
        slow = _outcome(raw)
        slow_hint = author_hint(raw)
    assert _outcome(raw) == slow  # `decode_fields` on the compiled read decodes the same
    # The author alone is read as the whole header is (the kind's text aside).
    assert read is None or author(raw) == read[2], raw.hex()
    if decoded is not None:
        # Admission's author, read either way, is the one the entry decodes with.
        assert author_hint(raw) == slow_hint == decoded[2], raw.hex()
        # What a worker passes is read as it decodes (or not read: decoded in process).
        assert read is None or read == decoded, raw.hex()
        entry = peek_entry(raw)
        assert entry is None or entry == decode_entry(raw, verify=False)


def test_random_bytes_in_the_header() -> None:
    rng = random.Random(17)
    base = sign_entry(WHO, seq=3, prev=b"\x02" * 32, ts=2**40, kind="observation",
                      body={"subject": "ab" * 32})
    read = 0
    for _ in range(20_000):
        raw = bytearray(base.raw)
        for _ in range(rng.randint(1, 2)):
            raw[rng.randrange(min(len(raw), 120))] = rng.randrange(256)
        _agrees(bytes(raw))
        read += head(bytes(raw)) is not None
    assert read > 100  # flips inside the author, the prev or the ts still read


def test_shapes_it_does_not_read() -> None:
    """Forms a decoding entry never has: said None, the in-process decode names them."""
    payload = msgpack.packb([1, WHO.author, 1, None, 5, "trust", {}], use_bin_type=True)
    good = msgpack.packb([payload, bytes(64)], use_bin_type=True)
    assert head(good) is not None
    cases = [
        payload.replace(b"\x97\x01", b"\x97\x02", 1),  # another version
        payload.replace(b"\x01\xc0", b"\x00\xc0", 1),  # seq 0
        payload.replace(b"\x01\xc0", b"\xcc\x01\xc0", 1),  # seq in a longer form
        payload.replace(b"\xc0\x05", b"\xc4\x01\x00\x05", 1),  # prev not 32 bytes
        payload.replace(b"\x05\xa5", b"\xcf" + (2**53).to_bytes(8, "big") + b"\xa5", 1),
        payload.replace(b"\xa5trust", b"\xa2\xff\xfe", 1),  # kind not UTF-8
        payload.replace(b"\x80", b"\x90", 1),  # body not a map
        payload[:-1],  # no body
    ]
    for bad in cases:
        assert bad != payload
        raw = msgpack.packb([bad, bytes(64)], use_bin_type=True)
        assert head(raw) is None and _decoded_head(raw) is None, bad.hex()
        # The author alone is read whatever the kind's text (admission counts by it; the
        # entry is refused when decoded).
        assert author(raw) == (WHO.author if b"\xa2\xff\xfe" in bad else None), bad.hex()
    assert author(good) == WHO.author
    # The envelope: a longer bin form, a short signature, trailing bytes.
    for raw in (b"\x92\xc5" + len(payload).to_bytes(2, "big") + payload + b"\xc4\x40" + bytes(64),
                msgpack.packb([payload, bytes(63)], use_bin_type=True), good + b"\x00"):
        assert head(raw) is None


def test_a_peeked_entry_once_read_is_a_plain_entry() -> None:
    e = sign_entry(WHO, seq=1, prev=None, ts=1, kind="trust",
                   body={"subject": "ab" * 32, "level": 3})
    peeked = peek_entry(e.raw)
    assert peeked is not None
    assert pickle.loads(pickle.dumps(peeked)) == e
    other = peek_entry(e.raw)
    assert other is not None and other == peek_entry(e.raw)
    assert copy.copy(other) == e
    assert peeked.body == {"subject": "ab" * 32, "level": 3} and type(peeked) is Entry
    assert peeked.to_json() == e.to_json() and repr(peeked) == repr(e)
    with pytest.raises(AttributeError):
        peeked.nothing  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match="'Entry' object has no attribute 'nothing'"):
        peek_entry(e.raw).nothing  # type: ignore[union-attr]  # noqa: B018
    # `replace` makes an `_Unread` with its body set, which stays one: still equal both ways.
    made = dataclasses.replace(peek_entry(e.raw), body=dict(e.body))  # type: ignore[type-var]
    assert type(made) is not Entry and made == e and e == made
    assert made != dataclasses.replace(e, seq=2) and dataclasses.replace(e, seq=2) != made


def test_a_strangers_kind_is_not_kept_for_good() -> None:
    """The kind read is not interned: on CPython 3.12 interned strs are never freed, and any
    stranger chooses the kinds of the entries it sends."""
    name = "".join(["kind-", "no-one-uses"])
    raw = sign_entry(WHO, seq=1, prev=None, ts=1, kind=name, body={}).raw
    read = head(raw)
    assert read is not None and read[6] == name
    assert sys.intern("".join(["kind-", "no-one-uses"])) is not read[6]


def test_the_writer_reads_key_events_whole() -> None:
    """A key event's body is read by the writer's chain checks: `peek` unpacks it at once."""
    kind = sorted(KEY_KINDS)[0]
    e = sign_entry(WHO, seq=1, prev=None, ts=1, kind=kind, body={"k": 1})
    assert type(peek(e.raw)) is Entry and type(peek_entry(e.raw)) is not Entry
    plain = sign_entry(WHO, seq=1, prev=None, ts=1, kind="trust", body={"k": 1})
    assert type(peek(plain.raw)) is not Entry


def test_decoding_on_the_compiled_read_keeps_the_prev_rule() -> None:
    """The header read does not hold seq 1 to no prev: `decode_fields` does, on either path."""
    for seq, prev in ((1, b"\x01" * 32), (2, None)):
        payload = msgpack.packb([1, WHO.author, seq, prev, 5, "trust", {}], use_bin_type=True)
        raw = msgpack.packb([payload, bytes(64)], use_bin_type=True)
        assert head(raw) is not None
        with pytest.raises(EntryError) as refused:
            decode_fields(raw)
        assert refused.value.code == "bad_prev"
