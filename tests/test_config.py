"""node.toml: the example documents every setting, and every setting it documents loads."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from trustnet.api import HttpSettings
from trustnet.config import NodeConfig
from trustnet.errors import ConfigError
from trustnet.feedback.estimator import SuspicionParams
from trustnet.feedback.signals import HostilityWeights
from trustnet.protocol.gossip import GossipConfig
from trustnet.protocol.peers import PeerPolicy
from trustnet.statements import RuleWeights, ViennaFigures
from trustnet.trust.beliefs import TrustParams
from trustnet.trust.bridges import PeopleParams
from trustnet.views import Settings

EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "node.example.toml"


def test_the_example_config_loads_with_the_defaults():
    data = tomllib.loads(EXAMPLE.read_text())
    config = NodeConfig.from_mapping(data)
    assert ViennaFigures.from_mapping(config.section("rules")) == ViennaFigures()
    assert RuleWeights.from_mapping(config.section("weights")) == RuleWeights()


def test_the_example_documents_every_setting_with_its_default():
    data = tomllib.loads(EXAMPLE.read_text())
    config = NodeConfig.from_mapping(data)
    assert set(data["rules"]) == set(ViennaFigures.__dataclass_fields__)
    assert set(data["weights"]) == set(RuleWeights.__dataclass_fields__)
    assert set(data["trust"]) == set(TrustParams.__dataclass_fields__)
    hostility = data["suspicion"].pop("hostility")
    assert set(hostility) == set(HostilityWeights.__dataclass_fields__)
    optional = {"other_reactivity", "other_restraint"}  # documented, commented out: None
    assert set(data["suspicion"]) | optional == set(SuspicionParams.__dataclass_fields__)
    assert set(data["http"]) == set(HttpSettings.__dataclass_fields__)
    assert HttpSettings.from_mapping(data["http"]) == HttpSettings()
    gossip = {f for f in GossipConfig.__dataclass_fields__ if f != "policy"}
    policy = {f for f in PeerPolicy.__dataclass_fields__ if f not in ("rates", "penalties")}
    assert set(data["gossip"]) == gossip | policy | {"ca_file"}  # ca_file: the transport's
    # ... and each at its default
    gossip_table = config.section("gossip")
    assert gossip_table.pop("ca_file") == ""
    assert GossipConfig.from_mapping(gossip_table) == GossipConfig()
    assert TrustParams.from_mapping(config.section("trust")) == TrustParams()
    assert SuspicionParams.from_mapping(data["suspicion"]) == SuspicionParams()
    assert HostilityWeights.from_mapping(hostility) == HostilityWeights()
    assert set(data["people"]) == set(PeopleParams.__dataclass_fields__)
    assert PeopleParams.from_mapping(data["people"]) == PeopleParams()
    Settings.from_config(config)  # what the daemon validates at start


@pytest.mark.parametrize(
    "data",
    [{"nme": "typo"}, {"listen": "7400"}, {"peers": ["ftp://x"]}, {"anchors": ["nope"]},
     {"log_format": "xml"}, {"gossip": 3}],
)
def test_bad_settings_are_named(data):
    with pytest.raises(ConfigError):
        NodeConfig.from_mapping(data)


def test_to_toml_round_trips():
    config = NodeConfig(name='a "quoted" name', listen="127.0.0.1:0", peers=("http://x:1",),
                        sections={"rules": {"notify_days": 30}})
    assert NodeConfig.from_mapping(tomllib.loads(config.to_toml())) == config
