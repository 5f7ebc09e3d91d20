"""Node directories and the demo story, as the tests make them.

`init_node` is `trustnet init DIR --listen 127.0.0.1:0` without the CLI (the config
layer's `init_node_dir`); `demo_daemon` is a daemon whose store holds the whole demo
scenario, ending today (the one setup of test_views, test_dashboard and test_openapi).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustnet.clock import SystemClock
from trustnet.config.nodedir import init_node_dir
from trustnet.identity import KEY_FILE, Identity
from trustnet.node.daemon import Daemon
from trustnet.protocol.config import GossipConfig
from trustnet.testbed.loader import load_scenario
from trustnet.testbed.player import PartyRef, origin_for, play

SCENARIOS = Path(__file__).resolve().parents[2] / "configs" / "scenarios"
LOOPBACK = "127.0.0.1:0"  # a free port
MANUAL = GossipConfig(tick_interval_s=None)  # the test ticks the node itself


def init_node(base: Path, name: str, *, listen: str = LOOPBACK, peers: Sequence[str] = (),
              sections: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """A new node directory `base/name` (named `name`), on a free loopback port by default."""
    return init_node_dir(base / name, name=name, listen=listen, peers=peers,
                         sections=sections).dir


@dataclass(frozen=True, slots=True)
class DemoNode:
    """A daemon (not started) holding the demo story; the parties' identities; its origin."""

    daemon: Daemon
    ids: dict[str, Identity]
    origin: int


def demo_daemon(base: Path, name: str = "north-1", *, gossip: GossipConfig = MANUAL,
                sections: Mapping[str, Mapping[str, Any]] | None = None,
                scenario_file: str = "demo.toml") -> DemoNode:
    """`name`'s daemon, its store holding every party's chain of a scenario (the demo by
    default; ending today unless the file fixes its origin); `name` is one of the scenario's
    parties and signs with its node's own key."""
    node_dir = init_node(base, name, sections=sections)
    scenario = load_scenario(SCENARIOS / scenario_file)
    ids = {p: Identity.from_seed(i.to_bytes(32, "big")) for i, p in enumerate(scenario.parties, 1)}
    ids[name] = Identity.load(node_dir / KEY_FILE)
    daemon = Daemon(node_dir, gossip=gossip)

    def publisher(party: str) -> Any:
        def publish(kind: str, body: dict[str, Any], ts: int) -> dict[str, Any]:
            e = daemon.store.append_own(ids[party], kind, body, ts)
            return {"id": e.id_hex, "seq": e.seq}
        return publish

    refs = {p: PartyRef(ids[p].party_id, "http://x.invalid:1", publisher(p)) for p in scenario.parties}
    origin = origin_for(scenario, SystemClock().now_ms())
    play(scenario, refs, origin)
    return DemoNode(daemon, ids, origin)
