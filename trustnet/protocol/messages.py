"""Gossip messages: frozen records and their bounded msgpack wire form (DESIGN section 6).

Every message is a msgpack map with a `"t"` type tag; bytes are msgpack bin,
never hex. Decoding is strict and bounded: the whole body is size-checked
before it is parsed, every list has a maximum length, there are no ext types,
every seq (and fetch `after`) lies in [0, 2**53-1] like the seq of an entry
(`trustnet.log.entry.MAX_INT`), and a wrong field raises `MessageError(code="bad_message")`
naming it. So no integer a peer sends can overflow the store.

Endpoints (all POST under /gossip/), request -> reply:

    /gossip/digest  Digest              -> InSync | Heads | Reconcile  (anti-entropy, step 1)
    /gossip/heads   HeadsRequest        -> Heads                 (next page of the heads map)
    /gossip/reconcile Reconcile         -> Reconcile             (range reconciliation, issue 15)
    /gossip/fetch   Fetch               -> Entries               (ranged fetch, bounded batch)
    /gossip/push    Push                -> PushAck               (eager push; entries and forks)
    /gossip/peers   PeersRequest        -> PeersReply            (peer exchange)
    /gossip/head    HeadRequest         -> HeadReply             (one author's head: own-log recovery)
    /gossip/receipt ReceiptRequest      -> ReceiptReply          (ask a witness; trustnet/node/witness.py)
    /gossip/receipts ReceiptsPush       -> ReceiptsAck           (witness receipts spread)
                    ReceiptsWanted      -> ReceiptsPush          (receipt anti-entropy)

`InSync` and `Digest` have a constant encoded size whatever the store holds:
in-sync anti-entropy costs O(1) bytes per round (DESIGN section 11).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import msgpack

from trustnet.errors import TrustnetError
from trustnet.log.entry import MAX_ENTRY_BYTES, MAX_INT as MAX_SEQ

MAX_MESSAGE_BYTES = 1024 * 1024  # a whole request or reply body (DESIGN 6: bounded everything)
MAX_LIST = 4096  # longest list inside any message
MAX_URL = 2048
ID_BYTES = 32

DIGEST = "/gossip/digest"
HEADS = "/gossip/heads"
FETCH = "/gossip/fetch"
PUSH = "/gossip/push"
PEERS = "/gossip/peers"
HEAD = "/gossip/head"
RECONCILE = "/gossip/reconcile"  # issue 15 item 1: range reconciliation (protocol/reconcile.py)
RECEIPT = "/gossip/receipt"  # issue 14 item 4: witness receipts (trustnet/node/witness.py)
RECEIPTS = "/gossip/receipts"
WITNESS_PATHS = (RECEIPT, RECEIPTS)
PATHS = (DIGEST, HEADS, FETCH, PUSH, PEERS, HEAD, *WITNESS_PATHS, RECONCILE)


class MessageError(TrustnetError):
    """A gossip message is malformed (`bad_message`), too large (`too_large`) or sent to an
    unknown endpoint (`unknown_path`)."""

    code = "bad_message"


# -- field readers -------------------------------------------------------------------------


def _bad(field: str, expected: str) -> MessageError:
    return MessageError(f"{field}: expected {expected}", code="bad_message")


def _int(d: dict[str, Any], key: str, lo: int = 0, hi: int = MAX_SEQ) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _bad(key, f"an integer in [{lo}, {hi}]")
    return v


def _bool(d: dict[str, Any], key: str) -> bool:
    v = d.get(key)
    if not isinstance(v, bool):
        raise _bad(key, "true or false")
    return v


def _bin(v: Any, field: str, size: int | None = None, max_size: int = MAX_MESSAGE_BYTES) -> bytes:
    if not isinstance(v, bytes) or (size is not None and len(v) != size) or len(v) > max_size:
        raise _bad(field, f"bin of {size} bytes" if size is not None else "bin")
    return v


def _bins(items: list[Any], field: str) -> tuple[bytes, ...]:
    """A list of bins as a tuple (a push holds thousands: checked in one pass, and only a
    failing one is named by its place, `field[i]`)."""
    if all(isinstance(v, bytes) and len(v) <= MAX_MESSAGE_BYTES for v in items):
        return tuple(items)
    for i, v in enumerate(items):
        _bin(v, f"{field}[{i}]")
    raise AssertionError("a list that failed the pass has an item that fails")  # pragma: no cover


def _opt_bin(d: dict[str, Any], key: str, size: int) -> bytes | None:
    v = d.get(key)
    return None if v is None else _bin(v, key, size)


def _list(d: dict[str, Any], key: str, max_len: int = MAX_LIST) -> list[Any]:
    v = d.get(key)
    if not isinstance(v, list) or len(v) > max_len:
        raise _bad(key, f"a list of at most {max_len} items")
    return v


def _opt_list(d: dict[str, Any], key: str, max_len: int) -> list[Any]:
    return [] if key not in d else _list(d, key, max_len)


def _url(v: Any, field: str) -> str:
    if not isinstance(v, str) or not v.startswith(("http://", "https://")) or len(v) > MAX_URL:
        raise _bad(field, "an http(s) URL")
    return v


def _tuple3(v: Any, field: str) -> tuple[bytes, int, bytes]:
    if not (isinstance(v, list) and len(v) == 3):
        raise _bad(field, "[author, seq, id]")
    author = _bin(v[0], field + ".author", ID_BYTES)
    seq = v[1]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise _bad(field + ".seq", f"an integer in [1, {MAX_SEQ}]")
    return author, seq, _bin(v[2], field + ".id", ID_BYTES)


def _pair(v: Any, field: str, min_seq: int) -> tuple[bytes, int]:
    if not (isinstance(v, list) and len(v) == 2):
        raise _bad(field, "[author, seq]")
    seq = v[1]
    if not isinstance(seq, int) or isinstance(seq, bool) or not min_seq <= seq <= MAX_SEQ:
        raise _bad(field + ".seq", f"an integer in [{min_seq}, {MAX_SEQ}]")
    return _bin(v[0], field + ".author", ID_BYTES), seq


# -- the records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Digest:
    """Anti-entropy opener: the sender's combined heads-and-forks digest (32 bytes).

    `recon`: the sender speaks range reconciliation (issue 15): on a mismatch a node that
    does too answers with a `Reconcile` instead of the first heads page. `recent`: with
    `recon`, the sender's heads that moved in its last two ticks (ascending; empty once in
    sync), so the answer can settle them at once. `forks_fp`: with `recon`, when the sender
    knows fork keys, their fingerprint (sum mod 2**128 of `fork_key_hash`, 16 bytes, and
    count): a reconcile reply lists the responder's fork keys only when its own differs.
    All are sent only when set, so older nodes (which ignore them) see the digest they
    know and answer `Heads`.
    """

    T: ClassVar[str] = "digest"
    digest: bytes
    recon: bool = False
    recent: tuple[tuple[bytes, int, bytes], ...] = ()
    forks_fp: tuple[bytes, int] | None = None

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        out: dict[str, Any] = {"digest": self.digest}
        if self.recon:
            out["recon"] = True
        if self.recent:
            out["recent"] = [list(h) for h in self.recent]
        if self.forks_fp is not None:
            out["forks_fp"] = list(self.forks_fp)
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> Digest:
        """Parse a msgpack map."""
        recent = tuple(_tuple3(h, f"recent[{i}]")
                       for i, h in enumerate(_opt_list(d, "recent", 64)))
        if any(recent[k][0] >= recent[k + 1][0] for k in range(len(recent) - 1)):
            raise _bad("recent", "authors in strictly ascending order")
        return cls(_bin(d.get("digest"), "digest", ID_BYTES),
                   "recon" in d and _bool(d, "recon"), recent, _fp_pair(d, "forks_fp"))


@dataclass(frozen=True, slots=True)
class InSync:
    """Reply to `Digest` when both digests are equal: constant size."""

    T: ClassVar[str] = "in_sync"

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {}

    @classmethod
    def read(cls, d: dict[str, Any]) -> InSync:
        """Parse a msgpack map."""
        return cls()


@dataclass(frozen=True, slots=True)
class HeadsRequest:
    """Ask for the page of the heads map that starts after author `after` (None: first page)."""

    T: ClassVar[str] = "heads_request"
    after: bytes | None = None

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"after": self.after}

    @classmethod
    def read(cls, d: dict[str, Any]) -> HeadsRequest:
        """Parse a msgpack map."""
        return cls(_opt_bin(d, "after", ID_BYTES))


@dataclass(frozen=True, slots=True)
class Heads:
    """One page of the heads map, sorted by author, covering authors in (after, last].

    `more` says another page follows; `forks` (first page only) lists the
    (author, seq) of every fork proof held, so missing proofs can be fetched.
    """

    T: ClassVar[str] = "heads"
    heads: tuple[tuple[bytes, int, bytes], ...]
    more: bool = False
    after: bytes | None = None
    forks: tuple[tuple[bytes, int], ...] = ()

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {
            "heads": [list(h) for h in self.heads],
            "more": self.more,
            "after": self.after,
            "forks": [list(f) for f in self.forks],
        }

    @classmethod
    def read(cls, d: dict[str, Any]) -> Heads:
        """Parse a msgpack map."""
        heads = tuple(_tuple3(h, f"heads[{i}]") for i, h in enumerate(_list(d, "heads")))
        if any(heads[i][0] >= heads[i + 1][0] for i in range(len(heads) - 1)):
            raise _bad("heads", "authors in strictly ascending order")
        forks = tuple(_pair(f, f"forks[{i}]", 1) for i, f in enumerate(_list(d, "forks")))
        return cls(heads, _bool(d, "more"), _opt_bin(d, "after", ID_BYTES), forks)


@dataclass(frozen=True, slots=True)
class Fetch:
    """Ask for entries: per range, up to `limit` entries of `author` with seq > after; and
    fork proofs by (author, seq)."""

    T: ClassVar[str] = "fetch"
    ranges: tuple[tuple[bytes, int, int], ...]  # (author, after_seq, limit)
    forks: tuple[tuple[bytes, int], ...] = ()

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"ranges": [list(r) for r in self.ranges], "forks": [list(f) for f in self.forks]}

    @classmethod
    def read(cls, d: dict[str, Any]) -> Fetch:
        """Parse a msgpack map."""
        ranges = []
        for i, r in enumerate(_list(d, "ranges", 1024)):
            if not (isinstance(r, list) and len(r) == 3):
                raise _bad(f"ranges[{i}]", "[author, after_seq, limit]")
            author, after = _pair(r[:2], f"ranges[{i}]", 0)
            limit = r[2]
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST:
                raise _bad(f"ranges[{i}].limit", f"an integer in [1, {MAX_LIST}]")
            ranges.append((author, after, limit))
        forks = tuple(_pair(f, f"forks[{i}]", 1) for i, f in enumerate(_list(d, "forks", 1024)))
        return cls(tuple(ranges), forks)


@dataclass(frozen=True, slots=True)
class Entries:
    """Reply to `Fetch`: raw entries (each author's in chain order) and raw fork proofs.
    `more` says the batch limit cut the answer short."""

    T: ClassVar[str] = "entries"
    entries: tuple[bytes, ...]
    forks: tuple[bytes, ...] = ()
    more: bool = False

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"entries": list(self.entries), "forks": list(self.forks), "more": self.more}

    @classmethod
    def read(cls, d: dict[str, Any]) -> Entries:
        """Parse a msgpack map."""
        entries = tuple(_bin(e, f"entries[{i}]") for i, e in enumerate(_list(d, "entries")))
        forks = tuple(_bin(f, f"forks[{i}]") for i, f in enumerate(_list(d, "forks", 1024)))
        return cls(entries, forks, _bool(d, "more"))


@dataclass(frozen=True, slots=True)
class Push:
    """Eager push of new entries and fork proofs (raw bytes, verified by the receiver)."""

    T: ClassVar[str] = "push"
    entries: tuple[bytes, ...]
    forks: tuple[bytes, ...] = ()

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"entries": list(self.entries), "forks": list(self.forks)}

    @classmethod
    def read(cls, d: dict[str, Any]) -> Push:
        """Parse a msgpack map."""
        return cls(_bins(_list(d, "entries"), "entries"), _bins(_list(d, "forks", 1024), "forks"))


@dataclass(frozen=True, slots=True)
class PushAck:
    """Reply to `Push`: counts, and `wants` (author, our head seq) for entries that arrived
    beyond a gap, so the pusher sends the missing range next."""

    T: ClassVar[str] = "push_ack"
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    wants: tuple[tuple[bytes, int], ...] = ()

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "wants": [list(w) for w in self.wants],
        }

    @classmethod
    def read(cls, d: dict[str, Any]) -> PushAck:
        """Parse a msgpack map."""
        wants = tuple(_pair(w, f"wants[{i}]", 0) for i, w in enumerate(_list(d, "wants", 1024)))
        return cls(_int(d, "accepted"), _int(d, "duplicates"), _int(d, "rejected"), wants)


@dataclass(frozen=True, slots=True)
class PeersRequest:
    """Peer exchange: where the sender listens (if it serves) and some peers it knows."""

    T: ClassVar[str] = "peers_request"
    url: str | None
    urls: tuple[str, ...] = ()

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"url": self.url, "urls": list(self.urls)}

    @classmethod
    def read(cls, d: dict[str, Any]) -> PeersRequest:
        """Parse a msgpack map."""
        url = d.get("url")
        return cls(
            None if url is None else _url(url, "url"),
            tuple(_url(u, f"urls[{i}]") for i, u in enumerate(_list(d, "urls", 64))),
        )


@dataclass(frozen=True, slots=True)
class PeersReply:
    """Reply to `PeersRequest`: some peers the responder knows."""

    T: ClassVar[str] = "peers"
    urls: tuple[str, ...] = ()

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"urls": list(self.urls)}

    @classmethod
    def read(cls, d: dict[str, Any]) -> PeersReply:
        """Parse a msgpack map."""
        return cls(tuple(_url(u, f"urls[{i}]") for i, u in enumerate(_list(d, "urls", 64))))


@dataclass(frozen=True, slots=True)
class HeadRequest:
    """Ask for one author's head (a node recovering its own log asks for its own)."""

    T: ClassVar[str] = "head_request"
    author: bytes

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"author": self.author}

    @classmethod
    def read(cls, d: dict[str, Any]) -> HeadRequest:
        """Parse a msgpack map."""
        return cls(_bin(d.get("author"), "author", ID_BYTES))


@dataclass(frozen=True, slots=True)
class HeadReply:
    """Reply to `HeadRequest`: seq 0 and no id when the responder holds nothing of `author`.

    `entry` is the raw head entry itself (optional; replies of older nodes lack it). A
    node recovering its own log counts a claim only with it (DESIGN 12): nobody can forge
    the author's signature on an entry at that seq, so a head without it proves nothing.
    """

    T: ClassVar[str] = "head"
    author: bytes
    seq: int
    id: bytes | None
    entry: bytes | None = None

    def wire(self) -> dict[str, Any]:
        """The msgpack map (`entry` only when present: older readers see the reply they know)."""
        out: dict[str, Any] = {"author": self.author, "seq": self.seq, "id": self.id}
        if self.entry is not None:
            out["entry"] = self.entry
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> HeadReply:
        """Parse a msgpack map."""
        seq = _int(d, "seq")
        ident = _opt_bin(d, "id", ID_BYTES)
        if (seq == 0) != (ident is None):
            raise _bad("id", "an id exactly when seq >= 1")
        raw = d.get("entry")
        entry = None if raw is None else _bin(raw, "entry", max_size=MAX_ENTRY_BYTES)
        if entry is not None and seq == 0:
            raise _bad("entry", "nil when seq is 0")
        return cls(_bin(d.get("author"), "author", ID_BYTES), seq, ident, entry)


# -- range reconciliation (issue 15 item 1; protocol/reconcile.py, docs/protocol.md) -------

FP_BYTES = 16  # a fingerprint: sum of 128-bit item hashes mod 2**128 (protocol.recon_index)
SPLIT = 16  # children of a prefix: one more hex digit
MAX_PREFIX = 64  # hex digits of an author id
MAX_RECON_RANGES = 1024  # prefixes (nodes, splits, item lists) in one reconcile message
_HEX = frozenset("0123456789abcdef")


def _prefix(v: Any, field: str, max_len: int = MAX_PREFIX) -> str:
    if not isinstance(v, str) or len(v) > max_len or not _HEX.issuperset(v):
        raise _bad(field, f"a prefix of at most {max_len} lowercase hex digits")
    return v


def _fp_pair(d: dict[str, Any], key: str) -> tuple[bytes, int] | None:
    """An optional [fp (16 bytes), count] field."""
    if key not in d:
        return None
    v = d[key]
    if not (isinstance(v, list) and len(v) == 2):
        raise _bad(key, "[fp, count]")
    return _bin(v[0], f"{key}.fp", FP_BYTES), _count(v[1], f"{key}.count")


def _count(v: Any, field: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_SEQ:
        raise _bad(field, f"an integer in [0, {MAX_SEQ}]")
    return v


@dataclass(frozen=True, slots=True)
class Reconcile:
    """Range reconciliation over author-id prefixes (docs/protocol.md, "Reconciliation").

    A prefix of hex digits stands for the heads (author, seq, id) of the unforked authors
    whose id starts with it; its fingerprint is the sum of their 128-bit item hashes mod
    2**128 (16 bytes, big-endian) and their count. The initiator sends `nodes`: prefixes
    whose fingerprint differs, with its own (fp, count). The responder answers each with
    nothing (equal), `items` (its heads under the prefix, ascending) or a `split` (the fp
    and count of each of the 16 children: prefix + one hex digit; fps concatenated, 256
    bytes). The first reply (to a `Digest` with `recon`) answers the whole set ("") and
    lists the responder's fork keys (author, seq), as the first heads page does; when the
    responder holds more than `recon_items` heads, it answers "" with `fp` (its
    fingerprint and count of the whole set) and `recent`: its heads of the authors it took
    in last and of those in the digest's `recent` (ascending; an author of the digest's
    missing here is one it lacks). The initiator compares those, and when the rest agrees
    (both fingerprints less those authors' heads are equal) the session needs no second
    round trip. `forks_fp` (first reply only, when the responder knows fork keys): the
    fingerprint of its fork keys; the keys themselves are listed only when it differs
    from the digest's `forks_fp` (absent: no fork keys). Lists left empty are left out of
    the wire map.
    """

    T: ClassVar[str] = "reconcile"
    nodes: tuple[tuple[str, bytes, int], ...] = ()
    splits: tuple[tuple[str, bytes, tuple[int, ...]], ...] = ()
    items: tuple[tuple[str, tuple[tuple[bytes, int, bytes], ...]], ...] = ()
    forks: tuple[tuple[bytes, int], ...] = ()
    fp: tuple[bytes, int] | None = None
    recent: tuple[tuple[bytes, int, bytes], ...] = ()
    forks_fp: tuple[bytes, int] | None = None

    def wire(self) -> dict[str, Any]:
        """The msgpack map (empty lists left out)."""
        out: dict[str, Any] = {}
        if self.forks_fp is not None:
            out["forks_fp"] = list(self.forks_fp)
        if self.fp is not None:
            out["fp"] = list(self.fp)
        if self.recent:
            out["recent"] = [list(h) for h in self.recent]
        if self.nodes:
            out["nodes"] = [list(n) for n in self.nodes]
        if self.splits:
            out["splits"] = [[p, fps, list(counts)] for p, fps, counts in self.splits]
        if self.items:
            out["items"] = [[p, [list(h) for h in heads]] for p, heads in self.items]
        if self.forks:
            out["forks"] = [list(f) for f in self.forks]
        return out

    @classmethod
    def read(cls, d: dict[str, Any]) -> Reconcile:
        """Parse a msgpack map."""
        nodes = []
        for i, v in enumerate(_opt_list(d, "nodes", MAX_RECON_RANGES)):
            if not (isinstance(v, list) and len(v) == 3):
                raise _bad(f"nodes[{i}]", "[prefix, fp, count]")
            nodes.append((_prefix(v[0], f"nodes[{i}].prefix"),
                          _bin(v[1], f"nodes[{i}].fp", FP_BYTES), _count(v[2], f"nodes[{i}].count")))
        splits = []
        for i, v in enumerate(_opt_list(d, "splits", MAX_RECON_RANGES)):
            if not (isinstance(v, list) and len(v) == 3 and isinstance(v[2], list)
                    and len(v[2]) == SPLIT):
                raise _bad(f"splits[{i}]", "[prefix, 16 fps, 16 counts]")
            splits.append((_prefix(v[0], f"splits[{i}].prefix", MAX_PREFIX - 1),
                           _bin(v[1], f"splits[{i}].fps", FP_BYTES * SPLIT),
                           tuple(_count(c, f"splits[{i}].counts") for c in v[2])))
        items = []
        total = 0
        for i, v in enumerate(_opt_list(d, "items", MAX_RECON_RANGES)):
            if not (isinstance(v, list) and len(v) == 2 and isinstance(v[1], list)):
                raise _bad(f"items[{i}]", "[prefix, heads]")
            prefix = _prefix(v[0], f"items[{i}].prefix")
            total += len(v[1])
            if total > MAX_LIST:
                raise _bad("items", f"at most {MAX_LIST} heads in all")
            heads = tuple(_tuple3(h, f"items[{i}][{j}]") for j, h in enumerate(v[1]))
            if any(heads[k][0] >= heads[k + 1][0] for k in range(len(heads) - 1)):
                raise _bad(f"items[{i}]", "authors in strictly ascending order")
            if not all(h[0].hex().startswith(prefix) for h in heads):
                raise _bad(f"items[{i}]", "authors under the prefix")
            items.append((prefix, heads))
        forks = tuple(_pair(f, f"forks[{i}]", 1)
                      for i, f in enumerate(_opt_list(d, "forks", MAX_RECON_RANGES)))
        fp = None
        if "fp" in d:
            v = d["fp"]
            if not (isinstance(v, list) and len(v) == 2):
                raise _bad("fp", "[fp, count]")
            fp = (_bin(v[0], "fp.fp", FP_BYTES), _count(v[1], "fp.count"))
        recent = tuple(_tuple3(h, f"recent[{i}]")
                       for i, h in enumerate(_opt_list(d, "recent", MAX_RECON_RANGES)))
        if any(recent[k][0] >= recent[k + 1][0] for k in range(len(recent) - 1)):
            raise _bad("recent", "authors in strictly ascending order")
        return cls(tuple(nodes), tuple(splits), tuple(items), forks, fp, recent,
                   _fp_pair(d, "forks_fp"))


# -- witness receipts (issue 14 item 4; docs/witnesses.md) ---------------------------------

MAX_RECEIPTS = 256  # receipts in one push
RECEIPT_BYTES = 512  # trustnet.log.receipts.MAX_RECEIPT_BYTES
MAX_CODE = 32


@dataclass(frozen=True, slots=True)
class ReceiptRequest:
    """Ask a witness to receipt the last of `entries` (raw, the author's chain in order; the
    ones before it fill a gap the witness reported)."""

    T: ClassVar[str] = "receipt_request"
    entries: tuple[bytes, ...]

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"entries": list(self.entries)}

    @classmethod
    def read(cls, d: dict[str, Any]) -> ReceiptRequest:
        """Parse a msgpack map."""
        entries = tuple(_bin(e, f"entries[{i}]", max_size=MAX_ENTRY_BYTES)
                        for i, e in enumerate(_list(d, "entries", 64)))
        if not entries:
            raise _bad("entries", "at least one entry")
        return cls(entries)


@dataclass(frozen=True, slots=True)
class ReceiptReply:
    """A witness's answer: its `receipt`, or a `code` (fork: it receipted another id at that
    place, `fork` is the author's fork proof; unknown_entry: it holds the author's chain to
    seq `head` only, send the rest; not_witness, not_serving, witness_full)."""

    T: ClassVar[str] = "receipt"
    receipt: bytes | None = None
    code: str | None = None
    fork: bytes | None = None
    head: int = 0

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"receipt": self.receipt, "code": self.code, "fork": self.fork, "head": self.head}

    @classmethod
    def read(cls, d: dict[str, Any]) -> ReceiptReply:
        """Parse a msgpack map."""
        receipt, code, fork = d.get("receipt"), d.get("code"), d.get("fork")
        if code is not None and (not isinstance(code, str) or len(code) > MAX_CODE):
            raise _bad("code", f"a string of at most {MAX_CODE} characters")
        if (receipt is None) == (code is None):
            raise _bad("receipt", "a receipt exactly when there is no code")
        return cls(None if receipt is None else _bin(receipt, "receipt", max_size=RECEIPT_BYTES),
                   code, None if fork is None else _bin(fork, "fork",
                                                        max_size=2 * MAX_ENTRY_BYTES + 16),
                   _int(d, "head"))


@dataclass(frozen=True, slots=True)
class ReceiptsPush:
    """Witness receipts spread like entries (raw; each checked by the receiver)."""

    T: ClassVar[str] = "receipts"
    receipts: tuple[bytes, ...]

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"receipts": list(self.receipts)}

    @classmethod
    def read(cls, d: dict[str, Any]) -> ReceiptsPush:
        """Parse a msgpack map."""
        return cls(tuple(_bin(r, f"receipts[{i}]", max_size=RECEIPT_BYTES)
                         for i, r in enumerate(_list(d, "receipts", MAX_RECEIPTS))))


@dataclass(frozen=True, slots=True)
class ReceiptsWanted:
    """Receipt anti-entropy: ask a peer for the receipts it holds of these entries (ones
    held here without a witnessed time); it answers with a `ReceiptsPush`."""

    T: ClassVar[str] = "receipts_wanted"
    ids: tuple[bytes, ...]

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"ids": list(self.ids)}

    @classmethod
    def read(cls, d: dict[str, Any]) -> ReceiptsWanted:
        """Parse a msgpack map."""
        return cls(tuple(_bin(i, f"ids[{n}]", ID_BYTES)
                         for n, i in enumerate(_list(d, "ids", MAX_RECEIPTS))))


@dataclass(frozen=True, slots=True)
class ReceiptsAck:
    """Reply to `ReceiptsPush`: counts, and each receipt's outcome in order: accepted,
    duplicate, or its refusal code (unknown_entry: kept a while until the entry arrives;
    not_witness, conflicting_receipt, bad_receipt)."""

    T: ClassVar[str] = "receipts_ack"
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    waiting: int = 0
    outcomes: tuple[str, ...] = ()

    def wire(self) -> dict[str, Any]:
        """The msgpack map."""
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "waiting": self.waiting,
                "outcomes": list(self.outcomes)}

    @classmethod
    def read(cls, d: dict[str, Any]) -> ReceiptsAck:
        """Parse a msgpack map."""
        outcomes = _list(d, "outcomes", MAX_RECEIPTS)
        if not all(isinstance(o, str) and len(o) <= MAX_CODE for o in outcomes):
            raise _bad("outcomes", f"strings of at most {MAX_CODE} characters")
        return cls(_int(d, "accepted"), _int(d, "duplicates"), _int(d, "rejected"),
                   _int(d, "waiting"), tuple(outcomes))


Message: TypeAlias = (
    Digest | InSync | HeadsRequest | Heads | Fetch | Entries | Push | PushAck
    | PeersRequest | PeersReply | HeadRequest | HeadReply
    | ReceiptRequest | ReceiptReply | ReceiptsPush | ReceiptsAck | ReceiptsWanted | Reconcile
)

_READERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    cls.T: cls.read
    for cls in (Digest, InSync, HeadsRequest, Heads, Fetch, Entries, Push, PushAck,
                PeersRequest, PeersReply, HeadRequest, HeadReply,
                ReceiptRequest, ReceiptReply, ReceiptsPush, ReceiptsAck, ReceiptsWanted,
                Reconcile)
}

# What each endpoint accepts as request and as reply (anything else is bad_message).
REQUESTS: dict[str, tuple[type[Any], ...]] = {
    DIGEST: (Digest,),
    HEADS: (HeadsRequest,),
    FETCH: (Fetch,),
    PUSH: (Push,),
    PEERS: (PeersRequest,),
    HEAD: (HeadRequest,),
    RECEIPT: (ReceiptRequest,),
    RECEIPTS: (ReceiptsPush, ReceiptsWanted),
    RECONCILE: (Reconcile,),
}
REPLIES: dict[str, tuple[type[Any], ...]] = {
    DIGEST: (InSync, Heads, Reconcile),
    HEADS: (Heads,),
    FETCH: (Entries,),
    PUSH: (PushAck,),
    PEERS: (PeersReply,),
    HEAD: (HeadReply,),
    RECEIPT: (ReceiptReply,),
    RECEIPTS: (ReceiptsAck, ReceiptsPush),
    RECONCILE: (Reconcile,),
}


# -- codec ---------------------------------------------------------------------------------


def _no_ext(code: int, data: bytes) -> Any:
    raise MessageError(f"ext type {code} is not allowed", code="bad_message")


def encode(message: Message, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """The msgpack bytes of `message`; `too_large` beyond `max_bytes`."""
    data: bytes = msgpack.packb({"t": message.T, **message.wire()}, use_bin_type=True)
    if len(data) > max_bytes:
        raise MessageError(f"message is {len(data)} bytes; the limit is {max_bytes}", code="too_large")
    return data


def decode(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """Parse any message, bounded: `too_large`, or `bad_message` naming the field."""
    if len(data) > max_bytes:
        raise MessageError(f"message is {len(data)} bytes; the limit is {max_bytes}", code="too_large")
    try:
        obj = msgpack.unpackb(
            data, raw=False, strict_map_key=True, ext_hook=_no_ext, timestamp=0,
            max_array_len=MAX_LIST, max_map_len=64,
        )
    except MessageError:
        raise
    except msgpack.ExtraData:
        raise MessageError("message has trailing bytes", code="bad_message") from None
    except Exception as exc:  # msgpack raises ValueError, UnpackValueError, StackError...
        raise MessageError(f"not valid msgpack: {type(exc).__name__}", code="bad_message") from None
    if not isinstance(obj, dict):
        raise MessageError("a message is a map", code="bad_message")
    tag = obj.get("t")
    reader = _READERS.get(tag) if isinstance(tag, str) else None
    if reader is None:
        raise MessageError(f"unknown message type {tag!r}"[:120], code="bad_message")
    return reader(obj)


def _is(message: Message, types: tuple[type[Any], ...]) -> bool:
    return isinstance(message, types)


def _check_path(path: str) -> None:
    if path not in REQUESTS:
        raise MessageError(f"no gossip endpoint {path[:100]!r}", code="unknown_path")


def decode_request(path: str, data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """Parse the body of a request to `path`, checking it is the message that endpoint takes."""
    _check_path(path)
    message = decode(data, max_bytes)
    if not _is(message, REQUESTS[path]):
        raise MessageError(f"{path} does not take a {message.T!r} message", code="bad_message")
    return message


def decode_reply(path: str, data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """Parse the body of a reply from `path`, checking it is a reply that endpoint gives."""
    _check_path(path)
    message = decode(data, max_bytes)
    if not _is(message, REPLIES[path]):
        raise MessageError(f"{path} does not reply with {message.T!r}", code="bad_message")
    return message
