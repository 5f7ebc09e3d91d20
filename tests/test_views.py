"""Beliefs and suspicion over HTTP and the CLI, on a node holding the demo scenario."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.harness.http import get
from tests.harness.nodes import SCENARIOS
from trustnet.cli.main import main as cli_main
from trustnet.clock import DAY_MS


async def test_beliefs_routes(north1):
    _daemon, url, session, ids, origin = north1
    status, data = await get(session, url + "/beliefs")
    assert status == 200 and data["node"] == ids["north-1"].party_id
    by_name = {p["name"]: p for p in data["parties"]}
    assert set(by_name) == {"north-1", "north-2", "north-3", "south-1", "south-2", "south-3"}
    south1 = by_name["south-1"]
    assert south1["reliability"]["p"] < by_name["north-2"]["reliability"]["p"]
    rules = {c["rule"] for c in south1["verified"]["evidence"]}
    assert {"undercounted_notification", "inspection_accepted"} <= rules
    status, one = await get(session, f"{url}/beliefs/{ids['south-1'].party_id}")
    assert status == 200 and one["party"] == ids["south-1"].party_id and "south-1" in one["explanation"]
    # as of day 40, before the story: nothing adverse known yet
    status, then = await get(session, f"{url}/beliefs/{ids['south-1'].party_id}?at={origin + 40 * DAY_MS}")
    assert status == 200 and then["verified"]["score"] > one["verified"]["score"]
    status, err = await get(session, f"{url}/beliefs/{'ab' * 32}")
    assert status == 404 and err["error"]["code"] == "not_found"
    status, err = await get(session, f"{url}/beliefs/nothex")
    assert status == 400 and err["error"]["code"] == "bad_argument"
    status, err = await get(session, f"{url}/beliefs?at=yesterday")
    assert status == 400 and err["error"]["code"] == "bad_argument"


async def test_suspicion_and_series_routes(north1):
    _daemon, url, session, ids, origin = north1
    status, data = await get(session, url + "/suspicion")
    assert status == 200
    south1 = next(p for p in data["parties"] if p["party"] == ids["south-1"].party_id)
    assert south1["name"] == "south-1" and 0.0 < south1["level"] < 1.0
    assert south1["regime"] in ("escalating", "stable", "de-escalating")
    status, one = await get(session, f"{url}/suspicion/{ids['south-1'].party_id}")
    assert status == 200 and one["history"] and one["drivers"]
    step = DAY_MS
    status, series = await get(
        session, f"{url}/series/{ids['south-1'].party_id}?from={origin}&to={origin + 60 * DAY_MS}&step={step}")
    assert status == 200 and len(series["samples"]) == 61
    levels = [s["level"] for s in series["samples"]]
    assert levels[44] == 0.0 < levels[50]  # nothing before the observation, suspicion after
    status, err = await get(session, f"{url}/series/{ids['south-1'].party_id}?from=10&to=5")
    assert status == 400 and err["error"]["code"] == "bad_argument"


async def test_cli_beliefs_and_suspicion_on_a_url_and_a_running_nodes_directory(north1, capsys):
    daemon, url, _session, ids, _origin = north1
    south1 = ids["south-1"].party_id
    for target in (url, str(daemon.dir)):
        code = await asyncio.to_thread(cli_main, ["beliefs", target])
        out = capsys.readouterr().out
        assert code == 0 and "south-1" in out and "reliability" in out
        code = await asyncio.to_thread(cli_main, ["suspicion", target, "--party", south1, "--json"])
        data = json.loads(capsys.readouterr().out)
        assert code == 0 and data["party"] == south1 and "escalation_index" in data
    code = await asyncio.to_thread(cli_main, ["beliefs", url, "--party", south1])
    out = capsys.readouterr().out
    assert code == 0 and "undercounted_notification" in out
    code = await asyncio.to_thread(cli_main, ["suspicion", url, "--party", "zz"])
    assert code == 1 and "[bad_argument]" in capsys.readouterr().err


def _assert_incremental_equals_from_scratch(entries: list[Any], viewer: str, seed: int) -> int:
    """Feed `entries` in random batches through NodeViews.current(); after each, compare every
    party's report with a from-scratch SuspicionView over the same entries and verification."""
    import random

    from trustnet.analysis.views import NodeViews, Settings, verification_for
    from trustnet.clock import ManualClock
    from trustnet.config.loader import NodeConfig
    from trustnet.store.sqlite import Store

    rng = random.Random(seed)
    ordered = sorted(entries, key=lambda e: (e.ts, e.id))
    store = Store(None)
    views = NodeViews(store, viewer, (), Settings.from_config(NodeConfig()), ManualClock(0))
    now = 0
    i = 0
    checks = 0
    while i < len(ordered):
        batch = ordered[i : i + rng.randint(1, max(2, len(ordered) // 6))]
        i += len(batch)
        rng.shuffle(batch)
        now = max(now, max(e.ts for e in batch)) + rng.randint(0, 3 * DAY_MS)
        store.ingest(batch, now)
        beliefs, fast = views.current(now)
        slow = views._new_suspicion()
        slow.verification = verification_for(beliefs)
        # From scratch: a new engine over every entry, judged by receipt like the node's.
        held = list(store.iter_all())
        engine = views._new_engine()
        engine.add(held, store.received_of([e.id for e in held]))
        engine.add_forks(store.forks())
        slow.update(held, now, forks=store.forks(), evidence=engine.evidence(now))
        fast_json = {p: r.to_json() for p, r in fast.reports(now).items()}
        assert fast_json == {p: r.to_json() for p, r in slow.reports(now).items()}
        checks += len(fast_json)
    return checks


def test_incremental_suspicion_equals_from_scratch_on_the_demo():
    from tests.harness.scenarios import offline

    _scenario, store, ids, _origin, _ = offline(SCENARIOS / "demo.toml")
    assert _assert_incremental_equals_from_scratch(
        list(store.iter_all()), ids["north-1"].party_id, seed=7) > 0


def test_incremental_suspicion_equals_from_scratch_on_a_generated_store():
    from trustnet.bench.beliefs import generate

    entries, pids = generate(1500, 8, seed=3)
    assert _assert_incremental_equals_from_scratch(entries, pids[0], seed=11) > 0


async def test_cli_tables_of_every_view_on_a_url_and_a_directory(north1, capsys):
    """status|peers|parties|entries|forks|beliefs|suspicion print a table, and JSON with --json."""
    daemon, url, _session, ids, _origin = north1
    for target in (url, str(daemon.dir)):
        code = await asyncio.to_thread(cli_main, ["parties", target])
        out = capsys.readouterr().out
        assert code == 0 and out.splitlines()[0].split()[:3] == ["party", "name", "role"]
        assert all(name in out for name in ids)
        code = await asyncio.to_thread(cli_main, ["parties", target, "--json"])
        parties = json.loads(capsys.readouterr().out)
        assert code == 0 and {p["name"] for p in parties} >= set(ids)
    views = ("status", "peers", "entries", "forks", "beliefs", "suspicion")
    for command in views:
        code = await asyncio.to_thread(cli_main, [command, url])
        out = capsys.readouterr().out
        assert code == 0 and out.strip(), command
        code = await asyncio.to_thread(cli_main, [command, url, "--json"])
        assert code == 0 and json.loads(capsys.readouterr().out) is not None, command


def test_a_series_samples_what_the_views_of_each_moment_say() -> None:
    from trustnet.analysis.views import NodeViews, Settings, _sample
    from trustnet.bench.beliefs import generate
    from trustnet.clock import ManualClock
    from trustnet.config.loader import NodeConfig
    from trustnet.store.sqlite import Store

    entries, pids = generate(300, 8, 3)
    store = Store(None)
    now = max(e.ts for e in entries) + 1
    store.ingest(entries, now)
    views = NodeViews(store, pids[0], (), Settings.from_config(NodeConfig()), ManualClock(now))
    start, end = min(e.ts for e in entries), max(e.ts for e in entries) + DAY_MS
    step = (end - start) // 12
    samples = views.series(pids[1], start, end, step)
    assert len(samples) == 13
    for sample in samples:
        beliefs, suspicion = views.as_of(sample["t"])
        assert sample == pytest.approx(_sample(sample["t"], pids[1], beliefs, suspicion))
