"""Propagation benchmark: real node processes on loopback, and in-sync anti-entropy cost.

1. Time to all: a `Testbed` of N real `trustnet run` processes (ring plus random chords,
   3 configured peers each, gossip tick `--tick` s). Each of P publishes goes to a node
   chosen by a seeded RNG through its admin API; the clock starts just before the
   request, and every node is polled (`GET /entries/{id}`, one coroutine per node, every
   `--poll` s) until it holds the entry. Reported: median, p90 and max of the time until
   all N hold it, and the poll interval (the resolution of the figure). `--tls`: every node
   serves TLS and verifies its peers against a throwaway CA made for the run (the polls and
   publishes go over TLS too).
2. Anti-entropy bytes per round per peer when in sync, for 10 and for 200 authors: two
   nodes holding the same entries on the in-memory transport (the real protocol and
   request signing, counted by `MemoryNetwork`); one round is one digest exchange with
   one peer. DESIGN 11 wants it constant: it must not grow with the number of authors.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from trustnet.clock import ManualClock
from trustnet.config.loader import read_admin_token
from trustnet.identity import Identity
from trustnet.log.entry import sign_entry
from trustnet.node.core import Node
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store
from trustnet.testbed.cluster import Testbed
from trustnet.transport.memory import MemoryNetwork

SETTLE_TIMEOUT_S = 60.0
START_TIMEOUT_S = 180.0


def _subject(i: int) -> str:
    return hashlib.sha256(f"bench-subject-{i}".encode()).hexdigest()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- 1. time from publish to all nodes holding the entry ----------------------------------------


async def _poll_until_held(session: aiohttp.ClientSession, url: str, entry_id: str,
                           poll_s: float, deadline: float) -> float:
    """When (perf_counter) the node at `url` first answered 200 for the entry."""
    while True:
        async with session.get(f"{url}/entries/{entry_id}") as resp:
            await resp.read()
            if resp.status == 200:
                return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{url} did not get {entry_id[:16]} within {SETTLE_TIMEOUT_S} s")
        await asyncio.sleep(poll_s)


async def _measure(testbed: Testbed, publishes: int, poll_s: float, seed: int) -> list[float]:
    from trustnet.transport.tls import client_context

    rng = random.Random(seed)
    urls = [n.url for n in testbed.nodes]
    times: list[float] = []
    ca_file = testbed.ca_file
    limits = aiohttp.TCPConnector(limit=len(urls) + 4,
                                  ssl=client_context(ca_file) if ca_file else True)
    async with aiohttp.ClientSession(connector=limits) as session:
        for k in range(publishes):
            node = rng.choice(testbed.nodes)
            token = read_admin_token(node.dir)
            body = {"kind": "trust", "body": {"subject": _subject(k), "level": k % 1000}}
            t0 = time.perf_counter()
            async with session.post(f"{node.url}/entries", json=body,
                                    headers={"Authorization": f"Bearer {token}"}) as resp:
                data = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"publish on {node.name} failed: {data}")
            deadline = t0 + SETTLE_TIMEOUT_S
            held = await asyncio.gather(*(
                _poll_until_held(session, url, data["id"], poll_s, deadline) for url in urls))
            times.append(max(held) - t0)
    return times


def time_to_all(nodes: int = 20, publishes: int = 20, *, tick_s: float = 0.2,
                poll_s: float = 0.01, seed: int = 1, base: Path | None = None,
                tls: bool = False) -> dict[str, Any]:
    """Start `nodes` real processes, publish `publishes` times; the time-to-all figures."""
    with tempfile.TemporaryDirectory(prefix="trustnet-bench-prop-") as tmp:
        folder = base or Path(tmp)
        names = [f"node-{i + 1:02d}" for i in range(nodes)]
        testbed = Testbed(folder, names, peers_per_node=3, seed=seed,
                          gossip={"tick_interval_s": tick_s}, tls=tls)
        t0 = time.perf_counter()
        try:
            # Started by hand rather than `start()`: N interpreters booting at once on a
            # small machine can take longer than the testbed's default start timeout.
            testbed.create()
            for node in testbed.nodes:
                testbed.start_node(node)
            for node in testbed.nodes:
                testbed.wait_up(node, START_TIMEOUT_S)
            start_s = time.perf_counter() - t0
            times = asyncio.run(_measure(testbed, publishes, poll_s, seed))
        finally:
            codes = testbed.stop()
    return {
        "tls": tls,
        "nodes": nodes,
        "publishes": publishes,
        "tick_s": tick_s,
        "poll_s": poll_s,
        "startup_s": round(start_s, 2),
        "median_s": round(statistics.median(times), 3),
        "p90_s": round(_percentile(times, 0.9), 3),
        "max_s": round(max(times), 3),
        "min_s": round(min(times), 3),
        "clean_exits": sum(1 for c in codes.values() if c == 0),
    }


# -- 2. in-sync anti-entropy bytes ------------------------------------------------------------


def _identity(label: str) -> Identity:
    return Identity.from_seed(hashlib.sha256(label.encode()).digest())


async def _in_sync_bytes(authors: int, rounds: int) -> dict[str, Any]:
    clock = ManualClock()
    net = MemoryNetwork(rng=random.Random(authors))
    # Peer exchange off: it is not anti-entropy (and costs the same whatever the store holds).
    config = GossipConfig(tick_interval_s=None, peer_exchange_every=0)
    now = clock.now_ms()
    entries = [
        sign_entry(_identity(f"author-{i}"), seq=1, prev=None, ts=now, kind="trust",
                   body={"subject": _subject(i), "level": i % 1000}).raw
        for i in range(authors)
    ]
    nodes: list[Node] = []
    for name, peer in (("a", "b"), ("b", "a")):
        me = _identity(f"bench-node-{name}")
        store = Store(None)
        store.ingest(entries, now)
        node = Node(me, store, net.transport(f"http://{name}.bench", me, clock), clock=clock,
                    rng=random.Random(name), config=config, peers=[f"http://{peer}.bench"],
                    recover_own=False)  # fresh nodes, as made by `init`
        await node.start()
        nodes.append(node)
    try:
        # Settle: digests equal (they are: same entries).
        for _ in range(20):
            clock.advance(1000)
            for node in nodes:
                await node.tick()
            for node in nodes:
                await node.idle()
        if any(n.protocol.catching_up for n in nodes) or \
                nodes[0].protocol.digest() != nodes[1].protocol.digest():
            raise RuntimeError("the two nodes did not settle in sync")
        net.reset_counters()
        for _ in range(rounds):
            clock.advance(1000)
            await nodes[0].tick()
            await nodes[0].idle()
        if set(net.requests) != {m.DIGEST} or net.requests[m.DIGEST] != rounds:
            raise RuntimeError(f"in sync, yet requests other than digests: {dict(net.requests)}")
        body = (net.bytes_sent[m.DIGEST] + net.bytes_received[m.DIGEST]) / rounds
        headers = net.header_bytes / rounds
        return {
            "authors": authors,
            "request_body_bytes": net.bytes_sent[m.DIGEST] / rounds,
            "reply_body_bytes": net.bytes_received[m.DIGEST] / rounds,
            "body_bytes_per_round": body,
            "auth_header_bytes_per_round": headers,
            "bytes_per_round": body + headers,
        }
    finally:
        for node in nodes:
            await node.stop()


def anti_entropy_bytes(authors: tuple[int, ...] = (10, 200), rounds: int = 10) -> dict[str, Any]:
    """In-sync anti-entropy bytes per round per peer, for each author count."""
    per = {str(a): asyncio.run(_in_sync_bytes(a, rounds)) for a in authors}
    sizes = {p["bytes_per_round"] for p in per.values()}
    return {"rounds": rounds, "by_authors": per, "constant": len(sizes) == 1}


# -- entry points -----------------------------------------------------------------------------


def run(nodes: int = 20, publishes: int = 20, *, tick_s: float = 0.2, poll_s: float = 0.01,
        seed: int = 1, tls: bool = False) -> dict[str, Any]:
    """Both figures: time to all nodes, and in-sync anti-entropy bytes for 10 and 200 authors."""
    return {
        "time_to_all": time_to_all(nodes, publishes, tick_s=tick_s, poll_s=poll_s, seed=seed,
                                   tls=tls),
        "anti_entropy": anti_entropy_bytes((10, 200)),
    }


def main(argv: list[str] | None = None) -> int:
    """`trustnet bench propagation [--nodes N] [--publishes P] [--tick S] [--poll S] [--tls]
    [--json]`."""
    p = argparse.ArgumentParser(prog="trustnet bench propagation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=20)
    p.add_argument("--publishes", type=int, default=20)
    p.add_argument("--tick", type=float, default=0.2, help="gossip tick interval (s)")
    p.add_argument("--poll", type=float, default=0.01, help="poll interval per node (s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tls", action="store_true", help="nodes serve and verify TLS "
                   "(a throwaway CA for the run)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    print(f"starting {args.nodes} node processes{' with TLS' if args.tls else ''}, then "
          f"{args.publishes} publishes...", file=sys.stderr)
    result = run(args.nodes, args.publishes, tick_s=args.tick, poll_s=args.poll, seed=args.seed,
                 tls=args.tls)
    if args.json:
        print(json.dumps(result))
        return 0
    for k, v in result["time_to_all"].items():
        print(f"{k:<28} {v}")
    for authors, row in result["anti_entropy"]["by_authors"].items():
        print(f"in-sync bytes/round/peer, {authors:>3} authors: {row['bytes_per_round']:.0f} "
              f"(bodies {row['body_bytes_per_round']:.0f} + auth headers "
              f"{row['auth_header_bytes_per_round']:.0f})")
    print(f"{'constant in authors':<28} {result['anti_entropy']['constant']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
