"""GET /graph: parties held as nodes, latest trust and aggregated attestations as edges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import T0
from tests.harness.nodes import init_node
from tests.world import World
from trustnet.analysis.views import NodeViews, Settings, graph_json
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig
from trustnet.log.entry import sign_entry
from trustnet.node.daemon import Daemon
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store

DAY = 86_400_000
ROLES = {"north": "state", "south": "state", "watch": "observer"}


def notification(ts: int) -> dict[str, Any]:
    return {"activity": "storm", "type": "exercise", "start": ts + 50 * DAY, "end": ts + 55 * DAY,
            "area": "range", "troops": 9000, "tanks": 100, "acv": 0, "artillery": 0,
            "amphibious": 0, "sorties": 0, "observers_invited": True}


def build() -> tuple[World, Store, NodeViews, int]:
    """north (the viewer), south and watch, with trust, attestations and a later change."""
    w = World()
    for i, name in enumerate(ROLES):
        w.post(name, "profile", {"name": name, "role": ROLES[name], "urls": []}, T0 + i)
    w.post("north", "trust", {"subject": w.party("south"), "level": 500}, T0 + DAY)
    w.post("north", "trust", {"subject": w.party("watch"), "level": 800}, T0 + DAY)
    w.post("north", "trust", {"subject": w.party("north"), "level": 1000}, T0 + DAY)  # a loop
    w.post("north", "trust", {"subject": "cd" * 32, "level": 300}, T0 + DAY)  # not held here
    n1 = w.post("south", "notification", notification(T0 + 2 * DAY), T0 + 2 * DAY)
    n2 = w.post("south", "notification", notification(T0 + 3 * DAY), T0 + 3 * DAY)
    w.attest("watch", n1, T0 + 4 * DAY)
    w.attest("watch", n2, T0 + 4 * DAY + 1)
    w.attest("north", n2, T0 + 4 * DAY + 2, verdict="refute")
    w.post("watch", "attestation", {"subject": "ef" * 32, "verdict": "confirm", "method": "aerial",
                                    "confidence": 500, "evidence": [], "note": ""}, T0 + 4 * DAY + 3)
    # later, north changes its mind about south: the latest statement is the edge
    w.post("north", "trust", {"subject": w.party("south"), "level": -400}, T0 + 10 * DAY)
    now = T0 + 11 * DAY
    store = Store(None)
    assert store.ingest(w.entries, now).accepted
    views = NodeViews(store, w.party("north"), (), Settings.from_config(NodeConfig()), ManualClock(now))
    return w, store, views, now


def edges(graph: dict[str, Any], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["from"], e["to"]): e for e in graph["edges"] if e["kind"] == kind}


def test_nodes_are_the_parties_held_with_their_beliefs() -> None:
    w, _store, views, now = build()
    graph = graph_json(views, {})
    assert graph["node"] == w.party("north") and graph["now"] == now
    nodes = {n["party"]: n for n in graph["nodes"]}
    assert set(nodes) == {w.party(n) for n in ROLES}
    beliefs = views.current()[0]
    for name, role in ROLES.items():
        node = nodes[w.party(name)]
        assert node["name"] == name and node["role"] == role and node["forked"] is False
        belief = beliefs.parties[w.party(name)]
        assert node["reliability"] == belief.reliability.p
        assert node["compliance"] == belief.verified.score
        assert node["raw"] == belief.raw.score
        assert node["self"] is (name == "north") and node["anchor"] is False
    assert nodes[w.party("north")]["reliability"] == 1.0  # the node itself is a root
    assert nodes[w.party("watch")]["reliability"] > nodes[w.party("south")]["reliability"]


def test_trust_edges_are_the_latest_statement_per_pair() -> None:
    w, _store, views, _now = build()
    trust = edges(graph_json(views, {}), "trust")
    north, south, watch = w.party("north"), w.party("south"), w.party("watch")
    # no loop, no edge to a party not held here
    assert set(trust) == {(north, south), (north, watch)}
    assert trust[(north, south)]["level"] == -400
    assert trust[(north, south)]["ts"] == T0 + 10 * DAY
    assert trust[(north, watch)]["level"] == 800
    latest = [e for e in w.entries if e.kind == "trust" and e.body["subject"] == south][-1]
    assert trust[(north, south)]["entry"] == latest.id_hex


def test_attestations_are_counted_per_attester_and_author() -> None:
    w, _store, views, _now = build()
    att = edges(graph_json(views, {}), "attestation")
    north, south, watch = w.party("north"), w.party("south"), w.party("watch")
    # the attestation of an entry not held is left out: its author is unknown
    assert set(att) == {(watch, south), (north, south)}
    assert att[(watch, south)] | {"ts": 0} == {
        "kind": "attestation", "from": watch, "to": south, "confirm": 2, "refute": 0,
        "partial": 0, "unverifiable": 0, "ts": 0}
    assert att[(watch, south)]["ts"] == T0 + 4 * DAY + 1
    assert (att[(north, south)]["confirm"], att[(north, south)]["refute"]) == (0, 1)


def test_as_of_a_moment_shows_the_graph_of_then() -> None:
    w, _store, views, _now = build()
    then = graph_json(views, {"at": str(T0 + 5 * DAY)})
    north, south = w.party("north"), w.party("south")
    assert edges(then, "trust")[(north, south)]["level"] == 500
    assert len(edges(then, "attestation")) == 2
    early = graph_json(views, {"at": str(T0 + 1)})  # only north's and south's profiles by then
    assert {n["name"] for n in early["nodes"]} == {"north", "south"}
    assert early["edges"] == []


def test_a_forked_author_is_marked_and_its_reliability_drops() -> None:
    w, store, views, now = build()
    south = w.identity("south")
    seq, prev = w.heads["south"]
    a = sign_entry(south, seq=seq + 1, prev=prev, ts=now - 10, kind="notification",
                   body=notification(now))
    b = sign_entry(south, seq=seq + 1, prev=prev, ts=now - 9, kind="notification",
                   body=notification(now + DAY))
    store.ingest([a, b], now)
    assert store.forked_authors() == {bytes.fromhex(w.party("south"))}
    nodes = {n["name"]: n for n in graph_json(views, {})["nodes"]}
    assert nodes["south"]["forked"] is True and nodes["south"]["reliability"] == 0.0
    assert nodes["watch"]["forked"] is False


async def test_the_node_serves_graph_as_a_collection_only(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    node_dir = init_node(tmp_path, "north")
    capsys.readouterr()
    daemon = Daemon(node_dir, gossip=GossipConfig(tick_interval_s=None))
    url = await daemon.start()
    try:
        await daemon.node.tick()  # no peers: nothing of its own to recover
        await daemon.node.publish("profile", {"name": "north", "role": "state", "urls": []})
        await daemon.node.publish("trust", {"subject": "ab" * 32, "level": 100})
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/graph") as resp:
                assert resp.status == 200
                graph = await resp.json()
            async with session.get(url + "/graph?at=soon") as resp:
                assert resp.status == 400
                assert (await resp.json())["error"]["code"] == "bad_argument"
            async with session.get(f"{url}/graph/{'ab' * 32}") as resp:
                assert resp.status == 404  # no per-party form
        me = daemon.identity.party_id
        assert graph["node"] == me
        assert [(n["party"], n["name"], n["self"]) for n in graph["nodes"]] == [(me, "north", True)]
        assert graph["edges"] == []  # its one trust statement is about a party not held
    finally:
        await daemon.stop()
