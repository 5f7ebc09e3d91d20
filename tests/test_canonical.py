"""The compiled payload check (`trustnet._canonical.scan`, issue 15 item 2) against the Python
checks it stands in for: it may say "not shown canonical" of a valid payload (the Python
checks then decide), never "canonical" of one they refuse. Values of every kind, every
non-minimal form of each, and mutations of valid payloads, byte by byte; then entries
through `decode_entry` with and without it, errors named the same."""

from __future__ import annotations

import dataclasses
import gc
import random
import struct
import sys
import weakref
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings, strategies as st

from tests.harness.mutation import Edit, edits, mutated
from trustnet.errors import EntryError
from trustnet.identity import Identity
from trustnet.log import entry as entry_module
from trustnet.log.entry import MAX_DEPTH, _pack, _plain, _unpack, decode_entry, sign_entry

_canonical = pytest.importorskip(
    "trustnet._canonical", reason="not compiled here (no C compiler at install): "
    "the Python checks run alone, tests/test_codec.py covers them")
scan = _canonical.scan


def python_canonical(data: bytes) -> bool:
    """What `decode_fields` checks of a payload's encoding in Python."""
    try:
        value = _unpack(data)
    except Exception:
        return False
    return _plain(value, 0) and _pack(value) == data


def _agrees(data: bytes) -> None:
    if not scan(data):
        return
    try:
        value = _unpack(data)
    except UnicodeDecodeError:
        return  # a str not UTF-8: unpacking refuses it (`decode_fields` unpacks first)
    assert _plain(value, 0) and _pack(value) == data, data.hex()


ints = st.one_of(st.integers(-(2**63), 2**64 - 1), st.sampled_from(
    [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -32, -33, -128,
     -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)]))
scalars = st.one_of(st.none(), st.booleans(), ints, st.text(max_size=40),
                    st.text(alphabet="ab", min_size=30, max_size=300), st.binary(max_size=300))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=20),
                            st.dictionaries(st.text(max_size=6), inner, max_size=20)),
    max_leaves=60)


@settings(max_examples=1000, deadline=None)
@given(values)
def test_what_the_packer_writes_is_canonical_when_entries_may_hold_it(value: Any) -> None:
    data = _pack(value)
    assert scan(data) == _plain(value, 0)  # maps here hold <= 20 keys: nothing left unsure
    _agrees(data)


@settings(max_examples=1000, deadline=None)
@given(values, edits(4))
def test_mutated_payloads_are_never_canonical_unless_python_agrees(
        value: Any, changes: list[Edit]) -> None:
    data = mutated(_pack(value), changes)
    _agrees(data)
    _agrees(data[: len(data) // 2])


def _non_minimal() -> list[bytes]:
    """Each value in a longer form than the shortest one (msgpack reads them all)."""
    return [
        b"\xcc\x05", b"\xcd\x00\x05", b"\xce\x00\x00\x00\x05", b"\xcf" + struct.pack(">Q", 5),
        b"\xcd\x00\xff", b"\xce\x00\x00\xff\xff", b"\xcf" + struct.pack(">Q", 2**32 - 1),
        b"\xd0\x05", b"\xd0\xe0", b"\xd1\xff\x80", b"\xd2\xff\xff\x80\x00",
        b"\xd3" + struct.pack(">q", -(2**31)), b"\xd3" + struct.pack(">q", 5),
        b"\xd9\x01a", b"\xda\x00\x01a", b"\xdb\x00\x00\x00\x01a",
        b"\xda\x00\x20" + b"a" * 32, b"\xc5\x00\x01x", b"\xc6\x00\x00\x00\x01x",
        b"\xdc\x00\x01\x01", b"\xdd\x00\x00\x00\x01\x01", b"\xde\x00\x01\xa1a\x01",
        b"\xdf\x00\x00\x00\x01\xa1a\x01",
    ]


def _refused() -> list[bytes]:
    """Minimal encodings of what an entry may not hold, and broken ones."""
    deep = b"\x91" * MAX_DEPTH + b"\x90"  # a container at depth MAX_DEPTH
    return [
        b"\xca" + struct.pack(">f", 1.5), b"\xcb" + struct.pack(">d", 1.5),
        b"\xd4\x01\x00", b"\xd6\xff" + bytes(4), b"\xc7\x01\x05x", b"\xc1",
        b"\x81\x01\x02", b"\x81\xc4\x01a\x02", b"\x82\xa1a\x01\xa1a\x02",  # keys: int, bin, twice
        deep, b"", b"\x01\x02", b"\x92\x01", b"\xa5abc", b"\xc4\x05ab", b"\xdb\xff\xff\xff\xff",
        b"\xdd\xff\xff\xff\xff" + b"\x01" * 10, b"\x8f" + b"\xa1a\x01" * 14,
    ]


def test_every_longer_form_and_every_refused_value_is_not_canonical() -> None:
    for data in _non_minimal() + _refused():
        assert not scan(data), data.hex()
        _agrees(data)
    nested = b"\x91" * (MAX_DEPTH - 1) + b"\x90"  # the deepest container allowed
    assert scan(nested) and python_canonical(nested)
    many = msgpack.packb({f"k{i}": i for i in range(40)})  # more keys than it compares
    assert not scan(many) and python_canonical(many)


def test_random_bytes_around_valid_payloads() -> None:
    rng = random.Random(15)
    who = Identity.from_seed(b"\x05" * 32)
    base = sign_entry(who, seq=1, prev=None, ts=1, kind="trust",
                      body={"subject": "ab" * 32, "level": -7, "note": "été", "b": b"\x00"})
    assert scan(base.payload)
    for _ in range(10_000):
        data = bytearray(base.payload)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        _agrees(bytes(data))


def _outcome(raw: bytes) -> tuple[str, str] | bytes:
    try:
        return decode_entry(raw, verify=True).id
    except EntryError as exc:
        return exc.code, exc.message


def test_entries_decode_the_same_with_and_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    who = Identity.from_seed(b"\x06" * 32)
    good = sign_entry(who, seq=1, prev=None, ts=1, kind="trust",
                      body={"subject": "ab" * 32, "level": 3})
    rng = random.Random(16)
    raws = [good.raw]
    for _ in range(3000):
        payload = bytearray(good.payload)
        payload[rng.randrange(len(payload))] = rng.randrange(256)
        sig = who.sign(b"trustnet/v1/entry" + bytes(payload))
        raws.append(msgpack.packb([bytes(payload), sig], use_bin_type=True))
    raws += [good.raw + b"\x00", good.raw[:-1], bytes([0x92, 0xC5, 0, len(good.payload)])
             + good.payload + good.raw[-66:]]
    with_it = [_outcome(r) for r in raws]
    monkeypatch.setattr(entry_module, "_head", None)  # the header read in Python
    assert [_outcome(r) for r in raws] == with_it
    monkeypatch.setattr(entry_module, "_scan", None)  # and the payload checked in Python
    assert [_outcome(r) for r in raws] == with_it
    assert with_it[0] == good.id and sum(isinstance(o, bytes) for o in with_it) > 1


# -- maker: records made in one call ----------------------------------------------------------


def test_maker_makes_the_record_the_dataclass_makes() -> None:
    from trustnet.log.entry import _FIELDS, Entry

    make = _canonical.maker(Entry, _FIELDS)
    who = Identity.from_seed(b"\x07" * 32)
    e = sign_entry(who, seq=1, prev=None, ts=5, kind="trust", body={"subject": "cd" * 32, "level": 2})
    made = make(e.raw, e.payload, e.sig, e.id, e.author, e.seq, e.prev, e.ts, e.kind, e.body,
                None, None, None)
    assert type(made) is Entry and made == e
    assert made.author_hex == e.author.hex() and made.parsed is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.seq = 2  # type: ignore[misc]
    assert gc.is_tracked(made)  # made as object.__new__ makes it: tracked
    untracked = _canonical.maker(Entry, _FIELDS, False)(
        e.raw, e.payload, e.sig, e.id, e.author, e.seq, e.prev, e.ts, e.kind, e.body, None,
        None, None)
    assert untracked == e and not gc.is_tracked(untracked)
    # What the store and the analysis make: no cycle can pass through an entry.
    from trustnet.log.entry import decode_stored, peek_entry

    assert not gc.is_tracked(decode_stored(e.raw)) and not gc.is_tracked(peek_entry(e.raw))


def test_slots_left_out_stay_unset() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Pair:
        a: Any
        b: Any

    only_a = _canonical.maker(Pair, ("a",))(1)
    assert only_a.a == 1 and not hasattr(only_a, "b")
    assert _canonical.maker(Pair, ("b", "a"))(1, 2) == Pair(2, 1)  # in the order named


def test_maker_refuses_what_it_cannot_make_as_object_new_would() -> None:
    from trustnet.log.entry import Entry

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    class Tuple(tuple[int, int]):
        __slots__ = ()

    for cls, names in [(Entry, ("nope",)), (Entry, ("raw", "raw")), (Entry, ("id_hex",)),
                       (Entry, (1,)), (NoSlots, ("a",)), (Tuple, ()), (int, ())]:
        with pytest.raises(TypeError):
            _canonical.maker(cls, names)
    with pytest.raises(TypeError):
        _canonical.maker(Entry, ["raw"])  # names are a tuple
    with pytest.raises(TypeError):
        _canonical.maker(Entry)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        _canonical.maker(Entry, ("raw",), False, 1)  # type: ignore[call-arg]
    make = _canonical.maker(Entry, ("raw", "seq"))
    with pytest.raises(TypeError):
        make(b"x")
    with pytest.raises(TypeError):
        make(b"x", 1, 2)
    with pytest.raises(TypeError):
        make(b"x", seq=1)


def test_maker_holds_one_reference_per_slot_and_frees_them() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Box:
        a: Any
        b: Any

    make = _canonical.maker(Box, ("a", "b"))
    value = object()
    before = sys.getrefcount(value)
    boxes = [make(value, value) for _ in range(100)]
    assert sys.getrefcount(value) == before + 200
    del boxes
    assert sys.getrefcount(value) == before
    class Marker:
        pass

    holder: list[Any] = []
    marker = Marker()
    holder.append(make(holder, marker))  # a cycle through the record: the collector frees it
    ref = weakref.ref(marker)
    del holder, marker
    gc.collect()
    assert ref() is None
    # Untracked, a record is freed by reference counting all the same.
    loose = _canonical.maker(Box, ("a", "b"), False)
    marker = Marker()
    ref = weakref.ref(marker)
    box = loose(marker, [1])
    assert not gc.is_tracked(box) and gc.is_tracked(box.b)
    del box, marker
    assert ref() is None
    del make
    gc.collect()


def test_entries_are_made_the_same_with_and_without_the_maker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from trustnet.log.entry import decode_stored, peek_entry

    who = Identity.from_seed(b"\x08" * 32)
    raws = [sign_entry(who, seq=i, prev=None if i == 1 else b"\x01" * 32, ts=i, kind="trust",
                       body={"subject": "ab" * 32, "level": i % 4}).raw for i in range(1, 30)]
    made = [(decode_entry(r), decode_stored(r), peek_entry(r)) for r in raws]
    monkeypatch.setattr(entry_module, "_make_entry", None)
    monkeypatch.setattr(entry_module, "_make_unread", None)
    by_slots = [(decode_entry(r), decode_stored(r), peek_entry(r)) for r in raws]
    for (_, _, peeked), (_, _, peeked_by_slots) in zip(made, by_slots, strict=True):
        assert type(peeked) is type(peeked_by_slots) is entry_module._Unread  # body not read
    assert made == by_slots
    assert all(type(p) is entry_module.Entry for _, _, p in made)  # compared: read, plain


# -- hex_of: an entry's id and author as hex, read in C ---------------------------------------


def test_id_and_author_hex_are_the_bytes_as_lowercase_hex_kept_once_made() -> None:
    from trustnet.log.entry import Entry, decode_stored, peek_entry

    assert type(Entry.__dict__["id_hex"]).__name__ == "HexOf"  # where it was built
    rng = random.Random(3)
    for k in range(50):
        who = Identity.from_seed(rng.randbytes(32))
        e = decode_stored(sign_entry(who, seq=1, prev=None, ts=k, kind="trust",
                                     body={"subject": "ab" * 32, "level": 1}).raw)
        assert e._id_hex is None and e._author_hex is None  # made when first read
        assert e.id_hex == e.id.hex() and e.author_hex == e.author.hex()
        assert e._id_hex is e.id_hex and e._author_hex is e.author_hex  # kept, the same str
        assert e.author_hex is sys.intern(e.author.hex())  # one string per author
        peeked = peek_entry(e.raw)
        assert peeked is not None and peeked.id_hex == e.id_hex
        assert type(peeked).__name__ == "_Unread"  # reading the id did not read the body


def test_hex_of_refuses_what_is_not_a_bytes_slot() -> None:
    from trustnet.log.entry import Entry

    @dataclasses.dataclass(frozen=True, slots=True)
    class Box:
        raw: Any
        cache: Any = None

    shown = _canonical.hex_of(Box, "raw", "cache", False)
    assert shown.__get__(Box(b"\x00\xff\x10"), Box) == "00ff10"
    assert shown.__get__(None, Box) is shown
    with pytest.raises(AttributeError):
        shown.__get__(Box("not bytes"), Box)
    with pytest.raises(TypeError):
        shown.__get__(object(), Box)
    for names in [("nope", "cache"), ("raw", "nope"), ("raw", 1)]:
        with pytest.raises(TypeError):
            _canonical.hex_of(Box, *names, False)
    with pytest.raises(TypeError):
        _canonical.hex_of(Entry, "id")


def test_maker_refuses_abstract_classes_as_object_new_does() -> None:
    import abc

    @dataclasses.dataclass(frozen=True, slots=True)
    class Shape(abc.ABC):
        a: Any

        @abc.abstractmethod
        def area(self) -> float: ...

    with pytest.raises(TypeError):
        _canonical.maker(Shape, ("a",))  # as object.__new__ refuses it


def test_hex_of_is_read_only_like_the_property_it_stands_for() -> None:
    class Open:
        __slots__ = ("cache", "raw")

    Open.shown = _canonical.hex_of(Open, "raw", "cache", False)  # type: ignore[attr-defined]
    box = Open()
    box.raw, box.cache = b"\x01", None
    assert box.shown == "01"
    with pytest.raises(AttributeError):
        box.shown = "02"  # a data descriptor: never shadowed, never set
    assert box.shown == "01"


def test_no_cycle_can_pass_through_an_entry() -> None:
    """Entries are made untracked by the collector (`maker(..., False)`): sound only while
    nothing an entry holds can hold it back. Every way an entry is made and read (decoded,
    stored, peeked, parsed, its hex read, replaced, copied) holds a tree of atoms and
    records, never the entry."""
    import copy

    from trustnet.bench.beliefs import generate
    from trustnet.log.entry import decode_stored, peek_entry
    from trustnet.statements.entries import statement_of

    def reaches(root: object, target: object) -> bool:
        seen: set[int] = set()
        todo = list(gc.get_referents(root))
        while todo:
            obj = todo.pop()
            if obj is target:
                return True
            if id(obj) in seen or isinstance(obj, type):
                continue
            seen.add(id(obj))
            todo.extend(gc.get_referents(obj))
        return False

    entries, _pids = generate(300, 6, 2)
    for e in entries:
        for made in (decode_stored(e.raw), peek_entry(e.raw), decode_entry(e.raw)):
            assert made is not None
            made.id_hex, made.author_hex  # noqa: B018 - kept in its slots once read
            statement_of(made)  # its parsed record kept in it
            for each in (made, copy.copy(made), dataclasses.replace(made)):
                assert not reaches(each, each), each
