"""Setting aside entries found corrupted on disk: a row that no longer checks (when served
to a peer, `Store.range(verify=True)`) moves to the `quarantine` table, so it is never
served again, and anti-entropy fetches it again from peers.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from trustnet.log.entry import ChainHead
from trustnet.protocol.recon_index import HeadIndex
from trustnet.store.schema import Transaction

log = logging.getLogger("trustnet.store")


class Quarantine:
    """The quarantine of `Store`: it reads and rolls back the store's heads and counts."""

    _db: sqlite3.Connection
    _heads: dict[bytes, ChainHead]
    _count: int
    _digest: bytes | None
    _sorted_authors: list[bytes] | None  # store.authors: made again when an author goes
    _index: HeadIndex | None  # reconciliation fingerprints, when built: moved with the heads
    own_author: bytes | None
    # The store's write transaction (a savepoint inside a bulk import's group).
    _transaction: Callable[[], Transaction]

    def quarantine(self, author: bytes, seq: int, reason: str) -> int:
        """Set aside a stored entry found corrupted, so it is never served again; how many
        entries were set aside.

        For another author, the entry and every later one of its chain move to the
        `quarantine` table and the chain's head goes back to seq - 1: anti-entropy then
        fetches them again from peers. This node's own entries (`own_author`) are never
        rolled back (the node would sign that seq again: a fork); only the corrupted one
        moves, and ranges stop before the hole it leaves.
        """
        own = author == self.own_author
        found = int(time.time() * 1000)
        with self._transaction():
            rows = self._db.execute(
                "SELECT id, seq, raw FROM entries WHERE author=? AND seq" + ("=?" if own else ">=?"),
                (author, seq)).fetchall()
            self._db.executemany(
                "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                [(ident, author, s, raw, reason if s == seq else
                  f"follows a corrupted entry (seq {seq}); to be fetched again", found)
                 for ident, s, raw in rows])
            self._db.execute("DELETE FROM entries WHERE author=? AND seq" + ("=?" if own else ">=?"),
                             (author, seq))
        self._count -= len(rows)
        if not own:
            below = self._db.execute(
                "SELECT seq, id, ts FROM entries WHERE author=? ORDER BY seq DESC LIMIT 1",
                (author,)).fetchone()
            if below is None:
                self._heads.pop(author, None)
                self._sorted_authors = None
                if self._index is not None:
                    self._index.remove(author)
            else:
                self._heads[author] = ChainHead(int(below[0]), bytes(below[1]), int(below[2]))
                if self._index is not None:
                    self._index.set_head(author, int(below[0]), bytes(below[1]))
            self._digest = None
        log.error("store: entry seq %d of %s is corrupted on disk (%s): set aside with %d later "
                  "entr%s in the quarantine table%s; see GET /status `quarantined`", seq,
                  author.hex(), reason, len(rows) - 1, "y" if len(rows) == 2 else "ies",
                  "" if own else ", to be fetched again from peers")
        return len(rows)

    def quarantined(self) -> int:
        """How many entries were set aside as corrupted (or following a corrupted one)."""
        try:
            (n,) = self._db.execute("SELECT COUNT(*) FROM quarantine").fetchone()
        except sqlite3.OperationalError:  # a store older than the table, opened read-only
            return 0
        return int(n)
