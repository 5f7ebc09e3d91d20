"""Fingerprints of heads under an author-id prefix, kept incrementally (issue 15 item 1).

Range-based reconciliation (`protocol.reconcile`) compares the heads two nodes hold
prefix by prefix: the heads of the authors whose id (hex) starts with a prefix of
nibbles, "" being every author. Each head is an item (author, seq, id) and hashes to a
128-bit number (`item_hash`); the fingerprint of a prefix is the sum of its items'
hashes mod 2**128 and their count. Sums update in O(1) when a head changes (subtract the
old hash, add the new), whatever the order of arrival.

`HeadIndex` keeps the sums of every prefix up to `DEPTH` nibbles in a dict (at most
1 + 16 + 256 + 4096 entries), the authors sorted, and each author's contribution: a
fingerprint of a short prefix is one lookup, a longer one sums the few authors under it
(a slice of the sorted list: N / 4096 authors on average). Authors are public keys, so
they spread evenly; a key ground to share a long prefix costs 16x more per nibble.

A contribution is any (value, count), not only (item_hash, 1): the simulator's replicas
share one immutable index of the heads every node starts with and keep only the
difference in their own (`value = new - old hash`, `count = 0` for a head that moved).

Once asked (`moves_since`), an index also logs the last `MOVES_KEPT` authors whose
contribution changed, so a reader that follows a few authors (the fork book: protocol.forks)
learns which of them moved since its last look in O(moves), whatever route moved them.

Pure code: no I/O, no time, no randomness; the stores and the protocol import it.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import struct
from collections import deque
from collections.abc import Iterable

MOD = 1 << 128  # fingerprint sums are mod 2**128 (16 bytes on the wire)
FP_BYTES = 16
DEPTH = 3  # prefixes up to this many nibbles have their sums kept
MAX_PREFIX = 64  # nibbles in an author id (32 bytes)
HEX = "0123456789abcdef"
_Q = struct.Struct(">Q").pack
_ITEM_TAG = b"trustnet/v1/reconcile-item"
MOVES_KEPT = 1024  # changes an index logs once asked (`HeadIndex.moves_since`)
_SERIALS = itertools.count(1)  # tells indexes apart in a mark

MoveMark = tuple[int, int]  # (index serial, changes made): where a reader last looked


def item_hash(author: bytes, seq: int, ident: bytes) -> int:
    """The 128-bit hash of one head: sha256(tag | author | seq (8 bytes, big-endian) | id),
    its first 16 bytes read big-endian."""
    digest = hashlib.sha256(_ITEM_TAG + author + _Q(seq) + ident).digest()
    return int.from_bytes(digest[:FP_BYTES], "big")


def fp_bytes(value: int) -> bytes:
    """A fingerprint sum as its 16 wire bytes (big-endian)."""
    return (value % MOD).to_bytes(FP_BYTES, "big")


def bounds(prefix: str) -> tuple[bytes, bytes | None]:
    """The author ids under a hex prefix: [lo, hi), hi None past the last id."""
    n = len(prefix)
    if n == 0:
        return bytes(32), None
    shift = 4 * (MAX_PREFIX - n)
    start = int(prefix, 16)
    lo = (start << shift).to_bytes(32, "big")
    end = (start + 1) << shift
    return lo, None if end >> 256 else end.to_bytes(32, "big")


def is_prefix(prefix: str) -> bool:
    """A well-formed prefix: at most 64 lowercase hex digits."""
    return len(prefix) <= MAX_PREFIX and all(c in HEX for c in prefix)


class HeadIndex:
    """Per-prefix sums of the contributions of authors (see the module docstring)."""

    __slots__ = ("_moves", "_serial", "_sorted", "_sums", "_value", "_version")

    def __init__(self) -> None:
        self._sorted: list[bytes] = []
        self._value: dict[bytes, tuple[int, int]] = {}  # author -> (value, count)
        self._sums: dict[str, tuple[int, int]] = {}  # prefix (<= DEPTH nibbles) -> sums
        self._serial = next(_SERIALS)
        self._version = 0  # changes made (put, remove)
        self._moves: deque[bytes] | None = None  # the last changes' authors, once asked

    @classmethod
    def of(cls, contributions: Iterable[tuple[bytes, int, int]]) -> HeadIndex:
        """An index of (author, value, count) at once: one sort, not one insertion each."""
        index = cls()
        sums: dict[str, list[int]] = {}
        for author, value, count in contributions:
            index._value[author] = (value % MOD, count)
            hexed = author[:2].hex()
            for n in range(DEPTH + 1):
                cell = sums.setdefault(hexed[:n], [0, 0])
                cell[0] += value
                cell[1] += count
        index._sorted = sorted(index._value)
        index._sums = {k: (v % MOD, c) for k, (v, c) in sums.items()}
        return index

    def __len__(self) -> int:
        return len(self._sorted)

    def put(self, author: bytes, value: int, count: int = 1) -> None:
        """Set what `author` contributes (replacing what it did)."""
        self._version += 1
        if self._moves is not None:
            self._moves.append(author)
        old = self._value.get(author)
        if old is None:
            bisect.insort(self._sorted, author)
            dv, dc = value, count
        else:
            dv, dc = value - old[0], count - old[1]
        self._value[author] = (value % MOD, count)
        hexed = author[:2].hex()
        for n in range(DEPTH + 1):
            key = hexed[:n]
            v, c = self._sums.get(key, (0, 0))
            self._sums[key] = ((v + dv) % MOD, c + dc)

    def set_head(self, author: bytes, seq: int, ident: bytes) -> None:
        """`author`'s head is now (seq, ident)."""
        self.put(author, item_hash(author, seq, ident), 1)

    def remove(self, author: bytes) -> None:
        """`author` contributes nothing any more."""
        old = self._value.pop(author, None)
        if old is None:
            return
        self._version += 1
        if self._moves is not None:
            self._moves.append(author)
        del self._sorted[bisect.bisect_left(self._sorted, author)]
        hexed = author[:2].hex()
        for n in range(DEPTH + 1):
            key = hexed[:n]
            v, c = self._sums[key]
            self._sums[key] = ((v - old[0]) % MOD, c - old[1])

    def moves_since(self, mark: MoveMark | None) -> tuple[MoveMark, list[bytes] | None]:
        """The mark of now, and the authors whose contribution changed since `mark` (a mark
        this index gave), oldest first, repeats included; None when they are not all known
        (no mark, another index's, the log started after it or more than `MOVES_KEPT`
        changes since): the reader then looks at every author it follows. The first call
        starts the log (an index nobody asks keeps none: the simulator holds thousands)."""
        now = (self._serial, self._version)
        if self._moves is None:
            self._moves = deque(maxlen=MOVES_KEPT)
            return now, None
        if mark is None or mark[0] != self._serial or mark[1] > self._version:
            return now, None
        changed = self._version - mark[1]
        if changed > len(self._moves):
            return now, None
        return now, list(itertools.islice(self._moves, len(self._moves) - changed, None))

    def contribution(self, author: bytes) -> tuple[int, int] | None:
        """What `author` contributes, if anything."""
        return self._value.get(author)

    def _slice(self, prefix: str) -> tuple[int, int]:
        lo, hi = bounds(prefix)
        i = bisect.bisect_left(self._sorted, lo)
        j = len(self._sorted) if hi is None else bisect.bisect_left(self._sorted, hi)
        return i, j

    def fingerprint(self, prefix: str) -> tuple[int, int]:
        """(sum mod 2**128, count) of the contributions of the authors under `prefix`."""
        if len(prefix) <= DEPTH:
            return self._sums.get(prefix, (0, 0))
        i, j = self._slice(prefix)
        value = count = 0
        for author in self._sorted[i:j]:
            v, c = self._value[author]
            value += v
            count += c
        return value % MOD, count

    def authors(self, prefix: str) -> list[bytes]:
        """The authors under `prefix` with a contribution, ascending."""
        i, j = self._slice(prefix)
        return self._sorted[i:j]
