"""Fork proofs from free keys against a real `trustnet run` process (issue 15, review of
the reconciliation): strangers, each with a fresh key, push proofs that fresh keys forked.
The node keeps at most `[gossip] max_unheld_forks` of them, rewards none, counts the rest
(`fork_limit` in /metrics, `forks_refused` in /peers' gossip counters), and still takes a
proof about an author it holds. Unit side and figures: test_recon_harden.py,
scripts/bench-recon-forks.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from trustnet.bench.stranger import Stranger, get, real_node
from trustnet.clock import SystemClock
from trustnet.config.loader import read_admin_token
from trustnet.identity import Identity
from trustnet.log.entry import ForkProof, sign_entry
from trustnet.protocol import messages as m


def fork_of(who: Identity, now: int) -> ForkProof:
    x, y = (sign_entry(who, seq=1, prev=None, ts=now - k, kind="trust",
                       body={"subject": "ab" * 32, "level": k}) for k in (1, 2))
    return ForkProof.of(x, y)


def test_fork_proofs_about_fresh_keys_are_capped_and_unrewarded(tmp_path: Path) -> None:
    with real_node(tmp_path, gossip={"max_unheld_forks": 30}) as node:
        now = SystemClock().now_ms()
        strangers = [Stranger.fresh() for _ in range(6)]
        for stranger in strangers:  # 6 x 16 = 96 proofs, each about a key made for it
            proofs = tuple(fork_of(Identity.from_seed(os.urandom(32)), now).encode()
                           for _ in range(16))
            status, body = stranger.post(node.url, m.PUSH, m.encode(m.Push((), proofs)))
            assert status == 200, body
        assert node.client.get("/forks")["total"] == 30
        peers = node.client.get("/peers")
        assert peers["gossip"]["forks_refused"] == 96 - 30
        scores = {p["key"]: p["score"] for p in peers["peers"]}
        assert all(scores.get(s.node_id, 0) <= 0 for s in strangers)  # no reward for them
        status, metrics = get(node.url, "/metrics", token=read_admin_token(node.dir))
        assert status == 200
        assert 'code="fork_limit"' in metrics.decode()
        # An author the node holds: its entry first, then the proof it forked, past the cap.
        held, witness = Identity.from_seed(os.urandom(32)), Stranger.fresh()
        proof = fork_of(held, now)
        status, _ = witness.post(node.url, m.PUSH, m.encode(m.Push((proof.a.raw,))))
        assert status == 200
        status, _ = witness.post(node.url, m.PUSH, m.encode(m.Push((), (proof.encode(),))))
        assert status == 200
        assert node.client.get("/forks")["total"] == 31


def test_a_held_free_key_buys_one_fork_proof_not_a_listing(tmp_path: Path) -> None:
    """Review 2, item 1: a stranger gets one entry of its free key taken, then pushes fork
    proofs about that key at seqs 2..65. Proofs count as held only when one of their
    entries is held here; one proof per author is kept (its lowest seq) and rewarded at
    most once; so the listing keeps room for a genuine fork of another author."""
    with real_node(tmp_path, gossip={"max_unheld_forks": 30}) as node:
        now = SystemClock().now_ms()
        stranger, me = Stranger.fresh(), Identity.from_seed(os.urandom(32))
        first = sign_entry(me, seq=1, prev=None, ts=now - 5, kind="trust",
                           body={"subject": "ab" * 32, "level": 1})
        status, _ = stranger.post(node.url, m.PUSH, m.encode(m.Push((first.raw,))))
        assert status == 200
        score = {p["key"]: p["score"] for p in node.client.get("/peers")["peers"]}
        before = score.get(stranger.node_id, 0)
        proofs = [fork_at(me, seq, now).encode() for seq in range(2, 66)]
        for i in range(0, len(proofs), 16):
            chunk = tuple(proofs[i:i + 16])
            status, body = stranger.post(node.url, m.PUSH, m.encode(m.Push((), chunk)))
            assert status == 200, body
        forks = node.client.get("/forks")
        assert forks["total"] == 1  # the lowest seq only: (me, 2)
        score = {p["key"]: p["score"] for p in node.client.get("/peers")["peers"]}
        assert score.get(stranger.node_id, 0) <= before  # none of them held: no reward
        # A genuine fork of an author held here (its entry first) is kept and listed.
        held, witness = Identity.from_seed(os.urandom(32)), Stranger.fresh()
        proof = fork_of(held, now)
        status, _ = witness.post(node.url, m.PUSH, m.encode(m.Push((proof.a.raw,))))
        assert status == 200
        status, _ = witness.post(node.url, m.PUSH, m.encode(m.Push((), (proof.encode(),))))
        assert status == 200
        assert node.client.get("/forks")["total"] == 2
        score = {p["key"]: p["score"] for p in node.client.get("/peers")["peers"]}
        assert score.get(witness.node_id, 0) > 0  # a proof about a held entry: rewarded
        # What it lists to a peer whose digest differs: one key per forked author.
        status, body = witness.post(node.url, m.DIGEST,
                                    m.encode(m.Digest(bytes(32), recon=True)))
        assert status == 200, body
        reply = m.decode_reply(m.DIGEST, body)
        assert isinstance(reply, m.Reconcile)
        assert sorted(reply.forks) == sorted([(me.public_key, 2), (held.public_key, 1)])


def fork_at(who: Identity, seq: int, now: int) -> ForkProof:
    x, y = (sign_entry(who, seq=seq, prev=seq.to_bytes(32, "big"), ts=now - k, kind="trust",
                        body={"subject": "ab" * 32, "level": k}) for k in (1, 2))
    return ForkProof.of(x, y)


def test_caps_filled_with_different_proofs_do_not_keep_two_nodes_apart(tmp_path: Path) -> None:
    """Review 2, item 2: a stranger fills two nodes' `max_unheld_forks` with different
    proofs about fresh keys (here while they are partitioned; in the wild, pushes that
    cross). Such proofs stay local state (out of the digest, `forks_fp` and listings):
    once healed the two end their sessions in sync, and fetch no refused proof again."""
    from trustnet.testbed.cluster import Testbed

    # A short backoff: the requests refused across the partition put each peer in one.
    bed = Testbed(tmp_path, ("a", "b"), gossip={"max_unheld_forks": 16, "tick_interval_s": 0.25,
                                                "backoff_max_ms": 2000})
    bed.start()
    try:
        a, b = bed.nodes
        bed.partition(["a"])
        now = SystemClock().now_ms()
        for node in (a, b):
            proofs = tuple(fork_of(Identity.from_seed(os.urandom(32)), now).encode()
                           for _ in range(16))
            status, body = Stranger.fresh().post(node.url, m.PUSH, m.encode(m.Push((), proofs)))
            assert status == 200, body
            assert node.client.get("/forks")["total"] == 16
        bed.heal()
        synced = {n.name: n.client.get("/peers")["gossip"]["in_sync"] for n in (a, b)}
        assert bed.wait_for(lambda: all(n.client.get("/peers")["gossip"]["in_sync"]
                                        >= synced[n.name] + 3 for n in (a, b)), 60)
        refused = {n.name: n.client.get("/peers")["gossip"]["forks_refused"] for n in (a, b)}
        assert refused == {"a": 0, "b": 0}  # neither fetched the other's proofs
        assert a.client.get("/forks")["total"] == b.client.get("/forks")["total"] == 16
    finally:
        bed.stop()
