"""A node's settings: node.toml turned into frozen typed records, once, at start.

Each table is the record of the component that owns it, loaded by the one loader
(trustnet.config.loader.load_table), so a bad value fails the start with the table and key
named (`[gossip] fanout: expected an integer >= 1`, code `bad_config`). Adding a table
is a few declarative lines: its name in `config.SECTIONS`, a field here, and a line in
`load_settings`; the record itself declares its types and `BOUNDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trustnet.api.settings import HttpSettings
from trustnet.config.loader import NodeConfig, load_table
from trustnet.errors import ConfigError
from trustnet.feedback.estimator import SuspicionParams
from trustnet.feedback.signals import HostilityWeights
from trustnet.node.witness import WitnessConfig
from trustnet.protocol.config import GossipConfig
from trustnet.statements.figures import ViennaFigures
from trustnet.statements.weights import RuleWeights
from trustnet.store.workers import IngestSettings
from trustnet.trust.beliefs.params import TrustParams
from trustnet.trust.bridges import PeopleParams


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """Every table of one node.toml, typed."""

    node: NodeConfig  # the top-level table: name, listen, peers, anchors, logging
    http: HttpSettings
    gossip: GossipConfig
    ca_file: str  # `[gossip] ca_file`: how the transport verifies https:// peers ("": system)
    rules: ViennaFigures
    weights: RuleWeights
    trust: TrustParams
    suspicion: SuspicionParams
    hostility: HostilityWeights  # `[suspicion.hostility]`
    people: PeopleParams  # `[people]`: contacts and clarifications (issue 17)
    witness: WitnessConfig  # receipts asked and served (docs/witnesses.md)
    ingest: IngestSettings  # worker processes checking incoming entries (issue 15)


def load_settings(config: NodeConfig) -> NodeSettings:
    """Load and check every table of `config` (ConfigError naming the first bad key)."""
    gossip = dict(config.section("gossip"))
    ca_file = gossip.pop("ca_file", "")  # the transport's, not the protocol's
    if not isinstance(ca_file, str):
        raise ConfigError(f"[gossip] ca_file: expected a path (a string), got {ca_file!r}")
    suspicion = dict(config.section("suspicion"))
    hostility: Mapping[str, Any] = suspicion.pop("hostility", {})
    return NodeSettings(
        node=config,
        http=load_table(HttpSettings, config.section("http"), "http"),
        gossip=load_table(GossipConfig, gossip, "gossip"),
        ca_file=ca_file,
        rules=load_table(ViennaFigures, config.section("rules"), "rules"),
        weights=load_table(RuleWeights, config.section("weights"), "weights"),
        trust=load_table(TrustParams, config.section("trust"), "trust"),
        suspicion=load_table(SuspicionParams, suspicion, "suspicion"),
        hostility=load_table(HostilityWeights, hostility, "suspicion.hostility"),
        people=load_table(PeopleParams, config.section("people"), "people"),
        witness=load_table(WitnessConfig, config.section("witness"), "witness"),
        ingest=load_table(IngestSettings, config.section("ingest"), "ingest"),
    )
