"""The protocol package is sans-IO and sans-storage, and its admission policy is the one
both the node and the simulator run (issue 13 items 1 and 2)."""

from __future__ import annotations

import ast
import hashlib
import random
from pathlib import Path

import pytest

import trustnet.protocol
from trustnet.clock import ManualClock
from trustnet.identity import Identity
from trustnet.log.entry import sign_entry
from trustnet.node.core import Node
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.sim.config import SimConfig
from trustnet.sim.engine import Simulator
from trustnet.store.sqlite import Store
from trustnet.transport.auth import HEADER_NODE, RequestSigner
from trustnet.transport.base import TransportError
from trustnet.transport.memory import MemoryNetwork

PACKAGE = Path(trustnet.protocol.__file__).parent
# What the protocol may import of trustnet: the entry layer, identities, errors, the clock
# interface, and itself. Nothing that stores, sends, waits or reads the time.
ALLOWED = ("trustnet.log.entry", "trustnet.identity", "trustnet.errors", "trustnet.clock",
           "trustnet.protocol")
FORBIDDEN_STDLIB = {"asyncio", "sqlite3", "aiohttp", "threading", "time", "socket",
                    "selectors", "subprocess", "concurrent", "multiprocessing", "os"}
T0 = 1_767_225_600_000


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, at any depth (inside functions and TYPE_CHECKING too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}:{node.lineno}: relative import"
            base = node.module or ""
            out.append((node.lineno, base))
            # `from trustnet import store` imports trustnet.store
            out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names
                    if base == "trustnet"]
    return out


def test_the_protocol_package_imports_no_storage_and_no_io() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 5  # __init__, gossip, messages, peers, replica, admission
    bad = []
    for path in files:
        for line, name in _imports(path):
            top = name.split(".")[0]
            if top == "trustnet":
                if name != "trustnet" and not name.startswith(ALLOWED):
                    bad.append(f"{path.name}:{line}: {name}")
            elif top in FORBIDDEN_STDLIB:
                bad.append(f"{path.name}:{line}: {name}")
    assert bad == []


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from trustnet import store\n    import sqlite3\n")
    assert {name for _, name in _imports(sneaky)} == {"trustnet", "trustnet.store", "sqlite3"}


def _ident(name: str) -> Identity:
    return Identity.from_seed(hashlib.sha256(name.encode()).digest())


async def test_node_and_simulator_refuse_alike_through_one_admission_policy() -> None:
    """The same bad requests, sent over the in-memory network to a real node and to a
    simulated one, are refused with the same codes and charge the sender the same way:
    both run `protocol.admission.admit` (the simulator used to skip unknown paths)."""
    sim = Simulator(SimConfig(nodes=4, peers=2, seed=1))
    net = MemoryNetwork()
    clock = ManualClock(T0)
    node = Node(_ident("node"), Store(None), net.transport("http://node", _ident("node"), clock),
                clock=clock, rng=random.Random(1), config=GossipConfig(tick_interval_s=None),
                recover_own=False)
    await node.start()
    stranger = _ident("stranger")
    signer = RequestSigner(stranger, clock)
    big = b"\x00" * (GossipConfig().max_message_bytes + 1)
    cases = [("/gossip/nope", m.encode(m.InSync()), "unknown_path"),
             (m.DIGEST, b"\xc1", "bad_message"),
             (m.DIGEST, big, "too_large")]
    try:
        for path, body, code in cases:
            got = []
            for network, url, headers in (
                (net, "http://node", signer.headers("POST", path, body)),
                (sim.network, sim.urls[0], {HEADER_NODE: stranger.party_id}),
            ):
                with pytest.raises(TransportError) as info:
                    network.send("http://stranger", url, path, headers, body)
                got.append(info.value.code)
            assert got == [code, code]
        # Both charged the stranger for the unknown path and the garbage (by node id) and
        # for the oversized body (by its address) alike.
        for table in (node.protocol.peers, sim.protocols[0].peers):
            record = table.get(stranger.party_id)
            assert record is not None and table.score(stranger.party_id, T0) < 0
            address = table.get("http://stranger")
            assert address is not None and table.score("http://stranger", T0) < 0
        assert node.errors == []
    finally:
        await node.stop()


async def test_the_node_pushes_what_the_protocol_says_happened() -> None:
    """The protocol returns events (no hook, no counters read back): the node tells its
    listeners of entries it learned and counts the entries it rejected by code."""
    net = MemoryNetwork()
    clock = ManualClock(T0)
    cfg = GossipConfig(tick_interval_s=None)
    nodes = []
    for name, peer in (("a", "b"), ("b", "a")):
        who = _ident(name)
        nodes.append(Node(who, Store(None), net.transport(f"http://{name}", who, clock),
                          clock=clock, rng=random.Random(name), config=cfg,
                          peers=[f"http://{peer}"], recover_own=False))
    a, b = nodes
    heard: list[object] = []
    b.subscribe(heard.append)
    b.subscribe(heard.append)  # idempotent
    for node in nodes:
        await node.start()
    try:
        entry = await a.publish("trust", {"subject": "ab" * 32, "level": 1})
        await a.idle()
        await b.idle()
        learned = [e for e in heard if getattr(e, "entries", None)]
        assert [x.entries for x in learned] == [(entry,)]  # type: ignore[attr-defined]
        # A stranger pushes an entry with a broken signature: rejected, counted by code.
        stranger = _ident("stranger")
        good = sign_entry(stranger, seq=1, prev=None, ts=T0, kind="trust",
                          body={"subject": "cd" * 32, "level": 1})
        forged = good.raw[:-1] + bytes([good.raw[-1] ^ 1])
        body = m.encode(m.Push((forged,)))
        net.send("http://stranger", "http://b", m.PUSH,
                 RequestSigner(stranger, clock).headers("POST", m.PUSH, body), body)
        text = b.metrics.render()[0].decode()
        assert any('source="ingest"' in line and 'code="bad_signature"' in line
                   for line in text.splitlines())
        assert b.protocol.take_events() == []  # the node drained them
        assert a.errors == [] and b.errors == []
    finally:
        for node in nodes:
            await node.stop()
