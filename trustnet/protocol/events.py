"""What crosses the gossip protocol's boundary: the events fed in, the actions it returns,
and the records of what happened (small frozen records, as h11's events, DESIGN 6).

The node, the simulator and the tests build `Tick`, `LocalEntry`, `Response` and
`RequestFailed` events, perform the `Send` actions, and drain the `Happened` records with
`GossipProtocol.take_events()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from trustnet.log.entry import Entry, ForkProof
from trustnet.protocol import messages as m
from trustnet.protocol.replica import Rejected


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: run an anti-entropy round, peer exchange, recovery, timeouts."""


@dataclass(frozen=True, slots=True)
class LocalEntry:
    """The node signed a new entry (durable already): push it."""

    entry: Entry


@dataclass(frozen=True, slots=True)
class Response:
    """The reply to a request we sent."""

    request_id: int
    peer: str
    message: m.Message


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request we sent failed: transport error code, HTTP refusal, or a malformed reply
    (`bad_message` / `too_large`, which count against the peer)."""

    request_id: int
    peer: str
    code: str


Event: TypeAlias = Tick | LocalEntry | Response | RequestFailed


@dataclass(frozen=True, slots=True)
class Send:
    """Send `message` to `peer_url` at `path`; report the outcome as Response/RequestFailed
    with the same `request_id`."""

    request_id: int
    peer_url: str
    path: str
    message: m.Message
    # The URL was learned from gossip and private peers are not allowed: the shell must
    # refuse it when its host resolves to a private address, failing with
    # `private_address` (the protocol only sees literal addresses).
    guard: bool = False


Action: TypeAlias = Send


# -- what happened (drained by the shell after each call, as h11's `next_event`) ----------
#
# The protocol does no logging, metrics or analysis of its own: it records what happened
# as these records, and the node (or the simulator) takes them with `take_events()` right
# after `handle`/`on_request`, instead of reading the protocol's counters and tables.


@dataclass(frozen=True, slots=True)
class EntriesLearned:
    """Entries new here, taken from `peer` (a URL or a node id)."""

    peer: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class EntriesRejected:
    """Entries `peer` sent that the replica (or new-author admission) refused."""

    peer: str
    rejected: tuple[Rejected, ...]


@dataclass(frozen=True, slots=True)
class ForkLearned:
    """A proof of equivocation new here (found in a batch, or sent by `peer`)."""

    peer: str
    proof: ForkProof


@dataclass(frozen=True, slots=True)
class PeerDecision:
    """The peer table graylisted or refused `key` (an operator must see it)."""

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuthorsLimited:
    """`count` entries of new authors were refused over the new-author limits."""

    count: int


Happened: TypeAlias = EntriesLearned | EntriesRejected | ForkLearned | PeerDecision | AuthorsLimited
MAX_PENDING_EVENTS = 4096  # beyond, the oldest are dropped (a shell that never drains)


