"""The write-ahead log is copied into the store's file on a thread beside the writer
(`trustnet.store.checkpoint`), never inside the writer's commits; nothing written is lost
to it, and a store closed (or dropped) stops it."""

from __future__ import annotations

import gc
import logging
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import T0, chain, ident
from trustnet.store import sqlite as store_sqlite
from trustnet.store.checkpoint import Checkpointer
from trustnet.store.schema import DB_FILE
from trustnet.store.sqlite import Store


def _frames_left(path: Path) -> int:
    """Frames of the log not yet in the file, as another connection's checkpoint finds them
    (it copies them: call it once, at the end)."""
    db = sqlite3.connect(str(path))
    try:
        _busy, log, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(log) - int(copied)
    finally:
        db.close()


@pytest.fixture
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_sqlite, "CHECKPOINT_BYTES", 8_000)


def test_the_writer_never_checkpoints_in_its_commits(tmp_path: Path) -> None:
    store = Store(tmp_path / DB_FILE)
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL, as before
    finally:
        store.close()


@pytest.mark.usefixtures("small_threshold")
def test_written_entries_are_copied_into_the_file_beside_the_writer(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    store = Store(path)
    entries = chain(ident(1), 300)
    assert store._checkpointer is not None and not store._checkpointer.running  # not yet
    for k in range(0, 300, 50):
        store.ingest(entries[k:k + 50], T0 + 10**9)
    cp = store._checkpointer
    assert cp.running
    assert cp.wait(1, timeout=30)
    assert cp.last is not None and cp.last[2] > 0  # frames copied into the file
    store.close()
    assert not cp.running
    # Every entry is in the file, read by a fresh connection with no log beside it.
    assert not (tmp_path / f"{DB_FILE}-wal").exists() or _frames_left(path) == 0
    with Store(path) as again:
        assert again.count() == 300
        assert [e.id for e in again.iter_all()] == [e.id for e in entries]


@pytest.mark.usefixtures("small_threshold")
def test_checkpoints_run_while_the_writer_goes_on(tmp_path: Path) -> None:
    # Batches written while checkpoints run: each commit lands, none waits for a copy,
    # and what the file holds at the end is every batch.
    path = tmp_path / DB_FILE
    store = Store(path)
    entries = chain(ident(2), 600)
    for k in range(0, 600, 20):
        store.ingest(entries[k:k + 20], T0 + 10**9)
    assert store._checkpointer is not None and store._checkpointer.wait(2, timeout=30)
    store.close()
    with Store(path) as again:
        assert again.count() == 600
        assert again.head(ident(2).public_key) is not None


def test_read_only_and_in_memory_stores_run_no_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    Store(path).close()
    with Store(path, readonly=True) as ro:
        assert ro._checkpointer is None
    with Store(None) as mem:
        assert mem._checkpointer is None


@pytest.mark.usefixtures("small_threshold")
def test_a_store_dropped_without_close_stops_its_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / DB_FILE)
    store.ingest(chain(ident(3), 100), T0 + 10**9)
    cp = store._checkpointer
    assert cp is not None and cp.running
    del store
    gc.collect()
    assert not cp.running


def test_a_failed_checkpoint_is_logged_and_tried_again(tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "not-a-database"
    bad.write_bytes(b"this is not an SQLite file" * 100)
    cp = Checkpointer(bad)
    try:
        with caplog.at_level(logging.WARNING, logger="trustnet.store.checkpoint"):
            cp.request()
            assert cp.wait(1, timeout=30)
            cp.request()
            assert cp.wait(2, timeout=30)
        assert cp.failures == 2 and cp.runs == 0 and cp.running
        assert "checkpoint of" in caplog.text and "failed" in caplog.text
    finally:
        cp.close()
    assert not cp.running
    cp.request()  # closed: asks for nothing, starts nothing
    assert not cp.running
