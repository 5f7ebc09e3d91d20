"""Signature checks of an ingest batch on verifier threads (libsodium releases the GIL), so
a large batch uses every core while the store decodes the next chunk."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from trustnet.errors import EntryError
from trustnet.log.entry import Entry, verify_signature

VerifyPart = Future[list[bool]] | list[bool]  # a verification job, or its result computed inline
PARALLEL_MIN = 32
CHUNK = 256  # entries per verification job: small enough to overlap decoding


def signatures_ok(entries: Sequence[tuple[Entry, bytes]]) -> list[bool]:
    """For each (entry, key): whether the entry's signature verifies under the key."""
    result = []
    for e, key in entries:
        try:
            verify_signature(key, e.payload, e.sig)
            result.append(True)
        except EntryError:
            result.append(False)
    return result


class SignatureVerifier:
    """Starts signature checks on up to `threads` threads (started on first need)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None

    def start(self, entries: list[tuple[Entry, bytes]]) -> list[VerifyPart]:
        """Start checking signatures: threads use every core while the caller goes on with
        Python work; `finish` collects the results."""
        if not entries:
            return []
        if len(entries) < 2 * PARALLEL_MIN or self.threads == 1:
            return [signatures_ok(entries)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="trustnet-verify")
        step = -(-len(entries) // self.threads)
        return [self._pool.submit(signatures_ok, entries[i : i + step])
                for i in range(0, len(entries), step)]

    @staticmethod
    def finish(pending: list[VerifyPart]) -> list[bool]:
        """The results of `start`'s jobs, in order (waiting for those still running)."""
        out: list[bool] = []
        for part in pending:
            out.extend(part.result() if isinstance(part, Future) else part)
        return out

    def close(self) -> None:
        """Stop the threads (a later `start` makes new ones)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
