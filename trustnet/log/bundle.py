"""Bundles: a plain msgpack stream of entries (each element is one entry, `[payload, sig]`).

Reading is bounded and keeps going past bad entries: each element is sliced out
of the file as the exact bytes written, checked on its own, and a bad one is
named with its index and code. Only a broken stream (an element that is not
msgpack at all, or larger than any entry can be) stops the reading, and what
was read before it is kept.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgpack

from trustnet.errors import BundleError, EntryError
from trustnet.heap import gc_paused
from trustnet.log.entry import (
    MAX_ENTRY_BYTES,
    MAX_FUTURE_MS,
    ChainHead,
    Entry,
    decode_entry,
    verify_signature,
)
from trustnet.log.keys import KEY_KINDS, KeyState, apply as apply_keys, signature_error, signer
from trustnet.statements.entries import statement_of
from trustnet.store.sqlite import IngestResult, PreparedBatch, Rejected, Store

BATCH = 2000
PAUSED_BATCHES = 16  # batches taken in with the collector paused between its runs


def write_bundle(out: IO[bytes], raws: Iterable[bytes]) -> int:
    """Write entries to a bundle stream; returns how many."""
    n = 0
    for raw in raws:
        out.write(raw)
        n += 1
    return n


def iter_bundle(path: Path) -> Iterator[bytes]:
    """The exact bytes of each element of a bundle file (BundleError when the stream breaks)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in finally, after the generator ends
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from None
    try:
        size = f.seek(0, 2)
        if size == 0:
            return
        f.seek(0)
        unpacker = msgpack.Unpacker(
            f, raw=True, strict_map_key=False, read_size=MAX_ENTRY_BYTES,
            max_buffer_size=4 * MAX_ENTRY_BYTES,
        )
        start = 0
        index = 0
        while start < size:
            try:
                unpacker.skip()  # its bytes are read below: nothing to build
            except msgpack.OutOfData:
                raise BundleError(
                    f"{path}: element {index} at byte {start} is truncated", code="bad_bundle"
                ) from None
            except msgpack.BufferFull:
                raise BundleError(
                    f"{path}: element {index} at byte {start} is larger than any entry "
                    f"({MAX_ENTRY_BYTES} bytes)", code="bad_bundle"
                ) from None
            except Exception as exc:
                raise BundleError(
                    f"{path}: element {index} at byte {start} is not msgpack: {exc}"
                ) from None
            end = unpacker.tell()
            # The element's exact bytes, read at its offset (pread leaves the unpacker's
            # file position alone; memory stays bounded whatever the bundle's size).
            yield os.pread(f.fileno(), end - start, start)
            start = end
            index += 1
    finally:
        f.close()


MAX_REJECTED_KEPT = 1000  # rejections an import report names one by one; the rest are counted


@dataclass(slots=True)
class ImportReport:
    """What an import did: counts, the rejected entries, and a stream error if any.

    `rejected` names the first `MAX_REJECTED_KEPT` rejected entries; `rejected_count` and
    `rejected_codes` count them all (a bundle of a million non-entries must not cost a
    million records of memory).
    """

    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    forks: int = 0
    unresolved_gaps: int = 0
    stream_error: BundleError | None = None
    rejected_count: int = 0
    rejected_codes: Counter[str] = field(default_factory=Counter)

    def reject(self, rejection: Rejected) -> None:
        """Count a rejected entry; name it while fewer than MAX_REJECTED_KEPT are named."""
        self.rejected_count += 1
        self.rejected_codes[rejection.code] += 1
        if len(self.rejected) < MAX_REJECTED_KEPT:
            self.rejected.append(rejection)

    @property
    def ok(self) -> bool:
        """True when every element was stored or already held."""
        return not self.rejected_count and self.stream_error is None and not self.unresolved_gaps


class _Parked:
    """Entries that arrived beyond a gap, waiting in a temporary SQLite file, not in memory.

    A bundle can put every chain's first entry last (issue 11: 783 MB of memory for a
    257 MB bundle when they were held in a list). They come back in (author, seq) order,
    so one pass in batches resolves every chain whose start has arrived since.
    """

    def __init__(self, directory: Path | None) -> None:
        self._dir = directory
        self._db: sqlite3.Connection | None = None
        self._path: str | None = None
        self.count = 0

    def add(self, index: int, entry: Entry) -> None:
        """Park one entry (its position in the bundle and its exact bytes)."""
        if self._db is None:
            fd, self._path = tempfile.mkstemp(prefix="trustnet-import-", suffix=".sqlite",
                                              dir=self._dir)
            os.close(fd)
            self._db = sqlite3.connect(self._path)
            self._db.executescript(
                "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                "CREATE TABLE parked (author BLOB, seq INTEGER, idx INTEGER, raw BLOB);")
        self._db.execute("INSERT INTO parked VALUES (?, ?, ?, ?)",
                         (entry.author, entry.seq, index, entry.raw))
        self.count += 1

    def batches(self, size: int) -> Iterator[list[tuple[int, bytes]]]:
        """Every parked entry as (index, raw), in (author, seq) order, `size` at a time."""
        if self._db is None:
            return
        cursor = self._db.execute("SELECT idx, raw FROM parked ORDER BY author, seq, idx")
        while rows := cursor.fetchmany(size):
            yield [(int(i), bytes(raw)) for i, raw in rows]

    def close(self) -> None:
        """Delete the temporary file."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path is not None:
            Path(self._path).unlink(missing_ok=True)
            self._path = None


def import_bundle(
    store: Store,
    path: Path,
    now_ms: int,
    *,
    progress: Callable[[ImportReport], None] | None = None,
    spill_dir: Path | None = None,
) -> ImportReport:
    """Ingest a bundle in batches. Valid entries are kept whatever else the bundle holds.
    The batches commit in groups (`Store.grouped`): one transaction per 10,000 entries.

    Entries beyond a gap wait in a temporary SQLite file under `spill_dir` (default: the
    system's temporary directory) and are retried once the whole bundle was read.
    """
    report = ImportReport()
    parked = _Parked(spill_dir)
    try:
        with store.grouped():
            _import(store, path, now_ms, report, parked, progress)
    finally:
        parked.close()
    report.rejected.sort(key=lambda r: r.index)
    if progress:
        progress(report)
    return report


def _import(store: Store, path: Path, now_ms: int, report: ImportReport, parked: _Parked,
            progress: Callable[[ImportReport], None] | None) -> None:
    batch: list[tuple[int, bytes]] = []

    def park(index: int, entry: Entry) -> None:
        parked.add(index, entry)

    # A two-stage pipeline: batch k+1 is decoded while batch k's signatures are checked.
    in_flight: tuple[list[tuple[int, bytes]], PreparedBatch] | None = None

    # The collector is paused for spans of batches (trustnet.heap): a batch's records die by
    # reference counting, and a collection after each would walk the two batches in flight.
    # It runs between spans, so a cycle made meanwhile waits one span at most.
    paused = contextlib.ExitStack()
    advanced = 0

    def advance(items: list[tuple[int, bytes]] | None) -> None:
        nonlocal in_flight, advanced
        if advanced % PAUSED_BATCHES == 0:
            paused.close()
            paused.enter_context(gc_paused())
        advanced += 1
        prepared = None if items is None else (items, store.prepare([raw for _, raw in items]))
        if in_flight is not None:
            done_items, done = in_flight
            _account(report, store.commit(done, now_ms), done_items, park)
        in_flight = prepared

    with paused:
        try:
            for raw in iter_bundle(path):
                batch.append((report.read, raw))
                report.read += 1
                if len(batch) >= BATCH:
                    advance(batch)
                    batch = []
                    if progress:
                        progress(report)
        except BundleError as exc:
            report.stream_error = exc
        advance(batch or None)
        advance(None)

    # Entries that arrived ahead of their chain, in chain order: what still has a gap after
    # this pass has none of its chain's earlier entries anywhere in the bundle.
    def unresolved(index: int, entry: Entry) -> None:
        report.unresolved_gaps += 1
        report.reject(Rejected(index, entry.id_hex, "bad_seq", "entry's chain has a gap"))

    for items in parked.batches(BATCH):
        _account(report, store.ingest([raw for _, raw in items], now_ms), items, unresolved)
        if progress:
            progress(report)


def _account(
    report: ImportReport,
    result: IngestResult,
    items: list[tuple[int, bytes]],
    beyond_gap: Callable[[int, Entry], None],
) -> None:
    report.accepted += len(result.accepted)
    report.duplicates += result.duplicates
    report.forks += len(result.forks)
    for r in result.rejected:
        index, _ = items[r.index]
        report.reject(Rejected(index, r.id, r.code, r.message))
    if result.gaps:
        for index, raw in items:
            try:
                entry = decode_entry(raw, verify=False)
            except EntryError:
                continue
            head = result.gaps.get(entry.author)
            if head is not None and entry.seq > head + 1:
                beyond_gap(index, entry)


def _id_of(raw: bytes) -> str | None:
    try:
        return decode_entry(raw, verify=False).id_hex
    except EntryError:
        return None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verifying a bundle or a store without writing anything.

    `rejected` names the first `MAX_REJECTED_KEPT` invalid entries, by position;
    `rejected_count` counts them all and `rejected_codes` by code.
    """

    entries: int
    authors: int
    rejected: tuple[Rejected, ...]
    forks: int
    stream_error: str | None
    rejected_count: int = 0
    rejected_codes: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """True when everything verified."""
        return not self.rejected_count and not self.stream_error and not self.forks


def verify_stream(raws: Iterable[bytes], now_ms: int, *, spill_dir: Path | None = None
                  ) -> VerifyReport:
    """Check every entry: signature, body, timestamps and each author's chain.

    Entries are checked on their own as they stream by; what the chain rules need of each
    (author, seq, id, prev, ts: ~120 bytes) waits in a temporary SQLite file under
    `spill_dir`, so memory does not grow with the bundle, and is walked in chain order.
    """
    rejected: list[Rejected] = []
    codes: Counter[str] = Counter()

    def reject(r: Rejected) -> None:
        codes[r.code] += 1
        if len(rejected) < MAX_REJECTED_KEPT:
            rejected.append(r)

    fd, name = tempfile.mkstemp(prefix="trustnet-verify-", suffix=".sqlite", dir=spill_dir)
    os.close(fd)
    db = sqlite3.connect(name)
    read = forks = authors = 0
    stream_error = None
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; CREATE TABLE chain "
                         "(author BLOB, seq INTEGER, idx INTEGER, id BLOB, prev BLOB, ts INTEGER, "
                         "ok INTEGER, raw BLOB)")
        try:
            for index, raw in enumerate(raws):
                read += 1
                try:
                    e = decode_entry(raw, verify=False)
                except EntryError as exc:
                    reject(Rejected(index, _id_of(raw), exc.code, exc.message))
                    continue
                # Most entries are signed by their author key (no rotation before them): checked
                # here. The others, and the key events, keep their bytes for the chain walk,
                # which knows the key state then (docs/keys.md).
                ok = _signed_by(e.author, e)
                if ok:
                    try:
                        statement_of(e)
                    except EntryError as exc:
                        reject(Rejected(index, e.id_hex, exc.code, exc.message))
                        continue
                keep = raw if not ok or e.kind in KEY_KINDS else None
                db.execute("INSERT INTO chain VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           (e.author, e.seq, index, e.id, e.prev, e.ts, ok, keep))
        except BundleError as exc:
            stream_error = str(exc)
        author: bytes | None = None
        head: ChainHead | None = None
        state: KeyState | None = None
        for a, seq, index, ident, prev, ts, ok, kept in db.execute(
                "SELECT author, seq, idx, id, prev, ts, ok, raw FROM chain "
                "ORDER BY author, seq, idx"):
            if a != author:
                if head is not None:
                    authors += 1
                author, head, state = a, None, None
            if head is not None and seq == head.seq:  # the seq its chain holds already
                if ident != head.id:
                    forks += 1
                    reject(Rejected(index, ident.hex(), "fork", f"equivocation at seq {seq}"))
                continue
            try:
                state = _check_keys(state, ok, kept)
                _check_link(seq, prev, ts, head, now_ms)
            except EntryError as exc:
                reject(Rejected(index, ident.hex(), exc.code, exc.message))
                continue
            head = ChainHead(seq, ident, ts)
        if head is not None:
            authors += 1
    finally:
        db.close()
        Path(name).unlink(missing_ok=True)
    rejected.sort(key=lambda r: r.index)
    return VerifyReport(read, authors, tuple(rejected), forks, stream_error, sum(codes.values()),
                        codes)


def _signed_by(key: bytes, e: Entry) -> bool:
    try:
        verify_signature(key, e.payload, e.sig)
    except EntryError:
        return False
    return True


def _check_keys(state: KeyState | None, ok: bool, kept: bytes | None) -> KeyState | None:
    """The signature of a chain's next entry under the key in force (keys.py), its body when
    not checked yet, and the key state after it."""
    if kept is None:  # signed by the author key, and no key event
        if state is not None and state.rotated:
            raise EntryError("signature does not verify (a retired key)", code="bad_signature")
        return state
    e = decode_entry(kept, verify=False)
    if not (ok and signer(state, e) == e.author) and not _signed_by(signer(state, e), e):
        raise signature_error(e)
    if not ok:
        statement_of(e)
    return apply_keys(state, e) if e.kind in KEY_KINDS else state


def _check_link(seq: int, prev: bytes | None, ts: int, head: ChainHead | None, now_ms: int) -> None:
    """`check_chain` then `check_timestamp`, on the fields they read (no Entry kept)."""
    expected = 1 if head is None else head.seq + 1
    if seq != expected:
        raise EntryError(f"seq {seq} does not follow {expected - 1}", code="bad_seq")
    if head is not None:
        if prev != head.id:
            raise EntryError(f"prev of seq {seq} is not the id of seq {head.seq}", code="bad_prev")
        if ts < head.ts:
            raise EntryError(f"ts {ts} is before the previous entry's {head.ts}", code="bad_timestamp")
    if ts > now_ms + MAX_FUTURE_MS:
        raise EntryError(f"ts {ts} is {ts - now_ms} ms ahead of this node's clock "
                         f"(limit {MAX_FUTURE_MS})", code="bad_timestamp")
