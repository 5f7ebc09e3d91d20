"""Strangers against a real `trustnet run` process (issue 11, items 2, 5 and 8): throwaway
keys cannot lock the peer table, endless peers cannot halt anti-entropy, and URLs learned
from gossip cannot make the node dial private addresses nor tell anyone what it found.

The same attacks, with their figures, are `scripts/attacks/peer_lockout.py`,
`endless_sessions.py` and `ssrf_probe.py`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from trustnet.bench.liars import mount_endless_sessions, mount_private_probe
from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.protocol import messages as m


def test_600_throwaway_keys_lock_out_neither_newcomers_nor_the_operator(tmp_path: Path) -> None:
    with real_node(tmp_path) as node:
        for _ in range(600):
            # Signed by a fresh key, but not msgpack: refused, and charged to that key.
            status, _ = Stranger.fresh().post(node.url, m.PUSH, b"\xc1 not msgpack")
            assert status == 400
        status, body = Stranger.fresh().post(node.url, m.DIGEST, m.encode(m.Digest(b"\0" * 32)))
        assert status == 200, body
        assert node.client.add_peer("http://203.0.113.7:7400")["added"] is True
        peers = node.client.get("/peers")
        assert peers["count"] <= 513 and peers["evicted"] >= 88 and peers["dropped"] == 0
        assert peers["penalties_remembered"] >= 88  # the strangers' penalties outlive them
        assert any(p["key"] == "http://203.0.113.7:7400" and p["source"] == "admin"
                   for p in peers["peers"])


async def test_four_endless_peers_do_not_keep_a_node_from_syncing(tmp_path: Path) -> None:
    result = await mount_endless_sessions(tmp_path, liars=4, entries=1000, timeout_s=60.0)
    assert result["synced_s"] is not None, result
    assert result["node_entries"] == 1000
    assert "graylisted" in result["liar_states"], result  # sessions that never end cost


async def test_endless_reconcile_splits_do_not_keep_a_node_from_syncing(tmp_path: Path) -> None:
    # Issue 15: the same liars, answering range reconciliation ever deeper instead.
    result = await mount_endless_sessions(tmp_path, liars=4, entries=1000, timeout_s=60.0,
                                          reconcile=True)
    assert result["synced_s"] is not None, result
    assert result["node_entries"] == 1000
    assert min(result["liar_pages"]) >= 2  # the node did reconcile with every liar
    assert "graylisted" in result["liar_states"], result


async def test_private_urls_learned_from_gossip_are_refused_and_not_shown(tmp_path: Path) -> None:
    result = await mount_private_probe(tmp_path, wait_s=8.0)
    assert result["push_status"] == 200 and result["exchange_status"] == 200
    assert result["canary_connections"] == 0, result  # never dialled
    assert all(row is None for row in result["public_view"].values())
    refused = result["operator_view"]["refused"]
    assert {r["source"] for r in refused} == {"profile", "exchange"}
    assert all(r["reason"] == "private_address" for r in refused)
    assert any(r["detail"] == "loopback" for r in refused)
    # The operator's own choice is dialled whatever its address.
    assert result["admin_connections"] >= 1, result


def test_peers_hides_error_details_without_the_token(tmp_path: Path) -> None:
    with real_node(tmp_path, gossip={"allow_private_peers": True}) as node:
        stranger = Stranger.fresh()
        # A closed port learned by exchange (allowed here): it fails, with a reason.
        closed = "http://127.0.0.1:9"
        status, _ = stranger.post(node.url, m.PEERS, m.encode(m.PeersRequest(None, (closed,))))
        assert status == 200
        deadline = time.monotonic() + 15.0
        while True:  # the node dials it on one of its next ticks
            row = next(p for p in node.client.get("/peers")["peers"] if p["key"] == closed)
            if row["last_error"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert row["last_error"] == "unreachable"
        status, raw = get(node.url, "/peers")
        public = json.loads(raw)
        assert status == 200 and public["detail"] is False and public["refused"] is None
        row = next(p for p in public["peers"] if p["key"] == closed)
        assert row["last_error"] == "hidden"
        assert all(line["reason"] == "hidden" for line in row["log"])
