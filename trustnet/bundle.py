"""Bundles: a plain msgpack stream of entries (each element is one entry, `[payload, sig]`).

Reading is bounded and keeps going past bad entries: each element is sliced out
of the file as the exact bytes written, checked on its own, and a bad one is
named with its index and code. Only a broken stream (an element that is not
msgpack at all, or larger than any entry can be) stops the reading, and what
was read before it is kept.
"""

from __future__ import annotations

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
from trustnet.log import (
    MAX_ENTRY_BYTES,
    ChainHead,
    Entry,
    check_chain,
    check_timestamp,
    decode_entry,
)
from trustnet.store import IngestResult, PreparedBatch, Rejected, Store

BATCH = 2000


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
                unpacker.unpack()
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

    Entries beyond a gap wait in a temporary SQLite file under `spill_dir` (default: the
    system's temporary directory) and are retried once the whole bundle was read.
    """
    report = ImportReport()
    parked = _Parked(spill_dir)
    try:
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

    def advance(items: list[tuple[int, bytes]] | None) -> None:
        nonlocal in_flight
        prepared = None if items is None else (items, store.prepare([raw for _, raw in items]))
        if in_flight is not None:
            done_items, done = in_flight
            _account(report, store.commit(done, now_ms), done_items, park)
        in_flight = prepared

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
                entry = decode_entry(raw, verify=False, check_body=False)
            except EntryError:
                continue
            head = result.gaps.get(entry.author)
            if head is not None and entry.seq > head + 1:
                beyond_gap(index, entry)


def _id_of(raw: bytes) -> str | None:
    try:
        return decode_entry(raw, verify=False, check_body=False).id_hex
    except EntryError:
        return None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of verifying a bundle or a store without writing anything."""

    entries: int
    authors: int
    rejected: tuple[Rejected, ...]
    forks: int
    stream_error: str | None

    @property
    def ok(self) -> bool:
        """True when everything verified."""
        return not self.rejected and not self.stream_error and not self.forks


def verify_stream(raws: Iterable[bytes], now_ms: int) -> VerifyReport:
    """Check every entry: signature, body, timestamps and each author's chain."""
    heads: dict[bytes, ChainHead] = {}
    by_seq: dict[tuple[bytes, int], bytes] = {}
    rejected: list[Rejected] = []
    entries: list[tuple[int, Entry]] = []
    forks = 0
    read = 0
    stream_error = None
    try:
        for index, raw in enumerate(raws):
            read += 1
            try:
                entries.append((index, decode_entry(raw)))
            except EntryError as exc:
                rejected.append(Rejected(index, _id_of(raw), exc.code, exc.message))
    except BundleError as exc:
        stream_error = str(exc)
    entries.sort(key=lambda ie: (ie[1].author, ie[1].seq))
    for index, entry in entries:
        seen = by_seq.get((entry.author, entry.seq))
        if seen is not None:
            if seen != entry.id:
                forks += 1
                rejected.append(Rejected(index, entry.id_hex, "fork", f"equivocation at seq {entry.seq}"))
            continue
        try:
            check_chain(entry, heads.get(entry.author))
            check_timestamp(entry, now_ms)
        except EntryError as exc:
            rejected.append(Rejected(index, entry.id_hex, exc.code, exc.message))
            continue
        heads[entry.author] = ChainHead.of(entry)
        by_seq[(entry.author, entry.seq)] = entry.id
    rejected.sort(key=lambda r: r.index)
    return VerifyReport(read, len(heads), tuple(rejected), forks, stream_error)
