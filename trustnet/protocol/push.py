"""The state every gossip tier shares, and the first tier: ingest and eager push (DESIGN 6).

`PushGossip` builds the protocol's state (peer table, dedup cache, forks, sessions and
requests in flight, own-log recovery counters) and takes in what peers send: a batch goes
to the replica through new-author admission (at most `new_authors_per_peer` authors not
held yet per interval from one peer, `new_authors_total` from all), the sender is scored,
peers named in `profile` statements are discovered, fork proofs are registered, and each
new entry or proof is pushed once to `fanout` random peers. The anti-entropy tier
(`protocol.anti_entropy`), own-log recovery (`protocol.recovery`) and the event loop
(`protocol.gossip.GossipProtocol`) build on it.
"""

from __future__ import annotations

import hashlib
import random
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import replace

from trustnet.errors import ForkProofError, TrustnetError
from trustnet.log.entry import Entry, ForkProof, author_hint, decode_entry, decode_fork_proof
from trustnet.protocol import digest as digest_records, messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.digest import HeadsMirror
from trustnet.protocol.events import (
    MAX_PENDING_EVENTS,
    Action,
    AuthorsLimited,
    EntriesLearned,
    EntriesRejected,
    ForkLearned,
    Happened,
    PeerDecision,
    Send,
)
from trustnet.protocol.forks import ForkBook
from trustnet.protocol.peers import PeerKind, PeerTable
from trustnet.protocol.replica import IngestResult, Rejected, Replica
from trustnet.protocol.sessions import Pending, Session

MAX_ADMISSION_KEYS = 4096  # peers whose new-author windows are remembered (oldest forgotten)
# Entry rejection codes that prove the sender relayed forged or malformed data. Chain
# codes (bad_seq, bad_prev) are not here: an honest peer holding the other branch of an
# undetected fork sends exactly those.
_MISBEHAVIOUR = frozenset({
    "bad_encoding", "too_large", "bad_version", "bad_signature", "unknown_kind", "bad_body",
    "bad_timestamp",
})


def _author_of(raw: bytes) -> bytes | None:
    """The author of a raw entry, read without checking its signature (None: malformed)."""
    try:
        return decode_entry(raw, verify=False).author
    except TrustnetError:
        return None


class PushGossip:
    """One node's gossip state, and how entries and fork proofs come in and are pushed on."""

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
            "author_limited": 0, "forks_refused": 0, "recon_fallbacks": 0,
            # Entries of large pushes checked on the ingest workers before their turn
            # (`Node.handle_gossip`, `Store.checked_ahead`).
            "checked_ahead": 0,
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
        self._pending: dict[int, Pending] = {}
        self._sessions: dict[str, Session] = {}
        self._next_id = 1
        # The fork book also adopts the proofs the replica gains by routes the protocol
        # does not see (an import, a witness, another writer); what the protocol's own calls
        # bring, it registers itself (`ForkBook.own_ingest`, `_register_fork`).
        self._forks = ForkBook(replica, replica.forks(), max_unheld=self.config.max_unheld_forks)
        # Fork keys refused (`fork_limit`, `author_limit`) -> when: not fetched again from
        # every peer that lists them while their author is not held here.
        self._forks_refused: OrderedDict[tuple[bytes, int], int] = OrderedDict()
        # The anti-entropy digest and the sorted authors are made again only once the heads
        # changed (`_heads_key`): `_moves` counts the batches whose heads moved here.
        self._moves = 0
        self._digest_key: tuple[tuple[int, int, int], tuple[int, int]] | None = None
        self._digest = b""
        self._authors_key: tuple[int, int, int] | None = None
        self._authors: list[bytes] = []
        self._mirror: HeadsMirror | None = None  # from MIRROR_MIN_AUTHORS authors up
        # Authors whose head moved last, newest last, and the tick it moved at (range
        # reconciliation's `recent`).
        self._recent: dict[bytes, int] = {}  # insertion-ordered: oldest first
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

    def take_events(self) -> list[Happened]:
        """What happened since the last call, oldest first (graylisting decisions of the
        peer table included); the shell logs, counts and forwards them."""
        decisions = self.peers.decisions
        while decisions:
            self._happened.append(PeerDecision(*decisions.popleft()))
        out = list(self._happened)
        self._happened.clear()
        return out

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

    # -- shared helpers ----------------------------------------------------------------

    def _room(self) -> bool:
        return len(self._pending) < self.config.max_inflight

    def _send(self, peer: str, path: str, message: m.Message, now: int,
              session: Session | None = None,
              ranges: tuple[tuple[bytes, int, int, int], ...] = ()) -> Send:
        rid = self._next_id
        self._next_id += 1
        self._pending[rid] = Pending(path, peer, now, session, ranges)
        self.stats["requests"] += 1
        return Send(rid, peer, path, message, self.peers.guarded(peer))

    def _heads_key(self) -> tuple[int, int, int]:
        """Changes whenever a head does, in O(1): the batches taken in here (`_moves`), and
        the replica's fingerprint of every head (its sum and count, kept incrementally) for
        what moved unseen by the protocol (a quarantined entry, an import into the store).
        Not the replica's `heads_digest`: that is a pass over every head, each time."""
        value, count = self.replica.prefix_fingerprint("")
        return self._moves, value, count

    def _heads_mirror(self) -> HeadsMirror | None:
        """The digest records kept ready, once the node holds enough authors (synced)."""
        if self._mirror is None:
            if self.replica.prefix_fingerprint("")[1] < digest_records.MIRROR_MIN_AUTHORS:
                return None
            self._mirror = HeadsMirror(self.replica)
        self._mirror.sync()
        return self._mirror

    def _sorted_authors(self) -> list[bytes]:
        mirror = self._heads_mirror()
        if mirror is not None:
            return mirror.authors
        key = self._heads_key()
        if key != self._authors_key:
            self._authors_key, self._authors = key, self.replica.prefix_authors("")
        return self._authors

    def _head(self, author: bytes) -> tuple[int, bytes]:
        head = self.replica.head(author)
        return (0, b"") if head is None else (head.seq, head.id)

    def _note_recent(self, entries: Iterable[Entry]) -> None:
        """Remember the authors of `entries` as the latest whose head moved (bounded)."""
        keep = self.config.recon_recent
        self._moves += 1
        # Each author once, in the order of its last entry (a bulk push: thousands of
        # entries, tens of authors).
        authors = [e.author for e in entries]
        authors.reverse()
        authors = list(dict.fromkeys(authors))
        authors.reverse()
        if self._mirror is not None:
            self._mirror.moved(authors)
        tick = self.stats["ticks"]
        for author in authors:
            self._recent.pop(author, None)
            self._recent[author] = tick
        while len(self._recent) > keep:
            del self._recent[next(iter(self._recent))]

    def _drop_own_claim(self, peer: str, got: int) -> None:
        """`peer` failed or stalled delivering our chain beyond `got`: an unproven claim
        falls to an answer of nothing; a proven one is forgotten (the peer is asked again
        later, and the proven seq stays known: another peer may deliver it)."""
        self._own_unproven.pop(peer, None)
        if self._own_claims.get(peer, 0) > got:
            del self._own_claims[peer]

    # -- inbound push ------------------------------------------------------------------

    def _on_push(self, peer_id: str, msg: m.Push, now: int) -> tuple[m.Message, list[Action]]:
        sender = self.peers.get(peer_id)
        exclude = (sender.url,) if sender is not None and sender.url else ()
        result = self._ingest(msg.entries[: self.max_push_ingest()], peer_id, now)
        actions = self._absorb(result, peer_id, "node", now, exclude=exclude)
        for raw in msg.forks[:16]:
            actions += self._fork_in(raw, peer_id, "node", now, exclude=exclude)
        wants = tuple(sorted(result.gaps.items())[: self.config.max_ranges])
        ack = m.PushAck(len(result.accepted), result.duplicates, len(result.rejected), wants)
        return ack, actions

    def max_push_ingest(self) -> int:
        """How many of a push's entries are ingested (the rest are ignored: the sender
        learns from the ack what came in)."""
        return self.config.max_push_entries * 4

    # -- new-author admission --------------------------------------------------------------

    def _ingest(self, raws: Sequence[bytes], key: str, now: int) -> IngestResult:
        """Store what `key` sent, but at most `new_authors_per_peer` authors not held yet per
        `new_authors_interval_s` from one peer, and `new_authors_total` from all peers
        together (an author flood slows every view and fills memory, and keys are free to
        make); the rest is refused with `author_limit`, which costs the sender nothing:
        an honest relayer of many new parties gets them in over later rounds."""
        limit, total = self.config.new_authors_per_peer, self.config.new_authors_total
        if (limit <= 0 and total <= 0) or not raws:
            with self._forks.own_ingest():  # its forks: `_absorb` registers them
                return self.replica.ingest(raws, now)
        start, taken, all_start, all_taken = self._windows(key, now)
        admitted: list[bytes] = []
        refused: list[Rejected] = []
        taken_now: set[bytes] = set()
        limited: set[bytes] = set()
        passed: set[bytes] = set()  # authors seen to pass, by their hint (asked once)
        for i, raw in enumerate(raws):
            # Most entries of a bulk push are by authors held (or just taken): their admission
            # needs only the author they name (if they decode, it is theirs; if not, ingest
            # refuses them either way). The others are decoded to tell.
            hint = author_hint(raw)
            if hint is not None and (hint in passed or self._admitted(hint, taken_now)):
                passed.add(hint)
                admitted.append(raw)
                continue
            author = _author_of(raw)
            if author is None or self._admitted(author, taken_now):
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
        self._keep_windows(key, start, taken, all_start, all_taken)
        result = IngestResult()
        if admitted:
            with self._forks.own_ingest():  # its forks: `_absorb` registers them
                result = self.replica.ingest(admitted, now)
        if not refused:
            return result
        self.stats["author_limited"] += len(refused)
        self._happened.append(AuthorsLimited(len(refused)))
        return replace(result, rejected=(*result.rejected, *refused))

    def _admitted(self, author: bytes, taken_now: set[bytes]) -> bool:
        """Whether entries of `author` pass admission without counting as new: held already,
        taken in this batch, ours or an anchor's, or vouched for."""
        return (author in taken_now or self.replica.head(author) is not None
                or author in self.vouchers or self._vouched_for(author))

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

    # -- what came in, and eager push --------------------------------------------------

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
            self._note_recent(result.accepted)
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
            # Who it is about first (no signature checked): a proof already known, or one
            # the gate refuses, costs no verification.
            fork = decode_fork_proof(raw, verify=False)
            if not self._fork_new(fork.author, fork.seq):
                return []
            held = self._fork_held(fork)
            if not held and self._fork_refused(fork, key, now):
                return []
            proof = decode_fork_proof(raw, self.replica.evidence_key)
        except ForkProofError as exc:
            self.peers.penalize(key, "bad_fork_proof", now, kind=kind, detail=exc.message[:200])
            return []
        with self._forks.own_ingest():  # registered below, not adopted
            self.replica.add_fork(proof)
        if proof.author not in self.replica.forked_authors():
            return []  # disowned by its party (a stolen key's fork): held, not spread
        self._register_fork(proof, key, kind, now, reward=held)
        return self._eager([], [proof], now, exclude=exclude)

    def _fork_new(self, author: bytes, seq: int) -> bool:
        """Whether a fork proof would be kept: one per author, the lowest seq (a forked
        author is left out of the heads already; more proofs about it add nothing)."""
        first = self._forks.first_seq(author)
        return first is None or seq < first

    def _fork_held(self, proof: ForkProof) -> bool:
        """Whether a fork proof protects what this node holds: one of its two entries is
        an entry held here (the same id), or it is about us, an anchor or an author we
        vouch for. Holding some entry of the author is not enough: a free key gets one
        entry in, then proofs at every later seq would pass (adversarial review)."""
        return (any(self.replica.get(e.id) is not None for e in (proof.a, proof.b))
                or proof.author in self.vouchers or self._vouched_for(proof.author))

    def _fork_refused(self, proof: ForkProof, key: str, now: int) -> bool:
        """Whether to refuse a fork proof about an author this node does not hold (DESIGN 12:
        keys are free, and so are proofs of their equivocation). Such a proof protects
        nothing held here, so it is taken like a new author's entry: within the new-author
        windows of its sender and of all peers (`author_limit`), and while fewer than
        `max_unheld_forks` fork keys of authors not held are kept (`fork_limit`). No penalty
        either way (an honest node relays proofs about authors it holds); no reward."""
        fork_key = (proof.author, proof.seq)
        if self._forks.unheld >= self.config.max_unheld_forks:
            code = "fork_limit"
            message = (f"{self.config.max_unheld_forks} fork proofs about authors not held "
                       "are kept already")
        elif not self._charge_new_author(key, now):
            code = "author_limit"
            message = (f"fork proof about an author not held, over the new-author limits "
                       f"in {self.config.new_authors_interval_s} s")
        else:
            return False
        self.stats["forks_refused"] += 1
        self._forks_refused[fork_key] = now
        self._forks_refused.move_to_end(fork_key)
        while len(self._forks_refused) > MAX_ADMISSION_KEYS:
            self._forks_refused.popitem(last=False)
        self._happened.append(EntriesRejected(key, (Rejected(0, proof.a.id.hex(), code,
                                                             message),)))
        return True

    def _fork_wanted(self, fork_key: tuple[bytes, int], now: int) -> bool:
        """Whether to fetch a fork proof a peer lists: not held, not refused lately."""
        if not self._fork_new(*fork_key):
            return False
        # A key refused (about an author not held) is not fetched again while its author
        # is not held here, however often peers list it: peers of this version list only
        # keys of authors they hold, and then its chain is fetched first (see
        # `_take_fork_listing`), after which the proof counts as held.
        return (fork_key not in self._forks_refused
                or self.replica.head(fork_key[0]) is not None)

    def _charge_new_author(self, key: str, now: int) -> bool:
        """Count one new author against `key`'s and all peers' admission windows (as
        `_ingest` does per entry); False when either is spent."""
        limit, total = self.config.new_authors_per_peer, self.config.new_authors_total
        if limit <= 0 and total <= 0:
            return True
        start, taken, all_start, all_taken = self._windows(key, now)
        ok = (limit <= 0 or taken < limit) and (total <= 0 or all_taken < total)
        self._keep_windows(key, start, taken + ok, all_start, all_taken + ok)
        return ok

    def _windows(self, key: str, now: int) -> tuple[int, int, int, int]:
        """`key`'s and all peers' new-author windows as of `now` (start, taken; a window
        older than `new_authors_interval_s` starts again); `_keep_windows` stores them."""
        window_ms = self.config.new_authors_interval_s * 1000
        start, taken = self._new_authors.pop(key, (now, 0))
        if now - start >= window_ms:
            start, taken = now, 0
        all_start, all_taken = self._new_authors_all
        if now - all_start >= window_ms:
            all_start, all_taken = now, 0
        return start, taken, all_start, all_taken

    def _keep_windows(self, key: str, start: int, taken: int, all_start: int,
                      all_taken: int) -> None:
        self._new_authors[key] = (start, taken)  # last used last: the oldest go first
        self._new_authors_all = (all_start, all_taken)
        while len(self._new_authors) > MAX_ADMISSION_KEYS:
            self._new_authors.popitem(last=False)

    def _register_fork(self, proof: ForkProof, key: str, kind: PeerKind, now: int, *,
                       reward: bool = True) -> None:
        first = self._forks.first_seq(proof.author)
        if first is not None and first <= proof.seq:
            return  # one proof per author, the lowest seq (`_fork_new`)
        if first is not None:
            del self._forks[(proof.author, first)]  # replaced: the author was forked already
        self._forks[(proof.author, proof.seq)] = proof
        self.stats["forks_learned"] += 1
        self._happened.append(ForkLearned(key, proof))
        if reward and first is None:  # a newly forked author held here (DESIGN 12)
            self.peers.reward(key, "fork proof", self.config.policy.reward_per_fork, now,
                              kind=kind)

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
