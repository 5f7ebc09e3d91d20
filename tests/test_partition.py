"""`POST /partition`, the network fault of testbed scenarios, on real daemons in one event loop.

Three daemons on loopback with a fast tick. The route needs the admin token; a partitioned
node refuses gossip from the peers it is cut off from (`partitioned`, 503) and fails its own
requests to them at once; entries published on each side stay there; an empty set heals and
the nodes converge. Settling is by polling a condition with a timeout, never by sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness.http import Api, api_of, assert_error, gossip, gossip_error
from tests.harness.wait import wait_until
from trustnet.config.loader import load_table
from trustnet.node.daemon import Daemon
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig

from .conftest import ident, trust_body
from .daemons import running_daemons

# Back-off kept short so that healed peers are retried at once.
FAST = load_table(GossipConfig, {"tick_interval_s": 0.05, "backoff_max_ms": 300}, "gossip")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[list[Daemon]]:
    """Three daemons on free ports, each a peer of the other two."""
    async with running_daemons(tmp_path, ("alpha", "beta", "gamma"), gossip=FAST,
                               peered=True) as started:
        yield started


async def cut(api: Api, peers: list[str]) -> Any:
    status, data = await api.call("POST", "/partition", body={"peers": peers}, auth=True)
    assert status == 200, data
    return data


def across(*daemons: Daemon) -> list[str]:
    """Ids and URLs of these daemons (what the testbed sends)."""
    out: list[str] = []
    for d in daemons:
        assert d.url is not None
        out += [d.identity.party_id, d.url]
    return out


async def heads(api: Api) -> list[tuple[str, int, str]]:
    return [(p["party"], p["seq"], p["head"]) for p in (await api.get("/parties"))["parties"]]


async def test_partition_needs_the_admin_token_and_a_list(trio: list[Daemon],
                                                          session: aiohttp.ClientSession) -> None:
    a = api_of(trio[0], session)
    body = {"peers": [trio[1].identity.party_id]}
    assert_error(*await a.call("POST", "/partition", body=body), 401, "unauthorized")
    assert_error(*await a.call("POST", "/partition", body=body, auth="wrong"), 401, "unauthorized")
    assert trio[0].node.partition == frozenset()
    assert_error(*await a.call("POST", "/partition", body={"peers": "all"}, auth=True), 400,
                 "bad_argument")
    assert_error(*await a.call("POST", "/partition", body={}, auth=True), 400, "bad_argument")
    assert_error(*await a.call("POST", "/partition", body={"peers": ["ftp://x"]}, auth=True), 400)
    peers = across(trio[2], trio[1])
    assert (await cut(a, [*peers, f"{trio[1].url}/"])) == {"partition": sorted(peers)}
    assert trio[0].node.partition == frozenset(peers)
    assert (await cut(a, [])) == {"partition": []}  # an empty set heals
    assert trio[0].node.partition == frozenset()


async def test_a_partition_holds_both_ways_and_heals(trio: list[Daemon],
                                                     session: aiohttp.ClientSession) -> None:
    alpha, beta, gamma = trio
    a, b, c = (api_of(d, session) for d in trio)
    for x in (a, b, c):
        await x.ready()
    # gamma is cut off from alpha and beta.
    await cut(a, across(gamma))
    await cut(b, across(gamma))
    await cut(c, across(alpha, beta))

    # Inbound: gossip signed by gamma is refused with `partitioned`; other peers are served.
    digest = m.encode(m.Digest(b"\0" * 32))
    gossip_error(await gossip(session, a.url, m.DIGEST, digest, identity=gamma.identity), 503,
                 "partitioned")
    status, _ = await gossip(session, a.url, m.DIGEST, digest, identity=ident(5))
    assert status == 200

    on_a = (await a.call("POST", "/entries", auth=True,
                         body={"kind": "trust", "body": trust_body(ident(7))}))[1]["id"]
    on_c = (await c.call("POST", "/entries", auth=True,
                         body={"kind": "trust", "body": trust_body(ident(8))}))[1]["id"]

    async def tried_across() -> bool:
        # Outbound: each side's requests to the other failed at once, as to a dead peer.
        views = [(await a.get("/peers", auth=True), gamma.url),
                 (await c.get("/peers", auth=True), alpha.url)]
        return await b.holds(on_a) and all(
            any(p["key"] == url and p["last_error"] == "partitioned" for p in v["peers"])
            for v, url in views)

    await wait_until(tried_across)
    assert not await c.holds(on_a)
    assert not await a.holds(on_c) and not await b.holds(on_c)
    assert gamma.url is not None  # a dead peer, not a bad one: never graylisted
    assert alpha.node.protocol.peers.get(gamma.url) is not None
    assert not alpha.node.protocol.peers.is_ignored(gamma.url, alpha.clock.now_ms())

    for x in (a, b, c):
        await cut(x, [])

    async def converged() -> bool:
        views = [await heads(x) for x in (a, b, c)]
        return views[0] == views[1] == views[2] and len(views[0]) == 2

    await wait_until(converged)
    assert all([await x.holds(on_a) and await x.holds(on_c) for x in (a, b, c)])
