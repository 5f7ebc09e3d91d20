"""Clusters of nodes on the in-memory network, in one event loop, settled by condition.

No sleeps: the clock is a ManualClock moved one second per round, nodes are ticked
by the test (tick loop off), and each round waits until no request is in flight.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgpack
import pytest

from tests.harness.cluster import Cluster, ident, url
from trustnet.clock import ManualClock
from trustnet.log.entry import sign_entry
from trustnet.node.core import Node, NodeError
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store
from trustnet.transport.auth import sign_request
from trustnet.transport.base import TransportError
from trustnet.transport.memory import MemoryNetwork


def trust_body(i: int) -> dict[str, Any]:
    return {"subject": ident(f"subject-{i}").party_id, "level": (i % 2000) - 1000}




@pytest.fixture
async def cluster() -> Any:
    c = Cluster()
    yield c
    await c.close()
    assert c.errors() == []


async def test_publish_on_one_reaches_all_30(cluster: Cluster) -> None:
    nodes = await cluster.ring(30)
    await cluster.ready()
    entry = await nodes[7].publish("trust", trust_body(1))
    rounds = await cluster.settle(lambda: all(n.store.get(entry.id) for n in nodes))
    # Eager push alone should reach nearly everyone at once; anti-entropy finishes the rest.
    assert rounds <= 10
    await cluster.settle(cluster.converged)
    assert {n.store.count() for n in nodes} == {1}
    assert all(n.errors == [] for n in nodes)


async def test_many_authors_converge_50(cluster: Cluster) -> None:
    nodes = await cluster.ring(50)
    await cluster.ready()
    for i, node in enumerate(nodes):
        for k in range(2):
            await node.publish("trust", trust_body(i * 10 + k))
    await cluster.settle(cluster.converged)
    assert {n.store.count() for n in nodes} == {100}
    assert {n.store.author_count() for n in nodes} == {50}


async def test_late_node_catches_up(cluster: Cluster) -> None:
    nodes = await cluster.ring(10)
    await cluster.ready()
    for i, node in enumerate(nodes):
        for k in range(30):
            await node.publish("trust", trust_body(i * 100 + k))
    await cluster.settle(cluster.converged)
    late = await cluster.add("late", [url(3)])
    await cluster.settle(lambda: late.store.count() == 300)
    assert late.protocol.digest() == nodes[0].protocol.digest()
    # It learned more peers by peer exchange, and others learned its URL.
    assert len(late.protocol.peers.urls()) > 1
    assert any(url("late") in n.protocol.peers.urls() for n in nodes)


async def test_partition_then_heal(cluster: Cluster) -> None:
    nodes = await cluster.ring(12, extra=2)
    await cluster.ready()
    left, right = nodes[:6], nodes[6:]
    cluster.net.partition([url(i) for i in range(6)], [url(i) for i in range(6, 12)])
    a = await left[0].publish("trust", trust_body(1))
    b = await right[0].publish("trust", trust_body(2))
    await cluster.settle(lambda: cluster.converged(left) and cluster.converged(right))
    assert all(n.store.get(a.id) and not n.store.get(b.id) for n in left)
    assert all(n.store.get(b.id) and not n.store.get(a.id) for n in right)
    cluster.net.heal()
    await cluster.settle(cluster.converged, max_rounds=90)
    assert {n.store.count() for n in nodes} == {2}


async def test_fork_proof_reaches_all(cluster: Cluster) -> None:
    nodes = await cluster.ring(15)
    await cluster.ready()
    liar = ident("liar")
    x = sign_entry(liar, seq=1, prev=None, ts=cluster.clock.now_ms(), kind="trust", body=trust_body(1))
    y = sign_entry(liar, seq=1, prev=None, ts=cluster.clock.now_ms(), kind="trust", body=trust_body(2))
    # The equivocator shows one version to one side of the network and the other to the other.
    assert nodes[0].store.ingest([x.raw], cluster.clock.now_ms()).accepted
    assert nodes[8].store.ingest([y.raw], cluster.clock.now_ms()).accepted
    await cluster.settle(lambda: all(liar.public_key in n.store.forked_authors() for n in nodes))
    await cluster.settle(cluster.converged)
    assert all(n.protocol.fork_keys() == [(liar.public_key, 1)] for n in nodes)
    assert all(n.status()["forks"] == 1 for n in nodes)


async def test_lost_store_recovers_own_log_without_forking(cluster: Cluster) -> None:
    nodes = await cluster.ring(10)
    await cluster.ready()
    victim = nodes[4]
    for k in range(40):
        await victim.publish("trust", trust_body(k))
    await cluster.settle(cluster.converged)
    assert victim.protocol.own_seq() == 40
    # The disk is lost: same identity, empty store, restarted.
    await victim.stop()
    del cluster.nodes[url(4)]
    reborn = await cluster.add(4, [url(5), url(6), url(0)], store=Store(None), recover_own=True)
    assert reborn.protocol.catching_up
    with pytest.raises(NodeError) as err:
        await reborn.publish("trust", trust_body(99))
    assert err.value.code == "catching_up"
    await cluster.settle(lambda: not reborn.protocol.catching_up)
    assert reborn.protocol.own_seq() == 40
    entry = await reborn.publish("trust", trust_body(99))
    assert entry.seq == 41
    await cluster.settle(lambda: all(n.store.count() == 41 for n in cluster.nodes.values()))
    assert all(n.store.forked_authors() == set() for n in cluster.nodes.values())


async def test_recovering_node_stays_refusing_while_peers_are_unreachable(cluster: Cluster) -> None:
    nodes = await cluster.ring(4)
    await cluster.ready()
    await nodes[1].publish("trust", trust_body(1))
    await cluster.settle(cluster.converged)
    await nodes[1].stop()
    del cluster.nodes[url(1)]
    for i in (0, 2, 3):
        cluster.net.kill(url(i))
    reborn = await cluster.add(1, [url(0), url(2)], store=Store(None), recover_own=True)
    for _ in range(10):
        await cluster.round()
    assert reborn.protocol.catching_up
    assert reborn.status()["catching_up"] is True
    for i in (0, 2, 3):
        cluster.net.revive(url(i))
    await cluster.settle(lambda: not reborn.protocol.catching_up, max_rounds=90)
    assert (await reborn.publish("trust", trust_body(2))).seq == 2


class Byzantine:
    """A node that talks the wire format and lies: forged signatures, garbage, floods."""

    def __init__(self, net: MemoryNetwork, clock: ManualClock) -> None:
        self.identity = ident("byzantine")
        self.url = url("byzantine")
        self.net = net
        self.clock = clock
        net.register(self.url, self)

    async def handle_gossip(self, path: str, headers: Any, body: bytes, *,
                            remote: str = "") -> tuple[int, bytes]:
        # Answers every request with garbage.
        return 200, b"\xc1garbage"

    async def send(self, dst: str, path: str, body: bytes, headers: dict[str, str] | None = None,
                   ) -> str:
        if headers is None:
            headers = sign_request(self.identity, "POST", path, body, self.clock.now_ms())
        try:
            await self.net.deliver(self.url, dst, path, headers, body)
        except TransportError as exc:
            return exc.code
        return "ok"


async def test_byzantine_peer_is_graylisted_and_honest_gossip_continues(cluster: Cluster) -> None:
    nodes = await cluster.ring(10)
    bad = Byzantine(cluster.net, cluster.clock)
    for n in nodes[:3]:
        n.add_peer(bad.url)
    await cluster.ready()
    target = url(0)
    now = cluster.clock.now_ms
    # 1. An entry with a forged signature, in a properly signed request.
    good = sign_entry(bad.identity, seq=1, prev=None, ts=now(), kind="trust", body=trust_body(5))
    forged = msgpack.packb([good.payload, bytes(64)], use_bin_type=True)
    assert await bad.send(target, m.PUSH, m.encode(m.Push((forged,)))) == "ok"
    # 2. Garbage bodies and a wrong message for the endpoint.
    assert await bad.send(target, m.PUSH, b"\x93garbage") == "bad_message"
    assert await bad.send(target, m.FETCH, m.encode(m.Digest(bytes(32)))) == "bad_message"
    # 3. A replayed request, then a flood of well-signed requests: rate limited, then the
    # node id is graylisted (and refused before its signatures are even checked).
    body = m.encode(m.Digest(bytes(32)))
    same = sign_request(bad.identity, "POST", m.DIGEST, body, now())
    assert await bad.send(target, m.DIGEST, body, dict(same)) == "ok"
    assert await bad.send(target, m.DIGEST, body, dict(same)) == "replayed"
    codes = [await bad.send(target, m.DIGEST, m.encode(m.Digest(bytes([i + 1]) * 32)))
             for i in range(100)]
    assert "rate_limited" in codes
    assert codes[-1] == "graylisted"
    # 4. Requests with forged request signatures, none at all, and an oversized body:
    # charged to the sender's address, since the node id they claim is not proven.
    forged_headers = sign_request(ident(3), "POST", m.DIGEST, body, now())  # claims node 3
    forged_headers["X-Trustnet-Signature"] = "00" * 64
    assert await bad.send(target, m.DIGEST, body, forged_headers) == "bad_signature"
    assert await bad.send(target, m.DIGEST, body, {}) == "unsigned"
    assert await bad.send(target, m.PUSH, bytes(2 * 1024 * 1024)) == "too_large"
    assert await bad.send(target, m.DIGEST, body, {}) == "graylisted"

    view = nodes[0].peers_json()
    by_key = {p["key"]: p for p in view["peers"]}
    as_node = by_key[bad.identity.party_id]
    as_addr = by_key[bad.url]
    assert as_node["state"] == "graylisted" and "graylisted" in as_node["reason"]
    assert as_addr["state"] == "graylisted"
    logged = " ".join(e["reason"] for p in (as_node, as_addr) for e in p["log"])
    for code in ("bad_signature", "bad_message", "too_large", "unsigned", "rate_limited",
                 "replayed"):
        assert code in logged
    # Node 3, whose id the forged request claimed, is not blamed.
    assert by_key.get(ident(3).party_id, {"score": 0.0})["score"] >= 0

    # Honest gossip goes on; nodes that contacted the liar stop trusting its replies.
    entry = await nodes[5].publish("trust", trust_body(1))
    await cluster.settle(lambda: all(n.store.get(entry.id) for n in nodes))
    for _ in range(15):
        await cluster.round()
    assert all(n.store.get(entry.id) for n in nodes)
    assert all(n.store.author_count() == 1 for n in nodes)  # the forged entry went nowhere
    contacted = [n for n in nodes[:3] if n.protocol.peers.get(bad.url)]
    assert any(n.protocol.peers.score(bad.url, now()) < 0 for n in contacted)


async def test_in_sync_anti_entropy_bytes_do_not_grow_with_authors() -> None:
    sizes = {}
    for authors in (10, 200):
        c = Cluster(seed=authors)
        a = await c.add("a", [url("b")])
        b = await c.add("b", [url("a")])
        now = c.clock.now_ms()
        entries = []
        for i in range(authors):
            who = ident(f"author-{i}")
            entries.append(sign_entry(who, seq=1, prev=None, ts=now, kind="trust",
                                      body=trust_body(i)).raw)
        for n in (a, b):
            assert len(n.store.ingest(entries, now).accepted) == authors
        await c.ready()
        await c.settle(c.converged)
        await c.round()  # the first tick exchanges peers (every peer_exchange_every ticks)
        c.net.reset_counters()
        rounds = 5
        for _ in range(rounds):
            c.clock.advance(1000)
            await a.tick()
            await c.idle()
        assert c.net.requests[m.DIGEST] == rounds
        assert set(c.net.requests) == {m.DIGEST}  # nothing but the digest exchange
        sizes[authors] = (c.net.bytes_sent[m.DIGEST] // rounds,
                          c.net.bytes_received[m.DIGEST] // rounds)
        await c.close()
        assert c.errors() == []
    assert sizes[10] == sizes[200]
    # One digest (saying it speaks range reconciliation, issue 15) and one "in sync":
    # O(1) bytes per round, exactly these two messages.
    one = len(m.encode(m.Digest(bytes(32), recon=True))) + len(m.encode(m.InSync()))
    assert sum(sizes[10]) == one == 69


class CountingNode(Node):
    """Signals each tick, so a test can wait for the real tick loop by condition."""

    ticks = 0
    ticked: asyncio.Event

    async def tick(self) -> None:
        await super().tick()
        self.ticks += 1
        if self.ticks >= 3:
            self.ticked.set()


async def test_tick_loop_runs_and_stop_is_clean() -> None:
    clock = ManualClock()
    net = MemoryNetwork()
    cfg = GossipConfig(tick_interval_s=0.001)
    nodes = []
    for i in range(2):
        identity = ident(f"loop-{i}")
        node = CountingNode(identity, Store(None), net.transport(url(f"loop-{i}"), identity, clock),
                            clock=clock, rng=random.Random(i), config=cfg,
                            peers=[url(f"loop-{1 - i}")], recover_own=False)
        node.ticked = asyncio.Event()
        nodes.append(node)
    for n in nodes:
        await n.start()
    assert net.urls() == [url("loop-0"), url("loop-1")]
    await asyncio.wait_for(asyncio.gather(*(n.ticked.wait() for n in nodes)), timeout=10)
    assert all(not n.protocol.catching_up for n in nodes)
    entry = await nodes[0].publish("trust", trust_body(3))
    for n in nodes:
        await n.stop()
        await n.stop()  # idempotent
    assert net.urls() == []
    assert all(not n.busy and n.errors == [] for n in nodes)
    assert nodes[0].status()["own_seq"] == 1 and entry.seq == 1
    with pytest.raises(TransportError):
        await nodes[0].transport.request(url("loop-1"), m.DIGEST, b"")
