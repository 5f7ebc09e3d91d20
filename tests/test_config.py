"""node.toml: the example documents every setting, and every setting it documents loads."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from trustnet.analysis.views import Settings
from trustnet.api.settings import HttpSettings
from trustnet.config.loader import SECTIONS, NodeConfig
from trustnet.errors import ConfigError
from trustnet.feedback.estimator import SuspicionParams
from trustnet.feedback.signals import HostilityWeights
from trustnet.node.settings import NodeSettings, load_settings
from trustnet.node.witness import WitnessConfig
from trustnet.protocol.config import GossipConfig
from trustnet.protocol.peers import PeerPolicy
from trustnet.statements import RuleWeights, ViennaFigures
from trustnet.store.workers import IngestSettings
from trustnet.trust.beliefs import TrustParams
from trustnet.trust.bridges import PeopleParams


def names(record: type) -> set[str]:
    """The settings of a record (its fields; not its BOUNDS and other class constants)."""
    return {f.name for f in dataclasses.fields(record)}


EXAMPLE = Path(__file__).resolve().parent.parent / "configs" / "node.example.toml"


def test_the_example_config_loads_with_the_defaults():
    data = tomllib.loads(EXAMPLE.read_text())
    config = NodeConfig.from_mapping(data)
    assert ViennaFigures.from_mapping(config.section("rules")) == ViennaFigures()
    assert RuleWeights.from_mapping(config.section("weights")) == RuleWeights()


def test_the_example_documents_every_setting_with_its_default():
    data = tomllib.loads(EXAMPLE.read_text())
    config = NodeConfig.from_mapping(data)
    assert set(data["rules"]) == set(names(ViennaFigures))
    assert set(data["weights"]) == set(names(RuleWeights))
    assert set(data["trust"]) == set(names(TrustParams))
    hostility = data["suspicion"].pop("hostility")
    assert set(hostility) == set(names(HostilityWeights))
    optional = {"other_reactivity", "other_restraint"}  # documented, commented out: None
    assert set(data["suspicion"]) | optional == set(names(SuspicionParams))
    assert set(data["http"]) == set(names(HttpSettings))
    assert HttpSettings.from_mapping(data["http"]) == HttpSettings()
    gossip = {f for f in names(GossipConfig) if f != "policy"}
    policy = {f for f in names(PeerPolicy) if f not in ("rates", "penalties")}
    assert set(data["gossip"]) == gossip | policy | {"ca_file"}  # ca_file: the transport's
    assert set(data["witness"]) == set(names(WitnessConfig))
    # ... and each at its default: what the daemon loads at start
    assert load_settings(config) == NodeSettings(
        config, HttpSettings(), GossipConfig(), "", ViennaFigures(), RuleWeights(), TrustParams(),
        SuspicionParams(), HostilityWeights(), PeopleParams(), WitnessConfig(), IngestSettings())
    assert set(data["people"]) == names(PeopleParams)
    assert set(data["ingest"]) == names(IngestSettings)
    Settings.from_config(config)  # the views' part of it


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


@pytest.mark.parametrize(("table", "value", "message"), [
    ("gossip", {"fanout": 0}, "[gossip] fanout: expected an integer >= 1, got 0"),
    ("gossip", {"fanout": True}, "[gossip] fanout: expected an integer >= 1, got True"),
    ("gossip", {"ca_file": 1}, "[gossip] ca_file: expected a path (a string), got 1"),
    ("http", {"read_token": "yes"}, "[http] read_token: expected true or false, got 'yes'"),
    ("http", {"cors_origins": "*"}, "[http] cors_origins: expected a list of strings, got '*'"),
    ("http", {"rate_per_s": -1}, "[http] rate_per_s: expected a number >= 0, got -1"),
    ("rules", {"notify_days": -1}, "[rules] notify_days: expected an integer >= 0, got -1"),
    ("weights", {"equivocation": "x"}, "[weights] equivocation: expected a number, got 'x'"),
    ("trust", {"quorum": 1.5}, "[trust] quorum: expected an integer >= 0, got 1.5"),
    ("suspicion", {"history_len": "9"}, "[suspicion] history_len: expected an integer, got '9'"),
    ("suspicion", {"hostility": {"refutation": -1}},
     "hostility.refutation: must be >= 0, got -1.0"),  # the record's own check
    ("suspicion", {"hostility": 3}, "[suspicion.hostility] must be a table, got 3"),
    ("trust", {"nope": 1}, "[trust] nope: unknown setting (known: a, backdate_tolerance_s,"),
])
def test_one_loader_names_the_table_and_key(table: str, value: dict[str, object],
                                            message: str) -> None:
    config = NodeConfig.from_mapping({table: value})
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert info.value.code == "bad_config"
    assert info.value.message.startswith(message), info.value.message


def test_every_table_of_node_toml_has_a_typed_record() -> None:
    typed = {f.name for f in dataclasses.fields(NodeSettings)} - {"node", "ca_file", "hostility"}
    assert typed == set(SECTIONS)


@pytest.mark.parametrize(("table", "message"), [
    ({"witnesses": ["nope"]}, "[witness] witnesses: 'nope' is not a party id"),
    ({"witnesses": ["ab" * 32], "receipts_needed": 2},
     "[witness] receipts_needed: expected between 0 and the number of witnesses (1), got 2"),
    ({"urls": {"ab" * 32: "ftp://x"}}, "[witness] urls: abababababababab…: 'ftp://x' is not"),
    ({"urls": ["x"]}, "[witness] urls: expected a table of strings, got ['x']"),
    ({"serve": 1}, "[witness] serve: expected true or false, got 1"),
    ({"fanout": 0}, "[witness] fanout: expected an integer >= 1, got 0"),
    ({"witnesss": []}, "[witness] witnesss: unknown setting (known: ask_for_ms,"),
    ({"witnesses": ["ab" * 32, "ab" * 32]}, "[witness] witnesses: expected at most"),
])
def test_bad_witness_settings_are_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(NodeConfig.from_mapping({"witness": table}))
    assert info.value.code == "bad_config"
    assert info.value.message.startswith(message), info.value.message


def test_witness_urls_load_from_toml() -> None:
    config = NodeConfig.from_mapping(tomllib.loads(
        f'[witness]\nwitnesses = ["{"ab" * 32}"]\nurls = {{ "{"ab" * 32}" = "http://w:1" }}\n'))
    witness = load_settings(config).witness
    assert witness.witnesses == ("ab" * 32,) and witness.urls == {"ab" * 32: "http://w:1"}
    assert witness.needed == 1
