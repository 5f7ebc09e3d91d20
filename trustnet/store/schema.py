"""The SQLite file of a node's store: its tables, the pragmas it is opened with, the schema
version check, and the one-writer transaction (DESIGN 5).

Tables: `entries` (every entry held, one row per author and seq), `forks` (proofs of
equivocation), `meta` (the schema version), `quarantine` (rows found corrupted, set
aside) and `displaced` (what recovery rotations took off a chain).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from trustnet.errors import StoreError
from trustnet.log.entry import Entry, decode_entry

DB_FILE = "store.sqlite"
CACHE_KIB = 32 * 1024
LOCK_FILE = "store.lock"
PAGE_BYTES = 16384

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    rowid    INTEGER PRIMARY KEY,
    id       BLOB NOT NULL UNIQUE,
    author   BLOB NOT NULL,
    seq      INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    raw      BLOB NOT NULL,
    received INTEGER NOT NULL,
    UNIQUE (author, seq)
);
CREATE INDEX IF NOT EXISTS entries_kind ON entries (kind, rowid);
-- An author's latest profile without reading its chain (GET /parties pages, store.authors).
CREATE INDEX IF NOT EXISTS entries_profile ON entries (author, seq) WHERE kind = 'profile';
CREATE TABLE IF NOT EXISTS forks (
    author BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    proof  BLOB NOT NULL,
    found  INTEGER NOT NULL,
    PRIMARY KEY (author, seq)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS quarantine (
    id     BLOB,
    author BLOB NOT NULL,
    seq    INTEGER NOT NULL,
    raw    BLOB,
    reason TEXT NOT NULL,
    found  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS displaced (
    id       BLOB PRIMARY KEY,
    author   BLOB NOT NULL,
    seq      INTEGER NOT NULL,
    raw      BLOB NOT NULL,
    received INTEGER NOT NULL,
    rotation BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS receipts (
    author  BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    witness BLOB NOT NULL,
    id      BLOB NOT NULL,
    time    INTEGER NOT NULL,
    raw     BLOB NOT NULL,
    PRIMARY KEY (author, seq, witness)
);
CREATE INDEX IF NOT EXISTS receipts_id ON receipts (id);
CREATE TABLE IF NOT EXISTS receipt_forks (
    witness BLOB NOT NULL,
    author  BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    proof   BLOB NOT NULL,
    found   INTEGER NOT NULL,
    PRIMARY KEY (witness, author, seq)
);
CREATE TABLE IF NOT EXISTS witnessed (id BLOB PRIMARY KEY, time INTEGER NOT NULL);
"""
# Tables added later with CREATE IF NOT EXISTS (witness receipts, trustnet/store/receipts.py) keep
# schema 1: an older store gains them when a node opens it for writing.
SCHEMA_VERSION = 1


def connect(path: Path | None, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the database at `path` (None: in memory), create its tables unless `readonly`,
    and check its schema version (`StoreError` bad_store when it is another)."""
    target = ":memory:" if path is None else str(path)
    if readonly and path is not None:
        # A reader beside the running node: WAL lets it see committed data, never block.
        db = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        db = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        # A new store's pages (an existing one keeps its own; this is a no-op then).
        db.execute(f"PRAGMA page_size={PAGE_BYTES}")
        db.execute("PRAGMA journal_mode=WAL")
        # DESIGN 5: an own entry is durable before it is acknowledged.
        db.execute("PRAGMA synchronous=FULL")
        # Entry ids are random keys: the id index is written all over. A cache that
        # holds it (32 MiB, about a million entries' index pages) keeps ingest flat.
        db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        db.executescript(SCHEMA)
    row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    if row is None and not readonly:
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
    elif row is not None and row[0] != SCHEMA_VERSION:
        raise StoreError(f"store schema {row[0]} is not {SCHEMA_VERSION}", code="bad_store")
    return db


class Transaction:
    """`with Transaction(db):` one write transaction, taken at once (BEGIN IMMEDIATE).

    Inside a transaction already open (a bulk import's group, `Store.grouped`) it is a
    savepoint instead: a failure undoes what this one wrote, not what the group holds. When
    the failure made SQLite end the whole transaction (a full disk, an I/O error), what the
    group held is gone with it: `lost` is called (the store reads its state from the file
    again) and `StoreError` bad_store says so, the failure as its cause."""

    def __init__(self, db: sqlite3.Connection, lost: Callable[[], None] | None = None) -> None:
        self.db = db
        self.lost = lost
        self.nested = False

    def __enter__(self) -> None:
        self.nested = self.db.in_transaction
        self.db.execute("SAVEPOINT part" if self.nested else "BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if not self.nested:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
            return
        if not self.db.in_transaction:
            if self.lost is not None:
                self.lost()
            raise StoreError("the database ended the bulk import's transaction: what it held "
                             "since its last commit is not stored", code="bad_store") from exc
        if exc_type:
            self.db.execute("ROLLBACK TO part")
        self.db.execute("RELEASE part")


def stored(raw: bytes) -> Entry:
    """An entry read back from the store."""
    # Entries in the store were verified on the way in; the file is ours.
    return decode_entry(raw, verify=False)
