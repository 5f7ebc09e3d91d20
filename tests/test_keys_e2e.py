"""Rotation and recovery after a stolen key, on real `trustnet run` processes (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trustnet.bench.stranger import Stranger
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log.entry import sign_entry
from trustnet.store.sqlite import Store
from trustnet.testbed import cluster as tb

pytestmark = pytest.mark.slow


def trustnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trustnet", *args], capture_output=True,
                          text=True, timeout=60)


def party(node: tb.TestbedNode, pid: str) -> dict[str, Any] | None:
    parties = node.client.get("/parties")["parties"]
    return next((p for p in parties if p["party"] == pid), None)


def reliability(node: tb.TestbedNode, pid: str) -> float:
    return float(node.client.get(f"/beliefs/{pid}")["reliability"]["p"])


def holds(node: tb.TestbedNode, entry_id: str) -> bool:
    return any(e["id"] == entry_id for e in node.client.get("/entries?limit=1000")["entries"])


@pytest.fixture
def bed(tmp_path: Path) -> Any:
    testbed = tb.Testbed(tmp_path, ("north", "south"))
    testbed.start()
    try:
        yield testbed
    finally:
        testbed.stop()


def trust_body(pid: str, level: int) -> dict[str, Any]:
    return {"subject": pid, "level": level}


def test_a_party_rotates_while_its_node_runs_and_stays_one_party(bed: tb.Testbed) -> None:
    north, south = bed.nodes
    south.client.publish("trust", trust_body(north.node_id, 800))
    first = north.client.publish("profile", {"name": "north", "role": "state", "urls": [north.url]})
    assert first["seq"] == 2  # seq 1 commits to the next key
    assert bed.wait_for(lambda: holds(south, first["id"]))
    before = reliability(south, north.node_id)

    done = trustnet("key", "rotate", str(north.dir))
    assert done.returncode == 0, done.stderr
    assert "move it offline" in done.stderr
    after_rotation = north.client.publish("trust", trust_body(south.node_id, 500))
    assert after_rotation["seq"] == 4
    assert bed.wait_for(lambda: holds(south, after_rotation["id"]))

    seen = party(south, north.node_id)
    assert seen is not None and [p["party"] for p in south.client.get("/parties")["parties"]].count(
        north.node_id) == 1
    keys = seen["keys"]
    assert len(keys) == 2 and keys[0]["key"] == north.node_id and keys[0]["until_seq"] == 3
    assert keys[1]["from_seq"] == 3 and keys[1]["until_seq"] is None
    assert bed.identity(north).key_id == keys[1]["key"] != north.node_id
    assert reliability(south, north.node_id) == pytest.approx(before, abs=1e-3)
    # The node restarts on its new key files and goes on signing for the same party.
    bed.restart(north)
    again = north.client.publish("trust", trust_body(south.node_id, 600))
    assert again["seq"] == 5 and bed.wait_for(lambda: holds(south, again["id"]))


def test_a_thief_with_the_stolen_key_is_disowned_and_the_party_keeps_its_standing(
        bed: tb.Testbed) -> None:
    owner, observer = bed.nodes
    observer.client.publish("trust", trust_body(owner.node_id, 800))
    prof = owner.client.publish("profile", {"name": "owner", "role": "state", "urls": [owner.url]})
    assert bed.wait_for(lambda: holds(observer, prof["id"]))
    standing = reliability(observer, owner.node_id)
    assert standing > 0

    # The thief copied identity.key to another machine; it signs in the owner's name, forking.
    stolen = Identity.load(owner.dir / "identity.key")
    theft = SystemClock().now_ms()
    head = bed.own_head(owner)
    assert head is not None
    now = SystemClock().now_ms()
    x3 = sign_entry(stolen, seq=head.seq + 1, prev=head.id, ts=now, kind="trust",
                    body=trust_body(observer.node_id, -1000))
    x4 = sign_entry(stolen, seq=head.seq + 2, prev=x3.id, ts=now, kind="trust",
                    body=trust_body(observer.node_id, -900))
    y4 = sign_entry(stolen, seq=head.seq + 2, prev=x3.id, ts=now, kind="trust",
                    body=trust_body(observer.node_id, -800))
    thief = Stranger.fresh()
    # A split view: the owner's node is shown one branch, the observer the other.
    bed.push(owner, thief.identity, [x3, x4])
    bed.push(observer, thief.identity, [x3, y4])
    assert bed.wait_for(lambda: all(party(n, owner.node_id)["forked"]  # type: ignore[index]
                                    for n in (owner, observer)))
    assert bed.wait_for(lambda: reliability(observer, owner.node_id) == 0)

    # The owner rotates with the offline next key, disowning what the old key signed since.
    done = trustnet("key", "rotate", str(owner.dir), "--compromised-since", str(theft))
    assert done.returncode == 0, done.stderr
    rot = done.stdout.strip().splitlines()[-1]
    assert '"seq": 5' in rot

    def recovered(node: tb.TestbedNode) -> bool:
        p = party(node, owner.node_id)
        return p is not None and not p["forked"] and len(p["keys"]) == 2

    # The observer held the thief's other branch: the rotation took it off, and it fetched
    # the owner's branch (trustnet/store/sqlite.py `_displace_for`).
    assert bed.wait_for(lambda: all(recovered(n) for n in (owner, observer)))
    assert bed.wait_for(lambda: party(observer, owner.node_id)["head"]  # type: ignore[index]
                        == party(owner, owner.node_id)["head"])  # type: ignore[index]
    for node in (owner, observer):
        entries = {e["id"]: e for e in node.client.get(f"/entries?author={owner.node_id}")["entries"]}
        assert entries[x3.id_hex]["revoked"] and entries[x4.id_hex]["revoked"]
        assert not entries[prof["id"]]["revoked"]
        assert [f["disowned"] for f in node.client.get("/forks")["forks"]] == [True]
    assert bed.wait_for(lambda: reliability(observer, owner.node_id) > 0)
    assert reliability(observer, owner.node_id) == pytest.approx(standing, abs=1e-3)

    # The stolen key signs nothing any more.
    later = sign_entry(stolen, seq=6, prev=bytes.fromhex(
        observer.client.get(f"/entries?author={owner.node_id}&after=4")["entries"][0]["id"]),
        ts=SystemClock().now_ms(), kind="trust", body=trust_body(observer.node_id, -1000))
    ack = bed.push(observer, thief.identity, [later])
    assert ack.accepted == 0 and ack.rejected == 1


def test_the_testbed_plays_a_stolen_key_and_its_recovery(tmp_path: Path) -> None:
    """configs/scenarios/stolen-key.toml: `compromise` and `rotate` steps on real nodes."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "trustnet", "testbed", "run",
         str(Path(__file__).parent.parent / "configs" / "scenarios" / "stolen-key.toml"),
         "--out", str(out)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all expectations met" in done.stdout
    assert "fault compromise" in done.stderr and "fault rotate" in done.stderr
    data = json.loads((out / "series.json").read_text())
    stolen = {data["entries"]["stolen-notification"], data["entries"]["stolen-trust"]}
    for node in data["nodes"]:
        with Store.open_dir(Path(node["dir"]), readonly=True) as store:
            held = [e for e in store.iter_all() if e.id_hex in stolen]
            assert len(held) == 2 and all(store.revoked(e) for e in held)
            after = store.get(bytes.fromhex(data["entries"]["after"]))
            assert after is not None and not store.revoked(after)
