"""The node: composition and lifecycle of identity, store, gossip protocol and transport.

`Node` owns no policy of its own: the sans-IO `GossipProtocol` decides what to
send, the transport moves bytes, the store keeps entries (the protocol's replica).
The node performs the protocol's `Send` actions as tasks, feeds replies back as
events, answers every inbound request through the protocol's admission policy
(`protocol.admission`: `gate`, then `respond`, as `admit` runs them, with its signature
check and testbed partition), acts
on what the protocol says happened (logs, metrics, `NewEntries`/`NewFork` to its
listeners), and refuses to sign while its own log is being recovered.

Lifecycle: `await node.start()` serves the gossip endpoints and, when
`config.tick_interval_s` is set, runs the tick loop; `await node.stop()` cancels
the loop and every in-flight request and waits for them. Tests leave the tick
loop off, call `await node.tick()` and `await node.idle()`, and settle clusters
by condition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeAlias

from trustnet.api.metrics import NodeMetrics
from trustnet.clock import Clock
from trustnet.errors import EntryError, TrustnetError
from trustnet.identity import Identity, is_party_id
from trustnet.log.entry import Entry, ForkProof
from trustnet.log.keys import ROTATION_KIND, rotation_body
from trustnet.log.receipts import WITNESSES_KIND, sign_receipt
from trustnet.node.witness import WitnessConfig, WitnessProtocol, declaration_due
from trustnet.protocol import messages as m
from trustnet.protocol.admission import Admitted, Refused, gate, respond
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.events import (
    Action,
    AuthorsLimited,
    EntriesLearned,
    EntriesRejected,
    Event,
    ForkLearned,
    LocalEntry,
    PeerDecision,
    RequestFailed,
    Response,
    Send,
    Tick,
)
from trustnet.protocol.gossip import GossipProtocol
from trustnet.store.keys import check_revealed, commit_first, commit_pending
from trustnet.store.receipts import ReceiptBook
from trustnet.store.sqlite import Store
from trustnet.transport.auth import HEADER_NODE, RequestVerifier
from trustnet.transport.base import STATUS, Transport, TransportError, error_body


class NodeError(TrustnetError):
    """The node refuses an operation. Codes: catching_up (own log not recovered yet)."""

    code = "node_error"


SAVE_PEERS_EVERY_MS = 10_000  # learned peers are written out at most this often
MAX_ERRORS_KEPT = 32


class ErrorLog(list[str]):
    """Unexpected exceptions a node met: one line of text each, the newest `limit` kept.

    Never the exception itself: its traceback holds every frame it crossed, and with them
    the request body that caused it (1 MiB a push), for as long as it is kept. A list, so
    tests still assert `node.errors == []`; `total` counts every one ever recorded (also
    `trustnet_internal_errors_total` on /metrics).
    """

    def __init__(self, limit: int = MAX_ERRORS_KEPT) -> None:
        super().__init__()
        self.limit = limit
        self.total = 0

    def record(self, exc: BaseException, where: str) -> str:
        """Keep a summary of `exc`; returns it."""
        self.total += 1
        summary = f"{where}: {type(exc).__name__}: {exc}"[:500]
        self.append(summary)
        if len(self) > self.limit:
            del self[: len(self) - self.limit]
        return summary


# Pushes (and fetch replies) whose entries are checked ahead at once (`handle_gossip`,
# `_perform`): two keep the workers busy while this process stores; more would only hold
# more entries in memory while they wait.
MAX_PUSHES_AHEAD = 4
# Pushes waiting for their turn at once (each holds its body and decoded message, up to
# ~2 MiB): more are refused `busy` (503, nobody charged) and sent again later.
MAX_PUSHES_QUEUED = 32


@dataclass(frozen=True, slots=True)
class NewEntries:
    """Entries this node holds now and did not before: learned from a peer, or its own."""

    entries: tuple[Entry, ...]
    own: bool = False


@dataclass(frozen=True, slots=True)
class NewFork:
    """A proof of equivocation this node learned or found."""

    proof: ForkProof


NodeEvent: TypeAlias = NewEntries | NewFork
Listener: TypeAlias = Callable[[NodeEvent], None]


class Node:
    """One party's node: gossip over a transport, on an injected clock and RNG."""

    def __init__(
        self,
        identity: Identity,
        store: Store,
        transport: Transport,
        *,
        clock: Clock,
        rng: random.Random,
        config: GossipConfig | None = None,
        peers: Iterable[str] = (),
        anchors: Iterable[str] = (),
        url: str | None = None,
        recover_own: bool = True,
        save_peers: Callable[[list[str]], None] | None = None,
        next_digest: bytes | None = None,
        witness: WitnessConfig | None = None,
        backdate_tolerance_ms: int = 3_600_000,
    ) -> None:
        self.identity = identity
        # The committed next key's digest (DIR/next.pub): signed as `keys` before the first
        # own statement of a party that has committed to nothing yet (trustnet/store/keys.py).
        self.next_digest = next_digest
        # Called with the new identity once a rotation is committed (the daemon swaps key files).
        self.on_rotated: Callable[[Entry, Identity], None] | None = None
        self.store = store
        store.own_author = identity.public_key  # a corrupted own entry never rolls our log back
        self.transport = transport
        self.clock = clock
        self.config = config or GossipConfig()
        self.anchors = tuple(anchors)
        self.node_id = identity.party_id
        self.url = (url or transport.url or "").rstrip("/") or None
        # Per-node registry (never the global one): many nodes fit in one process.
        self.metrics = NodeMetrics(self)
        # The last push taken in (`handle_gossip`): done once it and every push before it
        # are answered.
        self._last_push: asyncio.Future[None] | None = None
        self._ahead = 0  # pushes and fetch replies whose entries are checked ahead now
        self._queued = 0  # pushes taken in and not answered yet (their turns not ended)
        self.protocol = GossipProtocol(
            identity.author, store, rng, self.config, own_url=self.url, peers=peers,
            now_ms=clock.now_ms(), recover_own=recover_own,
            vouchers=[bytes.fromhex(a) for a in self.anchors if is_party_id(a)],
        )
        # Told of new entries and forks as the node takes them in (the /events hub, ...).
        self.listeners: list[Listener] = []
        # Witness receipts (issue 14 item 4): asking our witnesses, serving as one, spreading.
        self.receipts = ReceiptBook(store, backdate_tolerance_ms)
        self.witness = WitnessProtocol(
            identity.author, self.receipts, self.protocol.peers, rng, witness,
            sign=lambda author, seq, entry_id, time: sign_receipt(
                self.identity, author, seq, entry_id, time))
        self.verifier = RequestVerifier(replay_cache=self.config.replay_cache)
        self.log = logging.getLogger(f"trustnet.node.{self.node_id[:12]}")
        self.errors = ErrorLog()  # unexpected exceptions, as text: tests assert it is empty
        # Peers (party ids and URLs) this node is cut off from, both ways (testbed faults).
        self.partition: frozenset[str] = frozenset()
        self.started_ms: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._running = False
        # What the operator's log has been told (see `_report`).
        self._reported_catching_up = self.protocol.catching_up
        self._reported_deadline = False
        # Learned peers kept outside the store (DESIGN 12: whom to ask after a store loss).
        self._save_peers = save_peers
        self._saved_peers: list[str] | None = None
        self._peers_saved_ms = 0
        self._logged_count = store.count()
        self._author_limited = 0  # refused over the new-author limits, not logged yet
        self._author_limited_logged_ms = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Serve gossip and, when configured, start the tick loop."""
        if self._running:
            return
        self._running = True
        self.started_ms = self.clock.now_ms()
        await self.transport.start(self)
        if self.url is None and self.transport.url:
            self.url = self.transport.url.rstrip("/")
            self.protocol.own_url = self.url
            self.protocol.peers.own_url = self.url
        if self.config.tick_interval_s is not None:
            self._loop_task = asyncio.create_task(self._tick_loop(self.config.tick_interval_s))

    async def stop(self) -> None:
        """Stop the loop and in-flight requests, then the transport (idempotent)."""
        if self._running:
            self.save_learned_peers(force=True)
        self._running = False
        tasks = list(self._tasks)
        if self._loop_task is not None:
            tasks.append(self._loop_task)
            self._loop_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        await self.transport.stop()

    async def _tick_loop(self, interval_s: float) -> None:
        while True:
            # Real time paces the loop; the protocol only ever reads the injected clock.
            await asyncio.sleep(interval_s)
            try:
                await self.tick()
            except Exception as exc:  # keep gossiping; surface the bug
                self.crashed(exc, "tick")

    async def tick(self) -> None:
        """One protocol tick: anti-entropy round, peer exchange, recovery, timeouts."""
        self._feed(Tick())
        self.save_learned_peers()
        # Replication an operator can follow: one line per tick that brought something new.
        count = self.store.count()
        if count != self._logged_count:
            self.log.info("holding %d entries from %d authors (+%d)", count,
                          self.store.author_count(), count - self._logged_count)
            self._logged_count = count

    def learned_peers(self) -> list[str]:
        """Peers worth asking after a store loss: every contactable peer not from the config
        and not graylisted, those that answered us first, then the most recently seen."""
        now = self.clock.now_ms()
        table = self.protocol.peers
        rows = []
        for url in table.urls():
            peer = table.get(url)
            if peer is None or peer.source == "config" or table.is_ignored(url, now):
                continue
            rows.append((peer.failures > 0, -peer.last_seen_ms, url))
        return [url for *_, url in sorted(rows)]

    def save_learned_peers(self, *, force: bool = False) -> None:
        """Hand the learned peers to `save_peers` when they changed (at most every
        SAVE_PEERS_EVERY_MS unless `force`)."""
        if self._save_peers is None:
            return
        now = self.clock.now_ms()
        if not force and now - self._peers_saved_ms < SAVE_PEERS_EVERY_MS:
            return
        urls = self.learned_peers()
        if urls == self._saved_peers or (not urls and self._saved_peers is None):
            return
        self._peers_saved_ms = now
        try:
            self._save_peers(urls)
        except OSError as exc:
            self.log.warning("cannot save learned peers: %s", exc)
            return
        self._saved_peers = urls

    async def idle(self) -> None:
        """Wait until no request of this node is in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._running

    @property
    def busy(self) -> bool:
        """True while requests are in flight."""
        return bool(self._tasks)

    # -- local writes --------------------------------------------------------------------

    async def publish(self, kind: str, body: Mapping[str, Any], ts: int | None = None) -> Entry:
        """Sign, store durably, then push a new statement; refuses while catching up.

        `ts` backdates the entry (scenario replay): it may not precede this node's
        last entry nor lie in the future; by default it is the clock's now.
        """
        if self.protocol.catching_up:
            raise NodeError(
                self.protocol.recovery_reason(self.clock.now_ms()) + "; signing now could fork it",
                code="catching_up",
            )
        at = self._when(ts)
        commitment = commit_first(self.store, self.identity, self.next_digest, at, kind, body)
        if commitment is not None:
            self._feed(LocalEntry(commitment))
        # The witnesses `[witness]` names are declared in our own log before they count.
        declaration = None if kind == WITNESSES_KIND else declaration_due(
            self.receipts, self.identity.author, self.witness.config)
        if declaration is not None:
            self._feed(LocalEntry(self.store.append_own(
                self.identity, WITNESSES_KIND, declaration, at, received=self.clock.now_ms())))
            self.log.info("declared witnesses %s (receipts_needed %s) in own log",
                          ", ".join(w[:16] for w in declaration["witnesses"]),  # type: ignore[attr-defined]
                          declaration["receipts_needed"])
        # DESIGN 5: append_own commits (synchronous=FULL) before we gossip the entry.
        # DESIGN 12: a backdated `ts` is recorded as received now, so it is shown as backdated
        # and judged by when it was really made (except on a node in replay mode).
        entry = self.store.append_own(self.identity, kind, body, at, received=self.clock.now_ms())
        self._feed(LocalEntry(entry))
        return entry

    def _when(self, ts: int | None) -> int:
        """The ts of a new own entry: now, or `ts` (a replay) between the last entry and now."""
        now = self.clock.now_ms()
        if ts is not None:
            head = self.store.head(self.identity.author)
            if ts > now or (head is not None and ts < head.ts):
                raise EntryError(
                    f"ts {ts} must lie between this node's last entry "
                    f"({head.ts if head else 0}) and now ({now})", code="bad_timestamp")
        return now if ts is None else ts

    async def rotate(self, revealed: Identity, next_digest: bytes,
                     compromised_since: int | None = None, ts: int | None = None) -> Entry:
        """Rotate to the committed next key `revealed`, committing to `next_digest`.

        The rotation is signed by `revealed`; the store refuses it (bad_rotation) unless
        the party committed to that key. Afterwards this node signs with `revealed`.
        """
        if self.protocol.catching_up:
            raise NodeError(
                self.protocol.recovery_reason(self.clock.now_ms()) + "; rotating now could fork it",
                code="catching_up",
            )
        now = self._when(ts)
        body = rotation_body(revealed, next_digest, compromised_since, now)
        check_revealed(self.store, self.identity, self.next_digest, revealed)
        # A party that never signed yet commits first (DIR/next.pub), then rotates.
        commitment = commit_pending(self.store, self.identity, self.next_digest, now)
        if commitment is not None:
            self._feed(LocalEntry(commitment))
        entry = self.store.append_own(
            revealed.for_party(self.identity.author), ROTATION_KIND,
            body, now, received=self.clock.now_ms())
        self.identity = revealed.for_party(self.identity.author)
        signer = getattr(self.transport, "signer", None)
        if signer is not None:
            signer.identity = self.identity  # gossip requests are signed by the new key
        self.next_digest = None
        if self.on_rotated is not None:
            self.on_rotated(entry, self.identity)
        self.log.warning("rotated to key %s at seq %d%s", self.identity.key_id[:16], entry.seq,
                         "" if compromised_since is None
                         else f"; entries of the old key after {compromised_since} are revoked")
        self._feed(LocalEntry(entry))
        return entry

    def add_peer(self, url: str) -> bool:
        """Add a peer URL (admin `POST /peers`); True when new."""
        return self.protocol.peers.add(url, "admin", self.clock.now_ms())

    def set_partition(self, peers: Iterable[str]) -> list[str]:
        """Cut this node off from `peers` (party ids or URLs) both ways, replacing the set
        (admin `POST /partition`; an empty set heals). Returns the set, sorted.

        A network fault for testbeds (DESIGN 10): gossip from them is refused with
        `partitioned` (503) and requests to them fail at once, so the protocol backs off
        as from a dead peer. A peer is matched by its id or its URL, whichever is known
        of it here: give both.
        """
        self.partition = frozenset(p if is_party_id(p) else p.rstrip("/") for p in peers)
        if self.partition:
            self.log.warning("partitioned from %s", ", ".join(sorted(self.partition)))
        else:
            self.log.info("partition healed")
        return sorted(self.partition)

    def _cut_off(self, node_id: str | None, url: str | None) -> bool:
        """True when a peer (an authenticated id, or a URL) is across the partition."""
        if not self.partition:
            return False
        peers = self.protocol.peers
        if node_id is not None and url is None:
            known = peers.get(node_id)
            url = known.url if known is not None else None
        if url is not None and node_id is None:
            known = peers.get(url)
            node_id = known.node_id if known is not None else None
        return (node_id is not None and node_id in self.partition) or (
            url is not None and url.rstrip("/") in self.partition)

    # -- outbound ------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every `NodeEvent` from now on (synchronously, in the event
        loop: it must be quick; an exception it raises is recorded in `errors`). Idempotent."""
        if listener not in self.listeners:
            self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling `listener` (idempotent)."""
        if listener in self.listeners:
            self.listeners.remove(listener)

    def _emit(self, event: NodeEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception as exc:  # a failing listener must not stop gossip
                self.crashed(exc, "listener")

    def _feed(self, event: Event) -> None:
        if isinstance(event, LocalEntry):
            self._emit(NewEntries((event.entry,), own=True))
        now = self.clock.now_ms()
        if isinstance(event, Response | RequestFailed) and self.witness.owns(event.request_id):
            self._dispatch(self.witness.handle(event, now))
        else:
            self._dispatch(self.protocol.handle(event, now))
            if isinstance(event, Tick | LocalEntry):
                self._dispatch(self.witness.handle(event, now))
        self._report()

    def _report(self) -> None:
        """Act on what the protocol says happened: log the decisions an operator must see
        (graylisting, proven forks, new-author refusals, the witness's refusals), count
        rejected entries, tell the listeners of new entries and forks; then own-log
        recovery done (the protocol is pure; the node does its logging)."""
        while self.witness.decisions:
            self.log.warning("witness receipts: %s", self.witness.decisions.popleft())
        now = self.clock.now_ms()
        for happened in self.protocol.take_events():
            if isinstance(happened, EntriesLearned):
                self._emit(NewEntries(happened.entries))
            elif isinstance(happened, ForkLearned):
                proof = happened.proof
                self.log.warning("equivocation proven: author %s signed two entries at "
                                 "seq %d (see GET /forks)", proof.author.hex(), proof.seq)
                self._emit(NewFork(proof))
            elif isinstance(happened, EntriesRejected):
                for rejection in happened.rejected:
                    self.metrics.rejected("ingest", rejection.code)
            elif isinstance(happened, PeerDecision):
                self.log.warning("peer %s %s (see GET /peers)", happened.key[:80],
                                 happened.reason)
            elif isinstance(happened, AuthorsLimited):
                self._author_limited += happened.count
        if self._author_limited and now - self._author_limited_logged_ms >= 10_000:
            self.log.warning("refused %d entries of new authors over [gossip] "
                             "new_authors_per_peer = %d from one peer or new_authors_total = %d "
                             "from all peers per %d s (author_limit); anti-entropy brings them "
                             "in later", self._author_limited,
                             self.config.new_authors_per_peer, self.config.new_authors_total,
                             self.config.new_authors_interval_s)
            self._author_limited, self._author_limited_logged_ms = 0, now
        if self._reported_catching_up and not self.protocol.catching_up:
            self._reported_catching_up = False
            rec = self.protocol.recovery_json()
            if rec["answers"] >= rec["quorum"]:
                self.log.info("own log checked with %d peer(s): own seq %d, highest proven %d; "
                              "signing enabled", rec["answers"], rec["own_seq"],
                              rec["own_max_seen"])
            else:
                self.log.warning("own-log recovery deadline passed with %d of %d peer(s) "
                                 "answered: own seq %d, no proven higher head; signing enabled",
                                 rec["answers"], rec["quorum"], rec["own_seq"])
        elif (self.protocol.catching_up and not self._reported_deadline
              and now >= self.protocol.recovery_deadline_ms):
            self._reported_deadline = True
            self.log.error("own-log recovery deadline passed and signing stays refused: %s",
                           self.protocol.recovery_reason(now))

    def _dispatch(self, actions: list[Action]) -> None:
        for action in actions:
            task = asyncio.create_task(self._perform(action))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _perform(self, send: Send) -> None:
        event: Event
        started = self.metrics.timer()
        sent: int = 0
        received: int | None = None
        try:
            body = m.encode(send.message, self.config.max_message_bytes)
            sent = len(body)
            if self._cut_off(None, send.peer_url):  # fails fast, as to an unreachable peer
                raise TransportError(f"{send.peer_url} is across a partition", code="partitioned")
            raw = await self.transport.request(send.peer_url, send.path, body, guard=send.guard)
            received = len(raw)
            try:
                reply = m.decode_reply(send.path, raw, self.config.max_message_bytes)
            except m.MessageError as exc:
                event = RequestFailed(send.request_id, send.peer_url, exc.code)
            else:
                event = Response(send.request_id, send.peer_url, reply)
        except TransportError as exc:
            event = RequestFailed(send.request_id, send.peer_url, exc.code)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.crashed(exc, "gossip_client")
            event = RequestFailed(send.request_id, send.peer_url, "internal")
        self.metrics.request_done(send.path, "ok" if isinstance(event, Response) else event.code,
                                  self.metrics.timer() - started, sent, received)
        # A fetch's entries are checked on the ingest workers before the protocol takes the
        # reply in (as a large push's, `handle_gossip`): replies from several peers overlap,
        # and the event loop stays free meanwhile.
        fetched = (event.message.entries if isinstance(event, Response)
                   and isinstance(event.message, m.Entries) else ())
        async with self._checked_ahead(fetched):
            try:
                self._feed(event)
            except Exception as exc:
                self.crashed(exc, "gossip_client")

    @contextlib.asynccontextmanager
    async def _checked_ahead(self, raws: Sequence[bytes], *, whole: bool = True,
                             until: Callable[[], Awaitable[bool]] | None = None
                             ) -> AsyncIterator[None]:
        """`Store.checked_ahead` for a push or a fetch reply, while fewer than
        `MAX_PUSHES_AHEAD` hold entries sent ahead (else nothing is sent ahead), counted in
        the gossip stats."""
        if self._ahead >= MAX_PUSHES_AHEAD:
            raws = ()
        self._ahead += bool(raws)
        try:
            async with self.store.checked_ahead(raws, whole=whole, until=until) as ahead:
                self.protocol.stats["checked_ahead"] += ahead
                yield
        finally:
            self._ahead -= bool(raws)

    def crashed(self, exc: BaseException, where: str, detail: str = "") -> None:
        """Record an unexpected exception met in `where` (gossip_server, gossip_client, tick,
        api, listener): a bounded summary in `errors`, a count in the metrics, the traceback in the log
        only (nothing keeps it, nor the request it came from)."""
        self.errors.record(exc, where)
        self.metrics.crashed(where)
        self.log.error("unexpected error in %s%s: %r", where, f" ({detail})" if detail else "",
                       exc, exc_info=exc)


    # -- inbound -------------------------------------------------------------------------

    async def handle_gossip(
        self, path: str, headers: Mapping[str, str], body: bytes, *, remote: str = ""
    ) -> tuple[int, bytes]:
        """Check and answer one gossip request: (HTTP status, msgpack body).

        A push is answered in the order pushes came in, and a large one is checked on the
        ingest workers before its turn (`Store.checked_ahead`): while this process stores
        one push, the workers check the next, and the event loop stays free meanwhile
        (`bench gossip`: a sender with two pushes in flight). Every other request, and a
        push over the in-memory network (`serve_gossip`), is answered at once."""
        if path != m.PUSH:
            return self.serve_gossip(path, headers, body, remote=remote)
        node = self._gate(path, headers, body, remote, self.clock.now_ms())
        if isinstance(node, Refused):
            return self._served(path, body, self._refused(node))
        if self._queued >= MAX_PUSHES_QUEUED:
            # Each push waiting for its turn holds its body: a flood of them waits outside.
            return self._served(path, body, self._refuse(
                "busy", f"{self._queued} pushes are waiting for their turn; send it again later"))
        message: m.Message | None = None
        raws: tuple[bytes, ...] = ()
        with contextlib.suppress(m.MessageError):  # `respond` refuses it, and says why
            message = m.decode_request(path, body, self.protocol.config.max_message_bytes)
            if isinstance(message, m.Push):
                raws = message.entries[: self.protocol.max_push_ingest()]
        loop = asyncio.get_running_loop()
        before, mine = self._last_push, loop.create_future()
        self._last_push = mine
        self._queued += 1
        try:
            # A push behind another waits for all its checks (the event loop stays free to take
            # in the next push meanwhile); one that is next stores its first slice once that
            # is checked, and the rest as it is (checks and inserts overlap, as before). So
            # does one behind another whose turn comes before its checks are all in, when no
            # push waits behind it (the last of a stream: its inserts overlap the checks).
            behind = before is not None and not before.done()
            async with self._checked_ahead(
                    raws, whole=behind,
                    until=partial(self._alone_at_turn, before, mine) if behind else None):
                if before is not None and not before.done():
                    await asyncio.shield(before)
                answered = self._respond(node, path, body, message, self.clock.now_ms())
        finally:
            self._turn_done(before, mine)
        return self._served(path, body, answered)

    async def _alone_at_turn(self, before: asyncio.Future[None] | None,
                             mine: asyncio.Future[None]) -> bool:
        """Once the push before this one answered: whether no push waits behind this one.
        (`asyncio.wait`: the push before failing or cancelled ends the wait as well, and only
        this one's own cancellation is raised.)"""
        if before is not None:
            await asyncio.wait((before,))
        return self._last_push is mine

    def _turn_done(self, before: asyncio.Future[None] | None, mine: asyncio.Future[None]) -> None:
        """A push's turn ends; the next one's starts once every push before it answered (one
        that was cancelled or failed while it waited does not let the next one past those
        before it: its turn ends with theirs)."""

        def end(_: object = None) -> None:
            if not mine.done():
                mine.set_result(None)
                self._queued -= 1
            if self._last_push is mine:
                self._last_push = None

        if before is None or before.done():
            end()
        else:
            before.add_done_callback(end)

    def serve_gossip(
        self, path: str, headers: Mapping[str, str], body: bytes, *, remote: str = ""
    ) -> tuple[int, bytes]:
        """`handle_gossip` without awaiting (answering never waits): what the in-memory
        network's synchronous `send` calls."""
        return self._served(path, body, self._answer(path, headers, body, remote))

    def _served(self, path: str, body: bytes, answered: tuple[int, bytes, str]) -> tuple[int, bytes]:
        status, reply, outcome = answered
        self.metrics.request_served(path, outcome, len(body), len(reply))
        return status, reply

    def _answer(
        self, path: str, headers: Mapping[str, str], body: bytes, remote: str
    ) -> tuple[int, bytes, str]:
        """(HTTP status, msgpack body, "ok" or the refusal code) for one gossip request:
        the protocol's admission policy (`protocol.admission`, shared with the simulator:
        `gate`, then `respond`, as `admit` runs them) with this node's signature check and
        testbed partition."""
        now = self.clock.now_ms()
        node = self._gate(path, headers, body, remote, now)
        if isinstance(node, Refused):
            return self._refused(node)
        return self._respond(node, path, body, None, now)

    def _gate(self, path: str, headers: Mapping[str, str], body: bytes, remote: str,
              now: int) -> str | Refused:
        """`protocol.admission.gate` with this node's signature check and partition: the
        authenticated node id, or why not."""
        claimed = headers.get(HEADER_NODE) or headers.get(HEADER_NODE.lower()) or ""
        try:
            return gate(self.protocol, path, body, now, remote=remote, claimed=claimed,
                        authenticate=lambda: self.verifier.verify("POST", path, headers, body, now),
                        cut_off=lambda peer: self._cut_off(peer, None))
        except Exception as exc:
            self.crashed(exc, "gossip_server")
            return Refused("internal", "internal error")

    def _respond(self, node: str, path: str, body: bytes, message: m.Message | None,
                 now: int) -> tuple[int, bytes, str]:
        """`_answer` for a request its gate let through from `node`."""
        try:
            outcome = respond(self.protocol, node, path, body, now, answer=self._on_request,
                              message=message)
        except Exception as exc:
            self.crashed(exc, "gossip_server")
            return self._refuse("internal", "internal error")
        return self._outcome(outcome)

    def _outcome(self, outcome: Admitted | Refused) -> tuple[int, bytes, str]:
        if isinstance(outcome, Refused):
            return self._refused(outcome)
        self._dispatch(list(outcome.actions))
        self._report()
        return 200, outcome.reply, "ok"

    def _refused(self, outcome: Refused) -> tuple[int, bytes, str]:
        status, refusal, code = self._refuse(outcome.code, outcome.message)
        return outcome.status or status, refusal, code

    def _on_request(self, node: str, path: str, message: m.Message, now: int
                    ) -> tuple[m.Message, list[Action]]:
        """An admitted request's answer: the witness paths by the witness (a receipt
        request's entries are ingested first, as a push: same checks and limits, new ones
        spread on; trustnet/node/witness.py), every other path by the gossip protocol."""
        if path not in m.WITNESS_PATHS:
            return self.protocol.on_request(node, path, message, now)
        actions: list[Action] = []
        if isinstance(message, m.ReceiptRequest):
            _ack, actions = self.protocol.on_request(node, m.PUSH, m.Push(message.entries), now)
        reply, more = self.witness.on_request(node, message, now)
        return reply, actions + more

    def _refuse(self, code: str, message: str) -> tuple[int, bytes, str]:
        self._report()
        self.metrics.rejected("gossip", code)
        return STATUS.get(code, 400), error_body(code, message), code

    # -- views ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The gossip part of GET /status."""
        now = self.clock.now_ms()
        return {
            "node_id": self.node_id,
            "url": self.url,
            "entries": self.store.count(),
            "authors": self.store.author_count(),
            "peers": len(self.protocol.peers.usable(now)),
            "forks": len(self.protocol.fork_keys()),
            "own_seq": self.protocol.own_seq(),
            "catching_up": self.protocol.catching_up,
            "quarantined": self.store.quarantined(),
            "uptime_ms": 0 if self.started_ms is None else now - self.started_ms,
        }

    def peers_json(self, *, detail: bool = True) -> dict[str, Any]:
        """GET /peers: every peer's state, score and reasons, plus own-log recovery
        (`detail`: with reasons, last errors and refused URLs; see `PeerTable.to_json`)."""
        now = self.clock.now_ms()
        view = self.protocol.peers.to_json(now, detail=detail)
        view["recovery"] = self.protocol.recovery_json()
        view["gossip"] = dict(self.protocol.stats)
        view["witness"] = {**self.witness.stats, "asking": self.witness.asking()}
        return view
