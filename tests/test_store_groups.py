"""Bulk imports commit in groups (`Store.grouped`): one transaction per N entries, each batch
a savepoint in it. What a reader of the file sees, what a failing batch undoes, what an own
entry's durability needs, and what a failed commit leaves: the store's memory is its file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from trustnet.errors import StoreError
from trustnet.identity import Identity
from trustnet.log.bundle import import_bundle, write_bundle
from trustnet.log.entry import Entry, sign_entry
from trustnet.store.schema import DB_FILE
from trustnet.store.sqlite import Store

T0 = 1_767_225_600_000


def _chain(seed: int, n: int) -> list[Entry]:
    who = Identity.from_seed(bytes([seed]) * 32)
    out: list[Entry] = []
    for seq in range(1, n + 1):
        out.append(sign_entry(who, seq=seq, prev=out[-1].id if out else None, ts=T0 + seq,
                              kind="trust", body={"subject": "ab" * 32, "level": seq}))
    return out


def _on_disk(node: Path) -> int:
    """Entries another connection sees committed in the node's file."""
    db = sqlite3.connect(f"file:{node / DB_FILE}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
    finally:
        db.close()


def _state(store: Store) -> tuple[Any, ...]:
    return store.count(), store.heads(), store.heads_digest()


def test_a_group_commits_every_n_entries_and_at_its_end(tmp_path: Path) -> None:
    chain = _chain(1, 12)
    with Store.open_dir(tmp_path) as store:
        with store.grouped(entries=5):
            store.ingest([e.raw for e in chain[:3]], T0)
            assert _on_disk(tmp_path) == 0  # held in the group's open transaction
            store.ingest([e.raw for e in chain[3:6]], T0)
            assert _on_disk(tmp_path) == 6  # 6 >= 5: committed
            store.ingest([e.raw for e in chain[6:8]], T0)
            assert _on_disk(tmp_path) == 6 and store.count() == 8
        assert _on_disk(tmp_path) == 8
        store.ingest([e.raw for e in chain[8:]], T0)  # no group: a transaction per batch
        assert _on_disk(tmp_path) == 12


def test_a_failing_batch_undoes_only_itself_and_the_rest_is_committed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _chain(1, 6), _chain(2, 4)
    real = Store._insert
    calls = []

    def failing(self: Store, entries: list[Entry], received: int) -> None:
        calls.append(len(entries))
        real(self, entries, received)
        if len(calls) == 2:  # the second batch's rows are written, then the disk fails
            raise sqlite3.OperationalError("disk I/O error")

    with Store.open_dir(tmp_path) as store:
        monkeypatch.setattr(Store, "_insert", failing)
        with pytest.raises(sqlite3.OperationalError), store.grouped(entries=1000):
            store.ingest([e.raw for e in a[:3]], T0)
            store.ingest([e.raw for e in b], T0)
        monkeypatch.setattr(Store, "_insert", real)
        in_memory = _state(store)
        assert in_memory[0] == 3 and b[0].author not in in_memory[1]
        assert _on_disk(tmp_path) == 3  # the first batch, committed as the group ended
        store.ingest([e.raw for e in a[3:] + b], T0)  # the failed batch again: it links
        assert store.count() == 10
        in_memory = _state(store)
    with Store.open_dir(tmp_path) as again:
        assert _state(again) == in_memory


def test_an_own_entry_in_a_group_is_durable_when_it_returns(tmp_path: Path) -> None:
    me = Identity.from_seed(b"\x09" * 32)
    with Store.open_dir(tmp_path) as store, store.grouped(entries=1000):
        store.ingest([e.raw for e in _chain(1, 3)], T0)
        store.append_own(me, "trust", {"subject": "cd" * 32, "level": 1}, T0 + 10)
        assert _on_disk(tmp_path) == 4  # what the group held, committed with it


class _FailingCommits:
    """A connection whose COMMIT fails (a full disk at the moment of commit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_failed_group_commit_leaves_the_store_as_its_file_says(tmp_path: Path) -> None:
    chain = _chain(1, 8)
    with Store.open_dir(tmp_path) as store:
        store.ingest([e.raw for e in chain[:2]], T0)
        before = _state(store)
        real_db = store._db
        with pytest.raises(StoreError) as err, store.grouped(entries=1000):
            store.ingest([e.raw for e in chain[2:5]], T0)
            assert store.count() == 5
            store._db = _FailingCommits(real_db)  # type: ignore[assignment]
        store._db = real_db
        assert err.value.code == "bad_store"
        assert _state(store) == before and _on_disk(tmp_path) == 2
        assert store.ingest([e.raw for e in chain[2:]], T0).accepted  # and it goes on


def test_a_bundle_import_is_one_group(tmp_path: Path) -> None:
    raws = [e.raw for k in range(3) for e in _chain(10 + k, 50)]
    bundle = tmp_path / "b.bundle"
    with open(bundle, "wb") as f:
        write_bundle(f, raws)
    node = tmp_path / "node"
    node.mkdir()
    commits = []
    with Store.open_dir(node) as store:
        real = store._commit_group

        def counted() -> None:
            commits.append(store._db.in_transaction)
            real()

        store._commit_group = counted  # type: ignore[method-assign]
        report = import_bundle(store, bundle, T0 + 1000)
        assert report.accepted == 150 and _on_disk(node) == 150
    assert commits == [True]  # 150 entries: the group's one commit, at its end


def test_a_disk_that_fills_up_in_a_group_loses_it_and_the_store_says_so(tmp_path: Path) -> None:
    # SQLite ends the whole transaction on a full database: the group's earlier batches go
    # with it, and memory must not keep heads of entries the file does not hold.
    chain = _chain(1, 400)
    with Store.open_dir(tmp_path) as store:
        store.ingest([e.raw for e in chain[:10]], T0)
        with pytest.raises(StoreError) as err, store.grouped(entries=1000):
            store.ingest([e.raw for e in chain[10:60]], T0)
            (pages,) = store._db.execute("PRAGMA page_count").fetchone()
            store._db.execute(f"PRAGMA max_page_count={pages + 2}")
            store.ingest([e.raw for e in chain[60:]], T0)
        assert err.value.code == "bad_store"
        assert isinstance(err.value.__cause__, sqlite3.Error)  # the disk's error, kept
        store._db.execute("PRAGMA max_page_count=1073741823")
        assert store.count() == 10 == _on_disk(tmp_path)
        head = store.head(chain[0].author)
        assert head is not None and head.seq == 10
        assert len(store.ingest([e.raw for e in chain[10:]], T0).accepted) == 390
        in_memory = _state(store)
    with Store.open_dir(tmp_path) as again:
        assert _state(again) == in_memory


def test_an_import_that_fails_keeps_its_own_error_when_the_commit_fails_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open_dir(tmp_path) as store:
        real_db = store._db
        with pytest.raises(RuntimeError, match="the import's own"), store.grouped():
            store.ingest([e.raw for e in _chain(1, 3)], T0)
            store._db = _FailingCommits(real_db)  # type: ignore[assignment]
            raise RuntimeError("the import's own error")
        store._db = real_db
        assert store.count() == 0 == _on_disk(tmp_path)
