"""Witness receipts on the wire: the sans-IO part (issue 14 item 4; docs/witnesses.md).

Like the gossip protocol, this module has no networking, no clock and no randomness of
its own: the node feeds it events with the time and performs the `Send` actions it
returns. It lives outside `trustnet.protocol` because it reads and writes receipts
through the SQLite-backed `ReceiptBook` (the protocol package imports no storage); the
node routes the witness paths to it through the one admission policy
(`protocol.admission`, its answer `Node._on_request`) and logs its refusals (`decisions`). Three jobs:

- **Asking** (the author's side). For each entry this node signs after it declared witnesses
  (`[witness] witnesses`, signed as a `witnesses` statement), ask every declared witness at
  `/gossip/receipt`, with the entry; a witness that misses part of the chain answers
  `unknown_entry` with the seq it holds, and gets the missing run next. Failures back off
  exponentially (`retry_min_ms` .. `retry_max_ms`); an entry is asked about for `ask_for_ms`.
- **Serving** (the witness's side, `[witness] serve`). The node first ingests the entries of
  the request like a push (same checks and admission limits), then this module signs
  (author, seq, id, time first received) once per place — asked for another id at a place it
  receipted, it answers `fork` with the author's fork proof instead — for authors that
  declared this node as witness, at most `max_served_authors` of them.
- **Spreading**. A new receipt (signed here, received from a witness, or pushed) goes to
  `fanout` peers at `/gossip/receipts`; each node checks it (`trustnet/store/receipts.py`) and
  pushes on what was new to it. A receipt for an entry not held yet waits (bounded, for
  `waiting_ms`) and is taken when the entry arrives. Every `pull_every` ticks, one random
  peer is asked for the receipts of recent entries held here without a witnessed time
  (anti-entropy for receipts: a node that missed the pushes gets them).
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import msgpack

from trustnet.errors import ConfigError, EntryError, ForkProofError, TrustnetError
from trustnet.identity import is_party_id
from trustnet.log.entry import Entry, decode_entry, decode_fork_proof
from trustnet.log.receipts import MAX_WITNESSES, Receipt, ReceiptError
from trustnet.protocol import messages as m
from trustnet.protocol.events import Event, LocalEntry, RequestFailed, Response, Send, Tick
from trustnet.protocol.peers import PeerKind, PeerTable
from trustnet.store.receipts import ReceiptBook

_FIRST_ID = 1 << 48  # request ids apart from the gossip protocol's
MAX_RUN = 64  # entries sent to fill a witness's gap in one request


@dataclass(frozen=True, slots=True)
class WitnessConfig:
    """The `[witness]` table of node.toml."""

    witnesses: tuple[str, ...] = ()  # party ids this node asks for receipts
    receipts_needed: int = 0  # k; 0: a majority of the witnesses (n // 2 + 1)
    urls: Mapping[str, str] = field(default_factory=dict)  # party id -> URL (else its profile's)
    serve: bool = True  # receipt entries of authors that declared this node as witness
    max_served_authors: int = 1000  # authors this node witnesses for (DESIGN 12: bounded)
    fanout: int = 3  # peers each new receipt is pushed to
    retry_min_ms: int = 1000
    retry_max_ms: int = 300_000
    ask_for_ms: int = 86_400_000  # how long an own entry is asked about
    max_asking: int = 4096  # own entries awaiting receipts (oldest dropped)
    max_waiting: int = 4096  # receipts kept until their entry arrives
    waiting_ms: int = 600_000
    max_inflight: int = 32
    # Receipt anti-entropy: every this many ticks (0: never), ask one random peer for the
    # receipts of recent entries held without a witnessed time (received within the window).
    pull_every: int = 10
    pull_window_ms: int = 86_400_000

    # The one loader (trustnet.config.load_table) checks types and these ranges, naming the
    # key; `__post_init__` checks what spans keys.
    BOUNDS: ClassVar[Mapping[str, str]] = {
        "receipts_needed": ">= 0", "max_served_authors": ">= 0", "fanout": ">= 1",
        "retry_min_ms": ">= 1", "retry_max_ms": ">= 1", "ask_for_ms": ">= 0",
        "max_asking": ">= 0", "max_waiting": ">= 0", "waiting_ms": ">= 0", "max_inflight": ">= 1",
    }

    def __post_init__(self) -> None:
        if len(self.witnesses) > MAX_WITNESSES or len(set(self.witnesses)) != len(self.witnesses):
            raise ConfigError(f"[witness] witnesses: expected at most {MAX_WITNESSES} distinct "
                              f"party ids, got {len(self.witnesses)}")
        for key, ids in (("witnesses", self.witnesses), ("urls", tuple(self.urls))):
            for w in ids:
                if not is_party_id(w):
                    raise ConfigError(f"[witness] {key}: {w!r} is not a party id "
                                      "(64 hex characters)")
        for w, url in self.urls.items():
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ConfigError(f"[witness] urls: {w[:16]}…: {url!r} is not an http(s) URL")
        if not 0 <= self.receipts_needed <= len(self.witnesses):
            raise ConfigError("[witness] receipts_needed: expected between 0 and the number of "
                              f"witnesses ({len(self.witnesses)}), got {self.receipts_needed}")
        if min(self.max_served_authors, self.max_asking, self.max_waiting) < 0 or min(
                self.fanout, self.retry_min_ms, self.max_inflight) < 1:
            raise ConfigError("[witness]: limits must be >= 0, fanout, retry_min_ms and "
                              "max_inflight >= 1")
        if self.retry_max_ms < self.retry_min_ms:
            raise ConfigError(f"[witness] retry_max_ms: expected >= retry_min_ms "
                              f"({self.retry_min_ms}), got {self.retry_max_ms}")

    @property
    def needed(self) -> int:
        """k: receipts that witness an entry."""
        return self.receipts_needed or (len(self.witnesses) // 2 + 1 if self.witnesses else 0)

    def declaration(self) -> dict[str, object]:
        """The body of the `witnesses` statement this config stands for."""
        return {"witnesses": sorted(self.witnesses), "receipts_needed": self.needed}


def declaration_due(book: ReceiptBook, author: bytes, config: WitnessConfig) -> dict[str, object] | None:
    """The `witnesses` statement to sign before this node's next one, when its config names
    witnesses other than the ones its log declares (None: nothing to declare)."""
    head = book.store.head(author)
    current = book.in_force(author, (0 if head is None else head.seq) + 1)
    if not config.witnesses and current is None:
        return None
    body = config.declaration()
    if current is not None and (sorted(w.hex() for w in current.witnesses) == body["witnesses"]
                                and current.needed == body["receipts_needed"]):
        return None
    return body


@dataclass(slots=True)
class _Try:
    next_ms: int = 0
    attempt: int = 0
    inflight: bool = False
    done: bool = False
    witness_head: int | None = None  # the seq of our chain the witness said it holds


@dataclass(slots=True)
class _Ask:
    entry: Entry
    since_ms: int
    tries: dict[bytes, _Try]


class WitnessProtocol:
    """One node's witness-receipt state: its asks, what it serves, receipts waiting."""

    def __init__(self, own: bytes, book: ReceiptBook, peers: PeerTable, rng: random.Random,
                 config: WitnessConfig | None = None, *,
                 sign: Callable[[bytes, int, bytes, int], Receipt]) -> None:
        self.own = own
        self.book = book
        self.store = book.store
        self.peers = peers
        self.rng = rng
        self.config = config or WitnessConfig()
        self.sign = sign
        self.stats: dict[str, int] = {
            "asked": 0, "receipts_got": 0, "served": 0, "refused": 0, "spread": 0,
            "accepted": 0, "rejected": 0, "waiting": 0, "witness_forks": 0, "pulled": 0,
        }
        self._ticks = 0
        self._served: int | None = None  # authors receipted here (counted once, then followed)
        # Lines for the operator's log (the node logs them, as it does peers' decisions).
        self.decisions: deque[str] = deque(maxlen=64)
        self._asks: OrderedDict[bytes, _Ask] = OrderedDict()
        self._pending: dict[int, tuple[bytes, bytes]] = {}  # request id -> (entry id, witness)
        self._waiting: OrderedDict[bytes, tuple[bytes, int]] = OrderedDict()  # raw -> (id, since)
        self._next_id = _FIRST_ID

    def owns(self, request_id: int) -> bool:
        """True when a reply with this request id is for this module."""
        return request_id in self._pending

    # -- events ----------------------------------------------------------------------------

    def handle(self, event: Event, now_ms: int) -> list[Send]:
        """Feed a tick, an own new entry, or the outcome of one of our requests."""
        if isinstance(event, Tick):
            self._ticks += 1
            return self._retry_waiting(now_ms) + self._ask_due(now_ms) + self._pull(now_ms)
        if isinstance(event, LocalEntry):
            self._start(event.entry, now_ms)
            return self._ask_due(now_ms)
        if isinstance(event, Response):
            return self._on_reply(event, now_ms)
        return self._on_failed(event, now_ms)

    def asking(self) -> int:
        """Own entries still awaiting receipts."""
        return len(self._asks)

    def _start(self, entry: Entry, now: int) -> None:
        if entry.author != self.own:
            return
        declared = self.book.in_force(entry.author, entry.seq)
        if declared is None or not declared.witnesses:
            return
        self._asks[entry.id] = _Ask(entry, now, {w: _Try() for w in sorted(declared.witnesses)})
        while len(self._asks) > self.config.max_asking:
            _, dropped = self._asks.popitem(last=False)
            self.decisions.append(f"stopped asking for receipts of own seq {dropped.entry.seq}: "
                                  f"over [witness] max_asking = {self.config.max_asking}")

    def url_of(self, witness: bytes) -> str | None:
        """Where to ask a witness: `[witness] urls`, else the first URL of its profile."""
        hexid = witness.hex()
        url = self.config.urls.get(hexid)
        if url:
            return url.rstrip("/")
        profile = self.store.profile_of(witness)  # one read, not every profile held
        urls = profile.urls if profile is not None else None
        if isinstance(urls, list | tuple):
            for u in urls:
                if isinstance(u, str) and u.startswith(("http://", "https://")):
                    return u.rstrip("/")
        return None

    def _ask_due(self, now: int) -> list[Send]:
        actions: list[Send] = []
        for entry_id, ask in list(self._asks.items()):
            if now - ask.since_ms > self.config.ask_for_ms:
                missing = sum(not t.done for t in ask.tries.values())
                self.decisions.append(f"gave up asking {missing} witness(es) for a receipt of "
                                      f"own seq {ask.entry.seq} after {self.config.ask_for_ms} ms")
                del self._asks[entry_id]
                continue
            for witness, t in ask.tries.items():
                if t.done or t.inflight or now < t.next_ms:
                    continue
                if len(self._pending) >= self.config.max_inflight:
                    return actions
                url = self.url_of(witness)
                if url is None:
                    self._backoff(t, now)  # its profile may arrive later
                    continue
                t.inflight = True
                actions.append(self._send(url, m.RECEIPT,
                                          m.ReceiptRequest(self._run(ask.entry, t)), entry_id,
                                          witness))
                self.stats["asked"] += 1
        return actions

    def _run(self, entry: Entry, t: _Try) -> tuple[bytes, ...]:
        """The entry, preceded by the part of our chain the witness said it lacks."""
        if t.witness_head is None or t.witness_head >= entry.seq - 1:
            return (entry.raw,)
        after = max(t.witness_head, entry.seq - MAX_RUN)
        run = self.store.range(entry.author, after, entry.seq - after)
        return tuple(e.raw for e in run if e.seq <= entry.seq) or (entry.raw,)

    def _send(self, url: str, path: str, message: m.Message, entry_id: bytes = b"",
              witness: bytes = b"") -> Send:
        rid = self._next_id
        self._next_id += 1
        self._pending[rid] = (entry_id, witness)
        return Send(rid, url, path, message, self.peers.guarded(url))

    def _backoff(self, t: _Try, now: int) -> None:
        t.inflight = False
        t.attempt += 1
        delay = min(self.config.retry_min_ms * 2 ** min(t.attempt - 1, 20), self.config.retry_max_ms)
        t.next_ms = now + delay

    def _try_of(self, request_id: int) -> tuple[_Ask | None, _Try | None]:
        entry_id, witness = self._pending.pop(request_id, (b"", b""))
        ask = self._asks.get(entry_id)
        return ask, None if ask is None else ask.tries.get(witness)

    def _on_failed(self, ev: RequestFailed, now: int) -> list[Send]:
        _ask, t = self._try_of(ev.request_id)
        if t is not None:
            self._backoff(t, now)
        return []

    def _pull(self, now: int) -> list[Send]:
        every = self.config.pull_every
        if every <= 0 or self._ticks % every or len(self._pending) >= self.config.max_inflight:
            return []
        peer = self.peers.sample(self.rng, 1, now)
        if not peer:
            return []
        ids = self.book.unwitnessed(now - self.config.pull_window_ms, m.MAX_RECEIPTS)
        return [self._send(peer[0], m.RECEIPTS, m.ReceiptsWanted(tuple(ids)))] if ids else []

    def _on_reply(self, ev: Response, now: int) -> list[Send]:
        if isinstance(ev.message, m.ReceiptsPush):  # receipts we pulled: taken, not spread
            self._pending.pop(ev.request_id, None)
            for raw in ev.message.receipts:
                if self._take(raw, ev.peer, "url", now)[0] == "accepted":
                    self.stats["pulled"] += 1
            return []
        entry_id, witness = self._pending.get(ev.request_id, (b"", b""))
        ask, t = self._try_of(ev.request_id)
        msg = ev.message
        if not isinstance(msg, m.ReceiptReply) or ask is None or t is None:
            return []  # a receipts ack, or an ask finished meanwhile
        if msg.receipt is not None:
            try:
                added = self.book.add(msg.receipt)
            except ReceiptError as exc:
                self.decisions.append(f"witness {witness.hex()[:16]} answered with a receipt "
                                      f"refused here: {exc.code}: {exc.message}")
                if exc.code == "conflicting_receipt":
                    self.stats["witness_forks"] += 1
                    t.done = True
                else:
                    self._backoff(t, now)
                return []
            if added.receipt.witness != witness or added.receipt.id != entry_id:
                self._backoff(t, now)
                return []
            t.done = True
            self.stats["receipts_got"] += 1
            if all(x.done for x in ask.tries.values()):
                del self._asks[entry_id]
            return self._spread([msg.receipt], now, exclude=(ev.peer,))
        if msg.code == "unknown_entry" and (t.witness_head is None or msg.head > t.witness_head):
            t.witness_head = msg.head
            t.inflight = False
            t.next_ms = now  # progress: send the missing run at once
            return self._ask_due(now)
        if msg.code == "fork":
            t.done = True
            self._take_fork(msg.fork, ask.entry)
            self.decisions.append(f"witness {witness.hex()[:16]} holds another entry at own seq "
                                  f"{ask.entry.seq}: it answered with a fork proof")
            return []
        self._backoff(t, now)
        return []

    def _take_fork(self, raw: bytes | None, asked: Entry) -> None:
        """Keep the proof a witness answered with, if it is about the entry asked for (our
        author, that seq): a witness may not slip other parties' forks past gossip's
        limits this way (the gossip fork book adopts what the store holds)."""
        if raw is None:
            return
        try:
            proof = decode_fork_proof(raw, self.store.evidence_key)
        except ForkProofError:
            return
        if (proof.author, proof.seq) != (asked.author, asked.seq):
            return
        self.store.add_fork(proof)

    # -- serving -----------------------------------------------------------------------------

    def on_request(self, peer_id: str, message: m.Message, now_ms: int
                   ) -> tuple[m.Message, list[Send]]:
        """Answer `/gossip/receipt` (after the node ingested its entries as a push) or
        `/gossip/receipts` from the authenticated node `peer_id`."""
        sender = self.peers.get(peer_id)
        exclude = (sender.url,) if sender is not None and sender.url else ()
        if isinstance(message, m.ReceiptsPush):
            return self._on_receipts(peer_id, message, now_ms, exclude)
        if isinstance(message, m.ReceiptsWanted):
            return m.ReceiptsPush(tuple(self.book.raw_of(message.ids, m.MAX_RECEIPTS))), []
        if not isinstance(message, m.ReceiptRequest):
            raise m.MessageError(f"no witness request {message.T!r}", code="bad_message")
        reply = self._serve(message)
        self.stats["served" if reply.receipt is not None else "refused"] += 1
        if reply.receipt is None or reply.code is not None:
            return reply, []
        return reply, self._spread([reply.receipt], now_ms, exclude=exclude)

    def _serve(self, message: m.ReceiptRequest) -> m.ReceiptReply:
        if not self.config.serve:
            return m.ReceiptReply(code="not_serving")
        try:
            entry = decode_entry(message.entries[-1], verify=False)
        except EntryError as exc:
            return m.ReceiptReply(code=exc.code)
        mine = self.book.receipt_at(self.own, entry.author, entry.seq)
        if mine is not None:
            if mine.id == entry.id:
                return m.ReceiptReply(receipt=mine.raw)
            return m.ReceiptReply(code="fork", fork=self._fork_at(entry))
        held = self.store.get(entry.id)
        if held is None:
            if self.store.get_by_seq(entry.author, entry.seq) is not None:
                return m.ReceiptReply(code="fork", fork=self._fork_at(entry))
            head = self.store.head(entry.author)
            return m.ReceiptReply(code="unknown_entry", head=0 if head is None else head.seq)
        declared = self.book.in_force(entry.author, entry.seq)
        if declared is None or self.own not in declared.witnesses:
            return m.ReceiptReply(code="not_witness")
        new_author = not self.book.serves(self.own, entry.author)
        if new_author:
            if self._served is None:
                self._served = self.book.served_authors(self.own)
            if self._served >= self.config.max_served_authors:
                return m.ReceiptReply(code="witness_full")
        received = self.store.received_of([entry.id], witnessed=False)[entry.id]
        receipt = self.sign(entry.author, entry.seq, entry.id, received)
        self.book.add(receipt.raw)
        if new_author and self._served is not None:
            self._served += 1
        return m.ReceiptReply(receipt=receipt.raw)

    def _fork_at(self, entry: Entry) -> bytes | None:
        for proof in self.store.forks():
            if (proof.author, proof.seq) == (entry.author, entry.seq):
                return proof.encode()
        return None

    # -- spreading ---------------------------------------------------------------------------

    def _spread(self, receipts: list[bytes], now: int, exclude: Iterable[str] = ()) -> list[Send]:
        if not receipts:
            return []
        self.stats["spread"] += len(receipts)
        targets = self.peers.sample(self.rng, self.config.fanout, now, exclude=exclude)
        out = []
        for url in targets:
            if len(self._pending) >= self.config.max_inflight * 4:
                break
            for i in range(0, len(receipts), m.MAX_RECEIPTS):
                chunk = tuple(receipts[i:i + m.MAX_RECEIPTS])
                out.append(self._send(url, m.RECEIPTS, m.ReceiptsPush(chunk)))
        return out

    def _take(self, raw: bytes, key: str, kind: PeerKind, now: int) -> tuple[str, bool]:
        """Take one receipt: (outcome: accepted, duplicate or the refusal code; spread it on)."""
        try:
            added = self.book.add(raw)
        except ReceiptError as exc:
            if exc.code == "conflicting_receipt":
                self.stats["witness_forks"] += 1
                self.decisions.append(exc.message)
                return exc.code, True  # others should learn the witness lied too
            if exc.code == "bad_receipt" and key:
                self.peers.penalize(key, "bad_receipt", now, kind=kind, detail=exc.message[:200])
            return exc.code, False
        return ("accepted", True) if added.new else ("duplicate", False)

    def _on_receipts(self, peer_id: str, message: m.ReceiptsPush, now: int,
                     exclude: Iterable[str]) -> tuple[m.Message, list[Send]]:
        outcomes: list[str] = []
        onward: list[bytes] = []
        for raw in message.receipts:
            outcome, spread = self._take(raw, peer_id, "node", now)
            outcomes.append(outcome)
            if spread:
                onward.append(raw)
            if outcome == "unknown_entry":
                self._wait(raw, now)  # the entry may be on its way
        accepted, duplicates = outcomes.count("accepted"), outcomes.count("duplicate")
        waiting = outcomes.count("unknown_entry")
        rejected = len(outcomes) - accepted - duplicates - waiting
        self.stats["accepted"] += accepted
        self.stats["rejected"] += rejected
        ack = m.ReceiptsAck(accepted, duplicates, rejected, waiting, tuple(outcomes))
        return ack, self._spread(onward, now, exclude=exclude)

    def _wait(self, raw: bytes, now: int) -> None:
        try:
            payload = msgpack.unpackb(msgpack.unpackb(raw)[0])
            entry_id = bytes(payload[4])
        except (ValueError, TypeError, IndexError, KeyError, TrustnetError,
                msgpack.UnpackException):
            return
        self._waiting[raw] = (entry_id, now)
        self._waiting.move_to_end(raw)
        while len(self._waiting) > self.config.max_waiting:
            self._waiting.popitem(last=False)
        self.stats["waiting"] = len(self._waiting)

    def _retry_waiting(self, now: int) -> list[Send]:
        if not self._waiting:
            return []
        held = self.store.received_of([i for i, _ in self._waiting.values()], witnessed=False)
        onward = []
        for raw, (entry_id, since) in list(self._waiting.items()):
            if entry_id in held:
                del self._waiting[raw]
                outcome, spread = self._take(raw, "", "node", now)
                if spread:
                    onward.append(raw)
                if outcome == "accepted":
                    self.stats["accepted"] += 1
            elif now - since > self.config.waiting_ms:
                del self._waiting[raw]
        self.stats["waiting"] = len(self._waiting)
        return self._spread(onward, now)
