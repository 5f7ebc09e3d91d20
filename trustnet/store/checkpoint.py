"""The store's write-ahead log copied into its file beside the writer, not inside its commits.

SQLite in WAL mode appends each transaction to the log and, by default, the commit that
takes the log past 1,000 pages copies it into the database file and syncs it (a
checkpoint) before it returns. On this machine a slice of 1,024 entries inserts in ~6 ms
and commits in 7.0-7.4 ms on average, up to 15 ms for the commits that checkpoint; with the
checkpoints beside the writer, 5.5-5.9 ms, at most 8 (`scripts/bench-commit.py`). The
node's one writer waits through its commits while the ingest workers run dry at the end of
a push, and a bundle import commits every 10,000 entries.

So the writer's connection never checkpoints (`PRAGMA wal_autocheckpoint=0`, set by
`schema.connect`) and a `Checkpointer` does it on a thread of its own with its own
connection: the store asks (`request`) once about a mebibyte of entries was written since
the last time (the log then holds ~3-4 MiB with the indexes' pages, as SQLite's own
threshold would), and the thread runs a PASSIVE checkpoint, which copies what no reader
still needs without taking the writer's lock (SQLite releases the GIL while it works).
Nothing changes for durability: a commit is in the log, synced (`synchronous=FULL`), before
it returns, as before. The last connection to close checkpoints whatever is left (SQLite),
so `close` stops the thread and closes its connection before the store closes its own.

A failure of a checkpoint (a full disk, an I/O error) is logged and the next request tries
again: the log only grows meanwhile, and the writer's commits report their own failures.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

# Bytes of entries written between two checkpoints (their raw size; the log holds ~3-4x that
# with the index pages the same rows touch).
CHECKPOINT_BYTES = 1 << 20


class Checkpointer:
    """Runs PASSIVE checkpoints of one store file on a thread, when asked. The thread starts
    at the first request (a store that never writes a mebibyte never has one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.runs = 0  # checkpoints run
        self.failures = 0  # checkpoints that raised
        # The last checkpoint's (busy, frames in the log, frames copied into the file).
        self.last: tuple[int, int, int] | None = None
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether its thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def request(self) -> None:
        """Ask for a checkpoint (several asked before it runs make one)."""
        if self._closed:
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="trustnet-checkpoint",
                                            daemon=True)
            self._thread.start()
        self._wake.set()

    def wait(self, runs: int, timeout: float) -> bool:
        """Wait until at least `runs` checkpoints ran (tests, benchmarks); whether they did."""
        with self._done:
            return self._done.wait_for(lambda: self.runs + self.failures >= runs, timeout)

    def close(self) -> None:
        """Stop the thread (a checkpoint running ends first) and close its connection."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("store: cannot open %s to checkpoint it (%s); its log grows until "
                        "the node restarts", self.path, exc)
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                self._checkpoint(db)
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("store: checkpoint of %s failed (%s); tried again at the next one",
                        self.path, exc)
            with self._done:
                self.failures += 1
                self._done.notify_all()
            return
        with self._done:
            self.last = (int(row[0]), int(row[1]), int(row[2]))
            self.runs += 1
            self._done.notify_all()
        log.debug("store: checkpoint %d of %s: %d of %d log frames in the file", self.runs,
                  self.path, self.last[2], self.last[1])
