"""The sans-IO gossip state machine (DESIGN sections 1 and 6).

Like h11's connection, this module has no networking code at all: events in,
actions out. The node (or a test, or the simulator) feeds it events with the
current time from an injected clock and performs the `Send` actions it returns
on whatever transport it has:

    actions = protocol.handle(Tick(), now_ms)                  # outbound work
    reply, actions = protocol.on_request(node_id, path, message, now_ms)   # inbound
    happened = protocol.take_events()      # what changed: entries, forks, decisions

It owns no storage either: it is handed a replica (`protocol.replica.Replica`: the
node's SQLite `Store`, or a `MemoryReplica` in the simulator and tests), and inbound
requests reach `on_request` through the one admission policy (`protocol.admission`).

Two tiers, as the epidemic-protocol literature prescribes (Demers et al. 1987):
- eager push: a new entry (local or newly learned) goes once to `fanout` random
  peers; an LRU of ids already pushed makes it once per entry;
- anti-entropy: every tick, one random peer gets our 32-byte digest of heads and
  fork keys. Equal digests cost one constant-size exchange (O(1) bytes per round
  whatever the store holds). On a mismatch the peer returns its heads map in
  pages; we fetch what it has beyond us in bounded batches and push what it lacks.

Own-log recovery (DESIGN 5 and 12). A node that may have signed before starts
`catching_up`: it asks peers for its own head and refuses to sign (the node enforces
it) until it holds every seq of its own that a peer *proved*. A head claim counts
only with the signed head entry (`HeadReply.entry`): nobody can forge our signature,
so a liar claiming seq 10**12 proves nothing and cannot stall us. The check ends
when `own_sync_quorum` peers answered, or at `own_recovery_deadline_ms`, and in
either case only if no proven higher head is missing here. A node with a key and no
own entry at all (`recover_own` and an empty chain: its store was lost) ends it
only once it holds part of its own log again (a peer proved and delivered it) —
never on answers of "nothing" nor on the deadline: the operator decides otherwise
(`trustnet run --recovered-from` / `--i-know-the-log-is-lost`). A node whose log is
new (made by `init`, never signed) is built with `recover_own=False`: it signs at once.
"""

from __future__ import annotations

import bisect
import hashlib
import random
import struct
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeAlias

from trustnet.errors import ConfigError, EntryError, ForkProofError, TrustnetError
from trustnet.log.entry import Entry, ForkProof, decode_entry, decode_fork_proof, verify_signature
from trustnet.protocol import messages as m
from trustnet.protocol.peers import PeerKind, PeerPolicy, PeerTable
from trustnet.protocol.replica import IngestResult, Rejected, Replica

_Q = struct.Struct(">Q").pack
# While own-log recovery is stuck (a proven head not fetched yet, or a lost store nobody
# has delivered back), each peer is asked for our head again at most this often.
_REASK_MS = 10_000

# Entry rejection codes that prove the sender relayed forged or malformed data. Chain
# codes (bad_seq, bad_prev) are not here: an honest peer holding the other branch of an
# undetected fork sends exactly those.
MAX_ADMISSION_KEYS = 4096  # peers whose new-author windows are remembered (oldest forgotten)


def _author_of(raw: bytes) -> bytes | None:
    """The author of a raw entry, read without checking its signature (None: malformed)."""
    try:
        return decode_entry(raw, verify=False).author
    except TrustnetError:
        return None


_MISBEHAVIOUR = frozenset({
    "bad_encoding", "too_large", "bad_version", "bad_signature", "unknown_kind", "bad_body",
    "bad_timestamp",
})


@dataclass(frozen=True, slots=True)
class GossipConfig:
    """Gossip settings (the `[gossip]` table of node.toml); every limit is a bound of DESIGN 6.

    Loaded by trustnet.config.loader.load_table: the policy's keys sit in the same table, and
    `BOUNDS` names the ranges (each error then names the key).
    """

    FLATTEN: ClassVar[str] = "policy"
    BOUNDS: ClassVar[dict[str, str]] = {
        "fanout": ">= 1", "fetch_batch_entries": ">= 1", "max_push_entries": ">= 1",
        "tick_interval_s": "> 0", "replay_cache": ">= 1", "own_sync_quorum": ">= 0",
        "heads_page": ">= 1", "max_ranges": ">= 1", "own_recovery_deadline_ms": ">= 0",
        "max_session_pages": ">= 1", "session_timeout_ms": ">= 1",
        "new_authors_per_peer": ">= 0", "new_authors_total": ">= 0",
        "new_authors_interval_s": ">= 1",
    }

    fanout: int = 3
    tick_interval_s: float | None = 1.0  # None: no tick loop (tests drive `Node.tick`)
    max_message_bytes: int = m.MAX_MESSAGE_BYTES
    fetch_batch_entries: int = 256
    fetch_batch_bytes: int = 512 * 1024
    max_ranges: int = 64
    max_push_entries: int = 64
    heads_page: int = 2048
    max_forks_listed: int = 1024
    seen_cache: int = 65_536
    # Signatures of requests seen inside the freshness window (replay protection); when it is
    # full, new requests are refused (503 busy) until old ones leave the window: never a replay.
    replay_cache: int = 65_536
    push_max_age_ms: int = 10 * 60_000  # older entries learned by fetch spread by anti-entropy only
    peer_exchange_every: int = 10  # ticks
    peers_shared: int = 16
    request_timeout_ms: int = 30_000
    max_inflight: int = 64
    max_sessions: int = 4
    max_session_rounds: int = 64
    max_session_pages: int = 256  # heads pages per session (x heads_page authors)
    session_timeout_ms: int = 120_000  # a session's deadline; then it ends, slow peer charged
    own_sync_quorum: int = 2  # peers that must report our own head before we sign again
    own_recovery_deadline_ms: int = 180_000  # after it, sign unless a proven higher head is missing
    # Authors not held yet that one peer may bring in per interval (0: no limit); entries of
    # further new authors are refused (`author_limit`, no penalty) and come later by
    # anti-entropy. Authors this node or its anchors trust are always taken.
    new_authors_per_peer: int = 1000
    new_authors_interval_s: int = 60
    # The same, from all peers together: a key costs nothing to make, so a limit per peer key
    # alone is no limit (one stranger signs each push with a fresh key).
    new_authors_total: int = 4000
    policy: PeerPolicy = field(default_factory=PeerPolicy)

    def __post_init__(self) -> None:
        if self.fanout < 1 or self.fetch_batch_entries < 1 or self.max_push_entries < 1:
            raise ConfigError("[gossip]: fanout, fetch_batch_entries, max_push_entries must be >= 1")
        if self.fetch_batch_bytes > self.max_message_bytes // 2:
            raise ConfigError("[gossip]: fetch_batch_bytes must leave room in max_message_bytes")
        if self.tick_interval_s is not None and self.tick_interval_s <= 0:
            raise ConfigError("[gossip]: tick_interval_s must be > 0")
        if self.replay_cache < 1:
            raise ConfigError("[gossip]: replay_cache must be >= 1")
        if self.own_sync_quorum < 0 or self.heads_page < 1 or self.max_ranges < 1:
            raise ConfigError("[gossip]: own_sync_quorum >= 0, heads_page >= 1, max_ranges >= 1")
        if self.own_recovery_deadline_ms < 0:
            raise ConfigError("[gossip]: own_recovery_deadline_ms must be >= 0")
        if self.max_session_pages < 1 or self.session_timeout_ms < 1:
            raise ConfigError("[gossip]: max_session_pages and session_timeout_ms must be >= 1")
        if (self.new_authors_per_peer < 0 or self.new_authors_total < 0
                or self.new_authors_interval_s < 1):
            raise ConfigError("[gossip]: new_authors_per_peer >= 0, new_authors_total >= 0, "
                              "new_authors_interval_s >= 1")


# -- events and actions (small frozen records, as h11's events) ----------------------------


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


# -- internal state ------------------------------------------------------------------------


@dataclass(slots=True)
class _Session:
    """One anti-entropy exchange with one peer: bounded in pages, rounds and time, and it
    must make progress (each heads page starts strictly after the last), or it ends."""

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
    started_ms: int | None = None  # set when created, or at the first tick that sees it
    ended: bool = False  # ended early: late replies to it only deliver data

    def done(self) -> bool:
        busy = self.fetching or self.pushing or self.paging
        return not busy and not (self.fetch or self.push or self.fork_fetch or self.fork_push)


@dataclass(slots=True)
class _Pending:
    path: str
    peer: str
    sent_ms: int
    session: _Session | None = None
    ranges: tuple[tuple[bytes, int, int, int], ...] = ()  # author, after, target, seq before


class GossipProtocol:
    """One node's gossip state: peers, dedup cache, anti-entropy sessions, own-log recovery."""

    def __init__(
        self,
        node_id: bytes,
        replica: Replica,
        rng: random.Random,
        config: GossipConfig | None = None,
        *,
        own_url: str | None = None,
        peers: Iterable[str] = (),
        now_ms: int = 0,
        recover_own: bool = True,
        vouchers: Iterable[bytes] = (),
    ) -> None:
        self.node_id = node_id
        self.replica = replica
        self.rng = rng
        self.config = config or GossipConfig()
        self.own_url = own_url.rstrip("/") if own_url else None
        self.peers = PeerTable(self.config.policy, own_url=self.own_url)
        for url in peers:
            self.peers.add(url, "config", now_ms)
        self.stats: dict[str, int] = {
            "ticks": 0, "rounds": 0, "in_sync": 0, "mismatch": 0, "requests": 0, "failures": 0,
            "pushed": 0, "learned": 0, "rejected": 0, "forks_learned": 0, "sessions_ended": 0,
            "author_limited": 0,
        }
        # New-author admission: whose trust statements vouch for an author (us, our anchors),
        # and per peer key the current window's (start ms, new authors taken).
        self.vouchers = (node_id, *(v for v in vouchers if v != node_id))
        self._vouched_key: tuple[int, ...] | None = None
        self._vouched: frozenset[str] = frozenset()
        self._new_authors: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._new_authors_all = (now_ms, 0)  # the same window over all peers together
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._happened: deque[Happened] = deque(maxlen=MAX_PENDING_EVENTS)
        self._pending: dict[int, _Pending] = {}
        self._sessions: dict[str, _Session] = {}
        self._next_id = 1
        self._forks: dict[tuple[bytes, int], ForkProof] = {
            (p.author, p.seq): p for p in replica.forks()
        }
        self._digest_key: tuple[bytes, int] | None = None
        self._digest = b""
        self._authors_key: bytes | None = None
        self._authors: list[bytes] = []
        # Own-log recovery (DESIGN 5, 12): see the module docstring.
        self.own_log_lost = recover_own and self.own_seq() == 0
        self.catching_up = recover_own and (self.config.own_sync_quorum > 0 or self.own_log_lost)
        self.recovery_deadline_ms = now_ms + self.config.own_recovery_deadline_ms
        self._own_claims: dict[str, int] = {}  # peer url -> the own seq it proved (0: none)
        self._own_unproven: dict[str, int] = {}  # peer url -> a higher seq it claimed, unproven
        self._own_proven = 0  # the highest own seq a signed head entry proved (never forgotten)
        self._own_asked: dict[str, int] = {}  # peer url -> when we last asked it for our head
        for entry in replica.query(kind="profile", limit=1000):
            self._discover(entry, now_ms)

    # -- public ----------------------------------------------------------------------

    @property
    def store(self) -> Replica:
        """The replica this protocol was handed (the name it had when it was a `Store`)."""
        return self.replica

    def handle(self, event: Event, now_ms: int) -> list[Action]:
        """Feed one event; returns the requests to send."""
        if isinstance(event, Tick):
            return self._tick(now_ms)
        if isinstance(event, LocalEntry):
            self._discover(event.entry, now_ms)
            self._forget_disowned([event.entry])
            return self._eager([event.entry], [], now_ms, exclude=())
        if isinstance(event, Response):
            return self._on_response(event, now_ms)
        return self._on_failure(event, now_ms)

    def on_request(
        self, peer_id: str, path: str, message: m.Message, now_ms: int
    ) -> tuple[m.Message, list[Action]]:
        """Answer a request from the authenticated node `peer_id` (hex); also returns the
        requests it triggers (pushing new data on)."""
        if isinstance(message, m.Digest):
            if message.digest == self.digest():
                return m.InSync(), []
            return self._heads_page(None, with_forks=True), []
        if isinstance(message, m.HeadsRequest):
            return self._heads_page(message.after, with_forks=False), []
        if isinstance(message, m.Fetch):
            return self._serve_fetch(message), []
        if isinstance(message, m.Push):
            return self._on_push(peer_id, message, now_ms)
        if isinstance(message, m.PeersRequest):
            return self._on_peers(peer_id, message, now_ms), []
        if isinstance(message, m.HeadRequest):
            head = self.replica.head(message.author)
            if head is None:
                return m.HeadReply(message.author, 0, None), []
            entry = self.replica.get(head.id)  # the proof (DESIGN 12): the signed head itself
            return m.HeadReply(message.author, head.seq, head.id,
                               None if entry is None else entry.raw), []
        raise m.MessageError(f"{path} takes no {message.T!r} request", code="bad_message")

    def take_events(self) -> list[Happened]:
        """What happened since the last call, oldest first (graylisting decisions of the
        peer table included); the shell logs, counts and forwards them."""
        decisions = self.peers.decisions
        while decisions:
            self._happened.append(PeerDecision(*decisions.popleft()))
        out = list(self._happened)
        self._happened.clear()
        return out

    def digest(self) -> bytes:
        """Our 32-byte anti-entropy digest: heads of unforked authors and fork keys.

        Forked authors are left out of the heads part: two honest nodes may hold
        different branches of an equivocator forever; the fork keys stand for them.
        """
        key = (self.replica.heads_digest(), len(self._forks))
        if key != self._digest_key:
            forked = {a for a, _ in self._forks}
            h = hashlib.sha256(b"trustnet/v1/gossip-digest")
            for author in self._sorted_authors():
                if author not in forked:
                    seq, ident = self._head(author)
                    h.update(b"H" + author + _Q(seq) + ident)
            for author, seq in sorted(self._forks):
                h.update(b"F" + author + _Q(seq))
            self._digest_key, self._digest = key, h.digest()
        return self._digest

    @property
    def own_max_seen(self) -> int:
        """The highest seq of our own chain known to exist: held here, or proven by a peer
        with the signed head entry (unproven claims do not count, DESIGN 12)."""
        return max(self._own_proven, self.own_seq())

    def own_seq(self) -> int:
        """The highest seq of our own chain held here."""
        head = self.replica.head(self.node_id)
        return 0 if head is None else head.seq

    def fork_keys(self) -> list[tuple[bytes, int]]:
        """(author, seq) of every fork proof known."""
        return sorted(self._forks)

    def pending(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._pending)

    def recovery_json(self) -> dict[str, Any]:
        """Own-log recovery state, for status and /peers."""
        return {
            "catching_up": self.catching_up,
            "own_seq": self.own_seq(),
            "own_max_seen": self.own_max_seen,
            "answers": len(self._own_claims),
            "quorum": self._quorum(),
            "unproven": len(self._own_unproven),
            "store_lost": self.own_log_lost,
            "deadline_ms": self.recovery_deadline_ms,
        }

    def recovery_reason(self, now_ms: int) -> str:
        """Why signing is refused now, for people (empty when it is not)."""
        if not self.catching_up:
            return ""
        mine, seen = self.own_seq(), self.own_max_seen
        if seen > mine:
            return (f"a peer proved this node's own log reaches seq {seen} and it holds only "
                    f"{mine}: fetching the rest before signing")
        if self.own_log_lost and mine == 0:
            return ("this node's key has signed before but its store holds none of its own "
                    f"entries; waiting for a peer to deliver them ({len(self._own_claims)} "
                    f"peer(s) of {len(self.peers.urls())} answered, none proved any) — or "
                    "restart with --recovered-from BUNDLE or --i-know-the-log-is-lost")
        return (f"checking this node's own log with its peers ({len(self._own_claims)}/"
                f"{self._quorum()} answered, own seq {mine}); at the latest at "
                f"{self.recovery_deadline_ms} ms")

    # -- tick ------------------------------------------------------------------------

    def _tick(self, now: int) -> list[Action]:
        self.stats["ticks"] += 1
        actions: list[Action] = []
        for rid, p in list(self._pending.items()):
            if now - p.sent_ms >= self.config.request_timeout_ms:
                actions += self._on_failure(RequestFailed(rid, p.peer, "timeout"), now)
        if self.catching_up:
            actions += self._recover(now)
        for s in list(self._sessions.values()):
            if s.started_ms is None:
                s.started_ms = now
            elif now - s.started_ms >= self.config.session_timeout_ms:
                self._end_session(s, "session_timeout", now,
                                  f"{s.pages} pages, {s.rounds} rounds in {now - s.started_ms} ms")
        if len(self._sessions) < self.config.max_sessions and self._room():
            peer = self.peers.sample(self.rng, 1, now, exclude=self._sessions)
            if peer:
                self.stats["rounds"] += 1
                session = _Session(peer[0], started_ms=now)
                self._sessions[peer[0]] = session
                actions.append(self._send(peer[0], m.DIGEST, m.Digest(self.digest()), now, session))
        every = self.config.peer_exchange_every
        if every > 0 and self.stats["ticks"] % every == 1 % every and self._room():
            peer = self.peers.sample(self.rng, 1, now)
            if peer:
                share = self.peers.sample(self.rng, self.config.peers_shared, now, exclude=peer)
                actions.append(self._send(peer[0], m.PEERS,
                                          m.PeersRequest(self.own_url, tuple(share)), now))
        return actions

    def _room(self) -> bool:
        return len(self._pending) < self.config.max_inflight

    def _send(self, peer: str, path: str, message: m.Message, now: int,
              session: _Session | None = None,
              ranges: tuple[tuple[bytes, int, int, int], ...] = ()) -> Send:
        rid = self._next_id
        self._next_id += 1
        self._pending[rid] = _Pending(path, peer, now, session, ranges)
        self.stats["requests"] += 1
        return Send(rid, peer, path, message, self.peers.guarded(peer))

    # -- own-log recovery --------------------------------------------------------------

    def _quorum(self) -> int:
        return min(self.config.own_sync_quorum, len(self.peers.urls()))

    def recovered(self, now: int) -> bool:
        """True when signing can no longer fork our own log (as far as can be known)."""
        mine = self.own_seq()
        if mine < self._own_proven:
            return False  # a signed entry of ours beyond our head exists: never sign below it
        if self.own_log_lost and (mine == 0 or max(self._own_claims.values(), default=0) < mine):
            # A key with no store: only its own entries back (or the operator) end it, and
            # then only once a peer answered that our head is where we now are; entries
            # pushed to us by a peer we cannot ask may be only the start of our chain.
            return False
        if self._own_fetching():
            # Entries of ours are on their way (perhaps from an older peer whose claim came
            # without proof): wait for them. A staller holds us one request timeout at most.
            return False
        return len(self._own_claims) >= self._quorum() or now >= self.recovery_deadline_ms

    def _recover(self, now: int) -> list[Action]:
        if self.recovered(now):
            self.catching_up = False
            return []
        actions: list[Action] = []
        mine = self.own_seq()
        usable = set(self.peers.usable(now))
        if self._own_proven > mine and not self._own_fetching():
            # Fetch towards the highest proven head from a peer that proved it.
            provers = sorted((seq, p) for p, seq in self._own_claims.items()
                             if seq > mine and p in usable)
            if provers:
                seq, peer = provers[-1]
                actions += self._fetch_own(peer, mine, seq, now)
        asking = {p.peer for p in self._pending.values() if p.path == m.HEAD}
        for peer, when in list(self._own_asked.items()):
            if now - when >= _REASK_MS:
                del self._own_asked[peer]
        want = self._quorum() - len(self._own_claims) - len(asking)
        if want <= 0 and not asking:
            want = 1  # stuck after a quorum answered: keep asking, one peer at a time
        if want > 0:
            exclude = asking | set(self._own_asked) | set(self._own_claims)
            targets = self.peers.sample(self.rng, want, now, exclude=exclude)
            if not targets:  # everyone answered already: ask again those asked longest ago
                targets = self.peers.sample(self.rng, 1, now, exclude=asking | set(self._own_asked))
            for t in targets:
                self._own_asked[t] = now
                actions.append(self._send(t, m.HEAD, m.HeadRequest(self.node_id), now))
        return actions

    def _own_fetching(self) -> bool:
        """True while a fetch of our own chain is in flight or queued."""
        return any(r[0] == self.node_id for p in self._pending.values() for r in p.ranges) or any(
            f[0] == self.node_id for s in self._sessions.values() for f in s.fetch)

    def _fetch_own(self, peer: str, mine: int, target: int, now: int) -> list[Action]:
        """Fetch our own chain from `peer`, from our head on (it proceeds while it progresses)."""
        session = self._sessions.get(peer)
        if session is None:
            session = self._sessions[peer] = _Session(peer, paging=False)
        session.fetch.append((self.node_id, mine, target))
        return self._pump(session, now)

    def _head_proof(self, peer: str, reply: m.HeadReply, now: int) -> bool:
        """True when `reply.entry` is our own entry at `reply.seq`, validly signed."""
        if reply.entry is None:
            return False
        try:
            entry = decode_entry(reply.entry, verify=False)
            verify_signature(self.replica.evidence_key(entry), entry.payload, entry.sig)
        except EntryError as exc:
            self.peers.penalize(peer, exc.code, now, detail=f"head proof: {exc.message}"[:200])
            return False
        if entry.author != self.node_id or entry.seq != reply.seq or entry.id != reply.id:
            self.peers.penalize(peer, "false_head", now,
                                detail=f"head proof is not our entry at seq {reply.seq}")
            return False
        return True

    def _on_own_head(self, peer: str, reply: m.HeadReply, now: int) -> list[Action]:
        if reply.author != self.node_id:
            self.peers.penalize(peer, "bad_message", now, detail="head reply for another author")
            return []
        mine = self.own_seq()
        actions: list[Action] = []
        self._own_unproven.pop(peer, None)
        if reply.seq <= mine:
            self._own_claims[peer] = reply.seq
        elif self._head_proof(peer, reply, now):
            # Proven: our signature at that seq exists. We may not sign at or below it.
            self._own_claims[peer] = reply.seq
            self._own_proven = max(self._own_proven, reply.seq)
        else:
            # A claim that proves nothing counts as an answer of nothing (DESIGN 12). Older
            # nodes send no proof: fetching from it still recovers what it really holds
            # (the entries prove themselves); a liar delivers nothing and its claim falls.
            self._own_claims[peer] = 0
            self._own_unproven[peer] = reply.seq
            if not self._own_fetching():
                actions += self._fetch_own(peer, mine, reply.seq, now)
        return actions + self._recover(now)

    def _drop_own_claim(self, peer: str, got: int) -> None:
        """`peer` failed or stalled delivering our chain beyond `got`: an unproven claim
        falls to an answer of nothing; a proven one is forgotten (the peer is asked again
        later, and the proven seq stays known: another peer may deliver it)."""
        self._own_unproven.pop(peer, None)
        if self._own_claims.get(peer, 0) > got:
            del self._own_claims[peer]

    # -- responses ---------------------------------------------------------------------

    def _on_response(self, ev: Response, now: int) -> list[Action]:
        p = self._pending.pop(ev.request_id, None)
        if p is None or p.peer != ev.peer:
            return []  # timed out already, or not ours
        self.peers.succeeded(ev.peer, now)
        msg, session = ev.message, p.session
        actions: list[Action] = []
        if isinstance(msg, m.InSync):
            self.stats["in_sync"] += 1
            if session is not None:
                session.paging = False
        elif isinstance(msg, m.Heads) and session is not None:
            if p.path == m.DIGEST:
                self.stats["mismatch"] += 1
            actions += self._on_heads(session, msg, now)
        elif isinstance(msg, m.Entries):
            actions += self._on_entries(p, msg, now)
        elif isinstance(msg, m.PushAck):
            actions += self._on_push_ack(p, msg, now)
        elif isinstance(msg, m.PeersReply):
            for url in msg.urls[: self.config.peers_shared]:
                self.peers.add(url, "exchange", now)
        elif isinstance(msg, m.HeadReply):
            actions += self._on_own_head(ev.peer, msg, now)
        if session is not None and self._sessions.get(session.peer) is session:
            actions += self._pump(session, now)
        return actions

    def _on_failure(self, ev: RequestFailed, now: int) -> list[Action]:
        p = self._pending.pop(ev.request_id, None)
        if p is None:
            return []
        self.stats["failures"] += 1
        if ev.code in ("bad_message", "too_large"):
            self.peers.penalize(ev.peer, ev.code, now, detail=f"reply to {p.path}")
        elif ev.code == "private_address":
            # Several requests may have been in flight: the first refusal dropped the record.
            known = self.peers.get(ev.peer)
            earlier = self.peers.refused.get(ev.peer)
            source = (known.source if known is not None
                      else earlier["source"] if earlier is not None else "gossip")
            self.peers.refuse(ev.peer, source, "its host name resolves to a private address", now)
        else:
            self.peers.failed(ev.peer, ev.code, now)
        if p.session is not None:
            self._sessions.pop(p.session.peer, None)
        if any(r[0] == self.node_id for r in p.ranges):
            self._drop_own_claim(ev.peer, self.own_seq())
        return []

    # -- anti-entropy ------------------------------------------------------------------

    def _sorted_authors(self) -> list[bytes]:
        key = self.replica.heads_digest()
        if key != self._authors_key:
            self._authors_key, self._authors = key, sorted(self.replica.heads())
        return self._authors

    def _head(self, author: bytes) -> tuple[int, bytes]:
        head = self.replica.head(author)
        return (0, b"") if head is None else (head.seq, head.id)

    def _heads_page(self, after: bytes | None, *, with_forks: bool) -> m.Heads:
        authors = self._sorted_authors()
        forked = {a for a, _ in self._forks}
        start = 0 if after is None else bisect.bisect_right(authors, after)
        page: list[tuple[bytes, int, bytes]] = []
        i = start
        while i < len(authors) and len(page) < self.config.heads_page:
            if authors[i] not in forked:
                seq, ident = self._head(authors[i])
                page.append((authors[i], seq, ident))
            i += 1
        forks = tuple(sorted(self._forks)[: self.config.max_forks_listed]) if with_forks else ()
        return m.Heads(tuple(page), more=i < len(authors), after=after, forks=forks)

    def _end_session(self, s: _Session, reason: str, now: int, detail: str) -> None:
        """End a session early and charge its peer (`reason`: a penalty code)."""
        s.ended = True
        s.paging = False
        s.fetch.clear()
        s.push.clear()
        s.fork_fetch.clear()
        s.fork_push.clear()
        if self._sessions.get(s.peer) is s:
            del self._sessions[s.peer]
        self.stats["sessions_ended"] += 1
        self.peers.penalize(s.peer, reason, now, detail=detail)

    def _queue_cap(self) -> int:
        # A session sends at most max_session_rounds requests of max_ranges ranges each:
        # ranges queued beyond that would never be sent.
        return self.config.max_ranges * self.config.max_session_rounds

    def _on_heads(self, s: _Session, page: m.Heads, now: int) -> list[Action]:
        if s.ended:
            return []
        s.paging = False
        s.pages += 1
        if page.after != s.after or (s.after is not None and page.heads
                                     and page.heads[0][0] <= s.after):
            asked = "the start" if s.after is None else s.after.hex()[:16]
            self._end_session(s, "no_progress", now,
                              f"heads page {s.pages} does not start after {asked}")
            return []
        if page.more and s.pages >= self.config.max_session_pages:
            self._end_session(s, "endless_session", now,
                              f"{s.pages} heads pages and still more")
            return []
        cap = self._queue_cap()
        forked = {a for a, _ in self._forks} | {a for a, _ in page.forks}
        theirs = {author: (seq, ident) for author, seq, ident in page.heads}
        # Authors this page covers: (after, last] or (after, end) on the last page.
        authors = self._sorted_authors()
        lo = 0 if page.after is None else bisect.bisect_right(authors, page.after)
        hi = bisect.bisect_right(authors, page.heads[-1][0]) if page.more and page.heads else len(authors)
        for author in authors[lo:hi]:
            if author in forked or author in theirs:
                continue
            if len(s.push) >= cap:
                break
            s.push.append((author, 0, self._head(author)[0]))  # they lack this author
        for author, seq, ident in page.heads:
            if author in forked or len(s.fetch) >= cap or len(s.push) >= cap:
                continue
            mine, my_id = self._head(author)
            if seq > mine:
                # From one before our head: if their entry at our head's seq differs, ingest
                # turns it into a fork proof (hash chaining makes any divergence show there).
                s.fetch.append((author, max(0, mine - 1), seq))
            elif seq == mine and ident != my_id:
                s.fetch.append((author, seq - 1, seq))
            elif seq < mine:
                s.push.append((author, seq - 1, mine))
        if page.forks or page.after is None:
            their_forks = set(page.forks)
            s.fork_fetch += [k for k in page.forks if k not in self._forks]
            s.fork_push += [self._forks[k].encode() for k in sorted(self._forks)
                            if k not in their_forks][:16]
        if page.more and page.heads:
            s.paging = True
            s.after = page.heads[-1][0]
            return [self._send(s.peer, m.HEADS, m.HeadsRequest(s.after), now, s)]
        return []

    def _pump(self, s: _Session, now: int) -> list[Action]:
        """Send the session's next fetch and next push, one of each in flight at a time."""
        actions: list[Action] = []
        if s.ended:
            return actions
        if s.rounds >= self.config.max_session_rounds:
            s.fetch.clear()
            s.push.clear()
            s.fork_fetch.clear()
            s.fork_push.clear()
        if not s.fetching and (s.fetch or s.fork_fetch):
            # Each range asks for at most the batch budget left; whatever it does not get
            # is re-queued by _on_entries when the reply made progress.
            ranges: list[tuple[bytes, int, int, int]] = []  # author, after, target, head now
            limits: list[tuple[bytes, int, int]] = []
            budget = self.config.fetch_batch_entries
            while s.fetch and len(ranges) < self.config.max_ranges and budget > 0:
                author, after, target = s.fetch.popleft()
                limit = max(1, min(target - after, budget))
                budget -= limit
                ranges.append((author, after, target, self._head(author)[0]))
                limits.append((author, after, limit))
            forks = tuple(s.fork_fetch[: self.config.max_ranges])
            del s.fork_fetch[: self.config.max_ranges]
            msg = m.Fetch(tuple(limits), forks)
            s.fetching = True
            s.rounds += 1
            actions.append(self._send(s.peer, m.FETCH, msg, now, s, tuple(ranges)))
        if not s.pushing and (s.push or s.fork_push):
            raws = self._take(s.push)
            forks_raw = tuple(s.fork_push[:16])
            del s.fork_push[:16]
            if raws or forks_raw:
                s.pushing = True
                s.rounds += 1
                actions.append(self._send(s.peer, m.PUSH, m.Push(tuple(raws), forks_raw), now, s))
        if s.done():
            self._sessions.pop(s.peer, None)
        return actions

    def _take(self, queue: deque[tuple[bytes, int, int]]) -> list[bytes]:
        """Raw entries for the next push from a queue of ranges, within the push bounds."""
        raws: list[bytes] = []
        size = 0
        while queue and len(raws) < self.config.max_push_entries:
            author, after, target = queue.popleft()
            room = self.config.max_push_entries - len(raws)
            batch = self.replica.range(author, after, min(room, target - after), verify=True)
            for e in batch:
                if size + len(e.raw) > self.config.fetch_batch_bytes and raws:
                    queue.appendleft((author, e.seq - 1, target))
                    return raws
                raws.append(e.raw)
                size += len(e.raw)
            if batch and batch[-1].seq < target:
                queue.appendleft((author, batch[-1].seq, target))
        return raws

    def _on_entries(self, p: _Pending, msg: m.Entries, now: int) -> list[Action]:
        s = p.session
        actions: list[Action] = []
        if msg.entries:
            result = self._ingest(msg.entries, p.peer, now)
            actions += self._absorb(result, p.peer, "url", now, exclude=(p.peer,))
        for raw in msg.forks:
            actions += self._fork_in(raw, p.peer, "url", now, exclude=(p.peer,))
        if s is not None and not s.ended:
            s.fetching = False
            for author, _after, target, before in p.ranges:
                got = self._head(author)[0]
                if before < got < target:
                    s.fetch.append((author, got, target))  # progress: continue the range
                elif got <= before and author == self.node_id:
                    claimed = max(self._own_claims.get(p.peer, 0),
                                  self._own_unproven.get(p.peer, 0))
                    if claimed > got:
                        # It claimed more of our chain than it delivers: drop its claim. With
                        # `more: false` that is a lie (honest peers hold every entry they
                        # report); with `more: true` it may be a full batch, or a stall.
                        self._drop_own_claim(p.peer, got)
                        if not msg.more:
                            self.peers.penalize(p.peer, "false_head", now,
                                                detail=f"claimed our seq {claimed}, sent none")
        return actions

    def _on_push_ack(self, p: _Pending, msg: m.PushAck, now: int) -> list[Action]:
        s = p.session
        if s is None:
            # An eager push hit a gap at the receiver: send the missing range once (bounded).
            if not msg.wants:
                return []
            s = self._sessions.get(p.peer)
            if s is None:
                if len(self._sessions) >= self.config.max_sessions * 2:
                    return []
                s = self._sessions[p.peer] = _Session(p.peer, paging=False)
            self._queue_wants(s, msg)
            return self._pump(s, now)
        if s.ended:
            return []
        s.pushing = False
        self._queue_wants(s, msg)
        return []

    def _queue_wants(self, s: _Session, msg: m.PushAck) -> None:
        forked = {a for a, _ in self._forks}
        for author, seq in msg.wants[: self.config.max_ranges]:
            mine = self._head(author)[0]
            if mine > seq and author not in forked:
                s.push.append((author, seq, mine))

    # -- inbound -----------------------------------------------------------------------

    def _serve_fetch(self, req: m.Fetch) -> m.Entries:
        raws: list[bytes] = []
        size = 0
        more = False
        cap = self.config.fetch_batch_entries
        for author, after, limit in req.ranges[: self.config.max_ranges]:
            if len(raws) >= cap:
                more = True
                break
            for e in self.replica.range(author, after, min(limit, cap - len(raws)), verify=True):
                if size + len(e.raw) > self.config.fetch_batch_bytes:
                    more = True
                    break
                raws.append(e.raw)
                size += len(e.raw)
            if more:
                break
        forks = []
        for key in req.forks[: self.config.max_ranges]:
            proof = self._forks.get(key)
            if proof is not None and size < self.config.fetch_batch_bytes:
                raw = proof.encode()
                forks.append(raw)
                size += len(raw)
        return m.Entries(tuple(raws), tuple(forks), more)

    def _on_push(self, peer_id: str, msg: m.Push, now: int) -> tuple[m.Message, list[Action]]:
        sender = self.peers.get(peer_id)
        exclude = (sender.url,) if sender is not None and sender.url else ()
        result = self._ingest(msg.entries[: self.config.max_push_entries * 4], peer_id, now)
        actions = self._absorb(result, peer_id, "node", now, exclude=exclude)
        for raw in msg.forks[:16]:
            actions += self._fork_in(raw, peer_id, "node", now, exclude=exclude)
        wants = tuple(sorted(result.gaps.items())[: self.config.max_ranges])
        ack = m.PushAck(len(result.accepted), result.duplicates, len(result.rejected), wants)
        return ack, actions

    def _on_peers(self, peer_id: str, msg: m.PeersRequest, now: int) -> m.PeersReply:
        exclude: list[str] = []
        if msg.url is not None:
            url = msg.url.rstrip("/")
            self.peers.add(url, "exchange", now)
            self.peers.set_node_id(url, peer_id)
            sender = self.peers.record(peer_id, "node", now)
            if sender is not None and url in self.peers:  # not a refused (private) URL
                sender.url = url
            exclude.append(url)
        for url in msg.urls[: self.config.peers_shared]:
            self.peers.add(url, "exchange", now)
        share = self.peers.sample(self.rng, self.config.peers_shared, now, exclude=exclude)
        return m.PeersReply(tuple(share))

    # -- new-author admission --------------------------------------------------------------

    def _ingest(self, raws: Sequence[bytes], key: str, now: int) -> IngestResult:
        """Store what `key` sent, but at most `new_authors_per_peer` authors not held yet per
        `new_authors_interval_s` from one peer, and `new_authors_total` from all peers
        together (an author flood slows every view and fills memory, and keys are free to
        make); the rest is refused with `author_limit`, which costs the sender nothing:
        an honest relayer of many new parties gets them in over later rounds."""
        limit, total = self.config.new_authors_per_peer, self.config.new_authors_total
        if (limit <= 0 and total <= 0) or not raws:
            return self.replica.ingest(raws, now)
        window_ms = self.config.new_authors_interval_s * 1000
        start, taken = self._new_authors.pop(key, (now, 0))
        if now - start >= window_ms:
            start, taken = now, 0
        all_start, all_taken = self._new_authors_all
        if now - all_start >= window_ms:
            all_start, all_taken = now, 0
        admitted: list[bytes] = []
        refused: list[Rejected] = []
        taken_now: set[bytes] = set()
        limited: set[bytes] = set()
        for i, raw in enumerate(raws):
            author = _author_of(raw)
            if (author is None or author in taken_now or self.replica.head(author) is not None
                    or author in self.vouchers or self._vouched_for(author)):
                # Held already, ours or an anchor's, vouched for, or malformed (ingest says).
                admitted.append(raw)
            elif (author not in limited and (limit <= 0 or taken < limit)
                    and (total <= 0 or all_taken < total)):
                taken += 1
                all_taken += 1
                taken_now.add(author)
                admitted.append(raw)
            else:
                limited.add(author)
                whom = (f"{limit} new authors from this peer" if 0 < limit <= taken
                        else f"{total} new authors from all peers")
                refused.append(Rejected(i, None, "author_limit",
                                        f"over {whom} in {self.config.new_authors_interval_s} s"))
        self._new_authors[key] = (start, taken)
        self._new_authors_all = (all_start, all_taken)
        while len(self._new_authors) > MAX_ADMISSION_KEYS:
            self._new_authors.popitem(last=False)
        result = self.replica.ingest(admitted, now) if admitted else IngestResult()
        if not refused:
            return result
        self.stats["author_limited"] += len(refused)
        self._happened.append(AuthorsLimited(len(refused)))
        return replace(result, rejected=(*result.rejected, *refused))

    def _vouched_for(self, author: bytes) -> bool:
        """Whether this node or one of its anchors states trust in `author` (level > 0)."""
        key = tuple(h.seq if (h := self.replica.head(v)) is not None else 0 for v in self.vouchers)
        if key != self._vouched_key:
            vouched: set[str] = set()
            for voucher in self.vouchers:
                for e in self.replica.query(author=voucher, kind="trust", limit=1_000_000):
                    level = e.body.get("level")
                    if isinstance(level, int | float) and level > 0:
                        vouched.add(str(e.body.get("subject")))
            self._vouched_key, self._vouched = key, frozenset(vouched)
        return author.hex() in self._vouched

    def _absorb(self, result: IngestResult, key: str, kind: PeerKind, now: int,
                exclude: Iterable[str]) -> list[Action]:
        """Score the sender, discover peers, and push newly learned data on."""
        policy = self.config.policy
        if result.accepted:
            self.stats["learned"] += len(result.accepted)
            self.peers.reward(key, "new entries", policy.reward_per_entry * len(result.accepted),
                              now, kind=kind)
            self.peers.count(key, accepted=len(result.accepted))
            for entry in result.accepted:
                self._discover(entry, now)
            self._forget_disowned(result.accepted)
            self._happened.append(EntriesLearned(key, result.accepted))
        bad = [r for r in result.rejected if r.code in _MISBEHAVIOUR]
        if result.rejected:
            self.stats["rejected"] += len(result.rejected)
            self._happened.append(EntriesRejected(key, result.rejected))
            self.peers.count(key, rejected=len(result.rejected))
        for r in bad[:8]:  # a few penalties per message: enough to graylist a forger
            self.peers.penalize(key, r.code, now, kind=kind,
                                detail=f"entry {(r.id or '?')[:16]}: {r.message}"[:200])
        forked = self.replica.forked_authors()
        for proof in result.forks:
            if proof.author in forked:  # a fork its party disowned is held, not spread
                self._register_fork(proof, key, kind, now)
        fresh = [e for e in result.accepted if e.ts >= now - self.config.push_max_age_ms]
        actions = self._eager(fresh, list(result.forks), now, exclude=exclude)
        # A fork found here was sent by a peer that does not know it either: tell it too.
        sender = self.peers.get(key)
        back = key if kind == "url" else (sender.url if sender is not None else None)
        if result.forks and back is not None and self._room():
            proofs = tuple(p.encode() for p in result.forks[:16])
            actions.append(self._send(back, m.PUSH, m.Push((), proofs), now))
        return actions

    def _fork_in(self, raw: bytes, key: str, kind: PeerKind, now: int,
                 exclude: Iterable[str]) -> list[Action]:
        try:
            proof = decode_fork_proof(raw, self.replica.evidence_key)
        except ForkProofError as exc:
            self.peers.penalize(key, "bad_fork_proof", now, kind=kind, detail=exc.message[:200])
            return []
        if (proof.author, proof.seq) in self._forks:
            return []
        self.replica.add_fork(proof)
        if proof.author not in self.replica.forked_authors():
            return []  # disowned by its party (a stolen key's fork): held, not spread
        self._register_fork(proof, key, kind, now)
        return self._eager([], [proof], now, exclude=exclude)

    def _forget_disowned(self, entries: Sequence[Entry]) -> None:
        """A recovery rotation disowns forks of a stolen key: their author syncs again."""
        if any(e.kind == "rotation" for e in entries):
            forked = self.replica.forked_authors()
            for k in [k for k in self._forks if k[0] not in forked]:
                del self._forks[k]
            self._digest_key = None

    def _register_fork(self, proof: ForkProof, key: str, kind: PeerKind, now: int) -> None:
        if (proof.author, proof.seq) not in self._forks:
            self._forks[(proof.author, proof.seq)] = proof
            self.stats["forks_learned"] += 1
            self._happened.append(ForkLearned(key, proof))
            self.peers.reward(key, "fork proof", self.config.policy.reward_per_fork, now, kind=kind)

    def _eager(self, entries: list[Entry], forks: list[ForkProof], now: int,
               exclude: Iterable[str]) -> list[Action]:
        """Push each new entry and fork proof once, to `fanout` random peers."""
        new = []
        for e in entries:
            if e.id not in self._seen:
                new.append(e.raw)
                self._mark_seen(e.id)
        proofs = []
        for proof in forks:
            fid = hashlib.sha256(proof.encode()).digest()
            if fid not in self._seen:
                proofs.append(proof.encode())
                self._mark_seen(fid)
        if not new and not proofs:
            return []
        targets = self.peers.sample(self.rng, self.config.fanout, now, exclude=exclude)
        actions: list[Action] = []
        step = self.config.max_push_entries
        for target in targets:
            for i in range(0, max(len(new), 1), step):
                if not self._room():
                    return actions  # bounded in-flight work; anti-entropy covers the rest
                chunk = tuple(new[i:i + step])
                msg = m.Push(chunk, tuple(proofs) if i == 0 else ())
                self.stats["pushed"] += len(chunk)
                actions.append(self._send(target, m.PUSH, msg, now))
        return actions

    def _mark_seen(self, key: bytes) -> None:
        self._seen[key] = None
        if len(self._seen) > self.config.seen_cache:
            self._seen.popitem(last=False)

    def _discover(self, entry: Entry, now: int) -> None:
        """Peers from `profile` statements: a party names where its node listens."""
        if entry.kind != "profile" or entry.author == self.node_id:
            return
        urls = entry.body.get("urls")
        if not isinstance(urls, list | tuple):
            return
        for url in list(urls)[:16]:
            if isinstance(url, str) and url.startswith(("http://", "https://")) and len(url) < 2048:
                url = url.rstrip("/")
                self.peers.add(url, "profile", now)
                self.peers.set_node_id(url, entry.author.hex())
