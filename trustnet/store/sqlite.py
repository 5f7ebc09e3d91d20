"""The durable store: SQLite in WAL mode, one database per node directory (DESIGN section 5).

- An entry the node signs itself is committed with synchronous=FULL before
  `append_own` returns, so it is durable before it is acknowledged or gossiped
  and a crash can never make the node sign the same seq twice.
- Foreign entries are ingested idempotently, in one transaction per batch (a large
  batch on the ingest workers: per slice; a bundle import: per group of batches), in
  chain order; entries that arrive beyond a gap are not stored but reported, so
  the caller fetches the missing range instead of guessing.
- Two validly signed entries with one author and seq become a fork proof,
  stored and reported, never silently dropped.
- It implements the gossip protocol's replica interface (`trustnet.protocol.replica`),
  whose records (`IngestResult`, `Rejected`) it re-exports.
- One writer per node directory: `open_dir` takes an exclusive lock on
  `store.lock`; a second process gets `StoreError(code="locked")`.

This module is the `Store` and its write path (own entries, ingest, forks, key states,
recovery rotations). Its parts: the file and its tables (`store.schema`), signature
checks on threads (`store.verify`), the read side the analysis and API page through
(`store.reads`), and rows found corrupted set aside (`store.quarantine`).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import sqlite3
import struct
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from trustnet.config.ownlog import clear_new_log, is_new_log
from trustnet.errors import EntryError, ForkProofError, StoreError
from trustnet.heap import gc_paused
from trustnet.identity import Identity
from trustnet.log.entry import (
    MAX_FUTURE_MS,
    ChainHead,
    Entry,
    ForkProof,
    Header,
    check_chain,
    check_timestamp,
    decode_entry,
    decode_fork_proof,
    peek_entry,
    peek_header,
    verify_signature,
)
from trustnet.log.keys import (
    KEY_KINDS,
    ROTATION_KIND,
    KeyState,
    apply as apply_keys,
    evidence_signer,
    key_digest,
    signature_error,
    signer,
)
from trustnet.protocol.recon_index import HeadIndex, MoveMark, item_hash
from trustnet.protocol.replica import (
    ForkLog,
    ForkMark,
    IngestResult as IngestResult,  # re-exported
    Rejected as Rejected,  # re-exported
)
from trustnet.statements.entries import sign_statement, statement_of
from trustnet.store.authors import AuthorIndex
from trustnet.store.quarantine import Quarantine
from trustnet.store.reads import EntryReads, Profile
from trustnet.store.schema import DB_FILE, LOCK_FILE, Transaction, connect, stored as _stored
from trustnet.store.verify import CHUNK, SignatureVerifier, VerifyPart, signatures_ok
from trustnet.store.workers import (
    BODY_BAD,
    DECODE_BAD,
    FAILED,
    OK,
    SIG_BAD,
    STOPPED,
    IngestPool,
    Job,
    peek,
)

log = logging.getLogger("trustnet.store")


@dataclass(slots=True)
class PreparedBatch:
    """A batch decoded and deduplicated, its signatures being checked (see `Store.prepare`)."""

    rejected: list[Rejected]
    fresh: list[tuple[int, Entry, bytes | None]]  # (index, entry, key checked under)
    duplicates: int
    unchecked: list[Entry]
    signers: list[bytes]  # the key each unchecked entry was verified under
    pending: list[VerifyPart]
    bad_body: dict[bytes, EntryError]
    pooled: list[tuple[int, Entry, bytes]]  # (index, entry, key) checked by ingest workers
    jobs: list[Job]  # their chunks, in order
    # Every author's entries came in seq order (then the batch may commit in slices).
    ordered: bool = True


def _submit(pool: IngestPool, chunk: list[tuple[int, Entry, bytes]]) -> Job:
    """Send a chunk to the pool: raw bytes, and the key only where it is not the author's."""
    return pool.submit([e.raw for _, e, _ in chunk],
                       [None if key == e.author else key for _, e, key in chunk])


def _seq_of(item: tuple[int, Entry, bytes | None]) -> int:
    return item[1].seq


def _author_of(item: tuple[int, Entry, bytes | None]) -> bytes:
    return item[1].author


def _entry_author(entry: Entry) -> bytes:
    return entry.author


GROUP_ENTRIES = 10_000  # entries per commit of a bulk import (`Store.grouped`)
SLICE_ENTRIES = 1024  # a large pooled batch commits in slices of about this many entries


async def _first_of(work: Awaitable[None], until: Awaitable[bool]) -> bool:
    """Run `work` until it ends or `until` gives True; whether `until` came first (`work`
    is then cancelled). `until` giving False leaves `work` to end. A cancellation of the
    caller is never swallowed: the helpers are cancelled and waited for with
    `asyncio.wait`, which raises the caller's own cancellation and none of theirs."""
    job = asyncio.ensure_future(work)
    turn = asyncio.ensure_future(until)
    try:
        done, _ = await asyncio.wait((job, turn), return_when=asyncio.FIRST_COMPLETED)
        if job not in done and turn.result():
            return True
        await job
        return False
    finally:
        left = [t for t in (job, turn) if not t.done()]
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left)
        for task in (job, turn):
            if not task.cancelled():
                task.exception()  # retrieved: an error is raised above or does not matter


def _slices(batch: PreparedBatch, size: int) -> list[PreparedBatch] | None:
    """`batch` cut in slices of whole worker chunks (at least `size` entries, but the last
    chunk alone), in the order it came, each in chain order
    (by author, stable); None when it commits whole: small, not all on the workers
    (entries checked in process have no chunk), some author's entries out of seq order (a
    later slice would hold what an earlier one needs), or key events among them. A slice
    that fails (the database, the pool) raises with the slices before it stored: the store
    and its memory agree, the caller gets no result for them (as after a crash)."""
    jobs = batch.jobs
    if (len(jobs) < 2 or not batch.ordered or len(batch.pooled) != len(batch.fresh)
            or len(batch.pooled) <= size
            or any(e.kind in KEY_KINDS for _, e, _ in batch.pooled)):
        # Key events: a recovery rotation's checks look at what the same pass accepted
        # before it (an earlier slice would have stored that instead).
        return None
    parts: list[PreparedBatch] = []
    start = taken = first_job = 0
    for k, job in enumerate(jobs):
        taken += len(job.raws)
        # The last chunk is a slice of its own: the workers are idle while this process
        # stores the last slice, so it is the smallest (one commit more a batch, ~1.5 ms,
        # against ~10 ms of both workers waiting; `bench gossip` +2-3 %). Smaller slices
        # before it, ending at what is left after them, cost a commit each and measured no
        # better (stop 29, docs/benchmarks.md).
        if taken - start < size and k < len(jobs) - 2:
            continue
        pooled = batch.pooled[start:taken]
        first = not parts
        parts.append(PreparedBatch(
            batch.rejected if first else [], sorted(pooled, key=_author_of),
            batch.duplicates if first else 0, [], [], [], {}, pooled, jobs[first_job:k + 1]))
        start, first_job = taken, k + 1
    return parts


_PUMP_ROWS = 128  # rows inserted between two looks at the ingest workers (`_pumping`)


def _pumping(rows: Iterable[tuple[Any, ...]], pool: IngestPool) -> Iterator[tuple[Any, ...]]:
    """`rows`, dealing the pool's waiting chunks every `_PUMP_ROWS` of them: a slice of a
    thousand rows takes ~10 ms to insert, longer than the workers' small last chunks."""
    for k, row in enumerate(rows):
        if k % _PUMP_ROWS == 0:
            pool.pump()
        yield row


def _merged(results: list[IngestResult]) -> IngestResult:
    """The result of a batch committed in slices (`_slices`), as one commit reports it."""
    gaps: dict[bytes, int] = {}
    for r in results:
        for author, head in r.gaps.items():
            gaps.setdefault(author, head)
    # One pass lists them by author (chain order within each): so do the slices, stably.
    return IngestResult(
        tuple(sorted((e for r in results for e in r.accepted), key=_entry_author)),
        sum(r.duplicates for r in results),
        tuple(sorted((x for r in results for x in r.rejected), key=lambda x: x.index)),
        tuple(sorted((p for r in results for p in r.forks), key=lambda p: p.author)), gaps)


def _recoveries(state: KeyState) -> int:
    return sum(p.compromised_since is not None for p in state.periods)




class Store(EntryReads, Quarantine, AuthorIndex):
    """Entries, forks and heads of one node. Not thread-safe: one owner (the node) uses it."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        lock_file: IO[str] | None = None,
        readonly: bool = False,
        verify_threads: int | None = None,
    ) -> None:
        self.path = path
        self.readonly = readonly
        # This node's own author (set by the node): its chain is never rolled back.
        self.own_author: bytes | None = None
        self._verifier = SignatureVerifier(
            max(1, min(4, os.cpu_count() or 1)) if verify_threads is None else verify_threads)
        self._pool: IngestPool | None = None
        # Entries sent to the ingest workers ahead of their batch, under their author's key
        # (`checked_ahead`): raw bytes -> (the chunk, the entry's place in it, the entry
        # peeked), while the batch is answered.
        self._checked: dict[bytes, tuple[Job, int, Entry]] = {}
        self._slice_entries = SLICE_ENTRIES  # see `commit` (tests make it small)
        self._group: int | None = None  # entries per commit while `grouped`, else None
        self._grouped_rows = 0  # entries inserted since the group's last commit
        self._lock_file = lock_file
        target = ":memory:" if path is None else str(path)
        try:
            self._db = connect(path, readonly=readonly)
            # Witnessed times (issue 14 item 4) stand for the receipt time where they exist;
            # a read-only look at a store no node opened since they came has no such table.
            self._when = "received" if self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE name='witnessed'").fetchone() is None \
                else "COALESCE((SELECT time FROM witnessed w WHERE w.id = entries.id), received)"
            self._load()
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            raise StoreError(f"cannot open store {target}: {exc}", code="bad_store") from None
        self._digest: bytes | None = None
        self._index: HeadIndex | None = None  # reconciliation fingerprints: built when first asked
        self._fork_log = ForkLog()  # fork proofs added or changed, for `fork_changes`
        # Bumped whenever a key state changes: the analysis recomputes (revocations).
        self.keys_epoch = 0
        # The node directory while its `init` marker says the key never signed (recovery.py).
        self._new_log_dir: Path | None = None
        self._profiles: dict[str, Profile] = {}
        self._profiles_cursor = 0
        self._sorted_authors: list[bytes] | None = None  # made when first asked (store.authors)

    def _load(self) -> None:
        """What the store keeps in memory of its file: heads, key states, forked authors, the
        count (at open, and again after a group's commit failed)."""
        self._heads: dict[bytes, ChainHead] = {
            author: ChainHead(seq, id_, ts)
            for author, seq, id_, ts in self._db.execute(
                "SELECT e.author, e.seq, e.id, e.ts FROM entries e JOIN "
                "(SELECT author, MAX(seq) AS seq FROM entries GROUP BY author) h "
                "ON e.author = h.author AND e.seq = h.seq"
            )
        }
        # Key states (trustnet/log/keys.py) follow from the few keys/rotation entries held.
        self._keys: dict[bytes, KeyState] = {}
        for (raw,) in self._db.execute(
            "SELECT raw FROM entries WHERE kind IN ('keys', 'rotation') ORDER BY author, seq"
        ):
            e = _stored(raw)
            state = apply_keys(self._keys.get(e.author), e)
            if state is not None:
                self._keys[e.author] = state
        self._forked: set[bytes] = set()
        for author, p in self._db.execute("SELECT author, proof FROM forks"):
            try:
                proof = decode_fork_proof(bytes(p), verify=False)
            except ForkProofError:
                self._forked.add(bytes(author))  # as before keys: every stored proof counts
                continue
            if not self._disowned(proof):
                self._forked.add(proof.author)
        (self._count,) = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def open_dir(cls, node_dir: Path, *, readonly: bool = False) -> Store:
        """Open the store of a node directory, taking its one-writer lock unless `readonly`."""
        node_dir = Path(node_dir)
        if not node_dir.is_dir():
            raise StoreError(f"{node_dir} is not a node directory (run `trustnet init` first)",
                             code="no_node")
        if readonly:
            return cls(node_dir / DB_FILE, readonly=True)
        lock_path = node_dir / LOCK_FILE
        lock = open(lock_path, "a+")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise StoreError(
                f"{node_dir} is in use by pid {holder}; one writer per node directory "
                "(stop the running node, or talk to it over HTTP)",
                code="locked",
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        store = cls(node_dir / DB_FILE, lock_file=lock)
        store._new_log_dir = node_dir if is_new_log(node_dir) else None
        return store

    def use_pool(self, pool: IngestPool | None) -> None:
        """Check large batches on `pool`'s worker processes (None: in process). The pool is
        its owner's to start and stop (the daemon's, the import command's)."""
        self._pool = pool

    def close(self) -> None:
        """Close the database and release the directory lock."""
        self._verifier.close()
        try:
            self._db.close()
        finally:
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------

    def append_own(self, identity: Identity, kind: str, body: Mapping[str, Any], ts: int,
                   received: int | None = None) -> Entry:
        """Sign the next entry of `identity`'s chain and commit it durably before returning.

        `received`: when it counts as received here (default `ts`); a node that signs a
        backdated `ts` records the real time, so its own view judges it as backdated too."""
        author = identity.author
        recovery = kind == "rotation" and body.get("compromised_since") is not None
        if author in self._forked and not recovery:
            # A rotation that disowns a stolen key is the way out of a fork the thief made.
            raise StoreError("this identity has equivocated; refusing to sign more", code="forked")
        head = self._heads.get(author)
        seq, prev, ts = (1, None, ts) if head is None else (head.seq + 1, head.id, max(ts, head.ts))
        if self._new_log_dir is not None:
            # DESIGN 12: "this key never signed" must be gone from disk before it has.
            clear_new_log(self._new_log_dir)
            self._new_log_dir = None
        entry = sign_statement(identity, seq=seq, prev=prev, ts=ts, kind=kind, body=body)
        state = self._keys.get(author)
        if signer(state, entry) != identity.public_key:
            raise StoreError(
                f"{identity.key_id[:16]}… is not this party's signing key at seq {seq} "
                "(rotated already? run with the current identity.key)", code="wrong_key")
        new_state = apply_keys(state, entry) if kind in KEY_KINDS else state
        with self._transaction():
            self._insert([entry], received=ts if received is None else max(received, ts))
        self._advance(entry)
        if new_state is not None and new_state is not state:
            self._set_keys(new_state)
        if self._group is not None:
            self._commit_group()  # DESIGN 5: durable before it is returned
        return entry

    @contextmanager
    def grouped(self, entries: int = GROUP_ENTRIES) -> Iterator[None]:
        """Commit the batches of a bulk import together: one transaction per `entries`
        entries stored rather than one per batch (`trustnet import`; a bundle's entries are
        others', which the node can fetch again). The entries' index of ids is written all
        over: each commit writes most of its pages, so 5 batches a commit cost half as much
        (`bench ingest`). Each batch is a savepoint inside the group's transaction: one that
        fails undoes only itself, as its own transaction did; what the group holds is
        committed at the end, also when the import stops on an error. An own entry
        (`append_own`) commits the group at once: it is durable before it is returned.
        A commit that fails loses what the group held since the last one: the store then
        reads its state from the file again, and the error is raised."""
        if self._group is not None or self.readonly:
            yield
            return
        self._group, self._grouped_rows = max(1, entries), 0
        failed = True
        try:
            yield
            failed = False
        finally:
            self._group = None
            try:
                self._commit_group()
            except StoreError:
                if not failed:
                    raise
                # The import's own error goes on; this one is logged.
                log.exception("committing a bulk import after it failed")

    def _commit_group(self) -> None:
        """Commit what a group holds (nothing open: nothing to do)."""
        self._grouped_rows = 0
        if not self._db.in_transaction:
            return
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._reload()
            raise StoreError(f"a bulk import's commit failed ({exc}); what it held since its "
                             "last commit is not stored", code="bad_store") from exc

    def ingest(self, items: Iterable[bytes | Entry], now_ms: int) -> IngestResult:
        """Verify and store a batch of foreign entries: idempotent, in chain order.

        `bytes` items are fully verified here. `Entry` items must come from
        `decode_entry` (which verified them) or `sign_entry`: their signatures are not
        verified again (their bodies are parsed, once per entry).
        """
        with gc_paused():  # its records die by reference counting (trustnet.heap)
            return self.commit(self.prepare(items), now_ms)

    def prepare(self, items: Iterable[bytes | Entry]) -> PreparedBatch:
        """First half of `ingest`: decode, drop what is held, start the signature checks.

        A caller with many batches (a bundle import) prepares the next batch while
        the verifier threads (or the ingest workers) still work on the previous one, then
        `commit`s in order. With an ingest pool (`use_pool`) and at least its `min_batch`
        items, the workers decode, check the bodies and verify; this process only peeks
        at each entry (its author, seq and id) to drop what is held.
        """
        items = items if isinstance(items, list | tuple) else list(items)
        pool = self._pool if self._pool is not None and self._pool.running else None
        if pool is not None and len(items) < pool.min_batch:
            pool = None
        # The entries each chunk for the pool takes, in order; the last size repeats.
        plan = [] if pool is None else pool.plan(len(items))
        step = plan[0] if plan else 0
        pooled_start = 0  # the first entry of `pooled` not sent in a chunk yet
        rejected: list[Rejected] = []
        # Per author, (index, entry, the key its signature is checked under; None: checked
        # already), in the order they came; `fresh` below puts them in chain order.
        runs: dict[bytes, list[tuple[int, Entry, bytes | None]]] = {}
        unordered: set[bytes] = set()  # authors whose entries came out of seq order
        local: list[Entry] = []  # fresh entries whose bodies are checked in this process
        unchecked: list[Entry] = []
        signers: list[bytes] = []
        pending: list[VerifyPart] = []
        pooled: list[tuple[int, Entry, bytes]] = []  # (index, entry, key) checked by the pool
        jobs: list[Job] = []
        duplicates = 0
        chunk_start = 0
        heads, keys, ahead = self._heads, self._keys, self._checked
        for index, item in enumerate(items):
            peeked = False
            if isinstance(item, Entry):
                entry, checked = item, True
            elif pool is not None and (seen := ahead[item][2] if ahead and item in ahead
                                       else peek(item)) is not None:
                entry, checked, peeked = seen, False, True
            else:
                try:
                    # Signature and body are checked below, and only for entries that are new.
                    entry, checked = decode_entry(item, verify=False), False
                except EntryError as exc:
                    rejected.append(Rejected(index, None, exc.code, exc.message))
                    continue
            # Duplicates of stored entries cost one lookup and no signature check.
            author = entry.author
            head = heads.get(author)
            if (head is not None and entry.seq <= head.seq
                    and self._id_at(author, entry.seq, ()) == entry.id):
                duplicates += 1
                continue
            run = runs.get(author)
            if run is None:
                run = runs[author] = []
            elif run[-1][1].seq > entry.seq:
                unordered.add(author)
            if checked:
                run.append((index, entry, None))
                local.append(entry)
                continue
            # The key in force now (an author that never rotated: its own); `commit`
            # checks again if the batch rotates first.
            key = (author if author not in keys and entry.kind != ROTATION_KIND
                   else self._signer(entry, head))
            run.append((index, entry, key))
            if peeked:
                assert pool is not None
                pooled.append((index, entry, key))
                if len(pooled) - pooled_start == step:
                    jobs.append(self._submit(pool, pooled[pooled_start:]))
                    pooled_start = len(pooled)
                    step = plan[len(jobs)] if len(jobs) < len(plan) else step
            else:
                local.append(entry)
                unchecked.append(entry)
                signers.append(key)
                if len(unchecked) - chunk_start >= CHUNK:
                    # Signatures are the cost of ingest: the verifier threads start on this
                    # chunk while the next one is decoded here.
                    pending += self._verifier.start(list(zip(unchecked[chunk_start:], signers[chunk_start:], strict=True)))
                    chunk_start = len(unchecked)
        if pool is not None and len(pooled) > pooled_start:
            jobs.append(self._submit(pool, pooled[pooled_start:]))
        if len(jobs) > 1 and all(j.parts is not None and j.settled() for j in jobs):
            # Every chunk checked ahead and answered: one transaction (slices would only add
            # commits, with nothing left to check while they store).
            jobs = [Job([r for j in jobs for r in j.raws], [k for j in jobs for k in j.keys],
                        b"", parts=[p for j in jobs for p in j.parts or ()])]
        pending += self._verifier.start(list(zip(unchecked[chunk_start:], signers[chunk_start:], strict=True)))
        # Chain order: by author, each author's entries by seq (stable, as they came among
        # equal seqs); a bulk batch comes in order per author, so only runs that did not are
        # sorted.
        fresh: list[tuple[int, Entry, bytes | None]] = []
        for author in sorted(runs):
            run = runs[author]
            if author in unordered:
                run.sort(key=_seq_of)
            fresh += run
        # While the verifier threads run outside the GIL, check the bodies here: each
        # parsed once (an entry decoded or signed as a statement already holds its record).
        # The pool's workers check the bodies of theirs.
        bad_body: dict[bytes, EntryError] = {}
        for entry in local:
            try:
                statement_of(entry)
            except EntryError as exc:
                bad_body[entry.id] = exc
        return PreparedBatch(rejected, fresh, duplicates, unchecked, signers, pending, bad_body,
                             pooled, jobs, not unordered)

    def _submit(self, pool: IngestPool, chunk: list[tuple[int, Entry, bytes]]) -> Job:
        """Send a chunk to the pool, unless every entry of it was sent ahead under the key it
        is checked under now (its author's): then a chunk that reads their statuses."""
        ahead = self._checked
        if ahead:
            parts: list[tuple[Job, int]] = []
            for _, e, key in chunk:
                known = ahead.get(e.raw) if key == e.author else None
                if known is None:
                    return _submit(pool, chunk)
                parts.append((known[0], known[1]))
            return Job([e.raw for _, e, _ in chunk], [None] * len(chunk), b"", parts=parts)
        return _submit(pool, chunk)

    @asynccontextmanager
    async def checked_ahead(self, raws: Sequence[bytes], *, whole: bool = True,
                            until: Callable[[], Awaitable[bool]] | None = None
                            ) -> AsyncIterator[int]:
        """Send to the ingest workers, before a batch is ingested, those of its entries
        `prepare` would send them: new entries (beyond their chain's head) of authors held
        here that never rotated, each under its author's key; then wait, without blocking
        the event loop, for their statuses (`whole`) or for the first slice's. Inside the
        block, `prepare` reads their statuses from those chunks (waiting for what is not in
        yet, as for its own) instead of sending them again; after it, nothing is kept.
        Yields how many were sent ahead (0: too few for the workers, or no pool).

        A node answering a large push does this between the request's admission and its
        turn: while it stores one push the workers check the next, and the event loop is
        free to take in the one after. Nothing else is sent ahead: entries held already cost
        one lookup and no check in `prepare`, and an author's first entries wait for the
        new-author admission (a stranger's flood of fresh keys is refused before any check).

        `until`, with `whole`: once what it makes gives True before every status is in, wait
        for the first slice's only (a push whose turn came while its last chunks are checked,
        and nothing behind it to take in, stores its slices as they are checked: its inserts
        overlap the workers instead of following them)."""
        pool = self._pool
        mine: list[bytes] = []  # the raws this call put in `_checked` (it takes them out)
        jobs: list[Job] = []
        try:
            try:
                if pool is not None and pool.running and len(raws) >= pool.min_batch:
                    with gc_paused():
                        self._send_ahead(pool, raws, mine, jobs)
                if jobs and pool is not None:
                    if whole and until is not None and await _first_of(pool.wait(jobs), until()):
                        whole = False
                    await pool.wait(jobs if whole else self._first_slice(jobs))
            except Exception as exc:  # the spawn of a worker failed, say: checked when ingested
                log.warning("entries not checked ahead (%r): checked as they are ingested", exc)
                for raw in mine:
                    self._checked.pop(raw, None)
                mine.clear()
            yield len(mine)
        finally:
            for raw in mine:
                self._checked.pop(raw, None)

    def _send_ahead(self, pool: IngestPool, raws: Sequence[bytes], mine: list[bytes],
                    jobs: list[Job]) -> None:
        """`checked_ahead`'s chunks: sent as they fill, the workers starting while the rest
        is read, once there are enough for them at all (`min_batch`; fewer: none). Appends
        the raws kept in `_checked` to `mine` and the chunks to `jobs`."""
        heads, keys, ahead = self._heads, self._keys, self._checked
        plan = pool.plan(len(raws))  # as `prepare` cuts a batch; fewer may be picked
        picked: list[tuple[bytes, Header]] = []
        for raw in raws:
            header = peek_header(raw)
            if header is None or raw in ahead:
                continue
            _, _, author, seq, _, _, kind = header
            head = heads.get(author)
            if head is None or seq <= head.seq or kind in KEY_KINDS or author in keys:
                continue
            picked.append((raw, header))
            while (len(picked) >= pool.min_batch and len(jobs) < len(plan)
                   and len(picked) - len(mine) >= plan[len(jobs)]):
                self._send_chunk(pool, picked[len(mine):len(mine) + plan[len(jobs)]], mine, jobs)
        if len(picked) >= pool.min_batch and len(picked) > len(mine):
            self._send_chunk(pool, picked[len(mine):], mine, jobs)

    def _send_chunk(self, pool: IngestPool, part: list[tuple[bytes, Header]],
                    mine: list[bytes], jobs: list[Job]) -> None:
        raws = [raw for raw, _ in part]
        job = pool.submit(raws, [None] * len(raws))
        for i, (raw, header) in enumerate(part):
            entry = peek_entry(raw, header)
            assert entry is not None  # its header was read (`_send_ahead`)
            self._checked[raw] = (job, i, entry)
            mine.append(raw)
        jobs.append(job)

    def _first_slice(self, jobs: list[Job]) -> list[Job]:
        """The chunks a batch's first slice takes (at least one)."""
        taken = 0
        for k, job in enumerate(jobs):
            taken += len(job.raws)
            if taken > self._slice_entries:
                return jobs[:max(1, k)]
        return jobs

    def _pooled_verdicts(self, batch: PreparedBatch) -> tuple[set[int], set[bytes]]:
        """Collect the pool's statuses: entries that did not decode or whose chunk failed are
        rejected now (as in-process decoding rejects them); bodies that failed are named in
        process. The indices dropped, and the ids whose signature failed."""
        if not batch.pooled:
            return set(), set()
        assert self._pool is not None
        statuses = b"".join(self._pool.result(job) for job in batch.jobs)
        if statuses.count(OK) == len(statuses):
            return set(), set()  # the common case: every entry passed
        dropped: set[int] = set()
        bad_sig: set[bytes] = set()
        for (index, entry, key), status in zip(batch.pooled, statuses, strict=True):
            if status == OK:
                continue
            if status in (FAILED, STOPPED):
                why = ("its chunk took down two ingest workers" if status == FAILED
                       else "the ingest workers stopped before checking it")
                batch.rejected.append(Rejected(
                    index, None, "worker_failed", f"{why}; not stored (it may be sent again)"))
                dropped.add(index)
                continue
            if status & DECODE_BAD:
                try:
                    decode_entry(entry.raw, verify=False)
                except EntryError as exc:
                    batch.rejected.append(Rejected(index, None, exc.code, exc.message))
                    dropped.add(index)
                    continue
                # Decoded here after all (never expected): every check in process.
                status = (0 if signatures_ok([(entry, key)])[0] else SIG_BAD) | BODY_BAD
            if status & SIG_BAD:
                bad_sig.add(entry.id)
            if status & BODY_BAD:
                try:
                    statement_of(entry)
                except EntryError as exc:
                    batch.bad_body[entry.id] = exc
        return dropped, bad_sig

    def commit(self, batch: PreparedBatch, now_ms: int) -> IngestResult:
        """Second half of `ingest`: chain rules, forks, and a transaction for what is new.

        A large batch the ingest workers check commits in slices, in the order it came: the
        first slice is stored while the workers still check the next ones, so their cores do
        not wait for this process's inserts (`bench gossip`: one push of thousands of
        entries). The result is the one a single transaction gives: every author's entries
        came in seq order (`PreparedBatch.ordered`), so each slice's chain checks see the
        slices before it stored, as one pass over the batch sees them accepted."""
        parts = _slices(batch, self._slice_entries)
        if parts is None:
            return self._commit(batch, now_ms)
        return _merged([self._commit(part, now_ms) for part in parts])

    def _commit(self, batch: PreparedBatch, now_ms: int) -> IngestResult:
        """`commit` of one batch or slice: one transaction."""
        dropped, bad_sig = self._pooled_verdicts(batch)
        rejected, fresh, duplicates, bad_body = batch.rejected, batch.fresh, batch.duplicates, batch.bad_body
        if dropped:
            fresh = [c for c in fresh if c[0] not in dropped]
        oks = self._verifier.finish(batch.pending)
        bad_sig.update(e.id for e, ok in zip(batch.unchecked, oks, strict=True) if not ok)
        limit = now_ms + MAX_FUTURE_MS

        # `fresh` is sorted by (author, seq): each author's entries are one run, checked
        # against a working head that starts at the held one and moves along the run (the
        # store's heads move with the transaction, once per run).
        keys: dict[bytes, KeyState] = {}  # key states changed by this batch
        accepted: list[Entry] = []
        forks: list[ForkProof] = []
        gaps: dict[bytes, int] = {}
        run_author: bytes | None = None
        head: ChainHead | None = None
        tip: Entry | None = None  # the run's last entry taken on the fast path: the head
        for index, entry, checked_by in fresh:
            if entry.author != run_author:
                run_author = entry.author
                head = self._heads.get(run_author)
                tip = None
            # Most entries extend their chain by a statement of an author that never rotated,
            # checked under the author's own key: taken here with the same checks as below
            # (link, order in time, the clock's bound, signature, body), and no more work.
            last: Entry | ChainHead | None = head if tip is None else tip
            if (last is not None and entry.seq == last.seq + 1 and entry.prev == last.id
                    and last.ts <= entry.ts <= limit and entry.kind not in KEY_KINDS
                    and (checked_by is None or checked_by == run_author)
                    and run_author not in self._keys and run_author not in keys
                    and entry.id not in bad_sig and entry.id not in bad_body):
                accepted.append(entry)
                tip = entry
                continue
            if tip is not None:
                head, tip = ChainHead.of(tip), None
            if (entry.kind == ROTATION_KIND and head is not None
                    and entry.body.get("compromised_since") is not None
                    and not any(e.author == entry.author for e in accepted)
                    and not (entry.seq == head.seq + 1 and entry.prev == head.id)
                    and self._id_at(entry.author, entry.seq, ()) != entry.id):
                # A recovery rotation that does not link (or may not: it lies beyond a gap):
                # what the stolen key signed after T comes off the chain, then the party's
                # branch is fetched. Entries of the party's own among them come back with it.
                back = self._displace_for(entry)
                if back is not None:
                    head = back
                    if entry.seq > back.seq + 1 or entry.prev != back.id:
                        gaps[entry.author] = back.seq  # the owner's branch is fetched next
                        continue
            try:
                if head is not None and entry.seq <= head.seq:
                    known = self._id_at(entry.author, entry.seq, accepted)
                    if known == entry.id:
                        duplicates += 1
                        continue
                    state = keys.get(entry.author) or self._keys.get(entry.author)
                    key = evidence_signer(state, entry)
                    if entry.id in bad_sig or (checked_by is not None and checked_by != key):
                        verify_signature(key, entry.payload, entry.sig)
                    proof = self._fork_with(entry, accepted)
                    if proof is not None and self._store_fork(proof):
                        forks.append(proof)
                    if proof is not None and proof.a.kind == proof.b.kind == ROTATION_KIND:
                        # Kept as the proof it is; the chain keeps the rotation it holds.
                        raise EntryError(f"seq {entry.seq}: two rotations at one place (the "
                                         "next key's holder equivocated)", code="bad_rotation")
                    continue
                if entry.seq > (head.seq if head else 0) + 1:
                    gaps[entry.author] = head.seq if head else 0
                    continue
                check_chain(entry, head)
                check_timestamp(entry, now_ms)
                state = keys.get(entry.author) or self._keys.get(entry.author)
                key = signer(state, entry)
                if checked_by is not None and checked_by != key:
                    # An earlier entry of this batch rotated the key: check under the new one.
                    ok = signatures_ok([(entry, key)])[0]
                else:
                    ok = entry.id not in bad_sig
                if not ok:
                    raise signature_error(entry)
                if entry.id in bad_body:
                    raise bad_body[entry.id]
                if entry.kind in KEY_KINDS:
                    new_state = apply_keys(state, entry)
                    if new_state is not None:
                        keys[entry.author] = new_state
            except EntryError as exc:
                rejected.append(Rejected(index, entry.id_hex, exc.code, exc.message))
                continue
            accepted.append(entry)
            head = ChainHead.of(entry)
        if accepted:
            with self._transaction():
                self._insert(accepted, received=now_ms)
            self._advance_all(accepted)
            for state in keys.values():
                self._set_keys(state)
        if self._group is not None and self._grouped_rows >= self._group:
            self._commit_group()
        rejected.sort(key=lambda r: r.index)
        return IngestResult(tuple(accepted), duplicates, tuple(rejected), tuple(forks), gaps)

    def _displace_for(self, rotation: Entry) -> ChainHead | None:
        """Take a thief's suffix off an author's chain for a recovery rotation that conflicts
        with it; the new head, or None when the rotation cannot be taken (docs/keys.md).

        The rotation must be signed by the committed next key (so only the party can do
        this) and carry `compromised_since` T. The suffix taken off is the longest run of
        the author's latest entries signed by the current key with ts > T: what the
        rotation revokes. Those entries move to the `displaced` table (kept); the fork
        proofs that hold them stay. A thief's entry that comes back is refused as not linking
        once the party's branch is held.
        """
        state = self._keys.get(rotation.author)
        since = rotation.body.get("compromised_since")
        key = signer(state, rotation)
        if (state is None or state.next is None or not isinstance(since, int)
                or key_digest(key) != state.next or not signatures_ok([(rotation, key)])[0]):
            return None
        start = state.periods[-1].from_seq
        run: list[tuple[Entry, int]] = []
        for (raw, received) in self._db.execute(
            "SELECT raw, received FROM entries WHERE author=? AND seq>=? ORDER BY seq DESC",
            (rotation.author, start),
        ):
            e = _stored(raw)
            if e.ts <= since or e.kind in KEY_KINDS:
                break
            run.append((e, received))
        if not run or run[-1][0].seq > rotation.seq:
            return None  # the conflict lies at or before T: the party cannot disown it
        low = run[-1][0].seq
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO displaced VALUES (?,?,?,?,?,?)",
                [(e.id, e.author, e.seq, e.raw, received, rotation.id) for e, received in run])
            self._db.execute("DELETE FROM entries WHERE author=? AND seq>=?", (rotation.author, low))
        self._count -= len(run)
        self._digest = None
        before = self.get_by_seq(rotation.author, low - 1)
        assert before is not None  # the run stops at a key event at the latest (seq >= 1)
        back = self._heads[rotation.author] = ChainHead.of(before)
        if self._index is not None:
            self._index.set_head(rotation.author, back.seq, back.id)
        log.warning("recovery rotation %s of %s: took seqs %d..%d off its chain (signed by the "
                    "stolen key after %d); its branch is fetched next", rotation.id.hex()[:12],
                    rotation.author.hex()[:12], low, run[0][0].seq, since)
        return back

    def _signer(self, entry: Entry, head: ChainHead | None) -> bytes:
        """The key `entry` is checked under in `prepare`: at the head, the key in force;
        below it (a would-be fork), the key that signed that place."""
        state = self._keys.get(entry.author)
        if head is not None and entry.seq <= head.seq:
            return evidence_signer(state, entry)
        return signer(state, entry)

    def _set_keys(self, state: KeyState) -> None:
        """Adopt an author's new key state; forks it disowns stop counting."""
        old = self._keys.get(state.author)
        self._keys[state.author] = state
        if _recoveries(state) != (0 if old is None else _recoveries(old)):
            self.keys_epoch += 1  # what is revoked changed
        if state.author in self._forked and all(
            self._disowned(p) for p in self._forks_of(state.author)
        ):
            self._forked.discard(state.author)
        # Which of its forks count may have changed: the fork book looks again (one that
        # stops counting may leave a higher one that still does as the author's proof).
        for (seq,) in self._db.execute("SELECT seq FROM forks WHERE author=?", (state.author,)):
            self._fork_log.note(state.author, seq, added=False)

    def _disowned(self, proof: ForkProof) -> bool:
        state = self._keys.get(proof.author)
        return state is not None and state.disowns(proof, self.witnessed_at)

    def witnessed_at(self, entry: Entry) -> int | None:
        """An entry's witnessed time (docs/witnesses.md), if it has one."""
        if self._when == "received":
            return None
        row = self._db.execute("SELECT time FROM witnessed WHERE id=?", (entry.id,)).fetchone()
        return None if row is None else int(row[0])

    def witnessed_changed(self, author: bytes) -> None:
        """An entry of `author` got a witnessed time: when the author declared a key
        compromised, what is revoked and which forks count may change (keys.py)."""
        state = self._keys.get(author)
        if state is None or all(p.compromised_since is None for p in state.periods):
            return
        self.keys_epoch += 1
        proofs = self._forks_of(author)
        for proof in proofs:  # which count may have changed either way: readers look again
            self._fork_log.note(proof.author, proof.seq, added=False)
        if proofs and all(self._disowned(p) for p in proofs):
            self._forked.discard(author)
        elif any(not self._disowned(p) for p in proofs):
            self._forked.add(author)

    def _forks_of(self, author: bytes) -> list[ForkProof]:
        return [p for p, _ in self.all_forks() if p.author == author]

    def add_fork(self, proof: ForkProof) -> bool:
        """Store a fork proof learned from elsewhere; True when it was new."""
        return self._store_fork(proof)

    def _store_fork(self, proof: ForkProof) -> bool:
        with self._transaction():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO forks VALUES (?, ?, ?, ?)",
                (proof.author, proof.seq, proof.encode(), max(proof.a.ts, proof.b.ts)),
            )
        if cur.rowcount:
            if not self._disowned(proof):
                self._forked.add(proof.author)
            self._fork_log.note(proof.author, proof.seq, added=True)
            return True
        return False

    def _fork_with(self, entry: Entry, pending: list[Entry]) -> ForkProof | None:
        other = self.get_by_seq(entry.author, entry.seq)
        if other is None:
            other = next((e for e in pending if e.author == entry.author and e.seq == entry.seq), None)
        return None if other is None else ForkProof.of(other, entry)

    def _id_at(self, author: bytes, seq: int, pending: Sequence[Entry]) -> bytes | None:
        row = self._db.execute(
            "SELECT id FROM entries WHERE author=? AND seq=?", (author, seq)
        ).fetchone()
        if row is not None:
            return bytes(row[0])
        for e in pending:
            if e.author == author and e.seq == seq:
                return e.id
        return None

    def _insert(self, entries: list[Entry], received: int) -> None:
        self._grouped_rows += len(entries)
        rows: Iterable[tuple[Any, ...]] = [
            (e.id, e.author, e.seq, e.ts, e.kind, e.raw, received) for e in entries]
        if self._pool is not None and len(entries) > _PUMP_ROWS:
            rows = _pumping(rows, self._pool)
        self._db.executemany(
            "INSERT INTO entries (id, author, seq, ts, kind, raw, received) VALUES (?,?,?,?,?,?,?)",
            rows)

    def _advance_all(self, accepted: list[Entry]) -> None:
        """`_advance` for a batch's accepted entries, once per author: its last one."""
        last = {e.author: e for e in accepted}
        for entry in last.values():
            self._advance(entry)
        self._count += len(accepted) - len(last)

    def _advance(self, entry: Entry) -> None:
        if entry.author not in self._heads:
            self._author_added(entry.author)
        self._heads[entry.author] = ChainHead.of(entry)
        self._count += 1
        self._digest = None
        if self._index is not None:
            self._index.set_head(entry.author, entry.seq, entry.id)

    def _transaction(self) -> Transaction:
        if self._group is None:
            return Transaction(self._db)
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")  # the group's: each write a savepoint in it
        return Transaction(self._db, lost=self._reload)

    def _reload(self) -> None:
        """Read the store's state from its file again: a group's transaction was lost (what
        it held is not stored). Readers of the fork log and the heads index start over."""
        self._grouped_rows = 0
        self._load()
        self._digest, self._index, self._sorted_authors = None, None, None
        self._fork_log = ForkLog()

    # -- reads of the replica interface (the rest: store.reads) --------------------------

    def heads(self) -> dict[bytes, tuple[int, bytes]]:
        """Every author's latest (seq, id): a copy."""
        return {a: (h.seq, h.id) for a, h in self._heads.items()}

    def head(self, author: bytes) -> ChainHead | None:
        """The latest entry of `author` held here."""
        return self._heads.get(author)

    def heads_digest(self) -> bytes:
        """sha256 over the sorted heads: equal digests mean equal heads (anti-entropy)."""
        if self._digest is None:
            h = hashlib.sha256(b"trustnet/v1/heads")
            pack = struct.Struct(">Q").pack
            for author in sorted(self._heads):
                head = self._heads[author]
                h.update(author + pack(head.seq) + head.id)
            self._digest = h.digest()
        return self._digest

    def _head_index(self) -> HeadIndex:
        if self._index is None:
            self._index = HeadIndex.of((author, item_hash(author, head.seq, head.id), 1)
                                       for author, head in self._heads.items())
        return self._index

    def prefix_fingerprint(self, prefix: str) -> tuple[int, int]:
        """(sum mod 2**128 of `item_hash` of the heads, count) of the authors under `prefix`
        (protocol.recon_index: kept as heads move, so a short prefix is one lookup)."""
        return self._head_index().fingerprint(prefix)

    def head_moves(self, mark: MoveMark | None) -> tuple[MoveMark, list[bytes] | None]:
        """The authors whose head changed since `mark` (protocol.recon_index: the index logs
        every route that moves a head once asked), None when not all are known."""
        return self._head_index().moves_since(mark)

    def prefix_authors(self, prefix: str) -> list[bytes]:
        """The authors held under `prefix`, ascending."""
        return self._head_index().authors(prefix)

    def get(self, entry_id: bytes) -> Entry | None:
        """The entry with this id, if held."""
        row = self._db.execute("SELECT raw FROM entries WHERE id=?", (entry_id,)).fetchone()
        return None if row is None else _stored(row[0])

    def get_by_seq(self, author: bytes, seq: int) -> Entry | None:
        """The entry of `author` at `seq`, if held."""
        row = self._db.execute(
            "SELECT raw FROM entries WHERE author=? AND seq=?", (author, seq)
        ).fetchone()
        return None if row is None else _stored(row[0])

    def range(self, author: bytes, after_seq: int, limit: int, *, verify: bool = False
              ) -> list[Entry]:
        """Up to `limit` entries of `author` with seq > after_seq, ascending.

        With `verify` (entries served to peers), each row is checked again as if it came from
        outside: it decodes, its id, author and seq are the row's, its signature verifies. A
        row that fails (the disk corrupted it) is quarantined (`quarantine`) and the range
        ends before it, so peers never receive it; so does a hole in the chain.
        """
        rows = self._db.execute(
            "SELECT raw, id, seq FROM entries WHERE author=? AND seq>? ORDER BY seq LIMIT ?",
            (author, after_seq, limit),
        ).fetchall()
        if not verify:
            return [_stored(raw) for raw, _, _ in rows]
        out: list[Entry] = []
        for raw, ident, seq in rows:
            if seq != (out[-1].seq + 1 if out else after_seq + 1):
                break  # a hole left by a quarantined entry of our own: serve up to it
            try:
                entry = decode_entry(bytes(raw), verify=False)
                if (entry.id, entry.author, entry.seq) != (bytes(ident), author, seq):
                    raise EntryError("the row's id, author or seq differ from its entry's",
                                     code="bad_row")
                # Under the key that signed that place: after a rotation it is not the
                # author's first key (checking that one quarantined every rotated entry).
                verify_signature(self.evidence_key(entry), entry.payload, entry.sig)
            except EntryError as exc:
                self.quarantine(author, seq, f"{exc.code}: {exc.message}"[:300])
                break
            out.append(entry)
        return out

    def mark_received_at_ts(self) -> None:
        """Record every held entry as received when signed (benchmarks and simulations that
        load a store at once standing for a node that was live all along)."""
        with self._transaction():
            self._db.execute("UPDATE entries SET received = ts")

    def forks(self) -> list[ForkProof]:
        """Every fork proof that counts against its author (not disowned by a recovery)."""
        return [p for p, disowned in self.all_forks() if not disowned]

    def fork_changes(self, mark: ForkMark | None
                     ) -> tuple[ForkMark, list[tuple[ForkProof, bool]] | None]:
        """The fork proofs added since `mark` by any route (ingest, `add_fork`, an import,
        another writer: True), or whose standing may have changed (a key event,
        `witnessed_changed`: False), oldest first; None when not all are known
        (protocol.replica.ForkLog). The log keeps keys: each proof is read here."""
        now, changes = self._fork_log.since(mark)
        if not changes:
            return now, None if changes is None else []
        out = []
        for author, seq, added in changes:
            row = self._db.execute("SELECT proof FROM forks WHERE author=? AND seq=?",
                                   (author, seq)).fetchone()
            if row is None:
                continue
            try:
                out.append((decode_fork_proof(bytes(row[0]), verify=False), added))
            except ForkProofError:  # as all_forks: left out (logged there)
                continue
        return now, out

    def all_forks(self) -> list[tuple[ForkProof, bool]]:
        """Every fork proof held, each with True when its party disowned it (keys.py). One that
        no longer checks is logged and left out: a store written before seq and ts were
        bounded at 2**53-1 may hold one with a larger ts."""
        out = []
        for author, seq, proof in self._db.execute(
                "SELECT author, seq, proof FROM forks ORDER BY found, author, seq"):
            try:
                # Verified on the way in (under the key state of then); the file is ours.
                p = decode_fork_proof(bytes(proof), verify=False)
            except ForkProofError as exc:
                log.warning("store: fork proof of %s at seq %d is left out: %s",
                            bytes(author).hex(), seq, exc.message)
                continue
            out.append((p, self._disowned(p)))
        return out

    def forked_authors(self) -> set[bytes]:
        """Authors proven to have equivocated (forks they disowned do not count)."""
        return set(self._forked)

    def disowns(self, proof: ForkProof) -> bool:
        """Whether the proof's author disowned it (a recovery rotation revoked one of its two
        entries): it no longer counts, whoever holds it."""
        return self._disowned(proof)

    # -- keys ------------------------------------------------------------------------------

    def key_state(self, author: bytes) -> KeyState | None:
        """The author's key state, when it committed to a next key or rotated."""
        return self._keys.get(author)

    def key_states(self) -> dict[bytes, KeyState]:
        """Every author's key state that differs from the plain v1 one: a copy."""
        return dict(self._keys)

    def evidence_key(self, entry: Entry) -> bytes:
        """The key `entry` must be signed by to count as its author's (fork proofs)."""
        return evidence_signer(self._keys.get(entry.author), entry)

    def revoked(self, entry: Entry) -> bool:
        """True when the author disowned `entry` (a key declared compromised before its ts, or
        before its witnessed time: docs/witnesses.md)."""
        state = self._keys.get(entry.author)
        return state is not None and state.revoked(entry, self.witnessed_at)

    @property
    def db(self) -> sqlite3.Connection:
        """The database, for modules that keep their own tables beside the entries
        (trustnet/store/receipts.py); they write inside `transaction()`."""
        return self._db

    def transaction(self) -> Transaction:
        """A write transaction on `db`."""
        return self._transaction()

    def count(self) -> int:
        """How many entries are held."""
        return int(self._count)

    def author_count(self) -> int:
        """How many authors have entries here."""
        return len(self._heads)
