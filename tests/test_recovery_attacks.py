"""Own-log recovery holds against liars and losses, on real `trustnet run` processes
(issue 11, items 3 and 4; DESIGN 12).

The scenarios are those of `scripts/attacks/lying-head.py` and `store-loss.py`
(`trustnet.bench.recovery`): fake lying peers are small aiohttp servers
(`trustnet.bench.liars.LyingPeer`), the victims are testbed node processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trustnet.api.client import ClientError
from trustnet.bench.recovery import (
    GOSSIP,
    fresh_first_post,
    lying_head,
    sign_within,
    store_loss,
    wait_answering,
)
from trustnet.config.ownlog import NEW_LOG_FILE, PEERS_FILE
from trustnet.testbed import cluster as tb_mod

pytestmark = pytest.mark.slow

BUDGET_S = 20.0


@pytest.mark.parametrize(("fetch", "lose"), [("more", False), ("500", True)],
                         ids=["stalling-store-kept", "failing-store-lost"])
def test_a_lying_peer_cannot_stop_a_node_signing(tmp_path: Path, fetch: str, lose: bool) -> None:
    # Beside an honest peer, whose proof settles it at once.
    r = lying_head(tmp_path, fetch=fetch, honest=True, lose_store=lose, budget_s=BUDGET_S)
    # seq 1 commits to the next key (pre-rotation); its log continues: never 10**12, no fork
    assert r["signed_seq"] == 5, r
    assert r["liar_requests"].get("/gossip/head"), r  # the liar was asked, and lied
    assert r["recovery"]["own_max_seen"] == 5 and r["recovery"]["unproven"] <= 1, r


def test_a_lying_peer_alone_cannot_stop_a_node_that_holds_its_log(tmp_path: Path) -> None:
    r = lying_head(tmp_path, fetch="more", honest=False, budget_s=BUDGET_S)
    assert r["signed_seq"] == 5, r


def test_a_peer_that_never_answers_is_outlasted_by_the_deadline(tmp_path: Path) -> None:
    r = lying_head(tmp_path, head="500", fetch="500", honest=False, budget_s=BUDGET_S,
                   deadline_ms=3000)
    assert r["signed_seq"] == 5, r
    assert r["refused"].get("catching_up"), r  # it did wait: nobody answered before the deadline
    assert r["seconds"] >= 1.0, r


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "learned"])
def test_a_lost_store_is_recovered_and_never_forked(tmp_path: Path, configured: bool) -> None:
    r = store_loss(tmp_path, configured=configured, budget_s=BUDGET_S)
    assert r["signed_seq"] == 7 and not r["forked"] and r["forks_at_peer"] == 0, r


def test_a_lost_store_and_lost_peers_wait_for_a_peer_to_dial_in(tmp_path: Path) -> None:
    r = store_loss(tmp_path, configured=False, lose_peers_file=True, budget_s=BUDGET_S)
    assert r["signed_seq"] == 7 and r["forks_at_peer"] == 0, r


def test_a_node_made_by_init_signs_on_its_first_post(tmp_path: Path) -> None:
    r = fresh_first_post(tmp_path)
    assert (r["first_post"], r["signed_seq"]) == (201, 2), r  # after its next-key commitment


def test_alone_after_a_store_loss_only_the_operator_lets_it_sign(tmp_path: Path) -> None:
    bed = tb_mod.Testbed(tmp_path / "tb", ("alone",), gossip=dict(GOSSIP))
    bed.start()
    try:
        node = bed.nodes[0]
        for level in range(3):
            node.client.publish("trust", {"subject": "ab" * 32, "level": level})
        bundle = tmp_path / "alone.bundle"
        export = subprocess.run([sys.executable, "-m", "trustnet", "export", str(node.dir),
                                 str(bundle)], capture_output=True, timeout=60)
        assert export.returncode == 0, export.stderr
        assert not (node.dir / NEW_LOG_FILE).exists()  # gone before its first signature
        assert bed.stop_node(node) == 0
        for path in node.dir.glob("store.sqlite*"):
            path.unlink()
        (node.dir / PEERS_FILE).unlink(missing_ok=True)

        bed.start_node(node)  # nobody to ask and nobody dials in: it must not sign
        wait_answering(bed, node)
        r = sign_within(node, 2.0)
        assert r["signed_seq"] is None and r["refused"].get("catching_up"), r
        rec = node.client.get("/peers")["recovery"]
        assert rec["store_lost"] and rec["catching_up"] and rec["own_seq"] == 0, rec
        with pytest.raises(ClientError) as refused:
            node.client.publish("trust", {"subject": "ab" * 32, "level": 9})
        assert refused.value.code == "catching_up" and "--recovered-from" in refused.value.message
        assert bed.stop_node(node) == 0
        offline = subprocess.run([sys.executable, "-m", "trustnet", "publish", str(node.dir),
                                  "trust", "--body", json.dumps({"subject": "ab" * 32, "level": 1})],
                                 capture_output=True, text=True, timeout=60)
        assert offline.returncode == 1 and "[catching_up]" in offline.stderr, offline.stderr

        bed.start_node(node, ["--recovered-from", str(bundle)])
        wait_answering(bed, node)
        r = sign_within(node, BUDGET_S)
        assert r["signed_seq"] == 5, r
        log = (node.dir / "node.log").read_text()
        assert "own log recovered from" in log and "Traceback" not in log

        assert bed.stop_node(node) == 0
        for path in node.dir.glob("store.sqlite*"):
            path.unlink()
        bed.start_node(node, ["--i-know-the-log-is-lost"])  # the operator's explicit word
        wait_answering(bed, node)
        r = sign_within(node, BUDGET_S)
        assert r["signed_seq"] == 2, r  # a new log: its commitment at seq 1, then this
        assert "--i-know-the-log-is-lost" in (node.dir / "node.log").read_text()
    finally:
        codes = bed.stop()
    assert set(codes.values()) <= {0}
