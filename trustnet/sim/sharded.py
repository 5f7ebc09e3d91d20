"""The sharded engines: the coordinator of `trustnet sim --engine sharded|ray`.

The simulated nodes are split over K shards (`trustnet.sim.shard.Shard`: the round model
is described there). This coordinator draws churn, drives the three phases of each
exchange, adds up what the shards counted and builds the same `SimResult` as the
one-process engine (`trustnet.sim.engine`). Where the shards live is a `Cluster`:
`LocalCluster` holds them in this process (`--engine sharded`, K = `--workers`), the Ray
cluster (`trustnet.sim.ray_engine`) holds each in a Ray actor, on this machine or many.
Batches go from shard to shard, one per shard pair and phase; the coordinator only sees
the counters.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from trustnet.protocol import messages as m
from trustnet.sim.config import SimConfig
from trustnet.sim.engine import SimError
from trustnet.sim.result import (
    Graylisting,
    InSync,
    RoundStats,
    SimResult,
    graylisting_of,
    sim_result,
)
from trustnet.sim.shard import Shard, ShardStats, byzantine_nodes, index_of

_EXCHANGES_PER_ROUND = 256  # drain mode: exchanges in one round before it is not quiet


class Cluster(Protocol):
    """Where the shards live: `call` runs one method on every shard (results in shard
    order); `exchange` runs the three phases of an exchange, shard to shard."""

    workers: int

    def call(self, method: str, *args: Any) -> list[Any]:
        """`method(*args)` on every shard."""
        ...

    def exchange(self, round_no: int, tick: bool, down: Sequence[int],
                 up: Sequence[int]) -> list[ShardStats]:
        """send_phase, then serve_phase and reply_phase with the batches between shards."""
        ...

    def close(self) -> None:
        """Release the shards."""
        ...


class LocalCluster:
    """K shards in this process (the sharded engine without Ray; tests compare K values)."""

    def __init__(self, config: SimConfig, workers: int) -> None:
        self.workers = workers
        self.shards = [Shard(config, k, workers) for k in range(workers)]

    def call(self, method: str, *args: Any) -> list[Any]:
        return [getattr(s, method)(*args) for s in self.shards]

    def exchange(self, round_no: int, tick: bool, down: Sequence[int],
                 up: Sequence[int]) -> list[ShardStats]:
        k = range(self.workers)
        out = [s.send_phase(round_no, tick, down, up) for s in self.shards]
        back = [s.serve_phase(*[out[j][i] for j in k]) for i, s in enumerate(self.shards)]
        return [s.reply_phase(*[back[j][i] for j in k]) for i, s in enumerate(self.shards)]

    def close(self) -> None:
        self.shards = []


class ShardedSimulator:
    """The run of a sharded simulation: publish, rounds until all hold it, settle, in sync."""

    def __init__(self, config: SimConfig, cluster: Cluster,
                 progress: Callable[[RoundStats], None] | None = None) -> None:
        self.config = config
        self.cluster = cluster
        self.progress = progress
        self.round = 0
        self.churn_rng = random.Random(f"trustnet-sim/{config.seed}/churn")
        self.behaviour = byzantine_nodes(config)
        self.offline = bytearray(config.nodes)
        self._returns: dict[int, list[int]] = defaultdict(list)
        self._deferred = 0
        self.worker_peak_rss_mb: list[float] = []  # per shard's process, at the end

    def _churn(self) -> tuple[list[int], list[int]]:
        """As the one-process engine: nodes due back return, then a share of the online go."""
        cfg = self.config
        up = self._returns.pop(self.round, [])
        for i in up:
            self.offline[i] = 0
        online = [i for i in range(cfg.nodes) if not self.offline[i]]
        p = 1.0 / cfg.downtime
        down = sorted(self.churn_rng.sample(online, round(cfg.churn * len(online))))
        for i in down:
            self.offline[i] = 1
            u = 1.0 - self.churn_rng.random()
            away = 1 if p >= 1.0 else 1 + int(math.log(u) / math.log(1.0 - p))
            self._returns[self.round + away].append(i)
        return down, up

    def step(self) -> RoundStats:
        """One round: churn; the requests deferred since the last round; every online node
        ticks (drain mode: deferred requests exchanged until none is left, after each)."""
        cfg = self.config
        churn = self._churn() if cfg.churn else ([], [])
        totals = [0, 0, 0, 0]
        exchanges = 0

        def exchange(tick: bool) -> None:
            nonlocal churn, exchanges
            exchanges += 1
            if exchanges > _EXCHANGES_PER_ROUND:
                raise SimError(f"round {self.round} does not go quiet", code="not_quiet")
            stats = self.cluster.exchange(self.round, tick, *churn)
            churn = ([], [])
            for s in stats:
                totals[0] += s.requests
                totals[1] += s.bytes
                totals[2] += s.header_bytes
                totals[3] += s.failures
            self._deferred = sum(s.deferred for s in stats)

        def deferred() -> None:
            while self._deferred:
                exchange(False)
                if cfg.mode == "hop":
                    break

        deferred()
        exchange(True)
        if cfg.mode == "drain":
            deferred()
        ends: list[ShardStats] = self.cluster.call("end_round")
        stats_out = RoundStats(self.round, sum(e.holders for e in ends), totals[0], totals[1],
                               totals[2], totals[3], self._deferred,
                               sum(e.online for e in ends), sum(e.missing_online for e in ends))
        self.round += 1
        if self.progress is not None:
            self.progress(stats_out)
        return stats_out

    def quiet(self) -> bool:
        """Nothing deferred and every honest node's anti-entropy digest equal."""
        if self._deferred:
            return False
        digests: set[bytes] = set()
        for part in self.cluster.call("digests"):
            digests |= part
        return len(digests) <= 1

    def graylisting(self) -> Graylisting:
        """As the one-process engine: per byzantine node, the honest nodes graylisting it."""
        pairs = [p for part in self.cluster.call("graylisted") for p in part]
        hexes = sorted({key for _, key in pairs if index_of(key) is None})
        ids: dict[str, int] = {}
        for part in self.cluster.call("resolve", hexes):
            ids.update(part)
        by: dict[int, set[int]] = {i: set() for i in self.behaviour}
        honest_pairs: set[tuple[int, int]] = set()
        for i, key in pairs:
            j = index_of(key)
            if j is None:
                j = ids.get(key)
            if j is None:
                continue
            if j in by:
                by[j].add(i)
            else:
                honest_pairs.add((i, j))
        return graylisting_of(by, self.behaviour, len(honest_pairs),
                              sum(self.cluster.call("decisions")))

    def run(self) -> SimResult:
        """Publish, run until every honest node holds the entries, settle, measure in sync."""
        cfg = self.config
        wanted = [w for part in self.cluster.call("publish") for w in part]
        self.cluster.call("set_wanted", sorted(wanted))
        self._deferred = sum(self.cluster.call("pending"))  # the publishers' pushes
        rounds: list[RoundStats] = []
        done: int | None = None
        while self.round < cfg.max_rounds:
            stats = self.step()
            rounds.append(stats)
            if stats.holders == cfg.honest:
                done = self.round
                break
        in_sync: InSync | None = None
        if done is not None:
            settle = 0
            while not self.quiet() and settle < cfg.settle_rounds:
                rounds.append(self.step())
                settle += 1
            if self.quiet():
                in_sync = self._measure_in_sync(rounds)
        last = rounds[-1]
        self.worker_peak_rss_mb = [round(x, 1) for x in self.cluster.call("peak_rss")]
        return sim_result(cfg, rounds, done, in_sync, online=cfg.nodes - sum(self.offline),
                          reached_online=self._reached_online(last),
                          graylisting=self.graylisting())

    def _reached_online(self, last: RoundStats) -> int:
        honest_online = sum(1 for i in range(self.config.nodes)
                            if not self.offline[i] and i not in self.behaviour)
        return honest_online - last.missing_online

    def _measure_in_sync(self, rounds: list[RoundStats]) -> InSync:
        cfg = self.config
        mismatches = sum(self.cluster.call("mismatches"))
        self.cluster.call("take_bytes_by_path")
        measured = []
        for _ in range(cfg.in_sync_rounds):
            stats = self.step()
            rounds.append(stats)
            measured.append(stats)
        by_path: dict[str, int] = defaultdict(int)
        for part in self.cluster.call("take_bytes_by_path"):
            for path, size in part.items():
                by_path[path] += size
        node_rounds = cfg.nodes * cfg.in_sync_rounds
        body = sum(r.bytes for r in measured)
        headers = sum(r.header_bytes for r in measured)
        return InSync(
            rounds=cfg.in_sync_rounds,
            requests_per_node_round=sum(r.requests for r in measured) / node_rounds,
            bytes_per_node_round=body / node_rounds,
            wire_bytes_per_node_round=(body + headers) / node_rounds,
            digest_bytes_per_node_round=by_path.get(m.DIGEST, 0) / node_rounds,
            mismatches=sum(self.cluster.call("mismatches")) - mismatches,
            bytes_by_path=dict(sorted(by_path.items())),
        )


def simulate_sharded(config: SimConfig, cluster: Cluster,
                     progress: Callable[[RoundStats], None] | None = None) -> SimResult:
    """Run `config` on the shards of `cluster` (closed afterwards)."""
    try:
        return ShardedSimulator(config, cluster, progress).run()
    finally:
        cluster.close()
