"""Witness receipts on real `trustnet run` processes (issue 14 item 4; docs/witnesses.md).

Four nodes: `author` names the other three as its witnesses with receipts_needed = 2
(`[witness]` in its node.toml, written by the testbed). Everything else a stranger does here
it does the way a stranger would: signed gossip requests with keys of its own (or the keys it
stole), against running nodes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trustnet.bench.stranger import Stranger
from trustnet.clock import SystemClock
from trustnet.log.entry import ForkProof, decode_fork_proof, sign_entry
from trustnet.log.receipts import decode_receipt, sign_receipt
from trustnet.protocol import messages as m
from trustnet.statements.figures import DAY_MS
from trustnet.testbed import cluster as tb

pytestmark = pytest.mark.slow

DEADLINE_S = 30.0
NAMES = ("author", "w1", "w2", "w3")


@pytest.fixture
def bed(tmp_path: Path) -> Any:
    testbed = tb.Testbed(tmp_path, NAMES, witnesses={"author": (("w1", "w2", "w3"), 2)},
                         gossip={"tick_interval_s": 0.2})
    testbed.start()
    try:
        for node in testbed.nodes:
            node.node_id = testbed.identity(node).party_id
        yield testbed
    finally:
        testbed.stop()


def entry(node: tb.TestbedNode, entry_id: str) -> dict[str, Any] | None:
    try:
        return dict(node.client.get(f"/entries/{entry_id}"))
    except Exception:
        return None


def witnessed_everywhere(bed: tb.Testbed, entry_id: str, k: int = 2) -> bool:
    for node in bed.nodes:
        data = entry(node, entry_id)
        if data is None or len(data["receipts"]) < k or data["witnessed"] is None:
            return False
    return True


def test_a_published_entry_carries_k_receipts_on_every_node(bed: tb.Testbed) -> None:
    author = bed.node("author")
    published = author.client.publish("trust", {"subject": bed.node("w1").node_id, "level": 500})
    assert published["seq"] == 3  # seq 1 commits to the next key, seq 2 declares the witnesses
    assert bed.wait_for(lambda: witnessed_everywhere(bed, published["id"]), DEADLINE_S)
    data = entry(bed.node("w2"), published["id"])
    assert data is not None
    witnesses = {bed.node(n).node_id for n in ("w1", "w2", "w3")}
    assert {r["witness"] for r in data["receipts"]} <= witnesses
    assert data["witnesses"]["receipts_needed"] == 2
    assert sorted(data["witnesses"]["parties"]) == sorted(witnesses)
    times = sorted(r["time"] for r in data["receipts"])
    assert data["witnessed"] == times[1]  # the time of the 2nd receipt
    assert data["backdated"] is False
    for r in data["receipts"]:  # each receipt checks out by itself
        receipt = decode_receipt(bytes.fromhex(r["receipt"]))
        assert receipt.id.hex() == published["id"] and receipt.seq == 3
    # `trustnet entries --json` (the list route) carries them too
    listed = author.client.get(f"/entries?author={author.node_id}")["entries"]
    row = next(e for e in listed if e["id"] == published["id"])
    assert len(row["receipts"]) >= 2 and row["witnessed"] == data["witnessed"]


def test_an_equivocating_author_gets_receipts_for_at_most_one_branch(bed: tb.Testbed) -> None:
    author = bed.node("author")
    first = author.client.publish("trust", {"subject": bed.node("w1").node_id, "level": 100})
    assert bed.wait_for(lambda: witnessed_everywhere(bed, first["id"]), DEADLINE_S)
    # Whoever holds the author's key signs two entries at the next seq: a split view. Each
    # branch goes to different witnesses first, then to all of them.
    key = bed.identity(author)
    prev = bytes.fromhex(first["id"])
    now = SystemClock().now_ms()
    branches = [sign_entry(key, seq=first["seq"] + 1, prev=prev, ts=now, kind="trust",
                           body={"subject": bed.node("w2").node_id, "level": level})
                for level in (200, -200)]
    stranger = Stranger.fresh()
    answers: dict[tuple[int, str], m.ReceiptReply] = {}

    def ask(branch: int, name: str) -> None:
        status, raw = stranger.post(bed.node(name).url, m.RECEIPT,
                                    m.encode(m.ReceiptRequest((branches[branch].raw,))))
        assert status == 200, raw[:200]
        reply = m.decode_reply(m.RECEIPT, raw)
        assert isinstance(reply, m.ReceiptReply)
        answers[(branch, name)] = reply

    ask(0, "w1")
    ask(1, "w3")
    ask(1, "w2")
    ask(0, "w2")
    ask(1, "w1")
    ask(0, "w3")
    receipted = {b: [n for (bb, n), r in answers.items() if bb == b and r.receipt is not None]
                 for b in (0, 1)}
    assert sum(len(v) for v in receipted.values()) <= 3  # each witness receipts one id
    assert min(len(receipted[0]), len(receipted[1])) < 2  # never k=2 for both branches
    refused = [r for r in answers.values() if r.receipt is None]
    assert refused and all(r.code == "fork" for r in refused)
    proofs = [decode_fork_proof(r.fork) for r in refused if r.fork is not None]
    assert proofs and all(isinstance(p, ForkProof) and p.seq == first["seq"] + 1 for p in proofs)
    # On every node, at most one branch has a witnessed time.
    for node in bed.nodes:
        witnessed = [e for b in branches if (e := entry(node, b.id_hex)) is not None
                     and e["witnessed"] is not None]
        assert len(witnessed) <= 1


def _notification(now: int) -> dict[str, Any]:
    start = now + 8 * DAY_MS
    return {
        "activity": "Witnessed Shield", "type": "exercise", "start": start,
        "end": start + 5 * DAY_MS, "area": "Border District", "troops": 12_000, "tanks": 100,
        "acv": 0, "artillery": 0, "amphibious": 0, "sorties": 0, "observers_invited": False,
    }


def test_a_statement_signed_50_days_before_it_was_witnessed_is_backdated(
        bed: tb.Testbed) -> None:
    author = bed.node("author")
    now = SystemClock().now_ms()
    # The author's node signs with a ts 50 days old (its first entries): by its ts the
    # notification is 58 days ahead of the activity, by when it was witnessed only 8.
    published = author.client.publish("notification", _notification(now), ts=now - 50 * DAY_MS)
    assert bed.wait_for(lambda: witnessed_everywhere(bed, published["id"]), DEADLINE_S)
    for node in bed.nodes:
        data = entry(node, published["id"])
        assert data is not None
        assert data["witnessed"] - data["ts"] >= 50 * DAY_MS - 60_000
        assert data["backdated"] is True
        assert data["received"] == data["witnessed"]  # what deadlines are judged by

    def late_everywhere() -> bool:
        for node in bed.nodes:
            if node is author:
                continue
            rules = [c["rule"] for c in
                     node.client.get(f"/beliefs/{author.node_id}")["raw"]["evidence"]]
            if "unnotified_activity" not in rules or "notification_on_time" in rules:
                return False
        return True

    assert bed.wait_for(late_everywhere, DEADLINE_S), json.dumps(
        bed.node("w1").client.get(f"/beliefs/{author.node_id}")["raw"]["evidence"])[:2000]


def test_bad_receipts_each_get_a_clear_code_and_nothing_held_is_lost(bed: tb.Testbed) -> None:
    author, w1 = bed.node("author"), bed.node("w1")
    published = author.client.publish("trust", {"subject": w1.node_id, "level": 300})
    assert bed.wait_for(lambda: witnessed_everywhere(bed, published["id"]), DEADLINE_S)
    target = bed.node("w3")
    before = entry(target, published["id"])
    assert before is not None
    ident = bytes.fromhex(published["id"])
    author_id = bytes.fromhex(author.node_id)
    stranger = Stranger.fresh()
    now = SystemClock().now_ms()
    by_stranger = sign_receipt(stranger.identity, author_id, published["seq"], ident, now)
    unknown = sign_receipt(bed.identity(w1), author_id, published["seq"] + 50, b"\x07" * 32, now)
    # w1's key (stolen, or w1 lying) receipts another id at the same place.
    conflicting = sign_receipt(bed.identity(w1), author_id, published["seq"], b"\x09" * 32, now)
    forged = by_stranger.raw[:-1] + bytes([by_stranger.raw[-1] ^ 1])
    status, raw = stranger.post(target.url, m.RECEIPTS, m.encode(m.ReceiptsPush(
        (by_stranger.raw, unknown.raw, conflicting.raw, forged))))
    assert status == 200, raw[:200]
    ack = m.decode_reply(m.RECEIPTS, raw)
    assert isinstance(ack, m.ReceiptsAck)
    assert ack.outcomes == ("not_witness", "unknown_entry", "conflicting_receipt", "bad_receipt")
    after = entry(target, published["id"])
    assert after is not None
    assert after["receipts"] == before["receipts"] and after["witnessed"] == before["witnessed"]
    forks = after["witness_forks"]
    assert len(forks) == 1 and forks[0]["witness"] == w1.node_id
    assert sorted(forks[0]["ids"]) == sorted([published["id"], ("09" * 32)])


def test_a_node_away_while_receipts_spread_gets_them_by_receipt_anti_entropy(
        bed: tb.Testbed) -> None:
    author, w3 = bed.node("author"), bed.node("w3")
    bed.stop_node(w3)
    published = author.client.publish("trust", {"subject": w3.node_id, "level": 50})
    up = [n for n in bed.nodes if n is not w3]
    assert bed.wait_for(lambda: all((e := entry(n, published["id"])) is not None
                                    and e["witnessed"] is not None for n in up), DEADLINE_S)
    bed.start_node(w3)
    bed.wait_up(w3)
    # w1's and w2's receipts were pushed while w3 was away: it pulls them.
    assert bed.wait_for(lambda: w3.client.get("/peers")["witness"]["pulled"] >= 1, DEADLINE_S)
    assert bed.wait_for(lambda: witnessed_everywhere(bed, published["id"]), DEADLINE_S)
