"""What a simulation reports: per-round traffic, the in-sync cost, graylisting of byzantine
nodes, and the whole run (`SimResult`, with its `--json` shape)."""

from __future__ import annotations

import resource
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from trustnet.sim.config import BEHAVIOURS, SimConfig


@dataclass(frozen=True, slots=True)
class RoundStats:
    """Traffic of one round and who holds the new entries at its end."""

    round: int
    holders: int  # honest nodes (online or not) holding every published entry
    requests: int
    bytes: int  # request and reply bodies
    header_bytes: int
    failures: int  # dropped, unreachable or refused requests
    deferred: int  # requests left for the next round (hop mode)
    online: int  # nodes online during the round
    missing_online: int  # honest online nodes lacking an entry (churn: the rest are away)


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
class Graylisting:
    """Who graylists whom at the end of the run (URL or node-id record, cool-down running)."""

    byzantine: int  # byzantine nodes
    graylisted: int  # byzantine nodes graylisted by at least one honest node
    by_min: int  # honest nodes graylisting a byzantine node: least, median, mean, most
    by_median: float
    by_mean: float
    by_max: int
    by_behaviour: dict[str, dict[str, float]]  # behaviour -> nodes, graylisted, by_mean
    honest_pairs: int  # (honest, honest) graylistings: false positives of the scoring
    decisions: int  # graylisting decisions honest nodes took during the run


@dataclass(frozen=True, slots=True)
class SimResult:
    """What a run measured."""

    config: SimConfig
    rounds_to_all: int | None  # None: not every honest node held every entry in max_rounds
    bound: float
    within_bound: bool
    rounds: tuple[RoundStats, ...]
    in_sync: InSync | None
    requests: int  # during dissemination (rounds_to_all rounds, or every round run)
    bytes: int
    header_bytes: int
    failures: int
    reached: int  # honest nodes holding every published entry at the end
    online: int  # nodes online at the end
    reached_online: int  # honest nodes online at the end holding every published entry
    graylisting: Graylisting
    peak_rss_mb: float

    @property
    def virtual_seconds(self) -> float | None:
        """Virtual time to full dissemination: rounds times the round interval."""
        if self.rounds_to_all is None:
            return None
        return self.rounds_to_all * self.config.round_interval_s

    @property
    def rounds_online(self) -> int | None:
        """Rounds until every honest node then online held every entry (churn: the nodes
        away still lack it; without churn, `rounds_to_all`)."""
        upto = self.rounds if self.rounds_to_all is None else self.rounds[: self.rounds_to_all]
        return next((r.round + 1 for r in upto if r.missing_online == 0), None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly view: the headline figures first, the per-round table last."""
        cfg = self.config
        honest = cfg.honest
        return {
            "nodes": cfg.nodes,
            "honest": honest,
            "byzantine": cfg.byzantine_count,
            "rounds": self.rounds_to_all,  # rounds until every honest node held the entries
            "rounds_to_all": self.rounds_to_all,
            "rounds_online": self.rounds_online,
            "bound": round(self.bound, 3),
            "ratio": None if self.rounds_to_all is None else round(self.rounds_to_all / self.bound, 3),
            "within_bound": self.within_bound,
            "reached": self.reached,
            "reached_fraction": round(self.reached / honest, 4),
            "online": self.online,
            "reached_online": self.reached_online,
            "round_interval_s": cfg.round_interval_s,
            "virtual_seconds": self.virtual_seconds,
            "messages": self.requests,
            "messages_per_node": round(self.requests / cfg.nodes, 3),
            "bytes_per_node": round(self.bytes / cfg.nodes, 1),
            "wire_bytes_per_node": round((self.bytes + self.header_bytes) / cfg.nodes, 1),
            "requests": self.requests,
            "bytes": self.bytes,
            "header_bytes": self.header_bytes,
            "failures": self.failures,
            "graylisting": asdict(self.graylisting),
            "in_sync": None if self.in_sync is None else asdict(self.in_sync),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "config": asdict(cfg),
            "per_round": [asdict(r) for r in self.rounds],
        }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024



def graylisting_of(by: Mapping[int, set[int]], behaviour: Sequence[str | None] | Mapping[int, str],
                   honest_pairs: int, decisions: int) -> Graylisting:
    """`Graylisting` from, per byzantine node, the honest nodes graylisting it (`by`) and each
    node's behaviour (both engines count it so)."""
    counts = [len(s) for s in by.values()]
    by_behaviour: dict[str, dict[str, float]] = {}
    for b in BEHAVIOURS:
        mine = [len(s) for j, s in by.items() if behaviour[j] == b]
        if mine:
            by_behaviour[b] = {"nodes": len(mine), "graylisted": sum(1 for c in mine if c),
                               "by_mean": round(statistics.fmean(mine), 2)}
    return Graylisting(
        byzantine=len(counts),
        graylisted=sum(1 for c in counts if c),
        by_min=min(counts, default=0),
        by_median=float(statistics.median(counts)) if counts else 0.0,
        by_mean=round(statistics.fmean(counts), 2) if counts else 0.0,
        by_max=max(counts, default=0),
        by_behaviour=by_behaviour,
        honest_pairs=honest_pairs,
        decisions=decisions,
    )


def sim_result(config: SimConfig, rounds: list[RoundStats], done: int | None,
               in_sync: InSync | None, *, online: int, reached_online: int,
               graylisting: Graylisting) -> SimResult:
    """A run's `SimResult` (both engines): traffic counted up to full dissemination, holders
    from the last round (they only grow: stores are never emptied)."""
    upto = rounds[: done if done is not None else len(rounds)]
    return SimResult(
        config=config,
        rounds_to_all=done,
        bound=config.bound,
        within_bound=done is not None and done <= config.bound,
        rounds=tuple(rounds),
        in_sync=in_sync,
        requests=sum(r.requests for r in upto),
        bytes=sum(r.bytes for r in upto),
        header_bytes=sum(r.header_bytes for r in upto),
        failures=sum(r.failures for r in upto),
        reached=rounds[-1].holders,
        online=online,
        reached_online=reached_online,
        graylisting=graylisting,
        peak_rss_mb=peak_rss_mb(),
    )
