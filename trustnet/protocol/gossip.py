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

The state machine is built in tiers, one module each: `protocol.push` (`PushGossip`: the
shared state, ingest with new-author admission, eager push), `protocol.anti_entropy`
(`AntiEntropy`: digests and sessions), `protocol.recovery` (`OwnRecovery`); the records
crossing the boundary are `protocol.events`, the settings `protocol.config`. This module's
`GossipProtocol` is the loop on top: it dispatches events, requests and replies to them.

Two tiers, as the epidemic-protocol literature prescribes (Demers et al. 1987):
- eager push: a new entry (local or newly learned) goes once to `fanout` random
  peers; an LRU of ids already pushed makes it once per entry;
- anti-entropy: every tick, one random peer gets our 32-byte digest of heads and
  fork keys. Equal digests cost one constant-size exchange (O(1) bytes per round
  whatever the store holds). On a mismatch the two compare fingerprints of author-id
  prefixes (`protocol.reconcile`, issue 15) down to the heads that differ, or, with a
  node of the previous format, the peer returns its heads map in pages; we fetch what
  it has beyond us in bounded batches and push what it lacks.

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

from trustnet.protocol import messages as m
from trustnet.protocol.events import Action, Event, LocalEntry, RequestFailed, Response, Tick
from trustnet.protocol.recovery import OwnRecovery
from trustnet.protocol.sessions import Session


class GossipProtocol(OwnRecovery):
    """One node's gossip state: peers, dedup cache, anti-entropy sessions, own-log recovery.

    The tiers build on each other: `PushGossip` (state, ingest, eager push), `AntiEntropy`
    (sessions), `OwnRecovery`; this class is the event loop that feeds them.
    """

    # -- events in, actions out ---------------------------------------------------------

    def handle(self, event: Event, now_ms: int) -> list[Action]:
        """Feed one event; returns the requests to send."""
        if isinstance(event, Tick):
            return self._tick(now_ms)
        if isinstance(event, LocalEntry):
            self._discover(event.entry, now_ms)
            self._note_recent([event.entry])
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
            return self._on_digest(message), []
        if isinstance(message, m.Reconcile) and self.config.reconcile:
            return self._serve_reconcile(message), []
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
                session = Session(peer[0], started_ms=now)
                self._sessions[peer[0]] = session
                actions.append(self._send(peer[0], m.DIGEST, self._opener(peer[0], session), now, session))
        every = self.config.peer_exchange_every
        if every > 0 and self.stats["ticks"] % every == 1 % every and self._room():
            peer = self.peers.sample(self.rng, 1, now)
            if peer:
                share = self.peers.sample(self.rng, self.config.peers_shared, now, exclude=peer)
                actions.append(self._send(peer[0], m.PEERS,
                                          m.PeersRequest(self.own_url, tuple(share)), now))
        return actions

    def _on_response(self, ev: Response, now: int) -> list[Action]:
        p = self._pending.pop(ev.request_id, None)
        if p is None or p.peer != ev.peer:
            return []  # timed out already, or not ours
        self.peers.succeeded(ev.peer, now)
        msg, session = ev.message, p.session
        actions: list[Action] = []
        if isinstance(msg, m.InSync):
            self.stats["in_sync"] += 1
            if ev.peer in self._nothing_once:  # a reconciliation that found nothing: a race
                self._nothing_once = self._nothing_once - {ev.peer}
            if ev.peer in self._differed:
                self._differed = {k: v for k, v in self._differed.items() if k != ev.peer}
            if session is not None:
                session.paging = False
        elif isinstance(msg, m.Heads) and session is not None:
            if p.path == m.DIGEST:
                self.stats["mismatch"] += 1
            actions += self._on_heads(session, msg, now)
        elif isinstance(msg, m.Reconcile) and session is not None:
            if p.path == m.DIGEST:
                self.stats["mismatch"] += 1
            actions += self._on_reconcile(session, msg, now, first=p.path == m.DIGEST)
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
        elif p.path == m.RECONCILE and ev.code == "unknown_path":
            self._recon_refused(ev.peer, ev.code, now)
        else:
            self.peers.failed(ev.peer, ev.code, now)
        if p.session is not None:
            self._sessions.pop(p.session.peer, None)
        if any(r[0] == self.node_id for r in p.ranges):
            self._drop_own_claim(ev.peer, self.own_seq())
        return []

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
