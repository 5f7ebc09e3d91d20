"""`trustnet sim`: thousands of nodes in one process, on a virtual clock (DESIGN 10 and 11).

Synchronous, deterministic, discrete rounds; no asyncio, no sockets. Every node is the
real sans-IO `GossipProtocol` over its own `MemoryReplica` (the replica interface in
dicts: the store's rules, no SQLite) with its own seeded `random.Random`, served on the
same in-memory network as the tests (`MemoryNetwork.send`, its synchronous delivery);
the virtual clock advances one round interval per round.

A round: nodes leave and return (churn); the requests still in flight from the last
round are delivered; then every online node gets `Tick` and the requests it makes are
delivered, in FIFO order. Each request is encoded and decoded with the wire codec
(`messages.encode` / `decode_request` / `decode_reply`), so every byte is counted
exactly; the signed-request headers are sent at their fixed size (`AUTH_HEADER_BYTES`)
but not computed (an Ed25519 signature and check per request would not change what the
protocol does). The receiver runs the node's own admission policy
(`protocol.admission.admit`: graylist, size, partition, unknown path, rate limit,
decoding) with the claimed node id taken as proven, and the reply goes back to the
sender as a `Response` (a refusal or a drop as `RequestFailed`).

Two latency models, because "round" means two things:
- `hop` (default): the synchronous rounds of the epidemic literature. A request and
  its reply complete within the round (one RPC), but any request made in reaction to
  a message (an eager push onward, a fetch after a heads reply) leaves in the next
  round. One hop per round: log3(N) is the depth of a fanout-3 push tree. Requests in
  flight are delivered before the ticks, so a reply is never older than the 30 s
  request timeout however long the round interval is.
- `drain`: a tick interval much longer than network latency (the deployed default:
  ticks of 1 s, loopback or LAN latency). Requests made in reaction are delivered in
  the same round until nothing is in flight, so the eager-push cascade completes in
  the round it starts and later rounds measure anti-entropy alone.

What the options model (docs/sim.md has the measured figures):
- round interval (`--round-interval`, default 1 s): the nodes' tick interval and the
  virtual time each round advances. Every timer of the protocol runs on it: contact
  back-off after a failure (1 s doubling to 30 s), request timeout (30 s), graylist
  cool-down and score half-life (10 min), token-bucket rate limits, the 10-minute age
  beyond which a fetched entry is no longer pushed on. A clean run takes the same
  rounds whatever the interval (only `virtual_seconds` scales); runs with loss, churn
  or byzantine nodes do not.
- loss (`--loss`, alias `--drop-rate`): each request is lost with that probability
  before it reaches the receiver (`MemoryNetwork.drop_rate`), and the sender learns it
  at once (`RequestFailed("dropped")`, like a reset connection, not a 30 s timeout).
- churn (`--churn F`, `--downtime D`): at the start of each round a fraction F of the
  nodes then online go offline, each for a geometric number of rounds of mean D
  (seeded). An offline node (`MemoryNetwork.down`) neither ticks nor answers: requests
  to it fail at once (`unreachable`, like a drop); requests it had in flight still arrive, but their
  replies are lost (its protocol times them out after it returns). It keeps its store
  and state, and catches up by anti-entropy when it is back. With F*D small the
  steady offline share is F*D / (1 + F*D).
- byzantine (`--byzantine F`, `--byzantine-mode`): a fraction F of the nodes (never a
  publisher) run no protocol: they never tick, forward or store anything, and answer
  by their behaviour ("mixed" gives them silent, forge and garbage in turn):
  - silent: a black hole that looks honest: `InSync` to every digest, an empty
    `PushAck` to every push, nothing to fetches. Peer scoring cannot see it;
  - forge: claims authors it does not have (a `Heads` reply to every digest) and serves
    them as entries with broken signatures; each round it also pushes those to
    `fanout` peers. Honest nodes reject them (`bad_signature`) and graylist it, by URL
    (fetch replies) and by node id (its pushes);
  - garbage: answers every request with bytes that are not msgpack, and each round
    sends such bodies to `fanout` peers (`bad_message`: URL and node id again).
  Byzantine nodes are not counted in `reached` and need not hold anything.

Dissemination: `publishers` honest nodes (chosen by the seeded RNG) each sign one new
entry at round 0 (`MemoryReplica.append_own`, then `LocalEntry`). `reached` = honest nodes,
online or not (an offline node keeps its store), holding every one of them; rounds to
all = how many rounds ran until that was every honest node. After that the network is
run until it is quiet (nothing deferred, all honest digests equal), then
`in_sync_rounds` more rounds are measured: anti-entropy bytes per node per round, which
DESIGN 11 wants O(1) — the same whatever the number of nodes or authors.

The network may start holding `authors` other authors' entries (in sync), seeded once
in a base `MemoryReplica` that every node's replica shares: what an anti-entropy
mismatch exchanges (range reconciliation, `protocol.reconcile`) and what a node costs
grow with what differs, not with them.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict, deque
from collections.abc import Callable, Mapping

from trustnet.errors import TrustnetError
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.admission import Refused, admit
from trustnet.protocol.events import (
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
from trustnet.sim.result import (
    Graylisting,
    InSync,
    RoundStats,
    SimResult,
    graylisting_of,
    sim_result,
)
from trustnet.store.memory import MemoryReplica
from trustnet.transport.auth import HEADER_NODE, HEADER_SIGNATURE, HEADER_TIME
from trustnet.transport.base import STATUS, TransportError, error_body
from trustnet.transport.memory import MemoryNetwork

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z: virtual time starts here


def held_entries(authors: int) -> list[Entry]:
    """The entries of the `authors` other authors every node holds at the start, signed here
    (`Entry` objects: ingested without a second check). Both engines seed these."""
    return [
        sign_entry(Identity.from_seed(hashlib.sha256(f"trustnet-sim/author/{a}".encode())
                                      .digest()),
                   seq=1, prev=None, ts=T0, kind="trust",
                   body={"subject": hashlib.sha256(f"sim-held-{a}".encode()).hexdigest(),
                         "level": a % 1000})
        for a in range(authors)
    ]


def held_base(authors: int) -> MemoryReplica:
    """The replica every simulated node starts from: the held authors, once. Each node's
    `MemoryReplica(base)` keeps only what differs from it, so a node costs what it learns,
    not N x authors."""
    base = MemoryReplica()
    base.ingest(held_entries(authors), T0)
    return base
# The three X-Trustnet-* headers of a signed request: 64 hex node id, 13-digit ms time,
# 128 hex signature (transport/auth.py), counted as names plus values like MemoryNetwork.
AUTH_HEADER_BYTES = len(HEADER_NODE) + 64 + len(HEADER_TIME) + 13 + len(HEADER_SIGNATURE) + 128
_UNSIGNED = {HEADER_TIME: "0" * 13, HEADER_SIGNATURE: "0" * 128}  # sized, never checked
_DELIVERIES_PER_NODE = 256  # bound on deliveries per node per round (the protocols go quiet)
_FORGED_PER_NODE = 4  # forged entries a forging node serves: 4 x bad_signature (25) = 100
# 0xc1 is the one byte msgpack never uses: any decoder fails on it (`bad_message`).
_GARBAGE = b"\xc1" + b"trustnet-sim garbage"


class SimError(TrustnetError):
    """The simulation cannot go on. Codes: not_quiet (a round never stops sending)."""

    code = "sim_error"



class _Host:
    """Node `index` of a simulator as the in-memory network sees it (a gossip handler)."""

    __slots__ = ("index", "sim")

    def __init__(self, sim: Simulator, index: int) -> None:
        self.sim = sim
        self.index = index

    def serve_gossip(self, path: str, headers: Mapping[str, str], body: bytes, *,
                     remote: str = "") -> tuple[int, bytes]:
        return self.sim.serve(self.index, remote, path, headers, body)

    async def handle_gossip(self, path: str, headers: Mapping[str, str], body: bytes, *,
                            remote: str = "") -> tuple[int, bytes]:
        return self.serve_gossip(path, headers, body, remote=remote)



def byzantine_serve(behaviour: Behaviour, proto: GossipProtocol, node: str, path: str,
                    body: bytes, now: int, forged: tuple[bytes, ...],
                    fake_heads: m.Heads | None) -> tuple[str | None, bytes]:
    """A byzantine node's answer (both engines): nothing it holds, and lies or garbage by
    behaviour. (error code or None, reply body)."""
    if behaviour == "garbage":
        return None, _GARBAGE
    try:
        message = m.decode_request(path, body, proto.config.max_message_bytes)
    except m.MessageError as exc:
        return exc.code, b""
    forge = behaviour == "forge"
    reply: m.Message
    if isinstance(message, m.PeersRequest):
        # Peer exchange answered as an honest node would: it keeps them in the mesh.
        reply = proto.on_request(node, path, message, now)[0]
    elif isinstance(message, m.Digest):
        reply = fake_heads if forge and fake_heads is not None else m.InSync()
    elif isinstance(message, m.Fetch):
        reply = m.Entries(forged if forge else ())
    elif isinstance(message, m.HeadRequest):
        reply = m.HeadReply(message.author, 0, None)
    elif isinstance(message, m.HeadsRequest):
        reply = m.Heads(())
    elif isinstance(message, m.Reconcile):
        reply = m.Reconcile()
    else:
        reply = m.PushAck()  # swallowed: not stored, not forwarded
    return None, m.encode(reply, proto.config.max_message_bytes)

class Simulator:
    """N real gossip protocols on one virtual clock, delivered round by round."""

    def __init__(self, config: SimConfig,
                 progress: Callable[[RoundStats], None] | None = None) -> None:
        self.config = config
        self.progress = progress
        self.round = 0
        self.now = T0
        self.rng = random.Random(f"trustnet-sim/{config.seed}")  # drops, publishers
        # Churn and the byzantine choice draw from their own streams: turning one on does
        # not change the other random choices of the run.
        self.churn_rng = random.Random(f"trustnet-sim/{config.seed}/churn")
        self.gossip = gossip = config.gossip()
        n = config.nodes
        self.urls = [f"http://n{i}" for i in range(n)]
        self.index = {url: i for i, url in enumerate(self.urls)}
        self.identities: list[Identity] = []
        self.replicas: list[MemoryReplica] = []
        self.protocols: list[GossipProtocol] = []
        self.ids_hex: list[str] = []
        self._headers: list[dict[str, str]] = []
        # The tests' in-memory network; its RNG is the run's, so losses draw where they did.
        self.network = MemoryNetwork(rng=self.rng, drop_rate=config.drop_rate)
        self._served: list[Send] = []  # requests the receiver of the current delivery made
        # Authors the network already agrees on, held once in a base every node's replica
        # starts from (each keeps only what differs from it: a node costs what it learns,
        # not N x authors). Entries signed here are ingested as `Entry` objects.
        base = held_base(config.authors)
        for i in range(n):
            seed = hashlib.sha256(f"trustnet-sim/{config.seed}/{i}".encode()).digest()
            ident = Identity.from_seed(seed)
            rng = random.Random(f"trustnet-sim/{config.seed}/{i}")
            others = rng.sample(range(n - 1), config.peers)
            peers = [self.urls[j if j < i else j + 1] for j in others]  # anyone but itself
            # recover_own=False: a running network, not nodes whose stores were lost.
            replica = MemoryReplica(base)
            self.replicas.append(replica)
            self.protocols.append(GossipProtocol(
                ident.public_key, replica, rng, gossip, own_url=self.urls[i], peers=peers,
                now_ms=self.now, recover_own=False,
            ))
            self.identities.append(ident)
            self.ids_hex.append(ident.party_id)
            self._headers.append({HEADER_NODE: ident.party_id, **_UNSIGNED})
            self.network.register(self.urls[i], _Host(self, i))
        self.id_index = {h: i for i, h in enumerate(self.ids_hex)}
        # Byzantine nodes: chosen first, so publishers are drawn among the honest.
        self.behaviour: list[Behaviour | None] = [None] * n
        chosen = sorted(random.Random(f"trustnet-sim/{config.seed}/byzantine")
                        .sample(range(n), config.byzantine_count))
        for k, i in enumerate(chosen):
            mode = config.byzantine_mode
            self.behaviour[i] = BEHAVIOURS[k % len(BEHAVIOURS)] if mode == "mixed" else mode
        self.honest = [i for i in range(n) if self.behaviour[i] is None]
        self._forged: dict[int, tuple[bytes, ...]] = {}
        self._fake_heads: dict[int, m.Heads] = {}
        for i in chosen:
            if self.behaviour[i] == "forge":
                self._forge(i)
        self.offline = [False] * n
        self._returns: dict[int, list[int]] = defaultdict(list)  # round -> nodes back then
        self.published: list[Entry] = []
        self._next: deque[tuple[int, Send]] = deque()  # hop mode: sent in reaction, next round
        self._bytes_by_path: dict[str, int] = defaultdict(int)
        self._round_requests = self._round_bytes = self._round_headers = self._round_failures = 0
        self._decisions: set[tuple[int, str]] = set()  # (honest node, key) it graylisted
        self._decision_count = 0

    def _forge(self, i: int) -> None:
        """Entries of made-up authors with broken signatures, and the heads that claim them."""
        raws = []
        for k in range(_FORGED_PER_NODE):
            fake = Identity.from_seed(hashlib.sha256(
                f"trustnet-sim/{self.config.seed}/forged/{i}/{k}".encode()).digest())
            entry = sign_entry(fake, seq=1, prev=None, ts=self.now, kind="trust",
                               body={"subject": fake.party_id, "level": 1000})
            # The signature is the raw entry's last 64 bytes: flip one bit of it. Still
            # minimal msgpack, so only the signature check can refuse it.
            raws.append((entry.author, entry.id, entry.raw[:-1] + bytes([entry.raw[-1] ^ 1])))
        raws.sort()
        self._forged[i] = tuple(raw for _, _, raw in raws)
        self._fake_heads[i] = m.Heads(tuple((author, 1, ident) for author, ident, _ in raws))

    # -- driving ---------------------------------------------------------------------

    def publish(self, count: int) -> list[Entry]:
        """`count` distinct random honest nodes each sign a new entry now and push it."""
        queued: list[tuple[int, Send]] = []
        for who in sorted(self.rng.sample(self.honest, count)):
            proto = self.protocols[who]
            body = {"subject": hashlib.sha256(f"sim-subject-{who}".encode()).hexdigest(),
                    "level": 500}
            # DESIGN 5: held first, then gossiped (what Node.publish does).
            entry = self.replicas[who].append_own(self.identities[who], "trust", body, self.now)
            self.published.append(entry)
            queued += [(who, a) for a in proto.handle(LocalEntry(entry), self.now)]
        self._next.extend(queued)
        return self.published[-count:]

    def step(self) -> RoundStats:
        """Run one round: churn, the requests in flight, then every online node ticks and
        its requests are delivered."""
        cfg = self.config
        self.now = now = T0 + self.round * cfg.tick_ms
        self._round_requests = self._round_bytes = self._round_headers = self._round_failures = 0
        if cfg.churn:
            self._churn()
        budget = _DELIVERIES_PER_NODE * cfg.nodes
        # In flight since the last round (hop mode): delivered before anyone ticks, so the
        # sender's tick cannot time a request out (30 s) just because rounds are long.
        in_flight = self._next
        self._next = deque()
        budget = self._drain(in_flight, budget)
        queue: deque[tuple[int, Send]] = deque()
        for i, proto in enumerate(self.protocols):
            if self.offline[i]:
                continue
            if self.behaviour[i] is None:
                queue.extend((i, a) for a in proto.handle(Tick(), now))
            else:
                queue.extend(self._byzantine_sends(i))
        self._drain(queue, budget)
        for i in self.honest:
            # What the node logs for its operator (`PeerDecision`): kept to tell graylisted
            # byzantine nodes from honest ones graylisted by mistake.
            for happened in self.protocols[i].take_events():
                if isinstance(happened, PeerDecision):
                    self._decisions.add((i, happened.key))
                    self._decision_count += 1
        holders, missing_online = self.holders()
        stats = RoundStats(self.round, holders, self._round_requests, self._round_bytes,
                           self._round_headers, self._round_failures, len(self._next),
                           cfg.nodes - sum(self.offline), missing_online)
        self.round += 1
        if self.progress is not None:
            self.progress(stats)
        return stats

    def _drain(self, queue: deque[tuple[int, Send]], budget: int) -> int:
        """Deliver `queue` in FIFO order; reactions join it (drain) or wait a round (hop)."""
        reactions = queue if self.config.mode == "drain" else self._next
        while queue:
            budget -= 1
            if budget < 0:
                raise SimError(f"round {self.round} does not go quiet", code="not_quiet")
            src, send = queue.popleft()
            reactions.extend(self._deliver(src, send))
        return budget

    def _churn(self) -> None:
        """Nodes due back return; then a share of the online nodes leave (seeded)."""
        cfg = self.config
        for i in self._returns.pop(self.round, ()):
            self.offline[i] = False
            self.network.up(self.urls[i])
        online = [i for i, off in enumerate(self.offline) if not off]
        p = 1.0 / cfg.downtime
        for i in sorted(self.churn_rng.sample(online, round(cfg.churn * len(online)))):
            self.offline[i] = True
            self.network.down(self.urls[i])
            # Geometric downtime of mean `downtime` rounds: 1 + failures before a success.
            u = 1.0 - self.churn_rng.random()  # in (0, 1]
            away = 1 if p >= 1.0 else 1 + int(math.log(u) / math.log(1.0 - p))
            self._returns[self.round + away].append(i)

    def _deliver(self, src: int, send: Send) -> list[tuple[int, Send]]:
        """One request and its reply over the network; returns the requests both sides
        make in reaction (the receiver's first)."""
        cfg = self.gossip
        sender = self.protocols[src]
        now = self.now
        garbage = self.behaviour[src] == "garbage"
        body = _GARBAGE if garbage else m.encode(send.message, cfg.max_message_bytes)
        self._count(send.path, len(body), request=True)
        self._served = []
        try:
            reply = self.network.send(self.urls[src], send.peer_url, send.path,
                                      self._headers[src], body)
        except TransportError as exc:
            return self._fail(src, send, exc.code)
        dst = self.index[send.peer_url]
        out = [(dst, a) for a in self._served]
        self._count(send.path, len(reply), request=False)
        if self.offline[src] or self.behaviour[src] is not None:
            return out  # the sender went down since (the reply is lost) or ignores replies
        event: Event
        try:
            event = Response(send.request_id, send.peer_url,
                             m.decode_reply(send.path, reply, cfg.max_message_bytes))
        except m.MessageError as exc:
            event = RequestFailed(send.request_id, send.peer_url, exc.code)
        return out + [(src, a) for a in sender.handle(event, now)]

    def serve(self, dst: int, remote: str, path: str, headers: Mapping[str, str],
              body: bytes) -> tuple[int, bytes]:
        """Node `dst` answers a request: an honest node by the node's admission policy
        (the claimed id taken as proven), a byzantine one by its behaviour."""
        node = headers.get(HEADER_NODE, "")
        if self.behaviour[dst] is not None:
            code, data = self._byzantine_serve(dst, node, path, body)
            if code is not None:
                return STATUS.get(code, 400), error_body(code, "refused")
            return 200, data
        outcome = admit(self.protocols[dst], path, body, self.now, remote=remote,
                        claimed=node, authenticate=lambda: node)
        if isinstance(outcome, Refused):
            return (outcome.status or STATUS.get(outcome.code, 400),
                    error_body(outcome.code, outcome.message))
        self._served.extend(outcome.actions)
        return 200, outcome.reply

    # -- byzantine nodes ---------------------------------------------------------------

    def _byzantine_sends(self, i: int) -> list[tuple[int, Send]]:
        """A byzantine node's round: forged pushes or garbage to `fanout` peers (silent: none)."""
        behaviour = self.behaviour[i]
        if behaviour == "silent":
            return []
        proto = self.protocols[i]
        targets = proto.peers.sample(proto.rng, self.config.fanout, self.now)
        # Garbage nodes put `_GARBAGE` on the wire whatever the message (see `_deliver`).
        # Request id 0: no protocol waits for the answer.
        message = m.Push(self._forged[i]) if behaviour == "forge" else m.Push(())
        return [(i, Send(0, url, m.PUSH, message)) for url in targets]

    def _byzantine_serve(self, dst: int, node: str, path: str,
                         body: bytes) -> tuple[str | None, bytes]:
        """A byzantine node's answer: nothing it holds, and lies or garbage by behaviour."""
        behaviour = self.behaviour[dst]
        assert behaviour is not None
        return byzantine_serve(behaviour, self.protocols[dst], node, path, body, self.now,
                               self._forged.get(dst, ()), self._fake_heads.get(dst))

    # -- accounting --------------------------------------------------------------------

    def _fail(self, src: int, send: Send, code: str) -> list[tuple[int, Send]]:
        self._round_failures += 1
        if self.offline[src] or self.behaviour[src] is not None:
            return []
        event = RequestFailed(send.request_id, send.peer_url, code)
        return [(src, a) for a in self.protocols[src].handle(event, self.now)]

    def _count(self, path: str, body: int, *, request: bool) -> None:
        if request:
            self._round_requests += 1
            self._round_headers += AUTH_HEADER_BYTES
        self._round_bytes += body
        self._bytes_by_path[path] += body

    # -- observing -------------------------------------------------------------------

    def holders(self) -> tuple[int, int]:
        """(honest nodes holding every published entry, honest online nodes lacking one):
        a head lookup per author, no SQL."""
        wanted = [(e.author, e.seq) for e in self.published]
        count = missing_online = 0
        offline = self.offline
        for i in self.honest:
            replica = self.replicas[i]
            for author, seq in wanted:
                head = replica.head(author)
                if head is None or head.seq < seq:
                    missing_online += not offline[i]
                    break
            else:
                count += 1
        return count, missing_online

    def quiet(self) -> bool:
        """Nothing deferred and every honest node's anti-entropy digest equal."""
        if self._next:
            return False
        first = self.protocols[self.honest[0]].digest()
        return all(self.protocols[i].digest() == first for i in self.honest)

    def graylisting(self) -> Graylisting:
        """Who graylists whom now: per byzantine node, the honest nodes graylisting it."""
        by: dict[int, set[int]] = {i: set() for i, b in enumerate(self.behaviour) if b}
        honest_pairs: set[tuple[int, int]] = set()
        for i, key in self._decisions:
            j = self.index.get(key, self.id_index.get(key))
            if j is None or not self.protocols[i].peers.is_ignored(key, self.now):
                continue
            if j in by:
                by[j].add(i)
            else:
                honest_pairs.add((i, j))
        return graylisting_of(by, self.behaviour, len(honest_pairs),
                              self._decision_count)

    def run(self) -> SimResult:
        """Publish, run until every honest node holds the entries, settle, measure in sync."""
        cfg = self.config
        self.publish(cfg.publishers)
        rounds: list[RoundStats] = []
        done: int | None = None
        while self.round < cfg.max_rounds:
            stats = self.step()
            rounds.append(stats)
            if stats.holders == cfg.honest:
                done = self.round  # rounds run so far, round 0 included
                break
        in_sync: InSync | None = None
        if done is not None:
            settle = 0
            while not self.quiet() and settle < cfg.settle_rounds:
                rounds.append(self.step())
                settle += 1
            if self.quiet():
                in_sync = self._measure_in_sync(rounds)
        return sim_result(cfg, rounds, done, in_sync, online=cfg.nodes - sum(self.offline),
                          reached_online=sum(1 for i in self.honest if not self.offline[i])
                          - rounds[-1].missing_online,
                          graylisting=self.graylisting())

    def _measure_in_sync(self, rounds: list[RoundStats]) -> InSync:
        cfg = self.config
        mismatches = sum(p.stats["mismatch"] for p in self.protocols)
        self._bytes_by_path.clear()
        measured = []
        for _ in range(cfg.in_sync_rounds):
            stats = self.step()
            rounds.append(stats)
            measured.append(stats)
        node_rounds = cfg.nodes * cfg.in_sync_rounds
        body = sum(r.bytes for r in measured)
        headers = sum(r.header_bytes for r in measured)
        return InSync(
            rounds=cfg.in_sync_rounds,
            requests_per_node_round=sum(r.requests for r in measured) / node_rounds,
            bytes_per_node_round=body / node_rounds,
            wire_bytes_per_node_round=(body + headers) / node_rounds,
            digest_bytes_per_node_round=self._bytes_by_path.get(m.DIGEST, 0) / node_rounds,
            mismatches=sum(p.stats["mismatch"] for p in self.protocols) - mismatches,
            bytes_by_path=dict(sorted(self._bytes_by_path.items())),
        )


def simulate(config: SimConfig,
             progress: Callable[[RoundStats], None] | None = None) -> SimResult:
    """Build a simulator for `config` and run it."""
    return Simulator(config, progress).run()
