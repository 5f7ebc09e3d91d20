"""The live analysis off the event loop (issue 15 item 5, trustnet/analysis/live.py).

A node whose analysis is still computing keeps answering `/status`, `/parties`, its admin
writes and a stranger's gossip; `/beliefs` and `/suspicion` answer 503 `analysis_pending`
(with Retry-After) until the first view is complete, then the last complete view with how
far behind the store it is; the views served equal those computed on the spot. The worker
is held on a threading.Event here: a first analysis of 100,000 authors takes minutes, which
`trustnet bench large` measures on real processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.harness.api import start
from tests.harness.http import Api, assert_error, gossip
from tests.harness.nodes import LOOPBACK
from tests.harness.wait import wait_until
from trustnet import heap
from trustnet.analysis import live as live_module
from trustnet.analysis.views import NodeViews, Settings
from trustnet.api.access import API_KEY
from trustnet.bench.large import STEP_MS, T0, generate
from trustnet.bench.stranger import Stranger
from trustnet.clock import ManualClock
from trustnet.config.loader import NodeConfig, load_config
from trustnet.config.nodedir import init_node_dir
from trustnet.node.daemon import Daemon
from trustnet.protocol import messages as m
from trustnet.protocol.config import GossipConfig
from trustnet.store.sqlite import Store

BUDGET = "analysis_budget_s = 0.5"


class Gate:
    """Holds the live analysis' refreshes until opened (the worker thread waits on it)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.waiting = threading.Event()
        refresh: Callable[..., Any] = live_module.LiveAnalysis._refresh

        def held(analysis: live_module.LiveAnalysis, *args: Any) -> Any:
            self.waiting.set()
            if not self.open.wait(30):
                raise TimeoutError("the gate was never opened")
            return refresh(analysis, *args)

        monkeypatch.setattr(live_module.LiveAnalysis, "_refresh", held)

    def close(self) -> None:
        self.open.clear()
        self.waiting.clear()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def caught_up(daemon: Daemon) -> None:
    """Until the live analysis published a view of everything the store holds (a test's
    reads then do not depend on how fast a loaded machine computes it within the budget)."""
    live = daemon.live
    assert live is not None
    live.kick()
    await wait_until(lambda: live.published is not None and live.behind(live.published) == 0,
                     "the live analysis caught up")


def _ingest(daemon: Daemon, n: int, authors: int, seed: int = 1) -> int:
    entries = list(generate(n, authors, seed))
    result = daemon.store.ingest(entries, T0 + n * STEP_MS + 1)
    return len(result.accepted)


async def test_a_node_answers_everything_else_while_its_first_analysis_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession) -> None:
    gate = Gate(monkeypatch)
    daemon = await start(tmp_path, BUDGET)
    try:
        assert daemon.url is not None
        _ingest(daemon, 400, 40)
        api = Api(session, daemon.url, daemon.token)
        await wait_until(gate.waiting.is_set, "the first analysis started")
        party = daemon.identity.party_id
        # The analysis is held (until the gate opens): the event loop is not, every other
        # route answers.
        status = await api.get("/status")
        assert status["entries"] >= 400
        assert len((await api.get("/parties?limit=10"))["parties"]) == 10
        assert (await api.call("POST", "/entries", auth=True,
                               body={"kind": "trust", "body": {"subject": "ab" * 32,
                                                                "level": 300}}))[0] == 201
        stranger = Stranger.fresh()
        body = m.encode(m.Digest(bytes(32)))
        code, reply = await gossip(session, daemon.url, m.DIGEST, body,
                                   identity=stranger.identity)
        assert code == 200 and reply, reply
        # The views say why they cannot answer yet, and when to ask again.
        for path in ("/beliefs", f"/beliefs/{party}", "/suspicion", f"/suspicion/{party}",
                     "/graph", "/bridges", "/compliance"):
            async with session.get(daemon.url + path,
                                   headers={"Authorization": f"Bearer {daemon.token}"}) as r:
                assert r.status == 503 and r.headers["Retry-After"].isdigit(), path
                assert_error(r.status, await r.json(), 503, "analysis_pending")
        # /metrics answers without the per-party gauges; the entry's page without its standing.
        metrics = await api.call("GET", "/metrics")
        assert metrics[0] == 200 and "trustnet_belief_reliability{" not in metrics[1]
        head = daemon.store.head(daemon.identity.author)
        assert head is not None
        entry = await api.get(f"/entries/{head.id.hex()}")
        assert entry["id"] == head.id.hex() and "standing" not in entry
        gate.open.set()
        await caught_up(daemon)
        beliefs = await api.get("/beliefs?limit=1000", auth=True)
        assert beliefs["behind"] == 0 and len(beliefs["parties"]) >= 40
        assert party in {p["party"] for p in beliefs["parties"]}
        suspicion = await api.get("/suspicion", auth=True)
        assert suspicion["behind"] == 0

        async def standing() -> bool:
            return "standing" in await api.get(f"/entries/{head.id.hex()}")

        await wait_until(standing, "the entry's standing")
        assert daemon.node.errors == [], daemon.node.errors
    finally:
        gate.open.set()
        await daemon.stop()


async def test_past_the_budget_the_last_complete_view_is_served_saying_how_far_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession) -> None:
    gate = Gate(monkeypatch)
    gate.open.set()
    daemon = await start(tmp_path, BUDGET)
    try:
        assert daemon.url is not None and daemon.live is not None
        api = Api(session, daemon.url, daemon.token)
        _ingest(daemon, 200, 20)
        await caught_up(daemon)
        before = await api.get("/beliefs?limit=1000", auth=True)
        assert before["behind"] == 0
        gate.close()  # the next refresh is held
        added = _ingest(daemon, 60, 80, seed=2)  # 60 profiles of new authors
        stale = await api.get("/beliefs?limit=1000", auth=True)
        assert stale["behind"] == added and stale["parties"] == before["parties"]
        assert (await api.get("/suspicion", auth=True))["behind"] == added
        gate.open.set()
        await caught_up(daemon)
        fresh = await api.get("/beliefs?limit=1000", auth=True)
        assert fresh["behind"] == 0 and fresh["total"] >= before["total"] + 60
    finally:
        gate.open.set()
        await daemon.stop()


async def test_the_views_served_equal_those_computed_on_the_spot(
        tmp_path: Path, session: aiohttp.ClientSession) -> None:
    clock = ManualClock(T0 + 900 * STEP_MS + 3_600_000)
    node_dir = init_node_dir(tmp_path / "n", name="north-1", listen=LOOPBACK).dir
    daemon = Daemon(node_dir, gossip=GossipConfig(tick_interval_s=None), clock=clock)
    await daemon.start()
    try:
        assert daemon.url is not None
        await daemon.node.tick()
        _ingest(daemon, 900, 60)
        daemon.store.mark_received_at_ts()
        api = Api(session, daemon.url, daemon.token)
        await caught_up(daemon)
        served = await api.get("/beliefs?limit=1000", auth=True)
        suspicion = await api.get("/suspicion?limit=1000", auth=True)
        config = load_config(node_dir)
        # The same store, read on the spot by the views the CLI uses.
        store = Store.open_dir(node_dir, readonly=True)
        try:
            spot = NodeViews(store, daemon.identity.party_id, config.anchors,
                             Settings.from_config(config), clock)
            beliefs, view = spot.current()
            want = beliefs.to_json()
            assert {k: v for k, v in served.items() if k not in ("total", "next", "behind")} \
                == want
            reports = view.reports(clock.now_ms())
            assert [p["party"] for p in suspicion["parties"]] == sorted(reports)
            for row in suspicion["parties"]:
                expected = reports[row["party"]].to_json()
                expected.pop("history", None)
                assert {k: v for k, v in row.items() if k != "name"} == expected
            some = sorted(reports)[0]
            one = await api.get(f"/suspicion/{some}", auth=True)
            assert {k: v for k, v in one.items() if k not in ("name", "behind")} == \
                reports[some].to_json()
            party = sorted(beliefs.parties)[0]
            got = await api.get(f"/beliefs/{party}", auth=True)
            assert {k: v for k, v in got.items() if k not in ("now", "behind")} == \
                beliefs.parties[party].to_json()
        finally:
            store.close()
        # A minute later the served view follows the clock, as the views on the spot do.
        clock.advance(120_000)

        async def moved() -> bool:
            return bool((await api.get("/beliefs?limit=1", auth=True))["now"] == clock.now_ms())

        await wait_until(moved, "the served view at the new minute")
    finally:
        await daemon.stop()


async def test_when_a_refresh_takes_longer_than_the_budget_reads_get_the_last_view_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession) -> None:
    """A large node's refresh outlasts `analysis_budget_s`: waiting it out would only make
    every read that slow; the last complete view is served at once, the next computing."""
    gate = Gate(monkeypatch)
    gate.open.set()
    daemon = await start(tmp_path, "analysis_budget_s = 120")
    try:
        assert daemon.url is not None and daemon.live is not None
        live = daemon.live
        api = Api(session, daemon.url, daemon.token)
        _ingest(daemon, 200, 20)
        await caught_up(daemon)
        assert live.published is not None
        # As if that refresh had taken longer than the budget (100,000 parties).
        live.published = dataclasses.replace(live.published, compute_s=121.0)
        gate.close()  # the next refresh is held: a read that waited for it would not answer
        added = _ingest(daemon, 30, 40, seed=3)
        stale = await api.get("/beliefs?limit=1", auth=True)
        assert stale["behind"] == added and not gate.open.is_set()
        gate.open.set()
        await caught_up(daemon)
        assert (await api.get("/beliefs?limit=1", auth=True))["behind"] == 0
    finally:
        gate.open.set()
        await daemon.stop()


async def test_events_stream_entries_while_pending_and_figures_once_the_view_is_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession) -> None:
    gate = Gate(monkeypatch)
    daemon = await start(tmp_path, BUDGET + "\nevents_views_interval_s = 0.05")
    try:
        assert daemon.url is not None
        await wait_until(gate.waiting.is_set, "the first analysis started")
        async with session.get(f"{daemon.url}/events") as r:
            assert (await r.content.readline()).startswith(b": stream open")
            added = _ingest(daemon, 40, 8)
            kinds: dict[str, int] = {}
            event = None

            async def read_until(done: Callable[[], bool]) -> None:
                nonlocal event
                while not done():
                    line = (await r.content.readline()).decode().strip()
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and event:
                        kinds[event] = kinds.get(event, 0) + 1

            # Entries stream while the analysis is held; no figures (none computed yet).
            await asyncio.wait_for(read_until(lambda: kinds.get("entry", 0) >= added), 30)
            assert set(kinds) == {"entry"}
            gate.open.set()
            await caught_up(daemon)
            # The first complete view is what later news are told against (once the hub read
            # it): a new party's statements then make belief news.
            hub = daemon.app[API_KEY].hub
            await wait_until(lambda: hub._summary is not None, "the hub's first figures")
            _ingest(daemon, 60, 12, seed=5)
            await asyncio.wait_for(read_until(lambda: "belief" in kinds), 30)
        assert daemon.node.errors == [], daemon.node.errors
    finally:
        gate.open.set()
        await daemon.stop()


def test_the_analysis_makes_no_reference_cycles_catching_up_nor_after() -> None:
    """Why the worker may freeze what a large catch-up made (trustnet.heap.gc_settled): with the
    collector off, nothing it would have collected is left behind by the analysis."""
    entries = list(generate(3_200, 300, seed=7))
    now = T0 + 3_200 * STEP_MS + 1
    store = Store(None)
    store.ingest(entries[:3_000], now)
    store.mark_received_at_ts()
    views = NodeViews(store, entries[0].author_hex, (), Settings.from_config(NodeConfig()),
                      ManualClock(now))
    gc.collect()
    gc.disable()
    try:
        _, suspicion = views.current()
        suspicion.reports(now)
        assert gc.collect() == 0
        for k in range(4):
            store.ingest(entries[3_000 + 50 * k:3_050 + 50 * k], now)
            views.current(now + k * 120_000)
            suspicion.reports(now + k * 120_000)
            assert gc.collect() == 0, k
    finally:
        gc.enable()


async def test_a_large_catch_up_is_frozen_out_of_the_collector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: aiohttp.ClientSession) -> None:
    gate = Gate(monkeypatch)
    daemon = await start(tmp_path, BUDGET)
    try:
        await wait_until(gate.waiting.is_set, "the first analysis started")
        _ingest(daemon, 1_500, 100)  # the held first refresh catches up with all of them
        before, settles = gc.get_freeze_count(), heap.stats().settles
        gate.open.set()
        await caught_up(daemon)
        # The freeze comes as the catch-up's pause closes, in the analysis thread.
        await wait_until(lambda: heap.stats().settles > settles and gc.isenabled(),
                         "the catch-up frozen and the collector on")
        assert gc.get_freeze_count() > before
        beliefs = await Api(session, str(daemon.url), daemon.token).get("/beliefs?limit=1",
                                                                       auth=True)
        assert beliefs["behind"] == 0 and beliefs["total"] >= 100
    finally:
        gate.open.set()
        await daemon.stop()
        gc.unfreeze()
