"""Entry format v1: encoding, signatures, chain rules and fork proofs (DESIGN section 3).

    payload = msgpack([1, author: bin32, seq: int in [1, 2**53-1], prev: bin32|nil,
                       ts: int ms in [0, 2**53-1], kind: str, body: map])
    sig     = Ed25519 detached signature over b"trustnet/v1/entry" + payload
    entry   = msgpack([payload: bin, sig: bin])
    id      = sha256(payload)

seq and ts are at most MAX_INT = 2**53 - 1: every JSON reader (a browser included)
holds such an integer exactly, SQLite's signed 64-bit INTEGER holds it with room for
the arithmetic done on it (seq + 1, ts + the future bound), and a real log comes nowhere
near it (ts 2**53 - 1 ms is the year 287396). A larger seq is `bad_seq`, a larger ts
`bad_timestamp`: refused at decoding, before anything reaches the store.

The signature covers the exact payload bytes; nothing is re-encoded to be
verified. Decoding is bounded and strict: entries are at most 64 KiB, containers
nest at most 8 deep (the payload array is level 1, the body level 2), there are
no floats and no ext types, map keys are str, and both the entry and the payload
must be the minimal msgpack encoding of what they hold (so one statement has
exactly one byte string, and one id).

Everything here is pure: no I/O, and the receiver's clock is a parameter.

This layer knows the envelope, not the statements: a body is any map of the allowed
values. Its schema per kind is the statement layer's (trustnet/statements/entries.py
signs and decodes statements, parsing each body once and keeping the record on the entry).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, SupportsIndex

import msgpack
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError, CryptoError

from trustnet.errors import EntryError, ForkProofError
from trustnet.identity import ENTRY_DOMAIN, Identity

FORMAT_VERSION = 1
MAX_ENTRY_BYTES = 64 * 1024
MAX_DEPTH = 8
MAX_FUTURE_MS = 5 * 60 * 1000
SIG_BYTES = 64
ID_BYTES = 32
MAX_INT = 2**53 - 1  # the largest seq or ts an entry may carry (see the module docstring)


def _no_ext(code: int, data: bytes) -> Any:
    raise EntryError(f"ext type {code} is not allowed", code="bad_encoding")


def _unpack(data: bytes) -> Any:
    # The 64 KiB bound on the whole entry, checked before this, caps every length inside.
    return msgpack.unpackb(
        data,
        raw=False,
        use_list=True,
        strict_map_key=False,  # keys are checked by _check_value, with a clearer message
        ext_hook=_no_ext,
        timestamp=0,
    )


try:
    # One C pass over the payload's bytes: the value walk and the re-pack below, in a worker
    # about 9 µs of the 13 beside verification (trustnet/_canonical.c, built at install
    # where a C compiler is found; `canonical_compiled()` says whether it was).
    from trustnet import _canonical

    _scan: Callable[[bytes], bool] | None = _canonical.scan
    _head: Callable[[bytes], tuple[bytes, bytes, bytes, int, bytes | None, int, str] | None] | None
    _head = _canonical.head
    _author: Callable[[bytes], bytes | None] | None = _canonical.author
except ImportError:  # pragma: no cover - depends on the machine it was installed on
    _scan = _head = _author = None


def canonical_compiled() -> bool:
    """Whether payloads are checked by the compiled pass (else by Python alone)."""
    return _scan is not None


_packers = threading.local()  # one reusable Packer per thread (packb makes one per call)


def _pack(obj: Any) -> bytes:
    try:
        packer = _packers.packer
    except AttributeError:
        packer = _packers.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(obj)  # type: ignore[no-any-return]


_SCALARS = frozenset({type(None), bool, int, str, bytes})


def _plain(value: Any, depth: int) -> bool:
    """Fast path of `_check_value`: True when the value holds only what entries may hold."""
    t = type(value)
    if t is dict:
        if depth >= MAX_DEPTH:
            return False
        for k, v in value.items():
            if type(k) is not str or (type(v) not in _SCALARS and not _plain(v, depth + 1)):
                return False
        return True
    if t is list:
        if depth >= MAX_DEPTH:
            return False
        return all(type(v) in _SCALARS or _plain(v, depth + 1) for v in value)
    return t in _SCALARS


def _check_value(value: Any, depth: int, where: str) -> None:
    """Reject floats, ext types (incl. msgpack Timestamps), non-str keys and deep nesting."""
    if _plain(value, depth):
        return
    # Slow path, only on failure: find the offending place and name it.
    if isinstance(value, list | dict):
        if depth >= MAX_DEPTH:
            raise EntryError(f"{where}: nesting deeper than {MAX_DEPTH}", code="bad_encoding")
        if isinstance(value, list):
            for i, item in enumerate(value):
                _check_value(item, depth + 1, f"{where}[{i}]")
        else:
            for k, item in value.items():
                if not isinstance(k, str):
                    raise EntryError(f"{where}: map key {k!r} is not a str", code="bad_encoding")
                _check_value(item, depth + 1, f"{where}.{k}")
        return
    if isinstance(value, float):
        raise EntryError(f"{where}: floats are not allowed", code="bad_encoding")
    raise EntryError(f"{where}: {type(value).__name__} is not allowed", code="bad_encoding")


@dataclass(frozen=True, slots=True, repr=False)
class Entry:
    """A decoded, signature-checked entry. `raw` is the exact wire form; `body` is read-only."""

    raw: bytes
    payload: bytes
    sig: bytes
    id: bytes
    author: bytes
    seq: int
    prev: bytes | None
    ts: int
    kind: str
    body: Mapping[str, Any]
    # The body parsed by its kind's schema, set once by trustnet.statements.entries
    # (typed there; this layer does not know statement records).
    parsed: object = field(default=None, init=False, compare=False)
    # The id and the author as hex, made when first asked and kept (the analysis keys its
    # maps by them: one string per entry, the author's one per author, `sys.intern`).
    _id_hex: str | None = field(default=None, init=False, compare=False)
    _author_hex: str | None = field(default=None, init=False, compare=False)

    def __repr__(self) -> str:
        return f"Entry(id={self.id.hex()[:16]}…, author={self.author.hex()[:16]}…, seq={self.seq}, kind={self.kind!r})"

    @property
    def id_hex(self) -> str:
        """The id as lowercase hex."""
        h = self._id_hex
        if h is None:
            h = self.id.hex()
            _set_id_hex(self, h)
        return h

    @property
    def author_hex(self) -> str:
        """The author's party id."""
        h = self._author_hex
        if h is None:
            h = sys.intern(self.author.hex())
            _set_author_hex(self, h)
        return h

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view (bytes as hex)."""
        return {
            "id": self.id.hex(),
            "author": self.author.hex(),
            "seq": self.seq,
            "prev": self.prev.hex() if self.prev is not None else None,
            "ts": self.ts,
            "kind": self.kind,
            "body": _jsonable(self.body),
            "sig": self.sig.hex(),
        }


_FIELDS = ("raw", "payload", "sig", "id", "author", "seq", "prev", "ts", "kind", "body", "parsed",
           "_id_hex", "_author_hex")
assert tuple(f.name for f in fields(Entry)) == _FIELDS  # `entry_of` sets exactly these
_SET = tuple(Entry.__dict__[name].__set__ for name in _FIELDS)
_set_id_hex, _set_author_hex = _SET[-2:]
_set_body = _SET[_FIELDS.index("body")]
_new = object.__new__


def entry_of(raw: bytes, payload: bytes, sig: bytes, id_: bytes, author: bytes, seq: int,
             prev: bytes | None, ts: int, kind: str, body: Mapping[str, Any]) -> Entry:
    """`Entry(...)` as the decode paths make one per entry: the same object, its slots set
    directly (a frozen dataclass's `__init__` goes through `object.__setattr__` per field,
    about twice the work; the compiled maker sets all thirteen in one call). The caller has
    checked the fields."""
    if _make_entry is not None:
        return _make_entry(raw, payload, sig, id_, author, seq, prev, ts, kind, body, None,
                           None, None)
    e = _made(Entry, raw, payload, sig, id_, author, seq, prev, ts, kind)
    _set_body(e, body)
    return e


def _made(cls: type[Entry], raw: bytes, payload: bytes, sig: bytes, id_: bytes, author: bytes,
          seq: int, prev: bytes | None, ts: int, kind: str) -> Entry:
    """An object of `cls` with every slot set but the body."""
    e: Entry = _new(cls)
    (s_raw, s_payload, s_sig, s_id, s_author, s_seq, s_prev, s_ts, s_kind, _, s_parsed,
     s_id_hex, s_author_hex) = _SET
    s_raw(e, raw)
    s_payload(e, payload)
    s_sig(e, sig)
    s_id(e, id_)
    s_author(e, author)
    s_seq(e, seq)
    s_prev(e, prev)
    s_ts(e, ts)
    s_kind(e, kind)
    s_parsed(e, None)
    s_id_hex(e, None)
    s_author_hex(e, None)
    return e


_COMPARED = tuple(f.name for f in fields(Entry) if f.compare)


class _Unread(Entry):
    """An `Entry` whose body is unpacked from its payload when first read (`peek_entry`): the
    store's writer stores and chains entries by their header, and its ingest workers unpack
    and check the whole payload. Once read, the object is a plain `Entry`."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        # Called only for what is not set: the body, until it is read.
        if name != "body":
            raise AttributeError(f"'Entry' object has no attribute {name!r}", name=name, obj=self)
        body = _unpack(self.payload)[6]
        _set_body(self, body)
        object.__setattr__(self, "__class__", Entry)
        return body

    def __eq__(self, other: object) -> bool:
        # Field by field: the dataclass's `__eq__` needs one class, and an `_Unread` may stay
        # one with its body set (made by `replace`, or read by another thread just now).
        if not isinstance(other, Entry):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _COMPARED)

    __hash__ = Entry.__hash__

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        self.body  # noqa: B018 - copied or pickled as the plain entry it then is
        return Entry.__reduce_ex__(self, protocol)


Header = tuple[bytes, bytes, bytes, int, bytes | None, int, str]
"""(payload, sig, author, seq, prev, ts, kind) of a raw entry, read by `peek_header`."""


def peek_header(raw: bytes) -> Header | None:
    """(payload, sig, author, seq, prev, ts, kind) of `raw` read as `peek_entry` reads them,
    without hashing the payload or making an entry (a caller that sorts entries out first,
    then hands the header of those it keeps to `peek_entry`); None as there."""
    if _head is None or type(raw) is not bytes or len(raw) > MAX_ENTRY_BYTES:
        return None
    return _head(raw)


def peek_entry(raw: bytes, header: Header | None = None) -> Entry | None:
    """The entry `raw` holds, its body left to unpack when first read, if its envelope and
    header fields are in the shortest forms (as every entry that decodes has them); None
    otherwise, or without the compiled reader. Nothing else is checked: the caller has the
    entry checked whole (the ingest workers) before it uses its body or keeps it.
    `header`: `peek_header(raw)`, when the caller read it already."""
    if header is None:
        header = peek_header(raw)
        if header is None:
            return None
    payload, sig, author, seq, prev, ts, kind = header
    id_ = hashlib.sha256(payload).digest()
    if _make_unread is not None:
        return _make_unread(raw, payload, sig, id_, author, seq, prev, ts, kind, None, None, None)
    return _made(_Unread, raw, payload, sig, id_, author, seq, prev, ts, kind)


# Entries made in one call each (trustnet/_canonical.c `maker`), where it was built: the
# decode paths make one per entry read, the store's writer one per entry taken in.
_make_entry: Callable[..., Entry] | None = None
_make_unread: Callable[..., Entry] | None = None
if _head is not None:
    # Untracked by the cyclic collector: an entry holds bytes, ints, strs, and a body and a
    # parsed record that never hold it (no cycle passes through it); the writer keeps
    # thousands in flight and the analysis all of them, and no collection need walk them.
    _make_entry = _canonical.maker(Entry, _FIELDS, False)
    _make_unread = _canonical.maker(_Unread, tuple(f for f in _FIELDS if f != "body"), False)
    # The id and author as hex read in C (the same strings the properties make, kept in the
    # same slots): the analysis reads them a few times per entry it indexes.
    setattr(Entry, "id_hex", _canonical.hex_of(Entry, "id", "_id_hex", False))  # noqa: B010
    setattr(Entry, "author_hex", _canonical.hex_of(Entry, "author", "_author_hex", True))  # noqa: B010


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def entry_id(payload: bytes) -> bytes:
    """The id of an entry: sha256 of its payload bytes."""
    return hashlib.sha256(payload).digest()


def sign_entry(
    identity: Identity,
    *,
    seq: int,
    prev: bytes | None,
    ts: int,
    kind: str,
    body: Mapping[str, Any],
) -> Entry:
    """Encode and sign a new entry (any body: `statements.sign_statement` checks the schema)."""
    payload = _pack([FORMAT_VERSION, identity.author, seq, prev, ts, kind, dict(body)])
    sig = identity.sign(ENTRY_DOMAIN + payload)
    raw = _pack([payload, sig])
    if len(raw) > MAX_ENTRY_BYTES:
        raise EntryError(f"entry is {len(raw)} bytes; the limit is {MAX_ENTRY_BYTES}", code="too_large")
    return decode_entry(raw, verify=False)


def decode_entry(raw: bytes, *, verify: bool = True) -> Entry:
    """Decode an entry with every intrinsic check of the envelope: size, encoding, shape, signature.

    The body's schema is the statement layer's (`statements.decode_statement`).

    Chain rules (prev linkage, gaps, timestamps along the chain) need the
    author's previous entry and are checked by `check_chain`; the future bound
    needs the receiver's clock and is checked by `check_timestamp`.
    """
    payload, sig, fields = decode_fields(raw)
    _, author, seq, prev, ts, kind, body = fields
    if verify:
        verify_signature(author, payload, sig)
    return entry_of(bytes(raw), payload, sig, entry_id(payload), author, seq, prev, ts, kind, body)


def envelope(raw: bytes) -> tuple[bytes, bytes] | None:
    """(payload, sig) when `raw` is the one encoding of [payload: bin, sig: bin 64]; None
    for anything else (the general path then says what is wrong with it)."""
    start = _payload_start(raw)
    return None if start is None else (raw[start:-66], raw[-64:])


def _payload_start(raw: bytes) -> int | None:
    """Where the payload starts in `raw` if it is the one encoding of [payload: bin,
    sig: bin 64] (it ends 66 bytes before the end); None for anything else."""
    if len(raw) < 69 or raw[0] != 0x92 or raw[-66:-64] != b"\xc4\x40":
        return None
    n = len(raw) - 1 - 66
    marker = raw[1]
    if marker == 0xC4 and n - 2 < 0x100:
        start = 3
    elif marker == 0xC5 and 0x100 <= n - 3 < 0x10000:
        start = 4
    elif marker == 0xC6 and n - 5 >= 0x10000:
        start = 6
    else:
        return None
    if int.from_bytes(raw[2:start], "big") != n - (start - 1):
        return None
    return start


_HEAD = bytes([0x97, FORMAT_VERSION, 0xC4, ID_BYTES])  # fixarray 7, version 1, bin 8 of 32


def author_hint(raw: bytes) -> bytes | None:
    """The author a raw entry names, read cheaply and checking nothing (None: it has not the
    shape to tell). When the entry decodes, its author is this one."""
    if type(raw) is not bytes or len(raw) > MAX_ENTRY_BYTES:
        return None
    if _author is not None and (read := _author(raw)) is not None:
        return read  # the compiled header read (0.1 µs against 0.7 below)
    start = _payload_start(raw)
    if start is None:
        return None
    if raw[start:start + 4] == _HEAD and len(raw) - 66 - start >= 36:
        # Every entry that decodes starts so (its minimal encoding: the array of seven,
        # version 1, a bin of 32): the author is the next 32 bytes, nothing to unpack.
        return raw[start + 4:start + 36]
    try:
        fields = _unpack(raw[start:-66])
    except Exception:  # anything malformed: no hint
        return None
    if type(fields) is not list or len(fields) != 7 or type(fields[1]) is not bytes:
        return None
    author: bytes = fields[1]
    return author


def decode_fields(raw: bytes | bytearray | memoryview) -> tuple[bytes, bytes, list[Any]]:
    """Every intrinsic check of `decode_entry` but the signature: (payload, sig, the payload's
    seven fields), or `EntryError` naming what is wrong (ingest workers call this)."""
    if _head is not None and _scan is not None and type(raw) is bytes and len(raw) <= MAX_ENTRY_BYTES:
        # The compiled path: the header read in its shortest forms, the whole payload shown
        # canonical, the one unpacking left; anything it does not show goes the long way.
        read = _head(raw)
        if read is not None and (read[3] == 1) == (read[4] is None) and _scan(read[0]):
            try:
                return read[0], read[1], _unpack(read[0])
            except Exception:  # a str not UTF-8: the checks below name it
                pass
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise EntryError("an entry is bytes", code="bad_encoding")
    raw = bytes(raw)
    if len(raw) > MAX_ENTRY_BYTES:
        raise EntryError(f"entry is {len(raw)} bytes; the limit is {MAX_ENTRY_BYTES}", code="too_large")
    parts = envelope(raw)
    if parts is None:
        # Not the minimal encoding of a [bin, bin 64]: say which rule it breaks.
        outer = _decode(raw, "entry")
        if not (isinstance(outer, list) and len(outer) == 2):
            raise EntryError("an entry is a 2-element array [payload, sig]", code="bad_encoding")
        payload, sig = outer
        if not isinstance(payload, bytes) or not isinstance(sig, bytes):
            raise EntryError("payload and sig are bin", code="bad_encoding")
        if len(sig) != SIG_BYTES:
            raise EntryError(f"sig is {len(sig)} bytes; Ed25519 signatures are 64", code="bad_signature")
        if _pack([payload, sig]) != raw:
            raise EntryError("entry is not minimally encoded", code="bad_encoding")
        raise AssertionError("a minimal [bin, bin 64] is an envelope")  # pragma: no cover
    payload, sig = parts
    fields = _decode(payload, "payload")
    if not (isinstance(fields, list) and len(fields) == 7):
        raise EntryError("a payload is a 7-element array", code="bad_encoding")
    # After the unpacking above, which refused any str that is not UTF-8 (the compiled
    # pass does not look inside strs).
    if _scan is None or not _scan(payload):
        # Not shown canonical by the compiled pass (or none built): the Python checks decide.
        _check_value(fields, 0, "payload")
        if _pack(fields) != payload:
            raise EntryError("payload is not minimally encoded", code="bad_encoding")
    version, author, seq, prev, ts, kind, body = fields
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise EntryError(f"format version {version!r} is not supported", code="bad_version")
    if not isinstance(author, bytes) or len(author) != ID_BYTES:
        raise EntryError("author is a 32-byte public key", code="bad_encoding")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_INT:
        raise EntryError(f"seq {seq!r} is not an integer in [1, 2**53-1]", code="bad_seq")
    if prev is not None and (not isinstance(prev, bytes) or len(prev) != ID_BYTES):
        raise EntryError("prev is nil or a 32-byte entry id", code="bad_prev")
    if (seq == 1) != (prev is None):
        raise EntryError(
            "seq 1 has no prev" if seq == 1 else f"seq {seq} needs the prev id",
            code="bad_prev",
        )
    if not isinstance(ts, int) or isinstance(ts, bool) or not 0 <= ts <= MAX_INT:
        raise EntryError(f"ts {ts!r} is not an integer of ms in [0, 2**53-1]", code="bad_timestamp")
    if not isinstance(kind, str):
        raise EntryError("kind is a str", code="bad_encoding")
    if not isinstance(body, dict):
        raise EntryError("body is a map", code="bad_body")
    return payload, sig, fields


def _decode(data: bytes, what: str) -> Any:
    try:
        return _unpack(data)
    except EntryError:
        raise
    except msgpack.ExtraData:
        raise EntryError(f"{what} has trailing bytes", code="bad_encoding") from None
    except Exception as exc:  # msgpack raises ValueError, UnpackValueError, StackError...
        raise EntryError(f"{what} is not valid msgpack: {exc}", code="bad_encoding") from None


def verify_signature(author: bytes, payload: bytes, sig: bytes) -> None:
    """Check the Ed25519 signature over the domain-separated payload (raises bad_signature)."""
    try:
        crypto_sign_open(sig + ENTRY_DOMAIN + payload, author)
    except (BadSignatureError, CryptoError, ValueError):
        raise EntryError("signature does not verify", code="bad_signature") from None


def check_timestamp(entry: Entry, now_ms: int) -> None:
    """An entry may not be more than 5 minutes ahead of the receiver's clock."""
    if entry.ts > now_ms + MAX_FUTURE_MS:
        raise EntryError(
            f"ts {entry.ts} is {entry.ts - now_ms} ms ahead of this node's clock "
            f"(limit {MAX_FUTURE_MS})",
            code="bad_timestamp",
        )


def decode_stored(raw: bytes, id_: bytes | None = None) -> Entry:
    """An entry read back from this node's own store, where `decode_entry` checked it on the
    way in: only unpacked again (the analysis reads every stored entry after a restart;
    the intrinsic checks cost it more than the unpacking). `id_`: its id as stored beside
    it (not hashed again)."""
    payload, sig = _unpack(raw)
    _version, author, seq, prev, ts, kind, body = _unpack(payload)
    return entry_of(bytes(raw), payload, sig, entry_id(payload) if id_ is None else bytes(id_),
                    author, seq, prev, ts, kind, body)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """What chain rules need of an author's latest entry."""

    seq: int
    id: bytes
    ts: int

    @classmethod
    def of(cls, entry: Entry) -> ChainHead:
        """The head an entry makes."""
        return cls(entry.seq, entry.id, entry.ts)


def check_chain(entry: Entry, head: ChainHead | None) -> None:
    """Check that `entry` extends the chain whose latest entry is `head` (None: empty chain).

    Raises bad_seq for a gap or a replay position, bad_prev for a wrong link,
    bad_timestamp when time goes backwards along the chain.
    """
    expected = 1 if head is None else head.seq + 1
    if entry.seq != expected:
        raise EntryError(f"seq {entry.seq} does not follow {expected - 1}", code="bad_seq")
    if head is not None:
        if entry.prev != head.id:
            raise EntryError(f"prev of seq {entry.seq} is not the id of seq {head.seq}", code="bad_prev")
        if entry.ts < head.ts:
            raise EntryError(f"ts {entry.ts} is before the previous entry's {head.ts}", code="bad_timestamp")


@dataclass(frozen=True, slots=True)
class ForkProof:
    """Two validly signed entries by one author with the same seq and different ids."""

    a: Entry
    b: Entry

    @classmethod
    def of(cls, x: Entry, y: Entry) -> ForkProof:
        """A proof from two conflicting entries (ordered by id, so it has one encoding)."""
        if x.author != y.author or x.seq != y.seq or x.id == y.id:
            raise ForkProofError("entries are not an equivocation: same author and seq, other ids")
        a, b = (x, y) if x.id < y.id else (y, x)
        return cls(a, b)

    @property
    def author(self) -> bytes:
        """The equivocating author."""
        return self.a.author

    @property
    def seq(self) -> int:
        """The seq signed twice."""
        return self.a.seq

    def encode(self) -> bytes:
        """`msgpack([entry_a, entry_b])`."""
        return _pack([self.a.raw, self.b.raw])

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "author": self.author.hex(),
            "seq": self.seq,
            "ids": [self.a.id.hex(), self.b.id.hex()],
            "proof": self.encode().hex(),
        }


def decode_fork_proof(
    raw: bytes, keys: Callable[[Entry], bytes] | None = None, *, verify: bool = True
) -> ForkProof:
    """Check a fork proof without trusting whoever relayed it.

    `keys` names the key each entry must be signed by (the author's key state,
    trustnet/log/keys.py); without it, the author key, as in a log that never rotated.
    """
    if not isinstance(raw, bytes | bytearray):
        raise ForkProofError("a fork proof is bytes")
    if len(raw) > 2 * MAX_ENTRY_BYTES + 16:
        raise ForkProofError("fork proof too large")
    try:
        pair = msgpack.unpackb(raw, raw=False, ext_hook=_no_ext)
    except Exception as exc:
        raise ForkProofError(f"fork proof is not valid msgpack: {exc}") from None
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, bytes) for x in pair)):
        raise ForkProofError("a fork proof is an array of two entries")
    try:
        # Bodies are not checked: a signed entry is evidence whatever it says.
        x, y = (decode_entry(e, verify=False) for e in pair)
        if verify:
            for e in (x, y):
                verify_signature(e.author if keys is None else keys(e), e.payload, e.sig)
    except EntryError as exc:
        raise ForkProofError(f"fork proof holds an invalid entry: {exc}") from None
    return ForkProof.of(x, y)
