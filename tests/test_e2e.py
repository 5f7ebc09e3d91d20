"""End to end: real `trustnet run` processes on loopback (`trustnet.testbed.cluster.Testbed`).

Five nodes per test, gossip ticking every 0.2 s. Every wait polls a condition with a
timeout (`Testbed.wait_for`); nothing synchronises by sleeping. Each test ends by
stopping every node with SIGTERM and checking that all exit 0 and logged no crash.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
from aiohttp import web

from trustnet.api.client import ClientError
from trustnet.clock import SystemClock
from trustnet.identity import Identity
from trustnet.log.entry import Entry, sign_entry
from trustnet.protocol import messages as m
from trustnet.store.schema import DB_FILE
from trustnet.testbed import cluster as tb_mod
from trustnet.transport.auth import sign_request
from trustnet.transport.base import CONTENT_TYPE, MAX_REQUEST_BYTES

from .conftest import ident, trust_body

pytestmark = pytest.mark.slow

# Aliases: pytest would try to collect classes whose names start with "Test".
Bed = tb_mod.Testbed
BedNode = tb_mod.TestbedNode

GOSSIP = {"tick_interval_s": 0.2, "backoff_max_ms": 2000}
SETTLE_S = 30.0
CLOCK = SystemClock()


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def testbed(tmp_path: Path) -> Iterator[Bed]:
    """Five running nodes; stopped with SIGTERM at the end, all must exit 0 without a crash."""
    tb = Bed(tmp_path / "tb", [f"n{i}" for i in range(5)], gossip=dict(GOSSIP))
    try:
        tb.start()
        wait(tb, lambda: all(not status(n)["catching_up"] for n in tb.nodes), "nodes ready")
        yield tb
    finally:
        codes = tb.stop()
    assert codes and set(codes.values()) == {0}, codes
    for node in tb.nodes:
        log = (node.dir / "node.log").read_text(errors="replace")
        assert "Traceback" not in log and "unexpected error" not in log, (node.name, log[-3000:])


def wait(tb: Bed, check: Callable[[], bool], what: str, timeout_s: float = SETTLE_S) -> None:
    """Poll `check` until it holds; fail naming `what` at the timeout."""
    assert tb.wait_for(check, timeout_s), f"timed out waiting for: {what}"


def status(node: BedNode) -> dict[str, Any]:
    data: dict[str, Any] = node.client.get("/status")
    return data


def forks(node: BedNode) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = node.client.get("/forks")["forks"]
    return data


def publish(node: BedNode, level: int) -> dict[str, Any]:
    result: dict[str, Any] = node.client.publish("trust", trust_body(ident(77), level))
    return result


def all_hold(tb: Bed, ids: list[str]) -> Callable[[], bool]:
    live = [n for n in tb.nodes if n.alive]
    return lambda: all(len(tb.holding(i)) == len(live) for i in ids)


def log_of(node: BedNode) -> str:
    return (node.dir / "node.log").read_text(errors="replace")


def terminate(node: BedNode) -> int:
    """SIGTERM one node and wait for its exit status."""
    assert node.proc is not None
    node.proc.send_signal(signal.SIGTERM)
    return node.proc.wait(30)


async def signed_post(session: aiohttp.ClientSession, url: str, path: str,
                      body: bytes | io.BytesIO, identity: Identity) -> tuple[int, Any]:
    """One signed gossip request; (status, decoded msgpack reply)."""
    raw = body.getvalue() if isinstance(body, io.BytesIO) else body
    headers = dict(sign_request(identity, "POST", path, raw, CLOCK.now_ms()),
                   **{"Content-Type": CONTENT_TYPE})
    async with session.post(url + path, data=body, headers=headers) as resp:
        return resp.status, msgpack.unpackb(await resp.read(), raw=False)


# -- the scenarios -------------------------------------------------------------------------


def test_publish_on_one_node_reaches_all_five(testbed: Bed) -> None:
    first = testbed.nodes[0]
    # `trustnet publish DIR` finds the running node and goes through its API.
    out = subprocess.run(
        [sys.executable, "-m", "trustnet", "publish", str(first.dir), "trust",
         "--body", json.dumps(trust_body(ident(77), 1))],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["seq"] == 2  # seq 1 commits to the next key (pre-rotation)
    wait(testbed, all_hold(testbed, [result["id"]]), "the entry on all five nodes")
    second = publish(testbed.nodes[3], 2)
    wait(testbed, all_hold(testbed, [second["id"]]), "the second entry on all five nodes")
    states = [status(n) for n in testbed.nodes]
    # Each statement follows its author's next-key commitment (seq 1).
    assert {(s["entries"], s["authors"], s["forks"]) for s in states} == {(4, 2, 0)}
    assert states[0]["own_seq"] == 2 and states[3]["own_seq"] == 2
    assert {s["node_id"] for s in states} == {n.node_id for n in testbed.nodes}


def test_killed_node_catches_up_after_restart(testbed: Bed) -> None:
    victim = testbed.nodes[2]
    own = publish(victim, 0)
    wait(testbed, all_hold(testbed, [own["id"]]), "the victim's entry everywhere")
    testbed.kill(victim)  # SIGKILL: no clean shutdown
    assert not victim.alive
    ids = [publish(testbed.nodes[i % 5], i)["id"] for i in (0, 1, 3, 4, 5, 6)]
    wait(testbed, all_hold(testbed, ids), "new entries on the four live nodes")

    testbed.start_node(victim)
    testbed.wait_up(victim)
    wait(testbed, all_hold(testbed, ids), "the restarted node catching up")
    state = status(victim)
    # Seven statements and the commitments of the nodes that signed (pre-rotation).
    assert state["entries"] == 12 and state["own_seq"] == 2  # its own log came back from disk
    wait(testbed, lambda: not status(victim)["catching_up"], "the victim ready to sign")
    assert publish(victim, 9)["seq"] == 3


def test_lost_store_recovers_own_log_and_does_not_fork(testbed: Bed) -> None:
    victim = testbed.nodes[1]
    ids = [publish(victim, level)["id"] for level in range(3)]
    wait(testbed, all_hold(testbed, ids), "the victim's three entries everywhere")
    others = [n for n in testbed.nodes if n is not victim]
    for node in [victim, *others]:
        assert terminate(node) == 0
    for path in victim.dir.glob(DB_FILE + "*"):
        path.unlink()  # the disk is lost; the identity key survived

    # Alone, it cannot learn how far its log went: it must refuse to sign.
    testbed.start_node(victim)
    # (Not `wait_up`: that waits for readiness, which this node cannot reach alone.)
    wait(testbed, lambda: status(victim)["node_id"] == victim.node_id, "the victim answering")
    assert status(victim)["catching_up"] is True
    with pytest.raises(ClientError) as refused:
        publish(victim, 99)
    assert refused.value.code == "catching_up"
    assert status(victim)["own_seq"] == 0

    for node in others:
        testbed.start_node(node)
    for node in others:
        testbed.wait_up(node)
    wait(testbed, lambda: not status(victim)["catching_up"], "the victim's own-log recovery")
    state = status(victim)
    assert state["own_seq"] == 4 and state["entries"] == 4  # with its next-key commitment
    assert "signing enabled" in log_of(victim).split("entries held")[-1]  # told the operator
    entry = publish(victim, 100)
    assert entry["seq"] == 5  # continues its chain: no second seq 1..4
    wait(testbed, all_hold(testbed, [entry["id"]]), "the victim's seq 5 everywhere")
    for node in testbed.nodes:
        assert forks(node) == []
        parties = node.client.get("/parties")["parties"]
        assert [(p["seq"], p["forked"]) for p in parties] == [(5, False)]


def test_equivocating_author_is_exposed_on_every_node(testbed: Bed) -> None:
    liar = ident(666)
    now = CLOCK.now_ms()
    first = sign_entry(liar, seq=1, prev=None, ts=now, kind="trust", body=trust_body(ident(1), 1))
    left = sign_entry(liar, seq=2, prev=first.id, ts=now, kind="trust",
                      body=trust_body(ident(1), 500))
    right = sign_entry(liar, seq=2, prev=first.id, ts=now, kind="trust",
                       body=trust_body(ident(1), -500))

    async def show(node: BedNode, entries: list[Entry]) -> None:
        async with aiohttp.ClientSession() as session:
            body = m.encode(m.Push(tuple(e.raw for e in entries)))
            code, ack = await signed_post(session, node.url, m.PUSH, body, liar)
            # (Gossip may have brought the first entries here already: then they are
            # duplicates, or the second branch becomes a fork proof on arrival.)
            assert code == 200 and ack["rejected"] == 0, ack

    # One version to one side of the network, the other to the other side.
    asyncio.run(show(testbed.nodes[0], [first, left]))
    asyncio.run(show(testbed.nodes[3], [first, right]))

    def exposed() -> bool:
        return all(any(f["author"] == liar.party_id and f["seq"] == 2 for f in forks(n))
                   for n in testbed.nodes)

    wait(testbed, exposed, "the fork proof on every node")
    for node in testbed.nodes:
        proof = next(f for f in forks(node) if f["author"] == liar.party_id)
        assert sorted(proof["ids"]) == sorted([left.id_hex, right.id_hex])
        parties = {p["party"]: p for p in node.client.get("/parties")["parties"]}
        assert parties[liar.party_id]["forked"] is True
        assert status(node)["forks"] == 1
    # Every node's operator is told, naming the author.
    wait(testbed, lambda: all(f"equivocation proven: author {liar.party_id}" in log_of(n)
                              for n in testbed.nodes), "the equivocation in every node's log")


async def test_byzantine_peer_is_graylisted_while_honest_gossip_goes_on(
        testbed: Bed) -> None:
    target = testbed.nodes[0]
    byz = ident(999)
    stats: dict[str, int] = {}

    # The byzantine node also serves garbage to whoever contacts it.
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"\xc1garbage", content_type=CONTENT_TYPE)

    app = web.Application()
    app.router.add_post("/gossip/{name}", garbage)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    byz_url = f"http://127.0.0.1:{port}"

    def note(code: int) -> None:
        stats[str(code)] = stats.get(str(code), 0) + 1

    try:
        added = await asyncio.to_thread(target.client.add_peer, byz_url)
        assert added["added"] is True
        async with aiohttp.ClientSession() as session:
            # 1. Garbage msgpack, properly signed.
            code, reply = await signed_post(session, target.url, m.PUSH, b"\xc1\x93junk", byz)
            assert (code, reply["error"]["code"]) == (400, "bad_message")
            # 2. An oversized body: refused before it is read.
            huge = io.BytesIO(bytes(MAX_REQUEST_BYTES + 1))
            code, reply = await signed_post(session, target.url, m.PUSH, huge, byz)
            assert (code, reply["error"]["code"]) == (413, "too_large")
            # 3. An entry with a forged signature, in a properly signed request.
            good = sign_entry(byz, seq=1, prev=None, ts=CLOCK.now_ms(), kind="trust",
                              body=trust_body(ident(5)))
            forged = msgpack.packb([good.payload, bytes(64)], use_bin_type=True)
            code, ack = await signed_post(session, target.url, m.PUSH,
                                          m.encode(m.Push((forged,))), byz)
            assert code == 200 and (ack["accepted"], ack["rejected"]) == (0, 1), ack

            # 4. A flood of well-signed requests, while an honest node publishes.
            async def flood() -> None:
                for i in range(120):
                    body = m.encode(m.Digest(bytes([i % 251 + 1]) * 32))
                    code, _ = await signed_post(session, target.url, m.DIGEST, body, byz)
                    note(code)

            honest = asyncio.to_thread(publish, target, 1)
            entry, _ = await asyncio.gather(honest, flood())
            assert stats.get("429", 0) >= 1 and stats.get("403", 0) >= 1, stats
            # Once graylisted, even a valid request is refused, before its signature check.
            code, reply = await signed_post(session, target.url, m.DIGEST,
                                            m.encode(m.Digest(bytes(32))), byz)
            assert (code, reply["error"]["code"]) == (403, "graylisted")

        await asyncio.to_thread(wait, testbed, all_hold(testbed, [entry["id"]]),
                                "the honest entry on all five nodes")

        def liar_records() -> dict[str, dict[str, Any]]:
            peers = target.client.get("/peers")["peers"]
            return {p["key"]: p for p in peers if p["key"] in (byz.party_id, byz_url)}

        records = await asyncio.to_thread(liar_records)
        as_node = records[byz.party_id]
        assert as_node["state"] == "graylisted" and "graylisted" in as_node["reason"]
        logged = " ".join(e["reason"] for e in as_node["log"])
        for reason in ("bad_message", "bad_signature", "rate_limited"):
            assert reason in logged, (reason, as_node["log"])
        assert as_node["rejected"] == 1
        assert f"peer {byz.party_id} graylisted" in log_of(target)  # the operator is told

        # Its garbage replies cost it too, once the target has contacted it.
        def contacted() -> bool:
            rec = liar_records().get(byz_url)
            return rec is not None and any("bad_message" in e["reason"] for e in rec["log"])

        await asyncio.to_thread(wait, testbed, contacted, "the garbage server penalized")
        assert (await asyncio.to_thread(liar_records))[byz_url]["score"] < 0
    finally:
        await runner.cleanup()

    # The forged entry went nowhere; honest gossip carried on.
    for node in testbed.nodes:
        assert node.client.get(f"/entries?author={byz.party_id}")["entries"] == []
        assert status(node)["entries"] == 2  # a statement and its signer's commitment
