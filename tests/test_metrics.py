"""GET /metrics: the node's own Prometheus registry, scraped from running nodes.

Daemons bound to 127.0.0.1 port 0, their tick loops off: the tests tick them by hand
and wait on conditions. Scrapes are parsed with prometheus_client's own parser.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.daemons import running_daemons
from trustnet.api.app import build_app
from trustnet.clock import ManualClock, SystemClock
from trustnet.log.entry import sign_entry
from trustnet.node.core import Node
from trustnet.node.daemon import Daemon
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store
from trustnet.transport.auth import sign_request
from trustnet.transport.base import CONTENT_TYPE
from trustnet.transport.memory import MemoryNetwork

from .conftest import ident, trust_body

MANUAL = GossipConfig(tick_interval_s=None)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- helpers -------------------------------------------------------------------------------


def parse(text: str) -> Samples:
    """Every sample of a scrape: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet, as Prometheus reads it)."""
    return samples.get((metric, frozenset(labels.items())), 0.0)


def total(samples: Samples, metric: str, /, **labels: str) -> float:
    """The sum of every series of `metric` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == metric and want <= ls)


def families(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text)}


async def scrape_text(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return await resp.text()


async def scrape(session: aiohttp.ClientSession, url: str) -> Samples:
    return parse(await scrape_text(session, url))


async def call(session: aiohttp.ClientSession, method: str, url: str, *, token: str | None = None,
               body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def push(session: aiohttp.ClientSession, url: str, raws: list[bytes], signer: int) -> Any:
    """A signed gossip push of raw entries, as another node would send it."""
    body = m.encode(m.Push(tuple(raws), ()))
    headers = sign_request(ident(signer), "POST", m.PUSH, body, SystemClock().now_ms())
    headers["Content-Type"] = CONTENT_TYPE
    async with session.post(url + m.PUSH, data=body, headers=headers) as resp:
        assert resp.status == 200
        return m.decode_reply(m.PUSH, await resp.read())


async def settle(daemons: list[Daemon], done: Any, rounds: int = 200) -> int:
    """Tick every daemon (and wait for its requests) until `done()`; the ticks it took."""
    for i in range(1, rounds + 1):
        for d in daemons:
            await d.node.tick()
        for d in daemons:
            await d.node.idle()
        if await done():
            return i
    raise AssertionError(f"not settled after {rounds} ticks")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


@pytest.fixture
async def daemons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> AsyncIterator[list[Daemon]]:
    """Two daemons in this process, not peers of each other."""
    async with running_daemons(tmp_path, ("alpha", "beta"), gossip=MANUAL, ready=True) as started:
        capsys.readouterr()
        yield started


# -- tests ---------------------------------------------------------------------------------


async def test_scrape_matches_status_and_each_node_has_its_own_registry(
        daemons: list[Daemon], session: aiohttp.ClientSession) -> None:
    a, b = daemons
    assert a.url and b.url
    for level in (1, 2, 3):
        status, _ = await call(session, "POST", a.url + "/entries", token=a.token,
                               body={"kind": "trust", "body": trust_body(ident(9), level)})
        assert status == 201
    status, missing = await call(session, "GET", a.url + "/entries/" + "00" * 32)
    assert status == 404 and missing["error"]["code"] == "not_found"

    sa, sb = await scrape(session, a.url), await scrape(session, b.url)
    _, st = await call(session, "GET", a.url + "/status")
    for key in ("entries", "authors", "forks", "own_seq"):
        assert value(sa, f"trustnet_{key}") == st[key], key
    assert value(sa, "trustnet_entries") == 4 and value(sb, "trustnet_entries") == 0  # + commitment
    assert value(sa, "trustnet_peers", kind="url", state="ok") == st["peers"]
    assert value(sa, "trustnet_catching_up") == 0
    assert value(sa, "trustnet_gossip_ticks_total") == a.node.protocol.stats["ticks"] == 1
    assert value(sa, "trustnet_node_info", node_id=a.identity.party_id,
                 version=st["version"]) == 1
    assert total(sb, "trustnet_node_info", node_id=a.identity.party_id) == 0
    # A's API error is A's alone: the registries are separate objects, not the global one.
    assert value(sa, "trustnet_rejected_inputs_total", source="api", code="not_found") == 1
    assert total(sb, "trustnet_rejected_inputs_total") == 0
    assert a.node.metrics.registry is not b.node.metrics.registry
    from prometheus_client import REGISTRY
    assert REGISTRY.get_sample_value("trustnet_entries") is None


async def test_refused_inputs_are_counted_by_source_and_code(
        daemons: list[Daemon], session: aiohttp.ClientSession) -> None:
    a = daemons[0]
    assert a.url
    entry = {"kind": "trust", "body": trust_body(ident(9))}
    assert (await call(session, "POST", a.url + "/entries", body=entry))[0] == 401
    bad = {"kind": "trust", "body": {"subject": "nobody", "level": 1}}
    status, data = await call(session, "POST", a.url + "/entries", token=a.token, body=bad)
    assert status == 400
    bad_code = data["error"]["code"]
    # An unsigned gossip request: refused (401) before anything is decoded.
    async with session.post(a.url + m.DIGEST, data=b"\x80",
                            headers={"Content-Type": CONTENT_TYPE}) as resp:
        assert resp.status == 401
    # A signed push whose third entry lies an hour ahead of the node's clock.
    c, now = ident(7), SystemClock().now_ms()
    e1 = sign_entry(c, seq=1, prev=None, ts=now, kind="trust", body=trust_body(ident(9)))
    e2 = sign_entry(c, seq=2, prev=e1.id, ts=now + 3_600_000, kind="trust",
                    body=trust_body(ident(9), 7))
    ack = await push(session, a.url, [e1.raw, e2.raw], signer=7)
    assert (ack.accepted, ack.rejected) == (1, 1)

    s = await scrape(session, a.url)
    rejected = "trustnet_rejected_inputs_total"
    assert value(s, rejected, source="api", code="unauthorized") == 1
    assert value(s, rejected, source="api", code=bad_code) == 1
    assert value(s, rejected, source="gossip", code="unsigned") == 1
    assert value(s, rejected, source="ingest", code="bad_timestamp") == 1
    assert value(s, "trustnet_gossip_rejected_entries_total") == 1
    received = "trustnet_gossip_requests_received_total"
    assert value(s, received, type="digest", outcome="unsigned") == 1
    assert value(s, received, type="push", outcome="ok") == 1
    assert value(s, "trustnet_gossip_received_bytes_count", type="push", role="server") == 1


async def test_gossip_between_two_nodes_fills_the_histograms(
        daemons: list[Daemon], session: aiohttp.ClientSession) -> None:
    a, b = daemons
    assert a.url and b.url
    assert (await call(session, "POST", a.url + "/peers", token=a.token,
                       body={"url": b.url}))[0] == 201
    entry = await a.node.publish("trust", trust_body(ident(9)))

    async def b_holds() -> bool:
        return b.store.get(entry.id) is not None

    ticks = await settle(daemons, b_holds)
    sa, sb = await scrape(session, a.url), await scrape(session, b.url)
    assert value(sa, "trustnet_gossip_ticks_total") == 1 + ticks  # the fixture's tick too
    assert value(sa, "trustnet_gossip_rounds_total") >= 1
    assert value(sa, "trustnet_peers", kind="url", state="ok") == 1
    sent = total(sa, "trustnet_gossip_requests_sent_total", outcome="ok")
    assert sent >= 1
    duration = "trustnet_gossip_request_duration_seconds"
    assert total(sa, duration + "_count", outcome="ok") == sent
    inf = total(sa, duration + "_bucket", outcome="ok", le="+Inf")
    assert inf == sent
    # Cumulative buckets: never decreasing, and the samples carry every bucket bound.
    for kind in ("digest", "push"):
        buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in sa.items()
                          if n == duration + "_bucket" and ("type", kind) in ls
                          and ("outcome", "ok") in ls), key=lambda bv: bv[0])
        assert len(buckets) == 15, kind  # 14 bounds and +Inf
        assert all(x[1] <= y[1] for x, y in pairwise(buckets))
        assert buckets[-1][1] >= 1
    assert total(sa, "trustnet_gossip_sent_bytes_sum", role="client") > 0
    assert total(sa, "trustnet_gossip_received_bytes_count", role="client") == sent
    # What A sent as a client, B received as a server: same bodies, same bytes.
    assert total(sb, "trustnet_gossip_received_bytes_sum", role="server") >= \
        total(sa, "trustnet_gossip_sent_bytes_sum", role="client") > 0
    assert total(sb, "trustnet_gossip_requests_received_total", outcome="ok") >= sent
    assert value(sb, "trustnet_entries") == value(sa, "trustnet_entries") == 2  # + commitment


async def test_belief_and_suspicion_gauges_per_party(
        daemons: list[Daemon], session: aiohttp.ClientSession) -> None:
    a = daemons[0]
    assert a.url
    me = a.identity.party_id
    text = await scrape_text(session, a.url)
    assert "trustnet_suspicion_level" in families(text)  # the family is there, still empty
    # Party C names itself and signs a hostile trust statement about this node.
    c, now = ident(7), SystemClock().now_ms()
    profile = sign_entry(c, seq=1, prev=None, ts=now, kind="profile",
                         body={"name": "Gamma", "role": "state", "urls": []})
    hostile = sign_entry(c, seq=2, prev=profile.id, ts=now, kind="trust",
                         body=trust_body(me, -800))
    ack = await push(session, a.url, [profile.raw, hostile.raw], signer=7)
    assert ack.accepted == 2

    s = await scrape(session, a.url)
    who = {"party": c.party_id, "name": "Gamma"}
    _, belief = await call(session, "GET", f"{a.url}/beliefs/{c.party_id}")
    assert value(s, "trustnet_belief_reliability", **who) == belief["reliability"]["p"]
    assert value(s, "trustnet_belief_compliance", **who) == belief["verified"]["score"]
    assert value(s, "trustnet_belief_compliance_raw", **who) == belief["raw"]["score"]
    assert value(s, "trustnet_belief_reliability", party=me, name="") == 1.0  # this node
    _, susp = await call(session, "GET", f"{a.url}/suspicion/{c.party_id}")
    assert ("trustnet_suspicion_level", frozenset(who.items())) in s
    assert value(s, "trustnet_suspicion_escalation_index", **who) == pytest.approx(
        susp["escalation_index"])
    regimes = {dict(ls)["regime"]: v for (n, ls), v in s.items()
               if n == "trustnet_suspicion_regime" and ("party", c.party_id) in ls}
    assert set(regimes) == {"escalating", "stable", "de-escalating"}
    assert regimes[susp["regime"]] == 1 and sum(regimes.values()) == 1
    assert value(s, "trustnet_metrics_scrape_errors_total") == 0


async def test_a_node_without_views_serves_metrics(session: aiohttp.ClientSession) -> None:
    """A bare Node (no daemon, no belief views) behind `build_app`: the scrape still works."""
    clock, net = ManualClock(), MemoryNetwork()
    identity = ident(5)
    node = Node(identity, Store(None), net.transport("http://mem-5", identity, clock),
                clock=clock, rng=random.Random(5), config=MANUAL)
    await node.start()
    await node.tick()
    runner = web.AppRunner(build_app(node, name="bare", token="t" * 32))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = next(addr[1] for addr in runner.addresses if isinstance(addr, tuple))
        text = await scrape_text(session, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
        await node.stop()
    s = parse(text)
    assert value(s, "trustnet_entries") == 0 and value(s, "trustnet_gossip_ticks_total") == 1
    assert not families(text) & {"trustnet_belief_reliability", "trustnet_suspicion_level"}
    assert node.errors == []
