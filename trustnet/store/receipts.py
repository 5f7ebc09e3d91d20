"""Witness receipts held by a node: checked against its store, kept beside the entries.

Tables (trustnet/store.py's schema): `receipts` (one per witness per place; the node's own
receipts as a witness among them), `receipt_forks` (two receipts by one witness at one place
for different ids: the witness's fork proof, kept and shown), `witnessed` (entry id -> the
time of its k-th receipt). A receipt is taken only when it is valid, by a witness the author
declared for that seq, and for an entry held: so a node holds at most MAX_WITNESSES receipts
per entry, plus one fork proof per witness and place (DESIGN 12: bounded by what is held).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trustnet.log.entry import Entry
from trustnet.log.receipts import (
    WITNESSES_KIND,
    Receipt,
    ReceiptError,
    ReceiptFork,
    WitnessSet,
    decode_receipt,
    in_force,
    witnessed_time,
)
from trustnet.store.sqlite import Store

MAX_DECLARATIONS = 1000  # an author's witness declarations read (the latest count)


@dataclass(frozen=True, slots=True)
class Added:
    """A receipt taken: `new` (not held before) and the entry's witnessed time, if it has one."""

    receipt: Receipt
    new: bool
    witnessed: int | None


class ReceiptBook:
    """The receipts of one node's store; `tolerance_ms`: [trust] backdate_tolerance_s."""

    def __init__(self, store: Store, tolerance_ms: int = 3_600_000) -> None:
        self.store = store
        self.tolerance_ms = tolerance_ms
        self._declared: dict[bytes, tuple[int, list[WitnessSet]]] = {}

    # -- declarations ----------------------------------------------------------------------

    def declarations(self, author: bytes) -> list[WitnessSet]:
        """The author's `witnesses` statements held, in chain order (read again when its chain
        grew)."""
        head = self.store.head(author)
        seq = 0 if head is None else head.seq
        cached = self._declared.get(author)
        if cached is not None and cached[0] == seq:
            return cached[1]
        found = [WitnessSet.from_body(e.seq, e.body)
                 for e in self.store.query(author=author, kind=WITNESSES_KIND,
                                           limit=MAX_DECLARATIONS)]
        if len(self._declared) > 10_000:
            self._declared.clear()
        self._declared[author] = (seq, found)
        return found

    def in_force(self, author: bytes, seq: int) -> WitnessSet | None:
        """The witnesses the author declared for its entry at `seq` (None: none)."""
        return in_force(self.declarations(author), seq)

    def keys_of(self, witness: bytes) -> list[bytes]:
        """A witness's signing keys known here (trustnet/log/keys.py): its id until it rotates."""
        state = self.store.key_state(witness)
        return [witness] if state is None else [p.key for p in state.periods]

    # -- receipts --------------------------------------------------------------------------

    def add(self, raw: bytes) -> Added:
        """Take a receipt, or raise ReceiptError: bad_receipt, conflicting_receipt (the pair is
        kept as the witness's fork proof first), unknown_entry, not_witness."""
        receipt = decode_receipt(raw, self.keys_of)
        db = self.store.db
        row = db.execute("SELECT id, raw FROM receipts WHERE author=? AND seq=? AND witness=?",
                         (receipt.author, receipt.seq, receipt.witness)).fetchone()
        if row is not None:
            if bytes(row[0]) == receipt.id:
                return Added(receipt, False, self.witnessed_of(receipt.id))
            proof = ReceiptFork.of(decode_receipt(bytes(row[1]), self.keys_of), receipt)
            with self.store.transaction():
                db.execute("INSERT OR IGNORE INTO receipt_forks VALUES (?,?,?,?,?)",
                           (receipt.witness, receipt.author, receipt.seq, proof.encode(),
                            receipt.time))
            raise ReceiptError(
                f"witness {receipt.witness.hex()[:16]}… receipted two entries at seq "
                f"{receipt.seq} of {receipt.author.hex()[:16]}…: kept as its fork proof",
                code="conflicting_receipt")
        entry = self.store.get(receipt.id)
        if entry is None or entry.author != receipt.author or entry.seq != receipt.seq:
            raise ReceiptError(f"no entry {receipt.id.hex()[:16]}… at seq {receipt.seq} of "
                               f"{receipt.author.hex()[:16]}… here", code="unknown_entry")
        declared = self.in_force(receipt.author, receipt.seq)
        if declared is None or receipt.witness not in declared.witnesses:
            raise ReceiptError(
                f"{receipt.witness.hex()[:16]}… is not a witness {receipt.author.hex()[:16]}… "
                f"declared for seq {receipt.seq}", code="not_witness")
        with self.store.transaction():
            db.execute("INSERT INTO receipts VALUES (?,?,?,?,?,?)",
                       (receipt.author, receipt.seq, receipt.witness, receipt.id, receipt.time,
                        receipt.raw))
        return Added(receipt, True, self._witness(entry, declared))

    def _witness(self, entry: Entry, declared: WitnessSet) -> int | None:
        """Set the entry's witnessed time from its receipts; the analysis starts over when it
        changes whether the entry counts as backdated (what its deadlines are judged by)."""
        times = [t for w, t in self.store.db.execute(
            "SELECT witness, time FROM receipts WHERE id=?", (entry.id,))
            if bytes(w) in declared.witnesses]
        when = witnessed_time(times, declared.needed)
        if when is None or when == self.witnessed_of(entry.id):
            return when
        local = self.store.received_of([entry.id]).get(entry.id)
        with self.store.transaction():
            self.store.db.execute("INSERT OR REPLACE INTO witnessed VALUES (?,?)",
                                  (entry.id, when))
        if local is not None and ((local - entry.ts > self.tolerance_ms)
                                  != (when - entry.ts > self.tolerance_ms)):
            self.store.keys_epoch += 1  # NodeViews recomputes (trustnet/analysis/views.py)
        self.store.witnessed_changed(entry.author)  # revocation prefers witnessed time
        return when

    def unwitnessed(self, since_ms: int, limit: int, recent: int = 4096) -> list[bytes]:
        """Ids of entries among the `recent` last received (after `since_ms`) that their
        author's declaration asks receipts of and that have no witnessed time yet: what
        receipt anti-entropy asks peers for (a bounded scan, whatever the store holds)."""
        rows = self.store.db.execute(
            "SELECT id, author, seq FROM (SELECT id, author, seq, received, rowid FROM entries "
            "ORDER BY rowid DESC LIMIT ?) e WHERE received > ? AND author IN "
            "(SELECT author FROM entries WHERE kind = ?) AND NOT EXISTS "
            "(SELECT 1 FROM witnessed w WHERE w.id = e.id) ORDER BY rowid DESC",
            (recent, since_ms, WITNESSES_KIND))
        out = []
        for ident, author, seq in rows:
            declared = self.in_force(bytes(author), int(seq))
            if declared is not None and declared.needed > 0:
                out.append(bytes(ident))
                if len(out) >= limit:
                    break
        return out

    def raw_of(self, ids: Sequence[bytes], limit: int) -> list[bytes]:
        """The receipts held of these entries (at most `limit`), for a peer that wants them."""
        part = list(ids[:limit])
        if not part:
            return []
        rows = self.store.db.execute(
            f"SELECT raw FROM receipts WHERE id IN ({','.join('?' * len(part))}) LIMIT ?",
            (*part, limit))
        return [bytes(raw) for (raw,) in rows]

    def receipts_of(self, entry_id: bytes) -> list[Receipt]:
        """The receipts held for an entry, by receipt time."""
        rows = self.store.db.execute(
            "SELECT raw FROM receipts WHERE id=? ORDER BY time, witness", (entry_id,))
        return [decode_receipt(bytes(raw), self.keys_of) for (raw,) in rows]

    def witnessed_of(self, entry_id: bytes) -> int | None:
        """An entry's witnessed time (ms), if k declared witnesses receipted it."""
        row = self.store.db.execute("SELECT time FROM witnessed WHERE id=?",
                                    (entry_id,)).fetchone()
        return None if row is None else int(row[0])

    def receipt_at(self, witness: bytes, author: bytes, seq: int) -> Receipt | None:
        """The receipt `witness` gave at (author, seq), if held (a witness: its own)."""
        row = self.store.db.execute(
            "SELECT raw FROM receipts WHERE author=? AND seq=? AND witness=?",
            (author, seq, witness)).fetchone()
        return None if row is None else decode_receipt(bytes(row[0]), self.keys_of)

    def served_authors(self, witness: bytes) -> int:
        """How many authors `witness` (this node) has receipted."""
        (n,) = self.store.db.execute(
            "SELECT COUNT(DISTINCT author) FROM receipts WHERE witness=?", (witness,)).fetchone()
        return int(n)

    def serves(self, witness: bytes, author: bytes) -> bool:
        """True when `witness` has receipted `author` before."""
        return self.store.db.execute("SELECT 1 FROM receipts WHERE witness=? AND author=? "
                                     "LIMIT 1", (witness, author)).fetchone() is not None

    def forks_at(self, author: bytes, seq: int) -> list[ReceiptFork]:
        """Witness fork proofs held at (author, seq)."""
        rows = self.store.db.execute(
            "SELECT proof FROM receipt_forks WHERE author=? AND seq=?", (author, seq))
        return [self._fork(bytes(p)) for (p,) in rows]

    def forks(self) -> list[ReceiptFork]:
        """Every witness fork proof held."""
        return [self._fork(bytes(p)) for (p,) in
                self.store.db.execute("SELECT proof FROM receipt_forks ORDER BY found")]

    def _fork(self, raw: bytes) -> ReceiptFork:
        import msgpack

        a, b = msgpack.unpackb(raw, raw=False)
        return ReceiptFork.of(decode_receipt(a, self.keys_of), decode_receipt(b, self.keys_of))

    def brief(self, ids: Sequence[bytes]) -> dict[bytes, dict[str, Any]]:
        """For a page of entries (GET /entries, `trustnet entries --json`): each one's
        `receipts` ({witness, time}, by time) and `witnessed` time (null: none)."""
        out: dict[bytes, dict[str, Any]] = {i: {"receipts": [], "witnessed": None} for i in ids}
        try:
            for i in range(0, len(ids), 500):
                part = list(ids[i:i + 500])
                marks = ",".join("?" * len(part))
                for ident, witness, time in self.store.db.execute(
                        f"SELECT id, witness, time FROM receipts WHERE id IN ({marks}) "
                        "ORDER BY time, witness", part):
                    out[bytes(ident)]["receipts"].append({"witness": bytes(witness).hex(),
                                                          "time": int(time)})
                for ident, time in self.store.db.execute(
                        f"SELECT id, time FROM witnessed WHERE id IN ({marks})", part):
                    out[bytes(ident)]["witnessed"] = int(time)
        except sqlite3.OperationalError:
            pass  # a read-only look at a store from before receipts: it holds none
        return out

    def entry_json(self, entry: Entry) -> dict[str, object]:
        """GET /entries/{id}'s receipt fields: receipts, witnessed time, witnesses declared,
        and witness fork proofs at its place."""
        declared = self.in_force(entry.author, entry.seq)
        return {
            "receipts": [r.to_json() for r in self.receipts_of(entry.id)],
            "witnessed": self.witnessed_of(entry.id),
            "witnesses": None if declared is None else {
                "declared_at": declared.seq, "receipts_needed": declared.needed,
                "parties": sorted(w.hex() for w in declared.witnesses)},
            "witness_forks": [f.to_json() for f in self.forks_at(entry.author, entry.seq)],
        }
