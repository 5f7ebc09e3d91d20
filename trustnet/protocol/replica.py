"""The replica interface: what the gossip protocol reads and writes of the entries a node holds.

The protocol owns no storage (DESIGN 6, issue 13). It is handed a `Replica` and calls
only the methods below; two implementations exist:

- `trustnet.store.sqlite.Store`: the node's durable SQLite store (DESIGN 5);
- `trustnet.store.memory.MemoryReplica`: dicts in memory, for the simulator and tests (the
  same chain, fork and key rules, nothing durable, a few hundred bytes per node).

`ingest` is synchronous and its result comes back at once (`IngestResult`): the protocol
scores the sender and pushes what was new from it. The records it returns are defined
here, beside the interface, so the protocol package depends on nothing that does I/O;
so is `ForkLog`, the bounded log of fork proofs both implementations keep for
`Replica.fork_changes`.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from trustnet.log.entry import ChainHead, Entry, ForkProof
from trustnet.protocol.recon_index import MoveMark

FORKS_KEPT = 1024  # fork proof changes a replica logs once asked (`ForkLog.since`)
_SERIALS = itertools.count(1)  # tells logs apart in a mark

ForkMark = tuple[int, int]  # (log serial, changes noted): where a reader last looked


@dataclass(frozen=True, slots=True)
class Rejected:
    """An item of an ingested batch that was refused, and why."""

    index: int
    id: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {"index": self.index, "id": self.id, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one `ingest` call did."""

    accepted: tuple[Entry, ...] = ()
    duplicates: int = 0
    rejected: tuple[Rejected, ...] = ()
    forks: tuple[ForkProof, ...] = ()
    gaps: Mapping[bytes, int] = field(default_factory=dict)


ForkChange = tuple[bytes, int, bool]  # (author, seq, added: new here, else its standing changed)


class ForkLog:
    """The last `FORKS_KEPT` fork proofs a replica added, or whose standing may have changed,
    whatever route did it (the protocol's ingest, a bundle import, a witness's answer,
    another writer of the store, a key event, a witnessed time): the reader of
    `Replica.fork_changes` (the gossip fork book: protocol.forks) learns them in
    O(changes), not by reading every proof again. It keeps keys, not proofs (a proof holds
    two entries of up to 64 KiB: a thousand kept would pin a stranger's 128 MiB); the
    replica reads the few proofs asked for. As `HeadIndex.moves_since`: nothing is kept
    until the first reader asks (a simulator holds thousands of replicas), and a reader
    that fell further behind than the log keeps is told "not all known" and reads
    `Replica.forks()` again."""

    __slots__ = ("_kept", "_serial", "_started", "_version")

    def __init__(self) -> None:
        self._serial = next(_SERIALS)
        self._version = 0  # changes noted
        self._started = False  # asked once: changes are kept from then on
        self._kept: deque[ForkChange] | None = None  # made at the first change kept

    def note(self, author: bytes, seq: int, *, added: bool) -> None:
        """The proof at (`author`, `seq`) was added (`added`), or may have changed standing
        (disowned or counting again)."""
        self._version += 1
        if self._started:
            if self._kept is None:
                self._kept = deque(maxlen=FORKS_KEPT)
            self._kept.append((author, seq, added))

    def since(self, mark: ForkMark | None) -> tuple[ForkMark, list[ForkChange] | None]:
        """The mark of now, and the changes noted since `mark` (a mark this log gave), oldest
        first, repeats included; None when they are not all known (no mark, another log's,
        the log started after it or more than `FORKS_KEPT` changes since). The first call
        starts the log."""
        now = (self._serial, self._version)
        if not self._started:
            self._started = True
            return now, None
        if mark is None or mark[0] != self._serial or mark[1] > self._version:
            return now, None
        changed = self._version - mark[1]
        if not changed:  # what every read of the fork book finds, nearly always
            return now, []
        kept = self._kept  # made at the first change after the log started: not None here
        if kept is None or changed > len(kept):
            return now, None
        return now, list(itertools.islice(kept, len(kept) - changed, None))


class Replica(Protocol):
    """The entries, heads and fork proofs one node holds, as the gossip protocol uses them."""

    def head(self, author: bytes) -> ChainHead | None:
        """The latest entry of `author` held here."""
        ...

    def heads(self) -> dict[bytes, tuple[int, bytes]]:
        """Every author's latest (seq, id): a copy."""
        ...

    def heads_digest(self) -> bytes:
        """A digest of every head: equal digests mean equal heads (it changes with them)."""
        ...

    def prefix_fingerprint(self, prefix: str) -> tuple[int, int]:
        """Range reconciliation (protocol.recon_index): (sum mod 2**128 of `item_hash` of the
        heads, count) of the authors whose hex id starts with `prefix`; kept incrementally."""
        ...

    def prefix_authors(self, prefix: str) -> list[bytes]:
        """The authors held whose hex id starts with `prefix`, ascending."""
        ...

    def head_moves(self, mark: MoveMark | None) -> tuple[MoveMark, list[bytes] | None]:
        """The authors whose head changed since `mark` by any route (`HeadIndex.moves_since`),
        None when not all are known, and the mark of now."""
        ...

    def get(self, entry_id: bytes) -> Entry | None:
        """The entry with this id, if held."""
        ...

    def range(self, author: bytes, after_seq: int, limit: int, *, verify: bool = False
              ) -> list[Entry]:
        """Up to `limit` entries of `author` with seq > after_seq, ascending (`verify`: they
        are served to peers; a durable store checks each again and stops before a bad one)."""
        ...

    def query(self, *, author: bytes | None = None, kind: str | None = None,
              after: int = 0, limit: int = 100) -> list[Entry]:
        """Entries by author (after: a seq) or in arrival order, optionally of one kind."""
        ...

    def ingest(self, items: Iterable[bytes | Entry], now_ms: int) -> IngestResult:
        """Verify and keep a batch of foreign entries: idempotent, in chain order; entries
        beyond a gap are reported in `gaps`, conflicting ones become fork proofs."""
        ...

    def add_fork(self, proof: ForkProof) -> bool:
        """Keep a fork proof learned from elsewhere; True when it was new."""
        ...

    def forks(self) -> list[ForkProof]:
        """Every fork proof that counts against its author (not disowned by a recovery)."""
        ...

    def fork_changes(self, mark: ForkMark | None
                     ) -> tuple[ForkMark, list[tuple[ForkProof, bool]] | None]:
        """The fork proofs added here since `mark` by any route (with True), or whose
        standing may have changed (with False: `ForkLog`), oldest first; None when not all
        are known (read `forks()` again); and the mark of now."""
        ...

    def forked_authors(self) -> set[bytes]:
        """Authors proven to have equivocated (forks they disowned do not count)."""
        ...

    def disowns(self, proof: ForkProof) -> bool:
        """Whether the proof's author disowned it (a recovery rotation revoked one of its two
        entries): it no longer counts, whoever holds it."""
        ...

    def evidence_key(self, entry: Entry) -> bytes:
        """The key `entry` must be signed by to count as its author's (fork proofs)."""
        ...
