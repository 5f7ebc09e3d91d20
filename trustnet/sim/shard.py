"""One shard of a sharded simulation: the nodes it holds, and the three phases of a round.

The sharded engines (`trustnet sim --engine sharded|ray`, `trustnet.sim.sharded`) split the
nodes over K shards: node i lives in shard i mod K. Each shard builds its nodes exactly as
the one-process engine does (`trustnet.sim.engine`: the same identities, peers, per-node
RNG streams, held authors and byzantine choice) and runs the same sans-IO protocol, the
same admission policy (`protocol.admission.admit`) and the same byzantine behaviours.

What differs is the round model, which must not depend on how the nodes are split. A
round is one or more exchanges (hop mode: one; drain mode: until nothing is in flight),
and an exchange is three phases, each one call per shard with one batch per shard pair:

1. `send_phase`: every node of the shard, in index order, sends what it deferred (requests
   made in reaction), or what its tick makes (byzantine nodes: their forged pushes or
   garbage). Each request is encoded
   with the wire codec and counted; a loss (a hash of the seed, round, exchange, sender and
   the request's place: no shared RNG) or an offline receiver fails it at once, like the
   in-memory network. The rest go out in K batches, one per receiving shard.
2. `serve_phase`: the receiving shard answers its batches in (sender, place) order, the
   same whatever K is: an honest node through the admission policy (the claimed node id
   taken as proven), a byzantine one by its behaviour. Requests a node makes in reaction
   wait for the next exchange. The replies go back in K batches, one per sending shard.
3. `reply_phase`: every sender takes its replies and failures in the order it sent; the
   requests it makes in reaction wait for the next exchange.

A round, as in the one-process engine: churn; the requests deferred since the last round
(an exchange); then every online node ticks (an exchange). In hop mode the requests made in
reaction wait for the next round; in drain mode deferred requests are exchanged again until
none is left, after the first exchange and after the ticks.

So every node sees the same events in the same order at any K (and on one machine or
many): rounds, reached, messages and bytes are identical for K = 1, 2 or 100. They are not
those of the one-process engine, whose requests complete one after another in FIFO order
(a node may see the reply to its digest before another node's push of the same round):
docs/sim.md compares the two.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import struct
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.admission import Refused, admit
from trustnet.protocol.events import (
    Action,
    Event,
    LocalEntry,
    PeerDecision,
    RequestFailed,
    Response,
    Send,
    Tick,
)
from trustnet.protocol.gossip import GossipProtocol
from trustnet.sim.config import BEHAVIOURS, Behaviour, SimConfig
from trustnet.sim.engine import (
    _FORGED_PER_NODE,
    _GARBAGE,
    AUTH_HEADER_BYTES,
    T0,
    byzantine_serve,
    held_base,
)
from trustnet.sim.result import peak_rss_mb
from trustnet.store.memory import MemoryReplica
from trustnet.transport.base import STATUS, error_body, error_from_reply

# A request between shards: (sender, place in the sender's sends of the exchange,
# receiver, path, body, the sender's node id as its header claims it).
Request = tuple[int, int, int, str, bytes, str]
# A reply: (sender, place, HTTP status, body).
Reply = tuple[int, int, int, bytes]
_U64 = struct.Struct(">Q")


def url_of(i: int) -> str:
    """The URL node `i` is served at."""
    return f"http://n{i}"


def index_of(url: str) -> int | None:
    """The node served at `url` (None: no simulated node)."""
    if not url.startswith("http://n"):
        return None
    tail = url[8:]
    return int(tail) if tail.isdigit() and (tail == "0" or tail[0] != "0") else None


def byzantine_nodes(config: SimConfig) -> dict[int, Behaviour]:
    """Which nodes are byzantine and how: the one-process engine's choice."""
    chosen = sorted(random.Random(f"trustnet-sim/{config.seed}/byzantine")
                    .sample(range(config.nodes), config.byzantine_count))
    mode = config.byzantine_mode
    return {i: BEHAVIOURS[k % len(BEHAVIOURS)] if mode == "mixed" else mode
            for k, i in enumerate(chosen)}


def publishers(config: SimConfig, byzantine: dict[int, Behaviour]) -> list[int]:
    """The honest nodes that publish at round 0: the one-process engine's choice."""
    honest = [i for i in range(config.nodes) if i not in byzantine]
    return sorted(random.Random(f"trustnet-sim/{config.seed}").sample(honest, config.publishers))


def node_identity(config: SimConfig, i: int) -> Identity:
    """Node `i`'s key: the one-process engine's."""
    return Identity.from_seed(hashlib.sha256(f"trustnet-sim/{config.seed}/{i}".encode()).digest())


def _proven(node: str) -> Callable[[], str]:
    """The signature check of the simulator: the claimed node id is taken as proven."""
    return lambda: node


@dataclass(frozen=True, slots=True)
class ShardStats:
    """What one shard counted in an exchange or a round (the coordinator adds them up)."""

    requests: int = 0
    bytes: int = 0
    header_bytes: int = 0
    failures: int = 0
    deferred: int = 0  # requests waiting for the next exchange
    holders: int = 0  # honest nodes of the shard holding every published entry
    missing_online: int = 0
    online: int = 0


class Shard:
    """The nodes i with i mod `count` == `index`, and their side of each exchange."""

    def __init__(self, config: SimConfig, index: int, count: int) -> None:
        self.config = config
        self.index, self.count = index, count
        self.gossip = gossip = config.gossip()
        n = config.nodes
        self.nodes = range(index, n, count)
        self.now = T0
        self.round = 0
        self._exchange = 0
        byzantine = byzantine_nodes(config)
        self.behaviour: dict[int, Behaviour] = {i: b for i, b in byzantine.items()
                                                if i % count == index}
        self.protocols: dict[int, GossipProtocol] = {}
        self.replicas: dict[int, MemoryReplica] = {}
        self.ids_hex: dict[int, str] = {}
        self.identities: dict[int, Identity] = {}  # the publishers' (they sign)
        mine = self.publishing(byzantine)
        base = held_base(config.authors)
        for i in self.nodes:
            ident = node_identity(config, i)
            rng = random.Random(f"trustnet-sim/{config.seed}/{i}")
            others = rng.sample(range(n - 1), config.peers)
            peers = [url_of(j if j < i else j + 1) for j in others]
            replica = MemoryReplica(base)
            self.replicas[i] = replica
            self.protocols[i] = GossipProtocol(
                ident.public_key, replica, rng, gossip, own_url=url_of(i), peers=peers,
                now_ms=T0, recover_own=False,
            )
            self.ids_hex[i] = ident.party_id
            if i in mine:
                self.identities[i] = ident
        self.honest = [i for i in self.nodes if i not in self.behaviour]
        self.offline = bytearray(n)  # every node's state: a sender fails a request to one away
        self._forged: dict[int, tuple[bytes, ...]] = {}
        self._fake_heads: dict[int, m.Heads] = {}
        for i, b in self.behaviour.items():
            if b == "forge":
                self._forge(i)
        self.wanted: list[tuple[bytes, int]] = []
        self.deferred: dict[int, list[Action]] = defaultdict(list)
        self._sent: dict[int, list[Send]] = {}
        self._failed: dict[tuple[int, int], str] = {}
        self.bytes_by_path: dict[str, int] = defaultdict(int)
        self._decisions: set[tuple[int, str]] = set()
        self.decision_count = 0
        self._counts = [0, 0, 0, 0]  # requests, bytes, header bytes, failures

    def publishing(self, byzantine: dict[int, Behaviour]) -> set[int]:
        """The publishers among this shard's nodes."""
        return {i for i in publishers(self.config, byzantine) if i % self.count == self.index}

    def _forge(self, i: int) -> None:
        """As the one-process engine: made-up authors' entries with broken signatures."""
        raws = []
        for k in range(_FORGED_PER_NODE):
            fake = Identity.from_seed(hashlib.sha256(
                f"trustnet-sim/{self.config.seed}/forged/{i}/{k}".encode()).digest())
            entry = sign_entry(fake, seq=1, prev=None, ts=T0, kind="trust",
                               body={"subject": fake.party_id, "level": 1000})
            raws.append((entry.author, entry.id, entry.raw[:-1] + bytes([entry.raw[-1] ^ 1])))
        raws.sort()
        self._forged[i] = tuple(raw for _, _, raw in raws)
        self._fake_heads[i] = m.Heads(tuple((author, 1, ident) for author, ident, _ in raws))

    # -- the run -------------------------------------------------------------------------

    def publish(self) -> list[tuple[bytes, int]]:
        """This shard's publishers sign their new entry (round 0): their (author, seq)."""
        out = []
        for who in sorted(self.identities):
            body = {"subject": hashlib.sha256(f"sim-subject-{who}".encode()).hexdigest(),
                    "level": 500}
            entry: Entry = self.replicas[who].append_own(self.identities[who], "trust", body,
                                                         self.now)
            self.deferred[who].extend(self.protocols[who].handle(LocalEntry(entry), self.now))
            out.append((entry.author, entry.seq))
        return out

    def set_wanted(self, wanted: Sequence[tuple[bytes, int]]) -> None:
        """The (author, seq) every honest node must hold (all shards' publishers)."""
        self.wanted = list(wanted)

    def send_phase(self, round_no: int, tick: bool, down: Sequence[int],
                   up: Sequence[int]) -> list[list[Request]]:
        """Phase 1: churn applied, then every node's deferred requests (or, when `tick`, what
        its tick makes), encoded and counted; one batch per receiving shard."""
        if round_no != self.round:
            self.round, self._exchange = round_no, 0
        else:
            self._exchange += 1
        self.now = now = T0 + round_no * self.config.tick_ms
        for i in up:
            self.offline[i] = 0
        for i in down:
            self.offline[i] = 1
        self._counts = [0, 0, 0, 0]
        max_bytes = self.gossip.max_message_bytes
        out: list[list[Request]] = [[] for _ in range(self.count)]
        self._sent = {}
        self._failed = {}
        loss = self.config.drop_rate
        for i in self.nodes:
            if not tick:
                sends = self.deferred.pop(i, [])
            elif self.offline[i]:
                continue
            elif i in self.behaviour:
                sends = self._byzantine_sends(i)
            else:
                sends = self.protocols[i].handle(Tick(), now)
            if not sends:
                continue
            self._sent[i] = sends
            garbage = self.behaviour.get(i) == "garbage"
            node = self.ids_hex[i]
            for seq, send in enumerate(sends):
                body = _GARBAGE if garbage else m.encode(send.message, max_bytes)
                self._counts[0] += 1
                self._counts[2] += AUTH_HEADER_BYTES
                self._counts[1] += len(body)
                self.bytes_by_path[send.path] += len(body)
                dst = index_of(send.peer_url)
                if dst is None or dst >= self.config.nodes:
                    self._failed[(i, seq)] = "unreachable"
                elif loss and self._lost(i, seq) < loss:
                    self._failed[(i, seq)] = "dropped"
                elif self.offline[dst]:
                    self._failed[(i, seq)] = "unreachable"
                else:
                    out[dst % self.count].append((i, seq, dst, send.path, body, node))
        return out

    def _lost(self, src: int, seq: int) -> float:
        """A uniform draw in [0, 1) for the loss of one request, from its coordinates."""
        key = f"trustnet-sim/{self.config.seed}/loss/{self.round}/{self._exchange}/{src}/{seq}"
        value: int = _U64.unpack(hashlib.blake2b(key.encode(), digest_size=8).digest())[0]
        return value / 2**64

    def serve_phase(self, *batches: list[Request]) -> list[list[Reply]]:
        """Phase 2: answer every request to this shard's nodes in (sender, place) order; one
        batch of replies per sending shard."""
        out: list[list[Reply]] = [[] for _ in range(self.count)]
        for src, seq, dst, path, body, node in heapq.merge(*batches):
            if dst in self.behaviour:
                code, data = self._byzantine_serve(dst, node, path, body)
                status, reply = ((STATUS.get(code, 400), error_body(code, "refused"))
                                 if code is not None else (200, data))
            else:
                outcome = admit(self.protocols[dst], path, body, self.now, remote=url_of(src),
                                claimed=node, authenticate=_proven(node))
                if isinstance(outcome, Refused):
                    status = outcome.status or STATUS.get(outcome.code, 400)
                    reply = error_body(outcome.code, outcome.message)
                else:
                    status, reply = 200, outcome.reply
                    if outcome.actions:
                        self.deferred[dst].extend(outcome.actions)
            if status == 200:
                self._counts[1] += len(reply)
                self.bytes_by_path[path] += len(reply)
            out[src % self.count].append((src, seq, status, reply))
        return out

    def reply_phase(self, *batches: list[Reply]) -> ShardStats:
        """Phase 3: every sender takes its replies and failures in the order it sent."""
        answers: dict[tuple[int, int], tuple[int, bytes]] = {}
        for batch in batches:
            for src, seq, status, body in batch:
                answers[(src, seq)] = (status, body)
        max_bytes = self.gossip.max_message_bytes
        for src in self.nodes:
            sends = self._sent.get(src)
            if sends is None:
                continue
            listening = not self.offline[src] and src not in self.behaviour
            proto = self.protocols[src]
            for seq, send in enumerate(sends):
                event: Event
                failed = self._failed.get((src, seq))
                status, body = answers.get((src, seq), (0, b""))
                if failed is None and status != 200:
                    failed = error_from_reply(status, body).code
                if failed is not None:
                    self._counts[3] += 1
                    if not listening:
                        continue
                    event = RequestFailed(send.request_id, send.peer_url, failed)
                else:
                    if not listening:
                        continue
                    try:
                        event = Response(send.request_id, send.peer_url,
                                         m.decode_reply(send.path, body, max_bytes))
                    except m.MessageError as exc:
                        event = RequestFailed(send.request_id, send.peer_url, exc.code)
                actions = proto.handle(event, self.now)
                if actions:
                    self.deferred[src].extend(actions)
        self._sent = {}
        self._failed = {}
        requests, size, headers, failures = self._counts
        return ShardStats(requests=requests, bytes=size, header_bytes=headers, failures=failures,
                          deferred=self.pending())

    def pending(self) -> int:
        """Requests waiting for the next exchange."""
        return sum(len(a) for a in self.deferred.values())

    def end_round(self) -> ShardStats:
        """What the honest nodes logged (graylisting decisions), who holds the entries."""
        for i in self.honest:
            for happened in self.protocols[i].take_events():
                if isinstance(happened, PeerDecision):
                    self._decisions.add((i, happened.key))
                    self.decision_count += 1
        holders = missing = 0
        for i in self.honest:
            replica = self.replicas[i]
            for author, seq in self.wanted:
                head = replica.head(author)
                if head is None or head.seq < seq:
                    missing += not self.offline[i]
                    break
            else:
                holders += 1
        online = sum(1 for i in self.nodes if not self.offline[i])
        return ShardStats(deferred=self.pending(), holders=holders, missing_online=missing,
                          online=online)

    # -- byzantine nodes (as the one-process engine) ----------------------------------------

    def _byzantine_sends(self, i: int) -> list[Action]:
        behaviour = self.behaviour[i]
        if behaviour == "silent":
            return []
        proto = self.protocols[i]
        targets = proto.peers.sample(proto.rng, self.config.fanout, self.now)
        message = m.Push(self._forged[i]) if behaviour == "forge" else m.Push(())
        return [Send(0, url, m.PUSH, message) for url in targets]

    def _byzantine_serve(self, dst: int, node: str, path: str,
                         body: bytes) -> tuple[str | None, bytes]:
        return byzantine_serve(self.behaviour[dst], self.protocols[dst], node, path, body, self.now,
                               self._forged.get(dst, ()), self._fake_heads.get(dst))

    # -- observing ---------------------------------------------------------------------------

    def digests(self) -> set[bytes]:
        """The distinct anti-entropy digests of this shard's honest nodes."""
        return {self.protocols[i].digest() for i in self.honest}

    def mismatches(self) -> int:
        """Digest exchanges that found a difference, over this shard's nodes."""
        return sum(p.stats["mismatch"] for p in self.protocols.values())

    def take_bytes_by_path(self) -> dict[str, int]:
        """Body bytes per path since the last call."""
        out = dict(self.bytes_by_path)
        self.bytes_by_path.clear()
        return out

    def graylisted(self) -> list[tuple[int, str]]:
        """(honest node, key) for every graylisting decision whose cool-down still runs."""
        return sorted((i, key) for i, key in self._decisions
                      if self.protocols[i].peers.is_ignored(key, self.now))

    def decisions(self) -> int:
        """Graylisting decisions this shard's honest nodes took during the run."""
        return self.decision_count

    def resolve(self, keys: Sequence[str]) -> dict[str, int]:
        """Which of these node ids (hex) are this shard's nodes."""
        wanted = set(keys)
        return {h: i for i, h in self.ids_hex.items() if h in wanted}

    def peak_rss(self) -> float:
        """Peak resident memory of the process holding this shard, in MiB."""
        return peak_rss_mb()

    def ping(self) -> int:
        """How many nodes this shard holds (the Ray engine waits on it)."""
        return len(self.nodes)
