"""The heads part of the anti-entropy digest, kept ready to hash (issue 15, review item 3).

The digest (`AntiEntropy.digest`, docs/protocol.md) is sha256 over every unforked head as
a 73-byte record ("H" | author | seq (8 bytes, big-endian) | head id), authors ascending,
then the fork keys. Its value cannot change (nodes of the previous version compare it),
and a hash over every head costs O(authors) each time it is made. What can be cut is the
Python work per author: at 100,000 authors, reading every head and building its record
cost ~150-250 ms per change; hashing the records already laid out costs ~15 ms.

`HeadsMirror` keeps those records in one bytearray in author order, with the authors
sorted beside it: a head that moves is 73 bytes overwritten (a bisection to find it), a
new author an insertion (a memmove, C speed). Authors whose heads moved are noted as they
arrive (`moved`) and applied when the digest is next asked (`sync`), and what moved unseen
by the protocol (a quarantined entry, an import into the store) is caught by comparing
the replica's incremental fingerprint of every head with the mirror's own: then it is
built again. Many moves at once (a catch-up) are a rebuild too (cheaper than inserting
one by one). It costs ~81 bytes per author, so the protocol keeps one only from
`MIRROR_MIN_AUTHORS` authors up (below, the records are built per digest, as cheap).

Pure code: no I/O, no time, no randomness.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable
from typing import Any

from trustnet.protocol.recon_index import MOD, item_hash
from trustnet.protocol.replica import Replica

REC = 73  # "H" + author (32) + seq (8) + id (32)
MIRROR_MIN_AUTHORS = 16_384  # below, a mirror saves too little to pay its memory
_Q = struct.Struct(">Q").pack


def record(author: bytes, seq: int, ident: bytes) -> bytes:
    """One head's digest record."""
    return b"H" + author + _Q(seq) + ident


class HeadsMirror:
    """Every head held, as digest records in author order (see the module docstring)."""

    __slots__ = ("_authors", "_buf", "_fp", "_pending", "_replica", "version")

    def __init__(self, replica: Replica) -> None:
        self._replica = replica
        self.version = 0  # bumped whenever a head changed (at `sync`)
        self._authors: list[bytes] = []
        self._buf = bytearray()
        self._fp: tuple[int, int] = (0, 0)
        self._pending: set[bytes] = set()
        self._build()

    def __len__(self) -> int:
        return len(self._authors)

    @property
    def authors(self) -> list[bytes]:
        """The authors held, ascending (do not modify; valid until the next `sync`)."""
        return self._authors

    def moved(self, authors: Iterable[bytes]) -> None:
        """These authors' heads may have moved: applied at the next `sync`."""
        self._pending.update(authors)

    def sync(self) -> None:
        """Apply what moved (`version` bumped when any head changed)."""
        pending, self._pending = self._pending, set()
        if len(pending) > len(self._authors) // 8 + 64:
            self._build()
            return
        changed = False
        value, count = self._fp
        inserts: list[tuple[bytes, bytes]] = []  # new authors' records
        for author in pending:
            i = bisect.bisect_left(self._authors, author)
            held = i < len(self._authors) and self._authors[i] == author
            head = self._replica.head(author)
            old = bytes(self._buf[i * REC:(i + 1) * REC]) if held else None
            new = None if head is None else record(author, head.seq, head.id)
            if old == new:
                continue
            changed = True
            if old is not None:
                value -= item_hash(author, int.from_bytes(old[33:41], "big"), old[41:])
                count -= 1
            if new is None:
                del self._authors[i]
                del self._buf[i * REC:(i + 1) * REC]
                continue
            assert head is not None
            value += item_hash(author, head.seq, head.id)
            count += 1
            if held:
                self._buf[i * REC:(i + 1) * REC] = new
            else:
                inserts.append((author, new))  # after the loop: positions stay valid
        self._insert(inserts)
        self._fp = (value % MOD, count)
        if self._fp != self._replica.prefix_fingerprint(""):
            self._build()  # something moved that the protocol did not see
        elif changed:
            self.version += 1

    def _insert(self, inserts: list[tuple[bytes, bytes]]) -> None:
        """Add new authors' records: one by one when few, else in one merging pass (one
        insert into the middle moves every record after it: O(k x N) for k new authors, 4 s
        for a batch at 300,000 authors before; now O(N + k log N))."""
        if len(inserts) <= 64:
            for author, rec in inserts:
                i = bisect.bisect_left(self._authors, author)
                self._authors.insert(i, author)
                self._buf[i * REC:i * REC] = rec
            return
        inserts.sort()
        old_authors, old_buf = self._authors, self._buf
        authors: list[bytes] = []
        parts: list[bytes | memoryview] = []
        view = memoryview(old_buf)
        prev = 0
        for author, rec in inserts:
            i = bisect.bisect_left(old_authors, author, prev)
            authors += old_authors[prev:i]
            authors.append(author)
            parts += (view[prev * REC:i * REC], rec)
            prev = i
        authors += old_authors[prev:]
        parts.append(view[prev * REC:])
        buf = bytearray(b"".join(parts))
        view.release()
        self._authors, self._buf = authors, buf

    def hash_into(self, h: Any, skip: Iterable[bytes]) -> None:
        """Feed every record to the hash `h`, but those of the authors in `skip` (ascending)."""
        view = memoryview(self._buf)
        start = 0
        for author in skip:
            i = bisect.bisect_left(self._authors, author)
            if i < len(self._authors) and self._authors[i] == author:
                h.update(view[start:i * REC])
                start = (i + 1) * REC
        h.update(view[start:])

    def _build(self) -> None:
        heads = self._replica.heads()
        self._authors = sorted(heads)
        self._buf = bytearray(b"".join([record(a, *heads[a]) for a in self._authors]))
        self._fp = self._replica.prefix_fingerprint("")
        self._pending.clear()
        self.version += 1
