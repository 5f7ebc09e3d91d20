"""Ingest on every core: worker processes that decode, check the body and verify the signature
of entries, while the store's one writer (the node's process) keeps chain order (issue 15).

What crosses the pipe is small. The writer sends a chunk of raw entries, each with the key to
verify it under (nil: its author's); a worker answers one status byte per entry (`OK`, or
`SIG_BAD` and/or `BODY_BAD`, or `DECODE_BAD`). The writer builds its own `Entry` objects from
the raw bytes (`peek`: the header read in C and a sha256; the body is unpacked when first
read, which storing and chaining never do), and asks a failing entry again in
process only to name its error, so nothing but bytes is pickled and an honest entry's record
is parsed once per process that reads it (the writer's analysis parses it lazily,
`statements.entries.statement_of`).

A worker checks a chunk in one compiled call where it can (`trustnet._canonical.checker`:
the envelope and canonical payload as `decode_fields` checks them, the body by a program
written from its kind's record, the signature by libsodium's own function), and runs the
Python `check` on what that call is unsure of: the statuses are the same either way
(tests/test_checker.py), only what it costs beside the signature differs (~4 µs an entry
in Python, ~0.3 µs compiled).

A worker is `python -m trustnet.store.workers`, its stdin and stdout the pipe: frames of a
4-byte length and msgpack. Nothing an attacker sends can crash or wedge the pool: a worker
that dies or does not answer a chunk within `deadline_s` (counted once it said it started) is
killed and replaced, and its chunks are sent again; a chunk that took down two workers is
rejected (`worker_failed`), its entries never stored, never checked in the writer's process.

`IngestPool.start()` makes the pool usable; its processes are spawned at the first chunk
that needs them (a node that only ever gets small pushes spawns none), and `stop()` ends
them. Batches of fewer than `min_batch` entries are checked in process (a round trip
costs more than they do).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import importlib
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, ClassVar

import msgpack

from trustnet.errors import EntryError
from trustnet.log.entry import (
    ID_BYTES,
    MAX_ENTRY_BYTES,
    Entry,
    decode_fields,
    entry_of,
    envelope,
    peek_entry,
    verify_signature,
)
from trustnet.log.keys import KEY_KINDS
from trustnet.statements.kinds import parse_body

if TYPE_CHECKING:
    from trustnet._canonical import Checker

log = logging.getLogger("trustnet.store.workers")

OK = 0
SIG_BAD = 0x01
BODY_BAD = 0x02
DECODE_BAD = 0x80
FAILED = 0xFF  # set by the pool, never by a worker: the chunk took down two workers
STOPPED = 0xFE  # set by the pool: it was stopped before a worker checked the chunk
CHUNK = 256  # entries per job at most: small enough to spread a push over both cores
DEPTH = 3  # chunks sent to a worker at once; the rest wait in the writer for the first free
MIN_BATCH = 64  # fewer new entries than this are checked in process
DEADLINE_S = 30.0  # a chunk of 256 entries of 64 KiB takes well under a second
# A worker starting (an interpreter importing trustnet) is not held to DEADLINE_S: on a
# loaded machine that takes seconds. It says it is ready first; only then the deadline runs.
START_DEADLINE_S = 120.0
READY = b"TNW1"
_PIPE_BYTES = 1 << 20  # room for every chunk in flight to a worker (F_SETPIPE_SZ)
_LEN = struct.Struct(">I")
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """The `[ingest]` table of node.toml."""

    # Worker processes checking large batches (bundle imports, bulk pushes, anti-entropy
    # ranges): -1 one per core, 0 none (everything in the node's process).
    workers: int = -1

    BOUNDS: ClassVar[Mapping[str, str]] = {"workers": ">= -1, <= 64"}

    def worker_count(self) -> int:
        """How many worker processes the pool runs."""
        return (os.cpu_count() or 1) if self.workers == -1 else self.workers


# -- the worker's side ------------------------------------------------------------------------


def check(raw: bytes, key: bytes | None) -> int:
    """The status of one entry: decoded with every envelope check, its body parsed by its
    kind's schema, its signature verified under `key` (None: its author's)."""
    try:
        payload, sig, (_, author, _, _, _, kind, body) = decode_fields(raw)
    except EntryError:
        return DECODE_BAD
    status = OK
    try:
        verify_signature(author if key is None else key, payload, sig)
    except EntryError:
        status |= SIG_BAD
    try:
        parse_body(kind, body)
    except EntryError:
        status |= BODY_BAD
    return status


UNSURE = 0x40  # the compiled checks' "not shown here": `check` decides


class _Compiled:
    """The compiled checks of whole entries (`trustnet._canonical.checker`), made once per
    worker: the envelope, the canonical payload, the body by its kind's program, the
    signature by libsodium's own function, in one call per chunk. Whatever they are unsure
    of, `check` decides. None where the compiled module or pynacl's library is not there,
    or where the checker does not answer a signed entry and a forged one as `check` does."""

    checker: Checker | None = None
    tried = False

    @classmethod
    def get(cls) -> Checker | None:
        if not cls.tried:
            cls.tried = True
            cls.checker = _compiled_checker()
        return cls.checker


def _compiled_checker() -> Checker | None:
    try:
        from trustnet._canonical import checker
    except ImportError:  # pragma: no cover - depends on the machine it was installed on
        return None
    from trustnet.identity import ENTRY_DOMAIN, Identity
    from trustnet.log.entry import sign_entry
    from trustnet.statements.kinds import body_programs

    try:
        # pynacl's compiled module: the libsodium its calls run (linked in, or loaded with it).
        library = importlib.import_module("nacl._sodium").__file__ or ""
        made = checker(body_programs(), ENTRY_DOMAIN, MAX_ENTRY_BYTES, library)
    except Exception as exc:  # anything: the Python checks are always there
        log.warning("compiled entry checks unavailable (%s: %s): checking in Python",
                    type(exc).__name__, exc)
        return None
    who = Identity.generate()
    raw = sign_entry(who, seq=1, prev=None, ts=0, kind="trust",
                     body={"subject": who.key_id, "level": 1}).raw
    forged = raw[:-1] + bytes([raw[-1] ^ 1])
    raws = [raw, forged, raw]
    keys: list[bytes | None] = [None, None, Identity.generate().author]
    if made.check(raws, keys) != bytes(check(r, k) for r, k in zip(raws, keys, strict=True)):
        log.warning("compiled entry checks disagree with the Python checks: checking in Python")
        return None
    return made


def check_chunk(frame: bytes) -> bytes:
    """A worker's answer to one request frame: a status byte per entry."""
    raws, keys = msgpack.unpackb(frame, raw=False)
    compiled = _Compiled.get()
    if compiled is None or type(raws) is not list or type(keys) is not list:
        return bytes(check(raw, key) for raw, key in zip(raws, keys, strict=True))
    statuses = compiled.check(raws, keys)
    if UNSURE not in statuses:
        return bytes(statuses)
    return bytes(check(raw, key) if status == UNSURE else status
                 for raw, key, status in zip(raws, keys, statuses, strict=True))


def _read_exact(stream: IO[bytes], n: int) -> bytes | None:
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """A worker's loop: say it is ready, then answer frames until the writer closes the pipe."""
    stdout.write(READY)
    stdout.flush()
    while True:
        head = _read_exact(stdin, _LEN.size)
        if head is None:
            return
        frame = _read_exact(stdin, _LEN.unpack(head)[0])
        if frame is None:
            return
        answer = check_chunk(frame)
        stdout.write(_LEN.pack(len(answer)) + answer)
        stdout.flush()


# -- the writer's side ------------------------------------------------------------------------


def peek(raw: bytes | bytearray | memoryview) -> Entry | None:
    """The entry `raw` holds if it decodes at all, without its checks (a worker does them):
    None when it does not even have an entry's shape (`decode_entry` names why, in process).
    The compiled reader leaves the body packed until it is first read (`peek_entry`), except
    a key event's: the writer's chain checks read those."""
    if type(raw) is not bytes or len(raw) > MAX_ENTRY_BYTES:
        return None
    if (entry := peek_entry(raw)) is not None and entry.kind not in KEY_KINDS:
        return entry
    parts = envelope(raw)
    if parts is None:
        return None
    payload, sig = parts
    try:
        _, author, seq, prev, ts, kind, body = msgpack.unpackb(
            payload, raw=False, strict_map_key=False, timestamp=0)
    except Exception:  # any failure: the in-process decode names it
        return None
    if (type(author) is not bytes or len(author) != ID_BYTES or type(seq) is not int
            or type(ts) is not int or not (prev is None or type(prev) is bytes)
            or type(kind) is not str or type(body) is not dict):
        return None
    return entry_of(raw, payload, sig, hashlib.sha256(payload).digest(), author, seq, prev, ts,
                    kind, body)


@dataclass(slots=True, eq=False)
class Job:
    """A chunk sent to a worker: its entries, their keys, and (once answered) their statuses.

    Or a chunk never sent (`frame` empty) whose entries went to the workers in chunks sent
    before (checked ahead, `Store.checked_ahead`): `parts` names, per entry, that chunk and
    the entry's place in it, and its statuses are read from theirs."""

    raws: list[bytes]
    keys: list[bytes | None]
    frame: bytes
    tries: int = 0
    statuses: bytes | None = None
    parts: list[tuple[Job, int]] | None = None

    def settled(self) -> bool:
        """Whether its statuses are in (a chunk checked ahead: every chunk it reads from)."""
        if self.statuses is not None:
            return True
        return self.parts is not None and all(src.statuses is not None for src, _ in self.parts)


@dataclass(slots=True, eq=False)  # one process each: compared (`in`, `index`) by identity
class _Worker:
    proc: subprocess.Popen[bytes]
    stdin: int
    stdout: int
    jobs: deque[Job] = field(default_factory=deque)  # sent, in the order they are answered
    held: int = 0  # entries in `jobs`
    ready: bool = False  # said READY: from now on held to the deadline
    since: float = 0.0  # when it last answered, or got work while it had none (monotonic)


class IngestPool:
    """Worker processes checking entries for one store writer (see the module docstring).

    Chunks are dealt as workers free up, not in turn: each worker holds at most `depth`
    chunks, and the rest wait here until one answers. The worker that shares its core with
    the writer checks fewer entries than the other, and both finish a batch together (dealt
    in turn, one finished a push of 2,857 entries ~24 ms before the other, `bench gossip`).
    """

    def __init__(self, workers: int, *, min_batch: int = MIN_BATCH, chunk: int = CHUNK,
                 deadline_s: float = DEADLINE_S, depth: int = DEPTH,
                 command: Sequence[str] | None = None) -> None:
        self.size = workers
        # How a worker is started (tests start ones that fail).
        self.command = list(command or [sys.executable, "-m", "trustnet.store.workers"])
        self.min_batch = min_batch
        self.chunk = chunk
        self.depth = max(1, depth)
        self.deadline_s = deadline_s
        self.running = False
        self._workers: list[_Worker | None] = [None] * workers
        self._waiting: deque[Job] = deque()  # submitted, not sent to a worker yet
        # `wait`: the futures waiting for an answer, and the pipes watched for them.
        self._waiters: list[asyncio.Future[None]] = []
        self._watched: dict[int, asyncio.AbstractEventLoop] = {}
        self.stats = {"chunks": 0, "entries": 0, "restarts": 0, "failed_chunks": 0}

    def start(self) -> None:
        """Make the pool usable (its processes are spawned when first needed)."""
        self.running = self.size > 0

    def stop(self) -> None:
        """End every worker (idempotent); chunks not collected are lost with them."""
        self.running = False
        self._waiting.clear()
        self._wake()  # every `wait` settles its chunks as stopped
        for i, w in enumerate(self._workers):
            if w is not None:
                self._unwatch(w.stdout)
                self._end(w, kill=False)
                self._workers[i] = None

    def spawn(self) -> None:
        """Spawn every worker now rather than at the first chunk (benchmarks time the work,
        not interpreters starting): each answers an empty chunk once it is ready."""
        jobs = [Job([], [], _frame(msgpack.packb([[], []]))) for _ in range(self.size)]
        for i, job in enumerate(jobs):
            self._send_to(self._workers[i] or self._spawn(i), job)
        for job in jobs:
            self.result(job)

    def plan(self, items: int) -> list[int]:
        """Entry counts of the chunks a batch of `items` is cut in, in order (their sum is
        `items`). The first ones double from an eighth of `chunk`, so every worker starts
        soon; then each is at most `chunk` and half a worker's share of what is left, down
        to an eighth of `chunk` again: the chunks get smaller towards the end, so the
        workers finish a batch together, and its last chunk, stored while they have
        nothing to do, is small (2,857 entries: 32, 64, 128, 256 seven times, 211, 158,
        ..., 37, 32, 32, 32, 15)."""
        least = max(1, self.chunk // 8)
        share = 2 * max(1, self.size)
        out: list[int] = []
        left = items
        while left > 0:
            size = min(left, self.chunk, max(least, -(-left // share)), least << len(out))
            out.append(size)
            left -= size
        return out

    def pids(self) -> list[int]:
        """The worker processes running now."""
        return [w.proc.pid for w in self._workers if w is not None]

    def submit(self, raws: list[bytes], keys: list[bytes | None]) -> Job:
        """Queue a chunk for the first free worker; `result` collects its statuses."""
        job = Job(raws, keys, _frame(msgpack.packb([raws, keys], use_bin_type=True)))
        self.stats["chunks"] += 1
        self.stats["entries"] += len(raws)
        self._waiting.append(job)
        self.pump()
        return job

    def result(self, job: Job) -> bytes:
        """The chunk's statuses (one byte per entry), collecting every worker's answers
        meanwhile and dealing out the chunks waiting; a worker that dies or stalls is
        replaced and its chunks dealt again."""
        if job.parts is not None and job.statuses is None:
            results: dict[int, bytes] = {}
            for src, _ in job.parts:
                if id(src) not in results:
                    results[id(src)] = self.result(src)
            job.statuses = bytes(results[id(src)][i] for src, i in job.parts)
            return job.statuses
        self.pump()  # even when the chunk's answer is in: free workers get the chunks waiting
        while job.statuses is None:
            self._deal()
            if job.statuses is not None:
                break
            if not any(w is not None and w.jobs for w in self._workers):
                if not self.running:
                    # Stopped: no worker is started again, and the chunk is not checked.
                    with contextlib.suppress(ValueError):
                        self._waiting.remove(job)
                    job.statuses = bytes([STOPPED]) * len(job.raws)
                    break
                # Lost with its worker and not dealt again (never expected): deal it now.
                if job not in self._waiting:
                    self._waiting.append(job)
                continue
            self._collect(wait=True)
        return job.statuses

    async def wait(self, jobs: Sequence[Job]) -> None:
        """`result` of every job of `jobs` without blocking the event loop: between answers
        it waits on the running loop for a worker's pipe to become readable (or the first
        deadline to pass). Several waits may run at once (a node answering two pushes)."""
        loop = asyncio.get_running_loop()
        while True:
            self._collect(wait=False)
            self._deal()
            if all(j.statuses is not None for j in jobs):
                return
            busy = [w for w in self._workers if w is not None and w.jobs]
            if not self.running:
                for job in jobs:  # stopped: `result` marks what is left unchecked at once
                    self.result(job)
                return
            if not busy:
                # Lost with its worker and not dealt again (never expected): deal it again.
                self._waiting.extend(j for j in jobs
                                     if j.statuses is None and j not in self._waiting)
                continue
            now = time.monotonic()
            end = min(w.since + (self.deadline_s if w.ready else START_DEADLINE_S)
                      for w in busy)
            if end <= now:
                self._collect(wait=True)  # no wait: it replaces the late worker
                continue
            woken: asyncio.Future[None] = loop.create_future()
            self._waiters.append(woken)
            for w in busy:
                if w.stdout not in self._watched:
                    loop.add_reader(w.stdout, self._wake)
                    self._watched[w.stdout] = loop
            try:
                await asyncio.wait_for(woken, end - now)
            except TimeoutError:
                pass
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(woken)
                if not self._waiters:
                    self._unwatch()

    def _wake(self) -> None:
        """A watched pipe has something to read: every waiter looks (and the pipes are
        watched again by those still waiting; level-triggered, they would fire on)."""
        waiters, self._waiters = self._waiters, []
        for woken in waiters:
            if not woken.done():
                woken.set_result(None)
        self._unwatch()

    def _unwatch(self, fd: int | None = None) -> None:
        for watched in ([fd] if fd is not None else list(self._watched)):
            loop = self._watched.pop(watched, None)
            if loop is not None and not loop.is_closed():
                loop.remove_reader(watched)

    def pump(self) -> None:
        """Without waiting: take the answers that are there, and deal the chunks waiting to
        the workers they freed. The writer calls this while it stores (a slice's rows take
        milliseconds, and the workers must not run dry meanwhile)."""
        if self._waiting:
            self._collect(wait=False)
            self._deal()

    def _deal(self) -> None:
        """Send the waiting chunks, oldest first, to the worker holding the fewest entries
        while it holds fewer than `depth` chunks (work for the time this process spends
        storing a slice, when it deals nothing); a slot with no worker yet spawns one, unless
        the pool was stopped."""
        while self._waiting and self.running:
            i = min(range(self.size), key=self._held)
            w = self._workers[i]
            if w is not None and len(w.jobs) >= self.depth:
                return
            self._send_to(w or self._spawn(i), self._waiting.popleft())

    def _held(self, i: int) -> int:
        w = self._workers[i]
        return 0 if w is None else w.held

    def _send_to(self, w: _Worker, job: Job) -> None:
        try:
            _write(w.stdin, job.frame, self.deadline_s if w.ready else START_DEADLINE_S)
        except _Lost as exc:
            self._waiting.appendleft(job)
            # Its answers still in the pipe first: the chunk it died on is the one to blame
            # (a worker that answered one chunk and died on the next is found here).
            self._drain(w)
            if w in self._workers:
                self._replace(w, str(exc))
            return
        if not w.jobs:
            w.since = time.monotonic()
        w.jobs.append(job)
        w.held += len(job.raws)

    def _collect(self, wait: bool) -> None:
        """Take the answers that are there; with `wait` and none there, wait for one. Each
        worker is held to its deadline from its last answer (or from when it got work while
        it had none; a worker starting, to `START_DEADLINE_S`): an answer that waited in
        the pipe while this process stored a slice is taken first, not counted late."""
        busy = {w.stdout: w for w in self._workers if w is not None and w.jobs}
        if not busy:
            return
        readable, _, _ = select.select(list(busy), [], [], 0.0)
        if not readable and wait:
            now = time.monotonic()
            ends = {fd: w.since + (self.deadline_s if w.ready else START_DEADLINE_S)
                    for fd, w in busy.items()}
            late = [busy[fd] for fd, end in ends.items() if end <= now]
            for w in late:
                self._replace(w, f"answered nothing for {self.deadline_s:g} s" if w.ready
                              else "did not start as an ingest worker in time")
            if late:
                return
            readable, _, _ = select.select(list(busy), [], [], min(ends.values()) - now)
        for fd in readable:
            self._drain(busy[fd])

    def _drain(self, w: _Worker) -> None:
        """Read all `w` has said: READY once, then the statuses of each chunk it answered
        (while more is there to read); a worker that exited or said something else is
        replaced, blamed for the chunk it was on."""
        while w.jobs and w in self._workers:
            try:
                if not w.ready:
                    if _read(w.stdout, len(READY), START_DEADLINE_S) != READY:
                        raise _Lost("did not start as an ingest worker")
                    w.ready = True
                else:
                    head = _read(w.stdout, _LEN.size, self.deadline_s)
                    answer = _read(w.stdout, _LEN.unpack(head)[0], self.deadline_s)
                    if len(answer) != len(w.jobs[0].raws):
                        raise _Lost("answered a chunk with the wrong number of statuses")
                    done = w.jobs.popleft()
                    done.statuses = answer
                    w.held -= len(done.raws)
                    if self._waiters:  # read here, not by a `wait` (the blocking path)
                        self._wake()
                w.since = time.monotonic()
            except _Lost as exc:
                self._replace(w, str(exc))
                return
            if not select.select([w.stdout], [], [], 0.0)[0]:
                return

    def _spawn(self, i: int) -> _Worker:
        proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                close_fds=True)
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin.fileno(), proc.stdout.fileno()
        with contextlib.suppress(OSError):  # the system's limit may be lower: then smaller
            fcntl.fcntl(stdin, _F_SETPIPE_SZ, _PIPE_BYTES)
        os.set_blocking(stdin, False)
        os.set_blocking(stdout, False)
        w = self._workers[i] = _Worker(proc, stdin, stdout, since=time.monotonic())
        return w

    def _replace(self, w: _Worker, why: str) -> None:
        """Kill `w`; its chunks are dealt again, first (the one it was working on counts a
        try: after two, its entries are rejected, `worker_failed`). Its slot spawns a new
        worker when next dealt to."""
        i = self._workers.index(w)
        self._workers[i] = None
        self._unwatch(w.stdout)
        if self._waiters:  # its chunks go to another worker: every `wait` looks again
            self._wake()
        self._end(w, kill=True)
        self.stats["restarts"] += 1
        log.warning("ingest worker pid %d %s; replaced, its %d chunk(s) sent again",
                    w.proc.pid, why, len(w.jobs))
        jobs = list(w.jobs)
        if jobs:
            jobs[0].tries += 1
            if jobs[0].tries >= 2:
                self.stats["failed_chunks"] += 1
                log.error("a chunk of %d entries took down two ingest workers: rejected "
                          "(worker_failed)", len(jobs[0].raws))
                jobs[0].statuses = bytes([FAILED]) * len(jobs[0].raws)
                jobs = jobs[1:]
        self._waiting.extendleft(reversed(jobs))

    @staticmethod
    def _end(w: _Worker, *, kill: bool) -> None:
        assert w.proc.stdin is not None and w.proc.stdout is not None
        if kill:
            w.proc.kill()
        for f in (w.proc.stdin, w.proc.stdout):
            with contextlib.suppress(OSError):
                f.close()
        try:
            w.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()


class _Lost(Exception):
    """The worker closed its pipe, died, or missed the deadline."""


def _frame(data: bytes) -> bytes:
    return _LEN.pack(len(data)) + data


def _write(fd: int, data: bytes, deadline_s: float) -> None:
    view = memoryview(data)
    end = time.monotonic() + deadline_s
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            n = 0
        except OSError as exc:  # EPIPE: the worker is gone
            raise _Lost(f"closed its pipe ({exc.strerror})") from None
        view = view[n:]
        if view:
            left = end - time.monotonic()
            if left <= 0:
                raise _Lost(f"took no work for {deadline_s:g} s")
            select.select([], [fd], [], left)


def _read(fd: int, n: int, deadline_s: float) -> bytes:
    parts: list[bytes] = []
    end = time.monotonic() + deadline_s
    while n:
        try:
            part = os.read(fd, n)
        except BlockingIOError:
            left = end - time.monotonic()
            if left <= 0:
                raise _Lost(f"answered nothing for {deadline_s:g} s") from None
            select.select([fd], [], [], left)
            continue
        if not part:
            raise _Lost("exited")
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def main(argv: Any = None) -> int:
    """A worker: `python -m trustnet.store.workers` (started by `IngestPool`)."""
    # Ctrl-C reaches the whole process group, and systemd signals the whole unit: the node
    # ends its workers itself (it closes their pipe) once it drained what it still ingests;
    # a node that dies closes the pipe too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
