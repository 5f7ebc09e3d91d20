"""`trustnet sim`: thousands of nodes in one process, on a virtual clock (DESIGN 10 and 11).

Synchronous, deterministic, discrete rounds; no asyncio, no sockets. Every node is the
real sans-IO `GossipProtocol` over its own real `Store(None)` (in-memory SQLite) with
its own seeded `random.Random`; the clock advances one tick interval per round.

A round: publishes (round 0 only), then every node gets `Tick`, then the round's
requests are delivered in FIFO order. Each request is encoded and decoded with the
wire codec (`messages.encode` / `decode_request` / `decode_reply`), so every byte is
counted exactly; the signed-request headers are counted at their fixed size
(`AUTH_HEADER_BYTES`) but not computed (an Ed25519 signature and check per request
would not change what the protocol does). The receiver applies the node's checks that
change behaviour (graylist, size, per-peer rate limit, decoding: `Node.handle_gossip`
minus the signature), answers through `on_request`, and the reply goes back to the
sender as a `Response` (a refusal or a drop as `RequestFailed`).

Two latency models, because "round" means two things:
- `hop` (default): the synchronous rounds of the epidemic literature. A request and
  its reply complete within the round (one RPC), but any request made in reaction to
  a message (an eager push onward, a fetch after a heads reply) leaves in the next
  round. One hop per round: log3(N) is the depth of a fanout-3 push tree.
- `drain`: a tick interval much longer than network latency (the deployed default:
  ticks of 1 s, loopback or LAN latency). Requests made in reaction are delivered in
  the same round until nothing is in flight, so the eager-push cascade completes in
  the round it starts and later rounds measure anti-entropy alone.

The network may start holding `authors` other authors' entries (in sync): the heads
map an anti-entropy mismatch exchanges grows with them.

Dissemination: `publishers` nodes (chosen by the seeded RNG) each sign one new entry
at round 0 (`Store.append_own`, then `LocalEntry`). Rounds to all = how many rounds
ran until every node held every one of them. After that the network is run until it
is quiet (nothing deferred, all digests equal), then `in_sync_rounds` more rounds are
measured: anti-entropy bytes per node per round, which DESIGN 11 wants O(1) — the
same whatever the number of nodes or authors.

Drops: each request is lost with probability `drop_rate` before it reaches the
receiver (as `MemoryNetwork` does), and the sender learns it at once
(`RequestFailed("dropped")`, like a reset connection rather than a 30 s timeout).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import resource
import sys
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from trustnet.errors import ConfigError, TrustnetError
from trustnet.identity import Identity
from trustnet.log import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.protocol.gossip import (
    Event,
    GossipConfig,
    GossipProtocol,
    LocalEntry,
    RequestFailed,
    Response,
    Send,
    Tick,
)
from trustnet.store import Store
from trustnet.transport.auth import HEADER_NODE, HEADER_SIGNATURE, HEADER_TIME

Mode = Literal["hop", "drain"]
MODES: tuple[Mode, ...] = ("hop", "drain")

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z: virtual time starts here
# The three X-Trustnet-* headers of a signed request: 64 hex node id, 13-digit ms time,
# 128 hex signature (transport/auth.py), counted as names plus values like MemoryNetwork.
AUTH_HEADER_BYTES = len(HEADER_NODE) + 64 + len(HEADER_TIME) + 13 + len(HEADER_SIGNATURE) + 128
_DELIVERIES_PER_NODE = 256  # bound on deliveries per node per round (the protocols go quiet)


class SimError(TrustnetError):
    """The simulation cannot go on. Codes: not_quiet (a round never stops sending)."""

    code = "sim_error"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate."""

    nodes: int = 1000
    peers: int = 8  # random configured peers per node; peer exchange adds more
    fanout: int = 3
    max_rounds: int = 100  # rounds allowed for dissemination
    seed: int = 1
    publishers: int = 1  # nodes that each sign one new entry at round 0 (= new authors)
    authors: int = 0  # authors (one entry each) every node already holds at the start
    drop_rate: float = 0.0
    mode: Mode = "hop"
    in_sync_rounds: int = 10  # rounds measured once in sync (10: one peer exchange each)
    settle_rounds: int = 20  # rounds allowed, after dissemination, to become quiet
    tick_ms: int = 1000

    def __post_init__(self) -> None:
        if self.nodes < 2 or not 1 <= self.peers < self.nodes:
            raise ConfigError("sim: nodes >= 2 and 1 <= peers < nodes")
        if not 1 <= self.publishers <= self.nodes or self.authors < 0:
            raise ConfigError("sim: 1 <= publishers <= nodes and authors >= 0")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ConfigError("sim: 0 <= drop_rate < 1")
        if self.mode not in MODES:
            raise ConfigError(f"sim: mode must be one of {', '.join(MODES)}")
        if self.fanout < 1 or self.max_rounds < 1 or self.in_sync_rounds < 1 or self.tick_ms < 1:
            raise ConfigError("sim: fanout, rounds, in_sync_rounds and tick_ms must be >= 1")

    def gossip(self) -> GossipConfig:
        """The protocol settings every simulated node runs: the defaults but the fanout."""
        return GossipConfig(fanout=self.fanout, tick_interval_s=self.tick_ms / 1000)

    @property
    def bound(self) -> float:
        """DESIGN 11: rounds to full dissemination must be <= log3(N) + 3."""
        return math.log(self.nodes, 3) + 3


@dataclass(frozen=True, slots=True)
class RoundStats:
    """Traffic of one round and who holds the new entries at its end."""

    round: int
    holders: int  # nodes holding every published entry
    requests: int
    bytes: int  # request and reply bodies
    header_bytes: int
    failures: int  # dropped or refused requests
    deferred: int  # requests left for the next round (hop mode)


@dataclass(frozen=True, slots=True)
class InSync:
    """Traffic of the rounds measured once every node is in sync."""

    rounds: int
    requests_per_node_round: float
    bytes_per_node_round: float  # every body, both ways, all paths
    wire_bytes_per_node_round: float  # plus the auth headers
    digest_bytes_per_node_round: float  # anti-entropy alone: digest and its reply
    mismatches: int  # digest exchanges that found a difference (0 when truly in sync)
    bytes_by_path: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SimResult:
    """What a run measured."""

    config: SimConfig
    rounds_to_all: int | None  # None: not every node held every entry within max_rounds
    bound: float
    within_bound: bool
    rounds: tuple[RoundStats, ...]
    in_sync: InSync | None
    requests: int  # during dissemination (rounds_to_all rounds)
    bytes: int
    header_bytes: int
    peak_rss_mb: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view."""
        return {
            "config": asdict(self.config),
            "rounds_to_all": self.rounds_to_all,
            "bound": round(self.bound, 3),
            "within_bound": self.within_bound,
            "requests": self.requests,
            "bytes": self.bytes,
            "header_bytes": self.header_bytes,
            "in_sync": None if self.in_sync is None else asdict(self.in_sync),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "rounds": [asdict(r) for r in self.rounds],
        }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Simulator:
    """N real gossip protocols on one virtual clock, delivered round by round."""

    def __init__(self, config: SimConfig,
                 progress: Callable[[RoundStats], None] | None = None) -> None:
        self.config = config
        self.progress = progress
        self.round = 0
        self.now = T0
        self.rng = random.Random(f"trustnet-sim/{config.seed}")  # drops, publishers
        self.gossip = gossip = config.gossip()
        n = config.nodes
        self.urls = [f"http://n{i}" for i in range(n)]
        self.index = {url: i for i, url in enumerate(self.urls)}
        self.identities: list[Identity] = []
        self.protocols: list[GossipProtocol] = []
        self.ids_hex: list[str] = []
        for i in range(n):
            seed = hashlib.sha256(f"trustnet-sim/{config.seed}/{i}".encode()).digest()
            ident = Identity.from_seed(seed)
            rng = random.Random(f"trustnet-sim/{config.seed}/{i}")
            others = rng.sample(range(n - 1), config.peers)
            peers = [self.urls[j if j < i else j + 1] for j in others]  # anyone but itself
            # recover_own=False: a running network, not nodes whose stores were lost.
            self.protocols.append(GossipProtocol(
                ident.public_key, Store(None), rng, gossip, own_url=self.urls[i], peers=peers,
                now_ms=self.now, recover_own=False,
            ))
            self.identities.append(ident)
            self.ids_hex.append(ident.party_id)
        # Authors the network already agrees on: entries signed here are ingested as
        # `Entry` objects (sign_entry's output needs no second check).
        held = [
            sign_entry(Identity.from_seed(hashlib.sha256(f"trustnet-sim/author/{a}".encode())
                                          .digest()),
                       seq=1, prev=None, ts=self.now, kind="trust",
                       body={"subject": hashlib.sha256(f"sim-held-{a}".encode()).hexdigest(),
                             "level": a % 1000})
            for a in range(config.authors)
        ]
        if held:
            for proto in self.protocols:
                proto.store.ingest(held, self.now)
        self.published: list[Entry] = []
        self._next: deque[tuple[int, Send]] = deque()  # hop mode: sent in reaction, next round
        self._bytes_by_path: dict[str, int] = defaultdict(int)
        self._round_requests = self._round_bytes = self._round_headers = self._round_failures = 0

    # -- driving ---------------------------------------------------------------------

    def publish(self, count: int) -> list[Entry]:
        """`count` distinct random nodes each sign a new entry now and push it (round 0)."""
        queued: list[tuple[int, Send]] = []
        for who in sorted(self.rng.sample(range(self.config.nodes), count)):
            proto = self.protocols[who]
            body = {"subject": hashlib.sha256(f"sim-subject-{who}".encode()).hexdigest(),
                    "level": 500}
            # DESIGN 5: durable first, then gossiped (what Node.publish does).
            entry = proto.store.append_own(self.identities[who], "trust", body, self.now)
            self.published.append(entry)
            queued += [(who, a) for a in proto.handle(LocalEntry(entry), self.now)]
        self._next.extend(queued)
        return self.published[-count:]

    def step(self) -> RoundStats:
        """Run one round: every node ticks, then the round's requests are delivered."""
        self.now = T0 + self.round * self.config.tick_ms
        queue = self._next
        self._next = deque()
        for i, proto in enumerate(self.protocols):
            queue.extend((i, a) for a in proto.handle(Tick(), self.now))
        reactions = queue if self.config.mode == "drain" else self._next
        self._round_requests = self._round_bytes = self._round_headers = self._round_failures = 0
        budget = _DELIVERIES_PER_NODE * self.config.nodes
        while queue:
            budget -= 1
            if budget < 0:
                raise SimError(f"round {self.round} does not go quiet", code="not_quiet")
            src, send = queue.popleft()
            reactions.extend(self._deliver(src, send))
        stats = RoundStats(self.round, self.holders(), self._round_requests, self._round_bytes,
                           self._round_headers, self._round_failures, len(self._next))
        self.round += 1
        if self.progress is not None:
            self.progress(stats)
        return stats

    def _deliver(self, src: int, send: Send) -> list[tuple[int, Send]]:
        """One request and its reply; returns the requests both sides make in reaction."""
        cfg = self.gossip
        sender = self.protocols[src]
        now = self.now
        body = m.encode(send.message, cfg.max_message_bytes)
        self._count(send.path, len(body), request=True)
        dst = self.index.get(send.peer_url)
        if dst is None or (self.config.drop_rate and self.rng.random() < self.config.drop_rate):
            return self._fail(src, send, "unreachable" if dst is None else "dropped")
        code, reply, actions = self._serve(dst, self.urls[src], self.ids_hex[src], send.path, body)
        out = [(dst, a) for a in actions]
        if code is not None:
            return out + self._fail(src, send, code)
        self._count(send.path, len(reply), request=False)
        event: Event
        try:
            event = Response(send.request_id, send.peer_url,
                             m.decode_reply(send.path, reply, cfg.max_message_bytes))
        except m.MessageError as exc:
            event = RequestFailed(send.request_id, send.peer_url, exc.code)
        return out + [(src, a) for a in sender.handle(event, now)]

    def _serve(self, dst: int, remote: str, node: str, path: str,
               body: bytes) -> tuple[str | None, bytes, list[Send]]:
        """The receiving node's checks and answer (`Node.handle_gossip` minus the signature):
        (refusal code or None, reply body, requests it makes)."""
        proto = self.protocols[dst]
        peers = proto.peers
        now = self.now
        if peers.is_ignored(remote, now) or peers.is_ignored(node, now):
            return "graylisted", b"", []
        if len(body) > proto.config.max_message_bytes:
            peers.penalize(remote, "too_large", now, kind="url", detail=f"{len(body)} bytes")
            return "too_large", b"", []
        if not peers.allow(node, path, now, kind="node"):
            return "rate_limited", b"", []
        try:
            message = m.decode_request(path, body, proto.config.max_message_bytes)
            reply, actions = proto.on_request(node, path, message, now)
            data = m.encode(reply, proto.config.max_message_bytes)
        except m.MessageError as exc:
            peers.penalize(node, exc.code, now, kind="node", detail=exc.message[:200])
            return exc.code, b"", []
        return None, data, actions

    def _fail(self, src: int, send: Send, code: str) -> list[tuple[int, Send]]:
        self._round_failures += 1
        event = RequestFailed(send.request_id, send.peer_url, code)
        return [(src, a) for a in self.protocols[src].handle(event, self.now)]

    def _count(self, path: str, body: int, *, request: bool) -> None:
        if request:
            self._round_requests += 1
            self._round_headers += AUTH_HEADER_BYTES
        self._round_bytes += body
        self._bytes_by_path[path] += body

    # -- observing -------------------------------------------------------------------

    def holders(self) -> int:
        """Nodes holding every published entry (a head lookup per author: no SQL)."""
        wanted = [(e.author, e.seq) for e in self.published]
        count = 0
        for proto in self.protocols:
            store = proto.store
            for author, seq in wanted:
                head = store.head(author)
                if head is None or head.seq < seq:
                    break
            else:
                count += 1
        return count

    def quiet(self) -> bool:
        """Nothing deferred and every node's anti-entropy digest equal."""
        if self._next:
            return False
        first = self.protocols[0].digest()
        return all(p.digest() == first for p in self.protocols)

    def run(self) -> SimResult:
        """Publish, run until every node holds the entries, settle, measure in-sync cost."""
        cfg = self.config
        self.publish(cfg.publishers)
        rounds: list[RoundStats] = []
        done: int | None = None
        while self.round < cfg.max_rounds:
            stats = self.step()
            rounds.append(stats)
            if stats.holders == cfg.nodes:
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
        upto = rounds[: done if done is not None else len(rounds)]
        return SimResult(
            config=cfg,
            rounds_to_all=done,
            bound=cfg.bound,
            within_bound=done is not None and done <= cfg.bound,
            rounds=tuple(rounds),
            in_sync=in_sync,
            requests=sum(r.requests for r in upto),
            bytes=sum(r.bytes for r in upto),
            header_bytes=sum(r.header_bytes for r in upto),
            peak_rss_mb=peak_rss_mb(),
        )

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


# -- command line ------------------------------------------------------------------------


def _table(result: SimResult) -> str:
    cfg = result.config
    lines = [
        f"nodes {cfg.nodes}, {cfg.peers} peers each, fanout {cfg.fanout}, mode {cfg.mode}, "
        f"{cfg.publishers} publisher(s), {cfg.authors} authors held, "
        f"drop rate {cfg.drop_rate}, seed {cfg.seed}",
        "",
        f"{'round':>5} {'holders':>9} {'requests':>9} {'bytes':>12} {'headers':>11} "
        f"{'failed':>7} {'deferred':>8}",
    ]
    for r in result.rounds:
        lines.append(f"{r.round:>5} {r.holders:>9} {r.requests:>9} {r.bytes:>12} "
                     f"{r.header_bytes:>11} {r.failures:>7} {r.deferred:>8}")
    lines.append("")
    if result.rounds_to_all is None:
        lines.append(f"NOT disseminated within {cfg.max_rounds} rounds")
    else:
        verdict = "within" if result.within_bound else "OVER"
        lines.append(f"rounds to full dissemination  {result.rounds_to_all} ({verdict} "
                     f"log3(N)+3 = {result.bound:.2f})")
    lines.append(f"messages / bytes until then   {result.requests} requests, {result.bytes} "
                 f"body bytes + {result.header_bytes} header bytes")
    s = result.in_sync
    if s is not None:
        lines.append(f"in sync, per node per round   {s.requests_per_node_round:.2f} requests, "
                     f"{s.bytes_per_node_round:.1f} body bytes "
                     f"({s.wire_bytes_per_node_round:.1f} with headers); anti-entropy digest "
                     f"alone {s.digest_bytes_per_node_round:.1f} B; mismatches {s.mismatches}")
    lines.append(f"peak RSS                      {result.peak_rss_mb:.0f} MiB")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The `trustnet sim` argument parser."""
    p = argparse.ArgumentParser(prog="trustnet sim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--peers", type=int, default=8, help="initial random peers per node")
    p.add_argument("--fanout", type=int, default=3)
    p.add_argument("--rounds", type=int, default=100, help="most rounds for dissemination")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--publishers", type=int, default=1,
                   help="nodes that each publish one new entry at round 0")
    p.add_argument("--authors", type=int, default=0,
                   help="authors (one entry each) every node holds at the start")
    p.add_argument("--drop-rate", type=float, default=0.0)
    p.add_argument("--mode", choices=MODES, default="hop",
                   help="hop: one hop per round; drain: deliver until quiet each round")
    p.add_argument("--in-sync-rounds", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`trustnet sim ...`: 0 when every node got every entry, 1 when not, 2 on bad options."""
    args = parser().parse_args(argv)
    try:
        config = SimConfig(nodes=args.nodes, peers=args.peers, fanout=args.fanout,
                           max_rounds=args.rounds, seed=args.seed, publishers=args.publishers,
                           authors=args.authors,
                           drop_rate=args.drop_rate, mode=args.mode,
                           in_sync_rounds=args.in_sync_rounds)
    except ConfigError as exc:
        print(f"trustnet sim: {exc}", file=sys.stderr)
        return 2
    print(f"building {config.nodes} nodes...", file=sys.stderr)

    def progress(r: RoundStats) -> None:
        print(f"round {r.round}: {r.holders}/{config.nodes} hold it, {r.requests} requests, "
              f"{r.bytes} bytes", file=sys.stderr)

    result = simulate(config, progress)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(_table(result))
    return 0 if result.rounds_to_all is not None else 1


if __name__ == "__main__":
    sys.exit(main())
