"""The simulator's settings record (`SimConfig`) and the names of its latency models and
byzantine behaviours; docs/sim.md describes each option."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from trustnet.errors import ConfigError
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.peers import PeerPolicy

Mode = Literal["hop", "drain"]
MODES: tuple[Mode, ...] = ("hop", "drain")
Behaviour = Literal["silent", "forge", "garbage"]
BEHAVIOURS: tuple[Behaviour, ...] = ("silent", "forge", "garbage")
ByzantineMode = Literal["mixed", "silent", "forge", "garbage"]
BYZANTINE_MODES: tuple[ByzantineMode, ...] = ("mixed", "silent", "forge", "garbage")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate."""

    nodes: int = 1000
    peers: int = 8  # random configured peers per node; peer exchange adds more
    fanout: int = 3
    max_rounds: int = 100  # rounds allowed for dissemination
    seed: int = 1
    publishers: int = 1  # honest nodes that each sign one new entry at round 0 (= new authors)
    authors: int = 0  # authors (one entry each) every node already holds at the start
    drop_rate: float = 0.0  # message loss: each request lost with this probability
    mode: Mode = "hop"
    in_sync_rounds: int = 10  # rounds measured once in sync (10: one peer exchange each)
    settle_rounds: int = 20  # rounds allowed, after dissemination, to become quiet
    tick_ms: int = 1000  # the round interval: virtual time per round, the nodes' tick
    churn: float = 0.0  # share of the online nodes that go offline at each round's start
    downtime: float = 5.0  # mean rounds an offline node stays away (geometric, >= 1)
    byzantine: float = 0.0  # share of the nodes that are byzantine
    byzantine_mode: ByzantineMode = "mixed"

    def __post_init__(self) -> None:
        if self.nodes < 2 or not 1 <= self.peers < self.nodes:
            raise ConfigError("sim: nodes >= 2 and 1 <= peers < nodes")
        if not 0.0 <= self.byzantine < 1.0:
            raise ConfigError("sim: 0 <= byzantine < 1")
        if self.byzantine_mode not in BYZANTINE_MODES:
            raise ConfigError(f"sim: byzantine_mode must be one of {', '.join(BYZANTINE_MODES)}")
        if not 1 <= self.publishers <= self.honest or self.authors < 0:
            raise ConfigError("sim: 1 <= publishers <= honest nodes and authors >= 0")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ConfigError("sim: 0 <= loss (drop_rate) < 1")
        if not 0.0 <= self.churn < 1.0 or self.downtime < 1.0:
            raise ConfigError("sim: 0 <= churn < 1 and downtime >= 1 round")
        if self.mode not in MODES:
            raise ConfigError(f"sim: mode must be one of {', '.join(MODES)}")
        if self.fanout < 1 or self.max_rounds < 1 or self.in_sync_rounds < 1 or self.tick_ms < 1:
            raise ConfigError("sim: fanout, rounds, in_sync_rounds and the round interval "
                              "(ms) must be >= 1")

    def gossip(self) -> GossipConfig:
        """The protocol settings every simulated node runs (one object, shared): the defaults
        but the fanout, the tick interval (the round interval) and no reason log in the peer
        tables (display only, for GET /peers: about 700 bytes per record, 50 KB per node)."""
        return GossipConfig(fanout=self.fanout, tick_interval_s=self.tick_ms / 1000,
                            policy=PeerPolicy(reasons_kept=0))

    @property
    def byzantine_count(self) -> int:
        """How many nodes are byzantine."""
        return round(self.byzantine * self.nodes)

    @property
    def honest(self) -> int:
        """How many nodes run the protocol honestly."""
        return self.nodes - self.byzantine_count

    @property
    def round_interval_s(self) -> float:
        """Virtual seconds per round."""
        return self.tick_ms / 1000

    @property
    def bound(self) -> float:
        """DESIGN 11: rounds to full dissemination must be <= log3(N) + 3."""
        return math.log(self.nodes, 3) + 3

