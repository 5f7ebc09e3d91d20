"""The protocol's bookkeeping records: an anti-entropy session with one peer, and a request
sent and not yet answered (internal to the protocol package, never seen by the shell)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class Session:
    """One anti-entropy exchange with one peer: bounded in pages, rounds and time, and it
    must make progress (each heads page starts strictly after the last; each reconcile
    reply answers only prefixes asked, each one digit longer), or it ends."""

    peer: str
    fetch: deque[tuple[bytes, int, int]] = field(default_factory=deque)  # author, after, target
    push: deque[tuple[bytes, int, int]] = field(default_factory=deque)
    fork_fetch: list[tuple[bytes, int]] = field(default_factory=list)
    fork_push: list[bytes] = field(default_factory=list)
    fetching: bool = False
    pushing: bool = False
    paging: bool = True
    rounds: int = 0
    pages: int = 0
    after: bytes | None = None  # where the heads page we asked for starts (None: the first)
    # Range reconciliation (protocol.reconcile): prefixes asked in the request in flight,
    # and (prefix, our fp, our count) still to ask about.
    asked: frozenset[str] = frozenset()
    recon: deque[tuple[str, bytes, int]] = field(default_factory=deque)
    sent_recent: tuple[bytes, ...] = ()  # authors whose heads our digest carried
    claimed: dict[str, int] = field(default_factory=dict)  # prefix -> heads the peer claimed
    # A reconciliation that found something (a head or fork key differing): one that ends
    # finding nothing while the digests differ means fingerprints collided.
    found: bool = False
    started_ms: int | None = None  # set when created, or at the first tick that sees it
    ended: bool = False  # ended early: late replies to it only deliver data

    def done(self) -> bool:
        busy = self.fetching or self.pushing or self.paging
        return not busy and not (self.fetch or self.push or self.fork_fetch or self.fork_push)


@dataclass(slots=True)
class Pending:
    path: str
    peer: str
    sent_ms: int
    session: Session | None = None
    ranges: tuple[tuple[bytes, int, int, int], ...] = ()  # author, after, target, seq before
